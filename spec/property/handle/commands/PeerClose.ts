import type fc from 'fast-check';
import { compare, modelPeerClose, settle, type Model, type Real } from '../model.js';

/**
 * The peer half-closes (`shutdown`: the handle reads EOF after the data) or closes (a reset
 * for the handle if the peer left data unread; the handle's next write fails with EPIPE).
 * A close waits until the handle has nothing queued for writing: otherwise the handle's
 * read watcher and write watcher would race to report the first error, an order the model
 * does not predict.
 */
export class PeerClose implements fc.Command<Model, Real> {
  constructor(readonly kind: 'shutdown' | 'close') {}
  check(m: Readonly<Model>): boolean {
    return !m.peerClosed && (this.kind === 'shutdown' ? !m.peerShut : m.wbuf === 0);
  }
  run(m: Model, r: Real): void {
    if (this.kind === 'shutdown') r.peer.shutdown();
    else r.peer.close();
    r.loop.runUntilIdle();
    modelPeerClose(m, this.kind);
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `PeerClose(${this.kind})`;
  }
}
