import type { Handle, HandleCallback } from '../handle/index.js';

/**
 * Pause reads on `read_hdl` until `write_hdl`'s write buffer drains, then re-register
 * `on_read_cb` from an `on_drain` on `write_hdl`, chained with any `on_drain` already set.
 * The caller decides when (its own threshold) and must liveness-check at the top of
 * `on_read_cb`.
 *
 * Called from inside `on_read_cb`, clearing `on_read` stops the read watcher at once (the
 * drain loop sees no reader and goes idle), so no further read lands in `rbuf`.
 *
 * Perl: `apply_read_backpressure ($read_hdl, $write_hdl, $on_read_cb)` from
 * pve-http-server's fix for #7483 (../shared/seed/pve-http-server-backpressure-patch-v2.txt).
 */
export function apply_read_backpressure(read_hdl: Handle, write_hdl: Handle, on_read_cb: HandleCallback): void {
  read_hdl.on_read(null);
  const prev_on_drain = write_hdl.callback('on_drain');
  write_hdl.on_drain((wrhdl) => {
    // Divergence: the patch resumes reading first and then re-installs and calls
    // prev_on_drain twice over (on_drain() calls it once at once, then it is called again),
    // which also overwrites the resume callback that a re-pause during that resumed read
    // chained on, leaving reads paused for good. Restoring first keeps the chain intact and
    // calls prev_on_drain once; with no previous callback, this one is removed instead of
    // re-enabling reads on every later drain.
    wrhdl.on_drain(prev_on_drain ?? null);
    if (!read_hdl.destroyed()) read_hdl.on_read(on_read_cb);
  });
}
