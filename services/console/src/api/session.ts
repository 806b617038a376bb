/** The backend-for-frontend's own endpoints (/console/auth/*) and /v1/whoami. */
import { api } from './client.ts';

export interface ConsoleSession {
  readonly authenticated: boolean;
  readonly realm?: string;
  readonly username?: string;
  readonly name?: string;
  readonly idleExpiresAt?: string;
  readonly expiresAt?: string;
  /** Keycloak's base URL, for "Open in Keycloak" links. */
  readonly keycloakUrl?: string;
}

export interface LoginRealm {
  readonly name: string;
  readonly displayName?: string;
}

export interface WhoAmI {
  readonly credential: string;
  readonly kind: 'client' | 'user';
  readonly realm: string;
  readonly subject: string;
  readonly clientId?: string;
  readonly username?: string;
  readonly operator: boolean;
  /** Effective Keyward roles per realm. */
  readonly roles: Record<string, string[]>;
}

export const sessionApi = {
  session: () => api.get<ConsoleSession>('/console/auth/session'),
  realms: () => api.get<{ realms: LoginRealm[] }>('/console/auth/realms'),
  whoami: () => api.get<WhoAmI>('/v1/whoami'),
  logout: () => api.post<{ endSessionUrl?: string }>('/console/auth/logout'),
  loginUrl: (realm: string, returnTo: string) =>
    `/console/auth/login?realm=${encodeURIComponent(realm)}&return=${encodeURIComponent(returnTo)}`,
};
