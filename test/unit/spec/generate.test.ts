/**
 * The committed src/protocol/generated/* must be exactly what spec/generate.mjs produces from
 * spec/amqp-0-9-1.json: regenerate into a temp dir and diff. Run `npm run generate` after editing the spec.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const committedDir = join(repoRoot, 'src', 'protocol', 'generated');
const tmp = mkdtempSync(join(tmpdir(), 'warren-generate-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('spec/generate.mjs', () => {
  it('regenerates the committed files byte for byte', () => {
    execFileSync(process.execPath, [join(repoRoot, 'spec', 'generate.mjs'), tmp], { stdio: 'pipe' });
    const generated = readdirSync(tmp).sort();
    expect(generated).toEqual(['constants.ts', 'methods.ts', 'properties.ts']);
    expect(readdirSync(committedDir).filter((f) => f.endsWith('.ts')).sort()).toEqual(generated);
    for (const f of generated) {
      const fresh = readFileSync(join(tmp, f), 'utf8');
      const committed = readFileSync(join(committedDir, f), 'utf8');
      expect(committed, `${f} is stale: run npm run generate`).toBe(fresh);
    }
  });

  it('is deterministic', () => {
    const again = mkdtempSync(join(tmpdir(), 'warren-generate-'));
    try {
      execFileSync(process.execPath, [join(repoRoot, 'spec', 'generate.mjs'), again], { stdio: 'pipe' });
      for (const f of readdirSync(again)) expect(readFileSync(join(again, f), 'utf8')).toBe(readFileSync(join(committedDir, f), 'utf8'));
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });
});
