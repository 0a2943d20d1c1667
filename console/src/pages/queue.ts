/**
 * One queue: counts and rate charts, its consumers and bindings, browsing its messages without
 * consuming them (the peek endpoint: no redelivered flag, no reordering), publishing to it,
 * purging, deleting, and moving its messages to another queue or exchange. A move is a series
 * of get (ack, so the message leaves) + inject (to a queue) or publish (to an exchange) through
 * the API, oldest first; it is not atomic:
 * a publish refused half-way stops the move and says which message was taken but not placed.
 */
import { useState } from 'preact/hooks';
import { get, request, seg, type JsonObject } from '../api.js';
import { Chart, ErrorBox, fmtBytes, fmtNum, fmtRate, href, num, pick, str, Table, useHistory, usePoll, type Column } from '../components.js';
import { html, type View } from '../html.js';
import { MessageView, type MessageJson } from '../message-view.js';
import { features, type QueueJson } from './queues.js';

interface PeekJson {
  total: number;
  offset: number;
  messages: MessageJson[];
}

type Row = { [key: string]: unknown };

function Browse({ base }: { base: string }): View {
  const [state, setState] = useState('all');
  const [offset, setOffset] = useState(0);
  const [count, setCount] = useState(20);
  const poll = usePoll(() => get<PeekJson>(`${base}/peek?state=${state}&offset=${offset}&count=${count}`), [state, offset, count]);
  const p = poll.data;
  const total = p?.total ?? 0;
  return html`<section aria-labelledby="browse-title" class="panel">
    <h2 id="browse-title">Messages</h2>
    <p class="hint">Browsing does not consume: no redelivered flag, no reordering, consumers unaffected.</p>
    <div class="toolbar">
      <label>Show <select aria-label="Show messages" value=${state} onChange=${(e: Event) => { setState((e.currentTarget as HTMLSelectElement).value); setOffset(0); }}>
        <option value="all">ready and unacked</option><option value="ready">ready</option><option value="unacked">unacked</option></select></label>
      <label>Per page <select value=${String(count)} onChange=${(e: Event) => { setCount(Number((e.currentTarget as HTMLSelectElement).value)); setOffset(0); }}>
        <option>10</option><option>20</option><option>50</option><option>100</option></select></label>
      <button type="button" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - count))}>Previous</button>
      <span aria-live="polite" data-testid="browse-range">${total === 0 ? 'No messages' : `${offset + 1}–${Math.min(offset + count, total)} of ${total}`}</span>
      <button type="button" disabled=${offset + count >= total} onClick=${() => setOffset(offset + count)}>Next</button>
    </div>
    <${ErrorBox} error=${poll.error} />
    ${(p?.messages ?? []).map((m, i) => html`<${MessageView} key=${`${m.state ?? ''}-${m.position ?? i}`} m=${m} index=${offset + i} />`)}
  </section>`;
}

function Publish({ vhost, queue, done }: { vhost: string; queue: string; done: () => void }): View {
  const [result, setResult] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget as HTMLFormElement);
    try {
      const props: JsonObject = { delivery_mode: d.get('persistent') === 'on' ? 2 : 1 };
      const ct = String(d.get('content_type') ?? '').trim();
      if (ct !== '') props['content_type'] = ct;
      const h = String(d.get('headers') ?? '').trim();
      if (h !== '') props['headers'] = JSON.parse(h) as JsonObject;
      const message = { properties: props, routing_key: queue, payload: String(d.get('payload') ?? ''), payload_encoding: 'string' };
      if (d.get('inject') === 'on') {
        // Warren's inject endpoint: straight into this queue, no exchange, no binding needed.
        const r = await request<{ enqueued: boolean }>('POST', `queues/${seg(vhost)}/${seg(queue)}/inject`, message);
        setResult(r.enqueued ? 'Message injected.' : 'Message refused by the queue (overflow reject-publish).');
      } else {
        const r = await request<{ routed: boolean }>('POST', `exchanges/${seg(vhost)}/amq.default/publish`, message);
        setResult(r.routed ? 'Message published.' : 'Message published but not routed.');
      }
      setError(undefined);
      done();
    } catch (err: unknown) {
      setResult(undefined);
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return html`<details class="panel"><summary>Publish a message</summary>
    <form class="grid-form" onSubmit=${submit}>
      <label>Content type <input name="content_type" placeholder="application/json" /></label>
      <label class="check"><input type="checkbox" name="persistent" checked /> Persistent</label>
      <label class="check" title="Warren's inject endpoint: no exchange, no routing"><input type="checkbox" name="inject" /> Inject straight into the queue</label>
      <label class="wide">Headers (JSON) <textarea name="headers" rows="2" placeholder='{"x-trace": "abc"}'></textarea></label>
      <label class="wide">Payload <textarea name="payload" rows="4"></textarea></label>
      <${ErrorBox} error=${error} />
      ${result !== undefined ? html`<p role="status" class="ok">${result}</p>` : null}
      <button type="submit">Publish message</button>
    </form></details>`;
}

