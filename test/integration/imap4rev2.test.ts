// IMAP4rev2 (RFC 9051) through the live server, where Dovecot 2.3 cannot be the reference: ENABLE,
// SELECT without RECENT but with LIST, ESEARCH answers, no \Recent, UTF-8 mailbox names, STATUS DELETED.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { lmtpDeliver } from '../helpers/python.js';

let h: RoostHandle;
before(async () => {
  h = await startRoost({ users: [{ name: 'rev2', password: 'pw' }] });
  for (let i = 1; i <= 4; i++) await lmtpDeliver(h.ports.lmtp, 'a@example.org', ['rev2@localhost'], `Subject: m${i}\r\n\r\nbody ${i}\r\n`);
});
after(async () => {
  await h?.stop();
});

async function session(): Promise<{ c: LineClient; run: (tag: string, cmd: string) => Promise<string[]> }> {
  const c = await LineClient.connect({ port: h.ports.imap });
  await c.readLine();
  const run = async (tag: string, cmd: string) => {
    c.sendLine(`${tag} ${cmd}`);
    return c.readUntil((l) => l.startsWith(`${tag} `));
  };
  assert.match((await run('l', 'LOGIN rev2 pw')).at(-1)!, /^l OK/);
  return { c, run };
}

test('CAPABILITY lists IMAP4rev2 beside IMAP4rev1, and ENABLE IMAP4rev2 answers ENABLED (RFC 9051 6.3.1)', async () => {
  const { c, run } = await session();
  const caps = await run('a', 'CAPABILITY');
  assert.match(caps[0], /^\* CAPABILITY .*\bIMAP4rev1\b.*\bIMAP4rev2\b/);
  assert.deepEqual(await run('b', 'ENABLE IMAP4rev2'), ['* ENABLED IMAP4rev2', 'b OK Enabled.']);
  assert.deepEqual(await run('c', 'ENABLE IMAP4rev2'), ['* ENABLED', 'c OK Enabled.'], 'enabling twice enables nothing new');
  c.close();
});

test('SELECT in IMAP4rev2 has no RECENT or UNSEEN but a LIST response (RFC 9051 6.3.2 example)', async () => {
  const { c, run } = await session();
  await run('e', 'ENABLE IMAP4rev2');
  const sel = await run('s', 'SELECT INBOX');
  assert.ok(sel.includes('* 4 EXISTS'));
  assert.ok(sel.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l)));
  assert.ok(sel.some((l) => /^\* OK \[UIDNEXT 5\]/.test(l)));
  assert.ok(sel.some((l) => /^\* FLAGS \(/.test(l)));
  assert.ok(sel.includes('* LIST () "." INBOX'), sel.join('\n'));
  assert.ok(!sel.some((l) => / RECENT$/.test(l) || /\[UNSEEN /.test(l)), 'RECENT and UNSEEN are gone in IMAP4rev2');
  assert.match(sel.at(-1)!, /^s OK \[READ-WRITE\]/);
  const f = await run('f', 'FETCH 1:4 (FLAGS)');
  assert.ok(f.slice(0, -1).every((l) => !l.includes('\\Recent')), 'no \\Recent flag in IMAP4rev2');
  c.close();
});

test('SEARCH answers with ESEARCH once IMAP4rev2 is enabled (RFC 9051 6.4.4 and 7.3.4)', async () => {
  const { c, run } = await session();
  await run('e', 'ENABLE IMAP4rev2');
  await run('s', 'SELECT INBOX');
  const all = await run('A282', 'SEARCH ALL');
  assert.equal(all[0], '* ESEARCH (TAG "A282") ALL 1:4');
  assert.match(all[1], /^A282 OK/);
  const uid = await run('A283', 'UID SEARCH SUBJECT m3');
  assert.equal(uid[0], '* ESEARCH (TAG "A283") UID ALL 3');
  const none = await run('A284', 'SEARCH SUBJECT nothing-matches');
  assert.equal(none[0], '* ESEARCH (TAG "A284")', 'no matches: an ESEARCH without ALL');
  const minmax = await run('A285', 'SEARCH RETURN (MIN MAX COUNT) ALL');
  assert.equal(minmax[0], '* ESEARCH (TAG "A285") MIN 1 MAX 4 COUNT 4');
  c.close();
});

test('mailbox names are UTF-8 on the wire once IMAP4rev2 is enabled, modified UTF-7 before (RFC 9051 5.1)', async () => {
  const { c, run } = await session();
  const before = await run('a', 'CREATE "Entw&APw-rfe"');
  assert.match(before.at(-1)!, /^a OK/);
  const listedRev1 = await run('b', 'LIST "" "Entw*"');
  assert.ok(listedRev1.includes('* LIST (\\HasNoChildren) "." Entw&APw-rfe'), listedRev1.join('\n'));
  await run('e', 'ENABLE IMAP4rev2');
  const listedRev2 = await run('d', 'LIST "" "Entw*"');
  // The line client reads bytes as latin1: the UTF-8 name appears as its bytes.
  const wire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
  assert.ok(listedRev2.includes(wire('* LIST (\\HasNoChildren) "." "Entw\u00fcrfe"')), listedRev2.join('\n'));
  const st = await run('f', 'STATUS "Entw\u00fcrfe" (MESSAGES DELETED SIZE)');
  assert.equal(st[0], wire('* STATUS "Entw\u00fcrfe" (MESSAGES 0 DELETED 0 SIZE 0)'));
  c.close();
});
