/**
 * Administration: IBM CSM's "Manage Personal Access Tokens" (Enabled or
 * Disabled, the maximum expiration with its default of 366 days, every
 * user's tokens, select one or more → Revoke → "Are you sure?"), and the
 * realm's other protected settings: client certificates (with every user's
 * certificates), device onboarding and dual control. Under dual control a
 * saved change is not applied: it shows here as pending, with who proposed it,
 * until a second admin decides it under Approvals.
 */
import {
  ActionGroup,
  Alert,
  Button,
  Content,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Label,
  Pagination,
  Radio,
  SearchInput,
  Stack,
  StackItem,
  Tab,
  Tabs,
  TabTitleText,
  TextInput,
  Title,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr, type ThProps } from '@patternfly/react-table';
import { useEffect, useState, type ReactNode } from 'react';
import type { Access, PageProps } from '../../app/access.ts';
import { ConfirmModal, DateTime, Empty, Loading, PageFrame, ProblemAlert, relativeTime, useToast } from '../../app/components.tsx';
import { useApi, type Loaded } from '../../app/hooks.ts';
import { Link } from '../../app/router.tsx';
import { identityApi, isPending, type Approval, type ClientCertificate, type SettingChange, type SettingName } from './api.ts';
import { ActorName, describeValue, isMe, KeycloakHint, StatusLabel } from './shared.tsx';

type TabKey = 'pat' | 'certificates' | 'devices' | 'dual-control';

export function AdministrationPage(props: PageProps) {
  const { access, realm } = props;
  const [tab, setTab] = useState<TabKey>('pat');
  // The pending changes of every protected setting, to show next to each (reviewers may list them).
  const pending = useApi(() => identityApi.approvals(realm, 'pending'), [realm]);
  const ctx: SettingsContext = { access, realm, pending };
  return (
    <PageFrame
      title="Administration"
      description={
        <>
          Who may use personal access tokens and client certificates in realm <b>{realm}</b>, how devices are onboarded, and whether changes
          to these settings need a second admin (dual control).
        </>
      }
    >
      <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k as TabKey)} aria-label="Administration" mountOnEnter>
        <Tab eventKey="pat" title={<TabTitleText>Manage Personal Access Tokens</TabTitleText>}>
          <TabBody>
            <PatAdministration {...ctx} />
          </TabBody>
        </Tab>
        <Tab eventKey="certificates" title={<TabTitleText>Client certificates</TabTitleText>}>
          <TabBody>
            <CertificateAdministration {...ctx} />
          </TabBody>
        </Tab>
        <Tab eventKey="devices" title={<TabTitleText>Devices</TabTitleText>}>
          <TabBody>
            <DeviceSettingsForm {...ctx} />
          </TabBody>
        </Tab>
        <Tab eventKey="dual-control" title={<TabTitleText>Dual control</TabTitleText>}>
          <TabBody>
            <DualControlForm {...ctx} />
          </TabBody>
        </Tab>
      </Tabs>
    </PageFrame>
  );
}

const TabBody = (props: { children: ReactNode }) => <div style={{ paddingTop: 24 }}>{props.children}</div>;

interface SettingsContext {
  readonly access: Access;
  readonly realm: string;
  readonly pending: Loaded<{ items: Approval[] }>;
}

/** The pending change of a setting, shown under dual control: what it changes, who proposed it. */
function PendingChange(props: SettingsContext & { setting: SettingName; pendingApprovalId: string | undefined }) {
  const a = props.pending.data?.items.find((x) => x.kind === `settings.${props.setting}` && x.status === 'pending');
  if (!a && !props.pendingApprovalId) return null;
  const mine = a && isMe(props.access, a.proposedBy);
  return (
    <Alert variant="info" isInline title="A change waits for a second admin's approval" data-testid="pending-change">
      {a ? (
        <>
          <p>
            {describeValue(a.change.from)} → <b>{describeValue(a.change.to)}</b>
          </p>
          <p>
            Proposed by <ActorName access={props.access} actor={a.proposedBy} /> on <DateTime iso={a.createdAt} />; expires{' '}
            {relativeTime(a.expiresAt)}.
          </p>
          <p>
            {mine ? 'You proposed it, so another admin must approve it. ' : null}
            <Link to={`/${encodeURIComponent(props.realm)}/approvals`}>Open the approvals</Link>
          </p>
        </>
      ) : (
        <p>Approval {props.pendingApprovalId}: the current value stays until another admin approves the change.</p>
      )}
    </Alert>
  );
}

