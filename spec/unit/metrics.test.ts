import { describe, expect, it } from 'vitest';
import { Metrics } from '../../lib/metrics.js';
import { ProxySession } from '../../lib/proxy/ProxySession.js';

describe('Metrics', () => {
  it('intervalPeakWbuf: the largest wbuf since the previous call, even one that came and went', () => {
    const metrics = new Metrics();
    const hooks = metrics.sessionHooks('spice');
    const session = new ProxySession(hooks);
    const wbuf = (length: number) => hooks.wbuf!(session, 'to_backend', length);
    wbuf(100);
    wbuf(5000);
    wbuf(200);
    expect(metrics.intervalPeakWbuf('to_backend')).toBe(5000);
    // The next interval starts at what is open now, not at the old peak.
    expect(metrics.intervalPeakWbuf('to_backend')).toBe(200);
    wbuf(300);
    wbuf(0);
    expect(metrics.intervalPeakWbuf('to_backend')).toBe(300);
    expect(metrics.intervalPeakWbuf('to_client')).toBe(0);
    // The all-time peak is kept apart.
    expect(metrics.directions.to_backend.peakWbuf).toBe(5000);
  });

  it('renders the Prometheus text format with the wbuf gauges', () => {
    const metrics = new Metrics();
    const hooks = metrics.sessionHooks('websocket');
    hooks.wbuf!(new ProxySession(hooks), 'to_client', 42);
    const text = metrics.render();
    expect(text).toContain('aeproxy_wbuf_bytes{direction="to_client"} 42');
    expect(text).toContain('aeproxy_sessions_total{handler="websocket"} 1');
  });
});
