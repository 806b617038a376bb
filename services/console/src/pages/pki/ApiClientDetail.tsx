/** One API client: effective roles, cross-realm grants as their realms hold them, default policy validity, rotate and delete. */
import {
  Button,
  Card,
  CardBody,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  Label,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import type { PageProps } from '../../app/access.ts';
import { Loading, PageFrame, ProblemAlert } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { OpenInKeycloak } from '../../app/keycloak.tsx';
import { Link, navigate } from '../../app/router.tsx';
import { pki } from './api.ts';
import { DefaultPolicy, DeleteApiClient, RoleLabels, RotateSecret, SecretModal } from './ApiClients.tsx';

export function ApiClientDetailPage(props: PageProps) {
  const { realm } = props;
  const clientId = props.params.clientId!;
  const client = useApi(() => pki.apiClient(realm, clientId), [realm, clientId]);
  const [rotating, setRotating] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [secret, setSecret] = useState<{ clientId: string; secret: string } | undefined>();
  const c = client.data;
  const back = `/${encodeURIComponent(realm)}/api-clients`;
  return (
    <PageFrame
      title={clientId}
      description={
        <>
          <Link to={back}>API clients</Link> · {c?.name ?? 'API client'} in realm {realm}
        </>
      }
      actions={
        <Flex>
          <OpenInKeycloak access={props.access} realm={realm} kind="clients" />
          <Button variant="secondary" onClick={() => setRotating(true)} isDisabled={!c}>
            Rotate secret
          </Button>
          <Button variant="danger" onClick={() => setDeleting(true)} isDisabled={!c}>
            Delete
          </Button>
        </Flex>
      }
    >
      <ProblemAlert error={client.error} />
      {client.loading && !c ? <Loading what="the API client" /> : null}
      {c ? (
        <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
          <Card>
            <CardTitle>Settings</CardTitle>
            <CardBody>
              <DescriptionList isHorizontal isCompact aria-label="API client settings">
                <DescriptionListGroup>
                  <DescriptionListTerm>Client ID</DescriptionListTerm>
                  <DescriptionListDescription>{c.clientId}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Name</DescriptionListTerm>
                  <DescriptionListDescription>{c.name ?? '—'}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Description</DescriptionListTerm>
                  <DescriptionListDescription>{c.description ?? '—'}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>State</DescriptionListTerm>
                  <DescriptionListDescription>
                    <Label color={c.enabled ? 'green' : 'grey'} isCompact>
                      {c.enabled ? 'enabled' : 'disabled (its tokens are refused)'}
                    </Label>{' '}
                    {c.managed ? 'created by Keyward' : 'made in the Keycloak console'}
                    {c.source === 'config' ? ', declared in realm-config files' : ''}
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Default policy</DescriptionListTerm>
                  <DescriptionListDescription data-testid="default-policy">
                    <DefaultPolicy client={c} />
                  </DescriptionListDescription>
                </DescriptionListGroup>
              </DescriptionList>
            </CardBody>
          </Card>
          <Card>
            <CardTitle>Roles in {realm}</CardTitle>
            <CardBody>
              <DescriptionList isHorizontal isCompact>
                <DescriptionListGroup>
                  <DescriptionListTerm>Effective</DescriptionListTerm>
                  <DescriptionListDescription data-testid="effective-roles">
                    <RoleLabels roles={c.roles} />
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Assigned directly</DescriptionListTerm>
                  <DescriptionListDescription>
                    <RoleLabels roles={c.assignedRoles} />
                  </DescriptionListDescription>
                </DescriptionListGroup>
              </DescriptionList>
              <small>Effective roles include those of default-roles-{realm} and of groups.</small>
            </CardBody>
          </Card>
          <Card>
            <CardTitle>Cross-realm grants</CardTitle>
            <CardBody>
              {c.crossRealmRoles.length === 0 ? (
                <p>No roles of other realms. Each one would be an explicit grant recorded inside that realm.</p>
              ) : (
                <Table aria-label="Cross-realm grants" variant="compact">
                  <Thead>
                    <Tr>
                      <Th>Realm</Th>
                      <Th>Role</Th>
                      <Th>Held by</Th>
                      <Th>State there</Th>
                      <Th screenReaderText="Keycloak" />
                    </Tr>
                  </Thead>
                  <Tbody>
                    {c.crossRealmRoles.map((g) => (
                      <Tr key={`${g.realm}/${g.role}`}>
                        <Td dataLabel="Realm">{g.realm}</Td>
                        <Td dataLabel="Role">{g.role}</Td>
                        <Td dataLabel="Held by">
                          <code>
                            keyward-grant.{realm}.{c.clientId}
                          </code>
                        </Td>
                        <Td dataLabel="State there">
                          <Label color="green" isCompact>
                            active
                          </Label>
                        </Td>
                        <Td>
                          <OpenInKeycloak access={props.access} realm={g.realm} kind="clients" />
                        </Td>
                      </Tr>
                    ))}
                  </Tbody>
                </Table>
              )}
              <small>
                Only live grants are listed: a grant that the other realm's admins disabled, deleted or emptied in their console no longer
                counts.
              </small>
            </CardBody>
          </Card>
        </Flex>
      ) : null}
      <RotateSecret realm={realm} clientId={rotating ? clientId : undefined} onClose={() => setRotating(false)} onRotated={setSecret} />
      {secret ? <SecretModal {...secret} rotated onClose={() => setSecret(undefined)} /> : null}
      <DeleteApiClient
        realm={realm}
        clientId={deleting ? clientId : undefined}
        onClose={() => setDeleting(false)}
        onDeleted={() => navigate(back)}
      />
    </PageFrame>
  );
}
