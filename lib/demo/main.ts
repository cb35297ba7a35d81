/**
 * `npm start`: the wbuf_max bug of AnyEvent 7.17, on real loopback sockets.
 *
 * A fast writer pushes 64 KiB blocks into a Handle whose peer has stopped reading, with
 * pveproxy's SPICE limit (wbuf_max = 640 KiB). In 'anyevent-7.17' mode the limit is only
 * checked while no write watcher is installed, so once the kernel buffer is full wbuf
 * grows without bound; in 'checked' mode the first push past the limit raises ENOSPC.
 * Each run stops by itself after `--seconds` (default 2) or at a 256 MiB cap.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Handle, type WbufMaxCheck } from '../index.js';

const LIMIT = 640 * 1024;
const CAP = 256 * 1024 * 1024;
const BLOCK = Buffer.alloc(64 * 1024, 0x5a);

interface Outcome {
  mode: WbufMaxCheck;
  peakWbuf: number;
  pushed: number;
  error: string;
  stoppedBy: string;
}

async function run(mode: WbufMaxCheck, seconds: number): Promise<Outcome> {
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const stalled = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const reader = await stalled;
  reader.pause(); // the slow destination: reads nothing at all

  const outcome: Outcome = { mode, peakWbuf: 0, pushed: 0, error: '-', stoppedBy: 'time' };
  const hdl = new Handle({
    fh: client,
    wbuf_max: LIMIT,
    wbuf_max_check: mode,
    linger: 0,
    on_error: (_h, fatal, message, code) => {
      outcome.error = `${code} (${fatal ? 'fatal' : 'non-fatal'}): ${message}`;
    },
  });
  const deadline = Date.now() + seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = () => {
      for (let i = 0; i < 64 && !hdl.destroyed(); i++) {
        hdl.push_write(BLOCK);
        outcome.pushed += BLOCK.length;
        outcome.peakWbuf = Math.max(outcome.peakWbuf, hdl.wbuf.length);
      }
      if (hdl.destroyed()) outcome.stoppedBy = 'error';
      else if (outcome.peakWbuf >= CAP) outcome.stoppedBy = 'memory cap';
      else if (Date.now() < deadline) return void setImmediate(tick);
      resolve();
    };
    tick();
  });
  hdl.destroy();
  reader.destroy();
  server.close();
  return outcome;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

async function main() {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } } });
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 600)) throw new Error(`--seconds must be a number in (0, 600], got '${values.seconds}'`);
  const results = [await run('anyevent-7.17', seconds), await run('checked', seconds)];
  if (values.json) {
    console.log(JSON.stringify({ limit: LIMIT, results }, null, 2));
    return;
  }
  console.log(`wbuf_max = ${mib(LIMIT)} (pveproxy's SPICE limit); destination stalled; runs stop after ${seconds}s or at ${mib(CAP)}\n`);
  console.log('mode            peak wbuf     peak/limit  pushed        stopped by   error');
  for (const r of results) {
    console.log(
      `${r.mode.padEnd(15)} ${mib(r.peakWbuf).padEnd(13)} ${(r.peakWbuf / LIMIT).toFixed(1).padStart(8)}x  ${mib(r.pushed).padEnd(13)} ${r.stoppedBy.padEnd(12)} ${r.error}`,
    );
  }
  console.log('\nThe proxy handlers with read backpressure (pause the source, resume on drain) come next; see README.');
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
