// app.js: the page a phone opens from a label (<base>/b/<code>?t=<token>).
// It verifies before it reassures: the token's signature by the log key,
// every entry of the lot's history (its own and its ancestors') signed by
// its actor and included in a checkpoint signed by the log key. Only then
// does it show a lot as genuine. Fetching is here; the checks are verify.js.
import { makeCrypto } from './crypto.js';
import * as v from './verify.js';
import { judge } from './limits.js';
import { prover, pool } from './ledger.js';

const meta = (n) => document.querySelector(`meta[name="tcmtrace-${n}"]`).content;
const cfg = { logKey: meta('log-key'), origin: meta('origin'), baseUrl: meta('base-url'), prefix: meta('prefix'), fresh: Number(meta('fresh-seconds')) || 3600 };
const api = (p) => cfg.prefix + '/api/v1/' + p;
const td = new TextDecoder();

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, val] of Object.entries(attrs || {})) e.setAttribute(k, val);
  for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) e.append(typeof k === 'string' ? unbidi(k) : k);
  return e;
}
// Text from others (names, stalls, reasons) may hold bidi controls that reorder what follows
// them ("(T-9)" shown reversed): they are dropped from everything drawn as text.
function unbidi(s) { return s.replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, ''); }
const bi = (zh, en) => [zh, el('span', { class: 'en' }, en)];
const g = (n) => (n >= 1000 && n % 1000 === 0 ? n / 1000 + ' kg' : n >= 1000 ? (n / 1000).toFixed(3).replace(/0+$/, '') + ' kg' : n + ' g');

async function getJSON(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const j = await r.json().catch(() => null);
  return { status: r.status, body: j };
}

const VERDICTS = {
  unchecked: ['账本中有此批次', 'This lot is in the ledger'],
  unknown: ['未找到此追溯码', 'No such trace code'],
  home: ['中药材追溯', 'Herb traceability'],
  ok: ['正品 · 在库', 'Genuine and in order'],
  recalled: ['已召回 — 请勿销售或使用', 'RECALLED — do not sell or use'],
  held: ['已扣留 — 暂停销售', 'HELD — not for sale'],
  depleted: ['已售完', 'Used up: this label should not be in use'],
  destroyed: ['已销毁', 'Destroyed: this label should not be in use'],
  fake: ['疑似假冒', 'SUSPECT — possibly counterfeit'],
  failed: ['验证失败', 'Verification failed — do not trust this page'],
};
const BANNER_CLASS = { unchecked: 'unchecked', unknown: 'ended', home: 'home', ok: 'ok', recalled: 'recalled', held: 'held', depleted: 'ended', destroyed: 'ended', fake: 'fake', failed: 'failed' };

function banner(verdict, detail, count) {
  const b = document.getElementById('banner');
  b.className = BANNER_CLASS[verdict];
  b.replaceChildren(el('b', null, VERDICTS[verdict][0]), el('span', { class: 'en' }, VERDICTS[verdict][1]));
  if (detail) b.append(el('div', { class: 'count' }, ...bi(detail[0], detail[1])));
  if (count !== undefined)
    b.append(el('div', { class: 'count', id: 'verified' }, ...bi(`${count} 条记录已在本机验证`, `${count} entries verified on this phone`)));
  document.body.dataset.verdict = verdict;
}

function finish(result) {
  window.tcmtraceResult = result;
  document.body.dataset.done = '1';
}

// The verdict when something is not what the ledger signed.
function suspect(why) {
  banner('fake', why);
  document.getElementById('content').replaceChildren(el('section', null,
    el('h2', null, ...bi('请勿购买或使用', 'Do not buy or use it')),
    el('p', null, '请保留此商品与标签，并告知市场管理处或市场监督管理部门。',
      el('span', { class: 'en' }, 'Keep the goods and the label, and tell the market office or the market regulator.'))));
  finish({ verdict: 'fake', why: why[1] });
}

const TYPES = {
  'batch.register': ['登记', 'registered'], 'batch.transfer': ['发货', 'sent'], 'batch.receive': ['收货', 'received'],
  'batch.reject': ['拒收', 'refused'], 'batch.cancel': ['撤回发货', 'transfer cancelled'], 'batch.split': ['分拆', 'split'],
  'batch.process': ['加工', 'processed'], 'batch.inspect': ['检验', 'inspected'], 'batch.hold': ['扣留', 'held'],
  'batch.release': ['放行', 'released'], 'batch.recall': ['召回', 'recalled'], 'batch.sell': ['销售', 'sold'],
  'batch.destroy': ['销毁', 'destroyed'], 'batch.review': ['扫码复核', 'scan signals reviewed'],
  'actor.succeed': ['移交库存', 'handed to a successor'],
};

