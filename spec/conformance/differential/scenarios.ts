import { readFileSync } from 'node:fs';
import type { DataSpec, HandlerSpec, ReadSpec, Scenario, ScenarioOpts, Step, WriteSpec } from './format.js';

/*
 * The committed scenarios, by family. Each family is generated here (a few loops over the
 * cases that matter) rather than written out one by one; `handwritten.json` adds scenarios
 * written directly in the JSON format. `npm run conformance:record` runs all of them with
 * Perl and writes spec/conformance/golden/<family>.json.
 */

// ---------------------------------------------------------------------------- shorthands

const pw = (d: DataSpec): Step => ['peer_write', d];
const pr = (n?: number): Step => (n === undefined ? ['peer_read'] : ['peer_read', n]);
const drain: Step = ['peer_drain'];
const w = (d: WriteSpec): Step => ['write', d];
const push = (r: ReadSpec): Step => ['push_read', r];
const unshift = (r: ReadSpec): Step => ['unshift_read', r];
const state: Step = ['state'];
const destroy: Step = ['destroy'];
const CONSUME_ALL: HandlerSpec = [['consume', 'all']];
const DESTROY: HandlerSpec = [['destroy']];

function sc(name: string, steps: Step[], opts?: ScenarioOpts, extra: Partial<Scenario> = {}): Scenario {
  const s: Scenario = { name, steps };
  if (opts) s.opts = opts;
  return { ...s, ...extra };
}

/** Splits `data` at the given offsets into peer writes. */
function pieces(data: string, cuts: number[]): Step[] {
  const out: Step[] = [];
  let from = 0;
  for (const cut of [...cuts, data.length]) {
    if (cut > from) out.push(pw(data.slice(from, cut)));
    from = cut;
  }
  return out;
}

// ---------------------------------------------------------------------------- write queue

function writeFamily(): Scenario[] {
  const f = 'write';
  return [
    sc(`${f}/plain`, [w('hello'), pr()], undefined, { note: 'push_write writes at once; the peer gets it' }),
    sc(`${f}/several`, [w('a'), w('bc'), w('def'), pr()]),
    sc(`${f}/binary`, [w(String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))), pr()]),
    sc(`${f}/64k`, [w({ pat: 65536 }), drain]),
    sc(`${f}/1m-at-once`, [w({ pat: 1 << 20 }), drain, state], { on_drain: true }, { diff: ['NODE_WRITE_BUFFER'], note: 'the kernel takes 1 MiB at once: on_drain inside push_write' }),
    sc(`${f}/after-destroy`, [destroy, w('x'), pr(), state]),
    sc(`${f}/in-on_read`, [pw('ping'), pr()], { on_read: [['consume', 'all'], ['write', 'pong']] }),
    sc(`${f}/empty`, [w(''), state, pr()]),
  ];
}

function drainFamily(): Scenario[] {
  const f = 'on_drain';
  return [
    sc(`${f}/at-construction`, [state], { on_drain: true }, { note: 'on_drain given to new is called at once: wbuf is empty' }),
    sc(`${f}/set-when-empty`, [['on_drain', true]]),
    sc(`${f}/after-write`, [w('abc'), pr()], { on_drain: true }),
    sc(`${f}/empty-write-no-drain`, [w(''), w('x')], { on_drain: true }, { note: "push_write('') never calls on_drain" }),
    sc(`${f}/cleared`, [['on_drain', null], w('x'), pr()], { on_drain: true }),
    sc(`${f}/replaced`, [['on_drain', { do: [['state']] }], w('x')], { on_drain: true }),
    sc(`${f}/level-triggered-chain`, [w('a'), pr()], { on_drain: { do: [['write', 'more']], max: 3 } }),
    sc(`${f}/destroys`, [['batch', [w('x'), ['on_drain', DESTROY]]], w('y'), pr(), state], { autocork: true }),
    sc(`${f}/low-water-mark`, [w('abc'), pr()], { low_water_mark: 5, autocork: true, on_drain: true }),
    sc(`${f}/low-water-mark-later`, [w('abc'), ['low_water_mark', 10], ['on_drain', true], pr()], { autocork: true }),
    sc(`${f}/above-low-water-mark`, [w('abcdef'), state, pr()], { low_water_mark: 2, autocork: true, on_drain: true }),
    sc(`${f}/set-while-pending`, [w('abc'), ['on_drain', true], pr()], { autocork: true }),
    sc(`${f}/ctor-destroy`, [w('x'), state], { on_drain: DESTROY }, { diff: ['CTOR_UNDEF'] }),
  ];
}

function autocorkFamily(): Scenario[] {
  const f = 'autocork';
  return [
    sc(`${f}/coalesces`, [['batch', [w('a'), w('b'), state]], pr()], { autocork: true }),
    sc(`${f}/toggle-off`, [['batch', [w('a'), ['autocork', false], w('b'), state]], pr()], { autocork: true }),
    sc(`${f}/toggle-on`, [['autocork', true], w('a'), state, pr()]),
    sc(`${f}/drain-async`, [w('xyz'), pr()], { autocork: true, on_drain: true }),
    sc(`${f}/destroy-lingers`, [['batch', [w('late'), destroy]], pr()], { autocork: true }),
    sc(`${f}/destroy-linger-0`, [['batch', [w('late'), destroy]], pr()], { autocork: true, linger: 0 }),
  ];
}

