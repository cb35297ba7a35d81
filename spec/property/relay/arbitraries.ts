/**
 * Whole schedules for each handler, built from the pieces in schedule.ts.
 */
import fc from 'fast-check';
import { SPICE_WBUF_LIMIT } from '../../../lib/proxy/spice_proxy.js';
import { STREAM_BUF_SIZE } from '../../../lib/proxy/response_stream.js';
import type { SpiceSchedule, StreamSchedule, WsItem, WsSchedule } from './handlers.js';
import { ONE_READ } from './handlers.js';
import {
  KiB,
  MiB,
  capacityArb,
  endArb,
  rateArb,
  readSizeArb,
  readerArb,
  sendSizeArb,
  senderArb,
  type EndPlan,
  type PeerPlan,
  type ReaderPlan,
  type SenderPlan,
} from './schedule.js';

type Who = 'client' | 'backend';

function peer(sender: SenderPlan, reader: ReaderPlan, sends: boolean, end: EndPlan | undefined): PeerPlan {
  return { ...sender, send: sends ? sender.send : 0, ...reader, ...(end ? { end } : {}) };
}

const endingArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.record({ who: fc.constantFrom<Who>('client', 'backend'), end: endArb() }) },
);

const relayCapacityArb = fc.record({ clientToProxy: capacityArb, proxyToClient: capacityArb, backend: capacityArb });
const relayReadSizeArb = fc.record({ client: readSizeArb, backend: readSizeArb });

// ------------------------------------------------------------------------------- spice

/**
 * The write limit: pveproxy's 640 KiB mostly, sometimes smaller. Not below one read
 * (128 KiB): the unbounded run keeps the original's `wbuf_max` in the 7.17 mode, which does
 * fire (fatal ENOSPC) when a single read overshoots a limit smaller than a read.
 */
const spiceLimitArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(SPICE_WBUF_LIMIT) },
  { weight: 1, arbitrary: fc.integer({ min: ONE_READ, max: 512 * KiB }) },
);

/** Any spice schedule: one way or both ways, any rates and stalls, perhaps one peer ending. */
export const spiceScheduleArb: fc.Arbitrary<SpiceSchedule> = fc
  .record({
    limit: spiceLimitArb,
    shape: fc.constantFrom('to_client', 'to_backend', 'both'),
    clientSend: senderArb(),
    backendSend: senderArb(),
    clientRead: readerArb(),
    backendRead: readerArb(),
    ending: endingArb,
    capacity: relayCapacityArb,
    readSize: relayReadSizeArb,
  })
  .map(({ limit, shape, clientSend, backendSend, clientRead, backendRead, ending, capacity, readSize }) => ({
    limit,
    client: peer(clientSend, clientRead, shape !== 'to_client', ending?.who === 'client' ? ending.end : undefined),
    backend: peer(backendSend, backendRead, shape !== 'to_backend', ending?.who === 'backend' ? ending.end : undefined),
    capacity,
    readSize,
  }));

/**
 * The source outpaces a destination that stalls completely for 1–4 virtual seconds
 * (from the start), sending more than limit + one read + the destination's kernel buffer:
 * without backpressure that excess has nowhere to go but the proxy's wbuf.
 * `end`: the source ends (at a time during the stall, while the proxy is paused) — the tail case.
 */
export function spiceOutpacedArb(opts: { end?: boolean } = {}) {
  return fc
    .record({
      direction: fc.constantFrom('to_client' as const, 'to_backend' as const),
      limit: spiceLimitArb,
      stall: fc.integer({ min: 1000, max: 4000 }).map((ms) => ms / 1000),
      sendRate: fc.oneof(fc.constant(Infinity), rateArb(48)),
      writeSize: fc.integer({ min: 1 * KiB, max: 64 * KiB }),
      extra: fc.integer({ min: 64 * KiB, max: 2 * MiB }),
      drain: readerArb({ maxPhases: 1 }),
      capacity: relayCapacityArb,
      readSize: relayReadSizeArb,
      endKind: fc.constantFrom<EndPlan['kind']>('shutdown', 'close'),
      endAt: fc.integer({ min: 50, max: 95 }),
    })
    .map((g): SpiceSchedule => {
      const destCapacity = g.direction === 'to_client' ? g.capacity.proxyToClient : g.capacity.backend;
      const send = Math.min(3 * MiB, g.limit + ONE_READ + destCapacity + g.extra);
      const reader: ReaderPlan = {
        readRate: 0,
        readSchedule: [{ at: g.stall, rate: g.drain.readSchedule.at(-1)?.rate ?? g.drain.readRate }],
        readSize: g.drain.readSize,
      };
      // A client source that closes would be cut by the 200 written to it; it half-closes.
      const kind = g.direction === 'to_backend' ? 'shutdown' : g.endKind;
      const end: EndPlan | undefined = opts.end ? { kind, at: (g.stall * g.endAt) / 100 } : undefined;
      const source: PeerPlan = { send, sendRate: g.sendRate, writeSize: g.writeSize, readRate: Infinity, readSchedule: [], readSize: 64 * KiB, ...(end ? { end } : {}) };
      const dest: PeerPlan = { send: 0, sendRate: Infinity, writeSize: 64 * KiB, ...reader };
      return {
        limit: g.limit,
        client: g.direction === 'to_client' ? dest : source,
        backend: g.direction === 'to_client' ? source : dest,
        capacity: g.capacity,
        readSize: g.readSize,
      };
    });
}

