// TLS contexts for every listener: the default certificate, per-domain certificates chosen by SNI,
// TLS 1.2 minimum, and reload on SIGHUP (new handshakes use new files; live connections keep theirs).
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { ensureSelfSigned } from './self-signed.js';
import { getLogger } from '../lib/logger.js';

const log = getLogger({ component: 'tls' });

export class TlsContexts {
  private defaultContext!: tls.SecureContext;
  private byName = new Map<string, tls.SecureContext>();
  /** Where the default certificate came from (for logs and `roost config check`). */
  certFile = '';

  constructor(
    private config: Config,
    private readonly dataDir: string,
    private readonly hostName: string,
  ) {
    this.load();
  }

  private make(certFile: string, keyFile: string): tls.SecureContext {
    return tls.createSecureContext({
      cert: readFileSync(certFile),
      key: readFileSync(keyFile),
      minVersion: this.config.tls.ssl_min_protocol,
    });
  }

  /** (Re)reads every certificate; throws without changing anything if one cannot be read. */
  load(config: Config = this.config): void {
    this.config = config;
    let certFile = config.tls.ssl_cert;
    let keyFile = config.tls.ssl_key;
    if (!certFile || !keyFile) {
      const generated = ensureSelfSigned(this.dataDir, this.hostName);
      if (generated.generated) log.info({ certFile: generated.certFile }, 'generated a self-signed certificate');
      certFile = generated.certFile;
      keyFile = generated.keyFile;
    }
    const nextDefault = this.make(resolve(certFile), resolve(keyFile));
    const nextByName = new Map<string, tls.SecureContext>();
    for (const [name, entry] of Object.entries(config.tls.sni)) {
      nextByName.set(name.toLowerCase(), this.make(resolve(entry.ssl_cert), resolve(entry.ssl_key)));
    }
    this.defaultContext = nextDefault;
    this.byName = nextByName;
    this.certFile = certFile;
  }

  /** The context for an SNI name: exact match, then a wildcard entry "*.example.com", else the default. */
  contextFor(serverName: string | undefined): tls.SecureContext {
    if (serverName) {
      const name = serverName.toLowerCase();
      const exact = this.byName.get(name);
      if (exact) return exact;
      const dot = name.indexOf('.');
      const wildcard = dot > 0 ? this.byName.get('*' + name.slice(dot)) : undefined;
      if (wildcard) return wildcard;
    }
    return this.defaultContext;
  }

  /** Options for a server-side TLSSocket (implicit TLS and STARTTLS use the same). */
  serverOptions(): tls.TLSSocketOptions {
    return {
      isServer: true,
      secureContext: this.defaultContext,
      SNICallback: (name, cb) => cb(null, this.contextFor(name)),
    };
  }
}
