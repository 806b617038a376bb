/** The shape of one `keyward` subcommand. */
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help text shown by `keyward <command> --help`. */
  readonly help: string;
  run(argv: string[]): Promise<number | void>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** parseArgs with our usage errors. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Writes one line to stdout. */
export const out = (line = ''): void => {
  process.stdout.write(line + '\n');
};

/**
 * Asks before a destructive action: `--yes` skips the question; without a
 * terminal to ask on (scripts, CI) the action is refused unless `--yes` was given.
 * The answer must be `expected` typed out (a realm name, say), not just "y".
 */
export async function confirm(question: string, expected: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new UsageError(`${question} Pass --yes to confirm without a terminal.`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} Type ${expected} to confirm: `)).trim();
    if (answer !== expected) throw new UsageError('not confirmed; nothing was changed');
  } finally {
    rl.close();
  }
}