// ------------------------------------------------------------------------------- websocket

const MAX_PAYLOAD = 128 * KiB;

/** A client frame: mostly data of any size up to 128 KiB, sometimes a ping (payload 0–125 bytes). */
export const wsItemArb: fc.Arbitrary<WsItem> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      size: fc.oneof(
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 125 }) },
        { weight: 2, arbitrary: fc.integer({ min: 126, max: 65_535 }) },
        { weight: 3, arbitrary: fc.integer({ min: 65_536, max: MAX_PAYLOAD }) },
      ),
      text: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ping' as const), size: fc.integer({ min: 0, max: 125 }) }) },
);

// size 'max': lengths spread over 0–40 (the default size keeps arrays short, and a short client stream rarely reaches the limit).
const wsItemsArb = fc.array(wsItemArb, { maxLength: 40, size: 'max' });

/** Any websocket schedule: client frames (data and pings) and backend bytes, any rates, perhaps one peer ending. */
export const wsScheduleArb: fc.Arbitrary<WsSchedule> = fc
  .record({
    shape: fc.constantFrom('to_client', 'to_backend', 'both'),
    items: wsItemsArb,
    mask: fc.boolean(),
    clientSend: senderArb(fc.constant(0)),
    backendSend: senderArb(),
    clientRead: readerArb(),
    backendRead: readerArb(),
    ending: endingArb,
    capacity: relayCapacityArb,
    readSize: relayReadSizeArb,
  })
  .map(({ shape, items, mask, clientSend, backendSend, clientRead, backendRead, ending, capacity, readSize }) => ({
    // One way towards the client: the client sends pings only, if anything.
    items: shape === 'to_client' ? items.filter((i) => i.kind === 'ping') : items,
    mask,
    client: { sendRate: clientSend.sendRate, writeSize: clientSend.writeSize, ...clientRead, ...(ending?.who === 'client' ? { end: ending.end } : {}) },
    backend: peer(backendSend, backendRead, shape !== 'to_backend', ending?.who === 'backend' ? ending.end : undefined),
    capacity,
    readSize,
  }));

/**
 * Bulk frames with pings in between, the backend stalled for 1–4 virtual seconds from the
 * start: the proxy pauses reading from the client with pings still unread behind the data.
 */
export const wsPingsBehindDataArb: fc.Arbitrary<WsSchedule> = fc
  .record({
    bulk: fc.array(fc.integer({ min: 16 * KiB, max: MAX_PAYLOAD }), { minLength: 8, maxLength: 24 }),
    pings: fc.array(fc.record({ at: fc.nat(), size: fc.integer({ min: 0, max: 125 }) }), { minLength: 1, maxLength: 6 }),
    mask: fc.boolean(),
    stall: fc.integer({ min: 1000, max: 4000 }).map((ms) => ms / 1000),
    backendRead: readerArb({ maxPhases: 1 }),
    clientRead: readerArb(),
    sendRate: fc.oneof(fc.constant(Infinity), rateArb(48)),
    capacity: relayCapacityArb,
    readSize: relayReadSizeArb,
  })
  .map((g) => {
    const items: WsItem[] = g.bulk.map((size) => ({ kind: 'data', size, text: false }));
    // Pings after any of the data frames: some land in front of the pause point, most behind it.
    for (const p of g.pings) items.splice(Math.min(items.length, 1 + (p.at % items.length)), 0, { kind: 'ping', size: p.size });
    return {
      items,
      mask: g.mask,
      client: { sendRate: g.sendRate, writeSize: 64 * KiB, ...g.clientRead },
      backend: {
        send: 0,
        sendRate: Infinity,
        writeSize: 64 * KiB,
        readRate: 0,
        readSchedule: [{ at: g.stall, rate: g.backendRead.readSchedule.at(-1)?.rate ?? g.backendRead.readRate }],
        readSize: g.backendRead.readSize,
      },
      capacity: g.capacity,
      readSize: g.readSize,
    };
  });

