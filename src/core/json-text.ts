/**
 * JSON text for documents of any nesting depth. V8's JSON.stringify recurses on the native stack
 * and throws "Maximum call stack size exceeded" somewhere between 2,000 and 8,000 levels (it
 * depends on how deep the caller already is), while JSON.parse is iterative. Queue, exchange and
 * binding arguments are client-chosen field tables that may nest that deep (RabbitMQ stores 8,000
 * levels without complaint), so whatever writes them as JSON goes through stringifyJson.
 * Invariant: stringifyJson(v) === JSON.stringify(v) for every v JSON.stringify can handle (no
 * replacer, no indentation); deep documents take the iterative path, which follows the same rules
 * (toJSON, undefined/functions/symbols skipped in objects and null in arrays, non-finite numbers
 * null, bigint a TypeError).
 */

/**
 * JSON.stringify(value), without a depth limit. With `sortKeys`, object keys are written in
 * sorted order (a canonical form, e.g. to hash arguments); otherwise in insertion order.
 */
export function stringifyJson(value: unknown, sortKeys = false): string {
  if (sortKeys) return stringifyIteratively(value, true);
  try {
    return JSON.stringify(value);
  } catch (e: unknown) {
    if (!(e instanceof RangeError)) throw e;
  }
  return stringifyIteratively(value);
}

interface Open {
  readonly array: boolean;
  readonly holder: unknown[] | Record<string, unknown>;
  readonly keys: readonly string[] | undefined;
  i: number;
  /** Something was written into this container already (a comma goes before the next item). */
  wrote: boolean;
}

/** The iterative path, exported for tests (it must agree with JSON.stringify on shallow input). */
export function stringifyIteratively(value: unknown, sortKeys = false): string {
  const out: string[] = [];
  const stack: Open[] = [];
  const seen = new Set<object>();
  let top: Open | undefined;
  let v = toJsonValue(value, '');
  if (v === undefined) return undefined as unknown as string; // as JSON.stringify(undefined)
  for (;;) {
    // Write v (a JSON-able value), opening a container if it is one.
    if (v !== undefined) {
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) throw new TypeError('Converting circular structure to JSON');
        seen.add(v);
        const array = Array.isArray(v);
        out.push(array ? '[' : '{');
        if (top !== undefined) stack.push(top);
        const keys = array ? undefined : Object.keys(v);
        if (sortKeys) keys?.sort();
        top = { array, holder: v as unknown[] | Record<string, unknown>, keys, i: 0, wrote: false };
      } else {
        out.push(scalarText(v));
      }
    }
    // Find the next item to write, closing finished containers.
    v = undefined;
    for (;;) {
      if (top === undefined) return out.join('');
      if (top.array) {
        const a = top.holder as unknown[];
        if (top.i < a.length) {
          const idx = top.i++;
          if (top.wrote) out.push(',');
          top.wrote = true;
          v = toJsonValue(a[idx], String(idx));
          if (v === undefined) v = null;
          break;
        }
      } else {
        const keys = top.keys!;
        let found = false;
        while (top.i < keys.length) {
          const k = keys[top.i++]!;
          const x = toJsonValue((top.holder as Record<string, unknown>)[k], k);
          if (x === undefined) continue;
          if (top.wrote) out.push(',');
          top.wrote = true;
          out.push(JSON.stringify(k), ':');
          v = x;
          found = true;
          break;
        }
        if (found) break;
      }
      out.push(top.array ? ']' : '}');
      seen.delete(top.holder);
      top = stack.pop();
    }
  }
}

/** Apply toJSON and drop what JSON skips (undefined result = skipped). */
function toJsonValue(v: unknown, key: string): unknown {
  if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON(key: string): unknown }).toJSON(key);
  }
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    // Boxed primitives serialise as their primitive value.
    if (v instanceof Number || v instanceof String || v instanceof Boolean) return v.valueOf();
  }
  return v;
}

function scalarText(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'number': return Number.isFinite(v) ? String(v) : 'null';
    case 'string': return JSON.stringify(v);
    case 'bigint': throw new TypeError('Do not know how to serialize a BigInt');
    default: return 'null';
  }
}
