import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The garbage collector as a function: `global.gc` when the process runs with
 * `--expose-gc` (the soak script), otherwise the same function taken from a fresh V8
 * context after turning the flag on at run time (how jest-leak-detector does it). Vitest's
 * workers do not get `--expose-gc`, and this needs no change to its configuration.
 */
export function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  if (typeof gc !== 'function') throw new Error('cannot get at the garbage collector (run node with --expose-gc)');
  return gc as () => void;
}

/** What `RetentionTracker.settle` found for one label. */
export interface RetentionCount {
  registered: number;
  collected: number;
  /** registered − collected: still reachable (or not yet reported as collected). */
  retained: number;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Counts, per label, how many of the objects it was shown have been garbage collected,
 * with a FinalizationRegistry. It holds no strong reference to them.
 */
export class RetentionTracker {
  readonly #registered = new Map<string, number>();
  readonly #collected = new Map<string, number>();
  readonly #registry = new FinalizationRegistry<string>((label) => {
    this.#collected.set(label, (this.#collected.get(label) ?? 0) + 1);
  });
  readonly #gc = gcFunction();

  /** Watches `object` (once per object; the caller makes sure of that). */
  track(object: object, label: string): void {
    this.#registry.register(object, label);
    this.#registered.set(label, (this.#registered.get(label) ?? 0) + 1);
  }

  /**
   * Collects garbage until the finalizers stop reporting (they run as tasks after a
   * collection, so each round yields to the event loop), and returns the counts per label.
   */
  async settle(maxRounds = 20): Promise<Record<string, RetentionCount>> {
    let last = -1;
    let stable = 0;
    for (let round = 0; round < maxRounds && stable < 2; round++) {
      this.#gc();
      await tick();
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
      const total = [...this.#collected.values()].reduce((a, b) => a + b, 0);
      stable = total === last ? stable + 1 : 0;
      last = total;
    }
    const counts: Record<string, RetentionCount> = {};
    for (const [label, registered] of this.#registered) {
      const collected = this.#collected.get(label) ?? 0;
      counts[label] = { registered, collected, retained: registered - collected };
    }
    return counts;
  }

  /** Current heap use after a full collection, in bytes. */
  heapUsed(): number {
    this.#gc();
    this.#gc();
    return process.memoryUsage().heapUsed;
  }
}
