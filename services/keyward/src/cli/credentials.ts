/**
 * The CLI's stored login (`keyward login`): one file, mode 0600, under
 * $XDG_CONFIG_HOME/keyward (default ~/.config/keyward). Holds the user's
 * access and refresh tokens from the device authorization grant.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface StoredLogin {
  readonly keycloakUrl: string;
  readonly realm: string;
  readonly clientId: string;
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** epoch ms */
  readonly expiresAt: number;
  readonly username: string | undefined;
}

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'keyward', 'credentials.json');
}

export function readLogin(env: NodeJS.ProcessEnv = process.env): StoredLogin | undefined {
  const f = credentialsFile(env);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as StoredLogin;
  } catch {
    return undefined;
  }
}

export function writeLogin(login: StoredLogin, env: NodeJS.ProcessEnv = process.env): string {
  const f = credentialsFile(env);
  mkdirSync(dirname(f), { recursive: true, mode: 0o700 });
  writeFileSync(f, JSON.stringify(login, null, 2) + '\n', { mode: 0o600 });
  chmodSync(f, 0o600);
  return f;
}

export function removeLogin(env: NodeJS.ProcessEnv = process.env): boolean {
  const f = credentialsFile(env);
  if (!existsSync(f)) return false;
  rmSync(f);
  return true;
}
