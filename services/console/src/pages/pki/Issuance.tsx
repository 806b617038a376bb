/** Issue from a policy by pasting or uploading a CSR; certificate requests and their state; end entities. */
import {
  ActionGroup,
  Alert,
  Button,
  FileUpload,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Label,
  TextArea,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import type { PageProps } from '../../app/access.ts';
import { ConfirmModal, DateTime, Empty, Loading, PageFrame, ProblemAlert, useToast } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { Link } from '../../app/router.tsx';
import { pki, problemPointer, type Certificate, type CertificateRequest } from './api.ts';
import { Pager, requesterText } from './common.tsx';

const isRequest = (x: Certificate | CertificateRequest): x is CertificateRequest => 'requestId' in x;

export function IssuePage(props: PageProps) {
  const { realm } = props;
  const toast = useToast();
  const policies = useApi(() => pki.policies(realm), [realm]);
  const [csr, setCsr] = useState('');
  const [filename, setFilename] = useState('');
  const [policy, setPolicy] = useState('');
  const [validity, setValidity] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [result, setResult] = useState<Certificate | CertificateRequest | undefined>();
  const pointer = problemPointer(error);
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const out = await pki.issue(realm, {
        csr: csr.trim(),
        ...(policy ? { policy } : {}),
        ...(validity ? { validityDays: Number(validity) } : {}),
      });
      setResult(out);
      toast.success(isRequest(out) ? 'Request waiting for approval' : 'Certificate issued');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const chosen = policies.data?.items.find((p) => p.name === policy);
  return (
    <PageFrame
      title="Issue certificate"
      description="Paste or upload a PKCS #10 certificate signing request; the policy decides subject, names, key usages and validity."
    >
      <ProblemAlert error={policies.error} />
      <Form
        style={{ maxWidth: 820 }}
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <FormGroup label="Policy" fieldId="issue-policy">
          <FormSelect id="issue-policy" value={policy} onChange={(_e, v) => setPolicy(v)}>
            <FormSelectOption value="" label="My default policy" />
            {(policies.data?.items ?? []).map((p) => (
              <FormSelectOption key={p.name} value={p.name} label={p.name} />
            ))}
          </FormSelect>
          {chosen ? (
            <FormHelperText>
              <HelperText>
                <HelperTextItem>
                  Keys {chosen.policy.keyTypes.join(', ')}; at most {chosen.policy.maxValidityDays} days; DNS names{' '}
                  {chosen.policy.san.dns.join(', ') || 'none'}; approval {chosen.policy.approval}.
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          ) : null}
        </FormGroup>
        <FormGroup label="Certificate signing request" isRequired fieldId="issue-csr">
          <FileUpload
            id="issue-csr"
            type="text"
            value={csr}
            filename={filename}
            filenamePlaceholder="Drag a .csr file here, or paste it below"
            onFileInputChange={(_e, file) => setFilename(file.name)}
            onDataChange={(_e, v) => setCsr(v)}
            onTextChange={(_e, v) => setCsr(v)}
            onClearClick={() => (setCsr(''), setFilename(''))}
            browseButtonText="Upload"
            allowEditingUploadedText
            textAreaPlaceholder="-----BEGIN CERTIFICATE REQUEST-----"
            validated={pointer === '/csr' ? 'error' : 'default'}
            aria-label="Certificate signing request"
          />
          <FormHelperText>
            <HelperText>
              <HelperTextItem>
                For example{' '}
                <code>openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj /CN=… -out req.csr</code>
              </HelperTextItem>
            </HelperText>
          </FormHelperText>
        </FormGroup>
        <FormGroup label="Validity (days)" fieldId="issue-validity">
          <TextInput
            id="issue-validity"
            type="number"
            value={validity}
            onChange={(_e, v) => setValidity(v)}
            placeholder={chosen ? `at most ${chosen.policy.maxValidityDays}` : 'the policy maximum'}
            validated={pointer === '/validityDays' ? 'error' : 'default'}
            style={{ maxWidth: 200 }}
          />
        </FormGroup>
        <ProblemAlert error={error} />
        {result ? (
          isRequest(result) ? (
            <Alert variant="info" isInline title="The policy needs approval: the request waits for an approver">
              Request <code>{result.requestId}</code> is {result.status}.{' '}
              <Link to={`/${encodeURIComponent(realm)}/certificate-requests`}>Certificate requests</Link>
            </Alert>
          ) : (
            <Alert variant="success" isInline title="Certificate issued" data-testid="issued">
              Serial{' '}
              <Link to={`/${encodeURIComponent(realm)}/certificates/${result.serialNumber}`}>
                <code>{result.serialNumber}</code>
              </Link>{' '}
              for {result.subject}, valid until {result.notAfter}.
            </Alert>
          )
        ) : null}
        <ActionGroup>
          <Button type="submit" variant="primary" isLoading={busy} isDisabled={busy || !csr.trim()}>
            Issue
          </Button>
        </ActionGroup>
      </Form>
    </PageFrame>
  );
}

const REQUEST_COLORS = { pending: 'orange', issued: 'green', rejected: 'red' } as const;

export function CertificateRequestsPage(props: PageProps) {
  const { realm, access } = props;
  const toast = useToast();
  const [status, setStatus] = useState('');
  const [page, setPage] = useState({ first: 0, max: 20 });
  const list = useApi(() => pki.requests(realm, status || undefined, page.first, page.max), [realm, status, page.first, page.max]);
  const [deciding, setDeciding] = useState<{ r: CertificateRequest; approve: boolean } | undefined>();
  const [reason, setReason] = useState('');
  const rows = list.data?.items ?? [];
  const approver = access.has('keyward-approver');
  const mine = (r: CertificateRequest) => r.requester.realm === access.whoami.realm && r.requester.id === access.whoami.subject;
  return (
    <PageFrame
      title="Certificate requests"
      description="Requests under policies that need approval. An approver other than the requester approves (which issues) or rejects."
    >
      <Toolbar aria-label="Request toolbar">
        <ToolbarContent>
          <ToolbarItem>
            <FormSelect
              style={{ minWidth: 160 }}
              aria-label="Request status"
              value={status}
              onChange={(_e, v) => (setStatus(v), setPage((p) => ({ ...p, first: 0 })))}
            >
              <FormSelectOption value="" label="Any state" />
              <FormSelectOption value="pending" label="Pending" />
              <FormSelectOption value="issued" label="Issued" />
              <FormSelectOption value="rejected" label="Rejected" />
            </FormSelect>
          </ToolbarItem>
          <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
            <Pager
              label="Requests"
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
        <Loading what="certificate requests" />
      ) : !list.error && rows.length === 0 ? (
        <Empty title="No certificate requests">Requests appear when a policy says approval: required.</Empty>
      ) : rows.length ? (
        <Table aria-label="Certificate requests" variant="compact">
          <Thead>
            <Tr>
              <Th>Request</Th>
              <Th>Subject</Th>
              <Th>Policy</Th>
              <Th>Requester</Th>
              <Th>Created</Th>
              <Th>State</Th>
              <Th>Certificate</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((r) => (
              <Tr key={r.requestId}>
                <Td dataLabel="Request">
                  <code>{r.requestId}</code>
                </Td>
                <Td dataLabel="Subject">{r.subject}</Td>
                <Td dataLabel="Policy">{r.policy}</Td>
                <Td dataLabel="Requester">{requesterText(r.requester)}</Td>
                <Td dataLabel="Created">
                  <DateTime iso={r.createdAt} />
                </Td>
                <Td dataLabel="State">
                  <Label color={REQUEST_COLORS[r.status]} isCompact>
                    {r.status}
                  </Label>
                  {r.reason ? <small> {r.reason}</small> : null}
                </Td>
                <Td dataLabel="Certificate">
                  {r.certificate ? (
                    <Link to={`/${encodeURIComponent(realm)}/certificates/${r.certificate.serialNumber}`}>
                      <code>{r.certificate.serialNumber.slice(0, 12)}…</code>
                    </Link>
                  ) : (
                    '—'
                  )}
                </Td>
                <Td isActionCell>
                  {approver && r.status === 'pending' && !mine(r) ? (
                    <ActionsColumn
                      popperProps={{ position: 'right' }}
                      items={[
                        { title: 'Approve and issue', onClick: () => setDeciding({ r, approve: true }) },
                        { title: 'Reject', isDanger: true, onClick: () => setDeciding({ r, approve: false }) },
                      ]}
                    />
                  ) : null}
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      ) : null}
      <ConfirmModal
        isOpen={deciding !== undefined}
        confirmLabel={deciding?.approve ? 'Approve' : 'Reject'}
        danger={!deciding?.approve}
        onClose={() => (setDeciding(undefined), setReason(''))}
        onConfirm={async () => {
          const d = deciding!;
          if (d.approve) await pki.approveRequest(realm, d.r.requestId);
          else await pki.rejectRequest(realm, d.r.requestId, reason || 'rejected in the console');
          toast.success(`Request ${d.r.requestId} ${d.approve ? 'approved' : 'rejected'}`);
          list.reload();
        }}
      >
        {deciding?.approve ? (
          <>
            Approve the request for <b>{deciding.r.subject}</b> under {deciding.r.policy}? A certificate is issued at once.
          </>
        ) : (
          <Form onSubmit={(e) => e.preventDefault()}>
            <p>Reject the request for {deciding?.r.subject}?</p>
            <FormGroup label="Reason" fieldId="reject-reason">
              <TextArea id="reject-reason" value={reason} onChange={(_e, v) => setReason(v)} />
            </FormGroup>
          </Form>
        )}
      </ConfirmModal>
    </PageFrame>
  );
}

export function EndEntitiesPage(props: PageProps) {
  const { realm } = props;
  const list = useApi(() => pki.endEntities(realm), [realm]);
  const rows = list.data?.items ?? [];
  return (
    <PageFrame
      title="End entities"
      description="Named subjects bound to a policy; certificates for them take subject and names from the entity."
    >
      <ProblemAlert error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="end entities" />
      ) : !list.error && rows.length === 0 ? (
        <Empty title="No end entities">Create them with POST /v1/realms/{realm}/end-entities.</Empty>
      ) : rows.length ? (
        <Table aria-label="End entities" variant="compact">
          <Thead>
            <Tr>
              <Th>Name</Th>
              <Th>Subject</Th>
              <Th>SANs</Th>
              <Th>Policy</Th>
              <Th>Created</Th>
              <Th screenReaderText="Certificates" />
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((e) => (
              <Tr key={e.name}>
                <Td dataLabel="Name">{e.name}</Td>
                <Td dataLabel="Subject">{e.subject.map((a) => `${a.type}=${a.value}`).join(', ')}</Td>
                <Td dataLabel="SANs">
                  {Object.entries(e.sans ?? {})
                    .flatMap(([k, vs]) => (vs ?? []).map((v) => `${k}:${v}`))
                    .join(', ') || '—'}
                </Td>
                <Td dataLabel="Policy">{e.policy}</Td>
                <Td dataLabel="Created">
                  <DateTime iso={e.createdAt} />
                </Td>
                <Td>
                  <Link to={`/${encodeURIComponent(realm)}/certificates?endEntity=${encodeURIComponent(e.name)}`}>Certificates</Link>
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      ) : null}
    </PageFrame>
  );
}
