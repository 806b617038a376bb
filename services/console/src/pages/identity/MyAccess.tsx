/**
 * My access: the user's own automation credentials, as IBM CSM's "Manage
 * Authentication" offers them — client certificates (create with an
 * optional name and a number of days up to the admin's maximum, download the
 * .pem again at any time, revoke) and personal access tokens (create, shown
 * once with a copy button, list, revoke).
 */
import {
  Alert,
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  ClipboardCopy,
  Content,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  Stack,
  StackItem,
  TextInput,
} from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import type { PageProps } from '../../app/access.ts';
import { ConfirmModal, DateTime, Empty, Loading, PageFrame, ProblemAlert, relativeTime, useToast } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { identityApi, type ClientCertificate, type CreatedPat, type OwnList, type Pat } from './api.ts';
import { daysProblem } from './rules.ts';
import { downloadText, fileName, StatusLabel } from './shared.tsx';

export function MyAccessPage(props: PageProps) {
  const { access } = props;
  const home = access.whoami.realm;
  if (home === 'master') {
    return (
      <PageFrame title="My access">
        <Alert variant="info" isInline title="You are logged in to the master realm">
          Client certificates and personal access tokens belong to users of a managed realm and carry their roles there. Operators automate
          with an operator client of the master realm instead.
        </Alert>
      </PageFrame>
    );
  }
  return (
    <PageFrame
      title="My access"
      description={
        <>
          Credentials for your automation. Calls made with them carry your own roles in realm <b>{home}</b>, as they are at the time of each
          call.
        </>
      }
    >
      <Stack hasGutter>
        {props.realm !== home ? (
          <StackItem>
            <Alert variant="info" isInline title={`These are your credentials in your own realm, ${home}`}>
              You are looking at realm {props.realm}; client certificates and personal access tokens belong to the realm you logged in to.
            </Alert>
          </StackItem>
        ) : null}
        <StackItem>
          <ClientCertificates realm={home} />
        </StackItem>
        <StackItem>
          <PersonalAccessTokens realm={home} />
        </StackItem>
      </Stack>
    </PageFrame>
  );
}

/** "Enter or select the number of days": a number field with suggestions up to the maximum. */
function DaysField(props: { id: string; value: string; onChange(v: string): void; max: number; error: string | undefined }) {
  const suggestions = [7, 30, 90, 180, 365].filter((d) => d < props.max);
  return (
    <FormGroup label="Expires in (days)" isRequired fieldId={props.id}>
      <div style={{ maxWidth: 200 }}>
        <TextInput
          id={props.id}
          type="number"
          min={1}
          max={props.max}
          value={props.value}
          onChange={(_e, v) => props.onChange(v)}
          validated={props.error ? 'error' : 'default'}
          list={`${props.id}-suggestions`}
        />
      </div>
      <datalist id={`${props.id}-suggestions`}>
        {[...suggestions, props.max].map((d) => (
          <option key={d} value={d} />
        ))}
      </datalist>
      <FormHelperText>
        <HelperText>
          <HelperTextItem variant={props.error ? 'error' : 'default'}>
            {props.error ?? `Maximum: ${props.max} days, set by the realm's administrator.`}
          </HelperTextItem>
        </HelperText>
      </FormHelperText>
    </FormGroup>
  );
}

function DisabledNotice(props: { what: string; realm: string }) {
  return (
    <Alert variant="warning" isInline title={`${props.what} are disabled in realm ${props.realm}`} data-testid="disabled-notice">
      A keyward-admin or keyward-user-admin enables them under Administration. Existing ones stop working while they are disabled.
    </Alert>
  );
}

// ------------------------------------------------------------ client certificates

