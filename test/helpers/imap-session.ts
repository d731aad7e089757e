// IMAP test sessions on a raw LineClient: a logged-in session whose cmd() returns a command's lines with the
// tagged line rewritten to start with "TAG", and a reply reader that joins literals into their line.
import assert from 'node:assert/strict';
import { LineClient } from './line-client.js';

export interface TaggedSession {
  c: LineClient;
  /** Sends one command; returns its untagged lines and the tagged line rewritten to start with "TAG". */
  cmd(text: string): Promise<string[]>;
  close(): void;
}

/** Connects, reads the greeting and logs in (asserting OK). Tags are `<prefix>1`, `<prefix>2`, ... */
export async function taggedSession(port: number, user: string, password: string, prefix = 't'): Promise<TaggedSession> {
  const c = await LineClient.connect({ port });
  await c.readLine();
  let n = 0;
  const cmd = async (text: string): Promise<string[]> => {
    const tag = `${prefix}${++n}`;
    c.send(`${tag} ${text}\r\n`);
    const lines = await c.readUntil((l) => l.startsWith(`${tag} `), 60_000);
    lines[lines.length - 1] = `TAG ${lines[lines.length - 1]!.slice(tag.length + 1)}`;
    return lines;
  };
  assert.match((await cmd(`LOGIN ${user} ${password}`)).at(-1)!, /^TAG OK/);
  return { c, cmd, close: () => c.close() };
}

/** Reads lines up to the completion of `tag`; a literal's bytes are joined into its line after a "\n". */
export async function readReply(c: LineClient, tag: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    let line = await c.readLine();
    if (line === null) throw new Error(`closed during ${tag}`);
    while (/\{(\d+)\}$/.test(line)) {
      const n = Number(/\{(\d+)\}$/.exec(line)![1]);
      line += '\n' + (await c.readBytes(n)).toString('latin1') + ((await c.readLine()) ?? '');
    }
    out.push(line);
    if (line.startsWith(`${tag} `)) return out;
  }
}
