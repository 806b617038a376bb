/**
 * The ACME front door's public surface (RFC 8555, RFC 8737, RFC 9773): each
 * method is one action module (./actions/) bound to the shared context.
 * http/acme/ routes and the composition root use this.
 */
import type { Principal } from '../authn/principal.ts';
import { updateAccount, accountOrders } from './actions/account.ts';
import type { SignedRequest } from './actions/authenticate.ts';
import { authorization } from './actions/authorization.ts';
import { certificateChain } from './actions/certificate.ts';
import { respondChallenge } from './actions/challenge.ts';
import { directory, newNonce } from './actions/directory.ts';
import { createEabKey, listEabKeys, revokeEabKey, type EabKeyView } from './actions/eab.ts';
import { finalize } from './actions/finalize.ts';
import { keyChange } from './actions/key_change.ts';
import { newAccount, type AccountOutcome } from './actions/new_account.ts';
import { newOrder } from './actions/new_order.ts';
import { getOrder } from './actions/order.ts';
import { renewalInfo, type RenewalInfo } from './actions/renewal_info.ts';
import { revokeCertificate } from './actions/revoke.ts';
import { acmeContext, type AcmeContext, type AcmeDeps, type AcmeOptions } from './context.ts';
import type { AccountRecord, AuthorizationRecord, ChallengeRecord, OrderRecord } from './ports.ts';
import { accountView, authorizationView, challengeView, orderView } from './views.ts';

type OrderAnswer = { order: OrderRecord; authzIds: string[] };

export interface Acme {
  readonly context: AcmeContext;
  directory(realm: string, policy: string | undefined): Promise<Record<string, unknown>>;
  newNonce(): Promise<string>;
  newAccount(req: SignedRequest): Promise<AccountOutcome>;
  account(req: SignedRequest, id: string): Promise<AccountRecord>;
  accountOrders(req: SignedRequest, id: string): Promise<string[]>;
  keyChange(req: SignedRequest): Promise<AccountRecord>;
  newOrder(req: SignedRequest, policy: string | undefined): Promise<OrderAnswer>;
  order(req: SignedRequest, id: string): Promise<OrderAnswer>;
  finalize(req: SignedRequest, id: string): Promise<OrderAnswer>;
  authorization(req: SignedRequest, id: string): Promise<{ authz: AuthorizationRecord; challenges: ChallengeRecord[] }>;
  challenge(req: SignedRequest, id: string): Promise<{ challenge: ChallengeRecord; authz: AuthorizationRecord }>;
  certificate(req: SignedRequest, orderId: string): Promise<string>;
  revoke(req: SignedRequest): Promise<void>;
  renewalInfo(realm: string, certId: string): Promise<RenewalInfo>;
  createEabKey(realm: string, p: Principal): ReturnType<typeof createEabKey>;
  listEabKeys(realm: string, p: Principal): Promise<EabKeyView[]>;
  revokeEabKey(realm: string, p: Principal, kid: string): Promise<void>;
  /** Drops expired nonces (periodic, on one replica). */
  expireNonces(): Promise<number>;
  /** Waits for the validations running in this process. */
  settled(): Promise<void>;
  views: {
    account: (a: AccountRecord) => ReturnType<typeof accountView>;
    order: (o: OrderRecord, authzIds: readonly string[]) => ReturnType<typeof orderView>;
    authorization: (a: AuthorizationRecord, c: readonly ChallengeRecord[]) => ReturnType<typeof authorizationView>;
    challenge: (realm: string, c: ChallengeRecord) => ReturnType<typeof challengeView>;
  };
}

/**
 * @example const acme = createAcme({ store, issuance, authz, realms, policies, clock, log }, { publicUrl, allowedNetworks, … });
 */
export function createAcme(deps: AcmeDeps, options: AcmeOptions): Acme {
  const ctx = acmeContext(deps, options);
  return Object.freeze({
    context: ctx,
    directory: (realm, policy) => directory(ctx, realm, policy),
    newNonce: () => newNonce(ctx),
    newAccount: (req) => newAccount(ctx, req),
    account: (req, id) => updateAccount(ctx, req, id),
    accountOrders: (req, id) => accountOrders(ctx, req, id),
    keyChange: (req) => keyChange(ctx, req),
    newOrder: async (req, policy) => {
      const created = await newOrder(ctx, req, policy);
      return { order: created.order, authzIds: created.authorizations.map((a) => a.authz.id) };
    },
    order: (req, id) => getOrder(ctx, req, id),
    finalize: (req, id) => finalize(ctx, req, id),
    authorization: (req, id) => authorization(ctx, req, id),
    challenge: (req, id) => respondChallenge(ctx, req, id),
    certificate: (req, orderId) => certificateChain(ctx, req, orderId),
    revoke: (req) => revokeCertificate(ctx, req),
    renewalInfo: (realm, certId) => renewalInfo(ctx, realm, certId),
    createEabKey: (realm, p) => createEabKey(ctx, realm, p),
    listEabKeys: (realm, p) => listEabKeys(ctx, realm, p),
    revokeEabKey: (realm, p, kid) => revokeEabKey(ctx, realm, p, kid),
    expireNonces: () => ctx.store.expireNonces(ctx.clock.now()),
    settled: async () => {
      while (ctx.running.size) await Promise.allSettled([...ctx.running]);
    },
    views: {
      account: (a) => accountView(ctx, a),
      order: (o, ids) => orderView(ctx, o, ids),
      authorization: (a, c) => authorizationView(ctx, a, c),
      challenge: (realm, c) => challengeView(ctx, realm, c),
    },
  } satisfies Acme);
}

export { AcmeProblem, toAcmeProblem, ACME_ERROR_PREFIX } from './problem.ts';
export type { SignedRequest } from './actions/authenticate.ts';
export type { AcmeOptions } from './context.ts';
