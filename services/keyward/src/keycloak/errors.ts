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

/** Maps any adapter failure to a KeywardError; `what` says what we were doing ("create client orders-api"). */
export function translateKeycloakError(what: string, err: unknown): KeywardError {
  if (err instanceof KeywardError) return err;
  const status = keycloakStatus(err);
  if (status === undefined || status === 502 || status === 503 || status === 504) return unavailable(what, err);
  const reason = err instanceof NetworkError ? err.message : 'unexpected answer';
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
