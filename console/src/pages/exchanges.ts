/**
 * Exchanges: the list (type, features, rates; add one), and one exchange's page: its bindings to
 * queues and exchanges (bind, unbind), the bindings into it, publishing with a routing key, and
 * deleting it. The default exchange is shown as "(default)", as RabbitMQ's UI does (amq.default).
 */
import { useState } from 'preact/hooks';
import { get, request, seg } from '../api.js';
import { Badge, ErrorBox, fmtRate, href, num, pick, str, Table, usePoll, type Column } from '../components.js';
import { html, type View } from '../html.js';
import { useVhosts } from './queues.js';

type Row = { [key: string]: unknown };

const display = (name: string): string => (name === '' ? '(default)' : name);
const apiName = (name: string): string => (name === '' ? 'amq.default' : name);

function exchangeFeatures(x: Row): View[] {
  const out: View[] = [];
  if (x['durable'] === true) out.push(html`<${Badge} text="D" title="durable" />`);
  if (x['auto_delete'] === true) out.push(html`<${Badge} text="AD" title="auto-delete" />`);
  if (x['internal'] === true) out.push(html`<${Badge} text="I" title="internal" />`);
  for (const [k, v] of Object.entries((x['arguments'] ?? {}) as Record<string, unknown>)) {
    out.push(html`<${Badge} text=${k === 'alternate-exchange' ? 'AE' : k} title=${`${k}: ${JSON.stringify(v)}`} kind="arg" />`);
  }
  const policy = x['policy'];
  if (typeof policy === 'string' && policy !== '') out.push(html`<${Badge} text=${policy} kind="policy" />`);
  return out;
}

/** Reads a form's fields, runs `action`, shows its error; resets the form when it worked. */
export function useFormAction(action: (d: FormData) => Promise<void>): { error: string | undefined; onSubmit: (e: Event) => void } {
  const [error, setError] = useState<string | undefined>(undefined);
  const onSubmit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    action(new FormData(form)).then(
      () => { setError(undefined); form.reset(); },
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  };
  return { error, onSubmit };
}

export function ExchangesPage(): View {
  const poll = usePoll(() => get<Row[]>('exchanges'));
  const vhosts = useVhosts();
  const [filter, setFilter] = useState('');
  const rows = (poll.data ?? []).filter((x) => str(x, 'name').toLowerCase().includes(filter.toLowerCase()));
  const add = useFormAction(async (d) => {
    await request('PUT', `exchanges/${seg(String(d.get('vhost')))}/${seg(String(d.get('name')))}`, {
      type: String(d.get('type')), durable: d.get('durable') === 'on', auto_delete: false, internal: d.get('internal') === 'on', arguments: {},
    });
    poll.reload();
  });
  const columns: Column<Row>[] = [
    { key: 'name', label: 'Name', value: (x) => str(x, 'name'),
      render: (x) => html`<a href=${href('exchange', str(x, 'vhost'), str(x, 'name'))}>${display(str(x, 'name'))}</a>` },
    { key: 'vhost', label: 'Vhost', value: (x) => str(x, 'vhost') },
    { key: 'type', label: 'Type', value: (x) => str(x, 'type') },
    { key: 'features', label: 'Features', value: (x) => exchangeFeatures(x).length, render: (x) => html`<span class="badges">${exchangeFeatures(x)}</span>` },
    { key: 'in', label: 'Rate in', numeric: true, value: (x) => num(x, 'message_stats', 'publish_in_details', 'rate'), render: (x) => fmtRate(pick(x, 'message_stats', 'publish_in_details', 'rate') ?? 0) },
    { key: 'out', label: 'Rate out', numeric: true, value: (x) => num(x, 'message_stats', 'publish_out_details', 'rate'), render: (x) => fmtRate(pick(x, 'message_stats', 'publish_out_details', 'rate') ?? 0) },
  ];
  return html`<h1>Exchanges</h1>
    <${ErrorBox} error=${poll.error} />
    <div class="toolbar">
      <label>Filter <input type="search" value=${filter} onInput=${(e: Event) => setFilter((e.currentTarget as HTMLInputElement).value)} /></label>
      <a href="#/topology">Topology graph</a>
    </div>
    <${Table} label="Exchanges" columns=${columns} rows=${rows} rowKey=${(x: Row) => `${str(x, 'vhost')}/${str(x, 'name')}`} />
    <details class="panel"><summary>Add an exchange</summary>
      <form class="grid-form" onSubmit=${add.onSubmit}>
        <label>Virtual host <select name="vhost">${vhosts.map((v) => html`<option>${v}</option>`)}</select></label>
        <label>Name <input name="name" required /></label>
        <label>Type <select name="type"><option>direct</option><option>fanout</option><option>topic</option><option>headers</option></select></label>
        <label class="check"><input type="checkbox" name="durable" checked /> Durable</label>
        <label class="check"><input type="checkbox" name="internal" /> Internal</label>
        <${ErrorBox} error=${add.error} />
        <button type="submit">Add exchange</button>
      </form></details>`;
}

