/*
 * `npm run conformance:record`: runs every committed scenario (scenarios.ts) with the real
 * AnyEvent::Handle through driver.pl and writes spec/conformance/golden/<family>.json.
 *
 * Each scenario is run twice; a scenario whose two Perl traces differ is not written (its
 * trace would depend on timing) and the script exits non-zero naming it.
 *
 *   npm run conformance:record               # all families
 *   npm run conformance:record -- line json  # only these families
 */
import { isDeepStrictEqual } from 'node:util';
import { report } from './compare.js';
import { loadGoldens, writeGolden, type GoldenEntry } from './goldens.js';
import { PerlDriver, perlAvailable, perlVersions } from './perl.js';
import { families } from './scenarios.js';

async function main(): Promise<number> {
  if (!perlAvailable()) {
    console.error('conformance:record needs perl with AnyEvent::Handle, EV and JSON::PP (apt-get install libanyevent-perl libev-perl)');
    return 2;
  }
  const only = process.argv.slice(2);
  const versions = perlVersions();
  console.log(`recording with perl ${versions.perl}, AnyEvent ${versions.AnyEvent}, EV ${versions.EV}, JSON::PP ${versions['JSON::PP']}`);
  const old = loadGoldens();
  const perl = new PerlDriver();
  let recorded = 0;
  const flaky: string[] = [];
  try {
    for (const [family, scenarios] of families()) {
      if (only.length && !only.includes(family)) continue;
      const entries: GoldenEntry[] = [];
      for (const sc of scenarios) {
        const first = await perl.run(sc);
        const second = await perl.run(sc);
        if (!isDeepStrictEqual(first, second)) {
          flaky.push(sc.name);
          console.error(`NOT DETERMINISTIC in Perl (not recorded):\n${report(sc, 'sim', first, second).replace('+ typescript', '+ second run')}`);
          const previous = old.get(family)?.scenarios.find((e) => e.scenario.name === sc.name);
          if (previous) entries.push(previous);
          continue;
        }
        entries.push({ scenario: sc, trace: first });
        recorded++;
      }
      writeGolden({ family, recorded_with: versions, scenarios: entries });
      console.log(`${family}: ${entries.length} scenarios`);
    }
  } finally {
    perl.close();
  }
  console.log(`recorded ${recorded} scenarios`);
  if (flaky.length) {
    console.error(`${flaky.length} scenario(s) not deterministic in Perl: ${flaky.join(', ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
