/**
 * Command arbitraries for the model-based Handle properties, and the setup arbitrary.
 */
import fc from 'fast-check';
import type { WbufMaxCheck } from '../../../lib/handle/options.js';
import { Advance } from './commands/Advance.js';
import { OnReadChange } from './commands/OnReadChange.js';
import { PeerClose } from './commands/PeerClose.js';
import { PeerRead } from './commands/PeerRead.js';
import { PeerSend } from './commands/PeerSend.js';
import { PeerStall } from './commands/PeerStall.js';
import { PushReadChunk } from './commands/PushReadChunk.js';
import { PushReadLine } from './commands/PushReadLine.js';
import { PushShutdown } from './commands/PushShutdown.js';
import { PushWrite } from './commands/PushWrite.js';
import { SetWbufMax } from './commands/SetWbufMax.js';
import { StartRead } from './commands/StartRead.js';
import { StopRead } from './commands/StopRead.js';
import { UnshiftRead } from './commands/UnshiftRead.js';
import type { HandleCommand, Setup } from './model.js';

/**
 * The socket's capacity per direction (small, so that it fills), the handle's first
 * read_size (small, so that it doubles), and the wbuf_max mode: for 'checked', half the
 * runs leave the option out, since the corrected check must also be the default.
 */
export function setupArb(mode: WbufMaxCheck): fc.Arbitrary<Setup> {
  return fc.record({
    capacity: fc.integer({ min: 1, max: 4096 }),
    readSize: fc.integer({ min: 1, max: 64 }),
    mode: mode === 'checked' ? fc.constantFrom<Setup['mode']>('default', 'checked') : fc.constant(mode),
  });
}

const seconds = fc.constantFrom(0.5, 1, 3);
const pushWrite = fc.integer({ min: 0, max: 6000 }).map((n): HandleCommand => new PushWrite(n));
const peerRead = fc.integer({ min: 1, max: 6000 }).map((n): HandleCommand => new PeerRead(n));
const peerStall = seconds.map((s): HandleCommand => new PeerStall(s));
const advance = seconds.map((s): HandleCommand => new Advance(s));
const setWbufMax = fc.option(fc.integer({ min: 0, max: 8000 }), { freq: 4 }).map((max): HandleCommand => new SetWbufMax(max));

/**
 * Every command: both queues, the callbacks, both ends of the socket, time. As one weighted
 * choice, so that the commands that end things (push_shutdown, a peer's close) come rarely
 * enough for the rest of a sequence to matter.
 */
export const allCommands: Array<fc.Arbitrary<HandleCommand>> = [
  fc.oneof(
    { weight: 4, arbitrary: pushWrite },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }).map((n): HandleCommand => new PushReadChunk(n)) },
    { weight: 3, arbitrary: fc.constant<HandleCommand>(new PushReadLine()) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 40 }).map((n): HandleCommand => new UnshiftRead(n)) },
    {
      weight: 2,
      arbitrary: fc
        .option(
          fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 20 })).map((consume) => ({ consume })),
          { freq: 3 },
        )
        .map((mode): HandleCommand => new OnReadChange(mode)),
    },
    { weight: 2, arbitrary: fc.constant<HandleCommand>(new StopRead()) },
    { weight: 2, arbitrary: fc.constant<HandleCommand>(new StartRead()) },
    { weight: 1, arbitrary: fc.constant<HandleCommand>(new PushShutdown()) },
    { weight: 6, arbitrary: fc.stringMatching(/^[ab\r\n]{0,60}$/).map((data): HandleCommand => new PeerSend(data)) },
    { weight: 4, arbitrary: peerRead },
    { weight: 2, arbitrary: peerStall },
    { weight: 1, arbitrary: fc.constantFrom('shutdown' as const, 'close' as const).map((kind): HandleCommand => new PeerClose(kind)) },
    { weight: 1, arbitrary: advance },
    { weight: 2, arbitrary: setWbufMax },
  ),
];

/** The write side only: what the wbuf_max properties need. */
export const writeCommands: Array<fc.Arbitrary<HandleCommand>> = [pushWrite, peerRead, peerStall, advance, setWbufMax];
