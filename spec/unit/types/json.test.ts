import { afterEach, describe, expect, it } from 'vitest';
import { JsonScanner } from '../../../lib/types/json/JsonScanner.js';
import { json as writeJson } from '../../../lib/types/write/json.js';
import { loopbackPair } from './loopback.js';
import { deliveries, scriptedHandle } from './scriptedFh.js';

const BAD = { fatal: false, message: 'Bad message', code: 'EBADMSG' };

/** Queues `reads` json reads on a scripted handle and feeds it `parts`. */
function readJson(reads: number, parts: Array<Buffer | string>, options: Parameters<typeof scriptedHandle>[0] = {}) {
  const { hdl, fh, errors } = scriptedHandle(options);
  const got: unknown[] = [];
  for (let i = 0; i < reads; i++) hdl.push_read('json', (_h, value) => got.push(value));
  for (const part of parts) fh.feed(part);
  return { hdl, fh, errors, got };
}

describe('json read type', () => {
  const FIXTURES: Array<[name: string, wire: string, expected: unknown[], rest: string]> = [
    ['an object', '{"a":1,"b":[true,null]}', [{ a: 1, b: [true, null] }], ''],
    ['an array', '[1,2.5,-3e2,"x"]', [[1, 2.5, -300, 'x']], ''],
    ['empty containers', '[]{}', [[], {}], ''],
    [
      'brackets and escaped quotes inside strings',
      String.raw`{"s":"a\"]}[{b","t":["\\",{"u":"}\\\""}],"v":"\u005d"}`,
      [{ s: 'a"]}[{b', t: ['\\', { u: '}\\"' }], v: ']' }],
      '',
    ],
    ['multi-byte UTF-8', '["héllo","日本語","😀"]', [['héllo', '日本語', '😀']], ''],
    ['two values back to back', '[1][2]', [[1], [2]], ''],
    ['whitespace and newlines around values', '\n [1]\r\n\t{"a":2}\n', [[1], { a: 2 }], '\n'],
    ['deep nesting', '[[[[[[[[[[{"a":[[]]}]]]]]]]]]]', [[[[[[[[[[[{ a: [[]] }]]]]]]]]]]], ''],
    ['a value followed by other data', '{"k":"v"}trailing', [{ k: 'v' }], 'trailing'],
  ];

  for (const [name, wire, expected, rest] of FIXTURES) {
    it(`reads ${name}, however the bytes arrive`, () => {
      for (const { name: how, parts } of deliveries(Buffer.from(wire, 'utf8'))) {
        const { hdl, errors, got } = readJson(expected.length, parts);
        expect(got, how).toEqual(expected);
        expect(errors, how).toEqual([]);
        // With the queue empty the handle stops reading, so a later read of the rest stays unread.
        if (how === 'whole') expect(hdl.rbuf.toString(), how).toBe(rest);
        else expect(rest.startsWith(hdl.rbuf.toString()), how).toBe(true);
      }
    });
  }

  it('waits on "[1", keeping it in rbuf, and finishes on "]" (JSON::PP spins forever here)', () => {
    const { hdl, fh, got, errors } = readJson(1, ['[1']);
    expect(got).toEqual([]);
    expect(hdl.rbuf.toString()).toBe('[1');
    fh.feed(']');
    expect(got).toEqual([[1]]);
    expect(errors).toEqual([]);
    expect(hdl.rbuf.length).toBe(0);
  });

  it('leaves partial text in rbuf, where rbuf_max sees it (JSON::PP hides it)', () => {
    const { hdl, errors } = readJson(1, ['[1,2'], { rbuf_max: 6 });
    expect(errors).toEqual([]);
    expect(hdl.rbuf.toString()).toBe('[1,2');
    const more = readJson(1, ['[1,2', ',3,4'], { rbuf_max: 6 });
    expect(more.errors).toEqual([{ fatal: true, message: 'No space left on device', code: 'ENOSPC' }]);
  });

  it('decodes with hdl.json when the handle has a coder', () => {
    const decoded: string[] = [];
    const coder = {
      encode: (v: unknown) => JSON.stringify(v),
      decode: (text: string) => {
        decoded.push(text);
        return { wrapped: JSON.parse(text) };
      },
    };
    const { got } = readJson(1, ['  ["x"]'], { json: coder });
    expect(got).toEqual([{ wrapped: ['x'] }]);
    expect(decoded).toEqual(['["x"]']);
  });

  it.each([
    ['text that cannot start a value', 'abc[1]', '[1]'],
    ['a bare number (JSON::PP 4 takes it; not self-delimiting)', '5 [1]', '[1]'],
    ['a bare string', '"str" {"a":1}', '{"a":1}'],
    ['a stray closing bracket', ' ] [2]', '[2]'],
    ['garbage with no value after it', 'hello', ''],
    ['a mismatched closing bracket', '[1} [2]', ' [2]'],
    ['a mismatched closing brace', '{"a":[}]', ']'],
    ['a complete value JSON.parse rejects', '[1,,2] [5]', ' [5]'],
    ['an invalid literal', '[tru] [1]', ' [1]'],
    ['a control character in a string', '["a\u0001b"] [2]', ' [2]'],
    ['invalid UTF-8', Buffer.from('5b22ff225d205b325d', 'hex'), ' [2]'],
  ])('raises a non-fatal EBADMSG on %s, dropping the bad text', (_what, wire, rest) => {
    const { hdl, got, errors } = readJson(1, [wire]);
    expect(errors).toEqual([BAD]);
    expect(got).toEqual([]);
    expect(hdl.rbuf.toString()).toBe(rest);
  });

  it('stays queued after an error and reads the next good value when more data arrives', () => {
    const { fh, got, errors, hdl } = readJson(1, ['[1,,2] [5']);
    expect(errors).toEqual([BAD]);
    fh.feed(']');
    expect(got).toEqual([[5]]);
    expect(errors).toHaveLength(1);
    expect(hdl.rbuf.length).toBe(0);
  });

  it('stays queued after garbage and reads the value behind it when more data arrives', () => {
    const { fh, got, errors, hdl } = readJson(1, ['abc[1']);
    expect(errors).toEqual([BAD]);
    expect(hdl.rbuf.toString()).toBe('[1');
    fh.feed(']');
    expect(got).toEqual([[1]]);
    expect(errors).toHaveLength(1);
  });

  it('raises EBADMSG when hdl.json rejects the text', () => {
    const coder = {
      encode: JSON.stringify,
      decode: () => {
        throw new Error('nope');
      },
    };
    const { errors, hdl } = readJson(1, ['[1] x'], { json: coder });
    expect(errors).toEqual([BAD]);
    expect(hdl.rbuf.toString()).toBe(' x');
  });

  it('rescans when rbuf is replaced between calls by something with other contents', () => {
    const { hdl, fh, got } = readJson(1, ['[["a"']);
    hdl.rbuf = Buffer.from('["a", "b"');
    fh.feed(']');
    expect(got).toEqual([['a', 'b']]);
  });

  it('rescans when rbuf is shortened from the front between calls', () => {
    // The second feed makes rbuf grow into spare room, so the same memory stays in use.
    const { hdl, fh, got } = readJson(1, ['[', '["a"']);
    hdl.rbuf = hdl.rbuf.subarray(1);
    fh.feed(',"b"]');
    expect(got).toEqual([['a', 'b']]);
    expect(hdl.rbuf.length).toBe(0);
  });
});

