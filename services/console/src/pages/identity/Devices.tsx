/**
 * Devices, as IBM SKLM's pending client certificates: certificates that
 * devices pushed wait here (subject, issuer, SHA-256 fingerprint, first and
 * last seen, source address) until a keyward-admin accepts one with an alias
 * — checked against SKLM's alias rules as it is typed — and an optional device
 * group and role, or rejects it. Accepted certificates form the realm's trust
 * store; untrusting one deletes its device client, and a device client can be
 * renamed.
 */
import {
  Alert,
  Button,
  Content,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Label,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  Stack,
  StackItem,
  Tab,
  Tabs,
  TabTitleText,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import type { PageProps } from '../../app/access.ts';
import { ConfirmModal, DateTime, Empty, Loading, PageFrame, ProblemAlert, relativeTime, useToast } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { OpenInKeycloak } from '../../app/keycloak.tsx';
import { Link } from '../../app/router.tsx';
import { identityApi, type PendingDevice, type TrustedDevice } from './api.ts';
import { aliasProblem, clientIdForAlias, clientIdProblem, groupProblem } from './rules.ts';
import { ActorName, KeycloakHint } from './shared.tsx';

const Fingerprint = (props: { value: string }) => (
  <code style={{ fontSize: 12, wordBreak: 'break-all', display: 'inline-block', maxWidth: 300 }}>{props.value}</code>
);

export function DevicesPage(props: PageProps) {
  const { realm } = props;
  const [tab, setTab] = useState<'pending' | 'trusted'>('pending');
  const settings = useApi(() => identityApi.deviceSettings(realm), [realm]);
  return (
    <PageFrame
      title="Devices"
      description={
        <>
          Devices (tape libraries, storage arrays, appliances) push their communication certificate to realm <b>{realm}</b>. Accepting one
          trusts exactly that certificate, pinned by its SHA-256 fingerprint, and creates the device's client in Keycloak.
        </>
      }
    >
      <Stack hasGutter>
        {settings.data && !settings.data.enabled ? (
          <StackItem>
            <Alert variant="warning" isInline title={`Device onboarding is disabled in realm ${realm}`} data-testid="disabled-notice">
              Devices cannot push certificates until a keyward-admin enables it under{' '}
              <Link to={`/${encodeURIComponent(realm)}/administration`}>Administration</Link>.
            </Alert>
          </StackItem>
        ) : null}
        <StackItem>
          <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k as 'pending' | 'trusted')} aria-label="Devices" mountOnEnter unmountOnExit>
            <Tab eventKey="pending" title={<TabTitleText>Pending certificates</TabTitleText>}>
              <div style={{ paddingTop: 16 }}>
                <PendingCertificates {...props} />
              </div>
            </Tab>
            <Tab eventKey="trusted" title={<TabTitleText>Trusted certificates</TabTitleText>}>
              <div style={{ paddingTop: 16 }}>
                <TrustedCertificates {...props} />
              </div>
            </Tab>
          </Tabs>
        </StackItem>
      </Stack>
    </PageFrame>
  );
}

// ------------------------------------------------------------ pending

