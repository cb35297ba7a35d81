import { afterEach, describe, expect, it } from 'vitest';
import { packstring as writePackstring } from '../../../lib/types/write/packstring.js';
import { loopbackPair } from './loopback.js';
import { HAVE_PERL_ANYEVENT, perlLines } from './perl.js';
import { deliveries, scriptedHandle } from './scriptedFh.js';

const BAD = { fatal: false, message: 'Bad message', code: 'EBADMSG' };

/** Queues one packstring read per format on a scripted handle and feeds it `parts`. */
function readPackstrings(formats: string[], parts: Array<Buffer | string>) {
  const { hdl, fh, errors } = scriptedHandle();
  const got: Buffer[] = [];
  for (const f of formats) hdl.push_read('packstring', f, (_h, data) => got.push(Buffer.from(data)));
  for (const part of parts) fh.feed(part);
  return { hdl, fh, errors, got };
}

const hex = (s: string) => Buffer.from(s, 'hex');

describe('packstring read type', () => {
  const FIXTURES: Array<[name: string, formats: string[], wire: Buffer, expected: Buffer[]]> = [
    ['n (DNS over TCP)', ['n'], Buffer.concat([hex('0005'), Buffer.from('hello')]), [Buffer.from('hello')]],
    ['N with no data, then C', ['N', 'C'], Buffer.concat([hex('00000000'), hex('01'), Buffer.from('x')]), [Buffer.alloc(0), Buffer.from('x')]],
    ['w with a two-byte length', ['w'], Buffer.concat([hex('822c'), Buffer.alloc(300, 'q')]), [Buffer.alloc(300, 'q')]],
    ['Q>', ['Q>'], Buffer.concat([hex('0000000000000003'), Buffer.from('abc')]), [Buffer.from('abc')]],
    ['c', ['c'], Buffer.concat([hex('7f'), Buffer.alloc(127, 7)]), [Buffer.alloc(127, 7)]],
    ['v! then l!>', ['v!', 'l!>'], Buffer.concat([hex('0200'), Buffer.from('ab'), hex('0000000000000001'), Buffer.from('c')]), [Buffer.from('ab'), Buffer.from('c')]],
  ];

  for (const [name, formats, wire, expected] of FIXTURES) {
    it(`reads ${name}, however the bytes arrive`, () => {
      for (const { name: how, parts } of deliveries(wire)) {
        const { hdl, errors, got } = readPackstrings(formats, parts);
        expect(got, how).toEqual(expected);
        expect(errors, how).toEqual([]);
        expect(hdl.rbuf.length, how).toBe(0);
      }
    });
  }

  it('passes the data as a Buffer when all is there at once, leaving what follows', () => {
    const { hdl, got } = readPackstrings(['n'], [Buffer.concat([hex('0002'), Buffer.from('abrest')])]);
    expect(got).toEqual([Buffer.from('ab')]);
    expect(Buffer.isBuffer(got[0])).toBe(true);
    expect(hdl.rbuf.toString()).toBe('rest');
  });

  it('consumes the prefix once complete, then waits for the data', () => {
    const { hdl, got } = readPackstrings(['N'], [Buffer.concat([hex('00000005'), Buffer.from('ab')])]);
    expect(got).toEqual([]);
    expect(hdl.rbuf.toString()).toBe('ab');
  });

  it('leaves an incomplete prefix in rbuf', () => {
    const { hdl, got } = readPackstrings(['w'], [hex('8182')]);
    expect(got).toEqual([]);
    expect(hdl.rbuf).toEqual(hex('8182'));
  });

  it.each([
    ['c', '80', 'a negative length'],
    ['s!', 'feff', 'a negative length'],
    ['q', 'ffffffffffffffff', 'a negative length'],
    ['N!', 'fffffffe', 'a negative length'],
    ['Q', '0000000000002000', 'a length of 2^53'],
    ['J>', 'ffffffffffffffff', 'a length of 2^64-1'],
    ['w', '9080808080808000', 'a length of 2^53'],
    ['w', 'ffffffffffffffff', 'an unfinished length already past 2^53'],
    ['w', '8003', 'a BER length with a leading zero group'],
  ])('raises a non-fatal EBADMSG on %s with %s (%s), leaving rbuf alone', (f, prefix, _what) => {
    const wire = Buffer.concat([hex(prefix), Buffer.from('data')]);
    const { hdl, fh, errors, got } = readPackstrings([f], [wire]);
    expect(errors).toEqual([BAD]);
    expect(got).toEqual([]);
    expect(hdl.rbuf).toEqual(wire);
    // still queued: raises again when more data arrives
    fh.feed('more');
    expect(errors).toEqual([BAD, BAD]);
  });

  it.each(['n<', 'w!', 'x', 'n2', ''])('throws TypeError at push_read for the format %j', (f) => {
    const { hdl } = scriptedHandle();
    expect(() => hdl.push_read('packstring', f, () => {})).toThrow(TypeError);
  });
});

