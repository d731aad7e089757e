// The fs watcher of a mailbox (RFC 2177 IDLE; RFC 9051 section 7.4.1 EXISTS): started by IDLE, not by SELECT; a new
// login soon after the last session of a mailbox ended takes over its inotify watches, and its IDLE hears another program's delivery.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { taggedSession } from '../helpers/imap-session.js';
import { waitFor } from '../helpers/wait-for.js';

let h: RoostHandle;
let base: string;
before(async () => {
  base = mkdtempSync(join(tmpdir(), 'roost-watcher-'));
  const maildir = join(base, 'mdir', 'Maildir');
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, d), { recursive: true });
  writeFileSync(join(maildir, 'cur', '1700000000.M1P1.test:2,S'), 'Subject: first\n\nbody\n');
  mkdirSync(join(base, 'mbx', 'mail'), { recursive: true });
  writeFileSync(join(base, 'mbx', 'mail', 'inbox'), mboxMessage('first'));
  h = await startRoost({
    dataDir: join(base, 'data'),
    users: [
      { name: 'mdir', password: 'pw', extra: `userdb_mail=maildir:${maildir}` },
      { name: 'mbx', password: 'pw', home: join(base, 'mbx'), extra: 'userdb_mail=mbox:~/mail:INBOX=~/mail/inbox' },
    ],
  });
});
after(async () => {
  await h?.stop();
  rmSync(base, { recursive: true, force: true });
});

function mboxMessage(subject: string): string {
  return `From sender@example.org Thu Nov 14 10:00:00 2024\nFrom: sender@example.org\nSubject: ${subject}\n\nbody of ${subject}\n\n`;
}

/** The daemon's inotify watch descriptors ("wd:N ino:..." lines of /proc/PID/fdinfo), as "wd/ino" strings. */
function inotifyWatches(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    for (const m of info.matchAll(/^inotify wd:(\w+) ino:(\w+)/gm)) out.push(`${m[1]}/${m[2]}`);
  }
  return out.sort();
}

const stores = [
  { user: 'mdir', deliver: () => {
    const tmp = join(base, 'mdir', 'Maildir', 'tmp', '1700000100.M2P1.test');
    writeFileSync(tmp, 'Subject: second\n\nbody\n');
    renameSync(tmp, join(base, 'mdir', 'Maildir', 'new', '1700000100.M2P1.test'));
  } },
  { user: 'mbx', deliver: () => appendFileSync(join(base, 'mbx', 'mail', 'inbox'), mboxMessage('second')) },
];

for (const { user, deliver } of stores) {
  test(`${user}: SELECT adds no watch, IDLE does; a second login's SELECT keeps them, and its IDLE sees another program's delivery`, { timeout: 60_000 }, async () => {
    const first = await taggedSession(h.ports.imap!, user, 'pw');
    // Another test's mailbox may still linger meanwhile: compare what appeared, not the whole set.
    const before = inotifyWatches(h.pid);
    assert.match((await first.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
    assert.deepEqual(inotifyWatches(h.pid).filter((w) => !before.includes(w)), [], 'SELECT alone watches nothing');
    first.c.send('i IDLE\r\n');
    assert.match((await first.c.readLine())!, /^\+ /);
    const afterIdle = inotifyWatches(h.pid);
    const watchesOfIdle = afterIdle.filter((w) => !before.includes(w));
    assert.ok(watchesOfIdle.length > 0, 'the mailbox is watched during IDLE');
    first.c.send('DONE\r\n');
    assert.match((await first.c.readUntil((l) => l.startsWith('i '))).at(-1)!, /^i OK/);
    const disconnects = () => h.output.filter((l) => l.includes('"msg":"disconnect"')).length;
    const disconnectsBefore = disconnects();
    assert.match((await first.cmd('LOGOUT')).at(-1)!, /^TAG OK/);
    first.close();
    // The first session has let go of the mailbox once its disconnect is logged: the second one does not share it.
    await waitFor('the first session to end', () => disconnects() > disconnectsBefore);

    const second = await taggedSession(h.ports.imap!, user, 'pw');
    try {
      const selected = await second.cmd('SELECT INBOX');
      assert.match(selected.at(-1)!, /^TAG OK/);
      assert.ok(selected.includes('* 1 EXISTS'), selected.join('\n'));
      second.c.send('i IDLE\r\n');
      assert.match((await second.c.readLine())!, /^\+ /);
      const now = inotifyWatches(h.pid);
      assert.deepEqual(watchesOfIdle.filter((w) => !now.includes(w)), [], 'the first IDLE\'s watches are kept');
      assert.deepEqual(now.filter((w) => !afterIdle.includes(w)), [], 'no new watches');
      deliver();
      await second.c.readUntil((l) => l === '* 2 EXISTS', 20_000);
      second.c.send('DONE\r\n');
      assert.match((await second.c.readUntil((l) => l.startsWith('i '))).at(-1)!, /^i OK/);
    } finally {
      second.close();
    }
  });
}
