import type { Command } from '../command.ts';
import { audit } from './audit.ts';
import { apiClients, policies, realms, whoami } from './api_clients.ts';
import { bootstrap } from './bootstrap.ts';
import { ca } from './ca.ts';
import { certificate } from './certificate.ts';
import { config } from './config.ts';
import { dev } from './dev.ts';
import { kek } from './kek.ts';
import { clientCertificates, login, logout } from './login.ts';
import { migrate } from './migrate.ts';
import { realmConfig } from './realm_config.ts';
import { serve } from './serve.ts';
import { pat } from './pat.ts';
import { settings } from './settings.ts';
import { approvals } from './approvals.ts';
import { devices } from './devices.ts';
import { requests } from './requests.ts';
import { endEntities } from './end_entities.ts';
import { acme } from './acme.ts';
import { webhooks } from './webhooks.ts';

export const commands: readonly Command[] = [
  serve,
  dev,
  bootstrap,
  migrate,
  config,
  realms,
  apiClients,
  policies,
  realmConfig,
  whoami,
  login,
  logout,
  clientCertificates,
  certificate,
  requests,
  endEntities,
  ca,
  kek,
  pat,
  settings,
  approvals,
  devices,
  audit,
  acme,
  webhooks,
];
