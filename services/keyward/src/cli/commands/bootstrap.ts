import { writeFileSync } from 'node:fs';
import { bootstrap as runBootstrap } from '../../keycloak/bootstrap.ts';
import { loadConfig, required } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/log.ts';
import { out, parse, type Command } from '../command.ts';

export const bootstrap: Command = {
  name: 'bootstrap',
  summary: "Create Keyward's own client in Keycloak (run once, with an admin password)",
  help: `
Usage: keyward bootstrap [--env-file FILE] [--realm NAME]... [--rotate] [--operator-client ID] [--json]

Logs in to Keycloak (KEYWARD_KEYCLOAK_URL) as the administrator
KEYWARD_KEYCLOAK_ADMIN_USER / KEYWARD_KEYCLOAK_ADMIN_PASSWORD and creates, or
repairs, Keyward's confidential client KEYWARD_KEYCLOAK_CLIENT_ID in the master
realm. Its service account holds only create-realm (plus the management roles
of each --realm that already exists and that Keyward must manage). Also creates
the master realm role keyward-operator and the "keyward" audience client scope.
Idempotent: running it again changes nothing unless --rotate is given.

Options:
  --env-file FILE         write KEYWARD_KEYCLOAK_CLIENT_ID/SECRET to FILE (mode 0600)
                          instead of printing the secret
  --realm NAME            an existing realm Keyward must administer (repeatable)
  --rotate                generate a new client secret (the old one stops working)
  --operator-client ID    also create a master-realm API client holding keyward-operator
  --json                  print the result as JSON`,
  async run(argv) {
    const { values } = parse(
      argv,
      {
        'env-file': { type: 'string' },
        realm: { type: 'string', multiple: true },
        rotate: { type: 'boolean' },
        'operator-client': { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    const config = loadConfig();
    const log = createLogger({ level: config.logLevel });
    const result = await runBootstrap({
      url: required(config.keycloak.url, 'KEYWARD_KEYCLOAK_URL', 'to reach Keycloak'),
      adminUser: required(config.keycloak.adminUser, 'KEYWARD_KEYCLOAK_ADMIN_USER', 'for bootstrap'),
      adminPassword: required(config.keycloak.adminPassword, 'KEYWARD_KEYCLOAK_ADMIN_PASSWORD', 'for bootstrap'),
      clientId: config.keycloak.clientId,
      audience: config.audience,
      consoleUrl: config.publicUrl,
      realms: values.realm ?? [],
      rotate: values.rotate ?? false,
      operatorClientId: values['operator-client'],
      log,
      timeoutMs: config.keycloak.timeoutMs,
    });
    if (values['env-file']) {
      const lines = [`KEYWARD_KEYCLOAK_CLIENT_ID=${result.clientId}`, `KEYWARD_KEYCLOAK_CLIENT_SECRET=${result.clientSecret}`];
      writeFileSync(values['env-file'], lines.join('\n') + '\n', { mode: 0o600 });
    }
    if (values.json) {
      out(
        JSON.stringify(
          {
            clientId: result.clientId,
            created: result.created,
            ...(values['env-file'] ? { envFile: values['env-file'] } : { clientSecret: result.clientSecret }),
            operator: result.operator,
          },
          null,
          2,
        ),
      );
    } else if (values['env-file']) {
      out(`${result.created ? 'Created' : 'Found'} ${result.clientId}; credentials written to ${values['env-file']}`);
    } else {
      out(`${result.created ? 'Created' : 'Found'} ${result.clientId}.`);
      out(`KEYWARD_KEYCLOAK_CLIENT_SECRET=${result.clientSecret}`);
    }
    if (result.operator && !values.json) out(`Operator client ${result.operator.clientId} secret: ${result.operator.clientSecret}`);
    return 0;
  },
};
