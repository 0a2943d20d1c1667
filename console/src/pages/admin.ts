/**
 * Administration: users (tags, password), virtual hosts (and Warren's reset), permissions and
 * policies, each listed with create, edit (the form is filled from the row) and delete, through the
 * same API routes rabbitmqadmin uses (so the API's tag rules decide who may do what); definitions
 * export/import and Warren's per-vhost snapshot/restore (definitions plus messages).
 */
import { useState } from 'preact/hooks';
import { get, request, seg, type JsonObject } from '../api.js';
import { ErrorBox, fmtNum, num, pick, str, Table, usePoll, type Column } from '../components.js';
import { html, type View } from '../html.js';
import { useFormAction } from './exchanges.js';
import { useVhosts } from './queues.js';

type Row = { [key: string]: unknown };

/** A delete button that asks first and reports through `fail`. */
function DeleteButton({ what, path, done, fail }: { what: string; path: string; done: () => void; fail: (e: string) => void }): View {
  const run = async () => {
    if (!confirm(`Delete ${what}?`)) return;
    try { await request('DELETE', path); done(); } catch (e: unknown) { fail(e instanceof Error ? e.message : String(e)); }
  };
  return html`<button type="button" class="small danger" onClick=${() => void run()} aria-label=${`Delete ${what}`}>Delete</button>`;
}

/** Offers `value` as a JSON file download. */
function save(value: unknown, name: string): void {
  const blob = new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function fill(formId: string, values: Record<string, string>): void {
  const form = document.getElementById(formId) as HTMLFormElement | null;
  if (form === null) return;
  for (const [k, v] of Object.entries(values)) {
    const el = form.elements.namedItem(k);
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) el.value = v;
  }
  const details = form.closest('details');
  if (details !== null) details.open = true;
  form.querySelector<HTMLElement>('input, select, textarea')?.focus();
}

export function UsersPage(): View {
  const poll = usePoll(() => get<Row[]>('users'));
  const [error, setError] = useState<string | undefined>(undefined);
  const save = useFormAction(async (d) => {
    const name = String(d.get('name'));
    const body: JsonObject = { tags: String(d.get('tags') ?? '') };
    const password = String(d.get('password') ?? '');
    const existing = (poll.data ?? []).some((u) => str(u, 'name') === name);
    if (password !== '') body['password'] = password;
    else if (!existing) throw new Error('A new user needs a password.');
    else {
      // Keep the password: send the stored hash back (as rabbitmqadmin does when only tags change).
      const user = (poll.data ?? []).find((u) => str(u, 'name') === name);
      body['password_hash'] = str(user, 'password_hash');
      if (str(user, 'hashing_algorithm') !== '') body['hashing_algorithm'] = str(user, 'hashing_algorithm');
    }
    await request('PUT', `users/${seg(name)}`, body);
    poll.reload();
  });
  const columns: Column<Row>[] = [
    { key: 'name', label: 'Name', value: (u) => str(u, 'name') },
    { key: 'tags', label: 'Tags', value: (u) => (Array.isArray(pick(u, 'tags')) ? (pick(u, 'tags') as string[]).join(', ') : str(u, 'tags')) },
    { key: 'x', label: '', value: () => '', render: (u) => html`<span class="row-actions">
      <button type="button" class="small" aria-label=${`Edit user ${str(u, 'name')}`}
        onClick=${() => fill('user-form', { name: str(u, 'name'), tags: Array.isArray(pick(u, 'tags')) ? (pick(u, 'tags') as string[]).join(',') : str(u, 'tags'), password: '' })}>Edit</button>
      <${DeleteButton} what=${`user ${str(u, 'name')}`} path=${`users/${seg(str(u, 'name'))}`} done=${poll.reload} fail=${setError} /></span>` },
  ];
  return html`<h1>Users</h1><${ErrorBox} error=${error ?? poll.error} />
    <${Table} label="Users" columns=${columns} rows=${poll.data ?? []} rowKey=${(u: Row) => str(u, 'name')} />
    <details class="panel"><summary>Add or update a user</summary>
      <form id="user-form" class="grid-form" onSubmit=${save.onSubmit}>
        <label>Username <input name="name" required /></label>
        <label>Password <input name="password" type="password" autocomplete="new-password" placeholder="unchanged when empty" /></label>
        <label>Tags <input name="tags" placeholder="administrator, management, ..." list="tag-list" /></label>
        <datalist id="tag-list"><option value="administrator" /><option value="monitoring" /><option value="policymaker" /><option value="management" /><option value="impersonator" /></datalist>
        <${ErrorBox} error=${save.error} />
        <button type="submit">Save user</button>
      </form></details>`;
}

