/**
 * src/store knows nothing of AMQP: it may import node builtins, its own files and src/core, never
 * protocol, server, broker, management or cli (DESIGN.md: protocol <- server -> broker -> store).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('store import boundary', () => {
  it('imports only node builtins, ./ files and ../core', () => {
    const dir = path.resolve(__dirname, '../../../src/store');
    const bad: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(path.join(dir, f), 'utf8');
      for (const m of src.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || spec.startsWith('./') || spec.startsWith('../core/')) continue;
        bad.push(`${f}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
