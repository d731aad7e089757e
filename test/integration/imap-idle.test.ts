// IDLE on the live server (RFC 2177; RFC 9051 sections 6.3.13, 7.4.1, 7.5.1, 7.5.2): a session in IDLE
// sees "* n EXISTS" for LMTP deliveries, "* n FETCH (FLAGS ...)" and "* n EXPUNGE" made by a second session.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { lmtpDeliver } from '../helpers/python.js';
import { LineClient } from '../helpers/line-client.js';

let h: RoostHandle;
let homes: string;
before(async () => {
  homes = mkdtempSync(join(tmpdir(), 'roost-idle-homes-'));
  h = await startRoost({
    users: [
      { name: 'mdir', password: 'pw1' },
      { name: 'mbx', password: 'pw2', home: join(homes, 'mbx'), extra: 'userdb_mail=mbox:~/mail:INBOX=~/mail/inbox' },
    ],
  });
});
after(async () => {
  await h?.stop();
  rmSync(homes, { recursive: true, force: true });
});

let tagNo = 0;
/** Sends a tagged command and returns every line up to and including its completion. */
async function cmd(c: LineClient, line: string): Promise<string[]> {
  const tag = `t${++tagNo}`;
  c.sendLine(`${tag} ${line}`);
  const lines = await c.readUntil((l) => l.startsWith(`${tag} `));
  assert.match(lines.at(-1)!, new RegExp(`^${tag} OK`), `${line}: ${lines.join(' | ')}`);
  return lines;
}

async function login(user: string, pass: string): Promise<LineClient> {
  const c = await LineClient.connect({ port: h.ports.imap });
  assert.match((await c.readLine())!, /^\* OK/);
  await cmd(c, `LOGIN ${user} ${pass}`);
  return c;
}

/** The next n lines that are not IDLE keepalives ("* OK Still here"). */
async function updates(c: LineClient, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) out.push(await nextUpdate(c));
  return out;
}

/** The next line that is not an IDLE keepalive ("* OK Still here"). */
async function nextUpdate(c: LineClient): Promise<string> {
  for (;;) {
    const line = await c.readLine(20_000);
    if (line === null) throw new Error('connection closed while idling');
    if (!/^\* OK\b/.test(line)) return line;
  }
}

const msg = (n: number) => `From: list@example.net\r\nTo: someone@localhost\r\nSubject: idle ${n}\r\nMessage-ID: <idle.${n}@example.net>\r\n\r\nbody ${n}\r\n`;

const stores = [
  ['mdir', 'pw1', 'Maildir++'],
  ['mbx', 'pw2', 'mbox'],
] as const;

