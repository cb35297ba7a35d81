import { IoFailure, type Fh } from '../backend/Backend.js';

/**
 * What AnyEvent's DESTROY does with a non-empty wbuf: keep writing it out, without a
 * handle and without reporting errors, until it is gone, a write fails, or `seconds` pass;
 * then close the file handle.
 */
export function linger(fh: Fh, chunks: Buffer[], seconds: number): void {
  let pending = chunks;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    stopWatch();
    stopTimer();
    fh.close();
  };
  const stopWatch = fh.watchWritable(() => {
    if (pending.length === 0) return finish();
    const written = fh.write(pending);
    if (written === null) return; // EAGAIN: wait for the next writable
    if (written instanceof IoFailure || written === 0) return finish();
    pending = dropPrefix(pending, written);
  });
  const stopTimer = fh.loop.timer(seconds, finish);
}

function dropPrefix(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < chunks.length && n >= chunks[i].length) n -= chunks[i++].length;
  const rest = chunks.slice(i);
  if (n && rest.length) rest[0] = rest[0].subarray(n);
  return rest;
}
