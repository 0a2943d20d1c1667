/**
 * Per-message expiration validated as RabbitMQ's rabbit_basic:parse_expiration, with its texts
 * byte for byte (Erlang's string:to_integer, the 10-year limit, ~p's line breaks). Each value is
 * published by a raw client to Warren and, when reachable, to the reference, and the channel.close
 * (or the lack of one) must be the same; the texts below were taken from RabbitMQ 3.10.
 */
import { describe, expect, it } from 'vitest';
import { referenceUrl } from '../../helpers/broker.js';
import { useBroker } from '../helpers/setup.js';
import { FRAME_HEADER, bits, decodeClose, frame, methodFrame, rawHandshake, rawOpenChannel, short, shortstr } from '../helpers/raw-amqp.js';

const ctx = useBroker();

/** The channel.close text a publish with this expiration gets, or 'accepted'. */
async function outcome(port: number, expiration: Buffer): Promise<string> {
  const { conn } = await rawHandshake(port);
  await rawOpenChannel(conn, 1);
  const header = Buffer.alloc(15 + expiration.length);
  header.writeUInt16BE(60, 0);
  header.writeBigUInt64BE(0n, 4);
  header.writeUInt16BE(1 << 8, 12); // expiration only
  header[14] = expiration.length;
  expiration.copy(header, 15);
  conn.send(Buffer.concat([
    methodFrame(1, 60, 40, [short(0), shortstr(''), shortstr('no-such-queue'), bits(false, false)]),
    frame(FRAME_HEADER, 1, header),
    methodFrame(1, 20, 40, [short(200), shortstr('done'), short(0), short(0)]),
  ]));
  const f = await conn.next();
  conn.destroy();
  if (f === undefined) throw new Error('socket closed');
  if (f.classId === 20 && f.methodId === 41) return 'accepted';
  const c = decodeClose(f);
  return `${c.replyCode} ${c.replyText} (${c.classId}.${c.methodId})`;
}

const pad = (n: number): string => ' '.repeat(n);

const CASES: [string, string][] = [
  ['99999999999999999999', `406 PRECONDITION_FAILED - invalid expiration '99999999999999999999': {value_too_large,\n${pad(44)}99999999999999999999} (60.40)`],
  ['315360000000', 'accepted'],
  ['315360000001', "406 PRECONDITION_FAILED - invalid expiration '315360000001': {value_too_large,315360000001} (60.40)"],
  ['100000000000000000', "406 PRECONDITION_FAILED - invalid expiration '100000000000000000': {value_too_large,100000000000000000} (60.40)"],
  ['-100000000000000000', "406 PRECONDITION_FAILED - invalid expiration '-100000000000000000': {value_negative,-100000000000000000} (60.40)"],
  ['1000000000000000000', `406 PRECONDITION_FAILED - invalid expiration '1000000000000000000': {value_too_large,\n${pad(43)}1000000000000000000} (60.40)`],
  ['-1', "406 PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1} (60.40)"],
  ['+5', 'accepted'],
  ['-0', 'accepted'],
  ['007', 'accepted'],
  [' 5', "406 PRECONDITION_FAILED - invalid expiration ' 5': no_integer (60.40)"],
  ['', "406 PRECONDITION_FAILED - invalid expiration '': no_integer (60.40)"],
  ['abc', "406 PRECONDITION_FAILED - invalid expiration 'abc': no_integer (60.40)"],
  ['+', "406 PRECONDITION_FAILED - invalid expiration '+': no_integer (60.40)"],
  ['5 ', `406 PRECONDITION_FAILED - invalid expiration '5 ': {leftover_string," "} (60.40)`],
  ['1.5', `406 PRECONDITION_FAILED - invalid expiration '1.5': {leftover_string,".5"} (60.40)`],
  ['0x10', `406 PRECONDITION_FAILED - invalid expiration '0x10': {leftover_string,"x10"} (60.40)`],
  ['1"x\\', `406 PRECONDITION_FAILED - invalid expiration '1"x\\': {leftover_string,"\\"x\\\\"} (60.40)`],
  ['1\u0001', "406 PRECONDITION_FAILED - invalid expiration '1\u0001': {leftover_string,[1]} (60.40)"],
  ['1\u2603', "406 PRECONDITION_FAILED - invalid expiration '1\u2603': {leftover_string,[226,152,131]} (60.40)"],
  ['1aaaaaaaaaaaaaaaaa', `406 PRECONDITION_FAILED - invalid expiration '1aaaaaaaaaaaaaaaaa': {leftover_string,"aaaaaaaaaaaaaaaaa"} (60.40)`],
  ['1aaaaaaaaaaaaaaaaaa', `406 PRECONDITION_FAILED - invalid expiration '1aaaaaaaaaaaaaaaaaa': {leftover_string,\n${pad(43)}"aaaaaaaaaaaaaaaaaa"} (60.40)`],
  [`1${'a'.repeat(100)}`, `406 PRECONDITION_FAILED - invalid expiration '1${'a'.repeat(100)}': {leftover_string,\n${pad(88)}... (60.40)`],
];

describe('per-message expiration', () => {
  it.each(CASES)('%j -> RabbitMQ\'s answer', async (value, expected) => {
    expect(await outcome(ctx.port, Buffer.from(value))).toBe(expected);
  });

  it('the reference answers every case the same way', async (t) => {
    const url = await referenceUrl();
    if (url === undefined) t.skip('no reference broker reachable (REFERENCE_AMQP_URL)');
    const port = Number(new URL(url!).port || 5672);
    for (const [value] of CASES) {
      expect([value, await outcome(port, Buffer.from(value))]).toEqual([value, await outcome(ctx.port, Buffer.from(value))]);
    }
  }, 60_000);
});
