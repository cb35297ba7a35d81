import { createHash, type Hash } from 'node:crypto';
import { IoFailure, type Cancel } from '../Backend.js';
import { hashBytes, patternChunks } from './pattern.js';
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
  /** Bytes per virtual second; Infinity (the default) writes whenever the socket is writable. */
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
  /** The granularity of rate limiting. Default 0.001 (1 ms). */
  tick?: number;
  /** The largest single read. Default 64 KiB. */
  readSize?: number;
  /** Record a line per event in `trace` (for determinism checks and debugging). */
  trace?: boolean;
}

/** Rounding slack: credit accrued over float-valued intervals can fall a hair short of a byte. */
const EPSILON = 1e-6;
/** The most a single write offers the socket, to bound the chunk list built per write. */
const WRITE_PIECE = 64 * 1024;

/**
 * A scripted far end of a simulated connection: sends a byte source at a rate, reads at a
 * rate that follows a schedule (stalls included), records or hashes what it receives, and
 * half-closes or closes on cue. For tests, property checks and benchmarks.
 *
 * Rates are token buckets refilled by the virtual clock: the peer wakes on a timer once per
 * `tick` while it is limited by its rate, and waits on a watcher (no timer at all) while it
 * is limited by the socket (nothing to read, no room to write). A bucket holds at most one
 * tick's worth of bytes, so time spent blocked does not turn into a burst afterwards.
 *
 * It starts in the loop's next iteration, so constructing one runs nothing.
 */
export class SimPeer {
  readonly fh: SimFh;
  /** One line per event, when `trace` was asked for: `<time> <event> [<detail>]`. */
  readonly trace: string[] = [];

  readonly #tracing: boolean;
  readonly #tick: number;
  readonly #readSize: number;
  readonly #startedAt: number;
  #error: IoFailure | undefined;

  // Sending.
  readonly #source: Buffer | number;
  readonly #sendTotal: number;
  readonly #sendRate: number;
  #sent = 0;
  #sending: boolean;
  #sendCredit = 0;
  #sendCreditAt: number;
  #sendWatch: Cancel | undefined;
  #sendTimer: Cancel | undefined;
  readonly #shutdownAt: number | 'sent' | undefined;
  readonly #closeAt: number | 'sent' | undefined;

  // Receiving.
  readonly #schedule: readonly ReadRateChange[];
  #scheduleIndex = 0;
  #readRate: number;
  #reading = true;
  #readCredit = 0;
  #readCreditAt: number;
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
    this.#tick = options.tick ?? 0.001;
    this.#readSize = options.readSize ?? 64 * 1024;
    this.#startedAt = fh.loop.now();
    this.#source = options.send ?? 0;
    this.#sendTotal = typeof this.#source === 'number' ? this.#source : this.#source.length;
    this.#sendRate = options.sendRate ?? Infinity;
    this.#sending = this.#sendTotal > 0;
    this.#sendCreditAt = this.#readCreditAt = this.#startedAt;
    this.#shutdownAt = options.shutdownAt;
    this.#closeAt = options.closeAt;
    this.#readRate = options.readRate ?? Infinity;
    this.#schedule = options.readSchedule ?? [];
    if (options.record === 'hash') this.#receivedHash = createHash('sha1');
    else if (options.record !== 'count') this.#receivedChunks = [];
    for (const rate of [this.#sendRate, this.#readRate, ...this.#schedule.map((c) => c.rate)]) {
      if (!(rate >= 0)) throw new RangeError(`SimPeer: rates must be >= 0 bytes/s, got ${rate}`);
    }
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
      // The bucket of the old rate means nothing at the new one.
      this.#readCredit = 0;
      this.#readCreditAt = this.fh.loop.now();
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
    let budget = this.#sendTotal - this.#sent;
    const limited = this.#sendRate !== Infinity;
    if (limited) {
      this.#sendCredit = this.#refill(this.#sendCredit, this.#sendCreditAt, this.#sendRate);
      this.#sendCreditAt = this.fh.loop.now();
      budget = Math.min(budget, Math.floor(this.#sendCredit + EPSILON));
    }
    while (budget > 0) {
      // Offering only what fits saves cutting views that the socket would refuse anyway;
      // a full or failed socket still gets a one-byte write, to learn which it is.
      const piece = Math.min(budget, WRITE_PIECE, Math.max(1, this.fh.room()));
      const result = this.fh.write(this.#sourceChunks(this.#sent, piece));
      if (result === null) return this.#waitWritable();
      if (result instanceof IoFailure) return this.#failSend(result);
      this.#sent += result;
      this.#sendCredit -= result;
      budget -= result;
      this.#log('write', result);
      if (this.#sent === this.#sendTotal) return this.#sendFinished();
      if (result < piece) return this.#waitWritable();
    }
    if (limited) this.#waitSendTick();
  };

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

  #waitSendTick(): void {
    this.#sendWatch?.();
    this.#sendWatch = undefined;
    if (this.#sendTimer) return;
    this.#sendTimer = this.fh.loop.timer(this.#untilNextByte(this.#sendCredit, this.#sendRate), this.#onSendTick);
  }

  readonly #onSendTick = (): void => {
    this.#sendTimer = undefined;
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
    if (rate === 0) return this.#stopReadWaits();
    const limited = rate !== Infinity;
    let budget = Infinity;
    if (limited) {
      this.#readCredit = this.#refill(this.#readCredit, this.#readCreditAt, rate);
      this.#readCreditAt = this.fh.loop.now();
      budget = Math.floor(this.#readCredit + EPSILON);
    }
    while (budget > 0) {
      const result = this.fh.read(Math.min(budget, this.#readSize));
      if (result === null) return this.#waitReadable();
      if (result instanceof IoFailure) return this.#failRead(result);
      if (result.length === 0) return this.#gotEof();
      this.#record(result);
      this.#readCredit -= result.length;
      budget -= result.length;
    }
    this.#waitReadTick();
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

  #waitReadTick(): void {
    this.#readWatch?.();
    this.#readWatch = undefined;
    if (this.#readTimer) return;
    this.#readTimer = this.fh.loop.timer(this.#untilNextByte(this.#readCredit, this.#readRate), this.#onReadTick);
  }

  readonly #onReadTick = (): void => {
    this.#readTimer = undefined;
    this.#pumpRead();
  };

  #stopReadWaits(): void {
    this.#readWatch?.();
    this.#readTimer?.();
    this.#readWatch = this.#readTimer = undefined;
  }

  // ---------------------------------------------------------------- rate limiting

  /** The bucket after refilling since `since`, capped at one tick's worth (and at least one byte). */
  #refill(credit: number, since: number, rate: number): number {
    const cap = Math.max(1, rate * this.#tick);
    return Math.min(cap, credit + rate * (this.fh.loop.now() - since));
  }

  /** When to wake next: a tick from now, or later if the bucket needs longer to hold a byte. */
  #untilNextByte(credit: number, rate: number): number {
    return Math.max(this.#tick, (1 - credit) / rate);
  }
}