function shutdownFamily(): Scenario[] {
  const f = 'push_shutdown';
  return [
    sc(`${f}/after-data`, [w('bye'), ['push_shutdown'], drain]),
    sc(`${f}/autocork-pending`, [['batch', [w('queued'), ['push_shutdown'], state]], drain], { autocork: true }),
    sc(`${f}/then-write-epipe`, [w('a'), ['push_shutdown'], w('b'), drain]),
    sc(`${f}/replaces-on_drain`, [['push_shutdown'], w('x'), drain], { on_drain: true }),
    sc(`${f}/resets-low-water-mark`, [w('abc'), ['push_shutdown'], state, drain], { low_water_mark: 100, autocork: true }),
    sc(`${f}/keeps-reading`, [['push_shutdown'], drain, pw('still here'), pw('more')], { on_read: CONSUME_ALL }),
    sc(`${f}/in-read-callback`, [push({ t: 'line', do: [['write', 'answer'], ['push_shutdown']] }), pw('question\n'), drain]),
    sc(`${f}/twice`, [['push_shutdown'], ['push_shutdown'], drain]),
  ];
}

function wbufMaxFamily(): Scenario[] {
  const f = 'wbuf_max';
  const stalled = { diff: ['KERNEL_BUFFER'] };
  return [
    sc(`${f}/under`, [w('12345'), pr()], { wbuf_max: 10 }),
    sc(`${f}/kernel-takes-it`, [w('x'.repeat(100)), state, pr()], { wbuf_max: 10 }, { note: 'checked after the immediate write' }),
    sc(`${f}/autocork-exact`, [w('0123456789'), state, pr()], { wbuf_max: 10, autocork: true }),
    sc(`${f}/autocork-over`, [w('0123456789x'), state, pr()], { wbuf_max: 10, autocork: true }, { note: 'fatal ENOSPC; the destroyed handle still lingers' }),
    sc(`${f}/autocork-over-linger-0`, [w('0123456789x'), pr()], { wbuf_max: 10, autocork: true, linger: 0 }),
    sc(`${f}/7.17-watcher-skips-check`, [['batch', [w('12345'), w('x'.repeat(20)), state]], pr()], { wbuf_max: 10, autocork: true }, {
      note: 'AnyEvent 7.17: once a write watcher is installed, push_write does not look at wbuf_max',
    }),
    sc(`${f}/checked-mode`, [['batch', [w('12345'), w('x'.repeat(20)), state]], pr()], { wbuf_max: 10, autocork: true, wbuf_max_check: 'checked' }, {
      diff: ['WBUF_MAX_CHECKED'],
    }),
    sc(`${f}/set-later`, [['batch', [w('x'.repeat(20)), ['wbuf_max', 10], w('y'), state]], pr()], { autocork: true }),
    sc(`${f}/set-later-no-watcher`, [['wbuf_max', 3], ['autocork', true], w('abcd'), pr()]),
    sc(`${f}/cleared`, [['wbuf_max', null], w('0123456789x'), state, pr()], { wbuf_max: 10, autocork: true }),
    sc(`${f}/zero`, [w('a'), state, pr()], { wbuf_max: 0, autocork: true }),
    sc(`${f}/on_error-sees-wbuf`, [w('x'.repeat(50)), pr()], { wbuf_max: 10, autocork: true, on_error: [['state']] }),
    sc(`${f}/stalled-peer`, [w({ pat: 8 << 20 }), state, drain], { wbuf_max: 1 << 20 }, stalled),
    sc(`${f}/stalled-7.17-unbounded`, [w({ pat: 8 << 20 }), ['wbuf_max', 1024], w('one more'), state, drain], undefined, stalled),
  ];
}

function typedWriteFamily(): Scenario[] {
  const f = 'write-type';
  const out: Scenario[] = [];
  for (const [what, data] of [
    ['empty', ''],
    ['abc', 'abc'],
    ['binary', '\x00\x01\xff,:'],
    ['1000', { rep: 'n', n: 1000 }],
  ] as Array<[string, DataSpec]>) {
    out.push(sc(`${f}/netstring-${what}`, [w({ t: 'netstring', data }), pr()]));
  }
  for (const [fmt, data] of [
    ['C', 'abc'],
    ['n', 'hello'],
    ['N', ''],
    ['v', { rep: 'v', n: 300 }],
    ['V', 'x'],
    ['w', { rep: 'w', n: 200 }],
    ['Q>', 'big'],
    ['s<', 'le'],
  ] as Array<[string, DataSpec]>) {
    out.push(sc(`${f}/packstring-${fmt}`, [w({ t: 'packstring', fmt, data }), pr()]));
  }
  for (const [what, v] of [
    ['array', [1, 2, 3]],
    ['object', { a: 1, b: [true, false, null], c: 'x' }],
    ['nested', [{ k: [[], {}] }, [-1, 0.5]]],
    ['unicode', ['é', '€', '\u{1f600}']],
    ['escapes', ['a"b\\c\n\t/']],
  ] as Array<[string, unknown]>) {
    out.push(sc(`${f}/json-${what}`, [w({ t: 'json', v }), pr()]));
  }
  out.push(sc(`${f}/unknown-type`, [w({ t: 'bogus', data: 'x' } as never), pr()]));
  return out;
}

// ---------------------------------------------------------------------------- read types

