/**
 * Translation of Keycloak adapter failures into Keyward errors, at the adapter boundary.
 * The original error stays as `cause` for the log; messages name the entity,
 * never a token or secret.
 */
import { NetworkError } from '@keycloak/keycloak-admin-client';
import { KeywardError } from '../kernel/errors.ts';

/** HTTP status of a failed admin call, or undefined for network failures. */
export function keycloakStatus(err: unknown): number | undefined {
  if (err instanceof NetworkError) return err.response.status;
  const status = (err as { response?: { status?: number } } | undefined)?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

export function unavailable(what: string, cause: unknown): KeywardError {
  return new KeywardError('keycloak.unavailable', `Keycloak could not be reached while trying to ${what}`, {
    cause,
    headers: { 'Retry-After': '5' },
  });
}

/** The realm named in an adapter call's description ("… in realm demo", "… of realm demo"), if any. */
function realmNamed(what: string): string | undefined {
  return /\b(?:in|of) realm (\S+)/.exec(what)?.[1];
}

/**
 * 409 `realm.missing_in_keycloak`: a realm that Keyward manages was deleted in
 * Keycloak (its console, its admin REST API). Not a Keycloak failure: the way
 * out is the operator's, and the message names it.
 */
export function realmMissing(realm: string | undefined, what: string, cause?: unknown): KeywardError {
  const name = realm ?? '{realm}';
  return new KeywardError(
    'realm.missing_in_keycloak',
    `Realm ${realm ?? ''}${realm ? ' ' : ''}no longer exists in Keycloak (while trying to ${what}): ` +
      `re-create it with PUT /v1/realms/${name}, or stop managing it with DELETE /v1/realms/${name}`,
    { cause, ...(realm ? { extras: { realm } } : {}) },
  );
}

/** Maps any adapter failure to a KeywardError; `what` says what we were doing ("create client orders-api"). */
export function translateKeycloakError(what: string, err: unknown): KeywardError {
  if (err instanceof KeywardError) return err;
  const status = keycloakStatus(err);
  if (status === undefined || status === 502 || status === 503 || status === 504) return unavailable(what, err);
  const reason = err instanceof NetworkError ? err.message : 'unexpected answer';
  if (status === 404 && /^realm not found/i.test(reason)) return realmMissing(realmNamed(what), what, err);
  return new KeywardError('keycloak.rejected', `Keycloak refused to ${what} (HTTP ${status}: ${reason})`, { cause: err });
}

/** Runs one adapter call, translating failures. */
export async function kc<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateKeycloakError(what, err);
  }
}
