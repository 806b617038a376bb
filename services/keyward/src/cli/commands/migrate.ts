import { openStore } from '../../compose.ts';
import { loadConfig } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/log.ts';
import { migrate as runMigrations } from '../../storage/database.ts';
import { out, parse, type Command } from '../command.ts';

export const migrate: Command = {
  name: 'migrate',
  summary: 'Apply pending database migrations',
  help: `
Usage: keyward migrate

Applies the pending forward-only migrations to KEYWARD_DATABASE_URL (serve does
this at start too; several replicas starting at once apply each exactly once).`,
  async run(argv) {
    parse(argv, {}, false);
    const config = loadConfig();
    const log = createLogger({ level: config.logLevel });
    const store = await openStore(config, log);
    try {
      const applied = await runMigrations(store.db, log);
      out(applied.length ? `Applied ${applied.join(', ')}` : 'The database is up to date');
    } finally {
      await store.stop();
    }
    return 0;
  },
};
