import type fc from 'fast-check';
import { compare, modelPeerRead, peerRead, settle, type Model, type Real } from '../model.js';

/** The peer reads up to `n` bytes (or sees EOF, or a reset, past the data). */
export class PeerRead implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check(m: Readonly<Model>): boolean {
    return !m.peerClosed;
  }
  run(m: Model, r: Real): void {
    peerRead(r, this.n);
    r.loop.runUntilIdle();
    modelPeerRead(m, this.n);
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `PeerRead(${this.n})`;
  }
}
