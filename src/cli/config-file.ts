/**
 * Reads a configuration file in the sysctl-style `key = value` format of RabbitMQ's rabbitmq.conf
 * (the "new style" format parsed by cuttlefish). Warren's own file uses the same format with
 * Warren's setting names (the `warren start` flag names without dashes: `port = 5672`,
 * `data-dir = /var/lib/warren`), so one parser serves both and a rabbitmq.conf can be used as-is or
 * pasted into a Warren file.
 *
 * Rules (as cuttlefish):
 * - one `key = value` a line; blank lines and lines whose first non-blank character is `#` are
 *   ignored; a `#` after a value starts a comment too (RabbitMQ does not allow `#` inside values);
 * - keys are dotted words (letters, digits, `_`, `-`, `.`, `@`); the value is the rest of the line,
 *   trimmed; a value may be quoted with double quotes (the quotes are removed);
 * - a key given twice: the last line wins (cuttlefish does the same), and both lines are reported
 *   as a duplicate so the mistake is seen.
 * A directory (RabbitMQ's conf.d, as the official Docker image uses) is read file by file: every
 * `*.conf` in it in name order, a key in a later file overriding the same key in an earlier one.
 * The classic Erlang-term format (`[{rabbit, [...]}].`, rabbitmq.config / advanced.config) is
 * refused with a message saying so: Warren does not evaluate Erlang terms.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ConfigEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line number. */
  readonly line: number;
  /** The file it is in. */
  readonly path: string;
}

export interface ConfigFile {
  readonly path: string;
  /** Entries in file order, the last of each key only. */
  readonly entries: readonly ConfigEntry[];
  /** Keys given more than once (the last one is used). */
  readonly duplicates: readonly string[];
}

/** A configuration that cannot be used: the start stops with this message (exit code 78). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const KEY = /^[A-Za-z0-9_@-]+(\.[A-Za-z0-9_@$-]+)*$/;

/** Parse the text of a file (`path` names it in messages). Throws ConfigError on a bad line. */
export function parseConfigText(text: string, path: string): ConfigFile {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('%')) {
    throw new ConfigError(`${path}: this is the classic Erlang-term format (rabbitmq.config / advanced.config), which Warren does not read; `
      + 'use the sysctl-style format of rabbitmq.conf (key = value lines)');
  }
  const byKey = new Map<string, ConfigEntry>();
  const duplicates = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = stripComment(raw).trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new ConfigError(`${path}:${i + 1}: expected 'key = value', got '${raw.trim()}'`);
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (!KEY.test(key)) throw new ConfigError(`${path}:${i + 1}: '${key}' is not a valid key (dotted words of letters, digits, _ and -)`);
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value === '') throw new ConfigError(`${path}:${i + 1}: ${key} has no value`);
    if (byKey.has(key)) {
      duplicates.add(key);
      byKey.delete(key); // re-insert: file order follows the line that wins
    }
    byKey.set(key, { key, value, line: i + 1, path });
  }
  return { path, entries: [...byKey.values()], duplicates: [...duplicates] };
}

/** A `#` outside double quotes starts a comment. */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}

/**
 * Read and parse a file, or every *.conf of a directory (conf.d); a missing or unreadable one is
 * a ConfigError naming it.
 */
export function readConfigFile(path: string): ConfigFile {
  const unreadable = (p: string, err: unknown) =>
    new ConfigError(`cannot read the configuration file ${p}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path).filter((f) => f.endsWith('.conf')).sort().map((f) => join(path, f))
      : [path];
  } catch (err: unknown) {
    throw unreadable(path, err);
  }
  const byKey = new Map<string, ConfigEntry>();
  const duplicates = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err: unknown) {
      throw unreadable(file, err);
    }
    const parsed = parseConfigText(text, file);
    for (const d of parsed.duplicates) duplicates.add(d);
    for (const e of parsed.entries) {
      byKey.delete(e.key);
      byKey.set(e.key, e);
    }
  }
  return { path, entries: [...byKey.values()], duplicates: [...duplicates] };
}
