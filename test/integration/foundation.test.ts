// The daemon's foundation through the real server over real sockets: generated certificate,
// STARTTLS upgrade, SNI, per-IP limit, demo-user loopback guard, SIGHUP certificate reload, SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { startRoost, mainScript, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { generateSelfSigned } from '../../src/tls/self-signed.js';

const run = promisify(execFile);
const users = [{ name: 'alice', password: 'wonderland' }];
const handles: RoostHandle[] = [];
const dirs: string[] = [];
after(async () => {
  for (const h of handles) await h.kill().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'roost-foundation-'));
  dirs.push(d);
  return d;
}

async function start(configToml = '', opts: { dataDir?: string; generateCert?: boolean } = {}): Promise<RoostHandle> {
  const h = await startRoost({ users, configToml, dataDir: opts.dataDir, generateCert: opts.generateCert });
  handles.push(h);
  return h;
}

test('first start generates a self-signed certificate that implicit TLS serves (openssl s_client)', async () => {
  const h = await start('', { dataDir: tempDir(), generateCert: true });
  const keyMode = statSync(join(h.dataDir, 'certs', 'roost.key')).mode & 0o777;
  assert.equal(keyMode, 0o600, 'the generated key is private');
  const { stdout } = await run('sh', ['-c', `echo Q | openssl s_client -connect 127.0.0.1:${h.ports.imaps} -servername localhost 2>/dev/null | openssl x509 -noout -subject -ext subjectAltName`], { timeout: 20_000 });
  assert.match(stdout, /CN\s*=\s*roost\.test/);
  assert.match(stdout, /DNS:localhost/);
  assert.match(stdout, /IP Address:127\.0\.0\.1/);
  // The certificate is reused by the next start, not generated again.
  const before = readFileSync(join(h.dataDir, 'certs', 'roost.crt'), 'utf8');
  await h.stop();
  const again = await start('', { dataDir: h.dataDir });
  assert.equal(readFileSync(join(again.dataDir, 'certs', 'roost.crt'), 'utf8'), before);
  await again.stop();
});

test('STARTTLS upgrades a live IMAP connection; pipelined plaintext after it is discarded', async () => {
  const h = await start();
  const c = await LineClient.connect({ port: h.ports.imap });
  const greeting = await c.readLine();
  assert.match(greeting!, /^\* OK \[CAPABILITY [^\]]*STARTTLS/);
  // A command injected after STARTTLS in the same packet must not be executed after the upgrade.
  c.send('a STARTTLS\r\nb CAPABILITY\r\n');
  assert.equal(await c.readLine(), 'a OK Begin TLS negotiation now.');
  await c.startTls();
  assert.ok(c.peerCertificate?.subject, 'TLS is up');
  c.sendLine('c CAPABILITY');
  const lines = await c.readUntil((l) => l.startsWith('c '));
  assert.equal(lines.length, 2, `only c's answer arrives, b was discarded: ${lines.join(' | ')}`);
  assert.ok(!lines[0].includes('STARTTLS'), 'STARTTLS is no longer offered');
  assert.equal(lines[1], 'c OK Capability completed.');
  c.close();
});

test('POP3 STLS upgrades too, and implicit-TLS POP3 greets', async () => {
  const h = await start();
  const c = await LineClient.connect({ port: h.ports.pop3 });
  assert.match((await c.readLine())!, /^\+OK /);
  c.sendLine('STLS');
  assert.match((await c.readLine())!, /^\+OK/);
  await c.startTls();
  c.sendLine('CAPA');
  const capa = await c.readUntil((l) => l === '.');
  assert.ok(!capa.includes('STLS'));
  assert.ok(capa.includes('USER'), 'USER is offered once TLS is up');
  c.close();
  const s = await LineClient.connect({ port: h.ports.pop3s, tls: true });
  assert.match((await s.readLine())!, /^\+OK /);
  s.close();
});

test('SNI picks the per-domain certificate', async () => {
  const dir = tempDir();
  const other = generateSelfSigned('mail.example.com');
  writeFileSync(join(dir, 'example.crt'), other.cert);
  writeFileSync(join(dir, 'example.key'), other.key, { mode: 0o600 });
  const h = await start(`[tls.sni."mail.example.com"]\nssl_cert = "${join(dir, 'example.crt')}"\nssl_key = "${join(dir, 'example.key')}"\n`);
  const withSni = await LineClient.connect({ port: h.ports.imaps, tls: true, servername: 'mail.example.com' });
  assert.equal(withSni.peerCertificate?.subject.CN, 'mail.example.com');
  withSni.close();
  const without = await LineClient.connect({ port: h.ports.imaps, tls: true, servername: 'unknown.example.net' });
  assert.equal(without.peerCertificate?.subject.CN, 'roost.test');
  without.close();
});

