/**
 * Stream filtering helpers: a 32-bit hash of a filter value (stored per entry) and the chunk Bloom
 * filter (stored per chunk), as RabbitMQ 3.13's stream filtering does per chunk: a consumer asking
 * for values {a, b} skips every chunk whose filter cannot contain a or b without reading its entries.
 *
 * Hash: FNV-1a over the value's UTF-8 bytes (computed from the string without allocating), 0
 * remapped to 1 because 0 means "no filter value". Bloom: m = 8 * bytes bits, k = 2 probes
 * (h and a remixed h), double hashing; 16 bytes hold a few distinct values per chunk with a low
 * false-positive rate, which is the case filtering is designed for (RabbitMQ recommends few values
 * per chunk). Entries without a value are not in the Bloom filter; the chunk header has a flag.
 */

export const NO_FILTER = 0;

/** 32-bit FNV-1a of the UTF-8 encoding of `s`; never 0. */
export function filterHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd; // lone surrogate: encoded as U+FFFD, like Buffer.from(s, 'utf8')
      }
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193);
  }
  h >>>= 0;
  return h === 0 ? 1 : h;
}

function second(h: number): number {
  let x = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return ((x ^ (x >>> 16)) | 1) >>> 0;
}

/** Add hash `h` to the Bloom filter bytes bloom[at, at+len). */
export function bloomAdd(bloom: Uint8Array, at: number, len: number, h: number): void {
  const m = len * 8;
  const h2 = second(h);
  let b = h % m;
  bloom[at + (b >>> 3)]! |= 1 << (b & 7);
  b = (h + h2) % m;
  bloom[at + (b >>> 3)]! |= 1 << (b & 7);
}

/** May the Bloom filter at bloom[at, at+len) contain hash `h`? */
export function bloomHas(bloom: Uint8Array, at: number, len: number, h: number): boolean {
  const m = len * 8;
  const h2 = second(h);
  let b = h % m;
  if ((bloom[at + (b >>> 3)]! & (1 << (b & 7))) === 0) return false;
  b = (h + h2) % m;
  return (bloom[at + (b >>> 3)]! & (1 << (b & 7))) !== 0;
}

/** A consumer's filter: the hashes it wants, and whether entries without a value match. */
export class StreamFilter {
  readonly hashes: Uint32Array;

  constructor(values: readonly string[], readonly matchUnfiltered: boolean) {
    this.hashes = Uint32Array.from(values.map(filterHash));
  }

  /** Can a chunk with this Bloom filter (and flag "has unfiltered entries") hold a match? */
  chunkMayMatch(bloom: Uint8Array, at: number, len: number, hasUnfiltered: boolean): boolean {
    if (this.matchUnfiltered && hasUnfiltered) return true;
    const hs = this.hashes;
    for (let i = 0; i < hs.length; i++) if (bloomHas(bloom, at, len, hs[i]!)) return true;
    return false;
  }

  /** Does an entry with filter hash `h` (0: none) match? */
  entryMatches(h: number): boolean {
    if (h === NO_FILTER) return this.matchUnfiltered;
    const hs = this.hashes;
    for (let i = 0; i < hs.length; i++) if (hs[i] === h) return true;
    return false;
  }
}
