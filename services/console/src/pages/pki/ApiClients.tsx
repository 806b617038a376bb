/**
 * API clients of a realm, as MTG Certificate Lifecycle Manager's administration
 * shows them: search and page, create with home-realm roles, cross-realm roles
 * and a default policy (offered only from realms that have policies and in
 * which the client will hold a role), the secret shown once, rotate, delete.
 */
import {
  Alert,
  Button,
  Checkbox,
  ClipboardCopy,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  FormSelectOptionGroup,
  HelperText,
  HelperTextItem,
  Label,
  LabelGroup,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  SearchInput,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useEffect, useMemo, useState } from 'react';
import type { PageProps } from '../../app/access.ts';
import { ConfirmModal, Empty, Loading, PageFrame, ProblemAlert, useToast } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { OpenInKeycloak } from '../../app/keycloak.tsx';
import { Link } from '../../app/router.tsx';
import { pki, problemPointer, type ApiClient, type CrossRealmRole, type Policy } from './api.ts';
import { Pager } from './common.tsx';

export function ApiClientsPage(props: PageProps) {
  const { realm } = props;
  const toast = useToast();
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const [page, setPage] = useState({ first: 0, max: 20 });
  const list = useApi(() => pki.apiClients(realm, applied, page.first, page.max), [realm, applied, page.first, page.max]);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ clientId: string; secret: string; rotated: boolean } | undefined>();
  const [rotating, setRotating] = useState<string | undefined>();
  const [deleting, setDeleting] = useState<string | undefined>();

  const rows = list.data?.items ?? [];
  return (
    <PageFrame
      title="API clients"
      description="Confidential Keycloak clients with a service account that automate certificate work: they receive the realm's default role, optional roles of this and other realms, and an optional default certificate policy."
      actions={<OpenInKeycloak access={props.access} realm={realm} kind="clients" />}
    >
      <Toolbar aria-label="API client toolbar">
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput
              aria-label="Search API clients"
              placeholder="Search by client ID"
              value={search}
              onChange={(_e, v) => setSearch(v)}
              onSearch={(_e, v) => {
                setApplied(v);
                setPage((p) => ({ ...p, first: 0 }));
              }}
              onClear={() => {
                setSearch('');
                setApplied('');
                setPage((p) => ({ ...p, first: 0 }));
              }}
            />
          </ToolbarItem>
          <ToolbarItem>
            <Button variant="primary" onClick={() => setCreating(true)}>
              Create API client
            </Button>
          </ToolbarItem>
          <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
            <Pager
              label="API clients"
              first={page.first}
              max={page.max}
              shown={rows.length}
              hasMore={list.data?.hasMore ?? false}
              onChange={(first, max) => setPage({ first, max })}
            />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ProblemAlert error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="API clients" />
      ) : !list.error && rows.length === 0 ? (
        <Empty
          title={applied ? 'No API client matches' : 'No API clients yet'}
          action={
            <Button variant="primary" onClick={() => setCreating(true)}>
              Create API client
            </Button>
          }
        >
          {applied ? `No client ID contains "${applied}".` : 'Create one to let a system request and revoke certificates.'}
        </Empty>
      ) : rows.length ? (
        <Table aria-label="API clients" variant="compact">
          <Thead>
            <Tr>
              <Th>Client ID</Th>
              <Th>Name</Th>
              <Th>Roles</Th>
              <Th>Cross-realm roles</Th>
              <Th>Default policy</Th>
              <Th>State</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((c) => (
              <Tr key={c.clientId}>
                <Td dataLabel="Client ID">
                  <Link to={`/${encodeURIComponent(realm)}/api-clients/${encodeURIComponent(c.clientId)}`}>{c.clientId}</Link>
                </Td>
                <Td dataLabel="Name">{c.name ?? '—'}</Td>
                <Td dataLabel="Roles">
                  <RoleLabels roles={c.roles.filter((r) => r.startsWith('keyward-'))} />
                </Td>
                <Td dataLabel="Cross-realm roles">
                  <RoleLabels roles={c.crossRealmRoles.map((g) => `${g.realm}: ${g.role}`)} />
                </Td>
                <Td dataLabel="Default policy">
                  <DefaultPolicy client={c} />
                </Td>
                <Td dataLabel="State">
                  <Label color={c.enabled ? 'green' : 'grey'} isCompact>
                    {c.enabled ? 'enabled' : 'disabled'}
                  </Label>
                </Td>
                <Td isActionCell>
                  <ActionsColumn
                    popperProps={{ position: 'right' }}
                    items={[
                      { title: 'Rotate secret', onClick: () => setRotating(c.clientId) },
                      { isSeparator: true },
                      { title: 'Delete', onClick: () => setDeleting(c.clientId), isDanger: true },
                    ]}
                  />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      ) : null}
      {rows.length ? (
        <Pager
          isBottom
          label="API clients bottom"
          first={page.first}
          max={page.max}
          shown={rows.length}
          hasMore={list.data?.hasMore ?? false}
          onChange={(first, max) => setPage({ first, max })}
        />
      ) : null}
      {creating ? (
        <CreateApiClientModal
          {...props}
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setSecret({ clientId: c.clientId, secret: c.secret, rotated: false });
            toast.success(`API client ${c.clientId} created`);
            list.reload();
          }}
        />
      ) : null}
      {secret ? <SecretModal {...secret} onClose={() => setSecret(undefined)} /> : null}
      <RotateSecret
        realm={realm}
        clientId={rotating}
        onClose={() => setRotating(undefined)}
        onRotated={(s) => setSecret({ ...s, rotated: true })}
      />
      <DeleteApiClient realm={realm} clientId={deleting} onClose={() => setDeleting(undefined)} onDeleted={() => list.reload()} />
    </PageFrame>
  );
}

