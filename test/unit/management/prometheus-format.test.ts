import { describe, expect, it } from 'vitest';
import { ExpositionWriter, labelText } from '../../../src/management/prometheus-format.js';
import { parsePrometheusText, valueOf } from '../../helpers/prometheus-text.js';

describe('ExpositionWriter', () => {
  it('escapes label values and help text so a strict parser reads them back', () => {
    const w = new ExpositionWriter();
    w.family('rabbitmq_queue_messages', 'gauge', 'help with \\ backslash\nand newline');
    const odd = 'q "quoted" \\ back\nslash';
    w.sample('rabbitmq_queue_messages', labelText([['vhost', '/'], ['queue', odd]]), 3);
    w.family('rabbitmq_x_total', 'counter', 'x');
    w.sample('rabbitmq_x_total', '', 2 ** 53);
    w.family('rabbitmq_y', 'gauge', 'y');
    w.sample('rabbitmq_y', '', NaN);
    w.sample('rabbitmq_y', labelText([['a', 'b']]), Infinity);
    const m = parsePrometheusText(w.text());
    expect(m.get('rabbitmq_queue_messages')!.help).toBe('help with \\ backslash\nand newline');
    expect(valueOf(m, 'rabbitmq_queue_messages', { queue: odd })).toBe(3);
    expect(valueOf(m, 'rabbitmq_x_total')).toBe(2 ** 53);
    expect(valueOf(m, 'rabbitmq_y')).toBeNaN();
    expect(valueOf(m, 'rabbitmq_y', { a: 'b' })).toBe(Infinity);
    expect(labelText([])).toBe('');
  });
});

describe('the strict exposition parser used by the tests', () => {
  const ok = '# HELP a_total A\n# TYPE a_total counter\na_total{x="1"} 1\n';
  it('accepts valid text', () => {
    expect(parsePrometheusText(ok).get('a_total')!.samples).toHaveLength(1);
  });
  it.each([
    ['no final newline', ok.slice(0, -1)],
    ['bad metric name', '1abc 1\n'],
    ['bad label name', 'a{1x="y"} 1\n'],
    ['reserved label name', 'a{__x="y"} 1\n'],
    ['duplicate label', 'a{x="1",x="2"} 1\n'],
    ['unquoted label value', 'a{x=1} 1\n'],
    ['bad escape', 'a{x="\\t"} 1\n'],
    ['unterminated value', 'a{x="1} 1\n'],
    ['bad value', 'a 1,5\n'],
    ['two spaces', 'a  1\n'],
    ['HELP twice', '# HELP a x\n# HELP a y\na 1\n'],
    ['TYPE twice', '# TYPE a gauge\n# TYPE a gauge\na 1\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['unknown type', '# TYPE a thing\na 1\n'],
    ['split family', 'a 1\nb 1\na{x="1"} 2\n'],
    ['duplicate series', 'a{x="1"} 1\na{x="1"} 2\n'],
    ['negative counter', '# TYPE a_total counter\na_total -1\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
  it('groups histogram samples under their family', () => {
    const m = parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n');
    expect(m.get('h')!.samples).toHaveLength(4);
  });
});
