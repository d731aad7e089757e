// Runs one delivery command as Postfix's pipe_command(): /bin/sh -c in its own process group with a fixed
// environment, the message on stdin, stdout and stderr captured (bounded), killed at the time limit (local(8)).
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { CommandEnd } from './sys-exits.js';

/**
 * Writes the input into a child's stdin with backpressure and ends it; resolves with the error when the input could
 * not be read, leaving stdin open (the child must then be stopped: it got a cut-off message). A child that stops
 * reading is not an error.
 */
export async function feed(stdin: Writable, input: AsyncIterable<Buffer>): Promise<Error | undefined> {
  stdin.on('error', () => undefined); // EPIPE: Postfix ignores a command that exits without reading everything
  try {
    for await (const chunk of input) {
      if (stdin.destroyed) break;
      if (!stdin.write(chunk)) await new Promise<void>((r) => (stdin.once('drain', r), stdin.once('close', r)));
    }
  } catch (err) {
    return err as Error; // stdin stays open: the caller stops the child before it could see an end of input
  }
  stdin.end();
  return undefined;
}

/** How much command output is kept for the log and the DSN (Postfix keeps a line's worth). */
export const OUTPUT_LIMIT = 2048;

export interface RunCommandOptions {
  command: string;
  env: Record<string, string>;
  /** Run as this user (only when Roost runs as root). */
  ids?: { uid: number; gid: number };
  cwd: string;
  timeLimitMs: number;
  input: AsyncIterable<Buffer>;
}

/** Runs the command to its end; never rejects for what the command does (a spawn failure ends as exit 71, EX_OSERR). */
export function runCommand(o: RunCommandOptions): Promise<CommandEnd> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', o.command], { env: o.env, cwd: o.cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'], ...(o.ids ?? {}) });
    let output = Buffer.alloc(0);
    const keep = (chunk: Buffer) => {
      if (output.length < OUTPUT_LIMIT) output = Buffer.concat([output, chunk.subarray(0, OUTPUT_LIMIT - output.length)]);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    let inputError: string | undefined;
    // The whole process group, as Postfix kills what the shell started too.
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, o.timeLimitMs);
    let settled = false;
    const finish = (end: CommandEnd) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(end);
    };
    // A command that could not be started at all (no pid) ends here; any other error still ends in 'close'.
    child.on('error', (err) => {
      if (child.pid === undefined) finish({ command: o.command, code: 71, signal: null, timedOut: false, output: `cannot run command: ${err.message}` });
    });
    void feed(child.stdin, o.input).then((err) => {
      if (!err) return;
      // The command must not take a cut-off message for the whole one.
      inputError = `cannot read the queued message: ${err.message}`;
      killGroup();
      child.stdin.destroy();
    });
    child.on('close', (code, signal) => finish({ command: o.command, code, signal, timedOut, output: output.toString('utf8'), inputError }));
  });
}
