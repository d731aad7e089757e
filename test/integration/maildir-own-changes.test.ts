// Maildir change stamps after Roost's own changes (RFC 9051 section 7 untagged updates; Dovecot's maildir sync rules):
// a STORE records the directory stamp it caused, and an outside change hidden behind a coarse directory time is still found.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { taggedSession } from '../helpers/imap-session.js';

const base = mkdtempSync(join(tmpdir(), 'roost-own-changes-'));
let h: RoostHandle | undefined;
after(async () => {
  await h?.stop();
  rmSync(base, { recursive: true, force: true });
});

test('an outside flag change hidden behind an unchanged directory time is reported after a STORE of our own', { timeout: 60_000 }, async () => {
  const maildir = join(base, 'home', 'own', 'Maildir');
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, d), { recursive: true });
  for (let i = 1; i <= 3; i++) {
    writeFileSync(join(maildir, 'cur', `1700000000.M${i}P1.test,S=40:2,`), `Subject: m${i}\n\nbody ${i} of the message\n`);
  }
  h = await startRoost({ dataDir: join(base, 'data'), users: [{ name: 'own', password: 'pw', extra: `userdb_mail=maildir:${maildir}` }] });
  const s = await taggedSession(h.ports.imap!, 'own', 'pw');
  const watcher = await taggedSession(h.ports.imap!, 'own', 'pw', 'w');
  try {
    assert.match((await s.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
    assert.match((await watcher.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
    // Our own change: message 1 flagged. The stamp recorded with it keeps the next command from rescanning.
    assert.match((await s.cmd('UID STORE 1 +FLAGS.SILENT (\\Flagged)')).at(-1)!, /^TAG OK/);
    // An outside program (a local MUA) marks message 2 seen at the same instant: the rename leaves cur/ with the time
    // and size Roost recorded, as a coarse file system clock would.
    const cur = join(maildir, 'cur');
    const recorded = statSync(cur, { bigint: true });
    const name = readdirSync(cur).find((f) => f.includes('.M2P1.'))!;
    renameSync(join(cur, name), join(cur, name.replace(/:2,.*$/, ':2,S')));
    // touch(1) sets the time to the nanosecond (utimensat); Node's utimes cannot.
    const stamp = `@${recorded.mtimeNs / 1_000_000_000n}.${String(recorded.mtimeNs % 1_000_000_000n).padStart(9, '0')}`;
    execFileSync('touch', ['-m', '-d', stamp, cur]);
    assert.equal(statSync(cur, { bigint: true }).mtimeNs, recorded.mtimeNs, 'cur/ looks untouched');
    // The other session learns about both changes without sending a command that would force a rescan: IDLE.
    watcher.c.send('i IDLE\r\n');
    const untagged: string[] = [];
    const seen = await watcher.c.readUntil((l) => {
      untagged.push(l);
      return /^\* 2 FETCH \(.*\\Seen/.test(l);
    }, 20_000);
    assert.ok(seen.some((l) => /^\* 1 FETCH \(.*\\Flagged/.test(l)) || untagged.some((l) => /^\* 1 FETCH \(.*\\Flagged/.test(l)), `the own STORE is reported too: ${untagged.join(' | ')}`);
    watcher.c.send('DONE\r\n');
    assert.match((await watcher.c.readUntil((l) => l.startsWith('i '))).at(-1)!, /^i OK/);
    // And the storing session is told at its next command (after the FETCH answers from its view, RFC 9051 section 7).
    const fetched = await s.cmd('UID FETCH 1:3 (FLAGS)');
    assert.ok(fetched.some((l) => /^\* 2 FETCH \(.*\\Seen/.test(l)), fetched.join('\n'));
    assert.ok(fetched.some((l) => /^\* 1 FETCH \(.*\\Flagged/.test(l)), fetched.join('\n'));
  } finally {
    s.close();
    watcher.close();
  }
});
