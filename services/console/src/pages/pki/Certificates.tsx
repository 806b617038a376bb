/**
 * The certificate inventory: every filter runs on the server (status, subject,
 * SAN, requester, policy, end entity, expiring before), a page at a time; the
 * page shown sorts by column; expiry as time left in colour; revoke with an
 * RFC 5280 reason after a confirmation.
 */
import {
  Button,
  Flex,
  FlexItem,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarFilter,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr, type ThProps } from '@patternfly/react-table';
import { useMemo, useState } from 'react';
import type { Access, PageProps } from '../../app/access.ts';
import { ConfirmModal, Empty, Loading, PageFrame, ProblemAlert, useToast } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { Link, navigate, useLocation } from '../../app/router.tsx';
import { pki, REVOCATION_REASONS, type Certificate, type CertificateFilter } from './api.ts';
import { CertificateStatusLabel, download, ExpiryLabel, Pager, requesterText } from './common.tsx';

type SortKey = 'subject' | 'notAfter' | 'status' | 'policy' | 'notBefore';
const FILTERS: { key: keyof CertificateFilter; label: string; placeholder: string }[] = [
  { key: 'subject', label: 'Subject', placeholder: 'CN=svc' },
  { key: 'san', label: 'SAN', placeholder: 'dns:a.example' },
  { key: 'requester', label: 'Requester', placeholder: 'client or user name' },
  { key: 'policy', label: 'Policy', placeholder: 'policy name' },
  { key: 'endEntity', label: 'End entity', placeholder: 'end entity name' },
];

/** Who may revoke a certificate in the console: revokers any, a requester its own (the API decides; this only hides the action). */
export function mayRevoke(access: Access, c: Certificate): boolean {
  if (c.status !== 'valid') return false;
  if (access.has('keyward-revoker')) return true;
  return access.has('keyward-requester') && c.requester?.realm === access.whoami.realm && c.requester.id === access.whoami.subject;
}

