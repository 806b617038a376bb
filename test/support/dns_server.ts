/**
 * A small authoritative DNS server over UDP on loopback for ACME tests
 * (RFC 1035 messages): every A question is answered with one address
 * (127.0.0.1 unless told otherwise), AAAA with no data, TXT from a table the
 * test fills (dns-01, RFC 8555 §8.4). Point Keyward at it with
 * KEYWARD_ACME_DNS_SERVER=127.0.0.1:<port>.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface TestDnsServer {
  readonly port: number;
  /** `host:port` for KEYWARD_ACME_DNS_SERVER. */
  readonly address: string;
  /** TXT records by name (lowercase, no trailing dot). */
  readonly txt: Map<string, string[]>;
  /** A records by name; names not listed answer `defaultA`. */
  readonly a: Map<string, string>;
  /** The names asked, in order (`TYPE name`). */
  readonly queries: string[];
  close(): Promise<void>;
}

const TYPE = { A: 1, TXT: 16, AAAA: 28 } as const;

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i]! !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

function record(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the question's name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(0, 6); // TTL 0: tests change records
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function txtData(value: string): Buffer {
  const parts: Buffer[] = [];
  const bytes = Buffer.from(value, 'utf8');
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
    if (bytes.length === 0) break;
  }
  return Buffer.concat(parts);
}

export async function startDnsServer(options: { defaultA?: string } = {}): Promise<TestDnsServer> {
  const defaultA = options.defaultA ?? '127.0.0.1';
  const txt = new Map<string, string[]>();
  const a = new Map<string, string>();
  const queries: string[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, peer) => {
    if (msg.length < 17) return;
    const { name, end } = readName(msg, 12);
    const qtype = msg.readUInt16BE(end);
    queries.push(`${qtype === TYPE.A ? 'A' : qtype === TYPE.TXT ? 'TXT' : qtype === TYPE.AAAA ? 'AAAA' : qtype} ${name}`);
    const answers: Buffer[] = [];
    if (qtype === TYPE.A) answers.push(record(TYPE.A, Buffer.from((a.get(name) ?? defaultA).split('.').map(Number))));
    if (qtype === TYPE.TXT) for (const v of txt.get(name) ?? []) answers.push(record(TYPE.TXT, txtData(v)));
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    const rd = msg[2]! & 0x01;
    header.writeUInt16BE(0x8400 | (rd << 8) | 0x0080, 2); // QR, AA, RD as asked, RA; NOERROR
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const question = msg.subarray(12, end + 4);
    socket.send(Buffer.concat([header, question, ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = socket.address().port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    txt,
    a,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
