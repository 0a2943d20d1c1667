/**
 * The Prometheus listener (RabbitMQ's rabbitmq_prometheus plugin, port 15692; HTTPS as its
 * prometheus.ssl.* on 15691, see http-listen.ts): node:http,
 * GET/HEAD `/metrics` (aggregated), `/metrics/per-object` and `/metrics/detailed?family=...
 * &vhost=...`, gzip when the scraper accepts it, everything else answered as the plugin answers
 * (404 with RabbitMQ's JSON error, 405 with Allow). Metrics are collected from broker snapshots
 * when a request arrives (prometheus-metrics.ts); nothing here runs on the message path.
 * Invariant: a failing collection answers 500 and is logged; it never takes the process down.
 */
import type http from 'node:http';
import { gzip } from 'node:zlib';
import type { Logger } from 'pino';
import { HttpService } from './http-listen.js';
import { EXPOSITION_CONTENT_TYPE } from './prometheus-format.js';
import { renderMetrics, type MetricsView, type PrometheusSource, type ScrapeRequest } from './prometheus-metrics.js';

const VIEWS: Readonly<Record<string, MetricsView>> = {
  '/metrics': 'aggregated',
  '/metrics/per-object': 'per-object',
  '/metrics/detailed': 'detailed',
};

const NOT_FOUND = JSON.stringify({ error: 'Object Not Found', reason: 'Not Found' });

export class PrometheusListener extends HttpService {
  constructor(private readonly source: PrometheusSource, private readonly logger: Logger) {
    super(logger, 'prometheus');
  }

  protected onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const view = VIEWS[url.pathname.replace(/\/+$/, '') || '/'];
    if (view === undefined) {
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(NOT_FOUND) });
      res.end(NOT_FOUND);
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(200, { allow: 'HEAD, GET, OPTIONS', 'content-length': 0 });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'HEAD, GET, OPTIONS', 'content-length': 0 });
      res.end();
      return;
    }
    let body: string;
    try {
      body = renderMetrics(this.source, scrapeRequest(view, url.searchParams));
    } catch (err: unknown) {
      this.logger.error({ err }, 'prometheus collection failed');
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics collection failed\n');
      return;
    }
    const head = req.method === 'HEAD';
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      gzip(body, (err, zipped) => {
        if (err !== null) {
          res.writeHead(500).end();
          return;
        }
        res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-encoding': 'gzip', 'content-length': zipped.length, vary: 'accept-encoding' });
        res.end(head ? undefined : zipped);
      });
      return;
    }
    res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-encoding': 'identity', 'content-length': Buffer.byteLength(body), vary: 'accept-encoding' });
    res.end(head ? undefined : body);
  }
}

/** RabbitMQ's query parameters: `family` and `vhost`, each repeatable (detailed view only). */
function scrapeRequest(view: MetricsView, params: URLSearchParams): ScrapeRequest {
  if (view !== 'detailed') return { view };
  const req: ScrapeRequest = { view, families: new Set(params.getAll('family')) };
  const vhosts = params.getAll('vhost');
  if (vhosts.length > 0) req.vhosts = new Set(vhosts);
  return req;
}
