import net, { type AddressInfo } from 'node:net';
import { Handle } from '../../../lib/index.js';
import type { ErrorCall } from './scriptedFh.js';

/**
 * Two Handles on the two ends of a real TCP connection on 127.0.0.1, each recording its
 * errors; `nextError` resolves with the reader's next one.
 */
export async function loopbackPair(): Promise<{
  writer: Handle;
  reader: Handle;
  readerErrors: ErrorCall[];
  nextError(): Promise<ErrorCall>;
  close(): void;
}> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const serverSide = await accepted;
  server.close();

  const readerErrors: ErrorCall[] = [];
  let waiting: ((e: ErrorCall) => void) | undefined;
  const writer = new Handle({ fh: client, on_error: (_h, fatal, message) => { throw new Error(`writer error: ${message} (${fatal})`); } });
  const reader = new Handle({
    fh: serverSide,
    on_error: (_h, fatal, message, code) => {
      const e = { fatal, message, code };
      readerErrors.push(e);
      waiting?.(e);
      waiting = undefined;
    },
  });
  return {
    writer,
    reader,
    readerErrors,
    nextError: () => new Promise((resolve) => (waiting = resolve)),
    close() {
      writer.destroy();
      reader.destroy();
      client.destroy();
      serverSide.destroy();
    },
  };
}
