import { expect } from 'chai';
import { KeycloakIdentityAdmin } from '../../../services/keyward/src/keycloak/identity_admin.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';

interface Role {
  id: string;
  name: string;
  composite?: boolean;
}

/** Just enough of the admin client for createApiClient / effectiveRealmRoles, with a call log. */
function fakeKeycloak() {
  const calls: string[] = [];
  const roles: Role[] = [
    { id: 'r-default', name: 'default-roles-demo', composite: true },
    { id: 'r-offline', name: 'offline_access' },
    { id: 'r-req', name: 'keyward-requester' },
    { id: 'r-rev', name: 'keyward-revoker' },
  ];
  const own = ['default-roles-demo', 'offline_access', 'keyward-requester'];
  const mapped = new Map<string, Set<string>>();
  const state = { failRoleMapping: false, deleted: [] as string[], staleOnce: false };
  let n = 0;
  const notFound = () => Object.assign(new Error('Not Found'), { response: { status: 404 } });
  const client = {
    clientScopes: { findOneByName: async () => (calls.push('scope.find'), { id: 'scope-1' }) },
    roles: { find: async () => (calls.push('roles.find'), roles.map((r) => ({ ...r }))) },
    clients: {
      create: async () => (calls.push('clients.create'), { id: `c${++n}` }),
      addDefaultClientScope: async () => {
        calls.push('clients.addDefaultClientScope');
      },
      getServiceAccountUser: async ({ id }: { id: string }) => (calls.push('clients.getServiceAccountUser'), { id: `sa-${id}` }),
      getClientSecret: async () => (calls.push('clients.getClientSecret'), { value: 's3cret' }),
      del: async ({ id }: { id: string }) => {
        calls.push('clients.del');
        state.deleted.push(id);
      },
    },
    users: {
      addRealmRoleMappings: async ({ id, roles: granted }: { id: string; roles: Array<{ id: string; name: string }> }) => {
        calls.push('users.addRealmRoleMappings');
        await new Promise((r) => setTimeout(r, 5));
        if (state.failRoleMapping) throw Object.assign(new Error('boom'), { response: { status: 500 } });
        for (const g of granted) if (!roles.some((r) => r.id === g.id)) throw notFound();
        const set = mapped.get(id) ?? new Set<string>();
        for (const g of granted) set.add(g.name);
        mapped.set(id, set);
      },
      listCompositeRealmRoleMappings: async ({ id }: { id: string }) => {
        calls.push('users.listCompositeRealmRoleMappings');
        return [...own, ...(mapped.get(id) ?? [])].map((name) => ({ name }));
      },
    },
  };
  return { client, calls, roles, state };
}

const spec = (clientId: string, roles: string[]) => ({
  clientId,
  name: undefined,
  description: '',
  roles,
  attributes: {},
  secret: undefined,
});

describe('Keycloak identity adapter: creating API clients', () => {
  it("answers the new service account's effective roles without another call (own roles plus the granted ones)", async () => {
    const kc = fakeKeycloak();
    const admin = new KeycloakIdentityAdmin(kc.client as never, 'keyward');
    const made = await admin.createApiClient('demo', spec('a', ['keyward-revoker']));
    expect(made.secret).to.equal('s3cret');
    const before = kc.calls.length;
    expect(await admin.effectiveRealmRoles('demo', made.serviceAccountId)).to.deep.equal([
      'default-roles-demo',
      'keyward-requester',
      'keyward-revoker',
      'offline_access',
    ]);
    expect(kc.calls.length).to.equal(before);
    // read once: the next answer comes from Keycloak
    expect(await admin.effectiveRealmRoles('demo', made.serviceAccountId)).to.include('keyward-revoker');
    expect(kc.calls.length).to.equal(before + 1);
  });

  it('reads the effective roles from Keycloak when a granted role is composite', async () => {
    const kc = fakeKeycloak();
    kc.roles.push({ id: 'r-bundle', name: 'bundle', composite: true });
    const admin = new KeycloakIdentityAdmin(kc.client as never, 'keyward');
    const made = await admin.createApiClient('demo', spec('b', ['bundle']));
    const before = kc.calls.filter((c) => c === 'users.listCompositeRealmRoleMappings').length;
    expect(before).to.equal(0);
    await admin.effectiveRealmRoles('demo', made.serviceAccountId);
    expect(kc.calls.filter((c) => c === 'users.listCompositeRealmRoleMappings')).to.have.length(1);
  });

  it('reuses the realm role list between creations, and reads it again for a role created since', async () => {
    const kc = fakeKeycloak();
    const admin = new KeycloakIdentityAdmin(kc.client as never, 'keyward');
    await admin.createApiClient('demo', spec('c1', ['keyward-revoker']));
    await admin.createApiClient('demo', spec('c2', ['keyward-revoker']));
    expect(kc.calls.filter((c) => c === 'roles.find')).to.have.length(1);
    kc.roles.push({ id: 'r-new', name: 'fresh-role' });
    await admin.createApiClient('demo', spec('c3', ['fresh-role']));
    expect(kc.calls.filter((c) => c === 'roles.find')).to.have.length(2);
    try {
      await admin.createApiClient('demo', spec('c4', ['no-such-role']));
      expect.fail('created');
    } catch (err) {
      expect((err as KeywardError).code).to.equal('role.not_found');
    }
  });

  it('grants again from a fresh list when a listed role was deleted and re-created in Keycloak (404 on the stale id)', async () => {
    const kc = fakeKeycloak();
    const admin = new KeycloakIdentityAdmin(kc.client as never, 'keyward');
    await admin.createApiClient('demo', spec('d1', ['keyward-revoker']));
    kc.roles.find((r) => r.name === 'keyward-revoker')!.id = 'r-rev-2';
    const made = await admin.createApiClient('demo', spec('d2', ['keyward-revoker']));
    expect(await admin.effectiveRealmRoles('demo', made.serviceAccountId)).to.include('keyward-revoker');
    expect(kc.calls.filter((c) => c === 'users.addRealmRoleMappings')).to.have.length(3);
  });

  it('removes the client when a step fails, after every call in flight has ended', async () => {
    const kc = fakeKeycloak();
    kc.state.failRoleMapping = true;
    const admin = new KeycloakIdentityAdmin(kc.client as never, 'keyward');
    try {
      await admin.createApiClient('demo', spec('e', ['keyward-revoker']));
      expect.fail('created');
    } catch (err) {
      expect(err).to.be.instanceOf(KeywardError);
    }
    expect(kc.state.deleted).to.deep.equal(['c1']);
    expect(kc.calls.at(-1)).to.equal('clients.del');
  });
});
