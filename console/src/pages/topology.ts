/**
 * Topology: a vhost's exchanges and queues drawn as a graph (SVG), exchanges in layers by their
 * exchange-to-exchange bindings, each queue one column right of its furthest source exchange
 * (unbound queues in the second column), one edge per binding labelled with its
 * routing key. Every node is a link to its page (focusable, so the graph is keyboard usable).
 * The default exchange (an implicit binding to every queue) and exchanges without bindings are
 * hidden unless asked for.
 */
import { useState } from 'preact/hooks';
import { get, seg } from '../api.js';
import { ErrorBox, href, str, usePoll } from '../components.js';
import { html, type View } from '../html.js';
import { useVhosts } from './queues.js';

type Row = { [key: string]: unknown };

interface Node { id: string; kind: 'exchange' | 'queue'; name: string; label: string; layer: number; row: number }

const NODE_W = 170;
const NODE_H = 30;
const COL_GAP = 110;
const ROW_GAP = 14;

/** Columns: exchanges with no binding from another exchange first; each binding pushes its destination right. */
export function layout(exchanges: Row[], queues: Row[], bindings: Row[], showAll: boolean): { nodes: Node[]; edges: Row[] } {
  const edges = bindings.filter((b) => str(b, 'source') !== '');
  const used = new Set(edges.flatMap((b) => [`e:${str(b, 'source')}`, `${str(b, 'destination_type') === 'queue' ? 'q' : 'e'}:${str(b, 'destination')}`]));
  const xs = exchanges.filter((x) => str(x, 'name') !== '' && (showAll || used.has(`e:${str(x, 'name')}`)));
  const layer = new Map<string, number>(xs.map((x) => [str(x, 'name'), 0]));
  // Longest path over exchange-to-exchange bindings (bounded: a cycle stops growing at xs.length).
  for (let i = 0; i < xs.length; i++) {
    let changed = false;
    for (const b of edges) {
      if (str(b, 'destination_type') !== 'exchange') continue;
      const s = layer.get(str(b, 'source'));
      const d = layer.get(str(b, 'destination'));
      if (s !== undefined && d !== undefined && d < s + 1 && s + 1 < xs.length) { layer.set(str(b, 'destination'), s + 1); changed = true; }
    }
    if (!changed) break;
  }
  // A queue sits one column right of its furthest source, so no edge runs behind another column.
  const qLayer = new Map<string, number>();
  for (const b of edges) {
    if (str(b, 'destination_type') !== 'queue') continue;
    const l = (layer.get(str(b, 'source')) ?? 0) + 1;
    qLayer.set(str(b, 'destination'), Math.max(qLayer.get(str(b, 'destination')) ?? 0, l));
  }
  const nodes: Node[] = [];
  const rows = new Map<number, number>();
  const place = (id: string, kind: Node['kind'], name: string, l: number) => {
    const row = rows.get(l) ?? 0;
    rows.set(l, row + 1);
    nodes.push({ id, kind, name, label: name, layer: l, row });
  };
  for (const x of [...xs].sort((a, b) => str(a, 'name').localeCompare(str(b, 'name')))) place(`e:${str(x, 'name')}`, 'exchange', str(x, 'name'), layer.get(str(x, 'name')) ?? 0);
  for (const q of queues.filter((q) => showAll || used.has(`q:${str(q, 'name')}`)).sort((a, b) => str(a, 'name').localeCompare(str(b, 'name')))) {
    place(`q:${str(q, 'name')}`, 'queue', str(q, 'name'), qLayer.get(str(q, 'name')) ?? 1);
  }
  return { nodes, edges };
}

export function TopologyPage(): View {
  const vhosts = useVhosts();
  const [vhost, setVhost] = useState('/');
  const [showAll, setShowAll] = useState(false);
  const poll = usePoll(async () => {
    const v = seg(vhost);
    const [exchanges, queues, bindings] = await Promise.all([get<Row[]>(`exchanges/${v}`), get<Row[]>(`queues/${v}`), get<Row[]>(`bindings/${v}`)]);
    return { exchanges, queues, bindings };
  }, [vhost]);
  const d = poll.data;
  let graph: View = html`<p>Loading…</p>`;
  if (d !== undefined) {
    const { nodes, edges } = layout(d.exchanges, d.queues, d.bindings, showAll);
    const pos = new Map(nodes.map((n) => [n.id, { x: 10 + n.layer * (NODE_W + COL_GAP), y: 10 + n.row * (NODE_H + ROW_GAP) }]));
    const width = 20 + (Math.max(0, ...nodes.map((n) => n.layer)) + 1) * (NODE_W + COL_GAP) - COL_GAP;
    const height = 20 + Math.max(1, ...nodes.map((n) => n.row + 1)) * (NODE_H + ROW_GAP);
    const short = (s: string) => (s.length > 22 ? `${s.slice(0, 21)}…` : s);
    graph = nodes.length === 0 ? html`<p>No bindings in this virtual host yet${showAll ? '' : ' (tick "show all" to see unbound objects)'}.</p>` : html`
      <svg viewBox=${`0 0 ${width} ${height}`} style=${`max-width:${width}px`} role="group" aria-label=${`Topology of ${vhost}`}>
        <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8a96a3" /></marker></defs>
        ${edges.map((b) => {
          const s = pos.get(`e:${str(b, 'source')}`);
          const t = pos.get(`${str(b, 'destination_type') === 'queue' ? 'q' : 'e'}:${str(b, 'destination')}`);
          if (s === undefined || t === undefined) return null;
          const x1 = s.x + NODE_W; const y1 = s.y + NODE_H / 2; const x2 = t.x; const y2 = t.y + NODE_H / 2;
          const mx = (x1 + x2) / 2;
          return html`<g key=${`${str(b, 'source')}>${str(b, 'destination')}|${str(b, 'properties_key')}`} class="binding">
            <path class="edge" d=${`M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`} marker-end="url(#arrow)" />
            ${str(b, 'routing_key') !== '' ? html`<text class="edge-label" x=${x2 - 6} y=${y2 - 5} text-anchor="end">${short(str(b, 'routing_key'))}</text>` : null}
          </g>`;
        })}
        ${nodes.map((n) => {
          const p = pos.get(n.id)!;
          return html`<a key=${n.id} href=${href(n.kind, vhost, n.name)} class=${`node ${n.kind}`} data-testid=${`node-${n.kind}-${n.name}`}>
            <title>${n.kind} ${n.name}</title>
            <rect x=${p.x} y=${p.y} width=${NODE_W} height=${NODE_H} />
            <text x=${p.x + 8} y=${p.y + 19}>${n.kind === 'queue' ? '▤ ' : '⇄ '}${short(n.label)}</text>
          </a>`;
        })}
      </svg>`;
  }
  return html`<h1>Topology</h1>
    <div class="toolbar">
      <label>Virtual host <select value=${vhost} onChange=${(e: Event) => setVhost((e.currentTarget as HTMLSelectElement).value)}>
        ${(vhosts.length === 0 ? ['/'] : vhosts).map((v) => html`<option value=${v}>${v}</option>`)}</select></label>
      <label class="check"><input type="checkbox" checked=${showAll} onChange=${(e: Event) => setShowAll((e.currentTarget as HTMLInputElement).checked)} /> show all exchanges and queues</label>
      <span class="hint">Exchanges (⇄) route to queues (▤) along bindings; the default exchange is left out.</span>
    </div>
    <${ErrorBox} error=${poll.error} />
    <div class="topology">${graph}</div>`;
}
