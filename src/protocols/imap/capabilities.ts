// The CAPABILITY list (RFC 9051 section 6.1.1): fixed extensions Roost always has, plus what each
// command in the table adds, plus STARTTLS / LOGINDISABLED / AUTH= that depend on the connection.
import type { ImapSessionApi } from './types.js';
import { imapCommands } from './registry.js';

/** Extensions not tied to one command (parser and response features). */
const BASE = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ENABLE', 'ID'];

export function capabilityList(s: ImapSessionApi): string[] {
  const caps = [...BASE];
  for (const command of imapCommands.values()) {
    if (command.capabilities) for (const c of command.capabilities(s)) if (!caps.includes(c)) caps.push(c);
  }
  return caps;
}

/** Whether `capability` is in capabilityList(s), answered without building the list (SELECT, STATUS ask per command). */
export function isAdvertised(s: ImapSessionApi, capability: string): boolean {
  if (BASE.includes(capability)) return true;
  for (const command of imapCommands.values()) if (command.capabilities?.(s).includes(capability)) return true;
  return false;
}
