/**
 * Where does the relay's time go? Runs the raw relay (spice_proxy through the HTTP front) or
 * the WebSocket relay under `node --cpu-prof` for a few transfers on loopback, then prints
 * the self time per function and per source file, from the .cpuprofile.
 *
 *   npx tsx bench/profile-relay.ts [--mode spice|ws-up|ws-down] [--runs 3] [--gb 1] [--keep DIR]
 *
 * The relay is the bundled proxy-server.ts (as in the benchmarks); functions are attributed
 * to their source file through the `// lib/...` markers esbuild leaves in the bundle.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { MiB, Peer, args as parseArgs, bundle, cleanupBundles, fastSink, nodeRelay, peerBackend, preamble, runMain } from './lib/harness.js';
import { transfer, type Variant } from './lib/transfer.js';

const A = parseArgs({ mode: 'spice', runs: 3, gb: 1, keep: '' }, 'profile-relay.ts [--mode spice|ws-up|ws-down] [--runs N] [--gb G] [--keep DIR]');
const BYTES = Math.round((A.gb * 1e9) / MiB) * MiB;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Maps a bundle line to the source file esbuild put there (its `// path` markers). */
function sourceMap(bundlePath: string): (line: number) => string {
  const lines = readFileSync(bundlePath, 'utf8').split('\n');
  const marks: Array<[number, string]> = [];
  lines.forEach((text, i) => {
    const m = /^\/\/ ((?:lib|bench|node_modules)\/\S+)$/.exec(text);
    if (m) marks.push([i, m[1]]);
  });
  return (line) => {
    let file = '(bundle)';
    for (const [at, name] of marks) {
      if (at > line) break;
      file = name;
    }
    return file;
  };
}

async function main(): Promise<void> {
  const dir = A.keep || mkdtempSync(join(os.tmpdir(), 'ae-prof-'));
  const entry = 'bench/lib/relays/proxy-server.ts';
  const bundled = await bundle(entry);
  const relay = await nodeRelay('ae-proxy', entry, { backpressure: true }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const a = await Peer.start();
  const b = await Peer.start();
  let v: Variant;
  if (A.mode === 'spice' || A.mode === 'ws-up') {
    const backend = await fastSink(a);
    const pre = A.mode === 'spice' ? preamble.connect(backend.port) : preamble.websocket(`/websocket?port=${backend.port}`);
    v = { name: A.mode, relay, direction: 'up', port: relay.port, preamble: pre, frames: A.mode === 'spice' ? 'raw' : 'ws', backend, client: b, bytes: BYTES };
  } else {
    const backend = await peerBackend(a, 'send');
    v = { name: A.mode, relay, direction: 'down', port: relay.port, preamble: preamble.websocket(`/websocket?port=${backend.port}`), backend, client: b, bytes: BYTES };
  }
  for (let i = 0; i < A.runs; i++) {
    const s = await transfer(v);
    console.log(`run ${i + 1}: ${s.gbps.toFixed(2)} GB/s, relay CPU ${((s.cpu!.user + s.cpu!.sys) / (BYTES / 1e9)).toFixed(2)} s/GB`);
  }
  await relay.stop();
  await a.stop();
  await b.stop();

  const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().pop();
  if (!file) throw new Error(`no profile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number };
  const where = sourceMap(bundled);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    total += hits;
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url.endsWith('.mjs') ? where(lineNumber) : url ? url.replace(/^node:/, 'node:') : functionName.startsWith('(') ? functionName : '(native)';
    const fn = `${functionName || '(anonymous)'}  ${file}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
    byFile.set(file, (byFile.get(file) ?? 0) + hits);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((x, y) => y[1] - x[1]).slice(0, n).map(([k, v]) => `  ${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  console.log(`\nprofile ${join(dir, file)}: ${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s (idle included)`);
  console.log('self time by function:');
  console.log(top(byFunction, 30).join('\n'));
  console.log('self time by file:');
  console.log(top(byFile, 15).join('\n'));
  cleanupBundles();
}

runMain(main);
