/**
 * The set-up the fault scenarios share: a managed realm with one certificate
 * policy and one API client that may request certificates, made through a
 * Keyward of the run that is closed again, so that the scenario's own Keyward
 * processes or relays start from a realm that is ready.
 */
import { expect } from 'chai';
import { csr, work } from './openssl.ts';
import { call, clientToken, operatorToken, startKeyward, unique } from './env.ts';

export interface IssuingRealm {
  readonly realm: string;
  readonly clientId: string;
  /** A client-credentials token of the API client, from the real Keycloak. */
  readonly token: string;
  /** A CSR the policy `svc` accepts. */
  readonly csrPem: string;
  readonly operator: string;
}

/** A policy `svc` for EC-P256 client certificates under `*.<domain>`. */
export function policyFor(domain: string) {
  return {
    keyTypes: ['EC-P256'],
    maxValidityDays: 30,
    subject: { required: ['CN'], allowed: ['CN'] },
    san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['clientAuth'],
    approval: 'none',
  };
}

export async function issuingRealm(prefix: string, options: { roles?: string[] } = {}): Promise<IssuingRealm> {
  const realm = unique(prefix);
  const domain = `${prefix}.internal`;
  const clientId = `${prefix}-app`;
  const operator = await operatorToken();
  const setup = await startKeyward();
  try {
    const put = await call(setup.url, 'PUT', `/v1/realms/${realm}`, { token: operator, body: {} });
    expect(put.status, JSON.stringify(put.body)).to.equal(201);
    const policy = await call(setup.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: operator, body: policyFor(domain) });
    expect(policy.status, JSON.stringify(policy.body)).to.equal(201);
    const created = await call(setup.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: operator,
      body: { clientId, roles: ['keyward-requester', ...(options.roles ?? [])] },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const token = await clientToken(realm, clientId, created.body.secret);
    const csrPem = (await csr(work(), { subject: `/CN=app.${domain}`, sans: [`DNS:app.${domain}`] })).pem;
    return { realm, clientId, token, csrPem, operator };
  } finally {
    await setup.close();
  }
}
