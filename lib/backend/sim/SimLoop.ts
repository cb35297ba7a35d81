import { IoFailure, type Cancel, type Connected, type Fh, type Loop } from '../Backend.js';
import { errnoText } from '../../handle/errors.js';
import { simSocketPair, type SimFh } from './SimSocket.js';
import { TimerHeap, type TimerEntry } from './TimerHeap.js';

/** Hosts that reach a `listen`ed port, and the address each one connects to. */
const LOOPBACK: Readonly<Record<string, string>> = { '127.0.0.1': '127.0.0.1', localhost: '127.0.0.1', '::1': '::1' };

/** Where `unusedPort` starts counting: clear of the well-known and registered ports tests like to name. */
const FIRST_FREE_PORT = 40000;

interface Watcher {
  readonly ready: () => boolean;
  readonly cb: () => void;
  /** When this becomes closed, the watcher is dropped (a closed SimFh's watchers never run). */
  readonly owner: { readonly closed: boolean };
  active: boolean;
}

/** The owner of watchers that belong to nothing that closes. */
const NO_OWNER = Object.freeze({ closed: false });

/** Work done by a SimLoop since it was created: for benchmarks and event-count checks. */
export interface SimLoopStats {
  /** Iterations that ran at least one callback. */
  iterations: number;
  /** Timer callbacks run. */
  timers: number;
  /** Posted tasks run. */
  tasks: number;
  /** Watcher callbacks run. */
  watcherCalls: number;
  /** Distinct virtual instants the clock stopped at. */
  instants: number;
}

interface Listener {
  readonly onAccept: (fh: SimFh) => void;
  readonly capacity: number | undefined;
}

/** Options of a SimLoop. */
export interface SimLoopOptions {
  /**
   * Loop iterations allowed at one virtual instant before the loop is declared livelocked
   * (something keeps itself runnable without ever letting time pass). Default 1e6; raise it
   * for huge transfers through tiny buffers, which legitimately take many iterations at
   * one instant when no rate limit lets time pass.
   */
  maxIterationsPerInstant?: number;
}

/**
 * A deterministic event loop on a virtual clock, for the simulated backend.
 *
 * Nothing runs by itself: the test (or benchmark) drives the loop with `runOnce`,
 * `runUntilIdle`, `advance` or `runUntil`. Time only moves when the driver lets it, and then
 * jumps straight to the next due timer, so a 5-second scenario costs only the callbacks it
 * runs. Every order is fixed (timers by due time then creation, tasks and watchers by
 * registration), so the same script gives the same trace.
 *
 * One iteration (`runOnce`) runs, in this order: the timers that were due when it began, the
 * tasks that were posted when it began, and every watcher that was installed when it began
 * and is still active and ready when its turn comes. Anything scheduled during an iteration
 * waits for the next one, as in libev.
 */
export class SimLoop implements Loop {
  #now = 0;
  readonly #timers = new TimerHeap();
  #timerSeq = 0;
  #tasks: Array<() => void> = [];
  #taskHead = 0;
  #watchers: Watcher[] = [];
  readonly #listeners = new Map<number, Listener>();
  #nextPort = FIRST_FREE_PORT;
  #running = false;
  #iterationsThisInstant = 0;
  readonly #maxIterationsPerInstant: number;
  readonly #stats: SimLoopStats = { iterations: 0, timers: 0, tasks: 0, watcherCalls: 0, instants: 0 };

  constructor(options: SimLoopOptions = {}) {
    this.#maxIterationsPerInstant = options.maxIterationsPerInstant ?? 1e6;
  }

  /** Virtual seconds since the loop was created. */
  now(): number {
    return this.#now;
  }

  /** True while an iteration is running (the loop cannot be driven from its own callbacks). */
  get running(): boolean {
    return this.#running;
  }

