/**
 * The baseline for response_stream: `fs.createReadStream(file).pipe(socket)` after the same
 * response head, once the request has arrived.
 *
 *   (forked by the benchmarks) stream-pipe.ts '{"file":"/tmp/x/data"}'
 */
import { createReadStream } from 'node:fs';
import net from 'node:net';

const { file } = JSON.parse(process.argv[2]) as { file: string };
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.once('data', () => {
    socket.write('HTTP/1.1 200 OK\r\nServer: pipe\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n');
    createReadStream(file).pipe(socket);
  });
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => process.send!({ ev: 'listening', port: (server.address() as net.AddressInfo).port }));
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'usage') process.send!({ ev: 'usage', cpu: process.cpuUsage(), memory: process.memoryUsage() });
});
process.on('disconnect', () => process.exit(0));
// A clean exit, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
