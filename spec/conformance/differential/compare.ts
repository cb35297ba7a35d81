import { isDeepStrictEqual } from 'node:util';
import { normalisePair } from './differences.js';
import { canonicalJson, type Scenario, type Trace } from './format.js';
import type { BackendName } from './tsDriver.js';

export type Outcome =
  | { status: 'same'; applied: string[] }
  | { status: 'skipped'; by: string }
  | { status: 'differ'; applied: string[]; report: string };

/** Compares a TypeScript trace with the Perl trace of the same scenario (after the declared normalisations). */
export function compareTraces(sc: Scenario, backend: BackendName, perl: Trace, ts: Trace): Outcome {
  const n = normalisePair(sc, backend, perl, ts);
  if ('skip' in n) return { status: 'skipped', by: n.skip };
  if (isDeepStrictEqual(n.perl, n.ts)) return { status: 'same', applied: n.applied };
  return { status: 'differ', applied: n.applied, report: report(sc, backend, n.perl, n.ts, n.applied) };
}

/** The scenario and both traces, with a line diff (- Perl, + TypeScript). */
export function report(sc: Scenario, backend: BackendName, perl: Trace, ts: Trace, applied: string[] = []): string {
  const a = perl.map((e) => canonicalJson(e));
  const b = ts.map((e) => canonicalJson(e));
  return [
    `scenario ${sc.name} on ${backend}${applied.length ? ` (normalised: ${applied.join(', ')})` : ''}:`,
    `  ${JSON.stringify(sc)}`,
    `trace diff (- perl, + typescript):`,
    ...lineDiff(a, b).map((l) => `  ${l}`),
  ].join('\n');
}

/** A minimal line diff (LCS); traces are short. */
export function lineDiff(a: string[], b: string[]): string[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out.push(`+ ${b[j++]}`);
    } else {
      out.push(`- ${a[i++]}`);
    }
  }
  return out;
}
