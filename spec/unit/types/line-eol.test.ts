import { describe, expect, it } from 'vitest';
import { Handle } from '../../../lib/index.js';
import { simEnv } from '../../helpers/simEnv.js';

describe('line read type with a RegExp eol', () => {
  it("keeps the eol's own flags: `.` in the eol does not match a newline (as Perl's qr//)", async () => {
    const env = simEnv();
    const { fh, peer } = await env.pair();
    const lines: string[] = [];
    const hdl = new Handle({ fh });
    hdl.push_read('line', /a.b/, (_h, line, eol) => lines.push(`${line}|${eol}`));
    peer.write('xa\nby\n');
    await env.sleep(0.01);
    expect(lines).toEqual([]);
    peer.write('za-b');
    await env.until(() => lines.length === 1, 'line');
    expect(lines).toEqual(['xa\nby\nz|a-b']);
    hdl.destroy();
    await env.close();
  });
});