export function RoleLabels(props: { roles: readonly string[] }) {
  if (!props.roles.length) return <>—</>;
  return (
    <LabelGroup numLabels={4} isCompact>
      {props.roles.map((r) => (
        <Label key={r} isCompact color="blue">
          {r}
        </Label>
      ))}
    </LabelGroup>
  );
}

const POLICY_STATUS: Record<string, string> = {
  valid: 'valid',
  'policy.not_found': 'the policy no longer exists',
  'policy.realm_has_no_policies': 'its realm has no policies',
  'policy.realm_not_granted': 'the client no longer holds a role in its realm',
};

export function DefaultPolicy(props: { client: ApiClient }) {
  const p = props.client.defaultPolicy;
  if (!p) return <>—</>;
  const valid = p.status === 'valid';
  return (
    <span>
      {p.realm}/{p.name}{' '}
      <Label isCompact color={valid ? 'green' : 'red'} title={POLICY_STATUS[p.status] ?? p.status}>
        {valid ? 'valid' : p.status}
      </Label>
    </span>
  );
}

/** The secret, once: copy it now, Keyward stores nothing it could show again. */
export function SecretModal(props: { clientId: string; secret: string; rotated: boolean; onClose: () => void }) {
  return (
    <Modal variant="medium" isOpen onClose={props.onClose} aria-labelledby="secret-title">
      <ModalHeader title={props.rotated ? 'New client secret' : 'API client created'} labelId="secret-title" />
      <ModalBody>
        <Alert variant="warning" isInline title="Copy the secret now: it is shown only this once">
          Keycloak keeps it, and the console will not show it again. If it is lost, rotate the secret.
        </Alert>
        <Form style={{ marginTop: 16 }} onSubmit={(e) => e.preventDefault()}>
          <FormGroup label="Client ID" fieldId="secret-client-id">
            <ClipboardCopy isReadOnly hoverTip="Copy" clickTip="Copied" textAriaLabel="Client ID" id="secret-client-id">
              {props.clientId}
            </ClipboardCopy>
          </FormGroup>
          <FormGroup label="Client secret" fieldId="secret-value">
            <ClipboardCopy
              isReadOnly
              hoverTip="Copy"
              clickTip="Copied"
              textAriaLabel="Client secret"
              id="secret-value"
              data-testid="client-secret"
            >
              {props.secret}
            </ClipboardCopy>
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={props.onClose}>
          I have copied the secret
        </Button>
      </ModalFooter>
    </Modal>
  );
}

export function RotateSecret(props: {
  realm: string;
  clientId: string | undefined;
  onClose: () => void;
  onRotated: (s: { clientId: string; secret: string }) => void;
}) {
  const toast = useToast();
  return (
    <ConfirmModal
      isOpen={props.clientId !== undefined}
      confirmLabel="Rotate secret"
      danger
      onClose={props.onClose}
      onConfirm={async () => {
        const r = await pki.rotateSecret(props.realm, props.clientId!);
        toast.success(`Secret of ${r.clientId} rotated`);
        props.onRotated(r);
      }}
    >
      Rotate the secret of <b>{props.clientId}</b>? The current secret stops working at once; systems using it fail until they get the new
      one.
    </ConfirmModal>
  );
}

