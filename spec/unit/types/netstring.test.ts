import { afterEach, describe, expect, it } from 'vitest';
import { netstring as writeNetstring } from '../../../lib/types/write/netstring.js';
import { loopbackPair } from './loopback.js';
import { HAVE_PERL_ANYEVENT, perlLines } from './perl.js';
import { deliveries, scriptedHandle } from './scriptedFh.js';

const BAD = { fatal: false, message: 'Bad message', code: 'EBADMSG' };

/** Queues `reads` netstring reads on a scripted handle and feeds it `parts`. */
function readNetstrings(reads: number, parts: Array<Buffer | string>) {
  const { hdl, fh, errors } = scriptedHandle();
  const got: Buffer[] = [];
  for (let i = 0; i < reads; i++) hdl.push_read('netstring', (_h, data) => got.push(Buffer.from(data)));
  for (const part of parts) fh.feed(part);
  return { hdl, fh, errors, got };
}

describe('netstring read type', () => {
  const FIXTURES: Array<[name: string, wire: Buffer, expected: string[]]> = [
    ['one', Buffer.from('5:hello,'), ['hello']],
    ['empty', Buffer.from('0:,'), ['']],
    ['two in a row', Buffer.from('12:hello world!,3:abc,'), ['hello world!', 'abc']],
    ['UTF-8, counted in bytes', Buffer.from('11:héllo 😀,'), ['héllo 😀']],
    ['data that looks like framing', Buffer.from('7:1:2,3:,,'), ['1:2,3:,']],
  ];

  for (const [name, wire, expected] of FIXTURES) {
    it(`reads ${name}, however the bytes arrive`, () => {
      for (const { name: how, parts } of deliveries(wire)) {
        const { hdl, errors, got } = readNetstrings(expected.length, parts);
        expect(got.map((b) => b.toString('utf8')), how).toEqual(expected);
        expect(errors, how).toEqual([]);
        expect(hdl.rbuf.length, how).toBe(0);
      }
    });
  }

  it('passes the data as a Buffer, leaving what follows in rbuf', () => {
    const { hdl, got } = readNetstrings(1, ['3:abc,rest']);
    expect(Buffer.isBuffer(got[0])).toBe(true);
    expect(hdl.rbuf.toString()).toBe('rest');
  });

  it('consumes the header as soon as it is complete, then waits for the data', () => {
    const { hdl, got } = readNetstrings(1, ['10:hel']);
    expect(got).toEqual([]);
    expect(hdl.rbuf.toString()).toBe('hel');
  });

  it('waits while rbuf holds only digits, as perl does (even with a leading zero)', () => {
    for (const digits of ['1', '12', '0', '0123', '9007199254740991']) {
      const { hdl, errors } = readNetstrings(1, [digits]);
      expect(errors, digits).toEqual([]);
      expect(hdl.rbuf.toString(), digits).toBe(digits);
    }
  });

  it.each(['x5:hello,', ':x,', '01:x,', '5x', '-1:', ' 5:hello,'])(
    'raises a non-fatal EBADMSG on the bad header %j, and leaves rbuf alone',
    (wire) => {
      const { hdl, errors, got } = readNetstrings(1, [wire]);
      expect(errors).toEqual([BAD]);
      expect(got).toEqual([]);
      expect(hdl.rbuf.toString()).toBe(wire);
    },
  );

  it('stays queued after a bad header: raises again on more data, reads once rbuf is fixed', () => {
    const { hdl, fh, errors, got } = readNetstrings(1, ['x5:hello,']);
    fh.feed('y');
    expect(errors).toEqual([BAD, BAD]);
    hdl.rbuf = hdl.rbuf.subarray(1);
    fh.feed('z');
    expect(got.map(String)).toEqual(['hello']);
    expect(hdl.rbuf.toString()).toBe('yz');
    expect(errors).toHaveLength(2);
  });

  it('raises a non-fatal EBADMSG on a bad trailer, drops that netstring and goes on', () => {
    for (const { name: how, parts } of deliveries(Buffer.from('3:abc;3:def,'))) {
      const { hdl, errors, got } = readNetstrings(2, parts);
      expect(errors, how).toEqual([BAD]);
      expect(got.map(String), how).toEqual(['def']);
      expect(hdl.rbuf.length, how).toBe(0);
    }
  });

  it('rejects a length beyond 2^53-1 (a divergence: perl would wait for the data)', () => {
    const { errors } = readNetstrings(1, ['9007199254740992:']);
    expect(errors).toEqual([BAD]);
  });

  it('rejects a length beyond 2^53-1 before its colon arrives', () => {
    const { errors, hdl } = readNetstrings(1, ['90071992547409920']);
    expect(errors).toEqual([BAD]);
    expect(hdl.rbuf.toString()).toBe('90071992547409920');
  });
});

