import { describe, expect, it } from 'vitest';
import { SimLoop } from '../../../../lib/backend/sim/index.js';

describe('SimLoop timers', () => {
  it('fire in order of due time, ties in order of creation', () => {
    const loop = new SimLoop();
    const fired: string[] = [];
    loop.timer(2, () => fired.push('b@2'));
    loop.timer(1, () => fired.push('a@1'));
    loop.timer(2, () => fired.push('c@2'));
    loop.timer(1, () => fired.push('d@1'));
    loop.timer(0, () => fired.push('e@0'));
    loop.advance(5);
    expect(fired).toEqual(['e@0', 'a@1', 'd@1', 'b@2', 'c@2']);
  });

  it('see the clock at their due time, and advance ends at now + seconds', () => {
    const loop = new SimLoop();
    const seen: number[] = [];
    loop.timer(0.25, () => seen.push(loop.now()));
    loop.timer(1.5, () => seen.push(loop.now()));
    loop.advance(1);
    expect(seen).toEqual([0.25]);
    expect(loop.now()).toBe(1);
    loop.advance(1);
    expect(seen).toEqual([0.25, 1.5]);
    expect(loop.now()).toBe(2);
  });

  it('never fire once cancelled, even when cancelled by a timer due at the same instant', () => {
    const loop = new SimLoop();
    const fired: string[] = [];
    const cancelLater = loop.timer(1, () => fired.push('cancelled'));
    loop.timer(1, () => fired.push('kept'));
    loop.timer(0.5, () => cancelLater());
    const cancelFirst = loop.timer(1, () => fired.push('cancelled too'));
    cancelFirst();
    cancelFirst(); // idempotent
    loop.advance(2);
    expect(fired).toEqual(['kept']);
    expect(loop.pendingTimers).toBe(0);
  });

  it('stay ordered through many cancellations (heap rebuilds)', () => {
    const loop = new SimLoop();
    const fired: number[] = [];
    const cancels = [];
    for (let i = 0; i < 500; i++) {
      const at = (i * 37) % 101;
      const cancel = loop.timer(at, () => fired.push(at));
      if (i % 3) cancels.push(cancel);
    }
    for (const cancel of cancels) cancel();
    loop.advance(200);
    expect(fired.length).toBe(167);
    expect(fired).toEqual([...fired].sort((a, b) => a - b));
  });

  it('a zero timer created in an iteration runs in the next one, not the same one', () => {
    const loop = new SimLoop();
    const order: string[] = [];
    loop.post(() => {
      order.push('task');
      loop.timer(0, () => order.push('timer'));
    });
    expect(loop.runOnce()).toBe(true);
    expect(order).toEqual(['task']);
    expect(loop.runOnce()).toBe(true);
    expect(order).toEqual(['task', 'timer']);
    expect(loop.runOnce()).toBe(false);
  });

  it('a zero timer created by a timer runs in the next iteration', () => {
    const loop = new SimLoop();
    const order: string[] = [];
    loop.timer(0, () => {
      order.push('first');
      loop.timer(0, () => order.push('second'));
    });
    loop.runOnce();
    expect(order).toEqual(['first']);
    loop.runOnce();
    expect(order).toEqual(['first', 'second']);
  });
});

describe('SimLoop iterations', () => {
  it('run posted tasks in order, tasks posted during an iteration in the next', () => {
    const loop = new SimLoop();
    const order: number[] = [];
    loop.post(() => {
      order.push(1);
      loop.post(() => order.push(3));
    });
    loop.post(() => order.push(2));
    loop.runOnce();
    expect(order).toEqual([1, 2]);
    loop.runUntilIdle();
    expect(order).toEqual([1, 2, 3]);
  });

  it('runOnce returns false when nothing is runnable', () => {
    const loop = new SimLoop();
    expect(loop.runOnce()).toBe(false);
    loop.timer(1, () => {});
    expect(loop.runOnce()).toBe(false);
    let ready = false;
    loop.watch(
      () => ready,
      () => (ready = false),
    );
    expect(loop.runOnce()).toBe(false);
    ready = true;
    expect(loop.runOnce()).toBe(true);
    expect(loop.runOnce()).toBe(false);
  });

  it('a level-triggered watcher runs once per iteration while its condition holds', () => {
    const loop = new SimLoop();
    let remaining = 3;
    let calls = 0;
    loop.watch(
      () => remaining > 0,
      () => {
        calls++;
        remaining--;
      },
    );
    loop.runOnce();
    expect(calls).toBe(1);
    loop.runUntilIdle();
    expect(calls).toBe(3);
  });

  it('refuses to be driven from its own callbacks', () => {
    const loop = new SimLoop();
    let error: unknown;
    loop.post(() => {
      try {
        loop.runOnce();
      } catch (e) {
        error = e;
      }
    });
    loop.runUntilIdle();
    expect(String(error)).toMatch(/inside a loop callback/);
  });

  it('stays usable after a callback throws', () => {
    const loop = new SimLoop();
    const order: string[] = [];
    loop.post(() => {
      throw new Error('boom');
    });
    loop.post(() => order.push('after'));
    expect(() => loop.runOnce()).toThrow('boom');
    loop.runUntilIdle();
    expect(order).toEqual(['after']);
  });

  it('throws on a livelock instead of spinning forever', () => {
    const loop = new SimLoop({ maxIterationsPerInstant: 1000 });
    let calls = 0;
    loop.watch(
      () => true,
      () => calls++,
    );
    // The predicate would hold after 5000 iterations, but 1000 at one instant is the limit.
    expect(() => loop.runUntil(() => calls >= 5000, 1)).toThrow(/livelocked/);
    expect(calls).toBe(1000);
    expect(() => loop.advance(1)).toThrow(/livelocked/);
  });

  it('runUntilIdle has its own iteration limit', () => {
    const loop = new SimLoop();
    let remaining = 500;
    loop.watch(
      () => remaining > 0,
      () => remaining--,
    );
    expect(() => loop.runUntilIdle(100)).toThrow(/livelocked/);
    loop.runUntilIdle(1000);
    expect(remaining).toBe(0);
  });

  it('counts the livelock limit per virtual instant, so long busy scenarios are fine', () => {
    const loop = new SimLoop({ maxIterationsPerInstant: 10 });
    let ticks = 0;
    const tick = () => {
      if (++ticks < 100) loop.timer(0.001, tick);
    };
    loop.timer(0.001, tick);
    loop.advance(1);
    expect(ticks).toBe(100);
  });
});

