/**
 * The JWS of every ACME POST (RFC 8555 §6.2): flattened JSON serialisation,
 * protected header only, an asymmetric algorithm from {@link JWS_ALGORITHMS}
 * (never `none`, never an HMAC — those only inside an external account
 * binding, {@link verifyEab}), exactly one of `jwk` and `kid`, a `nonce` and
 * the `url` it was sent to. Signatures are verified with jose.
 */
import { calculateJwkThumbprint, flattenedVerify, importJWK, type FlattenedJWSInput, type JWK } from 'jose';
import { AcmeProblem } from './problem.ts';

/** Algorithms of account keys: ECDSA P-256/P-384, RSA PKCS#1 v1.5 with SHA-256, Ed25519. */
export const JWS_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'EdDSA'] as const;
/** HMAC algorithms of external account bindings (RFC 8555 §7.3.4). */
export const EAB_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
/** The smallest RSA account key accepted. */
export const MIN_RSA_BITS = 2048;

export interface ProtectedHeader {
  readonly alg: string;
  readonly nonce: string;
  readonly url: string;
  readonly jwk?: JWK | undefined;
  readonly kid?: string | undefined;
}

/** A JWS whose shape, algorithm and header were checked, not yet its signature. */
export interface ParsedJws {
  readonly jws: FlattenedJWSInput;
  readonly header: ProtectedHeader;
}

const b64json = (s: string, what: string): unknown => {
  try {
    return JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch (err) {
    throw new AcmeProblem('malformed', `The ${what} is not base64url-encoded JSON`, { cause: err });
  }
};

const isB64 = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]*$/.test(v);

/**
 * Checks the shape of a request body: a flattened JWS whose protected header
 * names an accepted algorithm, a nonce, a url and one key reference.
 * @throws AcmeProblem malformed, badSignatureAlgorithm, badNonce (no nonce)
 */
export function parseJws(body: unknown): ParsedJws {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AcmeProblem('malformed', 'The request body must be a JWS in flattened JSON serialisation');
  const b = body as Record<string, unknown>;
  if ('header' in b) throw new AcmeProblem('malformed', 'The JWS must not have an unprotected header (RFC 8555 §6.2)');
  if ('signatures' in b) throw new AcmeProblem('malformed', 'The JWS must have exactly one signature (flattened JSON serialisation)');
  if (!isB64(b.protected) || !isB64(b.payload) || !isB64(b.signature) || !b.protected)
    throw new AcmeProblem('malformed', 'The JWS needs protected, payload and signature, base64url-encoded');
  const h = b64json(b.protected, 'protected header') as Record<string, unknown>;
  if (typeof h !== 'object' || h === null) throw new AcmeProblem('malformed', 'The protected header must be a JSON object');
  const alg = h.alg;
  if (typeof alg !== 'string' || !(JWS_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new AcmeProblem(
      'badSignatureAlgorithm',
      `The JWS algorithm ${String(alg)} is not accepted; use one of ${JWS_ALGORITHMS.join(', ')}`,
      {
        extras: { algorithms: [...JWS_ALGORITHMS] },
      },
    );
  }
  if (!b.signature) throw new AcmeProblem('malformed', 'The JWS has no signature');
  if (typeof h.url !== 'string' || !h.url) throw new AcmeProblem('malformed', 'The protected header must name the url');
  if (typeof h.nonce !== 'string' || !h.nonce) throw new AcmeProblem('badNonce', 'The protected header must carry a nonce');
  const hasJwk = h.jwk !== undefined;
  const hasKid = h.kid !== undefined;
  if (hasJwk === hasKid) throw new AcmeProblem('malformed', 'The protected header must carry exactly one of jwk and kid');
  if (hasKid && typeof h.kid !== 'string') throw new AcmeProblem('malformed', 'kid must be the account URL');
  if (hasJwk && (typeof h.jwk !== 'object' || h.jwk === null || Array.isArray(h.jwk)))
    throw new AcmeProblem('malformed', 'jwk must be a JSON Web Key');
  return {
    jws: { protected: b.protected, payload: b.payload, signature: b.signature },
    header: { alg, url: h.url, nonce: h.nonce, jwk: h.jwk as JWK | undefined, kid: h.kid as string | undefined },
  };
}

/**
 * A public account key: EC P-256/P-384, RSA of at least 2048 bits, or
 * Ed25519, without private members; its RFC 7638 thumbprint.
 * @throws AcmeProblem badPublicKey
 */
export async function checkPublicKey(jwk: JWK): Promise<{ jwk: JWK; thumbprint: string }> {
  const kty = jwk.kty;
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) throw new AcmeProblem('badPublicKey', 'The account key must be a public key');
  if (kty === 'EC') {
    if (jwk.crv !== 'P-256' && jwk.crv !== 'P-384') throw new AcmeProblem('badPublicKey', `EC curve ${String(jwk.crv)} is not accepted`);
  } else if (kty === 'RSA') {
    const bits = Buffer.from(String(jwk.n ?? ''), 'base64url').length * 8;
    if (bits < MIN_RSA_BITS) throw new AcmeProblem('badPublicKey', `RSA account keys must have at least ${MIN_RSA_BITS} bits`);
  } else if (kty === 'OKP') {
    if (jwk.crv !== 'Ed25519') throw new AcmeProblem('badPublicKey', `OKP curve ${String(jwk.crv)} is not accepted`);
  } else {
    throw new AcmeProblem('badPublicKey', `Key type ${String(kty)} is not accepted`);
  }
  const pub: JWK = kty === 'RSA' ? { kty, n: jwk.n, e: jwk.e } : { kty, crv: jwk.crv, x: jwk.x, ...(kty === 'EC' ? { y: jwk.y } : {}) };
  try {
    return { jwk: pub, thumbprint: await calculateJwkThumbprint(pub, 'sha256') };
  } catch (err) {
    throw new AcmeProblem('badPublicKey', 'The account key is not a valid JSON Web Key', { cause: err });
  }
}

