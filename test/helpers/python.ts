// Runs a Python 3 snippet (the stdlib clients: imaplib, poplib, smtplib) as a real client in tests;
// arguments arrive as sys.argv[1:], stdout is returned, a non-zero exit rejects with stderr.
import { execFile } from 'node:child_process';

export function runPython(code: string, args: (string | number)[] = [], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', code, ...args.map(String)], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Delivers a message over LMTP with Python's smtplib.LMTP; returns the per-recipient result as JSON. */
export async function lmtpDeliver(port: number, sender: string, recipients: string[], message: string | Buffer): Promise<Record<string, [number, string]>> {
  const code = `
import smtplib, sys, json, base64
port, sender, rcpts, msg = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), base64.b64decode(sys.argv[4])
c = smtplib.LMTP('127.0.0.1', port)
c.ehlo_or_helo_if_needed()
try:
    refused = c.sendmail(sender, rcpts, msg)
    out = {r: list(v) for r, v in refused.items()}
except smtplib.SMTPRecipientsRefused as e:
    out = {r: [v[0], v[1].decode()] for r, v in e.recipients.items()}
c.quit()
print(json.dumps({k: [v[0], v[1] if isinstance(v[1], str) else v[1].decode()] for k, v in out.items()}))
`;
  const out = await runPython(code, [port, sender, JSON.stringify(recipients), Buffer.from(message).toString('base64')]);
  return JSON.parse(out) as Record<string, [number, string]>;
}
