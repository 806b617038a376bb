import { expect } from 'chai';
import { ConfigError, loadConfig, settingsMarkdown } from '../../../services/keyward/src/kernel/config.ts';

const kek = Buffer.alloc(32, 7).toString('base64');

describe('config', () => {
  it('has defaults that run on a laptop', () => {
    const c = loadConfig({ HOME: '/users/u' });
    expect(c).to.deep.include({
      mode: 'development',
      host: '127.0.0.1',
      port: 3000,
      audience: 'keyward',
      publicUrl: 'http://127.0.0.1:3000',
    });
    expect(c.dataDir).to.equal('/users/u/.local/share/keyward');
    expect(c.keycloak.adminUser).to.equal('admin');
    expect(Object.isFrozen(c) && Object.isFrozen(c.keycloak)).to.equal(true);
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ KEYWARD_DATABASE_URL: 'not-a-url' }, 'KEYWARD_DATABASE_URL', /must be a URL/],
    [{ KEYWARD_DATABASE_URL: 'http://x/y' }, 'KEYWARD_DATABASE_URL', /postgres/],
    [{ KEYWARD_PORT: '70000' }, 'KEYWARD_PORT', /0 to 65535/],
    [{ KEYWARD_PORT: 'abc' }, 'KEYWARD_PORT', /whole number/],
    [{ KEYWARD_MODE: 'prod' }, 'KEYWARD_MODE', /one of development, production/],
    [{ KEYWARD_KEK: 'c2hvcnQ=' }, 'KEYWARD_KEK', /32 random bytes/],
    [{ KEYWARD_TOKEN_ALGORITHMS: 'HS256' }, 'KEYWARD_TOKEN_ALGORITHMS', /asymmetric/],
    [{ KEYWARD_TLS_CERT: '/x.pem' }, 'KEYWARD_TLS_KEY', /together/],
    [{ KEYWARD_PROT: '3000' }, 'KEYWARD_PROT', /is not a Keyward setting/],
    [{ KEYWARD_MODE: 'production' }, 'KEYWARD_DATABASE_URL', /required in production/],
    [{ KEYWARD_MODE: 'production', KEYWARD_DATABASE_URL: 'postgres://db/k' }, 'KEYWARD_KEK', /required in production/],
    [
      { KEYWARD_MODE: 'production', KEYWARD_DATABASE_URL: 'postgres://db/k', KEYWARD_KEK: kek, KEYWARD_KEYCLOAK_ADMIN_PASSWORD: 'admin' },
      'KEYWARD_KEYCLOAK_ADMIN_PASSWORD',
      /development password/,
    ],
  ];
  for (const [env, variable, message] of bad) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      let err: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).variable).to.equal(variable);
      expect((err as Error).message)
        .to.match(message)
        .and.to.match(new RegExp(`^${variable} `));
    });
  }

  it('does not default the admin password in production mode', () => {
    const c = loadConfig({ KEYWARD_MODE: 'production', KEYWARD_DATABASE_URL: 'postgres://db/k', KEYWARD_KEK: kek });
    expect(c.keycloak.adminPassword).to.equal(undefined);
  });

  it('lets overrides win over the environment', () => {
    expect(loadConfig({ KEYWARD_PORT: '1' }, { KEYWARD_PORT: '2' }).port).to.equal(2);
  });

  it('documents every setting in the README table', () => {
    const md = settingsMarkdown();
    expect(md).to.contain('| `KEYWARD_DATABASE_URL` | — |');
    expect(md).to.contain('| `KEYWARD_PORT` | `3000` |');
  });
});
