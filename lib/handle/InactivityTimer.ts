import type { Cancel, Loop } from '../backend/Backend.js';

/** What a timer needs from its handle; keeps this file free of the Handle class. */
export interface TimerHost {
  readonly loop: Loop | undefined;
  /** True while the handle has a file handle (timers only run then, as in Perl). */
  hasFh(): boolean;
  isDestroyed(): boolean;
  /** `$self->{on_timeout}->($self)`; false when no callback is set. */
  fire(kind: TimeoutKind): boolean;
  /** `$self->_error (Errno::ETIMEDOUT)`: non-fatal. */
  timedOut(): void;
}

export type TimeoutKind = 'timeout' | 'rtimeout' | 'wtimeout';

/**
 * One inactivity timeout (`timeout`, `rtimeout` or `wtimeout`), ported from the closure
 * AnyEvent generates for each. The timer is armed for the moment the timeout would expire
 * if nothing happened, and on expiry it re-checks the last activity: activity itself only
 * stores a timestamp (cheap, called on every read and write), it never re-arms the timer.
 */
export class InactivityTimer {
  /** Seconds; 0 disables. */
  #seconds = 0;
  /** `_activity`, `_ractivity` or `_wactivity`: when data last moved (or a reset). */
  activity = 0;
  #armed: Cancel | null = null;

  constructor(
    readonly kind: TimeoutKind,
    private readonly host: TimerHost,
  ) {}

  get seconds(): number {
    return this.#seconds;
  }

  /** `$hdl->timeout ($seconds)`: set, and check at once (may fire and destroy). */
  set(seconds: number): void {
    if (!(seconds >= 0)) {
      throw new RangeError(`AnyEvent::Handle->${this.kind} called with negative timeout (${seconds}), caught`);
    }
    this.#seconds = seconds;
    this.cancel();
    this.check();
  }

  cancel(): void {
    this.#armed?.();
    this.#armed = null;
  }

  /** Re-arm or fire; the body of AnyEvent's `$cb`. */
  check(): void {
    const loop = this.host.loop;
    if (!this.#seconds || !loop || !this.host.hasFh()) {
      this.cancel();
      return;
    }
    const now = loop.now();
    let after = this.activity + this.#seconds - now;
    if (after <= 0) {
      this.activity = now;
      if (!this.host.fire(this.kind)) this.host.timedOut();
      if (this.host.isDestroyed()) return;
      // The callback may have changed or disabled the timeout (and re-armed through set).
      if (!this.#seconds) return;
      after = this.#seconds;
    }
    this.#armed ??= loop.timer(after, () => {
      this.#armed = null;
      this.check();
    });
  }
}
