import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalJson, type Scenario, type Trace } from './format.js';

/** spec/conformance/golden/: one file per family, `<family>.json`. */
export const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));

export interface GoldenEntry {
  scenario: Scenario;
  /** The trace driver.pl printed for it. */
  trace: Trace;
}

export interface GoldenFile {
  family: string;
  /** What recorded it: perl, AnyEvent, EV and JSON::PP versions. */
  recorded_with: Record<string, string>;
  scenarios: GoldenEntry[];
}

/** Every golden file, by family. */
export function loadGoldens(): Map<string, GoldenFile> {
  const out = new Map<string, GoldenFile>();
  for (const file of readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const g = JSON.parse(readFileSync(GOLDEN_DIR + file, 'utf8')) as GoldenFile;
    out.set(g.family, g);
  }
  return out;
}

/**
 * Writes a golden file so that a re-recording shows up in `git diff` event by event: the
 * scenario on one line, then one trace event per line.
 */
export function writeGolden(g: GoldenFile): void {
  const entries = g.scenarios.map(
    (e) =>
      `    {\n      "scenario": ${canonicalJson(e.scenario)},\n      "trace": [\n` +
      e.trace.map((ev) => `        ${canonicalJson(ev)}`).join(',\n') +
      `\n      ]\n    }`,
  );
  const text =
    `{\n  "family": ${JSON.stringify(g.family)},\n  "recorded_with": ${canonicalJson(g.recorded_with)},\n` +
    `  "scenarios": [\n${entries.join(',\n')}\n  ]\n}\n`;
  writeFileSync(`${GOLDEN_DIR}${g.family}.json`, text);
}
