// Integration test of FETCH BODY[HEADER] / RFC822.HEADER answered from the index's cache (RFC 9051 section 6.4.5):
// the responses of a FETCH that reads the messages and of one that answers from the cache are byte for byte the same.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { taggedSession } from '../helpers/imap-session.js';

const USER = { name: 'alice', password: 'secret' };

/** Stored with bare LF, as Maildir keeps them: NULs, a long header (not cached), an empty header, many small ones. */
const MESSAGES: Record<string, string> = {
  '1000.a.host:2,': 'From: a@example.org\nSubject: plain\n\nbody\n',
  '1001.b.host:2,S': 'Subject: nul\0here\nX-A: 1\n\nbody\0too\n',
  '1002.c.host:2,': `Subject: long\nX-Long: ${'y'.repeat(70_000)}\n\nbody\n`,
  '1003.d.host:2,': '\nno header at all\n',
  '1004.e.host:2,': 'Subject: no body',
  ...Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`${2000 + i}.m${i}.host:2,`, `Subject: message ${i}\nX-Pad: ${'p'.repeat(i * 7)}\n\nbody ${i}\n`])),
};

describe('FETCH header cache', () => {
  let roost: RoostHandle;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'roost-fetch-header-cache-'));
    const maildir = join(dataDir, 'mail', USER.name, 'Maildir');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
    for (const [name, text] of Object.entries(MESSAGES)) writeFileSync(join(maildir, 'cur', name), text, 'latin1');
    roost = await startRoost({ dataDir, users: [USER] });
  });

  after(async () => {
    await roost?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a FETCH answered from the cache sends the same bytes as the first one', async () => {
    const session = await taggedSession(roost.ports.imap!, USER.name, USER.password, 'h');
    const cmd = async (text: string): Promise<string[]> => {
      const lines = await session.cmd(text);
      assert.match(lines.at(-1)!, /^TAG OK /, text);
      return lines.slice(0, -1);
    };
    await cmd('SELECT INBOX');
    const fetches = [
      'FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[HEADER])',
      'FETCH 1:* (BODY.PEEK[HEADER]<3.40> RFC822.HEADER)',
      'UID FETCH 1:* (BODY.PEEK[HEADER]<100000.5> BODY.PEEK[HEADER.FIELDS (SUBJECT)])',
    ];
    const first = [];
    for (const f of fetches) first.push(await cmd(f));
    for (const [i, f] of fetches.entries()) assert.deepEqual(await cmd(f), first[i], `${f} from the cache`);
    assert.equal(first[0]!.filter((l) => /^\* \d+ FETCH /.test(l)).length, Object.keys(MESSAGES).length);
    // LF became CRLF and NUL became 0x80 in the header; the blank line ends it.
    const nul = first[0]!.findIndex((l) => l.startsWith('* 2 FETCH '));
    assert.equal(first[0]![nul + 1], 'Subject: nul\x80here');
    // Maildir files never change under their name: a header answered from the cache does not read the file again.
    // Rewritten in place (the directories, and so the change stamp, stay as they were), message 1 still shows the
    // header seen first; a header read from the file would show the new one.
    writeFileSync(join(dataDir, 'mail', USER.name, 'Maildir', 'cur', '1000.a.host:2,'), 'From: z@example.org\nSubject: other\n\nbody\n', 'latin1');
    const again = await cmd('FETCH 1 (BODY.PEEK[HEADER])');
    assert.ok(again.includes('From: a@example.org'), again.join('\n'));
    assert.ok(!again.includes('From: z@example.org'), again.join('\n'));
    session.close();
  });

  test('a non-peek BODY[HEADER] from the cache still sets \\Seen', async () => {
    const c = await LineClient.connect({ port: roost.ports.imap! });
    await c.readLine();
    c.send(`a LOGIN ${USER.name} ${USER.password}\r\nb SELECT INBOX\r\nc FETCH 1 (BODY.PEEK[HEADER])\r\nd FETCH 1 (BODY[HEADER])\r\n`);
    const lines = await c.readUntil((l) => l.startsWith('d '));
    assert.match(lines[lines.length - 1]!, /^d OK /);
    assert.ok(lines.some((l) => l.startsWith('* 1 FETCH (FLAGS (\\Seen) BODY[HEADER] {')), lines.join('\n'));
    c.socket.destroy();
  });
});
