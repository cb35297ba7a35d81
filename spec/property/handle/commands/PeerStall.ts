import type fc from 'fast-check';
import { advance, compare, modelPeerRead, peerRead, settle, type Model, type Real } from '../model.js';

/** The peer reads nothing for `seconds` of virtual time, then drains everything it can. */
export class PeerStall implements fc.Command<Model, Real> {
  constructor(readonly seconds: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.loop.advance(this.seconds);
    advance(m, this.seconds);
    if (!m.peerClosed) {
      while (r.peer.available() > 0) {
        peerRead(r, r.peer.available());
        r.loop.runUntilIdle();
      }
      while (m.toPeer > 0) {
        modelPeerRead(m, m.toPeer);
        settle(m);
      }
    }
    compare(m, r);
  }
  toString(): string {
    return `PeerStall(${this.seconds})`;
  }
}
