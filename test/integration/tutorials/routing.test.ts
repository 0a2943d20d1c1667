/**
 * RabbitMQ tutorial 4 (routing), run unchanged: emit_log_direct.js publishes with a severity as
 * routing key; each receive_logs_direct.js binds the severities it wants.
 */
import { expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { useTutorials } from './harness.js';

const ctx = useBroker();
const t = useTutorials(ctx);

it('receivers get only the severities they bound', async () => {
  const errorsOnly = t.h.run('receive-logs-direct.js', ['warning', 'error']);
  const all = t.h.run('receive-logs-direct.js', ['info', 'warning', 'error']);
  await errorsOnly.ready();
  await all.ready();
  for (const [sev, msg] of [['error', 'Run. Run. Or it will explode.'], ['info', 'just saying'], ['warning', 'careful'], ['debug', 'nobody']]) {
    const e = t.h.run('emit-log-direct.js', [sev!, ...msg!.split(' ')]);
    expect(await e.exited()).toBe(0);
    expect(e.output).toEqual([` [x] Sent ${sev}: '${msg}'`]);
  }
  await errorsOnly.lines(3);
  await all.lines(4);
  expect(errorsOnly.output).toEqual([
    ' [*] Waiting for logs. To exit press CTRL+C',
    " [x] error: 'Run. Run. Or it will explode.'",
    " [x] warning: 'careful'",
  ]);
  expect(all.output).toEqual([
    ' [*] Waiting for logs. To exit press CTRL+C',
    " [x] error: 'Run. Run. Or it will explode.'",
    " [x] info: 'just saying'",
    " [x] warning: 'careful'",
  ]);
});

it('receive_logs_direct.js without arguments prints its usage and exits 1', async () => {
  const r = t.h.run('receive-logs-direct.js');
  expect(await r.exited()).toBe(1);
  expect(r.output[0]).toBe('Usage: receive_logs_direct.js [info] [warning] [error]');
});
