/** Mocha root hooks: stop Keycloak, servers, replicas and databases after the run, whatever happened. */
import { stopAll } from './env.ts';
import { killReplicas } from './replica.ts';

export async function mochaGlobalTeardown(): Promise<void> {
  killReplicas();
  await stopAll();
}
