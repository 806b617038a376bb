/** A realm's home page: who you are here and what you may do. */
import {
  Card,
  CardBody,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Gallery,
  Label,
  LabelGroup,
} from '@patternfly/react-core';
import type { PageDef, PageProps } from './access.ts';
import { PageFrame } from './components.tsx';
import { Link } from './router.tsx';

export function HomePage(props: PageProps & { pages: readonly PageDef[] }) {
  const { access, realm } = props;
  const reachable = props.pages.filter((p) => p.nav && p.allowed(access));
  return (
    <PageFrame title={`Realm ${realm}`} description="Certificates, API clients and automation credentials for this Keycloak realm.">
      <Gallery hasGutter minWidths={{ default: '320px' }}>
        <Card>
          <CardTitle>You</CardTitle>
          <CardBody>
            <DescriptionList isCompact>
              <DescriptionListGroup>
                <DescriptionListTerm>User</DescriptionListTerm>
                <DescriptionListDescription data-testid="home-user">
                  {access.whoami.username ?? access.whoami.subject} ({access.whoami.realm})
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Roles in {realm}</DescriptionListTerm>
                <DescriptionListDescription>
                  {access.operator ? <Label color="purple">keyward-operator</Label> : null}
                  <LabelGroup numLabels={8}>
                    {[...access.roles].map((r) => (
                      <Label key={r} color="blue">
                        {r}
                      </Label>
                    ))}
                  </LabelGroup>
                  {!access.operator && access.roles.size === 0 ? 'none' : null}
                </DescriptionListDescription>
              </DescriptionListGroup>
            </DescriptionList>
          </CardBody>
        </Card>
        <Card>
          <CardTitle>Pages</CardTitle>
          <CardBody>
            <ul>
              {reachable.map((p) => (
                <li key={p.path}>
                  <Link to={`/${encodeURIComponent(realm)}/${p.path}`}>{p.title}</Link>
                </li>
              ))}
            </ul>
          </CardBody>
        </Card>
      </Gallery>
    </PageFrame>
  );
}
