/**
 * The heartbeat policy of one open connection (AMQP 0-9-1 §4.2.7), as pure data: the connection
 * ticks it on a timer every 1/TICKS_PER_INTERVAL of the negotiated interval with what was sent and
 * received since the previous tick, and it answers whether to send a heartbeat frame or drop the peer.
 *
 * Invariants:
 * - The peer never waits more than half the interval for a frame (RabbitMQ: heartbeats are "sent
 *   about every heartbeat timeout / 2 seconds"): a heartbeat goes out at every tick that follows a
 *   tick with nothing written, so the silence after a write is at most two ticks. Some clients drop
 *   the socket after ONE silent interval (@cloudamqp/amqp-client sets the socket's idle timeout to
 *   the heartbeat), so a sender that could stay silent for a whole interval lost them under load.
 * - The peer is dropped after two whole intervals with nothing received, as RabbitMQ does.
 */

/** Timer ticks per negotiated heartbeat interval. */
export const TICKS_PER_INTERVAL = 4;

/** tick() results. */
export const HEARTBEAT_IDLE = 0;
export const HEARTBEAT_SEND = 1;
export const HEARTBEAT_DEAD = 2;
export type HeartbeatAction = typeof HEARTBEAT_IDLE | typeof HEARTBEAT_SEND | typeof HEARTBEAT_DEAD;

export class Heartbeat {
  private silentTicks = 0;

  /** One tick, given whether anything was written and anything received since the previous one. */
  tick(sent: boolean, received: boolean): HeartbeatAction {
    if (received) this.silentTicks = 0;
    else if (++this.silentTicks >= 2 * TICKS_PER_INTERVAL) return HEARTBEAT_DEAD;
    return sent ? HEARTBEAT_IDLE : HEARTBEAT_SEND;
  }
}

/** The tick period in milliseconds for a heartbeat of `seconds` (a u16: always within a Node timer). */
export function heartbeatTickMs(seconds: number): number {
  return (seconds * 1000) / TICKS_PER_INTERVAL;
}
