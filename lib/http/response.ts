import type { Handle } from '../handle/index.js';

const REASONS: Record<number, string> = {
  101: 'Switching Protocols',
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  426: 'Upgrade Required',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

export function reason(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

/** Queues a complete response with a body on `hdl`. */
export function write_response(
  hdl: Handle,
  proto: string,
  status: number,
  body: string | Buffer,
  opts: { contentType?: string; keepAlive: boolean; headers?: Record<string, string>; head?: boolean },
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = `${proto} ${status} ${reason(status)}\r\nServer: ae-proxy\r\n`;
  if (opts.contentType) head += `Content-Type: ${opts.contentType}\r\n`;
  head += `Content-Length: ${bytes.length}\r\n`;
  for (const [k, v] of Object.entries(opts.headers ?? {})) head += `${k}: ${v}\r\n`;
  head += `Connection: ${opts.keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
  hdl.push_write(head);
  if (!opts.head && bytes.length) hdl.push_write(bytes);
}
