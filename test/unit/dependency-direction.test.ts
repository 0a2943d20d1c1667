/**
 * The one-way dependency rule of DESIGN.md: protocol <- server -> broker -> store, with core a leaf
 * that protocol, server and broker may import; only cli wires everything. Scans every import in
 * src/** and fails on a forbidden edge.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

const ALLOWED: Record<string, readonly string[]> = {
  core: ['core'],
  protocol: ['protocol', 'core'],
  store: ['store', 'core'],
  broker: ['broker', 'core', 'store'],
  server: ['server', 'core', 'protocol', 'broker'],
  management: ['management', 'core', 'broker'],
  cli: ['cli', 'core', 'protocol', 'server', 'broker', 'store', 'management'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('dependency direction', () => {
  it('no module imports against the one-way rule', () => {
    const violations: string[] = [];
    for (const file of files(src)) {
      const area = relative(src, file).split('/')[0]!;
      const allowed = ALLOWED[area];
      expect(allowed, `unknown area ${area}`).toBeDefined();
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = relative(src, resolve(dirname(file), m[1]!)).split('/')[0]!;
        if (!allowed!.includes(target)) violations.push(`${relative(src, file)} imports ${m[1]} (${area} -> ${target})`);
      }
    }
    expect(violations).toEqual([]);
  });
});
