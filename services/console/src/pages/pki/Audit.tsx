/**
 * The realm's audit trail, newest first: filters by action (or its noun),
 * target and time; each event says whether the sealer has linked it into the
 * hash chain yet. Operators also see whether the chain verifies.
 */
import {
  Alert,
  Button,
  CodeBlock,
  CodeBlockCode,
  Form,
  Icon,
  Label,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { CheckCircleIcon, LockIcon, LockOpenIcon } from '@patternfly/react-icons';
import { ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { Fragment, useState } from 'react';
import type { PageProps } from '../../app/access.ts';
import { DateTime, Empty, Loading, PageFrame, ProblemAlert } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { Link } from '../../app/router.tsx';
import { pki, type AuditEvent } from './api.ts';
import { Pager } from './common.tsx';

interface AuditFilter {
  action?: string;
  target?: string;
  since?: string;
  until?: string;
}

const actorText = (a: AuditEvent['actor']) => (a ? `${a.name ?? a.id ?? a.kind}${a.realm ? `@${a.realm}` : ''} (${a.kind})` : '—');

export function AuditPage(props: PageProps) {
  const { realm, access } = props;
  const [draft, setDraft] = useState<AuditFilter>({});
  const [filter, setFilter] = useState<AuditFilter>({});
  const [page, setPage] = useState({ first: 0, max: 50 });
  const [open, setOpen] = useState<Set<string>>(new Set());
  const list = useApi(() => pki.audit(realm, { ...filter }, page.first, page.max), [realm, JSON.stringify(filter), page.first, page.max]);
  const rows = list.data?.items ?? [];
  const apply = (f: AuditFilter) => {
    setFilter(Object.fromEntries(Object.entries(f).filter(([, v]) => v)) as AuditFilter);
    setPage((p) => ({ ...p, first: 0 }));
  };
  return (
    <PageFrame
      title="Audit"
      description="Every security-relevant action in this realm, newest first. Events are hash-chained in sealed ranges about once a second."
    >
      {access.operator ? <ChainStatus /> : null}
      <Form
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <Toolbar aria-label="Audit toolbar" clearAllFilters={() => (setDraft({}), apply({}))}>
          <ToolbarContent>
            <ToolbarGroup variant="filter-group">
              <ToolbarItem>
                <TextInput
                  aria-label="Action"
                  placeholder="Action: certificate.revoked or certificate"
                  value={draft.action ?? ''}
                  onChange={(_e, v) => setDraft((d) => ({ ...d, action: v }))}
                  style={{ width: 280 }}
                />
              </ToolbarItem>
              <ToolbarItem>
                <TextInput
                  aria-label="Target"
                  placeholder="Target"
                  value={draft.target ?? ''}
                  onChange={(_e, v) => setDraft((d) => ({ ...d, target: v }))}
                />
              </ToolbarItem>
              <ToolbarItem>
                <label htmlFor="audit-since" style={{ alignSelf: 'center', marginRight: 4 }}>
                  Since
                </label>
                <TextInput
                  id="audit-since"
                  type="date"
                  value={draft.since ?? ''}
                  onChange={(_e, v) => setDraft((d) => ({ ...d, since: v }))}
                />
              </ToolbarItem>
              <ToolbarItem>
                <label htmlFor="audit-until" style={{ alignSelf: 'center', marginRight: 4 }}>
                  Until
                </label>
                <TextInput
                  id="audit-until"
                  type="date"
                  value={draft.until ?? ''}
                  onChange={(_e, v) => setDraft((d) => ({ ...d, until: v }))}
                />
              </ToolbarItem>
              <ToolbarItem>
                <Button variant="control" type="submit">
                  Search
                </Button>
              </ToolbarItem>
              <ToolbarItem>
                <Button variant="link" onClick={() => list.reload()}>
                  Refresh
                </Button>
              </ToolbarItem>
            </ToolbarGroup>
            <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
              <Pager
                label="Audit events"
                first={page.first}
                max={page.max}
                shown={rows.length}
                hasMore={list.data?.hasMore ?? false}
                onChange={(first, max) => setPage({ first, max })}
              />
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
      </Form>
      <ProblemAlert error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="audit events" />
      ) : !list.error && rows.length === 0 ? (
        <Empty title="No audit events">
          {Object.keys(filter).length ? 'Nothing matches these filters.' : 'Nothing has happened in this realm yet.'}
        </Empty>
      ) : rows.length ? (
        <Table aria-label="Audit events" variant="compact">
          <Thead>
            <Tr>
              <Th screenReaderText="Details" />
              <Th>Time</Th>
              <Th>Action</Th>
              <Th>Target</Th>
              <Th>Actor</Th>
              <Th>Sealed</Th>
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((e, i) => {
              const isOpen = open.has(e.id);
              return (
                <Fragment key={e.id}>
                  <Tr>
                    <Td
                      expand={{
                        rowIndex: i,
                        isExpanded: isOpen,
                        onToggle: () =>
                          setOpen((s) => {
                            const n = new Set(s);
                            if (n.has(e.id)) n.delete(e.id);
                            else n.add(e.id);
                            return n;
                          }),
                      }}
                    />
                    <Td dataLabel="Time">
                      <DateTime iso={e.at} />
                    </Td>
                    <Td dataLabel="Action">
                      <code>{e.action}</code>
                    </Td>
                    <Td dataLabel="Target" modifier="breakWord">
                      <AuditTarget realm={realm} event={e} />
                    </Td>
                    <Td dataLabel="Actor">{actorText(e.actor)}</Td>
                    <Td dataLabel="Sealed">
                      {e.sealed ? (
                        <Label isCompact color="green" icon={<LockIcon />}>
                          sealed
                        </Label>
                      ) : (
                        <Label isCompact color="grey" icon={<LockOpenIcon />}>
                          waiting
                        </Label>
                      )}
                    </Td>
                  </Tr>
                  {isOpen ? (
                    <Tr isExpanded>
                      <Td colSpan={6}>
                        <ExpandableRowContent>
                          <CodeBlock>
                            <CodeBlockCode>
                              {JSON.stringify({ seq: e.seq, id: e.id, actor: e.actor, details: e.details }, null, 2)}
                            </CodeBlockCode>
                          </CodeBlock>
                        </ExpandableRowContent>
                      </Td>
                    </Tr>
                  ) : null}
                </Fragment>
              );
            })}
          </Tbody>
        </Table>
      ) : null}
      {rows.length ? (
        <Pager
          isBottom
          label="Audit events bottom"
          first={page.first}
          max={page.max}
          shown={rows.length}
          hasMore={list.data?.hasMore ?? false}
          onChange={(first, max) => setPage({ first, max })}
        />
      ) : null}
    </PageFrame>
  );
}

