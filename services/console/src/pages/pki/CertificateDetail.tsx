/** One certificate, decoded in the browser like `openssl x509 -text`; PEM and chain download; revoke. */
import {
  Button,
  Card,
  CardBody,
  CardTitle,
  ClipboardCopy,
  CodeBlock,
  CodeBlockCode,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  ExpandableSection,
  Flex,
  Label,
  List,
  ListItem,
} from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';
import type { PageProps } from '../../app/access.ts';
import { DateTime, Loading, PageFrame, ProblemAlert } from '../../app/components.tsx';
import { useApi } from '../../app/hooks.ts';
import { Link } from '../../app/router.tsx';
import { pki } from './api.ts';
import { mayRevoke, RevokeModal } from './Certificates.tsx';
import { CertificateStatusLabel, download, ExpiryLabel, requesterText } from './common.tsx';

function Row(props: { term: string; children: ReactNode; testId?: string }) {
  return (
    <DescriptionListGroup>
      <DescriptionListTerm>{props.term}</DescriptionListTerm>
      <DescriptionListDescription data-testid={props.testId}>{props.children}</DescriptionListDescription>
    </DescriptionListGroup>
  );
}

const lines = (xs: string[]) =>
  xs.length ? (
    <List isPlain>
      {xs.map((x) => (
        <ListItem key={x}>{x}</ListItem>
      ))}
    </List>
  ) : (
    '—'
  );

export function CertificateDetailPage(props: PageProps) {
  const { realm, access } = props;
  const serial = props.params.serial!;
  const cert = useApi(() => pki.certificate(realm, serial), [realm, serial]);
  const decoded = useApi(
    async () => (cert.data ? (await import('./decode.ts')).decodeCertificate(cert.data.certificate) : undefined),
    [cert.data?.certificate],
  );
  const [revoking, setRevoking] = useState(false);
  const c = cert.data;
  const d = decoded.data;
  return (
    <PageFrame
      title={c ? c.subject : `Certificate ${serial}`}
      description={
        <>
          <Link to={`/${encodeURIComponent(realm)}/certificates`}>Certificates</Link> · serial <code>{serial}</code>
        </>
      }
      actions={
        c ? (
          <Flex>
            <Button variant="secondary" onClick={() => download(`${c.serialNumber}.pem`, c.certificate)}>
              Download PEM
            </Button>
            <Button variant="secondary" onClick={() => download(`${c.serialNumber}-chain.pem`, c.certificate + c.chain.join(''))}>
              Download chain
            </Button>
            {mayRevoke(access, c) ? (
              <Button variant="danger" onClick={() => setRevoking(true)}>
                Revoke
              </Button>
            ) : null}
          </Flex>
        ) : null
      }
    >
      <ProblemAlert error={cert.error} />
      <ProblemAlert error={decoded.error} title="The certificate could not be decoded" />
      {cert.loading && !c ? <Loading what="the certificate" /> : null}
      {c ? (
        <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
          <Card>
            <CardTitle>Status</CardTitle>
            <CardBody>
              <DescriptionList isHorizontal isCompact aria-label="Certificate status">
                <Row term="Status" testId="certificate-status">
                  <CertificateStatusLabel status={c.status} />
                  {c.revokedAt ? (
                    <>
                      {' '}
                      on <DateTime iso={c.revokedAt} />, reason <b>{c.revocationReason ?? 'unspecified'}</b>
                    </>
                  ) : null}
                </Row>
                <Row term="Expires">
                  <ExpiryLabel notAfter={c.notAfter} revoked={c.status === 'revoked'} /> (<DateTime iso={c.notAfter} />)
                </Row>
                <Row term="Policy">{c.policy}</Row>
                <Row term="Requester">{requesterText(c.requester)}</Row>
                {c.endEntity ? <Row term="End entity">{c.endEntity}</Row> : null}
              </DescriptionList>
            </CardBody>
          </Card>
          <Card>
            <CardTitle>Certificate</CardTitle>
            <CardBody>
              {decoded.loading && !d ? <Loading what="the decoded certificate" /> : null}
              {d ? (
                <DescriptionList isHorizontal isCompact aria-label="Decoded certificate" horizontalTermWidthModifier={{ default: '16ch' }}>
                  <Row term="Version">{d.version} (0x2)</Row>
                  <Row term="Serial number" testId="decoded-serial">
                    <code>{d.serialNumber}</code>
                  </Row>
                  <Row term="Signature algorithm">{d.signatureAlgorithm}</Row>
                  <Row term="Issuer">{d.issuer}</Row>
                  <Row term="Validity">
                    Not before <DateTime iso={d.notBefore.toISOString()} />
                    <br />
                    Not after <DateTime iso={d.notAfter.toISOString()} />
                  </Row>
                  <Row term="Subject" testId="decoded-subject">
                    {d.subject}
                  </Row>
                  <Row term="Public key" testId="decoded-key">
                    {d.publicKey}
                  </Row>
                  <Row term="Subject alternative names" testId="decoded-sans">
                    {lines(d.sans)}
                  </Row>
                  <Row term="Key usage" testId="decoded-key-usage">
                    {lines(d.keyUsage)}
                  </Row>
                  <Row term="Extended key usage" testId="decoded-eku">
                    {lines(d.extendedKeyUsage)}
                  </Row>
                  <Row term="Basic constraints">{d.basicConstraints ?? '—'}</Row>
                  <Row term="Subject key identifier">
                    <code>{d.subjectKeyId ?? '—'}</code>
                  </Row>
                  <Row term="Authority key identifier">
                    <code>{d.authorityKeyId ?? '—'}</code>
                  </Row>
                  <Row term="CRL distribution points" testId="decoded-crl">
                    {lines(d.crlUrls)}
                  </Row>
                  <Row term="OCSP" testId="decoded-ocsp">
                    {lines(d.ocspUrls)}
                  </Row>
                  {d.caIssuerUrls.length ? <Row term="CA issuers">{lines(d.caIssuerUrls)}</Row> : null}
                  <Row term="SHA-256 fingerprint" testId="decoded-sha256">
                    <code style={{ wordBreak: 'break-all' }}>{d.sha256}</code>
                  </Row>
                  <Row term="Extensions">
                    {d.extensions.map((e) => (
                      <Label key={e.oid} isCompact color={e.critical ? 'orange' : 'grey'} style={{ marginRight: 4 }}>
                        {e.name}
                        {e.critical ? ' (critical)' : ''}
                      </Label>
                    ))}
                  </Row>
                </DescriptionList>
              ) : null}
            </CardBody>
          </Card>
          <Card>
            <CardTitle>PEM</CardTitle>
            <CardBody>
              <ClipboardCopy
                isReadOnly
                isCode
                isExpanded
                variant="expansion"
                hoverTip="Copy"
                clickTip="Copied"
                textAriaLabel="Certificate PEM"
              >
                {c.certificate.trim()}
              </ClipboardCopy>
              <ExpandableSection toggleText={`Chain (${c.chain.length} CA certificate${c.chain.length === 1 ? '' : 's'})`}>
                <CodeBlock>
                  <CodeBlockCode>{c.chain.join('')}</CodeBlockCode>
                </CodeBlock>
              </ExpandableSection>
            </CardBody>
          </Card>
        </Flex>
      ) : null}
      <RevokeModal
        realm={realm}
        certificate={revoking ? c : undefined}
        onClose={() => setRevoking(false)}
        onRevoked={() => cert.reload()}
      />
    </PageFrame>
  );
}
