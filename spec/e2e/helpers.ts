import net from 'node:net';
import { ProxyServer } from '../../lib/http/ProxyServer.js';
import type { ProxyConfig } from '../../lib/http/config.js';

/** A TCP echo backend on 127.0.0.1, half-close aware. */
export async function echoServer(): Promise<{ port: number; close(): void; connections: () => number }> {
  let count = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    count++;
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close(), connections: () => count };
}

/** A proxy on 127.0.0.1:0 with the given config; collects its log lines. */
export async function startProxy(config: Partial<ProxyConfig>) {
  const logs: string[] = [];
  const proxy = new ProxyServer({ shutdownGrace: 1, ...config }, (level, message) => logs.push(`${level}: ${message}`));
  const { port } = await proxy.listen('127.0.0.1', 0);
  return { proxy, port, logs };
}

/** Sends raw bytes to the proxy and collects everything until the connection closes. */
export async function rawExchange(port: number, data: Buffer | string, waitMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${waitMs} ms; got: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
    }, waitMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(data);
  });
}

export function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pred()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for: ${what}`));
      setTimeout(check, 5);
    };
    check();
  });
}
