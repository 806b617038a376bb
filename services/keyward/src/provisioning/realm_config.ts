/**
 * Realm configuration as code: `plan` diffs the files against the live state
 * (Keycloak and Keyward's store) on every run, `apply` makes it so. Lessons of
 * adorsys' keycloak-config-cli (its managed-mode and remote-state documentation):
 * - always compare with live state (so console drift shows up in the plan);
 * - a section that is absent is unmanaged; an empty one means "none" and, with
 *   prune, deletes what realm-config created earlier;
 * - prune deletes only objects realm-config owns (policies stored with source
 *   `config`, clients with attribute `keyward.source=config`); everything else
 *   is reported as unmanaged and left alone;
 * - secrets never live in the files: a client's secret is generated, or read
 *   from an environment variable named in the file (`secretFromEnv`).
 */
import { Ajv } from 'ajv';
import { isDeepStrictEqual } from 'node:util';
import { KeywardError } from '../kernel/errors.ts';
import type { ApiClientService, ApiClientView, ClientCertificateIssued, CrossRealmRole, PolicyRef } from './api_clients.ts';
import type { PolicyService } from './policies.ts';
import type { RealmService } from './realms.ts';

export interface RealmConfigClient {
  readonly clientId: string;
  readonly name?: string;
  readonly description?: string;
  readonly roles?: readonly string[];
  readonly crossRealmRoles?: readonly CrossRealmRole[];
  readonly defaultPolicy?: PolicyRef;
  /** Name of an environment variable (read by the CLI) holding the client secret. */
  readonly secretFromEnv?: string;
  /** `certificate`: a secretless client (mutual TLS at Keycloak, RFC 8705); absent: `secret`. */
  readonly authentication?: 'secret' | 'certificate';
  /** The policy of the realm its certificates are issued under (default: its default policy, when of its realm). */
  readonly certificatePolicy?: string;
}

export interface RealmConfigFile {
  readonly realm: string;
  readonly displayName?: string;
  readonly defaultRoles?: readonly string[];
  readonly policies?: Readonly<Record<string, unknown>>;
  readonly apiClients?: readonly RealmConfigClient[];
}

export type ChangeAction = 'create' | 'update' | 'delete';

export interface Change {
  readonly action: ChangeAction;
  readonly kind: 'realm' | 'policy' | 'api_client';
  readonly realm: string;
  readonly id: string;
  /** For updates: field → [live, desired]. */
  readonly fields?: Readonly<Record<string, readonly [unknown, unknown]>>;
}

export interface Plan {
  readonly changes: readonly Change[];
  /** Objects present live but not in the files and not owned by realm-config: reported, never touched. */
  readonly unmanaged: readonly { readonly kind: 'policy' | 'api_client'; readonly realm: string; readonly id: string }[];
}

export interface ApplyResult extends Plan {
  /** Secrets Keycloak generated for clients created by this run, shown once. */
  readonly generatedSecrets: readonly { readonly realm: string; readonly clientId: string; readonly secret: string }[];
  /** Certificates (with their generated keys) issued to secretless clients by this run, shown once. */
  readonly issuedCertificates: readonly ({ readonly realm: string; readonly clientId: string } & ClientCertificateIssued)[];
}

export function realmConfigJsonSchema(policySchema: Record<string, unknown>): Record<string, unknown> {
  const roles = { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 255 } };
  const { $id: _id, title: _title, ...policy } = policySchema;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://keyward.dev/schemas/realm-config.json',
    title: 'Keyward realm configuration (one file per realm)',
    type: 'object',
    additionalProperties: false,
    required: ['realm'],
    properties: {
      $schema: { type: 'string' },
      realm: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'The realm name (lowercase letters, digits, - and _)' },
      displayName: { type: 'string', maxLength: 200 },
      defaultRoles: { ...roles, description: 'Roles Keyward puts into default-roles-<realm>: every new API client receives them' },
      policies: {
        type: 'object',
        description: 'Certificate policies by name; absent = unmanaged, {} = none',
        propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' },
        additionalProperties: policy,
      },
      apiClients: {
        type: 'array',
        description: 'API clients; absent = unmanaged, [] = none',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['clientId'],
          properties: {
            clientId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' },
            name: { type: 'string', maxLength: 255 },
            description: { type: 'string', maxLength: 1000 },
            roles: { ...roles, description: 'Home-realm roles besides the default role' },
            crossRealmRoles: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['realm', 'role'],
                properties: { realm: { type: 'string' }, role: { type: 'string' } },
              },
            },
            defaultPolicy: {
              type: 'object',
              additionalProperties: false,
              required: ['realm', 'name'],
              properties: { realm: { type: 'string' }, name: { type: 'string' } },
            },
            secretFromEnv: {
              type: 'string',
              pattern: '^[A-Z_][A-Z0-9_]*$',
              description: 'Environment variable holding the client secret (never the secret itself)',
            },
            authentication: {
              type: 'string',
              enum: ['secret', 'certificate'],
              description: 'certificate: mutual TLS at Keycloak with a Keyward certificate (RFC 8705), no secret; default secret',
            },
            certificatePolicy: { type: 'string', minLength: 1, maxLength: 255 },
          },
        },
      },
    },
  };
}

