/**
 * Links and pending work (issues 17 and 18): shovels (GET /api/shovels; restart with DELETE
 * /api/shovels/vhost/{vhost}/{name}/restart, delete with DELETE /api/parameters/shovel/{vhost}/{name}
 * as rabbitmq_shovel_management's UI does), federation links (GET /api/federation-links, read only)
 * and half messages (GET /api/half-messages[/{vhost}]; an operator's commit or rollback with POST
 * /api/exchanges/{vhost}/{x}/half-messages/{id}/commit|rollback). Every action asks first.
 */
import { useState } from 'preact/hooks';
import { get, request, seg } from '../api.js';
import { ErrorBox, fmtBytes, fmtNum, href, num, str, Table, usePoll, type Column } from '../components.js';
import { html, type View } from '../html.js';

type Row = { [key: string]: unknown };

/** The status line and error of a page's actions (one at a time). */
function useAction(reload: () => void) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const run = async (question: string, act: () => Promise<string>) => {
    if (!confirm(question)) return;
    try {
      setError(undefined);
      setStatus(await act());
      reload();
    } catch (e: unknown) { setStatus(undefined); setError(e instanceof Error ? e.message : String(e)); }
  };
  return { error, status, run };
}

function State({ state }: { state: string }): View {
  return html`<span class=${`state ${state}`}>${state}</span>`;
}

/** "queue q", "exchange x (key k)" or "" (the ends are shown while the shovel runs). */
function end(s: Row, side: 'src' | 'dest'): string {
  const q = str(s, `${side}_queue`);
  if (q !== '') return `queue ${q}`;
  const x = str(s, `${side}_exchange`);
  const k = str(s, `${side}_exchange_key`);
  return x === '' && k === '' ? '' : `exchange ${x === '' ? '(default)' : x}${k === '' ? '' : ` (key ${k})`}`;
}

export function ShovelsPage(): View {
  const poll = usePoll(() => get<Row[]>('shovels'));
  const action = useAction(poll.reload);
  const restart = (s: Row) => action.run(`Restart shovel ${str(s, 'name')}?`, async () => {
    await request('DELETE', `shovels/vhost/${seg(str(s, 'vhost'))}/${seg(str(s, 'name'))}/restart`);
    return `Shovel ${str(s, 'name')} restarted.`;
  });
  const remove = (s: Row) => action.run(`Delete shovel ${str(s, 'name')}?`, async () => {
    await request('DELETE', `parameters/shovel/${seg(str(s, 'vhost'))}/${seg(str(s, 'name'))}`);
    return `Shovel ${str(s, 'name')} deleted.`;
  });
  const columns: Column<Row>[] = [
    { key: 'name', label: 'Name', value: (s) => str(s, 'name') },
    { key: 'vhost', label: 'Vhost', value: (s) => str(s, 'vhost') },
    { key: 'state', label: 'State', value: (s) => str(s, 'state'), render: (s) => html`<${State} state=${str(s, 'state')} />` },
    { key: 'src', label: 'Source', value: (s) => `${str(s, 'src_uri')} ${end(s, 'src')}`,
      render: (s) => html`<code>${str(s, 'src_uri')}</code> ${end(s, 'src')}` },
    { key: 'dest', label: 'Destination', value: (s) => `${str(s, 'dest_uri')} ${end(s, 'dest')}`,
      render: (s) => html`<code>${str(s, 'dest_uri')}</code> ${end(s, 'dest')}` },
    { key: 'reason', label: 'Reason', value: (s) => str(s, 'reason') },
    { key: 'since', label: 'Since', value: (s) => str(s, 'timestamp') },
    { key: 'x', label: '', value: () => '', render: (s) => html`<span class="actions">
      <button type="button" class="small" onClick=${() => void restart(s)} aria-label=${`Restart shovel ${str(s, 'name')}`}>Restart</button>
      <button type="button" class="small danger" onClick=${() => void remove(s)} aria-label=${`Delete shovel ${str(s, 'name')}`}>Delete</button>
    </span>` },
  ];
  return html`<h1>Shovels</h1>
    <${ErrorBox} error=${action.error ?? poll.error} />
    ${action.status !== undefined ? html`<p role="status" class="ok">${action.status}</p>` : null}
    <${Table} label="Shovels" columns=${columns} rows=${poll.data ?? []} rowKey=${(s: Row) => `${str(s, 'vhost')}/${str(s, 'name')}`}
      empty=${poll.data === undefined ? 'Loading…' : 'No shovels. Create one with PUT /api/parameters/shovel/{vhost}/{name} or in a definitions file.'} />`;
}

