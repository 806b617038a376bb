import { expect } from 'chai';
import { lint } from '../../scripts/lint.ts';

describe('architecture', () => {
  it('keeps the domain free of Express, the CLI, adapters and drivers; env reads in the config module; no focused tests', () => {
    expect(lint()).to.deep.equal([]);
  });
});
