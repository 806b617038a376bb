/**
 * The building blocks every page uses, in the Keycloak console's design
 * language (PatternFly): page frame, problem alert, confirmation modal,
 * toasts, loading and empty states, the 403 page.
 */
import {
  Alert,
  AlertActionCloseButton,
  AlertGroup,
  Bullseye,
  Button,
  Content,
  EmptyState,
  EmptyStateBody,
  EmptyStateFooter,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  PageSection,
  Spinner,
  Title,
} from '@patternfly/react-core';
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';
import { ApiProblem } from '../api/client.ts';

export function PageFrame(props: { title: string; description?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <>
      <PageSection variant="default" aria-label={`${props.title} header`}>
        <div style={{ display: 'flex', alignItems: 'flex-start', justifyContent: 'space-between', gap: 16 }}>
          <div>
            <Title headingLevel="h1">{props.title}</Title>
            {props.description ? <Content component="p">{props.description}</Content> : null}
          </div>
          {props.actions ? <div>{props.actions}</div> : null}
        </div>
      </PageSection>
      <PageSection aria-label={props.title}>{props.children}</PageSection>
    </>
  );
}

/** A failed call: the problem's title, detail and stable code. */
export function ProblemAlert(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  const e = props.error;
  const title = props.title ?? (e instanceof ApiProblem ? e.title : 'Something went wrong');
  return (
    <Alert variant="danger" isInline title={title} data-testid="problem">
      {e instanceof ApiProblem ? (
        <>
          {e.detail ? <p>{e.detail}</p> : null}
          <p>
            <small>
              Code <code>{e.code}</code> · HTTP {e.status}
            </small>
          </p>
        </>
      ) : (
        <p>{e instanceof Error ? e.message : String(e)}</p>
      )}
    </Alert>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <Bullseye>
      <Spinner aria-label={props.what ? `Loading ${props.what}` : 'Loading'} />
    </Bullseye>
  );
}

export function Empty(props: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <EmptyState titleText={props.title} headingLevel="h2">
      {props.children ? <EmptyStateBody>{props.children}</EmptyStateBody> : null}
      {props.action ? <EmptyStateFooter>{props.action}</EmptyStateFooter> : null}
    </EmptyState>
  );
}

/** What a direct URL to a page the principal may not use shows. */
export function Forbidden(props: { what: string; needs: string }) {
  return (
    <PageSection>
      <EmptyState titleText="403: not allowed" headingLevel="h1" status="danger">
        <EmptyStateBody>
          You may not open {props.what}. It needs {props.needs}. Ask a realm admin to grant the role in Keycloak.
        </EmptyStateBody>
      </EmptyState>
    </PageSection>
  );
}

export function NotFound() {
  return (
    <PageSection>
      <EmptyState titleText="Page not found" headingLevel="h1">
        <EmptyStateBody>There is no console page at this address.</EmptyStateBody>
      </EmptyState>
    </PageSection>
  );
}

/**
 * Confirmation before anything destructive. `onConfirm` may fail: its problem
 * is shown in the modal, which stays open.
 */
export function ConfirmModal(props: {
  isOpen: boolean;
  title?: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const close = () => {
    setError(undefined);
    props.onClose();
  };
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal variant="small" isOpen={props.isOpen} onClose={close} aria-labelledby="confirm-title">
      <ModalHeader title={props.title ?? 'Are you sure?'} labelId="confirm-title" titleIconVariant={props.danger ? 'warning' : undefined} />
      <ModalBody>
        {props.children}
        <ProblemAlert error={error} />
      </ModalBody>
      <ModalFooter>
        <Button variant={props.danger ? 'danger' : 'primary'} onClick={confirm} isLoading={busy} isDisabled={busy}>
          {props.confirmLabel}
        </Button>
        <Button variant="link" onClick={close}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

interface Toast {
  id: number;
  variant: 'success' | 'danger' | 'info';
  title: string;
}
const ToastContext = createContext<{ success(t: string): void; danger(t: string): void; info(t: string): void }>({
  success: () => {},
  danger: () => {},
  info: () => {},
});

export function ToastProvider(props: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const remove = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const add = useCallback(
    (variant: Toast['variant']) => (title: string) => {
      const id = Date.now() + Math.random();
      setToasts((ts) => [...ts, { id, variant, title }]);
      window.setTimeout(() => remove(id), 8000);
    },
    [remove],
  );
  const [value] = useState(() => ({ success: add('success'), danger: add('danger'), info: add('info') }));
  return (
    <ToastContext.Provider value={value}>
      {props.children}
      <AlertGroup isToast isLiveRegion>
        {toasts.map((t) => (
          <Alert
            key={t.id}
            variant={t.variant}
            title={t.title}
            actionClose={<AlertActionCloseButton title={t.title} onClose={() => remove(t.id)} />}
          />
        ))}
      </AlertGroup>
    </ToastContext.Provider>
  );
}

export const useToast = () => useContext(ToastContext);

/** "in 12 days", "3 hours ago": time left or passed, for tables. */
export function relativeTime(iso: string | undefined | null, now = Date.now()): string {
  if (!iso) return '—';
  const ms = new Date(iso).getTime() - now;
  const abs = Math.abs(ms);
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
  ];
  for (const [size, name] of units) {
    if (abs >= size) {
      const n = Math.round(abs / size);
      const label = `${n} ${name}${n === 1 ? '' : 's'}`;
      return ms >= 0 ? `in ${label}` : `${label} ago`;
    }
  }
  return ms >= 0 ? 'in less than a minute' : 'just now';
}

/** A date as the API gives it, shown in the browser's locale (UTC on hover). */
export function DateTime(props: { iso: string | undefined | null }) {
  if (!props.iso) return <>—</>;
  const d = new Date(props.iso);
  return (
    <time dateTime={props.iso} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}