/**
 * Verifies the signature with `jwk` and answers the payload: undefined for
 * POST-as-GET (an empty payload), else the parsed JSON.
 * @throws AcmeProblem malformed (signature, payload), badPublicKey
 */
export async function verifySignature(parsed: ParsedJws, jwk: JWK): Promise<unknown> {
  let key;
  try {
    key = await importJWK(jwk, parsed.header.alg);
  } catch (err) {
    throw new AcmeProblem('badPublicKey', `The key does not suit algorithm ${parsed.header.alg}`, { cause: err });
  }
  try {
    await flattenedVerify(parsed.jws, key, { algorithms: [parsed.header.alg] });
  } catch (err) {
    throw new AcmeProblem('malformed', 'The JWS signature does not verify', { cause: err });
  }
  if (parsed.jws.payload === '') return undefined;
  return b64json(String(parsed.jws.payload), 'payload');
}

/**
 * Verifies an external account binding (RFC 8555 §7.3.4): a JWS over the
 * account key, HMAC-signed with the EAB key `kid`, for the newAccount url.
 * @throws AcmeProblem malformed, unauthorized
 */
export async function verifyEab(
  eab: unknown,
  expected: { url: string; accountKey: JWK; hmacKey: (kid: string) => Promise<Uint8Array | undefined> },
): Promise<string> {
  if (typeof eab !== 'object' || eab === null) throw new AcmeProblem('malformed', 'externalAccountBinding must be a JWS');
  const b = eab as Record<string, unknown>;
  if (!isB64(b.protected) || !isB64(b.payload) || !isB64(b.signature) || !b.protected)
    throw new AcmeProblem('malformed', 'externalAccountBinding must be a JWS in flattened JSON serialisation');
  const h = b64json(b.protected, 'external account binding header') as Record<string, unknown>;
  if (typeof h?.alg !== 'string' || !(EAB_ALGORITHMS as readonly string[]).includes(h.alg))
    throw new AcmeProblem('badSignatureAlgorithm', `The external account binding must use one of ${EAB_ALGORITHMS.join(', ')}`);
  if ('nonce' in h) throw new AcmeProblem('malformed', 'The external account binding must not carry a nonce');
  if (typeof h.kid !== 'string' || !h.kid) throw new AcmeProblem('malformed', 'The external account binding must name its kid');
  if (h.url !== expected.url) throw new AcmeProblem('unauthorized', 'The external account binding is for another url');
  const key = await expected.hmacKey(h.kid);
  if (!key) throw new AcmeProblem('unauthorized', `No usable external account binding key ${h.kid}`);
  try {
    await flattenedVerify({ protected: b.protected, payload: b.payload, signature: b.signature as string }, key, { algorithms: [h.alg] });
  } catch (err) {
    throw new AcmeProblem('unauthorized', 'The external account binding signature does not verify', { cause: err });
  }
  const bound = b64json(b.payload, 'external account binding payload') as JWK;
  const [a, c] = await Promise.all([
    calculateJwkThumbprint(bound, 'sha256').catch(() => ''),
    calculateJwkThumbprint(expected.accountKey, 'sha256'),
  ]);
  if (a !== c) throw new AcmeProblem('unauthorized', 'The external account binding is for another account key');
  return h.kid;
}
