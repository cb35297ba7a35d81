/**
 * wbuf over time, drawn twice: in the terminal (characters, one row per doubling) and as
 * an SVG file (written by hand: axes with units, log scale, legend, the limit dashed).
 * Both take the largest wbuf of each sample interval, so no peak falls between samples.
 */
import { bytes, ratio, shortBytes } from './format.js';
import type { RunResult, Sample } from './experiment.js';

/** One handler's pair of runs, and how to title it. */
export interface Panel {
  title: string;
  limit: number;
  unbounded?: RunResult;
  bounded?: RunResult;
}

/** The y range: powers of two, from 128 KiB to the largest peak (at least 2 GiB). */
export function yRange(panels: readonly Panel[]): { lo: number; hi: number } {
  const peak = Math.max(0, ...panels.flatMap((p) => [p.unbounded?.peakWbuf ?? 0, p.bounded?.peakWbuf ?? 0]));
  return { lo: 17, hi: Math.max(31, Math.ceil(Math.log2(Math.max(peak, 1)))) };
}

/** The x range: from 0 to the last sample of any run, in seconds. */
export function tRange(panels: readonly Panel[]): number {
  const last = (r?: RunResult) => r?.samples[r.samples.length - 1]?.t ?? 0;
  return Math.max(1, ...panels.flatMap((p) => [last(p.unbounded), last(p.bounded)]));
}

/** The largest value per column of `width` columns over [0, tMax); undefined where no sample falls. */
function columns(samples: readonly Sample[], width: number, tMax: number): Array<number | undefined> {
  const out: Array<number | undefined> = new Array(width).fill(undefined);
  for (const s of samples) {
    const c = Math.min(width - 1, Math.max(0, Math.floor((s.t / tMax) * width)));
    out[c] = Math.max(out[c] ?? 0, s.wbuf);
  }
  return out;
}

const GLYPH = { unbounded: '#', bounded: 'o', limit: '-' } as const;

/**
 * A character chart: one row per doubling of wbuf (labelled at powers of four), `width`
 * columns of time. `#` without backpressure, `o` with, `- -` the limit.
 */
export function terminalChart(panel: Panel, opts: { width: number; tMax: number; lo: number; hi: number }): string {
  const { width, tMax } = opts;
  // Row k holds values in [2^k, 2^(k+1)); the chart shows rows lo+1 .. hi-1, so the bottom
  // row also takes everything below it (a stalled run's first samples) and the top row
  // everything above.
  const rows = Array.from({ length: opts.hi - opts.lo - 1 }, (_, i) => opts.hi - 1 - i);
  const grid = rows.map(() => new Array<string>(width).fill(' '));
  const rowOf = (v: number) => {
    const k = Math.min(opts.hi - 1, Math.max(opts.lo + 1, Math.floor(Math.log2(Math.max(v, 1)))));
    return rows.indexOf(k);
  };
  const limitRow = rowOf(panel.limit);
  for (let c = 0; c < width; c += 2) grid[limitRow][c] = GLYPH.limit;
  for (const mode of ['unbounded', 'bounded'] as const) {
    const run = panel[mode];
    if (!run) continue;
    let prev: number | undefined;
    columns(run.samples, width, tMax).forEach((v, c) => {
      if (v === undefined) return;
      const r = rowOf(v);
      // Join a jump to the previous column's point with a vertical stroke.
      const from = prev === undefined ? r : prev;
      for (let i = Math.min(from, r); i <= Math.max(from, r); i++) if (i === r || i !== from) grid[i][c] = GLYPH[mode];
      prev = r;
    });
  }
  const label = (k: number) => (k % 2 === 0 ? shortBytes(2 ** k) : '');
  const labelWidth = 5;
  const lines = [`  ${panel.title}`];
  rows.forEach((k, i) => {
    const tag = i === limitRow ? ` limit ${bytes(panel.limit)}` : '';
    lines.push(`${label(k).padStart(labelWidth)} │${grid[i].join('')}${tag}`.trimEnd());
  });
  // The time axis: a tick per second (or per few seconds on long runs).
  const step = tMax <= 12 ? 1 : tMax <= 30 ? 5 : 10;
  const axis = new Array<string>(width).fill('─');
  const ticks = new Array<string>(width + 8).fill(' ');
  for (let t = 0; t <= tMax; t += step) {
    const c = Math.min(width - 1, Math.round((t / tMax) * width));
    axis[c] = '┬';
    const text = String(t);
    for (let i = 0; i < text.length; i++) ticks[c + i] = text[i];
  }
  lines.push(`${' '.repeat(labelWidth)} └${axis.join('')}`);
  lines.push(`${' '.repeat(labelWidth)}  ${ticks.join('').trimEnd()} s`);
  const legend: string[] = [];
  if (panel.unbounded) legend.push(`${GLYPH.unbounded} without backpressure: peak ${bytes(panel.unbounded.peakWbuf)} (${ratio(panel.unbounded.peakOverLimit)})`);
  if (panel.bounded) legend.push(`${GLYPH.bounded} with backpressure: peak ${bytes(panel.bounded.peakWbuf)} (${ratio(panel.bounded.peakOverLimit)})`);
  lines.push(`${' '.repeat(labelWidth)}  ${legend.join('   ')}`);
  return lines.join('\n');
}