function chunkFamily(): Scenario[] {
  const f = 'chunk';
  return [
    sc(`${f}/exact`, [push({ t: 'chunk', n: 5 }), pw('hello')]),
    sc(`${f}/split`, [push({ t: 'chunk', n: 5 }), pw('he'), state, pw('llo')]),
    sc(`${f}/leftover`, [push({ t: 'chunk', n: 3 }), pw('abcdef'), state]),
    sc(`${f}/zero`, [push({ t: 'chunk', n: 0 }), state], undefined, { note: 'served at once, inside push_read' }),
    sc(`${f}/queue`, [push({ t: 'chunk', n: 2 }), push({ t: 'chunk', n: 3 }), pw('abcde')]),
    sc(`${f}/data-first`, [pw('abc'), state, push({ t: 'chunk', n: 3 })], undefined, { note: 'not reading until a read is queued' }),
    sc(`${f}/eof-short-epipe`, [push({ t: 'chunk', n: 10 }), pw('abc'), ['peer_shutdown']], { on_eof: true }),
    sc(`${f}/eof-exact`, [push({ t: 'chunk', n: 3 }), pw('abc'), ['peer_shutdown']], { on_eof: true }),
    sc(`${f}/100k`, [push({ t: 'chunk', n: 100000 }), pw({ pat: 100000 })]),
    sc(`${f}/1m`, [push({ t: 'chunk', n: 1 << 20 }), pw({ pat: 1 << 20 }), state]),
  ];
}

function lineFamily(): Scenario[] {
  const f = 'line';
  const out: Scenario[] = [
    sc(`${f}/lf`, [push({ t: 'line' }), pw('hello\n')]),
    sc(`${f}/crlf`, [push({ t: 'line' }), pw('hello\r\n')]),
    sc(`${f}/mixed`, [push({ t: 'line' }), push({ t: 'line' }), push({ t: 'line' }), pw('a\r\nb\nc\n')]),
    sc(`${f}/empty-lines`, [push({ t: 'line' }), push({ t: 'line' }), pw('\n\r\n')]),
    sc(`${f}/cr-inside`, [push({ t: 'line' }), pw('a\rb\n')]),
    sc(`${f}/split`, [push({ t: 'line' }), pw('hel'), state, pw('lo\r'), state, pw('\n')]),
    sc(`${f}/partial-at-eof`, [push({ t: 'line' }), pw('no newline'), ['peer_shutdown']], { on_eof: true }),
    sc(`${f}/utf8`, [push({ t: 'line' }), pw('h\xc3\xa9llo \xe2\x82\xac\n')]),
    sc(`${f}/invalid-utf8`, [push({ t: 'line' }), pw('\xff\xfe\n')], undefined, { diff: ['UTF8_STRINGS'] }),
  ];
  for (const [what, eol, data] of [
    ['semicolon', ';', 'a;b;'],
    ['END', 'END', 'xENDyEN'],
    ['crlf-string', '\r\n', 'a\nb\r\n'],
    ['dot-is-literal', '.', 'a.b'],
    ['empty-eol', '', 'abc'],
  ] as Array<[string, string, string]>) {
    // An empty eol serves both reads at once; nothing reads "abc" (RST at the end).
    const extra = eol === '' ? { diff: ['NODE_READAHEAD'] } : {};
    out.push(sc(`${f}/eol-${what}`, [push({ t: 'line', eol }), push({ t: 'line', eol }), pw(data), state], undefined, extra));
  }
  for (const [what, eol_re, data, flags] of [
    ['opt-cr', '\\r?\\n', 'a\r\nb\n', undefined],
    ['class', '[;,]', 'x,y;', undefined],
    ['digits-greedy-split', '\\d+', 'x1|2y3', undefined],
    ['case-insensitive', 'end', 'aENDbEnd', 'i'],
    ['alternation', 'ab|b', 'xaby', undefined],
  ] as Array<[string, string, string, string | undefined]>) {
    const steps = what === 'digits-greedy-split' ? pieces(data.replace('|', ''), [2]) : [pw(data)];
    const spec: ReadSpec = flags ? { t: 'line', eol_re, flags } : { t: 'line', eol_re };
    out.push(sc(`${f}/eol-re-${what}`, [push(spec), push({ ...spec }), ...steps, state]));
  }
  return out;
}

function regexFamily(): Scenario[] {
  const f = 'regex';
  return [
    sc(`${f}/accept`, [push({ t: 'regex', accept: '\\n' }), pw('one\ntwo')]),
    sc(`${f}/accept-group`, [push({ t: 'regex', accept: '(\\d+);', g: true }), pw('ab12;cd')]),
    sc(`${f}/accept-anchored`, [push({ t: 'regex', accept: '^[0-9]+\\s', reject: '[^0-9]' }), pw('123 rest')]),
    sc(`${f}/reject-ebadmsg`, [push({ t: 'regex', accept: '^[0-9]+\\s', reject: '[^0-9]' }), pw('12x'), state], {
      on_error: [['state']],
    }, { note: 'non-fatal EBADMSG; the read stays queued' }),
    sc(`${f}/reject-then-destroy`, [push({ t: 'regex', accept: '^[0-9]+\\s', reject: '[^0-9]' }), pw('x'), state], { on_error: DESTROY }),
    sc(`${f}/reject-every-call`, [push({ t: 'regex', accept: '^[0-9]+\\s', reject: '[^0-9]' }), pw('x'), pw('y'), state]),
    sc(`${f}/reject-not-matching`, [push({ t: 'regex', accept: '^[0-9]+\\s', reject: '[^0-9\\s]' }), pw('12'), pw('3 ')]),
    sc(`${f}/skip`, [
      push({ t: 'regex', accept: '\\r\\n\\r\\n', reject: null, skip: '^.*[^\\r\\n]' }),
      pw('GET / HTTP/1.0\r\nHost: x'),
      state,
      pw('\r\n'),
      state,
      pw('\r\nbody'),
      state,
    ]),
    sc(`${f}/skip-no-reject-arg`, [push({ t: 'regex', accept: 'END', skip: '^[^E]+' }), pw('aaaa'), state, pw('bEND')]),
    sc(`${f}/two-reads`, [push({ t: 'regex', accept: 'b+' }), push({ t: 'regex', accept: 'c' }), pw('abbbxc')]),
    sc(`${f}/dot-all-flag`, [push({ t: 'regex', accept: 'a.b', flags: 's' }), pw('xa\nb')]),
    sc(`${f}/eof-unmatched`, [push({ t: 'regex', accept: 'never' }), pw('data'), ['peer_shutdown']], { on_eof: true }),
  ];
}

