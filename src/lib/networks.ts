// Address matching for secured connections and relay policy: loopback, CIDR lists such as
// login_trusted_networks and mynetworks (IPv4, IPv6, IPv4-mapped IPv6), using node:net's BlockList.
import { BlockList, isIP } from 'node:net';

/** Strips the IPv4-mapped prefix (::ffff:127.0.0.1 -> 127.0.0.1) and brackets. */
export function normalizeIp(ip: string): string {
  const s = ip.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  return mapped ? mapped[1] : s;
}

export function isLoopback(ip: string): boolean {
  const s = normalizeIp(ip);
  return s === '::1' || /^127\./.test(s);
}

/** A set of networks ("10.0.0.0/8", "[::1]/128", "192.0.2.7") that can be asked about an address. */
export class NetworkList {
  private readonly list = new BlockList();
  readonly size: number;
  /** Entries that are not networks (only collected with `lenient`; otherwise the constructor throws). */
  readonly invalid: string[] = [];

  /**
   * @param lenient skip and collect entries that are not networks (data such as a passdb's allow_nets field),
   *   instead of throwing (configuration, which is validated at start-up)
   */
  constructor(networks: readonly string[], opts: { lenient?: boolean } = {}) {
    for (const n of networks) {
      const m = /^\[?([^\]/]+)\]?(?:\/(\d+))?$/.exec(n.trim());
      const addr = m ? normalizeIp(m[1]) : '';
      const family = isIP(addr);
      const max = family === 4 ? 32 : 128;
      if (!m || !family || (m[2] !== undefined && Number(m[2]) > max)) {
        if (!opts.lenient) throw new Error(`not a network: ${n}`);
        this.invalid.push(n);
        continue;
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (m[2] === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(m[2]), type);
    }
    this.size = networks.length - this.invalid.length;
  }
  contains(ip: string): boolean {
    const s = normalizeIp(ip);
    const family = isIP(s);
    if (!family) return false;
    return this.list.check(s, family === 4 ? 'ipv4' : 'ipv6');
  }
}
