/**
 * Responding to a challenge (RFC 8555 §7.5.1) and validating it (§8): the
 * challenge moves to `processing` once; validation runs in the background
 * with a few attempts, then records its decision — the challenge, its
 * authorization and, when every authorization is valid, the order's move to
 * `ready` — with an audit event either way.
 */
import { actorOf, type AcmeContext } from '../context.ts';
import type { AccountRecord, AuthorizationRecord, ChallengeRecord } from '../ports.ts';
import { AcmeProblem, toAcmeProblem } from '../problem.ts';
import { validateDns01 } from '../validation/dns01.ts';
import { validateHttp01 } from '../validation/http01.ts';
import { AllowedNetworks } from '../validation/networks.ts';
import { nameResolver } from '../validation/resolve.ts';
import { validateTlsAlpn01 } from '../validation/tls_alpn01.ts';
import { accountOf, authenticate, type SignedRequest } from './authenticate.ts';

const networksOf = new WeakMap<AcmeContext, AllowedNetworks>();
const networks = (ctx: AcmeContext) => {
  let n = networksOf.get(ctx);
  if (!n) networksOf.set(ctx, (n = new AllowedNetworks(ctx.options.allowedNetworks)));
  return n;
};

/** The account's challenge `id` and its authorization, or 404 malformed. */
async function ownChallenge(ctx: AcmeContext, realm: string, account: AccountRecord, id: string) {
  const found = await ctx.store.findChallenge(realm, id);
  if (!found || found.authz.accountId !== account.id)
    throw new AcmeProblem('malformed', `No challenge ${id} of this account`, { status: 404 });
  return found;
}

export async function respondChallenge(
  ctx: AcmeContext,
  req: SignedRequest,
  id: string,
): Promise<{ challenge: ChallengeRecord; authz: AuthorizationRecord }> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  const found = await ownChallenge(ctx, req.realm, account, id);
  if (found.challenge.status === 'processing') {
    await resumeStale(ctx, account, found.authz, found.challenge);
    return found;
  }
  // POST-as-GET reads; an (empty) object payload asks for validation.
  if (a.payload === undefined || found.challenge.status !== 'pending' || found.authz.status !== 'pending') return found;
  if (found.authz.expiresAt <= ctx.clock.now()) throw new AcmeProblem('malformed', 'The authorization has expired');
  if (!(await ctx.store.startChallenge(id, ctx.clock.now()))) return (await ownChallenge(ctx, req.realm, account, id)) ?? found;
  run(ctx, account, found.authz, found.challenge);
  return { ...found, challenge: { ...found.challenge, status: 'processing' } };
}

/** A validation that took longer than this was abandoned by its replica: another one takes it over. */
export const STALE_VALIDATION_MS = 2 * 60_000;

function run(ctx: AcmeContext, account: AccountRecord, authz: AuthorizationRecord, c: ChallengeRecord): void {
  const started = validate(ctx, account, authz, c).finally(() => ctx.running.delete(started));
  ctx.running.add(started);
}

/**
 * Takes over a validation that is still `processing` long after it started — the replica that ran it stopped —
 * when the client polls the challenge or its authorization.
 */
export async function resumeStale(ctx: AcmeContext, account: AccountRecord, authz: AuthorizationRecord, c: ChallengeRecord): Promise<void> {
  if (c.status !== 'processing' || !c.validatedAt) return;
  const now = ctx.clock.now();
  if (c.validatedAt.getTime() > now.getTime() - STALE_VALIDATION_MS) return;
  if (await ctx.store.startChallenge(c.id, now, new Date(now.getTime() - STALE_VALIDATION_MS))) run(ctx, account, authz, c);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** One challenge's validation, with retries; never throws (the outcome is stored). */
async function validate(ctx: AcmeContext, account: AccountRecord, authz: AuthorizationRecord, c: ChallengeRecord): Promise<void> {
  const o = ctx.options;
  const current = (await ctx.store.findAccount(account.realm, account.id)) ?? account; // after a key roll-over, its new key
  const keyAuthorization = `${c.token}.${current.thumbprint}`;
  const resolver = nameResolver(o.dnsServer, o.validationTimeoutMs);
  const name = authz.identifier.value;
  let last: AcmeProblem | undefined;
  let reached: string | undefined;
  let attempts = 0;
  for (; attempts < o.validationAttempts;) {
    attempts++;
    try {
      if (c.type === 'http-01')
        reached = await validateHttp01(name, c.token, keyAuthorization, {
          port: o.http01Port,
          timeoutMs: o.validationTimeoutMs,
          networks: networks(ctx),
          resolver,
        });
      else if (c.type === 'tls-alpn-01')
        reached = await validateTlsAlpn01(name, keyAuthorization, {
          port: o.tlsAlpn01Port,
          timeoutMs: o.validationTimeoutMs,
          networks: networks(ctx),
          resolver,
        });
      else reached = await validateDns01(name, keyAuthorization, resolver);
      last = undefined;
      break;
    } catch (err) {
      last = toAcmeProblem(err);
      if (attempts < o.validationAttempts) await sleep(o.validationRetryMs);
    }
  }
  const valid = last === undefined;
  const error = last ? new AcmeProblem(last.type, last.message, { status: last.status }).document : undefined;
  try {
    await ctx.store.finishChallenge(
      c.id,
      { status: valid ? 'valid' : 'invalid', error, at: ctx.clock.now() },
      {
        action: valid ? 'acme_challenge.valid' : 'acme_challenge.invalid',
        actor: actorOf(account),
        realm: authz.realm,
        target: c.id,
        details: {
          order: authz.orderId,
          type: c.type,
          identifier: `${authz.identifier.type}:${authz.identifier.value}`,
          attempts,
          ...(reached ? { reached } : {}),
          ...(error ? { error: error.type, detail: error.detail } : {}),
        },
      },
    );
  } catch (err) {
    ctx.log.warn('could not record an ACME challenge validation', { challenge: c.id, err });
  }
}
