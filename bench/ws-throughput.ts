/**
 * What does WebSocket framing cost the relay, and how does websocket_proxy compare with
 * pveproxy's own? Both directions on loopback:
 * - `up`: the client sends masked binary frames of 128 KiB (each with its own non-zero key)
 *   as fast as it can; the proxy unmasks them and writes the payloads to the backend, a sink;
 * - `down`: the backend writes raw bytes as fast as it can; the proxy cuts them into binary
 *   frames of at most 128 KiB for the client, a sink.
 * Variants, each a relay process of its own: `ws` this project's websocket_proxy and `raw`
 * its spice_proxy, both through the HTTP front; `perl ws` pveproxy's websocket_proxy loop
 * with the #7483 patch on AnyEvent::Handle (bench/perl/ws-relay.pl: the original $hdlreader,
 * unmasking by XOR with the key repeated to the payload length) and `perl raw`
 * (bench/perl/relay.pl). Interleaved rounds; ratios per round.
 *
 *   npx tsx bench/ws-throughput.ts [--rounds 5] [--gb 1] [--out bench/results/ws-throughput.json]
 */
import {
  MiB,
  Peer,
  externalRelay,
  fastSink,
  fmtSpread,
  machine,
  args as parseArgs,
  nodeRelay,
  peerBackend,
  perlAnyEvent,
  preamble,
  writeResult,
  type Backend,
  type Relay,
  stopAll,
  runMain,
} from './lib/harness.js';
import { printRows, ratio, rounds, type Variant, type VariantResult } from './lib/transfer.js';

const A = parseArgs({ rounds: 5, gb: 1, out: 'bench/results/ws-throughput.json' }, 'ws-throughput.ts [--rounds R] [--gb G] [--out FILE]');
// Whole 128 KiB frames.
const BYTES = Math.round((A.gb * 1e9) / MiB) * MiB;

async function main(): Promise<void> {
  const notes: string[] = [];
  const perl = perlAnyEvent();
  if (perl.note) notes.push(perl.note);
  const client = await Peer.start();
  const sources = await Peer.start();
  const relays: Relay[] = [];
  const backends: Backend[] = [];
  const sections: Array<{ direction: 'up' | 'down'; results: VariantResult[] }> = [];

  for (const direction of ['up', 'down'] as const) {
    const backend = direction === 'up' ? await fastSink(sources) : await peerBackend(sources, 'send');
    backends.push(backend);
    const base = { direction, backend, client, bytes: BYTES };
    const ws = await nodeRelay('ae-proxy websocket_proxy', 'bench/lib/relays/proxy-server.ts', { backpressure: true });
    const raw = await nodeRelay('ae-proxy spice_proxy (raw)', 'bench/lib/relays/proxy-server.ts', { backpressure: true });
    relays.push(ws, raw);
    const wsPath = `/websocket?port=${backend.port}`;
    const variants: Variant[] = [
      { ...base, name: ws.name, relay: ws, port: ws.port, preamble: preamble.websocket(wsPath), frames: 'ws' },
      { ...base, name: raw.name, relay: raw, port: raw.port, preamble: preamble.connect(backend.port), frames: 'raw' },
    ];
    if (perl.ok) {
      const pws = await externalRelay('perl websocket_proxy', 'perl', ['bench/perl/ws-relay.pl', String(backend.port)]);
      const praw = await externalRelay('perl spice relay (raw)', 'perl', ['bench/perl/relay.pl', String(backend.port)]);
      relays.push(pws, praw);
      variants.push(
        { ...base, name: pws.name, relay: pws, port: pws.port, preamble: preamble.websocket(wsPath), frames: 'ws' },
        { ...base, name: praw.name, relay: praw, port: praw.port, preamble: preamble.none, frames: 'raw' },
      );
    }
    sections.push({ direction, results: await rounds(variants, A.rounds, 128 * MiB, `ws-throughput ${direction}`) });
  }

  const m = machine();
  for (const n of notes) console.log(n);
  const comparisons: Array<{ direction: string; what: string; ratio: ReturnType<typeof ratio> }> = [];
  for (const { direction, results } of sections) {
    const label = direction === 'up' ? 'client → backend, masked 128 KiB frames' : 'backend → client, framed to ≤ 128 KiB';
    console.log(`\nwebsocket relay, ${label}, ${(BYTES / 1e9).toFixed(2)} GB of payload per run, ${A.rounds} interleaved rounds; ${m.cpu} × ${m.cores}, node ${m.node}`);
    printRows(results);
    const [ws, raw, pws, praw] = results;
    const add = (what: string, a: VariantResult, b: VariantResult) => {
      const r = ratio(a, b);
      comparisons.push({ direction, what, ratio: r });
      console.log(`    ${what.padEnd(44)} ${fmtSpread(r, 2, 'x')}`);
    };
    add('websocket_proxy ÷ its raw relay', ws, raw);
    if (pws) {
      add('websocket_proxy ÷ perl websocket_proxy', ws, pws);
      add('perl websocket_proxy ÷ perl raw relay', pws, praw);
    }
  }

  writeResult(A.out, {
    bench: 'ws-throughput',
    ...m,
    params: { rounds: A.rounds, payloadBytesPerRun: BYTES, framePayload: 128 * 1024 },
    notes,
    sections,
    comparisons,
  });
  await stopAll(...relays, ...backends, client, sources);
}

runMain(main);
