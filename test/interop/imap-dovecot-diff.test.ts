// Differential test: for the same Maildir++ store, Roost's and Debian's Dovecot's answers to one scripted
// IMAP4rev1 session (LIST, STATUS, SELECT/EXAMINE, FETCH of every item over a varied corpus, SEARCH, STORE,
// COPY/MOVE with UIDPLUS, EXPUNGE) are equal after the normalisation in imap-normalize.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, readFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { requirePeer, startDovecot, makeTraversable } from './peers.js';
import { normalizeTranscript } from './imap-normalize.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const corpusDir = new URL('../fixtures/mime/messages/', import.meta.url).pathname;
const corpus = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.eml'))
  .sort()
  .map((f) => readFileSync(join(corpusDir, f)));

/** Sends one command and returns every line up to and including its tagged completion (literals inline). */
async function command(c: LineClient, tag: string, text: string | Buffer): Promise<string[]> {
  c.send(typeof text === 'string' ? `${tag} ${text}\r\n` : text);
  const out: string[] = [];
  for (;;) {
    const line = await c.readLine();
    if (line === null) throw new Error(`connection closed during ${tag}`);
    const lit = /\{(\d+)\}$/.exec(line);
    if (lit) {
      const data = await c.readBytes(Number(lit[1]));
      out.push(`${line}${data.toString('latin1')}`);
      // The rest of the line after the literal is appended to the same logical line.
      const rest = await c.readLine();
      out[out.length - 1] += rest ?? '';
      while (/\{(\d+)\}$/.test(out[out.length - 1])) {
        const n = Number(/\{(\d+)\}$/.exec(out[out.length - 1])![1]);
        out[out.length - 1] += (await c.readBytes(n)).toString('latin1') + ((await c.readLine()) ?? '');
      }
      continue;
    }
    out.push(line);
    if (line.startsWith(`${tag} `)) return out;
  }
}

async function appendAll(port: number): Promise<void> {
  const c = await LineClient.connect({ port });
  await c.readLine();
  await command(c, 'l', 'LOGIN u pw');
  await command(c, 'c1', 'CREATE Archive');
  await command(c, 'c2', 'CREATE Work');
  await command(c, 'c3', 'CREATE Work.Sub');
  await command(c, 'c4', 'SUBSCRIBE Work');
  for (const [i, m] of corpus.entries()) {
    const flags = i % 3 === 0 ? '(\\Seen)' : i % 3 === 1 ? '(\\Flagged $Important)' : '()';
    const date = `"${String((i % 27) + 1).padStart(2, '0')}-Mar-2024 10:${String(i % 60).padStart(2, '0')}:00 +0100"`;
    c.send(`a${i} APPEND INBOX ${flags} ${date} {${m.length}}\r\n`);
    const cont = await c.readLine();
    assert.match(cont!, /^\+/);
    c.send(Buffer.concat([m, Buffer.from('\r\n')]));
    const done = await c.readUntil((l) => l.startsWith(`a${i} `));
    assert.match(done.at(-1)!, new RegExp(`^a${i} OK`), `APPEND ${i} into Dovecot`);
  }
  // A session that selected INBOX has claimed \Recent for these messages (Dovecot keeps that in its own
  // index, Roost in new/ vs cur/), so both servers start from the same state.
  await command(c, 's', 'SELECT INBOX');
  await command(c, 'z', 'LOGOUT');
  c.close();
}

