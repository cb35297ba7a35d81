/**
 * Seeds, run counts, replay and reporting for the property suite (docs/testing.md).
 *
 * Environment (set directly, or through `npm run test:property -- --seed S --path P`, see run.ts):
 * - `FC_SEED`: the seed of every property (default: each property's own fixed seed, which is
 *   in its `describe` title). The same seed gives the same runs, always.
 * - `FC_PATH`: replay one counterexample: fast-check runs only that path (and shrinks no
 *   further). Use it with `-t <property id>`, since a path means nothing to other properties.
 * - `FC_REPLAY`: with FC_SEED and FC_PATH, the `replayPath` of a model-based (fc.commands)
 *   counterexample, printed in it as `/*replayPath="…"*\/`.
 * - `FC_RUNS`: a multiplier of every property's run count (default 1; `FC_RUNS=100` is the
 *   nightly size). Test timeouts scale with it.
 */
import fc from 'fast-check';

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got '${raw}'`);
  return value;
}

/** `FC_RUNS`: how many times the default run counts. */
export const RUNS_SCALE = envNumber('FC_RUNS') ?? 1;
if (!(RUNS_SCALE > 0)) throw new Error(`FC_RUNS must be > 0, got ${RUNS_SCALE}`);
const SEED_OVERRIDE = envNumber('FC_SEED');
const REPLAY_PATH = process.env.FC_PATH || undefined;
/** `FC_REPLAY`: the replayPath of a shrunk `fc.commands` counterexample (printed with it). */
export const COMMANDS_REPLAY_PATH = process.env.FC_REPLAY || undefined;

/** The seed a property runs with: `FC_SEED` when set, else its own fixed default. */
export function seedOf(defaultSeed: number): number {
  return SEED_OVERRIDE ?? defaultSeed;
}

/** A property's run count: its default times `FC_RUNS` (at least 1). */
export function runsOf(defaultRuns: number): number {
  return Math.max(1, Math.round(defaultRuns * RUNS_SCALE));
}

/** A vitest timeout for a property whose default-sized run takes well under `ms`. */
export function timeoutOf(ms: number): number {
  return Math.round(ms * Math.max(1, RUNS_SCALE));
}

/** Counters a property's predicate bumps, printed with the run count (evidence that the interesting cases were reached). */
export type Tally = Record<string, number>;

export function bump(tally: Tally, key: string, by = 1): void {
  tally[key] = (tally[key] ?? 0) + by;
}

export interface CheckOptions<Ts> {
  /** The id used in the `it` title and in the replay command's `-t` (e.g. `spice/differential`). */
  id: string;
  seed: number;
  numRuns: number;
  /** Counters to print after the run. */
  tally?: Tally;
  /** Extra fast-check parameters (e.g. `endOnFailure`). */
  params?: fc.Parameters<Ts>;
}

/** The command that replays a failure of `id` at `seed`/`path`. */
export function replayCommand(id: string, seed: number, path: string, counterexample?: unknown): string {
  const replay = counterexample === undefined ? null : /replayPath="([^"]*)"/.exec(fc.stringify(counterexample));
  return `npm run test:property -- --seed ${seed} --path ${path}${replay ? ` --replay '${replay[1]}'` : ''} -t '${id}'`;
}

/**
 * Runs `property` like `fc.assert`, but always prints what ran (runs, schedules, wall time,
 * tallies) and, on failure, the seed, the path and the exact command that replays it.
 * Returns the run details.
 */
export function checkProperty<Ts>(property: fc.IProperty<Ts>, options: CheckOptions<Ts>): fc.RunDetails<Ts> {
  const started = performance.now();
  const details = fc.check(property, {
    seed: options.seed,
    numRuns: options.numRuns,
    ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}),
    ...options.params,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  const tally = options.tally && Object.keys(options.tally).length ? ` [${formatTally(options.tally)}]` : '';
  const mode = REPLAY_PATH ? `replayed path ${REPLAY_PATH}` : `${details.numRuns} runs`;
  console.log(`[property] ${options.id}: ${mode} in ${seconds} s, seed ${options.seed}${tally}`);
  if (details.failed) {
    const path = details.counterexamplePath ?? '';
    const message =
      `Property ${options.id} failed after ${details.numRuns} run(s) and ${details.numShrinks} shrink(s)\n` +
      `  seed: ${details.seed}\n  path: ${path}\n` +
      `  replay: ${replayCommand(options.id, details.seed, path, details.counterexample ?? undefined)}\n` +
      `  error: ${errorText(details.errorInstance)}\n\n` +
      fc.defaultReportMessage(details);
    console.error(message);
    throw new Error(message);
  }
  return details;
}

/**
 * For a property that must fail (a known bug, or the 7.17 mode): runs it, expects fast-check
 * to find a counterexample whose error matches `expected`, prints it (seed, path, shrunk
 * value, replay command) and returns the details. Throws if the property held or failed
 * for another reason.
 */
export function expectCounterexample<Ts>(property: fc.IProperty<Ts>, options: CheckOptions<Ts>, expected: RegExp): fc.RunDetails<Ts> {
  const started = performance.now();
  const details = fc.check(property, {
    seed: options.seed,
    numRuns: options.numRuns,
    ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}),
    ...options.params,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  if (!details.failed) {
    throw new Error(`Property ${options.id} was expected to fail, but held for ${details.numRuns} runs (seed ${options.seed}); was the bug fixed?`);
  }
  const error = errorText(details.errorInstance);
  const path = details.counterexamplePath ?? '';
  console.log(
    `[property] ${options.id}: counterexample found as expected after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s), in ${seconds} s\n` +
      `  seed: ${details.seed}\n  path: ${path}\n  replay: ${replayCommand(options.id, details.seed, path, details.counterexample ?? undefined)}\n` +
      `  counterexample: ${fc.stringify(details.counterexample)}\n  error: ${error}`,
  );
  if (!expected.test(error)) throw new Error(`Property ${options.id} failed, but not as expected (${expected}): ${error}`);
  return details;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function formatTally(tally: Tally): string {
  return Object.entries(tally)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
