import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Scenario, Trace } from './format.js';

/** driver.pl, next to this file. */
export const DRIVER = fileURLToPath(new URL('./driver.pl', import.meta.url));

/** True when the system perl has AnyEvent::Handle and EV (what driver.pl needs). */
export function perlAvailable(): boolean {
  const r = spawnSync('perl', ['-MAnyEvent::Handle', '-MEV', '-MJSON::PP', '-e', 'print $AnyEvent::VERSION'], { encoding: 'utf8' });
  return r.status === 0;
}

/** The versions of perl, AnyEvent (the goldens are recorded with 7.17), EV and JSON::PP. */
export function perlVersions(): Record<string, string> {
  const r = spawnSync(
    'perl',
    ['-MAnyEvent', '-MAnyEvent::Handle', '-MEV', '-MJSON::PP', '-e', 'printf "%vd %s %s %s", $^V, $AnyEvent::VERSION, $EV::VERSION, $JSON::PP::VERSION'],
    { encoding: 'utf8' },
  );
  const [perl, anyevent, ev, jsonpp] = r.stdout.trim().split(' ');
  return { perl, AnyEvent: anyevent, EV: ev, 'JSON::PP': jsonpp };
}

/**
 * One long-lived driver.pl process, fed one scenario at a time (a line of JSON in, a line
 * out). When the driver exits (it does after a JSON::PP hang, once it printed the trace),
 * the next scenario starts a new one.
 */
export class PerlDriver {
  #proc: ChildProcessWithoutNullStreams | undefined;
  /** Whoever waits for the current process's next line. */
  #waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;

  #start(): ChildProcessWithoutNullStreams {
    const proc = spawn('perl', [DRIVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    const deliver = () => {
      const nl = buffer.indexOf('\n');
      if (nl < 0 || !this.#waiting || this.#proc !== proc) return;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const w = this.#waiting;
      this.#waiting = undefined;
      w.resolve(line);
    };
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      deliver();
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => (stderr += chunk));
    proc.on('close', (code) => {
      deliver();
      if (this.#proc !== proc) return;
      this.#proc = undefined;
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.reject(new Error(`driver.pl exited (${code}) without a trace: ${stderr.trim()}`));
    });
    proc.stdin.on('error', () => {});
    this.#proc = proc;
    return proc;
  }

  /** Runs `sc` with the real AnyEvent::Handle; resolves with its trace. */
  async run(sc: Scenario): Promise<Trace> {
    const proc = this.#proc ?? this.#start();
    const line = await new Promise<string>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      proc.stdin.write(JSON.stringify(sc) + '\n');
    });
    const out = JSON.parse(line) as { name: string; trace?: Trace; error?: string };
    // After a hang the driver exits; the next scenario must go to a new one.
    if (out.trace?.[out.trace.length - 1]?.ev === 'hang' && this.#proc === proc) this.#proc = undefined;
    if (out.error !== undefined) throw new Error(`driver.pl failed on ${sc.name}: ${out.error}`);
    return out.trace!;
  }

  close(): void {
    this.#proc?.stdin.end();
    this.#proc = undefined;
  }
}
