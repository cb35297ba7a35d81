import type fc from 'fast-check';
import { advance, compare, type Model, type Real } from '../model.js';

/** Virtual time passes with nobody doing anything (linger may give up). */
export class Advance implements fc.Command<Model, Real> {
  constructor(readonly seconds: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.loop.advance(this.seconds);
    advance(m, this.seconds);
    compare(m, r);
  }
  toString(): string {
    return `Advance(${this.seconds})`;
  }
}
