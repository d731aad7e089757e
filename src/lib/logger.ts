// Structured logging for every part of Roost (pino): one JSON line per event, or a
// human-readable line with --log-format pretty. Secrets (passwords, AUTH payloads) are never logged.
import { pino, type Logger, type DestinationStream } from 'pino';
import { Writable } from 'node:stream';

export type { Logger };
export type LogFormat = 'json' | 'pretty';

/** Keys whose values are always replaced before a line is written. */
const REDACTED_KEYS = ['password', 'pass', 'resp', 'response', 'secret', 'credentials', '*.password', '*.resp'];

function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const { time, level, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const lvl = pino.levels.labels[level as number] ?? String(level);
          const extra = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          out.write(`${new Date(time as number).toISOString()} ${lvl.toUpperCase().padEnd(5)} ${msg ?? ''}${extra ? ' ' + extra : ''}\n`);
        } catch {
          out.write(line + '\n');
        }
      }
      cb();
    },
  });
}

let root: Logger = pino({ level: process.env.ROOST_LOG_LEVEL ?? 'info', redact: { paths: REDACTED_KEYS, censor: '[redacted]' } });

/** Replaces the process-wide root logger (called once at start-up by the CLI). */
export function configureLogger(opts: { level?: string; format?: LogFormat; destination?: NodeJS.WritableStream }): Logger {
  const dest = opts.destination ?? process.stdout;
  const stream = opts.format === 'pretty' ? prettyStream(dest) : (dest as unknown as DestinationStream);
  root = pino({ level: opts.level ?? 'info', base: { pid: process.pid }, redact: { paths: REDACTED_KEYS, censor: '[redacted]' } }, stream);
  return root;
}

/** The root logger, or a child carrying fixed fields (component, session id, ...). */
export function getLogger(bindings?: Record<string, unknown>): Logger {
  return bindings ? root.child(bindings) : root;
}
