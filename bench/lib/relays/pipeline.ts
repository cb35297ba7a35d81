/**
 * The baseline relay: Node's own `stream.pipeline` both ways, with default stream settings.
 *
 *   (forked by the benchmarks) pipeline.ts '{"target":PORT}'
 */
import net from 'node:net';
import { pipeline } from 'node:stream';

const { target } = JSON.parse(process.argv[2]) as { target: number };
const server = net.createServer({ allowHalfOpen: true }, (client) => {
  const backend = net.connect({ port: target, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
  client.setNoDelay(true);
  const done = () => {};
  pipeline(client, backend, done);
  pipeline(backend, client, done);
});
server.listen(0, '127.0.0.1', () => process.send!({ ev: 'listening', port: (server.address() as net.AddressInfo).port }));
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'usage') process.send!({ ev: 'usage', cpu: process.cpuUsage(), memory: process.memoryUsage() });
});
process.on('disconnect', () => process.exit(0));
// A clean exit, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