function netstringFamily(): Scenario[] {
  const f = 'netstring';
  const read = push({ t: 'netstring' });
  return [
    sc(`${f}/basic`, [read, pw('3:abc,')]),
    sc(`${f}/empty`, [read, pw('0:,')]),
    sc(`${f}/split-header`, [read, pw('1'), state, pw('2:hello world!,')]),
    sc(`${f}/split-body`, [read, pw('3:a'), state, pw('bc,')]),
    sc(`${f}/two-in-one-write`, [read, push({ t: 'netstring' }), pw('1:a,2:bc,')]),
    sc(`${f}/followed-by-line`, [read, push({ t: 'line' }), pw('2:hi,next\n')]),
    sc(`${f}/bad-header`, [read, pw('x3:abc,'), state]),
    sc(`${f}/leading-zero`, [read, pw('03:abc,'), state]),
    sc(`${f}/bad-trailer`, [read, push({ t: 'chunk', n: 2 }), pw('3:abc;zz'), state]),
    sc(`${f}/bad-header-destroy`, [read, pw(':,')], { on_error: DESTROY }),
    sc(`${f}/long`, [read, pw({ rep: '5:abcd,', n: 1 }), pw(`1000:${'z'.repeat(1000)},`)]),
    sc(`${f}/eof-in-body`, [read, pw('5:ab'), ['peer_shutdown']], { on_eof: true }),
    sc(`${f}/roundtrip-write`, [read, w({ t: 'netstring', data: 'out' }), pr(), pw('2:in,')]),
  ];
}

function packstringFamily(): Scenario[] {
  const f = 'packstring';
  const out: Scenario[] = [];
  // Prefix bytes per format for the length 5 and the payload "hello".
  const cases: Array<[string, string]> = [
    ['C', '\x05'],
    ['n', '\x00\x05'],
    ['N', '\x00\x00\x00\x05'],
    ['v', '\x05\x00'],
    ['V', '\x05\x00\x00\x00'],
    ['w', '\x05'],
    ['Q>', '\x00\x00\x00\x00\x00\x00\x00\x05'],
    ['L<', '\x05\x00\x00\x00'],
  ];
  for (const [fmt, prefix] of cases) {
    out.push(sc(`${f}/${fmt}`, [push({ t: 'packstring', fmt }), pw(`${prefix}hello`), state]));
  }
  out.push(
    sc(`${f}/split-prefix`, [push({ t: 'packstring', fmt: 'N' }), pw('\x00\x00'), state, pw('\x00\x03abc')]),
    sc(`${f}/split-body`, [push({ t: 'packstring', fmt: 'n' }), pw('\x00\x05he'), state, pw('llo')], undefined, {
      note: 'the prefix is removed and a chunk read unshifted',
    }),
    sc(`${f}/zero-length`, [push({ t: 'packstring', fmt: 'C' }), pw('\x00rest'), state]),
    sc(`${f}/ber-two-bytes`, [push({ t: 'packstring', fmt: 'w' }), pw({ rep: '\x81\x48', n: 1 }), pw({ rep: 'b', n: 200 })]),
    sc(`${f}/two-in-one-write`, [push({ t: 'packstring', fmt: 'C' }), push({ t: 'packstring', fmt: 'C' }), pw('\x01a\x02bc')]),
    sc(`${f}/eof-in-body`, [push({ t: 'packstring', fmt: 'C' }), pw('\x09abc'), ['peer_shutdown']], { on_eof: true }),
    sc(`${f}/roundtrip-write`, [push({ t: 'packstring', fmt: 'n' }), w({ t: 'packstring', fmt: 'n', data: 'out' }), pr(), pw('\x00\x02in')]),
  );
  return out;
}

