// Unit tests of the mbox format pieces: From_ lines, Dovecot's metadata headers and the message splitter, checked
// byte for byte against what Dovecot 2.3 wrote (captured from a real Dovecot LMTP/IMAP session into an mbox).
process.env.TZ = 'UTC';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatFromLine, parseFromLine } from '../../../src/storage/backends/mbox/from-line.js';
import { formatMetadataHeaders, formatPseudoMessage } from '../../../src/storage/backends/mbox/metadata.js';
import { bufferSource, parseMbox } from '../../../src/storage/backends/mbox/parser.js';

// An INBOX Dovecot 2.3.19 wrote: two LMTP deliveries, then \Flagged $Label1 custom on 1 and \Seen \Answered on 2 over IMAP.
const DOVECOT_INBOX =
  'From sender@example.org  Sun Nov 22 01:42:21 2026\nReturn-Path: <sender@example.org>\nDelivered-To: alice@localhost\nReceived: from x ([127.0.0.1])\n\tby vm with LMTP\n\tid WG3SNXxIAmvySAAAg+zDdQ\n\t(envelope-from <sender@example.org>)\n\tfor <alice@localhost>; Sun, 22 Nov 2026 01:42:20 +0000\nSubject: one\nFrom: a@b\nX-IMAPbase: 1795311741 0000000002 $Label1 custom\nX-UID: 1\nStatus: O\nX-Keywords: $Label1 custom                             \nContent-Length: 32\nX-Status: F\n\nbody one\nFrom here\n>From there\n\n\n' +
  'From sender@example.org  Sun Nov 22 01:42:21 2026\nReturn-Path: <sender@example.org>\nDelivered-To: alice@localhost\nReceived: from x ([127.0.0.1])\n\tby vm with LMTP\n\tid 6evZAX1IAmv1SAAAg+zDdQ\n\t(envelope-from <sender@example.org>)\n\tfor <alice@localhost>; Sun, 22 Nov 2026 01:42:21 +0000\nSubject: two\nX-UID: 2\nStatus: RO\nX-Keywords:                                                          \nContent-Length: 10\nX-Status: A\n\nbody two\n\n\n';

// A folder Dovecot wrote for IMAP APPEND of "Subject: app\r\n\r\nappended\r\n" with \Seen kwone at 2020-01-02T03:04:05Z.
const DOVECOT_APPENDED =
  'From alice@vm  Thu Jan 02 03:04:05 2020\nSubject: app\nX-IMAPbase: 1795311742 0000000001 kwone\nX-UID: 1\nStatus: R\nX-Keywords: kwone' +
  ' '.repeat(67) +
  '\nContent-Length: 9\n\nappended\n\n';

describe('From_ lines', () => {
  test('written as Dovecot writes them: two spaces, zero-padded day, local time', () => {
    assert.equal(formatFromLine('alice@vm', new Date('2020-01-02T03:04:05Z')), 'From alice@vm  Thu Jan 02 03:04:05 2020\n');
    assert.equal(formatFromLine('', new Date('2026-11-22T01:43:49Z')), 'From MAILER-DAEMON  Sun Nov 22 01:43:49 2026\n');
  });

  test('parsed in the forms mail software writes', () => {
    const t = Date.UTC(2026, 10, 2, 10, 0, 0);
    assert.deepEqual(parseFromLine('From postfix@example.org  Mon Nov  2 10:00:00 2026\n'), { sender: 'postfix@example.org', date: t });
    assert.deepEqual(parseFromLine('From a Mon Nov 02 10:00:00 2026'), { sender: 'a', date: t });
    assert.deepEqual(parseFromLine('From a Mon Nov  2 10:00 +0000 2026'), { sender: 'a', date: t });
    assert.deepEqual(parseFromLine('From a Mon Nov  2 10:00:00 CET 2026'), { sender: 'a', date: t });
    assert.deepEqual(parseFromLine('From a Mon Nov  2 10:00:00 2026 +0200'), { sender: 'a', date: t - 2 * 3600_000 });
    assert.deepEqual(parseFromLine('From a Mon, 2 Nov 2026 10:00:00'), { sender: 'a', date: t });
    assert.deepEqual(parseFromLine('From "x y"@z  Mon Nov  2 10:00:00 2026')?.sender, '"x y"@z');
  });

  test('body lines that merely start with "From " are not separators', () => {
    assert.equal(parseFromLine('From here\n'), null);
    assert.equal(parseFromLine('From me to you, with love and greetings\n'), null);
    assert.equal(parseFromLine('>From a Mon Nov  2 10:00:00 2026\n'), null);
    assert.equal(parseFromLine('From a Mon Nov  2 1x:00:00 2026\n'), null);
  });
});

