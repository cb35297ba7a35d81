import { createHash, type Hash } from 'node:crypto';
import { IoFailure, type Cancel } from '../Backend.js';
import { hashBytes, patternChunks, patternView } from './pattern.js';
import type { SimFh } from './SimSocket.js';

/** From `at` seconds after the peer started, read at `rate` bytes per virtual second (0: stall). */
export interface ReadRateChange {
  at: number;
  rate: number;
}

/** What a SimPeer does; all times are virtual seconds after the peer starts. */
export interface SimPeerOptions {
  /** What to send: these bytes, or this many bytes of the test pattern (`patternBytes`). */
  send?: Buffer | number;
  /** Bytes per virtual second; Infinity (the default) writes whenever the socket is writable; 0 sends nothing. */
  sendRate?: number;
  /** The read rate from the start, bytes per second; Infinity (default) reads whatever arrives; 0 reads nothing. */
  readRate?: number;
  /** Later changes of the read rate, in order of `at`. */
  readSchedule?: readonly ReadRateChange[];
  /**
   * `'bytes'` (default) keeps everything received; `'hash'` only the count and a digest;
   * `'count'` only the count (hashing costs about as much as the rest of a bulk transfer).
   */
  record?: 'bytes' | 'hash' | 'count';
  /** Half-close at this time, or once everything was sent (`'sent'`). */
  shutdownAt?: number | 'sent';
  /** Close at this time, or once everything was sent (`'sent'`). */
  closeAt?: number | 'sent';
  /**
   * How coarse rate limiting may be, in virtual seconds: a rate-limited peer reads or writes
   * in chunks of `rate × quantum` bytes (at least 1, at most `readSize`/`writeSize`), so it
   * wakes about once per quantum at low rates and once per full read or write at high ones.
   * Default 0.01 (10 ms). Infinity: always whole reads and writes.
   */
  quantum?: number;
  /** The largest single read. Default 64 KiB. */
  readSize?: number;
  /** The largest single write. Default 64 KiB; more than 1 MiB counts as 1 MiB. */
  writeSize?: number;
  /** Record a line per event in `trace` (for determinism checks and debugging). */
  trace?: boolean;
}

/** Rounding slack: credit accrued over float-valued intervals can fall a hair short of a byte. */
const EPSILON = 1e-6;

/**
 * A token bucket on the virtual clock: credit accrues at `rate` bytes per second up to one
 * `chunk`, and is refilled lazily, from the time elapsed, whenever the peer looks at it.
 */
class Bucket {
  rate = 0;
  /** The bucket's size, and the amount worth waking up for. */
  chunk = 1;
  credit = 0;
  /** When `credit` was last brought up to date. */
  at = 0;
  /** The credit a pending wake-up was scheduled for (see `wake`). */
  target = 0;

  constructor(
    readonly quantum: number,
    readonly maxChunk: number,
  ) {}

  /** A new rate from `now` on, with an empty bucket: credit of the old rate means nothing at the new one. */
  reset(rate: number, now: number): void {
    this.rate = rate;
    this.chunk = Math.max(1, Math.min(this.maxChunk, Math.floor(rate * this.quantum)));
    this.credit = 0;
    this.at = now;
  }

  /** Whole bytes of credit at `now`. */
  whole(now: number): number {
    const credit = Math.min(this.chunk, this.credit + this.rate * (now - this.at));
    this.credit = credit;
    this.at = now;
    return Math.floor(credit + EPSILON);
  }

  spend(bytes: number): void {
    this.credit -= bytes;
  }

  /** Seconds until the bucket holds `want` bytes (after `whole(now)`); remembers `want` for `wake`. */
  until(want: number): number {
    this.target = want;
    return (want - this.credit) / this.rate;
  }

  /**
   * A wake-up scheduled by `until` is due: the credit is what it was scheduled for, even if
   * the float arithmetic of the clock lands a hair short (which could otherwise make the
   * peer set a zero-length timer again and again).
   */
  wake(now: number): void {
    this.whole(now);
    if (this.credit < this.target) this.credit = Math.min(this.chunk, this.target);
  }
}

