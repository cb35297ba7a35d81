import { parseClosePayload, type ClosePayload } from './closeCodes.js';
import { frameError, type FrameError, type FrameErrorCode } from './errors.js';
import { MAX_CONTROL_PAYLOAD, OPCODE, isControlOpcode, type Opcode } from './frame.js';
import { isZeroMask, unmask, unmaskCopy } from './unmask.js';

/** Perl: `my $max_payload_size = 128*1024;` in websocket_proxy. */
export const DEFAULT_MAX_PAYLOAD = 128 * 1024;

/**
 * Where the parser is in the current frame. Each state waits for a fixed number of bytes
 * counted from the frame's first byte:
 * - `'header'`: 2 (FIN, RSV, opcode, mask bit, 7-bit length);
 * - `'len16'`: 4 (16-bit length); `'len64'`: 10 (64-bit length);
 * - `'mask'`: the length field's end + 4;
 * - `'payload'`: the whole frame;
 * - `'closed'`: terminal, after an error; every later call returns that error.
 */
export type ParserState = 'header' | 'len16' | 'len64' | 'mask' | 'payload' | 'closed';

export interface FrameParserOptions {
  /** The largest payload accepted, checked as soon as a length is read. Default 128 KiB. */
  maxPayload?: number;
  /**
   * true (default, client-to-server): an unmasked frame is `WS_UNMASKED`. false: the mask
   * bit is optional, and a masked frame is unmasked all the same.
   */
  requireMask?: boolean;
  /**
   * false (default, as the original): FIN clear is `WS_FRAGMENTED` and a continuation
   * frame is `WS_BAD_OPCODE`. true: fragments are accepted and returned one by one (not
   * reassembled; `maxPayload` applies per frame), their order is checked, and control
   * frames may come between them.
   */
  allowFragments?: boolean;
  /**
   * false (default): a masked payload is unmasked into a fresh Buffer and the input is
   * never written. true: it is unmasked where it lies and returned as a view, saving an
   * allocation and a copy per frame; only for a caller that owns the input and holds no
   * other view of the masked bytes (they are consumed with the frame anyway).
   */
  unmaskInPlace?: boolean;
}

/** One complete frame. */
export interface Frame {
  readonly opcode: Opcode;
  /** Always true unless `allowFragments`. */
  readonly fin: boolean;
  /** Whether the frame carried a mask (the all-zero key included). */
  readonly masked: boolean;
  /**
   * The unmasked payload. A view into the input when the frame was unmasked, had the
   * all-zero key (which the original skips "to increase performance"), or
   * `unmaskInPlace` is set; otherwise a fresh Buffer.
   */
  readonly payload: Buffer;
  /** Close frames only: the status code and reason, already validated. */
  readonly close?: ClosePayload;
}

/**
 * What {@link FrameParser.next} found:
 * - `'frame'`: a complete frame; the caller drops exactly `consumed` bytes from the front
 *   of its buffer before the next call;
 * - `'more'`: no complete frame yet, nothing to drop; the next step needs the buffer to
 *   hold `need` bytes from `offset` (the current frame's first byte);
 * - `'error'`: the stream is refused; the parser is closed for good.
 */
export type Step =
  | { readonly kind: 'frame'; readonly frame: Frame; readonly consumed: number }
  | { readonly kind: 'more'; readonly need: number }
  | { readonly kind: 'error'; readonly error: FrameError };

/** What {@link FrameParser.parse} found in one buffer. */
export interface ParseResult {
  readonly frames: Frame[];
  /** Bytes of whole frames, to drop from the front of the buffer; never part of a frame. */
  readonly consumed: number;
  readonly error?: FrameError;
}

/**
 * A websocket frame parser over a buffer the caller owns, such as AnyEvent's `rbuf`. Pure:
 * no socket, no timer, never throws on bad input.
 *
 * The caller keeps the bytes; the parser reports whole frames and how many bytes they
 * took, and the caller drops exactly those from the front (`hdl.rbuf =
 * hdl.rbuf.subarray(consumed)`) and passes the grown buffer again when more arrive. So a
 * partial frame always stays in the buffer. Between calls the parser remembers how far
 * it validated the current frame (its state, its length and mask position), so a large
 * frame arriving in many reads is validated once, not re-parsed on every read as the
 * original does, and every check is made the moment its bytes are there: FIN, RSV,
 * opcode, mask bit and control-frame rules on the first 2 bytes, the size limit as soon
 * as the length field is complete, before any payload is waited for.
 *
 * Perl: the `$hdlreader` on_read callback of pveproxy's websocket_proxy, which dies with
 * the messages kept here; the hot loop over rbuf looks like this:
 *
 * @example
 * hdl.on_read((h) => {
 *   for (;;) {
 *     const rbuf = h.rbuf;
 *     const step = parser.next(rbuf);
 *     if (step.kind === 'more') return;
 *     if (step.kind === 'error') return closeSession(step.error);
 *     h.rbuf = rbuf.subarray(step.consumed); // consume before acting, as Perl does
 *     handle(step.frame);
 *     if (h.destroyed) return;
 *   }
 * });
 */
