// POP3 RETR pipelined (RFC 2449 PIPELINING) over many Maildir messages of mixed sizes: every message arrives whole
// and exactly, although the buffers they are read into are reused once written (src/storage/common/frame-pool.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';

/** Message i: its own bytes throughout, sizes from under a kilobyte to past the 128 KiB read-at-once limit. */
function messageText(i: number): string {
  const sizes = [300, 5_000, 15_000, 17_000, 40_000, 70_000, 120_000, 200_000];
  const line = `message ${i} line with its own number ${i} and some filler text to make it longer\n`;
  const body = line.repeat(Math.ceil(sizes[i % sizes.length]! / line.length));
  return `From: sender@example.net\nTo: alice@localhost\nSubject: message ${i}\nMessage-ID: <m${i}@example.net>\n\n${i % 5 === 0 ? '.a line starting with a dot\n' : ''}${body}`;
}

test('80 RETRs sent in one write come back whole, each with its own message, however the read buffers are reused', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roost-pop3-pipe-'));
  const maildir = join(dataDir, 'mail', 'alice', 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  const count = 80;
  for (let i = 1; i <= count; i++) writeFileSync(join(maildir, 'cur', `170000${String(i).padStart(4, '0')}.M${i}P1.test:2,`), messageText(i));
  const h = await startRoost({ dataDir, users: [{ name: 'alice', password: 'wonderland' }] }).catch((err: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  // The daemon stops before its data goes (it may still be writing the index when the test ends).
  t.after(async () => {
    await h.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const c = await LineClient.connect({ port: h.ports.pop3 });
  try {
    assert.match((await c.readLine())!, /^\+OK/);
    c.sendLine('USER alice');
    assert.match((await c.readLine())!, /^\+OK/);
    c.sendLine('PASS wonderland');
    assert.match((await c.readLine())!, /^\+OK/);
    let commands = '';
    for (let i = 1; i <= count; i++) commands += `RETR ${i}\r\n`;
    c.send(commands);
    for (let i = 1; i <= count; i++) {
      const expected = messageText(i).replace(/\n/g, '\r\n');
      const status = await c.readLine();
      assert.equal(status, `+OK ${Buffer.byteLength(expected)} octets`, `status of RETR ${i}`);
      const lines = await c.readUntil((l) => l === '.');
      const body = lines.slice(0, -1).map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n') + '\r\n';
      assert.ok(body === expected, `RETR ${i}: ${body.length} bytes, expected ${expected.length}; first difference at ${[...body].findIndex((ch, k) => ch !== expected[k])}`);
    }
    c.sendLine('QUIT');
    assert.match((await c.readLine())!, /^\+OK/);
  } finally {
    c.close();
  }
});
