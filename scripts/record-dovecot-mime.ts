// Records Dovecot 2.3.19's IMAP answers (ENVELOPE, BODYSTRUCTURE, BODY, sections, BINARY) for the MIME corpus
// in test/fixtures/mime/messages into test/fixtures/mime/dovecot-answers.json (RFC 3501 6.4.5 / 7.4.2, RFC 3516).
//
// Usage: node --import tsx scripts/record-dovecot-mime.ts [--keep]
// Needs root (it creates the `vmail` system user when absent) and the Debian dovecot-core/dovecot-imapd packages.
// Dovecot runs from its own config in a temp dir on 127.0.0.1 and is stopped by its pid when done.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, mkdirSync, chmodSync, chownSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const corpusDir = join(repoRoot, 'test/fixtures/mime/messages');
const answersFile = join(repoRoot, 'test/fixtures/mime/dovecot-answers.json');
const keepTempDir = process.argv.includes('--keep');

/** One recorded FETCH item: the bytes Dovecot sent for it (latin1 text), or the tagged NO/BAD it answered. */
export interface RecordedItem {
  item: string;
  /** Raw value as sent after the item name, decoded as latin1 (ENVELOPE, BODYSTRUCTURE, BODY, RFC822.SIZE, BINARY.SIZE). */
  text?: string;
  /** Literal contents, base64 (BODY[...] and BINARY[...]). */
  base64?: string;
  /** True when the literal was sent as a literal8 (~{n}). */
  literal8?: boolean;
  /** NIL instead of a value. */
  nil?: boolean;
  /** Tagged NO/BAD answer when the command failed. */
  error?: string;
}

