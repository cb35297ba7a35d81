import type fc from 'fast-check';
import { compare, settle, startRead, type Model, type Real } from '../model.js';

/** `start_read`: install the read watcher (unless EOF was read). */
export class StartRead implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.start_read();
    r.loop.runUntilIdle();
    startRead(m);
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return 'StartRead()';
  }
}