/**
 * A scripted far end of a simulated connection: sends a byte source at a rate, reads at a
 * rate that follows a schedule (stalls included), records or hashes what it receives, and
 * half-closes or closes on cue. For tests, property checks and benchmarks.
 *
 * Rates are token buckets on the virtual clock, and entirely event-driven: a rate-limited
 * peer sets one timer, for the moment its bucket holds the next useful amount (a chunk of
 * `rate × quantum` bytes, capped at the read or write size, or less when less is available
 * or left to send), and sleeps until then. While the socket holds it back (nothing to read,
 * no room to write) it waits on a watcher instead, with no timer at all; while a read stall
 * (rate 0) lasts it waits for nothing but the next change of its read schedule. So a
 * 5-second schedule costs about rate / chunk events per second, not one per tick.
 *
 * A bucket holds at most one chunk, so time spent blocked never turns into more than a
 * one-chunk burst. Over any window of a rate's segment, the bytes moved are within one chunk
 * of rate × window whenever the socket does not hold the peer back, and never more than that
 * above it. A rate change starts with an empty bucket.
 *
 * It starts in the loop's next iteration, so constructing one runs nothing.
 */
export class SimPeer {
  readonly fh: SimFh;
  /** One line per event, when `trace` was asked for: `<time> <event> [<detail>]`. */
  readonly trace: string[] = [];

  readonly #tracing: boolean;
  readonly #readSize: number;
  readonly #writeSize: number;
  readonly #startedAt: number;
  #error: IoFailure | undefined;

  // Sending.
  readonly #source: Buffer | number;
  readonly #sendTotal: number;
  readonly #sendRate: number;
  #sent = 0;
  #sending: boolean;
  readonly #piece: Buffer[] = [Buffer.alloc(0)];
  readonly #sendBucket: Bucket;
  #sendWatch: Cancel | undefined;
  #sendTimer: Cancel | undefined;
  readonly #shutdownAt: number | 'sent' | undefined;
  readonly #closeAt: number | 'sent' | undefined;

  // Receiving.
  readonly #schedule: readonly ReadRateChange[];
  #scheduleIndex = 0;
  #readRate: number;
  #reading = true;
  readonly #readBucket: Bucket;
  #readWatch: Cancel | undefined;
  #readTimer: Cancel | undefined;
  #eof = false;
  #receivedBytes = 0;
  readonly #receivedChunks: Buffer[] | undefined;
  readonly #receivedHash: Hash | undefined;

  readonly #timers = new Set<Cancel>();

