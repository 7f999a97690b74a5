// phone.mjs: the page a phone opens from a label, in Debian's Chromium
// driven by playwright-core (web/package-lock.json). Each case opens a label
// URL at 360 x 780 and asserts the verdict the page shows; a screenshot of
// each goes to SCREENS. Prints "phone: N passed, N failed".
//
//   node phone.mjs CASES.json SCREENS
//
// CASES.json: {"genuine": url, "recalled": url, "held": url, "other": url,
//              "recalled_child": url of a lot whose parent was recalled,
//              "log_key": the ledger's unsealed log.key file, "vkey": its verifier key,
//              "dl": Digital Link url, "other_gtin": a valid GTIN not the lot's, "min_entries": n}
// Figures (first paint on Slow 3G) are written to SCREENS/slow3g.json for `make bench`,
// never judged here: a pass/fail test holds no timing threshold.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { launch } from './chromium.mjs';
import * as ed from '../../web/node_modules/@noble/ed25519/index.js';
import { sha512 } from '../../web/node_modules/@noble/hashes/sha2.js';
ed.hashes.sha512 = sha512;

const [cases, screens] = [JSON.parse(readFileSync(process.argv[2], 'utf8')), process.argv[3]];
mkdirSync(screens, { recursive: true });
let passed = 0, failed = 0;
const check = (ok, what, detail = '') => {
  if (ok) passed++;
  else { failed++; console.log('FAIL', what, String(detail).slice(0, 300)); }
};

const browser = await launch();

// Opens url in a fresh 360 x 780 page; `prepare` may route or script it first.
async function open(name, url, prepare, act) {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 2, locale: 'zh-CN' });
  const page = await ctx.newPage();
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(new URL(url).origin)) outside.push(r.url()); });
  if (prepare) await prepare(page, ctx);
  await page.goto(url);
  await page.waitForSelector('body[data-done="1"]', { timeout: 60000 });
  if (act) {
    await act(page);
    await page.waitForSelector('body[data-done="1"]', { timeout: 60000 });
  }
  const result = await page.evaluate(() => ({
    ...window.tcmtraceResult,
    banner: document.getElementById('banner').innerText,
    text: document.getElementById('content').innerText,
    scrollWidth: document.documentElement.scrollWidth,
    // a word kept whole is one line box: more than one rect means it was broken
    nowrapBroken: [...document.querySelectorAll('.nw')].filter((e) => e.getClientRects().length > 1).length,
  }));
  await page.screenshot({ path: `${screens}/${name}.png`, fullPage: true });
  check(outside.length === 0, `${name}: nothing is fetched from outside tcmtrace-web`, outside.join(' '));
  await ctx.close();
  return result;
}

const tamper = (u) => { // one digit (or character) inside the signature changed
  const q = new URL(u), k = q.searchParams.has('n') ? 'n' : 't', t = q.searchParams.get(k);
  const i = t.length - 10;
  const ch = k === 'n' ? String((Number(t[i]) + 1) % 10) : t[i] === 'A' ? 'B' : 'A';
  q.searchParams.set(k, t.slice(0, i) + ch + t.slice(i + 1));
  return q.toString();
};

// genuine and in order, with the verified count
let r = await open('genuine', cases.genuine);
check(r.verdict === 'ok', 'a genuine lot shows green', JSON.stringify(r));
check(/正品/.test(r.banner) && /条记录已在本机验证/.test(r.banner), 'and says how many entries were verified here', r.banner);
check(r.verified >= cases.min_entries, `at least ${cases.min_entries} entries verified`, r.verified);
check(r.scrollWidth <= 360, 'no horizontal scroll at 360 px', r.scrollWidth);
const firstCrypto = r.crypto;
// only this material's own path: the parent's later split is not G's history
check(Array.isArray(r.custody) && r.custody.length >= 4 && !r.custody.includes(cases.parent_later_seq),
  'the custody list leaves out the parent\'s entries after the split that made this lot', JSON.stringify(r.custody));
