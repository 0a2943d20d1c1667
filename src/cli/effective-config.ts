/**
 * The effective configuration of `warren start` and `warren config show`: which file is read
 * (--config, else WARREN_CONFIG_FILE, else RABBITMQ_CONFIG_FILE, which may name the file without
 * its .conf extension as RabbitMQ allows, else RABBITMQ_CONFIG_FILES, a conf.d directory), its
 * values translated (rabbitmq-conf.ts), and every setting resolved flag > environment > file >
 * default (settings.ts).
 */
import { existsSync } from 'node:fs';
import { readConfigFile } from './config-file.js';
import { translateConfig } from './rabbitmq-conf.js';
import { EffectiveSettings, resolveSettings, type Setting } from './settings.js';
import { showValue } from './setting-values.js';

export interface EffectiveConfig {
  readonly settings: EffectiveSettings;
  /** The file read and where its path came from; undefined without one. */
  readonly file: { path: string; from: string; unused: readonly string[]; duplicates: readonly string[] } | undefined;
}

function configPath(flag: unknown, env: NodeJS.ProcessEnv): { path: string; from: string } | undefined {
  if (typeof flag === 'string') return { path: flag, from: '--config' };
  for (const name of ['WARREN_CONFIG_FILE', 'RABBITMQ_CONFIG_FILE', 'RABBITMQ_CONFIG_FILES']) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    // RabbitMQ's RABBITMQ_CONFIG_FILE may omit the extension (/etc/rabbitmq/rabbitmq).
    const path = !existsSync(v) && existsSync(`${v}.conf`) ? `${v}.conf` : v;
    return { path, from: name };
  }
  return undefined;
}

/** Throws ConfigError for an unreadable file or a bad value (file or environment). */
export function loadEffectiveConfig(settings: readonly Setting[], flags: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): EffectiveConfig {
  const where = configPath(flags['config'], env);
  if (where === undefined) return { settings: new EffectiveSettings(resolveSettings(settings, flags, env, new Map())), file: undefined };
  const parsed = readConfigFile(where.path);
  const translated = translateConfig(parsed, settings);
  return {
    settings: new EffectiveSettings(resolveSettings(settings, flags, env, translated.values)),
    file: { ...where, unused: translated.unused, duplicates: parsed.duplicates },
  };
}

/** The warning logged once at start for keys Warren does not use, or undefined when there are none. */
export function unusedKeysWarning(config: EffectiveConfig): string | undefined {
  const f = config.file;
  if (f === undefined) return undefined;
  const parts: string[] = [];
  if (f.unused.length > 0) parts.push(`keys Warren does not use (ignored): ${f.unused.join(', ')}`);
  if (f.duplicates.length > 0) parts.push(`keys given more than once (the last one is used): ${f.duplicates.join(', ')}`);
  return parts.length === 0 ? undefined : `configuration file ${f.path}: ${parts.join('; ')}`;
}

/** `warren config show`: one line a setting (or JSON), secrets masked. */
export function formatConfig(config: EffectiveConfig, settings: readonly Setting[], json: boolean): string {
  const secret = new Set(settings.filter((s) => s.secret === true).map((s) => s.name));
  const rows = settings.map((s) => {
    const r = config.settings.values.get(s.name)!;
    const value = r.value !== undefined && secret.has(s.name) ? '********' : r.value;
    return { name: s.name, value, source: r.source, origin: r.origin };
  });
  if (json) {
    return JSON.stringify({
      config_file: config.file === undefined ? null : { path: config.file.path, from: config.file.from, unused_keys: config.file.unused },
      settings: rows.map((r) => ({ ...r, value: r.value ?? null })),
    }, null, 2) + '\n';
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const valueWidth = Math.min(40, Math.max(...rows.map((r) => showValue(r.value).length)));
  const head = config.file === undefined
    ? 'Configuration file: none (--config, WARREN_CONFIG_FILE or RABBITMQ_CONFIG_FILE)'
    : `Configuration file: ${config.file.path} (from ${config.file.from})`
      + (config.file.unused.length > 0 ? `\nNot used by Warren: ${config.file.unused.join(', ')}` : '');
  const lines = rows.map((r) => {
    const from = r.source === 'default' ? 'default' : `${r.source} ${r.origin}`;
    return `${r.name.padEnd(width)}  ${showValue(r.value).padEnd(valueWidth)}  ${from}`;
  });
  return `${head}\n\n${lines.join('\n')}\n`;
}
