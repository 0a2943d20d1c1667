/**
 * `npm run fuzz -- [--seconds N] [--seed S] [--concurrency C] [--replay i,j] [--port P] [--cli PATH] [--valid-only] [--json]`:
 * runs a network fuzzing campaign (fuzz/engine/campaign.ts) against Warren started from the build
 * as a child process (or a broker already on 127.0.0.1:P), prints what it covered and every
 * failure with the command that replays it, and exits 1 when anything failed. --valid-only sends
 * the traces unmutated: every one must then be answered without error (e.g. by the reference).
 */
import { parseArgs } from 'node:util';
import { runCampaign, type CampaignReport } from './engine/campaign.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    replay: { type: 'string' },
    port: { type: 'string' },
    cli: { type: 'string' },
    json: { type: 'boolean', default: false },
    'valid-only': { type: 'boolean', default: false },
  },
});

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed) >>> 0;
const report = await runCampaign({
  seconds: Number(values.seconds),
  seed,
  concurrency: Number(values.concurrency),
  mutations: !values['valid-only'],
  ...(values.port === undefined ? {} : { port: Number(values.port) }),
  ...(values.cli === undefined ? {} : { cli: values.cli }),
  ...(values.replay === undefined ? {} : { replay: values.replay.split(',').map(Number) }),
  log: (line) => console.log(`[fuzz] ${line}`),
});
if (values.json) console.log(JSON.stringify(report, null, 2));
else console.log(summary(report));
process.exit(report.failures.length === 0 ? 0 : 1);

function summary(r: CampaignReport): string {
  const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
  const top = (rec: Record<string, number>): string =>
    Object.entries(rec).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ');
  const lines = [
    `seed ${r.seed}: ${r.connections} connections, ${r.framesSent} frames, ${mib(r.bytesSent)} sent in ${r.seconds} s`,
    `outcomes: ${top(r.outcomes)}`,
    `broker closes: ${top(r.brokerCloses)}`,
    `mutations: ${top(r.mutations)}`,
  ];
  if (r.canary !== undefined) {
    lines.push(`canary: ${r.canary.published} published, ${r.canary.confirmed} confirmed, ${r.canary.consumed} consumed, max confirm ${r.canary.maxConfirmMs} ms`);
  }
  if (r.rss !== undefined) lines.push(`broker RSS: baseline ${mib(r.rss.baseline)}, peak ${mib(r.rss.peak)}, after ${mib(r.rss.end)}`);
  if (r.failures.length === 0) lines.push('no failures');
  for (const f of r.failures) {
    lines.push(`FAILURE ${f.index === undefined ? '' : `connection ${f.index} `}${f.what}`);
    if (f.index !== undefined) lines.push(`  replay: npm run fuzz -- --seed ${r.seed} --replay ${f.index}`);
  }
  return lines.join('\n');
}
