/**
 * The two ends of a demo run, outside the proxy: a fast writer of the test pattern, and a
 * reader that stalls, then reads at a limited rate, then (to drain) at full speed, hashing
 * what it receives. Both live in the parent process, so the proxy process holds nothing of
 * theirs.
 */
import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import { patternChunks, patternView } from '../backend/sim/pattern.js';
import { frame } from '../proxy/ws/frame.js';

/** What one write hands to the socket: pattern bytes in raw pieces, or one masked binary frame each. */
const PIECE = 128 * 1024;
/** Bytes the writer pushes before giving the loop a turn (IPC, timers, the reader). */
const BURST = 8 * 1024 * 1024;

/**
 * Writes the test pattern (lib/backend/sim/pattern.ts) from offset 0 as fast as the socket
 * takes it: it writes until the socket's buffer is over its high-water mark, then waits for
 * 'drain', so the writer itself never holds more than one piece. `framed`: each 128 KiB
 * piece goes out as a masked binary WebSocket frame (a fresh random key per frame, as a
 * client must), and `sent` counts payload bytes.
 */
export class PatternWriter {
  sent = 0;
  #stopped = false;

  constructor(
    readonly socket: net.Socket,
    readonly framed: boolean,
  ) {}

  start(): void {
    this.socket.on('drain', this.#pump);
    this.#pump();
  }

  /** Stops writing; `end` also half-closes the socket once what Node holds went out. */
  stop(end: boolean): void {
    this.#stopped = true;
    this.socket.off('drain', this.#pump);
    if (end && !this.socket.destroyed) this.socket.end();
  }

  readonly #pump = (): void => {
    let burst = 0;
    while (!this.#stopped && !this.socket.destroyed) {
      const view = patternView(this.sent, PIECE);
      this.sent += PIECE;
      let ok: boolean;
      if (this.framed) {
        const [header, payload] = frame(view, { mask: randomBytes(4) });
        this.socket.write(header);
        ok = this.socket.write(payload);
      } else {
        ok = this.socket.write(view);
      }
      if (!ok) return; // 'drain' calls again
      burst += PIECE;
      if (burst >= BURST) return void setImmediate(this.#pump);
    }
  };
}

export type ReaderPhase = 'stalled' | 'slow' | 'full';

/**
 * Reads a socket in three phases: `stalled` (paused: the kernel buffers fill, then the
 * proxy's), `slow` (at most `rate` bytes per second, by pausing and resuming the socket as
 * a slow consumer does), `full` (as fast as it comes). Counts and SHA-256-hashes every
 * byte, keeping none.
 */
export class ThrottledReader {
  received = 0;
  eof = false;
  phase: ReaderPhase = 'stalled';
  readonly #hash = createHash('sha256');
  #slowSince = 0;
  #slowBytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly rate: number,
    /** Bytes that arrived before the reader took over (after a response head). */
    first: Buffer = Buffer.alloc(0),
  ) {
    this.#take(first);
    socket.on('data', (d: Buffer) => {
      this.#take(d);
      this.#throttle(d.length);
    });
    socket.on('end', () => (this.eof = true));
    socket.on('error', () => {});
    // A 'data' listener sets the socket flowing: hold it until the stall is over.
    socket.pause();
  }

  slow(): void {
    if (this.phase !== 'stalled') return;
    this.phase = 'slow';
    this.#slowSince = performance.now();
    this.socket.resume();
  }

  full(): void {
    this.phase = 'full';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.socket.resume();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.socket.destroy();
  }

  /** SHA-256 of everything received so far (call once, at the end). */
  digest(): string {
    return this.#hash.digest('hex');
  }

  #take(d: Buffer): void {
    if (!d.length) return;
    this.received += d.length;
    this.#hash.update(d);
  }

  #throttle(n: number): void {
    if (this.phase !== 'slow') return;
    this.#slowBytes += n;
    if (this.#timer) return;
    const wait = this.#slowSince + (this.#slowBytes / this.rate) * 1000 - performance.now();
    if (wait < 2) return;
    this.socket.pause();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.phase === 'slow') this.socket.resume();
    }, wait);
  }
}

/** SHA-256 of bytes [0, length) of the test pattern: what a writer that sent `length` bytes sent. */
export function patternDigest(length: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < length; offset += 16 * 1024 * 1024) {
    for (const view of patternChunks(offset, Math.min(16 * 1024 * 1024, length - offset))) hash.update(view);
  }
  return hash.digest('hex');
}
