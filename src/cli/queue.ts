// `roost queue list|show|flush|hold|release|delete|advance-clock`: Postfix's mailq, postcat, postqueue -f and
// postsuper on Roost's queue directory (<data>/queue); a running daemon is woken through run/qmgr.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { loadContext, withCommonOptions, type CommonOptions } from './context.js';
import { QueueStore, QUEUE_STATES, type QueueState } from '../mta/queue-store.js';
import { HEADER_LENGTH } from '../mta/queue-file.js';
import { controlSocketPath } from '../mta/service.js';
import { sendControl } from '../mta/control.js';

const LISTED: QueueState[] = ['incoming', 'active', 'deferred', 'hold', 'corrupt'];
/** mailq's status characters: * active, ! hold, # corrupt. */
const MARK: Record<QueueState, string> = { incoming: ' ', active: '*', deferred: ' ', hold: '!', corrupt: '#' };

function targets(store: QueueStore, arg: string, from: QueueState[]): { id: string; state: QueueState }[] {
  if (arg === 'ALL') return from.flatMap((state) => store.list(state).map((id) => ({ id, state })));
  const state = store.find(arg);
  if (!state || !from.includes(state)) throw new Error(`${arg}: no such message in ${from.join('/')}`);
  return [{ id: arg, state }];
}

async function wake(dataDir: string): Promise<void> {
  await sendControl(controlSocketPath(dataDir), 'wakeup').catch(() => undefined);
}

export function registerQueueCommands(program: Command): void {
  const queue = program.command('queue').description('Inspect and manage the mail queue (mailq, postcat, postqueue, postsuper)');

  withCommonOptions(queue.command('list').alias('mailq').description('List queued messages (as mailq)').option('--json', 'one JSON object per message')).action(
    (opts: CommonOptions & { json?: boolean }) => {
      const { dataDir } = loadContext(opts);
      const store = new QueueStore(dataDir);
      let count = 0;
      if (!opts.json) process.stdout.write('-Queue ID-          --Size-- ----Arrival Time---- -Sender/Recipient-------\n');
      for (const state of LISTED) {
        for (const id of store.list(state)) {
          let info;
          try {
            info = store.read(state, id);
          } catch {
            process.stdout.write(opts.json ? JSON.stringify({ id, state, corrupt: true }) + '\n' : `${id}# (unreadable)\n`);
            continue;
          }
          count++;
          const pending = info.envelope.recipients.map((r, i) => ({ ...r, i })).filter((r) => !info.finished.has(r.i));
          if (opts.json) {
            process.stdout.write(JSON.stringify({ id, state, size: info.contentLength, arrival: info.envelope.arrivalTime, sender: info.envelope.sender, recipients: pending.map((r) => r.address), reason: info.lastDefer?.text, nextAttempt: info.nextAttempt }) + '\n');
            continue;
          }
          const when = new Date(info.envelope.arrivalTime).toUTCString().slice(0, 25);
          process.stdout.write(`${(id + MARK[state]).padEnd(20)}${String(info.contentLength).padStart(8)} ${when} ${info.envelope.sender || 'MAILER-DAEMON'}\n`);
          if (state === 'deferred' && info.lastDefer) process.stdout.write(`(${info.lastDefer.text})\n`);
          for (const r of pending) process.stdout.write(`${' '.repeat(41)}${r.address}\n`);
          process.stdout.write('\n');
        }
      }
      if (!opts.json) process.stdout.write(count ? `-- ${count} Request${count === 1 ? '' : 's'}.\n` : 'Mail queue is empty\n');
    },
  );

  withCommonOptions(queue.command('show <id>').alias('cat').description('Show a queued message: envelope, status records and content (as postcat)')).action((id: string, opts: CommonOptions) => {
    const { dataDir } = loadContext(opts);
    const store = new QueueStore(dataDir);
    const state = store.find(id);
    if (!state) throw new Error(`${id}: no such message`);
    const info = store.read(state, id);
    const env = info.envelope;
    const out = [
      `*** ENVELOPE RECORDS ${state}/${id} ***`,
      `queue_id: ${env.id}`,
      `arrival_time: ${new Date(env.arrivalTime).toISOString()}`,
      `sender: ${env.sender}`,
      `client: ${env.client.helo} [${env.client.ip}] ${env.client.protocol}${env.client.user ? ` sasl_username=${env.client.user}` : ''}`,
      ...env.recipients.map((r, i) => `recipient: ${r.address}${r.original ? ` (orig ${r.original})` : ''} [${r.route}]${info.finished.has(i) ? ' done' : ''}`),
      ...info.records.map((r) => `record: ${JSON.stringify(r)}`),
      `*** MESSAGE CONTENTS ${state}/${id} ***`,
    ];
    process.stdout.write(out.join('\n') + '\n');
    const content = readFileSync(store.path(state, id)).subarray(HEADER_LENGTH, HEADER_LENGTH + info.contentLength);
    process.stdout.write(content);
    process.stdout.write(`\n*** END OF MESSAGE ${state}/${id} ***\n`);
  });

  withCommonOptions(queue.command('flush').description('Try every deferred message now (as postqueue -f); waits for the attempts')).action(async (opts: CommonOptions) => {
    const { dataDir } = loadContext(opts);
    const answer = await sendControl(controlSocketPath(dataDir), 'flush');
    if (answer === undefined) throw new Error('the roost daemon is not running (no run/qmgr socket)');
    if (answer !== 'ok') throw new Error(answer);
    process.stdout.write('flushed\n');
  });

  withCommonOptions(queue.command('advance-clock <duration>').description('Move the queue clock forward (tests only; needs [smtp] test_clock = true), e.g. 301s, 5m')).action(async (duration: string, opts: CommonOptions) => {
    const { dataDir } = loadContext(opts);
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(duration);
    if (!m) throw new Error(`not a duration: ${duration}`);
    const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
    const answer = await sendControl(controlSocketPath(dataDir), `advance-clock ${ms}`);
    if (answer === undefined) throw new Error('the roost daemon is not running (no run/qmgr socket)');
    if (answer !== 'ok') throw new Error(answer);
    process.stdout.write('advanced\n');
  });

  const moveCommand = (name: string, description: string, from: QueueState[], to: QueueState | 'delete') =>
    withCommonOptions(queue.command(`${name} <id>`).description(description)).action(async (arg: string, opts: CommonOptions) => {
      const { dataDir } = loadContext(opts);
      const store = new QueueStore(dataDir);
      let n = 0;
      for (const t of targets(store, arg, from)) {
        if (to === 'delete' ? store.remove(t.state, t.id) : store.move(t.id, t.state, to)) n++;
      }
      await wake(dataDir);
      const verb = to === 'delete' ? 'Deleted' : to === 'hold' ? 'Placed on hold' : 'Released from hold';
      process.stdout.write(`postsuper: ${verb}: ${n} message${n === 1 ? '' : 's'}\n`);
    });

  moveCommand('hold', 'Put a message (or ALL) on hold (as postsuper -h)', ['incoming', 'active', 'deferred'], 'hold');
  // Released mail goes to deferred with its schedule, as postsuper -H; flush tries it at once.
  moveCommand('release', 'Release a held message (or ALL) (as postsuper -H)', ['hold'], 'deferred');
  moveCommand('delete', 'Delete a message (or ALL) (as postsuper -d)', [...QUEUE_STATES], 'delete');
}
