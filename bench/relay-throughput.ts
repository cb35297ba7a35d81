/**
 * How fast does the raw relay (spice_proxy through the HTTP front, with backpressure, to a
 * fast reader) move bytes on loopback, and at what CPU and memory cost, against:
 * - `perl`: pveproxy's SPICE relay with the #7483 patch on the real AnyEvent::Handle (EV),
 *   bench/perl/relay.pl;
 * - `pipeline`: Node's own `stream.pipeline` both ways;
 * - `socat -b 131072`;
 * - `direct`: the source connected straight to the sink (the ceiling).
 *
 * Source and sink are separate Node processes (bench/lib/peer.ts) writing and reading as
 * fast as they can; each relay is a process of its own, measured from /proc (RSS sampled
 * every 25 ms) and, for Node relays, process.cpuUsage(). The variants run interleaved, one
 * run each per round; ratios are per round.
 *
 *   npx tsx bench/relay-throughput.ts [--rounds 5] [--gb 2] [--out bench/results/relay-throughput.json]
 */
import {
  MiB,
  Peer,
  fastSink,
  externalRelay,
  fmtSpread,
  freePort,
  machine,
  args as parseArgs,
  nodeRelay,
  perlAnyEvent,
  preamble,
  socat,
  writeResult,
  type Relay,
  stopAll,
  runMain,
} from './lib/harness.js';
import { printRows, ratio, rounds, type Variant } from './lib/transfer.js';

const A = parseArgs({ rounds: 5, gb: 2, out: 'bench/results/relay-throughput.json' }, 'relay-throughput.ts [--rounds R] [--gb G] [--out FILE]');
const BYTES = Math.round((A.gb * 1e9) / MiB) * MiB;

async function main(): Promise<void> {
  const notes: string[] = [];
  const client = await Peer.start();
  const backend = await fastSink(client);
  const relays: Relay[] = [];
  const base = { direction: 'up' as const, backend, client, bytes: BYTES, preamble: preamble.none };
  const variants: Variant[] = [];

  const ts = await nodeRelay('ae-proxy (spice_proxy)', 'bench/lib/relays/proxy-server.ts', { backpressure: true });
  relays.push(ts);
  variants.push({ ...base, name: ts.name, relay: ts, port: ts.port, preamble: preamble.connect(backend.port) });

  let perlModel: string | undefined;
  const perl = perlAnyEvent();
  if (perl.note) notes.push(perl.note);
  if (perl.ok) {
    const r = await externalRelay('perl AnyEvent::Handle', 'perl', ['bench/perl/relay.pl', String(backend.port)]);
    perlModel = r.detail;
    relays.push(r);
    variants.push({ ...base, name: r.name, relay: r, port: r.port });
  }

  const pipe = await nodeRelay('node stream.pipeline', 'bench/lib/relays/pipeline.ts', { target: backend.port });
  relays.push(pipe);
  variants.push({ ...base, name: pipe.name, relay: pipe, port: pipe.port });

  const sc = socat();
  if (sc.note) notes.push(sc.note);
  if (sc.ok) {
    const port = await freePort();
    const r = await externalRelay('socat -b 131072', 'socat', ['-b', '131072', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${backend.port}`], port);
    relays.push(r);
    variants.push({ ...base, name: r.name, relay: r, port: r.port });
  }

  variants.push({ ...base, name: 'direct (no relay)', relay: undefined, port: backend.port });

  for (const n of notes) console.log(n);
  const results = await rounds(variants, A.rounds, 256 * MiB, 'relay-throughput');
  const m = machine();
  console.log(`\nraw relay, client → backend, ${(BYTES / 1e9).toFixed(2)} GB per run, ${A.rounds} interleaved rounds; ${m.cpu} × ${m.cores}, node ${m.node}`);
  if (perlModel) console.log(`perl loop: ${perlModel}; sink: ${backend.kind}`);
  printRows(results);
  const tsResult = results[0];
  const comparisons = results.slice(1).map((r) => ({ against: r.name, ratio: ratio(tsResult, r) }));
  console.log(`\n  ${tsResult.name} throughput ÷ each, per round:`);
  for (const c of comparisons) console.log(`    ÷ ${c.against.padEnd(26)} ${fmtSpread(c.ratio, 2, 'x')}`);
  const perlResult = results.find((r) => r.name.startsWith('perl'));
  if (perlResult?.peakRss && tsResult.peakRss && perlResult.idleRss !== undefined && tsResult.idleRss !== undefined) {
    console.log(
      `  memory, ${tsResult.name} ÷ perl: peak RSS ${(tsResult.peakRss / perlResult.peakRss).toFixed(2)}x, ` +
        `growth over idle ${((tsResult.peakRss - tsResult.idleRss) / (perlResult.peakRss - perlResult.idleRss)).toFixed(2)}x, ` +
        `peak anonymous memory ${((tsResult.peakAnon ?? 0) / (perlResult.peakAnon || 1)).toFixed(2)}x`,
    );
  }

  writeResult(A.out, {
    bench: 'relay-throughput',
    ...m,
    params: { rounds: A.rounds, bytesPerRun: BYTES, direction: 'client to backend', sink: backend.kind },
    perlModel,
    notes,
    results: results.map(({ samples, ...rest }) => ({ ...rest, samples })),
    comparisons,
  });
  await stopAll(...relays, backend, client);
}

runMain(main);
