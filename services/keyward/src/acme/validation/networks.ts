/**
 * Where challenge validation may connect (KEYWARD_ACME_ALLOWED_NETWORKS).
 * Keyward is an internal CA: by default its validation reaches private
 * (RFC 1918, RFC 4193) and loopback addresses only, never the internet, and a
 * name that resolves outside the list is refused before any connection.
 */
import { BlockList, isIP } from 'node:net';
import { AcmeProblem } from '../problem.ts';

export class AllowedNetworks {
  readonly #list = new BlockList();
  readonly ranges: readonly string[];

  /** @throws TypeError for a range that is not CIDR (the configuration validated them). */
  constructor(ranges: readonly string[]) {
    this.ranges = ranges;
    for (const r of ranges) {
      const [addr, bits] = r.split('/');
      const family = isIP(addr ?? '');
      if (!family || bits === undefined) throw new TypeError(`${r} is not a CIDR range`);
      this.#list.addSubnet(addr!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
    }
  }

  allows(address: string): boolean {
    const a = address.replace(/^::ffff:(?=\d+\.)/, '');
    const family = isIP(a);
    return family !== 0 && this.#list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The addresses validation may use, in order.
   * @throws AcmeProblem connection when none is allowed
   */
  filter(name: string, addresses: readonly string[]): string[] {
    const ok = addresses.filter((a) => this.allows(a));
    if (!ok.length)
      throw new AcmeProblem(
        'connection',
        `${name} resolves to ${addresses.join(', ') || 'no address'}, ` +
          'outside the networks validation may reach (KEYWARD_ACME_ALLOWED_NETWORKS)',
      );
    return ok;
  }
}
