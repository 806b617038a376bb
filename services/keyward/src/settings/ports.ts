/** What protected settings need from storage (the port belongs to its consumer). */
import type { AuditEventInput } from '../audit/event.ts';

/** The realm settings Keyward protects with dual control. */
export type SettingName = 'personal_access_tokens' | 'client_certificates' | 'dual_control' | 'devices';

export interface SettingsStore {
  /** The stored value, or undefined when the realm still has the defaults. */
  get(realm: string, name: SettingName): Promise<unknown>;
  /** Stores a value and its audit event in one transaction. */
  put(realm: string, name: SettingName, value: unknown, audit: AuditEventInput): Promise<void>;
}