function jsonFamily(): Scenario[] {
  const f = 'json';
  const read = push({ t: 'json' });
  return [
    sc(`${f}/array`, [read, pw('[1,2,3]')]),
    sc(`${f}/object`, [read, pw('{"a":1,"b":[true,false,null],"c":"x"}')]),
    sc(`${f}/two-values`, [read, push({ t: 'json' }), pw('[1] {"b":2}')]),
    sc(`${f}/leftover`, [read, pw('[1]tail'), state]),
    sc(`${f}/leading-whitespace`, [read, pw('  \n\t[0]')]),
    sc(`${f}/newline-delimited`, [read, push({ t: 'json' }), pw('["a"]\n["b"]\n'), state]),
    sc(`${f}/nested`, [read, pw('{"k":[[],{}],"n":[-1,0.5,1e3]}')]),
    sc(`${f}/unicode`, [read, pw('["h\xc3\xa9","\\u20ac"]')]),
    sc(`${f}/roundtrip-write`, [read, w({ t: 'json', v: ['out', { n: 1 }] }), pr(), pw('["in"]')]),
    sc(`${f}/invalid`, [read, pw('[1,]'), state], { on_error: [['state']] }),
    sc(`${f}/invalid-destroy`, [read, pw('{"a" 1}')], { on_error: DESTROY }),
    sc(`${f}/split-in-string`, [read, pw('["ab'), state, pw('cd"]')], undefined, { diff: ['JSON_PARTIAL_RBUF'] }),
    sc(`${f}/split-after-colon`, [read, pw('{"a":'), pw('{"b":"c"}}')], undefined, { diff: ['JSON_PARTIAL_RBUF'] }),
    sc(`${f}/split-after-digit-hangs`, [read, pw('[12'), pw('3]')], undefined, { diff: ['JSON_PP_HANG'] }),
    sc(`${f}/scalar`, [read, pw('5 ')], undefined, { diff: ['JSON_SCALAR'] }),
    sc(`${f}/whitespace-hidden-from-unshifted-read`, [['on_read', [['push_read', { t: 'json' }]]], pw(' '), unshift({ t: 'line' }), pw('\n[1]')], undefined, {
      diff: ['JSON_PARTIAL_OTHER_READS'],
    }),
    sc(`${f}/partial-and-rbuf_max`, [read, pw('["0123456789'), pw('"]')], { rbuf_max: 8 }, { diff: ['JSON_PARTIAL_RBUF_MAX'] }),
    // Error recovery: what a syntax error drops.
    sc(`${f}/garbage-semicolon`, [read, pw(';[1]'), state, push({ t: 'json' }), state], undefined, { diff: ['JSON_ERROR_RESYNC'] }),
    sc(`${f}/garbage-letter-space`, [read, pw('x [1]'), state, push({ t: 'json' }), state], undefined, { diff: ['JSON_ERROR_RESYNC'] }),
    sc(`${f}/garbage-letter-bracket`, [read, pw('x[1]'), state, push({ t: 'json' }), state], undefined, { diff: ['JSON_ERROR_RESYNC'] }),
    sc(`${f}/stray-closers`, [read, pw(']] [3]'), state, push({ t: 'json' }), state], undefined, { diff: ['JSON_ERROR_RESYNC'] }),
    sc(`${f}/bad-value-then-value`, [read, pw('[1,] [2]'), state, push({ t: 'json' }), state]),
    sc(`${f}/bad-object-then-value`, [read, pw('{"a" 1} [2]'), state]),
  ];
}

function cbFamily(): Scenario[] {
  const f = 'cb';
  return [
    sc(`${f}/want-3`, [push({ t: 'cb', want: 3 }), pw('ab'), pw('cd'), state]),
    sc(`${f}/want-0`, [push({ t: 'cb', want: 0 }), state], undefined, { note: 'done at once, inside push_read' }),
    sc(`${f}/polled-on-every-drain`, [push({ t: 'cb', want: 4 }), pw('a'), pw('b'), pw('c'), pw('d')]),
    sc(`${f}/then-typed`, [push({ t: 'cb', want: 2 }), push({ t: 'line' }), pw('xyline\n')]),
    sc(`${f}/blocks-queue`, [push({ t: 'cb', want: 10 }), push({ t: 'chunk', n: 1 }), pw('abc'), ['peer_shutdown']]),
  ];
}

/** unshift_read of every read type, in front of a line read that is already waiting. */
function unshiftFamily(): Scenario[] {
  const f = 'unshift';
  const cases: Array<[string, ReadSpec, string]> = [
    ['chunk', { t: 'chunk', n: 3 }, 'abc'],
    ['line', { t: 'line' }, 'first\r\n'],
    ['line-eol', { t: 'line', eol: '|' }, 'first|'],
    ['regex', { t: 'regex', accept: 'X+' }, 'aXX'],
    ['netstring', { t: 'netstring' }, '2:ns,'],
    ['packstring', { t: 'packstring', fmt: 'n' }, '\x00\x02pk'],
    ['json', { t: 'json' }, '{"j":1}'],
    ['cb', { t: 'cb', want: 2 }, 'cb'],
  ];
  return cases.map(([what, spec, data]) =>
    sc(`${f}/${what}-before-waiting-line`, [push({ t: 'line', id: 'waiting' }), unshift({ ...spec, id: 'unshifted' }), pw(`${data}after\n`), state]),
  );
}

function peerReadFamily(): Scenario[] {
  const f = 'peer';
  return [
    sc(`${f}/reads-in-pieces`, [w('abcdef'), pr(2), pr(3), pr(), pr()]),
    sc(`${f}/read-more-than-there`, [w('abc'), pr(10), state]),
    sc(`${f}/reads-then-eof`, [w('xy'), ['push_shutdown'], pr(1), pr(1), pr(1)]),
    sc(`${f}/drain-after-stall`, [w({ pat: 6 << 20 }), state, pr(1000), state, drain, state], { on_drain: true }, { diff: ['KERNEL_BUFFER'] }),
    sc(`${f}/writes-queued-while-handle-stopped`, [['stop_read'], pw({ pat: 100000 }), state, ['start_read'], state], { on_read: CONSUME_ALL }, {
      diff: ['NODE_READ_SIZES'],
    }),
    sc(`${f}/no_delay-keepalive`, [['no_delay', true], ['keepalive', true], w('opts'), pr(), ['no_delay', false], ['keepalive', false]]),
  ];
}

