/**
 * Renewing a certificate with the certificate itself as the credential (as
 * step-ca's `step ca renew`): the caller proves possession of the key in the
 * TLS handshake of Keyward's HTTPS listener, and gets a new certificate for
 * the same subject and SANs, under the CURRENT rules of whoever requested the
 * original:
 *
 *   identify   the presented certificate is one Keyward issued in this realm (byte for byte), valid and unrevoked
 *   → requester the API client that requested it still exists and is enabled in Keycloak, and holds keyward-requester
 *   → rules    the policy it was issued under, as it is now: subject, SANs and key checked again; validity the
 *              original lifetime, at most the policy's current maximum; a policy that now needs approval refuses
 *   → sign     through the one writer, stored with certificate.issued and certificate.renewed.
 *
 * Every refusal has a stable `renewal.*` code (or auth.forbidden) and is
 * audited as certificate.renewal_refused.
 */
import type { Principal } from '../../authn/principal.ts';
import {
  certifiedKeyRequest,
  checkRequest,
  decodeCertificate,
  leafProfile,
  maxValiditySeconds,
  parseCsrAsync,
  type Csr,
  type DecodedCertificate,
  type Sans,
} from '../../ca/index.ts';
import { isKeywardError, KeywardError, type ErrorCode } from '../../kernel/errors.ts';
import { ACCESS, enter, type Caller } from '../access.ts';
import type { IssuanceContext } from '../context.ts';
import type { CertificateRecord, RequesterRef } from '../ports.ts';
import { getEndEntity, resolvePolicy, type IssuanceRules } from '../rules.ts';
import { certificateView, type IssuedView } from '../views.ts';
import { signAndStore } from './issue.ts';

export interface RenewInput {
  /** A new CSR (a new key: `--rekey`); without one the certificate's own key is certified again. */
  readonly csr?: string | Uint8Array | undefined;
}

/** The requester of a certificate as the principal it was: renewal acts with that principal's current authority. */
export function principalOf(ref: RequesterRef): Principal {
  const [kind, credential] = ref.kind.split(':');
  const isClient = kind === 'client';
  return {
    credential: credential === 'pat' || credential === 'client_certificate' || credential === 'device' ? credential : 'bearer',
    kind: isClient ? 'client' : 'user',
    realm: ref.realm,
    subject: ref.id,
    clientId: isClient ? ref.name : undefined,
    username: isClient ? undefined : ref.name,
    credentialRoles: [],
  };
}

/** `dns:…`, `ip:…`, `uri:…`, `email:…` (sanStrings) back into names by kind. */
export function sansOf(strings: readonly string[]): Sans {
  const by = { dns: [] as string[], ip: [] as string[], uri: [] as string[], email: [] as string[] };
  for (const s of strings) {
    const i = s.indexOf(':');
    const kind = s.slice(0, i) as keyof typeof by;
    if (kind in by) by[kind].push(s.slice(i + 1));
  }
  return by;
}

const refuse = (code: ErrorCode, detail: string, extras?: Record<string, unknown>): never => {
  throw new KeywardError(code, detail, extras ? { extras } : {});
};

/** Step 1: the presented certificate is a current certificate of this realm. */
async function identify(
  ctx: IssuanceContext,
  realm: string,
  der: Uint8Array,
): Promise<{ rec: CertificateRecord; cert: DecodedCertificate }> {
  let cert: DecodedCertificate;
  try {
    cert = decodeCertificate(der);
  } catch {
    return refuse('renewal.certificate_unknown', 'The client certificate cannot be read');
  }
  const rec = await ctx.store.getCertificate(realm, cert.serialHex);
  if (!rec || Buffer.compare(Buffer.from(rec.der), Buffer.from(der)) !== 0)
    refuse('renewal.certificate_unknown', `The client certificate is not a certificate Keyward issued in realm ${realm}`, {
      serial: cert.serialHex,
    });
  if (rec!.status === 'revoked')
    refuse('renewal.certificate_revoked', `Certificate ${rec!.serial} is revoked (${rec!.revocationReason ?? 'unspecified'})`, {
      serial: rec!.serial,
    });
  const now = ctx.clock.now();
  if (now < rec!.notBefore || now >= rec!.notAfter)
    refuse('renewal.certificate_expired', `Certificate ${rec!.serial} is not valid now (valid until ${rec!.notAfter.toISOString()})`, {
      serial: rec!.serial,
      notAfter: rec!.notAfter.toISOString(),
    });
  return { rec: rec!, cert };
}

