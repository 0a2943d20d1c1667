/**
 * Overview: queued and unacknowledged totals, message rates (charted from the polled samples),
 * object counts, the node's memory, disk and file descriptors against their limits, and alarms
 * (a memory or disk alarm blocks publishers, as in RabbitMQ).
 */
import { get } from '../api.js';
import { Chart, ErrorBox, fmtBytes, fmtNum, fmtRate, num, pick, str, useHistory, usePoll } from '../components.js';
import { html, type View } from '../html.js';

interface Overview { [key: string]: unknown }
interface NodeJson { [key: string]: unknown }

function Tile({ label, value, id }: { label: string; value: string; id: string }): View {
  return html`<div class="tile" data-testid=${id}><span class="tile-label">${label}</span><span class="tile-value">${value}</span></div>`;
}

function Gauge({ label, used, limit, alarm, format, inverted }: {
  label: string; used: number; limit: number; alarm: boolean; format: (n: number) => string; inverted?: boolean;
}): View {
  // Memory: used against the high watermark; disk: free space against the free-space limit.
  const ratio = limit > 0 ? (inverted === true ? limit / Math.max(used, 1) : used / limit) : 0;
  const pct = Math.min(100, Math.round(ratio * 100));
  const text = inverted === true ? `${format(used)} free (limit ${format(limit)})` : `${format(used)} of ${format(limit)}`;
  return html`<div class=${`gauge ${alarm ? 'alarm' : ''}`}>
    <span class="gauge-label">${label}</span>
    <div class="bar" role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct}><span style=${`width:${pct}%`}></span></div>
    <span class="gauge-text">${text}</span>
  </div>`;
}

export function OverviewPage(): View {
  const poll = usePoll(async () => {
    const [overview, nodes] = await Promise.all([get<Overview>('overview'), get<NodeJson[]>('nodes').catch(() => [] as NodeJson[])]);
    return { overview, node: nodes[0] };
  });
  const o = poll.data?.overview;
  const n = poll.data?.node;
  const rates = useHistory(o === undefined ? undefined : [
    num(o, 'message_stats', 'publish_details', 'rate'),
    num(o, 'message_stats', 'deliver_get_details', 'rate'),
    num(o, 'message_stats', 'ack_details', 'rate'),
  ]);
  const queued = useHistory(o === undefined ? undefined : [
    num(o, 'queue_totals', 'messages_ready'),
    num(o, 'queue_totals', 'messages_unacknowledged'),
  ]);
  const alarms: string[] = [];
  if (n !== undefined && pick(n, 'mem_alarm') === true) alarms.push('Memory alarm: publishers are blocked until memory use falls below the high watermark.');
  if (n !== undefined && pick(n, 'disk_free_alarm') === true) alarms.push('Disk alarm: publishers are blocked until free disk space rises above the limit.');
  return html`<h1>Overview</h1>
    <${ErrorBox} error=${poll.error} />
    ${o === undefined ? html`<p>Loading…</p>` : html`
    <p class="subtitle">${str(o, 'product_name')} ${str(o, 'rabbitmq_version')} compatible · Warren ${str(o, 'product_version')} · ${str(o, 'erlang_full_version')} · cluster <strong>${str(o, 'cluster_name')}</strong></p>
    <section aria-label="Alarms" class=${alarms.length > 0 ? 'alarms active' : 'alarms'}>
      ${alarms.length === 0 ? html`<p data-testid="alarms">No alarms.</p>` : alarms.map((a) => html`<p role="alert" data-testid="alarms">${a}</p>`)}
    </section>
    <section class="tiles" aria-label="Totals">
      <${Tile} id="ready" label="Ready" value=${fmtNum(pick(o, 'queue_totals', 'messages_ready') ?? 0)} />
      <${Tile} id="unacked" label="Unacked" value=${fmtNum(pick(o, 'queue_totals', 'messages_unacknowledged') ?? 0)} />
      <${Tile} id="total" label="Total messages" value=${fmtNum(pick(o, 'queue_totals', 'messages') ?? 0)} />
      <${Tile} id="connections" label="Connections" value=${fmtNum(pick(o, 'object_totals', 'connections'))} />
      <${Tile} id="channels" label="Channels" value=${fmtNum(pick(o, 'object_totals', 'channels'))} />
      <${Tile} id="consumers" label="Consumers" value=${fmtNum(pick(o, 'object_totals', 'consumers'))} />
      <${Tile} id="queues" label="Queues" value=${fmtNum(pick(o, 'object_totals', 'queues'))} />
      <${Tile} id="exchanges" label="Exchanges" value=${fmtNum(pick(o, 'object_totals', 'exchanges'))} />
    </section>
    <section class="charts">
      <${Chart} title="Queued messages" samples=${queued} format=${fmtNum}
        series=${[{ label: 'Ready', className: 's1' }, { label: 'Unacked', className: 's2' }]} />
      <${Chart} title="Message rates" samples=${rates} format=${fmtRate}
        series=${[{ label: 'Publish', className: 's1' }, { label: 'Deliver / get', className: 's2' }, { label: 'Ack', className: 's3' }]} />
    </section>
    ${n === undefined ? null : html`<section aria-labelledby="node-title">
      <h2 id="node-title">Node <code>${str(n, 'name')}</code></h2>
      <${Gauge} label="Memory" used=${num(n, 'mem_used')} limit=${num(n, 'mem_limit')} alarm=${pick(n, 'mem_alarm') === true} format=${fmtBytes} />
      <${Gauge} label="Disk" used=${num(n, 'disk_free')} limit=${num(n, 'disk_free_limit')} alarm=${pick(n, 'disk_free_alarm') === true} format=${fmtBytes} inverted=${true} />
      <${Gauge} label="File descriptors" used=${num(n, 'fd_used')} limit=${num(n, 'fd_total')} alarm=${false} format=${fmtNum} />
      <p>Uptime ${Math.round(num(n, 'uptime') / 1000)} s · listeners:
        ${(Array.isArray(pick(o, 'listeners')) ? (pick(o, 'listeners') as unknown[]) : []).map((l) => html` <code>${str(l, 'protocol')} ${str(l, 'port')}</code>`)}</p>
    </section>`}`}`;
}
