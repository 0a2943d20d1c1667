/**
 * Queues: every queue the user may see, filterable (name substring or /regex/, vhost) and
 * sortable by any column, with ready/unacked/total, rates, consumers, state and badges for the
 * features its arguments and policy give it; and a form to add a queue.
 */
import { useState } from 'preact/hooks';
import { get, request, seg, type JsonObject } from '../api.js';
import { Badge, ErrorBox, fmtNum, fmtRate, href, num, pick, str, Table, usePoll, type Column } from '../components.js';
import { html, type View } from '../html.js';

export type QueueJson = { [key: string]: unknown };

/** Short badges for what arguments and policies do to a queue (RabbitMQ's "Features" column). */
export function features(q: QueueJson): View[] {
  const out: View[] = [];
  if (q['durable'] === true) out.push(html`<${Badge} text="D" title="durable" />`);
  if (q['auto_delete'] === true) out.push(html`<${Badge} text="AD" title="auto-delete" />`);
  if (q['exclusive'] === true) out.push(html`<${Badge} text="Excl" title="exclusive" />`);
  const args = (q['arguments'] ?? {}) as Record<string, unknown>;
  const labels: Record<string, string> = {
    'x-message-ttl': 'TTL', 'x-expires': 'Exp', 'x-max-length': 'Lim', 'x-max-length-bytes': 'Lim B',
    'x-dead-letter-exchange': 'DLX', 'x-dead-letter-routing-key': 'DLK', 'x-max-priority': 'Pri',
    'x-overflow': 'Ovfl', 'x-single-active-consumer': 'SAC', 'x-queue-mode': 'Mode', 'x-delivery-limit': 'DLim',
  };
  for (const [k, v] of Object.entries(args)) {
    if (k === 'x-queue-type') continue;
    out.push(html`<${Badge} text=${labels[k] ?? k} title=${`${k}: ${JSON.stringify(v)}`} kind="arg" />`);
  }
  const policy = q['policy'];
  if (typeof policy === 'string' && policy !== '') out.push(html`<${Badge} text=${policy} title=${`policy ${policy}`} kind="policy" />`);
  const op = q['operator_policy'];
  if (typeof op === 'string' && op !== '') out.push(html`<${Badge} text=${op} title=${`operator policy ${op}`} kind="policy" />`);
  return out;
}

function matches(filter: string, name: string): boolean {
  if (filter === '') return true;
  const re = /^\/(.*)\/$/.exec(filter);
  if (re !== null) {
    try { return new RegExp(re[1]!).test(name); } catch { return false; }
  }
  return name.toLowerCase().includes(filter.toLowerCase());
}

export function useVhosts(): string[] {
  const poll = usePoll(() => get<{ name: string }[]>('vhosts'));
  return (poll.data ?? []).map((v) => v.name);
}

function AddQueue({ vhosts, done }: { vhosts: string[]; done: () => void }): View {
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const d = new FormData(form);
    try {
      const argsText = String(d.get('arguments') ?? '').trim();
      const args = argsText === '' ? {} : (JSON.parse(argsText) as JsonObject);
      const type = String(d.get('type') ?? 'classic');
      if (type !== 'classic') args['x-queue-type'] = type;
      await request('PUT', `queues/${seg(String(d.get('vhost')))}/${seg(String(d.get('name')))}`, {
        durable: d.get('durable') === 'on', auto_delete: d.get('auto_delete') === 'on', arguments: args,
      });
      setError(undefined);
      form.reset();
      done();
    } catch (err: unknown) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return html`<details class="panel"><summary>Add a queue</summary>
    <form class="grid-form" onSubmit=${submit}>
      <label>Virtual host <select name="vhost">${vhosts.map((v) => html`<option>${v}</option>`)}</select></label>
      <label>Name <input name="name" required /></label>
      <label>Type <select name="type"><option>classic</option><option>quorum</option><option>stream</option></select></label>
      <label class="check"><input type="checkbox" name="durable" checked /> Durable</label>
      <label class="check"><input type="checkbox" name="auto_delete" /> Auto-delete</label>
      <label class="wide">Arguments (JSON) <textarea name="arguments" rows="2" placeholder='{"x-message-ttl": 60000}'></textarea></label>
      <${ErrorBox} error=${error} />
      <button type="submit">Add queue</button>
    </form></details>`;
}

