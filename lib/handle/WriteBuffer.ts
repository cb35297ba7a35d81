/**
 * `wbuf`: bytes queued by `push_write` and not yet accepted by the kernel.
 *
 * A list of Buffers plus a byte count (as CPython's transports and ws keep theirs), so that
 * queueing is O(1), `length` is O(1), and a write hands the whole list to `writev` without
 * concatenating. Every byte enters through `append` and leaves through `release`; nothing
 * else touches the count.
 */
export class WriteBuffer {
  #chunks: Buffer[] = [];
  /** Index of the first chunk still (partly) queued. */
  #head = 0;
  /** Bytes of `#chunks[#head]` already written. */
  #offset = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  append(data: Buffer): void {
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#length += data.length;
  }

  /**
   * The queued bytes, in order, as views; with `atLeast`, only the first chunks that hold
   * that many bytes (for `Fh.write`, which writes a prefix anyway: an unbounded wbuf of
   * thousands of chunks is not copied out on every write attempt).
   */
  pending(atLeast = Infinity): Buffer[] {
    if (this.#length === 0) return [];
    let end = this.#chunks.length;
    if (atLeast < this.#length) {
      let n = -this.#offset;
      for (end = this.#head; end < this.#chunks.length && n < atLeast; end++) n += this.#chunks[end].length;
    }
    const out = this.#chunks.slice(this.#head, end);
    if (this.#offset) out[0] = out[0].subarray(this.#offset);
    return out;
  }

  /** Forget the first `n` bytes: the kernel has taken them. */
  release(n: number): void {
    if (n >= this.#length) {
      this.clear();
      return;
    }
    this.#length -= n;
    let left = n + this.#offset;
    while (left > 0 && left >= this.#chunks[this.#head].length) {
      left -= this.#chunks[this.#head].length;
      this.#head++;
    }
    this.#offset = left;
    // Drop the consumed prefix of the list now and then, not on every write.
    if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Take everything out (for linger, which keeps writing after the handle is gone). */
  drainAll(): Buffer[] {
    const out = this.pending();
    this.clear();
    return out;
  }

  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#offset = 0;
    this.#length = 0;
  }

  /** The queued bytes as one Buffer: O(length), for inspection only. */
  toBuffer(): Buffer {
    return Buffer.concat(this.pending(), this.#length);
  }
}

/**
 * What `hdl.wbuf` returns: a read-only view of the write queue. `length` is O(1), as Perl's
 * `length $hdl->{wbuf}`; the bytes themselves are concatenated only when asked for.
 */
export class WbufView {
  readonly #source: WriteBuffer;

  constructor(source: WriteBuffer) {
    this.#source = source;
  }

  get length(): number {
    return this.#source.length;
  }

  toBuffer(): Buffer {
    return this.#source.toBuffer();
  }

  toString(encoding: BufferEncoding = 'latin1'): string {
    return this.toBuffer().toString(encoding);
  }
}
