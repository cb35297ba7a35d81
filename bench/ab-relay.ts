/**
 * Is a change to the relay's hot path an improvement? Runs the HTTP front built from the
 * working tree and built from another git revision side by side, interleaved, on the same
 * transfer; the figures for the commit message of an optimisation.
 *
 *   npx tsx bench/ab-relay.ts [--base HEAD] [--mode spice|ws-up|ws-down] [--rounds 7] [--gb 1]
 *
 * Modes: `spice`: raw relay, client → backend (CONNECT); `ws-up`: masked 128 KiB frames,
 * client → backend; `ws-down`: raw bytes from the backend, framed to the client.
 * Reported: throughput (GB/s) and relay CPU (s per GB), working tree ÷ base per round.
 */
import { MiB, Peer, args as parseArgs, fastSink, fmtSpread, machine, nodeRelay, peerBackend, preamble, spread, stopAll, runMain } from './lib/harness.js';
import { printRows, ratio, rounds, type Variant } from './lib/transfer.js';

const A = parseArgs({ base: 'HEAD', mode: 'spice', rounds: 7, gb: 1 }, 'ab-relay.ts [--base REV] [--mode spice|ws-up|ws-down] [--rounds R] [--gb G]');
const BYTES = Math.round((A.gb * 1e9) / MiB) * MiB;

async function main(): Promise<void> {
  const a = await Peer.start();
  const client = await Peer.start();
  const entry = 'bench/lib/relays/proxy-server.ts';
  const relays = [await nodeRelay(`base (${A.base})`, entry, { backpressure: true }, [], A.base), await nodeRelay('working tree', entry, { backpressure: true })];
  const down = A.mode === 'ws-down';
  const backend = down ? await peerBackend(a, 'send') : await fastSink(a);
  const pre =
    A.mode === 'spice' ? preamble.connect(backend.port) : preamble.websocket(`/websocket?port=${backend.port}`);
  const variants: Variant[] = relays.map((relay) => ({
    name: relay.name,
    relay,
    direction: down ? 'down' : 'up',
    port: relay.port,
    preamble: pre,
    frames: A.mode === 'ws-up' ? 'ws' : 'raw',
    backend,
    client,
    bytes: BYTES,
  }));
  const results = await rounds(variants, A.rounds, 256 * MiB, `ab-relay ${A.mode}`);
  const m = machine();
  console.log(`\n${A.mode}, ${(BYTES / 1e9).toFixed(2)} GB per run, ${A.rounds} interleaved rounds; ${m.cpu} × ${m.cores}, node ${m.node}, ${m.git}`);
  printRows(results);
  const [base, tree] = results;
  const cpu = spread(tree.samples.map((s, i) => (s.cpu!.user + s.cpu!.sys) / (base.samples[i].cpu!.user + base.samples[i].cpu!.sys)));
  console.log(`  working tree ÷ base: throughput ${fmtSpread(ratio(tree, base), 2, 'x')}, CPU per GB ${fmtSpread(cpu, 2, 'x')}`);
  await stopAll(...relays, backend, a, client);
}

runMain(main);
