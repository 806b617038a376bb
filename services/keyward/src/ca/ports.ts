/**
 * The small interfaces through which the wiring (storage, HTTP, an HSM)
 * meets the CA domain; ports are owned by their consumer. Nothing here knows a
 * database, Express or Keycloak.
 */
import type { SignatureAlgorithm } from './algorithms.ts';
import type { KeyBlob } from './key_protection.ts';
import type { CaKeyType } from './keys.ts';
import type { RevocationReason } from './revocation/reasons.ts';

/**
 * Signs with a CA key. `sign` receives the DER to be signed (a
 * TBSCertificate, TBSCertList or ResponseData) and returns the value of the
 * signature BIT STRING: for ECDSA the DER `Ecdsa-Sig-Value` (RFC 3279
 * §2.2.3), for RSA the PKCS#1 v1.5 signature. A local key signs
 * synchronously (`localSigner`); a PKCS#11 HSM or a cloud KMS may return a
 * promise — every caller awaits it.
 */
export interface CaSigner {
  /** `EC-P256`, `EC-P384`, `RSA-2048`, … */
  readonly keyType: string;
  readonly algorithm: SignatureAlgorithm;
  /** SubjectPublicKeyInfo DER of the signing key, checked against the CA certificate when a CA is loaded. */
  readonly spki: Uint8Array;
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/**
 * Where a CA's private key lives, as the database records it: sealed
 * (envelope-encrypted under the key-encryption key) in the CA's row, or a
 * reference to a key generated inside a PKCS#11 token (its token label and
 * the CKA_ID/CKA_LABEL it was given, the CA's id) — no key material at all.
 */
export type CaKeyRef =
  { readonly store: 'sealed'; readonly blob: KeyBlob } | { readonly store: 'pkcs11'; readonly token: string; readonly id: string };

/**
 * Where CA keys are made and opened: sealed in PostgreSQL (./key_store.ts)
 * or inside a PKCS#11 token (crypto/pkcs11/). `generate` makes a new CA key
 * (in the token, never extractable, for PKCS#11) and returns its signer and
 * what to store; `open` gives a signer for a stored reference.
 */
export interface CaKeyStore {
  /** Which kind of reference `generate` returns. */
  readonly kind: CaKeyRef['store'];
  generate(o: { readonly id: string; readonly keyType: CaKeyType }): Promise<{ readonly signer: CaSigner; readonly ref: CaKeyRef }>;
  /** TypeError for a reference this store cannot open (another kind, or a key missing from the token). */
  open(ref: CaKeyRef): CaSigner;
  /** Removes a key `generate` made that will not be used (its CA lost a creation race); a sealed key needs nothing. */
  discard?(ref: CaKeyRef): Promise<void>;
}

/**
 * What must be stored for a CA so it can be loaded again (`openCa`). The
 * private key is only ever stored as an envelope-encrypted blob, or as a
 * reference to a key inside an HSM.
 */
export interface CaRecord {
  readonly certificatePem: string;
  /** The certificates above this CA, nearest first (empty for a root). */
  readonly chainPem: readonly string[];
  readonly key: CaKeyRef;
  /** Which key-encryption key sealed a sealed key (also inside the blob), for rotation reports; undefined for an HSM key. */
  readonly kekId: string | undefined;
  /** `CN=…, O=…` in certificate order. */
  readonly subject: string;
  /** Subject key identifier, lowercase hex: what leaf AKIs and OCSP byKey responder ids carry. */
  readonly subjectKeyId: string;
  readonly serialHex: string;
  readonly keyType: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * A CA as the store keeps it: its material and its place — the
 * installation's root, a realm's imported parent (`root` with a realm), a
 * realm's issuing or client-authentication CA.
 */
export interface StoredCa extends Pick<CaRecord, 'certificatePem' | 'chainPem' | 'key' | 'subject' | 'keyType' | 'notAfter'> {
  readonly id: string;
  /** undefined for the installation's root. */
  readonly realm: string | undefined;
  readonly kind: 'root' | 'issuing' | 'client_auth';
  /** An operator's CA imported as a realm's parent (PUT /v1/realms/{realm}/ca/parent). */
  readonly imported: boolean;
  /**
   * active: issues; retiring: replaced by a rotation, still signs CRLs and
   * answers OCSP for its certificates until the last of them expires;
   * retired: nothing left to answer for.
   */
  readonly state: 'active' | 'retiring' | 'retired';
}

/** One revoked certificate, as the CRL builder needs it. */
export interface RevokedCertificate {
  readonly serialHex: string;
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
}

/** A certificate's status, as the OCSP responder needs it. */
export type CertificateStatus =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly revokedAt: Date; readonly reason: RevocationReason }
  | { readonly status: 'unknown' };

/** Looks a serial up among the certificates of one CA (implemented over the certificate store). */
export type CertificateStatusLookup = (serialHex: string) => CertificateStatus | Promise<CertificateStatus>;
