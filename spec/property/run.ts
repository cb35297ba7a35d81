/**
 * `npm run test:property -- [--seed S] [--path P] [--replay R] [--runs K] [-t ID] [other vitest arguments]`
 *
 * Runs the property suite (spec/property/) with vitest, passing
 *   --seed S  as FC_SEED (every property runs with seed S instead of its own),
 *   --path P  as FC_PATH (replay that counterexample path; give -t with it),
 *   --replay R  as FC_REPLAY (the replayPath of a model-based counterexample, with --path),
 *   --runs K  as FC_RUNS (K times the default run counts; 100 is the nightly size).
 * Everything else goes to vitest unchanged, e.g. `-t spice/differential` to run one
 * property, or a file name. Environment variables of the same names work as well
 * (`FC_RUNS=100 npm run test:property`), with plain `npx vitest run spec/property` too.
 *
 * A failing property prints the exact command that replays it.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const FLAGS: Record<string, string> = { '--seed': 'FC_SEED', '--path': 'FC_PATH', '--replay': 'FC_REPLAY', '--runs': 'FC_RUNS' };

const env: NodeJS.ProcessEnv = { ...process.env };
const vitestArgs: string[] = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
  const name = FLAGS[flag];
  if (!name) {
    vitestArgs.push(arg);
    continue;
  }
  const value = inline ?? argv[++i];
  if (value === undefined || value === '') {
    console.error(`${flag} needs a value`);
    process.exit(2);
  }
  env[name] = value;
}
if (env.FC_PATH && !vitestArgs.some((a) => a === '-t' || a.startsWith('--testNamePattern') || a.startsWith('-t='))) {
  console.warn('note: --path replays one property; add -t <property id> (printed with the failure) so the others do not run with it');
}

const require = createRequire(import.meta.url);
const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', 'spec/property', ...vitestArgs], { env, stdio: 'inherit' });
process.exit(result.status ?? 1);
