// How the end of a delivery command becomes a recipient outcome, as Postfix's pipe_command() and sys_exits.c:
// <sysexits.h> codes with their RFC 3463 status, a leading enhanced status code in the output wins (local(8)).

export interface SysExit {
  dsn: string;
  text: string;
}

/** <sysexits.h> EX_USAGE (64) .. EX_CONFIG (78) as Postfix's sys_exits table; a 4.x.x status defers. */
export const SYS_EXITS: Record<number, SysExit> = {
  64: { dsn: '5.3.0', text: 'command line usage error' },
  65: { dsn: '5.6.0', text: 'data format error' },
  66: { dsn: '5.3.0', text: 'cannot open input' },
  67: { dsn: '5.1.1', text: 'user unknown' },
  68: { dsn: '5.1.2', text: 'host name unknown' },
  69: { dsn: '5.3.0', text: 'service unavailable' },
  70: { dsn: '5.3.0', text: 'internal software error' },
  71: { dsn: '4.3.0', text: 'system resource problem' },
  72: { dsn: '5.3.0', text: 'critical OS file missing' },
  73: { dsn: '5.2.0', text: "can't create user output file" },
  74: { dsn: '5.3.0', text: 'input/output error' },
  75: { dsn: '4.3.0', text: 'temporary failure' },
  76: { dsn: '5.5.0', text: 'remote error in protocol' },
  77: { dsn: '5.7.0', text: 'permission denied' },
  78: { dsn: '5.3.5', text: 'local configuration error' },
};

export interface CommandEnd {
  command: string;
  /** Exit status, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** What the command wrote to stdout and stderr (a bounded amount). */
  output: string;
  /** The message could not be read from the queue: the command was killed, whatever it answered. */
  inputError?: string;
}

export interface CommandOutcome {
  status: 'sent' | 'deferred' | 'bounced';
  dsn: string;
  text: string;
}

/** Output as it goes into a log line and a DSN: one line, whitespace collapsed. */
function oneLine(output: string): string {
  return output.replace(/\s+/g, ' ').trim();
}

/** Postfix's verdict on a finished command. */
export function commandOutcome(end: CommandEnd): CommandOutcome {
  const output = oneLine(end.output);
  const withOutput = (text: string) => (output ? `${text}. Command output: ${output}` : text);
  const quoted = JSON.stringify(end.command);
  if (end.inputError) return { status: 'deferred', dsn: '4.3.0', text: end.inputError };
  if (end.timedOut) return { status: 'bounced', dsn: '5.3.0', text: withOutput(`Command time limit exceeded: ${quoted}`) };
  if (end.code === 0) return { status: 'sent', dsn: '2.0.0', text: `delivered to command: ${end.command}` };
  if (end.code === null) return { status: 'deferred', dsn: '4.3.0', text: withOutput(`Command died with signal ${end.signal ?? 'unknown'}: ${quoted}`) };
  // An enhanced status code at the start of the output takes precedence over the exit status.
  const enhanced = /^([45])\.(\d{1,3})\.(\d{1,3})\b\s*(.*)$/.exec(output);
  if (enhanced) {
    const dsn = `${enhanced[1]}.${enhanced[2]}.${enhanced[3]}`;
    return { status: enhanced[1] === '4' ? 'deferred' : 'bounced', dsn, text: enhanced[4] || `Command died with status ${end.code}: ${quoted}` };
  }
  const known = SYS_EXITS[end.code];
  if (known) return { status: known.dsn.startsWith('4') ? 'deferred' : 'bounced', dsn: known.dsn, text: withOutput(known.text) };
  return { status: 'bounced', dsn: '5.3.0', text: withOutput(`Command died with status ${end.code}: ${quoted}`) };
}
