/**
 * `npm run bench`: the loopback benchmarks of issue #6, one after the other, then one
 * summary against the issue's targets. Each script writes its own JSON under
 * bench/results/ and prints its own table; every figure there is measured side by side
 * with its baseline in interleaved rounds. About 2½ minutes on a 2-core machine.
 *
 *   npm run bench                 # everything
 *   npm run bench -- --quick      # fewer rounds and bytes (about 1.5 minutes), to try it out
 *   npm run bench -- --only relay,ws
 *
 * The scripts: relay-throughput.ts (raw relay against Perl, stream.pipeline, socat, a
 * direct connection), ws-throughput.ts (websocket_proxy against the raw relay and Perl's),
 * stream-throughput.ts (response_stream against createReadStream().pipe()),
 * scale-stalled.ts (1,000 stalled sessions, bounded against unbounded). Perl's AnyEvent and
 * socat are installed with apt-get when missing and possible, else skipped with a line
 * saying so. Not run here: ab-relay.ts (a change against a git revision), profile-relay.ts
 * (a CPU profile), ws-unmask.ts, sim-schedules.ts, ping-rtt.ts, read-size.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, fmtSpread, perlAnyEvent, socat, type Spread } from './lib/harness.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set(argv[onlyAt + 1]?.split(',')) : undefined;

const RESULTS = 'bench/results';
const steps = [
  { key: 'relay', script: 'bench/relay-throughput.ts', args: quick ? ['--rounds', '3', '--gb', '1'] : ['--rounds', '5', '--gb', '2'], out: 'relay-throughput.json' },
  { key: 'ws', script: 'bench/ws-throughput.ts', args: quick ? ['--rounds', '3', '--gb', '0.5'] : ['--rounds', '5', '--gb', '1'], out: 'ws-throughput.json' },
  { key: 'stream', script: 'bench/stream-throughput.ts', args: quick ? ['--rounds', '3', '--mb', '512'] : ['--rounds', '5', '--mb', '1024'], out: 'stream-throughput.json' },
  { key: 'scale', script: 'bench/scale-stalled.ts', args: quick ? ['--rounds', '1', '--seconds', '3'] : ['--rounds', '2', '--seconds', '5'], out: 'scale-stalled.json' },
];

function main(): void {
  const started = Date.now();
  // Ask once, up front, so that a missing tool is installed (or reported) before any timing.
  for (const t of [perlAnyEvent(), socat()]) if (t.note) console.log(t.note);
  for (const step of steps) {
    if (only && !only.has(step.key)) continue;
    console.log(`\n=== ${step.script} ${step.args.join(' ')}`);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', step.script, ...step.args, '--out', `${RESULTS}/${step.out}`], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`${step.script} failed (exit ${r.status ?? r.signal})`);
      process.exit(1);
    }
    console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  summary();
  console.log(`\nall done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** The issue's targets, from the JSON the scripts just wrote. */
function summary(): void {
  const load = (file: string) => {
    const path = join(REPO, RESULTS, file);
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  };
  const lines: string[] = [];
  const target = (what: string, r: Spread | undefined, goal: number) => {
    if (!r) return lines.push(`  ${what.padEnd(52)} not measured`);
    // Judged on the unrounded median; shown to three places when the rounding would hide it.
    const close = Math.abs(r.median - goal) < 0.005 ? ` (median ${r.median.toFixed(3)})` : '';
    lines.push(`  ${what.padEnd(52)} ${fmtSpread(r, 2, 'x').padEnd(22)} target ≥ ${goal.toFixed(1)}x: ${r.median >= goal ? 'met' : 'NOT met'}${close}`);
  };
  const relay = load('relay-throughput.json');
  if (relay) {
    const c = (name: string) => relay.comparisons.find((x: { against: string }) => x.against.startsWith(name))?.ratio as Spread | undefined;
    target('raw relay ÷ Perl relay (throughput)', c('perl'), 1.0);
    target('raw relay ÷ stream.pipeline (throughput)', c('node stream.pipeline'), 1.2);
    const ts = relay.results[0];
    const perl = relay.results.find((x: { name: string }) => x.name.startsWith('perl'));
    if (perl) {
      lines.push(
        `  ${'raw relay memory ÷ Perl (peak RSS; growth; anonymous)'.padEnd(52)} ${(ts.peakRss / perl.peakRss).toFixed(2)}x; ` +
          `${((ts.peakRss - ts.idleRss) / (perl.peakRss - perl.idleRss)).toFixed(2)}x; ${perl.peakAnon ? (ts.peakAnon / perl.peakAnon).toFixed(2) : '-'}x   ` +
          `target ≤ 2x: ${ts.peakRss <= 2 * perl.peakRss ? 'met' : 'NOT met'}`,
      );
    }
  }
  const ws = load('ws-throughput.json');
  if (ws) {
    for (const direction of ['up', 'down']) {
      const r = ws.comparisons.find((x: { direction: string; what: string }) => x.direction === direction && x.what.includes('perl websocket'))?.ratio;
      target(`websocket relay ÷ Perl's, ${direction === 'up' ? 'client → backend' : 'backend → client'}`, r, 1.0);
    }
  }
  const stream = load('stream-throughput.json');
  if (stream) lines.push(`  ${'response_stream ÷ createReadStream().pipe()'.padEnd(52)} ${fmtSpread(stream.comparisons[0].ratio, 2, 'x')}`);
  const scale = load('scale-stalled.json');
  if (scale) {
    for (const row of scale.rows) lines.push(`  ${`${scale.params.sessions} stalled sessions, ${row.relay}`.padEnd(52)} ${(row.rss / 1e6).toFixed(0)} MB RSS, ${(row.perSession / 1e3).toFixed(0)} KB per session`);
  }
  console.log('\n=== summary (medians of per-round ratios, min–max)');
  console.log(lines.join('\n'));
}

main();
