// app.js: the page a phone opens from a label (<base>/b/<code>?t=<token>).
// It verifies before it reassures: the token's signature by the log key,
// every entry of the lot's history (its own and its ancestors') signed by
// its actor and included in a checkpoint signed by the log key. Only then
// does it show a lot as genuine. Fetching is here; the checks are verify.js.
import { makeCrypto } from './crypto.js';
import * as v from './verify.js';

const meta = (n) => document.querySelector(`meta[name="tcmtrace-${n}"]`).content;
const cfg = { logKey: meta('log-key'), origin: meta('origin'), baseUrl: meta('base-url'), prefix: meta('prefix') };
const api = (p) => cfg.prefix + '/api/v1/' + p;
const td = new TextDecoder();

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, val] of Object.entries(attrs || {})) e.setAttribute(k, val);
  for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}
const bi = (zh, en) => [zh, el('span', { class: 'en' }, en)];
const g = (n) => (n >= 1000 && n % 1000 === 0 ? n / 1000 + ' kg' : n >= 1000 ? (n / 1000).toFixed(3).replace(/0+$/, '') + ' kg' : n + ' g');

async function getJSON(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const j = await r.json().catch(() => null);
  return { status: r.status, body: j };
}

const VERDICTS = {
  ok: ['正品 · 在库', 'Genuine and in order'],
  recalled: ['已召回 — 请勿销售或使用', 'RECALLED — do not sell or use'],
  held: ['已扣留 — 暂停销售', 'HELD — not for sale'],
  depleted: ['已售完', 'Used up: this label should not be in use'],
  destroyed: ['已销毁', 'Destroyed: this label should not be in use'],
  fake: ['疑似假冒', 'SUSPECT — possibly counterfeit'],
  failed: ['验证失败', 'Verification failed — do not trust this page'],
};
const BANNER_CLASS = { ok: 'ok', recalled: 'recalled', held: 'held', depleted: 'ended', destroyed: 'ended', fake: 'fake', failed: 'failed' };

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
  'batch.destroy': ['销毁', 'destroyed'],
};

function render(b, actors, timeline, scan) {
  const h = b.herb || {}, o = b.origin || {}, q = b.qty || {};
  const who = (id) => actors[id] ? `${actors[id].name}（${actors[id].org}${actors[id].stall ? '，' + actors[id].stall : ''}）` : id;
  const listing = { unlisted: ['药材目录未收录', 'not in the herb dictionary'], unconfirmed: ['目录条目待核实', 'dictionary entry unconfirmed'], compound: ['复方产品', 'compound product'] }[h.listing];
  const sections = [
    el('section', null, el('h2', null, ...bi('药材', 'Herb')), el('dl', null,
      el('dt', null, '品名'), el('dd', null, `${h.name_zh || ''} `, el('i', null, h.latin_drug || h.latin || ''), listing ? el('span', { class: 'tag' }, listing[0]) : null),
      el('dt', null, '规格'), el('dd', null, `${b.form || ''} · ${b.grade || ''}${b.product_name ? ' · ' + b.product_name : ''}`),
      el('dt', null, '追溯码'), el('dd', { class: 'code' }, b.id.replace(/(\d{4})(?=\d)/g, '$1 ')),
      b.gtin ? [el('dt', null, 'GTIN'), el('dd', { class: 'code' }, b.gtin)] : null)),
    el('section', null, el('h2', null, ...bi('产地', 'Origin')), el('dl', null,
      el('dt', null, '产地'), el('dd', null, o.mixed ? '多个产地 (mixed origins)' : [o.province, o.city, o.county].filter(Boolean).join(' ')),
      o.base ? [el('dt', null, '基地'), el('dd', null, o.base)] : null,
      el('dt', null, '道地'), el('dd', null, o.daodi ? '是 · 道地药材' : '否'),
      el('dt', null, '采收'), el('dd', null, b.harvest_date || ''),
      (b.composition || []).length > 1 ? [el('dt', null, '成分'), el('dd', null, b.composition.map((c) => `${c.name_zh} ${c.county || ''}${c.daodi ? '（道地）' : ''} ${g(c.g)}`).join('；'))] : null)),
    el('section', null, el('h2', null, ...bi('持有与数量', 'Holder and quantity')), el('dl', null,
      el('dt', null, '持有人'), el('dd', null, who(b.holder), b.pending_to ? ` → 在途至 ${who(b.pending_to)}` : ''),
      el('dt', null, '剩余'), el('dd', null, `${g(q.remaining)} / 登记 ${g(q.registered)}`))),
  ];
  const ins = b.inspections || [];
  sections.push(el('section', null, el('h2', null, ...bi('检验', 'Inspections')),
    ins.length === 0 ? el('p', { class: 'muted' }, '尚无检验记录 / no inspection yet') : ins.map((x) => [
      el('p', null, `#${x.seq} ${x.lab || ''} · ${who(x.inspector)} — `, el('span', { class: x.verdict === 'fail' ? 'fail' : x.verdict === 'pass' ? 'pass' : 'none' }, { fail: '不合格', pass: '合格', no_limit: '无适用限量' }[x.verdict])),
      el('table', null, el('tr', null, el('th', null, '项目'), el('th', null, '测得'), el('th', null, '限量'), el('th', null, '结论')),
        (x.results || []).map((r) => el('tr', null, el('td', null, r.name_zh || r.test), el('td', null, `${r.value} ${r.unit}`),
          el('td', null, r.limit ? `≤ ${r.limit} ${r.limit_unit}` : '—', r.status ? el('span', { class: 'tag' }, r.status) : null),
          el('td', { class: r.verdict === 'fail' ? 'fail' : r.verdict === 'pass' ? 'pass' : 'none' }, { fail: '不合格', pass: '合格', no_limit: '无限量' }[r.verdict])))),
    ])));
  sections.push(el('section', null, el('h2', null, ...bi('来源 → 去向', 'Custody, from origin to now')),
    el('ol', null, timeline.map((t) => el('li', null,
      `${(TYPES[t.type] || [t.type])[0]} · ${who(t.by)}${t.to ? ' → ' + who(t.to) : ''}${t.qty_g ? ' · ' + g(t.qty_g) : ''}`,
      el('span', { class: 'en' }, `${t.at.slice(0, 16).replace('T', ' ')} · 账本 #${t.seq}${t.code !== b.id ? ' · 上游批次 …' + t.code.slice(-4) : ''}`))))));
  if (scan) {
    const places = (scan.places || []).filter((p) => !p.observer).map((p) => who(p.by));
    sections.push(el('section', null, el('h2', null, ...bi('扫码', 'Scans')),
      el('p', null, `此码已被扫描 ${scan.count} 次`, el('span', { class: 'en' }, `scanned ${scan.count} times`)),
      places.length ? el('p', { class: 'muted' }, '实名扫描地点 / seen by enrolled actors: ' + places.join('、')) : null));
  }
  document.getElementById('content').replaceChildren(...sections);
}