const sortedRoles = (r: readonly CrossRealmRole[] | undefined) => [...(r ?? [])].map((x) => `${x.realm}/${x.role}`).sort();

export class RealmConfigService {
  readonly #realms: RealmService;
  readonly #policies: PolicyService;
  readonly #clients: ApiClientService;
  readonly #validate: (doc: unknown) => boolean;
  readonly #validator: { errors?: unknown };

  constructor(realms: RealmService, policies: PolicyService, clients: ApiClientService, schema: Record<string, unknown>) {
    this.#realms = realms;
    this.#policies = policies;
    this.#clients = clients;
    const fn = new Ajv({ strict: false, allErrors: false }).compile(schema);
    this.#validate = (d) => fn(d);
    this.#validator = fn;
  }

  /** Validates files (each `{ name, content }`); throws realm_config.invalid naming the file and path. */
  parse(files: readonly { name: string; content: unknown }[]): RealmConfigFile[] {
    const seen = new Map<string, string>();
    return files.map((f) => {
      if (!this.#validate(f.content)) {
        const e = (
          this.#validator.errors as Array<{ instancePath: string; message?: string; keyword: string; params: Record<string, string> }>
        )[0]!;
        const path =
          e.keyword === 'additionalProperties'
            ? `${e.instancePath}/${e.params.additionalProperty}`
            : e.keyword === 'required'
              ? `${e.instancePath}/${e.params.missingProperty}`
              : e.instancePath || '/';
        const what = e.keyword === 'additionalProperties' ? 'is not allowed here' : e.keyword === 'required' ? 'is required' : e.message;
        throw new KeywardError('realm_config.invalid', `${f.name}: ${path} ${what}`, { extras: { file: f.name, path } });
      }
      const file = f.content as RealmConfigFile;
      if (seen.has(file.realm))
        throw new KeywardError('realm_config.invalid', `${f.name}: realm ${file.realm} is also declared in ${seen.get(file.realm)}`, {
          extras: { file: f.name, path: '/realm' },
        });
      seen.set(file.realm, f.name);
      for (const [name, doc] of Object.entries(file.policies ?? {})) {
        try {
          this.#policies.validate(doc);
        } catch (err) {
          const path = `/policies/${name}${(err as KeywardError).extras?.path ?? ''}`;
          throw new KeywardError('realm_config.invalid', `${f.name}: ${(err as Error).message}`, { extras: { file: f.name, path } });
        }
      }
      const ids = new Set<string>();
      for (const [i, c] of (file.apiClients ?? []).entries()) {
        if (ids.has(c.clientId))
          throw new KeywardError('realm_config.invalid', `${f.name}: client ${c.clientId} is declared twice`, {
            extras: { file: f.name, path: `/apiClients/${i}/clientId` },
          });
        ids.add(c.clientId);
      }
      return file;
    });
  }

