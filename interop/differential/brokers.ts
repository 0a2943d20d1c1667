/**
 * Where the two brokers of a differential run come from. The test helpers (referenceUrl,
 * startTestBroker) are loaded lazily: while Warren's own modules are mid-rewrite and fail to load,
 * the reference-vs-reference self-check must still work, so a failed import falls back to a local
 * reachability probe of REFERENCE_AMQP_URL / amqp://guest:guest@127.0.0.1:5672.
 */
import net from 'node:net';

export const DEFAULT_REFERENCE_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** The URL the reference is looked for at (for messages). */
export function referenceCandidate(): string {
  return process.env['REFERENCE_AMQP_URL'] ?? DEFAULT_REFERENCE_URL;
}

/** The reference broker's URL, or undefined when it is not reachable. */
export async function findReference(): Promise<string | undefined> {
  try {
    const helpers = await import('../../test/helpers/broker.js');
    return await helpers.referenceUrl();
  } catch {
    const url = referenceCandidate();
    const u = new URL(url);
    return (await canConnect(u.hostname, Number(u.port || 5672))) ? url : undefined;
  }
}

export interface Subject {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts Warren in-process on port 0 (via the shared test helper). */
export async function startWarrenSubject(): Promise<Subject> {
  const helpers = await import('../../test/helpers/broker.js');
  const broker = await helpers.startTestBroker();
  return { url: broker.url, close: () => broker.close() };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
