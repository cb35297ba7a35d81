import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Handle, adoptAccepted } from '../../lib/index.js';

/** The kinds of file handle AnyEvent::Handle takes: TCP, Unix sockets, pipes. */
describe('fh kinds on node', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  it('works on a Unix domain socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aeh-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 's.sock');
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      const hdl = new Handle({ fh: socket, on_error: () => {} });
      hdl.push_read('line', (h, line) => {
        h.push_write(`${line.toUpperCase()}\n`);
        h.push_shutdown();
      });
    });
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(path, r));
    const client = net.connect({ path, allowHalfOpen: true });
    await new Promise<void>((r) => client.once('connect', r));
    const reply = await new Promise<string>((resolve, reject) => {
      const hdl = new Handle({ fh: client, on_error: (_h, _f, m) => reject(new Error(m)) });
      hdl.push_write('over unix\n');
      hdl.push_read('line', (h, line) => {
        h.destroy();
        resolve(line);
      });
    });
    expect(reply).toBe('OVER UNIX');
  });

  it('connects to a Unix socket (connect: unix/) and both ends read with onread, 3 MiB each way intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aeh-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'd.sock');
    const payload = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >>> 9)) & 0xff;
    // The server echoes through its own Handle on an adopted (onread) connection.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      const fh = adoptAccepted(socket);
      expect(fh.native).not.toBe(socket);
      const hdl = new Handle({ fh, on_error: () => {} });
      hdl.on_read((h) => {
        h.push_write(h.rbuf);
        h.rbuf = h.rbuf.subarray(h.rbuf.length);
      });
      hdl.on_eof((h) => h.push_shutdown());
    });
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(path, r));
    const echoed = await new Promise<Buffer>((resolve, reject) => {
      const got: Buffer[] = [];
      const hdl = new Handle({
        connect: ['unix/', path],
        on_connect: (h) => {
          h.push_write(payload);
          h.push_shutdown();
        },
        on_error: (_h, _f, m) => reject(new Error(m)),
        on_read: (h) => {
          got.push(Buffer.from(h.rbuf));
          h.rbuf = h.rbuf.subarray(h.rbuf.length);
        },
        on_eof: (h) => {
          h.destroy();
          resolve(Buffer.concat(got));
        },
      });
      cleanup.push(() => hdl.destroy());
    });
    expect(echoed.length).toBe(payload.length);
    expect(echoed.equals(payload)).toBe(true);
  });

  it("reads a child process's stdout pipe to EOF and writes its stdin", async () => {
    const child = spawn('sh', ['-c', 'tr a-z A-Z'], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanup.push(() => child.kill());
    const out = new Handle({ fh: child.stdout!, on_error: () => {} });
    const inp = new Handle({ fh: child.stdin!, on_error: () => {} });
    let text = '';
    const done = new Promise<void>((resolve) => {
      out.on_read((h) => {
        text += h.rbuf.toString();
        h.rbuf = h.rbuf.subarray(h.rbuf.length);
      });
      out.on_eof((h) => {
        h.destroy();
        resolve();
      });
    });
    inp.push_write('piped through tr\n'.repeat(1000));
    inp.push_shutdown();
    await done;
    inp.destroy();
    expect(text).toBe('PIPED THROUGH TR\n'.repeat(1000));
  });

  it('reports a write to a closed pipe as a fatal error', async () => {
    const child = spawn('sh', ['-c', 'exec 0<&-; sleep 5'], { stdio: ['pipe', 'ignore', 'inherit'] });
    cleanup.push(() => child.kill());
    const errors: Array<[boolean, string]> = [];
    const hdl = new Handle({ fh: child.stdin!, on_error: (_h, fatal, _m, code) => errors.push([fatal, code]) });
    const block = Buffer.alloc(64 * 1024);
    await new Promise<void>((resolve) => {
      const push = () => {
        if (hdl.destroyed()) return resolve();
        hdl.push_write(block);
        setTimeout(push, 5);
      };
      push();
    });
    expect(errors).toEqual([[true, 'EPIPE']]);
  });
});
