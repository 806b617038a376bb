/**
 * Certificate policies: the list, and one policy in a form or as JSON (a
 * toggle). A refused document is shown at the field the API's JSON Pointer
 * names (policy.invalid carries it in `path`).
 */
import {
  ActionGroup,
  Alert,
  Button,
  Checkbox,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  Grid,
  GridItem,
  HelperText,
  HelperTextItem,
  Label,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  NumberInput,
  TextArea,
  TextInput,
  ToggleGroup,
  ToggleGroupItem,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useEffect, useState, type ReactNode } from 'react';
import { ApiProblem } from '../../api/client.ts';
import type { PageProps } from '../../app/access.ts';
import { ConfirmModal, DateTime, Empty, Loading, PageFrame, ProblemAlert, useToast } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { Link, navigate, useLocation } from '../../app/router.tsx';
import { EXTENDED_KEY_USAGES, KEY_TYPES, KEY_USAGES, pki, problemPointer, SUBJECT_ATTRIBUTES, type PolicyDocument } from './api.ts';

export function PoliciesPage(props: PageProps) {
  const { realm, access } = props;
  const toast = useToast();
  const list = useApi(() => pki.policies(realm), [realm]);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [deleting, setDeleting] = useState<string | undefined>();
  const admin = access.has('keyward-admin');
  const rows = list.data?.items ?? [];
  const open = (n: string, create = false) =>
    navigate(`/${encodeURIComponent(realm)}/policies/${encodeURIComponent(n)}${create ? '?new=1' : ''}`);
  return (
    <PageFrame
      title="Certificate policies"
      description="What certificates of this realm may contain: key types, validity, subject and names, key usages, approval."
    >
      <Toolbar aria-label="Policy toolbar">
        <ToolbarContent>
          {admin ? (
            <ToolbarItem>
              <Button variant="primary" onClick={() => setCreating(true)}>
                Create policy
              </Button>
            </ToolbarItem>
          ) : null}
        </ToolbarContent>
      </Toolbar>
      <ProblemAlert error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="policies" />
      ) : !list.error && rows.length === 0 ? (
        <Empty title="No policies yet">Without a policy nothing can be issued in this realm.</Empty>
      ) : rows.length ? (
        <Table aria-label="Policies" variant="compact">
          <Thead>
            <Tr>
              <Th>Name</Th>
              <Th>Key types</Th>
              <Th>Max validity</Th>
              <Th>DNS names</Th>
              <Th>Approval</Th>
              <Th>Source</Th>
              <Th>Updated</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((p) => (
              <Tr key={p.name}>
                <Td dataLabel="Name">
                  <Link to={`/${encodeURIComponent(realm)}/policies/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                </Td>
                <Td dataLabel="Key types">{p.policy.keyTypes.join(', ')}</Td>
                <Td dataLabel="Max validity">{p.policy.maxValidityDays} days</Td>
                <Td dataLabel="DNS names">{p.policy.san.dns.join(', ') || '—'}</Td>
                <Td dataLabel="Approval">
                  <Label isCompact color={p.policy.approval === 'required' ? 'orange' : 'grey'}>
                    {p.policy.approval}
                  </Label>
                </Td>
                <Td dataLabel="Source">{p.source === 'config' ? 'realm-config' : 'API'}</Td>
                <Td dataLabel="Updated">
                  <DateTime iso={p.updatedAt} />
                </Td>
                <Td isActionCell>
                  {admin ? (
                    <ActionsColumn
                      popperProps={{ position: 'right' }}
                      items={[
                        { title: 'Edit', onClick: () => open(p.name) },
                        { isSeparator: true },
                        { title: 'Delete', isDanger: true, onClick: () => setDeleting(p.name) },
                      ]}
                    />
                  ) : null}
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      ) : null}
      <Modal variant="small" isOpen={creating} onClose={() => setCreating(false)} aria-labelledby="new-policy-title">
        <ModalHeader title="Create policy" labelId="new-policy-title" />
        <ModalBody>
          <Form
            id="new-policy-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (name.trim()) open(name.trim(), true);
            }}
          >
            <FormGroup label="Policy name" isRequired fieldId="new-policy-name">
              <TextInput id="new-policy-name" value={name} onChange={(_e, v) => setName(v)} />
              <FormHelperText>
                <HelperText>
                  <HelperTextItem>Letters, digits, . _ - (at most 100).</HelperTextItem>
                </HelperText>
              </FormHelperText>
            </FormGroup>
          </Form>
        </ModalBody>
        <ModalFooter>
          <Button variant="primary" type="submit" form="new-policy-form" isDisabled={!name.trim()}>
            Continue
          </Button>
          <Button variant="link" onClick={() => setCreating(false)}>
            Cancel
          </Button>
        </ModalFooter>
      </Modal>
      <ConfirmModal
        isOpen={deleting !== undefined}
        confirmLabel="Delete"
        danger
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          await pki.deletePolicy(realm, deleting!);
          toast.success(`Policy ${deleting} deleted`);
          list.reload();
        }}
      >
        Delete the policy <b>{deleting}</b>? Issued certificates stay; API clients with it as default policy can no longer issue with it.
      </ConfirmModal>
    </PageFrame>
  );
}

const TEMPLATE: PolicyDocument = {
  keyTypes: ['EC-P256', 'RSA-2048'],
  maxValidityDays: 90,
  subject: { required: ['CN'], allowed: ['CN', 'O', 'OU'] },
  san: { dns: [], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extendedKeyUsage: ['serverAuth'],
  approval: 'none',
};

/** The form field a JSON Pointer falls in: `/san/dns/3` → `/san/dns`, `/keyTypes/0` → `/keyTypes`. */
export function fieldOf(pointer: string | undefined): string | undefined {
  if (!pointer) return undefined;
  const parts = pointer.split('/').slice(1);
  if (parts[0] === 'san' || parts[0] === 'subject') return parts.length > 1 ? `/${parts[0]}/${parts[1]}` : `/${parts[0]}`;
  return `/${parts[0] ?? ''}`;
}

const toggle = (xs: string[], x: string, on: boolean) => (on ? [...xs.filter((y) => y !== x), x] : xs.filter((y) => y !== x));
const linesOf = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

export function PolicyEditPage(props: PageProps) {
  const { realm, access } = props;
  const name = props.params.name!;
  const loc = useLocation();
  const isNew = loc.query.get('new') === '1';
  const toast = useToast();
  const admin = access.has('keyward-admin');
  const loaded = useApi(
    async () =>
      (await pki.policy(realm, name).catch((e) => (isNew && e instanceof ApiProblem && e.status === 404 ? undefined : Promise.reject(e))))
        ?.policy,
    [realm, name],
  );
  const [doc, setDoc] = useState<PolicyDocument | undefined>();
  const [view, setView] = useState<'form' | 'json'>('form');
  const [json, setJson] = useState('');
  const [jsonError, setJsonError] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!loaded.loading && !loaded.error && !doc) setDoc(structuredClone(loaded.data ?? TEMPLATE));
  }, [loaded.loading, loaded.error, loaded.data, doc]);
  const pointer = problemPointer(error);
  const field = fieldOf(pointer);
  const message = error instanceof ApiProblem ? (error.detail ?? error.title) : undefined;

  const switchView = (to: 'form' | 'json') => {
    if (to === view || !doc) return;
    if (to === 'json') {
      setJson(JSON.stringify(doc, null, 2));
      setJsonError(undefined);
      setView('json');
      return;
    }
    try {
      setDoc(JSON.parse(json) as PolicyDocument);
      setJsonError(undefined);
      setView('form');
    } catch (e) {
      setJsonError(`Not valid JSON: ${(e as Error).message}`);
    }
  };
  const save = async () => {
    let body: unknown = doc;
    if (view === 'json') {
      try {
        body = JSON.parse(json);
      } catch (e) {
        setJsonError(`Not valid JSON: ${(e as Error).message}`);
        return;
      }
    }
    setBusy(true);
    setError(undefined);
    try {
      const saved = await pki.putPolicy(realm, name, body);
      toast.success(`Policy ${name} saved`);
      setDoc(saved.policy);
      if (isNew) navigate(`/${encodeURIComponent(realm)}/policies/${encodeURIComponent(name)}`, { replace: true });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const set = (patch: (d: PolicyDocument) => PolicyDocument) => setDoc((d) => (d ? patch(structuredClone(d)) : d));

  const v = (path: string) => (field === path ? 'error' : 'default');

  return (
    <PageFrame
      title={isNew && !loaded.data ? `New policy ${name}` : `Policy ${name}`}
      description={
        <>
          <Link to={`/${encodeURIComponent(realm)}/policies`}>Certificate policies</Link> · realm {realm}
        </>
      }
      actions={
        <ToggleGroup aria-label="Policy view">
          <ToggleGroupItem text="Form" buttonId="view-form" isSelected={view === 'form'} onChange={() => switchView('form')} />
          <ToggleGroupItem text="JSON" buttonId="view-json" isSelected={view === 'json'} onChange={() => switchView('json')} />
        </ToggleGroup>
      }
    >
      <ProblemAlert error={loaded.error} />
      {!doc ? (
        loaded.error ? null : (
          <Loading what="the policy" />
        )
      ) : (
        <Form
          style={{ maxWidth: 900 }}
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          {!admin ? <Alert variant="info" isInline isPlain title="Read only: changing policies needs keyward-admin in this realm" /> : null}
          {view === 'json' ? (
            <FormGroup label="Policy document (JSON)" fieldId="policy-json">
              <TextArea
                id="policy-json"
                value={json}
                onChange={(_e, x) => setJson(x)}
                rows={28}
                resizeOrientation="vertical"
                style={{ fontFamily: 'var(--pf-t--global--font--family--mono)' }}
                validated={jsonError || pointer ? 'error' : 'default'}
                readOnlyVariant={admin ? undefined : 'default'}
              />
              {jsonError || pointer ? (
                <FormHelperText>
                  <HelperText>
                    <HelperTextItem variant="error" data-testid="json-error">
                      {jsonError ?? `${pointer}: ${message}`}
                    </HelperTextItem>
                  </HelperText>
                </FormHelperText>
              ) : null}
            </FormGroup>
          ) : (
            <fieldset disabled={!admin} style={{ border: 0, padding: 0, margin: 0, display: 'grid', gap: 16 }}>
              <PolicyField field={field} message={message} label="Description" path="/description" id="policy-description">
                <TextInput
                  id="policy-description"
                  value={doc.description ?? ''}
                  validated={v('/description')}
                  onChange={(_e, x) => set((d) => ({ ...d, description: x || undefined }) as PolicyDocument)}
                />
              </PolicyField>
              <PolicyField field={field} message={message} label="Key types" path="/keyTypes" id="policy-key-types" role="group">
                <div style={{ display: 'flex', gap: 16, flexWrap: 'wrap' }}>
                  {KEY_TYPES.map((k) => (
                    <Checkbox
                      key={k}
                      id={`key-${k}`}
                      label={k}
                      isChecked={doc.keyTypes.includes(k)}
                      onChange={(_e, on) => set((d) => ({ ...d, keyTypes: toggle(d.keyTypes, k, on) }))}
                    />
                  ))}
                </div>
              </PolicyField>
              <PolicyField
                field={field}
                message={message}
                label="Maximum validity (days)"
                path="/maxValidityDays"
                id="policy-max-validity"
                help="1 to 3650"
              >
                <NumberInput
                  inputProps={{ id: 'policy-max-validity' }}
                  inputName="maxValidityDays"
                  inputAriaLabel="Maximum validity (days)"
                  value={doc.maxValidityDays}
                  validated={v('/maxValidityDays')}
                  onMinus={() => set((d) => ({ ...d, maxValidityDays: d.maxValidityDays - 1 }))}
                  onPlus={() => set((d) => ({ ...d, maxValidityDays: d.maxValidityDays + 1 }))}
                  onChange={(e) => {
                    const n = Number((e.target as HTMLInputElement).value);
                    set((d) => ({ ...d, maxValidityDays: Number.isFinite(n) ? n : d.maxValidityDays }));
                  }}
                  widthChars={6}
                />
              </PolicyField>
              <Grid hasGutter>
                {(['required', 'allowed'] as const).map((which) => (
                  <GridItem span={6} key={which}>
                    <PolicyField
                      field={field}
                      message={message}
                      label={`Subject attributes ${which}`}
                      path={`/subject/${which}`}
                      id={`policy-subject-${which}`}
                      role="group"
                    >
                      <div style={{ display: 'flex', gap: 12, flexWrap: 'wrap' }}>
                        {SUBJECT_ATTRIBUTES.map((a) => (
                          <Checkbox
                            key={a}
                            id={`subject-${which}-${a}`}
                            label={a}
                            isChecked={doc.subject[which].includes(a)}
                            onChange={(_e, on) =>
                              set((d) => ({ ...d, subject: { ...d.subject, [which]: toggle(d.subject[which], a, on) } }))
                            }
                          />
                        ))}
                      </div>
                    </PolicyField>
                  </GridItem>
                ))}
              </Grid>
              <Grid hasGutter>
                {(
                  [
                    ['dns', 'DNS names', '*.apps.example.internal (one label per *)'],
                    ['ip', 'IP ranges', '10.0.0.0/8 (CIDR)'],
                    ['uri', 'URIs', 'spiffe://example.internal/*'],
                    ['email', 'E-mail addresses', 'ops@example.com or @example.com'],
                  ] as const
                ).map(([k, label, help]) => (
                  <GridItem span={6} key={k}>
                    <PolicyField
                      field={field}
                      message={message}
                      label={`SAN: ${label}`}
                      path={`/san/${k}`}
                      id={`policy-san-${k}`}
                      help={`One per line, e.g. ${help}; none allows none`}
                    >
                      <SanLines
                        id={`policy-san-${k}`}
                        values={doc.san[k]}
                        validated={v(`/san/${k}`)}
                        onChange={(xs) => set((d) => ({ ...d, san: { ...d.san, [k]: xs } }))}
                      />
                    </PolicyField>
                  </GridItem>
                ))}
              </Grid>
              <PolicyField field={field} message={message} label="Key usage" path="/keyUsage" id="policy-key-usage" role="group">
                <div style={{ display: 'flex', gap: 12, flexWrap: 'wrap' }}>
                  {KEY_USAGES.map((u) => (
                    <Checkbox
                      key={u}
                      id={`ku-${u}`}
                      label={u}
                      isChecked={doc.keyUsage.includes(u)}
                      onChange={(_e, on) => set((d) => ({ ...d, keyUsage: toggle(d.keyUsage, u, on) }))}
                    />
                  ))}
                </div>
              </PolicyField>
              <PolicyField field={field} message={message} label="Extended key usage" path="/extendedKeyUsage" id="policy-eku" role="group">
                <div style={{ display: 'flex', gap: 12, flexWrap: 'wrap' }}>
                  {EXTENDED_KEY_USAGES.map((u) => (
                    <Checkbox
                      key={u}
                      id={`eku-${u}`}
                      label={u}
                      isChecked={doc.extendedKeyUsage.includes(u)}
                      onChange={(_e, on) => set((d) => ({ ...d, extendedKeyUsage: toggle(d.extendedKeyUsage, u, on) }))}
                    />
                  ))}
                </div>
              </PolicyField>
              <PolicyField
                field={field}
                message={message}
                label="Approval"
                path="/approval"
                id="policy-approval"
                help="required: every request waits for an approver"
              >
                <FormSelect
                  id="policy-approval"
                  value={doc.approval}
                  validated={v('/approval')}
                  onChange={(_e, x) => set((d) => ({ ...d, approval: x as PolicyDocument['approval'] }))}
                  style={{ maxWidth: 240 }}
                >
                  <FormSelectOption value="none" label="none" />
                  <FormSelectOption value="required" label="required" />
                </FormSelect>
              </PolicyField>
              {IDENTITY_RULES.map((r) => (
                <PolicyField
                  key={r.key}
                  field={field}
                  message={message}
                  label={r.label}
                  path={`/${r.key}`}
                  id={`policy-${r.key}`}
                  help={r.help}
                >
                  <FormSelect
                    id={`policy-${r.key}`}
                    value={doc[r.key] ?? r.values[0]}
                    validated={v(`/${r.key}`)}
                    onChange={(_e, x) => set((d) => ({ ...d, [r.key]: x }))}
                    style={{ maxWidth: 240 }}
                  >
                    {r.values.map((x) => (
                      <FormSelectOption key={x} value={x} label={x} />
                    ))}
                  </FormSelect>
                </PolicyField>
              ))}
            </fieldset>
          )}
          {error && !(pointer && (view === 'json' || field)) ? <ProblemAlert error={error} /> : null}
          {error && pointer ? (
            <Alert
              variant="danger"
              isInline
              isPlain
              title={`${error instanceof ApiProblem ? error.title : 'Refused'} (${pointer})`}
              data-testid="problem"
            >
              <small>
                Code <code>{error instanceof ApiProblem ? error.code : ''}</code>
              </small>
            </Alert>
          ) : null}
          {admin ? (
            <ActionGroup>
              <Button type="submit" variant="primary" isLoading={busy} isDisabled={busy}>
                Save
              </Button>
              <Button variant="link" onClick={() => navigate(`/${encodeURIComponent(realm)}/policies`)}>
                Cancel
              </Button>
            </ActionGroup>
          ) : null}
        </Form>
      )}
    </PageFrame>
  );
}

/** What happens to a policy's certificates when their requester changes in Keycloak; the first value is the default. */
const IDENTITY_RULES = [
  {
    key: 'onRequesterDeleted',
    label: 'Requester deleted in Keycloak',
    values: ['revoke', 'keep'],
    help: 'revoke: cessationOfOperation',
  },
  {
    key: 'onRequesterDisabled',
    label: 'Requester disabled in Keycloak',
    values: ['hold', 'revoke', 'keep'],
    help: 'hold: certificateHold, released when enabled again',
  },
  {
    key: 'onGrantRevoked',
    label: 'Cross-realm grant revoked',
    values: ['revoke', 'keep'],
    help: 'revoke: affiliationChanged',
  },
] as const;

interface FieldProps {
  label: string;
  path: string;
  id: string;
  children: ReactNode;
  help?: string;
  role?: string;
  /** The form field the API's error points into, and its message. */
  field: string | undefined;
  message: string | undefined;
}

/** A form group that shows the API's error when its pointer falls in it. */
function PolicyField(p: FieldProps) {
  return (
    <FormGroup label={p.label} fieldId={p.id} role={p.role} data-pointer={p.path}>
      {p.children}
      {p.field === p.path || p.help ? (
        <FormHelperText>
          <HelperText>
            {p.field === p.path ? (
              <HelperTextItem variant="error" data-testid={`error-${p.path}`}>
                {p.message}
              </HelperTextItem>
            ) : (
              <HelperTextItem>{p.help}</HelperTextItem>
            )}
          </HelperText>
        </FormHelperText>
      ) : null}
    </FormGroup>
  );
}

/** A list edited as lines; kept as typed text so an empty last line survives while typing. */
function SanLines(props: { id: string; values: string[]; validated: 'error' | 'default'; onChange: (xs: string[]) => void }) {
  const [text, setText] = useState(props.values.join('\n'));
  useEffect(() => {
    if (linesOf(text).join('\n') !== props.values.join('\n')) setText(props.values.join('\n'));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.values.join('\n')]);
  return (
    <TextArea
      id={props.id}
      value={text}
      rows={3}
      validated={props.validated}
      onChange={(_e, x) => {
        setText(x);
        props.onChange(linesOf(x));
      }}
    />
  );
}
