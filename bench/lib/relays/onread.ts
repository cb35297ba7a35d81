/**
 * A plain Node relay (no Handle) that reads with `onread` into buffers of a given size, for
 * bench/read-size.ts: how much the size of a read system call matters on loopback.
 *
 *   (forked by the benchmarks) onread.ts '{"target":PORT,"size":262144}'
 */
import net from 'node:net';

const { target, size } = JSON.parse(process.argv[2]) as { target: number; size: number };

/** An onread socket whose chunks go to `sink()`; reading pauses while the sink is full. */
function reading(create: (onread: object) => net.Socket, sink: () => net.Socket): net.Socket {
  const socket: net.Socket = create({
    buffer: () => Buffer.allocUnsafe(size),
    callback: (n: number, buf: Buffer) => {
      const out = sink();
      if (out.write(buf.subarray(0, n))) return true;
      out.once('drain', () => socket.resume());
      return false;
    },
  });
  return socket;
}

const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (accepted) => {
  // The accepted connection's handle moves into an onread socket of this relay's own, as
  // lib/backend/node/sockets.ts adoptAccepted does (without the server's bookkeeping).
  const handle = (accepted as unknown as { _handle: unknown })._handle;
  (accepted as unknown as { _handle: unknown })._handle = null;
  let client!: net.Socket;
  const backend = reading((onread) => net.connect({ port: target, host: '127.0.0.1', allowHalfOpen: true, noDelay: true, onread } as net.NetConnectOpts), () => client);
  client = reading((onread) => new net.Socket({ handle, allowHalfOpen: true, readable: true, writable: true, onread } as unknown as net.SocketConstructorOpts), () => backend);
  client.setNoDelay(true);
  client.on('end', () => backend.end());
  backend.on('end', () => client.end());
  client.on('error', () => backend.destroy());
  backend.on('error', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => process.send!({ ev: 'listening', port: (server.address() as net.AddressInfo).port }));
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'usage') process.send!({ ev: 'usage', cpu: process.cpuUsage(), memory: process.memoryUsage() });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
