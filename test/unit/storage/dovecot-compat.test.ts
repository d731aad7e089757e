// Compatibility with real Dovecot 2.3 on the same Maildir++ store: mail Dovecot delivered (LMTP) and flagged (IMAP)
// opens in Roost with the same UIDVALIDITY, UIDs, flags, keywords and sizes; mail Roost saved opens in Dovecot the same.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { chownSync, readdirSync, lstatSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { requirePeer, startDovecot, ensureMailUser, type DovecotHandle } from '../../interop/peers.js';
import { openUserStorage, type StorageOptions } from '../../../src/storage/api.js';

function lmtpDeliver(port: number, rcpt: string, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1');
    const commands = ['LHLO roost-test\r\n', 'MAIL FROM:<sender@example.org>\r\n', `RCPT TO:<${rcpt}>\r\n`, 'DATA\r\n', message.replace(/\r?\n/g, '\r\n') + '.\r\n', 'QUIT\r\n'];
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buffer += d;
      const lines = buffer.split('\r\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        if (/^[45]\d\d /.test(line)) reject(new Error(`LMTP: ${line}`));
        if (/^\d{3} /.test(line)) {
          const next = commands.shift();
          if (next) socket.write(next);
        }
      }
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
}

describe('Dovecot compatibility (Maildir++)', () => {
  let dir: string;
  let dovecot: DovecotHandle | undefined;
  let available = false;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roost-dovecot-compat-'));
  });
  after(async () => {
    await dovecot?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a store written by Dovecot opens in Roost with the same UIDs, flags, keywords and sizes, and back', async (t) => {
    available = requirePeer(t, 'dovecot');
    if (!available) return;
    dovecot = await startDovecot({ dir: join(dir, 'dovecot'), users: [{ name: 'alice', password: 'secret' }] });
    await lmtpDeliver(dovecot.lmtpPort, 'alice@localhost', 'From: a@example.org\nSubject: one\n\nHello one\n');
    await lmtpDeliver(dovecot.lmtpPort, 'alice@localhost', 'From: a@example.org\nSubject: two\n\nHello two\nsecond line\n');
    await lmtpDeliver(dovecot.lmtpPort, 'alice@localhost', 'From: a@example.org\nSubject: three\n\n3\n');

    const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'alice', pass: 'secret' }, logger: false });
    await client.connect();
    await client.mailboxCreate('Projects.Roost');
    await client.mailboxSubscribe('Projects.Roost');
    const inbox = await client.mailboxOpen('INBOX');
    await client.messageFlagsAdd('1', ['\\Seen', '$Forwarded'], { uid: true });
    await client.messageFlagsAdd('2', ['\\Flagged', '\\Answered', 'Work'], { uid: true });
    await client.messageFlagsAdd('3', ['\\Deleted'], { uid: true });
    await client.messageDelete('3', { uid: true });
    const dovecotView = new Map<number, { flags: string[]; size: number }>();
    for await (const m of client.fetch('1:*', { uid: true, flags: true, size: true }, { uid: true })) {
      dovecotView.set(m.uid, { flags: [...(m.flags ?? [])].sort(), size: m.size! });
    }
    const uidValidity = Number(inbox.uidValidity);
    await client.logout();

    const opts: StorageOptions = { dataDir: join(dir, 'roost'), defaultMailLocation: `maildir:${dovecot.mailRoot}/%u`, fsync: true };
    const storage = await openUserStorage({ user: 'alice' }, opts);
    try {
      const box = await storage.openMailbox('INBOX');
      assert.equal(box.uidValidity, uidValidity);
      assert.deepEqual(box.messages().map((m) => m.uid), [...dovecotView.keys()]);
      for (const m of box.messages()) {
        const d = dovecotView.get(m.uid)!;
        assert.deepEqual([...m.flags].sort(), d.flags.filter((f) => f !== '\\Recent'), `flags of uid ${m.uid}`);
        assert.equal(m.size, d.size, `size of uid ${m.uid}`);
        assert.equal((await (await box.openMessage(m.uid)).read()).length, d.size);
      }
      const list = await storage.listMailboxes();
      assert.ok(list.some((m) => m.name === 'Projects.Roost' && m.subscribed));
      // Roost writes: a new message with flags and a keyword, and a flag change.
      const saved = await storage.save('INBOX', Buffer.from('From: roost@example.org\nSubject: from roost\n\nbody\n'), { flags: ['\\Seen', 'Roosted'] });
      await box.updateFlags([1], 'add', ['\\Draft']);
      await box.close();
      assert.equal(saved.uid, 4);
    } finally {
      await storage.close();
    }

    const vmail = ensureMailUser();
    chownTree(join(dovecot.mailRoot, 'alice'), vmail.uid, vmail.gid);
    const again = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'alice', pass: 'secret' }, logger: false });
    await again.connect();
    const box2 = await again.mailboxOpen('INBOX');
    assert.equal(Number(box2.uidValidity), uidValidity);
    const seen = new Map<number, { flags: string[]; size: number }>();
    for await (const m of again.fetch('1:*', { uid: true, flags: true, size: true }, { uid: true })) {
      seen.set(m.uid, { flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(), size: m.size! });
    }
    await again.logout();
    assert.deepEqual([...seen.keys()], [1, 2, 4]);
    assert.deepEqual(seen.get(1)!.flags, ['$Forwarded', '\\Draft', '\\Seen']);
    assert.deepEqual(seen.get(4)!.flags, ['Roosted', '\\Seen']);
    assert.equal(seen.get(4)!.size, 'From: roost@example.org\r\nSubject: from roost\r\n\r\nbody\r\n'.length);
  });
});