function ClientCertificates(props: { realm: string }) {
  const toast = useToast();
  const list = useApi(() => identityApi.myCertificates(), []);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ClientCertificate | undefined>();
  const [downloadError, setDownloadError] = useState<unknown>();

  const download = async (c: Pick<ClientCertificate, 'id' | 'name'>) => {
    setDownloadError(undefined);
    try {
      downloadText(`${fileName(c.name || c.id)}.pem`, await identityApi.certificatePem(c.id));
    } catch (e) {
      setDownloadError(e);
    }
  };

  const data = list.data;
  return (
    <Card>
      <CardHeader
        actions={{
          actions: (
            <Button variant="primary" onClick={() => setCreating(true)} isDisabled={!data?.enabled}>
              Create client certificate
            </Button>
          ),
          hasNoOffset: true,
        }}
      >
        <CardTitle component="h2">Client certificates</CardTitle>
      </CardHeader>
      <CardBody>
        <Content component="p">
          A client certificate authenticates your REST calls by mutual TLS, or in the <code>X-Client-Certificate</code> header with the
          downloaded .pem (base64). Unlike a personal access token, you can download the .pem again at any time.
        </Content>
        {list.loading && !data ? <Loading what="client certificates" /> : null}
        <ProblemAlert error={list.error} />
        <ProblemAlert error={downloadError} title="The .pem could not be downloaded" />
        {data && !data.enabled ? <DisabledNotice what="Client certificates" realm={props.realm} /> : null}
        {data && data.items.length === 0 ? (
          <Empty title="No client certificates">
            {data.enabled ? 'Create one for automation that calls Keyward without your password.' : null}
          </Empty>
        ) : null}
        {data && data.items.length > 0 ? <CertificateTable items={data.items} onDownload={download} onRevoke={setRevoking} /> : null}
      </CardBody>
      {creating && data ? (
        <CreateCertificateModal
          max={data.maximumExpirationDays}
          onClose={() => setCreating(false)}
          onCreated={() => list.reload()}
          onDownload={download}
        />
      ) : null}
      <ConfirmModal
        isOpen={!!revoking}
        danger
        confirmLabel="Revoke"
        onClose={() => setRevoking(undefined)}
        onConfirm={async () => {
          await identityApi.revokeCertificate(revoking!.id);
          toast.success(`Client certificate ${revoking!.name || revoking!.serialNumber} revoked`);
          list.reload();
        }}
      >
        Revoke the client certificate <b>{revoking?.name || revoking?.serialNumber}</b>? Automation using it is refused from now on. This
        cannot be undone.
      </ConfirmModal>
    </Card>
  );
}

