/**
 * wbuf_max, in both modes (issue #5; docs/handle.md has the two modes).
 *
 * The property: after any push_write, a fatal ENOSPC is raised exactly when wbuf (what is
 * left after the immediate write attempt) strictly exceeds wbuf_max. It is the Handle model
 * (spec/property/handle/model.ts) restricted to the write side: PushWrite, PeerRead,
 * PeerStall, Advance, SetWbufMax. The model predicts the corrected ('checked') check.
 *
 * In 'checked' mode it holds. In 'anyevent-7.17' mode it must not: the check there runs
 * only when no write watcher was installed on entry, so once the kernel buffer is full,
 * wbuf grows past the limit with no error (Proxmox #7483). fast-check has to find that and
 * shrink it to a handful of commands.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkProperty, COMMANDS_REPLAY_PATH, expectCounterexample, runsOf, seedOf, timeoutOf } from './fc.js';
import { setupArb, writeCommands } from './handle/arbitraries.js';
import { setup } from './handle/model.js';
import type { WbufMaxCheck } from '../../lib/handle/options.js';

const SEED = seedOf(0x5eed_7170);

function wbufMaxProperty(mode: WbufMaxCheck) {
  return fc.property(
    setupArb(mode),
    fc.commands(writeCommands, { maxCommands: 30, size: 'max', ...(COMMANDS_REPLAY_PATH ? { replayPath: COMMANDS_REPLAY_PATH } : {}) }),
    (s, cmds) => fc.modelRun(() => setup(s), cmds),
  );
}

describe(`wbuf_max: ENOSPC exactly when wbuf strictly exceeds the limit after a push_write (fast-check seed ${SEED})`, () => {
  it(
    "wbuf_max/checked: holds in the corrected mode ('checked', the default)",
    () => {
      checkProperty(wbufMaxProperty('checked'), { id: 'wbuf_max/checked', seed: SEED, numRuns: runsOf(2000) });
    },
    timeoutOf(60_000),
  );

  it(
    "wbuf_max/anyevent-7.17: fails in the 'anyevent-7.17' mode, and fast-check shrinks the counterexample to a handful of commands",
    () => {
      const details = expectCounterexample(
        wbufMaxProperty('anyevent-7.17'),
        { id: 'wbuf_max/anyevent-7.17', seed: SEED, numRuns: runsOf(2000) },
        /model and handle disagree on the callbacks: model \[.*"error:ENOSPC:fatal"\], handle \[(?!.*ENOSPC)/,
      );
      const [, commands] = details.counterexample!;
      const steps = [...commands].length;
      console.log(`[property] wbuf_max/anyevent-7.17: shrunk to ${steps} commands: ${String(commands)}`);
      expect(steps).toBeLessThanOrEqual(5);
    },
    timeoutOf(60_000),
  );
});
