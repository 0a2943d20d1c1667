/**
 * The protocol header a client sends first (AMQP 0-9-1 §4.2.2): "AMQP" 0 0 9 1.
 * Like rabbit_reader:version_negotiation/2 we also accept "AMQP" 1 1 0 9 (the 0-9 header, which
 * RabbitMQ serves as 0-9-1). Anything else is 'wrong': the server answers with PROTOCOL_HEADER and
 * closes the socket (spec §4.2.2: "the server MUST ... write a valid protocol header and then close").
 */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

const ALT_0_9: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);

/** buf = the bytes received so far (may be shorter than 8; only its first 8 bytes are examined). */
export function checkProtocolHeader(buf: Buffer): 'ok' | 'incomplete' | 'wrong' {
  const n = Math.min(buf.length, 8);
  let main = true;
  let alt = true;
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c !== PROTOCOL_HEADER[i]) main = false;
    if (c !== ALT_0_9[i]) alt = false;
  }
  if (!main && !alt) return 'wrong';
  return n < 8 ? 'incomplete' : 'ok';
}
