/**
 * The certificate policy document: its type, its JSON Schema
 * (reused by realm-config files and the OpenAPI document) and its parser,
 * which reports the first error with a JSON Pointer to the offending field.
 *
 * Matching rules (enforced by the validators in ./validators/): a DNS pattern
 * `*.x` matches exactly one label in front of `x`; an IP entry is a CIDR range
 * (IPv4 or IPv6) or one address; a URI pattern's `*` matches any run of
 * characters; an e-mail entry is an address or `@domain`; an empty list allows
 * none of that kind.
 */
import { Ajv } from 'ajv';
import { isIP } from 'node:net';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../../kernel/duration.ts';
import { KeywardError } from '../../kernel/errors.ts';
import { deepFreeze } from '../../kernel/freeze.ts';

export const KEY_TYPES = ['EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export const EXTENDED_KEY_USAGES = ['serverAuth', 'clientAuth', 'codeSigning', 'emailProtection', 'timeStamping', 'OCSPSigning'] as const;
export const SUBJECT_ATTRIBUTES = ['CN', 'O', 'OU', 'C', 'ST', 'L', 'serialNumber', 'emailAddress', 'DC'] as const;

export interface Policy {
  readonly description?: string;
  readonly keyTypes: readonly KeyType[];
  /** The longest validity as an ISO 8601 duration (`PT24H`, `PT2M`, `P90D`); a policy has this or maxValidityDays. */
  readonly maxValidity?: string | undefined;
  /** The longest validity in whole days (the original form, kept working). */
  readonly maxValidityDays?: number | undefined;
  readonly subject: { readonly required: readonly string[]; readonly allowed: readonly string[] };
  readonly san: {
    readonly dns: readonly string[];
    readonly ip: readonly string[];
    readonly uri: readonly string[];
    readonly email: readonly string[];
  };
  readonly keyUsage: readonly (typeof KEY_USAGES)[number][];
  readonly extendedKeyUsage: readonly (typeof EXTENDED_KEY_USAGES)[number][];
  readonly approval: 'none' | 'required';
  /** What happens to a certificate whose requester is deleted in Keycloak (default `revoke`, reason cessationOfOperation). */
  readonly onRequesterDeleted?: 'revoke' | 'keep' | undefined;
  /** … whose requester is disabled (default `hold`: certificateHold until enabled again; `revoke`: cessationOfOperation). */
  readonly onRequesterDisabled?: 'hold' | 'revoke' | 'keep' | undefined;
  /** … issued through a cross-realm grant that the granting realm revoked (default `revoke`, reason affiliationChanged). */
  readonly onGrantRevoked?: 'revoke' | 'keep' | undefined;
}

/** What a policy says of its certificates when their requester's identity changes, defaults applied. */
export interface IdentityRules {
  readonly onRequesterDeleted: 'revoke' | 'keep';
  readonly onRequesterDisabled: 'hold' | 'revoke' | 'keep';
  readonly onGrantRevoked: 'revoke' | 'keep';
}

/**
 * The identity rules of a policy: revoke on deletion, hold on disabling, revoke on a revoked grant unless it says otherwise.
 * @example identityRules(policy).onRequesterDisabled // 'hold'
 */
export const identityRules = (p: Pick<Policy, 'onRequesterDeleted' | 'onRequesterDisabled' | 'onGrantRevoked'>): IdentityRules => ({
  onRequesterDeleted: p.onRequesterDeleted ?? 'revoke',
  onRequesterDisabled: p.onRequesterDisabled ?? 'hold',
  onGrantRevoked: p.onGrantRevoked ?? 'revoke',
});

const strings = (items: Record<string, unknown> = { type: 'string', minLength: 1, maxLength: 253 }) => ({
  type: 'array',
  maxItems: 100,
  uniqueItems: true,
  items,
});

export const policyJsonSchema = {
  $id: 'https://keyward.dev/schemas/certificate-policy.json',
  title: 'Keyward certificate policy',
  type: 'object',
  additionalProperties: false,
  required: ['keyTypes', 'subject', 'san', 'keyUsage', 'extendedKeyUsage', 'approval'],
  properties: {
    description: { type: 'string', maxLength: 1000 },
    keyTypes: { ...strings({ enum: [...KEY_TYPES] }), minItems: 1, description: 'Allowed key types and sizes of the certified key' },
    maxValidity: {
      type: 'string',
      pattern: DURATION_PATTERN,
      description: 'Longest validity a certificate may get, as an ISO 8601 duration (PT24H, PT2M, P90D, P1DT12H); at least PT1M',
    },
    maxValidityDays: { type: 'integer', minimum: 1, maximum: 3650, description: 'Longest validity in days (or use maxValidity)' },
    subject: {
      type: 'object',
      additionalProperties: false,
      required: ['required', 'allowed'],
      properties: { required: strings({ enum: [...SUBJECT_ATTRIBUTES] }), allowed: strings({ enum: [...SUBJECT_ATTRIBUTES] }) },
    },
    san: {
      type: 'object',
      additionalProperties: false,
      required: ['dns', 'ip', 'uri', 'email'],
      description: 'Allowed subject alternative names; an empty list allows none of that kind',
      properties: {
        dns: {
          ...strings({
            type: 'string',
            pattern: '^(\\*\\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$',
            maxLength: 253,
          }),
          description: 'DNS names; *.x matches exactly one label',
        },
        ip: { ...strings(), description: 'CIDR ranges (IPv4 or IPv6)' },
        uri: { ...strings(), description: 'URI patterns; * matches any run of characters' },
        email: { ...strings(), description: 'e-mail addresses or @domain' },
      },
    },
    keyUsage: strings({ enum: [...KEY_USAGES] }),
    extendedKeyUsage: strings({ enum: [...EXTENDED_KEY_USAGES] }),
    approval: { enum: ['none', 'required'] },
    onRequesterDeleted: {
      enum: ['revoke', 'keep'],
      description:
        "When the certificate's requester (API client, device client or user) is deleted in Keycloak: " +
        'revoke (cessationOfOperation, the default) or keep',
    },
    onRequesterDisabled: {
      enum: ['hold', 'revoke', 'keep'],
      description:
        'When the requester is disabled in Keycloak: hold (certificateHold, released when enabled again; the default), ' +
        'revoke (cessationOfOperation) or keep',
    },
    onGrantRevoked: {
      enum: ['revoke', 'keep'],
      description:
        'When the cross-realm grant the certificate was issued through is revoked in the granting realm: ' +
        'revoke (affiliationChanged, the default) or keep',
    },
  },
  // Exactly one of maxValidity and maxValidityDays.
  oneOf: [{ required: ['maxValidity'] }, { required: ['maxValidityDays'] }],
} as const;

/** The shortest validity Keyward issues: below a minute, clock skew alone makes a certificate useless. */
export const MIN_VALIDITY_SECONDS = 60;
/** The longest maximum validity a policy may set (ten years). */
export const MAX_POLICY_VALIDITY_SECONDS = 3650 * 86_400;

/**
 * A policy's longest validity, in seconds.
 * @example maxValiditySeconds({ ...policy, maxValidity: 'PT24H' }) // 86400
 */
export function maxValiditySeconds(policy: Pick<Policy, 'maxValidity' | 'maxValidityDays'>): number {
  if (policy.maxValidity !== undefined) return parseDuration(policy.maxValidity);
  if (policy.maxValidityDays === undefined) throw new TypeError('a policy has maxValidity or maxValidityDays');
  return policy.maxValidityDays * 86_400;
}

/** A policy's longest validity as it was written: `PT24H`, or `90 d`. */
export const describeMaxValidity = (policy: Pick<Policy, 'maxValidity' | 'maxValidityDays'>): string =>
  policy.maxValidity ?? `${policy.maxValidityDays} days`;

export { formatDuration };

const validate = new Ajv({ allErrors: false, strict: false }).compile(policyJsonSchema);

function fail(path: string, detail: string): never {
  throw new KeywardError('policy.invalid', `Policy field ${path}: ${detail}`, { extras: { path } });
}

/** True when `cidr` is a valid IPv4/IPv6 CIDR range (or a single address). */
export function isCidr(cidr: string): boolean {
  const [addr, bits, ...rest] = cidr.split('/');
  if (rest.length || !addr) return false;
  const family = isIP(addr);
  if (!family) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * Validates a policy document.
 * @example parsePolicy({ keyTypes: ['EC-P256'], maxValidityDays: 90, ... }) // → Policy
 * @throws KeywardError policy.invalid with `path` (a JSON Pointer)
 */
export function parsePolicy(document: unknown): Policy {
  if (typeof document === 'object' && document !== null && !Array.isArray(document)) {
    const d = document as Record<string, unknown>;
    if (d.maxValidity !== undefined && d.maxValidityDays !== undefined)
      throw new KeywardError('validity.conflict', 'A policy sets maxValidity or maxValidityDays, not both', {
        extras: { path: '/maxValidity' },
      });
    if (d.maxValidity === undefined && d.maxValidityDays === undefined)
      fail('/maxValidity', 'is required (an ISO 8601 duration such as PT24H or P90D; or maxValidityDays)');
    if (typeof d.maxValidity === 'string') {
      let seconds: number;
      try {
        seconds = parseDuration(d.maxValidity);
      } catch (err) {
        throw new KeywardError('validity.malformed', `Policy field /maxValidity: ${(err as Error).message}`, {
          extras: { path: '/maxValidity' },
          cause: err,
        });
      }
      if (seconds < MIN_VALIDITY_SECONDS)
        throw new KeywardError('validity.too_short', `Policy field /maxValidity: ${d.maxValidity} is shorter than one minute (PT1M)`, {
          extras: { path: '/maxValidity', minimum: 'PT1M' },
        });
      if (seconds > MAX_POLICY_VALIDITY_SECONDS) fail('/maxValidity', `${d.maxValidity} is longer than 3650 days`);
    }
  }
  if (!validate(document)) {
    const e = validate.errors![0]!;
    let path = e.instancePath || '/';
    if (e.keyword === 'required') path = `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === 'additionalProperties') path = `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}`;
    fail(path, e.keyword === 'additionalProperties' ? 'is not a policy field' : e.keyword === 'required' ? 'is required' : `${e.message}`);
  }
  const p = document as Policy;
  p.san.ip.forEach((c, i) => {
    if (!isCidr(c)) fail(`/san/ip/${i}`, `"${c}" is not a CIDR range`);
  });
  p.san.uri.forEach((u, i) => {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(u)) fail(`/san/uri/${i}`, `"${u}" is not a URI pattern`);
  });
  p.san.email.forEach((m, i) => {
    if (!/^([^@\s]+)?@[^@\s]+$/.test(m)) fail(`/san/email/${i}`, `"${m}" is not an address or @domain`);
  });
  p.subject.required.forEach((a, i) => {
    if (!p.subject.allowed.includes(a)) fail(`/subject/required/${i}`, `${a} is required but not allowed`);
  });
  p.keyUsage.forEach((u, i) => {
    // RFC 5280 §4.2.1.3: keyCertSign/cRLSign belong to CA certificates (and Keyward issues end-entity
    // certificates only); encipherOnly/decipherOnly mean nothing without keyAgreement.
    if (u === 'keyCertSign' || u === 'cRLSign')
      fail(`/keyUsage/${i}`, `${u} is for CA certificates; policies issue end-entity certificates`);
    if ((u === 'encipherOnly' || u === 'decipherOnly') && !p.keyUsage.includes('keyAgreement'))
      fail(`/keyUsage/${i}`, `${u} needs keyAgreement`);
  });
  // Frozen: the issuance hot path caches what it derives from a policy (compiled SAN matchers, the
  // KU/EKU extension DER) by object identity, which is only sound for objects that cannot change.
  return deepFreeze(structuredClone(p));
}
