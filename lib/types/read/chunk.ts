import type { Handle } from '../../handle/Handle.js';
import { register_read_type } from '../registry.js';

/**
 * `chunk => $octets, $cb->($handle, $data)`: exactly `octets` bytes, never fewer.
 * The data is a view into the read buffer, not a copy (rbuf bytes are never rewritten).
 */
export function chunk(_hdl: Handle, cb: (hdl: Handle, data: Buffer) => void, octets: number) {
  if (!Number.isSafeInteger(octets) || octets < 0) {
    throw new RangeError(`chunk read type: length must be a non-negative integer, got ${octets}`);
  }
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    if (rbuf.length < octets) return false;
    hdl.rbuf = rbuf.subarray(octets);
    cb(hdl, rbuf.subarray(0, octets));
    return true;
  };
}

register_read_type('chunk', chunk);