function Move({ vhost, queue, done }: { vhost: string; queue: string; done: () => void }): View {
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget as HTMLFormElement);
    const kind = String(d.get('kind'));
    const target = String(d.get('target') ?? '').trim();
    const limit = Number(d.get('count') ?? '0') || Number.MAX_SAFE_INTEGER;
    setError(undefined);
    let moved = 0;
    try {
      if (kind === 'queue') await get(`queues/${seg(vhost)}/${seg(target)}`);
      else await get(`exchanges/${seg(vhost)}/${seg(target === '' ? 'amq.default' : target)}`);
      while (moved < limit) {
        const batch = await request<MessageJson[]>('POST', `queues/${seg(vhost)}/${seg(queue)}/get`, {
          count: Math.min(100, limit - moved), ackmode: 'ack_requeue_false', encoding: 'base64',
        });
        if (batch.length === 0) break;
        for (const m of batch) {
          const message = {
            properties: Array.isArray(m.properties) ? {} : (m.properties ?? {}), routing_key: m.routing_key ?? '',
            payload: m.payload ?? '', payload_encoding: 'base64',
          };
          // To a queue: inject (no exchange; the message keeps its routing key); to an exchange: publish.
          const path = kind === 'queue'
            ? `queues/${seg(vhost)}/${seg(target)}/inject`
            : `exchanges/${seg(vhost)}/${seg(target === '' ? 'amq.default' : target)}/publish`;
          try {
            const r = await request<{ enqueued?: boolean } | null>('POST', path, message);
            if (r?.enqueued === false) throw new Error('the target queue refused it (overflow reject-publish)');
          } catch (err: unknown) {
            throw new Error(`moved ${moved}; the next message (${m.payload_bytes ?? 0} bytes, routing key ${m.routing_key ?? ''}) was taken but could not be published: ${err instanceof Error ? err.message : String(err)}`);
          }
          moved++;
          setStatus(`Moved ${moved}…`);
        }
      }
      setStatus(`Moved ${moved} message${moved === 1 ? '' : 's'} to ${kind} ${target === '' ? '(default)' : target}.`);
      done();
    } catch (err: unknown) {
      setStatus(undefined);
      setError(err instanceof Error ? err.message : String(err));
      done();
    }
  };
  return html`<details class="panel"><summary>Move messages</summary>
    <form class="grid-form" onSubmit=${submit}>
      <label>To <select name="kind"><option value="queue">queue</option><option value="exchange">exchange (keeps routing keys)</option></select></label>
      <label>Name <input name="target" required aria-label="Target name" /></label>
      <label>How many <input name="count" type="number" min="1" placeholder="all" /></label>
      <p class="hint wide">Ready messages are taken oldest first and put into the target one by one (unacked ones stay).</p>
      <${ErrorBox} error=${error} />
      ${status !== undefined ? html`<p role="status" class="ok">${status}</p>` : null}
      <button type="submit">Move messages</button>
    </form></details>`;
}

