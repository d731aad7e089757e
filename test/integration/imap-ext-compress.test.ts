// COMPRESS=DEFLATE (RFC 4978) through the live server: a raw client with node:zlib on plain TCP, after STARTTLS
// and over implicit TLS; the second COMPRESS is NO [COMPRESSIONACTIVE]; big literals both ways; imapflow (which
// turns COMPRESS on when offered); and the same compressed session against Dovecot 2.3 with imap_zlib.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { requirePeer, startDovecot } from '../interop/peers.js';
import { normalizeTranscript } from '../interop/imap-normalize.js';

let h: RoostHandle;
const closers: (() => void)[] = [];

before(async () => {
  h = await startRoost({
    users: [
      { name: 'z', password: 'z-secret' },
      { name: 'flow', password: 'flow-secret' },
    ],
  });
});
after(async () => {
  for (const c of closers) c();
  await h?.stop();
});

/** A client speaking raw DEFLATE both ways on an existing socket (RFC 4978 section 3), counting wire bytes. */
class DeflateClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private readonly deflate = zlib.createDeflateRaw();
  private readonly inflate = zlib.createInflateRaw();
  closed = false;
  wireBytesIn = 0;
  plainBytesIn = 0;
  /** The compressed bytes as they came off the wire (cleared by the caller). */
  wire: Buffer[] = [];

  constructor(readonly socket: Socket) {
    socket.removeAllListeners('data');
    socket.on('data', (d: Buffer) => {
      this.wireBytesIn += d.length;
      this.wire.push(d);
      this.inflate.write(d);
    });
    // Inflating is asynchronous: the stream is over once the inflater has given out its last bytes.
    socket.on('close', () => {
      if (!this.inflate.writableEnded) this.inflate.end();
    });
    // A socket cut mid-stream (a failed test closing it) ends the stream here, not as an uncaught error.
    this.inflate.on('error', () => {
      this.closed = true;
      this.wake();
    });
    this.inflate.on('end', () => {
      this.closed = true;
      this.wake();
    });
    this.inflate.on('data', (d: Buffer) => {
      this.plainBytesIn += d.length;
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.deflate.on('data', (d: Buffer) => socket.write(d));
    closers.push(() => socket.destroy());
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async waitData(): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)), 20_000);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async readLine(): Promise<string | null> {
    for (;;) {
      const i = this.buf.indexOf('\n');
      if (i >= 0) {
        const line = this.buf.subarray(0, i).toString('latin1').replace(/\r$/, '');
        this.buf = this.buf.subarray(i + 1);
        return line;
      }
      if (this.closed) return null;
      await this.waitData();
    }
  }

  async readBytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.waitData();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  send(data: string | Buffer): void {
    this.deflate.write(data);
    this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  }

  /** One command's lines up to its tagged completion; literals are appended to their line. */
  async command(tag: string, text: string): Promise<string[]> {
    this.send(`${tag} ${text}\r\n`);
    const out: string[] = [];
    for (;;) {
      let line = await this.readLine();
      if (line === null) throw new Error(`closed during ${tag}: ${out.join(' | ')}`);
      while (/\{(\d+)\}$/.test(line)) {
        const n = Number(/\{(\d+)\}$/.exec(line)![1]);
        line += (await this.readBytes(n)).toString('latin1') + ((await this.readLine()) ?? '');
      }
      out.push(line);
      if (line.startsWith(`${tag} `)) return out;
    }
  }
}

/** Logs in on a line client, turns COMPRESS on, returns the compressed client. */
async function compressAfterLogin(c: LineClient, login: string): Promise<DeflateClient> {
  c.sendLine(`l LOGIN ${login}`);
  const caps = await c.readUntil((l) => l.startsWith('l '));
  assert.match(caps.at(-1)!, /^l OK \[CAPABILITY [^\]]*COMPRESS=DEFLATE/);
  c.sendLine('z COMPRESS DEFLATE');
  assert.deepEqual(await c.readLine(), 'z OK DEFLATE active');
  return new DeflateClient(c.socket);
}

const BIG = `From: a@example.org\r\nSubject: big\r\n\r\n${Array.from({ length: 4000 }, (_, i) => `line ${i} of a compressible body`).join('\r\n')}\r\n`;

