/** `keyward audit`: verify the audit trail's hash chain (in the database) and read its events (through the API). */
import { AuditLog } from '../../storage/audit_log.ts';
import { openStore } from '../../compose.ts';
import { systemClock } from '../../kernel/clock.ts';
import { loadConfig } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/log.ts';
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

const USAGE =
  'usage: keyward audit verify [--seal] [--head VALUE] | ' +
  'keyward audit events [--realm R] [--action A] [--target T] [--since T] [--until T] [--first N] [--max N] [--json]';

function line(e: any): string {
  const who = e.actor ? `${e.actor.name ?? e.actor.id}${e.actor.realm ? `@${e.actor.realm}` : ''} (${e.actor.kind})` : '—';
  return `${e.at}  ${e.realm ?? '—'}  ${e.action}  ${e.target ?? '—'}  by ${who}${e.sealed ? '' : '  (not yet sealed)'}`;
}

export const audit: Command = {
  name: 'audit',
  summary: "Verify the audit trail's hash chain, or read its events",
  help: `
Usage:
  keyward audit verify [--seal] [--head VALUE]
  keyward audit events [--realm R] [--action A] [--target T] [--since T] [--until T] [--first N] [--max N] [--json]

verify recomputes the hash chain of the audit trail in KEYWARD_DATABASE_URL,
seal by seal from the first event, and reports it:

  exit 0  the chain is whole: prints how many events are sealed, how many
          still wait for the sealer (a running server seals about once a
          second) and the chain's head, a SHA-256 value to record elsewhere
  exit 1  the chain is broken: prints the seq of the first event that was
          edited, deleted from a sealed range or added to one

  --seal        seal the waiting events first (as a running server does)
  --head VALUE  a head printed earlier: also check that the chain still passes
                through it (exit 1 when it does not)

events reads the trail through the API (KEYWARD_URL, as the other API
commands), newest first: a realm's events (keyward-admin of the realm), or
with no --realm every event (operators). --action takes an action
(certificate.issued) or a noun (certificate); --since and --until take ISO
8601 dates or date-times; --max is the page size (default 100, at most 500).`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      seal: { type: 'boolean' },
      head: { type: 'string' },
      realm: { type: 'string' },
      action: { type: 'string' },
      target: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      first: { type: 'string' },
      max: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError(USAGE);
    if (positionals[0] === 'events') {
      const query = new URLSearchParams();
      for (const k of ['action', 'target', 'since', 'until', 'first', 'max'] as const) if (values[k] !== undefined) query.set(k, values[k]);
      const path =
        `${values.realm ? `/v1/realms/${encodeURIComponent(values.realm)}` : '/v1'}/audit-events` + (query.size ? `?${query}` : '');
      const r = await apiFromEnv().request('GET', path);
      if (values.json) out(JSON.stringify(r.items, null, 2));
      else if (r.items.length === 0) out('no audit events');
      else for (const e of r.items) out(line(e));
      return 0;
    }
    if (positionals[0] !== 'verify') throw new UsageError(USAGE);
    if (values.head !== undefined && !/^[0-9a-f]{64}$/.test(values.head))
      throw new UsageError('--head takes a head printed by keyward audit verify (64 hexadecimal digits)');
    const config = loadConfig();
    const log = createLogger({ level: config.logLevel });
    const store = await openStore(config, log);
    try {
      const trail = new AuditLog(systemClock);
      if (values.seal) out(`Sealed ${await trail.seal(store.db)} event(s)`);
      const broken = await trail.verify(store.db);
      if (broken !== undefined) {
        process.stderr.write(`The audit chain is BROKEN at event seq ${broken} (edited, deleted from its sealed range, or added to it)\n`);
        return 1;
      }
      if (values.head !== undefined && !(await trail.passesThrough(store.db, values.head))) {
        process.stderr.write(`The audit chain does NOT pass through head ${values.head}: the history up to it was rewritten\n`);
        return 1;
      }
      const { sealed, unsealed, head } = await trail.status(store.db);
      out(`The audit chain is whole: ${sealed} sealed event(s), ${unsealed} not yet sealed; head ${head}`);
      return 0;
    } finally {
      await store.stop();
    }
  },
};