/** As spiceOutpacedArb, for the websocket proxy: client frames towards a stalled backend, or backend bytes towards a stalled client. */
export function wsOutpacedArb(opts: { end?: boolean } = {}) {
  return fc
    .record({
      direction: fc.constantFrom('to_client' as const, 'to_backend' as const),
      stall: fc.integer({ min: 1000, max: 4000 }).map((ms) => ms / 1000),
      sendRate: fc.oneof(fc.constant(Infinity), rateArb(48)),
      frameSize: fc.integer({ min: 1 * KiB, max: MAX_PAYLOAD }),
      extra: fc.integer({ min: 64 * KiB, max: 2 * MiB }),
      drain: readerArb({ maxPhases: 1 }),
      capacity: relayCapacityArb,
      readSize: relayReadSizeArb,
      endKind: fc.constantFrom<EndPlan['kind']>('shutdown', 'close'),
      endAt: fc.integer({ min: 50, max: 95 }),
      mask: fc.boolean(),
    })
    .map((g): WsSchedule => {
      const limit = 5 * MAX_PAYLOAD;
      const destCapacity = g.direction === 'to_client' ? g.capacity.proxyToClient : g.capacity.backend;
      const bytes = Math.min(3 * MiB, limit + MAX_PAYLOAD + 10 + destCapacity + g.extra);
      const reader: ReaderPlan = {
        readRate: 0,
        readSchedule: [{ at: g.stall, rate: g.drain.readSchedule.at(-1)?.rate ?? g.drain.readRate }],
        readSize: g.drain.readSize,
      };
      const kind = g.direction === 'to_backend' ? 'shutdown' : g.endKind;
      const end: EndPlan | undefined = opts.end ? { kind, at: (g.stall * g.endAt) / 100 } : undefined;
      const items: WsItem[] = [];
      if (g.direction === 'to_backend') {
        for (let left = bytes; left > 0; left -= g.frameSize) items.push({ kind: 'data', size: Math.min(left, g.frameSize), text: false });
      }
      const eager = { readRate: Infinity, readSchedule: [], readSize: 64 * KiB };
      return {
        items,
        mask: g.mask,
        client:
          g.direction === 'to_backend'
            ? { sendRate: g.sendRate, writeSize: 64 * KiB, ...eager, ...(end ? { end } : {}) }
            : { sendRate: Infinity, writeSize: 64 * KiB, ...reader },
        backend:
          g.direction === 'to_client'
            ? { send: bytes, sendRate: g.sendRate, writeSize: 64 * KiB, ...eager, ...(end ? { end } : {}) }
            : { send: 0, sendRate: Infinity, writeSize: 64 * KiB, ...reader },
        capacity: g.capacity,
        readSize: g.readSize,
      };
    });
}

// ------------------------------------------------------------------------------- response_stream

/**
 * The read-ahead bound: pveproxy's 4 MiB sometimes, mostly smaller so that a few MiB are
 * enough to fill it. Not below 512 KiB: the source's rbuf_max is this bound, and with a
 * bound under about 4 reads (read_size doubles up to 128 KiB) a paused source's rbuf can
 * pass it (an option that pveproxy never uses this way).
 */
const streamBufArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(STREAM_BUF_SIZE) },
  { weight: 3, arbitrary: fc.integer({ min: 512 * KiB, max: 2 * MiB }) },
);

/**
 * Any response_stream schedule: a producer that ends its stream (or, with `open`, keeps it
 * open after sending), a client that reads (and, without `open`, may go away).
 */
