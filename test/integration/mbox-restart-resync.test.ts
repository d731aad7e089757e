// After a restart the first SELECT of an mbox reads the file, whatever change stamp the index holds: a change that keeps
// inode, size and mtime (an in-place flag write within the mtime's granularity, then a crash before the index) shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { taggedSession } from '../helpers/imap-session.js';
import { openUserStorage } from '../../src/storage/api.js';

const USER = 'mbx';
const PASSWORD = 'pw';

test('mbox flags and keywords changed behind the index with inode, size and mtime kept are read from the file after a restart', { timeout: 60_000 }, async () => {
  const base = await mkdtemp(join(tmpdir(), 'roost-mbox-resync-'));
  const dataDir = join(base, 'data');
  const mailDir = join(base, 'home', USER, 'mail');
  const inbox = join(mailDir, 'inbox');
  const location = `mbox:${mailDir}:INBOX=${inbox}`;
  let h: RoostHandle | undefined;
  try {
    await mkdir(mailDir, { recursive: true });
    const st = await openUserStorage({ user: USER, mail: location }, { dataDir, defaultMailLocation: '', fsync: false });
    try {
      await st.save('INBOX', Buffer.from('Subject: one\n\nbody one\n'), { flags: ['\\Seen', '$Label1'] });
      await st.save('INBOX', Buffer.from('Subject: two\n\nbody two\n'), { flags: [] });
      // the index takes the file's stamp
      assert.equal((await st.status('INBOX')).messages, 2);
    } finally {
      await st.close();
    }
    // Message 1 loses \Seen and $Label1, message 2 gains $Label2, each in its header's padding, and the mtime is put back.
    const before = await stat(inbox, { bigint: true });
    const text = await readFile(inbox, 'latin1');
    const changed = text
      .replace('Status: R\n', 'Status:  \n')
      .replace(/X-Keywords: \$Label1( *)\n/, (_m, pad: string) => `X-Keywords:${' '.repeat(8)}${pad}\n`)
      .replace(/(Subject: two\nX-UID: 2\nStatus: \nX-Keywords:) {8}/, '$1 $Label2');
    assert.notEqual(changed, text);
    assert.equal(changed.length, text.length);
    await writeFile(inbox, changed, 'latin1');
    const seconds = before.mtimeNs / 1_000_000_000n;
    const nanos = String(before.mtimeNs % 1_000_000_000n).padStart(9, '0');
    await promisify(execFile)('touch', ['-m', '-d', `@${seconds}.${nanos}`, inbox]);
    const after = await stat(inbox, { bigint: true });
    assert.deepEqual([after.ino, after.size, after.mtimeNs], [before.ino, before.size, before.mtimeNs], 'the file keeps its change stamp');

    h = await startRoost({ dataDir, users: [{ name: USER, password: PASSWORD, extra: `userdb_mail=${location}` }] });
    const s = await taggedSession(h.ports.imap!, USER, PASSWORD, 'r');
    try {
      assert.match((await s.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
      const lines = await s.cmd('UID FETCH 1:* (UID FLAGS)');
      assert.match(lines.at(-1)!, /^TAG OK/);
      const flags = lines.filter((l) => /^\* \d+ FETCH/.test(l)).map((l) => (/FLAGS \(([^)]*)\)/.exec(l)?.[1] ?? '').split(' ').filter((f) => f && f !== '\\Recent'));
      assert.deepEqual(flags, [[], ['$Label2']]);
    } finally {
      s.close();
    }
  } finally {
    if (h) await h.kill();
    await rm(base, { recursive: true, force: true });
  }
});
