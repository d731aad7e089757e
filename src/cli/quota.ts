// `roost quota get|recalc USER`: a user's quota usage and limits (Maildir++ maildirsize), and recalculation from
// the store, in the table `doveadm quota get` and `doveadm quota recalc` print (STORAGE in kilobytes).
import type { Command } from 'commander';
import type { QuotaUsage } from '../storage/api.js';
import { withCommonOptions, type CommonOptions } from './context.js';
import { withUserStorage } from './storage-user.js';

interface QuotaRow {
  type: 'STORAGE' | 'MESSAGE';
  value: number;
  /** 0 = unlimited. */
  limit: number;
}

function rowsOf(usage: QuotaUsage): QuotaRow[] {
  return [
    { type: 'STORAGE', value: Math.floor(usage.bytes / 1024), limit: Math.floor((usage.limits?.storage ?? 0) / 1024) },
    { type: 'MESSAGE', value: usage.messages, limit: usage.limits?.messages ?? 0 },
  ];
}

/** doveadm's layout: "Quota name Type Value Limit %", "-" for an unlimited limit. */
function printQuota(usage: QuotaUsage): void {
  const table = [['Quota name', 'Type', 'Value', 'Limit', '%']];
  for (const row of rowsOf(usage)) {
    const percent = row.limit > 0 ? Math.floor((row.value * 100) / row.limit) : 0;
    table.push(['User quota', row.type, String(row.value), row.limit > 0 ? String(row.limit) : '-', String(percent)]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const row of table) {
    const cells = row.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)));
    process.stdout.write(cells.join(' ').trimEnd() + '\n');
  }
}

export function registerQuotaCommands(program: Command): void {
  const quota = program.command('quota').description("Show or recalculate a user's quota (like doveadm quota)");

  withCommonOptions(quota.command('get <user>').description('Show quota usage and limits')).action(async (user: string, opts: CommonOptions) => {
    await withUserStorage(user, opts, async (storage) => {
      const usage = await storage.quota();
      if (!usage) process.stdout.write(`${user} has no quota\n`);
      else printQuota(usage);
    });
  });

  withCommonOptions(quota.command('recalc <user>').description('Recount usage from the store (rewrites maildirsize) and show it')).action(
    async (user: string, opts: CommonOptions) => {
      await withUserStorage(user, opts, async (storage) => {
        const usage = await storage.recalculateQuota();
        if (!usage) process.stdout.write(`${user} has no quota\n`);
        else printQuota(usage);
      });
    },
  );
}