describe('packstring write type', () => {
  const { hdl } = scriptedHandle();

  it.each([
    ['n', 'hello', '0005' + Buffer.from('hello').toString('hex')],
    ['w', 'é', '02c3a9'],
    ['V', '', '00000000'],
    ['C', Buffer.from([0, 1]), '020001'],
  ])('writes with %s: %j', (f, data, wire) => {
    const out = writePackstring(hdl, f, data);
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out.toString('hex')).toBe(wire);
  });

  it('throws RangeError when the length does not fit (a divergence: perl wraps it)', () => {
    expect(() => writePackstring(hdl, 'C', Buffer.alloc(256))).toThrow(RangeError);
    expect(() => writePackstring(hdl, 'c', Buffer.alloc(128))).toThrow(RangeError);
    expect(() => writePackstring(hdl, 'n', Buffer.alloc(65536))).toThrow(RangeError);
  });

  it('throws TypeError for a bad format, through push_write too', () => {
    expect(() => writePackstring(hdl, 'n<', 'x')).toThrow(TypeError);
    const { hdl: h, fh } = scriptedHandle();
    expect(() => h.push_write('packstring', 'a*', 'x')).toThrow(TypeError);
    h.push_write('packstring', 'n', 'xy');
    expect(fh.written.toString('hex')).toBe('00027879');
  });
});

