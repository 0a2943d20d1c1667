/**
 * Definitions codec: field-table arguments <-> RabbitMQ-style JSON, at any nesting depth (a queue
 * declared with 8,000 nested tables must be storable and come back after a restart).
 */
import { describe, expect, it } from 'vitest';
import { argsFromJson, argsToJson } from '../../../src/broker/definitions-codec.js';
import { stringifyJson } from '../../../src/core/json-text.js';
import type { FieldTable, FieldValue } from '../../../src/core/field-value.js';
import type { JsonArguments } from '../../../src/store/definitions.js';

describe('definitions codec', () => {
  it('converts each field type as RabbitMQ exports it, and back', () => {
    const t: FieldTable = [
      { key: 's', value: { type: 'S', value: Buffer.from('v') } },
      { key: 'l', value: { type: 'l', value: 2n ** 60n } },
      { key: 'i', value: { type: 'I', value: -3 } },
      { key: 'd', value: { type: 'd', value: 1.5 } },
      { key: 'D', value: { type: 'D', scale: 2, value: 150 } },
      { key: 't', value: { type: 't', value: false } },
      { key: 'V', value: { type: 'V' } },
      { key: 'x', value: { type: 'x', value: Buffer.from('bin') } },
      { key: 'A', value: { type: 'A', value: [{ type: 'I', value: 1 }, { type: 'F', value: [] }] } },
      { key: 's', value: { type: 'S', value: Buffer.from('second') } },
    ];
    const json = argsToJson(t);
    expect(json).toEqual({ s: 'v', l: Number(2n ** 60n), i: -3, d: 1.5, D: 1.5, t: false, V: null, x: 'bin', A: [1, {}] });
    expect(argsFromJson(json)).toEqual([
      { key: 's', value: { type: 'S', value: Buffer.from('v') } },
      { key: 'l', value: { type: 'l', value: Number(2n ** 60n) } },
      { key: 'i', value: { type: 'l', value: -3 } },
      { key: 'd', value: { type: 'd', value: 1.5 } },
      { key: 'D', value: { type: 'd', value: 1.5 } },
      { key: 't', value: { type: 't', value: false } },
      { key: 'V', value: { type: 'V' } },
      { key: 'x', value: { type: 'S', value: Buffer.from('bin') } },
      { key: 'A', value: { type: 'A', value: [{ type: 'l', value: 1 }, { type: 'F', value: [] }] } },
    ]);
    expect(argsFromJson(undefined)).toEqual([]);
  });

  it('arguments nested 100,000 levels deep go to JSON text and back', () => {
    const depth = 100_000;
    let v: FieldValue = { type: 'S', value: Buffer.from('leaf') };
    for (let i = 0; i < depth; i++) v = i % 3 === 0 ? { type: 'A', value: [v] } : { type: 'F', value: [{ key: 'a', value: v }] };
    const t: FieldTable = [{ key: 'deep', value: v }];
    const text = stringifyJson({ arguments: argsToJson(t) });
    const back = argsFromJson((JSON.parse(text) as { arguments: JsonArguments }).arguments);
    expect(stringifyJson({ arguments: argsToJson(back) })).toBe(text);
    let n = 0;
    let cur: FieldValue = back[0]!.value;
    while (cur.type === 'A' || cur.type === 'F') { cur = cur.type === 'A' ? cur.value[0]! : cur.value[0]!.value; n++; }
    expect(n).toBe(depth);
    expect(cur).toEqual({ type: 'S', value: Buffer.from('leaf') });
  });
});
