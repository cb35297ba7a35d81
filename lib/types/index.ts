// The built-in read and write types register themselves on import.
import './read/chunk.js';
import './read/line.js';
import './read/regex.js';
import './read/netstring.js';
import './read/packstring.js';
import './read/json.js';
import './write/netstring.js';
import './write/packstring.js';
import './write/json.js';

export { register_read_type, register_write_type } from './registry.js';
export type { Reader, ReadType, WriteType } from './registry.js';