check(/马建国（岷县梅川当归专业合作社）/.test(r.text) && /陈秀兰（陈氏药材行/.test(r.text) && !/\b[A-Z]+-\d{4}\b/.test(r.text),
  'every party is named with its organisation, never by a bare id', r.text.slice(0, 400));
check(r.notices.includes(cases.sibling_fail_seq) && /同一来源的另一批次[^。]*不合格/.test(r.text) && /本批次未因此被扣留/.test(r.text),
  'a sibling\'s failed inspection is a notice on the lot, not a hold', JSON.stringify(r.notices));
check(r.nowrapBroken === 0, 'no verdict word (不合格, 合格) is broken across lines', r.nowrapBroken);
// the states a lot can be in
r = await open('recalled', cases.recalled);
check(r.verdict === 'recalled' && /已召回/.test(r.banner), 'a recalled lot shows 已召回', JSON.stringify(r));
check(/赵国栋（渝中区市场监督管理局）召回/.test(r.banner) && /二氧化硫残留超标/.test(r.banner), 'a recalled lot says who recalled it and why', r.banner);
r = await open('held', cases.held);
check(r.verdict === 'held' && /已扣留/.test(r.banner), 'a held lot shows 已扣留', JSON.stringify(r));
check(/李静（重庆市药品检验所）检验此批次不合格（二氧化硫残留 400 mg\/kg，超过限量 150 mg\/kg），已自动扣留/.test(r.banner) && /只有监管人员可以解除/.test(r.banner), 'a lot held by its failed inspection says who found it and who may release it', r.banner);
r = await open('recalled-child', cases.recalled_child);
check(r.verdict === 'recalled' && /上游批次/.test(r.banner), 'a lot recalled with its parent names the parent', r.banner);
r = await open('depleted', cases.depleted);
check(r.verdict === 'depleted' && /已售完/.test(r.banner), 'a sold-out lot shows 已售完', JSON.stringify(r));
r = await open('destroyed', cases.destroyed);
check(r.verdict === 'destroyed' && /已销毁/.test(r.banner), 'a destroyed lot shows 已销毁', JSON.stringify(r));
// the market's own page, at the base URL, with no label
for (const [name, u] of [['landing', cases.base], ['landing-slash', cases.base + '/'], ['landing-b', cases.base + '/b/']]) {
  r = await open(name, u);
  check(r.verdict === 'home' && r.market === cases.market && !/疑似假冒/.test(r.banner) && r.banner.includes(cases.market),
    `${name}: the market's page, not 疑似假冒, with the market's name from its proved genesis`, JSON.stringify(r));
  check(r.key_id === cases.vkey.split('+')[1] && r.text.includes(r.key_id), `${name}: it shows the log key's ID`, r.key_id);
}
// a code typed by hand: the lot's proved history, marked as not checked against a label
r = await open('typed-code', cases.base, null, async (page) => {
  await page.fill('#code', '12345');
  await page.click('#lookup button');
  const msg = await page.textContent('#code-msg');
  if (!/16 位数字/.test(msg)) throw new Error('a short code gets no message: ' + msg);
  await page.fill('#code', cases.genuine_code.replace(/(\d{4})(?=\d)/g, '$1 '));
  await Promise.all([page.waitForURL(/\/b\/\d{16}$/), page.click('#lookup button')]);
});
check(r.verdict === 'ok' && r.label === 'unchecked' && /未经标签核验/.test(r.banner) && !/正品/.test(r.banner),
  'a typed code shows the proved history marked 未经标签核验, never 正品', JSON.stringify(r));