  async plan(files: readonly RealmConfigFile[], options: { prune: boolean }): Promise<Plan> {
    const changes: Change[] = [];
    const unmanaged: Plan['unmanaged'][number][] = [];
    for (const f of files) {
      const managed = await this.#realms.isManaged(f.realm);
      // A managed realm deleted or renamed in Keycloak's console is created again, as PUT /v1/realms/{realm} does;
      // what Keyward stores for it (policies) is still there, what Keycloak held (clients) is made anew.
      const view = managed ? await this.#realms.view(f.realm) : undefined;
      const inKeycloak = view?.status === 'ok';
      if (!view || !inKeycloak) {
        changes.push({ action: 'create', kind: 'realm', realm: f.realm, id: f.realm });
      } else {
        const fields: Record<string, [unknown, unknown]> = {};
        if (f.displayName !== undefined && f.displayName !== view.displayName) fields.displayName = [view.displayName, f.displayName];
        if (f.defaultRoles !== undefined) {
          const want = [...f.defaultRoles].sort();
          const missing = want.filter((r) => !view.defaultRoles.includes(r));
          const extra = view.managedDefaultRoles.filter((r) => !want.includes(r));
          if (missing.length || extra.length) fields.defaultRoles = [[...view.managedDefaultRoles].sort(), want];
        }
        if (Object.keys(fields).length) changes.push({ action: 'update', kind: 'realm', realm: f.realm, id: f.realm, fields });
      }
      if (f.policies !== undefined) {
        const live = managed ? await this.#policies.list(f.realm, SYSTEM_READER) : [];
        for (const [name, doc] of Object.entries(f.policies)) {
          const cur = live.find((p) => p.name === name);
          const want = this.#policies.validate(doc);
          if (!cur) changes.push({ action: 'create', kind: 'policy', realm: f.realm, id: name });
          else if (!isDeepStrictEqual(normalise(cur.policy), normalise(want)))
            changes.push({ action: 'update', kind: 'policy', realm: f.realm, id: name, fields: { policy: [cur.policy, want] } });
        }
        for (const p of live.filter((x) => !(x.name in f.policies!))) {
          if (options.prune && p.source === 'config') changes.push({ action: 'delete', kind: 'policy', realm: f.realm, id: p.name });
          else unmanaged.push({ kind: 'policy', realm: f.realm, id: p.name });
        }
      }
      if (f.apiClients !== undefined) {
        for (const c of f.apiClients) {
          const cur = inKeycloak ? await this.#clients.find(f.realm, c.clientId) : undefined;
          if (!cur) {
            changes.push({ action: 'create', kind: 'api_client', realm: f.realm, id: c.clientId });
            continue;
          }
          const fields = clientDiff(cur, c);
          if (Object.keys(fields).length) changes.push({ action: 'update', kind: 'api_client', realm: f.realm, id: c.clientId, fields });
        }
        if (inKeycloak) {
          const live = await this.#clients.list(f.realm, { first: 0, max: 10_000 }, SYSTEM_READER);
          for (const c of live.filter((x) => !f.apiClients!.some((d) => d.clientId === x.clientId))) {
            if (options.prune && c.source === 'config')
              changes.push({ action: 'delete', kind: 'api_client', realm: f.realm, id: c.clientId });
            else unmanaged.push({ kind: 'api_client', realm: f.realm, id: c.clientId });
          }
        }
      }
    }
    return { changes, unmanaged };
  }

