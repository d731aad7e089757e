// The building blocks of Roost's config schema: each key is declared once with its type,
// default and a one-line doc; TypeScript types, validation and the sample config derive from it.
import { isIP } from 'node:net';

/** A problem with one value: the loader adds file, line and key. */
export class ValueError extends Error {}

export interface KeySpec<T> {
  readonly kind: string;
  readonly default: T;
  readonly doc: string;
  /** Turns a parsed TOML value into T, or throws ValueError. */
  parse(raw: unknown): T;
  /** TOML text for a value, for the sample config and `roost config check`. */
  format(value: T): string;
}

export type SectionSpec = Record<string, KeySpec<unknown>>;
export type ValueOf<K> = K extends KeySpec<infer T> ? T : never;
export type SectionValues<S extends SectionSpec> = { -readonly [K in keyof S]: ValueOf<S[K]> };

const typeName = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

function tomlString(s: string): string {
  return JSON.stringify(s);
}

export function str(def: string, doc: string, check?: (v: string) => string | undefined): KeySpec<string> {
  return {
    kind: 'string',
    default: def,
    doc,
    parse(raw) {
      if (typeof raw !== 'string') throw new ValueError(`expected a string, got ${typeName(raw)}`);
      const problem = check?.(raw);
      if (problem) throw new ValueError(problem);
      return raw;
    },
    format: tomlString,
  };
}

export function oneOf<const T extends string>(def: T, choices: readonly T[], doc: string): KeySpec<T> {
  return {
    kind: 'string',
    default: def,
    doc: `${doc} (${choices.join(', ')})`,
    parse(raw) {
      if (typeof raw !== 'string') throw new ValueError(`expected a string, got ${typeName(raw)}`);
      if (!choices.includes(raw as T)) throw new ValueError(`must be one of ${choices.join(', ')}; got "${raw}"`);
      return raw as T;
    },
    format: tomlString,
  };
}

export function bool(def: boolean, doc: string): KeySpec<boolean> {
  return {
    kind: 'boolean',
    default: def,
    doc,
    parse(raw) {
      if (typeof raw !== 'boolean') throw new ValueError(`expected true or false, got ${typeName(raw)}`);
      return raw;
    },
    format: (v) => String(v),
  };
}

export function int(def: number, doc: string, min = 0, max = Number.MAX_SAFE_INTEGER): KeySpec<number> {
  return {
    kind: 'integer',
    default: def,
    doc,
    parse(raw) {
      if (typeof raw !== 'number' || !Number.isInteger(raw)) throw new ValueError(`expected an integer, got ${typeName(raw)}`);
      if (raw < min || raw > max) throw new ValueError(`must be between ${min} and ${max}; got ${raw}`);
      return raw;
    },
    format: (v) => String(v),
  };
}

