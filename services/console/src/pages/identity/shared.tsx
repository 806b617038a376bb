/** Small pieces the identity pages share: downloads, actors, what an approval changes, status labels. */
import { Label } from '@patternfly/react-core';
import type { Access } from '../../app/access.ts';
import { keycloakConsoleUrl, OpenInKeycloak, type KeycloakObject } from '../../app/keycloak.tsx';
import type { Actor, Approval } from './api.ts';

/** Saves text as a file, as a browser download of a Blob (the .pem is never put in a URL). */
export function downloadText(filename: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name from a label: `nightly backup` → `nightly-backup`. */
export const fileName = (label: string) => label.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'certificate';

/** Same Keycloak principal as the caller (what Keyward counts as the proposer, whatever credential it used). */
export function isMe(access: Access, actor: Actor | undefined): boolean {
  return !!actor && actor.id === access.whoami.subject && actor.realm === access.whoami.realm;
}

/** A user or client as the API names it, with a link to Keycloak's console for users. */
export function ActorName(props: { access: Access; actor: Actor | undefined }) {
  const a = props.actor;
  if (!a) return <>—</>;
  const me = isMe(props.access, a);
  return (
    <span>
      {a.name ?? a.id}
      {a.realm !== props.access.realm ? <small> ({a.realm})</small> : null}
      {me ? (
        <>
          {' '}
          <Label isCompact color="blue">
            you
          </Label>
        </>
      ) : null}
      {a.kind === 'user' && a.realm !== 'master' ? (
        <>
          {' '}
          <OpenInKeycloak access={props.access} realm={a.realm} kind="users" id={a.id} />
        </>
      ) : null}
    </span>
  );
}

const SETTING_TITLES: Record<string, string> = {
  personal_access_tokens: 'Personal access token settings',
  client_certificates: 'Client certificate settings',
  dual_control: 'Dual control',
  devices: 'Device onboarding settings',
};

export const settingTitle = (name: string) => SETTING_TITLES[name] ?? name;

/** `{enabled: true, maxExpirationDays: 90}` → `enabled, at most 90 days`. */
export function describeValue(v: unknown): string {
  if (!v || typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof o.enabled === 'boolean') parts.push(o.enabled ? 'enabled' : 'disabled');
  if (typeof o.maxExpirationDays === 'number') parts.push(`at most ${o.maxExpirationDays} days`);
  if (typeof o.maxPending === 'number') parts.push(`at most ${o.maxPending} pending`);
  if (typeof o.rejectForHours === 'number') parts.push(`rejected kept out ${o.rejectForHours} h`);
  return parts.join(', ');
}

/** What an approval would do, in one line. */
export function describeApproval(a: Approval): { type: string; what: string } {
  const c = a.change;
  if (a.kind.startsWith('devices.accept')) {
    const group = [c.deviceGroup, c.deviceRole].filter((x) => typeof x === 'string' && x).join(' / ');
    return {
      type: 'Device acceptance',
      what: `Trust ${String(c.subject ?? c.uuid)} as "${String(c.alias)}"${group ? ` in ${group}` : ''}`,
    };
  }
  const setting = typeof c.setting === 'string' ? c.setting : a.kind.replace(/^settings\./, '');
  return { type: 'Setting change', what: `${settingTitle(setting)}: ${describeValue(c.from)} → ${describeValue(c.to)}` };
}

export function StatusLabel(props: { status: string }) {
  const color =
    props.status === 'valid' || props.status === 'active' || props.status === 'approved' || props.status === 'issued'
      ? 'green'
      : props.status === 'pending'
        ? 'orange'
        : props.status === 'revoked' || props.status === 'rejected'
          ? 'red'
          : 'grey';
  return (
    <Label isCompact color={color}>
      {props.status}
    </Label>
  );
}

/** "Users are managed in Keycloak: Open in Keycloak", shown only when the session names Keycloak's address. */
export function KeycloakHint(props: { access: Access; realm: string; kind: KeycloakObject; children: string }) {
  if (!keycloakConsoleUrl(props.access, props.realm, props.kind)) return null;
  return (
    <p style={{ marginTop: 8 }}>
      <small>
        {props.children} <OpenInKeycloak access={props.access} realm={props.realm} kind={props.kind} />
      </small>
    </p>
  );
}
