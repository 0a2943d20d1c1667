/**
 * Fuzzer findings kept as regression tests: each (seed, connection index) is replayed against a
 * fresh Warren child process (the same bytes, chunking and pauses as when it was found) and must
 * pass every check of the network fuzzer. Add a line for every failing seed once it is fixed.
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../fuzz/engine/campaign.js';

const FOUND: { seed: number; indexes: number[]; what: string }[] = [
  {
    seed: 7, indexes: [19],
    what: 'an unmutated trace with a durable queue.declare nesting its arguments ~2,900 levels deep got 501 '
      + '"cannot decode" (recursive decoder), and deep ones that decoded broke the definitions save (541) for everyone (fixed in 8ac6224)',
  },
];

describe('fuzzer regressions', () => {
  for (const f of FOUND) {
    it(`seed ${f.seed}, connection ${f.indexes.join(',')}: ${f.what}`, async () => {
      const report = await runCampaign({ seconds: 0, seed: f.seed, replay: f.indexes, concurrency: 1 });
      expect(report.failures.map((x) => x.what)).toEqual([]);
      expect(report.connections).toBe(f.indexes.length);
    }, 120_000);
  }
});
