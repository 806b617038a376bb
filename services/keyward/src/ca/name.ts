/**
 * Distinguished names as Keyward handles them: an ordered list of
 * attributes, one per RDN, with the short names policies use
 * (`CN`, `O`, …) or the dotted OID of any other attribute type.
 *
 * Encoding follows RFC 5280 §4.1.2.4 and Appendix A: countryName and
 * serialNumber as PrintableString, emailAddress and domainComponent as
 * IA5String, everything else as UTF8String (the SHOULD of §4.1.2.6).
 */
import { DerError, children, expectTag, readOid, readString, type Tlv } from './der/reader.ts';
import { ia5String, oid, printableString, sequence, set, tlvOf, utf8String, TAG } from './der/writer.ts';

export interface NameAttribute {
  /** `CN`, `O`, `OU`, `C`, `ST`, `L`, `serialNumber`, `emailAddress`, `DC`, or a dotted OID. */
  readonly type: string;
  readonly value: string;
}

/** Short name → OID for the attributes policies can name. */
export const NAME_ATTRIBUTE_OIDS: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  serialNumber: '2.5.4.5',
  emailAddress: '1.2.840.113549.1.9.1',
  DC: '0.9.2342.19200300.100.1.25',
};
const NAMES_BY_OID: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(NAME_ATTRIBUTE_OIDS).map(([k, v]) => [v, k]));

/** RFC 5280 Appendix A upper bounds, in characters. */
export const NAME_UPPER_BOUNDS: Readonly<Record<string, number>> = {
  CN: 64,
  O: 64,
  OU: 64,
  C: 2,
  ST: 128,
  L: 128,
  serialNumber: 64,
  emailAddress: 255,
  DC: 63,
};

const DOTTED = /^[0-2](\.(0|[1-9]\d*))+$/;

/** The OID of an attribute type (short name or dotted); TypeError when unknown. */
export function attributeOid(type: string): string {
  const known = NAME_ATTRIBUTE_OIDS[type];
  if (known) return known;
  if (DOTTED.test(type)) return type;
  throw new TypeError(`unknown name attribute type ${type}`);
}

/** Why a value cannot be encoded for its attribute type, or undefined when it can. */
export function attributeValueProblem(a: NameAttribute): string | undefined {
  if (a.value.length === 0) return 'is empty';
  const max = NAME_UPPER_BOUNDS[a.type];
  if (max !== undefined && [...a.value].length > max) return `is longer than ${max} characters`;
  if (a.type === 'C' && !/^[A-Z]{2}$/.test(a.value)) return 'is not a two-letter ISO 3166 country code';
  if (a.type === 'serialNumber' && !/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(a.value)) return 'is not a PrintableString';
  if ((a.type === 'emailAddress' || a.type === 'DC') && !/^[\x20-\x7e]*$/.test(a.value)) return 'is not ASCII';
  if (/[\u0000-\u001f\u007f]/.test(a.value)) return 'contains control characters';
  return undefined;
}

function encodeValue(a: NameAttribute): Buffer {
  switch (a.type) {
    case 'C':
    case 'serialNumber':
      return printableString(a.value);
    case 'emailAddress':
    case 'DC':
      return ia5String(a.value);
    default:
      return utf8String(a.value);
  }
}

/** Name ::= SEQUENCE OF RDN, one AttributeTypeAndValue per RDN, order kept. */
export function encodeName(attributes: readonly NameAttribute[]): Buffer {
  return tlvOf(
    TAG.SEQUENCE,
    attributes.map((a) => set(sequence(oid(attributeOid(a.type)), encodeValue(a)))),
  );
}

/** Decodes a Name (multi-valued RDNs are flattened, order kept). Throws DerError. */
export function decodeName(buf: Uint8Array, name: Tlv): NameAttribute[] {
  expectTag(name, TAG.SEQUENCE, 'Name');
  const out: NameAttribute[] = [];
  for (const rdn of children(buf, name)) {
    expectTag(rdn, TAG.SET, 'RelativeDistinguishedName');
    const atvs = children(buf, rdn);
    if (atvs.length === 0) throw new DerError('empty RelativeDistinguishedName');
    for (const atv of atvs) {
      expectTag(atv, TAG.SEQUENCE, 'AttributeTypeAndValue');
      const [type, value, ...rest] = children(buf, atv);
      if (!type || !value || rest.length) throw new DerError('AttributeTypeAndValue must have a type and a value');
      const id = readOid(buf, type);
      out.push({ type: NAMES_BY_OID[id] ?? id, value: readString(buf, value) });
    }
  }
  return out;
}

const escapeValue = (v: string): string =>
  v
    .replace(/([,+"\\<>;=])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');

/**
 * Renders a name as `CN=…, O=…` in certificate order (as @peculiar/x509 and
 * `openssl -nameopt` do), escaping RFC 4514 special characters.
 */
export function formatName(attributes: readonly NameAttribute[]): string {
  return attributes.map((a) => `${a.type}=${escapeValue(a.value)}`).join(', ');
}

/** RFC 4514 attribute type keywords (§3) — the ones Java's X500Principal also prints by name. */
const RFC4514_KEYWORDS = new Set(['CN', 'L', 'ST', 'O', 'OU', 'C', 'STREET', 'DC', 'UID']);

/**
 * Renders a name as an RFC 4514 string: the last RDN first, no spaces after the commas, special characters escaped —
 * what Keycloak compares with a certificate's `X500Principal.getName(RFC2253)` when it pins a subject DN exactly.
 * @example formatRfc4514([{ type: 'CN', value: 'Keyward demo Issuing CA' }, { type: 'O', value: 'Keyward' }])
 *   // 'O=Keyward,CN=Keyward demo Issuing CA'
 * @throws TypeError for an attribute type without an RFC 4514 keyword (such names are not pinned)
 */
export function formatRfc4514(attributes: readonly NameAttribute[]): string {
  return [...attributes]
    .reverse()
    .map((a) => {
      if (!RFC4514_KEYWORDS.has(a.type)) throw new TypeError(`formatRfc4514: ${a.type} has no RFC 4514 keyword`);
      return `${a.type}=${escapeValue(a.value).replace(/\\=/g, '=')}`;
    })
    .join(',');
}
