// The built-in read and write types register themselves on import.
import './read/chunk.js';
import './read/line.js';
import './read/regex.js';

export { register_read_type, register_write_type } from './registry.js';
export type { Reader, ReadType, WriteType } from './registry.js';
