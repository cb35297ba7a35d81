// Type-only: closeCodes.ts imports this module's factory, so its CLOSE map is not
// imported here as a value (the cycle would leave it undefined at load time); the
// CloseCode type still checks every number below against that map.
import type { CloseCode } from './closeCodes.js';

/**
 * Why a websocket frame was refused. Stable: tests and log filters match on these, never
 * on the message.
 */
export type FrameErrorCode =
  /** FIN clear while fragments are not allowed (the original never allows them). */
  | 'WS_FRAGMENTED'
  /** One of the RSV1-3 bits set (no extension is ever negotiated). */
  | 'WS_RSV'
  /** A client frame without the mask bit. */
  | 'WS_UNMASKED'
  /** A payload length above the limit (128 KiB by default). */
  | 'WS_TOO_LARGE'
  /** A reserved opcode (3-7, 0xB-0xF), or a continuation frame while fragments are not allowed. */
  | 'WS_BAD_OPCODE'
  /** With fragments allowed: a continuation with no message to continue, or a new data frame inside one. */
  | 'WS_BAD_CONTINUATION'
  /** With fragments allowed: a control frame (close, ping, pong) without FIN. */
  | 'WS_CONTROL_FRAGMENTED'
  /** A control frame whose payload length is above 125. */
  | 'WS_CONTROL_TOO_LONG'
  /** A 64-bit payload length with its most significant bit set. */
  | 'WS_BAD_LENGTH'
  /** A close frame with a 1-byte payload. */
  | 'WS_BAD_CLOSE_PAYLOAD'
  /** A close frame with a status code a peer may not send. */
  | 'WS_BAD_CLOSE_CODE'
  /** A close reason that is not UTF-8. */
  | 'WS_BAD_UTF8';

/** A refused frame: what the session logs, and the close code it may answer with. */
export interface FrameError {
  readonly code: FrameErrorCode;
  /** The status code for the close frame sent back, if the caller sends one. */
  readonly closeCode: CloseCode;
  /** One log line; the original's wording where it has one. */
  readonly message: string;
}

/** Detail that goes into a message: a length, an opcode or a status code. */
type Detail = number | bigint | undefined;

const TABLE: { readonly [C in FrameErrorCode]: readonly [CloseCode, (detail: Detail) => string] } = {
  // Perl's wording for the four checks websocket_proxy makes itself.
  WS_FRAGMENTED: [1003, () => 'received fragmented websocket frame'],
  WS_RSV: [1002, () => 'received websocket frame with RSV flags'],
  WS_UNMASKED: [1002, () => 'received unmasked websocket frame from client'],
  WS_TOO_LARGE: [1009, (len) => `received too large websocket frame (len = ${len})`],
  WS_BAD_OPCODE: [1002, (opcode) => `received unhandled websocket opcode ${opcode}`],
  // The rest are RFC 6455 checks the original does not make.
  WS_BAD_CONTINUATION: [1002, () => 'received websocket continuation frame out of sequence'],
  WS_CONTROL_FRAGMENTED: [1002, () => 'received fragmented websocket control frame'],
  WS_CONTROL_TOO_LONG: [1002, () => 'received websocket control frame longer than 125 bytes'],
  WS_BAD_LENGTH: [1002, () => 'received websocket frame with invalid 64-bit length'],
  WS_BAD_CLOSE_PAYLOAD: [1002, () => 'received websocket close frame with a 1-byte payload'],
  WS_BAD_CLOSE_CODE: [1002, (code) => `received websocket close frame with invalid status code ${code}`],
  WS_BAD_UTF8: [1007, () => 'received websocket close reason that is not valid UTF-8'],
};

/**
 * The one place a frame error is made. Pure: {@link FrameParser} calls it through its
 * own `#fail`, which also moves the parser to its terminal `'closed'` state.
 *
 * @param detail the length, opcode or status code the message names, where it names one.
 */
export function frameError(code: FrameErrorCode, detail?: number | bigint): FrameError {
  const [closeCode, message] = TABLE[code];
  return Object.freeze({ code, closeCode, message: message(detail) });
}