r = await open('typed-unknown', cases.base + '/b/1234567812345678');
check(r.verdict === 'unknown' && /未找到/.test(r.banner) && !/假冒/.test(r.banner), 'a typed code the ledger lacks is a slip to retype, not a forgery', JSON.stringify(r));
r = await open('typed-recalled', cases.base + '/b/' + new URL(cases.recalled).pathname.split('/').pop());
check(r.verdict === 'recalled' && /未经标签核验/.test(r.banner), 'a typed recalled code still shows 已召回', JSON.stringify(r));
// a counterfeiter's labels
r = await open('forged-token', tamper(cases.genuine));
check(r.verdict === 'fake' && /疑似假冒/.test(r.banner), 'a forged token shows 疑似假冒', JSON.stringify(r));
const swapped = new URL(cases.genuine);
swapped.pathname = new URL(cases.recalled).pathname; // the genuine lot's token on another code
r = await open('swapped-code', swapped.toString());
check(r.verdict === 'fake' && /追溯码与令牌不符/.test(r.banner), 'a swapped code shows 疑似假冒', JSON.stringify(r));
// a GS1 Digital Link label: the same page, the lot's GTIN checked
if (cases.dl) {
  r = await open('digital-link', cases.dl);
  check(r.verdict === 'ok' && /正品/.test(r.banner), 'a GS1 Digital Link label opens the same page, green', JSON.stringify(r));
  check(/市场管理处复核了此码的扫码疑点：两处扫码为同一药房的两家门店，已到店核实/.test(r.text) && /扫码复核/.test(r.text),
    'the market office\'s review of the lot\'s scan signals is shown with its reason, from the proved entry', r.text.slice(-400));
  const wrong = new URL(cases.dl);
  wrong.pathname = wrong.pathname.replace(/\/01\/\d{14}\//, '/01/' + cases.other_gtin + '/');
  r = await open('digital-link-wrong-gtin', wrong.toString());
  check(r.verdict === 'fake' && /GTIN/.test(r.banner), 'a Digital Link naming another product\'s GTIN shows 疑似假冒', JSON.stringify(r));
}
r = await open('other-ledger', cases.other);
check(r.verdict === 'fake' && /另一个账本/.test(r.banner), 'a label of another ledger shows 疑似假冒', JSON.stringify(r));
// the server lies: one entry of the history changed on its way (a proxy in the test)
r = await open('tampered-entry', cases.genuine, async (page) => {
  let done = false;
  await page.route('**/api/v1/entries/*/proof*', async (route) => {
    const resp = await route.fetch();
    let text = await resp.text();
    if (!done) { // flip one base64 character of the entry itself
      done = true;
      const at = text.indexOf('extra ') + 6 + 200;
      text = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    }
    await route.fulfill({ response: resp, body: text });
  });
});
check(r.verdict === 'failed' && /验证失败/.test(r.banner), 'a tampered entry shows 验证失败, not green', JSON.stringify(r));
// the server lies about the state: the recalled lot's record says "active"
r = await open('server-hides-recall', cases.recalled, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}$/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (j.batch) { j.batch.status = 'active'; delete j.batch.recall_reason; delete j.batch.recall_root; }
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'recalled' && r.contradicted && /已召回/.test(r.banner),
  'a server that reports a recalled lot as active is not believed: the verified recall wins', JSON.stringify(r));
// the server hides a recall of the lot's parent: the parent's proved recall entry wins
r = await open('server-hides-ancestor-recall', cases.recalled_child, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}$/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (j.batch) { j.batch.status = 'active'; delete j.batch.recall_reason; delete j.batch.recall_root; }
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'recalled' && r.contradicted, 'a lot whose parent\'s recall the server hides is shown recalled, from the proved entry', JSON.stringify(r));
// the server lies about what the lot is and what its test found: the page draws the proved entries
r = await open('server-lies-about-the-lot', cases.genuine, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}$/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (j.batch && j.batch.id === new URL(cases.genuine).pathname.split('/').pop()) {
      j.batch.herb = { ...j.batch.herb, name_zh: '党参', latin: 'Codonopsis Radix' };
      j.batch.origin = { ...j.batch.origin, county: '渭源县', daodi: false };
      j.batch.grade = '特等';
      j.batch.qty = { ...j.batch.qty, remaining: 123 };
    }
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'ok' && r.described && /当归/.test(r.text) && /岷县/.test(r.text) && /一等/.test(r.text) && !/党参|渭源县|特等/.test(r.text),
  'the herb, origin and grade shown are the proved registration\'s, not the server\'s record', r.text.slice(0, 300));