describe('JsonScanner', () => {
  const text = Buffer.from(`  {"k":[${'"a\\"]}",'.repeat(500)}1],"z":{"y":"日本"}}`, 'utf8');

  it('looks at each byte once while the buffer grows in place', () => {
    const backing = Buffer.from(text);
    const scanner = new JsonScanner();
    for (let n = 1; n < text.length; n++) expect(scanner.scan(backing.subarray(0, n))).toEqual({ kind: 'more' });
    expect(scanner.scan(backing)).toEqual({ kind: 'value', start: 2, end: text.length });
    expect(scanner.examined).toBe(text.length);
  });

  it('looks at each byte once when the buffer moves to new memory with the same bytes', () => {
    const scanner = new JsonScanner();
    for (let n = 1; n < text.length; n++) scanner.scan(Buffer.from(text.subarray(0, n)));
    expect(scanner.scan(Buffer.from(text))).toEqual({ kind: 'value', start: 2, end: text.length });
    expect(scanner.examined).toBe(text.length);
  });

  it('starts over when the bytes it saw are gone', () => {
    const scanner = new JsonScanner();
    expect(scanner.scan(Buffer.from('[["a"'))).toEqual({ kind: 'more' });
    expect(scanner.scan(Buffer.from('["a",1]'))).toEqual({ kind: 'value', start: 0, end: 7 });
    expect(scanner.examined).toBe(5 + 7);
  });
});

describe('json write type', () => {
  const { hdl } = scriptedHandle();

  it('writes JSON text as UTF-8, with no newline', () => {
    const value = { s: 'line1\nline2\r\n', u: '日本', n: [1, null] };
    const out = writeJson(hdl, value);
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out.includes(0x0a)).toBe(false);
    expect(out.includes(0x0d)).toBe(false);
    expect(JSON.parse(out.toString('utf8'))).toEqual(value);
  });

  it('encodes with hdl.json when the handle has a coder', () => {
    const { hdl: h, fh } = scriptedHandle({ json: { encode: () => '["custom"]', decode: JSON.parse } });
    h.push_write('json', [1]);
    expect(fh.written.toString()).toBe('["custom"]');
  });

  it('throws TypeError for a value with no JSON text', () => {
    // The message is the write type's own: Buffer.from(undefined) would throw a TypeError too.
    expect(() => writeJson(hdl, undefined)).toThrow(/json write type: undefined value has no JSON text/);
    expect(() => writeJson(hdl, () => 1)).toThrow(/json write type: function value has no JSON text/);
  });
});

describe('json end to end on loopback', () => {
  let close = () => {};
  afterEach(() => close());

  it('reads what the write type wrote, newline-delimited or not', async () => {
    const pair = await loopbackPair();
    close = pair.close;
    const sent = [{ method: 'hello', args: ['wörld', 1] }, [], Array.from({ length: 20_000 }, (_, i) => ({ i, s: '"]}' }))];
    const got = new Promise<unknown[]>((resolve) => {
      const all: unknown[] = [];
      for (let i = 0; i < sent.length; i++) {
        pair.reader.push_read('json', (_h, value) => {
          all.push(value);
          if (all.length === sent.length) resolve(all);
        });
      }
    });
    pair.writer.push_write('json', sent[0]);
    pair.writer.push_write('\n');
    pair.writer.push_write('json', sent[1]);
    pair.writer.push_write('json', sent[2]);
    expect(await got).toEqual(sent);
    expect(pair.readerErrors).toEqual([]);
  });

  it('reports malformed JSON through on_error, non-fatal', async () => {
    const pair = await loopbackPair();
    close = pair.close;
    const error = pair.nextError();
    pair.reader.push_read('json', () => {});
    pair.writer.push_write('[1}');
    expect(await error).toEqual(BAD);
    expect(pair.reader.destroyed()).toBe(false);
  });
});
