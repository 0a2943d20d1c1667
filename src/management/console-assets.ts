/**
 * Serves the web console's static files (built by `npm run build` into dist/console) on the
 * management listener, at every GET/HEAD path outside /api/ (as RabbitMQ serves its UI at `/`).
 * No authentication here: the files are public, the console logs in against the API with the
 * broker's users (HTTP Basic). Invariants: only files inside the console directory are served
 * (no `..`, no dot files), a file is read once and kept (the directory is immutable while the
 * broker runs), nothing is read before the first request (start-up time and idle RSS unchanged).
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Reply } from './router.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** What a static reply carries (bytes, not JSON). */
export interface AssetReply extends Reply {
  raw: Buffer;
}

export class ConsoleAssets {
  private readonly cache = new Map<string, Buffer | null>();

  /** `dir`: the built console (index.html, app/, vendor/). */
  constructor(private readonly dir: string) {}

  /** The file for a URL path (`/` is index.html), or undefined when there is none. */
  async get(pathname: string): Promise<AssetReply | undefined> {
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return undefined;
    }
    if (rel === '/' || rel === '') rel = '/index.html';
    const clean = normalize(rel).replace(/^[/\\]+/, '');
    if (clean.startsWith('..') || clean.split(sep).some((p) => p.startsWith('.'))) return undefined;
    const type = TYPES[extname(clean)];
    if (type === undefined) return undefined;
    let bytes = this.cache.get(clean);
    if (bytes === undefined) {
      bytes = await readFile(join(this.dir, clean)).catch(() => null);
      this.cache.set(clean, bytes);
    }
    if (bytes === null) return undefined;
    return {
      status: 200,
      raw: bytes,
      headers: {
        'content-type': type,
        'cache-control': 'no-cache',
        // Everything comes from this listener: no external requests, no inline scripts.
        'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
        'x-content-type-options': 'nosniff',
      },
    };
  }
}
