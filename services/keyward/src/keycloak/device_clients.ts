/**
 * The Keycloak side of device onboarding (implements devices/ports.ts
 * DeviceDirectory).
 *
 * A device client is a confidential client using Keycloak's X.509 client
 * authenticator (`client-x509`) with the exact subject DN of the device
 * certificate (no regular expression), service accounts on and every browser
 * flow off. Its service account is a member of the device group (a top-level
 * group such as `PEER_TO_PEER`) or, with a device role, of the role's
 * sub-group (`/PEER_TO_PEER/<role>`), so realm admins find devices under
 * Groups → Members in their console. Groups are created when missing and
 * marked `keyward.managed`.
 *
 * Secretless (RFC 8705): the device obtains client-credentials tokens from
 * Keycloak over mutual TLS with its own certificate, bound to it
 * (`tls.client.certificate.bound.access.tokens`, `cnf.x5t#S256`), carrying
 * Keyward's audience (the keyward client scope), so it can call Keyward with
 * them over the same certificate. With a truststore directory configured
 * (KEYWARD_KEYCLOAK_TRUSTSTORE_DIR), the accepted certificate is written there
 * (`keyward-device-<realm>-<fingerprint>.pem`): Keycloak's TLS listener checks
 * a client certificate against its truststore in the handshake, and reads that
 * truststore at start.
 */
import type KcAdminClient from '@keycloak/keycloak-admin-client';
import type { DeviceClientSpec, DeviceClientState, DeviceDirectory } from '../devices/ports.ts';
import { kc, keycloakStatus, translateKeycloakError } from './errors.ts';
import { MANAGED_ATTRIBUTE, ensureAudienceScope } from './scopes.ts';
import { publishRealmCa } from './truststore.ts';

export const DEVICE_ATTRIBUTE = 'keyward.device';
export const DEVICE_FINGERPRINT_ATTRIBUTE = 'keyward.device.fingerprint';

export class KeycloakDeviceDirectory implements DeviceDirectory {
  readonly #kc: KcAdminClient;
  readonly #audience: string | undefined;
  readonly #truststoreDir: string | undefined;

  constructor(client: KcAdminClient, options: { audience?: string | undefined; truststoreDir?: string | undefined } = {}) {
    this.#kc = client;
    this.#audience = options.audience;
    this.#truststoreDir = options.truststoreDir;
  }

  async clientExists(realm: string, clientId: string): Promise<boolean> {
    const found = await kc(`find client ${clientId} in realm ${realm}`, () => this.#kc.clients.find({ realm, clientId }));
    return found.some((c) => c.clientId === clientId);
  }

  async createDeviceClient(realm: string, spec: DeviceClientSpec): Promise<{ id: string; serviceAccountId: string } | 'exists'> {
    let id: string;
    try {
      ({ id } = await this.#kc.clients.create({
        realm,
        clientId: spec.clientId,
        name: spec.name,
        description: spec.description,
        enabled: true,
        protocol: 'openid-connect',
        publicClient: false,
        clientAuthenticatorType: 'client-x509',
        serviceAccountsEnabled: true,
        standardFlowEnabled: false,
        implicitFlowEnabled: false,
        directAccessGrantsEnabled: false,
        attributes: {
          [MANAGED_ATTRIBUTE]: 'true',
          [DEVICE_ATTRIBUTE]: 'true',
          [DEVICE_FINGERPRINT_ATTRIBUTE]: spec.fingerprint,
          'x509.subjectdn': spec.subjectDn,
          'x509.allow.regex.pattern.comparison': 'false',
          'tls.client.certificate.bound.access.tokens': 'true',
        },
      }));
    } catch (err) {
      if (keycloakStatus(err) === 409) return 'exists';
      throw translateKeycloakError(`create device client ${spec.clientId}`, err);
    }
    try {
      if (this.#audience) {
        const clientScopeId = await ensureAudienceScope(this.#kc, realm, this.#audience);
        await kc(`add the ${this.#audience} scope to ${spec.clientId}`, () =>
          this.#kc.clients.addDefaultClientScope({ realm, id, clientScopeId }),
        );
      }
      if (this.#truststoreDir && spec.certificatePem)
        publishRealmCa(
          this.#truststoreDir,
          `device-${realm}-${spec.fingerprint.replace(/[^0-9A-Fa-f]/g, '').toLowerCase()}`,
          spec.certificatePem,
        );
      const sa = await kc(`read the service account of ${spec.clientId}`, () => this.#kc.clients.getServiceAccountUser({ realm, id }));
      if (spec.deviceGroup) {
        let groupId = await this.#ensureGroup(realm, spec.deviceGroup, undefined);
        if (spec.deviceRole) groupId = await this.#ensureGroup(realm, spec.deviceRole, groupId);
        await kc(`place ${spec.clientId} in group ${spec.deviceGroup}`, () => this.#kc.users.addToGroup({ realm, id: sa.id!, groupId }));
      }
      return { id, serviceAccountId: sa.id! };
    } catch (err) {
      await this.#kc.clients.del({ realm, id }).catch(() => {}); // a half-made device client must not stay
      throw err;
    }
  }

  /** The id of group `name` (top level, or under `parentId`), created when missing. */
  async #ensureGroup(realm: string, name: string, parentId: string | undefined): Promise<string> {
    const find = async () => {
      const list = parentId
        ? await kc(`list sub-groups in realm ${realm}`, () =>
            this.#kc.groups.listSubGroups({ realm, parentId, search: name, exact: true, max: 100 }),
          )
        : await kc(`find group ${name} in realm ${realm}`, () => this.#kc.groups.find({ realm, search: name, exact: true, max: 100 }));
      return list.find((g) => g.name === name)?.id;
    };
    const existing = await find();
    if (existing) return existing;
    try {
      const attributes = { [MANAGED_ATTRIBUTE]: ['true'] };
      const made = parentId
        ? await this.#kc.groups.createChildGroup({ realm, id: parentId }, { name, attributes })
        : await this.#kc.groups.create({ realm, name, attributes });
      return made.id;
    } catch (err) {
      if (keycloakStatus(err) === 409) {
        const raced = await find();
        if (raced) return raced;
      }
      throw translateKeycloakError(`create group ${name} in realm ${realm}`, err);
    }
  }

  async deviceClient(realm: string, id: string): Promise<DeviceClientState | undefined> {
    const c = await kc(`read a device client of realm ${realm}`, async () => {
      try {
        return await this.#kc.clients.findOne({ realm, id });
      } catch (err) {
        if (keycloakStatus(err) === 404) return undefined;
        throw err;
      }
    });
    return c ? { id: c.id!, clientId: c.clientId!, enabled: c.enabled ?? true } : undefined;
  }

  async renameClient(realm: string, id: string, clientId: string): Promise<'renamed' | 'exists'> {
    if (await this.clientExists(realm, clientId)) return 'exists';
    const current = await kc(`read a device client of realm ${realm}`, () => this.#kc.clients.findOne({ realm, id }));
    if (!current) throw translateKeycloakError(`rename device client to ${clientId}`, { response: { status: 404 } });
    try {
      await this.#kc.clients.update({ realm, id }, { ...current, clientId });
    } catch (err) {
      if (keycloakStatus(err) === 409) return 'exists';
      throw translateKeycloakError(`rename device client to ${clientId}`, err);
    }
    return 'renamed';
  }

  async deleteClient(realm: string, id: string): Promise<void> {
    await kc(`delete a device client of realm ${realm}`, async () => {
      try {
        await this.#kc.clients.del({ realm, id });
      } catch (err) {
        if (keycloakStatus(err) !== 404) throw err;
      }
    });
  }
}
