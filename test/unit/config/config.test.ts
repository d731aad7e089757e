// Config loading: every key declared once, unknown keys / wrong types / bad values rejected with
// file, line and key; the generated sample parses back to the defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, sampleConfig, effectiveSettings, ConfigError } from '../../../src/config/load.js';
import { defaultConfig } from '../../../src/config/schema.js';

function rejects(text: string, expect: { line: number; key: string; reason: RegExp }) {
  assert.throws(
    () => parseConfigText(text, '/etc/roost.toml'),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.equal(e.file, '/etc/roost.toml');
      assert.equal(e.line, expect.line);
      assert.equal(e.key, expect.key);
      assert.match(e.reason, expect.reason);
      assert.match(e.message, new RegExp(`^/etc/roost\\.toml:${expect.line}: ${expect.key.replace('.', '\\.')}: `));
      return true;
    },
  );
}

test('an unknown key names file, line and key', () => {
  rejects('[imap]\nport = 143\n\n# comment\nprot = 1\n', { line: 5, key: 'imap.prot', reason: /unknown key/ });
});

test('an unknown section names its line', () => {
  rejects('[server]\nlisten = ["127.0.0.1"]\n[imapp]\nport = 1\n', { line: 3, key: 'imapp', reason: /unknown section/ });
});

test('a wrong type names file, line and key', () => {
  rejects('[pop3]\n\nport = "eleven"\n', { line: 3, key: 'pop3.port', reason: /port number/ });
  rejects('[server]\nauth_allow_cleartext = "yes"\n', { line: 2, key: 'server.auth_allow_cleartext', reason: /true or false/ });
  rejects('[server]\nlisten = "127.0.0.1"\n', { line: 2, key: 'server.listen', reason: /array of strings/ });
});

test('a bad value names file, line and key', () => {
  rejects('[imap]\nport = 70000\n', { line: 2, key: 'imap.port', reason: /0-65535/ });
  rejects('[server]\nlogin_trusted_networks = ["10.0.0.0/33"]\n', { line: 2, key: 'server.login_trusted_networks', reason: /prefix length/ });
  rejects('[log]\nformat = "xml"\n', { line: 2, key: 'log.format', reason: /one of json, pretty/ });
  rejects('[imap]\nimap_max_line_length = "12 parsecs"\n', { line: 2, key: 'imap.imap_max_line_length', reason: /size/ });
});

test('a TOML syntax error names the line', () => {
  assert.throws(() => parseConfigText('[imap]\nport = = 1\n', 'x.toml'), (e: unknown) => e instanceof ConfigError && e.line === 2);
});

test('values parse into their types', () => {
  const c = parseConfigText(
    '[imap]\nport = "auto"\nimap_max_literal_size = "10M"\n[auth]\nauth_failure_delay = "250ms"\n[tls.sni."mail.example.com"]\nssl_cert = "a.pem"\nssl_key = "a.key"\n',
    'x.toml',
  );
  assert.equal(c.imap.port, 'auto');
  assert.equal(c.imap.imap_max_literal_size, 10 * 1024 * 1024);
  assert.equal(c.auth.auth_failure_delay, 250);
  assert.deepEqual(c.tls.sni, { 'mail.example.com': { ssl_cert: 'a.pem', ssl_key: 'a.key' } });
  assert.equal(c.pop3.port, 1110, 'untouched keys keep their defaults');
});

test('the generated sample parses to exactly the defaults, and every key is documented', () => {
  const sample = sampleConfig();
  assert.deepEqual(parseConfigText(sample, 'sample.toml'), defaultConfig());
  // Un-commenting every key line gives the defaults back too, so each shown default is the real one.
  const keyLines = sample.split('\n').filter((l) => /^#[a-z_0-9]+ = /.test(l));
  assert.ok(keyLines.length >= 30, `expected every key in the sample, found ${keyLines.length}`);
  const uncommented = sample.split('\n').map((l) => (/^#[a-z_0-9]+ = /.test(l) ? l.slice(1) : l)).join('\n');
  assert.deepEqual(parseConfigText(uncommented, 'sample.toml'), defaultConfig());
});

test('effective settings list only what differs from the defaults', () => {
  const c = parseConfigText('[imap]\nport = 143\n[pop3]\nport = 1110\n', 'x.toml');
  assert.equal(effectiveSettings(c), '[imap]\nport = 143\n');
});

test('config/roost.toml and docs/configuration.md are the ones the schema generates (npm run gen:config)', async () => {
  const { readFileSync } = await import('node:fs');
  const { configurationReference } = await import('../../../src/config/load.js');
  const root = new URL('../../../', import.meta.url);
  assert.equal(readFileSync(new URL('config/roost.toml', root), 'utf8'), sampleConfig(), 'config/roost.toml is stale: run npm run gen:config');
  assert.equal(readFileSync(new URL('docs/configuration.md', root), 'utf8'), configurationReference(), 'docs/configuration.md is stale: run npm run gen:config');
});
