/** Pages for people and their automation credentials: my access, administration, approvals, devices. */
import type { PageDef } from '../app/access.ts';
import { AdministrationPage } from './identity/Administration.tsx';
import { ApprovalsPage, mayReviewChanges, maySeeRequests } from './identity/Approvals.tsx';
import { DevicesPage } from './identity/Devices.tsx';
import { MyAccessPage } from './identity/MyAccess.tsx';

export const identityPages: PageDef[] = [
  {
    path: 'my-access',
    title: 'My access',
    nav: { group: 'Access', order: 10 },
    allowed: () => true,
    needs: 'a login',
    component: MyAccessPage,
  },
  {
    path: 'administration',
    title: 'Administration',
    nav: { group: 'Administration', order: 10 },
    allowed: (a) => a.has('keyward-admin', 'keyward-user-admin'),
    needs: 'keyward-admin or keyward-user-admin',
    component: AdministrationPage,
  },
  {
    path: 'approvals',
    title: 'Approvals',
    nav: { group: 'Administration', order: 20 },
    allowed: (a) => mayReviewChanges(a) || maySeeRequests(a),
    needs: 'keyward-admin, keyward-user-admin, keyward-approver or keyward-requester',
    component: ApprovalsPage,
  },
  {
    path: 'devices',
    title: 'Devices',
    nav: { group: 'Administration', order: 30 },
    allowed: (a) => a.has('keyward-admin'),
    needs: 'keyward-admin',
    component: DevicesPage,
  },
];