describe('SimLoop.runUntil', () => {
  it('returns true as soon as the predicate holds, jumping over idle time', () => {
    const loop = new SimLoop();
    let done = false;
    loop.timer(3, () => (done = true));
    loop.timer(4, () => {});
    expect(loop.runUntil(() => done, 10)).toBe(true);
    expect(loop.now()).toBe(3);
  });

  it('returns false when the predicate would need more than maxSeconds', () => {
    const loop = new SimLoop();
    let done = false;
    loop.timer(3, () => (done = true));
    expect(loop.runUntil(() => done, 2)).toBe(false);
    expect(loop.now()).toBe(2);
    expect(done).toBe(false);
  });

  it('detects a deadlock at once: idle, no timers, predicate false', () => {
    const loop = new SimLoop();
    let iterations = 0;
    loop.watch(
      () => iterations < 5,
      () => iterations++,
    );
    expect(loop.runUntil(() => false, 1e9)).toBe(false);
    expect(iterations).toBe(5);
    expect(loop.now()).toBe(0);
  });
});

describe('SimLoop watcher list', () => {
  it('keeps registration order while dropping cancelled watchers and adding new ones mid-iteration', () => {
    const loop = new SimLoop();
    const order: string[] = [];
    const stops: Record<string, () => void> = {};
    const add = (name: string, extra?: () => void) => {
      stops[name] = loop.watch(
        () => true,
        () => {
          order.push(name);
          extra?.();
        },
      );
    };
    add('a', () => {
      if (!stops.e) {
        stops.b();
        add('e');
      }
    });
    add('b');
    add('c', () => stops.c());
    add('d');
    loop.runOnce();
    expect(order).toEqual(['a', 'c', 'd']);
    order.length = 0;
    loop.runOnce();
    expect(order).toEqual(['a', 'd', 'e']);
    expect(loop.activeWatchers).toBe(3);
  });

  it('stays consistent when a watcher throws after a cancelled one was dropped', () => {
    const loop = new SimLoop();
    const calls: string[] = [];
    const stopA = loop.watch(
      () => true,
      () => calls.push('a'),
    );
    let thrown = false;
    loop.watch(
      () => true,
      () => {
        calls.push('b');
        if (!thrown) {
          thrown = true;
          throw new Error('boom');
        }
      },
    );
    loop.watch(
      () => true,
      () => calls.push('c'),
    );
    stopA();
    expect(() => loop.runOnce()).toThrow('boom');
    calls.length = 0;
    loop.runOnce();
    expect(calls).toEqual(['b', 'c']);
    expect(loop.activeWatchers).toBe(2);
  });

  it('drops a watcher once its owner is closed, even when that happens earlier in the same iteration', () => {
    const loop = new SimLoop();
    const owner = { closed: false };
    const calls: string[] = [];
    loop.watch(
      () => true,
      () => {
        calls.push('closer');
        owner.closed = true;
      },
    );
    loop.watch(
      () => true,
      () => calls.push('owned'),
      owner,
    );
    loop.runOnce();
    loop.runOnce();
    expect(calls).toEqual(['closer', 'closer']);
    expect(loop.activeWatchers).toBe(1);
  });
});

describe('SimLoop.stats', () => {
  it('counts the callbacks, iterations and instants it ran', () => {
    const loop = new SimLoop();
    let left = 3;
    loop.watch(
      () => left > 0,
      () => left--,
    );
    loop.post(() => {});
    loop.timer(1, () => {});
    loop.timer(2, () => {});
    loop.timer(2, () => {})();
    loop.advance(5);
    expect(loop.stats).toEqual({ iterations: 5, timers: 2, tasks: 1, watcherCalls: 3, instants: 3 });
  });
});
