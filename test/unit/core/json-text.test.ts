/**
 * stringifyJson by example: works where V8's recursive JSON.stringify runs out of native stack
 * (deeply nested definitions); identical to JSON.stringify elsewhere: json-text.prop.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { stringifyIteratively, stringifyJson } from '../../../src/core/json-text.js';

describe('stringifyJson', () => {

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
