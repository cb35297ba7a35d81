import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PatternCheck,
  connectTunnel,
  curl,
  curlVersion,
  echoServer,
  openRaw,
  rawExchange,
  startProxy,
  until,
  writePattern,
} from './helpers.js';

/** A small HTTP backend that answers every request with its method and path. */
async function httpBackend() {
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(`backend saw ${req.method} ${req.url}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** The SPICE CONNECT relay (spice_proxy) on real sockets: curl, raw sockets, and two chained proxies. */
describe('spice_proxy end to end', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  describe.skipIf(!curlVersion)(`with curl${curlVersion ? '' : ' (skipped: curl --version failed)'}`, () => {
    it('tunnels an HTTP request through CONNECT (curl -p -x) to a local backend', async () => {
      const backend = await httpBackend();
      const { proxy, port, logs } = await startProxy({ allowPorts: [[backend.port, backend.port]] });
      cleanup.push(() => backend.close(), () => proxy.close());
      const r = await curl(['-sS', '--max-time', '10', '-p', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${backend.port}/some/path?x=1`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe('backend saw GET /some/path?x=1\n');
      expect(proxy.metrics.sessionsTotal.spice).toBe(1);
      expect(logs.filter((l) => l.includes('spice session for 127.0.0.1:'))).toHaveLength(1);
      await until(() => proxy.metrics.sessionsOpen === 0, 'session closed after curl hung up', 5000);
    });

    it('refuses a port outside allowPorts with 403: curl exits 56 (CONNECT tunnel failed) and nothing is relayed', async () => {
      const backend = await httpBackend();
      // The backend listens, but its port is not allowed: the proxy must not connect to it.
      const { proxy, port, logs } = await startProxy({ allowPorts: [[backend.port + 1, backend.port + 1]] });
      cleanup.push(() => backend.close(), () => proxy.close());
      const r = await curl(['-sS', '--max-time', '10', '-p', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${backend.port}/`]);
      // curl 7.88: "curl: (56) CONNECT tunnel failed, response 403"; older curls word it
      // "Received HTTP code 403 from proxy after CONNECT", same exit code.
      expect(r.code).toBe(56);
      expect(r.stderr).toMatch(/\b403\b/);
      expect(r.stdout.length).toBe(0);
      expect(proxy.metrics.sessionsTotal.spice).toBe(0);
      expect(logs.some((l) => l.includes(`403 SPICE port ${backend.port} is not in the allowed range`))).toBe(true);
    });

    it('chains CONNECT b:PORT from proxy A to proxy B (curl does not resolve b: the proxy gets the name)', async () => {
      const backend = await httpBackend();
      const allow: Array<[number, number]> = [[backend.port, backend.port]];
      const b = await startProxy({ nodeName: 'b', allowPorts: allow });
      const a = await startProxy({ nodeName: 'a', allowPorts: allow, peers: new Map([['b', { host: '127.0.0.1', port: b.port }]]) });
      cleanup.push(() => backend.close(), () => a.proxy.close(), () => b.proxy.close());
      const r = await curl(['-sS', '--max-time', '10', '-p', '-x', `http://127.0.0.1:${a.port}`, `http://b:${backend.port}/chained`]);
      expect(r.stderr).toBe('');
      expect(r.stdout.toString()).toBe('backend saw GET /chained\n');
      expect(a.proxy.metrics.sessionsTotal.spice).toBe(1);
      expect(b.proxy.metrics.sessionsTotal.spice).toBe(1);
    });
  });

  it('refuses unknown nodes, malformed targets and a CONNECT to a peer that carries PVEDisableProxy', async () => {
    const echo = await echoServer();
    const { proxy, port } = await startProxy({
      nodeName: 'a',
      allowPorts: [[echo.port, echo.port]],
      peers: new Map([['b', { host: '127.0.0.1', port: 9 }]]),
    });
    cleanup.push(() => echo.close(), () => proxy.close());
    const connect = (target: string, extra = '') => rawExchange(port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extra}\r\n`);
    expect(await connect(`c:${echo.port}`)).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*node 'c' is not allowed/);
    expect(await connect('127.0.0.1')).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(await connect(`b:${echo.port}`, 'PVEDisableProxy: true\r\n')).toMatch(/^HTTP\/1\.1 500 [^\r]*\r\n[\s\S]*proxy loop detected/);
    // A local node name is served here: the session works.
    const t = await connectTunnel(port, `a:${echo.port}`);
    cleanup.push(() => t.socket.destroy());
    expect(t.head).toBe('HTTP/1.1 200 OK\r\n\r\n');
    expect(proxy.metrics.sessionsTotal.spice).toBe(1);
    expect(echo.connections()).toBe(1);
  });

  it('answers 502 when the backend port is allowed but nothing listens there', async () => {
    const unused = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const { proxy, port, logs } = await startProxy({ allowPorts: [[unused, unused]] });
    cleanup.push(() => proxy.close());
    const reply = await rawExchange(port, `CONNECT 127.0.0.1:${unused} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(logs.some((l) => l.includes(`connect to '127.0.0.1:${unused}' failed`))).toBe(true);
    await until(() => proxy.metrics.sessionsOpen === 0, 'session closed', 5000);
  });

  it('remote mode: A chains CONNECT b:PORT to B, B to the echo backend; 5 MB each way arrive intact', async () => {
    const MB5 = 5 * 1000 * 1000;
    const echo = await echoServer();
    const allow: Array<[number, number]> = [[echo.port, echo.port]];
    const b = await startProxy({ nodeName: 'b', allowPorts: allow });
    const a = await startProxy({ nodeName: 'a', allowPorts: allow, peers: new Map([['b', { host: '127.0.0.1', port: b.port }]]) });
    cleanup.push(() => echo.close(), () => a.proxy.close(), () => b.proxy.close());

    const t = await connectTunnel(a.port, `b:${echo.port}`);
    cleanup.push(() => t.socket.destroy());
    // A answers 200 only once B did (chainConnect reads B's 200 and its empty line first).
    expect(t.head).toBe('HTTP/1.1 200 OK\r\n\r\n');
    expect(t.rest.length).toBe(0);
    const check = new PatternCheck();
    let ended = false;
    t.socket.on('data', (d: Buffer) => check.push(d));
    t.socket.on('end', () => (ended = true));
    t.socket.resume();
    // Client → A → B → echo → B → A → client, both directions at once.
    writePattern(t.socket, MB5);
    await until(() => check.received >= MB5 || check.firstMismatch !== undefined, '5 MB echoed back through both proxies', 30_000);
    expect(check.firstMismatch).toBeUndefined();
    expect(check.received).toBe(MB5);

    for (const { proxy } of [a, b]) {
      expect(proxy.metrics.sessionsTotal).toEqual({ websocket: 0, spice: 1, stream: 0 });
      expect(proxy.metrics.directions.to_backend.bytes).toBe(MB5);
      expect(proxy.metrics.directions.to_client.bytes).toBe(MB5);
    }
    expect(a.logs.filter((l) => /spice session for 127\.0\.0\.1:\d+$/.test(l))).toHaveLength(1);
    expect(b.logs.filter((l) => /spice session for 127\.0\.0\.1:\d+$/.test(l))).toHaveLength(1);
    expect(echo.connections()).toBe(1);

    // The client hangs up: A ends its session, B sees A's connection close, the echo sees B's.
    t.socket.end();
    await until(() => a.proxy.metrics.sessionsOpen === 0 && b.proxy.metrics.sessionsOpen === 0, 'both sessions closed', 5000);
    await until(() => ended, 'client sees EOF', 5000);
  });

  it('remote mode: the request A sends to the peer is a CONNECT with PVEDisableProxy and the client address', async () => {
    let head = '';
    const fakeB = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        if (head.includes('\r\n\r\n')) return void s.write(d); // then echo
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) s.write('HTTP/1.1 200 OK\r\n\r\n');
      });
    });
    await new Promise<void>((r) => fakeB.listen(0, '127.0.0.1', r));
    const fakePort = (fakeB.address() as net.AddressInfo).port;
    const { proxy, port } = await startProxy({ nodeName: 'a', allowPorts: [[5900, 5999]], peers: new Map([['b', { host: '127.0.0.1', port: fakePort }]]) });
    cleanup.push(() => fakeB.close(), () => proxy.close());
    const t = await connectTunnel(port, 'b:5901');
    cleanup.push(() => t.socket.destroy());
    expect(t.head).toBe('HTTP/1.1 200 OK\r\n\r\n');
    const lines = head.split('\r\n');
    expect(lines[0]).toBe('CONNECT b:5901 HTTP/1.1');
    expect(lines).toContain('Host: b:5901');
    expect(lines).toContain('PVEDisableProxy: true');
    expect(lines).toContain('PVEClientIP: 127.0.0.1');
    const echoed = new Promise<string>((resolve) => t.socket.once('data', (d: Buffer) => resolve(d.toString())));
    t.socket.resume();
    t.socket.write('ping through the chain');
    expect(await echoed).toBe('ping through the chain');
  });

  it("remote mode: the peer's refusal is passed on to the client and the session ends", async () => {
    const b = await startProxy({ nodeName: 'b', allowPorts: [[1, 1]] });
    const a = await startProxy({ nodeName: 'a', allowPorts: [[5900, 5999]], peers: new Map([['b', { host: '127.0.0.1', port: b.port }]]) });
    cleanup.push(() => a.proxy.close(), () => b.proxy.close());
    // A allows 5901, B does not: B answers 403 and A forwards its status line (as pveproxy
    // does: the bare line, then the connection closes).
    const r = await openRaw(a.port, 'CONNECT b:5901 HTTP/1.1\r\nHost: b\r\n\r\n');
    r.socket.destroy();
    expect(r.closed).toBe(true);
    expect(r.head).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(a.logs.some((l) => l.includes('remote proxy refused: HTTP/1.1 403 Forbidden'))).toBe(true);
    await until(() => a.proxy.metrics.sessionsOpen === 0, 'session closed', 5000);
  });
});
