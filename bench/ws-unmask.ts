/**
 * How much faster is lib/proxy/ws/unmask.ts than the plain byte loop, on the payloads the
 * websocket proxy sees (frames of up to 128 KiB)?
 *
 * Variants, each XORing the same payload with the same key:
 * - `bytes`     the byte loop (`buf[i] ^= mask[i & 3]`): the baseline;
 * - `words`     unmask(): in place, 64-bit words unrolled by eight from 256 bytes on (32-bit
 *               words below), unaligned head and tail bytewise;
 * - `copy`      unmaskCopy(): into a fresh Buffer (the parser's default), allocation included;
 * - `bigint64`  the same 64-bit loop unrolled by one: no faster than 32-bit words, which is
 *               why unmask() first used those; the unrolling is what makes 64-bit words pay.
 *               (Either 64-bit loop is slow until V8 optimises it: see the first-call times.)
 *
 * The variants run interleaved, in every round, in one process; each round's MB/s are
 * divided by that round's baseline, and the table gives the median ratio with its min–max.
 * No timing is asserted anywhere: this prints, and writes JSON.
 *
 *   npx tsx bench/ws-unmask.ts [--rounds 15] [--ms 40] [--out bench/results/ws-unmask.json]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { unmask, unmaskBytewise, unmaskCopy } from '../lib/proxy/ws/unmask.js';

// The parameter matrix.
const SIZES = [128 * 1024, 4096, 125];
/** byteOffset % 4 of the payload: aligned, and off by one (the head/tail path). */
const ALIGNMENTS = [0, 1];
const KEY = Buffer.from('37fa213d', 'hex');

interface Args {
  rounds: number;
  ms: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { rounds: 15, ms: 40, out: 'bench/results/ws-unmask.json' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[++i];
    if (!(key in args) || value === undefined) throw new Error(`usage: ws-unmask.ts [--rounds R] [--ms MS] [--out FILE]; got ${argv[i - 1]}`);
    (args as unknown as Record<string, string | number>)[key] = key === 'out' ? value : Number(value);
  }
  return args;
}

const r8 = new Uint8Array(8);
const r8word = new BigUint64Array(r8.buffer);

/** The 64-bit variant: same head/words/tail shape as unmask(), with BigInt words. */
function unmaskBigInt64(buf: Uint8Array, mask: Uint8Array): void {
  const len = buf.length;
  let i = 0;
  if (len >= 16) {
    const head = (8 - (buf.byteOffset & 7)) & 7;
    for (; i < head; i++) buf[i] ^= mask[i & 3];
    const words = (len - head) >>> 3;
    for (let j = 0; j < 8; j++) r8[j] = mask[(head + j) & 3];
    const key = r8word[0];
    const view = new BigUint64Array(buf.buffer, buf.byteOffset + head, words);
    for (let w = 0; w < words; w++) view[w] ^= key;
    i = head + words * 8;
  }
  for (; i < len; i++) buf[i] ^= mask[i & 3];
}

type Variant = { name: string; run: (buf: Buffer) => unknown };
const VARIANTS: Variant[] = [
  { name: 'bytes', run: (b) => unmaskBytewise(b, KEY) },
  { name: 'words', run: (b) => unmask(b, KEY) },
  { name: 'copy', run: (b) => unmaskCopy(b, KEY) },
  { name: 'bigint64', run: (b) => unmaskBigInt64(b, KEY) },
];
const BASELINE = 'bytes';

/** A payload of `size` bytes at byteOffset % 8 === `align`. */
function payload(size: number, align: number): Buffer {
  const backing = Buffer.allocUnsafeSlow(size + 8);
  const view = backing.subarray(align, align + size);
  for (let i = 0; i < size; i++) view[i] = (i * 131 + 7) & 0xff;
  return view;
}

/** Every variant must agree with the baseline before anything is timed. */
function verify(): void {
  for (const size of SIZES) {
    for (const align of ALIGNMENTS) {
      const expected = Buffer.from(payload(size, align));
      unmaskBytewise(expected, KEY);
      for (const v of VARIANTS) {
        const buf = payload(size, align);
        const out = v.run(buf);
        const got = Buffer.isBuffer(out) ? out : buf;
        if (!got.equals(expected)) throw new Error(`${v.name} disagrees with ${BASELINE} at size ${size}, align ${align}`);
      }
    }
  }
}

