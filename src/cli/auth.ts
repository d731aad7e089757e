// `roost auth test USER [PASSWORD]` and `roost auth lookup USER`: the auth service's passdb and userdb
// answers from the command line, as `doveadm auth test` and `doveadm user` give them.
import type { Command } from 'commander';
import { AuthService, type UserRecord } from '../auth/service.js';
import { loadContext, withCommonOptions, type CommonOptions } from './context.js';
import { processIo, readPassword, type CliIo } from './pw.js';

function printUser(io: CliIo, record: UserRecord): void {
  const fields: [string, string | number | undefined][] = [
    ['uid', record.uid],
    ['gid', record.gid],
    ['home', record.home],
    ['mail', record.mail],
    ['quota_rule', record.quotaRule],
    ...Object.entries(record.extra),
  ];
  for (const [k, v] of fields) if (v !== undefined) io.out(`  ${k.padEnd(12)}: ${v}\n`);
}

interface TestOptions extends CommonOptions {
  service: string;
  rip: string;
}

export function registerAuthCommands(program: Command, io: CliIo = processIo): void {
  const auth = program.command('auth').description('Test authentication and user lookups');

  withCommonOptions(
    auth
      .command('test <user> [password]')
      .description('Authenticate USER with PASSWORD (read from stdin when not given), as a login would')
      .option('--service <name>', 'service name the request claims', 'roost')
      .option('--rip <ip>', 'remote IP the request claims', '127.0.0.1'),
  ).action(async (user: string, password: string | undefined, opts: TestOptions) => {
    const { dataDir, config } = loadContext(opts);
    const pw = password ?? (await readPassword('Password: '));
    const service = await AuthService.create(config, dataDir);
    try {
      const step = await service.verifyPlain(user, pw, { service: opts.service, remoteIp: opts.rip, secured: true, noPenalty: true });
      if (step.kind === 'success') {
        io.out(`passdb: ${user} auth succeeded\nextra fields:\n  user        : ${step.user.user}\n`);
        if (step.masterUser) io.out(`  auth_user   : ${step.masterUser}\n`);
        printUser(io, step.user);
      } else {
        io.out(`passdb: ${user} auth ${step.kind === 'failure' && step.temporary ? 'failed temporarily' : 'failed'}\n`);
        if (step.kind === 'failure') io.out(`reason: ${step.reason}\n`);
        process.exitCode = step.kind === 'failure' && step.temporary ? 75 : 1;
      }
    } finally {
      await service.close();
    }
  });

  withCommonOptions(auth.command('lookup <user>').description('Show the userdb fields of USER (like doveadm user)')).action(async (user: string, opts: CommonOptions) => {
    const { dataDir, config } = loadContext(opts);
    const service = await AuthService.create(config, dataDir);
    try {
      const record = await service.lookupUser(user);
      if (!record) {
        io.out(`userdb lookup: user ${user} doesn't exist\n`);
        process.exitCode = 2;
        return;
      }
      io.out(`field       value\nuser        ${record.user}\n`);
      printUser(io, record);
    } finally {
      await service.close();
    }
  });
}
