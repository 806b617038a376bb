/**
 * The development environment harness used by `keyward dev` (scripts/up), the
 * integration tests and the benchmarks: a real Keycloak, a real PostgreSQL,
 * a supported JDK, free ports.
 */
export {
  startKeycloak,
  startKeycloakDistribution,
  prepareDistribution,
  cacheDir,
  keycloakVersion,
  DEFAULT_KEYCLOAK_VERSION,
  type KeycloakHandle,
  type StartKeycloakOptions,
  type PreparedDistribution,
  httpsArguments,
  type KeycloakHttpsOptions,
} from './keycloak.ts';
export {
  startEmbeddedPostgres,
  testDatabase,
  clusterDir,
  type RunningPostgres,
  type EmbeddedPostgresOptions,
  type TestDatabase,
} from './postgres.ts';
export { findJava, javaVersionOf, parseJavaVersion, parseReleaseFile, SUPPORTED_JAVA, JVM_DIRS, type JavaHome } from './java.ts';
export { freePort, assertPortFree } from './ports.ts';
