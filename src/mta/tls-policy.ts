// Outbound TLS security levels as Postfix's smtp_tls_security_level (none, may, encrypt, verify, secure; RFC 3207),
// per next hop from smtp_tls_policy_maps, and the peer name check of smtp_tls_verify_cert_match (hostname) and
// smtp_tls_secure_cert_match (nexthop, dot-nexthop).
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import { TextTable } from './maps.js';

export const TLS_LEVELS = ['none', 'may', 'encrypt', 'verify', 'secure'] as const;
export type TlsLevel = (typeof TLS_LEVELS)[number];

/**
 * smtp_tls_policy_maps: "nexthop level" lines, the nexthop as Postfix writes it ("example.com", ".example.com" for
 * any domain below it, "[host]:port" or "[host]" for a relayhost or transport_maps nexthop). Only the level is used.
 */
export class TlsPolicyMap {
  private readonly table: TextTable;
  constructor(path: string) {
    this.table = new TextTable(path);
  }

  /** The level for a next hop (a domain, or a host with its port and whether MX lookup was off); undefined: the default. */
  lookup(host: string, port: number, mxLookup: boolean): TlsLevel | { error: string } | undefined {
    const h = host.toLowerCase();
    const keys = mxLookup ? [`${h}:${port}`, h] : [`[${h}]:${port}`, `[${h}]`];
    if (mxLookup && !isIP(h)) {
      const labels = h.split('.');
      for (let i = 1; i < labels.length; i++) keys.push('.' + labels.slice(i).join('.'));
    }
    for (const key of keys) {
      const value = this.table.get(key);
      if (value === undefined) continue;
      const level = value.trim().split(/\s+/)[0]!.toLowerCase();
      return (TLS_LEVELS as readonly string[]).includes(level) ? (level as TlsLevel) : { error: `smtp_tls_policy_maps: bad level "${level}" for ${key}` };
    }
    return undefined;
  }
}

/** What a session to one hop needs for verify and secure: the trusted CAs and the names the certificate may carry. */
export interface TlsPeer {
  /** PEM bundle of trusted CAs (smtp_tls_CAfile); undefined: Node's CA store. */
  ca?: string;
  /** Exact names, or ".domain" for any name below domain. */
  names: string[];
}

export function verifies(level: TlsLevel): boolean {
  return level === 'verify' || level === 'secure';
}

/**
 * Names the server certificate must match, as Postfix's defaults: at verify the host name of the MX record or of the
 * relayhost (DNS is trusted); at secure the next-hop domain itself or a name below it (the MX name is not trusted).
 */
export function peerNames(level: TlsLevel, hopName: string, nexthop: string): string[] {
  const name = (s: string) => s.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (level === 'secure') return isIP(name(nexthop)) ? [name(nexthop)] : [name(nexthop), '.' + name(nexthop)];
  return [name(hopName)];
}

/** The certificate's DNS names (subjectAltName, else the subject CN), lower case. */
function dnsNames(cert: PeerCertificate): string[] {
  const alt = (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4).toLowerCase());
  if (alt.length) return alt;
  const cn = cert.subject?.CN;
  return (Array.isArray(cn) ? cn : cn ? [cn] : []).map((n) => n.toLowerCase());
}

/** tls checkServerIdentity for a hop: undefined when one of the names matches, else the error that says why not. */
export function matchPeer(names: string[], cert: PeerCertificate): Error | undefined {
  for (const name of names) {
    if (name.startsWith('.')) {
      if (dnsNames(cert).some((n) => n.replace(/^\*\./, 'x.').endsWith(name))) return undefined;
    } else if (!checkServerIdentity(name, cert)) return undefined;
  }
  const err = new Error(`server certificate names (${dnsNames(cert).join(', ') || 'none'}) do not match ${names.join(' or ')}`);
  return Object.assign(err, { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
}

/** Whether a connection error is a failed certificate verification (Node's and OpenSSL's codes). */
export function isVerificationError(code: string | undefined): boolean {
  return !!code && /CERT|SELF_SIGNED|ISSUER|ALTNAME|VERIFY|SIGNATURE/.test(code);
}