function PendingCertificates(props: PageProps) {
  const { access, realm } = props;
  const toast = useToast();
  const list = useApi(() => identityApi.pendingDevices(realm), [realm]);
  // Acceptances waiting for a second admin under dual control, by certificate uuid.
  const waiting = useApi(async () => {
    const { items } = await identityApi.approvals(realm, 'pending');
    return new Map(items.filter((a) => a.kind.startsWith('devices.accept')).map((a) => [String(a.change.uuid), a]));
  }, [realm]);
  const [accepting, setAccepting] = useState<PendingDevice | undefined>();
  const [rejecting, setRejecting] = useState<PendingDevice | undefined>();
  const items = list.data?.items ?? [];
  const reload = () => {
    list.reload();
    waiting.reload();
  };
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Button variant="secondary" onClick={reload}>
              Refresh
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ProblemAlert error={list.error} />
      {list.loading && !list.data ? <Loading what="pending certificates" /> : null}
      {list.data && items.length === 0 ? (
        <Empty title="No pending certificates">
          A device appears here when it connects over HTTPS with its certificate, or uploads it to{' '}
          <code>/v1/realms/{realm}/devices/certificates</code>.
        </Empty>
      ) : null}
      {items.length > 0 ? (
        <Table aria-label="Pending client certificates" variant="compact">
          <Thead>
            <Tr>
              <Th modifier="wrap">Subject</Th>
              <Th modifier="wrap">Issuer</Th>
              <Th modifier="wrap">SHA-256 fingerprint</Th>
              <Th modifier="wrap">First seen</Th>
              <Th modifier="wrap">Last seen</Th>
              <Th modifier="wrap">Source address</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {items.map((d) => {
              const approval = waiting.data?.get(d.uuid);
              return (
                <Tr key={d.uuid} aria-label={d.subject}>
                  <Td dataLabel="Subject">
                    {d.subject}
                    <div>
                      <small>
                        <code>{d.uuid}</code>
                      </small>
                    </div>
                    {approval ? (
                      <Label isCompact color="orange" title={`Accept as "${String(approval.change.alias)}"`}>
                        acceptance waits for approval
                      </Label>
                    ) : null}
                  </Td>
                  <Td dataLabel="Issuer">{d.issuer}</Td>
                  <Td dataLabel="SHA-256 fingerprint">
                    <Fingerprint value={d.sha256Fingerprint} />
                  </Td>
                  <Td dataLabel="First seen">
                    <DateTime iso={d.firstSeen} />
                  </Td>
                  <Td dataLabel="Last seen">{relativeTime(d.lastSeen)}</Td>
                  <Td dataLabel="Source address">
                    {d.sourceAddress} <small>({d.via === 'tls' ? 'TLS' : 'upload'})</small>
                  </Td>
                  <Td isActionCell>
                    <ActionsColumn
                      items={[
                        { title: 'Accept', onClick: () => setAccepting(d), isDisabled: !!approval },
                        { isSeparator: true },
                        { title: 'Reject', onClick: () => setRejecting(d), isDanger: true },
                      ]}
                    />
                  </Td>
                </Tr>
              );
            })}
          </Tbody>
        </Table>
      ) : null}
      {accepting ? <AcceptModal {...props} device={accepting} onClose={() => setAccepting(undefined)} onDone={reload} /> : null}
      <ConfirmModal
        isOpen={!!rejecting}
        danger
        confirmLabel="Reject"
        onClose={() => setRejecting(undefined)}
        onConfirm={async () => {
          await identityApi.rejectDevice(realm, rejecting!.uuid);
          toast.success(`Certificate of ${rejecting!.subject} rejected`);
          reload();
        }}
      >
        Reject the certificate of <b>{rejecting?.subject}</b> (fingerprint <Fingerprint value={rejecting?.sha256Fingerprint ?? ''} />
        )? The device is not queued again for the realm's waiting time after a rejection.
      </ConfirmModal>
      <KeycloakHint access={access} realm={realm} kind="clients">
        Device clients live in Keycloak:
      </KeycloakHint>
    </>
  );
}

