/**
 * The network fuzzer on every `npm test` (issue 11): a bounded campaign (WARREN_FUZZ_SECONDS,
 * default 40 s) of mutated session traces against Warren as a child process, with the canary
 * running. A new seed each run explores new inputs (WARREN_FUZZ_SEED fixes it); a failure prints
 * the seed and the connection index, and `npm run fuzz -- --seed S --replay i` replays it. Add it
 * to regressions.test.ts once fixed. Needs the build (npm test builds first).
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../fuzz/engine/campaign.js';

const seconds = Number(process.env['WARREN_FUZZ_SECONDS'] ?? 40);
const seed = process.env['WARREN_FUZZ_SEED'] === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(process.env['WARREN_FUZZ_SEED']) >>> 0;

describe('network fuzzing', () => {
  it(`${seconds} s of mutated sessions: the broker survives, answers or closes every connection, the canary loses nothing, memory comes back`, async () => {
    const lines: string[] = [];
    const report = await runCampaign({ seconds, seed, concurrency: 6, log: (l) => lines.push(l) });
    const summary = `seed ${seed}: ${report.connections} connections, ${report.framesSent} frames; `
      + `canary ${JSON.stringify(report.canary)}; rss ${JSON.stringify(report.rss)}`;
    console.log(`[fuzz] ${summary}`);
    const failures = report.failures.map((f) => `${f.index === undefined ? '' : `connection ${f.index} (replay: npm run fuzz -- --seed ${seed} --replay ${f.index}): `}${f.what}`);
    expect(failures, `${summary}\n${lines.join('\n')}`).toEqual([]);
    expect(report.connections).toBeGreaterThan(0);
  }, (seconds + 180) * 1000);
});
