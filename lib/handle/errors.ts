import { getSystemErrorMap } from 'node:util';

/**
 * The errno names the Handle raises itself. Errors that come from the system carry the
 * system's name (`ECONNRESET`, `ECONNREFUSED`, …), hence the open string at the end.
 *
 * `EOF` stands for Perl's `$! = 0` in the "Unexpected end-of-file" error: AnyEvent raises
 * that one with no errno at all, and a stable name is easier to test than an empty string.
 */
export type ErrnoCode = 'EPIPE' | 'ENOSPC' | 'ETIMEDOUT' | 'EBADMSG' | 'EPROTO' | 'EOF' | (string & {});

// glibc's strerror texts, which is what Perl prints for "$!". libuv's own texts are
// lower-case variants ("broken pipe"), so the common ones are spelled out here.
const PERL_TEXT: Record<string, string> = {
  EPIPE: 'Broken pipe',
  ENOSPC: 'No space left on device',
  ETIMEDOUT: 'Connection timed out',
  EBADMSG: 'Bad message',
  EPROTO: 'Protocol error',
  EOF: 'Unexpected end-of-file',
  ECONNRESET: 'Connection reset by peer',
  ECONNREFUSED: 'Connection refused',
  ECONNABORTED: 'Software caused connection abort',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EBADF: 'Bad file descriptor',
  EINVAL: 'Invalid argument',
  ENOTCONN: 'Transport endpoint is not connected',
  ENOTSOCK: 'Socket operation on non-socket',
  EIO: 'Input/output error',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

let libuvTexts: Map<string, string> | undefined;

/** Perl's `"$!"` for an errno name. */
export function errnoText(code: string): string {
  const known = PERL_TEXT[code];
  if (known) return known;
  libuvTexts ??= new Map([...getSystemErrorMap().values()].map(([name, text]) => [name, text]));
  const text = libuvTexts.get(code);
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : code;
}

/**
 * What `on_error` receives and what is thrown when no `on_error` is set (Perl croaks with
 * "AnyEvent::Handle uncaught error: $message").
 */
export class HandleError extends Error {
  constructor(
    readonly code: ErrnoCode,
    readonly fatal: boolean,
    message: string = errnoText(code),
  ) {
    super(message);
    this.name = 'HandleError';
  }
}