export class FrameParser {
  readonly #maxPayload: number;
  readonly #requireMask: boolean;
  readonly #allowFragments: boolean;
  readonly #inPlace: boolean;

  #state: ParserState = 'header';
  /** Set when the state became `'closed'`; returned by every later call. */
  #error: FrameError | undefined;

  // The frame being parsed; meaningful once 'header' has passed, reset by the next one.
  /** Its first two bytes, kept to check that the caller passed the same frame again. */
  #b0 = 0;
  #b1 = 0;
  #opcode: Opcode = OPCODE.BINARY;
  #fin = true;
  #masked = false;
  #payloadLength = 0;
  /** Bytes of the frame validated so far: where the next state's field starts. */
  #cursor = 0;
  /** Where the masking key starts, counted from the frame's first byte. */
  #maskAt = 0;

  /** allowFragments only: a data frame without FIN came, and its final fragment has not. */
  #inMessage = false;

  /** Throws on invalid options (a programmer mistake). */
  constructor(options: FrameParserOptions = {}) {
    const max = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    // A safe integer, so that a 64-bit length above 2^53-1 is always "too large".
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`maxPayload must be a safe integer >= 0, got ${max}`);
    }
    this.#maxPayload = max;
    this.#requireMask = options.requireMask ?? true;
    this.#allowFragments = options.allowFragments ?? false;
    this.#inPlace = options.unmaskInPlace ?? false;
  }

  /** The current state (for tests and logs). */
  get state(): ParserState {
    return this.#state;
  }

  /** The error that closed the parser, if one did. */
  get error(): FrameError | undefined {
    return this.#error;
  }

  /**
   * Takes one step over `buf`, whose byte `offset` must be the first byte not yet
   * consumed: the start of the current frame. Returns a complete frame with the bytes it
   * took, or `'more'` with nothing taken, or the error that closed the parser.
   *
   * Between a `'more'` and the next call the caller may append to the buffer, copy it, or
   * replace it with one holding the same bytes, but must not drop any of them. Passing a
   * different frame is a programmer mistake and throws.
   *
   * `unmaskInPlace` overrides the option of that name for this call (a caller that owns
   * some of its buffers and not others).
   *
   * Errors: every {@link FrameErrorCode}.
   */
  next(buf: Buffer, offset = 0, unmaskInPlace = this.#inPlace): Step {
    const have = buf.length - offset;
    if (this.#state !== 'header' && this.#state !== 'closed') this.#checkResume(buf, offset, have);

    for (;;) {
      switch (this.#state) {
        case 'header': {
          if (have < 2) return more(2);
          const error = this.#readHeader(buf[offset], buf[offset + 1]);
          if (error) return error;
          continue;
        }
        case 'len16': {
          if (have < 4) return more(4);
          const error = this.#setLength(buf.readUInt16BE(offset + 2), 4);
          if (error) return error;
          continue;
        }
        case 'len64': {
          if (have < 10) return more(10);
          const high = buf.readUInt32BE(offset + 2);
          const low = buf.readUInt32BE(offset + 6);
          // RFC 6455 5.2: "the most significant bit MUST be 0".
          if (high >= 0x8000_0000) return this.#fail('WS_BAD_LENGTH');
          if (high > 0x1f_ffff) {
            // Above 2^53-1: not a safe integer, so never a length this parser accepts
            // (maxPayload is at most 2^53-1); the message still names it exactly.
            return this.#fail('WS_TOO_LARGE', (BigInt(high) << 32n) | BigInt(low));
          }
          const error = this.#setLength(high * 0x1_0000_0000 + low, 10);
          if (error) return error;
          continue;
        }
        case 'mask': {
          if (have < this.#cursor + 4) return more(this.#cursor + 4);
          this.#maskAt = this.#cursor;
          this.#cursor += 4;
          this.#state = 'payload';
          continue;
        }
        case 'payload': {
          const size = this.#cursor + this.#payloadLength;
          if (have < size) return more(size);
          return this.#emit(buf, offset, size, unmaskInPlace);
        }
        case 'closed':
          return { kind: 'error', error: this.#error as FrameError };
        default:
          return assertNever(this.#state);
      }
    }
  }

  /**
   * Every complete frame at the front of `buf`, as a batch: `consumed` counts the bytes of
   * those frames, to drop before the next call; the tail (a partial frame) stays. With an
   * error, `frames` holds the good frames before the bad one and the parser is closed.
   * Same contract on `buf` as {@link next}.
   *
   * Errors: every {@link FrameErrorCode}.
   */
  parse(buf: Buffer): ParseResult {
    const frames: Frame[] = [];
    let consumed = 0;
    for (;;) {
      const step = this.next(buf, consumed);
      if (step.kind === 'more') return { frames, consumed };
      if (step.kind === 'error') return { frames, consumed, error: step.error };
      frames.push(step.frame);
      consumed += step.consumed;
    }
  }

  /** The checks the first two bytes allow, in the original's order (FIN, RSV, mask), opcode rules between. */
  #readHeader(b0: number, b1: number): Step | undefined {
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const control = isControlOpcode(opcode);

    if (!fin && !this.#allowFragments) return this.#fail('WS_FRAGMENTED');
    if ((b0 & 0x70) !== 0) return this.#fail('WS_RSV');
    if (!isKnownOpcode(opcode)) return this.#fail('WS_BAD_OPCODE', opcode);
    if (control) {
      if (!fin) return this.#fail('WS_CONTROL_FRAGMENTED');
    } else if (opcode === OPCODE.CONTINUATION) {
      if (!this.#allowFragments) return this.#fail('WS_BAD_OPCODE', opcode);
      if (!this.#inMessage) return this.#fail('WS_BAD_CONTINUATION');
    } else if (this.#inMessage) {
      // A new text or binary frame before the fragmented message's final fragment.
      return this.#fail('WS_BAD_CONTINUATION');
    }

    const masked = (b1 & 0x80) !== 0;
    if (!masked && this.#requireMask) return this.#fail('WS_UNMASKED');
    const length7 = b1 & 0x7f;
    // 126 and 127 announce a longer length field: a control frame may not have one.
    if (control && length7 > MAX_CONTROL_PAYLOAD) return this.#fail('WS_CONTROL_TOO_LONG');

    if (!control) this.#inMessage = !fin;
    this.#b0 = b0;
    this.#b1 = b1;
    this.#opcode = opcode;
    this.#fin = fin;
    this.#masked = masked;
    this.#cursor = 2;
    if (length7 === 126) this.#state = 'len16';
    else if (length7 === 127) this.#state = 'len64';
    else return this.#setLength(length7, 2);
    return undefined;
  }

  /** The length is known: check it now, before waiting for the payload. */
  #setLength(length: number, fieldEnd: number): Step | undefined {
    if (length > this.#maxPayload) return this.#fail('WS_TOO_LARGE', length);
    this.#payloadLength = length;
    this.#cursor = fieldEnd;
    this.#state = this.#masked ? 'mask' : 'payload';
    return undefined;
  }

  /** The whole frame is in `buf`: unmask, validate a close payload, and start on the next frame. */
  #emit(buf: Buffer, offset: number, size: number, inPlace: boolean): Step {
    const start = offset + this.#cursor;
    let payload = buf.subarray(start, start + this.#payloadLength);
    const maskAt = offset + this.#maskAt;
    // Perl: "NULL-mask might be used over TLS, skip to increase performance".
    if (this.#masked && !isZeroMask(buf, maskAt)) {
      if (inPlace) unmask(payload, buf, maskAt);
      else payload = unmaskCopy(payload, buf, maskAt);
    }

    let close: ClosePayload | undefined;
    if (this.#opcode === OPCODE.CLOSE) {
      const parsed = parseClosePayload(payload);
      if (!parsed.ok) return this.#close(parsed.error);
      close = parsed.close;
    }

    this.#state = 'header';
    const frame: Frame = close
      ? { opcode: this.#opcode, fin: this.#fin, masked: this.#masked, payload, close }
      : { opcode: this.#opcode, fin: this.#fin, masked: this.#masked, payload };
    return { kind: 'frame', frame, consumed: size };
  }

  /** The caller must pass the frame the parser is in the middle of, from its first byte. */
  #checkResume(buf: Buffer, offset: number, have: number): void {
    if (have < this.#cursor || buf[offset] !== this.#b0 || buf[offset + 1] !== this.#b1) {
      throw new Error(
        'FrameParser.next: buf[offset] must be the first byte not yet consumed (drop exactly `consumed` bytes, nothing else)',
      );
    }
  }

  /** The error factory, wrapped: every refusal goes through here and closes the parser. */
  #fail(code: FrameErrorCode, detail?: number | bigint): Step {
    return this.#close(frameError(code, detail));
  }

  #close(error: FrameError): Step {
    this.#state = 'closed';
    this.#error = error;
    return { kind: 'error', error };
  }
}

function more(need: number): Step {
  return { kind: 'more', need };
}

function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= OPCODE.BINARY || (opcode >= OPCODE.CLOSE && opcode <= OPCODE.PONG);
}

function assertNever(state: never): never {
  throw new Error(`unreachable parser state ${String(state)}`);
}
