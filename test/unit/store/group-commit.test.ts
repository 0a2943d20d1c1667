/**
 * GroupCommit with a fake disk: batching while an fsync is in flight, a flush failure failing only
 * the waiters whose bytes were not handed to the OS, fsync failures, re-entrant callbacks.
 */
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../src/store/group-commit.js';

function fakeDisk() {
  const d = {
    failFlush: false,
    syncErr: null as Error | null,
    syncs: [] as Array<(err: Error | null) => void>,
    flushes: 0,
  };
  const gc = new GroupCommit({
    flush: () => {
      d.flushes++;
      return d.failFlush ? new Error('ENOSPC') : null;
    },
    sync: (cb) => d.syncs.push(cb),
  });
  const finishSync = (): void => d.syncs.shift()!(d.syncErr);
  return { d, gc, finishSync };
}

describe('group commit', () => {
  it('batches every request made while an fsync is in flight into the next one', () => {
    const { d, gc, finishSync } = fakeDisk();
    const got: string[] = [];
    gc.bump();
    gc.afterSync((e) => got.push(`a:${e}`));
    expect(d.syncs).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      gc.bump();
      gc.afterSync((e) => got.push(`b${i}:${e}`));
    }
    expect(d.syncs).toHaveLength(1); // no second fsync while one runs
    finishSync();
    expect(got).toEqual(['a:null']);
    expect(d.syncs).toHaveLength(1); // one batch for the five
    finishSync();
    expect(got).toEqual(['a:null', 'b0:null', 'b1:null', 'b2:null', 'b3:null', 'b4:null']);
    expect(gc.durableSeq).toBe(gc.writeSeq);
  });

  it('a failed flush fails only waiters whose bytes were not written', () => {
    const { d, gc, finishSync } = fakeDisk();
    const got: string[] = [];
    gc.bump();
    gc.afterSync((e) => got.push(`flushed:${e === null ? 'ok' : e.message}`)); // flushed, fsync in flight
    gc.bump();
    d.failFlush = true;
    gc.flushNow(); // e.g. the end-of-turn flush fails
    gc.afterSync((e) => got.push(`late:${e === null ? 'ok' : e.message}`));
    d.failFlush = false;
    finishSync();
    expect(got).toEqual(['flushed:ok']);
    // 'late' waits for a retry... which the sync chain performs
    finishSync();
    expect(got).toEqual(['flushed:ok', 'late:ok']);
  });

  it('fails the waiters of a batch whose fsync failed, then carries on', () => {
    const { d, gc, finishSync } = fakeDisk();
    const got: string[] = [];
    const events: Array<[number, string | undefined, number]> = [];
    gc.addListener((dur, e, upTo) => events.push([dur, e?.message, upTo]));
    gc.bump();
    gc.afterSync((e) => got.push(`1:${e?.message ?? 'ok'}`));
    d.syncErr = new Error('EIO');
    finishSync();
    expect(got).toEqual(['1:EIO']);
    expect(events).toEqual([[0, 'EIO', 1]]);
    d.syncErr = null;
    gc.bump();
    gc.afterSync((e) => got.push(`2:${e?.message ?? 'ok'}`));
    finishSync();
    expect(got).toEqual(['1:EIO', '2:ok']);
    expect(events.at(-1)).toEqual([2, undefined, 2]);
  });

  it('survives callbacks that register new waiters', () => {
    const { d, gc, finishSync } = fakeDisk();
    const got: number[] = [];
    gc.bump();
    gc.afterSync(() => {
      got.push(1);
      gc.bump();
      gc.afterSync(() => got.push(2));
    });
    gc.afterSync(() => got.push(3));
    finishSync();
    expect(got).toEqual([1, 3]);
    expect(d.syncs).toHaveLength(1);
    finishSync();
    expect(got).toEqual([1, 3, 2]);
  });
});