check(!/123 g/.test(r.text) && /剩余/.test(r.text) && r.state && r.text.includes(String(r.state.remaining_g / 1000)),
  'what remains is the proved state leaf\'s, not the server\'s record', JSON.stringify(r.state) + r.text.slice(0, 300));
r = await open('server-passes-a-failed-lot', cases.held, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}$/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (j.batch && j.batch.id === new URL(cases.held).pathname.split('/').pop()) {
      j.batch.status = 'active';
      for (const k of ['hold_reason', 'held_seq', 'hold_fail_seq', 'held_from']) delete j.batch[k];
      for (const x of j.batch.inspections || []) { x.verdict = 'pass'; for (const r of x.results || []) r.verdict = 'pass'; }
    }
    // and hides the hold entry: only the failed inspection is left to prove the hold
    if (j.events) j.events = j.events.filter((e) => e.type !== 'batch.hold');
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'held' && r.contradicted && r.inspections.some((x) => x.verdict === 'fail' && x.server === 'pass') && /与本机按已验证的限量表判定的不符/.test(r.text),
  'a failed test the server calls a pass is judged here from the proved limits table: 已扣留, and the page says the server disagrees', JSON.stringify(r).slice(0, 300));
check(!/服务器记录，未经本机验证/.test(r.text) && r.state && r.state.status === 'held' && /剩余/.test(r.text),
  'the holder and what remains are drawn from the proved state leaf, not marked as the server\'s word', JSON.stringify(r.state) + r.text.slice(0, 200));
// ---- the state map (docs/statemap.md): what the server leaves out is a failed proof ----
const recalledCode = new URL(cases.recalled).pathname.split('/').pop();
const genuineCode = new URL(cases.genuine).pathname.split('/').pop();
// an honest server: the state of the lot and its ancestors is proved, and said in one line
r = await open('state-honest', cases.genuine);
check(r.verdict === 'ok' && r.state && r.state.lots >= 2 && /已核验：本批次及其 \d+ 个上游批次在第 \d+ 条记录时的状态/.test(r.banner),
  'an honest server: the lot\'s and its ancestors\' state proved at the checkpoint, said in one line', r.banner + JSON.stringify(r.state));
// hides the recall: the record says active and the recall entry is left out of the history
r = await open('state-hidden-recall', cases.recalled, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}$/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (j.batch) { j.batch.status = 'active'; delete j.batch.recall_reason; delete j.batch.recall_root; }
    if (j.events) j.events = j.events.filter((e) => e.type !== 'batch.recall');
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'recalled' && (r.hidden || []).length > 0 && /服务器却没有给出这条记录/.test(r.banner) && !/正品/.test(r.banner),
  'a server that hides the recall entry: the proved state says 已召回, and that the server left its entry out', JSON.stringify(r).slice(0, 300));
// hides the latest entry of a lot in order: the history is not all, so never green
r = await open('state-hidden-latest', cases.genuine, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}$/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (j.batch && j.batch.id === genuineCode && j.events) j.events = j.events.slice(0, -1);
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'failed' && r.why === 'hidden' && /服务器没有给出/.test(r.banner) && !/正品/.test(r.banner),
  'a server that leaves out the lot\'s latest entry: 验证失败, never 正品', JSON.stringify(r).slice(0, 300));
