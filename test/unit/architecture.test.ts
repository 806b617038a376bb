import { expect } from 'chai';
import { cyclesOf, lint } from '../../scripts/lint.ts';

const SRC = 'services/keyward/src';
/** A synthetic tree: each entry is a file of `services/keyward/src/` and the modules it imports. */
const tree = (files: Record<string, string[]>): Map<string, string> =>
  new Map(
    Object.entries(files).map(([path, imports]) => [
      `${SRC}/${path}`,
      imports.map((spec, i) => `import type { T${i} } from '${spec}';\n`).join(''),
    ]),
  );

describe('architecture', () => {
  it('keeps the domain free of Express, the CLI, adapters and drivers and of import cycles; env reads in the config module', () => {
    expect(lint()).to.deep.equal([]);
  });

  describe('the lint', () => {
    const acyclic = {
      'approvals/approvals.ts': ['../audit/event.ts', '../kernel/errors.ts'],
      'settings/protected_settings.ts': ['../approvals/approvals.ts'],
      'devices/device_onboarding.ts': ['../approvals/approvals.ts', '../settings/protected_settings.ts'],
      'audit/event.ts': [],
    };

    it('accepts a domain whose folders import each other without a cycle', () => {
      expect(lint({ files: tree(acyclic), tolerated: [] })).to.deep.equal([]);
    });

    it('refuses a deliberately added domain → domain cycle and names the imports that close it', () => {
      const files = tree({ ...acyclic, 'approvals/ports.ts': ['../devices/ports.ts'] });
      expect(lint({ files, tolerated: [] })).to.deep.equal([
        'domain import cycle approvals → devices → approvals (approvals/ports.ts imports ../devices/ports.ts; ' +
          'devices/device_onboarding.ts imports ../approvals/approvals.ts; in cycles together: approvals, devices, settings)',
      ]);
    });

    it('finds a cycle through three folders, re-exports and dynamic imports included', () => {
      const files = tree({
        'ca/index.ts': ['../issuance/ports.ts'],
        'issuance/ports.ts': ['../pat/token.ts'],
        'pat/token.ts': [],
      });
      files.set(`${SRC}/pat/token.ts`, "export { x } from '../ca/index.ts';\nconst later = () => import('../ca/index.ts');\n");
      expect(lint({ files, tolerated: [] })).to.deep.equal([
        'domain import cycle ca → issuance → pat → ca (ca/index.ts imports ../issuance/ports.ts; ' +
          'issuance/ports.ts imports ../pat/token.ts; pat/token.ts imports ../ca/index.ts)',
      ]);
    });

    it('leaves a tolerated edge out of the cycle check', () => {
      const files = tree({ 'authn/roles.ts': ['../provisioning/ports.ts'], 'provisioning/realms.ts': ['../authn/principal.ts'] });
      expect(lint({ files, tolerated: [] })).to.have.length(1);
      expect(lint({ files, tolerated: [['authn', 'provisioning']] })).to.deep.equal([]);
    });

    it('refuses adapters, the composition root and drivers in the domain, but not imports within a folder', () => {
      const files = tree({
        'settings/protected_settings.ts': ['../storage/settings_store.ts', './ports.ts'],
        'devices/ports.ts': ['../compose.ts', 'pg'],
        'storage/settings_store.ts': ['../settings/ports.ts', 'pg'],
      });
      expect(lint({ files, tolerated: [] })).to.deep.equal([
        `${SRC}/settings/protected_settings.ts: domain module imports ../storage/settings_store.ts`,
        `${SRC}/devices/ports.ts: domain module imports ../compose.ts`,
        `${SRC}/devices/ports.ts: domain module imports pg`,
      ]);
    });
  });

  describe('cyclesOf', () => {
    const graph = (o: Record<string, string[]>) => new Map(Object.entries(o).map(([k, v]) => [k, new Set(v)]));

    it('gives one shortest cycle per strongly connected component, from its smallest folder', () => {
      expect(cyclesOf(graph({ a: ['b'], b: ['c', 'a'], c: ['a'], d: ['e'], e: ['d'], f: ['a'] }))).to.deep.equal([
        { folders: ['a', 'b', 'c'], cycle: ['a', 'b', 'a'] },
        { folders: ['d', 'e'], cycle: ['d', 'e', 'd'] },
      ]);
    });

    it('finds none in a graph without cycles', () => {
      expect(cyclesOf(graph({ a: ['b', 'c'], b: ['c'], c: [] }))).to.deep.equal([]);
    });
  });
});
