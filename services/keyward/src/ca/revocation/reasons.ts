/** Revocation reasons: RFC 5280 §5.3.1 CRLReason names and codes. */
import { KeywardError } from '../../kernel/errors.ts';

/** Name → CRLReason code (7 is unused in RFC 5280). */
export const REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REASON_CODES;

export const REVOCATION_REASONS = Object.freeze(Object.keys(REASON_CODES) as RevocationReason[]);

/**
 * The reasons a revocation may give: every name but `removeFromCRL`, which
 * only un-revokes an entry in a delta CRL (RFC 5280 §5.3.1).
 */
export const REVOCABLE_REASONS = Object.freeze(REVOCATION_REASONS.filter((r) => r !== 'removeFromCRL'));

const NAMES_BY_CODE = new Map<number, RevocationReason>(REVOCATION_REASONS.map((n) => [REASON_CODES[n], n]));

/**
 * Parses an RFC 5280 reason name (exact spelling, as the standard writes it).
 * `removeFromCRL` is a name of the standard but only meaningful in delta CRLs
 * (§5.3.1); whether a revocation may use it is the caller's decision.
 * @example parseRevocationReason('keyCompromise') // → 'keyCompromise'
 * @throws KeywardError certificate.invalid_reason
 */
export function parseRevocationReason(name: unknown): RevocationReason {
  if (typeof name === 'string' && Object.hasOwn(REASON_CODES, name)) return name as RevocationReason;
  throw new KeywardError(
    'certificate.invalid_reason',
    `${JSON.stringify(name)} is not an RFC 5280 revocation reason (one of ${REVOCATION_REASONS.join(', ')})`,
    {
      extras: { allowed: REVOCATION_REASONS },
    },
  );
}

/** CRLReason code → name, or undefined for an unassigned code. */
export const reasonName = (code: number): RevocationReason | undefined => NAMES_BY_CODE.get(code);