async function exercise(z: DeflateClient): Promise<void> {
  assert.deepEqual(await z.command('n', 'NOOP'), ['n OK NOOP completed.']);
  const caps = (await z.command('c', 'CAPABILITY'))[0]!.split(' ');
  assert.ok(!caps.includes('COMPRESS=DEFLATE'), 'COMPRESS is no longer offered once active');
  // RFC 4978 section 4: "NO [COMPRESSIONACTIVE]" for a second COMPRESS.
  assert.match((await z.command('z2', 'COMPRESS DEFLATE')).at(-1)!, /^z2 NO \[COMPRESSIONACTIVE\] /);
  z.send(`a APPEND INBOX {${BIG.length}}\r\n`);
  assert.match((await z.readLine())!, /^\+ /);
  z.send(`${BIG}\r\n`);
  assert.match((await z.readLine())!, /^a OK \[APPENDUID \d+ \d+\]/);
  await z.command('s', 'SELECT INBOX');
  const fetched = await z.command('f', 'FETCH * BODY.PEEK[]');
  assert.ok(fetched[0]!.endsWith(`{${BIG.length}}${BIG})`), 'the message comes back whole');
  assert.ok(z.wireBytesIn * 4 < z.plainBytesIn, `compressed on the wire (${z.wireBytesIn} bytes for ${z.plainBytesIn})`);
  const bye = await z.command('o', 'LOGOUT');
  assert.match(bye[0]!, /^\* BYE/);
  assert.match(bye.at(-1)!, /^o OK /);
}

test('COMPRESS DEFLATE on plain TCP: compressed both ways, second COMPRESS refused, big literals, LOGOUT', async () => {
  const c = await LineClient.connect({ port: h.ports.imap });
  closers.push(() => c.close());
  await c.readLine();
  c.sendLine('p CAPABILITY');
  assert.ok(!(await c.readUntil((l) => l.startsWith('p ')))[0]!.includes('COMPRESS='), 'not offered before login');
  c.sendLine('p2 COMPRESS DEFLATE');
  assert.match((await c.readUntil((l) => l.startsWith('p2 '))).at(-1)!, /^p2 BAD /);
  const z = await compressAfterLogin(c, 'z z-secret');
  await exercise(z);
});

/** Z_SYNC_FLUSH ends with an empty stored block, "00 00 FF FF" on the wire (RFC 4978 section 4). */
function syncFlushes(wire: Buffer): number {
  let n = 0;
  for (let i = wire.indexOf(SYNC_FLUSH_MARK); i >= 0; i = wire.indexOf(SYNC_FLUSH_MARK, i + 4)) n++;
  return n;
}
const SYNC_FLUSH_MARK = Buffer.from([0, 0, 0xff, 0xff]);

test('answers to pipelined commands leave in one compressed flush, not one per response', async () => {
  const c = await LineClient.connect({ port: h.ports.imap });
  closers.push(() => c.close());
  await c.readLine();
  const z = await compressAfterLogin(c, 'z z-secret');
  // A message above the size read in one go, so each FETCH reads its file asynchronously over several ticks.
  const big = `From: a@example.org\r\nSubject: pipelined\r\n\r\n${'a compressible line of text\r\n'.repeat(9000)}`;
  z.send(`a APPEND INBOX {${big.length}}\r\n`);
  assert.match((await z.readLine())!, /^\+ /);
  z.send(`${big}\r\n`);
  const appended = /^a OK \[APPENDUID \d+ (\d+)\]/.exec((await z.readLine())!);
  assert.ok(appended);
  assert.match((await z.command('s', 'SELECT INBOX')).at(-1)!, /^s OK /);
  z.wire = [];
  const count = 20;
  z.send(Array.from({ length: count }, (_, i) => `f${i} UID FETCH ${appended[1]} (UID BODY.PEEK[])\r\n`).join(''));
  let done = 0;
  for (;;) {
    const line = await z.readLine();
    assert.ok(line !== null, 'connection stays open');
    if (line.startsWith('* ') && line.endsWith(`{${big.length}}`)) await z.readBytes(big.length);
    if (/^f\d+ OK /.test(line) && ++done === count) break;
  }
  const flushes = syncFlushes(Buffer.concat(z.wire));
  assert.ok(flushes <= 3, `${count} pipelined FETCHes of ${big.length} bytes each came in ${flushes} sync flushes`);
  assert.match((await z.command('o', 'LOGOUT')).at(-1)!, /^o OK /);
});

