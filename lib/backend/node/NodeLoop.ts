import { lookup } from 'node:dns';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { IoFailure, type Cancel, type Connected, type Fh, type Loop } from '../Backend.js';
import { errnoText } from '../../handle/errors.js';
import { directSocket } from './sockets.js';

/** setTimeout's limit (2^31-1 ms); longer timers are re-armed by their owners. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Node's event loop as an AnyEvent loop. Timers are unref'd: an open socket keeps the
 * process alive, a handle's inactivity or linger timer alone does not.
 */
export const nodeLoop: Loop = {
  now: () => performance.now() / 1000,

  timer(after, cb) {
    const t = setTimeout(cb, Math.min(Math.max(after * 1000, 0), MAX_TIMER_MS));
    t.unref();
    return () => clearTimeout(t);
  },

  connect(host, port, cb, onPrepare) {
    let cancelled = false;
    let current: Socket | undefined;
    let stopTimer: Cancel | undefined;
    const fail = (code: string, message = errnoText(code)) => new IoFailure(code, message);

    const attempt = (addresses: string[], i: number, last: IoFailure) => {
      if (cancelled) return;
      if (i >= addresses.length) return cb(last);
      const { socket, fh } = directSocket();
      current = socket;
      let settled = false;
      const next = (failure: IoFailure) => {
        if (settled) return;
        settled = true;
        stopTimer?.();
        socket.destroy();
        attempt(addresses, i + 1, failure);
      };
      const timeout = onPrepare?.(fh);
      socket.once('error', (err: NodeJS.ErrnoException) => next(fail(err.code ?? 'EIO')));
      if (timeout) stopTimer = nodeLoop.timer(timeout, () => next(fail('ETIMEDOUT')));
      const where = host === 'unix/' ? { path: String(port) } : { host: addresses[i], port: Number(port) };
      socket.connect(where, () => {
        if (settled || cancelled) return;
        settled = true;
        stopTimer?.();
        const connected: Connected = {
          fh: fh as Fh,
          host: socket.remoteAddress ?? addresses[i],
          port: socket.remotePort ?? 0,
          retry: () => {
            fh.close();
            // The next attempt (or the final failure) is reported from the loop, never from
            // inside the on_connect callback that asked for it.
            setImmediate(() => attempt(addresses, i + 1, fail('ECONNREFUSED')));
          },
        };
        cb(connected);
      });
    };

    if (host === 'unix/') {
      setImmediate(() => attempt([String(port)], 0, fail('ENOENT')));
    } else lookup(host, { all: true }, (err, addresses) => {
      if (cancelled) return;
      if (err || !addresses.length) {
        const code = (err as NodeJS.ErrnoException | null)?.code ?? 'ENOTFOUND';
        return cb(fail(code === 'ENOTFOUND' ? 'ENOTFOUND' : code));
      }
      attempt(
        addresses.map((a) => a.address),
        0,
        fail('ECONNREFUSED'),
      );
    });

    return () => {
      cancelled = true;
      stopTimer?.();
      if (current && current.connecting) current.destroy();
    };
  },
};
