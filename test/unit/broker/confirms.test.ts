/**
 * Confirms (pure): publish order kept, acks coalesced with `multiple`, nacks never covered by a
 * multiple ack and written in order, durability waits and failed syncs.
 */
import { describe, expect, it } from 'vitest';
import { Confirms, NO_WAIT, type ConfirmSink } from '../../../src/broker/confirms.js';

class Record implements ConfirmSink {
  readonly out: string[] = [];
  ack(seq: number, multiple: boolean): void { this.out.push(`ack ${seq}${multiple ? ' multiple' : ''}`); }
  nack(seq: number, multiple: boolean): void { this.out.push(`nack ${seq}${multiple ? ' multiple' : ''}`); }
}

function flushed(c: Confirms): string[] {
  const r = new Record();
  c.flush(r);
  return r.out;
}

describe('Confirms', () => {
  it('numbers publishes from 1', () => {
    const c = new Confirms();
    expect([c.next(), c.next(), c.next()]).toEqual([1, 2, 3]);
  });

  it('coalesces consecutive acks into one multiple ack; a single one is not multiple', () => {
    const c = new Confirms();
    for (let i = 0; i < 3; i++) expect(c.settle(c.next(), false, NO_WAIT)).toBe(false);
    expect(c.owed).toBe(true);
    expect(flushed(c)).toEqual(['ack 3 multiple']);
    expect(c.owed).toBe(false);
    c.settle(c.next(), false, NO_WAIT);
    expect(flushed(c)).toEqual(['ack 4']);
    expect(flushed(c)).toEqual([]);
  });

  it('nacks in order: acks before a nack first, never a multiple ack over it', () => {
    const c = new Confirms();
    c.settle(c.next(), false, NO_WAIT);
    c.settle(c.next(), false, NO_WAIT);
    c.settle(c.next(), true, NO_WAIT);
    c.settle(c.next(), false, NO_WAIT);
    c.settle(c.next(), true, NO_WAIT);
    c.settle(c.next(), true, NO_WAIT);
    c.settle(c.next(), false, NO_WAIT);
    c.settle(c.next(), false, NO_WAIT);
    expect(flushed(c)).toEqual(['ack 2 multiple', 'nack 3', 'ack 4', 'nack 5', 'nack 6', 'ack 8 multiple']);
  });

  it('a publish that waits for a durable position holds back the ones after it', () => {
    const c = new Confirms();
    c.settle(c.next(), false, NO_WAIT);
    expect(c.settle(c.next(), false, 10)).toBe(true);
    expect(c.settle(c.next(), false, NO_WAIT)).toBe(true);
    expect(c.waiting).toBe(2);
    expect(flushed(c)).toEqual(['ack 1']);
    c.durable(9, false);
    expect(flushed(c)).toEqual([]);
    c.durable(10, false);
    expect(c.waiting).toBe(0);
    expect(flushed(c)).toEqual(['ack 3 multiple']);
  });

  it('positions already durable need no wait', () => {
    const c = new Confirms();
    c.settle(c.next(), false, 5);
    c.durable(7, false);
    expect(c.settle(c.next(), false, 6)).toBe(false);
    expect(flushed(c)).toEqual(['ack 2 multiple']);
  });

  it('a failed sync nacks the publishes that waited for it, not those that needed no durability', () => {
    const c = new Confirms();
    c.settle(c.next(), false, 3);
    c.settle(c.next(), false, NO_WAIT);
    c.settle(c.next(), false, 4);
    c.settle(c.next(), false, 9);
    c.durable(5, true);
    expect(flushed(c)).toEqual(['nack 1', 'ack 2', 'nack 3']);
    expect(c.waiting).toBe(1);
    c.durable(9, false);
    expect(flushed(c)).toEqual(['ack 4']);
  });

  it('a refused publish that waits is nacked when released, in order', () => {
    const c = new Confirms();
    c.settle(c.next(), false, 2);
    c.settle(c.next(), true, 2);
    c.settle(c.next(), false, NO_WAIT);
    c.durable(2, false);
    expect(flushed(c)).toEqual(['ack 1', 'nack 2', 'ack 3']);
  });

  it('clear() forgets everything owed (a channel closed on an error sends nothing more)', () => {
    const c = new Confirms();
    c.settle(c.next(), false, NO_WAIT);
    c.settle(c.next(), false, 4);
    c.clear();
    expect(c.owed).toBe(false);
    expect(c.waiting).toBe(0);
    c.durable(4, false);
    expect(flushed(c)).toEqual([]);
    c.settle(c.next(), false, NO_WAIT);
    expect(flushed(c)).toEqual(['ack 3']);
  });
});
