/** Pages for people and their automation credentials: my access, administration, approvals, devices. */
import type { PageDef } from '../app/access.ts';

export const identityPages: PageDef[] = [];
