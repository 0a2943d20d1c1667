/**
 * The process's logger, from the log settings of `warren start`:
 * - JSON lines on stdout by default (one object a line: what journald, Docker and log collectors
 *   take as they are), or `--log-format pretty` (pino-pretty, colours on a terminal);
 * - `--log-file FILE`: the same JSON lines also go to FILE through pino-roll (pino's rolling-file
 *   transport, in a worker thread), rotated at --log-file-size, keeping --log-file-count old files
 *   (FILE.1, FILE.2, ... as pino-roll numbers them);
 * - a level control for the management API (PUT /api/warren/log-level): pino fixes a child
 *   logger's level when it is created, so the control remembers the children (weakly: a closed
 *   connection's logger is not kept alive) and sets the new level on each of them too.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevelControl } from '../management/management-app.js';
import { LOG_LEVELS } from './settings.js';

export interface LogOptions {
  level: string;
  format: 'json' | 'pretty';
  file?: string;
  fileSize: number;
  fileCount: number;
}

export interface Logging {
  readonly logger: Logger;
  readonly control: LogLevelControl;
  /** Flush the streams and, with a log file, wait for its worker to write everything. */
  close(): Promise<void>;
}

export async function createLogging(o: LogOptions): Promise<Logging> {
  const children = new Set<WeakRef<Logger>>();
  const track = (child: Logger): void => {
    children.add(new WeakRef(child));
    // Drop the references of collected loggers now and then (connections come and go).
    if (children.size > 1024 && children.size % 1024 === 0) {
      for (const r of children) if (r.deref() === undefined) children.delete(r);
    }
  };
  const options = { level: o.level, base: { app: 'warren' }, onChild: track };
  const streams: { level: 'trace'; stream: DestinationStream }[] = [];
  if (o.format === 'pretty') {
    const { default: pretty } = await import('pino-pretty');
    streams.push({ level: 'trace', stream: pretty({ colorize: process.stdout.isTTY, destination: 1, sync: true }) });
  } else {
    streams.push({ level: 'trace', stream: pino.destination({ dest: 1, sync: true }) });
  }
  let fileTransport: (DestinationStream & { end?: () => void; once?: (e: string, f: () => void) => void }) | undefined;
  if (o.file !== undefined) {
    fileTransport = pino.transport({
      target: 'pino-roll',
      options: {
        file: o.file, mkdir: true,
        // pino-roll reads sizes in k/m/g; 0 means never rotate by size.
        ...(o.fileSize > 0 ? { size: `${Math.max(1, Math.ceil(o.fileSize / 1024))}k` } : {}),
        limit: { count: o.fileCount },
      },
    }) as DestinationStream;
    streams.push({ level: 'trace', stream: fileTransport });
  }
  const logger = streams.length === 1 ? pino(options, streams[0]!.stream) : pino(options, pino.multistream(streams));
  const control: LogLevelControl = {
    levels: LOG_LEVELS,
    get: () => logger.level,
    set: (level) => {
      logger.level = level;
      for (const r of children) {
        const child = r.deref();
        if (child === undefined) children.delete(r);
        else child.level = level;
      }
    },
  };
  const close = async (): Promise<void> => {
    logger.flush();
    const t = fileTransport;
    if (t?.end !== undefined && t.once !== undefined) {
      await new Promise<void>((resolve) => {
        t.once!('close', resolve);
        t.end!();
      });
    }
  };
  return { logger, control, close };
}