export function QueuesPage(): View {
  const poll = usePoll(() => get<QueueJson[]>('queues'));
  const vhosts = useVhosts();
  const [filter, setFilter] = useState('');
  const [vhost, setVhost] = useState('');
  const rows = (poll.data ?? []).filter((q) => (vhost === '' || q['vhost'] === vhost) && matches(filter, str(q, 'name')));
  const columns: Column<QueueJson>[] = [
    { key: 'name', label: 'Name', value: (q) => str(q, 'name'),
      render: (q) => html`<a href=${href('queue', str(q, 'vhost'), str(q, 'name'))}>${str(q, 'name')}</a>` },
    { key: 'vhost', label: 'Vhost', value: (q) => str(q, 'vhost') },
    { key: 'type', label: 'Type', value: (q) => str(q, 'type') },
    { key: 'features', label: 'Features', value: (q) => features(q).length, render: (q) => html`<span class="badges">${features(q)}</span>` },
    { key: 'state', label: 'State', value: (q) => str(q, 'state'), render: (q) => html`<span class=${`state ${str(q, 'state')}`}>${str(q, 'state')}</span>` },
    { key: 'ready', label: 'Ready', numeric: true, value: (q) => num(q, 'messages_ready'), render: (q) => fmtNum(num(q, 'messages_ready')) },
    { key: 'unacked', label: 'Unacked', numeric: true, value: (q) => num(q, 'messages_unacknowledged'), render: (q) => fmtNum(num(q, 'messages_unacknowledged')) },
    { key: 'total', label: 'Total', numeric: true, value: (q) => num(q, 'messages'), render: (q) => fmtNum(num(q, 'messages')) },
    { key: 'in', label: 'Incoming', numeric: true, value: (q) => num(q, 'message_stats', 'publish_details', 'rate'), render: (q) => fmtRate(pick(q, 'message_stats', 'publish_details', 'rate') ?? 0) },
    { key: 'out', label: 'Deliver / get', numeric: true, value: (q) => num(q, 'message_stats', 'deliver_get_details', 'rate'), render: (q) => fmtRate(pick(q, 'message_stats', 'deliver_get_details', 'rate') ?? 0) },
    { key: 'ack', label: 'Ack', numeric: true, value: (q) => num(q, 'message_stats', 'ack_details', 'rate'), render: (q) => fmtRate(pick(q, 'message_stats', 'ack_details', 'rate') ?? 0) },
    { key: 'consumers', label: 'Consumers', numeric: true, value: (q) => num(q, 'consumers'), render: (q) => fmtNum(num(q, 'consumers')) },
  ];
  return html`<h1>Queues</h1>
    <${ErrorBox} error=${poll.error} />
    <div class="toolbar">
      <label>Filter <input type="search" value=${filter} placeholder="name, or /regex/" onInput=${(e: Event) => setFilter((e.currentTarget as HTMLInputElement).value)} /></label>
      <label>Virtual host <select value=${vhost} onChange=${(e: Event) => setVhost((e.currentTarget as HTMLSelectElement).value)}>
        <option value="">All</option>${vhosts.map((v) => html`<option value=${v}>${v}</option>`)}</select></label>
      <span class="count" aria-live="polite">${rows.length} of ${poll.data?.length ?? 0} queues</span>
    </div>
    <${Table} label="Queues" columns=${columns} rows=${rows} rowKey=${(q: QueueJson) => `${str(q, 'vhost')}/${str(q, 'name')}`}
      empty=${poll.data === undefined ? 'Loading…' : 'No queues match.'} />
    <${AddQueue} vhosts=${vhosts} done=${poll.reload} />`;
}
