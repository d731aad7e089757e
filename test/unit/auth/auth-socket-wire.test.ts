// Auth socket wire rules as properties: \001 escaping round-trips and never leaves TAB/LF in a value,
// strict base64, and random input to the auth-client protocol never crashes the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createConnection, createServer } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tabEscape, tabUnescape, serveAuthClient } from '../../../src/protocols/auth-socket/index.js';
import { decodeBase64 } from '../../../src/protocols/auth-socket/wire.js';
import { AuthService } from '../../../src/auth/service.js';
import { defaultConfig } from '../../../src/config/schema.js';

test('tabEscape round-trips and leaves no TAB, CR or LF', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const e = tabEscape(s);
      assert.ok(!/[\t\r\n]/.test(e));
      assert.equal(tabUnescape(e), s);
    }),
  );
  assert.equal(tabEscape('a\tb\x01c\nd'), 'a\x01tb\x011c\x01nd');
});

test('decodeBase64 accepts canonical base64 only', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.deepEqual(decodeBase64(Buffer.from(bytes).toString('base64')), Buffer.from(bytes));
    }),
  );
  for (const bad of ['!!', 'abc', 'ab=c', 'a===', 'YQ', ' YQ==']) assert.equal(decodeBase64(bad), undefined, bad);
  assert.deepEqual(decodeBase64(''), Buffer.alloc(0));
});

test('random lines never crash the auth-client server; a fresh client still logs in', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-wire-'));
  await writeFile(join(dir, 'passwd'), 'carol:{PLAIN}carol-pw\n');
  const config = defaultConfig();
  config.auth.auth_failure_delay = 0;
  config.auth.auth_penalty_init = 0;
  const auth = await AuthService.create(config, dir);
  const path = join(dir, 'auth-client');
  const server = createServer((s) => serveAuthClient(s, auth));
  server.listen(path);
  await once(server, 'listening');
  try {
    const line = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .tuple(fc.constantFrom('AUTH', 'CONT', 'CANCEL', 'CPID', 'VERSION'), fc.array(fc.string({ maxLength: 30 }), { maxLength: 6 }))
        .map(([c, args]) => [c, ...args].join('\t')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 12 }), async (lines) => {
        const sock = createConnection(path);
        sock.on('error', () => undefined);
        sock.resume(); // read (and drop) the replies so the close is seen
        await once(sock, 'connect');
        sock.write(['VERSION\t1\t0', ...lines].join('\n') + '\n');
        sock.end();
        await once(sock, 'close');
      }),
      { numRuns: 60 },
    );
    const sock = createConnection(path);
    sock.setEncoding('utf8');
    let text = '';
    sock.on('data', (d: string) => (text += d));
    sock.write(`VERSION\t1\t0\nCPID\t1\nAUTH\t1\tPLAIN\tservice=smtp\trip=127.0.0.1\tresp=${Buffer.from('\0carol\0carol-pw').toString('base64')}\n`);
    const deadline = Date.now() + 15_000;
    while (!text.includes('\tuser=carol') && Date.now() < deadline) await once(sock, 'data');
    assert.match(text, /^OK\t1\tuser=carol$/m);
    sock.destroy();
  } finally {
    server.close();
    await auth.close();
    await rm(dir, { recursive: true, force: true });
  }
});
