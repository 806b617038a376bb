/** Pages for the certificate authority: API clients, certificates, policies, audit. */
import type { PageDef } from '../app/access.ts';

export const pkiPages: PageDef[] = [];
