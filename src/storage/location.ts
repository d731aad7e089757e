// Dovecot's mail_location syntax: "<format>:<path>[:KEY=VALUE]..." with LAYOUT=, INBOX=, INDEX=, CONTROL=, and
// the variables %u (user), %n (local part), %d (domain), %h / ~ (home), %% (Dovecot doc "Mail location").
import { resolve } from 'node:path';
import { StorageError } from './errors.js';

export interface MailLocation {
  format: 'maildir' | 'mbox';
  root: string;
  layout?: 'maildir++' | 'fs';
  inbox?: string;
  index?: string;
  control?: string;
  /** Other KEY=VALUE options, kept for backends that know them. */
  options: Record<string, string>;
}

/** Expands %u %n %d %h %% (with Dovecot's %L / %U case modifiers) and a leading ~ or ~/. */
export function expandMailVariables(template: string, user: string, home?: string): string {
  const at = user.lastIndexOf('@');
  const vars: Record<string, string | undefined> = {
    u: user,
    n: at >= 0 ? user.slice(0, at) : user,
    d: at >= 0 ? user.slice(at + 1) : '',
    h: home,
  };
  let out = template.replace(/%([LU]?)(\{[a-z]+\}|[a-z%])/g, (_m, mod: string, key: string) => {
    if (key === '%') return '%';
    const name = key.startsWith('{') ? ({ user: 'u', username: 'n', domain: 'd', home: 'h' } as Record<string, string>)[key.slice(1, -1)] : key;
    const value = name ? vars[name] : undefined;
    if (value === undefined) throw new StorageError('INTERNAL', undefined, new Error(`mail location variable %${key} has no value`));
    return mod === 'L' ? value.toLowerCase() : mod === 'U' ? value.toUpperCase() : value;
  });
  if (out === '~' || out.startsWith('~/')) {
    if (!home) throw new StorageError('INTERNAL', undefined, new Error('mail location uses ~ but the user has no home'));
    out = home + out.slice(1);
  }
  return out;
}

/** Splits at ':' (a doubled '::' stands for a literal ':', as in Dovecot). */
function splitColons(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ':') {
      if (s[i + 1] === ':') {
        cur += ':';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
    } else cur += s[i];
  }
  parts.push(cur);
  return parts;
}

export function parseMailLocation(location: string, user: string, home?: string): MailLocation {
  const parts = splitColons(location);
  const format = parts[0]?.toLowerCase();
  if (format !== 'maildir' && format !== 'mbox') {
    throw new StorageError('INTERNAL', undefined, new Error(`unsupported mail location format "${parts[0]}"`));
  }
  const rawRoot = parts[1] ?? '';
  if (!rawRoot) throw new StorageError('INTERNAL', undefined, new Error('mail location has no path'));
  const loc: MailLocation = { format, root: resolve(expandMailVariables(rawRoot, user, home)), options: {} };
  for (const opt of parts.slice(2)) {
    const eq = opt.indexOf('=');
    const key = (eq < 0 ? opt : opt.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? '' : opt.slice(eq + 1);
    switch (key) {
      case 'LAYOUT':
        if (value !== 'fs' && value !== 'maildir++') throw new StorageError('INTERNAL', undefined, new Error(`unsupported LAYOUT=${value}`));
        loc.layout = value;
        break;
      case 'INBOX':
        loc.inbox = resolve(expandMailVariables(value, user, home));
        break;
      case 'INDEX':
        loc.index = value.toUpperCase() === 'MEMORY' ? undefined : resolve(expandMailVariables(value, user, home));
        break;
      case 'CONTROL':
        loc.control = resolve(expandMailVariables(value, user, home));
        break;
      default:
        loc.options[key] = value;
    }
  }
  return loc;
}
