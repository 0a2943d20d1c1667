/**
 * One message as the API renders it (peek and get): routing facts, properties, headers and the
 * body shown as pretty JSON, text or hex (the person picks; JSON is offered when the body parses).
 */
import { useState } from 'preact/hooks';
import { html, type View } from './html.js';

export interface MessageJson {
  position?: number;
  state?: string;
  exchange?: string;
  routing_key?: string;
  redelivered?: boolean;
  delivery_count?: number;
  payload_bytes?: number;
  payload?: string;
  payload_encoding?: string;
  properties?: Record<string, unknown> | unknown[];
  expires_at?: string | null;
  consumer_tag?: string | null;
  channel?: string;
  stream_offset?: number;
}

/** The body's bytes from the API's payload (string or base64). */
export function bodyBytes(m: MessageJson): Uint8Array {
  const p = m.payload ?? '';
  if (m.payload_encoding === 'base64') return Uint8Array.from(atob(p), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(p);
}

export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

function prettyJson(text: string): string | undefined {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return undefined;
  }
}

type Mode = 'json' | 'text' | 'hex';

export function MessageView({ m, index }: { m: MessageJson; index: number }): View {
  const bytes = bodyBytes(m);
  const text = m.payload_encoding === 'base64' ? undefined : (m.payload ?? '');
  const json = text === undefined ? undefined : prettyJson(text);
  const [mode, setMode] = useState<Mode>(json !== undefined ? 'json' : text !== undefined ? 'text' : 'hex');
  const props = Array.isArray(m.properties) ? {} : (m.properties ?? {});
  const { headers, ...rest } = props as { headers?: Record<string, unknown> } & Record<string, unknown>;
  const shown = mode === 'json' ? (json ?? '') : mode === 'text' ? (text ?? '') : hexDump(bytes);
  const modes: Mode[] = ['json', 'text', 'hex'];
  const available = (k: Mode) => (k === 'json' ? json !== undefined : k === 'text' ? text !== undefined : true);
  return html`<article class="message" aria-label=${`Message ${index + 1}`} data-testid="message">
    <header>
      <strong>#${(m.position ?? index) + 1}</strong>
      ${m.state !== undefined ? html`<span class=${`badge ${m.state}`}>${m.state}</span>` : null}
      ${m.redelivered === true ? html`<span class="badge">redelivered</span>` : null}
      <span>exchange <code>${m.exchange === '' ? '(default)' : m.exchange}</code></span>
      <span>routing key <code>${m.routing_key}</code></span>
      <span>${m.payload_bytes ?? bytes.length} bytes</span>
      ${m.stream_offset !== undefined ? html`<span>offset ${m.stream_offset}</span>` : null}
      ${m.expires_at ? html`<span>expires ${m.expires_at}</span>` : null}
      ${m.consumer_tag ? html`<span>consumer <code>${m.consumer_tag}</code></span>` : null}
    </header>
    <div class="message-body">
      <dl class="props">
        ${Object.entries(rest).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}
        ${headers !== undefined && Object.keys(headers).length > 0
          ? html`<dt>headers</dt><dd><dl class="headers">${Object.entries(headers).map(([k, v]) =>
            html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}</dl></dd>` : null}
      </dl>
      <div class="payload">
        <div role="group" aria-label="Show body as" class="segmented">
          ${modes.map((k) => html`<button type="button" aria-pressed=${mode === k} disabled=${!available(k)} onClick=${() => setMode(k)}>${k.toUpperCase()}</button>`)}
        </div>
        <pre class="body" data-testid="body">${shown}</pre>
      </div>
    </div>
  </article>`;
}