test('unknown mechanism is BAD and leaves the connection uncompressed', async () => {
  const c = await LineClient.connect({ port: h.ports.imap });
  closers.push(() => c.close());
  await c.readLine();
  c.sendLine('l LOGIN z z-secret');
  await c.readUntil((l) => l.startsWith('l '));
  c.sendLine('z COMPRESS GZIP');
  assert.match((await c.readLine())!, /^z BAD /);
  c.sendLine('n NOOP');
  assert.equal(await c.readLine(), 'n OK NOOP completed.');
});

test('COMPRESS after STARTTLS and over implicit TLS', async () => {
  const c = await LineClient.connect({ port: h.ports.imap });
  closers.push(() => c.close());
  await c.readLine();
  c.sendLine('t STARTTLS');
  assert.match((await c.readLine())!, /^t OK /);
  await c.startTls();
  await exercise(await compressAfterLogin(c, 'z z-secret'));
  const s = await LineClient.connect({ port: h.ports.imaps, tls: true });
  closers.push(() => s.close());
  await s.readLine();
  await exercise(await compressAfterLogin(s, 'z z-secret'));
});

test('imapflow turns COMPRESS on when offered and works through it', async () => {
  const client = new ImapFlow({ host: '127.0.0.1', port: h.ports.imap, secure: false, auth: { user: 'flow', pass: 'flow-secret' }, tls: { rejectUnauthorized: false }, logger: false });
  await client.connect();
  try {
    await h.waitForLog((l) => l.includes('"command":"COMPRESS"') && l.includes('"status":"OK"') && l.includes('"user":"flow"'));
    for (let i = 0; i < 5; i++) await client.append('INBOX', `Subject: m${i}\r\n\r\n${'body '.repeat(2000)}${i}\r\n`);
    const lock = await client.getMailboxLock('INBOX');
    try {
      const subjects: string[] = [];
      for await (const m of client.fetch('1:*', { envelope: true, source: true })) {
        subjects.push(m.envelope!.subject!);
        assert.ok(m.source!.toString().endsWith(`${'body '.repeat(2000)}${subjects.length - 1}\r\n`));
      }
      assert.deepEqual(subjects, ['m0', 'm1', 'm2', 'm3', 'm4']);
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
});

async function compressScript(port: number, user: string): Promise<string[]> {
  const c = await LineClient.connect({ port });
  closers.push(() => c.close());
  await c.readLine();
  c.sendLine(`l LOGIN ${user} pw`);
  await c.readUntil((l) => l.startsWith('l '));
  const out: string[] = [];
  c.sendLine('z COMPRESS DEFLATE');
  out.push((await c.readLine())!);
  const z = new DeflateClient(c.socket);
  for (const [tag, cmd] of [
    ['z2', 'COMPRESS DEFLATE'],
    ['s', 'EXAMINE INBOX'],
    ['f', 'FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[])'],
    ['n', 'NOOP'],
    ['o', 'LOGOUT'],
  ] as const) {
    out.push(`>>> ${cmd}`, ...(await z.command(tag, cmd)));
  }
  return normalizeTranscript(out).map((l) => l.replace(/UIDVALIDITY \d+/, 'UIDVALIDITY v'));
}

test('the same compressed session against Dovecot 2.3 (imap_zlib) answers the same', async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const dir = mkdtempSync(join(tmpdir(), 'roost-compress-dovecot-'));
  const dovecot = await startDovecot({
    dir,
    users: [{ name: 'u', password: 'pw' }],
    protocols: ['imap'],
    extraConfig: 'protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}\n',
  });
  const roost = await startRoost({ users: [{ name: 'u', password: 'pw' }] });
  try {
    for (const port of [dovecot.imapPort, roost.ports.imap]) {
      const c = await LineClient.connect({ port });
      await c.readLine();
      c.sendLine('l LOGIN u pw');
      await c.readUntil((l) => l.startsWith('l '));
      c.send(`a APPEND INBOX (\\Seen) {${BIG.length}+}\r\n${BIG}\r\n`);
      await c.readUntil((l) => l.startsWith('a '));
      // A session has claimed \Recent (Dovecot keeps that in its index, Roost in new/ vs cur/).
      c.sendLine('s SELECT INBOX');
      await c.readUntil((l) => l.startsWith('s '));
      c.close();
    }
    const theirs = await compressScript(dovecot.imapPort, 'u');
    const ours = await compressScript(roost.ports.imap, 'u');
    assert.deepEqual(ours, theirs);
  } finally {
    await roost.stop();
    await dovecot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
