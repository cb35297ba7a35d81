import type fc from 'fast-check';
import { compare, pushShutdown, settle, type Model, type Real } from '../model.js';

/** `push_shutdown`: shut the write side down once wbuf is written out (replaces on_drain). */
export class PushShutdown implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.push_shutdown();
    r.loop.runUntilIdle();
    pushShutdown(m);
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return 'PushShutdown()';
  }
}