  /**
   * Applies the files. `secrets` maps `realm/clientId` to a secret the CLI read
   * from the environment variable the file names.
   */
  async apply(
    files: readonly RealmConfigFile[],
    options: { prune: boolean; secrets?: Readonly<Record<string, string>> },
  ): Promise<ApplyResult> {
    const plan = await this.plan(files, options);
    const generatedSecrets: { realm: string; clientId: string; secret: string }[] = [];
    const issuedCertificates: ({ realm: string; clientId: string } & ClientCertificateIssued)[] = [];
    const secrets = options.secrets ?? {};
    const secretChanges: Change[] = [];
    const byRealm = new Map(files.map((f) => [f.realm, f]));
    const step = (kind: Change['kind']) => plan.changes.filter((c) => c.kind === kind);
    for (const c of step('realm')) {
      const f = byRealm.get(c.realm)!;
      await this.#realms.put(c.realm, { displayName: f.displayName, defaultRoles: f.defaultRoles }, 'system', 'config');
    }
    for (const c of step('policy').filter((x) => x.action !== 'delete'))
      await this.#policies.put(c.realm, c.id, byRealm.get(c.realm)!.policies![c.id], 'system', 'config');
    for (const c of step('api_client')) {
      const f = byRealm.get(c.realm)!;
      const desired = f.apiClients?.find((x) => x.clientId === c.id);
      if (c.action === 'delete') {
        await this.#clients.delete(c.realm, c.id, 'system');
        continue;
      }
      const byCertificate = desired?.authentication === 'certificate';
      const secret = desired?.secretFromEnv && !byCertificate ? secrets[`${c.realm}/${c.id}`] : undefined;
      if (desired?.secretFromEnv && !byCertificate && !secret)
        throw new KeywardError(
          'realm_config.invalid',
          `The secret of ${c.realm}/${c.id} comes from ${desired.secretFromEnv}, which is not set`,
          { extras: { path: '/apiClients', clientId: c.id } },
        );
      if (c.action === 'create') {
        const made = await this.#clients.create(c.realm, { ...desired!, source: 'config', secret }, 'system');
        if (!secret && made.secret !== undefined) generatedSecrets.push({ realm: c.realm, clientId: c.id, secret: made.secret });
        if (made.certificate) issuedCertificates.push({ realm: c.realm, clientId: c.id, ...made.certificate });
      } else {
        const switched = await this.#clients.update(
          c.realm,
          c.id,
          {
            name: desired!.name,
            description: desired!.description,
            roles: desired!.roles,
            crossRealmRoles: desired!.crossRealmRoles,
            defaultPolicy: desired!.defaultPolicy === undefined ? null : desired!.defaultPolicy,
            ...(c.fields?.authentication
              ? { authentication: desired!.authentication ?? 'secret', certificatePolicy: desired!.certificatePolicy }
              : {}),
          },
          'system',
        );
        if (switched.secret && !desired!.secretFromEnv) generatedSecrets.push({ realm: c.realm, clientId: c.id, secret: switched.secret });
        if (switched.certificate) issuedCertificates.push({ realm: c.realm, clientId: c.id, ...switched.certificate });
      }
    }
    // Secrets from the environment on clients that exist already: set when they differ.
    for (const f of files) {
      for (const c of f.apiClients ?? []) {
        if (c.authentication === 'certificate') continue;
        const secret = c.secretFromEnv ? secrets[`${f.realm}/${c.clientId}`] : undefined;
        if (
          !secret ||
          plan.changes.some((x) => x.kind === 'api_client' && x.id === c.clientId && x.realm === f.realm && x.action === 'create')
        )
          continue;
        if ((await this.#clients.currentSecret(f.realm, c.clientId)) !== secret) {
          await this.#clients.setSecret(f.realm, c.clientId, secret);
          secretChanges.push({
            action: 'update',
            kind: 'api_client',
            realm: f.realm,
            id: c.clientId,
            fields: { secret: ['[redacted]', `[from ${c.secretFromEnv}]`] },
          });
        }
      }
    }
    for (const c of step('policy').filter((x) => x.action === 'delete')) await this.#policies.delete(c.realm, c.id, 'system');
    return { changes: [...plan.changes, ...secretChanges], unmanaged: plan.unmanaged, generatedSecrets, issuedCertificates };
  }
}

/** Reads on behalf of realm-config (the route has already required an operator). */
const SYSTEM_READER = Object.freeze({
  credential: 'bearer',
  kind: 'client',
  realm: 'master',
  subject: 'realm-config',
  clientId: 'realm-config',
  username: undefined,
  credentialRoles: ['keyward-operator'],
}) as import('../authn/principal.ts').Principal;

function normalise(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

function clientDiff(cur: ApiClientView, want: RealmConfigClient): Record<string, [unknown, unknown]> {
  const fields: Record<string, [unknown, unknown]> = {};
  if (want.name !== undefined && want.name !== cur.name) fields.name = [cur.name, want.name];
  if ((want.description ?? undefined) !== cur.description && want.description !== undefined)
    fields.description = [cur.description, want.description];
  const wantRoles = [...new Set(want.roles ?? [])].sort();
  if (!isDeepStrictEqual([...cur.assignedRoles].sort(), wantRoles)) fields.roles = [[...cur.assignedRoles].sort(), wantRoles];
  const curX = sortedRoles(cur.crossRealmRoles);
  const wantX = sortedRoles(want.crossRealmRoles);
  if (!isDeepStrictEqual(curX, wantX)) fields.crossRealmRoles = [curX, wantX];
  const curP = cur.defaultPolicy ? `${cur.defaultPolicy.realm}/${cur.defaultPolicy.name}` : undefined;
  const wantP = want.defaultPolicy ? `${want.defaultPolicy.realm}/${want.defaultPolicy.name}` : undefined;
  if (curP !== wantP) fields.defaultPolicy = [curP, wantP];
  const wantA = want.authentication ?? 'secret';
  if (cur.authentication !== wantA) fields.authentication = [cur.authentication, wantA];
  return fields;
}
