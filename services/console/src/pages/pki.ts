/** Pages for the certificate authority: API clients, certificates, policies, audit (README "Who may do what"). */
import type { Access, PageDef } from '../app/access.ts';
import { ApiClientDetailPage } from './pki/ApiClientDetail.tsx';
import { ApiClientsPage } from './pki/ApiClients.tsx';
import { AuditPage } from './pki/Audit.tsx';
import { CertificateDetailPage } from './pki/CertificateDetail.tsx';
import { CertificatesPage } from './pki/Certificates.tsx';
import { CertificateRequestsPage, EndEntitiesPage, IssuePage } from './pki/Issuance.tsx';
import { PoliciesPage, PolicyEditPage } from './pki/Policies.tsx';

const admin = (a: Access) => a.has('keyward-admin');
/** Requesters see their own certificates; revokers, approvers and admins all of the realm's. */
const certificates = (a: Access) => a.has('keyward-requester', 'keyward-revoker', 'keyward-approver', 'keyward-admin');
const anyRole = (a: Access) => a.operator || a.roles.size > 0;

export const pkiPages: PageDef[] = [
  {
    path: 'certificates',
    title: 'Certificates',
    nav: { group: 'Certificates', order: 10 },
    allowed: certificates,
    needs: 'keyward-requester, keyward-revoker, keyward-approver or keyward-admin',
    component: CertificatesPage,
  },
  {
    path: 'certificates/:serial',
    title: 'Certificate',
    allowed: certificates,
    needs: 'keyward-requester, keyward-revoker, keyward-approver or keyward-admin',
    component: CertificateDetailPage,
  },
  {
    path: 'issue',
    title: 'Issue certificate',
    nav: { group: 'Certificates', order: 20 },
    allowed: (a) => a.has('keyward-requester'),
    needs: 'keyward-requester',
    component: IssuePage,
  },
  {
    path: 'certificate-requests',
    title: 'Certificate requests',
    nav: { group: 'Certificates', order: 30 },
    allowed: (a) => a.has('keyward-requester', 'keyward-approver'),
    needs: 'keyward-requester or keyward-approver',
    component: CertificateRequestsPage,
  },
  {
    path: 'end-entities',
    title: 'End entities',
    nav: { group: 'Certificates', order: 40 },
    allowed: (a) => a.has('keyward-entity-admin'),
    needs: 'keyward-entity-admin',
    component: EndEntitiesPage,
  },
  {
    path: 'api-clients',
    title: 'API clients',
    nav: { group: 'Clients and policies', order: 10 },
    allowed: admin,
    needs: 'keyward-admin',
    component: ApiClientsPage,
  },
  {
    path: 'api-clients/:clientId',
    title: 'API client',
    allowed: admin,
    needs: 'keyward-admin',
    component: ApiClientDetailPage,
  },
  {
    path: 'policies',
    title: 'Certificate policies',
    nav: { group: 'Clients and policies', order: 20 },
    allowed: anyRole,
    needs: 'a keyward-* role',
    component: PoliciesPage,
  },
  {
    path: 'policies/:name',
    title: 'Certificate policy',
    allowed: anyRole,
    needs: 'a keyward-* role',
    component: PolicyEditPage,
  },
  {
    path: 'audit',
    title: 'Audit',
    nav: { group: 'Audit', order: 10 },
    allowed: admin,
    needs: 'keyward-admin',
    component: AuditPage,
  },
];
