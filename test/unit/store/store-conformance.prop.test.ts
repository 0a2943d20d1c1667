/**
 * Store conformance, model-based: any sequence of enqueue (fanout to several queues, expiry, tag,
 * weight) / deliver / settle / delete / restart (clean or unclean) gives back exactly the model's live
 * entries in order, with their marks and byte counts, on every Store implementation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STORE_IMPLEMENTATIONS, synced } from './store-harness.js';

describe.each(STORE_IMPLEMENTATIONS)('store conformance (property): %s', (_name, makeHarness) => {
  it('matches a model under random enqueue/deliver/settle/restart sequences', async () => {
    type Op =
      | { t: 'pub'; queues: number[]; exp: number; tag: number; weight: number }
      | { t: 'deliver'; q: number; pick: number }
      | { t: 'settle'; q: number; pick: number }
      | { t: 'restart'; clean: boolean }
      | { t: 'delete'; q: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({
        t: fc.constant('pub' as const), queues: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
        exp: fc.constantFrom(Infinity, 0, 1.5e12, 42), tag: fc.constantFrom(0, 1, 0xffffffff), weight: fc.constantFrom(-1, 0, 3, 1000),
      }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('deliver' as const), q: fc.integer({ min: 0, max: 2 }), pick: fc.nat() }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant('settle' as const), q: fc.integer({ min: 0, max: 2 }), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), clean: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('delete' as const), q: fc.integer({ min: 0, max: 2 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const h = await makeHarness();
        try {
          let s = await h.open();
          const model: Array<Array<{ seq: number; body: string; delivered: boolean; exp: number; tag: number; weight: number }>> = [[], [], []];
          let n = 0;
          for (const o of ops) {
            if (o.t === 'pub') {
              const body = `p${n++}`;
              const ref = s.append([Buffer.from(body)]);
              const weight = o.weight < 0 ? body.length : o.weight; // -1: the default (size)
              for (const q of o.queues) {
                const seq = o.weight < 0 ? s.queue(`q${q}`).enqueue(ref, body.length, o.exp, o.tag)
                  : s.queue(`q${q}`).enqueue(ref, body.length, o.exp, o.tag, weight);
                model[q]!.push({ seq, body, delivered: false, exp: o.exp, tag: o.tag, weight });
              }
            } else if (o.t === 'deliver' || o.t === 'settle') {
              const list = model[o.q]!;
              if (list.length === 0) continue;
              const i = o.pick % list.length;
              if (o.t === 'deliver') {
                s.queue(`q${o.q}`).markDelivered(list[i]!.seq);
                list[i]!.delivered = true;
              } else {
                s.queue(`q${o.q}`).settle(list[i]!.seq);
                list.splice(i, 1);
              }
            } else if (o.t === 'delete') {
              s.deleteQueue(`q${o.q}`);
              model[o.q] = [];
            } else {
              if (o.clean) await s.close();
              else await synced(s); // unclean: synced but never closed
              s = await h.open(); // seqs are stable across restarts: the model keeps them
            }
          }
          await synced(s);
          await s.close();
          s = await h.open();
          for (let q = 0; q < 3; q++) {
            const got: Array<{ body: string; delivered: boolean; exp: number; tag: number; weight: number }> = [];
            const c = s.queue(`q${q}`).cursor();
            while (c.next()) {
              got.push({ body: s.readSync(c.ref, c.size).toString(), delivered: c.delivered, exp: c.expiresAt, tag: c.tag, weight: c.weight });
            }
            expect(got).toEqual(model[q]!.map((m) => ({ body: m.body, delivered: m.delivered, exp: m.exp, tag: m.tag, weight: m.weight })));
            expect(s.queue(`q${q}`).bytes).toBe(model[q]!.reduce((n, m) => n + m.weight, 0));
          }
          await s.close();
        } finally {
          await h.cleanup();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
