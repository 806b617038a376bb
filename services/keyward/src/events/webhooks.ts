/**
 * Managing a realm's webhooks (keyward-admin of the realm, or an operator):
 * create or replace one by name, list, read, delete, read its delivery log,
 * redeliver. The secret is shown once — in the answer of the PUT that set it
 * or generated it — and stored sealed under the key-encryption key.
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import type { Clock } from '../kernel/clock.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { RealmService } from '../provisioning/realms.ts';
import { isEventType, type EventType } from './catalogue.ts';
import { checkDestination } from './destination.ts';
import type { DeliveryView, WebhookStore, WebhookView } from './ports.ts';
import { generateSecret, secretKey } from './standard_webhooks.ts';

/** A webhook's name: as a policy's. */
export const WEBHOOK_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface WebhookInput {
  readonly url: string;
  readonly events: readonly string[];
  readonly secret?: string | undefined;
}

export interface WebhookServiceDeps {
  readonly store: WebhookStore;
  readonly realms: Pick<RealmService, 'getManaged'>;
  readonly authz: Pick<Authorizer, 'require'>;
  readonly clock: Clock;
  readonly allowed: (address: string) => boolean;
}

export class WebhookService {
  readonly #d: WebhookServiceDeps;
  constructor(deps: WebhookServiceDeps) {
    this.#d = deps;
  }

  async #enter(p: Principal, realm: string): Promise<void> {
    await this.#d.realms.getManaged(realm);
    await this.#d.authz.require(p, realm, ROLES.admin);
  }

  async #find(realm: string, name: string): Promise<WebhookView> {
    const w = await this.#d.store.get(realm, name);
    if (!w) throw new KeywardError('webhook.not_found', `Realm ${realm} has no webhook ${name}`);
    return w;
  }

  /**
   * Creates or replaces a webhook. Answers the secret when this call generated it (a new webhook given none), never
   * otherwise: a secret given by the caller is not sent back.
   * @throws KeywardError webhook.invalid_name, webhook.url_invalid, webhook.destination_not_allowed, webhook.secret_invalid,
   *   webhook.unknown_event
   */
  async put(
    realm: string,
    p: Principal,
    name: string,
    input: WebhookInput,
  ): Promise<{ created: boolean; webhook: WebhookView; secret?: string }> {
    await this.#enter(p, realm);
    if (!WEBHOOK_NAME.test(name))
      throw new KeywardError('webhook.invalid_name', `"${name.slice(0, 70)}" is not a webhook name (a-z, 0-9, . _ -)`);
    const unknown = input.events.filter((e) => !isEventType(e));
    if (unknown.length)
      throw new KeywardError('webhook.unknown_event', `Unknown event type ${unknown[0]}`, { extras: { event: unknown[0] } });
    await checkDestination(input.url, this.#d.allowed);
    if (input.secret !== undefined) secretKey(input.secret);
    const existing = await this.#d.store.get(realm, name);
    const generated = input.secret === undefined && !existing ? generateSecret() : undefined;
    const secret = input.secret ?? generated;
    const events = [...new Set(input.events)] as EventType[];
    const { created, view } = await this.#d.store.put({ realm, name, url: input.url, events, secret }, this.#d.clock.now(), {
      action: existing ? 'webhook.updated' : 'webhook.created',
      actor: auditActor(p),
      realm,
      target: name,
      // The origin only: a webhook URL's path or query may itself be a credential (as chat services' incoming webhooks are).
      details: { destination: new URL(input.url).origin, events, secretChanged: secret !== undefined },
    });
    return generated === undefined ? { created, webhook: view } : { created, webhook: view, secret: generated };
  }

  async get(realm: string, p: Principal, name: string): Promise<WebhookView> {
    await this.#enter(p, realm);
    return this.#find(realm, name);
  }

  async list(realm: string, p: Principal): Promise<WebhookView[]> {
    await this.#enter(p, realm);
    return this.#d.store.list(realm);
  }

  async delete(realm: string, p: Principal, name: string): Promise<void> {
    await this.#enter(p, realm);
    const gone = await this.#d.store.delete(realm, name, { action: 'webhook.deleted', actor: auditActor(p), realm, target: name });
    if (!gone) throw new KeywardError('webhook.not_found', `Realm ${realm} has no webhook ${name}`);
  }

  async deliveries(
    realm: string,
    p: Principal,
    name: string,
    o: { max: number; status?: DeliveryView['status'] },
  ): Promise<DeliveryView[]> {
    await this.#enter(p, realm);
    await this.#find(realm, name);
    return this.#d.store.deliveries(realm, name, o);
  }

  async delivery(realm: string, p: Principal, name: string, id: string): Promise<DeliveryView> {
    await this.#enter(p, realm);
    const d = /^[0-9a-f-]{36}$/i.test(id) ? await this.#d.store.delivery(realm, name, id) : undefined;
    if (!d) throw new KeywardError('webhook.delivery_not_found', `Webhook ${name} of realm ${realm} has no delivery ${id}`);
    return d;
  }

  /** Schedules a delivery again at once, with its webhook-id and body unchanged. */
  async redeliver(realm: string, p: Principal, name: string, id: string): Promise<DeliveryView> {
    await this.#enter(p, realm);
    const ok =
      /^[0-9a-f-]{36}$/i.test(id) &&
      (await this.#d.store.redeliver(realm, name, id, this.#d.clock.now(), {
        action: 'webhook.redelivery_requested',
        actor: auditActor(p),
        realm,
        target: name,
        details: { delivery: id },
      }));
    if (!ok) throw new KeywardError('webhook.delivery_not_found', `Webhook ${name} of realm ${realm} has no delivery ${id}`);
    return (await this.#d.store.delivery(realm, name, id))!;
  }
}
