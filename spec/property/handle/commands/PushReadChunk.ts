import type fc from 'fast-check';
import { chunkCallback, compare, drain, settle, type Model, type Real } from '../model.js';

/** `push_read(chunk => n, cb)`: `n` bytes, at the back of the read queue. */
export class PushReadChunk implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.push_read('chunk', this.n, chunkCallback(r));
    r.loop.runUntilIdle();
    if (!m.destroyed) {
      m.queue.push({ kind: 'chunk', n: this.n });
      drain(m);
    }
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `PushReadChunk(${this.n})`;
  }
}
