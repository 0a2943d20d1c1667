/**
 * Damaged segment files, issue 3 ("a torn or corrupt tail record is detected by its checksum and cut
 * off, with a log line saying what was dropped; the broker starts even after an unclean shutdown"):
 *   - torn write: after a kill -9 the segment being written ends inside a record;
 *   - a flipped byte inside a record of the segment being written (unsealed after kill -9): the
 *     recovery rule cuts at the first bad record, so later records of that segment may go too;
 *   - a flipped byte inside a record of an older, sealed segment (graceful stop): only that message
 *     is lost, found when it is read.
 * In every case the broker starts, logs a warning naming what it dropped, every message before the
 * damage is delivered intact and in order, the damaged one is never delivered, and nothing
 * delivered is invented or corrupt.
 * The surgery follows the documented format (src/store/message-log.ts, version 1); the record of a
 * message is found by its body's "<tag>#<seq>|" marker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAllBrokers, type LogRecord } from './helpers/broker-process.js';
import { getAll, isIntact, makeBody, parseBody, sendConfirmed, watch } from './helpers/amqp-session.js';
import { findRecord, flipByteInRecord, parseSegment, segmentFiles, truncateInsideRecord, type SegmentRecord } from './helpers/data-files.js';
import { Harness } from './helpers/harness.js';

const N = 200;
const KIB = 1024;
const DAMAGE_LOG = /torn|corrupt|checksum|crc|cut|dropped|truncat/i;

let h: Harness;
afterEach(async () => {
  await h.cleanup();
  await killAllBrokers();
});

/** A durable queue with N confirmed persistent 1 KiB messages spread over several segments. */
async function fill(queue: string): Promise<void> {
  h = new Harness();
  await h.start();
  const ch = await h.session.confirmChannel();
  await ch.assertQueue(queue, { durable: true });
  await sendConfirmed(ch, queue, Array.from({ length: N }, (_, i) => makeBody(queue, i, KIB)));
  expect((await segmentFiles(h.dataDir)).length, 'several segment files').toBeGreaterThan(2);
}

/** The message seq a record carries, or undefined. */
function seqOf(rec: SegmentRecord, tag: string): number | undefined {
  const at = rec.payload.indexOf(Buffer.from(`${tag}#`, 'latin1'));
  return at < 0 ? undefined : parseBody(rec.payload.subarray(at))?.seq;
}

/** Where the body of `seq` starts inside the record payload. */
function bodyOffset(rec: SegmentRecord, tag: string, seq: number): number {
  const at = rec.payload.indexOf(Buffer.from(`${tag}#${seq}|`, 'latin1'));
  if (at < 0) throw new Error(`no ${tag}#${seq} in the record`);
  return at;
}

/** Read the whole queue; check intact bodies and strictly increasing seqs; return the seqs. */
async function readSeqs(queue: string): Promise<number[]> {
  const conn = await h.session.connect();
  const ch = await h.session.channel(conn);
  let msgs;
  try {
    msgs = await getAll(ch, queue, 'ack');
  } catch (err: unknown) {
    const why = [...watch(ch).errors, ...watch(conn).errors].map((e) => `${String(e.code)} ${e.message}`).join('; ');
    throw new Error(`reading ${queue} failed: ${(err as Error).message} (closed with: ${why || 'nothing reported'})`);
  }
  const seqs: number[] = [];
  for (const m of msgs) {
    expect(isIntact(m.content), `delivered body is intact: ${m.content.subarray(0, 24).toString('latin1')}`).toBe(true);
    const id = parseBody(m.content);
    expect(id?.tag).toBe(queue);
    seqs.push(id?.seq ?? -1);
  }
  for (let i = 1; i < seqs.length; i++) expect(seqs[i] ?? 0, 'publish order').toBeGreaterThan(seqs[i - 1] ?? 0);
  return seqs;
}

const isDamageWarning = (r: LogRecord): boolean => (r.level ?? 0) >= 40 && DAMAGE_LOG.test(JSON.stringify(r));
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('damaged segment files', () => {
  it('torn write: the last record cut in the middle is dropped with a log line, everything before is intact', async () => {
    const q = 'c.torn';
    await fill(q);
    await h.stop('SIGKILL');
    const found = await findRecord(h.dataDir, `${q}#${N - 1}|`);
    expect(found, 'the last message is in a segment file').toBeDefined();
    if (found === undefined) return;
    expect(found.seg.sealed, 'the segment being written is not sealed after kill -9').toBe(false);
    expect(found.seg.records.at(-1)?.offset, 'it is the last record of its segment').toBe(found.rec.offset);
    await truncateInsideRecord(found.seg.path, found.rec, Math.floor(found.rec.len / 2));

    const b = await h.start();
    await b.waitForLog(isDamageWarning);
    expect(await readSeqs(q)).toEqual(range(0, N - 1));
  });

  it('a flipped byte in a record of the unsealed segment: cut there with a log line, earlier messages intact', async () => {
    const q = 'c.flip-tail';
    await fill(q);
    await h.stop('SIGKILL');
    const last = await findRecord(h.dataDir, `${q}#${N - 1}|`);
    expect(last).toBeDefined();
    if (last === undefined) return;
    expect(last.seg.sealed).toBe(false);
    const recs = last.seg.records;
    expect(recs.length, 'the unsealed segment holds several records').toBeGreaterThan(2);
    const victim = recs[Math.floor(recs.length / 2)];
    if (victim === undefined) throw new Error('no middle record');
    const victimSeq = seqOf(victim, q);
    expect(victimSeq).toBeDefined();
    if (victimSeq === undefined) return;
    await flipByteInRecord(last.seg.path, victim, bodyOffset(victim, q, victimSeq) + KIB / 2);

    const b = await h.start();
    await b.waitForLog(isDamageWarning);
    const seqs = await readSeqs(q);
    expect(seqs.slice(0, victimSeq), 'everything before the damaged record').toEqual(range(0, victimSeq));
    expect(seqs).not.toContain(victimSeq);
    // Later records of that segment may have been cut with it; whatever is delivered is intact (checked).
  });

  it('a flipped byte in a record of an older sealed segment: only that message is lost, with a log line', async () => {
    const q = 'c.flip-sealed';
    await fill(q);
    await h.stop('SIGTERM'); // a clean close seals every segment
    const segs = await segmentFiles(h.dataDir);
    const first = segs[0];
    if (first === undefined) throw new Error('no segment');
    const parsed = await parseSegment(first.path);
    expect(parsed?.sealed, 'segments are sealed after a graceful stop').toBe(true);
    const recs = parsed?.records ?? [];
    const victim = recs[Math.floor(recs.length / 2)];
    if (victim === undefined || parsed === undefined) throw new Error('no middle record');
    const victimSeq = seqOf(victim, q);
    if (victimSeq === undefined) throw new Error('the record is not one of ours');
    await flipByteInRecord(parsed.path, victim, bodyOffset(victim, q, victimSeq) + KIB / 2);

    const b = await h.start();
    let seqs: number[] = [];
    try {
      seqs = await readSeqs(q);
    } catch (err: unknown) {
      throw new Error(`reading the queue failed: ${(err as Error).message}\n${b.tail(10)}`);
    }
    expect(seqs).toEqual(range(0, N).filter((s) => s !== victimSeq));
    await b.waitForLog(isDamageWarning);
    expect(b.running, 'the broker keeps running').toBe(true);
  });
});