/** Step 2: the requester may still request certificates. */
async function requester(ctx: IssuanceContext, realm: string, rec: CertificateRecord): Promise<Caller> {
  const p = principalOf(rec.requester);
  try {
    await ctx.authz.requireActiveClient(p);
  } catch (err) {
    if (isKeywardError(err, 'token.client_not_found') || isKeywardError(err, 'token.client_disabled'))
      refuse('renewal.requester_inactive', `${(err as Error).message}: it requested certificate ${rec.serial}, which cannot be renewed`, {
        serial: rec.serial,
        clientId: p.clientId,
        reason: (err as KeywardError).code,
      });
    throw err;
  }
  return enter(ctx, p, realm, ACCESS.issue);
}

/** Step 3: the rules as they are now. */
async function currentRules(
  ctx: IssuanceContext,
  realm: string,
  caller: Caller,
  rec: CertificateRecord,
  cert: DecodedCertificate,
): Promise<IssuanceRules> {
  const endEntity = rec.endEntity ? await getEndEntity(ctx, realm, rec.endEntity).catch(() => undefined) : undefined;
  let policy;
  try {
    policy = await resolvePolicy(ctx, caller, endEntity?.policy ?? rec.policy);
  } catch (err) {
    if (isKeywardError(err, 'policy.not_found'))
      refuse(
        'renewal.policy_not_found',
        `Certificate ${rec.serial} was issued under policy ${rec.policy}, which realm ${realm} no longer has`,
        {
          serial: rec.serial,
          policy: rec.policy,
        },
      );
    throw err;
  }
  if (policy.policy.approval === 'required')
    refuse('renewal.not_allowed', `Policy ${policy.name} now needs approval: request a new certificate instead`, {
      serial: rec.serial,
      policy: policy.name,
      reason: 'approval_required',
    });
  const lifetime = Math.round((rec.notAfter.getTime() - rec.notBefore.getTime()) / 1000);
  return {
    policy,
    subject: endEntity ? endEntity.subject : cert.subject,
    sans: endEntity ? endEntity.sans : sansOf(rec.sans),
    validitySeconds: Math.min(lifetime, maxValiditySeconds(policy.policy)),
    profile: leafProfile(policy.policy),
    endEntity,
  };
}

/**
 * Renews the certificate the caller presented in the TLS handshake.
 * @example const view = await renew(ctx, 'demo', peerDer, {});
 * @throws KeywardError renewal.certificate_unknown, renewal.certificate_revoked, renewal.certificate_expired,
 *   renewal.requester_inactive, renewal.policy_not_found, renewal.not_allowed, auth.forbidden, csr.*
 */
export async function renew(ctx: IssuanceContext, realm: string, presented: Uint8Array, input: RenewInput): Promise<IssuedView> {
  await ctx.realms.getManaged(realm);
  let serial: string | undefined;
  let actor = { kind: 'certificate:renewal', id: 'unknown', realm, name: undefined as string | undefined };
  try {
    const { rec, cert } = await identify(ctx, realm, presented);
    serial = rec.serial;
    actor = { kind: 'certificate:renewal', id: rec.serial, realm, name: rec.requester.name };
    const caller = await requester(ctx, realm, rec);
    const rules = await currentRules(ctx, realm, caller, rec, cert);
    const csr: Csr = input.csr ? await parseCsrAsync(input.csr, ctx.verifyCsr) : certifiedKeyRequest(cert.spki);
    let checked;
    try {
      checked = checkRequest({
        csr,
        policy: rules.policy.policy,
        validitySeconds: rules.validitySeconds,
        subjectOverride: rules.subject,
        sansOverride: rules.sans,
      });
    } catch (err) {
      if (err instanceof KeywardError && err.code.startsWith('policy.'))
        refuse('renewal.not_allowed', `Policy ${rules.policy.name} no longer allows certificate ${rec.serial}: ${err.message}`, {
          serial: rec.serial,
          policy: rules.policy.name,
          reason: err.code,
        });
      throw err;
    }
    const record = await signAndStore(ctx, realm, checked, rules, rec.requester, {
      actor,
      alongside: async (tx, newSerial) => {
        await tx.audit({
          action: 'certificate.renewed',
          actor,
          realm,
          target: newSerial,
          details: { previous: rec.serial, rekeyed: input.csr !== undefined, policy: rules.policy.name },
        });
      },
    });
    return await certificateView(ctx, record);
  } catch (err) {
    if (err instanceof KeywardError) {
      await ctx.store.transaction((tx) =>
        tx.audit({
          action: 'certificate.renewal_refused',
          actor,
          realm,
          target: serial ?? 'unknown',
          details: { code: err.code, detail: err.message },
        }),
      );
    }
    throw err;
  }
}
