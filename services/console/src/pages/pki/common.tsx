/** Pieces the certificate, API client, policy and audit pages share: expiry and status labels, the pager, downloads. */
import { Label, Pagination, type PaginationProps } from '@patternfly/react-core';
import { relativeTime } from '../../app/components.tsx';
import type { CertificateStatus } from './api.ts';

const DAY = 86_400_000;

/** Colour of the time left: expired red, under 7 days orange-red, under 30 days yellow, else green. */
export function expiryColor(notAfter: string, now = Date.now()): 'red' | 'orangered' | 'yellow' | 'green' {
  const left = new Date(notAfter).getTime() - now;
  if (left <= 0) return 'red';
  if (left < 7 * DAY) return 'orangered';
  if (left < 30 * DAY) return 'yellow';
  return 'green';
}

/** "in 12 days" (or "expired 3 days ago") with the colour of how urgent it is; the date on hover. */
export function ExpiryLabel(props: { notAfter: string; revoked?: boolean }) {
  const color = props.revoked ? 'grey' : expiryColor(props.notAfter);
  const expired = new Date(props.notAfter).getTime() <= Date.now();
  const text = expired ? `expired ${relativeTime(props.notAfter)}` : relativeTime(props.notAfter);
  return (
    <Label color={color} isCompact title={new Date(props.notAfter).toISOString()} data-expiry={color}>
      {text}
    </Label>
  );
}

export function CertificateStatusLabel(props: { status: CertificateStatus }) {
  const color = props.status === 'valid' ? 'green' : props.status === 'revoked' ? 'red' : 'grey';
  return (
    <Label color={color} isCompact>
      {props.status}
    </Label>
  );
}

/**
 * Pagination for lists the API pages with first/max but does not count: the
 * page asks for one more row, so "next" is offered exactly when there is one.
 */
export function Pager(props: {
  first: number;
  max: number;
  shown: number;
  hasMore: boolean;
  onChange: (first: number, max: number) => void;
  isBottom?: boolean;
  label: string;
}) {
  const page = Math.floor(props.first / props.max) + 1;
  const itemCount = props.first + props.shown + (props.hasMore ? 1 : 0);
  const template: PaginationProps['toggleTemplate'] = ({ firstIndex, lastIndex }) => (
    <>
      <b>
        {props.shown ? firstIndex : 0} - {props.shown ? Math.min(lastIndex ?? 0, props.first + props.shown) : 0}
      </b>
      {props.hasMore ? ' of many' : ''}
    </>
  );
  return (
    <Pagination
      itemCount={itemCount}
      perPage={props.max}
      page={page}
      perPageOptions={[10, 20, 50, 100].map((n) => ({ title: String(n), value: n }))}
      onSetPage={(_e, p) => props.onChange((p - 1) * props.max, props.max)}
      onPerPageSelect={(_e, max) => props.onChange(0, max)}
      toggleTemplate={template}
      variant={props.isBottom ? 'bottom' : 'top'}
      isCompact={!props.isBottom}
      titles={{ paginationAriaLabel: `${props.label} pagination` }}
    />
  );
}

/** Saves text as a file through a temporary object URL. */
export function download(filename: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The requester as people read it: name@realm (kind). */
export function requesterText(r: { kind: string; realm: string; id: string; name?: string } | undefined): string {
  if (!r) return '—';
  return `${r.name ?? r.id}@${r.realm}`;
}
