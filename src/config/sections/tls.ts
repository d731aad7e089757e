// [tls]: certificates for implicit TLS and STARTTLS/STLS, SNI certificates per domain,
// and the minimum protocol (Dovecot's ssl_cert, ssl_key, ssl_min_protocol).
import { namedTables, oneOf, section, str } from '../define.js';

export const tlsSection = section('TLS for every service. Empty ssl_cert/ssl_key: a self-signed pair is generated in <data>/certs.', {
  ssl_cert: str('', 'PEM certificate chain file (empty: generated self-signed).'),
  ssl_key: str('', 'PEM private key file for ssl_cert.'),
  ssl_min_protocol: oneOf('TLSv1.2', ['TLSv1.2', 'TLSv1.3'] as const, 'Oldest TLS version accepted.'),
  sni: namedTables('Per-domain certificates chosen by SNI: [tls.sni."mail.example.com"] with ssl_cert and ssl_key.', {
    ssl_cert: str('', 'PEM certificate chain for this domain.'),
    ssl_key: str('', 'PEM private key for this domain.'),
  }),
});
