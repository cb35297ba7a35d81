import type fc from 'fast-check';
import { IoFailure } from '../../../../lib/backend/Backend.js';
import { compare, modelPeerSend, settle, type Model, type Real } from '../model.js';

/** The peer writes `data` (letters, CR and LF) to its socket: what fits is accepted. */
export class PeerSend implements fc.Command<Model, Real> {
  constructor(readonly data: string) {}
  check(m: Readonly<Model>): boolean {
    return !m.peerClosed;
  }
  run(m: Model, r: Real): void {
    const result = r.peer.write([Buffer.from(this.data, 'latin1')]);
    r.loop.runUntilIdle();
    const accepted = result instanceof IoFailure ? -1 : (result ?? 0);
    const expected = modelPeerSend(m, this.data);
    if (accepted !== expected) throw new Error(`the peer's write: model ${expected}, socket ${accepted}`);
    settle(m);
    compare(m, r);
  }
  toString(): string {
    return `PeerSend(${JSON.stringify(this.data)})`;
  }
}
