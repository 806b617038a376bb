/**
 * `keyward` — the command line. Each subcommand lives in commands/<name>.ts.
 * Exit codes: 0 success, 1 failure, 2 usage or configuration error.
 */
import { ConfigError } from '../kernel/config.ts';
import { KeywardError } from '../kernel/errors.ts';
import { VERSION } from '../version.ts';
import { UsageError, type Command } from './command.ts';
import { commands } from './commands/index.ts';

function usage(list: readonly Command[]): string {
  const width = Math.max(...list.map((c) => c.name.length));
  return [
    `keyward ${VERSION} — certificate lifecycle and API-client control plane for Keycloak`,
    '',
    'Usage: keyward <command> [options]     (keyward <command> --help for details)',
    '',
    'Commands:',
    ...list.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage(commands) + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`keyward: unknown command "${name}"\n\n${usage(commands)}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.trim() + '\n');
    return 0;
  }
  try {
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`keyward ${name}: ${err.message}\n(see keyward ${name} --help)\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`keyward: configuration error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof KeywardError) {
      process.stderr.write(`keyward ${name}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`keyward ${name}: ${e?.message ?? String(err)}\n`);
    if (process.env.KEYWARD_LOG_LEVEL === 'debug' && e?.stack) process.stderr.write(e.stack + '\n');
    return 1;
  }
}

if (import.meta.main) {
  // Exit explicitly: libraries with exit hooks must not turn a failure into 0.
  process.exit(await main(process.argv.slice(2)));
}
