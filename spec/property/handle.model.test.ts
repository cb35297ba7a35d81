/**
 * Model-based tests of the Handle on the simulated socket (issue #5): random command
 * sequences (spec/property/handle/commands/, one per file) run against the Handle and
 * against a small model (spec/property/handle/model.ts), which predicts after every
 * command: the callbacks in order (chunks, lines, on_read, on_drain, on_eof, errors),
 * rbuf, wbuf, whether the handle is reading, read_size, the bytes on their way each way,
 * the bytes the peer received and how its stream ended.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { bump, checkProperty, COMMANDS_REPLAY_PATH, runsOf, seedOf, timeoutOf, type Tally } from './fc.js';
import { allCommands, setupArb } from './handle/arbitraries.js';
import { setup, type Model, type Real } from './handle/model.js';

const SEED = seedOf(0x5eed_ae71);

describe(`Handle against its model, on the simulated socket (fast-check seed ${SEED})`, () => {
  it(
    'handle/model: any sequence of reads, writes, queue changes, peer actions and time keeps the handle where the model says',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(
          setupArb('checked'),
          fc.commands(allCommands, { maxCommands: 40, size: 'max', ...(COMMANDS_REPLAY_PATH ? { replayPath: COMMANDS_REPLAY_PATH } : {}) }),
          (s, cmds) => {
            let system: { model: Model; real: Real } | undefined;
            fc.modelRun(() => (system = setup(s)), cmds);
            const { model } = system!;
            for (const e of model.events) bump(tally, e.split(':')[0] === 'error' ? e.slice(0, e.lastIndexOf(':') > 5 ? e.lastIndexOf(':') : e.length) : e.split(':')[0]);
            if (model.destroyed) bump(tally, 'destroyed');
          },
        ),
        { id: 'handle/model', seed: SEED, numRuns: runsOf(3000), tally },
      );
    },
    timeoutOf(60_000),
  );
});
