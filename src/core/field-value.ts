/**
 * Field-table value types (AMQP 0-9-1 as RabbitMQ implements it: t b B s u I i l f d D S x A T F V).
 * Values are tagged so that a decoded table re-encodes byte-exactly (type tags, entry order and
 * duplicate keys are preserved). Long strings ('S') are kept as bytes: RabbitMQ compares them as
 * binaries and they need not be UTF-8. 'l' and 'T' are numbers when safe integers, bigints otherwise.
 * Every helper here that walks nested values uses a work list, not recursion: clients choose the
 * nesting depth (a 128 KiB frame holds over 20,000 levels), so the call stack must not bound it.
 */
export type FieldValue =
  | { readonly type: 't'; readonly value: boolean }
  | { readonly type: 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'f' | 'd'; readonly value: number }
  | { readonly type: 'l' | 'T'; readonly value: number | bigint }
  | { readonly type: 'D'; readonly scale: number; readonly value: number }
  | { readonly type: 'S' | 'x'; readonly value: Buffer }
  | { readonly type: 'A'; readonly value: readonly FieldValue[] }
  | { readonly type: 'F'; readonly value: FieldTable }
  | { readonly type: 'V' };

export interface FieldEntry {
  readonly key: string;
  readonly value: FieldValue;
}

/** Entries in wire order. Lookups are linear: tables are small. */
export type FieldTable = readonly FieldEntry[];

export const EMPTY_TABLE: FieldTable = Object.freeze([]) as FieldTable;

/** The first entry with this key (RabbitMQ looks tables up with lists:keyfind, which finds the first). */
export function tableGet(table: FieldTable | undefined, key: string): FieldValue | undefined {
  if (table === undefined) return undefined;
  for (let i = 0; i < table.length; i++) {
    const e = table[i]!;
    if (e.key === key) return e.value;
  }
  return undefined;
}

export function tableHas(table: FieldTable | undefined, key: string): boolean {
  return tableGet(table, key) !== undefined;
}

/** The value as a JS string if it is a long string ('S'), else undefined. */
export function fieldString(v: FieldValue | undefined): string | undefined {
  return v !== undefined && v.type === 'S' ? v.value.toString('utf8') : undefined;
}

/** The value as a JS number if it is any integer or float type, else undefined. */
export function fieldNumber(v: FieldValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  switch (v.type) {
    case 'b': case 'B': case 's': case 'u': case 'I': case 'i': case 'f': case 'd':
      return v.value;
    case 'l': case 'T':
      return typeof v.value === 'bigint' ? Number(v.value) : v.value;
    default:
      return undefined;
  }
}

export function fieldIsInteger(v: FieldValue | undefined): boolean {
  if (v === undefined) return false;
  switch (v.type) {
    case 'b': case 'B': case 's': case 'u': case 'I': case 'i': case 'l': case 'T':
      return true;
    default:
      return false;
  }
}

export function fieldBoolean(v: FieldValue | undefined): boolean | undefined {
  return v !== undefined && v.type === 't' ? v.value : undefined;
}

/**
 * Structural equality of two values, tags included (RabbitMQ's equivalence checks compare typed
 * values). Tables compare order-insensitively (keys by their first occurrence). Nested values are
 * compared from a work list, never by recursion, so any depth a frame can carry is fine.
 */
export function fieldEquals(a: FieldValue, b: FieldValue): boolean {
  const work: FieldValue[] = [a, b];
  while (work.length > 0) {
    const y = work.pop()!;
    const x = work.pop()!;
    if (x.type !== y.type) return false;
    switch (x.type) {
      case 'V':
        break;
      case 'S': case 'x':
        if (!x.value.equals((y as typeof x).value)) return false;
        break;
      case 'A': {
        const yv = (y as typeof x).value;
        if (x.value.length !== yv.length) return false;
        for (let i = 0; i < yv.length; i++) work.push(x.value[i]!, yv[i]!);
        break;
      }
      case 'F':
        if (!pushTablePairs(x.value, (y as typeof x).value, work)) return false;
        break;
      case 'D':
        if (x.scale !== (y as typeof x).scale || x.value !== (y as typeof x).value) return false;
        break;
      default:
        if (x.value !== (y as { value: unknown }).value) return false;
    }
  }
  return true;
}

/** Queue the value pairs two tables must agree on; false when their keys already differ. */
function pushTablePairs(a: FieldTable, b: FieldTable, work: FieldValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const e = a[i]!;
    const o = tableGet(b, e.key);
    if (o === undefined) return false;
    work.push(e.value, o);
  }
  return true;
}

/** Order-insensitive table equality (keys compared by their first occurrence). */
export function tableEquals(a: FieldTable, b: FieldTable): boolean {
  return fieldEquals({ type: 'F', value: a }, { type: 'F', value: b });
}

