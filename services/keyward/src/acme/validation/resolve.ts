/**
 * Name resolution for challenge validation: through the DNS server of
 * KEYWARD_ACME_DNS_SERVER when set (as Pebble's -dnsserver), else the
 * system resolver; bounded by the validation timeout.
 */
import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AcmeProblem } from '../problem.ts';

export interface NameResolver {
  addresses(name: string): Promise<string[]>;
  txt(name: string): Promise<string[]>;
}

const ABSENT = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN', 'ENONAME']);

export function nameResolver(server: string | undefined, timeoutMs: number): NameResolver {
  const resolver = new Resolver({ timeout: Math.max(500, Math.floor(timeoutMs / 2)), tries: 2 });
  if (server) resolver.setServers([server]);
  const quiet = async <T>(p: Promise<T[]>): Promise<T[]> => {
    try {
      return await p;
    } catch (err) {
      if (ABSENT.has((err as { code?: string }).code ?? '')) return [];
      throw new AcmeProblem('dns', `DNS lookup failed: ${(err as { code?: string }).code ?? (err as Error).message}`, { cause: err });
    }
  };
  return {
    async addresses(name) {
      if (isIP(name)) return [name];
      let found: string[];
      if (server) {
        const [v4, v6] = await Promise.all([quiet(resolver.resolve4(name)), quiet(resolver.resolve6(name))]);
        found = [...v4, ...v6];
      } else {
        found = (await quiet(lookup(name, { all: true }).then((r) => r.map((a) => a.address)))) as string[];
      }
      if (!found.length) throw new AcmeProblem('dns', `${name} has no A or AAAA record`);
      return found;
    },
    async txt(name) {
      const records = await quiet(resolver.resolveTxt(name));
      return records.map((chunks) => chunks.join(''));
    },
  };
}
