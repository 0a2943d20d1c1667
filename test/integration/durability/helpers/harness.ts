/**
 * One broker child on one data dir across restarts, for a test or a describe block: start, the
 * client session of the current incarnation, restart by SIGTERM (graceful) or SIGKILL (crash), and
 * cleanup (kill, close clients, remove the dir).
 * Invariants: at most one broker runs on the data dir at a time; a graceful restart checks that the
 * old broker exited 0; `syncBarrier` returns only once everything the broker did before it is on
 * disk (a persistent publish to a durable queue is confirmed after an fsync that covers every earlier
 * write, issue 3: "basic.ack ... is sent only after its bytes are fsync'd").
 */
import { expect } from 'vitest';
import { BrokerProcess, type BrokerOptions, type ExitStatus } from './broker-process.js';
import { Session, sendConfirmed, makeBody } from './amqp-session.js';
import { makeTempDir, removeDir } from './data-files.js';

/** Tiny segments so that a few hundred 1 KiB messages span several segment files. */
export const SEGMENT_SIZE = 64 * 1024;

export type RestartMode = 'SIGTERM' | 'SIGKILL';
export const RESTART_MODES: readonly RestartMode[] = ['SIGTERM', 'SIGKILL'];

export class Harness {
  private broker_: BrokerProcess | undefined;
  private session_: Session | undefined;
  private dir: string | undefined;
  private ownsDir = false;
  private barrierSeq = 0;
  /** Exit status of each broker incarnation that ended, in order. */
  readonly exits: ExitStatus[] = [];

  constructor(private readonly defaults: Partial<BrokerOptions> = {}) {}

  get broker(): BrokerProcess {
    if (this.broker_ === undefined) throw new Error('no broker started');
    return this.broker_;
  }

  get dataDir(): string {
    if (this.dir === undefined) throw new Error('no data dir yet');
    return this.dir;
  }

  /** A broker was started (it may have exited since). */
  get started(): boolean {
    return this.broker_ !== undefined;
  }

  /** Client session on the running broker (a new one after each restart). */
  get session(): Session {
    if (this.session_ === undefined) throw new Error('no broker started');
    return this.session_;
  }

  /** Start the first broker (on a fresh temp dir unless `dataDir` is given). */
  async start(options: Partial<BrokerOptions> = {}): Promise<BrokerProcess> {
    if (this.dir === undefined) {
      const given = options.dataDir ?? this.defaults.dataDir;
      this.dir = given ?? (await makeTempDir());
      this.ownsDir = given === undefined;
    }
    const b = await BrokerProcess.start({ segmentSize: SEGMENT_SIZE, ...this.defaults, ...options, dataDir: this.dir });
    this.broker_ = b;
    this.session_ = new Session(b.url);
    return b;
  }

  /** Stop the broker: SIGTERM (expects exit 0) or SIGKILL. */
  async stop(mode: RestartMode): Promise<ExitStatus> {
    const b = this.broker;
    const status = mode === 'SIGTERM' ? await b.stop() : await b.kill9();
    this.exits.push(status);
    await this.session_?.closeAll();
    if (mode === 'SIGTERM') expect(status, `graceful stop must exit 0\n${b.tail()}`).toEqual({ code: 0, signal: null });
    return status;
  }

  /** Stop (SIGTERM or kill -9) and start a new broker on the same data dir. */
  async restart(mode: RestartMode, overrides: Partial<BrokerOptions> = {}): Promise<BrokerProcess> {
    await this.stop(mode);
    return this.start(overrides);
  }

  /**
   * Wait until everything the broker has done so far is durable: a persistent message published
   * with confirms to a durable queue of its own is acked only after an fsync covering all earlier
   * writes (acks, delivered marks, purges included).
   */
  async syncBarrier(): Promise<void> {
    const ch = await this.session.confirmChannel();
    await ch.assertQueue('durability.sync-barrier', { durable: true });
    await sendConfirmed(ch, 'durability.sync-barrier', [makeBody('barrier', this.barrierSeq++, 16)]);
    await ch.purgeQueue('durability.sync-barrier');
    await ch.close();
  }

  async cleanup(): Promise<void> {
    await this.session_?.closeAll().catch(() => undefined);
    if (this.broker_ !== undefined) await this.broker_.kill9();
    if (this.dir !== undefined && this.ownsDir) await removeDir(this.dir);
    this.broker_ = undefined;
    this.session_ = undefined;
    this.dir = undefined;
  }
}