describe('metadata headers', () => {
  test('a saved message gets exactly the headers and padding Dovecot writes', () => {
    const headers = formatMetadataHeaders({
      imapBase: { uidValidity: 1795311742, lastUid: 1, keywords: ['kwone'] },
      uid: 1,
      flags: ['\\Seen', 'kwone'],
      notRecent: false,
      contentLength: 9,
    });
    const expected = DOVECOT_APPENDED.slice(DOVECOT_APPENDED.indexOf('X-IMAPbase'), DOVECOT_APPENDED.indexOf('\n\nappended') + 1);
    assert.equal(headers, expected);
  });

  test('an unseen LMTP delivery: empty Status, keyword-less X-Keywords padded to 91', () => {
    assert.equal(
      formatMetadataHeaders({ uid: 2, flags: [], notRecent: false, contentLength: 30 }),
      'X-UID: 2\nStatus: \nX-Keywords:' + ' '.repeat(72) + '\nContent-Length: 30\n',
    );
  });

  test('X-Status letters: A answered, F flagged, T draft, D deleted; O once seen by a session', () => {
    assert.equal(
      formatMetadataHeaders({ uid: 7, flags: ['\\Deleted', '\\Draft', '\\Flagged', '\\Answered', '\\Seen'], notRecent: true, contentLength: 0 }, 0),
      'X-UID: 7\nStatus: RO\nX-Status: AFTD\nX-Keywords:\nContent-Length: 0\n',
    );
  });

  test('the pseudo message keeps UIDVALIDITY and the last UID as Dovecot writes it', () => {
    const text = formatPseudoMessage({ uidValidity: 1795311830, lastUid: 2, keywords: [] }, new Date('2026-11-22T01:43:49Z'), 'vm');
    assert.equal(
      text,
      "From MAILER_DAEMON  Sun Nov 22 01:43:49 2026\nDate: Sun, 22 Nov 2026 01:43:49 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@vm>\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nMessage-ID: <1795311829@vm>\nX-IMAP: 1795311830 0000000002\nStatus: RO\n\nThis text is part of the internal format of your mail folder, and is not\na real message.  It is created automatically by the mail system software.\nIf deleted, important folder data will be lost, and it will be re-created\nwith the data reset to initial values.\n\n",
    );
  });
});

