/** "Open in Keycloak" links into Keycloak's own admin console, for every client, group and user the console shows. */
import { Button } from '@patternfly/react-core';
import { ExternalLinkAltIcon } from '@patternfly/react-icons';
import type { Access } from './access.ts';

export type KeycloakObject = 'clients' | 'groups' | 'users' | 'roles';

/** Keycloak 26's admin console address of an object (its internal id), or of the list when `id` is missing. */
export function keycloakConsoleUrl(access: Access, realm: string, kind: KeycloakObject, id?: string): string | undefined {
  const base = access.session.keycloakUrl?.replace(/\/$/, '');
  if (!base) return undefined;
  const tail = id ? (kind === 'clients' ? `${kind}/${id}/settings` : kind === 'users' ? `${kind}/${id}/settings` : `${kind}/${id}`) : kind;
  return `${base}/admin/master/console/#/${encodeURIComponent(realm)}/${tail}`;
}

export function OpenInKeycloak(props: { access: Access; realm: string; kind: KeycloakObject; id?: string | undefined }) {
  const href = keycloakConsoleUrl(props.access, props.realm, props.kind, props.id);
  if (!href) return null;
  return (
    <Button
      component="a"
      variant="link"
      isInline
      href={href}
      target="_blank"
      rel="noopener noreferrer"
      icon={<ExternalLinkAltIcon />}
      iconPosition="end"
    >
      Open in Keycloak
    </Button>
  );
}
