// The UNIX form local(8) gives commands and files (split at arbitrary points, the same bytes), and the sysexits
// table that turns a command's end into delivered, deferred or bounced as Postfix's pipe_command() does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chunked } from '../../helpers/chunks.js';
import { localCopy, type CopyOptions } from '../../../src/mta/local-copy.js';
import { commandOutcome } from '../../../src/mta/sys-exits.js';

const date = new Date(2026, 0, 5, 7, 8, 9);
const mbox: CopyOptions = { sender: 's@example.org', original: 'Orig@Example.org', delivered: 'Box@Example.org', fromLine: true, quote: true, blank: true, date };

async function copy(chunks: Buffer[], o: CopyOptions): Promise<string> {
  const out: Buffer[] = [];
  for await (const b of localCopy(chunks, o)) out.push(b);
  return Buffer.concat(out).toString('latin1');
}

test('mbox form: From_ line, Return-Path, X-Original-To, Delivered-To, LF ends, "From " quoted, empty line at the end', async () => {
  const text = await copy([Buffer.from('Subject: x\r\n\r\nFrom me\r\n>From you\r\nlast')], mbox);
  assert.equal(text, 'From s@example.org  Mon Jan 05 07:08:09 2026\nReturn-Path: <s@example.org>\nX-Original-To: Orig@Example.org\nDelivered-To: box@example.org\nSubject: x\n\n>From me\n>From you\nlast\n\n');
});

test('command form: no quoting, no empty line; the null sender is MAILER-DAEMON on the From_ line', async () => {
  const text = await copy([Buffer.from('a\r\nFrom b\r\n')], { ...mbox, sender: '', quote: false, blank: false });
  assert.equal(text, 'From MAILER-DAEMON  Mon Jan 05 07:08:09 2026\nReturn-Path: <>\nX-Original-To: Orig@Example.org\nDelivered-To: box@example.org\na\nFrom b\n');
});

test('the same bytes however the content is split', async () => {
  const line = fc.constantFrom('From x', 'From', 'body', '', '>From y', 'F', 'rom ');
  const ending = fc.constantFrom('\r\n', '\n');
  const input = fc.array(fc.tuple(line, ending), { maxLength: 20 }).map((ls) => Buffer.from(ls.map(([l, e]) => l + e).join('')));
  await fc.assert(
    fc.asyncProperty(input, fc.array(fc.nat(300), { maxLength: 8 }), async (bytes, cuts) => {
      assert.equal(await copy(chunked(bytes, cuts), mbox), await copy([bytes], mbox));
    }),
  );
});

test('command exit status mapped through sysexits as Postfix', () => {
  const end = { command: 'cmd', signal: null, timedOut: false, output: '' };
  assert.equal(commandOutcome({ ...end, code: 0 }).status, 'sent');
  assert.deepEqual(commandOutcome({ ...end, code: 75 }), { status: 'deferred', dsn: '4.3.0', text: 'temporary failure' });
  assert.deepEqual(commandOutcome({ ...end, code: 67, output: 'who?\n' }), { status: 'bounced', dsn: '5.1.1', text: 'user unknown. Command output: who?' });
  assert.equal(commandOutcome({ ...end, code: 71 }).status, 'deferred', 'EX_OSERR is soft');
  assert.deepEqual(commandOutcome({ ...end, code: 1 }), { status: 'bounced', dsn: '5.3.0', text: 'Command died with status 1: "cmd"' });
  assert.deepEqual(commandOutcome({ ...end, code: 1, output: '4.2.2 mailbox full' }), { status: 'deferred', dsn: '4.2.2', text: 'mailbox full' }, 'an enhanced status code in the output wins');
  assert.equal(commandOutcome({ ...end, code: null, signal: 'SIGSEGV' }).status, 'deferred');
  assert.deepEqual(commandOutcome({ ...end, code: null, signal: 'SIGKILL', timedOut: true }), { status: 'bounced', dsn: '5.3.0', text: 'Command time limit exceeded: "cmd"' });
});