async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

async function main() {
  const code = decodeURIComponent(location.pathname.split('/').pop());
  // a GS1 Digital Link label: <base>/01/<GTIN-14>/10/<code>
  const dl = location.pathname.match(/\/01\/(\d{14})\/10\/[^/]+$/);
  const params = new URLSearchParams(location.search);
  const token = params.get('t') || '';
  const digits = params.get('n');
  const c = await makeCrypto(cfg.prefix);
  const vk = await v.parseVkey(c, cfg.logKey);
  // the label names this ledger's host and path, or it is not this ledger's label
  const base = new URL(cfg.baseUrl);
  const root = base.pathname.replace(/\/$/, '');
  if (base.host !== location.host || !(location.pathname.startsWith(root + '/b/') || (dl && location.pathname.startsWith(root + '/01/'))))
    return suspect(['标签指向的网址不是本账本', 'the label names another host than this ledger\'s']);
  let t;
  try {
    t = v.parseToken(digits !== null ? v.tokenFromDigits(digits) : token);
  } catch (e) {
    return suspect(['标签令牌无法读取', 'the label\'s token cannot be read']);
  }
  const tok = await v.checkToken(c, vk, code, t);
  if (tok === 'other_ledger') return suspect(['标签属于另一个账本', 'the label was made for another ledger']);
  if (tok === 'code_mismatch') return suspect(['追溯码与令牌不符', 'the trace code and the token disagree']);
  if (tok !== 'ok') return suspect(['标签签名无效', 'the label\'s signature does not verify']);
  const br = await getJSON(api('batches/' + code));
  if (br.status === 404) return suspect(['账本中没有这个追溯码', 'this ledger has no such trace code']);
  if (br.status !== 200) throw new Error('the ledger did not answer');
  const b = br.body.batch;
  const cpr = await getJSON(api('checkpoint'));
  const cp = await v.verifyCheckpoint(c, vk, cpr.body.checkpoint);
  // the lot's history and its ancestors', each entry proved
  const up = (await getJSON(api(`batches/${code}/trace?direction=up&limit=50`))).body.trace.nodes;
  const lots = [{ id: code, events: br.body.events }];
  for (const n of up.slice(1)) lots.push({ id: n.id, events: (await getJSON(api('batches/' + n.id))).body.events });
  const seqs = [...new Set(lots.flatMap((l) => l.events.map((e) => e.seq)))].sort((a, z) => a - z).slice(-120);
  const codeOf = new Map(lots.flatMap((l) => l.events.map((e) => [e.seq, l.id])));
  let verified = 0;
  const proven = await pool(seqs, 6, async (seq) => {
    const r = await fetch(api(`entries/${seq}/proof?size=${cp.size}`), { cache: 'no-store' });
    const bundle = v.parseBundle(await r.text());
    if (bundle.note !== cpr.body.checkpoint || bundle.index !== seq) throw new Error(`第 ${seq} 条记录的证明不属于已验证的检查点 (entry ${seq}: another checkpoint)`);
    const entry = v.decodeEntry(bundle.entry);
    const leaf = await v.leafHash(c, bundle.entry);
    if (entry.seq !== seq || !(await v.eventSigned(c, entry)) || !(await v.inclusionHolds(c, seq, cp.size, leaf, bundle.proof, cp.root)))
      throw new Error(`第 ${seq} 条记录的签名或默克尔证明不成立 (entry ${seq} does not verify)`);
    verified++;
    return { seq, leaf, entry, body: JSON.parse(td.decode(entry.body)) };
  });
  const reg = proven.find((p) => p.seq === b.created_seq);
  if (!reg || !v.equal(reg.leaf.slice(0, 16), t.hash16)) throw new Error('标签令牌与该批次的登记记录不符 (the token does not bind this lot\'s registration)');
  // a Digital Link names the lot's GTIN: the one its record and a proved entry give it
  if (dl && (b.gtin !== dl[1] || !proven.some((p) => p.body.gtin === dl[1] || p.body.output?.gtin === dl[1])))
    return suspect(['标签上的 GTIN 与该批次不符', 'the label\'s GTIN is not this lot\'s']);
  // who: the actors the record names, their keys checked against the entries
  const ids = new Set([b.holder, b.pending_to, ...(b.holders || []), ...(b.inspections || []).map((x) => x.inspector)].filter(Boolean));
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
  const timeline = proven.map((p) => ({ seq: p.seq, code: codeOf.get(p.seq), type: p.body.type, at: p.body.at, to: p.body.to, qty_g: p.body.qty_g, by: byKey[b64(p.entry.actor)] || b64(p.entry.actor).slice(0, 8) + '…' }));
  // a public scan; only signed scans raise flags, and the page reports them
  const sr = await fetch(api('scans'), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: code }) });
  const scan = sr.ok ? (await sr.json()).scan : null;
  render(b, actors, timeline, scan);
  if (scan && scan.flags && scan.flags.length)
    return (banner('fake', ['实名扫描显示此码出现在不应出现的地方：疑似克隆标签', 'signed scans saw this code where it never went: a cloned label?'], verified),
      finish({ verdict: 'fake', verified, crypto: c.name, flags: scan.flags }));
  // the verdict is the worse of the server's record and what the verified
  // entries prove: a server that serves a recall but reports "active" is not believed
  const RANK = { ok: 0, depleted: 1, held: 2, destroyed: 3, recalled: 4, failed: 5 };
  let proved = 'ok', lastHold = -1, lastRelease = -1;
  const lineage = new Set(lots.map((l) => l.id));
  for (const p of proven) {
    const t = p.body.type, id = p.body.id;
    if (t === 'batch.recall' && lineage.has(id)) proved = 'recalled';
    if (id !== code) continue;
    if (t === 'batch.destroy' && RANK[proved] < RANK.destroyed) proved = 'destroyed';
    if (t === 'batch.hold') lastHold = p.seq;
    if (t === 'batch.release') lastRelease = p.seq;
  }
  if (lastHold > lastRelease && RANK[proved] < RANK.held) proved = 'held';
  const claimed = { active: 'ok', in_transit: 'ok', held: 'held', recalled: 'recalled', depleted: 'depleted', destroyed: 'destroyed' }[b.status] || 'failed';
  const verdict = RANK[proved] > RANK[claimed] ? proved : claimed;
  const lied = verdict !== claimed;
  banner(verdict, lied ? ['账本记录的状态与已验证的签名记录不符，以签名记录为准', 'the server\'s state contradicts the verified entries; they win']
    : b.status === 'recalled' ? [b.recall_reason || '', 'recalled'] : b.status === 'held' ? [b.hold_reason || '', 'held'] : null, verified);
  finish({ verdict, verified, crypto: c.name, contradicted: lied });
}

main().catch((e) => {
  banner('failed', ['本页未能核对账本的签名或证明：' + e.message, 'the signatures or proofs did not check out']);
  finish({ verdict: 'failed', why: String(e.message) });
});