export function VhostsPage(): View {
  const poll = usePoll(() => get<Row[]>('vhosts'));
  const [error, setError] = useState<string | undefined>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const reset = async (name: string) => {
    if (!confirm(`Reset virtual host ${name}? Every queue (with its messages), exchange, binding and policy goes, and its connections are closed.`)) return;
    try {
      const r = await request<Record<string, number>>('POST', `warren/reset/${seg(name)}`);
      setStatus(`Virtual host ${name} reset: ${r['queues_deleted'] ?? 0} queues, ${r['messages_deleted'] ?? 0} messages, ${r['exchanges_deleted'] ?? 0} exchanges deleted, ${r['connections_closed'] ?? 0} connections closed.`);
      poll.reload();
    } catch (e: unknown) { setError(e instanceof Error ? e.message : String(e)); }
  };
  const add = useFormAction(async (d) => {
    await request('PUT', `vhosts/${seg(String(d.get('name')))}`, { description: String(d.get('description') ?? '') });
    poll.reload();
  });
  const columns: Column<Row>[] = [
    { key: 'name', label: 'Name', value: (v) => str(v, 'name') },
    { key: 'description', label: 'Description', value: (v) => str(v, 'description') },
    { key: 'messages', label: 'Messages', numeric: true, value: (v) => num(v, 'messages'), render: (v) => fmtNum(num(v, 'messages')) },
    { key: 'x', label: '', value: () => '', render: (v) => html`<span class="row-actions">
      <button type="button" class="small" onClick=${() => void reset(str(v, 'name'))} aria-label=${`Reset virtual host ${str(v, 'name')}`}
        title="Delete every queue, exchange, binding and policy and close its connections (Warren's reset endpoint)">Reset</button>
      <${DeleteButton} what=${`virtual host ${str(v, 'name')}`} path=${`vhosts/${seg(str(v, 'name'))}`} done=${poll.reload} fail=${setError} /></span>` },
  ];
  return html`<h1>Virtual hosts</h1><${ErrorBox} error=${error ?? poll.error} />
    ${status !== undefined ? html`<p role="status" class="ok">${status}</p>` : null}
    <${Table} label="Virtual hosts" columns=${columns} rows=${poll.data ?? []} rowKey=${(v: Row) => str(v, 'name')} />
    <details class="panel"><summary>Add a virtual host</summary>
      <form class="grid-form" onSubmit=${add.onSubmit}>
        <label>Name <input name="name" required /></label>
        <label>Description <input name="description" /></label>
        <${ErrorBox} error=${add.error} />
        <button type="submit">Add virtual host</button>
      </form></details>`;
}

export function PermissionsPage(): View {
  const poll = usePoll(async () => ({ perms: await get<Row[]>('permissions'), users: await get<Row[]>('users') }));
  const vhosts = useVhosts();
  const [error, setError] = useState<string | undefined>(undefined);
  const save = useFormAction(async (d) => {
    await request('PUT', `permissions/${seg(String(d.get('vhost')))}/${seg(String(d.get('user')))}`, {
      configure: String(d.get('configure') ?? ''), write: String(d.get('write') ?? ''), read: String(d.get('read') ?? ''),
    });
    poll.reload();
  });
  const columns: Column<Row>[] = [
    { key: 'user', label: 'User', value: (p) => str(p, 'user') },
    { key: 'vhost', label: 'Vhost', value: (p) => str(p, 'vhost') },
    { key: 'configure', label: 'Configure', value: (p) => str(p, 'configure'), render: (p) => html`<code>${str(p, 'configure')}</code>` },
    { key: 'write', label: 'Write', value: (p) => str(p, 'write'), render: (p) => html`<code>${str(p, 'write')}</code>` },
    { key: 'read', label: 'Read', value: (p) => str(p, 'read'), render: (p) => html`<code>${str(p, 'read')}</code>` },
    { key: 'x', label: '', value: () => '', render: (p) => html`<span class="row-actions">
      <button type="button" class="small" aria-label=${`Edit permission of ${str(p, 'user')} in ${str(p, 'vhost')}`}
        onClick=${() => fill('perm-form', { user: str(p, 'user'), vhost: str(p, 'vhost'), configure: str(p, 'configure'), write: str(p, 'write'), read: str(p, 'read') })}>Edit</button>
      <${DeleteButton} what=${`permission of ${str(p, 'user')} in ${str(p, 'vhost')}`} path=${`permissions/${seg(str(p, 'vhost'))}/${seg(str(p, 'user'))}`} done=${poll.reload} fail=${setError} /></span>` },
  ];
  return html`<h1>Permissions</h1><${ErrorBox} error=${error ?? poll.error} />
    <${Table} label="Permissions" columns=${columns} rows=${poll.data?.perms ?? []} rowKey=${(p: Row) => `${str(p, 'vhost')}|${str(p, 'user')}`} />
    <details class="panel"><summary>Set a permission</summary>
      <form id="perm-form" class="grid-form" onSubmit=${save.onSubmit}>
        <label>User <select name="user">${(poll.data?.users ?? []).map((u) => html`<option>${str(u, 'name')}</option>`)}</select></label>
        <label>Virtual host <select name="vhost">${vhosts.map((v) => html`<option>${v}</option>`)}</select></label>
        <label>Configure regexp <input name="configure" value=".*" /></label>
        <label>Write regexp <input name="write" value=".*" /></label>
        <label>Read regexp <input name="read" value=".*" /></label>
        <${ErrorBox} error=${save.error} />
        <button type="submit">Set permission</button>
      </form></details>`;
}

