import { loadConfig, settingsMarkdown } from '../../kernel/config.ts';
import { redact } from '../../kernel/log.ts';
import { out, parse, type Command } from '../command.ts';

export const config: Command = {
  name: 'config',
  summary: 'Show or check the configuration',
  help: `
Usage: keyward config [--markdown | --check]

Without options prints the effective configuration (secrets redacted).
  --markdown   print the table of every setting with its default
  --check      only validate; exit 2 with a message naming the variable if invalid`,
  async run(argv) {
    const { values } = parse(argv, { markdown: { type: 'boolean' }, check: { type: 'boolean' } }, false);
    if (values.markdown) {
      out(settingsMarkdown());
      return 0;
    }
    const cfg = loadConfig();
    if (values.check) {
      out('configuration is valid');
      return 0;
    }
    const shown = redact({ ...cfg, databaseUrl: cfg.databaseUrl?.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:[redacted]@') });
    out(JSON.stringify(shown, null, 2));
    return 0;
  },
};
