/**
 * The console's only door to the broker: the management HTTP API (no private endpoints), with
 * HTTP Basic credentials of a broker user kept in sessionStorage (gone when the tab closes).
 * Every request sends them; a 401 logs the console out. Errors carry RabbitMQ's `reason`.
 */

const KEY = 'warren.credentials';

export class ApiError extends Error {
  constructor(readonly status: number, reason: string) {
    super(reason);
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

let credentials: string | null = sessionStorage.getItem(KEY);
const listeners = new Set<() => void>();

export function loggedIn(): boolean {
  return credentials !== null;
}

export function onAuthChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

function setCredentials(c: string | null): void {
  credentials = c;
  if (c === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, c);
  for (const f of listeners) f();
}

/** Checks a user/password against /api/whoami; throws ApiError when refused. */
export async function login(user: string, password: string): Promise<void> {
  const c = btoa(String.fromCodePoint(...new TextEncoder().encode(`${user}:${password}`)));
  const res = await fetch('api/whoami', { headers: { authorization: `Basic ${c}` }, credentials: 'omit' });
  if (!res.ok) throw new ApiError(res.status, await reasonOf(res));
  setCredentials(c);
}

export function logout(): void {
  setCredentials(null);
}

async function reasonOf(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const j = JSON.parse(text) as { reason?: unknown; error?: unknown };
    const r = j.reason ?? j.error;
    return typeof r === 'string' ? r : JSON.stringify(r);
  } catch {
    return text || res.statusText || `HTTP ${res.status}`;
  }
}

/** One API call; `path` is below /api/ and already encoded. */
export async function request<T = Json>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { ...extra };
  if (credentials !== null) headers['authorization'] = `Basic ${credentials}`;
  // credentials 'omit': the browser never prompts for a login on a 401 (the form does that).
  const init: RequestInit = { method, headers, credentials: 'omit' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`api/${path}`, init);
  if (!res.ok) {
    const reason = await reasonOf(res);
    // Credentials no longer valid (password changed, user deleted): back to the login form. Other
    // 401s ("Not administrator user", "Access refused.") are refusals to show on the page.
    if (res.status === 401 && credentials !== null && reason === 'Login failed') logout();
    throw new ApiError(res.status, reason);
  }
  const text = await res.text();
  return (text === '' ? null : JSON.parse(text)) as T;
}

export const get = <T = Json>(path: string): Promise<T> => request<T>('GET', path);

/** A path segment: vhost '/' becomes %2F as RabbitMQ's clients send it. */
export const seg = (s: string): string => encodeURIComponent(s);