// ---------------------------------------------------------------------------- read queue

function queueFamily(): Scenario[] {
  const f = 'queue';
  const line = (id: string, d?: HandlerSpec): ReadSpec => (d ? { t: 'line', id, do: d } : { t: 'line', id });
  return [
    sc(`${f}/push-order`, [push(line('a')), push(line('b')), push(line('c')), pw('1\n2\n3\n')]),
    sc(`${f}/unshift-top-level`, [push(line('a')), unshift(line('b')), pw('1\n2\n')]),
    sc(`${f}/unshift-in-callback`, [push(line('first', [['unshift_read', { t: 'line', id: 'extra' }]])), push(line('second')), pw('1\n2\n3\n')], undefined, {
      note: 'the EPP pattern: a read unshifted in a callback runs before the reads already queued',
    }),
    sc(`${f}/push-in-callback`, [push(line('first', [['push_read', { t: 'line', id: 'later' }]])), push(line('second')), pw('1\n2\n3\n')]),
    sc(`${f}/reads-before-on_read`, [push({ t: 'chunk', n: 2 }), push({ t: 'line' }), pw('abline\r\nrest')], { on_read: CONSUME_ALL }),
    sc(`${f}/on_read-pushes-read`, [pw('hdr\nbody\n'), pw('x\n')], { on_read: [['push_read', { t: 'line' }]] }, {
      note: 'on_read is called only while the queue is empty',
    }),
    sc(`${f}/on_read-partial-consume`, [pw('abcdef')], { on_read: { do: [['consume', 2]], max: 2 } }),
    sc(`${f}/on_read-consumes-nothing`, [pw('abc'), pw('def'), state], { on_read: true }),
    sc(`${f}/on_read-consumes-nothing-eof`, [pw('abc'), ['peer_shutdown']], { on_read: true, on_eof: true }),
    sc(`${f}/on_read-set-with-rbuf`, [push({ t: 'chunk', n: 1 }), pw('abc'), state, ['on_read', CONSUME_ALL]]),
    sc(`${f}/on_read-undef-one-more-read`, [pw('a'), ['on_read', null], pw('b'), state, pw('c'), state], { on_read: CONSUME_ALL }, { diff: ['NODE_READAHEAD'],
      note: 'AnyEvent 7.17: clearing on_read outside a callback costs one more read',
    }),
    sc(`${f}/on_read-undef-inside`, [pw('a'), pw('b'), state], { on_read: [['consume', 'all'], ['on_read', null]] }, { diff: ['NODE_READAHEAD'] }),
    sc(`${f}/on_read-replaced`, [pw('a'), ['on_read', [['consume', 1], ['state']]], pw('bc')], { on_read: CONSUME_ALL }),
    sc(`${f}/not-reading-without-reader`, [pw('early'), state, ['on_read', CONSUME_ALL]]),
    sc(`${f}/stop-start`, [['stop_read'], pw('while stopped'), state, ['start_read'], state], { on_read: CONSUME_ALL }),
    sc(`${f}/stop_read-in-on_read-quirk`, [pw('first'), pw('second')], { on_read: [['consume', 'all'], ['stop_read']] }, {
      note: 'AnyEvent 7.17: stop_read inside on_read does not pause (the drain loop restarts the watcher)',
    }),
    sc(`${f}/stop_read-then-push_read`, [['stop_read'], pw('x\n'), state, push({ t: 'line' })], { on_read: CONSUME_ALL }),
    sc(`${f}/stop_read-in-read-callback`, [push({ t: 'line', do: [['stop_read']] }), pw('a\n'), pw('b\n'), state], undefined, { diff: ['NODE_READAHEAD'] }),
    sc(`${f}/start_read-without-reader`, [['start_read'], pw('zz'), state, ['stop_read'], pw('yy'), state], undefined, { diff: ['NODE_READAHEAD'] }),
    sc(`${f}/read-size-doubling`, [pw({ rep: 'r', n: 20 })], { read_size: 4, on_read: CONSUME_ALL }),
    sc(`${f}/max-read-size`, [pw({ rep: 'm', n: 30 })], { read_size: 4, max_read_size: 8, on_read: CONSUME_ALL }),
    sc(`${f}/read-size-above-max`, [pw({ rep: 'q', n: 40 })], { read_size: 16, max_read_size: 8, on_read: CONSUME_ALL }),
    sc(`${f}/read-size-set`, [['read_size', 3], pw('abcdefgh')], { on_read: CONSUME_ALL }),
    sc(`${f}/32k-default-read-size`, [pw({ pat: 32768 })], { on_read: CONSUME_ALL }),
    sc(`${f}/rbuf-consumed-top-level`, [push({ t: 'chunk', n: 1 }), pw('abcd'), ['consume', 2], state]),
    sc(`${f}/autocork-write-waits-an-iteration`, [push({ t: 'chunk', n: 1, do: [['write', 'r']] }), push({ t: 'chunk', n: 1 }), pw('ab'), pr()], {
      read_size: 1,
      autocork: true,
    }, { note: 'a watcher started in a callback runs from the next loop iteration: the second read still sees wbuf 1' }),
  ];
}