/** Saves a protected setting: 200 applied (toast), 202 pending under dual control (toast and the pending alert). */
function useSave<T extends object>(ctx: SettingsContext, what: string, reload: () => void) {
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const save = async (call: () => Promise<SettingChange<T>>) => {
    setBusy(true);
    setError(undefined);
    try {
      const out = await call();
      if (isPending(out)) toast.info(`${what}: the change waits for a second admin's approval`);
      else toast.success(`${what} saved`);
      reload();
      ctx.pending.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, save };
}

function EnabledRadios(props: { name: string; enabled: boolean; onChange(v: boolean): void; isDisabled?: boolean }) {
  return (
    <FormGroup role="radiogroup" isInline fieldId={`${props.name}-enabled`} label="Status" isStack>
      <Radio
        id={`${props.name}-enabled`}
        name={props.name}
        label="Enabled"
        isChecked={props.enabled}
        onChange={() => props.onChange(true)}
        isDisabled={props.isDisabled}
      />
      <Radio
        id={`${props.name}-disabled`}
        name={props.name}
        label="Disabled"
        isChecked={!props.enabled}
        onChange={() => props.onChange(false)}
        isDisabled={props.isDisabled}
      />
    </FormGroup>
  );
}

function NumberField(props: {
  id: string;
  label: string;
  value: string;
  onChange(v: string): void;
  min: number;
  max: number;
  help: string;
  isDisabled?: boolean;
}) {
  const n = Number(props.value);
  const error =
    /^\d+$/.test(props.value) && n >= props.min && n <= props.max ? undefined : `A whole number from ${props.min} to ${props.max}.`;
  return (
    <FormGroup label={props.label} fieldId={props.id} isRequired>
      <div style={{ maxWidth: 200 }}>
        <TextInput
          id={props.id}
          type="number"
          value={props.value}
          onChange={(_e, v) => props.onChange(v)}
          validated={error ? 'error' : 'default'}
          isDisabled={props.isDisabled}
        />
      </div>
      <FormHelperText>
        <HelperText>
          <HelperTextItem variant={error ? 'error' : 'default'}>{error ?? props.help}</HelperTextItem>
        </HelperText>
      </FormHelperText>
    </FormGroup>
  );
}

const validNumber = (v: string, min: number, max: number) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max;

/** Enabled/Disabled and the maximum expiration in days: PAT and client-certificate settings. */
function ExpirySettingsForm(
  props: SettingsContext & { setting: 'personal_access_tokens' | 'client_certificates'; what: string; onSaved?: () => void },
) {
  const { realm } = props;
  const isPat = props.setting === 'personal_access_tokens';
  const current = useApi(() => (isPat ? identityApi.patSettings(realm) : identityApi.certSettings(realm)), [realm, isPat]);
  const [enabled, setEnabled] = useState(false);
  const [max, setMax] = useState('366');
  useEffect(() => {
    if (current.data) {
      setEnabled(current.data.enabled);
      setMax(String(current.data.maxExpirationDays));
    }
  }, [current.data]);
  const { busy, error, save } = useSave(props, props.what, () => {
    current.reload();
    props.onSaved?.();
  });
  if (current.loading && !current.data) return <Loading what={props.what} />;
  if (!current.data) return <ProblemAlert error={current.error} />;
  const ok = validNumber(max, 1, 3650);
  const changed = enabled !== current.data.enabled || Number(max) !== current.data.maxExpirationDays;
  const body = { enabled, maxExpirationDays: Number(max) };
  return (
    <Form
      aria-label={`${props.what} form`}
      onSubmit={(e) => {
        e.preventDefault();
        void save(() => (isPat ? identityApi.putPatSettings(realm, body) : identityApi.putCertSettings(realm, body)));
      }}
    >
      <PendingChange {...props} pendingApprovalId={current.data.pendingApprovalId} />
      <EnabledRadios name={props.setting} enabled={enabled} onChange={setEnabled} />
      <NumberField
        id={`${props.setting}-max`}
        label="Maximum Expiration (days)"
        value={max}
        onChange={setMax}
        min={1}
        max={3650}
        help="The most days a user may choose when creating one; the default is 366. Lowering it does not shorten existing ones."
      />
      <ProblemAlert error={error} />
      <ActionGroup>
        <Button type="submit" variant="primary" isLoading={busy} isDisabled={busy || !ok || !changed}>
          Save
        </Button>
        <Button
          variant="link"
          isDisabled={!changed}
          onClick={() => {
            setEnabled(current.data!.enabled);
            setMax(String(current.data!.maxExpirationDays));
          }}
        >
          Revert
        </Button>
      </ActionGroup>
    </Form>
  );
}

// ------------------------------------------------------------ personal access tokens

const SORTS = ['username', 'name', 'createdAt', 'expiresInDays', 'expiresAt', 'lastUsedAt'] as const;
const SORTABLE = new Set(['username', 'createdAt', 'expiresAt', 'lastUsedAt']);

function PatAdministration(props: SettingsContext) {
  const { access, realm } = props;
  const toast = useToast();
  const [sort, setSort] = useState<{ by: (typeof SORTS)[number]; desc: boolean }>({ by: 'expiresAt', desc: false });
  const [username, setUsername] = useState('');
  const [search, setSearch] = useState('');
  const [page, setPage] = useState({ first: 0, max: 20 });
  const list = useApi(
    () =>
      identityApi.realmTokens(realm, {
        sort: `${sort.desc ? '-' : ''}${sort.by}`,
        ...(search ? { username: search } : {}),
        first: page.first,
        max: page.max,
      }),
    [realm, sort.by, sort.desc, search, page.first, page.max],
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [confirming, setConfirming] = useState(false);
  const items = list.data?.items ?? [];
  const selectedRows = items.filter((t) => selected.has(t.id));
  const sortParams = (column: (typeof SORTS)[number]): ThProps['sort'] | undefined =>
    SORTABLE.has(column)
      ? {
          columnIndex: SORTS.indexOf(column),
          sortBy: { index: SORTS.indexOf(sort.by), direction: sort.desc ? 'desc' : 'asc' },
          onSort: (_e, _i, direction) => setSort({ by: column, desc: direction === 'desc' }),
        }
      : undefined;
  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  return (
    <Stack hasGutter>
      <StackItem>
        <Title headingLevel="h2" size="lg">
          Personal access tokens
        </Title>
        <Content component="p">
          Users create long-lived tokens for REST automation; each call carries the user's roles at that moment. Disabled by default.
        </Content>
      </StackItem>
      <StackItem>
        <ExpirySettingsForm {...props} setting="personal_access_tokens" what="Personal access token settings" onSaved={list.reload} />
      </StackItem>
      <StackItem>
        <Title headingLevel="h3" size="md">
          Users with personal access tokens
        </Title>
        <Content component="p">Validate that all tokens are valid and meet your security guidelines; revoke those that do not.</Content>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <SearchInput
                aria-label="Search by username"
                placeholder="Username"
                value={username}
                onChange={(_e, v) => setUsername(v)}
                onSearch={(_e, v) => {
                  setSearch(v.trim());
                  setPage((p) => ({ ...p, first: 0 }));
                }}
                onClear={() => {
                  setUsername('');
                  setSearch('');
                }}
              />
            </ToolbarItem>
            <ToolbarItem>
              <Button variant="danger" isDisabled={selectedRows.length === 0} onClick={() => setConfirming(true)}>
                Revoke personal access token
              </Button>
            </ToolbarItem>
            <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
              <Pagination
                itemCount={list.data?.total ?? 0}
                perPage={page.max}
                page={Math.floor(page.first / page.max) + 1}
                onSetPage={(_e, p) => setPage((s) => ({ ...s, first: (p - 1) * s.max }))}
                onPerPageSelect={(_e, max) => setPage({ first: 0, max })}
                isCompact
              />
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <ProblemAlert error={list.error} />
        {list.loading && !list.data ? <Loading what="personal access tokens" /> : null}
        {list.data && items.length === 0 ? (
          <Empty title="No personal access tokens">{search ? `No tokens of users matching "${search}".` : 'No user holds a token.'}</Empty>
        ) : null}
        {items.length > 0 ? (
          <Table aria-label="Users' personal access tokens" variant="compact">
            <Thead>
              <Tr>
                <Th
                  select={{
                    onSelect: (_e, on) => setSelected(on ? new Set(items.map((t) => t.id)) : new Set()),
                    isSelected: items.length > 0 && selectedRows.length === items.length,
                  }}
                  aria-label="Select all"
                />
                <Th modifier="wrap" sort={sortParams('username')}>
                  Username
                </Th>
                <Th modifier="wrap">Token name</Th>
                <Th modifier="wrap" sort={sortParams('createdAt')}>
                  Created
                </Th>
                <Th modifier="wrap">Expires in (days)</Th>
                <Th modifier="wrap" sort={sortParams('expiresAt')}>
                  Expiration date
                </Th>
                <Th modifier="wrap" sort={sortParams('lastUsedAt')}>
                  Last used
                </Th>
                <Th modifier="wrap">Status</Th>
              </Tr>
            </Thead>
            <Tbody>
              {items.map((t, rowIndex) => (
                <Tr key={t.id}>
                  <Td
                    select={{ rowIndex, onSelect: (_e, on) => toggle(t.id, on), isSelected: selected.has(t.id) }}
                    aria-label={`Select ${t.username} ${t.name ?? t.id}`}
                  />
                  <Td dataLabel="Username">{t.username}</Td>
                  <Td dataLabel="Token name">{t.name || <i>unnamed</i>}</Td>
                  <Td dataLabel="Created">
                    <DateTime iso={t.createdAt} />
                  </Td>
                  <Td dataLabel="Expires in (days)">{t.expiresInDays}</Td>
                  <Td dataLabel="Expiration date">
                    <DateTime iso={t.expiresAt} />
                  </Td>
                  <Td dataLabel="Last used">{t.lastUsedAt ? relativeTime(t.lastUsedAt) : 'never'}</Td>
                  <Td dataLabel="Status">
                    <StatusLabel status={t.status} />{' '}
                    {t.exceedsMaximum ? (
                      <Label isCompact color="orange" title={`Longer than the current maximum of ${list.data?.maximumExpirationDays} days`}>
                        over maximum
                      </Label>
                    ) : null}
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        ) : null}
        <KeycloakHint access={access} realm={realm} kind="users">
          Users are managed in Keycloak:
        </KeycloakHint>
      </StackItem>
      <ConfirmModal
        isOpen={confirming}
        danger
        confirmLabel="Ok"
        onClose={() => setConfirming(false)}
        onConfirm={async () => {
          const out = await identityApi.revokeRealmTokens(realm, { ids: selectedRows.map((t) => t.id) });
          toast.success(`Revoked ${out.revoked} personal access token${out.revoked === 1 ? '' : 's'}`);
          setSelected(new Set());
          list.reload();
        }}
      >
        Revoke {selectedRows.length === 1 ? 'the personal access token' : `${selectedRows.length} personal access tokens`} of{' '}
        <b>{[...new Set(selectedRows.map((t) => t.username))].join(', ')}</b>? They stop working at once.
      </ConfirmModal>
    </Stack>
  );
}

// ------------------------------------------------------------ client certificates

function CertificateAdministration(props: SettingsContext) {
  const { access, realm } = props;
  const toast = useToast();
  const list = useApi(() => identityApi.realmCertificates(realm), [realm]);
  const [revoking, setRevoking] = useState<ClientCertificate | undefined>();
  const items = list.data?.items ?? [];
  return (
    <Stack hasGutter>
      <StackItem>
        <Title headingLevel="h2" size="lg">
          Client certificates
        </Title>
        <Content component="p">
          Users create client certificates for automation (mutual TLS or the <code>X-Client-Certificate</code> header), carrying their own
          authority. Disabled by default.
        </Content>
      </StackItem>
      <StackItem>
        <ExpirySettingsForm {...props} setting="client_certificates" what="Client certificate settings" />
      </StackItem>
      <StackItem>
        <Title headingLevel="h3" size="md">
          Users' client certificates
        </Title>
        <ProblemAlert error={list.error} />
        {list.loading && !list.data ? <Loading what="client certificates" /> : null}
        {list.data && items.length === 0 ? <Empty title="No client certificates">No user has created one.</Empty> : null}
        {items.length > 0 ? (
          <Table aria-label="Users' client certificates" variant="compact">
            <Thead>
              <Tr>
                <Th modifier="wrap">Username</Th>
                <Th modifier="wrap">Name</Th>
                <Th modifier="wrap">Serial number</Th>
                <Th modifier="wrap">Created</Th>
                <Th modifier="wrap">Expires in (days)</Th>
                <Th modifier="wrap">Expiration date</Th>
                <Th modifier="wrap">Status</Th>
                <Th screenReaderText="Actions" />
              </Tr>
            </Thead>
            <Tbody>
              {items.map((c) => (
                <Tr key={c.id}>
                  <Td dataLabel="Username">{c.username}</Td>
                  <Td dataLabel="Name">{c.name || <i>unnamed</i>}</Td>
                  <Td dataLabel="Serial number">
                    <code>{c.serialNumber}</code>
                  </Td>
                  <Td dataLabel="Created">
                    <DateTime iso={c.createdAt} />
                  </Td>
                  <Td dataLabel="Expires in (days)">{c.expiresInDays}</Td>
                  <Td dataLabel="Expiration date">
                    <DateTime iso={c.expiresAt} />
                  </Td>
                  <Td dataLabel="Status">
                    <StatusLabel status={c.status} />
                  </Td>
                  <Td isActionCell>
                    {c.status === 'valid' ? (
                      <ActionsColumn items={[{ title: 'Revoke', onClick: () => setRevoking(c), isDanger: true }]} />
                    ) : null}
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        ) : null}
        <KeycloakHint access={access} realm={realm} kind="users">
          Users are managed in Keycloak:
        </KeycloakHint>
      </StackItem>
      <ConfirmModal
        isOpen={!!revoking}
        danger
        confirmLabel="Revoke"
        onClose={() => setRevoking(undefined)}
        onConfirm={async () => {
          await identityApi.revokeCertificate(revoking!.id);
          toast.success(`Client certificate of ${revoking!.username} revoked`);
          list.reload();
        }}
      >
        Revoke the client certificate <b>{revoking?.name || revoking?.serialNumber}</b> of <b>{revoking?.username}</b>? Their automation
        using it is refused from now on.
      </ConfirmModal>
    </Stack>
  );
}

// ------------------------------------------------------------ devices and dual control

function DeviceSettingsForm(props: SettingsContext) {
  const { access, realm } = props;
  const mayEdit = access.has('keyward-admin');
  const current = useApi(() => identityApi.deviceSettings(realm), [realm]);
  const [enabled, setEnabled] = useState(false);
  const [maxPending, setMaxPending] = useState('100');
  const [rejectFor, setRejectFor] = useState('24');
  useEffect(() => {
    if (current.data) {
      setEnabled(current.data.enabled);
      setMaxPending(String(current.data.maxPending));
      setRejectFor(String(current.data.rejectForHours));
    }
  }, [current.data]);
  const { busy, error, save } = useSave(props, 'Device onboarding settings', current.reload);
  if (current.loading && !current.data) return <Loading what="device settings" />;
  if (!current.data) return <ProblemAlert error={current.error} />;
  const d = current.data;
  const ok = validNumber(maxPending, 1, 100_000) && validNumber(rejectFor, 0, 8760);
  const changed = enabled !== d.enabled || Number(maxPending) !== d.maxPending || Number(rejectFor) !== d.rejectForHours;
  return (
    <Form
      aria-label="Device onboarding settings form"
      onSubmit={(e) => {
        e.preventDefault();
        void save(() =>
          identityApi.putDeviceSettings(realm, { enabled, maxPending: Number(maxPending), rejectForHours: Number(rejectFor) }),
        );
      }}
    >
      <Title headingLevel="h2" size="lg">
        Device onboarding
      </Title>
      <Content component="p">
        Devices push their certificate to Keyward; a keyward-admin accepts it under{' '}
        <Link to={`/${encodeURIComponent(realm)}/devices`}>Devices</Link>, which trusts it and creates the device's client in Keycloak.
      </Content>
      {mayEdit ? null : <Alert variant="info" isInline title="Only a keyward-admin changes the device settings" />}
      <PendingChange {...props} setting="devices" pendingApprovalId={d.pendingApprovalId} />
      <EnabledRadios name="devices" enabled={enabled} onChange={setEnabled} isDisabled={!mayEdit} />
      <NumberField
        id="devices-max-pending"
        label="Most pending certificates"
        value={maxPending}
        onChange={setMaxPending}
        min={1}
        max={100_000}
        help="Further pushes are refused while this many wait (default 100)."
        isDisabled={!mayEdit}
      />
      <NumberField
        id="devices-reject-hours"
        label="Keep a rejected certificate out for (hours)"
        value={rejectFor}
        onChange={setRejectFor}
        min={0}
        max={8760}
        help="A certificate an admin rejected is not queued again for this long (default 24)."
        isDisabled={!mayEdit}
      />
      <ProblemAlert error={error} />
      {mayEdit ? (
        <ActionGroup>
          <Button type="submit" variant="primary" isLoading={busy} isDisabled={busy || !ok || !changed}>
            Save
          </Button>
        </ActionGroup>
      ) : null}
    </Form>
  );
}

function DualControlForm(props: SettingsContext) {
  const { access, realm } = props;
  const mayEdit = access.has('keyward-admin');
  const current = useApi(() => identityApi.dualControl(realm), [realm]);
  const [enabled, setEnabled] = useState(false);
  useEffect(() => {
    if (current.data) setEnabled(current.data.enabled);
  }, [current.data]);
  const { busy, error, save } = useSave(props, 'Dual control', current.reload);
  if (current.loading && !current.data) return <Loading what="dual control" />;
  if (!current.data) return <ProblemAlert error={current.error} />;
  return (
    <Form
      aria-label="Dual control form"
      onSubmit={(e) => {
        e.preventDefault();
        void save(() => identityApi.putDualControl(realm, { enabled }));
      }}
    >
      <Title headingLevel="h2" size="lg">
        Dual control
      </Title>
      <Content component="p">
        While dual control is on, a change to the personal access token, client certificate, device or dual-control settings, and the
        acceptance of a device certificate, waits until a <b>different</b> admin approves it under{' '}
        <Link to={`/${encodeURIComponent(realm)}/approvals`}>Approvals</Link>. Switching it on applies at once; switching it off needs a
        second admin too.
      </Content>
      {mayEdit ? null : <Alert variant="info" isInline title="Only a keyward-admin switches dual control" />}
      <PendingChange {...props} setting="dual_control" pendingApprovalId={current.data.pendingApprovalId} />
      <EnabledRadios name="dual_control" enabled={enabled} onChange={setEnabled} isDisabled={!mayEdit} />
      <ProblemAlert error={error} />
      {mayEdit ? (
        <ActionGroup>
          <Button type="submit" variant="primary" isLoading={busy} isDisabled={busy || enabled === current.data.enabled}>
            Save
          </Button>
        </ActionGroup>
      ) : null}
    </Form>
  );
}
