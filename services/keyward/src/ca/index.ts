/**
 * The certificate-authority domain: policies, CSRs, CA keys and their
 * protection, CA creation, issuance, CRLs and OCSP. Pure: no HTTP, database
 * or Keycloak — those reach it through the ports in ./ports.ts.
 */
// policies
export {
  parsePolicy,
  policyJsonSchema,
  maxValiditySeconds,
  describeMaxValidity,
  MIN_VALIDITY_SECONDS,
  isCidr,
  KEY_TYPES,
  KEY_USAGES,
  EXTENDED_KEY_USAGES,
  SUBJECT_ATTRIBUTES,
  type Policy,
  type KeyType,
} from './policy/policy.ts';
export { validateKey } from './policy/validators/key.ts';
export { validateSubject } from './policy/validators/subject.ts';
export { validateSans } from './policy/validators/san.ts';
export { validateValidity, validateValidityDays } from './policy/validators/validity.ts';

// names and values
export { formatName, formatRfc4514, type NameAttribute } from './name.ts';
export { sanStrings, NO_SANS, type Sans } from './san.ts';
export { toPem, pemBlocks, splitPemCertificates } from './pem.ts';

// CSRs
export {
  parseCsr,
  parseCsrAsync,
  certifiedKeyRequest,
  verifyCsrSignature,
  MAX_CSR_BYTES,
  type Csr,
  type CsrSignatureCheck,
  type CsrSignatureResult,
  type CsrSignatureVerifier,
} from './csr.ts';

// CA keys, their protection and signing
export { decodeCertificate, type DecodedCertificate } from './certificate.ts';
export { generateCaKey, keyTypeOf, spkiOf, samePublicKey, isCaKeyType, CA_KEY_TYPES, type CaKeyType } from './keys.ts';
export { protectKey, unprotectKey, rewrap, kekId, asKeyBlob, type KeyBlob } from './key_protection.ts';
export { localSigner } from './signer.ts';
export { SIGNATURE_ALGORITHMS, signatureAlgorithmFor, type SignatureAlgorithm, type SignatureAlgorithmName } from './algorithms.ts';
export type { CaSigner, CaRecord, StoredCa, RevokedCertificate, CertificateStatus, CertificateStatusLookup } from './ports.ts';

// CAs
export { createRootCa, createIssuingCa, importParentCa, MIN_PARENT_LIFETIME_DAYS, type NewCa } from './authority.ts';
export { loadCa, openCa, caRecord, certificatesFromPem, type CaContext } from './ca_context.ts';

// the one certificate writer, its profiles, and issuance under a policy
export { PROFILES, leafProfile, backdate, type CertificateProfile, type KeyUsage, type ExtendedKeyUsage } from './profiles.ts';
export { signCertificate, type Issuer, type RevocationPointers, type SignRequest, type SignedCertificate } from './sign.ts';
export {
  issueCertificate,
  checkRequest,
  signRequest,
  checkCsr,
  enforcePolicy,
  type CheckedRequest,
  type IssueRequest,
  type IssuedCertificate,
} from './issue.ts';

// revocation
export {
  REVOCATION_REASONS,
  REVOCABLE_REASONS,
  REASON_CODES,
  parseRevocationReason,
  reasonName,
  type RevocationReason,
} from './revocation/reasons.ts';
export { buildCrl, buildCrlStreamed, type CrlRequest, type StreamedCrlRequest } from './revocation/crl.ts';
export {
  parseOcspRequest,
  ocspRequestFromGetPath,
  isIssuedBy,
  buildOcspResponse,
  ocspErrorResponse,
  answerOcsp,
  type CertId,
  type OcspRequest,
  type OcspErrorStatus,
  type OcspResponseRequest,
} from './revocation/ocsp.ts';
