/**
 * Replaying definition changes (definition-changes.ts) against a plain model: any sequence of puts
 * and deletes over queues, bindings, users, permissions and vhosts ends in the model's state, the
 * records survive encode/decode unchanged, and replay is idempotent (a suffix applied again to a
 * state that already contains it changes nothing), which recovery relies on.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeDefinitionChange, definitionKey, DefinitionsState, encodeDefinitionChange, type DefinitionChange,
} from '../../../src/store/definition-changes.js';
import { stringifyJson } from '../../../src/core/json-text.js';

const name = fc.constantFrom('a', 'b', 'c');
const vhost = fc.constantFrom('/', 'v');
const args = fc.constantFrom({}, { 'x-max-length': 1 }, { k: [1, { n: null }] });

const change: fc.Arbitrary<DefinitionChange> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), kind: fc.constant('queues' as const),
    value: fc.record({ name, vhost, durable: fc.constant(true), auto_delete: fc.boolean(), arguments: args }) }),
  fc.record({ op: fc.constant('delete' as const), kind: fc.constant('queues' as const), value: fc.record({ name, vhost }) }),
  fc.record({ op: fc.constantFrom('put' as const, 'delete' as const), kind: fc.constant('bindings' as const),
    value: fc.record({ source: name, vhost, destination: name, destination_type: fc.constantFrom('queue' as const, 'exchange' as const),
      routing_key: name, arguments: args }) }),
  fc.record({ op: fc.constant('put' as const), kind: fc.constant('users' as const),
    value: fc.record({ name, password_hash: fc.constant(''), hashing_algorithm: fc.constant('x'), tags: fc.constant([]) }) }),
  fc.record({ op: fc.constant('delete' as const), kind: fc.constant('users' as const), value: fc.record({ name }) }),
  fc.record({ op: fc.constant('put' as const), kind: fc.constant('permissions' as const),
    value: fc.record({ user: name, vhost, configure: fc.constant('.*'), write: fc.constant('.*'), read: name }) }),
  fc.record({ op: fc.constantFrom('put' as const, 'delete' as const), kind: fc.constant('vhosts' as const), value: fc.record({ name: vhost }) }),
) as fc.Arbitrary<DefinitionChange>;

/** The model: one map per list, cascades written out plainly. */
function model(changes: readonly DefinitionChange[]): Record<string, Map<string, unknown>> {
  const lists: Record<string, Map<string, unknown>> = {};
  for (const c of changes) {
    const m = (lists[c.kind] ??= new Map());
    const key = definitionKey(c.kind, c.value);
    if (c.op === 'put') { m.set(key, c.value); continue; }
    m.delete(key);
    const v = c.value as { name?: string };
    for (const [kind, other] of Object.entries(lists)) {
      for (const [k, e] of other) {
        const x = e as { vhost?: string; user?: string };
        if (c.kind === 'vhosts' && kind !== 'vhosts' && kind !== 'users' && x.vhost === v.name) other.delete(k);
        if (c.kind === 'users' && (kind === 'permissions' || kind === 'topic_permissions') && x.user === v.name) other.delete(k);
      }
    }
  }
  return lists;
}

function sorted(doc: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (Array.isArray(v) && v.length > 0) out[k] = v.map((x) => stringifyJson(x)).sort();
  }
  return out;
}

describe('definition changes', () => {
  it('replay equals the model; encode/decode is lossless; replay is idempotent', () => {
    fc.assert(fc.property(fc.array(change, { maxLength: 60 }), fc.nat(), (changes, cut) => {
      const state = new DefinitionsState();
      for (const c of changes) state.apply(decodeDefinitionChange(encodeDefinitionChange(c)));
      const got = sorted(state.toDefinitions() as unknown as Record<string, unknown>);
      const want: Record<string, string[]> = {};
      for (const [k, m] of Object.entries(model(changes))) {
        if (m.size > 0) want[k] = [...m.values()].map((x) => stringifyJson(x)).sort();
      }
      expect(got).toEqual(want);

      // A snapshot taken after everything, then a suffix replayed again: same state.
      const from = changes.length === 0 ? 0 : cut % changes.length;
      const again = new DefinitionsState(state.toDefinitions());
      for (const c of changes.slice(from)) again.apply(c);
      expect(sorted(again.toDefinitions() as unknown as Record<string, unknown>)).toEqual(got);
    }), { numRuns: 300 });
  });
});
