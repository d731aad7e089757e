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
  constructor(networks: readonly string[]) {
    for (const n of networks) {
      const m = /^\[?([^\]/]+)\]?(?:\/(\d+))?$/.exec(n.trim());
      if (!m) throw new Error(`not a network: ${n}`);
      const family = isIP(m[1]);
      if (!family) throw new Error(`not a network: ${n}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (m[2] === undefined) this.list.addAddress(m[1], type);
      else this.list.addSubnet(m[1], Number(m[2]), type);
    }
    this.size = networks.length;
  }
  contains(ip: string): boolean {
    const s = normalizeIp(ip);
    const family = isIP(s);
    if (!family) return false;
    return this.list.check(s, family === 4 ? 'ipv4' : 'ipv6');
  }
}
