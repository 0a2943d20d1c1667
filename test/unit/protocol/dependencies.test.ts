/**
 * DESIGN dependency rule: protocol is pure and imports only src/core and itself (plus node:
 * built-ins) — never server, broker, store, management or cli.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './arbitraries.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('src/protocol imports', () => {
  it('only core, protocol and node built-ins', () => {
    const root = join(repoRoot, 'src', 'protocol');
    const bad: string[] = [];
    for (const f of files(root)) {
      for (const m of readFileSync(f, 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        const target = relative(join(repoRoot, 'src'), resolve(dirname(f), spec));
        if (!spec.startsWith('.') || !(target.startsWith('core/') || target.startsWith('protocol/'))) bad.push(`${relative(repoRoot, f)} -> ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