describe('netstring write type', () => {
  const { hdl } = scriptedHandle();

  it.each([
    ['hello', '5:hello,'],
    ['', '0:,'],
    ['héllo', '6:héllo,'],
  ])('writes %j as %j, counting bytes', (data, wire) => {
    const out = writeNetstring(hdl, data);
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out).toEqual(Buffer.from(wire, 'utf8'));
  });

  it('writes Buffers and Uint8Arrays as they are', () => {
    expect(writeNetstring(hdl, Buffer.from([0, 255, 44]))).toEqual(Buffer.from('3:\x00\xff,,', 'latin1'));
    expect(writeNetstring(hdl, new Uint8Array([1, 2]).subarray(1))).toEqual(Buffer.from('1:\x02,', 'latin1'));
  });

  it('rejects other data', () => {
    expect(() => writeNetstring(hdl, 5 as unknown as string)).toThrow(TypeError);
  });

  it('goes through push_write', () => {
    const { hdl: h, fh } = scriptedHandle();
    h.push_write('netstring', 'abc');
    expect(fh.written.toString()).toBe('3:abc,');
  });

  it.skipIf(!HAVE_PERL_ANYEVENT)('writes what AnyEvent::Handle writes, and reads what it writes (needs perl with AnyEvent::Handle)', () => {
    const samples = ['', 'a', 'hello world', '\x00\xff:,'.repeat(40), 'x'.repeat(1000)].map((s) => Buffer.from(s, 'latin1'));
    const perl = perlLines(
      'while (<STDIN>) { chomp; print unpack("H*", $AnyEvent::Handle::WH{netstring}->(undef, pack "H*", $_)), "\\n" }',
      samples.map((b) => b.toString('hex') + '\n').join(''),
    );
    samples.forEach((sample, i) => {
      expect(writeNetstring(hdl, sample).toString('hex')).toBe(perl[i]);
      const { got } = readNetstrings(1, [Buffer.from(perl[i], 'hex')]);
      expect(got).toEqual([sample]);
    });
  });
});

describe('netstring end to end on loopback', () => {
  let close = () => {};
  afterEach(() => close());

  it('reads what the write type wrote', async () => {
    const pair = await loopbackPair();
    close = pair.close;
    const got = new Promise<Buffer[]>((resolve) => {
      const all: Buffer[] = [];
      for (let i = 0; i < 3; i++) {
        pair.reader.push_read('netstring', (_h, data) => {
          all.push(Buffer.from(data));
          if (all.length === 3) resolve(all);
        });
      }
    });
    const big = Buffer.alloc(200_000, 'z');
    pair.writer.push_write('netstring', 'hello wörld');
    pair.writer.push_write('netstring', '');
    pair.writer.push_write('netstring', big);
    expect(await got).toEqual([Buffer.from('hello wörld'), Buffer.alloc(0), big]);
    expect(pair.readerErrors).toEqual([]);
  });

  it('reports a malformed netstring through on_error, non-fatal', async () => {
    const pair = await loopbackPair();
    close = pair.close;
    const error = pair.nextError();
    pair.reader.push_read('netstring', () => {});
    pair.writer.push_write('3:abc;');
    expect(await error).toEqual(BAD);
    expect(pair.reader.destroyed()).toBe(false);
  });

  it('reports a bad header through on_error, non-fatal', async () => {
    const pair = await loopbackPair();
    close = pair.close;
    const error = pair.nextError();
    pair.reader.push_read('netstring', () => {});
    pair.writer.push_write('GET / HTTP/1.0\r\n');
    expect(await error).toEqual(BAD);
    expect(pair.reader.destroyed()).toBe(false);
  });
});
