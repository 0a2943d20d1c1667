/**
 * Fuzzer findings kept as regression tests: each (seed, connection index) is replayed against a
 * fresh Warren child process (the same bytes, chunking and pauses as when it was found) and must
 * pass every check of the network fuzzer. Add an entry for every failing seed once it is fixed.
 * An entry pins the hash of the bytes it sends: when the engine's traces or mutations change, the
 * seed no longer means the same input and the test says so. Then find a new seed for the finding
 * (e.g. run the fuzzer with --cli against a build from before the fix) and update the entry.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runCampaign, runTagOf } from '../../fuzz/engine/campaign.js';
import { connectionTrace } from '../../fuzz/engine/fuzz-connection.js';

const FOUND: { seed: number; index: number; sha256: string; what: string }[] = [
  {
    seed: 7, index: 501, sha256: '8314e1ce34282e8c',
    what: 'an unmutated trace whose durable queue.declare nests its arguments ~6,000 levels deep got 501 "cannot decode" '
      + '(recursive decoder); declared deep ones broke the definitions save (541) for everyone after (fixed in 8ac6224)',
  },
  {
    seed: 3506212857, index: 445, sha256: '877b2daa8af8731d',
    what: 'an early connection.close: the fuzzer\'s client, which ends its socket after close-ok (the broker leaves that to '
      + 'the client, as RabbitMQ), kept writing the rest of its trace (ERR_STREAM_WRITE_AFTER_END)',
  },
];

describe('fuzzer regressions', () => {
  for (const f of FOUND) {
    it(`seed ${f.seed}, connection ${f.index}: ${f.what}`, async () => {
      const bytes = connectionTrace(f.seed, f.index, runTagOf(f.seed)).bytes;
      expect(createHash('sha256').update(bytes).digest('hex').slice(0, 16), 'the fuzz engine changed: this seed is another input now').toBe(f.sha256);
      const report = await runCampaign({ seconds: 0, seed: f.seed, replay: [f.index], concurrency: 1 });
      expect(report.failures.map((x) => x.what)).toEqual([]);
      expect(report.connections).toBe(1);
    }, 120_000);
  }
});
