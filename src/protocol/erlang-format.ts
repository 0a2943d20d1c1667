/**
 * Renders bytes the way RabbitMQ's error texts do, so Warren's reply texts match the reference broker
 * byte for byte: Erlang's `~w` prints a binary as `<<0,60,0,10>>`; `~tp` prints a printable one as
 * `<<"abc">>`. payloadSnippet mirrors rabbit_reader:payload_snippet/1 ("all" up to 16 octets,
 * else "first 16"). Pure functions; never called on the happy path.
 */

/** Cap on rendered octets: reply texts are cut to 255 bytes anyway (AmqpError truncates). */
const MAX_RENDERED = 96;

/** `~w` form: always a comma-separated list of decimal octets. */
export function erlangBinaryW(buf: Buffer, start: number, end: number): string {
  const stop = Math.min(end, start + MAX_RENDERED);
  let s = '<<';
  for (let i = start; i < stop; i++) {
    if (i > start) s += ',';
    s += String(buf[i]);
  }
  if (stop < end) s += ',...';
  return s + '>>';
}

/** `~tp` form: a quoted string when every octet is printable ASCII or a common escape, else `~w`. */
export function erlangBinaryP(buf: Buffer, start: number, end: number): string {
  if (end <= start) return '<<>>';
  let s = '<<"';
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 32 && c <= 126) {
      s += c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : String.fromCharCode(c);
      continue;
    }
    const esc = ESCAPES[c];
    if (esc === undefined) return erlangBinaryW(buf, start, end);
    s += esc;
  }
  return s + '">>';
}

const ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 27: '\\e' };

/** rabbit_reader:payload_snippet/1: `all octets = <<...>>` or `first 16 octets = <<...>>`. */
export function payloadSnippet(buf: Buffer, start: number, end: number): string {
  if (end - start <= 16) return `all octets = ${erlangBinaryP(buf, start, end)}`;
  return `first 16 octets = ${erlangBinaryP(buf, start, start + 16)}`;
}