function CertificateTable(props: {
  items: ClientCertificate[];
  onDownload(c: ClientCertificate): void;
  onRevoke(c: ClientCertificate): void;
}) {
  return (
    <Table aria-label="Client certificates" variant="compact">
      <Thead>
        <Tr>
          <Th modifier="wrap">Name</Th>
          <Th modifier="wrap">Serial number</Th>
          <Th modifier="wrap">Created</Th>
          <Th modifier="wrap">Expires</Th>
          <Th modifier="wrap">Status</Th>
          <Th screenReaderText="Actions" />
        </Tr>
      </Thead>
      <Tbody>
        {props.items.map((c) => (
          <Tr key={c.id}>
            <Td dataLabel="Name">{c.name || <i>unnamed</i>}</Td>
            <Td dataLabel="Serial number">
              <code>{c.serialNumber}</code>
            </Td>
            <Td dataLabel="Created">
              <DateTime iso={c.createdAt} />
            </Td>
            <Td dataLabel="Expires">
              <DateTime iso={c.expiresAt} /> <small>({relativeTime(c.expiresAt)})</small>
            </Td>
            <Td dataLabel="Status">
              <StatusLabel status={c.status} />
            </Td>
            <Td isActionCell>
              {c.status === 'revoked' ? null : (
                <ActionsColumn
                  items={[
                    { title: 'Download .pem', onClick: () => props.onDownload(c) },
                    { isSeparator: true },
                    { title: 'Revoke', onClick: () => props.onRevoke(c), isDanger: true },
                  ]}
                />
              )}
            </Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

function CreateCertificateModal(props: {
  max: number;
  onClose(): void;
  onCreated(): void;
  onDownload(c: Pick<ClientCertificate, 'id' | 'name'>): Promise<void>;
}) {
  const toast = useToast();
  const [name, setName] = useState('');
  const [days, setDays] = useState(String(Math.min(90, props.max)));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<(ClientCertificate & { pem: string }) | undefined>();
  const daysError = daysProblem(days, props.max);

  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const c = await identityApi.createCertificate({ ...(name.trim() ? { name: name.trim() } : {}), expiresInDays: Number(days) });
      setCreated(c);
      toast.success(`Client certificate ${c.name || c.serialNumber} created`);
      props.onCreated();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal variant="medium" isOpen onClose={props.onClose} aria-labelledby="create-cert-title">
      <ModalHeader title={created ? 'Client certificate created' : 'Create client certificate'} labelId="create-cert-title" />
      <ModalBody>
        {created ? (
          <Stack hasGutter>
            <Alert variant="warning" isInline title="The .pem holds the private key: treat it like a password">
              Store it safely. You can download it again from this page until the certificate expires or is revoked.
            </Alert>
            <Content component="p">
              Serial number <code>{created.serialNumber}</code>, expires <DateTime iso={created.expiresAt} />.
            </Content>
          </Stack>
        ) : (
          <Form
            id="create-cert-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (!daysError) void create();
            }}
          >
            <FormGroup label="Name" fieldId="cert-name">
              <TextInput id="cert-name" value={name} onChange={(_e, v) => setName(v)} maxLength={100} placeholder="nightly-backup" />
              <FormHelperText>
                <HelperText>
                  <HelperTextItem>Optional: what the certificate is for.</HelperTextItem>
                </HelperText>
              </FormHelperText>
            </FormGroup>
            <DaysField id="cert-days" value={days} onChange={setDays} max={props.max} error={daysError} />
            <ProblemAlert error={error} />
          </Form>
        )}
      </ModalBody>
      <ModalFooter>
        {created ? (
          <>
            <Button variant="primary" onClick={() => void props.onDownload(created)}>
              Download certificate
            </Button>
            <Button variant="link" onClick={props.onClose}>
              Done
            </Button>
          </>
        ) : (
          <>
            <Button variant="primary" type="submit" form="create-cert-form" isLoading={busy} isDisabled={busy || !!daysError}>
              Create certificate
            </Button>
            <Button variant="link" onClick={props.onClose}>
              Cancel
            </Button>
          </>
        )}
      </ModalFooter>
    </Modal>
  );
}

// ------------------------------------------------------------ personal access tokens

function PersonalAccessTokens(props: { realm: string }) {
  const toast = useToast();
  const list = useApi(() => identityApi.myTokens(), []);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Pat | undefined>();
  const data: OwnList<Pat> | undefined = list.data;
  return (
    <Card>
      <CardHeader
        actions={{
          actions: (
            <Button variant="primary" onClick={() => setCreating(true)} isDisabled={!data?.enabled}>
              Create personal access token
            </Button>
          ),
          hasNoOffset: true,
        }}
      >
        <CardTitle component="h2">Personal access tokens</CardTitle>
      </CardHeader>
      <CardBody>
        <Content component="p">
          A personal access token is sent as <code>Authorization: Bearer kwp_…</code>. It is shown only once, when you create it.
        </Content>
        {list.loading && !data ? <Loading what="personal access tokens" /> : null}
        <ProblemAlert error={list.error} />
        {data && !data.enabled ? <DisabledNotice what="Personal access tokens" realm={props.realm} /> : null}
        {data && data.items.length === 0 ? (
          <Empty title="No personal access tokens">{data.enabled ? 'Create one for a script or a CI job.' : null}</Empty>
        ) : null}
        {data && data.items.length > 0 ? (
          <Table aria-label="Personal access tokens" variant="compact">
            <Thead>
              <Tr>
                <Th modifier="wrap">Name</Th>
                <Th modifier="wrap">Created</Th>
                <Th modifier="wrap">Expires</Th>
                <Th modifier="wrap">Last used</Th>
                <Th modifier="wrap">Status</Th>
                <Th screenReaderText="Actions" />
              </Tr>
            </Thead>
            <Tbody>
              {data.items.map((t) => (
                <Tr key={t.id}>
                  <Td dataLabel="Name">{t.name || <i>unnamed</i>}</Td>
                  <Td dataLabel="Created">
                    <DateTime iso={t.createdAt} />
                  </Td>
                  <Td dataLabel="Expires">
                    <DateTime iso={t.expiresAt} /> <small>({relativeTime(t.expiresAt)})</small>
                  </Td>
                  <Td dataLabel="Last used">{t.lastUsedAt ? relativeTime(t.lastUsedAt) : 'never'}</Td>
                  <Td dataLabel="Status">
                    <StatusLabel status={t.status} />
                  </Td>
                  <Td isActionCell>
                    <ActionsColumn items={[{ title: 'Revoke', onClick: () => setRevoking(t), isDanger: true }]} />
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        ) : null}
      </CardBody>
      {creating && data ? (
        <CreateTokenModal max={data.maximumExpirationDays} onClose={() => setCreating(false)} onCreated={() => list.reload()} />
      ) : null}
      <ConfirmModal
        isOpen={!!revoking}
        danger
        confirmLabel="Revoke"
        onClose={() => setRevoking(undefined)}
        onConfirm={async () => {
          await identityApi.revokeToken(revoking!.id);
          toast.success(`Personal access token ${revoking!.name || revoking!.id} revoked`);
          list.reload();
        }}
      >
        Revoke the personal access token <b>{revoking?.name || revoking?.id}</b>? It stops working at once.
      </ConfirmModal>
    </Card>
  );
}

function CreateTokenModal(props: { max: number; onClose(): void; onCreated(): void }) {
  const toast = useToast();
  const [name, setName] = useState('');
  const [days, setDays] = useState(String(Math.min(90, props.max)));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<CreatedPat | undefined>();
  const daysError = daysProblem(days, props.max);
  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const t = await identityApi.createToken({ ...(name.trim() ? { name: name.trim() } : {}), expiresInDays: Number(days) });
      setCreated(t);
      toast.success(`Personal access token ${t.name || t.id} created`);
      props.onCreated();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal variant="medium" isOpen onClose={props.onClose} aria-labelledby="create-pat-title">
      <ModalHeader title={created ? 'Personal access token created' : 'Create personal access token'} labelId="create-pat-title" />
      <ModalBody>
        {created ? (
          <Stack hasGutter>
            <Alert variant="warning" isInline title="Copy the token now: it is not shown again">
              Keyward keeps only a hash of it. Anyone holding the token acts with your roles until it expires on{' '}
              <DateTime iso={created.expiresAt} /> or is revoked.
            </Alert>
            <ClipboardCopy isReadOnly hoverTip="Copy" clickTip="Copied" textAriaLabel="Personal access token" data-testid="new-token">
              {created.token}
            </ClipboardCopy>
          </Stack>
        ) : (
          <Form
            id="create-pat-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (!daysError) void create();
            }}
          >
            <FormGroup label="Name" fieldId="pat-name">
              <TextInput id="pat-name" value={name} onChange={(_e, v) => setName(v)} maxLength={100} placeholder="ci-deploy" />
            </FormGroup>
            <DaysField id="pat-days" value={days} onChange={setDays} max={props.max} error={daysError} />
            <ProblemAlert error={error} />
          </Form>
        )}
      </ModalBody>
      <ModalFooter>
        {created ? (
          <Button variant="primary" onClick={props.onClose}>
            Done
          </Button>
        ) : (
          <>
            <Button variant="primary" type="submit" form="create-pat-form" isLoading={busy} isDisabled={busy || !!daysError}>
              Create token
            </Button>
            <Button variant="link" onClick={props.onClose}>
              Cancel
            </Button>
          </>
        )}
      </ModalFooter>
    </Modal>
  );
}
