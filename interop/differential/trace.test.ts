/**
 * Unit tests of the trace normaliser and differ (no broker needed): run ids, generated queue
 * names and consumer tags become stable placeholders; streams compare independently of how
 * they interleave; a difference renders as '-' expected / '+' actual lines.
 */
import { describe, expect, it } from 'vitest';
import { compareTraces, normaliseTrace, type TraceEntry } from './trace.js';

const e = (stream: string, event: string, data?: unknown): TraceEntry => ({ stream, event, data });

describe('trace normalisation', () => {
  it('replaces the run id, amq.gen-* and amq.ctag-* by placeholders numbered by first appearance', () => {
    const t = normaliseTrace(
      [
        e('main', 'declare', { queue: 'amq.gen-AbC_12-x' }),
        e('main', 'consume', { consumerTag: 'amq.ctag-ZZZ', queue: 'q-RUN1' }),
        e('main', 'declare', { queue: 'amq.gen-second', again: 'amq.gen-AbC_12-x' }),
        e('main', 'close', { replyText: "NOT_FOUND - no queue 'q-RUN1' in vhost '/'" }),
      ],
      'RUN1',
    );
    expect(t.map((x) => x.data)).toEqual([
      { queue: 'amq.gen-{1}' },
      { consumerTag: 'amq.ctag-{1}', queue: 'q-{run}' },
      { queue: 'amq.gen-{2}', again: 'amq.gen-{1}' },
      { replyText: "NOT_FOUND - no queue 'q-{run}' in vhost '/'" },
    ]);
  });

  it('compares order within a stream but not across streams', () => {
    const a = normaliseTrace([e('a', 'x'), e('b', 'y'), e('a', 'z')], 'r');
    const b = normaliseTrace([e('b', 'y'), e('a', 'x'), e('a', 'z')], 'r');
    expect(compareTraces(a, b).equal).toBe(true);
    const c = normaliseTrace([e('a', 'z'), e('a', 'x'), e('b', 'y')], 'r');
    expect(compareTraces(a, c).equal).toBe(false);
  });

  it('renders a readable diff with expected lines before actual ones', () => {
    const ref = [e('main', 'close', { replyCode: 404 }), e('main', 'same')];
    const sub = [e('main', 'close', { replyCode: 406 }), e('main', 'same')];
    const { equal, diff } = compareTraces(ref, sub);
    expect(equal).toBe(false);
    expect(diff.split('\n')).toEqual(['--- reference', '+++ warren', '-[main] close {"replyCode":404}', '+[main] close {"replyCode":406}', ' [main] same']);
  });

  it('elides unchanged lines far from a change', () => {
    const ref = Array.from({ length: 20 }, (_, i) => e('main', `step${i}`));
    const sub = ref.map((x, i) => (i === 10 ? e('main', 'different') : x));
    const lines = compareTraces(ref, sub).diff.split('\n');
    expect(lines).toContain('  … 7 unchanged lines');
    expect(lines).toContain('-[main] step10');
    expect(lines).toContain('+[main] different');
    expect(lines).toContain(' [main] step7');
    expect(lines).not.toContain(' [main] step6');
  });

  it('ignores object key order', () => {
    expect(compareTraces([e('m', 'x', { a: 1, b: 2 })], [e('m', 'x', { b: 2, a: 1 })]).equal).toBe(true);
  });
});
