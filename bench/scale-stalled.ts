/**
 * What do 1,000 concurrent sessions cost the proxy when their readers stall? Each session
 * is a CONNECT (spice_proxy) whose client sends `--mb` MiB as fast as it can (then keeps
 * the connection open) to a backend that accepts and never reads. After `--seconds`, the relay process's RSS (total, and per
 * session above its idle RSS) and the proxy's wbuf totals, for:
 * - `bounded`: the #7483 patch (pause the client while the backend's wbuf is over 640 KiB);
 * - `unbounded`: the code before it (no pause; wbuf_max checked the 7.17 way, never once a
 *   write is pending), which buffers whatever the clients send;
 * - `perl bounded`: bench/perl/relay.pl on AnyEvent::Handle, with the patch.
 * Every round starts fresh relay processes; the variants run interleaved.
 *
 *   npx tsx bench/scale-stalled.ts [--sessions 1000] [--mb 4] [--seconds 5] [--rounds 2]
 *                                  [--out bench/results/scale-stalled.json]
 */
import {
  MiB,
  Peer,
  cleanupBundles,
  externalRelay,
  machine,
  median,
  args as parseArgs,
  nodeRelay,
  perlAnyEvent,
  preamble,
  procMem,
  sleep,
  writeResult,
  type Relay,
  runMain,
} from './lib/harness.js';

const A = parseArgs(
  { sessions: 1000, mb: 4, seconds: 5, rounds: 2, out: 'bench/results/scale-stalled.json' },
  'scale-stalled.ts [--sessions N] [--mb MIB] [--seconds S] [--rounds R] [--out FILE]',
);

interface Sample {
  idleRss: number;
  rss: number;
  perSession: number;
  /** Node relays: what process.memoryUsage() and the proxy's metrics say at the same moment. */
  node?: { heapUsed: number; external: number; arrayBuffers: number; wbuf: number; sessionsOpen: number };
}

type Kind = 'bounded' | 'unbounded' | 'perl bounded';

async function startRelay(kind: Kind, backendPort: number): Promise<Relay> {
  if (kind === 'perl bounded') return await externalRelay(kind, 'perl', ['bench/perl/relay.pl', String(backendPort)]);
  return await nodeRelay(kind, 'bench/lib/relays/proxy-server.ts', { backpressure: kind === 'bounded' });
}

async function once(kind: Kind, client: Peer, stall: Peer): Promise<Sample> {
  const backend = await stall.listen('stall');
  const relay = await startRelay(kind, backend.port);
  await sleep(200);
  const idleRss = procMem(relay.pid).rss;
  const id = client.id();
  const connected = client.next('connected', id, 60_000);
  client.send({
    cmd: 'connect',
    id,
    port: relay.port,
    role: 'send',
    sessions: A.sessions,
    bytes: A.mb * MiB,
    hold: true,
    preamble: kind === 'perl bounded' ? preamble.none : preamble.connect(backend.port),
  });
  await connected;
  await sleep(A.seconds * 1000);
  const rss = procMem(relay.pid).rss;
  let node: Sample['node'];
  if (relay.usage) {
    const u = await relay.usage();
    const m = u.memory as NodeJS.MemoryUsage;
    node = { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, wbuf: u.wbuf as number, sessionsOpen: u.sessionsOpen as number };
  }
  client.send({ cmd: 'close', id });
  stall.send({ cmd: 'close', id: backend.id });
  await relay.stop();
  return { idleRss, rss, perSession: (rss - idleRss) / A.sessions, node };
}

async function main(): Promise<void> {
  const notes: string[] = [];
  const perl = perlAnyEvent();
  if (perl.note) notes.push(perl.note);
  const kinds: Kind[] = ['bounded', 'unbounded', ...(perl.ok ? (['perl bounded'] as const) : [])];
  const client = await Peer.start();
  const stall = await Peer.start();
  const samples = new Map<Kind, Sample[]>(kinds.map((k) => [k, []]));
  for (let r = 0; r < A.rounds; r++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(k + r) % kinds.length];
      samples.get(kind)!.push(await once(kind, client, stall));
      process.stderr.write(`\rscale-stalled: round ${r + 1}/${A.rounds}, ${kind}          `);
    }
  }
  process.stderr.write('\n');
  const m = machine();
  for (const n of notes) console.log(n);
  console.log(
    `\n${A.sessions} sessions, readers stalled, each client sending ${A.mb} MiB; after ${A.seconds} s; medians of ${A.rounds} rounds; ${m.cpu} × ${m.cores}, node ${m.node}`,
  );
  console.log(
    `  ${'relay'.padEnd(14)} ${'RSS MB'.padStart(8)} ${'idle MB'.padStart(8)} ${'per session KB'.padStart(15)} ${'wbuf total MB'.padStart(14)} ${'JS heap MB'.padStart(11)} ${'Buffers MB'.padStart(11)} ${'open'.padStart(6)}`,
  );
  const rows = kinds.map((kind) => {
    const s = samples.get(kind)!;
    const med = (f: (x: Sample) => number) => median(s.map(f));
    const row = {
      relay: kind,
      rss: med((x) => x.rss),
      idleRss: med((x) => x.idleRss),
      perSession: med((x) => x.perSession),
      wbuf: s[0].node ? med((x) => x.node!.wbuf) : undefined,
      heapUsed: s[0].node ? med((x) => x.node!.heapUsed) : undefined,
      arrayBuffers: s[0].node ? med((x) => x.node!.arrayBuffers) : undefined,
      sessionsOpen: s[0].node ? med((x) => x.node!.sessionsOpen) : undefined,
      samples: s,
    };
    const mbs = (x: number | undefined) => (x === undefined ? '-' : (x / 1e6).toFixed(0));
    console.log(
      `  ${kind.padEnd(14)} ${mbs(row.rss).padStart(8)} ${mbs(row.idleRss).padStart(8)} ${(row.perSession / 1e3).toFixed(0).padStart(15)} ${mbs(row.wbuf).padStart(14)} ${mbs(row.heapUsed).padStart(11)} ${mbs(row.arrayBuffers).padStart(11)} ${String(row.sessionsOpen ?? '-').padStart(6)}`,
    );
    return row;
  });
  writeResult(A.out, {
    bench: 'scale-stalled',
    ...m,
    params: { sessions: A.sessions, bytesPerSession: A.mb * MiB, seconds: A.seconds, rounds: A.rounds },
    notes,
    rows,
  });
  await client.stop();
  await stall.stop();
  cleanupBundles();
}

runMain(main);