describe('splitting an mbox', () => {
  test("Dovecot's INBOX: UIDs, flags, keywords, X-IMAPbase and the sizes Dovecot reports", async () => {
    const parse = await parseMbox(bufferSource(Buffer.from(DOVECOT_INBOX, 'latin1')));
    assert.equal(parse.records.length, 2);
    const [a, b] = parse.records;
    assert.deepEqual(a!.meta.imapBase, { uidValidity: 1795311741, lastUid: 2, keywords: ['$Label1', 'custom'] });
    assert.equal(a!.meta.uid, 1);
    assert.deepEqual(a!.meta.systemFlags, ['\\Flagged']);
    assert.deepEqual(a!.meta.keywords, ['$Label1', 'custom']);
    assert.equal(a!.meta.notRecent, true);
    assert.equal(a!.size, 303, 'RFC822.SIZE as Dovecot answered it');
    assert.equal(b!.meta.uid, 2);
    assert.deepEqual(b!.meta.systemFlags.sort(), ['\\Answered', '\\Seen']);
    assert.equal(b!.size, 268);
    assert.equal(a!.internalDate, Date.UTC(2026, 10, 22, 1, 42, 21));
    // the body keeps "From here" and ">From there" as they are
    const body = Buffer.from(DOVECOT_INBOX, 'latin1').subarray(a!.bodyOffset, a!.endOffset).toString('latin1');
    assert.equal(body, 'body one\nFrom here\n>From there\n\n');
  });

  test('a valid Content-Length wins over a From_ line inside the body; an invalid one is ignored', async () => {
    const inner = 'From inner@x  Mon Nov  2 10:00:00 2026\nnot a message\n';
    const good = `From a@b  Mon Nov  2 10:00:00 2026\nContent-Length: ${inner.length + 2}\n\nx\n${inner}\nFrom c@d  Mon Nov  2 11:00:00 2026\nSubject: 2\n\ntwo\n\n`;
    let p = await parseMbox(bufferSource(Buffer.from(good)));
    assert.equal(p.records.length, 2);
    assert.equal(Buffer.from(good).subarray(p.records[0]!.bodyOffset, p.records[0]!.endOffset).toString(), 'x\n' + inner);
    const bad = good.replace(/Content-Length: \d+/, 'Content-Length: 3');
    p = await parseMbox(bufferSource(Buffer.from(bad)));
    assert.equal(p.records.length, 3, 'with a wrong Content-Length the inner From_ line splits');
  });

  test('a message appended by an outside MDA (no metadata) and the file-final LF', async () => {
    const text = 'From postfix@example.org  Mon Nov  2 10:00:00 2026\nSubject: outside\n\nbody\n>From quoted\n\n';
    const p = await parseMbox(bufferSource(Buffer.from(text)));
    assert.equal(p.records.length, 1);
    const r = p.records[0]!;
    assert.equal(r.meta.uid, undefined);
    assert.equal(r.size, 'Subject: outside\r\n\r\nbody\r\n>From quoted\r\n'.length);
  });

  test('the pseudo message is folder data, not a message', async () => {
    const text = formatPseudoMessage({ uidValidity: 5, lastUid: 9, keywords: [] }, new Date(0), 'h') + 'From a@b  Mon Nov  2 10:00:00 2026\nX-UID: 10\n\nx\n\n';
    const p = await parseMbox(bufferSource(Buffer.from(text)));
    assert.deepEqual(p.pseudo?.meta.pseudoBase, { uidValidity: 5, lastUid: 9, keywords: [] });
    assert.equal(p.records.length, 1);
    assert.equal(p.records[0]!.meta.uid, 10);
    assert.equal(Buffer.from(text).toString('latin1', p.pseudo!.lastUidDigitsOffset!, p.pseudo!.lastUidDigitsOffset! + 10), '0000000009');
  });

  test('header lines that straddle the 64 KiB read window are read whole', async () => {
    // The window's end falls into the second message's From_ line, then each later byte of its header, one case each.
    const second = 'From a@b  Mon Nov  2 10:00:00 2026\nX-UID: 1234567\nStatus: RO\nX-Status: AF\nX-Keywords: $Label1 custom\n\ntwo\n\n';
    for (let shift = -40; shift < second.length; shift++) {
      const first = 'From a@b  Mon Nov  2 10:00:00 2026\nX-UID: 7\n\n';
      const body = 'x'.repeat(99) + '\n';
      const fill = 64 * 1024 - first.length - 1 - 40 + shift;
      const text = first + body.repeat(Math.floor(fill / body.length)) + 'y'.repeat(fill % body.length) + '\n' + second;
      const p = await parseMbox(bufferSource(Buffer.from(text)));
      assert.equal(p.records.length, 2, `shift ${shift}`);
      const m = p.records[1]!.meta;
      assert.deepEqual([m.uid, m.systemFlags.sort(), m.keywords, m.notRecent], [1234567, ['\\Answered', '\\Flagged', '\\Seen'], ['$Label1', 'custom'], true], `shift ${shift}`);
    }
  });

  test('CRLF mboxes and a header without a body', async () => {
    const text = 'From a@b  Mon Nov  2 10:00:00 2026\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom a@b  Mon Nov  2 10:00:00 2026\r\nSubject: y\r\n';
    const p = await parseMbox(bufferSource(Buffer.from(text)));
    assert.equal(p.records.length, 2);
    assert.equal(p.records[0]!.size, 'Subject: x\r\n\r\nbody\r\n'.length);
    assert.equal(p.records[1]!.size, 'Subject: y'.length);
  });
});
