/**
 * Field-value helpers: equality, plain conversions and table building work at any nesting depth
 * (a client chooses the depth; the call stack must not), and agree with the shallow semantics.
 */
import { describe, expect, it } from 'vitest';
import {
  fieldEquals, tableEquals, tableFrom, tableToPlain, valueToPlain, type FieldTable, type FieldValue,
} from '../../../src/core/field-value.js';

const DEPTH = 100_000;

/** { a: { a: ... { a: leaf } } } with `depth` tables, built without recursion. */
export function deepTable(depth: number, leaf: FieldValue = { type: 't', value: true }): FieldTable {
  let t: FieldTable = [{ key: 'a', value: leaf }];
  for (let i = 1; i < depth; i++) t = [{ key: 'a', value: { type: 'F', value: t } }];
  return t;
}

function deepArray(depth: number, leaf: FieldValue): FieldValue {
  let v: FieldValue = leaf;
  for (let i = 0; i < depth; i++) v = { type: 'A', value: [v] };
  return v;
}

describe('field values at any depth', () => {
  it('fieldEquals / tableEquals compare 100,000-level tables and arrays', () => {
    expect(tableEquals(deepTable(DEPTH), deepTable(DEPTH))).toBe(true);
    expect(tableEquals(deepTable(DEPTH), deepTable(DEPTH, { type: 't', value: false }))).toBe(false);
    expect(tableEquals(deepTable(DEPTH), deepTable(DEPTH - 1))).toBe(false);
    const s = (x: string): FieldValue => ({ type: 'S', value: Buffer.from(x) });
    expect(fieldEquals(deepArray(DEPTH, s('x')), deepArray(DEPTH, s('x')))).toBe(true);
    expect(fieldEquals(deepArray(DEPTH, s('x')), deepArray(DEPTH, s('y')))).toBe(false);
  });

  it('shallow equality semantics are unchanged: tags matter, table order does not, duplicates looked up by first occurrence', () => {
    const i = (n: number): FieldValue => ({ type: 'I', value: n });
    expect(fieldEquals(i(1), { type: 'l', value: 1 })).toBe(false);
    expect(tableEquals([{ key: 'a', value: i(1) }, { key: 'b', value: i(2) }], [{ key: 'b', value: i(2) }, { key: 'a', value: i(1) }])).toBe(true);
    expect(tableEquals([{ key: 'a', value: i(1) }, { key: 'a', value: i(9) }], [{ key: 'a', value: i(1) }, { key: 'a', value: i(1) }])).toBe(false);
    expect(tableEquals([{ key: 'a', value: i(1) }, { key: 'a', value: i(1) }], [{ key: 'a', value: i(1) }, { key: 'a', value: i(9) }])).toBe(true);
    expect(fieldEquals({ type: 'D', scale: 1, value: 5 }, { type: 'D', scale: 2, value: 5 })).toBe(false);
    expect(fieldEquals({ type: 'V' }, { type: 'V' })).toBe(true);
    expect(fieldEquals({ type: 'A', value: [i(1)] }, { type: 'A', value: [i(1), i(1)] })).toBe(false);
  });

  it('tableToPlain / valueToPlain convert 100,000 levels', () => {
    let plain = tableToPlain(deepTable(DEPTH)) as Record<string, unknown>;
    let depth = 1;
    while (typeof plain['a'] === 'object') { plain = plain['a'] as Record<string, unknown>; depth++; }
    expect(depth).toBe(DEPTH);
    expect(plain).toEqual({ a: true });
    let arr = valueToPlain(deepArray(DEPTH, { type: 'V' }));
    let n = 0;
    while (Array.isArray(arr)) { arr = arr[0]; n++; }
    expect(n).toBe(DEPTH);
    expect(arr).toBeNull();
  });

  it('tableToPlain keeps the first duplicate and makes "__proto__" and "toString" own keys', () => {
    const t: FieldTable = [
      { key: 'toString', value: { type: 'I', value: 1 } },
      { key: '__proto__', value: { type: 'F', value: [{ key: 'x', value: { type: 'I', value: 2 } }] } },
      { key: 'k', value: { type: 'S', value: Buffer.from('first') } },
      { key: 'k', value: { type: 'S', value: Buffer.from('second') } },
    ];
    const p = tableToPlain(t);
    expect(Object.keys(p)).toEqual(['toString', '__proto__', 'k']);
    expect(p['toString']).toBe(1);
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(p['k']).toBe('first');
  });

  it('tableFrom builds 100,000 levels from plain objects and arrays', () => {
    let obj: Record<string, unknown> = { leaf: 'x' };
    for (let i = 1; i < DEPTH; i++) obj = { a: i % 2 === 0 ? obj : [obj] };
    const t = tableFrom(obj);
    expect(tableEquals(t, tableFrom(obj))).toBe(true);
    expect(tableFrom({ s: 'a', b: true, n: 3, big: 2 ** 40, d: 1.5, z: null, x: Buffer.from([1]), arr: [1, 'b'], o: { k: false } }))
      .toEqual([
        { key: 's', value: { type: 'S', value: Buffer.from('a') } },
        { key: 'b', value: { type: 't', value: true } },
        { key: 'n', value: { type: 'I', value: 3 } },
        { key: 'big', value: { type: 'l', value: 2 ** 40 } },
        { key: 'd', value: { type: 'd', value: 1.5 } },
        { key: 'z', value: { type: 'V' } },
        { key: 'x', value: { type: 'x', value: Buffer.from([1]) } },
        { key: 'arr', value: { type: 'A', value: [{ type: 'I', value: 1 }, { type: 'S', value: Buffer.from('b') }] } },
        { key: 'o', value: { type: 'F', value: [{ key: 'k', value: { type: 't', value: false } }] } },
      ]);
  });
});
