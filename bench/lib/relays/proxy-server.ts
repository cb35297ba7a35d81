/**
 * The relay under test: this project's HTTP front (lib/http/ProxyServer.ts) in a process
 * of its own, as `ae-proxy` runs it. CONNECT goes to spice_proxy, `/websocket` to
 * websocket_proxy, `/stream/NAME` to response_stream.
 *
 *   (forked by the benchmarks) proxy-server.ts '{"backpressure":true,"streamDir":"/tmp/x"}'
 *
 * Answers `{ cmd: 'usage' }` over IPC with process.cpuUsage(), process.memoryUsage() and
 * the proxy's wbuf totals, so the benchmarks can tell buffers from the rest of the heap.
 */
import { ProxyServer } from '../../../lib/http/ProxyServer.js';

const options = JSON.parse(process.argv[2] ?? '{}') as { backpressure?: boolean; streamDir?: string };
// AE_BENCH_LOG=1: the proxy's log lines on stderr (why sessions ended), for debugging.
const log = process.env.AE_BENCH_LOG ? (level: string, message: string) => process.stderr.write(`proxy ${level}: ${message}\n`) : undefined;
const server = new ProxyServer(
  {
    allowPorts: [[1, 65535]],
    backpressure: options.backpressure ?? true,
    streamDir: options.streamDir,
    headerTimeout: 60,
    shutdownGrace: 1,
  },
  log,
);
const { port } = await server.listen('127.0.0.1', 0);
process.send!({ ev: 'listening', port });
process.on('message', (m: { cmd: string }) => {
  if (m.cmd !== 'usage') return;
  const d = server.metrics.directions;
  process.send!({
    ev: 'usage',
    cpu: process.cpuUsage(),
    memory: process.memoryUsage(),
    sessionsOpen: server.metrics.sessionsOpen,
    wbuf: d.to_backend.wbuf + d.to_client.wbuf,
  });
});
process.on('disconnect', () => process.exit(0));
// A clean exit, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