/** The scripted session; returns the raw transcript. */
async function script(port: number): Promise<string[]> {
  const c = await LineClient.connect({ port });
  await c.readLine();
  const out: string[] = [];
  let n = 0;
  const run = async (text: string) => {
    const tag = `t${++n}`;
    out.push(`>>> ${text}`);
    out.push(...(await command(c, tag, text)));
  };
  await run('LOGIN u pw');
  await run('LIST "" "*"');
  await run('LIST "" "%"');
  await run('LIST "" "Work.%"');
  await run('LSUB "" "*"');
  await run('STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)');
  await run('STATUS Work (MESSAGES UIDNEXT UNSEEN)');
  await run('EXAMINE INBOX');
  await run('FETCH 1:* (FLAGS)');
  await run('FETCH 1:* (UID RFC822.SIZE INTERNALDATE)');
  await run('FETCH 1:* (ENVELOPE)');
  await run('FETCH 1:* (BODYSTRUCTURE)');
  await run('FETCH 1:* (BODY)');
  await run('FETCH 1:* FAST');
  await run('UID FETCH 1:* (FLAGS)');
  for (let i = 1; i <= corpus.length; i++) {
    await run(`FETCH ${i} (BODY.PEEK[HEADER] BODY.PEEK[TEXT])`);
    await run(`FETCH ${i} (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])`);
    await run(`FETCH ${i} (BODY.PEEK[HEADER.FIELDS.NOT (RECEIVED DATE)] BODY.PEEK[]<0.100> RFC822.HEADER)`);
    await run(`FETCH ${i} (BINARY.SIZE[1] BODY.PEEK[2] BODY.PEEK[2.1])`);
  }
  for (const key of [
    'ALL',
    'SEEN',
    'UNSEEN',
    'FLAGGED',
    'KEYWORD $Important',
    'UNKEYWORD $Important',
    'FROM "example"',
    'SUBJECT "test"',
    'TO "bob"',
    'HEADER Content-Type "multipart"',
    'BODY "hello"',
    'TEXT "attachment"',
    'LARGER 1000',
    'SMALLER 500',
    'SINCE 10-Mar-2024',
    'BEFORE 5-Mar-2024',
    'ON 3-Mar-2024',
    'SENTSINCE 1-Jan-2000',
    'NOT SEEN FLAGGED',
    'OR SEEN FLAGGED',
    '(OR SMALLER 800 LARGER 5000) NOT DELETED',
    'UID 3:7',
    '2,4,6:8',
    'CHARSET UTF-8 SUBJECT "caf\u00e9"',
  ]) {
    await run(`SEARCH ${key}`);
    await run(`UID SEARCH ${key}`);
  }
  await run('SELECT INBOX');
  await run('STORE 1 +FLAGS (\\Flagged)');
  await run('STORE 2 FLAGS (\\Seen $Label1)');
  await run('STORE 3 -FLAGS.SILENT (\\Seen)');
  await run('UID STORE 4 +FLAGS (\\Answered)');
  await run('FETCH 1:5 (FLAGS)');
  await run('COPY 1:2 Archive');
  await run('UID COPY 5 Work');
  await run('MOVE 3 Archive');
  await run('STORE 4 +FLAGS (\\Deleted)');
  await run('EXPUNGE');
  await run('STATUS Archive (MESSAGES UIDNEXT UNSEEN)');
  await run('SELECT Archive');
  await run('FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)');
  await run('CLOSE');
  await run('LOGOUT');
  c.close();
  return out;
}

test('Roost answers a scripted IMAP session like Dovecot 2.3 on the same store', async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const base = mkdtempSync(join(tmpdir(), 'roost-imap-diff-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  const dovecot = await startDovecot({
    dir: join(base, 'dovecot'),
    users: [{ name: 'u', password: 'pw' }],
    protocols: ['imap'],
    extraConfig: `namespace inbox {
  mailbox Drafts {
    special_use = \\Drafts
    auto = create
  }
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Junk {
    special_use = \\Junk
    auto = create
  }
  mailbox Archive {
    special_use = \\Archive
    auto = create
  }
}
`,
  });
  cleanups.push(() => dovecot.stop());
  await appendAll(dovecot.imapPort);
  const store = join(dovecot.mailRoot, 'u');
  const copy = join(base, 'copy', 'u');
  cpSync(store, copy, { recursive: true, preserveTimestamps: true });
  const theirs = await script(dovecot.imapPort);
  await dovecot.stop();

  makeTraversable(copy);
  const roost = await startRoost({ dataDir: join(base, 'roost'), users: [{ name: 'u', password: 'pw', extra: `userdb_mail=maildir:${copy}` }] });
  cleanups.push(() => roost.stop());
  const ours = await script(roost.ports.imap);

  const a = normalizeTranscript(theirs);
  const b = normalizeTranscript(ours);
  const responses = a.filter((l) => !l.startsWith('>>>')).length;
  t.diagnostic(`compared ${responses} IMAP responses with Dovecot`);
  // Report the first differing command with both answers, the clearest failure to act on.
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      let start = i;
      while (start > 0 && !a[start].startsWith('>>>')) start--;
      assert.deepEqual(b.slice(start, i + 8), a.slice(start, i + 8), `first difference after ${a[start]}`);
    }
  }
  assert.ok(responses > 300);
});
