// `roost mailbox list|status|create|delete USER [MAILBOX]`: a user's mailboxes from the command line through the
// storage API, as `doveadm mailbox list|status|create|delete -u USER` gives them.
import type { Command } from 'commander';
import type { MailboxStatus } from '../storage/api.js';
import { withCommonOptions, type CommonOptions } from './context.js';
import { withUserStorage } from './storage-user.js';

/** STATUS fields in doveadm's names and order; vsize is RFC822.SIZE summed. */
const STATUS_FIELDS: Array<[string, (s: MailboxStatus) => number]> = [
  ['messages', (s) => s.messages],
  ['recent', (s) => s.recent],
  ['uidnext', (s) => s.uidNext],
  ['uidvalidity', (s) => s.uidValidity],
  ['unseen', (s) => s.unseen],
  ['highestmodseq', (s) => s.highestModseq],
  ['vsize', (s) => s.size],
  ['deleted', (s) => s.deleted],
];

interface ListOptions extends CommonOptions {
  subscribed?: boolean;
}

interface StatusOptions extends CommonOptions {
  field?: string[];
}

interface CreateOptions extends CommonOptions {
  subscribe?: boolean;
  specialUse?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(/[ ,]+/).filter(Boolean)];
}

export function registerMailboxCommands(program: Command): void {
  const mailbox = program.command('mailbox').description("Manage a user's mailboxes (like doveadm mailbox)");

  withCommonOptions(
    mailbox
      .command('list <user>')
      .description("List the user's mailboxes, one per line")
      .option('-s, --subscribed', 'list subscriptions instead (also of mailboxes that do not exist)'),
  ).action(async (user: string, opts: ListOptions) => {
    await withUserStorage(user, opts, async (storage) => {
      const names = opts.subscribed ? await storage.listSubscriptions() : (await storage.listMailboxes()).map((m) => m.name);
      for (const name of names) process.stdout.write(name + '\n');
    });
  });

  withCommonOptions(
    mailbox
      .command('status <user> [mailbox]')
      .description('Show STATUS counters of MAILBOX (default: every selectable mailbox), "NAME field=value ..." per line')
      .option('-f, --field <names>', `fields to show (repeatable or comma separated): ${STATUS_FIELDS.map(([n]) => n).join(', ')}`, collect),
  ).action(async (user: string, name: string | undefined, opts: StatusOptions) => {
    await withUserStorage(user, opts, async (storage) => {
      const known = new Set(STATUS_FIELDS.map(([n]) => n));
      const unknown = (opts.field ?? []).filter((f) => !known.has(f));
      if (unknown.length) throw new Error(`unknown status field: ${unknown.join(', ')}`);
      const fields = opts.field?.length ? STATUS_FIELDS.filter(([n]) => opts.field!.includes(n)) : STATUS_FIELDS;
      const names = name ? [name] : (await storage.listMailboxes()).filter((m) => !m.noSelect).map((m) => m.name);
      for (const n of names) {
        const status = await storage.status(n);
        process.stdout.write(`${n} ${fields.map(([f, get]) => `${f}=${get(status)}`).join(' ')}\n`);
      }
    });
  });

  withCommonOptions(
    mailbox
      .command('create <user> <mailbox>')
      .description('Create a mailbox')
      .option('-s, --subscribe', 'subscribe to it as well')
      .option('--special-use <flag>', 'special-use attribute, e.g. \\Archive'),
  ).action(async (user: string, name: string, opts: CreateOptions) => {
    await withUserStorage(user, opts, async (storage) => {
      await storage.createMailbox(name, { specialUse: opts.specialUse });
      if (opts.subscribe) await storage.subscribe(name);
    });
  });

  withCommonOptions(
    mailbox
      .command('delete <user> <mailbox>')
      .description('Delete a mailbox with its messages (its children stay)')
      .option('-u, --unsubscribe', 'unsubscribe from it as well'),
  ).action(async (user: string, name: string, opts: CommonOptions & { unsubscribe?: boolean }) => {
    await withUserStorage(user, opts, async (storage) => {
      await storage.deleteMailbox(name);
      if (opts.unsubscribe && (await storage.listSubscriptions()).includes(name)) await storage.unsubscribe(name);
    });
  });
}
