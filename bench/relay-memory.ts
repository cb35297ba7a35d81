/**
 * Where does the raw relay's memory go during a transfer? One 2 GiB transfer through the
 * relay (spice_proxy through the HTTP front, as in relay-throughput.ts), sampling the
 * relay's process.memoryUsage() (over IPC) and RssAnon every 20 ms; prints the peak of
 * each. Extra arguments are node flags for the relay (`--max-semi-space-size=1`, say).
 * Not part of `npm run bench`.
 *
 *   npx tsx bench/relay-memory.ts [node flags…]
 */
import { readFileSync } from 'node:fs';
import { MiB, Peer, fastSink, nodeRelay, preamble, stopAll, runMain } from './lib/harness.js';
import { transfer } from './lib/transfer.js';
const flags = process.argv.slice(2);

async function main(): Promise<void> {
  const client = await Peer.start();
  const backend = await fastSink(client);
  const ts = await nodeRelay('ae', 'bench/lib/relays/proxy-server.ts', { backpressure: true }, flags);
  const v = { direction: 'up' as const, backend, client, bytes: 2048 * MiB, name: 'ae', relay: ts, port: ts.port, preamble: preamble.connect(backend.port) };
  const anon = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${ts.pid}/status`, 'utf8'))![1]) / 1024;
  const max: Record<string, number> = {};
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      const u = (await ts.usage!()) as { memory: Record<string, number> };
      for (const [k, val] of Object.entries(u.memory)) max[k] = Math.max(max[k] ?? 0, val / 1e6);
      max.anon = Math.max(max.anon ?? 0, anon());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  console.log(`relay RssAnon idle: ${anon().toFixed(1)} MB`);
  const s = await transfer(v);
  stop = true;
  await poll;
  console.log(`${flags.join(' ') || '(no flags)'}: ${s.gbps.toFixed(2)} GB/s; peak MB: ${Object.entries(max).map(([k, x]) => `${k} ${x.toFixed(1)}`).join(', ')}`);
  await stopAll(ts, backend, client);
}

runMain(main);
