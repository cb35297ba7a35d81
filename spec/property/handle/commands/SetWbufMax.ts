import type fc from 'fast-check';
import { compare, settle, type Model, type Real } from '../model.js';

/** `wbuf_max(max)` (null: no limit). Checked at the next push_write. */
export class SetWbufMax implements fc.Command<Model, Real> {
  constructor(readonly max: number | null) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.hdl.wbuf_max(this.max);
    r.loop.runUntilIdle();
    if (!m.destroyed) m.wbufMax = this.max ?? undefined;
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `SetWbufMax(${this.max})`;
  }
}
