/**
 * ACME problem documents (RFC 8555 §6.7): errors of the ACME front door are
 * `urn:ietf:params:acme:error:<type>` problems, not Keyward's catalogue codes,
 * because ACME clients (certbot, lego, acme-client) match on those types.
 * Keyward's own refusals raised inside an ACME action (a policy, a CSR, a
 * role) are translated once, in {@link toAcmeProblem}, keeping the original as
 * `cause`.
 */
import { isKeywardError, type ErrorCode } from '../kernel/errors.ts';

/** The problem types Keyward answers with (RFC 8555 §6.7, RFC 9773 none of its own). */
export const ACME_PROBLEMS = {
  accountDoesNotExist: 400,
  alreadyRevoked: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  connection: 400,
  dns: 400,
  externalAccountRequired: 403,
  incorrectResponse: 403,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  serverInternal: 500,
  tls: 400,
  unauthorized: 403,
  unsupportedIdentifier: 400,
} as const;

export type AcmeProblemType = keyof typeof ACME_PROBLEMS;

export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

export interface AcmeIdentifier {
  readonly type: 'dns' | 'ip';
  readonly value: string;
}

export interface Subproblem {
  readonly type: AcmeProblemType;
  readonly detail: string;
  readonly identifier?: AcmeIdentifier | undefined;
}

/** The JSON of a problem, as stored on an order or a challenge and as answered. */
export interface ProblemDocument {
  readonly [member: string]: unknown;
  readonly type: string;
  readonly detail: string;
  readonly status: number;
  readonly subproblems?: readonly { type: string; detail: string; identifier?: AcmeIdentifier | undefined }[];
}

export class AcmeProblem extends Error {
  readonly type: AcmeProblemType;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly subproblems: readonly Subproblem[];
  readonly extras: Readonly<Record<string, unknown>>;

  /**
   * @example throw new AcmeProblem('badNonce', 'The nonce was used before or has expired');
   */
  constructor(
    type: AcmeProblemType,
    detail: string,
    options: {
      cause?: unknown;
      headers?: Record<string, string>;
      subproblems?: Subproblem[];
      status?: number;
      extras?: Record<string, unknown>;
    } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AcmeProblem';
    this.type = type;
    this.status = options.status ?? ACME_PROBLEMS[type];
    this.headers = Object.freeze({ ...options.headers });
    this.subproblems = Object.freeze([...(options.subproblems ?? [])]);
    this.extras = Object.freeze({ ...options.extras });
  }

  get document(): ProblemDocument {
    return {
      type: ACME_ERROR_PREFIX + this.type,
      detail: this.message,
      status: this.status,
      ...this.extras,
      ...(this.subproblems.length
        ? {
            subproblems: this.subproblems.map((s) => ({
              type: ACME_ERROR_PREFIX + s.type,
              detail: s.detail,
              ...(s.identifier ? { identifier: s.identifier } : {}),
            })),
          }
        : {}),
    };
  }
}

/** Which ACME problem a Keyward refusal is. */
const BY_CODE: Partial<Record<ErrorCode, AcmeProblemType>> = {
  'policy.san_not_allowed': 'rejectedIdentifier',
  'policy.subject_not_allowed': 'badCSR',
  'policy.key_not_allowed': 'badCSR',
  'policy.validity_exceeded': 'malformed',
  'policy.not_found': 'unauthorized',
  'policy.required': 'unauthorized',
  'csr.malformed': 'badCSR',
  'csr.bad_signature': 'badCSR',
  'validity.malformed': 'malformed',
  'validity.too_short': 'malformed',
  'validity.conflict': 'malformed',
  'request.malformed': 'malformed',
  'auth.forbidden': 'unauthorized',
  'token.client_disabled': 'unauthorized',
  'token.client_not_found': 'unauthorized',
  'realm.not_found': 'malformed',
  'realm.missing_in_keycloak': 'serverInternal',
  'certificate.not_found': 'malformed',
  'certificate.already_revoked': 'alreadyRevoked',
  'certificate.invalid_reason': 'badRevocationReason',
  'keycloak.unavailable': 'serverInternal',
  'keycloak.rejected': 'serverInternal',
  'store.unavailable': 'serverInternal',
};

/**
 * An error as the ACME problem to answer: an AcmeProblem as it is, a
 * KeywardError by its code (keeping its status when it is a server-side
 * failure, so 503 stays 503), anything else `serverInternal`.
 */
export function toAcmeProblem(err: unknown): AcmeProblem {
  if (err instanceof AcmeProblem) return err;
  if (isKeywardError(err)) {
    const type = BY_CODE[err.code] ?? (err.status >= 500 ? 'serverInternal' : 'malformed');
    const status =
      err.status >= 500 ? err.status : err.code === 'realm.not_found' || err.code === 'certificate.not_found' ? 404 : undefined;
    return new AcmeProblem(type, err.detail, { cause: err, headers: { ...err.headers }, ...(status ? { status } : {}) });
  }
  return new AcmeProblem('serverInternal', 'An unexpected error occurred', { cause: err });
}