/** A target that is a console page (a certificate, an API client, a policy) links to it. */
function AuditTarget(props: { realm: string; event: AuditEvent }) {
  const { action, target } = props.event;
  if (!target) return <>—</>;
  const r = encodeURIComponent(props.realm);
  const to = action.startsWith('certificate.')
    ? `/${r}/certificates/${encodeURIComponent(target)}`
    : action.startsWith('api_client.') && action !== 'api_client.deleted'
      ? `/${r}/api-clients/${encodeURIComponent(target)}`
      : action.startsWith('policy.') && action !== 'policy.deleted'
        ? `/${r}/policies/${encodeURIComponent(target)}`
        : undefined;
  return to ? <Link to={to}>{target}</Link> : <>{target}</>;
}

/** For operators: the whole chain recomputed on the server (as `keyward audit verify` does). */
function ChainStatus() {
  const v = useApi(() => pki.auditVerification(), []);
  if (v.loading) return <Loading what="the audit chain's verification" />;
  if (v.error) return <ProblemAlert error={v.error} title="The audit chain could not be verified" />;
  const r = v.data!;
  return (
    <div style={{ marginBottom: 16 }} data-testid="audit-chain">
      {r.intact ? (
        <Alert
          variant="success"
          isInline
          customIcon={
            <Icon>
              <CheckCircleIcon />
            </Icon>
          }
          title={`The audit chain verifies: ${r.sealed} events sealed, ${r.waiting} waiting for the sealer`}
        >
          Head <code>{r.head ?? '—'}</code>
        </Alert>
      ) : (
        <Alert variant="danger" isInline title="The audit chain is broken">
          The first event edited, deleted from or added to a sealed range is seq <code>{r.brokenAt}</code>.
        </Alert>
      )}
    </div>
  );
}
