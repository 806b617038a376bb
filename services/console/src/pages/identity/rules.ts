/**
 * The input rules Keyward's API enforces, checked as the admin types so the
 * form says what is wrong before the call: IBM SKLM's alias rules for an
 * accepted device certificate, Keycloak group names for device groups and
 * roles, client ids for renaming a device client. The texts match the API's
 * own messages (400 `device.alias_invalid`, `request.malformed`,
 * `api_client.invalid_id`); the API stays the judge.
 */

const RESERVED_ALIAS = /^[A-Za-z]{3}[0-9]{18}$/;

/** Why an alias is refused, or undefined when it is fine. Not case-sensitive: Keyward stores it lower-case. */
export function aliasProblem(input: string): string | undefined {
  const alias = input.trim().toLowerCase();
  if (alias.length === 0) return 'The alias is empty.';
  if ([...alias].length > 128) return 'The alias is longer than 128 characters.';
  if (/[/\\]/.test(alias)) return 'The alias contains a forward slash or backslash.';
  if (RESERVED_ALIAS.test(alias)) return 'The alias has the reserved form of three letters followed by 18 digits (used for key groups).';
  if (/[\u0000-\u001f\u007f]/.test(alias)) return 'The alias contains control characters.';
  return undefined;
}

/** The device client's clientId Keycloak will get for an alias (`my cert1` → `my-cert1`), as Keyward derives it. */
export function clientIdForAlias(alias: string): string {
  const id = alias
    .trim()
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '')
    .slice(0, 64);
  if (!id) return 'device';
  return id.startsWith('keyward-') ? `device-${id}` : id;
}

const GROUP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Device group and role become Keycloak group names; empty means none. */
export function groupProblem(value: string, field: 'Device group' | 'Device role'): string | undefined {
  if (value === '' || GROUP.test(value)) return undefined;
  return `${field} must be 1 to 64 letters, digits, "_", "." or "-" (e.g. PEER_TO_PEER).`;
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function clientIdProblem(value: string): string | undefined {
  if (CLIENT_ID.test(value) && !value.startsWith('keyward-grant.')) return undefined;
  return 'A client id is letters, digits, ".", "_" and "-", at most 100, not starting with keyward-grant.';
}

/** Whole days from 1 to `max`; the problem text, or undefined. */
export function daysProblem(value: string, max: number): string | undefined {
  if (!/^\d+$/.test(value.trim())) return 'Enter a whole number of days.';
  const n = Number(value);
  if (n < 1) return 'At least 1 day.';
  if (n > max) return `At most ${max} days (the realm's maximum).`;
  return undefined;
}
