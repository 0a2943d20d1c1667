/**
 * RabbitMQ tutorial 7 (publisher confirms), run unchanged: publish with a wait per message, per
 * batch, and with asynchronous confirm callbacks; every message confirmed (none nack-ed) and in
 * its queue.
 */
import { expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { useTutorials } from './harness.js';

const ctx = useBroker();
const t = useTutorials(ctx);

it('all three confirm strategies get every message confirmed', async () => {
  const p = t.h.run('publisher-confirms.js');
  expect(await p.exited(20_000)).toBe(0);
  expect(p.output).toHaveLength(3);
  expect(p.output[0]).toMatch(/^Published 500 messages individually in \d+ ms \(500 in queue\)$/);
  expect(p.output[1]).toMatch(/^Published 500 messages in batch in \d+ ms \(500 in queue\)$/);
  expect(p.output[2]).toMatch(/^Published 500 messages and handled confirms asynchronously in \d+ ms \(500 in queue\)$/);
});
