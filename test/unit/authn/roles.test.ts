import { expect } from 'chai';
import type { ClientState, IdentityReader } from '../../../services/keyward/src/authn/ports.ts';
import type { Principal } from '../../../services/keyward/src/authn/principal.ts';
import { Authorizer, type ClientRefusal } from '../../../services/keyward/src/authn/roles.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';

class FakeIdentity implements IdentityReader {
  state: ClientState = 'active';
  calls = { roles: 0, state: 0 };
  async effectiveRealmRoles(): Promise<string[]> {
    this.calls.roles++;
    return ['keyward-requester'];
  }
  async findGrant() {
    return undefined;
  }
  async clientState(): Promise<ClientState> {
    this.calls.state++;
    return this.state;
  }
}

const client = (over: Partial<Principal> = {}): Principal => ({
  credential: 'bearer',
  kind: 'client',
  realm: 'demo',
  subject: 'sa-1',
  clientId: 'orders',
  username: 'service-account-orders',
  credentialRoles: [],
  ...over,
});

async function refusal(p: Promise<unknown>): Promise<KeywardError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KeywardError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('authorizer: API clients disabled or deleted in Keycloak', () => {
  let now: number;
  let identity: FakeIdentity;
  let refused: Array<[string | undefined, ClientRefusal]>;
  let authz: Authorizer;

  beforeEach(() => {
    now = 1_000_000;
    identity = new FakeIdentity();
    refused = [];
    authz = new Authorizer({ identity, cacheSeconds: 10, now: () => now, onClientRefused: (p, r) => void refused.push([p.clientId, r]) });
  });

  it('asks Keycloak once per cache period, however many calls the client makes', async () => {
    for (let i = 0; i < 50; i++) await authz.requireActiveClient(client());
    await Promise.all(Array.from({ length: 20 }, () => authz.requireActiveClient(client())));
    expect(identity.calls.state).to.equal(1);
    now += 10_001;
    await authz.requireActiveClient(client());
    expect(identity.calls.state).to.equal(2);
  });

  it('refuses a disabled client with 401 token.client_disabled once the cached state is older than the cache time', async () => {
    await authz.requireActiveClient(client());
    identity.state = 'disabled';
    await authz.requireActiveClient(client()); // still within the bounded staleness
    now += 10_001;
    const err = await refusal(authz.requireActiveClient(client()));
    expect(err.code).to.equal('token.client_disabled');
    expect(err.status).to.equal(401);
    expect(err.headers['WWW-Authenticate']).to.match(/error="invalid_token"/);
    expect(err.detail).to.equal('API client orders is disabled in realm demo');
  });

  it('refuses a deleted client with token.client_not_found and a disabled service account with token.client_disabled', async () => {
    identity.state = 'not_found';
    expect((await refusal(authz.requireActiveClient(client()))).code).to.equal('token.client_not_found');
    identity.state = 'service_account_disabled';
    const err = await refusal(authz.requireActiveClient(client({ clientId: 'billing', subject: 'sa-2' })));
    expect(err.code).to.equal('token.client_disabled');
    expect(err.detail).to.match(/service account of API client billing/);
  });

  it('reports a refusal once per client and reason per minute', async () => {
    identity.state = 'disabled';
    for (let i = 0; i < 5; i++) await refusal(authz.requireActiveClient(client()));
    expect(refused).to.deep.equal([['orders', 'disabled']]);
    identity.state = 'not_found';
    now += 10_001;
    await refusal(authz.requireActiveClient(client()));
    expect(refused).to.have.length(2);
    now += 30_000;
    identity.state = 'disabled';
    await refusal(authz.requireActiveClient(client()));
    expect(refused).to.have.length(2, 'the same reason within a minute is not reported again');
    now += 31_000;
    await refusal(authz.requireActiveClient(client()));
    expect(refused).to.deep.equal([
      ['orders', 'disabled'],
      ['orders', 'not_found'],
      ['orders', 'disabled'],
    ]);
  });

  it('does not look up users, or master-realm operators, whose tokens are short-lived', async () => {
    await authz.requireActiveClient(client({ kind: 'user', clientId: 'console' }));
    await authz.requireActiveClient(client({ realm: 'master', credentialRoles: ['keyward-operator'] }));
    expect(identity.calls.state).to.equal(0);
  });

  it('forgets cached states when Keyward itself changed the client', async () => {
    await authz.requireActiveClient(client());
    identity.state = 'not_found';
    authz.invalidate();
    expect((await refusal(authz.requireActiveClient(client()))).code).to.equal('token.client_not_found');
  });

  it('does not cache a failed lookup (Keycloak unreachable)', async () => {
    identity.clientState = async () => {
      identity.calls.state++;
      throw new KeywardError('keycloak.unavailable', 'Keycloak is unreachable');
    };
    expect((await refusal(authz.requireActiveClient(client()))).code).to.equal('keycloak.unavailable');
    expect((await refusal(authz.requireActiveClient(client()))).code).to.equal('keycloak.unavailable');
    expect(identity.calls.state).to.equal(2);
  });
});
