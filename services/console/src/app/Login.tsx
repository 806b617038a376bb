/** Shown without a session: pick the realm, then log in on Keycloak's own page. */
import { ActionGroup, Alert, Button, Form, FormGroup, FormSelect, FormSelectOption, LoginPage } from '@patternfly/react-core';
import { useState } from 'react';
import { sessionApi } from '../api/session.ts';
import { ProblemAlert } from './components.tsx';
import { useApi } from './hooks.ts';
import { useLocation } from './router.tsx';

/** What the backend-for-frontend's login_error codes mean. */
const LOGIN_ERRORS: Record<string, string> = {
  'realm.not_found': 'Keyward does not manage that realm.',
  'console_client.missing':
    "The realm's keyward-console client is missing in Keycloak; an operator re-creates it with PUT /v1/realms/{realm}.",
  'login.state_mismatch': 'The login took too long or was started in another tab. Log in again.',
  'login.denied': 'Keycloak did not log you in.',
  'session.expired': 'Your session ended. Log in again.',
};

/**
 * `ended` is the code of the 401 that ended a session while the console was open (`session.expired`): the page
 * says so, and logging in again returns to the page the user was on.
 */
export function Login(props: { ended?: string | undefined } = {}) {
  const loc = useLocation();
  const realms = useApi(() => sessionApi.realms(), []);
  const wanted = loc.query.get('realm') ?? (loc.path.split('/').filter(Boolean)[0] || undefined);
  const [choice, setChoice] = useState<string | undefined>();
  const list = realms.data?.realms ?? [];
  const realm =
    choice ?? (wanted && list.some((r) => r.name === wanted) ? wanted : (list.find((r) => r.name !== 'master') ?? list[0])?.name);
  const error = loc.query.get('login_error') ?? (props.ended === 'session.expired' ? props.ended : null);
  const go = () => {
    if (!realm) return;
    const back = loc.path === '/' || loc.path === '' ? `/console/${realm}/` : `/console${loc.path}`;
    window.location.assign(sessionApi.loginUrl(realm, back));
  };
  return (
    <LoginPage
      loginTitle="Log in to the Keyward console"
      loginSubtitle="You log in on your realm's Keycloak page; Keyward never sees your password."
    >
      {error ? (
        <Alert
          variant={error === 'session.expired' ? 'info' : 'danger'}
          isInline
          title={error === 'session.expired' ? 'Session ended' : 'Login failed'}
          data-testid="login-error"
        >
          {LOGIN_ERRORS[error] ?? 'The login did not complete.'} <small>(code {error})</small>
        </Alert>
      ) : null}
      <ProblemAlert error={realms.error} />
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          go();
        }}
      >
        <FormGroup label="Realm" fieldId="login-realm">
          <FormSelect id="login-realm" value={realm ?? ''} onChange={(_e, v) => setChoice(v)} aria-label="Realm">
            {list.map((r) => (
              <FormSelectOption
                key={r.name}
                value={r.name}
                label={r.name === 'master' ? 'master (operators)' : (r.displayName ?? r.name)}
              />
            ))}
          </FormSelect>
        </FormGroup>
        <ActionGroup>
          <Button type="submit" variant="primary" isBlock isDisabled={!realm}>
            Log in
          </Button>
        </ActionGroup>
      </Form>
    </LoginPage>
  );
}