/** A TCP port: 0 disables the listener (as Dovecot's `port = 0`), "auto" lets the OS pick one. */
export type PortValue = number | 'auto';
export function port(def: PortValue, doc: string): KeySpec<PortValue> {
  return {
    kind: 'port',
    default: def,
    doc: `${doc} (0 disables, "auto" picks a free port)`,
    parse(raw) {
      if (raw === 'auto') return 'auto';
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 65535)
        throw new ValueError(`expected a port number 0-65535 or "auto", got ${JSON.stringify(raw)}`);
      return raw;
    },
    format: (v) => (v === 'auto' ? '"auto"' : String(v)),
  };
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };
/** A size in bytes: an integer, or a string such as "64k", "50M", "1G". */
export function size(def: number, doc: string): KeySpec<number> {
  return {
    kind: 'size',
    default: def,
    doc,
    parse(raw) {
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
      if (typeof raw === 'string') {
        const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(raw);
        const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
        if (m && unit !== undefined) return Number(m[1]) * unit;
      }
      throw new ValueError(`expected a size such as 1048576, "64k" or "50M", got ${JSON.stringify(raw)}`);
    },
    format: (v) => String(v),
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, secs: 1000, m: 60000, min: 60000, mins: 60000, h: 3600000, d: 86400000 };
/** A duration in milliseconds: an integer of seconds, or a string such as "2s", "500ms", "5m", "5d". */
export function duration(defMs: number, doc: string): KeySpec<number> {
  return {
    kind: 'duration',
    default: defMs,
    doc,
    parse(raw) {
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw * 1000;
      if (typeof raw === 'string') {
        const m = /^\s*(\d+)\s*([a-z]+)\s*$/.exec(raw);
        const unit = m ? DURATION_UNITS[m[2]] : undefined;
        if (m && unit !== undefined) return Number(m[1]) * unit;
      }
      throw new ValueError(`expected a duration such as 30 (seconds), "500ms", "2s", "5m" or "5d", got ${JSON.stringify(raw)}`);
    },
    format: (v) => (v % 1000 === 0 ? `"${v / 1000}s"` : `"${v}ms"`),
  };
}

export function strList(def: string[], doc: string, check?: (v: string) => string | undefined): KeySpec<string[]> {
  return {
    kind: 'string list',
    default: def,
    doc,
    parse(raw) {
      if (!Array.isArray(raw)) throw new ValueError(`expected an array of strings, got ${typeName(raw)}`);
      return raw.map((item, i) => {
        if (typeof item !== 'string') throw new ValueError(`item ${i + 1}: expected a string, got ${typeName(item)}`);
        const problem = check?.(item);
        if (problem) throw new ValueError(`item ${i + 1}: ${problem}`);
        return item;
      });
    },
    format: (v) => `[${v.map(tomlString).join(', ')}]`,
  };
}

/** Checks "addr" or "addr/len" (IPv4 or IPv6, optional brackets as Postfix writes [::1]/128). */
export function checkNetwork(v: string): string | undefined {
  const m = /^\[?([^\]/]+)\]?(?:\/(\d+))?$/.exec(v.trim());
  if (!m || !isIP(m[1])) return `"${v}" is not an address or network (such as 10.0.0.0/8 or [::1]/128)`;
  const max = isIP(m[1]) === 4 ? 32 : 128;
  if (m[2] !== undefined && Number(m[2]) > max) return `"${v}" has a prefix length over ${max}`;
  return undefined;
}

export function checkAddress(v: string): string | undefined {
  return v === '*' || v === '::' || isIP(v) ? undefined : `"${v}" is not an IP address (or "*")`;
}

/** A table of named sub-tables, each with its own keys, e.g. `[tls.sni."mail.example.com"]`. */
export function namedTables<S extends SectionSpec>(doc: string, spec: S): KeySpec<Record<string, SectionValues<S>>> {
  return {
    kind: 'tables',
    default: {},
    doc,
    parse(raw) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValueError(`expected a table, got ${typeName(raw)}`);
      const out: Record<string, SectionValues<S>> = {};
      for (const [name, sub] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof sub !== 'object' || sub === null || Array.isArray(sub)) throw new ValueError(`"${name}": expected a table`);
        const values: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(sub as Record<string, unknown>)) {
          const keySpec = spec[k];
          if (!keySpec) throw new ValueError(`"${name}": unknown key "${k}" (known: ${Object.keys(spec).join(', ')})`);
          try {
            values[k] = keySpec.parse(v);
          } catch (e) {
            throw new ValueError(`"${name}".${k}: ${(e as Error).message}`);
          }
        }
        for (const [k, keySpec] of Object.entries(spec)) if (!(k in values)) values[k] = keySpec.default;
        out[name] = values as SectionValues<S>;
      }
      return out;
    },
    format: (v) => JSON.stringify(v),
  };
}

export function section<S extends SectionSpec>(doc: string, keys: S): { doc: string; keys: S } {
  return { doc, keys };
}
