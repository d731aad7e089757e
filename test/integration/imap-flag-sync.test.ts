// Another session's changes as FETCH, STORE and SEARCH report them (RFC 9051 sections 7 and 7.5.1; as Dovecot's fast
// sync): flag changes are told after the command's own responses, once; expunges and new messages wait for a
// command that may move sequence numbers (NOOP).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { taggedSession } from '../helpers/imap-session.js';

let h: RoostHandle;
before(async () => {
  h = await startRoost({ users: [{ name: 'two', password: 'pw' }] });
});
after(async () => {
  await h?.stop();
});

test('flag changes of another session follow FETCH and SEARCH; expunges and new mail wait for NOOP', async () => {
  const a = await taggedSession(h.ports.imap!, 'two', 'pw', 'a');
  const b = await taggedSession(h.ports.imap!, 'two', 'pw', 'b');
  try {
    const msg = 'Subject: m\r\n\r\nbody\r\n';
    for (let i = 0; i < 4; i++) assert.match((await a.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`)).at(-1)!, /^TAG OK/);
    assert.match((await a.cmd('EXAMINE INBOX')).at(-1)!, /^TAG OK/);
    assert.match((await b.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);

    assert.match((await b.cmd('STORE 1 +FLAGS.SILENT (\\Flagged)')).at(-1)!, /^TAG OK/);
    assert.deepEqual(await a.cmd('FETCH 2 (UID)'), ['* 2 FETCH (UID 2)', '* 1 FETCH (FLAGS (\\Flagged))', 'TAG OK Fetch completed.']);
    assert.deepEqual(await a.cmd('NOOP'), ['TAG OK NOOP completed.'], 'told once');

    assert.match((await b.cmd('STORE 2 +FLAGS.SILENT (\\Answered)')).at(-1)!, /^TAG OK/);
    const searched = await a.cmd('SEARCH FLAGGED');
    assert.deepEqual(searched.slice(0, 2), ['* SEARCH 1', '* 2 FETCH (FLAGS (\\Answered))']);
    assert.match(searched.at(-1)!, /^TAG OK/);

    // An expunge and a delivery by the other session: not during FETCH (sequence numbers stay), at NOOP.
    assert.match((await b.cmd('STORE 3 +FLAGS.SILENT (\\Deleted)')).at(-1)!, /^TAG OK/);
    assert.match((await b.cmd('EXPUNGE')).at(-1)!, /^TAG OK/);
    assert.match((await b.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`)).at(-1)!, /^TAG OK/);
    const fetched = await a.cmd('FETCH 4 (UID)');
    assert.deepEqual(fetched.filter((l) => /EXPUNGE|EXISTS/.test(l)), [], fetched.join(' | '));
    assert.deepEqual(fetched[0], '* 4 FETCH (UID 4)');
    const nooped = await a.cmd('NOOP');
    assert.deepEqual(nooped.filter((l) => /EXPUNGE|EXISTS/.test(l)), ['* 3 EXPUNGE', '* 4 EXISTS'], nooped.join(' | '));
  } finally {
    a.close();
    b.close();
  }
});
