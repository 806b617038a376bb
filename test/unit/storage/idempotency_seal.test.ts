import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { openAnswer, sealAnswer } from '../../../services/keyward/src/storage/idempotency_store.ts';

describe('stored idempotent answers', () => {
  const kek = randomBytes(32);
  const answer = { clientId: 'app', secret: 'the-secret-shown-once' };

  it('seals an answer so that neither the secret nor the body is readable, and opens it again', () => {
    const sealed = sealAnswer(kek, 'realm/realm/sub\0key', answer);
    const text = JSON.stringify(sealed);
    expect(text).to.not.include('the-secret-shown-once');
    expect(text).to.not.include('clientId');
    expect(openAnswer(kek, 'realm/realm/sub\0key', sealed)).to.deep.equal(answer);
  });

  it('refuses to open an answer moved to another row (scope and key are additional data)', () => {
    const sealed = sealAnswer(kek, 'realm/realm/alice\0key', answer);
    expect(() => openAnswer(kek, 'realm/realm/mallory\0key', sealed)).to.throw(TypeError, /failed authentication/);
  });

  it('names both key-encryption keys when the answer was sealed under another one', () => {
    const sealed = sealAnswer(randomBytes(32), 'a\0k', answer);
    expect(() => openAnswer(kek, 'a\0k', sealed)).to.throw(
      TypeError,
      /sealed under KEK [0-9a-f]{16}, but the configured .* is [0-9a-f]{16}/,
    );
  });

  it('returns an answer stored in clear by an earlier version as it is', () => {
    expect(openAnswer(kek, 'a\0k', { kind: 'issued' })).to.deep.equal({ kind: 'issued' });
  });
});
