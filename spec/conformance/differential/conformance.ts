/*
 * `npm run conformance`: the differential suite against the live Perl module.
 *
 * 1. Every committed scenario runs with the real AnyEvent::Handle (driver.pl) and with the
 *    TypeScript Handle on each backend; the traces are compared (differences.ts applies the
 *    declared normalisations). A live Perl trace that differs from its golden is reported
 *    too (re-record with `npm run conformance:record`).
 * 2. Random scenarios (arbitrary.ts) run on both sides; the first difference is shrunk by
 *    fast-check and printed with both traces.
 *
 * Options (after `--`): --seed N (default 717), --runs N (default 300), --backends sim,node,node-direct,
 * --families a,b (committed scenarios of these families only), --no-random, --no-committed.
 * Environment: CONFORMANCE_SEED, CONFORMANCE_RUNS.
 * Exit status: 0 when everything is the same or declared, 1 on any difference, 2 without perl.
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { scenarioArb } from './arbitrary.js';
import { compareTraces, report } from './compare.js';
import { difference, knownFailure } from './differences.js';
import type { Scenario, Trace } from './format.js';
import { loadGoldens } from './goldens.js';
import { PerlDriver, perlAvailable, perlVersions } from './perl.js';
import { families } from './scenarios.js';
import { BACKENDS, closeNodeListener, runScenario, type BackendName } from './tsDriver.js';

const DEFAULT_SEED = 717;
const DEFAULT_RUNS = 300;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Tally {
  same: number;
  skipped: number;
  known: number;
  failures: string[];
}

async function compareOne(perl: Trace, sc: Scenario, backend: BackendName, tally: Tally): Promise<string | undefined> {
  const ts = await runScenario(sc, backend);
  const outcome = compareTraces(sc, backend, perl, ts);
  const known = knownFailure(sc, backend, sc.name === 'random');
  if (outcome.status === 'skipped') {
    tally.skipped++;
    return undefined;
  }
  if (known) {
    if (outcome.status === 'differ') {
      tally.known++;
      return undefined;
    }
    // A named known failure that matches is fixed; a pattern (random cases) need not always show.
    if (known.name === sc.name) {
      return `${sc.name} on ${backend} is listed in KNOWN_FAILURES but now matches Perl: remove it from differences.ts`;
    }
  }
  if (outcome.status === 'differ') return outcome.report;
  tally.same++;
  return undefined;
}

async function main(): Promise<number> {
  if (!perlAvailable()) {
    console.error('npm run conformance needs perl with AnyEvent::Handle, EV and JSON::PP (apt-get install libanyevent-perl libev-perl)');
    return 2;
  }
  const started = Date.now();
  const seed = Number(option('seed') ?? process.env.CONFORMANCE_SEED ?? DEFAULT_SEED);
  const runs = Number(option('runs') ?? process.env.CONFORMANCE_RUNS ?? DEFAULT_RUNS);
  const backends = (option('backends')?.split(',') ?? [...BACKENDS]) as BackendName[];
  const onlyFamilies = option('families')?.split(',');
  const v = perlVersions();
  console.log(`perl ${v.perl}, AnyEvent ${v.AnyEvent}, EV ${v.EV}, JSON::PP ${v['JSON::PP']}; TypeScript on ${backends.join(', ')}`);

  const perl = new PerlDriver();
  const tally: Tally = { same: 0, skipped: 0, known: 0, failures: [] };
  let committed = 0;
  let committedFailed = 0;
  let randomCases = 0;
  let randomFailed = false;
  try {
    // ------------------------------------------------------------ committed scenarios
    if (!process.argv.includes('--no-committed')) {
      const goldens = loadGoldens();
      for (const [family, scenarios] of families()) {
        if (onlyFamilies && !onlyFamilies.includes(family)) continue;
        const recorded = new Map(goldens.get(family)?.scenarios.map((e) => [e.scenario.name, e.trace]) ?? []);
        for (const sc of scenarios) {
          committed++;
          const failuresBefore = tally.failures.length;
          let live = await perl.run(sc);
          const golden = recorded.get(sc.name);
          // The Perl driver decides "idle" by watching its loop; on a loaded machine a slow
          // peer can look idle. A trace that differs from its golden is taken again, twice at
          // most, before it counts as a difference.
          for (let retry = 0; golden && retry < 2 && !isDeepStrictEqual(environmentFree(sc, golden), environmentFree(sc, live)); retry++) {
            live = await perl.run(sc);
          }
          if (!golden) tally.failures.push(`${sc.name}: no golden trace (npm run conformance:record)`);
          // What depends on the machine (a loopback buffer's size, say) is compared after the
          // scenario's declared normalisations, here as between Perl and TypeScript.
          else if (!isDeepStrictEqual(environmentFree(sc, golden), environmentFree(sc, live))) {
            tally.failures.push(`${sc.name}: live Perl differs from the golden (re-record?)\n${report(sc, 'sim', golden, live).replace('- perl, + typescript', '- golden, + live perl')}`);
          }
          for (const backend of backends) {
            const failure = await compareOne(live, sc, backend, tally);
            if (failure) tally.failures.push(failure);
          }
          if (tally.failures.length > failuresBefore) committedFailed++;
        }
      }
      console.log(
        `committed: ${committed} scenarios x ${backends.length} backends: ${tally.same} same, ${tally.skipped} deliberate skips, ` +
          `${tally.known} known failures, ${tally.failures.length} differences`,
      );
    }

    // ------------------------------------------------------------ random scenarios
    if (!process.argv.includes('--no-random')) {
      console.log(`random: ${runs} cases, seed ${seed} (rerun with: npm run conformance -- --no-committed --seed ${seed} --runs ${runs})`);
      const randomTally: Tally = { same: 0, skipped: 0, known: 0, failures: [] };
      const property = fc.asyncProperty(scenarioArb, async (sc) => {
        const trace = await perl.run(sc);
        for (const backend of backends) {
          const failure = await compareOne(trace, sc, backend, randomTally);
          if (failure) throw new Error(failure);
        }
      });
      const result = await fc.check(property, { seed, numRuns: runs });
      randomCases = result.numRuns;
      if (result.failed) {
        randomFailed = true;
        const err = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
        tally.failures.push(
          `random case (seed ${seed}, path ${result.counterexamplePath}) differs after ${result.numShrinks} shrinks:\n${err}`,
        );
        console.log(`random: a difference after ${result.numRuns} cases`);
      } else {
        console.log(
          `random: ${result.numRuns} cases, ${randomTally.same} comparisons same, ${randomTally.skipped} deliberate skips, ` +
            `${randomTally.known} known failures`,
        );
      }
    }
  } finally {
    perl.close();
    closeNodeListener();
  }

  for (const f of tally.failures) console.log(`\nDIFFERENCE ${f}`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const failed = committedFailed + (randomFailed ? 1 : 0);
  const passed = committed + randomCases - failed;
  console.log(`\nconformance: ${committed} committed scenarios, ${randomCases} random cases (seed ${seed}), ${seconds}s`);
  console.log(`conformance: ${passed} passed, ${failed} failed`);
  return tally.failures.length ? 1 : 0;
}

process.exitCode = await main();

/** A Perl trace with the scenario's declared, backend-independent normalisations applied. */
function environmentFree(sc: Scenario, trace: Trace): Trace {
  for (const id of sc.diff ?? []) {
    const d = difference(id);
    if (!d.backends && typeof d.treatment === 'function') trace = d.treatment(trace);
  }
  return trace;
}
