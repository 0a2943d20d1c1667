import { describe, expect, it } from 'vitest';
import { Binding } from '../../../src/broker/binding.js';
import { Exchange } from '../../../src/broker/exchange.js';
import { MemoryMeter } from '../../../src/broker/memory-meter.js';
import { Message } from '../../../src/broker/message.js';
import { Queue } from '../../../src/broker/queue.js';
import { headersMatch, looseEquals, TopicRouter } from '../../../src/broker/router.js';
import { parseQueueArguments } from '../../../src/broker/queue-arguments.js';
import { EMPTY_TABLE, fv, tableFrom, type FieldTable, type FieldValue } from '../../../src/core/field-value.js';

function message(routingKey: string, headers?: FieldTable): Message {
  return new Message('x', routingKey, Buffer.alloc(2), Buffer.alloc(0), 0, 0, undefined,
    headers === undefined ? -1 : 0, headers === undefined ? -1 : 0, { decodeTable: () => headers ?? EMPTY_TABLE, rewrite: () => { throw new Error('unused'); },
    identity: () => ({ messageId: undefined, replyTo: undefined }) });
}

const meter = new MemoryMeter(1e12);
const x = new Exchange('t', '/', 'topic', false, false, false, EMPTY_TABLE);

function topicMatches(pattern: string, key: string): boolean {
  const r = new TopicRouter();
  const q = new Queue('q', '/', { durable: false, exclusiveOwner: -1, autoDelete: false, arguments: EMPTY_TABLE, settings: parseQueueArguments(EMPTY_TABLE, 'q', '/') }, meter, undefined);
  r.add(new Binding(x, q, pattern, EMPTY_TABLE));
  const out: unknown[] = [];
  r.route(message(key), out as never);
  return out.length > 0;
}

describe('topic matching (RabbitMQ semantics)', () => {
  const table: [string, string, boolean][] = [
    ['a.b.c', 'a.b.c', true],
    ['a.b.c', 'a.b', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
    ['a.*', 'a', false],
    ['*', '', false],
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['a.#.c', 'a.c', true],
    ['a.#.c', 'a.b.b.c', true],
    ['a.#.c', 'a.b.b.d', false],
    ['#.c', 'c', true],
    ['#.#', '', true],
    ['*.#', '', false],
    ['*.#', 'a', true],
    ['', '', true],
    ['', 'a', false],
    ['a..b', 'a..b', true],
    ['a.*.b', 'a..b', true],
    ['#.a.#', 'b.a.c', true],
    ['*.*', 'a.b.c', false],
    ['a.#.#.b', 'a.b', true],
  ];
  for (const [pattern, key, expected] of table) {
    it(`'${pattern}' ${expected ? 'matches' : 'does not match'} '${key}'`, () => {
      expect(topicMatches(pattern, key)).toBe(expected);
    });
  }

  it('prunes the trie when bindings go, and still matches the others', () => {
    const r = new TopicRouter();
    const q = new Queue('q', '/', { durable: false, exclusiveOwner: -1, autoDelete: false, arguments: EMPTY_TABLE, settings: parseQueueArguments(EMPTY_TABLE, 'q', '/') }, meter, undefined);
    const b1 = new Binding(x, q, 'a.*.c', EMPTY_TABLE);
    const b2 = new Binding(x, q, 'a.#', EMPTY_TABLE);
    r.add(b1); r.add(b2);
    r.remove(b2);
    const out: unknown[] = [];
    r.route(message('a.b.c'), out as never);
    expect(out).toHaveLength(1);
    out.length = 0;
    r.route(message('a.b'), out as never);
    expect(out).toHaveLength(0);
  });
});

describe('headers matching', () => {
  const h = tableFrom({ format: 'pdf', type: 'report', 'x-tag': 'v', n: 1 });
  const table: [string, Record<string, unknown>, FieldTable | undefined, boolean][] = [
    ['all', { format: 'pdf', type: 'report' }, h, true],
    ['all', { format: 'pdf', type: 'log' }, h, false],
    ['any', { format: 'pdf', type: 'log' }, h, true],
    ['any', { format: 'zip', type: 'log' }, h, false],
    ['all', {}, h, true],
    ['any', {}, h, false],
    ['all', { 'x-tag': 'other' }, h, true],
    ['all-with-x', { 'x-tag': 'other' }, h, false],
    ['all-with-x', { 'x-tag': 'v' }, h, true],
    ['any', { 'x-tag': 'v' }, h, false],
    ['any-with-x', { 'x-tag': 'v' }, h, true],
    ['all', { format: null }, h, true],
    ['all', { missing: null }, h, false],
    ['all', { format: 'pdf' }, undefined, false],
    ['all', { n: { type: 'l', value: 1 } }, h, true],
    ['all', { n: { type: 'd', value: 1 } }, h, true],
    ['all', { n: 2 }, h, false],
  ];
  for (const [mode, args, headers, expected] of table) {
    it(`${mode} ${JSON.stringify(args)} -> ${expected}`, () => {
      const bindingArgs: FieldTable = [{ key: 'x-match', value: fv.str(mode) }, ...tableFrom(args)];
      expect(headersMatch(mode as 'all', bindingArgs, headers)).toBe(expected);
    });
  }
});

describe('headers matching at any depth', () => {
  /** { k: [ { k: [ ... leaf ] } ] }: tables and arrays alternating, `depth` levels, no recursion. */
  function deep(depth: number, leaf: number): FieldTable {
    let v: FieldValue = { type: 'I', value: leaf };
    for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { type: 'A', value: [v] } : { type: 'F', value: [{ key: 'k', value: v }] };
    return [{ key: 'k', value: v }];
  }

  it('nested values 100,000 levels deep compare without exhausting the stack (numbers loosely)', () => {
    const args: FieldTable = [{ key: 'x-match', value: fv.str('all') }, ...deep(100_000, 7)];
    expect(looseEquals({ type: 'F', value: deep(100_000, 7) }, { type: 'F', value: deep(100_000, 7) })).toBe(true);
    expect(headersMatch('all', args, deep(100_000, 7))).toBe(true);
    expect(headersMatch('all', args, deep(100_000, 8))).toBe(false);
    expect(headersMatch('all', args, deep(99_999, 7))).toBe(false);
    expect(looseEquals({ type: 'A', value: [{ type: 'I', value: 1 }] }, { type: 'A', value: [{ type: 'd', value: 1 }] })).toBe(true);
    expect(looseEquals({ type: 'A', value: [] }, { type: 'F', value: [] })).toBe(false);
  });
});
