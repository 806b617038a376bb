import { AuditLog } from '../../audit/audit_log.ts';
import { openStore } from '../../compose.ts';
import { systemClock } from '../../kernel/clock.ts';
import { loadConfig } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/log.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

export const audit: Command = {
  name: 'audit',
  summary: 'Verify the audit trail\'s hash chain',
  help: `
Usage: keyward audit verify [--seal] [--head VALUE]

Recomputes the hash chain of the audit trail in KEYWARD_DATABASE_URL, seal by
seal from the first event, and reports it:

  exit 0  the chain is whole: prints how many events are sealed, how many
          still wait for the sealer (a running server seals about once a
          second) and the chain's head, a SHA-256 value to record elsewhere:
          a later head that does not descend from it means history was rewritten
  exit 1  the chain is broken: prints the seq of the first event that was
          edited, deleted from a sealed range or added to one

  --seal        seal the waiting events first (as a running server does)
  --head VALUE  a head printed earlier: also check that the chain still passes
                through it (exit 1 when it does not)`,
  async run(argv) {
    const { values, positionals } = parse(argv, { seal: { type: 'boolean' }, head: { type: 'string' } });
    if (positionals[0] !== 'verify' || positionals.length !== 1) throw new UsageError('usage: keyward audit verify [--seal] [--head VALUE]');
    if (values.head !== undefined && !/^[0-9a-f]{64}$/.test(values.head)) throw new UsageError('--head takes a head printed by keyward audit verify (64 hexadecimal digits)');
    const config = loadConfig();
    const log = createLogger({ level: config.logLevel });
    const store = await openStore(config, log);
    try {
      const trail = new AuditLog(systemClock);
      if (values.seal) out(`Sealed ${await trail.seal(store.db)} event(s)`);
      const broken = await trail.verify(store.db);
      const { sealed, unsealed, head } = await trail.status(store.db);
      if (broken !== undefined) {
        process.stderr.write(`The audit chain is BROKEN at event seq ${broken} (edited, deleted from its sealed range, or added to it)\n`);
        return 1;
      }
      if (values.head !== undefined && !(await trail.passesThrough(store.db, values.head))) {
        process.stderr.write(`The audit chain does NOT pass through head ${values.head}: the history up to it was rewritten\n`);
        return 1;
      }
      out(`The audit chain is whole: ${sealed} sealed event(s), ${unsealed} not yet sealed; head ${head}`);
      return 0;
    } finally {
      await store.stop();
    }
  },
};
