/**
 * The console shell: session and principal, realm switcher, role-gated
 * navigation, and the page for the current URL (/console/{realm}/{page}).
 */
import {
  Button,
  FormSelect,
  FormSelectOption,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  Nav,
  NavGroup,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { BarsIcon } from '@patternfly/react-icons';
import { useEffect, useMemo, useState } from 'react';
import { api, whenSessionExpires } from '../api/client.ts';
import { sessionApi, type ConsoleSession, type WhoAmI } from '../api/session.ts';
import { identityPages } from '../pages/identity.ts';
import { pkiPages } from '../pages/pki.ts';
import { accessFor, type PageDef } from './access.ts';
import { Forbidden, Loading, NotFound, ProblemAlert, ToastProvider } from './components.tsx';
import { HomePage } from './Home.tsx';
import { Login } from './Login.tsx';
import { Link, match, navigate, useLocation } from './router.tsx';

export const PAGES: readonly PageDef[] = [...identityPages, ...pkiPages];
const GROUPS = ['Access', 'Administration', 'Certificates', 'Clients and policies', 'Audit'] as const;

interface Loaded {
  session: ConsoleSession;
  whoami?: WhoAmI;
  realms: string[];
  /** Why a session that was there ended (a 401's code), for the login page's message. */
  ended?: string;
}

export function App() {
  const [state, setState] = useState<Loaded | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    whenSessionExpires((code) => setState({ session: { authenticated: false }, realms: [], ended: code }));
    (async () => {
      const session = await sessionApi.session();
      if (!session.authenticated) return setState({ session, realms: [] });
      const whoami = await sessionApi.whoami();
      let realms = Object.keys(whoami.roles).filter((r) => r !== 'master');
      if (whoami.operator) {
        const all = await api.get<{ realms: { name: string }[] }>('/v1/realms');
        realms = all.realms.map((r) => r.name);
      }
      setState({ session, whoami, realms });
    })().catch(setError);
  }, []);
  if (error) return <ProblemAlert error={error} title="The console could not load" />;
  if (!state) return <Loading what="the console" />;
  if (!state.session.authenticated || !state.whoami) return <Login ended={state.ended} />;
  return (
    <ToastProvider>
      <Shell session={state.session} whoami={state.whoami} realms={state.realms} />
    </ToastProvider>
  );
}

function Shell(props: { session: ConsoleSession; whoami: WhoAmI; realms: string[] }) {
  const loc = useLocation();
  const [first, ...rest] = loc.path.split('/').filter(Boolean);
  const home = props.whoami.realm === 'master' ? props.realms[0] : props.whoami.realm;
  const realm = first ? decodeURIComponent(first) : home;
  useEffect(() => {
    if (!first && home) navigate(`/${encodeURIComponent(home)}/`, { replace: true });
  }, [first, home]);
  const access = useMemo(() => accessFor(props.session, props.whoami, realm ?? '', props.realms), [props, realm]);
  const subPath = rest.join('/');
  const [loggingOut, setLoggingOut] = useState(false);
  const logout = async () => {
    setLoggingOut(true);
    try {
      const r = await sessionApi.logout();
      window.location.assign(r.endSessionUrl ?? '/console/');
    } catch {
      window.location.assign('/console/');
    }
  };

  let content;
  if (!realm) content = <NotFound />;
  else if (subPath === '') content = <HomePage access={access} realm={realm} params={{}} pages={PAGES} />;
  else {
    let found: { page: PageDef; params: Record<string, string> } | undefined;
    for (const page of PAGES) {
      const params = match(page.path, subPath);
      if (params) {
        found = { page, params };
        break;
      }
    }
    if (!found) content = <NotFound />;
    else if (!found.page.allowed(access)) content = <Forbidden what={found.page.title} needs={found.page.needs} />;
    else {
      const C = found.page.component;
      content = <C key={`${realm}/${subPath}`} access={access} realm={realm} params={found.params} />;
    }
  }

  const masthead = (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton variant="plain" aria-label="Navigation">
            <BarsIcon />
          </PageToggleButton>
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo component="a" href="/console/" style={{ fontWeight: 600, fontSize: 20 }}>
            Keyward
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight isStatic>
          <ToolbarContent>
            <ToolbarGroup align={{ default: 'alignEnd' }}>
              {access.realms.length > 1 || (realm && !access.realms.includes(realm)) ? (
                <ToolbarItem>
                  <FormSelect
                    aria-label="Realm"
                    value={realm}
                    onChange={(_e, v) => navigate(`/${encodeURIComponent(v)}/${subPath}`)}
                    style={{ minWidth: 160 }}
                  >
                    {[...new Set([...(realm ? [realm] : []), ...access.realms])].map((r) => (
                      <FormSelectOption key={r} value={r} label={r} />
                    ))}
                  </FormSelect>
                </ToolbarItem>
              ) : null}
              <ToolbarItem>
                <span data-testid="current-user">
                  {props.session.username ?? props.whoami.username} ({props.whoami.realm})
                </span>
              </ToolbarItem>
              <ToolbarItem>
                <Button variant="secondary" isInline onClick={logout} isLoading={loggingOut}>
                  Log out
                </Button>
              </ToolbarItem>
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );
  const nav = (
    <Nav aria-label="Console">
      <NavList>
        <NavItem isActive={subPath === ''}>
          <Link to={`/${encodeURIComponent(realm ?? '')}/`}>Home</Link>
        </NavItem>
      </NavList>
      {GROUPS.map((g) => {
        const items = PAGES.filter((p) => p.nav?.group === g && p.allowed(access)).sort((a, b) => a.nav!.order - b.nav!.order);
        if (!items.length) return null;
        return (
          <NavGroup key={g} title={g}>
            {items.map((p) => (
              <NavItem key={p.path} isActive={subPath === p.path || subPath.startsWith(`${p.path}/`)}>
                <Link to={`/${encodeURIComponent(realm ?? '')}/${p.path}`}>{p.title}</Link>
              </NavItem>
            ))}
          </NavGroup>
        );
      })}
    </Nav>
  );
  return (
    <Page
      masthead={masthead}
      sidebar={
        <PageSidebar>
          <PageSidebarBody>{nav}</PageSidebarBody>
        </PageSidebar>
      }
      isManagedSidebar
    >
      {content}
    </Page>
  );
}
