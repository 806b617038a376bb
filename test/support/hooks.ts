/** Mocha root hooks: stop Keycloak, servers and databases after the run, whatever happened. */
import { stopAll } from './env.ts';

export async function mochaGlobalTeardown(): Promise<void> {
  await stopAll();
}