export function FederationPage(): View {
  const poll = usePoll(() => get<Row[]>('federation-links'));
  const local = (l: Row) => (str(l, 'type') === 'queue' ? `queue ${str(l, 'queue')}` : `exchange ${str(l, 'exchange')}`);
  const remote = (l: Row) => (str(l, 'type') === 'queue' ? str(l, 'upstream_queue') : str(l, 'upstream_exchange'));
  const columns: Column<Row>[] = [
    { key: 'upstream', label: 'Upstream', value: (l) => str(l, 'upstream') },
    { key: 'uri', label: 'URI', value: (l) => str(l, 'uri'), render: (l) => html`<code>${str(l, 'uri')}</code>` },
    { key: 'vhost', label: 'Vhost', value: (l) => str(l, 'vhost') },
    { key: 'local', label: 'Exchange / queue', value: local, render: (l) => {
      const vhost = str(l, 'vhost');
      const name = str(l, 'type') === 'queue' ? str(l, 'queue') : str(l, 'exchange');
      return html`${str(l, 'type')} <a href=${href(str(l, 'type') === 'queue' ? 'queue' : 'exchange', vhost, name)}>${name}</a>`;
    } },
    { key: 'remote', label: 'Upstream name', value: remote },
    { key: 'status', label: 'Status', value: (l) => str(l, 'status'), render: (l) => html`<${State} state=${str(l, 'status')} />` },
    { key: 'error', label: 'Error', value: (l) => str(l, 'error') },
    { key: 'since', label: 'Since', value: (l) => str(l, 'timestamp') },
  ];
  return html`<h1>Federation links</h1>
    <${ErrorBox} error=${poll.error} />
    <${Table} label="Federation links" columns=${columns} rows=${poll.data ?? []} rowKey=${(l: Row) => str(l, 'id') || `${str(l, 'vhost')}/${local(l)}/${str(l, 'upstream')}`}
      empty=${poll.data === undefined ? 'Loading…' : 'No federation links. A federation-upstream parameter and a policy with federation-upstream(-set) start them.'} />`;
}

/** "12 s", "3 min", "2 h": how long a half message has waited. */
function fmtAge(ms: number): string {
  if (ms < 60_000) return `${Math.floor(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}

export function HalfMessagesPage({ args }: { args: string[] }): View {
  const vhost = args[0] ?? '';
  const poll = usePoll(() => get<Row[]>(vhost === '' ? 'half-messages' : `half-messages/${seg(vhost)}`), [vhost]);
  const vhosts = usePoll(() => get<Row[]>('vhosts')).data?.map((v) => str(v, 'name')) ?? [];
  const action = useAction(poll.reload);
  const decide = (h: Row, decision: 'commit' | 'rollback') => {
    const id = str(h, 'transaction_id');
    return action.run(`${decision === 'commit' ? 'Commit' : 'Roll back'} transaction ${id} on exchange ${str(h, 'exchange')}?`, async () => {
      const r = await request<{ routed?: boolean; queues?: number }>('POST',
        `exchanges/${seg(str(h, 'vhost'))}/${seg(str(h, 'exchange'))}/half-messages/${seg(id)}/${decision}`);
      return decision === 'commit'
        ? `Transaction ${id} committed${r?.routed === false ? ' (routed to no queue)' : ` (${fmtNum(r?.queues ?? 0)} queue(s))`}.`
        : `Transaction ${id} rolled back.`;
    });
  };
  const columns: Column<Row>[] = [
    { key: 'id', label: 'Transaction', value: (h) => str(h, 'transaction_id'), render: (h) => html`<code>${str(h, 'transaction_id')}</code>` },
    { key: 'vhost', label: 'Vhost', value: (h) => str(h, 'vhost') },
    { key: 'exchange', label: 'Exchange', value: (h) => str(h, 'exchange'),
      render: (h) => html`<a href=${href('exchange', str(h, 'vhost'), str(h, 'exchange'))}>${str(h, 'exchange')}</a>` },
    { key: 'key', label: 'Routing key', value: (h) => str(h, 'routing_key') },
    { key: 'age', label: 'Age', numeric: true, value: (h) => num(h, 'age'), render: (h) => fmtAge(num(h, 'age')) },
    { key: 'checks', label: 'Checks', numeric: true, value: (h) => num(h, 'checks'), render: (h) => fmtNum(num(h, 'checks')) },
    { key: 'next', label: 'Next check', value: (h) => num(h, 'next_check_at'),
      render: (h) => new Date(num(h, 'next_check_at')).toLocaleTimeString('en-GB') },
    { key: 'size', label: 'Size', numeric: true, value: (h) => num(h, 'payload_bytes'), render: (h) => fmtBytes(num(h, 'payload_bytes')) },
    { key: 'x', label: '', value: () => '', render: (h) => html`<span class="actions">
      <button type="button" class="small" onClick=${() => void decide(h, 'commit')} aria-label=${`Commit ${str(h, 'transaction_id')}`}>Commit</button>
      <button type="button" class="small danger" onClick=${() => void decide(h, 'rollback')} aria-label=${`Roll back ${str(h, 'transaction_id')}`}>Roll back</button>
    </span>` },
  ];
  const choose = (e: Event) => {
    const v = (e.currentTarget as HTMLSelectElement).value;
    location.hash = v === '' ? '#/half-messages' : href('half-messages', v);
  };
  return html`<h1>Half messages</h1>
    <p>Pending messages of <code>x-transactional</code> exchanges, waiting for their producer's commit or rollback.</p>
    <${ErrorBox} error=${action.error ?? poll.error} />
    ${action.status !== undefined ? html`<p role="status" class="ok">${action.status}</p>` : null}
    <div class="toolbar">
      <label>Virtual host <select value=${vhost} onChange=${choose}>
        <option value="">All</option>${vhosts.map((v) => html`<option value=${v}>${v}</option>`)}</select></label>
      <span class="count" aria-live="polite">${poll.data?.length ?? 0} pending</span>
    </div>
    <${Table} label="Half messages" columns=${columns} rows=${poll.data ?? []} initialSort="age"
      rowKey=${(h: Row) => `${str(h, 'vhost')}/${str(h, 'exchange')}/${str(h, 'transaction_id')}`}
      empty=${poll.data === undefined ? 'Loading…' : 'No pending half messages.'} />`;
}
