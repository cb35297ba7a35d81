/**
 * Finds where one top-level JSON object or array ends in a growing byte buffer, without
 * decoding it, and without looking at any byte twice while the buffer only grows.
 *
 * Only the structure is tracked: brackets, strings and their escapes. That is enough to
 * find the end (every structural byte is ASCII, and UTF-8 never uses ASCII values inside
 * a multi-byte character, so bytes can be scanned without decoding), and to notice the
 * errors that would make the end impossible to find: a value that does not start with
 * `{` or `[`, and a closing bracket of the wrong kind. Everything else (`[1,,2]`, bad
 * escapes, control characters in strings) is left to the decoder, which sees the value
 * once it is complete.
 */

/** What `scan` found. Offsets are from the start of the buffer given to `scan`. */
export type ScanResult =
  // No complete value yet; call again with the same buffer, grown.
  | { readonly kind: 'more' }
  // A complete value occupies [start, end); bytes before start are whitespace.
  | { readonly kind: 'value'; readonly start: number; readonly end: number }
  // A syntax error: the first `drop` bytes cannot be part of any value.
  | { readonly kind: 'error'; readonly drop: number };

const MORE: ScanResult = { kind: 'more' };

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

export class JsonScanner {
  /** The buffer scanned last time: its first `#pos` bytes are what the state describes. */
  #seen: Buffer | undefined;
  /** Bytes of the buffer already scanned. */
  #pos = 0;
  /** Offset of the value's opening bracket; -1 while skipping leading whitespace. */
  #start = -1;
  /** The closing bracket each open bracket expects, innermost last. */
  #closers: number[] = [];
  #inString = false;
  #escaped = false;

  /** Bytes run through the state machine since construction; for tests of the O(n) claim. */
  examined = 0;

  /** Forget everything; the next `scan` starts at the buffer's first byte. */
  reset(): void {
    this.#seen = undefined;
    this.#pos = 0;
    this.#start = -1;
    this.#closers.length = 0;
    this.#inString = this.#escaped = false;
  }

  /**
   * Scans `buf` from where the last call stopped, when `buf` still begins with the bytes
   * scanned then; from its start otherwise. Resets itself after a value or an error.
   */
  scan(buf: Buffer): ScanResult {
    if (!this.#continues(buf)) this.reset();
    const closers = this.#closers;
    const n = buf.length;
    const from = this.#pos;
    let i = from;
    let inString = this.#inString;
    let escaped = this.#escaped;

    if (this.#start < 0) {
      while (i < n && isSpace(buf[i])) i++;
      if (i < n) {
        const b = buf[i];
        if (b !== LBRACE && b !== LBRACKET) {
          // Drop the whole run up to where a value could start, so that a burst of garbage
          // is one error rather than one per byte (and per read).
          let next = i + 1;
          while (next < n && buf[next] !== LBRACE && buf[next] !== LBRACKET) next++;
          this.examined += next - from;
          this.reset();
          return { kind: 'error', drop: next };
        }
        this.#start = i;
        closers.push(b === LBRACE ? RBRACE : RBRACKET);
        i++;
      }
    }

    for (; i < n; i++) {
      const b = buf[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === LBRACE) closers.push(RBRACE);
      else if (b === LBRACKET) closers.push(RBRACKET);
      else if (b === RBRACE || b === RBRACKET) {
        if (closers.pop() !== b) {
          this.examined += i + 1 - from;
          this.reset();
          return { kind: 'error', drop: i + 1 };
        }
        if (closers.length === 0) {
          const start = this.#start;
          this.examined += i + 1 - from;
          this.reset();
          return { kind: 'value', start, end: i + 1 };
        }
      }
    }

    this.examined += n - from;
    this.#seen = buf;
    this.#pos = n;
    this.#inString = inString;
    this.#escaped = escaped;
    return MORE;
  }

  /**
   * Whether `buf` starts with the `#pos` bytes scanned last time. The same memory at the
   * same offset is (rbuf bytes are written once and never rewritten); otherwise compare,
   * which is a native memcmp. The read buffer moves to new memory only when it doubles, so
   * those comparisons add up to O(n) too. A buffer that was shrunk from the front or
   * replaced fails the test, and is scanned from its start.
   */
  #continues(buf: Buffer): boolean {
    const seen = this.#seen;
    if (!seen || buf.length < this.#pos) return false;
    if (buf.buffer === seen.buffer && buf.byteOffset === seen.byteOffset) return true;
    return buf.subarray(0, this.#pos).equals(seen.subarray(0, this.#pos));
  }
}

function isSpace(b: number): boolean {
  return b === SPACE || b === LF || b === CR || b === TAB;
}
