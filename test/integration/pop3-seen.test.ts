// POP3 and the \Seen flag (RFC 1939 sections 6 and 7, as Dovecot does it): messages retrieved with RETR become \Seen
// at QUIT, TOP marks nothing, a connection dropped before QUIT marks nothing, and a repeated download of seen mail
// leaves them seen.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { taggedSession, type TaggedSession } from '../helpers/imap-session.js';
import { waitFor } from '../helpers/wait-for.js';

let h: RoostHandle;
let imap: TaggedSession;
before(async () => {
  h = await startRoost({ users: [{ name: 'reader', password: 'pw' }] });
  imap = await taggedSession(h.ports.imap!, 'reader', 'pw');
  for (const n of [1, 2, 3, 4]) {
    const msg = `Subject: message ${n}\r\n\r\nbody ${n}\r\n`;
    assert.match((await imap.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`)).at(-1)!, /^TAG OK/);
  }
  assert.match((await imap.cmd('EXAMINE INBOX')).at(-1)!, /^TAG OK/);
});
after(async () => {
  imap?.close();
  await h?.stop();
});

/** Whether each INBOX message is \Seen, as an IMAP session reports it once NOOP has synced its view. */
async function seenFlags(): Promise<boolean[]> {
  assert.match((await imap.cmd('NOOP')).at(-1)!, /^TAG OK/);
  const lines = await imap.cmd('FETCH 1:* (FLAGS)');
  assert.match(lines.at(-1)!, /^TAG OK/);
  return lines.filter((l) => / FETCH /.test(l)).map((l) => /\\Seen/.test(l));
}

/** Logs in over POP3 and runs `commands`, each answered with a single or a multi-line reply. */
async function pop3(commands: string[], quit: boolean): Promise<void> {
  const c = await LineClient.connect({ port: h.ports.pop3 });
  try {
    assert.match((await c.readLine())!, /^\+OK/);
    for (const line of ['USER reader', 'PASS pw', ...commands]) {
      c.sendLine(line);
      const first = (await c.readLine())!;
      assert.match(first, /^\+OK/, `${line}: ${first}`);
      if (/^(RETR|TOP) /.test(line)) await c.readUntil((l) => l === '.');
    }
    if (quit) {
      c.sendLine('QUIT');
      assert.match((await c.readLine())!, /^\+OK/);
      await c.waitClosed();
    }
  } finally {
    c.close();
  }
}

test('RETR marks \\Seen at QUIT; TOP does not; a dropped connection marks nothing', async () => {
  assert.deepEqual(await seenFlags(), [false, false, false, false]);
  const disconnects = () => h.output.filter((l) => l.includes('"msg":"disconnect"')).length;
  const before = disconnects();
  await pop3(['RETR 1', 'TOP 2 0'], false);
  // Once the server has logged the disconnect, the session is over: nothing was marked without a QUIT.
  await waitFor('the dropped POP3 session to end', () => disconnects() > before);
  assert.deepEqual(await seenFlags(), [false, false, false, false]);
  await pop3(['RETR 1', 'TOP 2 0', 'RETR 3'], true);
  assert.deepEqual(await seenFlags(), [true, false, true, false]);
});

test('downloading seen mail again keeps it seen and marks the newly retrieved', async () => {
  await pop3(['RETR 1', 'RETR 3', 'RETR 4'], true);
  assert.deepEqual(await seenFlags(), [true, false, true, true]);
});
