/** Identifier rules shared by the API, the CLI and realm-config files. */
import { KeywardError } from '../kernel/errors.ts';

/** Realm names: lowercase letters, digits, `-` and `_`, 1–63 characters, starting with a letter or digit. */
export const REALM_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** API client ids: letters, digits, `.`, `_`, `-`, 1–100 characters, starting with a letter or digit. */
export const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Policy names, like client ids. */
export const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function checkRealmName(name: string): void {
  if (!REALM_NAME.test(name))
    throw new KeywardError(
      'realm.invalid_name',
      `"${name.slice(0, 80)}" is not a valid realm name (lowercase letters, digits, - and _, at most 63)`,
    );
  if (name === 'master') throw new KeywardError('realm.invalid_name', 'The master realm cannot be a managed realm');
}

export function checkClientId(clientId: string): void {
  if (!CLIENT_ID.test(clientId) || clientId.startsWith('keyward-grant.')) {
    throw new KeywardError(
      'api_client.invalid_id',
      `"${clientId.slice(0, 120)}" is not a valid client id (letters, digits, . _ -, at most 100, not starting with keyward-grant.)`,
    );
  }
}
