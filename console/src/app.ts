/**
 * The console's shell: the login form (a broker user, checked against /api/whoami), the navigation,
 * the refresh-interval choice, and the hash router (#/queues, #/queue/<vhost>/<name>, ...) that
 * picks a page. Hash routes keep every page a static file (no server-side fallback needed).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, loggedIn, login, logout, onAuthChange } from './api.js';
import { refreshInterval, setRefreshInterval } from './components.js';
import { html, type View } from './html.js';
import { OverviewPage } from './pages/overview.js';
import { QueuesPage } from './pages/queues.js';
import { QueuePage } from './pages/queue.js';
import { ExchangePage, ExchangesPage } from './pages/exchanges.js';
import { TopologyPage } from './pages/topology.js';
import { ChannelsPage, ConnectionsPage, ConsumersPage } from './pages/connections.js';
import { FederationPage, HalfMessagesPage, ShovelsPage } from './pages/links.js';
import { DefinitionsPage, PermissionsPage, PoliciesPage, UsersPage, VhostsPage } from './pages/admin.js';

type Page = (props: { args: string[] }) => View;

const PAGES: { path: string; label: string; page: Page; nav: boolean }[] = [
  { path: 'overview', label: 'Overview', page: OverviewPage, nav: true },
  { path: 'queues', label: 'Queues', page: QueuesPage, nav: true },
  { path: 'queue', label: 'Queue', page: QueuePage, nav: false },
  { path: 'exchanges', label: 'Exchanges', page: ExchangesPage, nav: true },
  { path: 'exchange', label: 'Exchange', page: ExchangePage, nav: false },
  { path: 'topology', label: 'Topology', page: TopologyPage, nav: true },
  { path: 'connections', label: 'Connections', page: ConnectionsPage, nav: true },
  { path: 'channels', label: 'Channels', page: ChannelsPage, nav: true },
  { path: 'consumers', label: 'Consumers', page: ConsumersPage, nav: true },
  { path: 'shovels', label: 'Shovels', page: ShovelsPage, nav: true },
  { path: 'federation', label: 'Federation', page: FederationPage, nav: true },
  { path: 'half-messages', label: 'Half messages', page: HalfMessagesPage, nav: true },
  { path: 'users', label: 'Users', page: UsersPage, nav: true },
  { path: 'vhosts', label: 'Vhosts', page: VhostsPage, nav: true },
  { path: 'permissions', label: 'Permissions', page: PermissionsPage, nav: true },
  { path: 'policies', label: 'Policies', page: PoliciesPage, nav: true },
  { path: 'definitions', label: 'Definitions', page: DefinitionsPage, nav: true },
];

function parseHash(): string[] {
  const raw = location.hash.replace(/^#\/?/, '');
  return raw === '' ? ['overview'] : raw.split('/').map((p) => decodeURIComponent(p));
}

function LoginForm(): View {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setBusy(true);
    try {
      await login(String(data.get('username') ?? ''), String(data.get('password') ?? ''));
    } catch (err: unknown) {
      setError(err instanceof ApiError && err.status === 401 ? `Login failed (${err.message}).` : String(err));
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">Warren</h1>
      <p>Sign in with a broker user (management tag or higher).</p>
      <label>Username <input name="username" autocomplete="username" required autofocus /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" /></label>
      ${error !== undefined ? html`<p class="error" role="alert">${error}</p>` : null}
      <button type="submit" disabled=${busy}>Log in</button>
    </form>
  </main>`;
}

function Header({ current, user }: { current: string; user: string }): View {
  const [menu, setMenu] = useState(false);
  return html`<header class="top">
    <a class="brand" href="#/overview">Warren</a>
    <button type="button" class="menu-toggle" aria-expanded=${menu} aria-controls="nav" onClick=${() => setMenu(!menu)}>Menu</button>
    <nav id="nav" class=${menu ? 'open' : ''} aria-label="Main">
      ${PAGES.filter((p) => p.nav).map((p) => html`<a href=${`#/${p.path}`} aria-current=${current === p.path ? 'page' : undefined}
        onClick=${() => setMenu(false)}>${p.label}</a>`)}
    </nav>
    <div class="session">
      <label>Refresh
        <select value=${String(refreshInterval())} onChange=${(e: Event) => setRefreshInterval(Number((e.currentTarget as HTMLSelectElement).value))}>
          <option value="1000">1 s</option><option value="5000">5 s</option><option value="10000">10 s</option>
          <option value="30000">30 s</option><option value="0">off</option>
        </select>
      </label>
      <span class="user" title="Logged in user">${user}</span>
      <button type="button" onClick=${logout}>Log out</button>
    </div>
  </header>`;
}

export function App(): View {
  const [authed, setAuthed] = useState(loggedIn());
  const [route, setRoute] = useState(parseHash());
  const [user, setUser] = useState('');
  useEffect(() => onAuthChange(() => setAuthed(loggedIn())), []);
  useEffect(() => {
    const f = () => setRoute(parseHash());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  useEffect(() => {
    if (authed) get<{ name: string }>('whoami').then((w) => setUser(w.name), () => {});
  }, [authed]);
  const [name = 'overview', ...args] = route;
  const entry = PAGES.find((p) => p.path === name);
  useEffect(() => {
    document.title = `${authed ? (entry?.label ?? 'Not found') : 'Log in'} · Warren`;
  }, [authed, name]);
  if (!authed) return html`<${LoginForm} />`;
  // The first Tab stop: past the navigation to the page (hash routes, so focus instead of #content).
  const skip = (e: Event) => { e.preventDefault(); document.getElementById('content')?.focus(); };
  return html`<a class="skip" href="#/" onClick=${skip}>Skip to content</a>
    <${Header} current=${name} user=${user} />
    <main id="content" tabindex="-1">
      ${entry === undefined
        ? html`<h1>Not found</h1><p>No page <code>${name}</code>. <a href="#/overview">Overview</a></p>`
        : html`<${entry.page} key=${route.join('/')} args=${args} />`}
    </main>`;
}
