// mbox interoperability with real peers: an mbox Dovecot 2.3 wrote (LMTP deliveries, flags and keywords over IMAP) opens
// in Roost with the same UIDVALIDITY, UIDs, flags, keywords and sizes and back; a Postfix local(8)-style locking appender.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, chown, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ImapFlow } from 'imapflow';
import { openUserStorage, type StorageOptions, type MailUserInfo, type ChangesEvent } from '../../src/storage/api.js';
import { requirePeer, startDovecot, makeTraversable, ensureMailUser } from '../interop/peers.js';

interface Seen {
  uidValidity: number;
  uidNext: number;
  messages: Array<{ uid: number; flags: string[]; size: number }>;
}

async function lmtpDeliver(port: number, rcpt: string, message: string): Promise<void> {
  const s = connect(port, '127.0.0.1');
  let buf = '';
  s.on('data', (d) => (buf += d.toString()));
  const expect = async (code: string) => {
    const deadline = Date.now() + 15_000;
    while (!new RegExp(`^${code} `, 'm').test(buf)) {
      if (/^[45]\d\d /m.test(buf)) throw new Error(`LMTP: ${buf}`);
      if (Date.now() > deadline) throw new Error(`LMTP: no ${code} in ${buf}`);
      await once(s, 'data');
    }
    buf = '';
  };
  await expect('220');
  s.write('LHLO roost\r\n');
  await expect('250');
  s.write('MAIL FROM:<sender@example.org>\r\n');
  await expect('250');
  s.write(`RCPT TO:<${rcpt}>\r\n`);
  await expect('250');
  s.write('DATA\r\n');
  await expect('354');
  s.write(message.replace(/\r?\n/g, '\r\n') + '.\r\n');
  await expect('250');
  s.end();
}

async function dovecotView(port: number, user: string, mailbox: string): Promise<Seen> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass: 'pw' }, logger: false });
  await c.connect();
  try {
    const lock = await c.getMailboxLock(mailbox, { readOnly: true });
    try {
      const mb = c.mailbox as unknown as { uidValidity: bigint; uidNext: number };
      const messages: Seen['messages'] = [];
      for await (const m of c.fetch('1:*', { uid: true, flags: true, size: true })) {
        messages.push({ uid: m.uid, flags: [...m.flags!].filter((f) => f !== '\\Recent').sort(), size: m.size! });
      }
      return { uidValidity: Number(mb.uidValidity), uidNext: mb.uidNext, messages };
    } finally {
      lock.release();
    }
  } finally {
    await c.logout();
  }
}