function Bindings({ vhost, queue }: { vhost: string; queue: string }): View {
  const poll = usePoll(() => get<Row[]>(`queues/${seg(vhost)}/${seg(queue)}/bindings`), [vhost, queue]);
  const [error, setError] = useState<string | undefined>(undefined);
  const add = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const d = new FormData(form);
    try {
      await request('POST', `bindings/${seg(vhost)}/e/${seg(String(d.get('exchange')))}/q/${seg(queue)}`, { routing_key: String(d.get('routing_key') ?? '') });
      setError(undefined);
      form.reset();
      poll.reload();
    } catch (err: unknown) { setError(err instanceof Error ? err.message : String(err)); }
  };
  const unbind = async (b: Row) => {
    try {
      await request('DELETE', `bindings/${seg(vhost)}/e/${seg(str(b, 'source'))}/q/${seg(queue)}/${seg(str(b, 'properties_key'))}`);
      poll.reload();
    } catch (err: unknown) { setError(err instanceof Error ? err.message : String(err)); }
  };
  const columns: Column<Row>[] = [
    { key: 'source', label: 'From exchange', value: (b) => str(b, 'source'),
      render: (b) => str(b, 'source') === '' ? '(default exchange)' : html`<a href=${href('exchange', vhost, str(b, 'source'))}>${str(b, 'source')}</a>` },
    { key: 'routing_key', label: 'Routing key', value: (b) => str(b, 'routing_key') },
    { key: 'arguments', label: 'Arguments', value: (b) => JSON.stringify(pick(b, 'arguments') ?? {}) },
    { key: 'action', label: '', value: () => '', render: (b) => str(b, 'source') === '' ? null
      : html`<button type="button" class="small" onClick=${() => void unbind(b)} aria-label=${`Unbind from ${str(b, 'source')}`}>Unbind</button>` },
  ];
  return html`<section aria-labelledby="bindings-title"><h2 id="bindings-title">Bindings</h2>
    <${Table} label="Bindings" columns=${columns} rows=${poll.data ?? []} rowKey=${(b: Row) => `${str(b, 'source')}|${str(b, 'properties_key')}`} />
    <form class="inline-form" onSubmit=${add}>
      <label>Exchange <input name="exchange" required /></label>
      <label>Routing key <input name="routing_key" /></label>
      <button type="submit">Bind</button>
    </form>
    <${ErrorBox} error=${error ?? poll.error} /></section>`;
}

export function Consumers({ filter }: { filter: (c: Row) => boolean }): View {
  const poll = usePoll(() => get<Row[]>('consumers'));
  const rows = (poll.data ?? []).filter(filter);
  const columns: Column<Row>[] = [
    { key: 'tag', label: 'Consumer tag', value: (c) => str(c, 'consumer_tag') },
    { key: 'queue', label: 'Queue', value: (c) => str(c, 'queue', 'name'),
      render: (c) => html`<a href=${href('queue', str(c, 'queue', 'vhost'), str(c, 'queue', 'name'))}>${str(c, 'queue', 'name')}</a>` },
    { key: 'channel', label: 'Channel', value: (c) => str(c, 'channel_details', 'name') },
    { key: 'ack', label: 'Ack required', value: (c) => String(pick(c, 'ack_required')) },
    { key: 'prefetch', label: 'Prefetch', numeric: true, value: (c) => num(c, 'prefetch_count') },
    { key: 'active', label: 'Active', value: (c) => String(pick(c, 'active')) },
  ];
  return html`<${ErrorBox} error=${poll.error} />
    <${Table} label="Consumers" columns=${columns} rows=${rows} rowKey=${(c: Row) => `${str(c, 'channel_details', 'name')}|${str(c, 'consumer_tag')}`} empty="No consumers." />`;
}

