/**
 * The Kubernetes manifests under docker/kubernetes/ are checked against the
 * Kubernetes API's own JSON schemas (through kubernetes-models), and for the
 * properties the README promises: several replicas, probes on /healthz and
 * /readyz, a disruption budget, configuration from a Secret. The schemas
 * check types and allowed values; like `kubectl apply` without
 * `--validate=strict`, they do not refuse unknown fields.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../services/keyward/src/kernel/config.ts';

const FILE = fileURLToPath(new URL('../../../docker/kubernetes/keyward.yaml', import.meta.url));
const KINDS = { ConfigMap, Deployment, Service, PodDisruptionBudget } as const;

function documents(): Array<Record<string, any>> {
  return parseAllDocuments(readFileSync(FILE, 'utf8')).map((d) => {
    expect(d.errors, 'YAML errors').to.deep.equal([]);
    return d.toJS() as Record<string, any>;
  });
}

describe('deployment: Kubernetes manifests', () => {
  it('are valid against the Kubernetes API schemas, one object of each kind', () => {
    const docs = documents();
    expect(docs.map((d) => d.kind).sort()).to.deep.equal(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service']);
    for (const doc of docs) {
      const Kind = KINDS[doc.kind as keyof typeof KINDS];
      expect(Kind, `unexpected kind ${doc.kind}`).to.not.equal(undefined);
      expect(() => new Kind(doc as never).validate(), `${doc.kind} ${doc.metadata?.name}`).to.not.throw();
    }
  });

  it('runs several replicas with liveness on /healthz and readiness on /readyz, not taken out by a Keycloak outage', () => {
    const deployment = documents().find((d) => d.kind === 'Deployment')!;
    expect(deployment.spec.replicas).to.be.at.least(2);
    const [container] = deployment.spec.template.spec.containers;
    expect(container.livenessProbe.httpGet.path).to.equal('/healthz');
    expect(container.readinessProbe.httpGet.path).to.equal('/readyz?ignore=keycloak');
    expect(container.envFrom.map((e: any) => e.secretRef?.name ?? e.configMapRef?.name)).to.deep.equal(['keyward', 'keyward']);
    const pdb = documents().find((d) => d.kind === 'PodDisruptionBudget')!;
    expect(pdb.spec.minAvailable).to.equal(1);
    expect(pdb.spec.selector.matchLabels).to.deep.equal(deployment.spec.selector.matchLabels);
  });

  it('holds only settings that Keyward knows, and none of its secrets, in the ConfigMap', () => {
    const config = documents().find((d) => d.kind === 'ConfigMap')!;
    // loadConfig rejects unknown KEYWARD_* variables and bad values; the secrets come from the Secret.
    const loaded = loadConfig(
      {},
      {
        ...config.data,
        KEYWARD_DATABASE_URL: 'postgres://db.example.internal/keyward',
        KEYWARD_KEK: Buffer.alloc(32, 1).toString('base64'),
      },
    );
    expect(loaded.mode).to.equal('production');
    for (const secret of ['KEYWARD_DATABASE_URL', 'KEYWARD_KEK', 'KEYWARD_KEYCLOAK_CLIENT_SECRET'])
      expect(config.data).to.not.have.property(secret);
  });
});
