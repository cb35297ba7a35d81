/** Binary units, as the limits are defined (640 KiB = 64 × 10 KiB). */
export function bytes(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1024) return `${Math.round(n)} B`;
  if (abs < 1024 ** 2) return `${trim(n / 1024)} KiB`;
  if (abs < 1024 ** 3) return `${trim(n / 1024 ** 2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Three significant digits at most, no trailing zeros: 640, 704, 1.5, 12.3. */
function trim(x: number): string {
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return String(Number(x.toFixed(digits)));
}

/** A ratio to a limit: 2458x, 12.5x, 1.10x. */
export function ratio(x: number): string {
  return `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`;
}

export function seconds(s: number): string {
  return `${s < 10 ? s.toFixed(1) : s.toFixed(0)} s`;
}

/** Axis labels for powers of two: 256K, 1M, 64M, 1G. */
export function shortBytes(n: number): string {
  if (n >= 1024 ** 3) return `${n / 1024 ** 3}G`;
  if (n >= 1024 ** 2) return `${n / 1024 ** 2}M`;
  if (n >= 1024) return `${n / 1024}K`;
  return `${n}`;
}

/** Left-aligned columns; `right` lists the columns to right-align. */
export function table(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