async function roostView(user: MailUserInfo, opts: StorageOptions, mailbox: string): Promise<Seen> {
  const st = await openUserStorage(user, opts);
  try {
    const status = await st.status(mailbox);
    const box = await st.openMailbox(mailbox);
    try {
      return {
        uidValidity: status.uidValidity,
        uidNext: status.uidNext,
        messages: box.messages().map((m) => ({ uid: m.uid, flags: [...m.flags].sort(), size: m.size })),
      };
    } finally {
      await box.close();
    }
  } finally {
    await st.close();
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if ((await stat(path)).isDirectory()) for (const e of await readdir(path)) await chownTree(join(path, e), uid, gid);
}

describe('mbox interop', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roost-mbox-interop-'));
    makeTraversable(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('an mbox written by Dovecot opens in Roost with the same UIDVALIDITY, UIDs, flags, keywords and sizes', { timeout: 60_000 }, async (t) => {
    if (!requirePeer(t, 'dovecot')) return;
    const base = join(dir, 'from-dovecot');
    const location = `mbox:${base}/mail/%u:INBOX=${base}/mail/%u/inbox`;
    const d = await startDovecot({ dir: base, users: [{ name: 'alice', password: 'pw' }], mailLocation: location, protocols: ['imap', 'lmtp'] });
    let inbox: Seen;
    let folder: Seen;
    try {
      await lmtpDeliver(d.lmtpPort, 'alice@localhost', 'Subject: one\nFrom: a@example.org\n\nbody one\nFrom here\n>From there\n');
      await lmtpDeliver(d.lmtpPort, 'alice@localhost', 'Subject: two\n\nbody two\n');
      await lmtpDeliver(d.lmtpPort, 'alice@localhost', 'Subject: three\n\nbody three\n');
      const c = new ImapFlow({ host: '127.0.0.1', port: d.imapPort, secure: false, auth: { user: 'alice', pass: 'pw' }, logger: false });
      await c.connect();
      await c.mailboxCreate('Folder');
      await c.append('Folder', 'Subject: app\r\n\r\nappended\r\n', ['\\Seen', 'kwone'], new Date('2020-01-02T03:04:05Z'));
      await c.append('Folder', 'Subject: app2\r\n\r\nappended 2\r\n', ['\\Draft']);
      const lock = await c.getMailboxLock('INBOX');
      await c.messageFlagsAdd('1', ['\\Flagged', '$Label1', 'custom'], { uid: true });
      await c.messageFlagsAdd('2', ['\\Seen', '\\Answered'], { uid: true });
      await c.messageFlagsAdd('3', ['\\Deleted'], { uid: true });
      await c.messageDelete('3', { uid: true });
      lock.release();
      await c.logout();
      inbox = await dovecotView(d.imapPort, 'alice', 'INBOX');
      folder = await dovecotView(d.imapPort, 'alice', 'Folder');
    } finally {
      await d.stop();
    }
    assert.equal(inbox.messages.length, 2);
    const opts: StorageOptions = { dataDir: join(base, 'roost'), defaultMailLocation: location, fsync: true };
    assert.deepEqual(await roostView({ user: 'alice' }, opts, 'INBOX'), inbox);
    assert.deepEqual(await roostView({ user: 'alice' }, opts, 'Folder'), folder);
    // the content Roost serves is what Dovecot stored, metadata headers hidden
    const st = await openUserStorage({ user: 'alice' }, opts);
    const box = await st.openMailbox('INBOX');
    const text = (await (await box.openMessage(1)).read()).toString();
    assert.ok(text.endsWith('Subject: one\r\nFrom: a@example.org\r\n\r\nbody one\r\nFrom here\r\n>From there\r\n'), text);
    assert.ok(!/X-UID|X-IMAPbase|X-Keywords|Content-Length|Status:/.test(text));
    await box.close();
    await st.close();
  });

  test('an mbox written by Roost opens in Dovecot the same way', { timeout: 60_000 }, async (t) => {
    if (!requirePeer(t, 'dovecot')) return;
    const base = join(dir, 'from-roost');
    const location = `mbox:${base}/mail/%u:INBOX=${base}/mail/%u/inbox`;
    const opts: StorageOptions = { dataDir: join(base, 'roost'), defaultMailLocation: location, fsync: true };
    const user = { user: 'bob' };
    const st = await openUserStorage(user, opts);
    await st.createMailbox('Folder');
    await st.save('INBOX', Buffer.from('Subject: one\n\nbody one\nFrom the start\n'));
    await st.save('INBOX', Buffer.from('Subject: two\n\nbody two\n'), { flags: ['\\Seen', 'Work'] });
    await st.save('INBOX', Buffer.from('Subject: three\n\nbody three\n'));
    await st.save('Folder', Buffer.from('Subject: f\n\nf\n'), { flags: ['\\Draft', '\\Flagged'] });
    const box = await st.openMailbox('INBOX');
    await box.updateFlags([1], 'add', ['\\Answered', '$Label2']);
    await box.updateFlags([3], 'add', ['\\Deleted']);
    await box.expunge();
    await box.close();
    await st.close();
    const roostInbox = await roostView(user, opts, 'INBOX');
    const roostFolder = await roostView(user, opts, 'Folder');
    assert.deepEqual(roostInbox.messages.map((m) => m.uid), [1, 2]);
    const mailUser = ensureMailUser();
    await chownTree(join(base, 'mail'), mailUser.uid, mailUser.gid);
    const d = await startDovecot({ dir: base, users: [{ name: 'bob', password: 'pw' }], mailLocation: location, protocols: ['imap'] });
    try {
      assert.deepEqual(await dovecotView(d.imapPort, 'bob', 'INBOX'), roostInbox);
      assert.deepEqual(await dovecotView(d.imapPort, 'bob', 'Folder'), roostFolder);
    } finally {
      await d.stop();
    }
  });

  test('a Postfix local(8)-style appender (dotlock, then fcntl) racing Roost saves: every message once, nothing corrupted', { timeout: 60_000 }, async () => {
    const base = join(dir, 'racing');
    const location = `mbox:${base}/mail/%u:INBOX=${base}/mail/%u/inbox`;
    const opts: StorageOptions = { dataDir: join(base, 'roost'), defaultMailLocation: location, fsync: true };
    const user = { user: 'carol' };
    const st = await openUserStorage(user, opts);
    try {
      await st.save('INBOX', Buffer.from('Subject: first\n\nfirst\n'));
      const box = await st.openMailbox('INBOX');
      const mbox = join(base, 'mail', 'carol', 'inbox');
      // The appender does what Postfix's local(8) does: O_EXCL dotlock, open, fcntl write lock, append "From_ ... \n\n", unlock.
      const script = `
        const fs = require('fs'); const fsExt = require('fs-ext');
        const path = process.argv[1]; const count = Number(process.argv[2]);
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const fcntl = (fd, type) => new Promise((res, rej) => fsExt.fcntl(fd, 'setlk', type, (e) => e ? rej(e) : res()));
        (async () => {
          for (let i = 0; i < count; i++) {
            for (;;) { try { fs.closeSync(fs.openSync(path + '.lock', 'wx')); break; } catch { await sleep(2); } }
            const fd = fs.openSync(path, 'a');
            for (;;) { try { await fcntl(fd, fsExt.constants.F_WRLCK); break; } catch { await sleep(2); } }
            fs.writeSync(fd, 'From postfix@example.org  Mon Nov  2 10:00:00 2026\\nSubject: outside ' + i + '\\n\\noutside body ' + i + '\\n>From quoted\\n\\n');
            fs.fsyncSync(fd);
            await fcntl(fd, fsExt.constants.F_UNLCK);
            fs.closeSync(fd);
            fs.unlinkSync(path + '.lock');
          }
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const outsideCount = 25;
      const child = spawn(process.execPath, ['-e', script, mbox, String(outsideCount)], { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'inherit', 'inherit'] });
      const exited = once(child, 'exit');
      const roostCount = 25;
      for (let i = 0; i < roostCount; i++) {
        await st.save('INBOX', Buffer.from(`Subject: roost ${i}\n\nroost body ${i}\n`));
        if (i % 5 === 0) await box.updateFlags([1], i % 10 === 0 ? 'add' : 'remove', ['\\Seen']);
      }
      const [code] = await exited;
      assert.equal(code, 0);
      // the session notices the outside mail
      await Promise.race([
        (async () => {
          for (;;) {
            const ev = once(box, 'changes') as Promise<[ChangesEvent]>;
            await box.sync();
            if (box.messages().length >= 1 + roostCount + outsideCount) break;
            await ev;
          }
        })(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('outside mail not seen within 20 s')), 20_000).unref()),
      ]);
      const msgs = box.messages();
      assert.equal(msgs.length, 1 + roostCount + outsideCount);
      assert.deepEqual(msgs.map((m) => m.uid), msgs.map((_m, i) => i + 1));
      const subjects = new Set<string>();
      for (const m of msgs) {
        const text = (await (await box.openMessage(m.uid)).read()).toString();
        const subject = /^Subject: (.*)\r\n/m.exec(text)?.[1];
        assert.ok(subject, text);
        assert.ok(!subjects.has(subject), `duplicate ${subject}`);
        subjects.add(subject);
        assert.equal(text.length, m.size);
        if (subject.startsWith('outside')) assert.ok(text.endsWith(`\r\n\r\noutside body ${subject.slice(8)}\r\n>From quoted\r\n`), text);
      }
      await box.close();
      const raw = await readFile(mbox, 'latin1');
      assert.equal((raw.match(/^X-UID: /gm) ?? []).length, 1 + roostCount + outsideCount, 'every message has its X-UID written back');
    } finally {
      await st.close();
    }
  });
});
