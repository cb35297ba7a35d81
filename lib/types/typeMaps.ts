import type { Handle } from '../handle/Handle.js';

/**
 * Argument lists of the built-in read types, for typed `push_read`/`unshift_read` calls:
 * `hdl.push_read('line', (h, line, eol) => …)` gets `line: string` without annotations.
 * Custom types registered at run time still work through the untyped overload.
 */
export interface ReadTypeArgs {
  chunk: [octets: number, cb: (hdl: Handle, data: Buffer) => void];
  line: [cb: LineCb] | [eol: string | RegExp, cb: LineCb];
  regex:
    | [accept: RegExp, cb: RegexCb]
    | [accept: RegExp, reject: RegExp | null | undefined, cb: RegexCb]
    | [accept: RegExp, reject: RegExp | null | undefined, skip: RegExp | null | undefined, cb: RegexCb];
  netstring: [cb: (hdl: Handle, data: Buffer) => void];
  packstring: [format: string, cb: (hdl: Handle, data: Buffer) => void];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded JSON, as in Perl
  json: [cb: (hdl: Handle, value: any) => void];
}

type LineCb = (hdl: Handle, line: string, eol: string) => void;
type RegexCb = (hdl: Handle, data: string, match: RegExpExecArray) => void;

/** Argument lists of the built-in write types, for typed `push_write` calls. */
export interface WriteTypeArgs {
  netstring: [data: Buffer | string];
  packstring: [format: string, data: Buffer | string];
  json: [value: unknown];
}
