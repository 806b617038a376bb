/**
 * Approvals: one queue for what waits for a second person — certificate
 * requests under a policy that needs approval, changes to protected settings
 * and device acceptances under dual control. Each item shows what it would do
 * and who proposed it; the proposer sees their own item without an Approve
 * button, with the reason (they may reject it to withdraw it).
 */
import {
  Alert,
  Button,
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
  TextArea,
  ToggleGroup,
  ToggleGroupItem,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import type { Access, PageProps } from '../../app/access.ts';
import { ConfirmModal, DateTime, Empty, Loading, PageFrame, ProblemAlert, relativeTime, useToast } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { identityApi, type Actor, type Approval, type CertificateRequest } from './api.ts';
import { ActorName, describeApproval, isMe, StatusLabel } from './shared.tsx';

/** Who reviews what (README "Who may do what"): the list shows only what the caller may review, and their own items. */
export const mayReviewChanges = (a: Access) => a.has('keyward-admin', 'keyward-user-admin');
export const maySeeRequests = (a: Access) => a.has('keyward-approver', 'keyward-requester');

type Filter = 'pending' | 'decided';

/** One row of the queue, whatever its source. */
interface Item {
  readonly key: string;
  readonly source: 'approval' | 'request';
  readonly id: string;
  readonly type: string;
  readonly what: string;
  readonly proposedBy: Actor;
  readonly createdAt: string;
  readonly expiresAt: string | undefined;
  readonly status: string;
  readonly decidedBy: Actor | undefined;
  readonly reason: string | undefined;
}

function fromApproval(a: Approval): Item {
  const d = describeApproval(a);
  return {
    key: `approval/${a.id}`,
    source: 'approval',
    id: a.id,
    type: d.type,
    what: d.what,
    proposedBy: a.proposedBy,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    status: a.status,
    decidedBy: a.decidedBy,
    reason: a.reason,
  };
}

function fromRequest(r: CertificateRequest): Item {
  const sans = r.sans.length ? ` (${r.sans.join(', ')})` : '';
  return {
    key: `request/${r.requestId}`,
    source: 'request',
    id: r.requestId,
    type: 'Certificate request',
    what: `${r.subject}${sans} under policy ${r.policy}, ${r.validityDays} days`,
    proposedBy: r.requester,
    createdAt: r.createdAt,
    expiresAt: undefined,
    status: r.status,
    decidedBy: r.decidedBy,
    reason: r.reason,
  };
}

export function ApprovalsPage(props: PageProps) {
  const { access, realm } = props;
  const toast = useToast();
  const [filter, setFilter] = useState<Filter>('pending');
  const changes = useApi(
    async () => (mayReviewChanges(access) ? (await identityApi.approvals(realm, filter === 'pending' ? 'pending' : undefined)).items : []),
    [realm, filter],
  );
  const requests = useApi(
    async () => (maySeeRequests(access) ? (await identityApi.requests(realm, filter === 'pending' ? 'pending' : undefined)).items : []),
    [realm, filter],
  );
  const [approving, setApproving] = useState<Item | undefined>();
  const [rejecting, setRejecting] = useState<Item | undefined>();
  const reload = () => {
    changes.reload();
    requests.reload();
  };

  const items = [...(changes.data ?? []).map(fromApproval), ...(requests.data ?? []).map(fromRequest)]
    .filter((i) => (filter === 'pending' ? i.status === 'pending' : i.status !== 'pending'))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const loading = (changes.loading && !changes.data) || (requests.loading && !requests.data);
  const isApprover = access.has('keyward-approver');

  return (
    <PageFrame
      title="Approvals"
      description={
        <>
          What waits for a second person in realm <b>{realm}</b>: certificate requests whose policy needs approval, and, under dual control,
          changes to protected settings and device acceptances. Nobody approves their own.
        </>
      }
    >
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <ToggleGroup aria-label="Show">
              <ToggleGroupItem
                text="Pending"
                buttonId="filter-pending"
                isSelected={filter === 'pending'}
                onChange={() => setFilter('pending')}
              />
              <ToggleGroupItem
                text="Decided"
                buttonId="filter-decided"
                isSelected={filter === 'decided'}
                onChange={() => setFilter('decided')}
              />
            </ToggleGroup>
          </ToolbarItem>
          <ToolbarItem>
            <Button variant="secondary" onClick={reload}>
              Refresh
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ProblemAlert error={changes.error} title="The setting changes could not be loaded" />
      <ProblemAlert error={requests.error} title="The certificate requests could not be loaded" />
      {loading ? <Loading what="approvals" /> : null}
      {!loading && items.length === 0 ? (
        <Empty title={filter === 'pending' ? 'Nothing waits for approval' : 'Nothing decided yet'}>
          {filter === 'pending' ? 'Changes and requests that need a second person appear here.' : null}
        </Empty>
      ) : null}
      {items.length > 0 ? (
        <Table aria-label="Approvals" variant="compact">
          <Thead>
            <Tr>
              <Th modifier="wrap" width={10}>
                Type
              </Th>
              <Th modifier="wrap" width={30}>
                What
              </Th>
              <Th modifier="wrap">Proposed by</Th>
              <Th modifier="wrap">Proposed</Th>
              <Th modifier="wrap">{filter === 'pending' ? 'Expires' : 'Decided by'}</Th>
              <Th modifier="wrap">Status</Th>
              <Th modifier="wrap" width={20}>
                Decision
              </Th>
            </Tr>
          </Thead>
          <Tbody>
            {items.map((i) => {
              const mine = isMe(access, i.proposedBy);
              const mayDecide = i.source === 'approval' || isApprover;
              return (
                <Tr key={i.key} aria-label={`${i.type}: ${i.what}`}>
                  <Td dataLabel="Type">{i.type}</Td>
                  <Td dataLabel="What">
                    {i.what}
                    {i.reason ? (
                      <div>
                        <small>Reason: {i.reason}</small>
                      </div>
                    ) : null}
                  </Td>
                  <Td dataLabel="Proposed by">
                    <ActorName access={access} actor={i.proposedBy} />
                  </Td>
                  <Td dataLabel="Proposed">
                    <DateTime iso={i.createdAt} />
                  </Td>
                  <Td dataLabel={filter === 'pending' ? 'Expires' : 'Decided by'}>
                    {filter === 'pending' ? (
                      i.expiresAt ? (
                        relativeTime(i.expiresAt)
                      ) : (
                        '—'
                      )
                    ) : (
                      <ActorName access={access} actor={i.decidedBy} />
                    )}
                  </Td>
                  <Td dataLabel="Status">
                    <StatusLabel status={i.status} />
                  </Td>
                  <Td dataLabel="Decision" modifier="wrap">
                    {i.status !== 'pending' ? null : mine ? (
                      <div>
                        <small data-testid="own-item">
                          {i.source === 'approval'
                            ? 'You proposed this change, so you cannot approve it: another admin must.'
                            : 'You requested this certificate, so you cannot approve it: another keyward-approver must.'}
                        </small>{' '}
                        {i.source === 'approval' ? (
                          <Button variant="link" isInline onClick={() => setRejecting(i)}>
                            Withdraw
                          </Button>
                        ) : null}
                      </div>
                    ) : mayDecide ? (
                      <>
                        <Button variant="primary" size="sm" onClick={() => setApproving(i)}>
                          Approve
                        </Button>{' '}
                        <Button variant="secondary" isDanger size="sm" onClick={() => setRejecting(i)}>
                          Reject
                        </Button>
                      </>
                    ) : (
                      <small>Waits for a keyward-approver.</small>
                    )}
                  </Td>
                </Tr>
              );
            })}
          </Tbody>
        </Table>
      ) : null}
      <ConfirmModal
        isOpen={!!approving}
        title="Approve?"
        confirmLabel="Approve"
        onClose={() => setApproving(undefined)}
        onConfirm={async () => {
          const i = approving!;
          if (i.source === 'approval') await identityApi.approve(realm, i.id);
          else await identityApi.approveRequest(realm, i.id);
          toast.success(
            i.source === 'approval' ? `${i.type} approved and applied` : 'Certificate request approved: the certificate is issued',
          );
          reload();
        }}
      >
        <Content component="p">
          {approving?.type}: <b>{approving?.what}</b>
        </Content>
        <Content component="p">Proposed by {approving?.proposedBy.name ?? approving?.proposedBy.id}. Approving applies it at once.</Content>
      </ConfirmModal>
      {rejecting ? (
        <RejectModal
          item={rejecting}
          withdraw={isMe(access, rejecting.proposedBy)}
          onClose={() => setRejecting(undefined)}
          onReject={async (reason) => {
            if (rejecting.source === 'approval') await identityApi.reject(realm, rejecting.id, reason || undefined);
            else await identityApi.rejectRequest(realm, rejecting.id, reason);
            toast.success(isMe(access, rejecting.proposedBy) ? 'Change withdrawn' : `${rejecting.type} rejected`);
            setRejecting(undefined);
            reload();
          }}
        />
      ) : null}
    </PageFrame>
  );
}

/** Rejecting with a reason (required for certificate requests, optional for changes). */
function RejectModal(props: { item: Item; withdraw: boolean; onClose(): void; onReject(reason: string): Promise<void> }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const required = props.item.source === 'request';
  const max = required ? 1000 : 500;
  const missing = required && !reason.trim();
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onReject(reason.trim());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const title = props.withdraw ? 'Withdraw your change?' : `Reject this ${props.item.type.toLowerCase()}?`;
  return (
    <Modal variant="small" isOpen onClose={props.onClose} aria-labelledby="reject-title">
      <ModalHeader title={title} labelId="reject-title" titleIconVariant="warning" />
      <ModalBody>
        <Form
          id="reject-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!missing) void submit();
          }}
        >
          <Content component="p">
            {props.item.type}: <b>{props.item.what}</b>
          </Content>
          <FormGroup label="Reason" fieldId="reject-reason" isRequired={required}>
            <TextArea id="reject-reason" value={reason} onChange={(_e, v) => setReason(v)} maxLength={max} resizeOrientation="vertical" />
            <FormHelperText>
              <HelperText>
                <HelperTextItem>
                  {required ? 'The requester sees it.' : 'Optional; recorded with the decision and in the audit trail.'}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          {props.withdraw ? <Alert variant="info" isInline isPlain title="Rejecting your own change withdraws it." /> : null}
          <ProblemAlert error={error} />
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="danger" type="submit" form="reject-form" isLoading={busy} isDisabled={busy || missing}>
          {props.withdraw ? 'Withdraw' : 'Reject'}
        </Button>
        <Button variant="link" onClick={props.onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
