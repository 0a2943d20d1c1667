import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { cell, columnsOf, formatTable, pick, printObject, printRows } from '../../../src/cli/commands/output.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => { text += d.toString(); });
  return { stream, text: () => text };
}

describe('management command output', () => {
  it('picks dotted paths and renders cells', () => {
    const row = { name: 'q', message_stats: { publish_details: { rate: 1.5 } }, tags: ['a', 'b'], args: { x: 1 }, none: null };
    expect(pick(row, 'message_stats.publish_details.rate')).toBe(1.5);
    expect(pick(row, 'name.length')).toBeUndefined();
    expect(pick(row, 'missing.deep')).toBeUndefined();
    expect(cell(pick(row, 'tags'))).toBe('a,b');
    expect(cell(pick(row, 'args'))).toBe('{"x":1}');
    expect(cell(pick(row, 'none'))).toBe('');
    expect(cell(false)).toBe('false');
  });

  it('aligns a table with a header, without trailing spaces, escaping newlines', () => {
    const text = formatTable([{ name: 'a', messages: 10 }, { name: 'longer\nname', messages: 2 }], ['name', 'messages']);
    expect(text).toBe('name          messages\na             10\nlonger\\nname  2\n');
    expect(formatTable([], ['name'])).toBe('name\n');
  });

  it('takes --columns over the defaults and prints JSON with only them', async () => {
    expect(columnsOf({ json: false, columns: ' a, b ,' }, ['x'])).toEqual(['a', 'b']);
    expect(columnsOf({ json: false, columns: undefined }, ['x'])).toEqual(['x']);
    const out = capture();
    printRows(out.stream, [{ name: 'q', messages: 1, other: true }], ['name'], { json: true, columns: 'name,messages' });
    expect(JSON.parse(out.text())).toEqual([{ name: 'q', messages: 1 }]);
    const all = capture();
    printRows(all.stream, [{ name: 'q', other: true }], ['name'], { json: true, columns: undefined });
    expect(JSON.parse(all.text())).toEqual([{ name: 'q', other: true }]);
    const obj = capture();
    printObject(obj.stream, { node: 'n', totals: { q: 1 } }, ['node', 'totals.q'], { json: false, columns: undefined });
    expect(obj.text()).toBe('node:     n\ntotals.q: 1\n');
  });
});
