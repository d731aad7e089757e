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

/**
 * Capabilities that every session has: BASE and those of commands whose capabilities() takes no session (a command
 * whose list depends on the session or the connection reads it from its argument). Gathered at the first use.
 */
let everySession: Set<string> | undefined;
let perSession: ((s: ImapSessionApi) => readonly string[])[] = [];

/** Whether `capability` is in capabilityList(s), answered without building the list (SELECT, STATUS ask per command). */
export function isAdvertised(s: ImapSessionApi, capability: string): boolean {
  if (!everySession) {
    everySession = new Set(BASE);
    perSession = [];
    for (const command of imapCommands.values()) {
      const fn = command.capabilities;
      if (!fn) continue;
      if (fn.length === 0) for (const c of fn(s)) everySession.add(c);
      else perSession.push(fn);
    }
  }
  if (everySession.has(capability)) return true;
  return perSession.some((fn) => fn(s).includes(capability));
}
