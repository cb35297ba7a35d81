import type fc from 'fast-check';
import { chunkCallback, compare, drain, settle, type Model, type Real } from '../model.js';

/** `unshift_read(chunk => n, cb)`: `n` bytes, at the front of the read queue. */
export class UnshiftRead implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.unshift_read('chunk', this.n, chunkCallback(r));
    r.loop.runUntilIdle();
    if (!m.destroyed) {
      m.queue.unshift({ kind: 'chunk', n: this.n });
      drain(m);
    }
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `UnshiftRead(${this.n})`;
  }
}