const STATUS = { confirmed: '已核实', confirmed_2015: '据 2015 年版', draft: '草案', unconfirmed: '待核实' };
const VERDICT_WORD = { fail: '不合格', pass: '合格', no_limit: '无适用限量' };
const nw = (text, cls) => el('span', { class: 'nw' + (cls ? ' ' + cls : '') }, text);

function render(b, actors, timeline, scan, notices, typed, desc, judged, leaf) {
  // what the page shows of the lot is from proved entries (desc); without them, the server's
  // record, said to be its word
  const d = desc || b, q = b.qty || {}, h = d.herb || {}, o = d.origin || {};
  const word = el('span', { class: 'tag word' }, '服务器记录，未经本机验证');
  const unproved = desc ? null : word;
  const who = (id) => !id ? '身份未能核实的签名人' : actors[id] ? `${actors[id].name}（${actors[id].org}${actors[id].stall ? '，' + actors[id].stall : ''}）` : `${id}（身份未能核实）`;
  const listing = { unlisted: ['药材目录未收录', 'not in the herb dictionary'], unconfirmed: ['目录条目待核实', 'dictionary entry unconfirmed'], compound: ['复方产品', 'compound product'] }[(b.herb || {}).listing];
  const sections = [
    el('section', { id: 'herb' }, el('h2', null, ...bi('药材', 'Herb'), unproved), el('dl', null,
      el('dt', null, '品名'), el('dd', null, `${h.name_zh || ''} `, el('i', null, h.latin || ''), listing ? el('span', { class: 'tag' }, listing[0]) : null),
      el('dt', null, '规格'), el('dd', null, `${d.form || ''} · ${d.grade || ''}${d.product_name ? ' · ' + d.product_name : ''}`),
      el('dt', null, '追溯码'), el('dd', { class: 'code' }, spaced(b.id), typed ? el('span', { class: 'tag', id: 'unchecked' }, '未经标签核验') : null),
      d.gtin ? [el('dt', null, '商品条码'), el('dd', { class: 'code' }, d.gtin)] : null)),
    el('section', null, el('h2', null, ...bi('产地', 'Origin'), desc ? null : word.cloneNode(true)), el('dl', null,
      el('dt', null, '产地'), el('dd', null, o.mixed ? '多个产地 (mixed origins)' : [o.province, o.city, o.county].filter(Boolean).join(' ')),
      o.base ? [el('dt', null, '基地'), el('dd', null, o.base)] : null,
      el('dt', null, '道地'), el('dd', null, o.daodi ? '是 · 道地药材' : '否'),
      el('dt', null, '采收'), el('dd', null, d.harvest_date || ''),
      (d.composition || []).length > 1 ? [el('dt', null, '成分'), el('dd', null, d.composition.map((c) => `${c.name_zh} ${c.county || ''}${c.daodi ? '（道地）' : ''} ${g(c.g)}`).join('；'))] : null)),
    // proved by the lot's state leaf; what was registered, by the proved entry that made the lot
    el('section', null, el('h2', null, ...bi('持有与数量', 'Holder and quantity'), desc ? null : word.cloneNode(true)), el('dl', null,
      el('dt', null, '持有人'), el('dd', { id: 'holder' }, who(leaf.holder), leaf.to !== '-' ? ` → 在途至 ${who(leaf.to)}` : ''),
      el('dt', null, '剩余'), el('dd', { id: 'remaining' }, `${g(leaf.remaining_g)} / 登记 ${g(desc ? desc.qty_g : q.registered)}`))),
  ];
  const ins = judged.map((x) => ({ ...x, verdict: x.verdict || 'unjudged' }));
  VERDICT_WORD.unjudged = '未能在本机判定';
  sections.push(el('section', null, el('h2', null, ...bi('检验', 'Inspections')),
    ins.length === 0 ? el('p', { class: 'muted' }, '尚无检验记录 / no inspection yet') : ins.map((x) => [
      el('p', null, `${x.lab || ''} · ${who(x.inspector)} — `, nw(VERDICT_WORD[x.verdict], x.verdict === 'fail' ? 'fail' : x.verdict === 'pass' ? 'pass' : 'none'), el('span', { class: 'en' }, `ledger entry #${x.seq}`)),
      x.server && x.verdict !== 'unjudged' && x.server !== x.verdict ? el('p', { class: 'notice contradiction' }, `账本服务器记录的结论是“${VERDICT_WORD[x.server] || x.server}”，与本机按已验证的限量表判定的不符，以本机判定为准。`,
        el('span', { class: 'en' }, 'the server\'s verdict contradicts the one judged here from the proved limits table; this one wins')) : null,
      el('table', null, el('tr', null, el('th', null, '项目'), el('th', null, '测得'), el('th', null, '限量'), el('th', null, '结论')),
        (x.results || []).map((r) => el('tr', null, el('td', null, r.name_zh || r.test), el('td', { class: 'nw' }, `${r.value} ${r.unit}`),
          el('td', null, r.limit ? nw(`≤ ${r.limit} ${r.limit_unit}`) : '—', r.status && r.status !== 'confirmed' ? el('span', { class: 'tag' }, STATUS[r.status] || '待核实') : null),
          el('td', { class: 'nw ' + (r.verdict === 'fail' ? 'fail' : r.verdict === 'pass' ? 'pass' : 'none') }, { fail: '不合格', pass: '合格', no_limit: '无限量' }[r.verdict] || '—')))),
    ])));
  if (notices.length)
    sections.push(el('section', { id: 'notices' }, el('h2', null, ...bi('请留意', 'Notice')),
      notices.map((f) => el('p', { class: 'notice' },
        `${f.rel === 'parent' ? '上游批次' : '同一来源的另一批次'} ${spaced(f.lot)} 于 ${String(f.at || '').slice(0, 10)} 经 ${who(f.by)}检验`, nw('不合格', 'fail'),
        `（${(f.x.results || []).filter((r) => r.verdict === 'fail').map((r) => r.name_zh || r.test).join('、') || '见检验记录'}）。本批次未因此被扣留，购买前可要求复检。`,
        el('span', { class: 'en' }, `${f.rel === 'parent' ? 'a parent lot' : 'a lot from the same source'} failed an inspection (entry #${f.x.seq}); this lot is not held for it`)))));
  sections.push(el('section', null, el('h2', null, ...bi('来源 → 去向', 'Custody, from origin to now')),
    el('ol', null, timeline.map((t) => el('li', null,
      `${(TYPES[t.type] || [t.type])[0]} · ${who(t.by)}${t.to ? ' → ' + who(t.to) : ''}${t.qty_g ? ' · ' + g(t.qty_g) : ''}`,
      el('span', { class: 'en' }, `${t.at.slice(0, 16).replace('T', ' ')} · 账本 #${t.seq}${t.code !== b.id ? ' · 上游批次 …' + t.code.slice(-4) : ''}`))))));
  if (scan) {
    const places = (scan.places || []).filter((p) => !p.observer).map((p) => who(p.by));
    sections.push(el('section', null, el('h2', null, ...bi('扫码', 'Scans')),
      el('p', null, `此码已被扫描 ${scan.count} 次`, el('span', { class: 'en' }, `scanned ${scan.count} times`)),
      places.length ? el('p', { class: 'muted' }, '实名扫描地点 / seen by enrolled actors: ' + places.join('、')) : null,
      // the market office's latest review of the lot's scan signals, from its proved entry
      ...timeline.filter((t) => t.type === 'batch.review').slice(-1).map((t) => el('p', { id: 'reviewed', 'data-seq': t.seq },
        `${t.at.slice(0, 10)} 市场管理处复核了此码的扫码疑点：${t.reason || '未写明原因'}`,
        el('span', { class: 'en' }, `the market office reviewed this code's scan signals (entry #${t.seq})`)))));
  }
  document.getElementById('content').replaceChildren(...sections);
}

