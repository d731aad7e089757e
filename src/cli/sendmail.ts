// `roost sendmail [-f sender] [-t] [-i] rcpt...`: the /usr/sbin/sendmail interface (as Postfix's sendmail(1)):
// reads a message (RFC 5322) from stdin, queues it durably with a Received: header and wakes the daemon.
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { Readable } from 'node:stream';
import { loadContext, withCommonOptions, type CommonOptions } from './context.js';
import { AuthService } from '../auth/service.js';
import { QueueStore } from '../mta/queue-store.js';
import { queueMessage, queueRecipients, type AcceptedTargets } from '../mta/cleanup.js';
import { controlSocketPath, makeAddressResolver, myHostname } from '../mta/service.js';
import { sendControl } from '../mta/control.js';
import { hostname } from 'node:os';

interface SendmailOptions extends CommonOptions {
  f?: string;
  t?: boolean;
  i?: boolean;
  o?: string[];
  F?: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Without -i, a line with a single "." ends the message (sendmail's traditional rule). */
export function cutAtDot(message: Buffer): Buffer {
  const text = message.toString('latin1');
  const m = /(^|\r?\n)\.\r?\n/.exec(text) ?? /(^|\r?\n)\.$/.exec(text);
  return m ? Buffer.from(text.slice(0, m.index + m[1].length), 'latin1') : message;
}

/** The header block split into unfolded fields, and the index where the body starts. */
function headerFields(message: Buffer): { fields: { name: string; value: string; start: number; end: number }[]; headerEnd: number } {
  const text = message.toString('latin1');
  const end = /\r?\n\r?\n/.exec(text);
  const headerEnd = end ? end.index + end[0].length : text.length;
  const fields: { name: string; value: string; start: number; end: number }[] = [];
  const re = /^([^\s:]+):([^]*?)(?=\r?\n(?![ \t])|$)/gm;
  const head = text.slice(0, end ? end.index : text.length);
  let m: RegExpExecArray | null;
  while ((m = re.exec(head))) {
    const stop = m.index + m[0].length;
    const lineEnd = head.startsWith('\r\n', stop) ? stop + 2 : head.startsWith('\n', stop) ? stop + 1 : stop;
    fields.push({ name: m[1].toLowerCase(), value: m[2].replace(/\r?\n[ \t]+/g, ' ').trim(), start: m.index, end: lineEnd });
  }
  return { fields, headerEnd };
}

/** Addresses in a header value: angle-bracket forms, else bare comma-separated tokens. */
function addressesIn(value: string): string[] {
  const out: string[] = [];
  for (const part of value.replace(/\([^)]*\)/g, '').split(',')) {
    const angle = /<([^>]*)>/.exec(part);
    const addr = (angle ? angle[1] : part.replace(/"[^"]*"/g, '')).trim();
    if (addr && !addr.endsWith(':') && !addr.includes(' ')) out.push(addr);
  }
  return out;
}

export function registerSendmailCommand(program: Command): void {
  withCommonOptions(
    program
      .command('sendmail [recipients...]')
      .description('Queue a message read from stdin (compatible with /usr/sbin/sendmail)')
      .option('-f <sender>', 'envelope sender')
      .option('-t', 'take recipients from To:, Cc: and Bcc: (Bcc: is removed)')
      .option('-i', 'a line with a single dot does not end the message')
      .option('-o <option...>', 'sendmail options (-oi is -i; others are ignored)')
      .option('-F <name>', 'full name of the sender (ignored)'),
  ).action(async (args: string[], opts: SendmailOptions) => {
    const { dataDir, config } = loadContext(opts);
    const hostName = myHostname(config, hostname());
    const auth = await AuthService.create(config, dataDir);
    try {
      const resolver = makeAddressResolver(config, dataDir, auth, hostName);
      let message = await readStdin();
      const ignoreDots = opts.i || (opts.o ?? []).includes('i');
      if (!ignoreDots) message = cutAtDot(message);
      const recipients = [...args];
      if (opts.t) {
        const { fields } = headerFields(message);
        for (const f of fields) if (['to', 'cc', 'bcc'].includes(f.name)) recipients.push(...addressesIn(f.value));
        const bcc = fields.filter((f) => f.name === 'bcc').reverse();
        for (const f of bcc) message = Buffer.concat([message.subarray(0, f.start), message.subarray(f.end)]);
      }
      if (!recipients.length) throw Object.assign(new Error('sendmail: no recipients given'), { exitCode: 64 });
      const login = userInfo().username;
      const sender = opts.f === '<>' || opts.f === '' ? '' : resolver.qualify(opts.f ?? login);
      const accepted: AcceptedTargets[] = [];
      for (const rcpt of recipients) {
        const address = resolver.qualify(rcpt);
        const resolution = await resolver.resolve(address);
        if (!resolution.ok) {
          process.stderr.write(`sendmail: ${resolution.status} ${resolution.text}\n`);
          process.exitCode = resolution.temporary ? 75 : 67;
          return;
        }
        accepted.push({ address, targets: resolution.targets });
      }
      const queueRcpts = queueRecipients(accepted);
      if (!queueRcpts.length) return; // every recipient was /dev/null
      const store = new QueueStore(dataDir);
      const result = await queueMessage(store, {
        sender,
        recipients: queueRcpts,
        client: { ip: '127.0.0.1', helo: 'localhost', user: login, protocol: 'local' },
        arrivalTime: Date.now(),
        hostName,
        content: Readable.from([message]),
        maxBytes: config.smtp.message_size_limit,
        localUser: login,
      });
      if (result.exceeded) {
        process.stderr.write('sendmail: message file too big\n');
        process.exitCode = 73;
        return;
      }
      await sendControl(controlSocketPath(dataDir), 'wakeup').catch(() => undefined);
    } finally {
      await auth.close();
    }
  });
}
