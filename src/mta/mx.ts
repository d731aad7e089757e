// Next-hop lookup for remote mail (RFC 5321 section 5.1): MX records by preference, the implicit MX (the
// domain's own A record) when there is none; node:dns with an injectable Resolver. DNS trouble defers.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface NextHop {
  name: string;
  ip: string;
}

export class DnsFailure extends Error {}

export interface DnsLike {
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  resolve4(host: string): Promise<string[]>;
}

export function makeResolver(servers: string[]): DnsLike {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  if (servers.length) resolver.setServers(servers);
  return resolver;
}

export class MxResolver {
  constructor(private readonly dns: DnsLike) {}

  private async addresses(host: string): Promise<string[]> {
    if (isIP(host.replace(/^\[|\]$/g, ''))) return [host.replace(/^\[|\]$/g, '')];
    try {
      return await this.dns.resolve4(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
      throw new DnsFailure(`${host}: ${code ?? (err as Error).message}`);
    }
  }

  /** Hosts to try in order; throws DnsFailure when DNS cannot answer or finds nothing (the message defers). */
  async hostsFor(domain: string, mxLookup = true): Promise<NextHop[]> {
    let exchanges: string[] = [domain];
    if (mxLookup && !isIP(domain)) {
      try {
        const mx = await this.dns.resolveMx(domain);
        if (mx.length) exchanges = mx.sort((a, b) => a.priority - b.priority).map((m) => m.exchange);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENODATA') throw new DnsFailure(`MX lookup of ${domain}: ${code ?? (err as Error).message}`);
      }
    }
    const hops: NextHop[] = [];
    for (const name of exchanges) {
      if (name === '' || name === '.') throw new DnsFailure(`${domain} accepts no mail (null MX)`);
      for (const ip of await this.addresses(name)) hops.push({ name, ip });
    }
    if (!hops.length) throw new DnsFailure(`no address for any mail exchanger of ${domain}`);
    return hops;
  }
}