export interface RecordedMessage {
  file: string;
  items: RecordedItem[];
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function ensureMailUser(): { uid: number; gid: number } {
  let id = run('id', ['-u', 'vmail']);
  if (id.status !== 0) {
    const created = run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'vmail']);
    if (created.status !== 0) throw new Error(`useradd vmail failed: ${created.stderr}`);
    id = run('id', ['-u', 'vmail']);
  }
  const gid = run('id', ['-g', 'vmail']);
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Minimal IMAP client: sends tagged commands, collects responses, reads literals byte-exactly. */
class RawImapClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closed = false;
  private tagCounter = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(port: number): Promise<RawImapClient> {
    const socket = await new Promise<Socket>((resolveSocket, reject) => {
      const s = connect(port, '127.0.0.1', () => resolveSocket(s));
      s.once('error', reject);
    });
    const client = new RawImapClient(socket);
    await client.readResponse(); // greeting
    return client;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Reads one full response (a line plus any literals it announces), returned as raw bytes. */
  async readResponse(): Promise<Buffer> {
    let offset = 0;
    for (;;) {
      const lf = this.buffer.indexOf(0x0a, offset);
      if (lf < 0) {
        await this.more();
        continue;
      }
      const line = this.buffer.subarray(offset, lf + 1).toString('latin1');
      const literal = /~?\{(\d+)\}\r\n$/.exec(line);
      if (!literal) {
        const response = this.buffer.subarray(0, lf + 1);
        this.buffer = this.buffer.subarray(lf + 1);
        return Buffer.from(response);
      }
      const literalEnd = lf + 1 + Number(literal[1]);
      while (this.buffer.length < literalEnd) await this.more();
      offset = literalEnd;
    }
  }

  /** Sends a command and returns its untagged responses and the tagged completion line. */
  async command(text: string): Promise<{ untagged: Buffer[]; tagged: string }> {
    const tag = `r${++this.tagCounter}`;
    this.socket.write(`${tag} ${text}\r\n`);
    const untagged: Buffer[] = [];
    for (;;) {
      const response = await this.readResponse();
      if (response.subarray(0, tag.length + 1).toString('latin1') === `${tag} `) {
        return { untagged, tagged: response.toString('latin1').trimEnd() };
      }
      untagged.push(response);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Parses the value of one FETCH item out of `* n FETCH (ITEM value)`. */
function extractItem(response: Buffer, itemName: string): RecordedItem {
  const text = response.toString('latin1');
  const open = text.indexOf('FETCH (');
  if (open < 0) throw new Error(`not a FETCH response: ${text.slice(0, 80)}`);
  let rest = text.slice(open + 'FETCH ('.length);
  if (!rest.endsWith(')\r\n')) throw new Error(`unterminated FETCH response: ${text.slice(-40)}`);
  rest = rest.slice(0, -3);
  // Item name as echoed (BODY[...] may contain spaces inside the brackets).
  let nameEnd: number;
  const bracket = rest.indexOf('[');
  const firstSpace = rest.indexOf(' ');
  if (bracket >= 0 && bracket < firstSpace) {
    nameEnd = rest.indexOf('] ', bracket) + 1;
  } else {
    nameEnd = firstSpace;
  }
  const value = rest.slice(nameEnd + 1);
  const literal = /^(~?)\{(\d+)\}\r\n/.exec(value);
  if (literal) {
    const body = Buffer.from(value.slice(literal[0].length), 'latin1');
    if (body.length !== Number(literal[2])) throw new Error(`literal size mismatch for ${itemName}`);
    const recorded: RecordedItem = { item: itemName, base64: body.toString('base64') };
    if (literal[1] === '~') recorded.literal8 = true;
    return recorded;
  }
  if (value === 'NIL') return { item: itemName, nil: true };
  return { item: itemName, text: value };
}

// --- BODYSTRUCTURE walking, to know which sections exist -----------------------------------------------

type SExpr = string | null | SExpr[];

function parseSExpr(text: string): SExpr {
  let pos = 0;
  function parse(): SExpr {
    while (text[pos] === ' ') pos++;
    const c = text[pos];
    if (c === '(') {
      pos++;
      const list: SExpr[] = [];
      for (;;) {
        while (text[pos] === ' ') pos++;
        if (text[pos] === ')') {
          pos++;
          return list;
        }
        list.push(parse());
      }
    }
    if (c === '"') {
      pos++;
      let out = '';
      while (text[pos] !== '"') {
        if (text[pos] === '\\') pos++;
        out += text[pos++];
      }
      pos++;
      return out;
    }
    if (c === '{') {
      const close = text.indexOf('}', pos);
      const size = Number(text.slice(pos + 1, close));
      const start = close + 3;
      pos = start + size;
      return text.slice(start, pos);
    }
    const start = pos;
    while (pos < text.length && text[pos] !== ' ' && text[pos] !== ')') pos++;
    const atom = text.slice(start, pos);
    return atom === 'NIL' ? null : atom;
  }
  return parse();
}

interface SectionInfo {
  section: string;
  multipart: boolean;
  rfc822: boolean;
}

function listSections(body: SExpr, prefix: string, out: SectionInfo[]): void {
  if (!Array.isArray(body)) return;
  const multipart = Array.isArray(body[0]);
  if (multipart) {
    let n = 0;
    for (const child of body) {
      if (!Array.isArray(child)) break;
      n++;
      const section = prefix === '' ? String(n) : `${prefix}.${n}`;
      const childMultipart = Array.isArray(child[0]);
      const rfc822 = !childMultipart && String(child[0]).toLowerCase() === 'message' && String(child[1]).toLowerCase() === 'rfc822';
      out.push({ section, multipart: childMultipart, rfc822 });
      if (childMultipart) listSections(child, section, out);
      else if (rfc822) listEnclosed(child[8], section, out);
    }
  }
}

function listEnclosed(enclosed: SExpr, section: string, out: SectionInfo[]): void {
  if (!Array.isArray(enclosed)) return;
  if (Array.isArray(enclosed[0])) {
    listSections(enclosed, section, out);
  } else {
    const sub = `${section}.1`;
    const rfc822 = String(enclosed[0]).toLowerCase() === 'message' && String(enclosed[1]).toLowerCase() === 'rfc822';
    out.push({ section: sub, multipart: false, rfc822 });
    if (rfc822) listEnclosed(enclosed[8], sub, out);
  }
}

/** The FETCH items recorded for a message whose BODYSTRUCTURE is `bodystructure`. */
export function itemsForMessage(bodystructure: string): string[] {
  const tree = parseSExpr(bodystructure);
  const sections: SectionInfo[] = [];
  if (Array.isArray(tree) && Array.isArray(tree[0])) {
    listSections(tree, '', sections);
  } else if (Array.isArray(tree)) {
    const rfc822 = String(tree[0]).toLowerCase() === 'message' && String(tree[1]).toLowerCase() === 'rfc822';
    sections.push({ section: '1', multipart: false, rfc822 });
    if (rfc822) listEnclosed(tree[8], '1', sections);
  }
  const items = [
    'BODY.PEEK[]',
    'BODY.PEEK[HEADER]',
    'BODY.PEEK[TEXT]',
    'BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)]',
    'BODY.PEEK[HEADER.FIELDS.NOT (FROM TO SUBJECT DATE RECEIVED)]',
    'BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE X-NONEXISTENT)]',
    'BODY.PEEK[9]',
    'BODY.PEEK[1.9]',
  ];
  for (const { section, multipart, rfc822 } of sections) {
    items.push(`BODY.PEEK[${section}]`, `BODY.PEEK[${section}.MIME]`);
    if (rfc822) {
      items.push(`BODY.PEEK[${section}.HEADER]`, `BODY.PEEK[${section}.TEXT]`, `BODY.PEEK[${section}.HEADER.FIELDS (SUBJECT FROM)]`);
    }
    if (!multipart) items.push(`BINARY.PEEK[${section}]`, `BINARY.SIZE[${section}]`);
  }
  return items;
}

async function waitForListener(port: number, ceilingMs: number): Promise<void> {
  const deadline = Date.now() + ceilingMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`dovecot did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50)); // poll interval while waiting for the listener
  }
}

async function main(): Promise<void> {
  const { uid, gid } = ensureMailUser();
  const root = mkdtempSync(join(tmpdir(), 'roost-dovecot-mime-'));
  chmodSync(root, 0o755);
  const baseDir = join(root, 'run');
  const stateDir = join(root, 'state');
  const mailRoot = join(root, 'mail');
  const home = join(root, 'home');
  for (const d of [baseDir, stateDir, mailRoot, home]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const maildir = join(mailRoot, 'tester');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  const port = await freePort();
  writeFileSync(join(root, 'passwd'), `tester:{PLAIN}secret:${uid}:${gid}::${home}::\n`);
  const config = `
protocols = imap
listen = 127.0.0.1
base_dir = ${baseDir}
state_dir = ${stateDir}
log_path = ${join(root, 'dovecot.log')}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = ${uid}
last_valid_uid = ${uid}
first_valid_gid = ${gid}
mail_location = maildir:${mailRoot}/%u
passdb {
  driver = passwd-file
  args = ${join(root, 'passwd')}
}
userdb {
  driver = passwd-file
  args = ${join(root, 'passwd')}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
`;
  const configFile = join(root, 'dovecot.conf');
  writeFileSync(configFile, config);
  for (const p of [mailRoot, maildir, join(maildir, 'cur'), join(maildir, 'new'), join(maildir, 'tmp'), home]) chownSync(p, uid, gid);

  // The daemonised master keeps inherited descriptors open, so give it none of ours.
  const started = spawnSync('dovecot', ['-c', configFile], { stdio: 'ignore' });
  if (started.status !== 0) throw new Error(`dovecot failed to start (exit ${started.status}); see ${join(root, 'dovecot.log')}`);
  const pidFile = join(baseDir, 'master.pid');
  const results: RecordedMessage[] = [];
  try {
    await waitForListener(port, 15000);
    const client = await RawImapClient.open(port);
    const login = await client.command('LOGIN tester secret');
    if (!login.tagged.includes('OK')) throw new Error(`login failed: ${login.tagged}`);
    const selected = await client.command('SELECT INBOX');
    if (!selected.tagged.includes('OK')) throw new Error(`select failed: ${selected.tagged}`);

    const files = readdirSync(corpusDir).filter((f) => f.endsWith('.eml')).sort();
    // Deliver one message at a time so that sequence numbers follow the corpus order.
    for (const [index, file] of files.entries()) {
      const target = join(maildir, 'cur', `${1600000000 + index}.M${index}P1.roost-corpus:2,`);
      copyFileSync(join(corpusDir, file), target);
      chownSync(target, uid, gid);
      const noop = await client.command('NOOP');
      const exists = noop.untagged.map((b) => b.toString('latin1')).find((l) => /^\* \d+ EXISTS/.test(l));
      if (!exists || Number(/^\* (\d+)/.exec(exists)![1]) !== index + 1) {
        throw new Error(`expected ${index + 1} messages after adding ${file}, got ${exists ?? 'no EXISTS'}`);
      }
    }

    for (const [index, file] of files.entries()) {
      const seq = index + 1;
      const items: RecordedItem[] = [];
      const fetchOne = async (item: string): Promise<RecordedItem> => {
        const { untagged, tagged } = await client.command(`FETCH ${seq} (${item})`);
        if (!/^\S+ OK/.test(tagged)) return { item, error: tagged.replace(/^\S+ /, '') };
        const response = untagged.find((b) => b.toString('latin1').startsWith(`* ${seq} FETCH (`));
        if (!response) throw new Error(`no FETCH response for ${file} ${item}`);
        return extractItem(response, item);
      };
      for (const item of ['ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822.SIZE']) items.push(await fetchOne(item));
      const bodystructure = items[1]!.text ?? Buffer.from(items[1]!.base64 ?? '', 'base64').toString('latin1');
      for (const item of itemsForMessage(bodystructure)) items.push(await fetchOne(item));
      results.push({ file, items });
    }
    await client.command('LOGOUT');
    client.close();
  } finally {
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    if (!keepTempDir) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  }
  const version = run('dovecot', ['--version']).stdout.trim();
  writeFileSync(answersFile, JSON.stringify({ dovecot: version, recorded: results }, null, 1) + '\n');
  const count = results.reduce((n, m) => n + m.items.length, 0);
  console.log(`recorded ${count} answers for ${results.length} messages from Dovecot ${version} into ${answersFile}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
