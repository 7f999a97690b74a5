// limits.js: an inspection's values judged against a limits table, as core/limits.c judges
// them (tt_limits_judge): the page does not take a verdict from the server. Decimals are
// compared exactly (BigInt, scaled by 10^9). The two are held to one file of vectors,
// tests/data/limits-vectors.json, run by tests/test_rules.c and tests/browser/limits.mjs.

const SCALE = 9;

function dec(s) {
  const neg = s.startsWith('-');
  const t = neg ? s.slice(1) : s;
  const [int, frac = ''] = t.split('.');
  const v = BigInt((int || '0') + frac.padEnd(SCALE, '0').slice(0, SCALE));
  return neg ? -v : v;
}

// unit families: 1 = mass fraction (factor to µg/kg), 2 = percent
const UNITS = { 'mg/kg': [1, 1000n], ppm: [1, 1000n], 'µg/kg': [1, 1n], 'μg/kg': [1, 1n], 'ug/kg': [1, 1n], ppb: [1, 1n], '%': [2, 1n] };

// ASCII letters compare without case; everything else byte for byte
const fold = (s) => String(s).replace(/[A-Z]/g, (c) => c.toLowerCase());
const sameName = (a, b) => typeof a === 'string' && typeof b === 'string' && fold(a) === fold(b);

export function testId(table, name) {
  for (const [id, t] of Object.entries(table.tests || {}))
    if (sameName(id, name) || sameName(t.name_zh, name) || (t.aliases || []).some((a) => sameName(a, name))) return id;
  return null;
}

const listHas = (rule, key, value) => !rule[key] || (value != null && rule[key].includes(value));

function findRule(table, test, herb, form, category) {
  for (const herbSpecific of [true, false])
    for (const r of table.rules || [])
      if (!!r.herbs === herbSpecific && r.test === test && listHas(r, 'herbs', herb) && listHas(r, 'forms', form) && listHas(r, 'categories', category))
        return r;
  return null;
}

// a compound is held to the lowest limit any of its herbs has
function strictest(table, test, herbs, form, category) {
  let best = null;
  for (const h of herbs) {
    const r = findRule(table, test, h, form, category);
    if (r && (best === null || dec(r.max) < dec(best.max))) best = r;
  }
  return best;
}

// {verdict: 'pass'|'fail'|'no_limit', results: [...]} or {error: code, message}
export function judge(table, herbs, form, category, results) {
  const out = [];
  let failed = false, judged = false;
  for (const res of results || []) {
    const written = res.test, value = String(res.value), unit = res.unit;
    if (value.startsWith('-')) return { error: 'malformed', message: `measured value ${value} of ${written} is negative` };
    const test = testId(table, written);
    if (test === null) return { error: 'unknown_test', message: `the limits table knows no test "${written}"` };
    const tdef = table.tests[test], lunit = tdef.unit;
    const [fam, fac] = UNITS[unit] || [], [lfam, lfac] = UNITS[lunit] || [];
    if (!fam || !lfam || fam !== lfam) return { error: 'bad_unit', message: `test ${test} is measured in ${lunit}, not in "${unit}"` };
    if (out.some((o) => o.test === test)) return { error: 'malformed', message: `test ${test} is reported twice` };
    const o = { ...res, test, name_zh: tdef.name_zh };
    if (test !== written) o.as_written = written;
    const rule = strictest(table, test, herbs, form, category);
    if (rule === null) o.verdict = 'no_limit';
    else {
      const pass = dec(value) * fac <= dec(rule.max) * lfac;
      Object.assign(o, { limit: rule.max, limit_unit: lunit, status: rule.status, source: rule.source, verdict: pass ? 'pass' : 'fail' });
      failed ||= !pass;
      judged = true;
    }
    out.push(o);
  }
  return { verdict: failed ? 'fail' : judged ? 'pass' : 'no_limit', results: out };
}