export function QueuePage({ args }: { args: string[] }): View {
  const [vhost = '/', queue = ''] = args;
  const base = `queues/${seg(vhost)}/${seg(queue)}`;
  const poll = usePoll(() => get<QueueJson>(base), [base]);
  const [error, setError] = useState<string | undefined>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const q = poll.data;
  const rates = useHistory(q === undefined ? undefined : [
    num(q, 'message_stats', 'publish_details', 'rate'), num(q, 'message_stats', 'deliver_get_details', 'rate'), num(q, 'message_stats', 'ack_details', 'rate'),
  ]);
  const queued = useHistory(q === undefined ? undefined : [num(q, 'messages_ready'), num(q, 'messages_unacknowledged')]);
  const purge = async () => {
    if (!confirm(`Purge every ready message from ${queue}?`)) return;
    try { await request('DELETE', `${base}/contents`); setStatus('Queue purged.'); poll.reload(); } catch (e: unknown) { setError(String(e instanceof Error ? e.message : e)); }
  };
  const remove = async () => {
    if (!confirm(`Delete queue ${queue} and its messages?`)) return;
    try { await request('DELETE', base); location.hash = '#/queues'; } catch (e: unknown) { setError(String(e instanceof Error ? e.message : e)); }
  };
  if (poll.error !== undefined && q === undefined) {
    return html`<h1>Queue ${queue}</h1><${ErrorBox} error=${poll.error} /><p><a href="#/queues">All queues</a></p>`;
  }
  const args2 = (q?.['arguments'] ?? {}) as Record<string, unknown>;
  const eff = (q?.['effective_policy_definition'] ?? {}) as Record<string, unknown>;
  return html`<p class="crumbs"><a href="#/queues">Queues</a> › ${vhost}</p>
    <h1>Queue <code>${queue}</code></h1>
    ${q === undefined ? html`<p>Loading…</p>` : html`
    <p class="subtitle">${str(q, 'type')} · <span class=${`state ${str(q, 'state')}`}>${str(q, 'state')}</span> · <span class="badges">${features(q)}</span></p>
    <section class="tiles" aria-label="Counts">
      <div class="tile" data-testid="ready"><span class="tile-label">Ready</span><span class="tile-value">${fmtNum(num(q, 'messages_ready'))}</span></div>
      <div class="tile" data-testid="unacked"><span class="tile-label">Unacked</span><span class="tile-value">${fmtNum(num(q, 'messages_unacknowledged'))}</span></div>
      <div class="tile" data-testid="total"><span class="tile-label">Total</span><span class="tile-value">${fmtNum(num(q, 'messages'))}</span></div>
      <div class="tile" data-testid="consumers"><span class="tile-label">Consumers</span><span class="tile-value">${fmtNum(num(q, 'consumers'))}</span></div>
      <div class="tile"><span class="tile-label">Bytes</span><span class="tile-value">${fmtBytes(num(q, 'message_bytes'))}</span></div>
      <div class="tile"><span class="tile-label">Incoming</span><span class="tile-value">${fmtRate(num(q, 'message_stats', 'publish_details', 'rate'))}</span></div>
    </section>
    ${Object.keys(args2).length + Object.keys(eff).length > 0 ? html`<dl class="props">
      ${Object.entries(args2).map(([k, v]) => html`<dt>${k}</dt><dd>${JSON.stringify(v)}</dd>`)}
      ${Object.entries(eff).map(([k, v]) => html`<dt>${k} (policy ${str(q, 'policy')})</dt><dd>${JSON.stringify(v)}</dd>`)}
    </dl>` : null}
    <div class="actions">
      <button type="button" onClick=${() => void purge()}>Purge</button>
      <button type="button" class="danger" onClick=${() => void remove()}>Delete queue</button>
    </div>
    <${ErrorBox} error=${error} />
    ${status !== undefined ? html`<p role="status" class="ok">${status}</p>` : null}
    <${Publish} vhost=${vhost} queue=${queue} done=${poll.reload} />
    <${Move} vhost=${vhost} queue=${queue} done=${poll.reload} />
    <${Browse} base=${base} />
    <section class="charts">
      <${Chart} title="Queued messages" samples=${queued} format=${fmtNum} series=${[{ label: 'Ready', className: 's1' }, { label: 'Unacked', className: 's2' }]} />
      <${Chart} title="Message rates" samples=${rates} format=${fmtRate}
        series=${[{ label: 'Publish', className: 's1' }, { label: 'Deliver / get', className: 's2' }, { label: 'Ack', className: 's3' }]} />
    </section>
    <section aria-labelledby="consumers-title"><h2 id="consumers-title">Consumers</h2>
      <${Consumers} filter=${(c: Row) => str(c, 'queue', 'name') === queue && str(c, 'queue', 'vhost') === vhost} /></section>
    <${Bindings} vhost=${vhost} queue=${queue} />`}`;
}
