import { expect } from 'chai';
import { backoffMs } from '../../../services/keyward/src/events/delivery.ts';
import { allowedNetworks, checkDestination } from '../../../services/keyward/src/events/destination.ts';
import { cloudEvent } from '../../../services/keyward/src/events/cloudevents.ts';
import { generateSecret, secretKey, signature, verify } from '../../../services/keyward/src/events/standard_webhooks.ts';
import { inventoryLines } from '../../../services/keyward/src/http/inventory.ts';
import type { CertificateRecord } from '../../../services/keyward/src/issuance/ports.ts';
import { isKeywardError } from '../../../services/keyward/src/kernel/errors.ts';

describe('events', () => {
  describe('Standard Webhooks signatures', () => {
    // The test vector published with the Standard Webhooks reference libraries.
    const vector = {
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };

    it('reproduces the published test vector', () => {
      expect(signature(vector.secret, vector.id, vector.timestamp, vector.body)).to.equal(vector.signature);
    });

    it('verifies any one of several space-separated signatures, within the timestamp tolerance only', () => {
      const headers = { id: vector.id, timestamp: String(vector.timestamp), signature: `v1,bm9wZQ== ${vector.signature}` };
      expect(verify(vector.secret, headers, vector.body, vector.timestamp * 1000)).to.equal(true);
      expect(verify(vector.secret, headers, `${vector.body} `, vector.timestamp * 1000)).to.equal(false);
      expect(verify(vector.secret, headers, vector.body, (vector.timestamp + 301) * 1000)).to.equal(false);
    });

    it('generates whsec_ secrets of 32 random bytes', () => {
      const s = generateSecret();
      expect(s).to.match(/^whsec_/);
      expect(secretKey(s)).to.have.length(32);
      expect(generateSecret()).to.not.equal(s);
    });

    it('refuses secrets outside 24 to 64 bytes, or without the prefix, with webhook.secret_invalid (never echoing them)', () => {
      for (const s of ['whsec_c2hvcnQ=', `whsec_${Buffer.alloc(65).toString('base64')}`, 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_!!']) {
        let err: unknown;
        try {
          secretKey(s);
        } catch (e) {
          err = e;
        }
        expect(isKeywardError(err, 'webhook.secret_invalid'), s).to.equal(true);
        expect((err as Error).message).to.not.include(s.slice(6));
      }
    });
  });

  describe('allowed networks', () => {
    const allowed = allowedNetworks(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);

    it('matches addresses inside the CIDR ranges, IPv4-mapped IPv6 as IPv4', () => {
      expect(['10.1.2.3', '192.168.1.7', 'fd12::1', '::ffff:10.0.0.1'].map(allowed)).to.deep.equal([true, true, true, true]);
      expect(['11.0.0.1', '192.168.1.8', '127.0.0.1', '::1', '169.254.169.254', 'not-an-ip'].map(allowed)).to.deep.equal([
        false,
        false,
        false,
        false,
        false,
        false,
      ]);
    });

    it('refuses a destination outside them, and URLs that are not http(s) or carry credentials', async () => {
      const code = async (url: string) => {
        try {
          await checkDestination(url, allowed);
          return 'ok';
        } catch (e) {
          return (e as { code?: string }).code;
        }
      };
      expect(await code('http://10.9.9.9:8080/hook')).to.equal('ok');
      expect(await code('http://127.0.0.1/hook')).to.equal('webhook.destination_not_allowed');
      expect(await code('http://localhost/hook')).to.equal('webhook.destination_not_allowed');
      expect(await code('https://[::1]/hook')).to.equal('webhook.destination_not_allowed');
      expect(await code('ftp://10.0.0.1/x')).to.equal('webhook.url_invalid');
      expect(await code('http://user:pw@10.0.0.1/x')).to.equal('webhook.url_invalid');
      expect(await code('/relative')).to.equal('webhook.url_invalid');
    });
  });

  it('backs off exponentially with ±20 % jitter, up to the cap', () => {
    const policy = { baseMs: 1000, maxMs: 10_000, maxAttempts: 10 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(policy, n, () => 0.5))).to.deep.equal([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(backoffMs(policy, 2, () => 0)).to.equal(1600);
    expect(backoffMs(policy, 2, () => 1)).to.equal(2400);
    expect(backoffMs(policy, 9, () => 1)).to.equal(10_000);
  });

  it('writes CloudEvents 1.0 in the structured JSON mode', () => {
    const at = new Date('2026-12-03T10:00:00Z');
    const e = JSON.parse(
      cloudEvent('https://keyward.example/', { id: 'e1', type: 'certificate.issued', realm: 'de mo', subject: 'ab', data: { a: 1 }, at }),
    );
    expect(e).to.deep.equal({
      specversion: '1.0',
      id: 'e1',
      source: 'https://keyward.example/v1/realms/de%20mo',
      type: 'io.keyward.certificate.issued',
      time: '2026-12-03T10:00:00.000Z',
      subject: 'ab',
      datacontenttype: 'application/json',
      data: { a: 1 },
    });
  });

  it('quotes CSV fields per RFC 4180 and defuses spreadsheet formulas', () => {
    const c = {
      serial: 'ab',
      subject: 'CN=a, O="Q"',
      sans: ['dns:a.example', 'ip:10.0.0.1'],
      policy: '=cmd',
      status: 'valid',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2026-02-01T00:00:00Z'),
      requester: { kind: 'client:bearer', realm: 'r', id: 'id', name: 'svc' },
      keyType: 'EC-P256',
      createdAt: new Date('2026-01-01T00:00:00Z'),
    } as unknown as CertificateRecord;
    const line = inventoryLines('text/csv', [c], new Date('2026-03-01T00:00:00Z'));
    expect(line).to.equal(
      'ab,"CN=a, O=""Q""",dns:a.example ip:10.0.0.1,\'=cmd,expired,2026-01-01T00:00:00.000Z,2026-02-01T00:00:00.000Z,,,' +
        'client:bearer,id,svc,,,EC-P256,2026-01-01T00:00:00.000Z\r\n',
    );
    expect(JSON.parse(inventoryLines('application/x-ndjson', [c], new Date('2026-01-15T00:00:00Z')))).to.include({
      status: 'valid',
      policy: '=cmd',
    });
  });
});
