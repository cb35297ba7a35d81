import type fc from 'fast-check';
import { compare, drain, onReadCallback, settle, type Model, type OnReadMode, type Real } from '../model.js';

/**
 * `on_read(cb)` with a callback that consumes up to `consume` bytes of rbuf (Infinity: all,
 * 0: none), or `on_read(undef)` (mode null).
 */
export class OnReadChange implements fc.Command<Model, Real> {
  constructor(readonly mode: OnReadMode | null) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.on_read(this.mode ? onReadCallback(r, this.mode) : null);
    r.loop.runUntilIdle();
    if (!m.destroyed) {
      m.onRead = this.mode ?? undefined;
      if (this.mode) drain(m);
    }
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `OnReadChange(${this.mode ? `consume ${this.mode.consume}` : 'null'})`;
  }
}
