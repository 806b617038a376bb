/**
 * ensureDebianTool: where a real client's binary comes from — the variable
 * that names it, else PATH, else Debian's package — and the one sentence a
 * machine without either gets.
 */
import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianTool } from '../../support/debian.ts';

describe('test support: ensureDebianTool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-debian-'));
  const tool = { binary: 'keyward-test-absent-tool', package: 'keyward-test-pkg', variable: 'KEYWARD_TEST_ABSENT_TOOL' };
  const saved = { path: process.env.PATH, named: process.env[tool.variable] };
  afterEach(() => {
    process.env.PATH = saved.path;
    if (saved.named === undefined) delete process.env[tool.variable];
    else process.env[tool.variable] = saved.named;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the binary the variable names, and refuses one that does not exist', () => {
    const bin = join(dir, 'named');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o755);
    process.env[tool.variable] = bin;
    expect(ensureDebianTool(tool, { root: false, aptGet: undefined })).to.equal(bin);
    process.env[tool.variable] = join(dir, 'missing');
    expect(() => ensureDebianTool(tool)).to.throw(`KEYWARD_TEST_ABSENT_TOOL names ${join(dir, 'missing')}, which does not exist`);
  });

  it('finds an executable on PATH before thinking of apt-get', () => {
    const bin = join(dir, 'keyward-test-on-path');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o755);
    process.env.PATH = `${dir}:${saved.path}`;
    expect(ensureDebianTool({ ...tool, binary: 'keyward-test-on-path' }, { root: false, aptGet: undefined })).to.equal(bin);
  });

  it('fails with one sentence naming the package and the variable when it cannot install', () => {
    for (const host of [
      { root: false, aptGet: '/usr/bin/apt-get' },
      { root: true, aptGet: undefined },
    ]) {
      expect(() => ensureDebianTool({ ...tool, purpose: 'The ACME client tests' }, host)).to.throw(
        "The ACME client tests use keyward-test-absent-tool, which is not installed: install Debian's keyward-test-pkg package " +
          '(`sudo apt-get install --no-install-recommends keyward-test-pkg`) or set KEYWARD_TEST_ABSENT_TOOL to a ' +
          'keyward-test-absent-tool binary.',
      );
    }
  });
});
