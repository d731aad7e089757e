// Real IMAP clients against Roost on Maildir++ and mbox stores (RFC 9051 sections 6.3-6.4, RFC 6851 MOVE, RFC 4315 UIDPLUS):
// mutt driven in tmux reads, flags, saves to another folder and deletes; isync's mbsync syncs both ways and then idles.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { lmtpDeliver, runPython } from '../helpers/python.js';
import { requirePeer } from './peers.js';

const MBOX = 'userdb_mail=mbox:~/mail:INBOX=~/mail/inbox';
let h: RoostHandle;
let base: string;
const users = ['mutt-mdir', 'mutt-mbox', 'sync-mdir', 'sync-mbox'];
const password = (u: string) => `${u}-pw`;
const isMbox = (u: string) => u.endsWith('-mbox');

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'roost-imap-clients-'));
  h = await startRoost({
    users: users.map((name) => ({ name, password: password(name), ...(isMbox(name) ? { home: join(base, 'home', name), extra: MBOX } : {}) })),
  });
});
after(async () => {
  await h?.stop();
  rmSync(base, { recursive: true, force: true });
});

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

async function deliver(user: string, words: string[]): Promise<void> {
  for (const [i, w] of words.entries()) {
    const msg = `From: Sender <sender@example.net>\r\nTo: ${user}@localhost\r\nDate: Mon, ${i + 1} Jan 2024 10:00:00 +0000\r\nSubject: msg-${w}\r\nMessage-ID: <${w}.${user}@example.net>\r\n\r\nbody ${w}\r\n`;
    assert.deepEqual(await lmtpDeliver(h.ports.lmtp, 'sender@example.net', [`${user}@localhost`], msg), {});
  }
}

interface ServerMessage {
  uid: number;
  flags: string[];
  subject: string;
}

/** What the server holds, read with Python's imaplib: per mailbox, UID, flags (without \Recent) and subject; null if it does not exist. */
async function serverState(user: string, boxes: string[]): Promise<Record<string, ServerMessage[] | null>> {
  const code = `
import imaplib, sys, json, re
port, user, pw, boxes = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
c = imaplib.IMAP4('127.0.0.1', port)
c.login(user, pw)
out = {}
for b in boxes:
    typ, data = c.select(b, readonly=True)
    if typ != 'OK':
        out[b] = None
        continue
    msgs = {}
    if int(data[0]) > 0:
        typ, data = c.uid('FETCH', '1:*', '(FLAGS)')
        for line in data:
            m = re.search(rb'UID (\\d+)', line)
            f = re.search(rb'FLAGS \\(([^)]*)\\)', line)
            msgs[int(m.group(1))] = {'uid': int(m.group(1)), 'flags': sorted(x for x in f.group(1).decode().split() if x != '\\\\Recent'), 'subject': ''}
        typ, data = c.uid('FETCH', '1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb'UID (\\d+)', item[0]).group(1))
                msgs[uid]['subject'] = item[1].decode().strip().replace('Subject: ', '')
    out[b] = sorted(msgs.values(), key=lambda m: m['uid'])
c.logout()
print(json.dumps(out))
`;
  return JSON.parse(await runPython(code, [h.ports.imap, user, password(user), JSON.stringify(boxes)])) as Record<string, ServerMessage[] | null>;
}

/** Polls until check() returns a value (not undefined), with a generous ceiling; the last error is reported. */
async function waitUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- mutt in tmux

