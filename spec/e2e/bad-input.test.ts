import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { frame, OPCODE, type FrameOptions } from '../../lib/proxy/ws/frame.js';
import { Client } from '../soak/realSessions.js';
import { echoServer, rawExchange, startProxy, until } from './helpers.js';

/**
 * Issue #4: bad input on every path gets a clear answer and a log line, and ends only the
 * session it came on. Every case runs on its own proxy with a healthy websocket echo
 * session open next to it, checked before and after, and a fresh keep-alive connection
 * checked after. All network on 127.0.0.1; every wait is bounded.
 */

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const WAIT_MS = 5000;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(config: { headerTimeout?: number } = {}) {
  const echo = await echoServer();
  const { proxy, port, logs } = await startProxy({ allowPorts: [[echo.port, echo.port]], nodeName: 'pve1', ...config });
  cleanup.push(() => echo.close(), () => proxy.close());
  const healthy = await healthySession(port, echo.port);
  await healthy.check();
  return { echo, proxy, port, logs, healthy };
}

/** A websocket echo session through the proxy: `check` sends a new message and waits for it. */
async function healthySession(port: number, echoPort: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/websocket?port=${echoPort}`, ['binary']);
  cleanup.push(() => ws.terminate());
  const received: string[] = [];
  ws.on('message', (data) => received.push(String(data)));
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let n = 0;
  return {
    ws,
    async check() {
      const message = `healthy ${++n}`;
      expect(ws.readyState).toBe(WebSocket.OPEN);
      ws.send(message);
      await until(() => received.includes(message), `the healthy session echoes '${message}'`, WAIT_MS);
    },
  };
}

/** Two GET /metrics on one new connection: both 200, and the connection stays open. */
async function keepAliveWorks(port: number): Promise<void> {
  const c = new Client(port, WAIT_MS);
  cleanup.push(() => c.socket.destroy());
  for (let i = 0; i < 2; i++) {
    c.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    const head = await readResponse(c);
    expect(head.status).toBe(200);
    expect(head.headers).toContain('Connection: keep-alive');
    expect(head.body).toContain('aeproxy_connections_total');
  }
  expect(c.isClosed).toBe(false);
  c.socket.destroy();
}

/** One response with a Content-Length, taken off the client's queue. */
async function readResponse(c: Client): Promise<{ status: number; headers: string; body: string }> {
  const buf = await c.wait('a response head', (b) => b.includes('\r\n\r\n'));
  const end = buf.indexOf('\r\n\r\n') + 4;
  const headers = buf.toString('latin1', 0, end);
  const length = Number(/\r\nContent-Length: (\d+)\r\n/i.exec(headers)?.[1]);
  expect(Number.isInteger(length)).toBe(true);
  await c.wait('a response body', (b) => b.length >= end + length);
  const all = c.take(end + length);
  return { status: Number(headers.split(' ')[1]), headers, body: all.toString('utf8', end) };
}

/** Splits a raw reply (everything up to the close) into status, headers and body. */
function parseReply(reply: string) {
  const end = reply.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  const headers = reply.slice(0, end + 4);
  return { status: Number(headers.split(' ')[1]), statusLine: headers.slice(0, headers.indexOf('\r\n')), headers, body: reply.slice(end + 4) };
}

const upgrade = (path: string, extra: Record<string, string | undefined> = {}) => {
  const headers: Record<string, string | undefined> = {
    Host: 'x',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Protocol': 'binary',
    ...extra,
  };
  const lines = Object.entries(headers).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}\r\n`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
};

interface BadRequest {
  name: string;
  request: (echoPort: number) => string | Buffer;
  status: number;
  reason: string;
  /** The response body (plus a newline) and the text the log line must contain. */
  message: string | ((echoPort: number) => string);
}

