// `roost user add|del|list|passwd`: manages the passwd-file in the data directory (Dovecot format),
// rewriting it atomically and keeping comments; a running server picks changes up without restart.
import type { Command } from 'commander';
import { isAbsolute, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { addPasswdUser, deletePasswdUser, PasswdFile, setPasswdPassword } from '../auth/passwd-file.js';
import { hashPassword } from '../auth/schemes/index.js';
import type { Config } from '../config/schema.js';
import { loadContext, withCommonOptions, type CommonOptions } from './context.js';
import { processIo, readPassword, type CliIo } from './pw.js';

function passwdPath(dataDir: string, config: Config): string {
  return isAbsolute(config.auth.passwd_file) ? config.auth.passwd_file : join(dataDir, config.auth.passwd_file);
}

interface PasswordOptions extends CommonOptions {
  password?: string;
  scheme?: string;
}

interface AddOptions extends PasswordOptions {
  home?: string;
  mail?: string;
  quota?: string;
}

async function hashFor(config: Config, opts: PasswordOptions): Promise<string> {
  const password = opts.password ?? (await readPassword('Enter new password: ', true));
  if (!password) throw new Error('empty password');
  return hashPassword(opts.scheme ?? config.auth.default_pass_scheme, password, { blfCryptCost: config.auth.blf_crypt_cost });
}

export function registerUserCommands(program: Command, io: CliIo = processIo): void {
  const user = program.command('user').description('Manage users in the passwd-file');

  withCommonOptions(
    user
      .command('add <name>')
      .description('Add a user (name or name@domain); the password is read from stdin unless --password is given')
      .option('--password <password>', 'the password')
      .option('-s, --scheme <scheme>', 'password scheme (default: auth.default_pass_scheme)')
      .option('--home <dir>', 'home directory')
      .option('--mail <location>', 'mail location for this user (userdb_mail)')
      .option('--quota <rule>', 'quota rule (userdb_quota_rule), e.g. "*:storage=1G"'),
  ).action(async (name: string, opts: AddOptions) => {
    const { dataDir, config } = loadContext(opts);
    const path = passwdPath(dataDir, config);
    const extra: Record<string, string> = {};
    if (opts.mail) extra.userdb_mail = opts.mail;
    if (opts.quota) extra.userdb_quota_rule = opts.quota;
    if (Object.values(extra).some((v) => /\s/.test(v))) throw new Error('--mail and --quota must not contain white space');
    const hash = await hashFor(config, opts);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await addPasswdUser(path, { user: name, password: hash, home: opts.home ?? '', extra });
    io.out(`added ${name}\n`);
  });

  withCommonOptions(user.command('del <name>').alias('delete').description('Delete a user')).action(async (name: string, opts: CommonOptions) => {
    const { dataDir, config } = loadContext(opts);
    if (!(await deletePasswdUser(passwdPath(dataDir, config), name))) {
      io.err(`no such user: ${name}\n`);
      process.exitCode = 1;
      return;
    }
    io.out(`deleted ${name}\n`);
  });

  withCommonOptions(user.command('list').description('List users')).action(async (opts: CommonOptions) => {
    const { dataDir, config } = loadContext(opts);
    for (const e of await new PasswdFile(passwdPath(dataDir, config)).entries()) io.out(e.user + '\n');
  });

  withCommonOptions(
    user
      .command('passwd <name>')
      .description("Change a user's password; read from stdin unless --password is given")
      .option('--password <password>', 'the new password')
      .option('-s, --scheme <scheme>', 'password scheme (default: auth.default_pass_scheme)'),
  ).action(async (name: string, opts: PasswordOptions) => {
    const { dataDir, config } = loadContext(opts);
    const path = passwdPath(dataDir, config);
    if (!(await new PasswdFile(path).find(name))) {
      io.err(`no such user: ${name}\n`);
      process.exitCode = 1;
      return;
    }
    if (!(await setPasswdPassword(path, name, await hashFor(config, opts)))) {
      io.err(`no such user: ${name}\n`);
      process.exitCode = 1;
      return;
    }
    io.out(`password changed for ${name}\n`);
  });
}
