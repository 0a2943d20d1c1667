/**
 * Field-table value types (AMQP 0-9-1 as RabbitMQ implements it: t b B s u I i l f d D S x A T F V).
 * Values are tagged so that a decoded table re-encodes byte-exactly (type tags, entry order and
 * duplicate keys are preserved). Long strings ('S') are kept as bytes: RabbitMQ compares them as
 * binaries and they need not be UTF-8. 'l' and 'T' are numbers when safe integers, bigints otherwise.
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

/** Structural equality of two values, tags included (RabbitMQ's equivalence checks compare typed values). */
export function fieldEquals(a: FieldValue, b: FieldValue): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'V':
      return true;
    case 'S': case 'x':
      return a.value.equals((b as typeof a).value);
    case 'A': {
      const bv = (b as typeof a).value;
      if (a.value.length !== bv.length) return false;
      for (let i = 0; i < bv.length; i++) if (!fieldEquals(a.value[i]!, bv[i]!)) return false;
      return true;
    }
    case 'F':
      return tableEquals(a.value, (b as typeof a).value);
    case 'D':
      return a.scale === (b as typeof a).scale && a.value === (b as typeof a).value;
    default:
      return a.value === (b as { value: unknown }).value;
  }
}

/** Order-insensitive table equality (keys compared by their first occurrence). */
export function tableEquals(a: FieldTable, b: FieldTable): boolean {
  if (a.length !== b.length) return false;
  for (const e of a) {
    const o = tableGet(b, e.key);
    if (o === undefined || !fieldEquals(e.value, o)) return false;
  }
  return true;
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

/** Build a table from plain JS values (strings -> S, booleans -> t, integers -> I/l, objects -> F). */
export function tableFrom(obj: Readonly<Record<string, unknown>>): FieldTable {
  const out: FieldEntry[] = [];
  for (const key of Object.keys(obj)) out.push({ key, value: valueFrom(obj[key]) });
  return out;
}

function valueFrom(v: unknown): FieldValue {
  if (typeof v === 'string') return fv.str(v);
  if (typeof v === 'boolean') return fv.bool(v);
  if (typeof v === 'bigint') return fv.long(v);
  if (typeof v === 'number') return Number.isInteger(v) ? fv.int(v) : { type: 'd', value: v };
  if (v === null || v === undefined) return fv.void();
  if (Buffer.isBuffer(v)) return { type: 'x', value: v };
  if (Array.isArray(v)) return fv.array(v.map(valueFrom));
  if (typeof v === 'object' && 'type' in v) return v as FieldValue;
  return fv.table(tableFrom(v as Record<string, unknown>));
}

/** Plain JS view of a table, for logs, management and tests (loses type tags). */
export function tableToPlain(t: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of t) if (!(e.key in out)) out[e.key] = valueToPlain(e.value);
  return out;
}

export function valueToPlain(v: FieldValue): unknown {
  switch (v.type) {
    case 'V': return null;
    case 'S': return v.value.toString('utf8');
    case 'x': return v.value;
    case 'A': return v.value.map(valueToPlain);
    case 'F': return tableToPlain(v.value);
    case 'D': return v.value / Math.pow(10, v.scale);
    default: return v.value;
  }
}