/** A mutt session in a private tmux server (its own socket, so nothing else's tmux is touched). */
class MuttInTmux {
  private readonly socket: string;
  constructor(readonly dir: string) {
    this.socket = join(dir, 'tmux.sock');
  }
  tmux(...args: string[]): Promise<{ code: number; out: string }> {
    return run('tmux', ['-S', this.socket, ...args]);
  }
  async start(muttrc: string): Promise<void> {
    // The shell keeps the pane open after mutt exits so its exit status can be read from the screen.
    const command = `HOME='${this.dir}' mutt -n -F '${muttrc}'; echo MUTT-EXIT $?; exec cat`;
    const r = await this.tmux('new-session', '-d', '-s', 'mutt', '-x', '200', '-y', '50', command);
    assert.equal(r.code, 0, r.out);
  }
  async screen(): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-t', 'mutt')).out;
  }
  /** Waits until the screen satisfies pred; returns it. */
  waitScreen(what: string, pred: (screen: string) => boolean): Promise<string> {
    let last = '';
    return waitUntil(`mutt screen: ${what}`, async () => {
      last = await this.screen();
      return pred(last) ? last : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- screen ---\n${last}`);
    });
  }
  async keys(...keys: string[]): Promise<void> {
    const r = await this.tmux('send-keys', '-t', 'mutt', ...keys);
    assert.equal(r.code, 0, r.out);
  }
  /** Literal text (no key-name lookup), e.g. a search pattern. */
  async type(text: string): Promise<void> {
    const r = await this.tmux('send-keys', '-t', 'mutt', '-l', text);
    assert.equal(r.code, 0, r.out);
  }
  async stop(): Promise<void> {
    await this.tmux('kill-server');
  }
}

/** The index line of the message with this subject (index_format "%4C %Z %s"), or undefined. */
function indexLine(screen: string, subject: string): string | undefined {
  return screen.split('\n').find((l) => new RegExp(`^(->)?\\s*\\d+ .* ${subject}\\s*$`).test(l));
}

/** Moves the cursor to the message whose subject matches, with mutt's search. */
async function seek(m: MuttInTmux, subject: string): Promise<void> {
  await m.keys('/');
  await m.waitScreen('the search prompt', (s) => /^Search for:/m.test(s.split('\n').filter((l) => l.trim()).at(-1) ?? ''));
  await m.type(subject);
  await m.keys('Enter');
  await m.waitScreen(`the cursor on ${subject}`, (s) => indexLine(s, subject)?.startsWith('->') === true);
}

/** Where a user's mail lives: the Maildir++ root, or the mbox home's mail directory. */
function storePath(user: string): string {
  return isMbox(user) ? join(base, 'home', user, 'mail') : join(h.dataDir, 'mail', user, 'Maildir');
}

/** Every Maildir message file of a folder ('' for INBOX) as [name, content]. */
function maildirFiles(root: string, folder: string): [string, string][] {
  const dir = folder ? join(root, `.${folder}`) : root;
  const out: [string, string][] = [];
  for (const sub of ['new', 'cur']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) out.push([f, readFileSync(join(d, f), 'latin1')]);
  }
  return out;
}

/** The header block of the mbox message with this subject, from the mbox file. */
function mboxHeaders(file: string, subject: string): string | undefined {
  const text = readFileSync(file, 'latin1');
  return text
    .split(/\n(?=From )/)
    .map((m) => m.split('\n\n')[0])
    .find((hdr) => hdr.includes(`Subject: ${subject}`));
}

for (const user of ['mutt-mdir', 'mutt-mbox']) {
  test(`mutt in tmux reads, flags, saves to another folder and deletes (${isMbox(user) ? 'mbox' : 'Maildir++'})`, async (t) => {
    if (!requirePeer(t, 'mutt') || !requirePeer(t, 'tmux')) return;
    await deliver(user, ['alpha', 'bravo', 'charlie', 'delta']);
    const dir = join(base, user);
    mkdirSync(dir, { recursive: true });
    const muttrc = join(dir, 'muttrc');
    writeFileSync(
      muttrc,
      [
        `set folder="imap://${user}:${password(user)}@127.0.0.1:${h.ports.imap}/"`,
        'set spoolfile="+INBOX"',
        'set ssl_starttls=no',
        'set ssl_force_tls=no',
        'set imap_check_subscribed=no',
        'set header_cache=""',
        'set message_cachedir=""',
        'set sort=mailbox-order',
        'set index_format="%4C %Z %s"',
        'set arrow_cursor=yes',
        'set confirmappend=no',
        'set confirmcreate=no',
        'set delete=yes',
        'set quit=yes',
        'set move=no',
        'set mark_old=no',
        'set wait_key=no',
        'set beep=no',
        'set record=""',
        '',
      ].join('\n'),
    );
    const m = new MuttInTmux(dir);
    try {
      await m.start(muttrc);
      await m.waitScreen('the index with four messages', (s) => ['alpha', 'bravo', 'charlie', 'delta'].every((w) => indexLine(s, `msg-${w}`)?.includes(' N ')));

      // Read alpha: open it in the pager, back to the index; it is no longer new.
      await seek(m, 'msg-alpha');
      await m.keys('Enter');
      await m.waitScreen('the pager showing alpha', (s) => s.includes('body alpha'));
      await m.keys('q');
      await m.waitScreen('alpha read in the index', (s) => indexLine(s, 'msg-alpha')?.includes(' N ') === false);

      // Flag bravo.
      await seek(m, 'msg-bravo');
      await m.keys('F');
      await m.waitScreen('bravo flagged', (s) => indexLine(s, 'msg-bravo')?.includes('!') === true);

      // Save charlie to Archive (copy, then marked deleted here).
      await seek(m, 'msg-charlie');
      await m.keys('s');
      await m.waitScreen('the save prompt', (s) => /Save to mailbox/.test(s));
      await m.keys('C-u');
      await m.type('=Archive');
      await m.keys('Enter');
      await m.waitScreen('charlie saved and marked deleted', (s) => /^(->)?\s*\d+ \S*D/.test(indexLine(s, 'msg-charlie') ?? ''));

      // Delete delta, then sync: both deleted messages are expunged.
      await seek(m, 'msg-delta');
      await m.keys('d');
      await m.waitScreen('delta marked deleted', (s) => /^(->)?\s*\d+ \S*D/.test(indexLine(s, 'msg-delta') ?? ''));
      await m.keys('$');
      await m.waitScreen('the sync done', (s) => !indexLine(s, 'msg-charlie') && !indexLine(s, 'msg-delta') && /Msgs:2\b/.test(s));
      await m.keys('q');
      await m.waitScreen('mutt exited', (s) => /MUTT-EXIT \d+/.test(s));
      assert.match(await m.screen(), /MUTT-EXIT 0/);
    } finally {
      await m.stop();
    }

    // What the server says (imaplib).
    const state = await serverState(user, ['INBOX', 'Archive']);
    assert.deepEqual(
      state.INBOX!.map((x) => [x.subject, x.flags]),
      [
        ['msg-alpha', ['\\Seen']],
        ['msg-bravo', ['\\Flagged']],
      ],
    );
    assert.deepEqual(
      state.Archive!.map((x) => x.subject),
      ['msg-charlie'],
    );

    // What the store holds on disk.
    const root = storePath(user);
    if (isMbox(user)) {
      assert.match(mboxHeaders(join(root, 'inbox'), 'msg-alpha') ?? '', /^Status: RO?$/m);
      assert.match(mboxHeaders(join(root, 'inbox'), 'msg-bravo') ?? '', /^X-Status: .*F/m);
      for (const gone of ['msg-charlie', 'msg-delta']) assert.equal(mboxHeaders(join(root, 'inbox'), gone), undefined, `${gone} left the inbox`);
      assert.ok(mboxHeaders(join(root, 'Archive'), 'msg-charlie'), 'charlie is in the Archive mbox');
    } else {
      const inbox = maildirFiles(root, '');
      const file = (subject: string) => inbox.find(([, c]) => c.includes(`Subject: ${subject}`))?.[0];
      assert.match(file('msg-alpha') ?? '', /:2,S$/);
      assert.match(file('msg-bravo') ?? '', /:2,F$/);
      assert.equal(inbox.length, 2);
      assert.ok(maildirFiles(root, 'Archive').some(([, c]) => c.includes('Subject: msg-charlie')));
    }
  });
}

// ---------------------------------------------------------------- mbsync

/** The local Maildir as "folder/subject -> flags" (mbsync's U= and file names left out). */
function localState(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const folder of readdirSync(root)) {
    for (const sub of ['new', 'cur']) {
      const d = join(root, folder, sub);
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) {
        const subject = /^Subject: (.*)$/m.exec(readFileSync(join(d, f), 'latin1'))?.[1]?.trim() ?? '?';
        const key = `${folder}/${subject}`;
        assert.equal(out[key], undefined, `one local copy of ${key}`);
        out[key] = /:2,([A-Z]*)$/.exec(f)?.[1] ?? '';
      }
    }
  }
  return out;
}

/** The local file of a message by subject in a folder: [dir, name]. */
function localFile(root: string, folder: string, subject: string): [string, string] {
  for (const sub of ['new', 'cur']) {
    const d = join(root, folder, sub);
    for (const f of readdirSync(d)) if (readFileSync(join(d, f), 'latin1').includes(`Subject: ${subject}`)) return [d, f];
  }
  throw new Error(`no local file for ${folder}/${subject}`);
}

for (const user of ['sync-mdir', 'sync-mbox']) {
  test(`mbsync syncs a mailbox both ways and a second run changes nothing (${isMbox(user) ? 'mbox' : 'Maildir++'})`, async (t) => {
    if (!requirePeer(t, 'mbsync')) return;
    await deliver(user, ['one', 'two', 'three']);
    const dir = join(base, user);
    const local = join(dir, 'local');
    mkdirSync(local, { recursive: true });
    const rc = join(dir, 'mbsyncrc');
    writeFileSync(
      rc,
      [
        'IMAPAccount roost',
        'Host 127.0.0.1',
        `Port ${h.ports.imap}`,
        `User ${user}`,
        `Pass ${password(user)}`,
        'SSLType None',
        'AuthMechs LOGIN',
        '',
        'IMAPStore roost-remote',
        'Account roost',
        '',
        'MaildirStore local',
        `Path ${local}/`,
        `Inbox ${local}/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel roost',
        'Far :roost-remote:',
        'Near :local:',
        'Patterns *',
        'Sync All',
        'Create Both',
        'Expunge Both',
        'SyncState *',
        '',
      ].join('\n'),
    );
    const mbsync = async () => {
      const r = await run('mbsync', ['-c', rc, '-V', 'roost'], { HOME: dir });
      assert.equal(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /error|BAD|failed/i, r.out);
      return r.out;
    };
    const boxes = ['INBOX', 'Archive', 'Projects'];

    // First run: the server's messages and folders come down.
    await mbsync();
    assert.deepEqual(localState(local), { 'INBOX/msg-one': '', 'INBOX/msg-two': '', 'INBOX/msg-three': '' });
    for (const f of ['Archive', 'Sent', 'Drafts', 'Trash', 'Junk']) assert.ok(existsSync(join(local, f, 'cur')), `${f} was created locally`);

    // Local changes: a flag rename (one is now seen and answered), one trashed, a new message, a new folder.
    const [d1, f1] = localFile(local, 'INBOX', 'msg-one');
    renameSync(join(d1, f1), join(local, 'INBOX', 'cur', `${f1.replace(/:2,.*$/, '')}:2,RS`));
    const [d3, f3] = localFile(local, 'INBOX', 'msg-three');
    renameSync(join(d3, f3), join(local, 'INBOX', 'cur', `${f3.replace(/:2,.*$/, '')}:2,T`));
    writeFileSync(join(local, 'INBOX', 'new', '1700000000.local1.roost-test'), 'From: me@example.net\nSubject: msg-local\nMessage-ID: <local@example.net>\n\nwritten locally\n');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(local, 'Projects', sub), { recursive: true });
    writeFileSync(join(local, 'Projects', 'new', '1700000001.local2.roost-test'), 'From: me@example.net\nSubject: msg-project\nMessage-ID: <project@example.net>\n\nplans\n');

    // Server changes: two is flagged, a new message arrives already seen.
    await runPython(
      `import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1])); c.login(sys.argv[2], sys.argv[3]); c.select('INBOX')
typ, data = c.search(None, 'SUBJECT', 'msg-two'); assert typ == 'OK' and data[0], data
assert c.store(data[0].decode(), '+FLAGS', '(\\\\Flagged)')[0] == 'OK'
assert c.append('INBOX', '(\\\\Seen)', None, b'From: x@example.net\\r\\nSubject: msg-server\\r\\nMessage-ID: <server@example.net>\\r\\n\\r\\nfrom the server\\r\\n')[0] == 'OK'
c.logout()`,
      [h.ports.imap, user, password(user)],
    );

    // Second run: both ways.
    await mbsync();
    const server = await serverState(user, boxes);
    const flagsOf = (box: string) => Object.fromEntries((server[box] ?? []).map((x) => [x.subject, x.flags.join(' ')]));
    assert.deepEqual(flagsOf('INBOX'), {
      'msg-one': '\\Answered \\Seen',
      'msg-two': '\\Flagged',
      'msg-local': '',
      'msg-server': '\\Seen',
    });
    assert.deepEqual(flagsOf('Projects'), { 'msg-project': '' }, 'the new local folder was created on the server');
    assert.deepEqual(localState(local), {
      'INBOX/msg-one': 'RS',
      'INBOX/msg-two': 'F',
      'INBOX/msg-local': '',
      'INBOX/msg-server': 'S',
      'Projects/msg-project': '',
    });

    // Third run: nothing changes on either side.
    const serverBefore = JSON.stringify(await serverState(user, boxes));
    const localBefore = JSON.stringify(localState(local));
    const filesBefore = JSON.stringify(readdirSync(join(local, 'INBOX', 'cur')).concat(readdirSync(join(local, 'INBOX', 'new'))).sort());
    const out = await mbsync();
    assert.doesNotMatch(out, /Creating|Propagating|Expunging/i, out);
    assert.equal(JSON.stringify(await serverState(user, boxes)), serverBefore, 'the server is unchanged');
    assert.equal(JSON.stringify(localState(local)), localBefore, 'the local Maildir is unchanged');
    assert.equal(JSON.stringify(readdirSync(join(local, 'INBOX', 'cur')).concat(readdirSync(join(local, 'INBOX', 'new'))).sort()), filesBefore, 'no local file was renamed');

    // The store on disk holds the same (mbox: one file per folder).
    if (isMbox(user)) {
      assert.ok(mboxHeaders(join(storePath(user), 'Projects'), 'msg-project'));
      assert.equal(mboxHeaders(join(storePath(user), 'inbox'), 'msg-three'), undefined);
    } else {
      assert.ok(maildirFiles(storePath(user), 'Projects').some(([, c]) => c.includes('Subject: msg-project')));
      assert.ok(!maildirFiles(storePath(user), '').some(([, c]) => c.includes('Subject: msg-three')));
    }
  });
}