// the entries, witnesses and state of the ledger, proved (shared with the stall page)
const { prove, witnessed, state: provedState } = prover(cfg.prefix);

function showWitnessed(r) {
  if (!r) return;
  document.getElementById('banner').append(el('div', { class: 'count', id: 'witnessed' },
    ...bi(`已由 ${r.cosigned} 个见证方共同签署（要求 ${r.required} 个）`, `cosigned by ${r.cosigned} witness${r.cosigned === 1 ? '' : 'es'} (${r.required} required)`)));
}

const spaced = (code) => code.replace(/(\d{4})(?=\d)/g, '$1 ');

// The market's own page, at the base URL and /b/: which market and log this is (from its
// proved genesis), and a box for the 16 digits printed under every label's QR code.
async function landing(c, vk, note) {
  const b = document.getElementById('banner');
  b.className = 'home';
  const cpr = await getJSON(api('checkpoint'));
  const cp = await v.verifyCheckpoint(c, vk, cpr.body.checkpoint);
  const genesis = await prove(c, cp, cpr.body.checkpoint, 0);
  if (genesis.body.type !== 'ledger.genesis' || genesis.body.origin !== cfg.origin) throw new Error('第 0 条记录不是本账本的创始记录 (entry 0 is not this ledger\'s genesis)');
  const market = genesis.body.market || cfg.origin;
  b.replaceChildren(el('b', null, market), el('span', { class: 'en' }, 'Chinese medicinal materials: trace and verify'));
  document.title = `${market} · 中药材追溯`;
  const input = el('input', { id: 'code', inputmode: 'numeric', autocomplete: 'off', placeholder: '例如 2611 2248 3910 5527', 'aria-label': '追溯码' });
  const msg = el('p', { id: 'code-msg', class: 'muted', role: 'alert' });
  const form = el('form', { id: 'lookup' }, el('label', { for: 'code' }, ...bi('标签上的 16 位追溯码', 'The 16 digits under the label\'s QR code')),
    el('div', { class: 'row' }, input, el('button', { type: 'submit' }, '查询')), msg);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = input.value.replace(/[\s-]/g, '').replace(/[０-９]/g, (x) => String.fromCharCode(x.charCodeAt(0) - 0xfee0));
    if (!/^\d{16}$/.test(d)) {
      msg.replaceChildren(...bi(`追溯码是 16 位数字，您输入了 ${d.replace(/\D/g, '').length} 位数字${/\D/.test(d) ? '和其他字符' : ''}。`, 'A trace code is 16 digits.'));
      return;
    }
    location.href = `${cfg.prefix}/b/${d}`;
  });
  document.getElementById('content').replaceChildren(
    el('section', null, el('h2', null, ...bi('查询批次', 'Look up a lot')), form,
      el('p', { class: 'muted' }, '用手机相机扫描标签上的二维码，可同时核对标签本身；手动输入的追溯码只能查看账本中的记录。',
        el('span', { class: 'en' }, 'Scanning the label\'s QR code also checks the label itself; a typed code shows only what the ledger holds.'))),
    el('section', null, el('h2', null, ...bi('本账本', 'This ledger')), el('dl', null,
      el('dt', null, '市场'), el('dd', { id: 'market' }, market),
      el('dt', null, '账本标识'), el('dd', { class: 'code' }, cp.origin),
      el('dt', null, '日志公钥'), el('dd', { class: 'code', id: 'log-key-id' }, `密钥 ID ${v.toHex(vk.keyId)}`),
      el('dt', null, '记录数'), el('dd', null, `${cp.size} 条（已在本机验证签名）`),
      el('dt', null, '创始'), el('dd', null, String(genesis.body.at || '').slice(0, 10))),
      el('p', { class: 'muted' }, '请与市场管理处公布的密钥 ID 核对；不一致说明这不是本市场的账本。',
        el('span', { class: 'en' }, 'Compare the key ID with the one the market office publishes.'))));
  document.body.dataset.verdict = 'home';
  finish({ verdict: 'home', market, key_id: v.toHex(vk.keyId), size: cp.size });
}

