/** What `keyward dev` sets up after start, and the example it prints. */
import type { Keyward } from '../../compose.ts';

export interface DemoContext {
  readonly keyward: Keyward;
  readonly keycloakUrl: string;
  readonly keywardUrl: string;
  readonly operator: { readonly clientId: string; readonly clientSecret: string };
  readonly progress: (line: string) => void;
}

/** Returns the lines to print: a ready-to-paste example of a real call. */
export async function afterStart(ctx: DemoContext): Promise<string[]> {
  const token = `curl -s -d grant_type=client_credentials -u ${ctx.operator.clientId}:${ctx.operator.clientSecret} ${ctx.keycloakUrl}/realms/master/protocol/openid-connect/token | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/'`;
  return [
    '',
    'Try it (operator client of the master realm):',
    `  TOKEN=$(${token})`,
    `  curl -s ${ctx.keywardUrl}/readyz`,
  ];
}
