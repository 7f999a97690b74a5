// limits.mjs: the phone page's own judge (web/pages/assets/limits.js) against the vectors
// core/rules/limits.c is held to in tests/test_rules.c (tests/data/limits-vectors.json).
// Prints "limits: N passed, N failed".
import { readFileSync } from 'node:fs';
import { judge } from '../../web/pages/assets/limits.js';

const here = new URL('.', import.meta.url);
const v = JSON.parse(readFileSync(new URL('../data/limits-vectors.json', here), 'utf8'));
const tables = { ...v.tables, chp2020: JSON.parse(readFileSync(new URL('../../schemas/limits/chp2020.json', here), 'utf8')) };
let passed = 0, failed = 0;
for (const c of v.cases) {
  const got = judge(tables[c.table], c.herbs, c.form, c.category, c.results);
  let why = '';
  if (c.want_error) {
    if (got.error !== c.want_error) why = `wanted ${c.want_error}, got ${JSON.stringify(got).slice(0, 200)}`;
  } else if (got.error) why = `refused: ${got.error} ${got.message}`;
  else if (got.verdict !== c.want.verdict) why = `verdict ${got.verdict}, wanted ${c.want.verdict}`;
  else if (got.results.length !== c.want.results.length) why = `${got.results.length} results`;
  else
    c.want.results.forEach((w, k) => {
      for (const f of ['test', 'verdict', 'limit'])
        if ((w[f] ?? null) !== (got.results[k][f] ?? null)) why ||= `result ${k}'s ${f} is ${got.results[k][f]}, wanted ${w[f]}`;
    });
  if (why) { failed++; console.log('FAIL', c.name, why); } else passed++;
}
if (v.cases.length < 20) { failed++; console.log('FAIL fewer than 20 vectors'); }
console.log(`limits: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