// A trace code typed by hand that the ledger does not hold: a slip, not a forgery.
function unknownCode(code) {
  banner('unknown', ['账本中没有追溯码 ' + spaced(code) + '，请核对标签上的 16 位数字。', 'this ledger holds no such trace code: check the 16 digits']);
  document.getElementById('content').replaceChildren(el('section', null,
    el('p', null, el('a', { href: `${cfg.prefix}/` }, '重新输入追溯码'), el('span', { class: 'en' }, 'Type the code again'))));
  finish({ verdict: 'unknown' });
}

async function main() {
  const c = await makeCrypto(cfg.prefix);
  const vk = await v.parseVkey(c, cfg.logKey);
  // the page names this ledger's host and path, or it is not this ledger's page
  const base = new URL(cfg.baseUrl);
  const root = base.pathname.replace(/\/$/, '');
  const path = location.pathname;
  const dl = path.match(/\/01\/(\d{14})\/10\/[^/]+$/); // a GS1 Digital Link: <base>/01/<GTIN-14>/10/<code>
  if (base.host !== location.host || !(path === root + '/' || path === root || path.startsWith(root + '/b/') || (dl && path.startsWith(root + '/01/'))))
    return suspect(['标签指向的网址不是本账本', 'the label names another host than this ledger\'s']);
  const code = decodeURIComponent(path.split('/').pop());
  if (path === root + '/' || path === root || code === '') return landing(c, vk);
  const params = new URLSearchParams(location.search);
  const token = params.get('t') || '';
  const digits = params.get('n');
  // a code typed by hand (no token): the lot's proved history, marked as not checked against a label
  const typed = token === '' && digits === null;
  let t = null;
  if (!typed) {
    try {
      t = v.parseToken(digits !== null ? v.tokenFromDigits(digits) : token);
    } catch (e) {
      return suspect(['标签令牌无法读取', 'the label\'s token cannot be read']);
    }
    const tok = await v.checkToken(c, vk, code, t);
    if (tok === 'other_ledger') return suspect(['标签属于另一个账本', 'the label was made for another ledger']);
    if (tok === 'code_mismatch') return suspect(['追溯码与令牌不符', 'the trace code and the token disagree']);
    if (tok !== 'ok') return suspect(['标签签名无效', 'the label\'s signature does not verify']);
  }
  const br = await getJSON(api('batches/' + code));
  if (br.status === 404 || (typed && br.status === 400)) return typed ? unknownCode(code) : suspect(['账本中没有这个追溯码', 'this ledger has no such trace code']);
  if (br.status !== 200) throw new Error('the ledger did not answer');
  const b = br.body.batch;
  // the lot's history and its ancestors', each entry proved
  const up = (await getJSON(api(`batches/${code}/trace?direction=up&limit=50`))).body.trace.nodes;
  const lots = [{ id: code, events: br.body.events, batch: b }];
  // this material's own path: an ancestor's entries up to the one that made the lot we came from
  const cutoff = new Map();
  for (const n of up.slice(1)) cutoff.set(n.id, Math.max(cutoff.get(n.id) || 0, n.seq || 0));
  for (const id of cutoff.keys()) {
    const r = (await getJSON(api('batches/' + id))).body;
    lots.push({ id, events: r.events, batch: r.batch });
  }
  const cpr = await getJSON(api('checkpoint?need=' + (Math.max(0, ...lots.flatMap((l) => l.events.map((e) => e.seq))) + 1)));
  const cp = await v.verifyCheckpoint(c, vk, cpr.body.checkpoint);
  // a checkpoint short of the witness policy's quorum is not believed, whatever it proves
  const wit = await witnessed(c, cp, cpr.body.checkpoint, cpr.body);
  if (wit && !wit.met) {
    banner('failed', [`见证不足：已由 ${wit.cosigned} 个见证方共同签署（要求 ${wit.required} 个）。本页无法确认账本未被改写，请勿据此判断真伪。`, `cosigned by ${wit.cosigned} of the ${wit.required} witnesses required: the ledger's view cannot be trusted`]);
    return finish({ verdict: 'failed', why: 'witnesses', witnessed: wit });
  }
  // a witness cosigns only its latest view of the log, and the log asks again every few
  // minutes: a newest cosignature older than that is an old view, perhaps from before a recall
  const age = wit ? Math.round(Date.now() / 1000 - wit.newest) : 0;
  if (wit && age > cfg.fresh) {
    const mins = Math.round(age / 60);
    const ago = mins >= 120 ? `${Math.round(mins / 60)} 小时` : mins >= 2 ? `${mins} 分钟` : `${age} 秒`;
    banner('failed', [`见证方最近一次确认这份账本是在 ${ago}前：服务器给出的可能是旧的账本状态（例如召回之前的）。请检查手机时间，稍后再扫。`,
      `the witnesses last vouched for this view of the ledger ${mins >= 2 ? mins + ' minutes' : age + ' seconds'} ago: it may be an old one (from before a recall, say)`]);
    return finish({ verdict: 'failed', why: 'stale', witnessed: wit, age });
  }
  // the state of the lot and of each ancestor shown, proved under this same checkpoint
  // (docs/statemap.md): a recall or hold is proved, not reported
  const states = new Map();
  const stating = pool(lots, 6, async (l) => {
    const leaf = await provedState(c, cp, l.id);
    // the entry that last changed the lot must be one this page was shown
    leaf.hidden = !l.events.some((e) => e.seq === leaf.last);
    states.set(l.id, leaf);
  });
  stating.catch(() => {}); /* awaited below, after the entries: their failure is the one named */
  const seqs = [...new Set(lots.flatMap((l) => l.events.map((e) => e.seq)))].sort((a, z) => a - z).slice(-120);
  const codeOf = new Map(lots.flatMap((l) => l.events.map((e) => [e.seq, l.id])));
  let verified = 0;
  const proven = await pool(seqs, 6, async (seq) => {
    const p = await prove(c, cp, cpr.body.checkpoint, seq);
    verified++;
    return p;
  });
  await stating;
  const mine = states.get(code);
  const reg = proven.find((p) => p.seq === b.created_seq);
  if (!typed && (!reg || !v.equal(reg.leaf.slice(0, 16), t.hash16))) throw new Error('标签令牌与该批次的登记记录不符 (the token does not bind this lot\'s registration)');
  // a Digital Link names the lot's GTIN: the one its record and a proved entry give it
  if (dl && (b.gtin !== dl[1] || !proven.some((p) => p.body.gtin === dl[1] || p.body.output?.gtin === dl[1])))
    return suspect(['标签上的 GTIN 与该批次不符', 'the label\'s GTIN is not this lot\'s']);
  // failed inspections of this lot's parents and siblings: a notice, each proved
  const lineage = new Set(lots.map((l) => l.id));
  const failedRec = [];
  for (const l of lots.slice(1))
    for (const x of l.batch.inspections || []) if (x.verdict === 'fail') failedRec.push({ lot: l.id, rel: 'parent', x });
  for (const n of up.filter((n) => n.from === code).slice(0, 4)) {
    const down = (await getJSON(api(`batches/${n.id}/trace?direction=down&depth=1&limit=30`))).body;
    for (const s of ((down && down.trace && down.trace.nodes) || []).slice(1)) {
      if (lineage.has(s.id) || s.id === code) continue;
      const r = (await getJSON(api('batches/' + s.id))).body;
      for (const x of (r && r.batch && r.batch.inspections) || []) if (x.verdict === 'fail') failedRec.push({ lot: s.id, rel: 'sibling', x });
    }
  }
  const notices = [];
  for (const f of failedRec.slice(0, 10)) {
    const p = proven.find((q) => q.seq === f.x.seq) || await prove(c, cp, cpr.body.checkpoint, f.x.seq);
    if (p.body.type !== 'batch.inspect' || p.body.id !== f.lot) throw new Error(`第 ${f.x.seq} 条记录不是批次 ${f.lot} 的检验 (entry ${f.x.seq} is not that inspection)`);
    notices.push({ ...f, at: p.body.at, by: p.entry.actor });
  }
  // what the lot is, from proved entries only: its registration, or the split, part transfer or
  // process that made it from lots whose own description is proved the same way
  const byseq = new Map(proven.map((p) => [p.seq, p]));
  const recOf = new Map(lots.map((l) => [l.id, l.batch]));
  const describe = (id, depth = 0) => {
    const rec = recOf.get(id), p = rec && byseq.get(rec.created_seq);
    if (!p || depth > 64) return null;
    const e = p.body;
    if (e.type === 'batch.register' && e.id === id)
      return { herb: e.herb, origin: e.origin, harvest_date: e.harvest_date, grade: e.grade, form: e.form || '药材', processing: e.processing, gtin: e.gtin, qty_g: e.qty_g };
    if ((e.type === 'batch.split' && (e.children || []).some((k) => k.id === id)) || (e.type === 'batch.transfer' && e.child === id)) {
      const d = describe(e.id, depth + 1);
      return d && { ...d, qty_g: e.type === 'batch.transfer' ? e.qty_g : e.children.find((k) => k.id === id).qty_g, gtin: d.gtin };
    }
    if (e.type === 'batch.process' && e.output && e.output.id === id) {
      const ins = (e.inputs || []).map((x) => describe(x.id, depth + 1));
      if (ins.some((x) => !x)) return null;
      const o = e.output, place = (d) => [d.origin.province, d.origin.city, d.origin.county].join('/');
      const same = ins.every((d) => place(d) === place(ins[0]));
      return { herb: o.herb || ins[0].herb, compound: !!o.compound, product_name: o.name_zh, form: o.form || ins[0].form, grade: o.grade || ins[0].grade,
        origin: same ? ins[0].origin : { mixed: true }, harvest_date: ins[0].harvest_date, gtin: o.gtin, qty_g: o.qty_g,
        composition: ins.map((d, k) => ({ name_zh: d.herb.name_zh, county: d.origin.county, daodi: d.origin.daodi, g: e.inputs[k].qty_g })) };
    }
    return null;
  };
  const desc = describe(code);
  // every inspection of the lot judged here, against the proved limits table it was judged by
  const limitsAt = new Map();
  const table = async (seq) => {
    if (!limitsAt.has(seq)) {
      const p = byseq.get(seq) || await prove(c, cp, cpr.body.checkpoint, seq);
      if (p.body.type !== 'ledger.limits') throw new Error(`第 ${seq} 条记录不是限量表 (entry ${seq} is not a limits table)`);
      limitsAt.set(seq, p.body.table);
    }
    return limitsAt.get(seq);
  };
  const judged = [];
  const signerId = (p) => p; // the entry, named once the actors are known (below)
  for (const p of proven.filter((q) => q.body.type === 'batch.inspect' && q.body.id === code)) {
    const rec = (b.inspections || []).find((x) => x.seq === p.seq) || {};
    // the table the ledger held when the inspection went in; without one proved, no verdict
    const ls = rec.limits_seq;
    const herbs = desc ? (desc.compound ? desc.composition.map((x) => x.name_zh) : [desc.herb.name_zh]) : null;
    const j = Number.isInteger(ls) && ls < p.seq && herbs ? judge(await table(ls), herbs, desc.form, desc.herb.category || (b.herb && b.herb.category) || 'plant', p.body.results) : null;
    judged.push({ seq: p.seq, lab: p.body.lab, at: p.body.at, inspector: signerId(p), proved: !!(j && !j.error), verdict: j && !j.error ? j.verdict : null,
      results: j && !j.error ? j.results : p.body.results.map((r) => ({ ...r, verdict: null })), server: rec.verdict });
  }
  // who: every actor the record and the proved entries name, their keys checked against the entries
  const ids = new Set([mine.holder, mine.to, b.holder, b.pending_to, ...(b.holders || []), ...(b.inspections || []).map((x) => x.inspector),
    ...proven.map((p) => p.body.to), ...notices.map((f) => f.x.inspector)].filter((x) => typeof x === 'string' && x));
  const actors = {}, byKey = {};
  await pool([...ids], 6, async (id) => {
    const a = await getJSON(api('actors/' + encodeURIComponent(id)));
    if (a.status === 200) {
      actors[id] = a.body.actor;
      byKey[a.body.actor.key] = id;
      for (const k of a.body.actor.retired_keys || []) byKey[k] = id;
    }
  });
  const b64 = (u) => btoa(String.fromCharCode(...u));
  // signers the record does not name (a regulator, the market office): by their entry
  const unknown = proven.filter((p) => !byKey[b64(p.entry.actor)]);
  await pool(unknown, 4, async (p) => {
    if (byKey[b64(p.entry.actor)]) return;
    const e = await getJSON(api('entries/' + p.seq));
    const id = e.body && e.body.by;
    if (!id || actors[id]) return;
    const a = await getJSON(api('actors/' + encodeURIComponent(id)));
    if (a.status === 200 && a.body.actor.key === b64(p.entry.actor)) {
      actors[id] = a.body.actor;
      byKey[a.body.actor.key] = id;
    }
  });
  const signer = (p) => byKey[b64(p.entry.actor)] || null;
  for (const x of judged) x.inspector = signer(x.inspector);
  // the custody list: this lot's own entries, its ancestors' up to the split or part transfer
  // that made this material's lot, and any recall of an ancestor (it reaches this lot)
  const own = (p) => { const lot = codeOf.get(p.seq); return lot === code || p.seq <= (cutoff.get(lot) || 0) || p.body.type === 'batch.recall'; };
  const timeline = proven.filter(own).map((p) => ({ seq: p.seq, code: codeOf.get(p.seq), type: p.body.type, at: p.body.at, to: p.body.to, qty_g: p.body.qty_g, by: signer(p),
    reason: p.body.type === 'batch.review' ? p.body.reason : undefined }));
  // a public scan; only signed scans raise flags, and the page reports them
  const sr = await fetch(api('scans'), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: code }) });
  const scan = sr.ok ? (await sr.json()).scan : null;
  render(b, actors, timeline, scan, notices.map((f) => ({ ...f, by: byKey[b64(f.by)] || f.x.inspector })), typed, desc, judged, mine);
  if (scan && scan.flags && scan.flags.length)
    return (banner('fake', ['实名扫描显示此码出现在不应出现的地方：疑似克隆标签', 'signed scans saw this code where it never went: a cloned label?'], verified),
      finish({ verdict: 'fake', verified, crypto: c.name, flags: scan.flags }));
  // the verdict is the worse of the server's record and what the verified
  // entries prove: a server that serves a recall but reports "active" is not believed
  const RANK = { ok: 0, depleted: 1, held: 2, destroyed: 3, recalled: 4, failed: 5 };
  let proved = 'ok', lastHold = -1, lastRelease = -1, recallBy = null;
  for (const p of proven) {
    const t = p.body.type, id = p.body.id;
    if (t === 'batch.recall' && lineage.has(id)) (proved = 'recalled'), (recallBy = p);
    if (id !== code) continue;
    if (t === 'batch.destroy' && RANK[proved] < RANK.destroyed) proved = 'destroyed';
    if (t === 'batch.hold') lastHold = p.seq;
    if (t === 'batch.release') lastRelease = p.seq;
  }
  if (lastHold > lastRelease && RANK[proved] < RANK.held) proved = 'held';
  // a proved failing inspection holds the lot (its own, or a parent's after this lot was split
  // off), until a proved release of this lot after it
  for (const x of judged) if (x.verdict === 'fail' && lastRelease < x.seq && RANK[proved] < RANK.held) proved = 'held';
  for (const f of notices) if (f.rel === 'parent' && f.x.seq > (cutoff.get(f.lot) || Infinity) && lastRelease < f.x.seq && RANK[proved] < RANK.held) proved = 'held';
  // the proved state: the lot's leaf, and any recalled lot of its lineage
  const STATE = { active: 'ok', in_transit: 'ok', held: 'held', recalled: 'recalled', depleted: 'depleted', destroyed: 'destroyed' };
  let stated = STATE[mine.status] || 'failed';
  for (const [id, st] of states) if (id !== code && st.status === 'recalled') stated = 'recalled';
  let verdict = RANK[proved] > RANK[stated] ? proved : stated;
  const claimed = STATE[b.status] || 'failed';
  const lied = verdict !== claimed;
  // an entry the ledger proves changed a lot last, and the server did not show: never green
  const hidden = [...states].filter(([, st]) => st.hidden).map(([id, st]) => ({ id, seq: st.last }));
  if (hidden.length && verdict === 'ok') {
    banner('failed', [`服务器没有给出批次 ${spaced(hidden[0].id)} 的第 ${hidden[0].seq} 条记录（账本证明它是这批货最后的变动）：本页看到的历史不完整，请勿据此判断。`,
      `the server left out entry #${hidden[0].seq}, which the ledger proves changed lot ${hidden[0].id} last`]);
    return finish({ verdict: 'failed', why: 'hidden', hidden, state: { size: cp.size, status: mine.status } });
  }
  // who held or recalled it, when and why, in a sentence, from the proved entry
  const when = (p) => String(p.body.at || '').slice(0, 16).replace('T', ' ');
  const name = (id) => (actors[id] ? `${actors[id].name}（${actors[id].org}）` : '未登记的签名人');
  let detail = null;
  const STATE_WORD = { recalled: '已召回', held: '已扣留', depleted: '已售完', destroyed: '已销毁', failed: '不明' };
  if (hidden.length) detail = [`账本证明此批次${STATE_WORD[verdict]}（第 ${hidden[0].seq} 条记录），服务器却没有给出这条记录。`, `the ledger proves this state (entry #${hidden[0].seq}), which the server did not show`];
  else if (lied) detail = ['账本记录的状态与已验证的签名记录不符，以签名记录为准', 'the server\'s state contradicts the verified entries; they win'];
  else if (verdict === 'recalled') {
    const p = recallBy || proven.find((q) => q.body.type === 'batch.recall' && lineage.has(q.body.id));
    detail = p ? [`${when(p)} 由 ${name(signer(p))}召回${p.body.id !== code ? '（上游批次 ' + spaced(p.body.id) + '）' : ''}，原因：${p.body.reason || '未写明'}。`, 'recalled; the reason is the recall entry\'s own']
      : [`原因：${b.recall_reason || '未写明'}`, 'recalled'];
  } else if (verdict === 'held') {
    const p = proven.find((q) => q.seq === b.held_seq);
    if (p && p.body.type === 'batch.inspect')
    {
      const rec = judged.find((x) => x.seq === p.seq && x.proved) || lots.flatMap((l) => l.batch.inspections || []).find((x) => x.seq === p.seq);
      const over = ((rec && rec.results) || []).filter((r) => r.verdict === 'fail')
        .map((r) => `${r.name_zh || r.test} ${r.value} ${r.unit}，超过限量 ${r.limit} ${r.limit_unit}`).join('；');
      detail = [`${when(p)} ${name(signer(p))}检验${p.body.id !== code ? '上游批次 ' + spaced(p.body.id) : '此批次'}不合格${over ? '（' + over + '）' : ''}，已自动扣留。只有监管人员可以解除。`, 'held after a failed inspection; only a regulator may release it'];
    }
    else if (p)
      detail = [`${when(p)} 由 ${name(signer(p))}扣留，原因：${p.body.reason || '未写明'}。`, 'held; the reason is the hold entry\'s own'];
    else detail = [`原因：${b.hold_reason || '未写明'}`, 'held'];
  }
  if (typed) {
    const note = ['未经标签核验：您输入了追溯码，这只说明账本中有此批次，不证明手中的货就是它。请扫描标签上的二维码。', 'not checked against a label: scan the label\'s QR code to check the goods in hand'];
    detail = detail ? [detail[0] + ' ' + note[0], detail[1] + '; ' + note[1]] : note;
  }
  banner(verdict === 'ok' && typed ? 'unchecked' : verdict, detail, verified);
  const ups = states.size - 1;
  document.getElementById('banner').append(el('div', { class: 'count', id: 'state-proved' },
    ...bi(`已核验：本批次${ups ? `及其 ${ups} 个上游批次` : ''}在第 ${cp.size} 条记录时的状态${wit && wit.cosigned ? `，经 ${wit.cosigned} 个见证方确认` : ''}`,
      `the state of this lot${ups ? ` and its ${ups} upstream lot${ups === 1 ? '' : 's'}` : ''} proved at entry ${cp.size}${wit && wit.cosigned ? `, cosigned by ${wit.cosigned} witness${wit.cosigned === 1 ? '' : 'es'}` : ''}`)));
  showWitnessed(wit);
  finish({ verdict, verified, crypto: c.name, contradicted: lied, witnessed: wit, label: typed ? 'unchecked' : 'checked', custody: timeline.map((x) => x.seq), notices: notices.map((f) => f.x.seq),
    state: { size: cp.size, lots: states.size, status: mine.status, holder: mine.holder, remaining_g: mine.remaining_g, last: mine.last }, hidden,
    described: !!desc, inspections: judged.map((x) => ({ seq: x.seq, verdict: x.verdict, server: x.server })) });
}

main().catch((e) => {
  banner('failed', ['本页未能核对账本的签名或证明：' + e.message, 'the signatures or proofs did not check out']);
  finish({ verdict: 'failed', why: String(e.message) });
});
