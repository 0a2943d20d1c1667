/**
 * `node dist/bench/profile-summary.js <file.cpuprofile> [top]`: the self-time leaders of a V8 CPU
 * profile (as written by `npm run bench -- --profile <dir>`), aggregated per function and source
 * line, so a before/after optimisation note can quote where the broker's time goes without a GUI.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}
interface CpuProfile { readonly nodes: readonly ProfileNode[]; readonly samples?: readonly number[] }

function main(): void {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 30);
  if (file === undefined) {
    console.error('usage: profile-summary <file.cpuprofile> [top]');
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const hits = new Map<number, number>();
  if (profile.samples !== undefined) for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const byKey = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const h = profile.samples !== undefined ? (hits.get(n.id) ?? 0) : (n.hitCount ?? 0);
    if (h === 0) continue;
    total += h;
    const where = n.callFrame.url === '' ? '' : ` ${n.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
    const key = `${n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName}${where}`;
    byKey.set(key, (byKey.get(key) ?? 0) + h);
  }
  const rows = [...byKey.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`${total} samples`);
  for (const [key, h] of rows) console.log(`${((h / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

main();
