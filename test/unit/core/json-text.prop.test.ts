/**
 * Property tests (fast-check) of the JSON text helpers: parse/serialize round trips at any depth.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringifyIteratively, stringifyJson } from '../../../src/core/json-text.js';

describe('stringifyJson (property)', () => {
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
});
