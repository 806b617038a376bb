/**
 * The ACME client configurations the README shows (docs/acme/): the
 * cert-manager manifests are checked against cert-manager's and Kubernetes'
 * own JSON schemas (through @kubernetes-models/cert-manager and
 * kubernetes-models) once their variables are filled in as `envsubst` would,
 * and every snippet points at a realm's ACME directory with External Account
 * Binding (RFC 8555 §7.3.4). The certbot and lego commands are run for real
 * by the integration test of ACME clients.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Certificate, ClusterIssuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { Secret } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';

const file = (name: string) => readFileSync(fileURLToPath(new URL(`../../../docs/acme/${name}`, import.meta.url)), 'utf8');
const DIRECTORY = /^https:\/\/[a-z0-9.-]+(:\d+)?\/acme\/[a-z0-9-]+\/directory$/;
const KINDS = { Secret, ClusterIssuer, Certificate } as const;

/** The variables of a template, as `envsubst` sees them. */
const variables = (text: string) => [...new Set([...text.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]))].sort();

describe('ACME client configurations (docs/acme)', () => {
  describe('cert-manager', () => {
    const template = file('cert-manager.yaml');
    const values: Record<string, string> = {
      KEYWARD_EAB_KID: 'kwe_3f9c0c1d5e7a2b48',
      KEYWARD_EAB_HMAC: Buffer.alloc(32, 7).toString('base64url'),
      KEYWARD_CA_BUNDLE: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64'),
    };
    const docs = () =>
      parseAllDocuments(template.replace(/\$\{([A-Z_]+)\}/g, (_, v: string) => values[v]!)).map((d) => {
        expect(d.errors, 'YAML errors').to.deep.equal([]);
        return d.toJS() as Record<string, any>;
      });

    it('names exactly the variables its header documents', () => {
      expect(variables(template)).to.deep.equal(Object.keys(values).sort());
      for (const v of Object.keys(values)) expect(template).to.match(new RegExp(`^#\\s+${v}\\s`, 'm'));
    });

    it('is valid against the cert-manager and Kubernetes schemas: a Secret, a ClusterIssuer and a Certificate', () => {
      const all = docs();
      expect(all.map((d) => d.kind)).to.deep.equal(['Secret', 'ClusterIssuer', 'Certificate']);
      for (const doc of all) {
        const Kind = KINDS[doc.kind as keyof typeof KINDS];
        expect(() => new Kind(doc as never).validate(), `${doc.kind} ${doc.metadata?.name}`).to.not.throw();
      }
    });

    it('binds the account with the Secret it ships, trusts the CA bundle and uses the ClusterIssuer for the Certificate', () => {
      const [secret, issuer, certificate] = docs() as [any, any, any];
      const acme = issuer.spec.acme;
      expect(acme.server).to.match(DIRECTORY);
      expect(acme.externalAccountBinding.keyID).to.equal(values.KEYWARD_EAB_KID);
      expect(acme.externalAccountBinding.keySecretRef).to.deep.equal({ name: secret.metadata.name, key: 'hmacKey' });
      // cert-manager reads a ClusterIssuer's secrets from its own namespace (its --cluster-resource-namespace).
      expect(secret.metadata.namespace).to.equal('cert-manager');
      expect(secret.stringData.hmacKey).to.equal(values.KEYWARD_EAB_HMAC);
      expect(Buffer.from(acme.caBundle, 'base64').toString()).to.match(/^-----BEGIN CERTIFICATE-----/);
      expect(acme.solvers[0].http01).to.have.property('ingress');
      expect(certificate.spec.issuerRef).to.deep.equal({ kind: 'ClusterIssuer', name: issuer.metadata.name });
    });
  });

  it('Traefik: a certificate resolver on the directory with eab (kid, hmacEncoded), the CA file and an http-01 entry point', () => {
    const config = parse(file('traefik.yml')) as Record<string, any>;
    const acme = config.certificatesResolvers.keyward.acme;
    expect(acme.caServer).to.match(DIRECTORY);
    expect(acme.eab).to.have.all.keys('kid', 'hmacEncoded');
    expect(acme.caCertificates).to.be.an('array').with.length(1);
    expect(config.entryPoints).to.have.property(acme.httpChallenge.entryPoint);
  });

  it('Caddy: acme_ca on the directory, acme_ca_root, and acme_eab from the environment', () => {
    const caddy = file('Caddyfile');
    expect(/^\s*acme_ca\s+(\S+)$/m.exec(caddy)?.[1]).to.match(DIRECTORY);
    expect(caddy).to.match(/^\s*acme_ca_root\s+\S+\.pem$/m);
    expect(caddy).to.match(/acme_eab \{\s+key_id \{\$KEYWARD_EAB_KID\}\s+mac_key \{\$KEYWARD_EAB_HMAC\}\s+\}/);
  });

  it('all three name the same directory', () => {
    const server = parseAllDocuments(file('cert-manager.yaml'))[1]!.toJS().spec.acme.server;
    expect((parse(file('traefik.yml')) as any).certificatesResolvers.keyward.acme.caServer).to.equal(server);
    expect(/^\s*acme_ca\s+(\S+)$/m.exec(file('Caddyfile'))?.[1]).to.equal(server);
  });
});
