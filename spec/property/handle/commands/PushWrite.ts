import type fc from 'fast-check';
import { patternBytes } from '../../../../lib/backend/sim/index.js';
import { compare, pushWrite, settle, type Model, type Real } from '../model.js';

/** `push_write` of `n` bytes of the test pattern (continuing where the last push stopped). */
export class PushWrite implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.push_write(patternBytes(m.pushed, this.n));
    r.loop.runUntilIdle();
    pushWrite(m, this.n);
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `PushWrite(${this.n})`;
  }
}
