import { spawnSync } from 'node:child_process';

/** Whether a perl with AnyEvent::Handle is there to check against. */
export const HAVE_PERL_ANYEVENT = spawnSync('perl', ['-MAnyEvent::Handle', '-e1'], { stdio: 'ignore' }).status === 0;

/** Runs `perl -MAnyEvent::Handle -e script` with `input` on stdin; returns stdout, lines. */
export function perlLines(script: string, input: string): string[] {
  const r = spawnSync('perl', ['-MAnyEvent::Handle', '-MSocket', '-e', script], {
    input,
    encoding: 'latin1',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`perl failed (${r.status}): ${r.stderr}`);
  return r.stdout.split('\n').slice(0, -1);
}
