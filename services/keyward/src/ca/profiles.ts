/**
 * Certificate profiles as data: what a certificate of each kind says about
 * its key (RFC 5280 §4.2.1.3 keyUsage, §4.2.1.12 extKeyUsage, §4.2.1.9
 * basicConstraints) and which pointers it carries (§4.2.1.13 CRL
 * distribution point, §4.2.2.1 authority information access). The one
 * certificate writer (./sign.ts) turns a profile into extensions; nothing else
 * decides them.
 *
 * - leaf: an end-entity certificate under a realm's policy — key usages from the policy, never from the CSR;
 * - clientAuth: a user's client certificate (sent like IBM CSM's `X-Client-Certificate`), only Keyward relies on it;
 * - issuingCa: a realm's issuing or client-authentication CA (pathLenConstraint 0; digitalSignature because it signs
 *   its own OCSP responses, RFC 6960 §4.2.2.2);
 * - rootCa: the installation's root (no pathLenConstraint: issuing CAs sit below it);
 * - clusterCa: the offline `keyward ca` cluster CA, like Flocker's `flocker-ca` (pathLenConstraint 0);
 * - tlsServer: a server certificate for any key type (the offline CLI's control certificate);
 * - devTls: the development HTTPS listener's self-signed ECDSA certificate (no key encipherment with ECDSA keys);
 * - apiClient: an API client certificate made offline by `keyward ca` (CN `user-<client>`).
 */
import type { Policy } from './policy/policy.ts';
import type { EKU_OIDS, KEY_USAGE_BITS } from './oids.ts';

export type KeyUsage = keyof typeof KEY_USAGE_BITS;
export type ExtendedKeyUsage = keyof typeof EKU_OIDS;

export interface CertificateProfile {
  /** A name for logs and errors. */
  readonly name: string;
  /** basicConstraints cA. */
  readonly ca: boolean;
  /** basicConstraints pathLenConstraint of a CA (undefined: unlimited). */
  readonly pathLength?: number | undefined;
  readonly keyUsage: readonly KeyUsage[];
  readonly extendedKeyUsage: readonly ExtendedKeyUsage[];
  /** Whether certificates carry their CA's CRL distribution point and OCSP responder. */
  readonly revocationPointers: boolean;
  /**
   * How many seconds notBefore lies before the time of signing: relying
   * parties' clocks run a little behind, and a certificate must not start
   * before its issuer (CAs go back twice as far as leaves).
   */
  readonly backdateSeconds: number;
}

/** Clock skew allowed for relying parties, in seconds. */
const SKEW = 60;

const profile = (p: CertificateProfile): CertificateProfile =>
  Object.freeze({ ...p, keyUsage: Object.freeze([...p.keyUsage]), extendedKeyUsage: Object.freeze([...p.extendedKeyUsage]) });

export const PROFILES = Object.freeze({
  clientAuth: profile({
    name: 'client authentication',
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['clientAuth'],
    // Only Keyward relies on these certificates, and it checks revocation in its own store.
    revocationPointers: false,
    backdateSeconds: SKEW,
  }),
  issuingCa: profile({
    name: 'issuing CA',
    ca: true,
    pathLength: 0,
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
    extendedKeyUsage: [],
    revocationPointers: false,
    backdateSeconds: 2 * SKEW,
  }),
  rootCa: profile({
    name: 'root CA',
    ca: true,
    keyUsage: ['keyCertSign', 'cRLSign'],
    extendedKeyUsage: [],
    revocationPointers: false,
    backdateSeconds: 2 * SKEW,
  }),
  clusterCa: profile({
    name: 'cluster CA',
    ca: true,
    pathLength: 0,
    keyUsage: ['keyCertSign', 'cRLSign'],
    extendedKeyUsage: [],
    revocationPointers: false,
    backdateSeconds: SKEW,
  }),
  tlsServer: profile({
    name: 'TLS server',
    ca: false,
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    extendedKeyUsage: ['serverAuth'],
    revocationPointers: false,
    backdateSeconds: SKEW,
  }),
  devTls: profile({
    name: 'development TLS',
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['serverAuth'],
    revocationPointers: false,
    backdateSeconds: SKEW,
  }),
  apiClient: profile({
    name: 'API client',
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['clientAuth'],
    revocationPointers: false,
    backdateSeconds: SKEW,
  }),
});

const leaves = new WeakMap<Policy, CertificateProfile>();

/**
 * The end-entity profile of a policy: its key usages and extended key usages,
 * with the CA's CRL and OCSP pointers. One profile object per frozen policy,
 * so what the writer derives from it is computed once.
 * @example const profile = leafProfile(policy);
 */
export function leafProfile(policy: Policy): CertificateProfile {
  const cached = leaves.get(policy);
  if (cached) return cached;
  const p = profile({
    name: 'leaf',
    ca: false,
    keyUsage: policy.keyUsage,
    extendedKeyUsage: policy.extendedKeyUsage,
    revocationPointers: true,
    backdateSeconds: SKEW,
  });
  if (Object.isFrozen(policy) && Object.isFrozen(policy.keyUsage) && Object.isFrozen(policy.extendedKeyUsage)) leaves.set(policy, p);
  return p;
}

/**
 * The notBefore of a certificate signed at `now` under `profile`: whole
 * seconds, set back by the profile's allowance for clock skew.
 * @example const notBefore = backdate(clock.now(), PROFILES.clientAuth);
 */
export function backdate(now: Date, p: Pick<CertificateProfile, 'backdateSeconds'>): Date {
  const t = now.getTime();
  return new Date(t - (t % 1000) - p.backdateSeconds * 1000);
}
