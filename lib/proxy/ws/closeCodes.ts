import { frameError, type FrameError } from './errors.js';

/**
 * The close status codes this port sends or names (RFC 6455 section 7.4.1).
 *
 * 1004, 1005, 1006 and 1015 are reserved and never appear on the wire, so they are not
 * here; {@link isValidCloseCode} tells which codes a peer may send.
 */
export const CLOSE = {
  /** The purpose for which the connection was established has been fulfilled. */
  NORMAL: 1000,
  /** An endpoint is going away (server shutdown, page navigated away). */
  GOING_AWAY: 1001,
  /** The peer broke the protocol (bad frame). */
  PROTOCOL_ERROR: 1002,
  /** A type of data the endpoint cannot accept (here: fragmented messages). */
  UNSUPPORTED_DATA: 1003,
  /** Data inconsistent with the message type (a close reason that is not UTF-8). */
  INVALID_PAYLOAD: 1007,
  /** A generic policy violation. */
  POLICY_VIOLATION: 1008,
  /** A frame larger than the endpoint will process (the 128 KiB limit). */
  MESSAGE_TOO_BIG: 1009,
  /** The server met an unexpected condition. */
  INTERNAL_ERROR: 1011,
} as const;

/** One of the close codes in {@link CLOSE}. */
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/**
 * Whether a peer may send `code` in a close frame: 1000-1003, 1007-1014 (the IANA
 * registry's 1012-1014 included) and the application ranges 3000-4999. The reserved
 * 1004-1006 and 1015, everything else below 3000, and 5000 up are refused.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
  );
}

/** A close frame's payload, decoded. */
export interface ClosePayload {
  /** The status code; `undefined` when the payload was empty (RFC's "1005, no status"). */
  readonly code: number | undefined;
  /** The reason, decoded as UTF-8 (empty when absent). */
  readonly reason: string;
}

export type ParsedClose = { readonly ok: true; readonly close: ClosePayload } | { readonly ok: false; readonly error: FrameError };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a close frame's payload: empty (no status), or a 16-bit big-endian status code
 * followed by a UTF-8 reason. Never throws.
 *
 * Errors: `WS_BAD_CLOSE_PAYLOAD` (a 1-byte payload), `WS_BAD_CLOSE_CODE` (a code a peer
 * may not send), `WS_BAD_UTF8` (a reason that is not UTF-8).
 *
 * Perl: `unpack("n", $payload)` in websocket_proxy, which only logs the code and checks
 * nothing; the checks are RFC 6455's (sections 5.5.1 and 7.4).
 */
export function parseClosePayload(payload: Uint8Array): ParsedClose {
  if (payload.length === 0) return { ok: true, close: { code: undefined, reason: '' } };
  if (payload.length === 1) return { ok: false, error: frameError('WS_BAD_CLOSE_PAYLOAD') };
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) return { ok: false, error: frameError('WS_BAD_CLOSE_CODE', code) };
  let reason = '';
  if (payload.length > 2) {
    try {
      reason = utf8.decode(payload.subarray(2));
    } catch {
      return { ok: false, error: frameError('WS_BAD_UTF8') };
    }
  }
  return { ok: true, close: { code, reason } };
}

/**
 * The payload of a close frame that carries `code` and `reason` (at most 123 bytes of
 * UTF-8, so that the frame stays a valid control frame). Throws on a code that may not be
 * sent or a reason too long: those are programmer mistakes.
 */
export function closePayload(code: number, reason = ''): Buffer {
  if (!Number.isInteger(code) || !isValidCloseCode(code)) throw new RangeError(`invalid close code ${code}`);
  const text = Buffer.from(reason, 'utf8');
  if (text.length > 123) throw new RangeError(`close reason too long (${text.length} bytes, at most 123)`);
  const out = Buffer.allocUnsafe(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}
