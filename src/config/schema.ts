// Roost's whole configuration schema: one table per service, each key declared once in
// src/config/sections/*.ts. The Config type, validation and config/roost.toml all derive from this.
import type { SectionSpec, SectionValues } from './define.js';
import { serverSection } from './sections/server.js';
import { logSection } from './sections/log.js';
import { tlsSection } from './sections/tls.js';
import { imapSection } from './sections/imap.js';
import { pop3Section } from './sections/pop3.js';
import { lmtpSection } from './sections/lmtp.js';
import { authSection } from './sections/auth.js';
import { mailSection } from './sections/mail.js';
import { smtpSection } from './sections/smtp.js';

export const schema = {
  server: serverSection,
  log: logSection,
  tls: tlsSection,
  imap: imapSection,
  pop3: pop3Section,
  lmtp: lmtpSection,
  auth: authSection,
  mail: mailSection,
  smtp: smtpSection,
} as const satisfies Record<string, { doc: string; keys: SectionSpec }>;

export type Schema = typeof schema;
export type Config = { -readonly [S in keyof Schema]: SectionValues<Schema[S]['keys']> };

/** The embedded defaults. */
export function defaultConfig(): Config {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, sec] of Object.entries(schema)) {
    out[name] = {};
    for (const [key, spec] of Object.entries(sec.keys as SectionSpec)) out[name][key] = structuredClone(spec.default);
  }
  return out as Config;
}
