/**
 * main.ts routes management commands to src/cli/commands without loading it for `warren start`:
 * its list of command names must match the commands that module defines.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ADMIN_COMMANDS, runAdmin } from '../../../src/cli/commands/index.js';

describe('warren command dispatch', () => {
  it("main.ts's ADMIN_COMMANDS names exactly the management commands", async () => {
    const main = readFileSync(new URL('../../../src/cli/main.ts', import.meta.url), 'utf8');
    const set = /const ADMIN_COMMANDS = new Set\(\[([^\]]*)\]\)/.exec(main)?.[1];
    expect(set).toBeDefined();
    const names = [...set!.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([...ADMIN_COMMANDS].sort());
    const out = new PassThrough();
    let help = '';
    out.on('data', (d: Buffer) => { help += d.toString(); });
    expect(await runAdmin(['--help'], { out, err: new PassThrough(), env: {} })).toBe(0);
    for (const c of ADMIN_COMMANDS) expect(help).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('main.ts imports the management commands lazily (start never loads them)', () => {
    const main = readFileSync(new URL('../../../src/cli/main.ts', import.meta.url), 'utf8');
    expect(main).not.toMatch(/^import .*commands\//m);
    expect(main).toMatch(/await import\('\.\/commands\/index\.js'\)/);
  });
});
