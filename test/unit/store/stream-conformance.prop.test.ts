/**
 * Stream conformance, model-based: any sequence of appends (with or without a filter value), syncs,
 * size retention and restarts (clean or unclean) keeps dense offsets, the first offset retention left,
 * and gives back exactly the model's bodies, filtered or not, on every Store implementation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STREAM_IMPLEMENTATIONS, bodiesFrom, pub, readAll, synced } from './store-harness.js';

describe.each(STREAM_IMPLEMENTATIONS)('stream conformance (property): %s', (_name, makeHarness) => {
  it('matches a model under random appends, filters, syncs, retention and restarts', async () => {
    type Op =
      | { t: 'pub'; n: number; filter: number }
      | { t: 'sync' }
      | { t: 'restart'; clean: boolean }
      | { t: 'retain'; maxBytes: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant('pub' as const), n: fc.integer({ min: 1, max: 30 }), filter: fc.integer({ min: 0, max: 3 }) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('sync' as const) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), clean: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('retain' as const), maxBytes: fc.integer({ min: 500, max: 5000 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const h = await makeHarness();
        try {
          let s = await h.open();
          const settings = { maxSegmentBytes: 600 };
          let st = s.stream('m', settings);
          const model: Array<{ body: string; filter: string | undefined }> = [];
          let first = 0;
          for (const o of ops) {
            if (o.t === 'pub') {
              for (let i = 0; i < o.n; i++) {
                const body = `b${model.length}`;
                const filter = o.filter === 0 ? undefined : `f${o.filter}`;
                expect(pub(s, st, body, filter)).toBe(model.length);
                model.push({ body, filter });
              }
            } else if (o.t === 'sync') {
              await synced(s);
            } else if (o.t === 'retain') {
              await synced(s);
              st.configure({ ...settings, maxBytes: o.maxBytes });
              expect(st.firstOffset).toBeGreaterThanOrEqual(first);
              first = st.firstOffset;
              st.configure(settings);
            } else {
              await synced(s);
              if (o.clean) await s.close();
              s = await h.open();
              st = s.stream('m', settings);
              expect(st.nextOffset).toBe(model.length);
              expect(st.firstOffset).toBe(first);
            }
          }
          await synced(s);
          expect(bodiesFrom(st, 0)).toEqual(model.slice(first).map((m) => m.body));
          const r = st.reader(0);
          r.setFilter(['f1'], true);
          expect(readAll(r).map(([, b]) => b)).toEqual(model.slice(first).filter((m) => m.filter === 'f1' || m.filter === undefined).map((m) => m.body));
          await s.close();
        } finally {
          await h.cleanup();
        }
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});
