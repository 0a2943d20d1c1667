/**
 * A small synchronous JSON-lines logger that writes what pino writes, for the subset of pino's API
 * Warren uses (trace/debug/info/warn/error/fatal, child, isLevelEnabled, flush, level). It exists
 * because loading pino costs about 25 ms of start-up and 2-3 MiB of resident memory (measured:
 * ~20 CommonJS modules, `node:os`, worker_threads), which is most of the headroom between Node's
 * own footprint and the start-up and idle-memory targets.
 *
 * Invariants:
 * - One line per call, same shape as pino with `base` set: {"level":30,"time":<ms>,...base,
 *   ...child bindings, ...fields,"msg":"..."}; an `err` field (or an Error passed as the object)
 *   is serialised like pino-std-serializers ({type, message, stack, own enumerable props}).
 * - Levels below the threshold cost one comparison; `silent` writes nothing.
 * - Writes are synchronous (fs.writeSync on fd 1), so nothing is lost on process.exit and flush()
 *   has nothing to do. A non-blocking pipe that is full (EAGAIN) is retried briefly, then the line
 *   is dropped: logging must never stall or crash the broker.
 * - Callers see pino's `Logger` type; only the methods above exist at run time.
 */
import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { format } from 'node:util';

const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

type Fields = Record<string, unknown>;

/** pino-std-serializers' err serializer, reduced to what JSON can carry. */
function serializeError(e: Error, seen: WeakSet<object> = new WeakSet()): Fields {
  seen.add(e);
  const out: Fields = { type: e.constructor?.name ?? 'Error', message: e.message, stack: e.stack };
  for (const k of Object.keys(e)) {
    if (k in out) continue;
    const v = (e as unknown as Fields)[k];
    out[k] = v instanceof Error ? (seen.has(v) ? '[Circular]' : serializeError(v, seen)) : v;
  }
  const cause: unknown = (e as { cause?: unknown }).cause;
  if (cause !== undefined && !('cause' in out)) out['cause'] = cause instanceof Error && !seen.has(cause) ? serializeError(cause, seen) : cause;
  return out;
}

function stringify(record: Fields): string {
  try {
    return JSON.stringify(record);
  } catch {
    // Circular structures or bigints: what safe-stable-stringify (pino's fallback) would print.
    const seen = new WeakSet<object>();
    return JSON.stringify(record, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
      }
      return v;
    });
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function writeLine(line: string): void {
  const buf = Buffer.from(line, 'utf8');
  let off = 0;
  for (let tries = 0; off < buf.length && tries < 50; tries++) {
    try {
      off += writeSync(1, buf, off, buf.length - off);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      sleepMs(2);
    }
  }
}

class JsonLogger {
  private threshold: number;
  private levelName: string;
  /** `,"k":v,...` of base + bindings, serialised once per logger. */
  private readonly prefix: string;

  constructor(level: string, prefix: string) {
    this.threshold = JsonLogger.levelValue(level);
    this.levelName = level;
    this.prefix = prefix;
  }

  static levelValue(level: string): number {
    const v = LEVELS[level];
    if (v === undefined) throw new Error(`unknown level ${level}`);
    return v;
  }

  get level(): string {
    return this.levelName;
  }

  set level(level: string) {
    this.threshold = JsonLogger.levelValue(level);
    this.levelName = level;
  }

  isLevelEnabled(level: string): boolean {
    const v = LEVELS[level];
    return v !== undefined && v !== Infinity && v >= this.threshold;
  }

  child(bindings: Fields): JsonLogger {
    const body = stringify(bindings);
    const extra = body.length > 2 ? `,${body.slice(1, -1)}` : '';
    return new JsonLogger(this.levelName, this.prefix + extra);
  }

  flush(cb?: (err?: Error) => void): void {
    if (cb !== undefined) process.nextTick(cb);
  }

  trace(a?: unknown, ...rest: unknown[]): void { if (this.threshold <= 10) this.write(10, a, rest); }
  debug(a?: unknown, ...rest: unknown[]): void { if (this.threshold <= 20) this.write(20, a, rest); }
  info(a?: unknown, ...rest: unknown[]): void { if (this.threshold <= 30) this.write(30, a, rest); }
  warn(a?: unknown, ...rest: unknown[]): void { if (this.threshold <= 40) this.write(40, a, rest); }
  error(a?: unknown, ...rest: unknown[]): void { if (this.threshold <= 50) this.write(50, a, rest); }
  fatal(a?: unknown, ...rest: unknown[]): void { if (this.threshold <= 60) this.write(60, a, rest); }

  /** pino's call shapes: (msg, ...args), (obj, msg?, ...args), (err, msg?, ...args). */
  private write(level: number, a: unknown, rest: unknown[]): void {
    let fields: Fields | undefined;
    let msg: unknown;
    let args = rest;
    if (a instanceof Error) {
      fields = { err: serializeError(a) };
      msg = rest.length > 0 ? rest[0] : a.message;
      args = rest.slice(1);
    } else if (typeof a === 'object' && a !== null) {
      fields = {};
      for (const k of Object.keys(a)) {
        const v = (a as Fields)[k];
        fields[k] = k === 'err' && v instanceof Error ? serializeError(v) : v;
      }
      msg = rest[0];
      args = rest.slice(1);
    } else {
      msg = a;
    }
    let text = '';
    if (msg !== undefined) {
      if (args.length > 0) text = format(String(msg), ...args);
      else if (typeof msg !== 'string') text = String(msg);
      else text = msg;
    }
    let body = '';
    if (fields !== undefined) {
      const s = stringify(fields);
      if (s.length > 2) body = `,${s.slice(1, -1)}`;
    }
    const tail = msg === undefined ? '}\n' : `,"msg":${JSON.stringify(text)}}\n`;
    writeLine(`{"level":${level},"time":${Date.now()}${this.prefix}${body}${tail}`);
  }
}

/** A logger writing pino-compatible JSON lines to stdout; `base` fields go on every line. */
export function createJsonLogger(level: string, base: Fields = {}): Logger {
  const root = new JsonLogger(level, '');
  const logger = Object.keys(base).length === 0 ? root : root.child(base);
  // The broker only calls the methods JsonLogger implements (see header); pino's full type is kept
  // so that an embedding application can still pass a real pino logger to startWarren.
  return logger as unknown as Logger;
}