// a leaf that says active where the ledger's says recalled
r = await open('state-forged-leaf', cases.recalled, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}\/state/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (typeof j.leaf === 'string') j.leaf = j.leaf.replace('status recalled', 'status active');
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'failed' && /状态证明不成立/.test(r.banner), 'a state leaf changed to active: the proof fails, 验证失败', JSON.stringify(r).slice(0, 300));
// the genuine leaf and proof of another size (before the recall), said to be of this one
r = await open('state-other-size', cases.recalled, async (page) => {
  await page.route(/\/api\/v1\/batches\/\d{16}\/state/, async (route) => {
    const u = new URL(route.request().url());
    const size = Number(u.searchParams.get('size'));
    const code = u.pathname.split('/').slice(-2)[0];
    if (code !== recalledCode) return route.continue();
    const rec = await (await fetch(`${u.origin}${u.pathname.replace(/\/state$/, '')}`)).json();
    const before = rec.events.find((e) => e.type === 'batch.recall').seq; // the map of the size the recall made
    u.searchParams.set('size', String(before));
    const resp = await route.fetch({ url: u.toString() });
    const j = await resp.json();
    j.size = size;
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(r.verdict === 'failed' && /状态证明不成立/.test(r.banner), 'a genuine leaf of an older size passed off as this checkpoint\'s: the proof fails, 验证失败', JSON.stringify(r).slice(0, 300));
// text from others: a right-to-left override in a name, and one long unbroken word in a stall
r = await open('bidi-and-long-words', cases.genuine, async (page) => {
  await page.route(/\/api\/v1\/actors\/[^/?]+$/, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    if (j.actor) { j.actor.name = '\u202e' + j.actor.name; j.actor.stall = 'A'.repeat(90); }
    await route.fulfill({ response: resp, body: JSON.stringify(j) });
  });
});
check(!/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(r.text) && r.scrollWidth <= 360,
  'a bidi override in a name is dropped, and a long unbroken word wraps inside its card', `${r.scrollWidth} ${JSON.stringify(r.text.slice(0, 120))}`);
// the page checks the label's host: the same label opened under another name for this server
{
  const other = new URL(cases.genuine);
  other.hostname = 'localhost';
  r = await open('other-host', other.toString());
  check(r.verdict === 'fake' && /不是本账本/.test(r.banner), 'a label URL on another host than the ledger\'s base URL shows 疑似假冒', JSON.stringify(r));
}
// a token the log key signed for this code, bound to another entry than the lot's registration
// (made here with the test's own copy of the log key): not genuine
{
  const seed = Buffer.from(/^secret: (.*)$/m.exec(readFileSync(cases.log_key, 'utf8'))[1], 'base64');
  const [name, hexid] = cases.vkey.trim().split('+');
  const u = new URL(cases.genuine), code = u.pathname.split('/').pop();
  const hash16 = createHash('sha256').update('not the registration').digest().subarray(0, 16);
  const msg = Buffer.concat([Buffer.from(`tcmtrace/label/v1\n${name}\n${code}\n`), hash16]);
  const sig = ed.sign(msg, seed);
  const codeBytes = Buffer.alloc(8);
  codeBytes.writeBigUInt64BE(BigInt(code));
  const raw = Buffer.concat([Buffer.from(hexid, 'hex'), codeBytes.subarray(1), hash16, Buffer.from(sig)]);
  u.search = '?t=' + raw.toString('base64url');
  r = await open('token-of-another-entry', u.toString());
  check(r.verdict === 'failed' && /登记记录不符/.test(r.banner), 'a signed token bound to another entry than the registration is not genuine', JSON.stringify(r));
}
// a log that frames a trader: it includes, and signs a checkpoint over, an entry whose actor
// signature is not the actor's (made here with the test's copy of the log key: the whole tree
// rebuilt with the forged entry, so every inclusion proof holds). The page refuses it.
{
  const seed = Buffer.from(/^secret: (.*)$/m.exec(readFileSync(cases.log_key, 'utf8'))[1], 'base64');
  const [name, hexid] = cases.vkey.trim().split('+');
  const base = new URL(cases.genuine).origin + new URL(cases.base).pathname;
  const code = new URL(cases.genuine).pathname.split('/').pop();
  const real = await (await fetch(`${base}/api/v1/checkpoint`)).json();
  const size = Number(real.checkpoint.split('\n')[1]);
  const lot = await (await fetch(`${base}/api/v1/batches/${code}`)).json();
  const target = Math.max(...lot.events.map((e) => e.seq).filter((q) => q !== lot.batch.created_seq));
  const entries = [];
  for (let i = 0; i < size; i++) {
    const t = await (await fetch(`${base}/api/v1/entries/${i}/proof?size=${size}`)).text();
    entries.push(Buffer.from(t.split('\n')[1].slice(6), 'base64'));
  }
  entries[target] = Buffer.from(entries[target]);
  entries[target][100] ^= 1; // one bit of the actor's signature (bytes 81-144)
  const sha = (...b) => createHash('sha256').update(Buffer.concat(b)).digest();
  const leaves = entries.map((e) => sha(Buffer.of(0), e));
  const split = (n) => { let k = 1; while (k * 2 < n) k *= 2; return k; };
  const mth = (l) => (l.length === 1 ? l[0] : sha(Buffer.of(1), mth(l.slice(0, split(l.length))), mth(l.slice(split(l.length)))));
  const path = (m, l) => { // RFC 9162 2.1.3.1
    if (l.length === 1) return [];
    const k = split(l.length);
    return m < k ? [...path(m, l.slice(0, k)), mth(l.slice(k))] : [...path(m - k, l.slice(k)), mth(l.slice(0, k))];
  };
  const text = `${name}\n${size}\n${mth(leaves).toString('base64')}\n`;
  const sig = Buffer.concat([Buffer.from(hexid, 'hex'), Buffer.from(ed.sign(Buffer.from(text), seed))]);
  const note = `${text}\n\u2014 ${name} ${sig.toString('base64')}\n`;
  r = await open('log-frames-a-trader', cases.genuine, async (page) => {
    await page.route('**/api/v1/checkpoint*', async (route) => {
      const resp = await route.fetch();
      const j = await resp.json();
      j.checkpoint = note;
      await route.fulfill({ response: resp, body: JSON.stringify(j) });
    });
    await page.route('**/api/v1/entries/*/proof*', async (route) => {
      const i = Number(new URL(route.request().url()).pathname.split('/').slice(-2)[0]);
      const body = ['c2sp.org/tlog-proof@v1', 'extra ' + entries[i].toString('base64'), 'index ' + i,
        ...path(i, leaves).map((h) => h.toString('base64')), '', note].join('\n');
      await route.fulfill({ status: 200, contentType: 'text/plain; charset=utf-8', body });
    });
  });
  check(r.verdict === 'failed' && new RegExp(`第 ${target} 条记录的签名`).test(r.banner),
    'an entry the log included and signed over, but its actor never signed, is refused: the log cannot frame a trader', JSON.stringify(r));
}
// a proof that does not hold: one hash of an inclusion proof changed (entry and signature intact)
r = await open('tampered-proof', cases.genuine, async (page) => {
  let done = false;
  await page.route('**/api/v1/entries/*/proof*', async (route) => {
    const resp = await route.fetch();
    const lines = (await resp.text()).split('\n');
    if (!done && lines[3]) { // the first proof hash
      done = true;
      lines[3] = (lines[3][0] === 'A' ? 'B' : 'A') + lines[3].slice(1);
    }
    await route.fulfill({ response: resp, body: lines.join('\n') });
  });
});
check(r.verdict === 'failed' && /验证失败/.test(r.banner), 'an inclusion proof that does not hold shows 验证失败', JSON.stringify(r));
// a checkpoint the log key signed that names another log: not this ledger's, whatever it proves
{
  const seed = Buffer.from(/^secret: (.*)$/m.exec(readFileSync(cases.log_key, 'utf8'))[1], 'base64');
  const [name, hexid] = cases.vkey.trim().split('+');
  const resign = (note) => {
    const text = 'tcmtrace.test/elsewhere\n' + note.slice(note.indexOf('\n') + 1, note.indexOf('\n\n') + 1);
    const sig = Buffer.concat([Buffer.from(hexid, 'hex'), Buffer.from(ed.sign(Buffer.from(text), seed))]);
    return `${text}\n\u2014 ${name} ${sig.toString('base64')}\n`;
  };
  r = await open('checkpoint-of-another-log', cases.genuine, async (page) => {
    let forged = null;
    await page.route('**/api/v1/checkpoint*', async (route) => {
      const resp = await route.fetch();
      const j = await resp.json();
      forged = resign(j.checkpoint);
      j.checkpoint = forged;
      await route.fulfill({ response: resp, body: JSON.stringify(j) });
    });
    await page.route('**/api/v1/entries/*/proof*', async (route) => {
      const resp = await route.fetch();
      const text = await resp.text(), cut = text.indexOf('\n\n');
      await route.fulfill({ response: resp, body: forged ? text.slice(0, cut + 2) + forged : text });
    });
  });
  check(r.verdict === 'failed' && /另一个|another log/.test(r.banner + (r.why || '')), 'a checkpoint naming another log is refused, though the log key signed it', JSON.stringify(r));
}
// browsers without Ed25519 in WebCrypto, or without crypto.subtle at all
r = await open('fallback-no-ed25519', cases.genuine, async (page) => {
  await page.addInitScript(() => {
    const real = crypto.subtle.importKey.bind(crypto.subtle);
    crypto.subtle.importKey = (f, k, alg, ...rest) =>
      (alg && (alg === 'Ed25519' || alg.name === 'Ed25519')) ? Promise.reject(new DOMException('no Ed25519', 'NotSupportedError')) : real(f, k, alg, ...rest);
  });
});
check(r.verdict === 'ok' && r.crypto === '@noble/ed25519', 'without Ed25519 in WebCrypto the fallback verifies the same lot', JSON.stringify(r));
check(firstCrypto === 'WebCrypto', 'with Ed25519 in WebCrypto, WebCrypto verifies', firstCrypto);
r = await open('fallback-no-subtle', cases.genuine, async (page) => {
  await page.addInitScript(() => Object.defineProperty(globalThis.crypto, 'subtle', { get: () => undefined }));
});
check(r.verdict === 'ok' && r.crypto === '@noble/ed25519', 'without crypto.subtle (plain HTTP) the fallback verifies', JSON.stringify(r));
// Slow 3G: first paint and what the first view costs
{
  const ctx = await browser.newContext({ viewport: { width: 360, height: 780 } });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 400, downloadThroughput: 400 * 1024 / 8, uploadThroughput: 400 * 1024 / 8 });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  const t0 = Date.now();
  await page.goto(cases.genuine);
  await page.waitForSelector('body[data-done="1"]', { timeout: 120000 });
  const verifiedMs = Date.now() - t0;
  const fcp = await page.evaluate(() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || -1);
  check(fcp > 0, 'the page paints on Slow 3G (the time is a figure for make bench)', fcp);
  check(bytes <= 100 * 1024, 'the first view transfers at most 100 KB', bytes);
  writeFileSync(`${screens}/slow3g.json`, JSON.stringify({ first_contentful_paint_ms: Math.round(fcp), verified_ms: verifiedMs, bytes }) + '\n');
  console.log(`slow 3G: first contentful paint ${Math.round(fcp)} ms, verified in ${verifiedMs} ms, ${bytes} bytes`);
  await ctx.close();
}
await browser.close();
// every check ran (raise it with a new check)
const PHONE_CHECKS = 88;
if (passed + failed !== PHONE_CHECKS) { failed++; console.log(`FAIL ${passed + failed - 1} phone checks ran, ${PHONE_CHECKS} expected`); }
console.log(`phone: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
