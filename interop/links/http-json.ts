/** A tiny JSON-over-HTTP client for the management APIs of Warren and the reference (guest by default). */
export interface HttpReply { status: number; json: unknown; text: string }

export function managementApi(base: string, user = 'guest', password = 'guest') {
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const call = async (method: string, path: string, body?: unknown): Promise<HttpReply> => {
    const res = await fetch(`${base}${path}`, {
      method, headers: { authorization, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text };
  };
  return {
    get: (path: string) => call('GET', path),
    put: (path: string, body: unknown) => call('PUT', path, body),
    post: (path: string, body: unknown) => call('POST', path, body),
    delete: (path: string) => call('DELETE', path),
  };
}

export type ManagementApi = ReturnType<typeof managementApi>;
