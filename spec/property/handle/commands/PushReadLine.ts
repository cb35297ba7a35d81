import type fc from 'fast-check';
import { compare, drain, lineCallback, settle, type Model, type Real } from '../model.js';

/** `push_read(line => cb)`: one line (default eol, `\r?\n`), at the back of the read queue. */
export class PushReadLine implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.push_read('line', lineCallback(r));
    r.loop.runUntilIdle();
    if (!m.destroyed) {
      m.queue.push({ kind: 'line' });
      drain(m);
    }
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return 'PushReadLine()';
  }
}
