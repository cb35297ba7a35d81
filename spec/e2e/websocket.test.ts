import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { echoServer, rawExchange, startProxy, until } from './helpers.js';

/** The `ws` npm client through websocket_proxy to a TCP echo backend. */
describe('websocket_proxy end to end with the ws client', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup() {
    const echo = await echoServer();
    const { proxy, port, logs } = await startProxy({ allowPorts: [[echo.port, echo.port]] });
    cleanup.push(() => echo.close(), () => proxy.close());
    const open = async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/websocket?port=${echo.port}`, ['binary']);
      cleanup.push(() => ws.terminate());
      const received: Buffer[] = [];
      ws.on('message', (data) => received.push(data as Buffer));
      await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
      return { ws, received, bytes: () => Buffer.concat(received) };
    };
    return { echo, proxy, port, logs, open };
  }

  it('negotiates the subprotocol and echoes text and binary messages from 0 bytes to 1 MiB', async () => {
    const { open } = await setup();
    const { ws, bytes } = await open();
    expect(ws.protocol).toBe('binary');
    const sent: Buffer[] = [];
    for (const size of [0, 1, 125, 126, 65535, 65536, 128 * 1024]) {
      const text = Buffer.from('t'.repeat(size));
      ws.send(text.toString());
      sent.push(text);
      const bin = Buffer.alloc(size, size & 0xff);
      ws.send(bin);
      sent.push(bin);
    }
    // 1 MiB as eight 128 KiB messages (the original's per-frame limit).
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    for (let off = 0; off < big.length; off += 128 * 1024) ws.send(big.subarray(off, off + 128 * 1024));
    sent.push(big);
    const expected = Buffer.concat(sent);
    await until(() => bytes().length >= expected.length, 'all echoed bytes');
    expect(bytes().equals(expected)).toBe(true);
  });

  it('answers ping with pong carrying the same payload', async () => {
    const { open } = await setup();
    const { ws } = await open();
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping(Buffer.from('are you there'));
    expect((await pong).toString()).toBe('are you there');
  });

  it('on close from the client, shuts both sides down and the session ends', async () => {
    const { open, proxy } = await setup();
    const { ws } = await open();
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.close(1000, 'bye');
    await closed;
    await until(() => proxy.metrics.sessionsOpen === 0, 'session closed');
  });

  it('ends only the offending session on an unmasked frame, with a log line; another session goes on', async () => {
    const { open, port, echo, logs } = await setup();
    const good = await open();
    const handshake =
      `GET /websocket?port=${echo.port} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: binary\r\n\r\n';
    const unmasked = Buffer.from([0x82, 0x03, 0x61, 0x62, 0x63]);
    const reply = await rawExchange(port, Buffer.concat([Buffer.from(handshake), unmasked]));
    expect(reply).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(reply).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    // The session ended with a close frame (1002 protocol error).
    expect(reply.slice(reply.indexOf('\r\n\r\n') + 4)).toBe('\x88\x02\x03\xea');
    expect(logs.some((l) => l.includes('received unmasked websocket frame from client (WS_UNMASKED)'))).toBe(true);
    good.ws.send('still alive');
    await until(() => good.bytes().toString() === 'still alive', 'other session still works');
  });

  it('refuses a port that was not allowed, and a bad key, with 4xx', async () => {
    const { port } = await setup();
    const req = (path: string, key = 'dGhlIHNhbXBsZSBub25jZQ==') =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Protocol: binary\r\n\r\n`;
    expect(await rawExchange(port, req('/websocket?port=1'))).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*port '1' is not allowed/);
    expect(await rawExchange(port, req('/websocket?port=1', 'short'))).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Sec-WebSocket-Key/);
  });
});
