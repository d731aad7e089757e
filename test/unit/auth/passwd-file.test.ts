// passwd-file parsing, change detection and the atomic line-preserving writer; the demo user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addPasswdUser, deletePasswdUser, parsePasswdLine, PasswdFile, PasswdFileError, setPasswdPassword } from '../../../src/auth/passwd-file.js';
import { ensureDemoUser, hasDemoUser } from '../../../src/auth/demo-user.js';
import { verifyPassword } from '../../../src/auth/schemes/index.js';
import { defaultConfig } from '../../../src/config/schema.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-passwd-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('parses all seven fields and extra fields (values may hold ":")', () => {
  const e = parsePasswdLine('bob@example.org:{PLAIN}x:1000:1001:Bob B:/home/bob:/bin/false:userdb_mail=maildir:~/Maildir nologin allow_nets=10.0.0.0/8,::1');
  assert.ok(e);
  assert.equal(e.user, 'bob@example.org');
  assert.equal(e.password, '{PLAIN}x');
  assert.equal(e.uid, 1000);
  assert.equal(e.gid, 1001);
  assert.equal(e.home, '/home/bob');
  assert.deepEqual(e.extra, { userdb_mail: 'maildir:~/Maildir', nologin: '', allow_nets: '10.0.0.0/8,::1' });
  assert.equal(parsePasswdLine('# comment'), undefined);
  assert.equal(parsePasswdLine('   '), undefined);
  assert.deepEqual(parsePasswdLine('short:{PLAIN}y')?.extra, {});
});

test('re-reads the file when it changes, including a replace by rename', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'passwd');
    const file = new PasswdFile(path);
    let changes = 0;
    file.onChange(() => changes++);
    assert.equal(await file.find('a'), undefined, 'missing file: no users');
    await writeFile(path, 'a:{PLAIN}1\n');
    assert.equal((await file.find('A'))?.password, '{PLAIN}1', 'lookups are case-insensitive');
    await addPasswdUser(path, { user: 'b', password: '{PLAIN}2', extra: {} });
    assert.equal((await file.find('b'))?.password, '{PLAIN}2');
    assert.ok(changes >= 2);
  });
});

test('the writer keeps comments and other lines, and leaves no temp files', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'passwd');
    await writeFile(path, '# users\nalice:{PLAIN}a::::/home/alice\n\n# more\ncarol:{PLAIN}c\n', { mode: 0o640 });
    await addPasswdUser(path, { user: 'bob', password: '{PLAIN}b', home: '/home/bob', extra: { userdb_quota_rule: '*:storage=1G' } });
    await assert.rejects(addPasswdUser(path, { user: 'BOB', password: '{PLAIN}x', extra: {} }), PasswdFileError);
    await assert.rejects(addPasswdUser(path, { user: 'bad:name', password: '{PLAIN}x', extra: {} }), PasswdFileError);
    assert.equal(await setPasswdPassword(path, 'alice', '{PLAIN}a2'), true);
    assert.equal(await setPasswdPassword(path, 'nobody', '{PLAIN}x'), false);
    assert.equal(await deletePasswdUser(path, 'carol'), true);
    assert.equal(await deletePasswdUser(path, 'carol'), false);
    assert.equal(
      await readFile(path, 'utf8'),
      '# users\nalice:{PLAIN}a2::::/home/alice\n\n# more\nbob:{PLAIN}b::::/home/bob::userdb_quota_rule=*:storage=1G\n',
    );
    assert.equal((await stat(path)).mode & 0o777, 0o640, 'mode kept');
    assert.deepEqual(await readdir(dir), ['passwd']);
  });
});

test('concurrent writers in one process do not lose updates', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'passwd');
    await Promise.all(Array.from({ length: 20 }, (_, i) => addPasswdUser(path, { user: `u${i}`, password: '{PLAIN}x', extra: {} })));
    assert.equal((await new PasswdFile(path).entries()).length, 20);
  });
});

test('ensureDemoUser adds demo once, with a working password; hasDemoUser sees it', async () => {
  await withDir(async (dir) => {
    const config = defaultConfig();
    config.auth.blf_crypt_cost = 4;
    assert.equal(hasDemoUser(dir, config), false);
    const first = await ensureDemoUser(dir, config);
    assert.equal(first.created, true);
    assert.equal(first.user, 'demo');
    assert.ok(first.password && first.password.length >= 12);
    const entry = await new PasswdFile(join(dir, 'passwd')).find('demo');
    assert.ok(entry && (await verifyPassword(entry.password, first.password!)));
    assert.equal(entry.extra.roost_demo, '1');
    assert.equal(hasDemoUser(dir, config), true);
    assert.deepEqual(await ensureDemoUser(dir, config), { created: false });
    await deletePasswdUser(join(dir, 'passwd'), 'demo');
    await addPasswdUser(join(dir, 'passwd'), { user: 'real', password: '{PLAIN}x', extra: {} });
    assert.equal(hasDemoUser(dir, config), false);
    assert.deepEqual(await ensureDemoUser(dir, config), { created: false });
  });
});