  /** Timers neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.live;
  }

  /** Watchers installed and not cancelled (nor belonging to a closed SimFh). */
  get activeWatchers(): number {
    // A Set: while watchers run, the list being compacted may hold an entry twice.
    let n = 0;
    for (const w of new Set(this.#watchers)) if (w.active && !w.owner.closed) n++;
    return n;
  }

  /** What the loop has run so far (a snapshot). */
  get stats(): SimLoopStats {
    return { ...this.#stats };
  }

  /** One-shot timer `after` virtual seconds from now (negative or NaN: now). */
  timer(after: number, cb: () => void): Cancel {
    const entry: TimerEntry = { at: this.#now + (after > 0 ? after : 0), seq: this.#timerSeq++, cb };
    this.#timers.push(entry);
    return () => this.#timers.cancel(entry);
  }

  /** Runs `cb` in the next iteration, after tasks posted before it. */
  post(cb: () => void): void {
    this.#tasks.push(cb);
  }

  /**
   * A level-triggered watcher on any condition: `cb` runs once per iteration for as long
   * as `ready()` holds and the watcher is not cancelled, nor its `owner` closed (a SimFh
   * owns its watchers this way: once it is closed they never run again, and the loop drops
   * them without the SimFh keeping a list). SimFh builds its readiness on this.
   */
  watch(ready: () => boolean, cb: () => void, owner?: { readonly closed: boolean }): Cancel {
    const watcher: Watcher = { ready, cb, owner: owner ?? NO_OWNER, active: true };
    this.#watchers.push(watcher);
    return () => {
      watcher.active = false;
    };
  }

  // ---------------------------------------------------------------- connections

  /**
   * Accepts connections to `port` (any loopback host) until the returned Cancel is called.
   * Each connection is a fresh `simSocketPair` with `capacity` bytes per direction; the
   * server's end goes to `onAccept`. Throws when the port is already taken (EADDRINUSE).
   */
  listen(port: number, onAccept: (fh: SimFh) => void, opts: { capacity?: number } = {}): Cancel {
    if (this.#listeners.has(port)) throw new Error(`SimLoop.listen: port ${port} is already in use (EADDRINUSE)`);
    const listener: Listener = { onAccept, capacity: opts.capacity };
    this.#listeners.set(port, listener);
    return () => {
      if (this.#listeners.get(port) === listener) this.#listeners.delete(port);
    };
  }

  /** A port nobody listens on, different on every call: for listeners and for ECONNREFUSED tests. */
  unusedPort(): number {
    while (this.#listeners.has(this.#nextPort)) this.#nextPort++;
    return this.#nextPort++;
  }

  /**
   * `tcp_connect` on the simulation. Only loopback hosts exist (`127.0.0.1`, `::1`,
   * `localhost`); any other host fails with ENOTFOUND, an unknown port with ECONNREFUSED.
   * The connection is made in the next iteration (never inside this call): `onPrepare` runs
   * with the client's end, then the listener accepts, then `cb` gets the connection. The
   * connect timeout `onPrepare` may return is ignored, since connecting takes no time.
   * `retry` closes the connection and reports ECONNREFUSED: there is no second address.
   */
  connect(
    host: string,
    port: number,
    cb: (result: Connected | IoFailure) => void,
    onPrepare?: (fh: Fh) => number | undefined | void,
  ): Cancel {
    let cancelled = false;
    this.post(() => {
      if (cancelled) return;
      const address = LOOPBACK[host];
      if (address === undefined) return cb(failure('ENOTFOUND'));
      const listener = this.#listeners.get(port);
      const [client, server] = simSocketPair(this, { capacity: listener?.capacity });
      onPrepare?.(client);
      if (cancelled) return client.close();
      if (!listener || this.#listeners.get(port) !== listener) {
        client.close();
        return cb(failure('ECONNREFUSED'));
      }
      const clientPort = this.unusedPort();
      client.setPeerAddress({ host: address, port });
      server.setPeerAddress({ host: address, port: clientPort });
      listener.onAccept(server);
      if (cancelled) return client.close();
      let retried = false;
      cb({
        fh: client,
        host: address,
        port,
        retry: () => {
          if (retried) return;
          retried = true;
          client.close();
          this.post(() => {
            if (!cancelled) cb(failure('ECONNREFUSED'));
          });
        },
      });
    });
    return () => {
      cancelled = true;
    };
  }

  // ---------------------------------------------------------------- driving

  /**
   * One iteration: the due timers, the posted tasks and the ready watchers, each once.
   * Returns false when nothing was runnable (the loop is idle at this instant).
   * Throws when called from inside a callback, or when the loop is livelocked.
   */
  runOnce(): boolean {
    if (this.#running) throw new Error('SimLoop: runOnce called from inside a loop callback');
    if (++this.#iterationsThisInstant > this.#maxIterationsPerInstant) {
      throw new Error(
        `SimLoop livelocked: more than ${this.#maxIterationsPerInstant} iterations at virtual time ${this.#now}s without becoming idle`,
      );
    }
    this.#running = true;
    try {
      const watcherCount = this.#watchers.length;
      const ran = this.#runDueTimers() + this.#runTasks() + this.#runWatchers(watcherCount);
      // Only iterations that did something count towards a livelock.
      if (!ran) this.#iterationsThisInstant--;
      else this.#stats.iterations++;
      return ran > 0;
    } finally {
      this.#running = false;
    }
  }

  /**
   * Runs iterations, without letting time pass, until nothing is runnable. Throws when
   * that takes more than `maxIterations` (a livelock).
   */
  runUntilIdle(maxIterations = 1e6): void {
    for (let i = 0; this.runOnce(); i++) {
      if (i >= maxIterations) throw new Error(`SimLoop livelocked: not idle after ${maxIterations} iterations at ${this.#now}s`);
    }
  }

  /**
   * Lets `seconds` of virtual time pass: runs everything runnable, jumps the clock to each
   * due timer in turn (up to now + seconds), and finally sets the clock to now + seconds.
   */
  advance(seconds: number): void {
    const target = this.#now + Math.max(0, seconds);
    for (;;) {
      this.runUntilIdle();
      const next = this.#timers.peek();
      if (!next || next.at > target) break;
      this.#setNow(next.at);
    }
    this.#setNow(target);
  }

  /**
   * Runs iterations and timers until `pred()` holds; returns true then. Returns false,
   * without running further, when reaching `pred` would take more than `maxSeconds` of
   * virtual time (the clock is then left at now + maxSeconds), or at once when the loop is
   * idle with no timer pending: nothing can ever make `pred` true (a deadlock).
   */
  runUntil(pred: () => boolean, maxSeconds: number): boolean {
    const deadline = this.#now + Math.max(0, maxSeconds);
    for (;;) {
      if (pred()) return true;
      if (this.runOnce()) continue;
      const next = this.#timers.peek();
      if (!next) return false;
      if (next.at > deadline) {
        this.#setNow(deadline);
        return false;
      }
      this.#setNow(next.at);
    }
  }

  #setNow(at: number): void {
    if (at <= this.#now) return;
    this.#now = at;
    this.#iterationsThisInstant = 0;
    this.#stats.instants++;
  }

  /** Runs the timers due now that existed when the iteration began. */
  #runDueTimers(): number {
    const seqLimit = this.#timerSeq;
    let ran = 0;
    for (;;) {
      const next = this.#timers.peek();
      if (!next || next.at > this.#now || next.seq >= seqLimit) return ran;
      this.#timers.pop();
      const cb = next.cb!;
      next.cb = undefined;
      ran++;
      this.#stats.timers++;
      cb();
    }
  }

  #runTasks(): number {
    const end = this.#tasks.length;
    let ran = 0;
    while (this.#taskHead < end) {
      const task = this.#tasks[this.#taskHead++];
      ran++;
      task();
    }
    if (this.#taskHead === this.#tasks.length && this.#taskHead) {
      this.#tasks = [];
      this.#taskHead = 0;
    }
    this.#stats.tasks += ran;
    return ran;
  }

  /**
   * Runs the first `end` watchers (those installed before the iteration) that are ready,
   * and compacts the list in place as it goes: cancelled watchers and those of closed owners
   * are dropped, without allocating a new list.
   */
  #runWatchers(end: number): number {
    const watchers = this.#watchers;
    let ran = 0;
    let kept = 0;
    let next = 0;
    try {
      while (next < end) {
        const w = watchers[next++];
        if (w.owner.closed) w.active = false;
        if (!w.active) continue;
        watchers[kept++] = w;
        // Readiness is checked at the watcher's turn: an earlier callback may have changed it.
        if (w.ready()) {
          ran++;
          w.cb();
        }
      }
    } finally {
      // Also when a callback threw: close the gap, so that no watcher is left in twice.
      if (kept !== next) {
        // The rest, and watchers installed by this iteration's callbacks, move down.
        const total = watchers.length;
        for (let i = next; i < total; i++) watchers[kept++] = watchers[i];
        // pop, not `length = kept`: truncating through length is a slow path in V8.
        while (watchers.length > kept) watchers.pop();
      }
      this.#stats.watcherCalls += ran;
    }
    return ran;
  }
}

function failure(code: string): IoFailure {
  return new IoFailure(code, errnoText(code));
}
