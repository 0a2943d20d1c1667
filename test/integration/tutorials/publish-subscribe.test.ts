/**
 * RabbitMQ tutorial 3 (publish/subscribe), run unchanged: emit_log.js to a fanout exchange reaches
 * every receive_logs.js through its own server-named exclusive queue.
 */
import { expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { useTutorials } from './harness.js';

const ctx = useBroker();
const t = useTutorials(ctx);

it('every receive_logs.js gets each log line emitted', async () => {
  const r1 = t.h.run('receive-logs.js');
  const r2 = t.h.run('receive-logs.js');
  await r1.ready();
  await r2.ready();
  expect(r1.output[0]).toMatch(/^ \[\*\] Waiting for messages in amq\.gen-\S+\. To exit press CTRL\+C$/);
  const e1 = t.h.run('emit-log.js', ['info:', 'Hello', 'World!']);
  expect(await e1.exited()).toBe(0);
  const e2 = t.h.run('emit-log.js');
  expect(await e2.exited()).toBe(0);
  for (const r of [r1, r2]) {
    await r.lines(3);
    expect(r.output.slice(1)).toEqual([' [x] info: Hello World!', ' [x] Hello World!']);
  }
});

it('a log emitted with no receiver bound is simply dropped', async () => {
  const e = t.h.run('emit-log.js', ['nobody', 'listens']);
  expect(await e.exited()).toBe(0);
  expect(e.output).toEqual([' [x] Sent nobody listens']);
  const late = t.h.run('receive-logs.js');
  await late.ready();
  const e2 = t.h.run('emit-log.js', ['now', 'someone', 'does']);
  expect(await e2.exited()).toBe(0);
  await late.lines(2);
  expect(late.output.slice(1)).toEqual([' [x] now someone does']);
});