for (const [user, pass, store] of stores) {
  for (const rev2 of [false, true]) {
    test(`IDLE sees EXISTS, FETCH FLAGS and EXPUNGE in order (${store}, ${rev2 ? 'IMAP4rev2' : 'IMAP4rev1'})`, async () => {
      // Each run starts from an empty INBOX so the sequence numbers below are exact.
      const setup = await login(user, pass);
      await cmd(setup, 'SELECT INBOX');
      await cmd(setup, 'STORE 1:* +FLAGS.SILENT (\\Deleted)').catch(() => undefined);
      await cmd(setup, 'CLOSE');
      await cmd(setup, 'LOGOUT');
      setup.close();
      await lmtpDeliver(h.ports.lmtp, 'list@example.net', [`${user}@localhost`], msg(1));
      await lmtpDeliver(h.ports.lmtp, 'list@example.net', [`${user}@localhost`], msg(2));

      const idler = await login(user, pass);
      if (rev2) await cmd(idler, 'ENABLE IMAP4rev2');
      const sel = await cmd(idler, 'SELECT INBOX');
      assert.ok(sel.includes('* 2 EXISTS'), sel.join(' | '));
      const other = await login(user, pass);
      await cmd(other, 'SELECT INBOX');
      // rev1 sessions hear RECENT and see \Recent; the idler selected first, so all new mail is recent to it.
      const recent = (n: number) => (rev2 ? [] : [`* ${n} RECENT`]);
      const R = rev2 ? '' : ' \\Recent';

      idler.sendLine('idle1 IDLE');
      assert.equal(await idler.readLine(), '+ idling', 'IDLE is accepted with a continuation');

      // A delivery: EXISTS for the new count (RFC 9051 section 7.4.1), then RECENT for rev1.
      assert.deepEqual(await lmtpDeliver(h.ports.lmtp, 'list@example.net', [`${user}@localhost`], msg(3)), {});
      assert.deepEqual(await updates(idler, 1 + recent(0).length), ['* 3 EXISTS', ...recent(3)]);

      // The second session (rev1, not the owner of \\Recent) learns of the delivery too.
      assert.deepEqual((await cmd(other, 'NOOP')).slice(0, -1), ['* 3 EXISTS', '* 0 RECENT']);

      // A second session flags message 2: the idler gets its new flags (section 7.5.2).
      await cmd(other, 'STORE 2 +FLAGS.SILENT (\\Flagged)');
      assert.deepEqual(await updates(idler, 1), [`* 2 FETCH (FLAGS (\\Flagged${R}))`]);

      // The second session marks message 1 deleted, then expunges it: FETCH, then EXPUNGE (section 7.5.1).
      await cmd(other, 'STORE 1 +FLAGS.SILENT (\\Deleted \\Seen)');
      assert.deepEqual(await updates(idler, 1), [`* 1 FETCH (FLAGS (\\Deleted \\Seen${R}))`]);
      const exp = await cmd(other, 'EXPUNGE');
      assert.deepEqual(exp.slice(0, -1), ['* 1 EXPUNGE']);
      assert.deepEqual(await updates(idler, 1), ['* 1 EXPUNGE']);

      // Another delivery after the expunge: 2 left + 1 new.
      await lmtpDeliver(h.ports.lmtp, 'list@example.net', [`${user}@localhost`], msg(4));
      assert.deepEqual(await updates(idler, 1 + recent(0).length), ['* 3 EXISTS', ...recent(3)]);

      idler.sendLine('DONE');
      assert.deepEqual(await updates(idler, 1), ['idle1 OK Idle completed.']);

      // After IDLE the session agrees with the second one about what is there.
      assert.deepEqual((await cmd(other, 'NOOP')).slice(0, -1), ['* 3 EXISTS', '* 0 RECENT']);
      const mine = await cmd(idler, 'UID FETCH 1:* (FLAGS)');
      const theirs = await cmd(other, 'UID FETCH 1:* (FLAGS)');
      const strip = (ls: string[]) => ls.slice(0, -1).map((l) => l.replace(/ ?\\Recent/, ''));
      assert.equal(strip(mine).length, 3, mine.join(' | '));
      assert.deepEqual(strip(mine), strip(theirs));
      assert.match(strip(mine)[0], /^\* 1 FETCH \((UID \d+ FLAGS \(\\Flagged\)|FLAGS \(\\Flagged\) UID \d+)\)$/);

      await cmd(idler, 'LOGOUT');
      await cmd(other, 'LOGOUT');
      idler.close();
      other.close();
    });
  }
}

test('IDLE in the authenticated state, DONE in any case, pipelined DONE; a bad continuation line gets BAD; a vanished idler', async () => {
  const c = await login('mdir', 'pw1');
  c.sendLine('a IDLE');
  assert.match((await c.readLine())!, /^\+ /);
  c.sendLine('done');
  assert.equal(await nextUpdate(c), 'a OK Idle completed.');
  await cmd(c, 'SELECT INBOX');
  c.sendLine('b IDLE');
  assert.match((await c.readLine())!, /^\+ /);
  c.sendLine('NOOP');
  assert.match(await nextUpdate(c), /^b BAD/);
  await cmd(c, 'NOOP');
  // DONE pipelined with the next command, and a whole IDLE pipelined, as clients do.
  c.send('c IDLE\r\n');
  assert.equal(await c.readLine(), '+ idling');
  c.send('DONE\r\nd NOOP\r\n');
  assert.deepEqual(await c.readUntil((l) => l.startsWith('d ')), ['c OK Idle completed.', 'd OK NOOP completed.']);
  c.send('e IDLE\r\nDONE\r\nf NOOP\r\n');
  assert.deepEqual(await c.readUntil((l) => l.startsWith('f ')), ['+ idling', 'e OK Idle completed.', 'f OK NOOP completed.']);
  // A client that vanishes while idling leaves the server serving others.
  c.sendLine('g IDLE');
  assert.equal(await c.readLine(), '+ idling');
  c.close();
  const again = await login('mdir', 'pw1');
  await cmd(again, 'SELECT INBOX');
  await cmd(again, 'LOGOUT');
  again.close();
});