describe.skipIf(!HAVE_PERL_ANYEVENT)('packstring against AnyEvent::Handle (needs perl with AnyEvent::Handle)', () => {
  const formats: string[] = [];
  for (const letter of 'cCsSlLqQiInNvVjJw') for (const mods of ['', '!', '<', '>', '!<', '!>']) formats.push(letter + mods);
  const lengths = [0, 1, 127, 128, 255, 256, 65536];
  const cases = formats.flatMap((f) => lengths.map((len) => ({ f, len, data: Buffer.from('0123456789abcdefghij'.repeat(3300).slice(0, len)) })));

  // Perl's write type for every format and length: ERR where pack croaks or wraps the length.
  const perlWrites = HAVE_PERL_ANYEVENT
    ? perlLines(
        `while (<STDIN>) { chomp; my ($f, $len) = split / /;
           my $out = eval { local $SIG{__WARN__} = sub { };
                            $AnyEvent::Handle::WH{packstring}->(undef, $f, substr("0123456789abcdefghij" x 3300, 0, $len)) };
           # a wrapped length (pack "s", 65536 is 0, silently) counts as an error too
           $out = undef if defined $out && (unpack $f, $out) != $len;
           print defined $out ? unpack("H*", $out) : "ERR", "\\n" }`,
        cases.map(({ f, len }) => `${f} ${len}\n`).join(''),
      )
    : [];

  it('rejects exactly the formats and lengths perl rejects, and writes the same bytes otherwise', () => {
    let written = 0;
    cases.forEach(({ f, len, data }, i) => {
      let ours: string;
      try {
        ours = writePackstring(scriptedHandle().hdl, f, data).toString('hex');
      } catch (e) {
        expect(e, `${f} ${len}`).toBeInstanceOf(Error);
        ours = 'ERR';
      }
      expect(ours, `${f} ${len}`).toBe(perlWrites[i]);
      if (ours !== 'ERR') written++;
    });
    expect(written).toBeGreaterThan(200);
  });

  it('reads what perl writes', () => {
    cases.forEach(({ f, len, data }, i) => {
      if (perlWrites[i] === 'ERR') return;
      const { hdl, got, errors } = readPackstrings([f], [Buffer.concat([hex(perlWrites[i]), Buffer.from('Z')])]);
      expect(errors, `${f} ${len}`).toEqual([]);
      expect(got, `${f} ${len}`).toEqual([data]);
      expect(hdl.rbuf.toString(), `${f} ${len}`).toBe('Z');
    });
  });

  it('writes what perl reads', () => {
    const valid = cases.filter((_c, i) => perlWrites[i] !== 'ERR');
    const perlReads = perlLines(
      `socketpair my $a, my $b, AF_UNIX, SOCK_STREAM, 0 or die;
       while (<STDIN>) { chomp; my ($f, $hex) = split / /;
         my $h = AnyEvent::Handle->new (fh => $a, on_error => sub { print "ERROR\\n" });
         $h->{rbuf} = pack "H*", $hex;
         $h->push_read (packstring => $f, sub { print unpack ("H*", $_[1]), " ", unpack ("H*", $_[0]{rbuf}), "\\n" });
         $h->{_queue} = []; $h->destroy }`,
      valid.map(({ f, data }) => `${f} ${Buffer.concat([writePackstring(scriptedHandle().hdl, f, data), Buffer.from('Z')]).toString('hex')}\n`).join(''),
    );
    expect(perlReads).toHaveLength(valid.length);
    valid.forEach(({ f, len, data }, i) => {
      expect(perlReads[i], `${f} ${len}`).toBe(`${data.toString('hex')} 5a`);
    });
  });

  it('matches what perl does with a negative length only in refusing it (see the Divergence comment)', () => {
    // perl: data = substr $rbuf, 1, -2 ("abcd"), then substr $rbuf, 0, -1, "" leaves "f"
    const [line] = perlLines(
      `socketpair my $a, my $b, AF_UNIX, SOCK_STREAM, 0 or die;
       my $h = AnyEvent::Handle->new (fh => $a, on_error => sub { print "ERROR\\n" });
       $h->{rbuf} = "\\xfeabcdef";
       $h->push_read (packstring => "c", sub { print "$_[1] $_[0]{rbuf}\\n" });
       $h->{_queue} = []; $h->destroy`,
      '',
    );
    expect(line).toBe('abcd f');
    const { errors, got, hdl } = readPackstrings(['c'], [Buffer.from('\xfeabcdef', 'latin1')]);
    expect(errors).toEqual([BAD]);
    expect(got).toEqual([]);
    expect(hdl.rbuf.toString('latin1')).toBe('\xfeabcdef');
  });
});

describe('packstring end to end on loopback', () => {
  let close = () => {};
  afterEach(() => close());

  it('reads what the write type wrote', async () => {
    const pair = await loopbackPair();
    close = pair.close;
    const big = Buffer.alloc(100_000, 'y');
    const sent: Array<[string, Buffer]> = [
      ['n', Buffer.from('dns')],
      ['w', big],
      ['N', Buffer.alloc(0)],
      ['q<', Buffer.from('ö')],
    ];
    const got = new Promise<Buffer[]>((resolve) => {
      const all: Buffer[] = [];
      for (const [f] of sent) {
        pair.reader.push_read('packstring', f, (_h, data) => {
          all.push(Buffer.from(data));
          if (all.length === sent.length) resolve(all);
        });
      }
    });
    for (const [f, data] of sent) pair.writer.push_write('packstring', f, data);
    expect(await got).toEqual(sent.map(([, data]) => data));
    expect(pair.readerErrors).toEqual([]);
  });

  it('reports a negative length through on_error, non-fatal', async () => {
    const pair = await loopbackPair();
    close = pair.close;
    const error = pair.nextError();
    pair.reader.push_read('packstring', 'l>', () => {});
    pair.writer.push_write(Buffer.concat([hex('fffffffd'), Buffer.from('abc')]));
    expect(await error).toEqual(BAD);
    expect(pair.reader.destroyed()).toBe(false);
  });
});
