/** PEM (RFC 7468) ↔ DER. */

/** DER → PEM with 64-character lines and a trailing newline. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every PEM block whose label matches, in order, as DER. Text around the
 * blocks (openssl's `-text` output, comments) is ignored; a block with bad
 * base64 is returned as undefined so callers can report it.
 */
export function pemBlocks(text: string, label: RegExp): (Uint8Array | undefined)[] {
  const re = new RegExp(`-----BEGIN (${label.source})-----([\\s\\S]*?)-----END \\1-----`, 'g');
  const out: (Uint8Array | undefined)[] = [];
  for (const m of text.matchAll(re)) {
    const body = m[2]!.replace(/[\r\n\t ]+/g, '');
    out.push(body.length % 4 === 0 && BASE64.test(body) ? new Uint8Array(Buffer.from(body, 'base64')) : undefined);
  }
  return out;
}

/** The first PEM block with a matching label, or undefined. */
export function fromPem(text: string, label: RegExp): Uint8Array | undefined {
  return pemBlocks(text, label)[0];
}

/**
 * The certificates of a PEM bundle, each as its own PEM text ending in a
 * newline, in order; text between them is dropped.
 * @example splitPemCertificates(`${issuingPem}${rootPem}`) // → [issuingPem, rootPem]
 */
export function splitPemCertificates(text: string): string[] {
  return (
    text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)?.map((p) => (p.endsWith('\n') ? p : p + '\n')) ?? []
  );
}
