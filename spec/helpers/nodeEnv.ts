import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { adoptAccepted, nodeLoop } from '../../lib/backend/node/index.js';
import type { TestEnv, TestPeer } from './env.js';

/**
 * Real loopback sockets (127.0.0.1), the peer a plain net.Socket. The Handle's end is the
 * accepted net.Socket itself (read through its stream, as a user's own socket is), or with
 * `direct`, the Fh adoptAccepted makes of it (read with onread, as the HTTP front's are).
 */
export function nodeEnv({ direct = false } = {}): TestEnv {
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];

  const listenOnce = async (onConnection: (s: net.Socket) => void, pauseOnConnect = false) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect }, onConnection);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as net.AddressInfo).port };
  };

  return {
    name: direct ? 'node-direct' : 'node',
    loop: nodeLoop,

    async pair() {
      let accepted!: (s: net.Socket) => void;
      const serverSide = new Promise<net.Socket>((resolve) => (accepted = resolve));
      const { server, port } = await listenOnce((s) => accepted(s), direct);
      const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      sockets.push(client);
      await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
      const socket = await serverSide;
      const fh = direct ? adoptAccepted(socket) : socket;
      sockets.push(fh instanceof net.Socket ? fh : (fh.native as net.Socket));
      server.close();
      return { fh, peer: socketPeer(client) };
    },

    async listen() {
      let accepted!: (p: TestPeer) => void;
      const first = new Promise<TestPeer>((resolve) => (accepted = resolve));
      const { server, port } = await listenOnce((s) => {
        sockets.push(s);
        accepted(socketPeer(s));
      });
      return { host: '127.0.0.1', port, accepted: first, close: () => server.close() };
    },

    async deadPort() {
      const { server, port } = await listenOnce(() => {});
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    },

    async until(pred, what, limitSeconds = 20) {
      const deadline = Date.now() + limitSeconds * 1000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${limitSeconds}s waiting for: ${what}`);
        await delay(2);
      }
    },

    async sleep(seconds) {
      await delay(seconds * 1000);
    },

    async close() {
      for (const s of sockets) s.destroy();
      for (const s of servers) s.close();
    },
  };
}

function socketPeer(socket: net.Socket): TestPeer {
  const chunks: Buffer[] = [];
  let received = Buffer.alloc(0);
  let eof = false;
  let closed = false;
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('end', () => (eof = true));
  socket.on('close', () => (closed = eof = true));
  socket.on('error', () => {});
  return {
    write: (data) => void socket.write(data),
    get received() {
      if (chunks.length) {
        received = Buffer.concat([received, ...chunks]);
        chunks.length = 0;
      }
      return received;
    },
    get eof() {
      return eof;
    },
    get closed() {
      return closed;
    },
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    shutdown: () => void socket.end(),
    destroy: () => void socket.destroy(),
  };
}
