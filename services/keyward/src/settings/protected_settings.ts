/**
 * Per-realm settings protected by dual control (like IBM CSM's, where
 * Personal Access Token management is protected by Dual Control):
 *
 * - `personal_access_tokens` {enabled, maxExpirationDays}: disabled by default, maximum 366 days;
 * - `client_certificates` {enabled, maxExpirationDays}: the same defaults;
 * - `dual_control` {enabled}: off by default;
 * - `devices` {enabled, maxPending, rejectForHours}: device onboarding, off by default.
 *
 * This is the one writer of these settings. PAT and client-certificate
 * settings are changed by `keyward-admin` or `keyward-user-admin` (IBM CSM's
 * Administrator and User Administrator), the dual-control switch by
 * `keyward-admin` only; operators may do both. While dual control is on,
 * every change — turning dual control off included — is stored as a pending
 * approval (`approvals/`) and applied when a different reviewer approves it.
 * A change that changes nothing is answered with the current value and
 * creates no approval. Approving re-checks that the setting still has the
 * value the proposal started from (409 `approval.stale`).
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import { ROLES, type Authorizer, type KeywardRole } from '../authn/roles.ts';
import type { ApprovalRecord } from '../approvals/ports.ts';
import type { ApprovalRules, Approvals, ApprovalView } from '../approvals/approvals.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { RealmService } from '../provisioning/realms.ts';
import type { SettingName, SettingsStore } from './ports.ts';

export interface ExpirySettings {
  readonly enabled: boolean;
  readonly maxExpirationDays: number;
}

export interface DualControlSettings {
  readonly enabled: boolean;
}

export interface DeviceSettings {
  readonly enabled: boolean;
  /** Most pending client certificates a realm keeps (pushes beyond it are refused). */
  readonly maxPending: number;
  /** How long a rejected certificate is not queued again. */
  readonly rejectForHours: number;
}

export interface SettingValues {
  personal_access_tokens: ExpirySettings;
  client_certificates: ExpirySettings;
  dual_control: DualControlSettings;
  devices: DeviceSettings;
}

/** Largest maximum expiry an admin may set (10 years). */
export const MAX_EXPIRATION_DAYS_LIMIT = 3650;

interface Definition<N extends SettingName> {
  readonly defaults: SettingValues[N];
  /** Who may change the setting and review its approvals (operators always may). */
  readonly editors: readonly KeywardRole[];
  /** Audit event of an applied change. */
  readonly action: string;
  /** Validates a change against the current value: absent fields keep their value. */
  parse(input: unknown, current: SettingValues[N]): SettingValues[N];
}

function invalid(field: string, message: string, extras: Record<string, unknown> = {}): KeywardError {
  return new KeywardError('settings.invalid', message, { extras: { field, ...extras } });
}

function object(input: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw invalid('/', 'The settings must be a JSON object');
  const unknown = Object.keys(input).find((k) => !allowed.includes(k));
  if (unknown) throw invalid(`/${unknown}`, `Unknown setting ${unknown} (known: ${allowed.join(', ')})`);
  return input as Record<string, unknown>;
}

function boolean(o: Record<string, unknown>, key: string, current: boolean): boolean {
  const v = o[key];
  if (v === undefined) return current;
  if (typeof v !== 'boolean') throw invalid(`/${key}`, `${key} must be true or false`);
  return v;
}

function expirySettings(input: unknown, current: ExpirySettings): ExpirySettings {
  const o = object(input, ['enabled', 'maxExpirationDays']);
  const days = o.maxExpirationDays ?? current.maxExpirationDays;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_EXPIRATION_DAYS_LIMIT) {
    throw invalid('/maxExpirationDays', `maxExpirationDays must be a whole number of days from 1 to ${MAX_EXPIRATION_DAYS_LIMIT}`, {
      minimum: 1,
      maximum: MAX_EXPIRATION_DAYS_LIMIT,
    });
  }
  return Object.freeze({ enabled: boolean(o, 'enabled', current.enabled), maxExpirationDays: days });
}

function wholeNumber(o: Record<string, unknown>, key: string, current: number, min: number, max: number): number {
  const v = o[key] ?? current;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`/${key}`, `${key} must be a whole number from ${min} to ${max}`, { minimum: min, maximum: max });
  return v;
}

function deviceSettings(input: unknown, current: DeviceSettings): DeviceSettings {
  const o = object(input, ['enabled', 'maxPending', 'rejectForHours']);
  return Object.freeze({
    enabled: boolean(o, 'enabled', current.enabled),
    maxPending: wholeNumber(o, 'maxPending', current.maxPending, 1, 100_000),
    rejectForHours: wholeNumber(o, 'rejectForHours', current.rejectForHours, 0, 8760),
  });
}

export const SETTING_DEFINITIONS: { readonly [N in SettingName]: Definition<N> } = {
  personal_access_tokens: {
    defaults: Object.freeze({ enabled: false, maxExpirationDays: 366 }),
    editors: [ROLES.admin, ROLES.userAdmin],
    action: 'personal_access_token_settings.updated',
    parse: expirySettings,
  },
  client_certificates: {
    defaults: Object.freeze({ enabled: false, maxExpirationDays: 366 }),
    editors: [ROLES.admin, ROLES.userAdmin],
    action: 'client_certificate_settings.updated',
    parse: expirySettings,
  },
  dual_control: {
    defaults: Object.freeze({ enabled: false }),
    editors: [ROLES.admin],
    action: 'dual_control_settings.updated',
    parse: (input, current) => Object.freeze({ enabled: boolean(object(input, ['enabled']), 'enabled', current.enabled) }),
  },
  devices: {
    defaults: Object.freeze({ enabled: false, maxPending: 100, rejectForHours: 24 }),
    editors: [ROLES.admin],
    action: 'device_settings.updated',
    parse: deviceSettings,
  },
};