export function DeleteApiClient(props: { realm: string; clientId: string | undefined; onClose: () => void; onDeleted: () => void }) {
  const toast = useToast();
  return (
    <ConfirmModal
      isOpen={props.clientId !== undefined}
      confirmLabel="Delete"
      danger
      onClose={props.onClose}
      onConfirm={async () => {
        await pki.deleteApiClient(props.realm, props.clientId!);
        toast.success(`API client ${props.clientId} deleted`);
        props.onDeleted();
      }}
    >
      Delete the API client <b>{props.clientId}</b> from Keycloak, with its grants in other realms? Its tokens stop working; its
      certificates stay valid until revoked.
    </ConfirmModal>
  );
}

interface RealmChoices {
  /** Roles of the home realm one may assign (not the default-roles composite). */
  homeRoles: string[];
  /** Other realms where the caller may grant, with their roles. */
  others: Map<string, string[]>;
}

function CreateApiClientModal(props: PageProps & { onClose: () => void; onCreated: (c: ApiClient & { secret: string }) => void }) {
  const { realm } = props;
  const choices = useApi<RealmChoices>(async () => {
    const home = await pki.realm(realm);
    const all = await pki.realms().catch(() => ({ realms: [] }));
    const others = new Map<string, string[]>();
    await Promise.all(
      all.realms
        .filter((r) => r.name !== realm && r.status === 'ok')
        .map(async (r) => {
          const v = await pki.realm(r.name).catch(() => undefined);
          if (v) others.set(r.name, v.roles.filter((x) => !x.startsWith('default-roles-')).sort(keywardFirst));
        }),
    );
    return { homeRoles: home.roles.filter((x) => !x.startsWith('default-roles-')).sort(keywardFirst), others };
  }, [realm]);
  const [clientId, setClientId] = useState('');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [roles, setRoles] = useState<string[]>(['keyward-requester']);
  const [grants, setGrants] = useState<CrossRealmRole[]>([]);
  const [grantRealm, setGrantRealm] = useState('');
  const [grantRole, setGrantRole] = useState('');
  const [policy, setPolicy] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  // A default policy may come from the home realm or from a realm the client gets a role in, and only from realms that have policies.
  const policyRealms = useMemo(() => [realm, ...new Set(grants.map((g) => g.realm))], [realm, grants]);
  const policies = useApi(async () => {
    const lists = await Promise.all(
      policyRealms.map(async (r) => [r, (await pki.policies(r).catch(() => ({ items: [] as Policy[] }))).items] as const),
    );
    return lists.filter(([, items]) => items.length > 0);
  }, [policyRealms.join('\n')]);
  useEffect(() => {
    if (policy && !(policies.data ?? []).some(([r, items]) => items.some((p) => `${r}/${p.name}` === policy))) setPolicy('');
  }, [policies.data, policy]);

  const otherRoles = choices.data?.others.get(grantRealm) ?? [];
  const pointer = problemPointer(error);
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const slash = policy.indexOf('/');
      const created = await pki.createApiClient(realm, {
        clientId: clientId.trim(),
        ...(name ? { name } : {}),
        ...(description ? { description } : {}),
        roles,
        crossRealmRoles: grants,
        ...(policy ? { defaultPolicy: { realm: policy.slice(0, slash), name: policy.slice(slash + 1) } } : {}),
      });
      props.onCreated(created);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal variant="medium" isOpen onClose={props.onClose} aria-labelledby="create-client-title">
      <ModalHeader title="Create API client" labelId="create-client-title" description={`In realm ${realm}`} />
      <ModalBody>
        <ProblemAlert error={choices.error} />
        <Form
          id="create-client-form"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <FormGroup label="Client ID" isRequired fieldId="client-id">
            <TextInput
              id="client-id"
              isRequired
              value={clientId}
              onChange={(_e, v) => setClientId(v)}
              validated={pointer === '/clientId' ? 'error' : 'default'}
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={pointer === '/clientId' ? 'error' : 'default'}>
                  {pointer === '/clientId' && error instanceof Error ? error.message : 'Letters, digits, . _ -'}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Name" fieldId="client-name">
            <TextInput id="client-name" value={name} onChange={(_e, v) => setName(v)} />
          </FormGroup>
          <FormGroup label="Description" fieldId="client-description">
            <TextInput id="client-description" value={description} onChange={(_e, v) => setDescription(v)} />
          </FormGroup>
          <FormGroup label={`Roles in ${realm}`} fieldId="client-roles" role="group">
            <FormHelperText>
              <HelperText>
                <HelperTextItem>The client also receives the realm's default role (default-roles-{realm}).</HelperTextItem>
              </HelperText>
            </FormHelperText>
            {choices.loading ? <Loading what="roles" /> : null}
            {(choices.data?.homeRoles ?? []).map((r) => (
              <Checkbox
                key={r}
                id={`role-${r}`}
                label={r}
                isChecked={roles.includes(r)}
                onChange={(_e, on) => setRoles((rs) => (on ? [...rs, r] : rs.filter((x) => x !== r)))}
              />
            ))}
          </FormGroup>
          <FormGroup label="Cross-realm roles" fieldId="grant-realm">
            <FormHelperText>
              <HelperText>
                <HelperTextItem>
                  Roles of another realm are never implied: each is an explicit grant recorded in that realm, where its admins can revoke
                  it.
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
            {choices.data && choices.data.others.size === 0 ? (
              <HelperText>
                <HelperTextItem>You administer no other realm to grant roles of.</HelperTextItem>
              </HelperText>
            ) : (
              <div style={{ display: 'flex', gap: 8 }}>
                <FormSelect
                  id="grant-realm"
                  aria-label="Grant realm"
                  value={grantRealm}
                  onChange={(_e, v) => (setGrantRealm(v), setGrantRole(''))}
                >
                  <FormSelectOption value="" label="Realm…" isPlaceholder />
                  {[...(choices.data?.others.keys() ?? [])].map((r) => (
                    <FormSelectOption key={r} value={r} label={r} />
                  ))}
                </FormSelect>
                <FormSelect aria-label="Grant role" value={grantRole} onChange={(_e, v) => setGrantRole(v)} isDisabled={!grantRealm}>
                  <FormSelectOption value="" label="Role…" isPlaceholder />
                  {otherRoles.map((r) => (
                    <FormSelectOption key={r} value={r} label={r} />
                  ))}
                </FormSelect>
                <Button
                  variant="secondary"
                  isDisabled={!grantRealm || !grantRole || grants.some((g) => g.realm === grantRealm && g.role === grantRole)}
                  onClick={() => setGrants((gs) => [...gs, { realm: grantRealm, role: grantRole }])}
                >
                  Add grant
                </Button>
              </div>
            )}
            {grants.length ? (
              <LabelGroup categoryName="Grants" style={{ marginTop: 8 }}>
                {grants.map((g) => (
                  <Label
                    key={`${g.realm}/${g.role}`}
                    color="purple"
                    onClose={() => setGrants((gs) => gs.filter((x) => x !== g))}
                    closeBtnAriaLabel={`Remove ${g.realm}: ${g.role}`}
                  >
                    {g.realm}: {g.role}
                  </Label>
                ))}
              </LabelGroup>
            ) : null}
          </FormGroup>
          <FormGroup label="Default certificate policy" fieldId="client-policy">
            <FormSelect
              id="client-policy"
              value={policy}
              onChange={(_e, v) => setPolicy(v)}
              validated={pointer?.startsWith('/defaultPolicy') ? 'error' : 'default'}
            >
              <FormSelectOption value="" label="None" />
              {(policies.data ?? []).map(([r, items]) => (
                <FormSelectOptionGroup key={r} label={`Realm ${r}`}>
                  {items.map((p) => (
                    <FormSelectOption key={p.name} value={`${r}/${p.name}`} label={`${r}/${p.name}`} />
                  ))}
                </FormSelectOptionGroup>
              ))}
            </FormSelect>
            <FormHelperText>
              <HelperText>
                <HelperTextItem>
                  Offered from {policyRealms.join(', ')}: realms that have policies and in which the client holds a role.
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
        </Form>
        <div style={{ marginTop: 16 }}>
          <ProblemAlert error={error} />
        </div>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" type="submit" form="create-client-form" isLoading={busy} isDisabled={busy || !clientId.trim()}>
          Create
        </Button>
        <Button variant="link" onClick={props.onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

function keywardFirst(a: string, b: string): number {
  const ka = a.startsWith('keyward-') ? 0 : 1;
  const kb = b.startsWith('keyward-') ? 0 : 1;
  return ka - kb || a.localeCompare(b);
}