/** Convenience constructors, mostly for server-properties and tests. */
export const fv = {
  str: (s: string): FieldValue => ({ type: 'S', value: Buffer.from(s, 'utf8') }),
  bool: (b: boolean): FieldValue => ({ type: 't', value: b }),
  int: (n: number): FieldValue =>
    n >= -2147483648 && n <= 2147483647 ? { type: 'I', value: n } : { type: 'l', value: n },
  long: (n: number | bigint): FieldValue => ({ type: 'l', value: n }),
  table: (t: FieldTable): FieldValue => ({ type: 'F', value: t }),
  array: (a: readonly FieldValue[]): FieldValue => ({ type: 'A', value: a }),
  void: (): FieldValue => ({ type: 'V' }),
};

/**
 * Build a table from plain JS values (strings -> S, booleans -> t, integers -> I/l, other numbers
 * -> d, bigints -> l, null/undefined -> V, Buffers -> x, arrays -> A, objects -> F; an object that
 * already has a `type` is taken as a FieldValue). Nested objects are converted from a work list.
 */
export function tableFrom(obj: Readonly<Record<string, unknown>>): FieldTable {
  const root: FieldEntry[] = [];
  const work: { src: unknown; out: FieldEntry[] | FieldValue[] }[] = [{ src: obj, out: root }];
  while (work.length > 0) {
    const { src, out } = work.pop()!;
    const isArray = Array.isArray(src);
    const keys = isArray ? undefined : Object.keys(src as object);
    const n = isArray ? (src as unknown[]).length : keys!.length;
    for (let i = 0; i < n; i++) {
      const x: unknown = isArray ? (src as unknown[])[i] : (src as Record<string, unknown>)[keys![i]!];
      let value: FieldValue;
      if (Array.isArray(x)) {
        const child: FieldValue[] = [];
        value = fv.array(child);
        work.push({ src: x, out: child });
      } else if (typeof x === 'object' && x !== null && !Buffer.isBuffer(x) && !('type' in x)) {
        const child: FieldEntry[] = [];
        value = fv.table(child);
        work.push({ src: x, out: child });
      } else {
        value = scalarFrom(x);
      }
      if (isArray) (out as FieldValue[]).push(value);
      else (out as FieldEntry[]).push({ key: keys![i]!, value });
    }
  }
  return root;
}

function scalarFrom(v: unknown): FieldValue {
  if (typeof v === 'string') return fv.str(v);
  if (typeof v === 'boolean') return fv.bool(v);
  if (typeof v === 'bigint') return fv.long(v);
  if (typeof v === 'number') return Number.isInteger(v) ? fv.int(v) : { type: 'd', value: v };
  if (v === null || v === undefined) return fv.void();
  if (Buffer.isBuffer(v)) return { type: 'x', value: v };
  return v as FieldValue;
}

/**
 * Plain JS view of a table, for logs, management and tests (loses type tags; the first of
 * duplicate keys wins). Built from a work list, so any nesting depth converts.
 */
export function tableToPlain(t: FieldTable): Record<string, unknown> {
  return valueToPlain({ type: 'F', value: t }) as Record<string, unknown>;
}

export function valueToPlain(v: FieldValue): unknown {
  if (v.type !== 'A' && v.type !== 'F') return scalarToPlain(v);
  const root: unknown[] | Record<string, unknown> = v.type === 'A' ? [] : {};
  const work: { src: FieldValue & { type: 'A' | 'F' }; out: unknown[] | Record<string, unknown> }[] = [{ src: v, out: root }];
  while (work.length > 0) {
    const { src, out } = work.pop()!;
    const n = src.value.length;
    for (let i = 0; i < n; i++) {
      let key: string | undefined;
      let x: FieldValue;
      if (src.type === 'F') {
        const e = src.value[i]!;
        if (Object.hasOwn(out, e.key)) continue;
        key = e.key;
        x = e.value;
      } else {
        x = src.value[i]!;
      }
      let plain: unknown;
      if (x.type === 'A' || x.type === 'F') {
        const child: unknown[] | Record<string, unknown> = x.type === 'A' ? [] : {};
        work.push({ src: x, out: child });
        plain = child;
      } else {
        plain = scalarToPlain(x);
      }
      if (key === undefined) (out as unknown[]).push(plain);
      // defineProperty: a key such as "__proto__" must become an own property, not a prototype.
      else Object.defineProperty(out, key, { value: plain, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

function scalarToPlain(v: FieldValue): unknown {
  switch (v.type) {
    case 'V': return null;
    case 'S': return v.value.toString('utf8');
    case 'x': return v.value;
    case 'D': return v.value / Math.pow(10, v.scale);
    case 'A': case 'F': return valueToPlain(v);
    default: return v.value;
  }
}
