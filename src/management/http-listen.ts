/**
 * Listening and closing for the control plane's HTTP listeners (management API, Prometheus):
 * listen resolves with the bound port (0 picks a free one) or rejects with the bind error
 * (EADDRINUSE when a RabbitMQ on the machine holds the port); close drops keep-alive sockets.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

export function listenHttp(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
