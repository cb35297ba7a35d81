import { unmaskCopy } from './unmask.js';

/** RFC 6455 opcodes. */
export const OPCODE = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** An opcode the parser accepts (every other value is refused with `WS_BAD_OPCODE`). */
export type Opcode = (typeof OPCODE)[keyof typeof OPCODE];

/** Close, ping and pong: FIN required, payload at most 125 bytes. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** The most bytes a control frame's payload may hold. */
export const MAX_CONTROL_PAYLOAD = 125;

export interface FrameOptions {
  /** 0-15, default 2 (binary), as `$encode`'s default "\x82". Invalid opcodes are allowed, for fixtures. */
  opcode?: number;
  /** Default true. */
  fin?: boolean;
  /** A 4-byte masking key (client frames), or false (default) for an unmasked frame. */
  mask?: Uint8Array | false;
  /** The three RSV bits as a number 0-7 (RSV1 = 4, RSV2 = 2, RSV3 = 1), default 0. */
  rsv?: number;
  /**
   * Fixtures only: the payload length to declare instead of the real one, e.g. a 64-bit
   * length with its top bit set. A bigint reaches every 64-bit value.
   */
  declaredLength?: number | bigint;
  /**
   * Fixtures only: the length encoding (7, 16 or 64 bits) instead of the shortest one,
   * e.g. a 64-bit length field holding 5.
   */
  lengthBits?: 7 | 16 | 64;
}

/**
 * Encodes one frame as `[header, payload]`: a header Buffer of 2 to 14 bytes, and the
 * payload, which is the caller's own Buffer when unmasked (no copy, so a 128 KiB payload
 * can go out by writev, or as two writes into a chunk-list wbuf) and a fresh masked copy
 * otherwise (the caller's payload is never modified). `Buffer.concat` the pair for one
 * Buffer, as {@link frameBuffer} does.
 *
 * The length uses the shortest encoding: 7 bits up to 125, 126 and 16 bits up to 65535,
 * 127 and 64 bits beyond. The encoder does not split payloads: the proxy cuts them to its
 * frame limit (128 KiB) first, as the original's caller does.
 *
 * Throws on programmer mistakes only (opcode outside 0-15, rsv outside 0-7, a key that is
 * not 4 bytes, a declared length the encoding cannot hold); it produces invalid frames on
 * request, for tests.
 *
 * Perl: `$encode` in websocket_proxy (server-to-client frames: `"\x82"` or the given
 * opcode byte, e.g. `"\x8A"` for a pong, then the length, then the unmasked payload).
 *
 * @example
 * const [head, body] = frame(data);               // binary, FIN, unmasked: 0x82 ...
 * hdl.push_write(head); hdl.push_write(body);
 * frame(pingPayload, { opcode: OPCODE.PONG });     // 0x8A ...
 */
export function frame(payload: Buffer, opts: FrameOptions = {}): [header: Buffer, payload: Buffer] {
  const opcode = opts.opcode ?? OPCODE.BINARY;
  const rsv = opts.rsv ?? 0;
  const mask = opts.mask ?? false;
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15) throw new RangeError(`opcode must be 0-15, got ${opcode}`);
  if (!Number.isInteger(rsv) || rsv < 0 || rsv > 7) throw new RangeError(`rsv must be 0-7, got ${rsv}`);
  if (mask !== false && mask.length !== 4) throw new RangeError(`mask must be 4 bytes, got ${mask.length}`);

  const length = opts.declaredLength ?? payload.length;
  const bits = opts.lengthBits ?? shortestLengthBits(length);
  checkLengthFits(length, bits);

  const lengthBytes = bits === 7 ? 0 : bits === 16 ? 2 : 8;
  const header = Buffer.allocUnsafe(2 + lengthBytes + (mask === false ? 0 : 4));
  header[0] = (opts.fin === false ? 0 : 0x80) | (rsv << 4) | opcode;
  const maskBit = mask === false ? 0 : 0x80;
  if (bits === 7) {
    header[1] = maskBit | Number(length);
  } else if (bits === 16) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header[1] = maskBit | 127;
    // Plain numbers in the common case; a bigint only when a fixture declares one.
    if (typeof length === 'bigint') {
      header.writeBigUInt64BE(length, 2);
    } else {
      header.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
      header.writeUInt32BE(length >>> 0, 6);
    }
  }
  if (mask === false) return [header, payload];
  header.set(mask, 2 + lengthBytes);
  return [header, unmaskCopy(payload, mask)];
}

function shortestLengthBits(length: number | bigint): 7 | 16 | 64 {
  return length <= 125 ? 7 : length <= 0xffff ? 16 : 64;
}

function checkLengthFits(length: number | bigint, bits: 7 | 16 | 64): void {
  const ok =
    typeof length === 'number'
      ? Number.isSafeInteger(length) && length >= 0 && (bits === 64 || length <= (bits === 7 ? 125 : 0xffff))
      : length >= 0n && length <= (bits === 7 ? 125n : bits === 16 ? 0xffffn : 0xffff_ffff_ffff_ffffn);
  if (!ok) throw new RangeError(`length ${length} does not fit a ${bits}-bit length field`);
}

/** {@link frame} as one Buffer (header and payload copied together). */
export function frameBuffer(payload: Buffer, opts?: FrameOptions): Buffer {
  return Buffer.concat(frame(payload, opts));
}
