// The local delivery agent for "|command" and "/file" alias targets, as Postfix's local(8): runs with the rights of
// default_privs (when Roost is root), local(8)'s environment and message form; each outcome is made durable at once.
import { spawn, execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { getLogger } from '../lib/logger.js';
import { runningAsRoot } from '../server/privileges.js';
import { splitAddress } from './addresses.js';
import { localCopy, type CopyOptions } from './local-copy.js';
import { feed, runCommand } from './pipe-command.js';
import { frame } from './agent-frames.js';
import { commandOutcome } from './sys-exits.js';
import { alreadyInFile, deliverToFile, isMaildirPath, type FileRequest, type FileResult } from './file-delivery.js';
import { appendRecords, type QueueFileState, type QueueRecord } from './queue-file.js';
import type { RecipientOutcome } from './delivery.js';

const log = getLogger({ component: 'local' });

export interface LocalAgentOptions {
  /** The user commands and files run as when Roost runs as root (Postfix default_privs). */
  defaultPrivs: string;
  commandTimeLimitMs: number;
  recipientDelimiter: string;
}

interface Rights {
  name: string;
  home: string;
  shell: string;
  /** Set only when Roost runs as root: the uid and gid to switch to. */
  ids?: { uid: number; gid: number };
}

/** Postfix's command_expansion_filter: other characters in an environment value become "_". */
const SAFE = /[^0-9A-Za-z!@%\-_=+:,./]/g;
const safe = (v: string) => v.replace(SAFE, '_');

/** Postfix's default PATH for commands (_PATH_DEFPATH). */
const DEFAULT_PATH = '/usr/bin:/bin';

/** The file agent's entry: the .ts source through tsx when Roost runs from source, else the built .js. */
function fileAgentArgs(request: string): string[] {
  const self = fileURLToPath(import.meta.url);
  const script = self.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), join(dirname(self), 'file-agent.ts')] : [join(dirname(self), 'file-agent.js')];
  return [...script, request, String(process.pid)];
}

export class LocalAgent {
  private rights: Rights | undefined;

  constructor(private readonly opts: LocalAgentOptions) {}