export const SETTING_NAMES = Object.keys(SETTING_DEFINITIONS) as SettingName[];

/** The approval kind that protects a setting. */
export const approvalKind = (name: SettingName): string => `settings.${name}`;

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x,
  );

/** What approving a setting change does: the store writes `value` (see {@link ProtectedSettings.approvalRules}). */
export interface SettingChange {
  readonly realm: string;
  readonly name: SettingName;
  readonly value: unknown;
}

export type ChangeOutcome<N extends SettingName> =
  | { readonly outcome: 'applied'; readonly value: SettingValues[N]; readonly changed: boolean }
  | { readonly outcome: 'pending'; readonly value: SettingValues[N]; readonly approval: ApprovalView };

export class ProtectedSettings {
  readonly #store: SettingsStore;
  readonly #approvals: Approvals;
  readonly #realms: RealmService;
  readonly #authz: Authorizer;

  constructor(deps: { store: SettingsStore; approvals: Approvals; realms: RealmService; authz: Authorizer }) {
    this.#store = deps.store;
    this.#approvals = deps.approvals;
    this.#realms = deps.realms;
    this.#authz = deps.authz;
  }

  /**
   * The rules of the approval kind that protects `name` ({@link approvalKind}),
   * registered at the composition root with the store's writer of a
   * {@link SettingChange}: the setting's editors review it; approving
   * re-checks the value the proposal started from.
   */
  approvalRules(name: SettingName): ApprovalRules<SettingChange> {
    return {
      authorize: (p, realm) => this.#authz.requireAny(p, realm, SETTING_DEFINITIONS[name].editors),
      prepare: (a, approver) => this.#prepare(name, a, approver),
    };
  }

  /** The effective value (defaults when never set). No authorisation: for the domain's own use. */
  async value<N extends SettingName>(realm: string, name: N): Promise<SettingValues[N]> {
    const def = SETTING_DEFINITIONS[name] as Definition<N>;
    const raw = await this.#store.get(realm, name);
    if (raw === undefined) return def.defaults;
    try {
      return def.parse(raw, def.defaults);
    } catch (err) {
      throw new TypeError(`stored setting ${name} of realm ${realm} is invalid: ${(err as Error).message}`);
    }
  }

  /** Reading: the realm's own principals (users need to know the maximum) and its editors. */
  async read<N extends SettingName>(
    realm: string,
    name: N,
    p: Principal,
  ): Promise<{ value: SettingValues[N]; pending: ApprovalView | undefined }> {
    await this.#realms.getManaged(realm);
    if (p.realm !== realm) await this.#authz.requireAny(p, realm, SETTING_DEFINITIONS[name].editors);
    const [value, pending] = await Promise.all([this.value(realm, name), this.#approvals.pendingOf(realm, approvalKind(name))]);
    return { value, pending };
  }

  /**
   * Changes a setting: at once while dual control is off, else as a pending
   * approval (the answer carries it; the value stays as it was).
   */
  async change<N extends SettingName>(realm: string, name: N, input: unknown, p: Principal): Promise<ChangeOutcome<N>> {
    await this.#realms.getManaged(realm);
    const def = SETTING_DEFINITIONS[name] as Definition<N>;
    await this.#authz.requireAny(p, realm, def.editors);
    const current = await this.value(realm, name);
    const next = def.parse(input, current);
    if (canonical(next) === canonical(current)) return { outcome: 'applied', value: current, changed: false };
    if ((await this.value(realm, 'dual_control')).enabled) {
      const approval = await this.#approvals.propose(realm, approvalKind(name), p, { setting: name, from: current, to: next });
      return { outcome: 'pending', value: current, approval };
    }
    await this.#store.put(realm, name, next, {
      action: def.action,
      actor: auditActor(p),
      realm,
      target: name,
      details: { from: current, to: next },
    });
    return { outcome: 'applied', value: next, changed: true };
  }

  async #prepare<N extends SettingName>(
    name: N,
    a: ApprovalRecord,
    approver: Principal,
  ): Promise<{ effect: SettingChange; audit: AuditEventInput[] }> {
    const def = SETTING_DEFINITIONS[name] as Definition<N>;
    const { from, to } = a.payload as { from: unknown; to: unknown };
    const current = await this.value(a.realm, name);
    if (canonical(current) !== canonical(from)) {
      throw new KeywardError(
        'approval.stale',
        `The ${name} setting of realm ${a.realm} changed since approval ${a.id} was proposed; reject it and propose the change again`,
        { extras: { current } },
      );
    }
    const value = def.parse(to, current);
    return {
      effect: { realm: a.realm, name, value },
      audit: [
        {
          action: def.action,
          actor: auditActor(approver),
          realm: a.realm,
          target: name,
          details: { from: current, to: value, approvalId: a.id, proposedBy: a.proposedBy },
        },
      ],
    };
  }
}