export function ExchangePage({ args }: { args: string[] }): View {
  const [vhost = '/', name = ''] = args;
  const base = `exchanges/${seg(vhost)}/${seg(apiName(name))}`;
  const poll = usePoll(async () => {
    const [x, source, destination] = await Promise.all([
      get<Row>(base), get<Row[]>(`${base}/bindings/source`), get<Row[]>(`${base}/bindings/destination`),
    ]);
    return { x, source, destination };
  }, [base]);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const bind = useFormAction(async (d) => {
    const kind = String(d.get('kind'));
    await request('POST', `bindings/${seg(vhost)}/e/${seg(name)}/${kind}/${seg(String(d.get('destination')))}`, { routing_key: String(d.get('routing_key') ?? '') });
    poll.reload();
  });
  const publish = useFormAction(async (d) => {
    const r = await request<{ routed: boolean }>('POST', `${base}/publish`, {
      properties: {}, routing_key: String(d.get('routing_key') ?? ''), payload: String(d.get('payload') ?? ''), payload_encoding: 'string',
    });
    setStatus(r.routed ? 'Message published.' : 'Message published but not routed.');
    poll.reload();
  });
  const [error, setError] = useState<string | undefined>(undefined);
  const unbind = async (b: Row) => {
    const kind = str(b, 'destination_type') === 'queue' ? 'q' : 'e';
    try {
      await request('DELETE', `bindings/${seg(vhost)}/e/${seg(str(b, 'source'))}/${kind}/${seg(str(b, 'destination'))}/${seg(str(b, 'properties_key'))}`);
      poll.reload();
    } catch (e: unknown) { setError(e instanceof Error ? e.message : String(e)); }
  };
  const remove = async () => {
    if (!confirm(`Delete exchange ${name}?`)) return;
    try { await request('DELETE', base); location.hash = '#/exchanges'; } catch (e: unknown) { setError(e instanceof Error ? e.message : String(e)); }
  };
  const link = (type: string, n: string) => html`<a href=${href(type === 'queue' ? 'queue' : 'exchange', vhost, n)}>${type === 'queue' ? n : display(n)}</a>`;
  const cols = (side: 'source' | 'destination'): Column<Row>[] => [
    side === 'source'
      ? { key: 'to', label: 'To', value: (b) => str(b, 'destination'), render: (b) => html`${link(str(b, 'destination_type'), str(b, 'destination'))} <small>${str(b, 'destination_type')}</small>` }
      : { key: 'from', label: 'From', value: (b) => str(b, 'source'), render: (b) => link('exchange', str(b, 'source')) },
    { key: 'rk', label: 'Routing key', value: (b) => str(b, 'routing_key') },
    { key: 'args', label: 'Arguments', value: (b) => JSON.stringify(pick(b, 'arguments') ?? {}) },
    { key: 'x', label: '', value: () => '', render: (b) => name === '' ? null
      : html`<button type="button" class="small" onClick=${() => void unbind(b)} aria-label=${`Unbind ${str(b, 'destination')}`}>Unbind</button>` },
  ];
  const d = poll.data;
  if (d === undefined) return html`<h1>Exchange ${display(name)}</h1><${ErrorBox} error=${poll.error} />${poll.error === undefined ? html`<p>Loading…</p>` : null}`;
  return html`<p class="crumbs"><a href="#/exchanges">Exchanges</a> › ${vhost}</p>
    <h1>Exchange <code>${display(name)}</code></h1>
    <p class="subtitle">${str(d.x, 'type')} · <span class="badges">${exchangeFeatures(d.x)}</span>
      · in ${fmtRate(pick(d.x, 'message_stats', 'publish_in_details', 'rate') ?? 0)} · out ${fmtRate(pick(d.x, 'message_stats', 'publish_out_details', 'rate') ?? 0)}</p>
    <${ErrorBox} error=${error ?? poll.error} />
    <section aria-labelledby="src-title"><h2 id="src-title">Bindings from this exchange</h2>
      <${Table} label="Bindings from this exchange" columns=${cols('source')} rows=${d.source} rowKey=${(b: Row) => `${str(b, 'destination_type')}|${str(b, 'destination')}|${str(b, 'properties_key')}`}
        empty=${name === '' ? 'The default exchange routes to every queue by its name.' : 'No bindings.'} />
      ${name === '' ? null : html`<form class="inline-form" onSubmit=${bind.onSubmit}>
        <label>To <select name="kind"><option value="q">queue</option><option value="e">exchange</option></select></label>
        <label>Destination <input name="destination" required /></label>
        <label>Routing key <input name="routing_key" /></label>
        <button type="submit">Bind</button></form><${ErrorBox} error=${bind.error} />`}
    </section>
    ${d.destination.length > 0 ? html`<section aria-labelledby="dst-title"><h2 id="dst-title">Bindings into this exchange</h2>
      <${Table} label="Bindings into this exchange" columns=${cols('destination')} rows=${d.destination} rowKey=${(b: Row) => `${str(b, 'source')}|${str(b, 'properties_key')}`} /></section>` : null}
    <details class="panel"><summary>Publish a message</summary>
      <form class="grid-form" onSubmit=${publish.onSubmit}>
        <label>Routing key <input name="routing_key" /></label>
        <label class="wide">Payload <textarea name="payload" rows="3"></textarea></label>
        <${ErrorBox} error=${publish.error} />
        ${status !== undefined ? html`<p role="status" class="ok">${status}</p>` : null}
        <button type="submit">Publish message</button>
      </form></details>
    ${name === '' || name.startsWith('amq.') ? null : html`<div class="actions"><button type="button" class="danger" onClick=${() => void remove()}>Delete exchange</button></div>`}`;
}
