/**
 * The committed generated code (src/protocol/generated/* and src/core/generated/*) must be exactly
 * what spec/generate.mjs produces from spec/amqp-0-9-1.json: regenerate into temp dirs and diff.
 * Run `npm run generate` after editing the spec.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const committed = { protocol: join(repoRoot, 'src', 'protocol', 'generated'), core: join(repoRoot, 'src', 'core', 'generated') };
const expected = { protocol: ['constants.ts', 'methods.ts', 'properties.ts'], core: ['reply-codes.ts'] };
const temps: string[] = [];

afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });

function generate(): { protocol: string; core: string } {
  const out = { protocol: mkdtempSync(join(tmpdir(), 'warren-generate-')), core: mkdtempSync(join(tmpdir(), 'warren-generate-core-')) };
  temps.push(out.protocol, out.core);
  execFileSync(process.execPath, [join(repoRoot, 'spec', 'generate.mjs'), out.protocol, out.core], { stdio: 'pipe' });
  return out;
}

describe('spec/generate.mjs', () => {
  it('regenerates the committed files byte for byte', () => {
    const fresh = generate();
    for (const area of ['protocol', 'core'] as const) {
      expect(readdirSync(fresh[area]).sort()).toEqual(expected[area]);
      expect(readdirSync(committed[area]).filter((f) => f.endsWith('.ts')).sort()).toEqual(expected[area]);
      for (const f of expected[area]) {
        expect(readFileSync(join(committed[area], f), 'utf8'), `${area}/generated/${f} is stale: run npm run generate`)
          .toBe(readFileSync(join(fresh[area], f), 'utf8'));
      }
    }
  });

  it('is deterministic', () => {
    const a = generate();
    const b = generate();
    for (const area of ['protocol', 'core'] as const) {
      for (const f of expected[area]) expect(readFileSync(join(a[area], f), 'utf8')).toBe(readFileSync(join(b[area], f), 'utf8'));
    }
  });
});
