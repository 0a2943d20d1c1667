/**
 * Binding a listening socket, shared by the AMQP listeners (server/) and the HTTP ones
 * (management/): resolves with the bound port (0 picks a free one) or rejects with the bind error
 * (EADDRINUSE when a RabbitMQ on the machine holds the port, EACCES...). The error handler is only
 * attached for the bind: later errors are the owner's to log.
 */
import type net from 'node:net';

export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}
