/**
 * RabbitMQ tutorials 1 and 2 ("Hello World!" and work queues), run unchanged: send/receive, then
 * new_task feeding two workers with prefetch 1 and manual acks (fair dispatch, each task done once).
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { useTutorials } from './harness.js';
import { waitFor } from '../../helpers/broker.js';

const ctx = useBroker();
const t = useTutorials(ctx);

describe('tutorial 1: hello world', () => {
  it('receive.js prints what send.js sent', async () => {
    const receiver = t.h.run('receive.js');
    await receiver.ready();
    const sender = t.h.run('send.js');
    expect(await sender.exited()).toBe(0);
    expect(sender.output).toEqual([' [x] Sent Hello World!']);
    await receiver.lines(2);
    expect(receiver.output).toEqual([
      ' [*] Waiting for messages in hello. To exit press CTRL+C',
      ' [x] Received Hello World!',
    ]);
  });
});

describe('tutorial 2: work queues', () => {
  it('new_task.js tasks are shared between two worker.js, each done exactly once', async () => {
    const w1 = t.h.run('worker.js');
    const w2 = t.h.run('worker.js');
    await w1.ready();
    await w2.ready();
    const tasks = ['First message.', 'Second message', 'Third message', 'Fourth message', 'Fifth message', 'Sixth message'];
    const senders = tasks.map((task) => t.h.run('new-task.js', task.split(' ')));
    for (const s of senders) expect(await s.exited()).toBe(0);
    expect(senders.map((s) => s.output[0])).toEqual(tasks.map((task) => ` [x] Sent '${task}'`));
    const received = () => [...w1.output, ...w2.output].filter((l) => l.startsWith(' [x] Received '));
    const done = () => [...w1.output, ...w2.output].filter((l) => l === ' [x] Done');
    await waitFor(() => done().length === tasks.length, 10_000);
    expect(received().map((l) => l.slice(' [x] Received '.length)).sort()).toEqual([...tasks].sort());
    // Both workers got work (round-robin with prefetch 1).
    expect(w1.output.some((l) => l.startsWith(' [x] Received '))).toBe(true);
    expect(w2.output.some((l) => l.startsWith(' [x] Received '))).toBe(true);
  });

  it('a task left unacked by a worker that dies goes to the other worker', async () => {
    const w1 = t.h.run('worker.js');
    await w1.ready();
    const s = t.h.run('new-task.js', ['Slow', 'task.........']); // 9 s of "work": it will not finish
    expect(await s.exited()).toBe(0);
    await w1.lines(2);
    expect(w1.output[1]).toBe(' [x] Received Slow task.........');
    const w2 = t.h.run('worker.js');
    await w2.ready();
    await w1.kill(); // the busy worker dies: its unacked task is requeued to the other worker
    await w2.lines(2);
    expect(w2.output[1]).toBe(' [x] Received Slow task.........');
  });
});
