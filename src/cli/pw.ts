// `roost pw`: makes a password hash as `doveadm pw` does ({SCHEME}hash for every scheme Roost knows),
// or checks one with -t; the password comes from -p, else stdin (prompted without echo on a terminal).
import type { Command } from 'commander';
import { hashPassword, SCHEME_NAMES, verifyPassword } from '../auth/schemes/index.js';
import { loadContext, withCommonOptions, type CommonOptions } from './context.js';

/** Where a command's output goes (the process's stdout/stderr, or a buffer in tests). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** Reads one password: from a terminal without echo (asking twice when `confirm`), else the first stdin line. */
export async function readPassword(prompt = 'Enter new password: ', confirm = false): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    stdin.setEncoding('utf8');
    for await (const chunk of stdin) {
      text += chunk as string;
      if (text.includes('\n')) break;
    }
    return text.split('\n')[0].replace(/\r$/, '');
  }
  const ask = (question: string) =>
    new Promise<string>((resolve, reject) => {
      process.stderr.write(question);
      stdin.setRawMode(true);
      stdin.setEncoding('utf8');
      stdin.resume();
      let value = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            done();
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            done();
            reject(new Error('interrupted'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      const done = () => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
      };
      stdin.on('data', onData);
    });
  const first = await ask(prompt);
  if (confirm && (await ask('Retype new password: ')) !== first) throw new Error('passwords do not match');
  return first;
}

interface PwOptions extends CommonOptions {
  scheme?: string;
  password?: string;
  rounds?: string;
  test?: string;
  list?: boolean;
}

export function registerPwCommand(program: Command, io: CliIo = processIo): void {
  withCommonOptions(
    program
      .command('pw')
      .description('Make a password hash for the passwd-file (like doveadm pw), or check one with -t')
      .option('-s, --scheme <scheme>', `password scheme, optionally with .B64/.HEX (default: auth.default_pass_scheme); one of ${SCHEME_NAMES.join(', ')}`)
      .option('-p, --password <password>', 'the password (default: read from stdin)')
      .option('-r, --rounds <n>', 'cost or rounds (bcrypt cost, crypt rounds, PBKDF2/SCRAM iterations, argon2 passes)')
      .option('-t, --test <hash>', 'check the password against this hash instead of making one')
      .option('-l, --list', 'list the known schemes'),
  ).action(async (opts: PwOptions) => {
    if (opts.list) {
      io.out(SCHEME_NAMES.join(' ') + '\n');
      return;
    }
    const { config } = loadContext(opts);
    const password = opts.password ?? (await readPassword('Enter password: ', !opts.test));
    if (opts.test) {
      const ok = await verifyPassword(opts.test, password, { defaultScheme: config.auth.default_pass_scheme });
      io.out(ok ? `${opts.test} (verified)\n` : 'Fatal: reverse password verification check failed: Password mismatch\n');
      process.exitCode = ok ? 0 : 1;
      return;
    }
    const rounds = opts.rounds === undefined ? undefined : Number(opts.rounds);
    if (rounds !== undefined && (!Number.isInteger(rounds) || rounds < 1)) throw new Error('--rounds must be a positive integer');
    const hash = await hashPassword(opts.scheme ?? config.auth.default_pass_scheme, password, { rounds, blfCryptCost: config.auth.blf_crypt_cost });
    io.out(hash + '\n');
  });
}