export function PoliciesPage(): View {
  const poll = usePoll(() => get<Row[]>('policies'));
  const vhosts = useVhosts();
  const [error, setError] = useState<string | undefined>(undefined);
  const save = useFormAction(async (d) => {
    const defText = String(d.get('definition') ?? '').trim();
    let definition: JsonObject;
    try { definition = JSON.parse(defText === '' ? '{}' : defText) as JsonObject; } catch { throw new Error('The definition must be a JSON object, e.g. {"max-length": 1000}.'); }
    await request('PUT', `policies/${seg(String(d.get('vhost')))}/${seg(String(d.get('name')))}`, {
      pattern: String(d.get('pattern') ?? ''), 'apply-to': String(d.get('apply-to') ?? 'all'),
      priority: Number(d.get('priority') ?? '0') || 0, definition,
    });
    poll.reload();
  });
  const columns: Column<Row>[] = [
    { key: 'name', label: 'Name', value: (p) => str(p, 'name') },
    { key: 'vhost', label: 'Vhost', value: (p) => str(p, 'vhost') },
    { key: 'pattern', label: 'Pattern', value: (p) => str(p, 'pattern'), render: (p) => html`<code>${str(p, 'pattern')}</code>` },
    { key: 'apply', label: 'Apply to', value: (p) => str(p, 'apply-to') },
    { key: 'priority', label: 'Priority', numeric: true, value: (p) => num(p, 'priority') },
    { key: 'definition', label: 'Definition', value: (p) => JSON.stringify(pick(p, 'definition') ?? {}), render: (p) => html`<code>${JSON.stringify(pick(p, 'definition') ?? {})}</code>` },
    { key: 'x', label: '', value: () => '', render: (p) => html`<span class="row-actions">
      <button type="button" class="small" aria-label=${`Edit policy ${str(p, 'name')}`}
        onClick=${() => fill('policy-form', { vhost: str(p, 'vhost'), name: str(p, 'name'), pattern: str(p, 'pattern'), 'apply-to': str(p, 'apply-to'), priority: String(num(p, 'priority')), definition: JSON.stringify(pick(p, 'definition') ?? {}, null, 2) })}>Edit</button>
      <${DeleteButton} what=${`policy ${str(p, 'name')}`} path=${`policies/${seg(str(p, 'vhost'))}/${seg(str(p, 'name'))}`} done=${poll.reload} fail=${setError} /></span>` },
  ];
  return html`<h1>Policies</h1><${ErrorBox} error=${error ?? poll.error} />
    <${Table} label="Policies" columns=${columns} rows=${poll.data ?? []} rowKey=${(p: Row) => `${str(p, 'vhost')}|${str(p, 'name')}`} empty="No policies." />
    <details class="panel"><summary>Add or update a policy</summary>
      <form id="policy-form" class="grid-form" onSubmit=${save.onSubmit}>
        <label>Virtual host <select name="vhost">${vhosts.map((v) => html`<option>${v}</option>`)}</select></label>
        <label>Name <input name="name" required /></label>
        <label>Pattern <input name="pattern" required placeholder="^jobs\\." /></label>
        <label>Apply to <select name="apply-to"><option value="all">exchanges and queues</option><option value="queues">queues</option><option value="exchanges">exchanges</option></select></label>
        <label>Priority <input name="priority" type="number" value="0" /></label>
        <label class="wide">Definition (JSON) <textarea name="definition" rows="3" placeholder='{"max-length": 1000, "message-ttl": 60000}'></textarea></label>
        <${ErrorBox} error=${save.error} />
        <button type="submit">Save policy</button>
      </form></details>`;
}