const BAD_REQUESTS: BadRequest[] = [
  { name: 'malformed request line', request: () => 'HELLO THERE\r\n\r\n', status: 400, reason: 'Bad Request', message: "bad request line 'HELLO THERE'" },
  {
    name: 'request line with control characters',
    request: () => 'GET /\x01\x02 HTTP/1.1 extra\r\n\r\n',
    status: 400,
    reason: 'Bad Request',
    message: "bad request line 'GET /?? HTTP/1.1 extra'",
  },
  {
    name: 'malformed header line',
    request: () => 'GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n',
    status: 400,
    reason: 'Bad Request',
    message: 'unable to parse request header',
  },
  {
    name: 'oversized head: one huge header line',
    request: () => `GET /metrics HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
    reason: 'Request Header Fields Too Large',
    message: 'request header too large (> 8192 bytes)',
  },
  {
    name: 'oversized head: a huge request line with no end',
    request: () => `GET /${'a'.repeat(9000)}`,
    status: 431,
    reason: 'Request Header Fields Too Large',
    message: 'request header too large (> 8192 bytes)',
  },
  {
    name: 'oversized head: too many header lines',
    request: () => `GET /metrics HTTP/1.1\r\n${'X-Many: 1\r\n'.repeat(100)}\r\n`,
    status: 431,
    reason: 'Request Header Fields Too Large',
    message: 'too many http header lines (> 64)',
  },
  { name: 'HTTP/2.0 request line', request: () => 'GET /metrics HTTP/2.0\r\n\r\n', status: 505, reason: 'HTTP Version Not Supported', message: 'http protocol version 2.0 not supported' },
  {
    name: 'websocket: bad Sec-WebSocket-Key',
    request: (p) => upgrade(`/websocket?port=${p}`, { 'Sec-WebSocket-Key': 'not-base64-16-bytes' }),
    status: 400,
    reason: 'Bad Request',
    message: 'missing or invalid Sec-WebSocket-Key',
  },
  {
    name: 'websocket: missing Sec-WebSocket-Key',
    request: (p) => upgrade(`/websocket?port=${p}`, { 'Sec-WebSocket-Key': undefined }),
    status: 400,
    reason: 'Bad Request',
    message: 'missing or invalid Sec-WebSocket-Key',
  },
  {
    name: 'websocket: missing subprotocol',
    request: (p) => upgrade(`/websocket?port=${p}`, { 'Sec-WebSocket-Protocol': undefined }),
    status: 400,
    reason: 'Bad Request',
    message: 'missing websocket-protocol header',
  },
  {
    name: 'websocket: unsupported subprotocol',
    request: (p) => upgrade(`/websocket?port=${p}`, { 'Sec-WebSocket-Protocol': 'chat, superchat' }),
    status: 400,
    reason: 'Bad Request',
    message: "unsupported websocket-protocol protocol 'chat, superchat'",
  },
  {
    name: 'websocket: unsupported version',
    request: (p) => upgrade(`/websocket?port=${p}`, { 'Sec-WebSocket-Version': '8' }),
    status: 400,
    reason: 'Bad Request',
    message: "unsupported websocket-version '8'",
  },
  {
    name: 'websocket: disallowed port',
    request: () => upgrade('/websocket?port=22'),
    status: 403,
    reason: 'Forbidden',
    message: "port '22' is not allowed",
  },
  {
    name: 'websocket: port that is not a number',
    request: () => upgrade('/websocket?port=0x16'),
    status: 403,
    reason: 'Forbidden',
    message: "port '0x16' is not allowed",
  },
  {
    name: 'websocket: disallowed socket',
    request: () => upgrade('/websocket?socket=/etc/passwd'),
    status: 403,
    reason: 'Forbidden',
    message: "socket '/etc/passwd' is not allowed",
  },
  {
    name: 'CONNECT: disallowed port',
    request: () => 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n',
    status: 403,
    reason: 'Forbidden',
    message: 'SPICE port 22 is not in the allowed range',
  },
  {
    name: 'CONNECT: unknown node',
    request: (p) => `CONNECT pve9:${p} HTTP/1.1\r\nHost: pve9:${p}\r\n\r\n`,
    status: 403,
    reason: 'Forbidden',
    message: "node 'pve9' is not allowed",
  },
  {
    name: 'CONNECT: bad target (no port)',
    request: () => 'CONNECT pve1 HTTP/1.1\r\nHost: pve1\r\n\r\n',
    status: 400,
    reason: 'Bad Request',
    message: "bad CONNECT target 'pve1'",
  },
  {
    name: 'CONNECT: bad target (a URL)',
    request: (p) => `CONNECT http://127.0.0.1:${p}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    reason: 'Bad Request',
    message: (p) => `bad CONNECT target 'http://127.0.0.1:${p}/'`,
  },
  {
    name: 'request body (Content-Length)',
    request: () => 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
    status: 413,
    reason: 'Content Too Large',
    message: 'request bodies are not accepted',
  },
  {
    name: 'request body (chunked)',
    request: () => 'GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    status: 413,
    reason: 'Content Too Large',
    message: 'request bodies are not accepted',
  },
  {
    name: 'request body (a large one, sent at once)',
    request: () => Buffer.concat([Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n'), Buffer.alloc(1 << 20, 0x42)]),
    status: 413,
    reason: 'Content Too Large',
    message: 'request bodies are not accepted',
  },
  { name: 'unknown path', request: () => 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n', status: 404, reason: 'Not Found', message: "no such path '/nope'" },
  {
    name: 'stream without a stream directory',
    request: () => 'GET /stream/x HTTP/1.1\r\nHost: x\r\n\r\n',
    status: 404,
    reason: 'Not Found',
    message: 'streaming is not configured',
  },
  { name: 'POST', request: () => 'POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n', status: 405, reason: 'Method Not Allowed', message: "method 'POST' not allowed" },
  {
    name: 'websocket path without an upgrade',
    request: (p) => `GET /websocket?port=${p} HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 426,
    reason: 'Upgrade Required',
    message: 'websocket upgrade required',
  },
];

describe('bad requests get a clear error and end only their own connection', () => {
  it.each(BAD_REQUESTS)('$name → $status', async ({ request, status, reason, message }) => {
    const { echo, proxy, port, logs, healthy } = await setup();
    const text = typeof message === 'function' ? message(echo.port) : message;
    const errorsBefore = proxy.metrics.requestErrors;

    // rawExchange resolves once the proxy closed the connection (bounded).
    const reply = parseReply(await rawExchange(port, request(echo.port), WAIT_MS));
    expect(reply.statusLine).toBe(`HTTP/1.1 ${status} ${reason}`);
    expect(reply.headers).toContain('\r\nConnection: close\r\n');
    expect(reply.body).toBe(`${text}\n`);
    // One log line, at warn, naming the problem (and the status, for routed requests).
    const line = logs.find((l) => l.includes(text));
    expect(line, logs.join('\n')).toMatch(/^warn: conn \d+ 127\.0\.0\.1:\d+: /);
    expect(proxy.metrics.requestErrors).toBe(errorsBefore + 1);

    await healthy.check();
    await keepAliveWorks(port);
    expect(proxy.metrics.sessionsOpen).toBe(1);
  });

  it('slow headers: half a head within the header timeout gets 408 and a close; an idle connection is closed silently', async () => {
    const { port, logs, healthy, proxy } = await setup({ headerTimeout: 0.3 });
    const slow = new Client(port, 2 * WAIT_MS);
    const idle = new Client(port, WAIT_MS);
    cleanup.push(() => slow.socket.destroy(), () => idle.socket.destroy());
    const started = Date.now();
    slow.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const reply = parseReply((await slow.closed('408 and close')).toString('latin1'));
    const waited = Date.now() - started;
    expect(reply.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(reply.headers).toContain('\r\nConnection: close\r\n');
    expect(reply.body).toBe('request timeout\n');
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(WAIT_MS);
    expect(logs.some((l) => /^warn: conn \d+ 127\.0\.0\.1:\d+: request head not received within 0\.3s$/.test(l)), logs.join('\n')).toBe(true);
    // A connection that sent nothing at all is closed without an answer.
    expect((await idle.closed('idle close')).length).toBe(0);
    // The websocket session was idle far longer than the header timeout, and lives on.
    await healthy.check();
    expect(proxy.metrics.sessionsOpen).toBe(1);
    await keepAliveWorks(port);
  });

  it('keep-alive: two GET /metrics on one connection, both 200; Connection: close closes after the response', async () => {
    const { port } = await setup();
    const c = new Client(port, WAIT_MS);
    cleanup.push(() => c.socket.destroy());
    for (let i = 0; i < 2; i++) {
      c.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      const r = await readResponse(c);
      expect(r.status).toBe(200);
      expect(r.headers).toContain('\r\nConnection: keep-alive\r\n');
      expect(r.body).toMatch(new RegExp(`^aeproxy_requests_total ${i + 2}$`, 'm'));
    }
    // Two more, pipelined in one write; the second asks for the close.
    c.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const third = await readResponse(c);
    expect(third.status).toBe(200);
    expect(third.headers).toContain('\r\nConnection: keep-alive\r\n');
    const fourth = await readResponse(c);
    expect(fourth.status).toBe(200);
    expect(fourth.headers).toContain('\r\nConnection: close\r\n');
    await c.closed('close after Connection: close');
    expect(c.received.length).toBe(0);
    // HTTP/1.0 without keep-alive closes too.
    const reply = parseReply(await rawExchange(port, 'GET /metrics HTTP/1.0\r\n\r\n', WAIT_MS));
    expect(reply.statusLine).toBe('HTTP/1.0 200 OK');
    expect(reply.headers).toContain('\r\nConnection: close\r\n');
  });
});

interface BadFrame {
  name: string;
  frame: Buffer;
  /** The close code the proxy answers with. */
  closeCode: number;
  /** What the log line says. */
  log: string;
}

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);
const clientFrame = (payload: Buffer, opts: FrameOptions = {}) => Buffer.concat(frame(payload, { mask: MASK, ...opts }));

const BAD_FRAMES: BadFrame[] = [
  { name: 'RSV bits set', frame: clientFrame(Buffer.from('abc'), { rsv: 4 }), closeCode: 1002, log: 'received websocket frame with RSV flags (WS_RSV)' },
  {
    name: 'too large (128 KiB + 1, header only)',
    frame: clientFrame(Buffer.alloc(0), { declaredLength: 128 * 1024 + 1 }),
    closeCode: 1009,
    log: 'received too large websocket frame (len = 131073) (WS_TOO_LARGE)',
  },
  {
    name: 'too large (192 KiB, the whole frame sent)',
    frame: clientFrame(Buffer.alloc(192 * 1024, 0x61)),
    closeCode: 1009,
    log: 'received too large websocket frame (len = 196608) (WS_TOO_LARGE)',
  },
  { name: 'unknown opcode', frame: clientFrame(Buffer.from('abc'), { opcode: 3 }), closeCode: 1002, log: 'received unhandled websocket opcode 3 (WS_BAD_OPCODE)' },
  {
    name: 'fragmented (FIN clear)',
    frame: clientFrame(Buffer.from('abc'), { fin: false }),
    closeCode: 1003,
    log: 'received fragmented websocket frame (WS_FRAGMENTED)',
  },
  {
    name: 'continuation frame',
    frame: clientFrame(Buffer.from('abc'), { opcode: OPCODE.CONTINUATION }),
    closeCode: 1002,
    log: 'received unhandled websocket opcode 0 (WS_BAD_OPCODE)',
  },
  { name: 'unmasked', frame: Buffer.concat(frame(Buffer.from('abc'))), closeCode: 1002, log: 'received unmasked websocket frame from client (WS_UNMASKED)' },
];

describe('invalid websocket frames after the upgrade end only that session', () => {
  it.each(BAD_FRAMES)('$name → close $closeCode', async ({ frame: bad, closeCode, log }) => {
    const { echo, port, logs, healthy, proxy } = await setup();
    const c = new Client(port, WAIT_MS);
    cleanup.push(() => c.socket.destroy());
    c.socket.write(upgrade(`/websocket?port=${echo.port}`));
    const head = await c.wait('101', (b) => b.includes('\r\n\r\n'));
    const end = head.indexOf('\r\n\r\n') + 4;
    const handshake = c.take(end).toString('latin1');
    expect(handshake).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(handshake).toContain(`Sec-WebSocket-Accept: ${ACCEPT}\r\n`);
    await until(() => proxy.metrics.sessionsOpen === 2, 'the session started', WAIT_MS);
    // A good frame first: the session works until the bad one.
    c.socket.write(clientFrame(Buffer.from('fine')));
    await c.wait('echo of the good frame', (b) => b.length >= 6);
    expect(c.take(6).equals(Buffer.concat(frame(Buffer.from('fine'))))).toBe(true);

    c.socket.write(bad);
    const rest = await c.closed('close frame and connection close');
    // A close frame with the status code, then the connection closes.
    expect([...rest]).toEqual([0x88, 0x02, closeCode >> 8, closeCode & 0xff]);
    const line = logs.find((l) => l.includes(log));
    expect(line, logs.join('\n')).toMatch(/^err: session \d+: websocket: /);
    await until(() => proxy.metrics.sessionsOpen === 1, 'the bad session ended', WAIT_MS);

    await healthy.check();
    await keepAliveWorks(port);
  });
});
