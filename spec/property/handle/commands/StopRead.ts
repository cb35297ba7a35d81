import type fc from 'fast-check';
import { compare, settle, type Model, type Real } from '../model.js';

/** `stop_read`: remove the read watcher (until start_read, or a push_read/on_read restarts it). */
export class StopRead implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.stop_read();
    r.loop.runUntilIdle();
    if (!m.destroyed) m.reading = false;
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return 'StopRead()';
  }
}
