// Smoke check of the benchmark harness (scripts/bench.ts): --quick runs of the lmtp, imap-select, imap-sort, imap-qresync and
// imap-compress workloads produce samples for the Dovecot baseline (and for Roost when Roost can run them), and the corpus is
// reproducible and varied. Never asserts a speed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from './peers.js';
import { REPO_ROOT, ensureCorpus } from '../../scripts/bench/corpus.js';
import type { RunReport } from '../../scripts/bench/report.js';

const resultsDir = mkdtempSync(join(tmpdir(), 'roost-bench-smoke-'));
after(() => rmSync(resultsDir, { recursive: true, force: true }));

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'bench.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`bench did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('bench --quick lmtp produces samples for every side that can run it', { timeout: 150_000 }, async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const { code, output } = await runBench(['lmtp', '--quick', '--results', resultsDir, '--no-docs'], 120_000);
  assert.equal(code, 0, output);
  const files = readdirSync(resultsDir).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 1, output);
  const report = JSON.parse(readFileSync(join(resultsDir, files[0]!), 'utf8')) as RunReport;
  assert.ok(report.versions.dovecot && report.versions.node, 'versions recorded');
  const lmtp = report.workloads.find((w) => w.name === 'lmtp');
  assert.ok(lmtp, 'lmtp workload reported');
  assert.ok(lmtp.cases.length > 0);
  assert.equal(lmtp.sides.baseline.available, true, lmtp.sides.baseline.reason);
  for (const c of lmtp.cases) {
    assert.equal(c.failures.baseline, undefined, `baseline failed on ${c.label}`);
    assert.ok(c.samples.baseline.length > 0, `baseline samples for ${c.label}`);
    assert.ok(c.samples.baseline.every((s) => s.ops > 0 && s.latenciesMs.length > 0));
    if (lmtp.sides.roost.available) {
      assert.equal(c.failures.roost, undefined, `Roost failed on ${c.label}`);
      assert.ok(c.samples.roost.length > 0, `Roost samples for ${c.label}`);
    }
  }
  if (!lmtp.sides.roost.available) process.stderr.write(`bench-smoke: Roost side ${lmtp.sides.roost.reason}\n`);
  assert.match(output, /== lmtp/);
});

test('bench imap-select on a small mailbox produces samples for every case on every side that can run it', { timeout: 240_000 }, async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const dir = mkdtempSync(join(resultsDir, 'imap-'));
  // 200 messages, one repetition: exercises the IMAP load client, fresh Maildir copies and server restarts
  const { code, output } = await runBench(['imap-select', '--quick', '--scale', '0.1', '--repeat', '1', '--results', dir, '--no-docs'], 200_000);
  assert.equal(code, 0, output);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const report = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as RunReport;
  const select = report.workloads.find((w) => w.name === 'imap-select');
  assert.ok(select, 'imap-select workload reported');
  assert.deepEqual(select.cases.map((c) => c.id), ['first', 'cold', 'warm']);
  assert.equal(select.sides.baseline.available, true, select.sides.baseline.reason);
  for (const c of select.cases) {
    assert.equal(c.failures.baseline, undefined, `baseline failed on ${c.label}`);
    assert.ok(c.samples.baseline.length > 0 && c.samples.baseline.every((s) => s.ops > 0), `baseline samples for ${c.label}`);
    if (select.sides.roost.available) {
      assert.equal(c.failures.roost, undefined, `Roost failed on ${c.label}`);
      assert.ok(c.samples.roost.length > 0 && c.samples.roost.every((s) => s.ops > 0), `Roost samples for ${c.label}`);
    }
  }
});

test('bench imap-sort, imap-qresync and imap-compress on small mailboxes produce samples for every case on every side', { timeout: 360_000 }, async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const expectedCases: Record<string, string[]> = {
    'imap-sort': ['date', 'subject', 'from', 'references'],
    'imap-qresync': ['unchanged', 'changed'],
    'imap-compress': ['plain', 'deflate'],
  };
  for (const [name, cases] of Object.entries(expectedCases)) {
    const dir = mkdtempSync(join(resultsDir, `${name}-`));
    // a tenth of the quick size (100-200 messages), one repetition: SORT/THREAD, the QRESYNC resync, COMPRESS in the load client
    const { code, output } = await runBench([name, '--quick', '--scale', '0.1', '--repeat', '1', '--results', dir, '--no-docs'], 110_000);
    assert.equal(code, 0, output);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    const report = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as RunReport;
    const workload = report.workloads.find((w) => w.name === name);
    assert.ok(workload, `${name} workload reported`);
    assert.deepEqual(workload.cases.map((c) => c.id), cases);
    assert.equal(workload.sides.baseline.available, true, workload.sides.baseline.reason);
    for (const c of workload.cases) {
      assert.equal(c.failures.baseline, undefined, `${name}: baseline failed on ${c.label}`);
      assert.ok(c.samples.baseline.length > 0 && c.samples.baseline.every((s) => s.ops > 0), `${name}: baseline samples for ${c.label}`);
      if (workload.sides.roost.available) {
        assert.equal(c.failures.roost, undefined, `${name}: Roost failed on ${c.label}`);
        assert.ok(c.samples.roost.length > 0 && c.samples.roost.every((s) => s.ops > 0), `${name}: Roost samples for ${c.label}`);
      }
    }
  }
});

test('the bench corpus is reproducible from its seed and varied, in Maildir and mbox form', () => {
  const first = ensureCorpus({ seed: 42, count: 120, tailMax: 512 * 1024, cacheDir: join(resultsDir, 'cache-a') });
  const second = ensureCorpus({ seed: 42, count: 120, tailMax: 512 * 1024, cacheDir: join(resultsDir, 'cache-b') });
  assert.deepEqual(first.messages, second.messages);
  const read = (c: typeof first, i: number) => readFileSync(join(c.maildir, 'cur', c.messages[i]!.name));
  for (const i of [0, 17, 119]) assert.deepEqual(read(first, i), read(second, i));

  const all = first.messages.map((_, i) => read(first, i).toString('latin1'));
  assert.ok(all.every((m) => m.length >= 1000), 'no message under 1 KB');
  assert.ok(all.some((m) => m.length > 50 * 1024) || first.messages.length < 200, 'a tail of large messages appears in larger corpora');
  assert.ok(all.some((m) => /multipart\/alternative/.test(m)), 'multipart/alternative');
  assert.ok(all.some((m) => /Content-Disposition: attachment/.test(m)), 'attachments');
  assert.ok(all.some((m) => /^Subject: =\?[^?]+\?B\?/m.test(m)), 'RFC 2047 encoded subjects');
  assert.ok(all.some((m) => /^In-Reply-To: </m.test(m)), 'threads');
  const charsets = new Set(all.flatMap((m) => [...m.matchAll(/charset=([\w-]+)/g)].map((x) => x[1]!.toLowerCase())));
  assert.ok(charsets.size >= 4, `several charsets: ${[...charsets].join(' ')}`);

  const mbox = readFileSync(first.mbox, 'latin1');
  assert.equal(mbox.match(/^From sender/gm)?.length, first.count);
  assert.equal(readdirSync(join(first.maildir, 'cur')).length, first.count);
});
