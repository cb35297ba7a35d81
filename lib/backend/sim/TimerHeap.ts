/** One pending one-shot timer; `cb` is cleared when it is cancelled or has fired. */
export interface TimerEntry {
  readonly at: number;
  /** Creation order: breaks ties between timers due at the same instant. */
  readonly seq: number;
  cb: (() => void) | undefined;
}

/**
 * A binary min-heap of timers ordered by (due time, creation order). Cancelled timers stay
 * in the heap until they reach the top (lazy deletion), which keeps cancel O(1); the heap is
 * rebuilt when the dead outnumber the live, so cancel-heavy users cannot make it grow.
 */
export class TimerHeap {
  #items: TimerEntry[] = [];
  #live = 0;

  /** Timers neither fired nor cancelled. */
  get live(): number {
    return this.#live;
  }

  push(entry: TimerEntry): void {
    const items = this.#items;
    items.push(entry);
    this.#live++;
    this.#siftUp(items.length - 1);
  }

  /** Marks an entry cancelled; it is skipped when it reaches the top. */
  cancel(entry: TimerEntry): void {
    if (!entry.cb) return;
    entry.cb = undefined;
    this.#live--;
    if (this.#items.length > 64 && this.#items.length > 2 * this.#live) this.#rebuild();
  }

  /** The earliest live timer, without removing it. */
  peek(): TimerEntry | undefined {
    this.#dropDead();
    return this.#items[0];
  }

  /** Removes and returns the earliest live timer; the caller runs it. */
  pop(): TimerEntry | undefined {
    this.#dropDead();
    const top = this.#items[0];
    if (!top) return undefined;
    this.#removeTop();
    this.#live--;
    return top;
  }

  #dropDead(): void {
    while (this.#items.length && !this.#items[0].cb) this.#removeTop();
  }

  #removeTop(): void {
    const items = this.#items;
    const last = items.pop()!;
    if (items.length) {
      items[0] = last;
      this.#siftDown(0);
    }
  }

  #rebuild(): void {
    this.#items = this.#items.filter((entry) => entry.cb);
    for (let i = (this.#items.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #siftUp(i: number): void {
    const items = this.#items;
    const entry = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = entry;
  }

  #siftDown(i: number): void {
    const items = this.#items;
    const n = items.length;
    const entry = items[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(items[child + 1], items[child])) child++;
      if (!before(items[child], entry)) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = entry;
  }
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
