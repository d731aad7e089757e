// Loads and validates a TOML config against the schema: unknown keys, wrong types and bad values
// stop start-up with file, line, key and a clear message; `effectiveSettings` is `roost config check`.
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { SectionSpec } from './define.js';
import { schema, defaultConfig, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly key: string | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${key ? `${key}: ` : ''}${reason}`);
  }
}

/** Finds the line where `[section]` declares `key` (or where a `[section.key...]` table starts). */
function lineOf(text: string, sectionName: string, key?: string): number | undefined {
  const lines = text.split(/\r?\n/);
  let current = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(l);
    if (header) {
      current = header[1].replace(/\s+/g, '');
      if (key === undefined && current === sectionName) return i + 1;
      if (key !== undefined && (current === `${sectionName}.${key}` || current.startsWith(`${sectionName}.${key}.`))) return i + 1;
      continue;
    }
    if (key !== undefined && current === sectionName) {
      const m = /^("?)([A-Za-z0-9_.-]+)\1\s*=/.exec(l);
      if (m && m[2] === key) return i + 1;
    }
  }
  return undefined;
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or undefined for the embedded defaults. */
  file?: string;
}

export function parseConfigText(text: string, file: string): Config {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError(file, e.line, undefined, e.message.split('\n')[0]);
    throw e;
  }
  const config = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  for (const [sectionName, body] of Object.entries(doc)) {
    const sec = (schema as Record<string, { keys: SectionSpec }>)[sectionName];
    if (!sec) {
      throw new ConfigError(file, lineOf(text, sectionName), sectionName, `unknown section [${sectionName}] (known: ${Object.keys(schema).join(', ')})`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ConfigError(file, undefined, sectionName, `[${sectionName}] must be a table`);
    }
    for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
      const spec = sec.keys[key];
      const where = lineOf(text, sectionName, key);
      if (!spec) throw new ConfigError(file, where, `${sectionName}.${key}`, `unknown key (known in [${sectionName}]: ${Object.keys(sec.keys).join(', ')})`);
      try {
        config[sectionName][key] = spec.parse(raw);
      } catch (e) {
        throw new ConfigError(file, where, `${sectionName}.${key}`, (e as Error).message);
      }
    }
  }
  return config as unknown as Config;
}

/** `--config FILE`, else `config/roost.toml` when it exists, else the embedded defaults. */
export function loadConfig(explicitFile?: string, cwd = process.cwd()): LoadedConfig {
  const file = explicitFile ?? (existsSync(`${cwd}/config/roost.toml`) ? `${cwd}/config/roost.toml` : undefined);
  if (!file) return { config: defaultConfig() };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, undefined, undefined, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { config: parseConfigText(text, file), file };
}

/** Settings that differ from the defaults, as TOML (like `doveconf -n` / `postconf -n`). */
export function effectiveSettings(config: Config): string {
  const defaults = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  const cfg = config as unknown as Record<string, Record<string, unknown>>;
  const out: string[] = [];
  for (const [name, sec] of Object.entries(schema)) {
    const changed = Object.entries(sec.keys as SectionSpec).filter(([k]) => JSON.stringify(cfg[name][k]) !== JSON.stringify(defaults[name][k]));
    if (!changed.length) continue;
    out.push(`[${name}]`);
    for (const [k, spec] of changed) out.push(`${k} = ${spec.format(cfg[name][k])}`);
    out.push('');
  }
  return out.join('\n');
}

/** The commented sample config: every key with its doc and default, all commented out. */
export function sampleConfig(): string {
  const out = [
    '# Roost configuration. Every key is shown with its default, commented out.',
    '# Generated from the schema (src/config/sections/*.ts) by `roost config sample`; do not edit by hand.',
    '',
  ];
  for (const [name, sec] of Object.entries(schema)) {
    out.push(`# ${sec.doc}`, `[${name}]`);
    for (const [k, spec] of Object.entries(sec.keys as SectionSpec)) {
      out.push(`# ${spec.doc}`);
      if (spec.kind === 'tables') out.push(`# [${name}.${k}."example.com"]`);
      else out.push(`#${k} = ${spec.format(spec.default)}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** docs/configuration.md: one table per section with every key, its type, default and doc. */
export function configurationReference(): string {
  const out = [
    '# Configuration reference',
    '',
    'Generated from the schema (`src/config/sections/*.ts`) by `npm run gen:config`; do not edit by hand.',
    '',
    '`roost serve` reads `--config FILE`, else `config/roost.toml` when it exists, else the embedded defaults.',
    'Unknown keys, wrong types and bad values stop start-up with the file, line and key. `roost config check`',
    'validates a file and prints the settings that differ from the defaults. Sizes take `"64k"`, `"50M"`;',
    'durations take seconds or `"500ms"`, `"2s"`, `"5m"`, `"5d"`; ports take `0` (disabled) or `"auto"`.',
    '',
  ];
  for (const [name, sec] of Object.entries(schema)) {
    out.push(`## [${name}]`, '', sec.doc, '', '| key | type | default | meaning |', '|---|---|---|---|');
    for (const [k, spec] of Object.entries(sec.keys as SectionSpec)) {
      const def = spec.kind === 'tables' ? '(none)' : '`' + spec.format(spec.default).replace(/\|/g, '\\|') + '`';
      out.push(`| \`${k}\` | ${spec.kind} | ${def} | ${spec.doc.replace(/\|/g, '\\|')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
