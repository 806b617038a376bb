/** What the logged-in principal may see: pages are role-gated from /v1/whoami. */
import type { ComponentType } from 'react';
import type { ConsoleSession, WhoAmI } from '../api/session.ts';

export const KEYWARD_ROLES = [
  'keyward-requester',
  'keyward-approver',
  'keyward-revoker',
  'keyward-entity-admin',
  'keyward-admin',
  'keyward-user-admin',
] as const;

export interface Access {
  readonly session: ConsoleSession;
  readonly whoami: WhoAmI;
  /** The realm the console shows (the realm switcher's choice). */
  readonly realm: string;
  /** Keyward roles in that realm. */
  readonly roles: ReadonlySet<string>;
  readonly operator: boolean;
  /** True for an operator, or when the principal holds one of `roles` in the shown realm. */
  has(...roles: string[]): boolean;
  /** Realms the principal may switch to. */
  readonly realms: readonly string[];
}

export function accessFor(session: ConsoleSession, whoami: WhoAmI, realm: string, allRealms: readonly string[]): Access {
  const roles = new Set(whoami.roles[realm] ?? []);
  const operator = whoami.operator;
  const mine = Object.keys(whoami.roles).filter((r) => r !== 'master');
  const realms = operator ? allRealms : mine.length ? mine : [whoami.realm];
  return {
    session,
    whoami,
    realm,
    roles,
    operator,
    has: (...wanted: string[]) => operator || wanted.some((r) => roles.has(r)),
    realms,
  };
}

export interface PageProps {
  readonly access: Access;
  readonly realm: string;
  readonly params: Record<string, string>;
}

export interface PageDef {
  /** Route pattern below /console/{realm}/, e.g. `certificates` or `certificates/:serial`; '' is the realm's home. */
  readonly path: string;
  readonly title: string;
  /** Shown in the navigation, in this group and order; pages without are reached through links. */
  readonly nav?: {
    readonly group: 'Access' | 'Administration' | 'Certificates' | 'Clients and policies' | 'Audit';
    readonly order: number;
  };
  /** Who may open it; others get the 403 page (and no navigation entry). */
  readonly allowed: (a: Access) => boolean;
  /** Said on the 403 page: which role it needs. */
  readonly needs: string;
  readonly component: ComponentType<PageProps>;
}
