import { Socket } from 'node:net';
import { DirectRead } from './DirectRead.js';
import { NodeFh } from './NodeFh.js';

/**
 * A new, unconnected socket read through DirectRead (larger reads, no Readable stream in
 * between), and its Fh. Connect it with `socket.connect(...)`.
 */
export function directSocket(): { socket: Socket; fh: NodeFh } {
  const direct = new DirectRead();
  // @types/node lists `onread` for net.connect only; the constructor takes it (Node ≥ 12).
  const socket = new Socket({ allowHalfOpen: true, onread: direct.onread } as ConstructorParameters<typeof Socket>[0]);
  return { socket, fh: new NodeFh(socket, { direct }) };
}

/** The net.Server internals adoptAccepted moves over (stable since Node 0.x, but private). */
interface AcceptedInternals {
  _handle?: { readStart?: unknown; reading?: boolean } | null;
  _server?: unknown;
  server?: unknown;
}

/**
 * The Fh for a socket a `net.Server` accepted. Node offers `onread` only to sockets one
 * creates, and an accepted socket reads 64 KiB per system call through a Readable stream;
 * so the connection's handle is moved into a new socket created with DirectRead's `onread`,
 * as Node's own server would have created it, and the server's connection count goes with
 * it (`server.close()` still waits for it, `getConnections()` still counts it).
 *
 * Requires the server to be created with `pauseOnConnect: true` (nothing may have been read
 * yet). Where the internals are not as expected (another runtime, a socket that already
 * read), the socket is adopted as it is, through its stream.
 */
export function adoptAccepted(accepted: Socket): NodeFh {
  const old = accepted as Socket & AcceptedInternals;
  const handle = old._handle;
  const movable = handle && typeof handle.readStart === 'function' && !handle.reading && old.bytesRead === 0 && '_server' in old;
  if (!movable) return new NodeFh(accepted);
  const direct = new DirectRead();
  old._handle = null;
  const socket = new Socket({ handle, allowHalfOpen: true, readable: true, writable: true, onread: direct.onread } as ConstructorParameters<typeof Socket>[0]) as Socket & AcceptedInternals;
  socket._server = old._server;
  socket.server = old.server;
  old._server = null;
  return new NodeFh(socket, { direct });
}
