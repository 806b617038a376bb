/** The shape of one `keyward` subcommand. */
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
