import { IoFailure, type Cancel } from '../../lib/backend/Backend.js';
import { SimLoop, simSocketPair, type SimFh } from '../../lib/backend/sim/index.js';
import type { TestEnv, TestPeer } from './env.js';

/** How much virtual time `until` allows by default, as nodeEnv allows in real seconds. */
const DEFAULT_LIMIT_SECONDS = 20;
/** The peer's read size: what a Node socket reads at once. */
const PEER_READ_SIZE = 64 * 1024;

/**
 * The simulated backend as a test environment: one fresh SimLoop per env, in-memory socket
 * pairs, virtual time. `until` and `sleep` drive the loop synchronously (their promises are
 * settled when they return), so a spec runs in microseconds and identically every time.
 */
export function simEnv(): TestEnv {
  const loop = new SimLoop();
  const fhs: SimFh[] = [];
  const listeners: Cancel[] = [];

  return {
    name: 'sim',
    loop,

    async pair(opts = {}) {
      const [fh, peerFh] = simSocketPair(loop, { capacity: opts.capacity });
      fhs.push(fh, peerFh);
      return { fh, peer: simTestPeer(peerFh) };
    },

    async listen() {
      const port = loop.unusedPort();
      let accept!: (peer: TestPeer) => void;
      const accepted = new LoopDrivenPromise<TestPeer>(loop, (resolve) => (accept = resolve));
      let first = true;
      const stop = loop.listen(port, (fh) => {
        fhs.push(fh);
        const peer = simTestPeer(fh);
        if (first) accept(peer);
        first = false;
      });
      listeners.push(stop);
      return { host: '127.0.0.1', port, accepted, close: stop };
    },

    async deadPort() {
      return loop.unusedPort();
    },

    async until(pred, what, limitSeconds = DEFAULT_LIMIT_SECONDS) {
      const start = loop.now();
      if (loop.runUntil(pred, limitSeconds)) return;
      const why = loop.now() - start < limitSeconds ? 'deadlock: nothing left to run' : `timed out after ${limitSeconds} virtual s`;
      throw new Error(`${why} waiting for: ${what}`);
    },

    async sleep(seconds) {
      loop.advance(seconds);
    },

    async close() {
      for (const stop of listeners) stop();
      for (const fh of fhs) fh.close();
    },
  };
}

/**
 * A Promise that, when awaited, first runs the loop for as long as that takes no virtual
 * time. `accepted` needs this: a spec may await it before any `until`, and on the
 * simulation nothing happens unless someone drives the loop. Time is not advanced, so
 * awaiting it never changes what a spec's timers see.
 */
class LoopDrivenPromise<T> extends Promise<T> {
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  readonly #loop: SimLoop;
  #settled = false;

  constructor(loop: SimLoop, executor: (resolve: (value: T) => void) => void) {
    let settle!: () => void;
    super((resolve) =>
      executor((value) => {
        settle();
        resolve(value);
      }),
    );
    this.#loop = loop;
    settle = () => (this.#settled = true);
  }

  override then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (!this.#settled && !this.#loop.running) this.#loop.runUntil(() => this.#settled, 0);
    return super.then(onFulfilled, onRejected);
  }
}

/**
 * The test's end of a simulated connection, behaving as nodeEnv's net.Socket peer does:
 * always reading (unless paused), writes queued and flushed as the socket takes them,
 * `closed` once both directions are finished or the connection failed.
 */
function simTestPeer(fh: SimFh): TestPeer {
  const receivedChunks: Buffer[] = [];
  let received = Buffer.alloc(0);
  let eof = false;
  let closed = false;
  let paused = false;
  let writeQueue: Buffer[] = [];
  let shutdownWanted = false;
  let writeSideDone = false;
  let stopReading: Cancel | undefined;
  let stopWriting: Cancel | undefined;

  const finish = () => {
    closed = eof = true;
    stopReading?.();
    stopWriting?.();
    stopReading = stopWriting = undefined;
    writeQueue = [];
  };

  // Node destroys an allowHalfOpen socket once it has both ended and received the end.
  const closeIfBothDone = () => {
    if (eof && writeSideDone && !closed) {
      fh.close();
      finish();
    }
  };

  const onReadable = () => {
    const data = fh.read(PEER_READ_SIZE);
    if (data === null) return;
    if (data instanceof IoFailure) return finish();
    if (data.length) return void receivedChunks.push(data);
    eof = true;
    stopReading?.();
    stopReading = undefined;
    closeIfBothDone();
  };

  const flush = () => {
    while (writeQueue.length) {
      const written = fh.write(writeQueue);
      if (written === null) break;
      if (written instanceof IoFailure) return finish();
      writeQueue = dropPrefix(writeQueue, written);
    }
    if (writeQueue.length) {
      stopWriting ??= fh.watchWritable(flush);
      return;
    }
    stopWriting?.();
    stopWriting = undefined;
    if (shutdownWanted && !writeSideDone) {
      fh.shutdown();
      writeSideDone = true;
      closeIfBothDone();
    }
  };

  const startReading = () => {
    if (!paused && !eof && !closed) stopReading ??= fh.watchReadable(onReadable);
  };
  startReading();

  return {
    write(data) {
      if (closed || shutdownWanted) return;
      writeQueue.push(typeof data === 'string' ? Buffer.from(data) : data);
      flush();
    },
    get received() {
      if (receivedChunks.length) {
        received = Buffer.concat([received, ...receivedChunks]);
        receivedChunks.length = 0;
      }
      return received;
    },
    get eof() {
      return eof;
    },
    get closed() {
      return closed;
    },
    pause() {
      paused = true;
      stopReading?.();
      stopReading = undefined;
    },
    resume() {
      paused = false;
      startReading();
    },
    shutdown() {
      if (closed) return;
      shutdownWanted = true;
      flush();
    },
    destroy() {
      if (closed) return;
      fh.close();
      finish();
    },
  };
}

function dropPrefix(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < chunks.length && n >= chunks[i].length) n -= chunks[i++].length;
  const rest = chunks.slice(i);
  if (n && rest.length) rest[0] = rest[0].subarray(n);
  return rest;
}