  constructor(fh: SimFh, options: SimPeerOptions = {}) {
    this.fh = fh;
    this.#tracing = !!options.trace;
    this.#readSize = atLeastOne('readSize', options.readSize ?? 64 * 1024);
    this.#writeSize = atLeastOne('writeSize', Math.min(options.writeSize ?? 64 * 1024, 1024 * 1024));
    const quantum = options.quantum ?? 0.01;
    if (!(quantum > 0)) throw new RangeError(`SimPeer: quantum must be > 0 seconds, got ${quantum}`);
    this.#startedAt = fh.loop.now();
    this.#source = options.send ?? 0;
    this.#sendTotal = typeof this.#source === 'number' ? this.#source : this.#source.length;
    this.#sendRate = options.sendRate ?? Infinity;
    this.#sending = this.#sendTotal > 0;
    this.#shutdownAt = options.shutdownAt;
    this.#closeAt = options.closeAt;
    this.#readRate = options.readRate ?? Infinity;
    this.#schedule = options.readSchedule ?? [];
    if (options.record === 'hash') this.#receivedHash = createHash('sha1');
    else if (options.record !== 'count') this.#receivedChunks = [];
    for (const rate of [this.#sendRate, this.#readRate, ...this.#schedule.map((c) => c.rate)]) {
      if (!(rate >= 0)) throw new RangeError(`SimPeer: rates must be >= 0 bytes/s, got ${rate}`);
    }
    this.#sendBucket = new Bucket(quantum, this.#writeSize);
    this.#sendBucket.reset(this.#sendRate, this.#startedAt);
    this.#readBucket = new Bucket(quantum, this.#readSize);
    this.#readBucket.reset(this.#readRate, this.#startedAt);
    fh.loop.post(() => this.#start());
  }

  // ---------------------------------------------------------------- results

  /** Everything received so far (only with `record: 'bytes'`). */
  get received(): Buffer {
    if (!this.#receivedChunks) throw new Error("SimPeer.received needs record: 'bytes'");
    if (this.#receivedChunks.length > 1) this.#receivedChunks.splice(0, Infinity, Buffer.concat(this.#receivedChunks));
    return this.#receivedChunks[0] ?? Buffer.alloc(0);
  }

  get receivedBytes(): number {
    return this.#receivedBytes;
  }

  /** `hashBytes` of everything received so far (not with `record: 'count'`). */
  receivedHash(): string {
    if (this.#receivedHash) return this.#receivedHash.copy().digest('hex');
    if (!this.#receivedChunks) throw new Error("SimPeer.receivedHash needs record: 'bytes' or 'hash'");
    return hashBytes(this.#receivedChunks);
  }

  /** Bytes the socket accepted from this peer. */
  get sentBytes(): number {
    return this.#sent;
  }

  /** `hashBytes` of what the socket accepted so far: what the other end should receive. */
  sentHash(): string {
    return hashBytes(this.#sourceChunks(0, this.#sent));
  }

  /** True once everything in `send` was accepted by the socket. */
  get sendDone(): boolean {
    return this.#sent === this.#sendTotal;
  }

  /** True once the other end's EOF was read. */
  get eof(): boolean {
    return this.#eof;
  }

  /** The first read or write failure, if any (a write failure stops sending, a read failure reading). */
  get error(): IoFailure | undefined {
    return this.#error;
  }

  /** Stops every activity of this peer without touching the socket. */
  stop(): void {
    this.#sending = this.#reading = false;
    this.#stopSendWaits();
    this.#stopReadWaits();
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
  }

  // ---------------------------------------------------------------- script

  #start(): void {
    const at = (seconds: number | 'sent' | undefined, action: () => void) => {
      if (typeof seconds === 'number') this.#at(seconds, action);
    };
    at(this.#shutdownAt, () => this.#shutdown());
    at(this.#closeAt, () => this.#close());
    this.#nextRateChange();
    if (this.#sendTotal === 0) this.#sendFinished();
    else this.#pumpSend();
    this.#pumpRead();
  }

  /** A timer at `seconds` after the start, cancelled by `stop`. */
  #at(seconds: number, action: () => void): void {
    const cancel = this.fh.loop.timer(this.#startedAt + seconds - this.fh.loop.now(), () => {
      this.#timers.delete(cancel);
      action();
    });
    this.#timers.add(cancel);
  }

  #nextRateChange(): void {
    const change = this.#schedule[this.#scheduleIndex];
    if (!change) return;
    this.#at(change.at, () => {
      this.#scheduleIndex++;
      this.#readRate = change.rate;
      this.#log('rate', change.rate);
      this.#readBucket.reset(change.rate, this.fh.loop.now());
      this.#stopReadWaits();
      this.#pumpRead();
      this.#nextRateChange();
    });
  }

  #shutdown(): void {
    if (this.fh.closed) return;
    this.#sending = false;
    this.#stopSendWaits();
    this.fh.shutdown();
    this.#log('shutdown');
  }

  #close(): void {
    if (this.fh.closed) return;
    this.stop();
    this.fh.close();
    this.#log('close');
  }

  /** A failed write ends sending only: what already arrived can still be read, as on Linux. */
  #failSend(failure: IoFailure): void {
    this.#error ??= failure;
    this.#log('write-error', failure.code);
    this.#sending = false;
    this.#stopSendWaits();
  }

  #failRead(failure: IoFailure): void {
    this.#error ??= failure;
    this.#log('read-error', failure.code);
    this.#reading = false;
    this.#stopReadWaits();
  }

  #log(event: string, detail?: string | number): void {
    if (!this.#tracing) return;
    const time = (this.fh.loop.now() - this.#startedAt).toFixed(6);
    this.trace.push(detail === undefined ? `${time} ${event}` : `${time} ${event} ${detail}`);
  }

  // ---------------------------------------------------------------- sending

  readonly #pumpSend = (): void => {
    if (!this.#sending) return;
    // Rate 0: never sends, and waits for nothing.
    if (this.#sendRate === 0) return this.#stopSendWaits();
    const fh = this.fh;
    const limited = this.#sendRate !== Infinity;
    const bucket = this.#sendBucket;
    const now = fh.loop.now();
    for (;;) {
      const left = this.#sendTotal - this.#sent;
      let piece = Math.min(left, this.#writeSize);
      if (limited) {
        const credit = bucket.whole(now);
        const want = Math.min(left, bucket.chunk);
        if (credit < want) return this.#waitSendCredit(bucket.until(want));
        piece = Math.min(piece, credit);
      }
      // Offering only what fits saves cutting views that the socket would refuse anyway;
      // a full or failed socket still gets a one-byte write, to learn which it is.
      piece = Math.min(piece, Math.max(1, fh.room()));
      // One reused array: SimFh.write keeps the Buffers, never the list.
      this.#piece[0] = this.#sourceView(this.#sent, piece);
      const result = fh.write(this.#piece);
      if (result === null) return this.#waitWritable();
      if (result instanceof IoFailure) return this.#failSend(result);
      this.#sent += result;
      if (limited) bucket.spend(result);
      this.#log('write', result);
      if (this.#sent === this.#sendTotal) return this.#sendFinished();
      // The socket is full: wait for room rather than for credit that could not be used.
      if (result < piece || fh.room() === 0) return this.#waitWritable();
    }
  };

  /** One view of the source, at most `writeSize` (≤ 1 MiB, as `patternView` allows) bytes. */
  #sourceView(offset: number, length: number): Buffer {
    const source = this.#source;
    return typeof source === 'number' ? patternView(offset, length) : source.subarray(offset, offset + length);
  }

  #sourceChunks(offset: number, length: number): Buffer[] {
    const source = this.#source;
    return typeof source === 'number' ? patternChunks(offset, length) : [source.subarray(offset, offset + length)];
  }

  #sendFinished(): void {
    this.#sending = false;
    this.#stopSendWaits();
    if (this.#shutdownAt === 'sent') this.#shutdown();
    if (this.#closeAt === 'sent') this.#close();
  }

  #waitWritable(): void {
    this.#sendTimer?.();
    this.#sendTimer = undefined;
    this.#sendWatch ??= this.fh.watchWritable(this.#pumpSend);
  }

  #waitSendCredit(seconds: number): void {
    this.#stopSendWaits();
    this.#sendTimer = this.fh.loop.timer(seconds, this.#onSendCredit);
  }

  readonly #onSendCredit = (): void => {
    this.#sendTimer = undefined;
    this.#sendBucket.wake(this.fh.loop.now());
    this.#pumpSend();
  };

  #stopSendWaits(): void {
    this.#sendWatch?.();
    this.#sendTimer?.();
    this.#sendWatch = this.#sendTimer = undefined;
  }

  // ---------------------------------------------------------------- receiving

  readonly #pumpRead = (): void => {
    if (!this.#reading) return;
    const rate = this.#readRate;
    // A stall: no watcher, no timer; the next schedule change wakes the peer.
    if (rate === 0) return this.#stopReadWaits();
    const fh = this.fh;
    const limited = rate !== Infinity;
    const bucket = this.#readBucket;
    const now = fh.loop.now();
    for (;;) {
      let size = this.#readSize;
      const available = fh.available();
      // With nothing buffered a read costs no credit: it reports EAGAIN, EOF or an error.
      if (limited && available > 0) {
        const credit = bucket.whole(now);
        const want = Math.min(available, bucket.chunk);
        if (credit < want) return this.#waitReadCredit(bucket.until(want));
        size = Math.min(size, credit);
      }
      const result = fh.read(size);
      if (result === null) return this.#waitReadable();
      if (result instanceof IoFailure) return this.#failRead(result);
      if (result.length === 0) return this.#gotEof();
      this.#record(result);
      if (limited) bucket.spend(result.length);
    }
  };

  #record(data: Buffer): void {
    this.#receivedBytes += data.length;
    if (this.#receivedHash) this.#receivedHash.update(data);
    else this.#receivedChunks?.push(data);
    this.#log('read', data.length);
  }

  #gotEof(): void {
    this.#eof = true;
    this.#reading = false;
    this.#stopReadWaits();
    this.#log('eof');
  }

  #waitReadable(): void {
    this.#readTimer?.();
    this.#readTimer = undefined;
    this.#readWatch ??= this.fh.watchReadable(this.#pumpRead);
  }

  #waitReadCredit(seconds: number): void {
    this.#stopReadWaits();
    this.#readTimer = this.fh.loop.timer(seconds, this.#onReadCredit);
  }

  readonly #onReadCredit = (): void => {
    this.#readTimer = undefined;
    this.#readBucket.wake(this.fh.loop.now());
    this.#pumpRead();
  };

  #stopReadWaits(): void {
    this.#readWatch?.();
    this.#readTimer?.();
    this.#readWatch = this.#readTimer = undefined;
  }
}

function atLeastOne(name: string, value: number): number {
  if (!(value >= 1)) throw new RangeError(`SimPeer: ${name} must be at least 1 byte, got ${value}`);
  return value;
}
