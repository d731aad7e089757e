// IP address and network matching for secured-connection checks (loopback, login_trusted_networks)
// and the allow_nets passdb field, with IPv4-mapped IPv6 addresses treated as IPv4.
import { BlockList, isIP } from 'node:net';

/** "::ffff:1.2.3.4" -> "1.2.3.4"; brackets removed; anything else as is. */
export function normalizeIp(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? mapped[1] : bare;
}

export function isLoopback(ip: string): boolean {
  const n = normalizeIp(ip);
  return /^127\./.test(n) || n === '::1';
}

/** A matcher for networks written "addr", "addr/len", "[v6]/len"; unparsable entries are reported. */
export function networkMatcher(networks: readonly string[]): { matches(ip: string): boolean; invalid: string[] } {
  const list = new BlockList();
  const invalid: string[] = [];
  for (const raw of networks) {
    const m = /^\[?([^\]/]+)\]?(?:\/(\d+))?$/.exec(raw.trim());
    const addr = m ? normalizeIp(m[1]) : '';
    const family = isIP(addr);
    if (!m || family === 0) {
      invalid.push(raw);
      continue;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const max = family === 4 ? 32 : 128;
    const prefix = m[2] === undefined ? max : Number(m[2]);
    if (prefix > max) {
      invalid.push(raw);
      continue;
    }
    list.addSubnet(addr, prefix, type);
  }
  return {
    invalid,
    matches(ip: string) {
      const n = normalizeIp(ip);
      const family = isIP(n);
      if (family === 0) return false;
      return list.check(n, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
