import { expect } from 'chai';
import { ERROR_CATALOGUE, KeywardError } from '../../../services/keyward/src/kernel/errors.ts';

describe('errors', () => {
  it('maps every code to an HTTP status and a title', () => {
    for (const [code, { status, title }] of Object.entries(ERROR_CATALOGUE)) {
      expect(code).to.match(/^[a-z_]+\.[a-z_]+$/);
      expect(status).to.be.within(400, 599);
      expect(title).to.be.a('string').and.not.equal('');
    }
  });

  it('carries code, status, detail and extras', () => {
    const e = new KeywardError('policy.san_not_allowed', 'DNS name x is outside the policy', { extras: { san: 'dns:x' } });
    expect(e).to.deep.include({ code: 'policy.san_not_allowed', status: 422, detail: 'DNS name x is outside the policy' });
    expect(e.extras).to.deep.equal({ san: 'dns:x' });
  });

  it('throws TypeError for a code outside the catalogue (misuse, not bad input)', () => {
    expect(() => new KeywardError('nope.nope' as never, 'x')).to.throw(TypeError);
  });
});
