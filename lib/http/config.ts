import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_LIMITS, type RequestLimits } from './requestReader.js';

/** Inclusive port ranges. */
export type PortRanges = ReadonlyArray<readonly [number, number]>;

/** What the proxy may reach and how it behaves; validated once, by `parse*` or the CLI. */
export interface ProxyConfig {
  /** Backend ports clients may ask for (websocket `?port=`, CONNECT). Nothing by default. */
  allowPorts: PortRanges;
  /** Unix socket paths clients may ask for (websocket `?socket=`). */
  allowSockets: readonly string[];
  /** Directory served under /stream/ (no subdirectories, no dot files). */
  streamDir?: string;
  /** true: the #7483 patch; false: the code before it. */
  backpressure: boolean;
  /** This node's name: `CONNECT <nodeName>:<port>` (or localhost) is served here. */
  nodeName: string;
  /** Other nodes' proxies for remote SPICE: `CONNECT <name>:<port>` is chained to them. */
  peers: ReadonlyMap<string, { host: string; port: number }>;
  /** Seconds a client may take to send a request head (and idle between requests). */
  headerTimeout: number;
  /** Seconds sessions may take to finish after a shutdown signal. */
  shutdownGrace: number;
  limits: RequestLimits;
}

export const DEFAULT_CONFIG: ProxyConfig = {
  allowPorts: [],
  allowSockets: [],
  backpressure: true,
  nodeName: 'localhost',
  peers: new Map(),
  headerTimeout: 10,
  shutdownGrace: 30,
  limits: DEFAULT_LIMITS,
};

/** "5900-5999,61000" → [[5900, 5999], [61000, 61000]]; throws a message naming the bad part. */
export function parsePortRanges(text: string): PortRanges {
  const ranges: Array<[number, number]> = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    if (!m) throw new Error(`bad port range '${part}' (expected N or N-M)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || lo > hi) throw new Error(`bad port range '${part}' (ports are 1-65535, low before high)`);
    ranges.push([lo, hi]);
  }
  if (!ranges.length) throw new Error('empty port range list');
  return ranges;
}

export function portAllowed(ranges: PortRanges, port: number): boolean {
  return ranges.some(([lo, hi]) => port >= lo && port <= hi);
}

/** "name=host:port" → a peer entry; throws a message naming the bad part. */
export function parsePeer(text: string): [string, { host: string; port: number }] {
  const m = /^([A-Za-z0-9][A-Za-z0-9.-]*)=(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`bad peer '${text}' (expected name=host:port)`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`bad peer '${text}' (port out of range)`);
  return [m[1], { host: m[2].replace(/^\[|\]$/g, ''), port }];
}

export function parseSocketPath(text: string): string {
  if (!isAbsolute(text)) throw new Error(`socket path '${text}' must be absolute`);
  return resolve(text);
}
