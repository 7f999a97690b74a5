// witnessed.mjs: the page a phone opens from a label, on a ledger with a witness policy, in
// Debian's Chromium (playwright-core). One case a run (peers.sh runs it with the witnesses up,
// then with too few of them): the page checks the cosignatures itself and says how many
// witnesses cosigned and how many the policy asks; short of the quorum it is not 正品.
//
// With `stale` every checkpoint the page asks for is the one of size OLD (the quorum's
// cosignatures of then, older than the page's freshness window): an old view of the log.
//
//   node witnessed.mjs met|short|stale URL SCREENS COSIGNED REQUIRED [OLD]
// Prints "witnessed: N passed, N failed"; exits 1 on a failure.
import { launch } from './chromium.mjs';

const [mode, url, screens, cosigned, required, old] = process.argv.slice(2);
let passed = 0, failed = 0;
const check = (ok, what, detail = '') => {
  if (ok) passed++;
  else { failed++; console.log('FAIL', what, String(detail).slice(0, 300)); }
};
const browser = await launch();
const ctx = await browser.newContext({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 2, locale: 'zh-CN' });
const page = await ctx.newPage();
if (mode === 'stale')
  await page.route('**/api/v1/checkpoint*', async (route) => {
    const u = new URL(route.request().url());
    u.search = `?size=${old}`;
    await route.continue({ url: u.toString() });
  });
await page.goto(url);
await page.waitForSelector('body[data-done="1"]', { timeout: 60000 });
const r = await page.evaluate(() => ({ ...window.tcmtraceResult, banner: document.getElementById('banner').innerText,
  scrollWidth: document.documentElement.scrollWidth }));
await page.screenshot({ path: `${screens}/witnessed-${mode}.png`, fullPage: true });
const said = `已由 ${cosigned} 个见证方共同签署（要求 ${required} 个）`;
if (mode === 'met') {
  check(r.verdict === 'ok' && /正品/.test(r.banner), 'the quorum cosigned: the lot shows 正品', JSON.stringify(r));
  check(r.banner.includes(said), `and the page says ${said}`, r.banner);
  check(r.witnessed && r.witnessed.met && r.witnessed.cosigned === Number(cosigned), 'counted on the phone, not taken from the server', JSON.stringify(r.witnessed));
} else if (mode === 'stale') {
  check(r.verdict === 'failed' && r.why === 'stale' && !/正品/.test(r.banner), 'an old checkpoint, its cosignatures past the freshness window: not 正品', JSON.stringify(r));
  check(/见证方最近一次确认这份账本是在/.test(r.banner) && /旧的账本状态/.test(r.banner), 'and the page says the view may be old', r.banner);
} else {
  check(r.verdict === 'failed' && !/正品/.test(r.banner), 'short of the quorum: not 正品', JSON.stringify(r));
  check(r.banner.includes('见证不足') && r.banner.includes(said), `the page says 见证不足 and ${said}`, r.banner);
}
check(r.scrollWidth <= 360, 'no horizontal scroll at 360 px', r.scrollWidth);
await browser.close();
console.log(`witnessed: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
