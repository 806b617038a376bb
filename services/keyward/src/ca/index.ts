/**
 * The certificate-authority domain: policies, CSRs, CA keys and their
 * protection, CA creation, issuance, CRLs and OCSP. Pure: no HTTP, database
 * or Keycloak — those reach it through the ports in ./ports.ts.
 */
// policies (issue 3 §5)
export {
  parsePolicy,
  policyJsonSchema,
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
export { validateValidity } from './policy/validators/validity.ts';

// names and values
export { formatName, type NameAttribute } from './name.ts';
export { sanStrings, type Sans } from './san.ts';
export { toPem } from './pem.ts';

// CSRs
export {
  parseCsr,
  parseCsrAsync,
  verifyCsrSignature,
  MAX_CSR_BYTES,
  type Csr,
  type CsrSignatureCheck,
  type CsrSignatureResult,
  type CsrSignatureVerifier,
} from './csr.ts';

// CA keys, their protection and signing
export { generateCaKey, keyTypeOf, CA_KEY_TYPES, type CaKeyType } from './keys.ts';
export { protectKey, unprotectKey, rewrap, kekId, asKeyBlob, type KeyBlob } from './key_protection.ts';
export { localSigner } from './signer.ts';
export { SIGNATURE_ALGORITHMS, signatureAlgorithmFor, type SignatureAlgorithm, type SignatureAlgorithmName } from './algorithms.ts';
export type { CaSigner, CaRecord, RevokedCertificate, CertificateStatus, CertificateStatusLookup } from './ports.ts';

// CAs
export { createRootCa, createIssuingCa, importParentCa, type NewCa } from './authority.ts';
export { loadCa, openCa, caRecord, type CaContext } from './ca_context.ts';

// issuance
export { issueCertificate, checkCsr, enforcePolicy, type IssueRequest, type IssuedCertificate } from './issue.ts';

// revocation
export { REVOCATION_REASONS, REASON_CODES, parseRevocationReason, reasonName, type RevocationReason } from './revocation/reasons.ts';
export { buildCrl, type CrlRequest } from './revocation/crl.ts';
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
