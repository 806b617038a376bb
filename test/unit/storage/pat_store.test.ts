/** The PAT store's selection of tokens to delete (owner, admin and sweep revocations). */
import { expect } from 'chai';
import { patSelection } from '../../../services/keyward/src/storage/pat_store.ts';

describe('storage: PAT selection', () => {
  it("selects a user's tokens", () => {
    const c = patSelection({ realm: 'demo', userId: 'u1' })!;
    expect([c.where(), c.params]).to.deep.equal(['WHERE realm = $1 AND user_id = $2', ['demo', 'u1']]);
  });

  it('selects tokens by id or by username (either matches)', () => {
    const c = patSelection({ realm: 'demo', ids: ['a', 'b'], usernames: ['alice'] })!;
    expect(c.where()).to.equal('WHERE realm = $1 AND (id = ANY($2::text[]) OR username = ANY($3::text[]))');
    expect(c.params).to.deep.equal(['demo', ['a', 'b'], ['alice']]);
  });

  it('selects nothing for empty lists, even of one user', () => {
    expect(patSelection({ realm: 'demo', ids: [], usernames: [] })).to.equal(undefined);
    expect(patSelection({ realm: 'demo', userId: 'u1', ids: [] })).to.equal(undefined);
  });

  it('refuses to select a whole realm (misuse: TypeError)', () => {
    expect(() => patSelection({ realm: 'demo' })).to.throw(TypeError);
  });
});
