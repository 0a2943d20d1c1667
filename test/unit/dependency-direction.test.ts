/**
 * The one dependency rule of DESIGN.md, for every file under src/: layers import one way
 * (`protocol <- server -> broker -> store`, `core` a leaf; `management` reads the broker; `links` (shovels, federation: AMQP
 * clients inside the broker) use the codec and the broker; only
 * `cli` wires everything), npm packages only where a layer needs them (protocol, core and store use
 * none), and no import cycle between folders. A folder and the folders inside it (protocol and its
 * generated code, cli and its commands) count as one place for cycles; any other cycle fails.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Which areas (top-level folders of src/) each area may import. */
const ALLOWED: Record<string, readonly string[]> = {
  core: ['core'],
  protocol: ['protocol', 'core'],
  store: ['store', 'core'],
  broker: ['broker', 'core', 'store'],
  server: ['server', 'core', 'protocol', 'broker'],
  management: ['management', 'core', 'broker'],
  links: ['links', 'core', 'protocol', 'broker'],
  cli: ['cli', 'core', 'protocol', 'server', 'broker', 'store', 'management', 'links'],
};

/** npm packages each area may import (node: built-ins are allowed everywhere). */
const PACKAGES: Record<string, readonly string[]> = {
  core: [], protocol: [], store: [], broker: ['pino'], server: ['pino'], management: ['pino'], links: ['pino'], cli: ['*'],
};

interface Import { file: string; spec: string }

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Static imports and re-exports (type-only ones too) and dynamic import('...') calls. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    out.push({ file, spec: (m[1] ?? m[2])! });
  }
  return out;
}

const all = files(src).flatMap(importsOf);
const area = (path: string): string => relative(src, path).split(sep)[0]!;
const folderOf = (path: string): string => relative(src, dirname(path));

describe('dependency rule', () => {
  it('every import goes the allowed way', () => {
    const bad: string[] = [];
    for (const { file, spec } of all) {
      const from = area(file);
      const allowed = ALLOWED[from];
      if (allowed === undefined) {
        bad.push(`${relative(src, file)}: area '${from}' has no rule (add it to ALLOWED and PACKAGES)`);
        continue;
      }
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const ok = PACKAGES[from]!;
        if (!ok.includes('*') && !ok.includes(pkg)) bad.push(`${relative(src, file)} imports package ${spec} (${from} may not)`);
        continue;
      }
      const to = area(resolve(dirname(file), spec));
      if (!allowed.includes(to)) bad.push(`${relative(src, file)} imports ${spec} (${from} -> ${to})`);
    }
    expect(bad).toEqual([]);
  });

  it('no import cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    const nested = (a: string, b: string): boolean => a === b || a.startsWith(`${b}${sep}`) || b.startsWith(`${a}${sep}`);
    for (const { file, spec } of all) {
      if (!spec.startsWith('.')) continue;
      const from = folderOf(file);
      const to = folderOf(resolve(dirname(file), spec));
      if (nested(from, to)) continue;
      let set = edges.get(from);
      if (set === undefined) edges.set(from, (set = new Set()));
      set.add(to);
    }
    // Depth-first search; a back edge closes a cycle.
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (n: string): void => {
      state.set(n, 'open');
      path.push(n);
      for (const m of edges.get(n) ?? []) {
        if (state.get(m) === 'open') cycles.push([...path.slice(path.indexOf(m)), m].join(' -> '));
        else if (state.get(m) === undefined) visit(m);
      }
      path.pop();
      state.set(n, 'done');
    };
    for (const n of edges.keys()) if (state.get(n) === undefined) visit(n);
    expect(cycles).toEqual([]);
  });
});
