/**
 * stringifyJson: identical to JSON.stringify wherever JSON.stringify works, and still works where
 * V8's recursive JSON.stringify runs out of native stack (deeply nested definitions).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringifyIteratively, stringifyJson } from '../../../src/core/json-text.js';

describe('stringifyJson', () => {
  it('the iterative path agrees with JSON.stringify on arbitrary JSON-like values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(stringifyIteratively(v)).toBe(JSON.stringify(v));
    }), { numRuns: 1000 });
    fc.assert(fc.property(fc.anything({ withBoxedValues: true, withNullPrototype: true, withSparseArray: true }), (v) => {
      let expected: string | undefined;
      let threw = false;
      try { expected = JSON.stringify(v); } catch { threw = true; }
      if (threw) expect(() => stringifyIteratively(v)).toThrow();
      else expect(stringifyIteratively(v)).toBe(expected);
    }), { numRuns: 1000 });
  });

  it('follows JSON.stringify on the odd cases', () => {
    const odd: unknown[] = [
      undefined, null, -0, NaN, Infinity, 'é"\\\n\u2028', [undefined, () => 1, Symbol('s')],
      { a: undefined, b: () => 1, c: 1 }, { d: new Date(0) }, { b: Buffer.from([1, 2]) }, {}, [], [[]], { '': { '': {} } },
    ];
    for (const v of odd) expect(stringifyIteratively(v)).toBe(JSON.stringify(v));
    expect(() => stringifyIteratively({ n: 1n })).toThrow(TypeError);
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    expect(() => stringifyIteratively(circular)).toThrow(TypeError);
  });

  it('sortKeys: the canonical form (sorted keys at every level) of any JSON value, at any depth', () => {
    // The recursive reference (what the management API's binding keys used before): keys sorted as strings.
    const canonical = (v: unknown): string => {
      if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
      if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
    };
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(stringifyJson(v, true)).toBe(canonical(v));
    }), { numRuns: 1000 });
    let deep: unknown = { z: 1, a: 2 };
    for (let i = 0; i < 50_000; i++) deep = { y: deep, b: i };
    expect(stringifyJson(deep, true).startsWith('{"b":49999,"y":{"b":49998,"y":')).toBe(true);
  });

  it('writes documents nested 100,000 levels deep, and JSON.parse reads them back', () => {
    let o: unknown = { leaf: [1, 'x'] };
    for (let i = 0; i < 100_000; i++) o = i % 2 === 0 ? { a: o, b: i } : [o];
    expect(() => JSON.stringify(o)).toThrow(RangeError);
    const text = stringifyJson(o);
    const back = JSON.parse(text) as unknown;
    expect(stringifyJson(back)).toBe(text);
    expect(text.startsWith('[{"a":[{"a":')).toBe(true);
  });
});
