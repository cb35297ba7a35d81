/**
 * How fast does response_stream send a file, against `fs.createReadStream(file).pipe(socket)`?
 * A 1 GiB file (in the page cache after it is written), requested with `GET /stream/NAME`
 * from this project's HTTP front (response_stream with its 4 MiB bound, the source a
 * createReadStream as the front opens it) and from a plain Node server that pipes the same
 * file after the same response head (bench/lib/relays/stream-pipe.ts). The client reads
 * as fast as it can; time from its connect to EOF. Interleaved rounds; ratios per round.
 *
 *   npx tsx bench/stream-throughput.ts [--rounds 5] [--mb 1024] [--out bench/results/stream-throughput.json]
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { MiB, Peer, cleanupBundles, fmtSpread, machine, args as parseArgs, nodeRelay, preamble, writeResult, runMain } from './lib/harness.js';
import { printRows, ratio, rounds, type Variant } from './lib/transfer.js';

const A = parseArgs({ rounds: 5, mb: 1024, out: 'bench/results/stream-throughput.json' }, 'stream-throughput.ts [--rounds R] [--mb MIB] [--out FILE]');
const BYTES = A.mb * MiB;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'ae-stream-'));
  const file = join(dir, 'data');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i++) block[i] = (i * 131 + 7) & 0xff;
  for (let i = 0; i < A.mb; i++) writeSync(fd, block);
  closeSync(fd);

  const client = await Peer.start();
  const ts = await nodeRelay('ae-proxy response_stream', 'bench/lib/relays/proxy-server.ts', { backpressure: true, streamDir: dir });
  const pipe = await nodeRelay('createReadStream().pipe()', 'bench/lib/relays/stream-pipe.ts', { file });
  const base = { direction: 'source' as const, client, bytes: BYTES };
  const variants: Variant[] = [
    { ...base, name: ts.name, relay: ts, port: ts.port, preamble: preamble.get('/stream/data') },
    { ...base, name: pipe.name, relay: pipe, port: pipe.port, preamble: preamble.get('/data') },
  ];
  const results = await rounds(variants, A.rounds, 128 * MiB, 'stream-throughput');
  const m = machine();
  console.log(`\nfile response, ${(BYTES / 1e9).toFixed(2)} GB file from the page cache, ${A.rounds} interleaved rounds; ${m.cpu} × ${m.cores}, node ${m.node}`);
  printRows(results);
  const r = ratio(results[0], results[1]);
  console.log(`    response_stream ÷ createReadStream().pipe()   ${fmtSpread(r, 2, 'x')}`);
  writeResult(A.out, {
    bench: 'stream-throughput',
    ...m,
    params: { rounds: A.rounds, fileBytes: BYTES },
    results,
    comparisons: [{ what: 'response_stream ÷ createReadStream().pipe()', ratio: r }],
  });
  await ts.stop();
  await pipe.stop();
  await client.stop();
  rmSync(dir, { recursive: true, force: true });
  cleanupBundles();
}

runMain(main);
