// A mailbox another program deletes while Roost knows it (RFC 9051 section 6.3.2 SELECT, 6.3.11 STATUS; RFC 5530
// NONEXISTENT): the next SELECT or EXAMINE of it answers NO [NONEXISTENT], STATUS NO, on Maildir++ and on mbox.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { taggedSession } from '../helpers/imap-session.js';

let h: RoostHandle;
let base: string;
before(async () => {
  base = mkdtempSync(join(tmpdir(), 'roost-deleted-outside-'));
  mkdirSync(join(base, 'mbx', 'mail'), { recursive: true });
  h = await startRoost({
    dataDir: join(base, 'data'),
    users: [
      { name: 'mdir', password: 'pw', extra: `userdb_mail=maildir:${join(base, 'mdir', 'Maildir')}` },
      { name: 'mbx', password: 'pw', home: join(base, 'mbx'), extra: 'userdb_mail=mbox:~/mail:INBOX=~/mail/inbox' },
    ],
  });
});
after(async () => {
  await h?.stop();
  rmSync(base, { recursive: true, force: true });
});

const stores = [
  { user: 'mdir', folderPath: (name: string) => join(base, 'mdir', 'Maildir', `.${name}`) },
  { user: 'mbx', folderPath: (name: string) => join(base, 'mbx', 'mail', name) },
];

for (const { user, folderPath } of stores) {
  test(`${user}: SELECT, EXAMINE and STATUS of a mailbox deleted by another program answer NO`, { timeout: 60_000 }, async () => {
    const holder = await taggedSession(h.ports.imap!, user, 'pw', 'h');
    const other = await taggedSession(h.ports.imap!, user, 'pw', 'o');
    try {
      for (const name of ['Gone', 'Held']) {
        assert.match((await other.cmd(`CREATE ${name}`)).at(-1)!, /^TAG OK/);
        assert.match((await other.cmd(`APPEND ${name} {13}\r\nSubject: x\r\n`)).at(-1)!, /^TAG OK/);
      }
      // "Gone" was selected by this session, which moved on (the process still knows it); another session keeps
      // "Held" selected.
      assert.match((await other.cmd('SELECT Gone')).at(-1)!, /^TAG OK/);
      assert.match((await other.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
      assert.match((await holder.cmd('SELECT Held')).at(-1)!, /^TAG OK/);

      for (const name of ['Gone', 'Held']) rmSync(folderPath(name), { recursive: true, force: true });

      for (const name of ['Gone', 'Held']) {
        assert.match((await other.cmd(`SELECT ${name}`)).at(-1)!, /^TAG NO \[NONEXISTENT\]/, name);
        assert.match((await other.cmd(`EXAMINE ${name}`)).at(-1)!, /^TAG NO \[NONEXISTENT\]/, name);
        // STATUS answers as Dovecot 2.3 does: "NO Mailbox doesn't exist: <name>", without a response code.
        assert.match((await other.cmd(`STATUS ${name} (MESSAGES)`)).at(-1)!, new RegExp(`^TAG NO Mailbox doesn't exist: ${name}$`));
        // The session is usable afterwards.
        assert.match((await other.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
      }
    } finally {
      holder.close();
      other.close();
    }
  });
}
