/**
 * Revoking a certificate (RFC 8555 §7.6), through issuance's revocation
 * (CRL re-signed, OCSP answers dropped, audit event):
 * - signed by an account (kid): as its API client — its own certificates with keyward-requester, any of the realm
 *   with keyward-revoker, the API client still enabled in Keycloak;
 * - signed by the certificate's own key (jwk): whoever holds the key.
 */
import { createPublicKey } from 'node:crypto';
import { decodeCertificate, reasonName } from '../../ca/index.ts';
import { isKeywardError } from '../../kernel/errors.ts';
import { principalOf, type AcmeContext } from '../context.ts';
import { AcmeProblem } from '../problem.ts';
import { authenticate, objectPayload, type SignedRequest } from './authenticate.ts';

export async function revokeCertificate(ctx: AcmeContext, req: SignedRequest): Promise<void> {
  const a = await authenticate(ctx, req, 'either');
  const payload = objectPayload(a);
  if (typeof payload.certificate !== 'string' || !/^[A-Za-z0-9_-]+$/.test(payload.certificate))
    throw new AcmeProblem('malformed', 'certificate must be the DER certificate in base64url');
  const der = new Uint8Array(Buffer.from(payload.certificate, 'base64url'));
  const code = payload.reason ?? 0;
  const reason = typeof code === 'number' && Number.isInteger(code) ? reasonName(code) : undefined;
  if (!reason || reason === 'removeFromCRL')
    throw new AcmeProblem('badRevocationReason', `${String(code)} is not an RFC 5280 reason code a certificate can be revoked for`);
  const record = await ctx.issuance.findIssued(req.realm, der);
  if (!record) throw new AcmeProblem('malformed', 'This directory did not issue that certificate', { status: 404 });
  if (record.status === 'revoked') throw new AcmeProblem('alreadyRevoked', 'The certificate is already revoked');
  try {
    if (a.account) {
      const p = principalOf(a.account);
      await ctx.authz.requireActiveClient(p);
      await ctx.issuance.revoke(req.realm, p, record.serial, reason);
      return;
    }
    // Signed by a key in the header: it must be the certificate's own.
    const certKey = createPublicKey({ key: Buffer.from(decodeCertificate(der).spki), format: 'der', type: 'spki' }).export({
      format: 'jwk',
    });
    const same = ['kty', 'crv', 'x', 'y', 'n', 'e'].every(
      (k) => (certKey as Record<string, unknown>)[k] === (a.jwk as Record<string, unknown>)[k],
    );
    if (!same) throw new AcmeProblem('unauthorized', 'The request is signed neither by an account nor by the certificate key');
    await ctx.issuance.revokeAsKeyHolder(req.realm, der, reason, { kind: 'acme:certificate_key', id: record.serial, realm: req.realm });
  } catch (err) {
    if (isKeywardError(err, 'certificate.not_found') || isKeywardError(err, 'auth.forbidden'))
      throw new AcmeProblem('unauthorized', 'The account may not revoke this certificate', { cause: err });
    throw err;
  }
}
