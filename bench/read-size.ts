/**
 * Does the size of a read system call matter for a relay on loopback? Plain Node relays (no
 * Handle, bench/lib/relays/onread.ts) reading with `onread` into 64, 128, 256 and 512 KiB
 * buffers, against `stream.pipeline` (libuv's 64 KiB reads through Readable streams), side
 * by side in interleaved rounds. The figures behind DirectRead's read sizes
 * (lib/backend/node/DirectRead.ts). Not part of `npm run bench`.
 *
 *   npx tsx bench/read-size.ts [--rounds 4] [--gb 1] [--out bench/results/read-size.json]
 */
import { MiB, Peer, args as parseArgs, fastSink, fmtSpread, machine, nodeRelay, preamble, writeResult, type Relay, stopAll, runMain } from './lib/harness.js';
import { printRows, ratio, rounds, type Variant } from './lib/transfer.js';

const A = parseArgs({ rounds: 4, gb: 1, out: 'bench/results/read-size.json' }, 'read-size.ts [--rounds R] [--gb G] [--out FILE]');
const BYTES = Math.round((A.gb * 1e9) / MiB) * MiB;

async function main(): Promise<void> {
  const client = await Peer.start();
  const backend = await fastSink(client);
  const base = { direction: 'up' as const, backend, client, bytes: BYTES, preamble: preamble.none };
  const relays: Relay[] = [await nodeRelay('node stream.pipeline', 'bench/lib/relays/pipeline.ts', { target: backend.port })];
  for (const kib of [64, 128, 256, 512]) relays.push(await nodeRelay(`onread ${kib} KiB`, 'bench/lib/relays/onread.ts', { target: backend.port, size: kib * 1024 }));
  const variants: Variant[] = relays.map((r) => ({ ...base, name: r.name, relay: r, port: r.port }));
  const results = await rounds(variants, A.rounds, 256 * MiB, 'read-size');
  const m = machine();
  console.log(`\nplain relays by read size, client → backend, ${(BYTES / 1e9).toFixed(2)} GB per run, ${A.rounds} rounds; ${m.cpu} × ${m.cores}, node ${m.node}`);
  printRows(results);
  const comparisons = results.slice(1).map((r) => ({ variant: r.name, ratio: ratio(r, results[0]) }));
  for (const c of comparisons) console.log(`  ${c.variant.padEnd(16)} ÷ stream.pipeline ${fmtSpread(c.ratio, 2, 'x')}`);
  writeResult(A.out, { bench: 'read-size', ...m, params: { rounds: A.rounds, bytesPerRun: BYTES }, results, comparisons });
  await stopAll(...relays, backend, client);
}

runMain(main);
