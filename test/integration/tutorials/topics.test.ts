/**
 * RabbitMQ tutorial 5 (topics), run unchanged: emit_log_topic.js publishes "<facility>.<severity>"
 * keys; receive_logs_topic.js binds patterns with `*` and `#`.
 */
import { expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { useTutorials } from './harness.js';

const ctx = useBroker();
const t = useTutorials(ctx);

it('receivers get the keys their patterns match', async () => {
  const everything = t.h.run('receive-logs-topic.js', ['#']);
  const kern = t.h.run('receive-logs-topic.js', ['kern.*']);
  const critical = t.h.run('receive-logs-topic.js', ['*.critical']);
  const both = t.h.run('receive-logs-topic.js', ['kern.*', '*.critical']);
  for (const r of [everything, kern, critical, both]) await r.ready();
  const sent: Array<[string, string]> = [
    ['kern.critical', 'A critical kernel error'],
    ['anonymous.info', 'Hello World!'],
    ['kern.info', 'kernel says hi'],
    ['cron.critical', 'cron is on fire'],
    ['kern.x.critical', 'three words'],
  ];
  for (const [key, msg] of sent) {
    const e = t.h.run('emit-log-topic.js', [key, ...msg.split(' ')]);
    expect(await e.exited()).toBe(0);
  }
  const lines = (keys: string[]): string[] => [
    ' [*] Waiting for logs. To exit press CTRL+C',
    ...sent.filter(([k]) => keys.includes(k)).map(([k, m]) => ` [x] ${k}:'${m}'`),
  ];
  await everything.lines(6);
  await kern.lines(3);
  await critical.lines(3);
  await both.lines(4);
  expect(everything.output).toEqual(lines(sent.map(([k]) => k)));
  expect(kern.output).toEqual(lines(['kern.critical', 'kern.info']));
  expect(critical.output).toEqual(lines(['kern.critical', 'cron.critical']));
  expect(both.output).toEqual(lines(['kern.critical', 'kern.info', 'cron.critical'])); // kern.critical once
});