function eofFamily(): Scenario[] {
  const f = 'eof';
  return [
    sc(`${f}/on_eof`, [pw('tail'), ['peer_shutdown']], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/no-on_eof`, [['peer_shutdown']], { on_read: CONSUME_ALL }, { note: 'fatal "Unexpected end-of-file", errno 0' }),
    sc(`${f}/queued-read-epipe`, [push({ t: 'line' }), ['peer_shutdown']], { on_eof: true }),
    sc(`${f}/rbuf-left`, [push({ t: 'chunk', n: 2 }), pw('abc'), ['peer_shutdown']], { on_eof: [['state']] }),
    sc(`${f}/on_eof-set-later`, [pw('x'), ['on_eof', true], ['peer_shutdown']], { on_read: CONSUME_ALL }),
    sc(`${f}/on_eof-cleared`, [['on_eof', null], ['peer_shutdown']], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/on_eof-destroys`, [['peer_shutdown'], state], { on_read: CONSUME_ALL, on_eof: DESTROY }),
    sc(`${f}/while-stopped`, [['stop_read'], ['peer_shutdown'], state, ['start_read']], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/unseen-without-reader`, [['peer_shutdown'], state], { on_eof: true }, { note: 'nothing reads, so nothing sees the EOF' }),
    sc(`${f}/write-after-peer-shutdown`, [['peer_shutdown'], w('still'), pr()], { on_read: CONSUME_ALL, on_eof: [['write', 'from on_eof']] }),
    sc(`${f}/start_read-after-eof`, [['peer_shutdown'], ['start_read'], state], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/push_read-after-eof`, [['peer_shutdown'], push({ t: 'line' })], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/data-and-eof-together`, [['batch', [pw('a\nb'), ['peer_shutdown']]], state], { on_read: [['push_read', { t: 'line' }]], on_eof: true }),
  ];
}

function rbufMaxFamily(): Scenario[] {
  const f = 'rbuf_max';
  return [
    sc(`${f}/exact`, [push({ t: 'line' }), pw('x'.repeat(10)), state], { rbuf_max: 10 }),
    sc(`${f}/over`, [push({ t: 'line' }), pw('x'.repeat(11))], { rbuf_max: 10 }),
    sc(`${f}/over-in-two`, [push({ t: 'line' }), pw('x'.repeat(6)), state, pw('y'.repeat(6))], { rbuf_max: 10 }),
    sc(`${f}/consumed-first`, [pw('x'.repeat(100))], { rbuf_max: 10, on_read: CONSUME_ALL }),
    sc(`${f}/chunk-larger-than-max`, [push({ t: 'chunk', n: 20 }), pw('x'.repeat(15))], { rbuf_max: 10 }),
    sc(`${f}/set-later`, [push({ t: 'line' }), pw('abcdef'), ['rbuf_max', 3], state, pw('g')]),
    sc(`${f}/cleared`, [['rbuf_max', null], push({ t: 'line' }), pw('x'.repeat(20)), state], { rbuf_max: 10 }),
    sc(`${f}/zero`, [push({ t: 'chunk', n: 1 }), pw('ab')], { rbuf_max: 0 }),
    sc(`${f}/on_read-undef-overflow`, [pw('a'), ['on_read', null], pw('x'.repeat(50)), state], { rbuf_max: 10, on_read: CONSUME_ALL }, {
      note: 'the one read after on_read(undef) lands in rbuf, past rbuf_max',
    }),
  ];
}

function destroyFamily(): Scenario[] {
  const f = 'destroy';
  return [
    sc(`${f}/in-read-callback`, [push({ t: 'line', do: DESTROY }), push({ t: 'line' }), pw('a\nb\n'), state]),
    sc(`${f}/in-on_read`, [pw('abc'), pw('def')], { on_read: DESTROY }, { diff: ['SIM_PEER_WRITE_AFTER_CLOSE'] }),
    sc(`${f}/in-on_error-nonfatal`, [push({ t: 'netstring' }), pw('bad'), pw('more')], { on_error: DESTROY }, { diff: ['SIM_PEER_WRITE_AFTER_CLOSE'] }),
    sc(`${f}/in-on_eof`, [['peer_shutdown']], { on_read: CONSUME_ALL, on_eof: [['destroy'], ['write', 'ignored'], ['state']] }),
    sc(`${f}/in-on_drain`, [['on_drain', DESTROY], w('x'), pr(), state]),
    sc(`${f}/with-pending-writes`, [['batch', [w('pending'), destroy]], drain], { autocork: true }),
    sc(`${f}/with-pending-writes-linger-0`, [['batch', [w('pending'), destroy]], drain], { autocork: true, linger: 0 }),
    sc(`${f}/stalled-linger`, [w({ pat: 8 << 20 }), destroy, drain], undefined, { diff: ['KERNEL_BUFFER'] }),
    sc(`${f}/then-everything-no-op`, [
      destroy,
      ['batch', [push({ t: 'line' }), ['on_read', true], ['start_read'], w('x'), ['push_shutdown'], ['on_drain', true], state]],
      pw('data\n'),
      pr(),
    ], undefined, { diff: ['SIM_PEER_WRITE_AFTER_CLOSE'] }),
    sc(`${f}/twice`, [destroy, destroy, state]),
    sc(`${f}/peer-sees-eof`, [destroy, pr()]),
    sc(`${f}/unread-data-resets`, [pw('never read'), destroy, pr()], undefined, {
      diff: ['NODE_READAHEAD'],
      note: 'closing with unread data sends RST',
    }),
    sc(`${f}/in-unshifted-read`, [push({ t: 'line', do: [['unshift_read', { t: 'chunk', n: 1, do: DESTROY }]] }), push({ t: 'line' }), pw('a\nbc\n'), state]),
    sc(`${f}/in-on_error-fatal`, [push({ t: 'line' }), pw('partial'), ['peer_shutdown'], state], { on_error: [['destroy'], ['state']] }),
    sc(`${f}/in-untyped-read`, [push({ t: 'cb', want: 2, do: DESTROY }), push({ t: 'line' }), pw('ab\n'), state]),
    sc(`${f}/in-netstring-read`, [push({ t: 'netstring', do: DESTROY }), push({ t: 'chunk', n: 1 }), pw('1:a,b'), state]),
    sc(`${f}/in-json-read`, [push({ t: 'json', do: DESTROY }), push({ t: 'json' }), pw('[1][2]'), state]),
    sc(`${f}/in-on_read-with-writes`, [pw('go')], { autocork: true, on_read: [['write', 'reply'], ['destroy']] }),
    sc(`${f}/in-on_error-then-reads`, [push({ t: 'regex', accept: 'ok', reject: 'bad', do: [['state']] }), push({ t: 'line' }), pw('bad\n')], { on_error: DESTROY }),
  ];
}

function errorFamily(): Scenario[] {
  const f = 'error';
  return [
    sc(`${f}/epipe-write-after-peer-close`, [['peer_close'], w('first'), w('second'), state], undefined, {
      diff: ['SIM_EPIPE_AT_ONCE'],
      note: 'Linux accepts the first write after the peer closed (the peer answers RST), the next fails',
    }),
    sc(`${f}/epipe-after-idle`, [['peer_close'], w('first'), ['idle'], w('second')], undefined, { diff: ['SIM_EPIPE_AT_ONCE'] }),
    sc(`${f}/econnreset-read`, [w('unread by peer'), ['peer_close'], state], { on_read: CONSUME_ALL }),
    sc(`${f}/peer-close-eof`, [pw('bye'), ['peer_close']], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/peer-close-no-on_eof`, [['peer_close']], { on_read: CONSUME_ALL }),
    sc(`${f}/uncaught-in-step`, [push({ t: 'bogus' } as never), state]),
    sc(`${f}/unshift-unknown-type`, [unshift({ t: 'nosuch' } as never), state]),
    sc(`${f}/on_error-replaced`, [['on_error', [['state']]], push({ t: 'netstring' }), pw('!')]),
    sc(`${f}/nonfatal-then-more-data`, [push({ t: 'netstring' }), pw('x'), pw('y'), state]),
    sc(`${f}/fatal-ends-reads`, [push({ t: 'chunk', n: 5 }), push({ t: 'line' }), pw('ab'), ['peer_shutdown'], state]),
  ];
}

