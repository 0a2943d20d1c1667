/**
 * ConsoleAssets: `/` is index.html, files keep their content type, nothing outside the console
 * directory (.., dot files, unknown kinds) is ever served.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleAssets } from '../../../src/management/console-assets.js';

describe('ConsoleAssets', () => {
  let root: string;
  let assets: ConsoleAssets;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'warren-console-'));
    await mkdir(join(root, 'console', 'app'), { recursive: true });
    await writeFile(join(root, 'console', 'index.html'), '<!doctype html>');
    await writeFile(join(root, 'console', 'app', 'main.js'), 'export {}');
    await writeFile(join(root, 'console', '.secret.js'), 'no');
    await writeFile(join(root, 'outside.js'), 'no');
    assets = new ConsoleAssets(join(root, 'console'));
  });

  afterAll(() => rm(root, { recursive: true, force: true }));

  it('serves index.html at / and modules as JavaScript', async () => {
    const index = await assets.get('/');
    expect(index?.headers?.['content-type']).toBe('text/html; charset=utf-8');
    expect(index?.raw.toString()).toBe('<!doctype html>');
    const js = await assets.get('/app/main.js');
    expect(js?.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it('serves nothing outside the directory, no dot files, no unknown kinds', async () => {
    expect(await assets.get('/../outside.js')).toBeUndefined();
    expect(await assets.get('/app/%2E%2E/%2E%2E/outside.js')).toBeUndefined();
    expect(await assets.get('/.secret.js')).toBeUndefined();
    expect(await assets.get('/app/main.ts')).toBeUndefined();
    expect(await assets.get('/missing.js')).toBeUndefined();
    expect(await assets.get('/%E0%A4%A')).toBeUndefined();
  });
});
