/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial 0xEDB88320, reflected, init/xorout 0xFFFFFFFF).
 * `crc32Range` is a table-driven JS version over a slice of a buffer, used for the small fixed
 * record headers (no subarray view allocated per record); `crc32Buffer` uses node:zlib's native
 * crc32 when present (Node >= 20.15 / 22.2) and the table otherwise. Both chain like zlib's:
 * crc32(b, crc32(a)) == crc32(a ++ b).
 */
import zlib from 'node:zlib';

const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** CRC-32 of buf[start, end), continuing from `prev` (0 to start). Returns an unsigned 32-bit value. */
export function crc32Range(buf: Uint8Array, start: number, end: number, prev = 0): number {
  let c = ~prev;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc = (data: Uint8Array, value?: number) => number;
const native: NativeCrc | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (zlib as { crc32: NativeCrc }).crc32 : undefined;

/** CRC-32 of a whole buffer, continuing from `prev`. */
export function crc32Buffer(buf: Uint8Array, prev = 0): number {
  if (native !== undefined && buf.length >= 64) return native(buf, prev) >>> 0;
  return crc32Range(buf, 0, buf.length, prev);
}