function halfCloseFamily(): Scenario[] {
  const f = 'halfclose';
  return [
    sc(`${f}/peer-shutdown-handle-writes`, [['peer_shutdown'], w('after eof'), pr()], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/handle-shutdown-peer-writes`, [['push_shutdown'], pr(), pw('late data')], { on_read: CONSUME_ALL }),
    sc(`${f}/both`, [['push_shutdown'], ['peer_shutdown'], pr()], { on_read: CONSUME_ALL, on_eof: true }),
    sc(`${f}/request-response`, [pw('GET\n'), ['peer_shutdown'], drain], {
      on_read: [['push_read', { t: 'line', do: [['write', 'OK\n'], ['push_shutdown']] }]],
      on_eof: true,
    }),
  ];
}

function loadHandwritten(): Scenario[] {
  const file = new URL('./handwritten.json', import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')) as Scenario[];
}

/** Every committed scenario family: name → scenarios (names are `family/what`). */
export function families(): Map<string, Scenario[]> {
  const all = [
    ...writeFamily(),
    ...drainFamily(),
    ...autocorkFamily(),
    ...shutdownFamily(),
    ...wbufMaxFamily(),
    ...typedWriteFamily(),
    ...chunkFamily(),
    ...lineFamily(),
    ...regexFamily(),
    ...netstringFamily(),
    ...packstringFamily(),
    ...jsonFamily(),
    ...cbFamily(),
    ...unshiftFamily(),
    ...peerReadFamily(),
    ...queueFamily(),
    ...eofFamily(),
    ...rbufMaxFamily(),
    ...destroyFamily(),
    ...errorFamily(),
    ...halfCloseFamily(),
    ...loadHandwritten(),
  ];
  const out = new Map<string, Scenario[]>();
  const seen = new Set<string>();
  for (const s of all) {
    if (seen.has(s.name)) throw new Error(`duplicate scenario name ${s.name}`);
    seen.add(s.name);
    const family = s.name.split('/')[0];
    if (!out.has(family)) out.set(family, []);
    out.get(family)!.push(s);
  }
  return out;
}

export function allScenarios(): Scenario[] {
  return [...families().values()].flat();
}
