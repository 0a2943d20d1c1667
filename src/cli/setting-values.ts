/**
 * Value syntaxes shared by flags, environment variables and configuration files. Each parser
 * returns the typed value or throws InvalidArgumentError whose message says what is allowed, so
 * every door reports a bad value the same way ("expected ...").
 *
 * Memory sizes follow RabbitMQ's memory units (rabbitmq.conf, docs/memory): a byte count, or a
 * count with k/kiB/K/KiB, M/MiB, G/GiB, T/TiB (powers of 2) or kB/KB, MB, GB, TB (powers of 10).
 */
import { InvalidArgumentError } from 'commander';

export type SettingValue = string | number | boolean | readonly string[];

export function nonNegativeInt(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

export function port(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number (0 to 65535)');
  return n;
}

/** A port where 0 disables the listener; `free` asks for a free port (what 0 means in rabbitmq.conf). */
export function optionalPort(value: string): number | string {
  if (value.trim() === 'free') return 'free';
  try {
    return port(value);
  } catch {
    throw new InvalidArgumentError('expected a port number (0 disables it, free picks a free port)');
  }
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function bool(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new InvalidArgumentError('expected true or false');
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 2 ** 10, K: 2 ** 10, kiB: 2 ** 10, KiB: 2 ** 10,
  M: 2 ** 20, MiB: 2 ** 20,
  G: 2 ** 30, GiB: 2 ** 30,
  T: 2 ** 40, TiB: 2 ** 40,
  kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12,
};

/** Bytes: an integer, or an integer with a memory unit (1GB, 512MiB, 2G). */
export function bytes(value: string): number {
  const m = /^\s*(\d+)\s*([A-Za-z]*)\s*$/.exec(value);
  const unit = m === null ? undefined : UNITS[m[2]!];
  if (m === null || unit === undefined) {
    throw new InvalidArgumentError('expected a number of bytes, optionally with a unit: k/kiB, M/MiB, G/GiB, T/TiB (powers of 2) or kB, MB, GB, TB (powers of 10)');
  }
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected at most ${Number.MAX_SAFE_INTEGER} bytes`);
  return n;
}

/** A fraction of total memory, as vm_memory_high_watermark.relative. */
export function fraction(value: string, max = 1): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new InvalidArgumentError(`expected a number from 0 to ${max}`);
  return n;
}

export function choice(...allowed: string[]): (value: string) => string {
  return (value) => {
    const v = value.trim();
    if (!allowed.includes(v)) throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}`);
    return v;
  };
}

export function text(value: string): string {
  return value;
}

/** A comma-separated list (blanks around items are dropped). */
export function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export function showValue(v: SettingValue | undefined): string {
  if (v === undefined) return '(none)';
  if (Array.isArray(v)) return v.length === 0 ? '(empty)' : v.join(',');
  return String(v);
}
