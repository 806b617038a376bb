import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CRLNumber, KeyUsage, Time } from '@peculiar/asn1-x509';
import { expect } from 'chai';
import {
  DerError,
  children,
  readOid,
  readRoot,
  readString,
  readTime,
  readTlv,
  readUnsignedHex,
} from '../../../services/keyward/src/ca/der/reader.ts';
import {
  generalizedTime,
  integer,
  integerFromHex,
  namedBitString,
  octetString,
  oid,
  sequence,
  time,
  tlv,
  utf8String,
} from '../../../services/keyward/src/ca/der/writer.ts';

const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');

describe('DER', () => {
  describe('writer', () => {
    it('writes definite lengths in their shortest form at every boundary', () => {
      for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 300_000]) {
        const ours = octetString(Buffer.alloc(n, 1));
        expect(hex(ours), `length ${n}`).to.equal(hex(AsnConvert.serialize(new OctetString(Buffer.alloc(n, 1)))));
      }
    });

    it('writes minimal positive INTEGERs with a sign octet only when needed', () => {
      const table: Array<[string, string]> = [
        ['00', '020100'],
        ['01', '020101'],
        ['7f', '02017f'],
        ['80', '02020080'],
        ['0080', '02020080'],
        ['000001', '020101'],
        ['4a'.repeat(16), `0210${'4a'.repeat(16)}`],
        ['ff'.repeat(20), `021500${'ff'.repeat(20)}`],
        ['abc', '02020abc'],
      ];
      for (const [input, expected] of table) expect(hex(integerFromHex(input)), input).to.equal(expected);
      for (const n of [0, 1, 127, 128, 255, 256, 65_537]) {
        expect(hex(integer(n)), String(n)).to.equal(hex(AsnConvert.serialize(new CRLNumber(n))));
      }
      expect(hex(integer(2n ** 100n))).to.equal('020d10' + '00'.repeat(12));
    });

    it('refuses what it cannot write with TypeError (misuse)', () => {
      expect(() => integerFromHex('XYZ')).to.throw(TypeError);
      expect(() => integer(-1)).to.throw(TypeError);
      expect(() => oid('1.2.x')).to.throw(TypeError);
      expect(() => oid('3.1')).to.throw(TypeError);
      expect(() => time(new Date(NaN))).to.throw(TypeError);
    });

    it('encodes object identifiers as the ASN.1 library does', () => {
      for (const id of [
        '2.5.29.17',
        '1.2.840.113549.1.1.11',
        '1.3.6.1.5.5.7.48.1.2',
        '2.999.1',
        '0.9.2342.19200300.100.1.25',
        '1.2.840.10045.3.1.7',
      ]) {
        const ours = oid(id);
        expect(readOid(ours, readRoot(ours, 0x06)), id).to.equal(id);
      }
      expect(hex(oid('2.5.29.17'))).to.equal('0603551d11');
      expect(hex(oid('2.999.1'))).to.equal('0603883701');
    });

    it('writes UTCTime through 2049 and GeneralizedTime from 2050, to the second (RFC 5280 §4.1.2.5)', () => {
      for (const iso of [
        '1950-01-01T00:00:00Z',
        '2026-03-01T12:34:56.789Z',
        '2049-12-31T23:59:59Z',
        '2050-01-01T00:00:00Z',
        '2126-02-03T04:05:06Z',
      ]) {
        const d = new Date(iso);
        expect(hex(time(d)), iso).to.equal(hex(AsnConvert.serialize(new Time(new Date(Math.floor(d.getTime() / 1000) * 1000)))));
      }
      expect(
        Buffer.from(generalizedTime(new Date('2026-03-01T12:34:56.789Z')))
          .subarray(2)
          .toString(),
      ).to.equal('20260301123456Z');
    });

    it('writes named bit strings without trailing zero bits, as KeyUsage needs (X.690 §11.2.2)', () => {
      const table: number[][] = [[0], [0, 2], [5, 6], [0, 1, 2, 3, 4, 5, 6, 7], [8], [4, 8], [7]];
      for (const bits of table) {
        const flags = bits.reduce((a, b) => a | (1 << b), 0);
        expect(hex(namedBitString(bits)), bits.join(',')).to.equal(hex(AsnConvert.serialize(new KeyUsage(flags))));
      }
    });
  });

  describe('reader', () => {
    const valid = sequence(oid('2.5.4.3'), utf8String('héllo'), tlv(0x02, Buffer.from([0x00, 0x80])));

    it('reads what the writer wrote', () => {
      const root = readRoot(valid, 0x30);
      const [id, text, n] = children(valid, root);
      expect(readOid(valid, id!)).to.equal('2.5.4.3');
      expect(readString(valid, text!)).to.equal('héllo');
      expect(readUnsignedHex(valid, n!)).to.equal('80');
      expect(readTime(time(new Date('2049-01-02T03:04:05Z')), readTlv(time(new Date('2049-01-02T03:04:05Z')), 0)).toISOString()).to.equal(
        '2049-01-02T03:04:05.000Z',
      );
    });

    const bad: Array<[string, Uint8Array]> = [
      ['an indefinite length (BER)', Buffer.from('3080020100' + '0000', 'hex')],
      ['a non-minimal long-form length', Buffer.from('30810302010' + '0', 'hex')],
      ['a length with a leading zero octet', Buffer.from('3082000302010' + '0', 'hex')],
      ['a truncated value', Buffer.from('300502010', 'hex')],
      ['trailing data', Buffer.from('3003020100ff', 'hex')],
      ['a multi-octet tag number', Buffer.from('1f8101' + '00', 'hex')],
      ['nothing', Buffer.alloc(0)],
    ];
    for (const [what, der] of bad) {
      it(`refuses ${what} with DerError`, () => {
        expect(() => {
          const r = readRoot(der, der[0] ?? 0x30);
          children(der, r);
        }).to.throw(DerError);
      });
    }

    it('refuses non-minimal and negative INTEGERs', () => {
      for (const h of ['02020001', '0202ff80', '020180', '0200']) {
        const b = Buffer.from(h, 'hex');
        expect(() => readUnsignedHex(b, readRoot(b, 0x02)), h).to.throw(DerError);
      }
    });

    it('refuses impossible times', () => {
      for (const s of ['260230120000Z', '261301120000Z', '2603011200Z', '260301120000+0100']) {
        const b = tlv(0x17, Buffer.from(s));
        expect(() => readTime(b, readRoot(b, 0x17)), s).to.throw(DerError);
      }
    });
  });
});
