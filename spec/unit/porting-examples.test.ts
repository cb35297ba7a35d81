import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/*
 * The side-by-side example of docs/porting.md, run for real: the TypeScript client below
 * and the Perl client (with the system perl and AnyEvent 7.17) talk to the same tiny line
 * server on 127.0.0.1 and must produce the same transcript. The last test checks that the
 * doc still shows exactly this code.
 */

// <example:ts>
import { Handle } from '../../lib/index.js';

function lineClient(host: string, port: number, done: (transcript: string[]) => void): Handle {
  const transcript: string[] = [];

  const hdl = new Handle({
    connect: [host, port],
    on_error: (hdl, fatal, msg, code) => {
      // Perl reads $! here; the port passes its errno name as code ('ECONNREFUSED', …).
      transcript.push(`error (${fatal ? 'fatal' : 'non-fatal'}): ${msg}`);
      hdl.destroy();
      done(transcript);
    },
    on_eof: (hdl) => {
      transcript.push('eof');
      hdl.destroy();
      done(transcript);
    },
    // Data that no queued read wants. Having on_read also keeps the handle reading while
    // the queue is empty: without it reading stops when the queue runs dry, and the EOF
    // after BYE would never be seen (on_eof never called; see the AnyEvent::Handle FAQ).
    on_read: (hdl) => {
      transcript.push(`unexpected: ${hdl.rbuf.toString()}`);
      hdl.rbuf = hdl.rbuf.subarray(hdl.rbuf.length);
    },
  });

  hdl.push_read('line', (hdl, line) => {
    transcript.push(`greeting: ${line}`);
    for (const cmd of ['ADD 2 3', 'ADD 40 2', 'QUIT']) {
      hdl.push_write(`${cmd}\r\n`);
      hdl.push_read('line', (hdl, line) => {
        transcript.push(`${cmd} -> ${line}`);
      });
    }
  });

  return hdl;
}
// </example:ts>

const PERL_EXAMPLE = `use strict;
use warnings;
use AnyEvent;
use AnyEvent::Handle;

my ($host, $port) = @ARGV;
my $done = AE::cv;
my @transcript;

my $hdl = AnyEvent::Handle->new (
   connect  => [$host, $port],
   on_error => sub {
      my ($hdl, $fatal, $msg) = @_;
      push @transcript, "error (" . ($fatal ? "fatal" : "non-fatal") . "): $msg";
      $hdl->destroy;
      $done->send;
   },
   on_eof   => sub {
      my ($hdl) = @_;
      push @transcript, "eof";
      $hdl->destroy;
      $done->send;
   },
   # data that no queued read wants. Having on_read also keeps the handle reading while
   # the queue is empty: without it reading stops when the queue runs dry, and the EOF
   # after BYE would never be seen (on_eof never called; see the FAQ in the POD).
   on_read  => sub {
      my ($hdl) = @_;
      push @transcript, "unexpected: $hdl->{rbuf}";
      $hdl->{rbuf} = "";
   },
);

$hdl->push_read (line => sub {
   my ($hdl, $line) = @_;
   push @transcript, "greeting: $line";
   for my $cmd ("ADD 2 3", "ADD 40 2", "QUIT") {
      $hdl->push_write ("$cmd\\015\\012");
      $hdl->push_read (line => sub {
         my ($hdl, $line) = @_;
         push @transcript, "$cmd -> $line";
      });
   }
});

$done->recv;
print "$_\\n" for @transcript;
`;

/** What both clients must report against the line server. */
const TRANSCRIPT = ['greeting: HELLO', 'ADD 2 3 -> 5', 'ADD 40 2 -> 42', 'QUIT -> BYE', 'eof'];
/** What both clients must report when nobody listens. */
const REFUSED = ['error (fatal): Connection refused'];
/** What the server must have received from either client. */
const COMMANDS = ['ADD 2 3', 'ADD 40 2', 'QUIT'];

const perlHasAnyEvent = spawnSync('perl', ['-MAnyEvent::Handle', '-MEV', '-e1']).status === 0;

const opened: net.Server[] = [];
afterEach(() => {
  for (const server of opened.splice(0)) server.close();
});

/**
 * The tiny line server: greets with HELLO, answers `ADD a b` with the sum and `QUIT` with
 * BYE followed by EOF. `received` collects the command lines, without their CRLF.
 */
async function lineServer(): Promise<{ port: number; received: string[] }> {
  const received: string[] = [];
  const server = net.createServer((socket) => {
    let pending = '';
    socket.setEncoding('latin1');
    socket.write('HELLO\r\n');
    socket.on('data', (data: string) => {
      pending += data;
      let eol: number;
      while ((eol = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 2);
        received.push(line);
        const add = /^ADD (\d+) (\d+)$/.exec(line);
        if (add) socket.write(`${Number(add[1]) + Number(add[2])}\r\n`);
        else if (line === 'QUIT') socket.end('BYE\r\n');
        else socket.write('ERR\r\n');
      }
    });
    socket.on('error', () => {});
  });
  opened.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, received };
}

/** A port on 127.0.0.1 that nobody listens on. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function runTs(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('TypeScript client did not finish within 10 s')), 10_000);
    lineClient('127.0.0.1', port, (transcript) => {
      clearTimeout(timer);
      resolve(transcript);
    });
  });
}

function runPerl(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('perl', ['-e', PERL_EXAMPLE, '127.0.0.1', String(port)], {
      env: { ...process.env, PERL_ANYEVENT_MODEL: 'EV' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`perl client did not finish within 20 s; stderr: ${stderr}`));
    }, 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      if (status !== 0 || stderr !== '') reject(new Error(`perl exited with ${status}; stderr: ${stderr}`));
      else resolve(stdout.split('\n').filter((l) => l !== ''));
    });
  });
}

/** The fenced code block that follows `<!-- marker -->` in docs/porting.md. */
function docBlock(marker: string): string {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/porting.md', import.meta.url)), 'utf8');
  const at = doc.indexOf(`<!-- ${marker} -->`);
  expect(at, `marker <!-- ${marker} --> in docs/porting.md`).toBeGreaterThanOrEqual(0);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at));
  expect(m, `code block after <!-- ${marker} -->`).not.toBeNull();
  return m![1];
}

describe('the porting guide example (docs/porting.md)', () => {
  it('TypeScript: talks to the line server and reports the transcript', async () => {
    const { port, received } = await lineServer();
    expect(await runTs(port)).toEqual(TRANSCRIPT);
    expect(received).toEqual(COMMANDS);
  });

  it('TypeScript: reports a refused connection through on_error', async () => {
    expect(await runTs(await deadPort())).toEqual(REFUSED);
  });

  it.skipIf(!perlHasAnyEvent)('Perl: the same client in AnyEvent::Handle 7.17 reports the same transcript', async () => {
    const { port, received } = await lineServer();
    expect(await runPerl(port)).toEqual(TRANSCRIPT);
    expect(received).toEqual(COMMANDS);
  });

  it.skipIf(!perlHasAnyEvent)('Perl: reports the same refused connection', async () => {
    expect(await runPerl(await deadPort())).toEqual(REFUSED);
  });

  it('the doc shows exactly the code run here', () => {
    const self = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    const start = self.indexOf('// <example:ts>\n');
    const end = self.indexOf('// </example:ts>');
    const tsHere = self.slice(start + '// <example:ts>\n'.length, end).replace("'../../lib/index.js'", "'anyevent-handle-ts'");
    expect(docBlock('example:ts')).toBe(tsHere);
    expect(docBlock('example:perl')).toBe(PERL_EXAMPLE);
  });
});