export function streamScheduleArb(opts: { open?: boolean } = {}): fc.Arbitrary<StreamSchedule> {
  return fc
    .record({
      bufSize: streamBufArb,
      producer: senderArb(sendSizeArb(6 * MiB)),
      end: endArb(),
      client: readerArb(),
      clientCloses: fc.oneof(
        { weight: 4, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 6000 }).map((ms) => ms / 1000) },
      ),
      capacity: fc.record({ source: capacityArb, client: capacityArb }),
      readSize: readSizeArb,
    })
    .map(({ bufSize, producer, end, client, clientCloses, capacity, readSize }) => ({
      bufSize,
      producer: opts.open ? producer : { ...producer, end },
      client: { ...client, ...(clientCloses === null || opts.open ? {} : { closeAt: clientCloses }) },
      capacity,
      readSize,
    }));
}

/**
 * The producer outpaces a client that stalls for 1–4 s from the start, by more than
 * bufSize + the client's kernel buffer: the unbounded run's wbuf must pass bufSize.
 * `end`: the tail case: the stream ends during the stall while reading is paused. Reading
 * pauses only once rbuf + 4 × read_size passes bufSize on top of a full wbuf, so the
 * producer then sends more than 2 × bufSize + both kernel buffers.
 */
export function streamOutpacedArb(opts: { end?: boolean } = {}): fc.Arbitrary<StreamSchedule> {
  return fc
    .record({
      bufSize: opts.end ? fc.integer({ min: 512 * KiB, max: 2 * MiB }) : streamBufArb,
      stall: fc.integer({ min: 1000, max: 4000 }).map((ms) => ms / 1000),
      sendRate: fc.oneof(fc.constant(Infinity), rateArb(54)),
      writeSize: fc.integer({ min: 1 * KiB, max: 64 * KiB }),
      extra: fc.integer({ min: 64 * KiB, max: 2 * MiB }),
      drain: readerArb({ maxPhases: 1 }),
      capacity: fc.record({ source: capacityArb, client: capacityArb }),
      readSize: readSizeArb,
      endKind: fc.constantFrom<EndPlan['kind']>('shutdown', 'close'),
      endAt: fc.integer({ min: 50, max: 95 }),
    })
    .map((g) => ({
      bufSize: g.bufSize,
      producer: {
        send: opts.end
          ? 2 * g.bufSize + g.capacity.client + g.capacity.source + g.extra
          : Math.min(6 * MiB, g.bufSize + g.capacity.client + g.extra),
        sendRate: g.sendRate,
        writeSize: g.writeSize,
        end: opts.end ? { kind: g.endKind, at: (g.stall * g.endAt) / 100 } : { kind: g.endKind, at: 'sent' as const },
      },
      client: { readRate: 0, readSchedule: [{ at: g.stall, rate: g.drain.readSchedule.at(-1)?.rate ?? g.drain.readRate }], readSize: g.drain.readSize },
      capacity: g.capacity,
      readSize: g.readSize,
    }));
}

/** A ping flood: `count` pings of `size` bytes from a client that does not read for `stall` seconds. */
export interface PingFlood {
  count: number;
  size: number;
  stall: number;
  mask: boolean;
  capacity: WsSchedule['capacity'];
  readSize: WsSchedule['readSize'];
}

/**
 * A client that sends nothing but pings and does not read for 1–4 virtual seconds; the
 * backend reads everything. (The pong flood: see WS_PONG_FLOOD.) Kept compact so that a
 * counterexample prints as a few numbers; `pingFloodSchedule` makes the schedule.
 */
export const wsPingFloodArb: fc.Arbitrary<PingFlood> = fc.record({
  count: fc.integer({ min: 1, max: 12_000 }),
  size: fc.integer({ min: 0, max: 125 }),
  stall: fc.integer({ min: 1000, max: 4000 }).map((ms) => ms / 1000),
  mask: fc.boolean(),
  capacity: relayCapacityArb,
  readSize: relayReadSizeArb,
});

export function pingFloodSchedule(g: PingFlood): WsSchedule {
  return {
    items: Array.from({ length: g.count }, (): WsItem => ({ kind: 'ping', size: g.size })),
    mask: g.mask,
    client: { sendRate: Infinity, writeSize: 64 * KiB, readRate: 0, readSchedule: [{ at: g.stall, rate: Infinity }], readSize: 64 * KiB },
    backend: { send: 0, sendRate: Infinity, writeSize: 64 * KiB, readRate: Infinity, readSchedule: [], readSize: 64 * KiB },
    capacity: g.capacity,
    readSize: g.readSize,
  };
}
