import { readFileSync } from 'node:fs';
import { loadKek, openStore } from '../../compose.ts';
import { kekId, rewrap } from '../../ca/index.ts';
import { loadConfig } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/log.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

export const kek: Command = {
  name: 'kek',
  summary: 'Show the key-encryption key fingerprint, or rewrap CA keys under a new one',
  help: `
Usage:
  keyward kek id
  keyward kek rewrap --old-file FILE

CA private keys are sealed with their own data keys, which are wrapped by the
key-encryption key KEYWARD_KEK. To rotate it:
  1. generate a new key:        openssl rand -base64 32 > new.kek
  2. stop writers or accept that CAs created meanwhile use the old key, then run
     KEYWARD_KEK=$(cat new.kek) keyward kek rewrap --old-file old.kek
     (re-wraps every data key sealed under the old KEK; one transaction)
  3. restart the servers with KEYWARD_KEK set to the new key.
"id" prints the fingerprint that key blobs record, to tell which key is in use.`,
  async run(argv) {
    const { values, positionals } = parse(argv, { 'old-file': { type: 'string' } });
    const config = loadConfig();
    const log = createLogger({ level: 'warn' });
    const current = loadKek(config, log);
    if (positionals[0] === 'id') {
      out(kekId(current));
      return 0;
    }
    if (positionals[0] !== 'rewrap') throw new UsageError(`unknown action "${positionals[0] ?? ''}" (id, rewrap)`);
    if (!values['old-file']) throw new UsageError('rewrap needs --old-file with the previous key (base64)');
    const old = Buffer.from(readFileSync(values['old-file'], 'utf8').trim(), 'base64');
    if (old.length !== 32) throw new UsageError('the old key must be 32 bytes in base64');
    const store = await openStore(config, log);
    try {
      const n = await store.db.tx(async (q) => {
        const rows = (
          await q.query<{ id: string; key_blob: { kek: string } }>('SELECT id, key_blob FROM cas WHERE key_blob IS NOT NULL FOR UPDATE')
        ).rows;
        let count = 0;
        for (const r of rows) {
          if (r.key_blob.kek !== kekId(old)) continue;
          await q.query('UPDATE cas SET key_blob = $2 WHERE id = $1', [r.id, JSON.stringify(rewrap(old, current, r.key_blob))]);
          count++;
        }
        return count;
      });
      out(`re-wrapped ${n} CA key(s) from KEK ${kekId(old)} to ${kekId(current)}`);
    } finally {
      await store.stop();
    }
    return 0;
  },
};
