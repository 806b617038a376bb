/**
 * Structured JSON logs, one object per line on stderr, secrets redacted.
 *
 * Redaction is by key name (anything that looks like a token, secret, password,
 * key or authorization header) and by value shape (JWTs, PATs, PEM private
 * keys), so a careless `log.info('x', { body })` still never leaks a credential
 * (secrets stay secret: logs never contain tokens, keys or secrets).
 */
import type { LogLevel } from './config.ts';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /(pass(word)?|secret|token|authorization|cookie|private|^key$|kek|credential|pem)/i;
const SECRET_VALUE = [
  /eyJ[\w-]+\.[\w-]+\.[\w-]*/g, // JWT
  /kwp_[A-Za-z0-9_-]+/g, // personal access token
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

/** Returns a copy of `value` with secrets replaced by "[redacted]". */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (typeof value === 'string') return SECRET_VALUE.reduce((s, re) => s.replace(re, '[redacted]'), value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redact(value.message, depth + 1) };
    if ('code' in value) out.code = (value as { code: unknown }).code;
    if (value.stack) out.stack = redact(value.stack, depth + 1);
    if (value.cause !== undefined) out.cause = redact(value.cause, depth + 1);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = SECRET_KEY.test(k) && v !== undefined && typeof v !== 'boolean' ? '[redacted]' : redact(v, depth + 1);
    return out;
  }
  return value;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = options.base ?? {};
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const entry = { time: new Date().toISOString(), level, msg: redact(msg), ...(redact({ ...base, ...fields }) as object) };
    write(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests, quiet CLI commands). */
export const silentLogger: Logger = createLogger({ write: () => {} });
