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
export { NodeFh, adoptAccepted, directSocket, nodeLoop } from './backend/node/index.js';
export { setDefaultBackend } from './handle/defaultBackend.js';

// The proxy handlers (pveproxy's, with the #7483 backpressure fix) and the HTTP front.
export { apply_read_backpressure } from './proxy/backpressure.js';
export { ProxySession, type Direction, type DirectionStats, type SessionHooks } from './proxy/ProxySession.js';
export { response_stream, STREAM_BUF_SIZE, type ResponseStreamOptions } from './proxy/response_stream.js';
export { spice_proxy, SPICE_WBUF_LIMIT, type SpiceProxyOptions } from './proxy/spice_proxy.js';
export { websocket_proxy, WS_MAX_PAYLOAD, type WebsocketProxyOptions } from './proxy/websocket_proxy.js';
export { FrameParser, type Frame, type FrameParserOptions } from './proxy/ws/FrameParser.js';
export { frame, OPCODE } from './proxy/ws/frame.js';
export { ProxyServer } from './http/ProxyServer.js';
export type { ProxyConfig } from './http/config.js';
export { Metrics } from './metrics.js';
