/**
 * `rbuf`: the bytes read and not yet consumed.
 *
 * Perl's rbuf is a string that grows at the end (`sysread … length $rbuf`) and shrinks at
 * the front (`substr $rbuf, 0, $n, ""`), which perl does in O(1) with its offset trick.
 * Here the bytes live in a backing Buffer, `[start, end)` is live, and `(end, capacity)` is
 * spare room for the next read. Two rules keep this both fast and safe:
 *
 * - Every byte of a backing Buffer is written exactly once. Appends only go into the spare
 *   room; when that runs out a fresh backing Buffer is allocated. So a `subarray` handed to
 *   user code (a chunk, a line, `hdl.rbuf` itself) never changes under the user's feet,
 *   and read types can pass data out without copying. (A reader may rewrite bytes it
 *   consumes itself when `owned`: websocket_proxy unmasks payloads in place.)
 * - A fresh backing is twice the live size after the append that needed it, so the copying
 *   is amortised O(1) per byte, whatever the read sizes and however long a reader waits for
 *   its data: 64 KiB reads of 128 KiB frames copy each byte 1.26 times on average (sizing
 *   the backing to twice the live size before the append, as this did first, copied 2.03
 *   times, a full backing being outgrown by the very next read).
 *
 * A file handle that can read into memory it is given (Fh.readInto: the Node backend's
 * sockets) gets the spare room itself, as Perl's sysread appends to rbuf: the read lands
 * after the live bytes and `append` only moves `end`, so a frame or a line split across
 * reads is whole without any copy (websocket_proxy's client frames: 16% of the relay's CPU
 * was that copy).
 */
export class ReadBuffer {
  #backing: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  /** The backing was allocated here (#regrow), not adopted from a read or an assignment. */
  #owned = false;
  /** `[#end, #lentEnd)` of the backing is lent to the file handle for a read (`spare`). */
  #lentEnd = 0;

  /** Bytes currently buffered. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** The live bytes, as a view: valid for as long as the caller keeps it. */
  view(): Buffer {
    return this.#backing.subarray(this.#start, this.#end);
  }

  /**
   * Append bytes just read. Bytes that already lie right after the live ones (a read into
   * `spare`, or the rest of a read taken in two) are appended in place; otherwise the buffer
   * takes ownership of `data` when empty (no copy), or copies it after the live bytes.
   */
  append(data: Buffer): void {
    if (data.length === 0) return;
    const backing = this.#backing;
    if (data.buffer === backing.buffer && data.byteOffset === backing.byteOffset + this.#end) {
      if (this.#owned) this.#end += data.length;
      else {
        this.#backing = Buffer.from(backing.buffer, backing.byteOffset, this.#end + data.length);
        this.#end += data.length;
      }
      // The rest of the lent room may still hold bytes the file handle read and queued.
      if (this.#end >= this.#lentEnd) this.#lentEnd = 0;
      return;
    }
    const live = this.#end - this.#start;
    if (live === 0) {
      this.#backing = data;
      this.#owned = false;
      this.#start = 0;
      this.#end = data.length;
      this.#lentEnd = 0;
      return;
    }
    // Never copy into room lent for a read still to come.
    if (this.#backing.length - this.#end < data.length || this.#lentEnd > this.#end) this.#regrow(live + data.length);
    data.copy(this.#backing, this.#end);
    this.#end += data.length;
  }

  /**
   * At least `size` bytes of room right after the live bytes, in a backing allocated here,
   * lent to the file handle to read into (Fh.readInto): the read then lands where `append`
   * would have copied it. Regrowing for it copies only the live bytes.
   */
  spare(size: number): Buffer {
    if (!this.#owned || this.#backing.length - this.#end < size) this.#regrow(this.length + size);
    this.#lentEnd = this.#end + size;
    return this.#backing.subarray(this.#end, this.#lentEnd);
  }

  /** Drop the first `n` bytes (`substr $rbuf, 0, $n, ""`). */
  consume(n: number): void {
    this.#start += Math.min(n, this.length);
  }

  /** Take the first `n` bytes out as a view (`substr $rbuf, 0, $n, ""` with the result). */
  take(n: number): Buffer {
    const end = this.#start + Math.min(n, this.length);
    const out = this.#backing.subarray(this.#start, end);
    this.#start = end;
    return out;
  }

  /**
   * Assignment to `rbuf`. AnyEvent allows only removing bytes from the front; a suffix of
   * the current view is taken in O(1). Anything else is adopted as it is (Perl would let
   * you do that too, with "hard-to-track-down bugs"); `strictSuffix` makes it throw.
   */
  assign(next: Buffer, strictSuffix: boolean): void {
    if (
      next.buffer === this.#backing.buffer &&
      next.byteOffset >= this.#backing.byteOffset + this.#start &&
      next.byteOffset + next.length === this.#backing.byteOffset + this.#end
    ) {
      this.#start = next.byteOffset - this.#backing.byteOffset;
      return;
    }
    if (strictSuffix && next.length !== 0) {
      throw new Error('rbuf may only be shortened by removing bytes from its front (assign a suffix of hdl.rbuf)');
    }
    this.#backing = next;
    this.#owned = false;
    this.#start = 0;
    this.#end = next.length;
    this.#lentEnd = 0;
  }

  /**
   * Whether the live bytes lie in a Buffer allocated here, which nothing outside holds but
   * the views this buffer handed out; false when they are a Buffer adopted as it was read
   * (the file handle's, which on the simulated backend is still its writer's) or assigned.
   */
  get owned(): boolean {
    return this.#owned;
  }

  /** Bytes held in memory for this buffer, consumed prefix and spare room included. */
  get footprint(): number {
    return this.#backing.length;
  }

  #regrow(needed: number): void {
    const live = this.#end - this.#start;
    const next = Buffer.allocUnsafe(Math.max(needed * 2, 4096));
    this.#backing.copy(next, 0, this.#start, this.#end);
    this.#backing = next;
    this.#owned = true;
    this.#start = 0;
    this.#end = live;
    this.#lentEnd = 0;
  }

}
