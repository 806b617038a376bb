/**
 * The README's example: as an API client (client credentials), list a realm's
 * policies and have a CSR certified.
 *   node packages/client/examples/issue_certificate.ts <realm> <file.csr>
 * with KEYWARD_URL, KEYWARD_KEYCLOAK_URL, KEYWARD_CLIENT_ID and KEYWARD_CLIENT_SECRET set.
 * Scenario 21 of the integration tests runs it.
 */
import { readFileSync } from 'node:fs';
import { clientCredentials, createKeywardClient, isKeywardApiError } from '@keyward/client';

const env = process.env as Record<string, string>;
const [realm = 'demo', csrFile = 'web.csr'] = process.argv.slice(2);

const kw = createKeywardClient({
  baseUrl: env.KEYWARD_URL,
  token: clientCredentials({
    issuer: `${env.KEYWARD_KEYCLOAK_URL}/realms/${realm}`,
    clientId: env.KEYWARD_CLIENT_ID,
    clientSecret: env.KEYWARD_CLIENT_SECRET,
    allowInsecureHttp: env.KEYWARD_KEYCLOAK_URL.startsWith('http://127.0.0.1:'), // a Keycloak on this machine
  }),
});
const { data: policies } = await kw.GET('/v1/realms/{realm}/policies', { params: { path: { realm } } });
console.log(`policies: ${policies.items?.map((p) => p.name).join(', ')}`);
try {
  const csr = readFileSync(csrFile, 'utf8');
  const { data } = await kw.POST('/v1/realms/{realm}/certificates', { params: { path: { realm } }, body: { csr, validity: 'PT12H' } });
  console.log('serialNumber' in data ? `issued ${data.serialNumber} until ${data.notAfter}` : `waiting for approval: ${data.requestId}`);
} catch (err) {
  if (!isKeywardApiError(err)) throw err;
  console.error(`refused: ${err.code} (HTTP ${err.status}): ${err.detail}`); // err.code: 'csr.malformed' | 'policy.san_not_allowed' | …
  process.exitCode = 1;
}
