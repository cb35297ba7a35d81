import { nodeBackend } from './backend/node/index.js';
import { setDefaultBackend } from './handle/defaultBackend.js';
import './types/index.js';

setDefaultBackend(nodeBackend);

export { Handle, type HandleEvents } from './handle/Handle.js';
export { HandleError, errnoText, type ErrnoCode } from './handle/errors.js';
export type {
  HandleOptions,
  HandleCallback,
  ErrorCallback,
  JsonCoder,
  WbufMaxCheck,
} from './handle/options.js';
export { WbufView } from './handle/WriteBuffer.js';
export { register_read_type, register_write_type, type Reader, type ReadType, type WriteType } from './types/index.js';
export { IoFailure, type Fh, type Loop, type Cancel, type Connected, type ReadResult, type WriteResult } from './backend/Backend.js';
export { NodeFh, nodeLoop } from './backend/node/index.js';
export { setDefaultBackend } from './handle/defaultBackend.js';
