export { startKeycloak, prepareDistribution, cacheDir, DEFAULT_KEYCLOAK_VERSION, type KeycloakHandle, type StartKeycloakOptions } from './keycloak.ts';
export { startEmbeddedPostgres, testDatabase, clusterDir, type RunningPostgres, type TestDatabase } from './postgres.ts';
export { findJava, parseJavaVersion, SUPPORTED_JAVA } from './java.ts';
export { freePort, assertPortFree } from './ports.ts';