function AcceptModal(props: PageProps & { device: PendingDevice; onClose(): void; onDone(): void }) {
  const { realm, device } = props;
  const toast = useToast();
  const [alias, setAlias] = useState('');
  const [group, setGroup] = useState('');
  const [role, setRole] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const aliasError = aliasProblem(alias);
  const groupError = groupProblem(group.trim(), 'Device group');
  const roleError = groupProblem(role.trim(), 'Device role');
  const showAliasError = touched || alias !== '';
  const invalid = !!aliasError || !!groupError || !!roleError;
  const accept = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const out = await identityApi.acceptDevice(realm, {
        alias,
        uuid: device.uuid,
        ...(group.trim() ? { deviceGroup: group.trim() } : {}),
        ...(role.trim() ? { deviceRole: role.trim() } : {}),
      });
      if ('approvalId' in out) toast.info(`Accepting "${alias.trim().toLowerCase()}" waits for a second admin's approval`);
      else toast.success(`Certificate accepted as "${out.alias}"; device client ${out.clientId} created`);
      props.onDone();
      props.onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal variant="medium" isOpen onClose={props.onClose} aria-labelledby="accept-title">
      <ModalHeader title="Accept the device certificate" labelId="accept-title" description={device.subject} />
      <ModalBody>
        <Form
          id="accept-form"
          onSubmit={(e) => {
            e.preventDefault();
            setTouched(true);
            if (!invalid) void accept();
          }}
        >
          <DescriptionList isHorizontal isCompact>
            <DescriptionListGroup>
              <DescriptionListTerm>Issuer</DescriptionListTerm>
              <DescriptionListDescription>{device.issuer}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>SHA-256 fingerprint</DescriptionListTerm>
              <DescriptionListDescription>
                <code style={{ fontSize: 12, wordBreak: 'break-all' }}>{device.sha256Fingerprint}</code>
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Source address</DescriptionListTerm>
              <DescriptionListDescription>
                {device.sourceAddress} ({device.via === 'tls' ? 'TLS' : 'upload'}), last seen {relativeTime(device.lastSeen)}
              </DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
          <Content component="p">Compare the fingerprint with the one the device shows before you accept.</Content>
          <FormGroup label="Alias" isRequired fieldId="device-alias">
            <TextInput
              id="device-alias"
              value={alias}
              onChange={(_e, v) => setAlias(v)}
              onBlur={() => setTouched(true)}
              validated={showAliasError && aliasError ? 'error' : alias ? 'success' : 'default'}
              maxLength={200}
              placeholder="tape library 1"
            />
            <FormHelperText>
              <HelperText>
                {showAliasError && aliasError ? (
                  <HelperTextItem variant="error" data-testid="alias-error">
                    {aliasError}
                  </HelperTextItem>
                ) : (
                  <HelperTextItem>
                    {alias.trim()
                      ? `Stored as "${alias.trim().toLowerCase()}"; the device client will be ${clientIdForAlias(alias)}.`
                      : 'A unique name, not case-sensitive. No / or \\, and not three letters followed by 18 digits (reserved for key groups).'}
                  </HelperTextItem>
                )}
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Device group" fieldId="device-group">
            <TextInput
              id="device-group"
              value={group}
              onChange={(_e, v) => setGroup(v)}
              validated={groupError ? 'error' : 'default'}
              placeholder="PEER_TO_PEER"
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={groupError ? 'error' : 'default'}>
                  {groupError ??
                    "The Keycloak group the device client's service account joins (created when missing; PEER_TO_PEER when only a role is given)."}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Device role" fieldId="device-role">
            <TextInput
              id="device-role"
              value={role}
              onChange={(_e, v) => setRole(v)}
              validated={roleError ? 'error' : 'default'}
              placeholder="TAPE"
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={roleError ? 'error' : 'default'}>{roleError ?? 'A sub-group of the device group.'}</HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <ProblemAlert error={error} />
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" type="submit" form="accept-form" isLoading={busy} isDisabled={busy || (showAliasError && invalid)}>
          Accept
        </Button>
        <Button variant="link" onClick={props.onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

// ------------------------------------------------------------ trusted

function TrustedCertificates(props: PageProps) {
  const { access, realm } = props;
  const toast = useToast();
  const list = useApi(() => identityApi.trustedDevices(realm), [realm]);
  const [untrusting, setUntrusting] = useState<TrustedDevice | undefined>();
  const [renaming, setRenaming] = useState<TrustedDevice | undefined>();
  const items = list.data?.items ?? [];
  return (
    <>
      <ProblemAlert error={list.error} />
      {list.loading && !list.data ? <Loading what="trusted certificates" /> : null}
      {list.data && items.length === 0 ? <Empty title="No trusted device certificates">Accept a pending certificate first.</Empty> : null}
      {items.length > 0 ? (
        <Table aria-label="Trusted client certificates" variant="compact">
          <Thead>
            <Tr>
              <Th modifier="wrap">Alias</Th>
              <Th modifier="wrap">Device client</Th>
              <Th modifier="wrap">Subject</Th>
              <Th modifier="wrap">SHA-256 fingerprint</Th>
              <Th modifier="wrap">Group / role</Th>
              <Th modifier="wrap">Accepted</Th>
              <Th modifier="wrap">Expires</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {items.map((t) => (
              <Tr key={t.alias} aria-label={t.alias}>
                <Td dataLabel="Alias">{t.alias}</Td>
                <Td dataLabel="Device client">
                  <code>{t.clientId}</code> <OpenInKeycloak access={access} realm={realm} kind="clients" />
                </Td>
                <Td dataLabel="Subject">{t.subject}</Td>
                <Td dataLabel="SHA-256 fingerprint">
                  <Fingerprint value={t.sha256Fingerprint} />
                </Td>
                <Td dataLabel="Group / role">{[t.deviceGroup, t.deviceRole].filter(Boolean).join(' / ') || '—'}</Td>
                <Td dataLabel="Accepted">
                  <DateTime iso={t.acceptedAt} />
                  <div>
                    <small>
                      by <ActorName access={access} actor={t.acceptedBy} />
                    </small>
                  </div>
                </Td>
                <Td dataLabel="Expires">{relativeTime(t.notAfter)}</Td>
                <Td isActionCell>
                  <ActionsColumn
                    items={[
                      { title: 'Rename client', onClick: () => setRenaming(t) },
                      { isSeparator: true },
                      { title: 'Untrust', onClick: () => setUntrusting(t), isDanger: true },
                    ]}
                  />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      ) : null}
      <ConfirmModal
        isOpen={!!untrusting}
        danger
        confirmLabel="Untrust"
        onClose={() => setUntrusting(undefined)}
        onConfirm={async () => {
          await identityApi.untrustDevice(realm, untrusting!.alias);
          toast.success(`"${untrusting!.alias}" is no longer trusted; device client ${untrusting!.clientId} deleted`);
          list.reload();
        }}
      >
        Remove <b>{untrusting?.alias}</b> from the trust store? Its device client <code>{untrusting?.clientId}</code> is deleted in Keycloak
        and the device is refused at once.
      </ConfirmModal>
      {renaming ? <RenameModal realm={realm} device={renaming} onClose={() => setRenaming(undefined)} onDone={list.reload} /> : null}
    </>
  );
}

function RenameModal(props: { realm: string; device: TrustedDevice; onClose(): void; onDone(): void }) {
  const toast = useToast();
  const [name, setName] = useState(props.device.clientId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const problem = clientIdProblem(name);
  const rename = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const t = await identityApi.renameDeviceClient(props.realm, props.device.clientId, name);
      toast.success(`Device client renamed to ${t.clientId}`);
      props.onDone();
      props.onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal variant="small" isOpen onClose={props.onClose} aria-labelledby="rename-title">
      <ModalHeader title="Rename the device client" labelId="rename-title" description={props.device.alias} />
      <ModalBody>
        <Form
          id="rename-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!problem) void rename();
          }}
        >
          <FormGroup label="Client id" isRequired fieldId="device-client-id">
            <TextInput id="device-client-id" value={name} onChange={(_e, v) => setName(v)} validated={problem ? 'error' : 'default'} />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={problem ? 'error' : 'default'}>
                  {problem ?? 'The device authenticates by its certificate; its clientId in Keycloak changes.'}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <ProblemAlert error={error} />
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form="rename-form"
          isLoading={busy}
          isDisabled={busy || !!problem || name === props.device.clientId}
        >
          Rename
        </Button>
        <Button variant="link" onClick={props.onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
