// Relay and acceptance policy as an ordered chain of checks with explicit verdicts, in Postfix's terms
// (smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination;
// smtpd_recipient_limit; reject_sender_login_mismatch; HELO and sender sanity; anvil-style rate limits).
import type { SmtpClient, Verdict, MailParams, RcptParams } from '../protocols/smtp/edge.js';
import type { NetworkList } from '../lib/networks.js';
import type { Clock } from './clock.js';
import { splitAddress, type AddressResolver, type ResolvedTarget } from './addresses.js';

export type Check<A> = (args: A) => Promise<Verdict> | Verdict;

const CONTINUE: Verdict = { action: 'continue' };
const reject = (code: number, status: string, text: string): Verdict => ({ action: code >= 500 ? 'reject' : 'defer', code, status, text });

/** Runs checks in order until one answers something other than continue. */
export async function runChain<A>(checks: Check<A>[], args: A): Promise<Verdict> {
  for (const check of checks) {
    const v = await check(args);
    if (v.action !== 'continue') return v;
  }
  return CONTINUE;
}

/** Counts events per key in a sliding minute (Postfix's anvil). */
export class RateCounter {
  private readonly events = new Map<string, number[]>();
  constructor(private readonly clock: Clock) {}
  hit(key: string): number {
    const now = this.clock.now();
    const list = (this.events.get(key) ?? []).filter((t) => now - t < 60_000);
    list.push(now);
    this.events.set(key, list);
    if (this.events.size > 10_000) for (const [k, v] of this.events) if (!v.some((t) => now - t < 60_000)) this.events.delete(k);
    return list.length;
  }
}

export interface PolicyOptions {
  hostName: string;
  mynetworks: NetworkList;
  resolver: AddressResolver;
  recipientLimit: number;
  senderLoginMatch: boolean;
  connectionRateLimit: number;
  messageRateLimit: number;
  clock: Clock;
}

interface MailArgs {
  client: SmtpClient;
  sender: string;
  params: MailParams;
}

interface RcptArgs {
  client: SmtpClient;
  sender: string;
  recipient: string;
  params: RcptParams;
  count: number;
}

export class RelayPolicy {
  private readonly connections: RateCounter;
  private readonly messages: RateCounter;
  private readonly mailChecks: Check<MailArgs>[];
  private readonly relayChecks: Check<RcptArgs>[];

  constructor(private readonly o: PolicyOptions) {
    this.connections = new RateCounter(o.clock);
    this.messages = new RateCounter(o.clock);
    this.mailChecks = [this.heloSanity, this.senderSyntax, this.senderLoginMatch, this.messageRate];
    this.relayChecks = [this.recipientLimit, this.recipientSyntax, this.permitMynetworks, this.permitSaslAuthenticated, this.rejectUnauthDestination];
  }

  private trusted(client: SmtpClient): boolean {
    return this.o.mynetworks.contains(client.ip);
  }

  connect(client: SmtpClient): Verdict {
    if (this.o.connectionRateLimit > 0 && !this.trusted(client) && this.connections.hit(client.ip) > this.o.connectionRateLimit)
      return reject(421, '4.7.0', `${this.o.hostName} Error: too many connections from ${client.ip}`);
    return CONTINUE;
  }

  mailFrom(client: SmtpClient, sender: string, params: MailParams): Promise<Verdict> {
    return runChain(this.mailChecks, { client, sender, params });
  }

  /** Relay decision, then recipient validation (550 5.1.1 for unknown local users); on accept, the expanded targets. */
  async rcptTo(client: SmtpClient, sender: string, recipient: string, params: RcptParams, count: number): Promise<Verdict & { data?: ResolvedTarget[] }> {
    const verdict = await runChain(this.relayChecks, { client, sender, recipient, params, count });
    if (verdict.action === 'reject' || verdict.action === 'defer') return verdict;
    const resolution = await this.o.resolver.resolve(recipient);
    if (!resolution.ok) return reject(resolution.temporary ? 451 : 550, resolution.status, resolution.text);
    return { action: 'accept', data: resolution.targets };
  }

  // ------------------------------------------------------------------ MAIL FROM checks

  /** reject_unknown_helo-style sanity: an outside client that claims to be this host. */
  private readonly heloSanity: Check<MailArgs> = ({ client }) => {
    if (client.user || this.trusted(client)) return CONTINUE;
    const helo = client.helo.toLowerCase().replace(/^\[|\]$/g, '');
    if (helo === this.o.hostName.toLowerCase() || helo === 'localhost') return reject(554, '5.7.1', `<${client.helo}>: Helo command rejected: You are not me`);
    return CONTINUE;
  };

  /** reject_non_fqdn_sender: a sender needs a domain with a dot (or a local one). */
  private readonly senderSyntax: Check<MailArgs> = async ({ sender }) => {
    if (!sender) return CONTINUE;
    const { local, domain } = splitAddress(sender);
    if (!local || !domain) return reject(553, '5.1.7', `<${sender}>: Sender address rejected: need fully-qualified address`);
    if (!domain.includes('.') && !domain.startsWith('[') && !(await this.o.resolver.isLocalDomain(domain)))
      return reject(504, '5.5.2', `<${sender}>: Sender address rejected: need fully-qualified address`);
    return CONTINUE;
  };

  /** reject_sender_login_mismatch: an authenticated user sends only as an address that delivers to them. */
  private readonly senderLoginMatch: Check<MailArgs> = async ({ client, sender }) => {
    if (!client.user || !this.o.senderLoginMatch || !sender) return CONTINUE;
    const resolution = await this.o.resolver.resolve(sender);
    const owns = resolution.ok && resolution.targets.some((t) => t.kind === 'local' && t.user.toLowerCase() === client.user!.toLowerCase());
    if (!owns) return reject(553, '5.7.1', `<${sender}>: Sender address rejected: not owned by user ${client.user}`);
    return CONTINUE;
  };

  private readonly messageRate: Check<MailArgs> = ({ client }) => {
    if (this.o.messageRateLimit > 0 && !this.trusted(client) && !client.user && this.messages.hit(client.ip) > this.o.messageRateLimit)
      return reject(450, '4.7.1', `Error: too many messages from ${client.ip}`);
    return CONTINUE;
  };

  // ------------------------------------------------------------------ RCPT TO checks

  private readonly recipientLimit: Check<RcptArgs> = ({ count }) => (count >= this.o.recipientLimit ? reject(452, '4.5.3', 'Error: too many recipients') : CONTINUE);

  private readonly recipientSyntax: Check<RcptArgs> = ({ recipient }) => {
    const { local, domain } = splitAddress(recipient);
    if (!local || !domain) return reject(501, '5.1.3', `<${recipient}>: Recipient address rejected: need fully-qualified address`);
    return CONTINUE;
  };

  /** Local (or virtual-alias) destinations never need relay permission. */
  private async isOurDestination(recipient: string): Promise<boolean> {
    const { domain } = splitAddress(recipient);
    if (await this.o.resolver.isLocalDomain(domain)) return true;
    return this.o.resolver.hasVirtualEntry(recipient);
  }

  private readonly permitMynetworks: Check<RcptArgs> = ({ client }) => (this.trusted(client) ? { action: 'accept' } : CONTINUE);

  private readonly permitSaslAuthenticated: Check<RcptArgs> = ({ client }) => (client.user ? { action: 'accept' } : CONTINUE);

  private readonly rejectUnauthDestination: Check<RcptArgs> = async ({ recipient }) =>
    (await this.isOurDestination(recipient)) ? CONTINUE : reject(554, '5.7.1', `<${recipient}>: Relay access denied`);
}
