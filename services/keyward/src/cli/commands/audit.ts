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
Usage: keyward audit verify [--seal]

Recomputes the hash chain of the audit trail in KEYWARD_DATABASE_URL, from its
first sealed event to the recorded head, and reports it:

  exit 0  the chain is whole (prints how many events are sealed and how many
          still wait for the sealer, which links them about once a second)
  exit 1  the chain is broken: prints the seq of the first event that was
          edited, deleted from the middle of the chain or forked, or "head"
          when events were removed from its end

  --seal  link the unsealed events first (as a running server does)`,
  async run(argv) {
    const { values, positionals } = parse(argv, { seal: { type: 'boolean' } });
    if (positionals[0] !== 'verify' || positionals.length !== 1) throw new UsageError('usage: keyward audit verify [--seal]');
    const config = loadConfig();
    const log = createLogger({ level: config.logLevel });
    const store = await openStore(config, log);
    try {
      const trail = new AuditLog(systemClock);
      if (values.seal) out(`Sealed ${await trail.seal(store.db)} event(s)`);
      const broken = await trail.verify(store.db);
      const { sealed, unsealed } = await trail.counts(store.db);
      if (broken !== undefined) {
        process.stderr.write(broken === 'head'
          ? `The audit chain is BROKEN: it ends short of its recorded head (sealed events were removed from its end)\n`
          : `The audit chain is BROKEN at event seq ${broken} (edited, forked, or its predecessor was removed)\n`);
        return 1;
      }
      out(`The audit chain is whole: ${sealed} sealed event(s), ${unsealed} not yet sealed`);
      return 0;
    } finally {
      await store.stop();
    }
  },
};
