// Dotlocks as Dovecot's file-dotlock makes them (src/storage/common/dotlock.ts): which locks left behind are stale and
// taken over, and which are waited for until the timeout gives INUSE.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDotlock } from '../../../src/storage/common/dotlock.js';
import { localHostname } from '../../../src/storage/common/fsutil.js';

const QUICK = { timeoutMs: 300, staleMs: 120_000 };

async function lockPath(t: TestContext): Promise<{ path: string; lock: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-dotlock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'dovecot-uidlist');
  return { path, lock: `${path}.lock` };
}

async function leaveLock(lock: string, content: string, ageSeconds: number): Promise<void> {
  await writeFile(lock, content);
  const then = new Date(Date.now() - ageSeconds * 1000);
  await utimes(lock, then, then);
}

test('an empty lock (its owner killed before writing itself into it) is taken over once it is a few seconds old', async (t) => {
  const { path, lock } = await lockPath(t);
  await leaveLock(lock, '', 0);
  await assert.rejects(acquireDotlock(path, QUICK), (err: Error & { code?: string }) => err.code === 'INUSE', 'a fresh empty lock is someone creating it');
  await leaveLock(lock, '', 10);
  const taken = await acquireDotlock(path, QUICK);
  await taken.release();
});

test('a lock whose pid now belongs to a process started after the lock was made is taken over; the owner living is waited for', async (t) => {
  const { path, lock } = await lockPath(t);
  // A process started now stands for a new process that was given the dead owner's pid.
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => child.kill());
  await once(child, 'spawn');
  await leaveLock(lock, `${child.pid}:${localHostname()}`, 60);
  const taken = await acquireDotlock(path, QUICK);
  await taken.release();
  // The test runner's parent started before the lock: the owner is alive, the lock is waited for.
  await leaveLock(lock, `${process.ppid}:${localHostname()}`, 0);
  await assert.rejects(acquireDotlock(path, QUICK), (err: Error & { code?: string }) => err.code === 'INUSE');
});