  /** Whose rights deliveries use; looked up once. Not root: Roost's own user, as nothing can be switched. */
  private lookupRights(): Rights {
    if (this.rights) return this.rights;
    if (!runningAsRoot()) {
      let me: { username: string; homedir: string; shell: string | null };
      try {
        me = userInfo();
      } catch {
        me = { username: String(process.getuid?.() ?? ''), homedir: '/', shell: null }; // a uid without a passwd entry
      }
      return (this.rights = { name: me.username, home: me.homedir, shell: me.shell ?? '/bin/sh' });
    }
    const line = execFileSync('getent', ['passwd', this.opts.defaultPrivs], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
    const f = line.split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (f.length < 7 || !Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`default_privs user ${this.opts.defaultPrivs} not found`);
    if (uid === 0) throw new Error(`default_privs user ${this.opts.defaultPrivs} is root`);
    return (this.rights = { name: f[0]!, home: f[5]!, shell: f[6]!, ids: { uid, gid } });
  }

  /** local(8)'s environment for a command: no variable of Roost's own, address parts filtered. */
  private environment(state: QueueFileState, index: number, rights: Rights): Record<string, string> {
    const env = state.envelope;
    const r = env.recipients[index]!;
    const { local, domain } = splitAddress(r.address);
    const out: Record<string, string> = {
      HOME: rights.home,
      LOGNAME: rights.name,
      USER: rights.name,
      SHELL: rights.shell,
      PATH: DEFAULT_PATH,
      SENDER: safe(env.sender),
      RECIPIENT: safe(r.address),
      ORIGINAL_RECIPIENT: safe(r.original ?? r.address),
      LOCAL: safe(local.toLowerCase()),
      DOMAIN: safe(domain),
      CLIENT_ADDRESS: safe(env.client.ip),
      CLIENT_HELO: safe(env.client.helo),
      CLIENT_PROTOCOL: safe(env.client.protocol),
    };
    const delimiters = this.opts.recipientDelimiter;
    const cut = delimiters ? [...local].findIndex((ch) => delimiters.includes(ch)) : -1;
    if (cut > 0) out.EXTENSION = safe(local.slice(cut + 1).toLowerCase());
    if (env.client.user) out.SASL_USERNAME = safe(env.client.user);
    // Postfix's export_environment default: TZ and LANG pass through unchanged.
    for (const name of ['TZ', 'LANG']) if (process.env[name]) out[name] = process.env[name]!;
    return out;
  }

  private copyOptions(state: QueueFileState, index: number, form: 'command' | 'mbox' | 'maildir'): CopyOptions {
    const env = state.envelope;
    const r = env.recipients[index]!;
    return { sender: env.sender, original: r.original ?? r.address, delivered: r.address, fromLine: form !== 'maildir', quote: form === 'mbox', blank: form === 'mbox' };
  }

  private fileRequest(queueId: string, path: string, index: number): FileRequest {
    return { path, tag: `Q${queueId}R${index}`, marker: `id ${queueId}` };
  }

  /** Writes to a file with default_privs' rights: a process of its own when Roost is root, else right here. */
  private async writeFile(req: FileRequest, data: AsyncIterable<Buffer>, rights: Rights): Promise<FileResult> {
    if (!rights.ids) return deliverToFile(req, data);
    const child = spawn(process.execPath, fileAgentArgs(JSON.stringify(req)), { cwd: '/', env: { PATH: DEFAULT_PATH }, stdio: ['pipe', 'ignore', 'pipe', 'pipe'], ...rights.ids });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-1000)));
    let result = '';
    (child.stdio[3] as Readable).on('data', (c: Buffer) => (result += c.toString()));
    const closed = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => child.pid === undefined && resolve());
    });
    const inputError = await feed(child.stdin!, frame(data));
    if (inputError) child.stdin!.destroy(); // input without its last frame: the agent cuts the file back and exits
    await closed;
    if (inputError) return { ok: false, dsn: '4.3.0', text: `cannot read the queued message: ${inputError.message}` };
    try {
      return JSON.parse(result) as FileResult;
    } catch {
      return { ok: false, dsn: '4.3.0', text: `file delivery agent failed${stderr ? `: ${stderr.replace(/\s+/g, ' ').trim()}` : ''}` };
    }
  }

  /** One command or file delivery. */
  private async deliverOne(queueId: string, state: QueueFileState, index: number, content: () => Readable | Buffer[]): Promise<RecipientOutcome> {
    const r = state.envelope.recipients[index]!;
    const outcome = (status: RecipientOutcome['status'], dsn: string, text: string): RecipientOutcome => ({ index, status, dsn, text, relay: 'local' });
    let rights: Rights;
    try {
      rights = this.lookupRights();
    } catch (err) {
      return outcome('deferred', '4.3.5', (err as Error).message);
    }
    const target = r.target ?? '';
    if (r.route === 'command') {
      const end = await runCommand({
        command: target,
        env: this.environment(state, index, rights),
        ids: rights.ids,
        cwd: '/',
        timeLimitMs: this.opts.commandTimeLimitMs,
        input: localCopy(content(), this.copyOptions(state, index, 'command')),
      });
      const o = commandOutcome(end);
      return outcome(o.status, o.dsn, o.text);
    }
    const data = localCopy(content(), this.copyOptions(state, index, isMaildirPath(target) ? 'maildir' : 'mbox'));
    const result = await this.writeFile(this.fileRequest(queueId, target, index), data, rights);
    if (result.ok) return outcome('sent', '2.0.0', result.text);
    return outcome(result.dsn.startsWith('4') ? 'deferred' : 'bounced', result.dsn, result.text);
  }

  /**
   * Delivers to the command and file recipients of a message one after the other. Each is marked in flight first and
   * its final outcome is written to the queue file at once (and added to state.records), so no later deferral of
   * another recipient delivers it again. A delivery a crash cut short is looked for in its file or maildir before it
   * is made again; a command is run again (at least once, as Postfix).
   */
  async deliver(queueId: string, path: string, state: QueueFileState, indexes: number[], content: () => Readable | Buffer[], now: () => number): Promise<RecipientOutcome[]> {
    const outcomes: RecipientOutcome[] = [];
    for (const index of indexes) {
      const r = state.envelope.recipients[index]!;
      let outcome: RecipientOutcome;
      if (state.uncertain.has(index) && r.route === 'file' && (await alreadyInFile(this.fileRequest(queueId, r.target ?? '', index)))) {
        outcome = { index, status: 'sent', dsn: '2.0.0', text: 'delivered before restart', relay: 'local' };
      } else {
        if (state.uncertain.has(index) && r.route === 'command') log.warn({ queueId, to: r.address }, `${queueId}: command for <${r.address}> may have run before a restart; running it again`);
        await appendRecords(path, [{ t: 'inflight', r: [index], at: now() }]);
        outcome = await this.deliverOne(queueId, state, index, content);
      }
      if (outcome.status !== 'deferred') {
        const record: QueueRecord = { t: 'done', r: [index], status: outcome.status, dsn: outcome.dsn, relay: outcome.relay, text: outcome.text, at: now() };
        await appendRecords(path, [record]);
        state.records.push(record);
        state.finished.add(index);
      }
      outcomes.push(outcome);
    }
    return outcomes;
  }
}