export function CertificatesPage(props: PageProps) {
  const { realm, access } = props;
  const loc = useLocation();
  // Filters live in the address too, so a filtered list can be bookmarked and linked to (end entities link here).
  const [initial] = useState<CertificateFilter>(() => {
    const keys = ['status', 'subject', 'san', 'requester', 'policy', 'endEntity', 'expiringBefore'] as const;
    return Object.fromEntries(keys.filter((k) => loc.query.get(k)).map((k) => [k, loc.query.get(k)!])) as CertificateFilter;
  });
  const [draft, setDraft] = useState<CertificateFilter>(initial);
  const [filter, setFilter] = useState<CertificateFilter>(initial);
  const [page, setPage] = useState({ first: 0, max: 20 });
  const [sort, setSort] = useState<{ key: SortKey; dir: 'asc' | 'desc' } | undefined>();
  const [revoking, setRevoking] = useState<Certificate | undefined>();
  const list = useApi(() => pki.certificates(realm, filter, page.first, page.max), [realm, JSON.stringify(filter), page.first, page.max]);
  const apply = (f: CertificateFilter) => {
    const clean = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined && v !== '')) as CertificateFilter;
    setDraft(clean);
    setFilter(clean);
    const q = new URLSearchParams(clean as Record<string, string>).toString();
    window.history.replaceState(null, '', `${window.location.pathname}${q ? `?${q}` : ''}`);
    setPage((p) => ({ ...p, first: 0 }));
  };
  const rows = useMemo(() => {
    const items = [...(list.data?.items ?? [])];
    if (sort) {
      items.sort((a, b) => {
        const x = String(a[sort.key] ?? '');
        const y = String(b[sort.key] ?? '');
        return (sort.dir === 'asc' ? 1 : -1) * x.localeCompare(y);
      });
    }
    return items;
  }, [list.data, sort]);
  const columns: { key: SortKey | undefined; label: string; width?: 15 | 20 | 25 }[] = [
    { key: undefined, label: 'Serial' },
    { key: 'subject', label: 'Subject', width: 25 },
    { key: undefined, label: 'SANs', width: 25 },
    { key: 'policy', label: 'Policy' },
    { key: undefined, label: 'Requester', width: 15 },
    { key: 'status', label: 'Status' },
    { key: 'notBefore', label: 'Issued' },
    { key: 'notAfter', label: 'Expires' },
  ];
  const sortBy = (i: number, key: SortKey): ThProps['sort'] => ({
    sortBy: sort ? { index: columns.findIndex((c) => c.key === sort.key), direction: sort.dir } : {},
    onSort: (_e, _index, dir) => setSort({ key, dir }),
    columnIndex: i,
  });
  const active = Object.entries(filter).filter(([, v]) => v);
  const detail = (c: Certificate) => `/${encodeURIComponent(realm)}/certificates/${c.serialNumber}`;

  return (
    <PageFrame
      title="Certificates"
      description={
        access.has('keyward-revoker', 'keyward-approver', 'keyward-admin')
          ? `Every certificate issued in ${realm}.`
          : `The certificates you requested in ${realm}.`
      }
      actions={
        access.has('keyward-requester') ? (
          <Button variant="primary" onClick={() => navigate(`/${encodeURIComponent(realm)}/issue`)}>
            Issue certificate
          </Button>
        ) : null
      }
    >
      <Form
        aria-label="Certificate filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <Flex alignItems={{ default: 'alignItemsFlexEnd' }} gap={{ default: 'gapSm' }} flexWrap={{ default: 'wrap' }}>
          <FlexItem>
            <FormGroup label="Status" fieldId="filter-status">
              <FormSelect
                id="filter-status"
                value={draft.status ?? ''}
                onChange={(_e, v) => apply({ ...draft, status: (v || undefined) as CertificateFilter['status'] })}
                style={{ width: 140 }}
              >
                <FormSelectOption value="" label="Any status" />
                <FormSelectOption value="valid" label="Valid" />
                <FormSelectOption value="revoked" label="Revoked" />
                <FormSelectOption value="expired" label="Expired" />
              </FormSelect>
            </FormGroup>
          </FlexItem>
          {FILTERS.map((f) => (
            <FlexItem key={f.key}>
              <FormGroup label={f.label} fieldId={`filter-${f.key}`}>
                <TextInput
                  id={`filter-${f.key}`}
                  placeholder={f.placeholder}
                  value={draft[f.key] ?? ''}
                  onChange={(_e, v) => setDraft((d) => ({ ...d, [f.key]: v }))}
                  style={{ width: 180 }}
                />
              </FormGroup>
            </FlexItem>
          ))}
          <FlexItem>
            <FormGroup label="Expiring before" fieldId="filter-expiring-before">
              <TextInput
                id="filter-expiring-before"
                type="date"
                value={draft.expiringBefore ?? ''}
                onChange={(_e, v) => setDraft((d) => ({ ...d, expiringBefore: v }))}
                style={{ width: 160 }}
              />
            </FormGroup>
          </FlexItem>
          <FlexItem>
            <Button variant="primary" type="submit">
              Search
            </Button>
          </FlexItem>
        </Flex>
      </Form>
      <Toolbar aria-label="Certificate toolbar" clearAllFilters={() => apply({})} clearFiltersButtonText="Clear all filters">
        <ToolbarContent>
          <ToolbarGroup variant="filter-group">
            {[{ key: 'status' as const, label: 'Status' }, ...FILTERS, { key: 'expiringBefore' as const, label: 'Expiring before' }].map(
              (f) => (
                <ToolbarFilter
                  key={f.key}
                  categoryName={f.label}
                  labels={filter[f.key] ? [String(filter[f.key])] : []}
                  deleteLabel={() => apply({ ...filter, [f.key]: undefined })}
                  showToolbarItem={false}
                >
                  {null}
                </ToolbarFilter>
              ),
            )}
          </ToolbarGroup>
          <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
            <Pager
              label="Certificates"
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
        <Loading what="certificates" />
      ) : !list.error && rows.length === 0 ? (
        <Empty title={active.length ? 'No certificate matches' : 'No certificates yet'}>
          {active.length ? 'Change or clear the filters.' : 'Certificates issued through the API, the console or ACME appear here.'}
        </Empty>
      ) : rows.length ? (
        <Table aria-label="Certificates" variant="compact" data-loading={list.loading ? 'true' : 'false'}>
          <Thead>
            <Tr>
              {columns.map((c, i) => (
                <Th key={c.label} sort={c.key ? sortBy(i, c.key) : undefined} width={c.width} modifier={c.width ? 'wrap' : 'nowrap'}>
                  {c.label}
                </Th>
              ))}
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((c) => (
              <Tr key={c.serialNumber}>
                <Td dataLabel="Serial">
                  <Link to={detail(c)} aria-label={`Certificate ${c.serialNumber}`} title={c.serialNumber}>
                    <code>{c.serialNumber.slice(0, 10)}…</code>
                  </Link>
                </Td>
                <Td dataLabel="Subject" modifier="wrap">
                  {c.subject}
                </Td>
                <Td dataLabel="SANs" modifier="wrap">
                  {c.sans.length ? c.sans.join(', ') : '—'}
                </Td>
                <Td dataLabel="Policy">{c.policy}</Td>
                <Td dataLabel="Requester" modifier="wrap">
                  {requesterText(c.requester)}
                </Td>
                <Td dataLabel="Status">
                  <CertificateStatusLabel status={c.status} />
                </Td>
                <Td dataLabel="Issued" modifier="nowrap">
                  {c.notBefore.slice(0, 10)}
                </Td>
                <Td dataLabel="Expires" modifier="nowrap">
                  <ExpiryLabel notAfter={c.notAfter} revoked={c.status === 'revoked'} />
                </Td>
                <Td isActionCell>
                  <ActionsColumn
                    popperProps={{ position: 'right' }}
                    items={[
                      { title: 'View', onClick: () => navigate(detail(c)) },
                      { title: 'Download PEM', onClick: () => download(`${c.serialNumber}.pem`, c.certificate) },
                      { title: 'Download chain', onClick: () => download(`${c.serialNumber}-chain.pem`, c.certificate + c.chain.join('')) },
                      ...(mayRevoke(access, c)
                        ? [{ isSeparator: true }, { title: 'Revoke', isDanger: true, onClick: () => setRevoking(c) }]
                        : []),
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
          label="Certificates bottom"
          first={page.first}
          max={page.max}
          shown={rows.length}
          hasMore={list.data?.hasMore ?? false}
          onChange={(first, max) => setPage({ first, max })}
        />
      ) : null}
      <RevokeModal realm={realm} certificate={revoking} onClose={() => setRevoking(undefined)} onRevoked={() => list.reload()} />
    </PageFrame>
  );
}

/** Revocation: an RFC 5280 §5.3.1 reason, then "Are you sure?". */
export function RevokeModal(props: { realm: string; certificate: Certificate | undefined; onClose: () => void; onRevoked: () => void }) {
  const toast = useToast();
  const [reason, setReason] = useState<string>('unspecified');
  const c = props.certificate;
  return (
    <ConfirmModal
      isOpen={c !== undefined}
      title="Revoke this certificate?"
      confirmLabel="Revoke"
      danger
      onClose={() => {
        setReason('unspecified');
        props.onClose();
      }}
      onConfirm={async () => {
        await pki.revoke(props.realm, c!.serialNumber, reason);
        toast.success(`Certificate ${c!.serialNumber.slice(0, 12)}… revoked (${reason})`);
        props.onRevoked();
      }}
    >
      <p>
        <b>{c?.subject}</b>, serial <code>{c?.serialNumber}</code>. Revocation cannot be undone: the CRL and OCSP report it at once.
      </p>
      <Form style={{ marginTop: 12 }} onSubmit={(e) => e.preventDefault()}>
        <FormGroup label="Reason (RFC 5280)" fieldId="revoke-reason">
          <FormSelect id="revoke-reason" value={reason} onChange={(_e, v) => setReason(v)}>
            {REVOCATION_REASONS.map((r) => (
              <FormSelectOption key={r} value={r} label={r} />
            ))}
          </FormSelect>
        </FormGroup>
      </Form>
    </ConfirmModal>
  );
}
