// Dovecot-style variable expansion (%u, %n, %d, %{name}, %08Xu, %Lu, ~): used for mail locations,
// pop3_uidl_format and LDAP filters; modifiers as Dovecot 2.3's var-expand.c (L U X M, width, offset).
import { createHash } from 'node:crypto';

export type VarTable = Record<string, string | number | undefined>;

const MODIFIERS: Record<string, (v: string) => string> = {
  L: (v) => v.toLowerCase(),
  U: (v) => v.toUpperCase(),
  // Dovecot prints a base-10 number in lower-case hex ("%llx"); non-numbers become 0.
  X: (v) => (/^\d+$/.test(v) ? BigInt(v).toString(16) : '0'),
  M: (v) => createHash('md5').update(v).digest('hex'),
};

/**
 * Expands `template` with single-letter keys (%u) and long keys (%{user}). `%%` is a literal %.
 * An unknown key throws, so a typo in a config value is caught at start-up.
 */
export function varExpand(template: string, vars: VarTable, escape?: (v: string) => string): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    i++;
    if (i >= template.length) throw new Error(`"${template}": lone % at the end`);
    if (template[i] === '%') {
      out += '%';
      continue;
    }
    // [offset.]width, then modifier letters, then the key.
    let offset = 0;
    let width = 0;
    let zeroPad = false;
    const num = /^(-?\d+)(?:\.(\d+))?/.exec(template.slice(i));
    if (num) {
      if (num[2] !== undefined) {
        offset = Number(num[1]);
        width = Number(num[2]);
      } else {
        zeroPad = num[1].startsWith('0');
        width = Math.abs(Number(num[1]));
      }
      i += num[0].length;
    }
    const mods: string[] = [];
    while (i < template.length && MODIFIERS[template[i]] && template[i + 1] !== undefined && template[i] !== '{') {
      // A modifier letter is only a modifier if a key follows it.
      mods.push(template[i]);
      i++;
    }
    let key: string;
    if (template[i] === '{') {
      const end = template.indexOf('}', i);
      if (end < 0) throw new Error(`"${template}": unterminated %{`);
      key = template.slice(i + 1, end);
      i = end;
    } else {
      key = template[i];
      if (key === undefined) throw new Error(`"${template}": % without a variable`);
    }
    if (!(key in vars)) throw new Error(`"${template}": unknown variable %${key.length > 1 ? `{${key}}` : key}`);
    let value = String(vars[key] ?? '');
    for (const m of mods) value = MODIFIERS[m](value);
    if (offset) value = offset > 0 ? value.slice(offset) : value.slice(value.length + offset);
    if (width) value = zeroPad ? value.padStart(width, '0') : value.slice(0, width);
    out += escape ? escape(value) : value;
  }
  return out;
}

/** The user variables of Dovecot: %u full user name, %n local part, %d domain (and long names). */
export function userVars(user: string, home?: string): VarTable {
  const at = user.lastIndexOf('@');
  const n = at >= 0 ? user.slice(0, at) : user;
  const d = at >= 0 ? user.slice(at + 1) : '';
  return { u: user, n, d, h: home ?? '', user, username: n, domain: d, home: home ?? '' };
}

/** Expands a leading ~ to the home directory (as Dovecot does in mail_location). */
export function expandHome(path: string, home: string | undefined): string {
  if (path === '~' || path.startsWith('~/')) {
    if (!home) throw new Error(`"${path}" uses ~ but the user has no home directory`);
    return home + path.slice(1);
  }
  return path;
}