/** A y tick: 256 KiB, 1 MiB, 1 GiB. */
const tick = (n: number) => (n >= 1024 ** 3 ? `${n / 1024 ** 3} GiB` : n >= 1024 ** 2 ? `${n / 1024 ** 2} MiB` : `${n / 1024} KiB`);

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The SVG: one panel per handler, stacked, sharing the time axis; wbuf on a log scale with
 * grid lines at powers of four; the unbounded run red, the bounded run blue, the limit a
 * dashed line; the reader's stall and the bounded run's drain shaded.
 */
export function svgChart(panels: readonly Panel[], opts: { caption: string; stall: number; seconds: number }): string {
  const { lo, hi } = yRange(panels);
  const tMax = tRange(panels);
  const W = 760;
  const left = 78;
  const right = 64;
  const plotW = W - left - right;
  const plotH = 150;
  const panelGap = 74;
  const captionLines = opts.caption.split('\n').length;
  const top = 78 + (captionLines - 1) * 15;
  const H = top + panels.length * (plotH + panelGap) + 10;
  const font = 'font-family="Helvetica, Arial, sans-serif"';
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${font} font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="bold" fill="#111">Proxy write buffer (wbuf) over time: a fast writer, a slow reader</text>`);
  opts.caption.split('\n').forEach((line, i) => out.push(`<text x="${left}" y="${40 + i * 15}" fill="#444">${esc(line)}</text>`));
  // Legend.
  const ly = 60 + (captionLines - 1) * 15;
  const item = (x: number, stroke: string, dash: string, text: string) =>
    `<line x1="${x}" y1="${ly - 4}" x2="${x + 28}" y2="${ly - 4}" stroke="${stroke}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>` +
    `<text x="${x + 34}" y="${ly}" fill="#222">${esc(text)}</text>`;
  out.push(item(left, '#d62728', '', 'without backpressure (unbounded)'));
  out.push(item(left + 250, '#1f77b4', '', 'with backpressure (bounded)'));
  out.push(item(left + 480, '#555', '6 4', 'the limit'));

  panels.forEach((panel, i) => {
    const y0 = top + i * (plotH + panelGap) + 22;
    const x = (t: number) => left + (Math.min(Math.max(t, 0), tMax) / tMax) * plotW;
    const y = (v: number) => {
      const k = Math.min(hi, Math.max(lo, Math.log2(Math.max(v, 1))));
      return y0 + plotH - ((k - lo) / (hi - lo)) * plotH;
    };
    out.push(`<text x="${left}" y="${y0 - 8}" font-size="13" font-weight="bold" fill="#111">${esc(panel.title)}</text>`);
    // The reader's phases.
    out.push(`<rect x="${x(0)}" y="${y0}" width="${x(opts.stall) - x(0)}" height="${plotH}" fill="#f1f1f1"/>`);
    out.push(`<text x="${x(0) + 4}" y="${y0 + 13}" font-size="10" fill="#777">reader</text>`);
    out.push(`<text x="${x(0) + 4}" y="${y0 + 25}" font-size="10" fill="#777">stalled</text>`);
    if (panel.bounded?.drainSeconds !== undefined && tMax > opts.seconds) {
      out.push(`<rect x="${x(opts.seconds)}" y="${y0}" width="${x(tMax) - x(opts.seconds)}" height="${plotH}" fill="#eef4fa"/>`);
      if (x(tMax) - x(opts.seconds) > 100) out.push(`<text x="${x(opts.seconds) + 4}" y="${y0 + 13}" font-size="10" fill="#777">bounded run drains</text>`);
    }
    out.push(`<text x="${x(opts.stall) + 4}" y="${y0 + 13}" font-size="10" fill="#777">reader</text>`);
    out.push(`<text x="${x(opts.stall) + 4}" y="${y0 + 25}" font-size="10" fill="#777">slow</text>`);
    // Grid and y labels at powers of four.
    for (let k = lo + (lo % 2); k <= hi; k += 2) {
      out.push(`<line x1="${left}" y1="${y(2 ** k)}" x2="${left + plotW}" y2="${y(2 ** k)}" stroke="#dddddd" stroke-width="1"/>`);
      out.push(`<text x="${left - 6}" y="${y(2 ** k) + 4}" text-anchor="end" fill="#333">${tick(2 ** k)}</text>`);
    }
    // x ticks.
    const step = tMax <= 12 ? 1 : tMax <= 30 ? 5 : 10;
    for (let t = 0; t <= tMax + 1e-9; t += step) {
      out.push(`<line x1="${x(t)}" y1="${y0 + plotH}" x2="${x(t)}" y2="${y0 + plotH + 4}" stroke="#333"/>`);
      out.push(`<text x="${x(t)}" y="${y0 + plotH + 17}" text-anchor="middle" fill="#333">${t}</text>`);
    }
    out.push(`<text x="${left + plotW}" y="${y0 + plotH + 32}" text-anchor="end" fill="#333">time (s)</text>`);
    out.push(
      `<text transform="translate(16 ${y0 + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">wbuf (log scale)</text>`,
    );
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${plotH}" fill="none" stroke="#333" stroke-width="1"/>`);
    // The limit.
    out.push(`<line x1="${left}" y1="${y(panel.limit)}" x2="${left + plotW}" y2="${y(panel.limit)}" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${left + plotW + 6}" y="${y(panel.limit) - 2}" font-size="11" fill="#555">limit</text>`);
    out.push(`<text x="${left + plotW + 6}" y="${y(panel.limit) + 10}" font-size="11" fill="#555">${bytes(panel.limit)}</text>`);
    // The runs.
    const line = (run: RunResult | undefined, stroke: string) => {
      if (!run || !run.samples.length) return;
      const pts = run.samples.map((s) => `${x(s.t).toFixed(1)},${y(s.wbuf).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${stroke}" stroke-width="2" stroke-linejoin="round"/>`);
    };
    line(panel.bounded, '#1f77b4');
    line(panel.unbounded, '#d62728');
    const u = panel.unbounded;
    if (u && u.samples.length) {
      const end = u.samples[u.samples.length - 1];
      const peakAt = u.samples.reduce((a, s) => (s.wbuf > a.wbuf ? s : a), end);
      out.push(`<circle cx="${x(peakAt.t)}" cy="${y(peakAt.wbuf)}" r="3" fill="#d62728"/>`);
      // Between the peak and the limit, where no line runs: left of the end of the run if
      // there is room, else right of it, else against the right edge.
      const ended = u.sourceEndedAt !== undefined ? ` (the file ended at ${u.sourceEndedAt.toFixed(1)} s)` : '';
      const text = `peak ${bytes(u.peakWbuf)} = ${ratio(u.peakOverLimit)} the limit; stopped by ${u.stoppedBy} at ${u.stoppedAt.toFixed(1)} s${ended}`;
      const width = text.length * 6.6;
      const ty = (y(u.peakWbuf) + y(panel.limit)) / 2;
      let tx = x(end.t) - 8;
      let anchor = 'end';
      if (tx - width < x(opts.stall) + 8) {
        tx = x(end.t) + 8;
        anchor = 'start';
        if (tx + width > left + plotW - 4) {
          tx = left + plotW - 4;
          anchor = 'end';
        }
      }
      out.push(`<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" text-anchor="${anchor}" fill="#b01d1d">${esc(text)}</text>`);
    }
    const b = panel.bounded;
    if (b) {
      out.push(
        `<text x="${left + plotW - 4}" y="${y(panel.limit) - 8}" text-anchor="end" fill="#17609a">peak ${bytes(b.peakWbuf)} = ${ratio(b.peakOverLimit)} the limit</text>`,
      );
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
