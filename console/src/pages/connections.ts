/**
 * Connections (close one: DELETE /api/connections/{name} with an X-Reason, which the client sees
 * as 320 CONNECTION_FORCED), channels and consumers.
 */
import { useState } from 'preact/hooks';
import { get, request, seg } from '../api.js';
import { ErrorBox, fmtBytes, fmtNum, fmtRate, num, pick, str, Table, usePoll, type Column } from '../components.js';
import { html, type View } from '../html.js';
import { Consumers } from './queue.js';

type Row = { [key: string]: unknown };

export function ConnectionsPage(): View {
  const poll = usePoll(() => get<Row[]>('connections'));
  const [error, setError] = useState<string | undefined>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const close = async (c: Row) => {
    const name = str(c, 'name');
    if (!confirm(`Close connection ${name}?`)) return;
    try {
      await fetchClose(name);
      setStatus(`Connection ${name} closed.`);
      poll.reload();
    } catch (e: unknown) { setError(e instanceof Error ? e.message : String(e)); }
  };
  const columns: Column<Row>[] = [
    { key: 'name', label: 'Name', value: (c) => str(c, 'name') },
    { key: 'user', label: 'User', value: (c) => str(c, 'user') },
    { key: 'vhost', label: 'Vhost', value: (c) => str(c, 'vhost') },
    { key: 'client', label: 'Client', value: (c) => `${str(c, 'client_properties', 'product')} ${str(c, 'client_properties', 'version')}` },
    { key: 'protocol', label: 'Protocol', value: (c) => `${str(c, 'protocol')}${pick(c, 'ssl') === true ? ' (TLS)' : ''}` },
    { key: 'state', label: 'State', value: (c) => str(c, 'state'), render: (c) => html`<span class=${`state ${str(c, 'state')}`}>${str(c, 'state')}</span>` },
    { key: 'channels', label: 'Channels', numeric: true, value: (c) => num(c, 'channels'), render: (c) => fmtNum(num(c, 'channels')) },
    { key: 'recv', label: 'From client', numeric: true, value: (c) => num(c, 'recv_oct_details', 'rate'), render: (c) => `${fmtBytes(num(c, 'recv_oct_details', 'rate'))}/s` },
    { key: 'send', label: 'To client', numeric: true, value: (c) => num(c, 'send_oct_details', 'rate'), render: (c) => `${fmtBytes(num(c, 'send_oct_details', 'rate'))}/s` },
    { key: 'x', label: '', value: () => '', render: (c) => html`<button type="button" class="small danger" onClick=${() => void close(c)} aria-label=${`Close connection ${str(c, 'name')}`}>Close</button>` },
  ];
  return html`<h1>Connections</h1>
    <${ErrorBox} error=${error ?? poll.error} />
    ${status !== undefined ? html`<p role="status" class="ok">${status}</p>` : null}
    <${Table} label="Connections" columns=${columns} rows=${poll.data ?? []} rowKey=${(c: Row) => str(c, 'name')} empty="No connections." />`;
}

async function fetchClose(name: string): Promise<void> {
  // The reason reaches the client in connection.close (320 CONNECTION_FORCED - <reason>).
  await request('DELETE', `connections/${seg(name)}`, undefined, { 'x-reason': 'Closed from the Warren console' });
}

export function ChannelsPage(): View {
  const poll = usePoll(() => get<Row[]>('channels'));
  const columns: Column<Row>[] = [
    { key: 'name', label: 'Channel', value: (c) => str(c, 'name') },
    { key: 'user', label: 'User', value: (c) => str(c, 'user') },
    { key: 'vhost', label: 'Vhost', value: (c) => str(c, 'vhost') },
    { key: 'mode', label: 'Mode', value: (c) => (pick(c, 'confirm') === true ? 'confirm' : pick(c, 'transactional') === true ? 'tx' : '') },
    { key: 'state', label: 'State', value: (c) => str(c, 'state') },
    { key: 'consumers', label: 'Consumers', numeric: true, value: (c) => num(c, 'consumer_count') },
    { key: 'prefetch', label: 'Prefetch', numeric: true, value: (c) => num(c, 'prefetch_count') },
    { key: 'unacked', label: 'Unacked', numeric: true, value: (c) => num(c, 'messages_unacknowledged') },
    { key: 'publish', label: 'Publish', numeric: true, value: (c) => num(c, 'message_stats', 'publish_details', 'rate'), render: (c) => fmtRate(num(c, 'message_stats', 'publish_details', 'rate')) },
    { key: 'deliver', label: 'Deliver / get', numeric: true, value: (c) => num(c, 'message_stats', 'deliver_get_details', 'rate'), render: (c) => fmtRate(num(c, 'message_stats', 'deliver_get_details', 'rate')) },
  ];
  return html`<h1>Channels</h1><${ErrorBox} error=${poll.error} />
    <${Table} label="Channels" columns=${columns} rows=${poll.data ?? []} rowKey=${(c: Row) => str(c, 'name')} empty="No channels." />`;
}

export function ConsumersPage(): View {
  return html`<h1>Consumers</h1><${Consumers} filter=${() => true} />`;
}
