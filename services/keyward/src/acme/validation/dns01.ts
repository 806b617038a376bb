/**
 * dns-01 (RFC 8555 §8.4): a TXT record at `_acme-challenge.<name>` holding
 * base64url(SHA-256(key authorization)), looked up through the DNS server of
 * KEYWARD_ACME_DNS_SERVER (host:port) or the system's.
 */
import { createHash } from 'node:crypto';
import { AcmeProblem } from '../problem.ts';
import type { NameResolver } from './resolve.ts';

export const dns01Value = (keyAuthorization: string): string => createHash('sha256').update(keyAuthorization).digest('base64url');

/** @throws AcmeProblem dns, unauthorized, incorrectResponse */
export async function validateDns01(name: string, keyAuthorization: string, resolver: NameResolver): Promise<string> {
  const record = `_acme-challenge.${name}`;
  const values = await resolver.txt(record);
  if (!values.length) throw new AcmeProblem('dns', `No TXT record at ${record}`);
  if (!values.includes(dns01Value(keyAuthorization)))
    throw new AcmeProblem('incorrectResponse', `No TXT record at ${record} holds the expected value`);
  return record;
}