/** MB/s of `run` on `buf` for about `ms` milliseconds. */
function measure(run: (buf: Buffer) => unknown, buf: Buffer, ms: number): number {
  const budget = BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let bytes = 0;
  let elapsed = 0n;
  do {
    for (let k = 0; k < 8; k++) run(buf);
    bytes += 8 * buf.length;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return bytes / (Number(elapsed) / 1e3); // bytes per microsecond = MB/s
}

/** Microseconds of each of the first calls on a 128 KiB payload, straight after start-up. */
function firstCalls(): Record<string, number[]> {
  // Run first thing, before anything has warmed the code up: what a proxy's first
  // frames cost. (verify() runs right after, before any figure is kept.)
  const out: Record<string, number[]> = {};
  for (const v of VARIANTS) {
    const buf = payload(128 * 1024, 0);
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t = process.hrtime.bigint();
      v.run(buf);
      times.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
    out[v.name] = times;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function gitSha(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib/proxy/ws/unmask.ts', 'bench/ws-unmask.ts'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const early = firstCalls();
  verify();

  const cases = SIZES.flatMap((size) => ALIGNMENTS.map((align) => ({ size, align, buf: payload(size, align) })));
  // mbps[case][variant] = one MB/s figure per round
  const mbps = cases.map(() => VARIANTS.map(() => [] as number[]));
  // One warm-up round, not recorded, then the rounds; inside a round every case runs
  // every variant, so drift in machine load hits all of them alike.
  for (let round = -1; round < args.rounds; round++) {
    cases.forEach((c, ci) => {
      VARIANTS.forEach((v, vi) => {
        const rate = measure(v.run, c.buf, args.ms);
        if (round >= 0) mbps[ci][vi].push(rate);
      });
    });
  }

  const base = VARIANTS.findIndex((v) => v.name === BASELINE);
  const rows = cases.flatMap((c, ci) =>
    VARIANTS.map((v, vi) => {
      const ratios = mbps[ci][vi].map((r, round) => r / mbps[ci][base][round]);
      return {
        size: c.size,
        align: c.align,
        variant: v.name,
        mbps: { median: median(mbps[ci][vi]), min: Math.min(...mbps[ci][vi]), max: Math.max(...mbps[ci][vi]) },
        ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
      };
    }),
  );

  const fmt = (x: number, digits = 0) => x.toFixed(digits);
  console.log(`ws unmask: ${args.rounds} interleaved rounds of ${args.ms} ms per variant; ratio = MB/s / ${BASELINE} MB/s in the same round`);
  console.log(`${'size'.padStart(7)} ${'align'.padStart(5)}  ${'variant'.padEnd(9)} ${'MB/s median'.padStart(11)} ${'(min–max)'.padStart(15)}  ${'ratio'.padStart(6)} ${'(min–max)'.padStart(13)}`);
  for (const r of rows) {
    console.log(
      `${String(r.size).padStart(7)} ${String(r.align).padStart(5)}  ${r.variant.padEnd(9)} ${fmt(r.mbps.median).padStart(11)} ${`(${fmt(r.mbps.min)}–${fmt(r.mbps.max)})`.padStart(15)}  ${`${fmt(r.ratio.median, 2)}x`.padStart(6)} ${`(${fmt(r.ratio.min, 2)}–${fmt(r.ratio.max, 2)})`.padStart(13)}`,
    );
  }
  console.log('first calls on 128 KiB right after start-up, µs each:');
  for (const [name, times] of Object.entries(early)) console.log(`  ${name.padEnd(9)} ${times.map((t) => fmt(t)).join(' ')}`);

  const result = {
    bench: 'ws-unmask',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    git: gitSha(),
    params: { ...args, sizes: SIZES, alignments: ALIGNMENTS, baseline: BASELINE },
    rows,
    firstCallsMicros: early,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${args.out}`);
}

main();