export function DefinitionsPage(): View {
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const vhosts = useVhosts();
  const download = async () => {
    try {
      save(await get('definitions'), `warren-definitions-${new Date().toISOString().slice(0, 10)}.json`);
      setStatus('Definitions downloaded.');
    } catch (e: unknown) { setError(e instanceof Error ? e.message : String(e)); }
  };
  const snapshot = async (form: HTMLFormElement | null) => {
    const vhost = form === null ? '/' : String(new FormData(form).get('vhost') ?? '/');
    try {
      save(await get(`warren/snapshot/${seg(vhost)}`), `warren-snapshot-${vhost === '/' ? 'default' : vhost}-${new Date().toISOString().slice(0, 10)}.json`);
      setError(undefined);
      setStatus(`Snapshot of ${vhost} downloaded.`);
    } catch (e: unknown) { setError(e instanceof Error ? e.message : String(e)); }
  };
  const restore = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const vhost = String(new FormData(form).get('vhost') ?? '/');
    const file = (form.elements.namedItem('file') as HTMLInputElement).files?.[0];
    if (file === undefined) { setError('Choose a snapshot file first.'); return; }
    if (!confirm(`Restore ${file.name} into ${vhost}? The virtual host is reset first.`)) return;
    try {
      const r = await request<Record<string, number>>('POST', `warren/restore/${seg(vhost)}`, await file.text());
      setError(undefined);
      setStatus(`Restored ${file.name} into ${vhost}: ${r['queues'] ?? 0} queues, ${r['messages_restored'] ?? 0} messages.`);
    } catch (err: unknown) { setStatus(undefined); setError(err instanceof Error ? err.message : String(err)); }
  };
  const upload = async (e: Event) => {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('file') as HTMLInputElement;
    const file = input.files?.[0];
    if (file === undefined) { setError('Choose a definitions file first.'); return; }
    try {
      await request('POST', 'definitions', await file.text());
      setError(undefined);
      setStatus(`Imported ${file.name}.`);
    } catch (err: unknown) { setStatus(undefined); setError(err instanceof Error ? err.message : String(err)); }
  };
  return html`<h1>Definitions</h1>
    <p class="hint">Users, virtual hosts, permissions, policies, parameters, exchanges, queues and bindings in RabbitMQ's definitions.json format (rabbitmqctl export_definitions / import_definitions read the same file).</p>
    <section class="panel" aria-labelledby="export-title"><h2 id="export-title">Export</h2>
      <button type="button" onClick=${() => void download()}>Download definitions</button></section>
    <section class="panel" aria-labelledby="import-title"><h2 id="import-title">Import</h2>
      <form class="inline-form" onSubmit=${(e: Event) => void upload(e)}>
        <label>Definitions file <input type="file" name="file" accept=".json,application/json" /></label>
        <button type="submit">Upload definitions</button>
      </form></section>
    <section class="panel" aria-labelledby="snapshot-title"><h2 id="snapshot-title">Snapshot of a virtual host</h2>
      <p class="hint">Warren's snapshot: the virtual host's definitions plus every queue's messages in one file; restoring resets the virtual host and loads the file back.</p>
      <form class="inline-form" onSubmit=${(e: Event) => void restore(e)}>
        <label>Virtual host <select name="vhost" aria-label="Snapshot virtual host">${vhosts.map((v) => html`<option>${v}</option>`)}</select></label>
        <button type="button" onClick=${(e: Event) => void snapshot((e.currentTarget as HTMLButtonElement).form)}>Download snapshot</button>
        <label>Snapshot file <input type="file" name="file" accept=".json,application/json" /></label>
        <button type="submit">Restore snapshot</button>
      </form></section>
    <${ErrorBox} error=${error} />
    ${status !== undefined ? html`<p role="status" class="ok">${status}</p>` : null}`;
}
