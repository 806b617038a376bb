import { expect } from 'chai';
import { createLogger, redact } from '../../../services/keyward/src/kernel/log.ts';

describe('log', () => {
  it('redacts secrets by key name and by shape', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    const out = redact({
      clientSecret: 's3cr3t',
      password: 'p',
      nested: { authorization: `Bearer ${jwt}` },
      msg: `token ${jwt} and kwp_abc_def`,
      ok: 'visible',
      enabled: true,
    });
    expect(out).to.deep.equal({
      clientSecret: '[redacted]',
      password: '[redacted]',
      nested: { authorization: '[redacted]' },
      msg: 'token [redacted] and [redacted]',
      ok: 'visible',
      enabled: true,
    });
  });

  it('redacts PEM private keys inside errors', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----';
    const out = redact(new Error(`bad key ${pem}`)) as { message: string };
    expect(out.message).to.equal('bad key [redacted]');
  });

  it('writes one JSON object per line at or above its level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.info('hidden');
    log.warn('shown', { client_secret: 'x' });
    expect(lines).to.have.length(1);
    expect(JSON.parse(lines[0]!)).to.deep.include({ level: 'warn', msg: 'shown', client_secret: '[redacted]' });
  });
});