test('the per-IP connection limit refuses the next connection with a protocol answer', async () => {
  const h = await start('[server]\nmax_connections_per_ip = 2\n');
  const a = await LineClient.connect({ port: h.ports.imap });
  const b = await LineClient.connect({ port: h.ports.imap });
  assert.match((await a.readLine())!, /^\* OK/);
  assert.match((await b.readLine())!, /^\* OK/);
  const c = await LineClient.connect({ port: h.ports.imap });
  assert.equal(await c.readLine(), '* BYE Too many connections from your IP.');
  await c.waitClosed();
  // Once one closes, a new connection is accepted again.
  a.close();
  await h.waitForLog((l) => l.includes('"service":"imap"') && l.includes('"msg":"disconnect"'));
  const d = await LineClient.connect({ port: h.ports.imap });
  assert.match((await d.readLine())!, /^\* OK/);
  b.close();
  d.close();
});

test('while the demo user exists, Roost refuses to listen beyond loopback', async () => {
  const dataDir = tempDir();
  const configFile = join(dataDir, 'c.toml');
  writeFileSync(configFile, '[server]\nlisten = ["0.0.0.0"]\n[imap]\nport = "auto"\nssl_port = "auto"\nwebsocket_port = 0\n[pop3]\nport = "auto"\nssl_port = "auto"\n[lmtp]\nport = "auto"\n[auth]\nport = "auto"\n');
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, 'serve', '--data', dataDir, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.notEqual(code, 0);
  assert.match(out, /password: \S+/, 'the demo password is printed once');
  assert.match(out, /refusing to listen on 0\.0\.0\.0: the demo user still exists/);
});

test('SIGHUP reloads a changed certificate while an older connection stays open', async () => {
  const dir = tempDir();
  const first = generateSelfSigned('first.example');
  writeFileSync(join(dir, 'c.crt'), first.cert);
  writeFileSync(join(dir, 'c.key'), first.key, { mode: 0o600 });
  const h = await start(`[tls]\nssl_cert = "${join(dir, 'c.crt')}"\nssl_key = "${join(dir, 'c.key')}"\n`);
  const old = await LineClient.connect({ port: h.ports.imaps, tls: true });
  assert.equal(old.peerCertificate?.subject.CN, 'first.example');
  await old.readLine();
  const second = generateSelfSigned('second.example');
  writeFileSync(join(dir, 'c.crt'), second.cert);
  writeFileSync(join(dir, 'c.key'), second.key, { mode: 0o600 });
  const reloadsBefore = h.output.filter((l) => l.includes('reloaded configuration')).length;
  process.kill(h.pid, 'SIGHUP');
  await h.waitForLog(() => h.output.filter((l) => l.includes('reloaded configuration')).length > reloadsBefore);
  const fresh = await LineClient.connect({ port: h.ports.imaps, tls: true });
  assert.equal(fresh.peerCertificate?.subject.CN, 'second.example');
  old.sendLine('x NOOP');
  assert.equal(await old.readLine(), 'x OK NOOP completed.', 'the older connection still works');
  old.close();
  fresh.close();
});

test('SIGTERM says goodbye to open sessions and exits 0 promptly', async () => {
  const h = await start();
  const imap = await LineClient.connect({ port: h.ports.imap });
  await imap.readLine();
  const pop = await LineClient.connect({ port: h.ports.pop3 });
  await pop.readLine();
  const started = Date.now();
  const code = h.stop();
  assert.equal(await imap.readLine(), '* BYE Server shutting down.');
  assert.equal(await pop.readLine(), '-ERR [SYS/TEMP] Server shutting down.');
  assert.equal(await code, 0);
  assert.ok(Date.now() - started < 10_000, 'stops well within the grace period');
});

test('roost config check names file, line and key of a bad value, and accepts the sample', async () => {
  const dir = tempDir();
  const bad = join(dir, 'bad.toml');
  writeFileSync(bad, '[imap]\n# a comment\nport = "imap"\n');
  const result = await run(process.execPath, ['--import', 'tsx', mainScript, 'config', 'check', '--config', bad]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  assert.equal(result.code, 78);
  assert.match(result.stderr, new RegExp(`${bad.replace(/[/.]/g, '\\$&')}:3: imap\\.port: expected a port number`));
  const sample = new URL('../../config/roost.toml', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', mainScript, 'config', 'check', '--config', sample]);
  assert.match(stdout, /roost\.toml/);
});
