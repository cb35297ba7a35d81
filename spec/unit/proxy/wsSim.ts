import { SimLoop, SimPeer, simSocketPair, type SimPeerOptions } from '../../../lib/backend/sim/index.js';
import { Handle } from '../../../lib/index.js';
import { ProxySession } from '../../../lib/proxy/ProxySession.js';
import { websocket_proxy } from '../../../lib/proxy/websocket_proxy.js';
import { frame, OPCODE } from '../../../lib/proxy/ws/frame.js';
import { FrameParser, type Frame } from '../../../lib/proxy/ws/FrameParser.js';

export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Client frames for `data`, cut into masked binary frames of at most `size` bytes. */
export function clientFrames(data: Buffer, size = 128 * 1024): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += size) parts.push(...frame(data.subarray(off, off + size), { mask: MASK }));
  return Buffer.concat(parts);
}

/** The frames the client received after the 101 response. */
export function serverFrames(received: Buffer): Frame[] {
  const start = received.indexOf('\r\n\r\n');
  if (start < 0) return [];
  const parser = new FrameParser({ requireMask: false, maxPayload: 1 << 20 });
  const { frames, error } = parser.parse(received.subarray(start + 4));
  if (error) throw new Error(error.message);
  return frames;
}

export function payloadOf(frames: Frame[], opcode: number = OPCODE.BINARY): Buffer {
  return Buffer.concat(frames.filter((f) => f.opcode === opcode).map((f) => f.payload));
}

/** A client and a backend around one websocket_proxy session, all on one SimLoop. */
export function wsSetup(opts: { backpressure: boolean; client: SimPeerOptions; backend: SimPeerOptions; capacity?: number }) {
  const loop = new SimLoop();
  let backend: SimPeer | undefined;
  loop.listen(6000, (fh) => (backend = new SimPeer(fh, opts.backend)), { capacity: opts.capacity });
  const [proxySide, clientSide] = simSocketPair(loop, { capacity: opts.capacity });
  const session = new ProxySession();
  session.hdl = new Handle({
    fh: proxySide,
    rbuf_max: 64 * 1024,
    linger: 30,
    on_error: (_h, _f, message) => session.disconnect(message),
    on_eof: () => session.disconnect(),
  });
  const client = new SimPeer(clientSide, opts.client);
  websocket_proxy(session, {
    target: { host: '127.0.0.1', port: 6000 },
    accept: 'x',
    protocol: 'binary',
    loop,
    backpressure: opts.backpressure,
  });
  return { loop, session, client, backend: () => backend! };
}
