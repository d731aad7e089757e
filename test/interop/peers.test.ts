// Checks that test/interop/peers starts each real peer and that it answers: Dovecot (IMAP, POP3, LMTP, login), Postfix (EHLO),
// slapd (a user's simple bind, RFC 4513 section 5.1.3), and that each client peer runs and prints its version.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, InvalidCredentialsError } from 'ldapts';
import {
  freePort,
  measurePss,
  peerVersion,
  requirePeer,
  startDovecot,
  startPostfix,
  startSlapd,
  type PeerName,
} from './peers.js';

/** A line-oriented conversation over TCP: read until a line matches, send a line. */
class LineConversation {
  private buffer = '';
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  static open(port: number): Promise<LineConversation> {
    return new Promise((done, fail) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => done(new LineConversation(socket)));
      socket.once('error', fail);
    });
  }

  /** Reads lines until one matches `last`; returns all of them. */
  async readUntil(last: RegExp, timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    for (;;) {
      let newline: number;
      while ((newline = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 2);
        lines.push(line);
        if (last.test(line)) return lines;
      }
      if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(lines)}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no line matching ${last} within ${timeoutMs} ms; got ${JSON.stringify(lines)}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  close(): void {
    this.socket.destroy();
  }
}

const root = mkdtempSync(join(tmpdir(), 'roost-peers-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of cleanups.reverse()) await stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('server peers', () => {
  test('Dovecot greets on IMAP, POP3 and LMTP and accepts an IMAP login', async (t) => {
    if (!requirePeer(t, 'dovecot')) return;
    const dovecot = await startDovecot({
      dir: join(root, 'dovecot'),
      users: [{ name: 'alice', password: 'alice-secret' }],
      fsync: false,
    });
    cleanups.push(() => dovecot.stop());

    const imap = await LineConversation.open(dovecot.imapPort);
    assert.match((await imap.readUntil(/^\* /))[0]!, /^\* OK /);
    imap.send('a1 LOGIN alice alice-secret');
    assert.match((await imap.readUntil(/^a1 /)).at(-1)!, /^a1 OK /);
    imap.send('a2 SELECT INBOX');
    assert.match((await imap.readUntil(/^a2 /)).at(-1)!, /^a2 OK /);
    imap.send('a3 LOGOUT');
    await imap.readUntil(/^a3 /);
    imap.close();

    const bad = await LineConversation.open(dovecot.imapPort);
    await bad.readUntil(/^\* /);
    bad.send('b1 LOGIN alice wrong');
    assert.match((await bad.readUntil(/^b1 /, 30_000)).at(-1)!, /^b1 NO /);
    bad.close();

    const pop3 = await LineConversation.open(dovecot.pop3Port);
    assert.match((await pop3.readUntil(/^[+-]/))[0]!, /^\+OK /);
    pop3.send('QUIT');
    await pop3.readUntil(/^\+OK/);
    pop3.close();

    const lmtp = await LineConversation.open(dovecot.lmtpPort);
    assert.match((await lmtp.readUntil(/^220 /))[0]!, /^220 /);
    lmtp.send('LHLO client.example');
    assert.match((await lmtp.readUntil(/^250 /)).at(-1)!, /^250 /);
    lmtp.send('QUIT');
    await lmtp.readUntil(/^221 /);
    lmtp.close();

    assert.ok(dovecot.pids().length >= 3, 'master and its helpers are running');
    assert.ok((await measurePss(dovecot.pids())) > 0, 'PSS is measured');
    await dovecot.stop();
    assert.deepEqual(dovecot.pids(), []);
  });

  test('Postfix answers EHLO on its own port', async (t) => {
    if (!requirePeer(t, 'postfix')) return;
    const postfix = await startPostfix({ dir: join(root, 'postfix'), mailboxTransport: `lmtp:inet:127.0.0.1:${await freePort()}` });
    cleanups.push(() => postfix.stop());
    const smtp = await LineConversation.open(postfix.smtpPort);
    assert.match((await smtp.readUntil(/^220 /))[0]!, /^220 .*ESMTP/);
    smtp.send('EHLO client.example');
    const ehlo = await smtp.readUntil(/^250 /);
    assert.ok(ehlo.some((l) => /^250[- ]PIPELINING/.test(l)), ehlo.join('\n'));
    smtp.send('QUIT');
    await smtp.readUntil(/^221 /);
    smtp.close();
    await postfix.stop();
    assert.deepEqual(postfix.pids(), []);
  });

  test('slapd accepts a user bind and refuses a wrong password, also after a restart', async (t) => {
    if (!requirePeer(t, 'slapd')) return;
    const slapd = await startSlapd({
      dir: join(root, 'slapd'),
      users: [{ uid: 'bob', password: 'bob-secret', mail: 'bob@example.org' }],
    });
    cleanups.push(() => slapd.stop());

    const bindAsBob = async (password: string) => {
      const client = new Client({ url: slapd.url, timeout: 20_000, connectTimeout: 20_000 });
      try {
        await client.bind(slapd.userDn('bob'), password);
      } finally {
        await client.unbind();
      }
    };
    await bindAsBob('bob-secret');
    await assert.rejects(bindAsBob('wrong'), InvalidCredentialsError);

    const admin = new Client({ url: slapd.url });
    await admin.bind(slapd.rootDn, slapd.rootPassword);
    const { searchEntries } = await admin.search(slapd.suffix, { scope: 'sub', filter: '(mail=bob@example.org)' });
    await admin.unbind();
    assert.equal(searchEntries.length, 1);
    assert.equal(searchEntries[0]!.dn, slapd.userDn('bob'));

    await slapd.restart();
    await bindAsBob('bob-secret');
    await slapd.stop();
  });
});

describe('client peers', () => {
  const expected: [PeerName, RegExp][] = [
    ['swaks', /swaks version/i],
    ['mutt', /^Mutt /],
    ['mbsync', /^isync /],
    ['fetchmail', /fetchmail release/i],
    ['getmail', /^getmail /],
    ['tmux', /^tmux /],
    ['openssl', /^OpenSSL /],
  ];
  for (const [name, pattern] of expected) {
    test(`${name} runs and prints its version`, async (t) => {
      if (!requirePeer(t, name)) return;
      assert.match(await peerVersion(name), pattern);
    });
  }
});
