export { Handle, type HandleEvents } from './Handle.js';
export { HandleError, errnoText, type ErrnoCode } from './errors.js';
export type { HandleOptions, HandleCallback, ErrorCallback, JsonCoder, WbufMaxCheck } from './options.js';
