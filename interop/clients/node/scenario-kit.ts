/**
 * Scenario kit for the Node interop clients (amqplib, @cloudamqp/amqp-client): the trace printer,
 * the unique-name registry, the canonical cross-language message and the header normaliser.
 * Invariant: what this prints has the same shape as every other language's client (interop/README.md,
 * "Trace format"), so traces compare across clients and brokers with a plain deep-equal.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Observed = { [key: string]: Json };

export class ScenarioKit {
  private readonly names = new Map<string, string>();
  private readonly failed: string[] = [];

  constructor(private readonly client: string) {}

  /** A queue/exchange name unique to this run; `sym` is what traces show instead of it. */
  name(sym: string): string {
    let n = this.names.get(sym);
    if (n === undefined) {
      n = `interop-${this.client}-${process.pid}-${Math.floor(Math.random() * 0xffffff).toString(16)}-${sym}`;
      this.names.set(sym, n);
    }
    return n;
  }

  /** Every declared name, by symbol (for cleanup). */
  declared(): ReadonlyMap<string, string> {
    return this.names;
  }

  /** Replace unique names by their symbols so traces are stable across runs and brokers. */
  clean(text: string): string {
    let out = text;
    for (const [sym, real] of this.names) out = out.split(real).join(`<${sym}>`);
    return out;
  }

  async step(stepName: string, fn: () => Promise<Observed>): Promise<void> {
    try {
      const observed = await fn();
      emit({ step: stepName, ...observed });
    } catch (err: unknown) {
      this.failed.push(stepName);
      emit({ step: stepName, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  }

  finish(): never {
    emit({ step: 'done', failed: this.failed });
    process.exit(this.failed.length > 0 ? 1 : 0);
  }
}

export function emit(obj: Observed): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

export function urlFromArgv(index = 3): string {
  return process.argv[index] ?? process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `check` is true or `ms` elapsed (scenario programs have no test helper to lean on). */
export async function waitUntil(check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** A decimal as the suite writes it: value / 10^scale in plain notation ("123.45"). */
export function decimalString(digits: number, places: number): string {
  const neg = digits < 0;
  let s = String(Math.abs(digits));
  if (places > 0) {
    s = s.padStart(places + 1, '0');
    s = `${s.slice(0, s.length - places)}.${s.slice(s.length - places)}`;
  }
  return neg ? `-${s}` : s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The suite's JSON normal form of a decoded field value (README: header normal form). */
export function norm(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('hex') };
  if (v instanceof Date) return { $ts: Math.floor(v.getTime() / 1000) };
  if (Array.isArray(v)) return v.map(norm);
  if (isRecord(v)) {
    // amqplib's typed values: {'!': 'decimal' | 'timestamp', value}
    const tag = v['!'];
    const value = v['value'];
    if (tag === 'timestamp' && typeof value === 'number') return { $ts: value };
    if (typeof tag === 'string' && typeof value === 'number') return value; // amqplib's explicit int/float widths
    if (tag === 'decimal' && isRecord(value)) {
      const { places, digits } = value;
      if (typeof places === 'number' && typeof digits === 'number') return { $dec: decimalString(digits, places) };
    }
    const out: { [key: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) out[k] = norm(x);
    return out;
  }
  return { $unknown: String(v) };
}

export interface CanonicalProps {
  content_type: string;
  content_encoding: string;
  delivery_mode: number;
  priority: number;
  correlation_id: string;
  reply_to: string;
  expiration: string;
  message_id: string;
  timestamp: number;
  type: string;
  user_id: string;
  app_id: string;
}

export function canonicalProps(client: string): CanonicalProps {
  return {
    content_type: 'application/x-interop',
    content_encoding: 'utf-8',
    delivery_mode: 2,
    priority: 3,
    correlation_id: `corr-${client}`,
    reply_to: `reply-${client}`,
    expiration: '600000',
    message_id: `msg-${client}`,
    timestamp: 1700000000,
    type: 'interop.test',
    user_id: 'guest',
    app_id: client,
  };
}

export function canonicalBody(client: string): Buffer {
  return Buffer.from(`hello from ${client} ✓ é\u0000end`, 'utf8');
}

export function messageJson(body: Uint8Array, props: Observed, headers: unknown): Observed {
  return { body_hex: Buffer.from(body).toString('hex'), properties: props, headers: norm(headers ?? {}) };
}

/** Drop undefined/null properties so absent ones look the same in every client's output. */
export function present(props: { [key: string]: Json | undefined }): Observed {
  const out: Observed = {};
  for (const [k, v] of Object.entries(props)) if (v !== undefined && v !== null && v !== '') out[k] = v;
  return out;
}
