// stall.js: the trader's page (<base>/stall/). The trader's key is made and
// kept in this browser (stallkey.js); every event is built here, signed here
// over its exact body bytes and the ledger it is for ("tcmtrace/event/v2\n" || origin ||
// "\n" || body: docs/formats.md, "Events name their ledger") and sent to
// tcmtrace-web, which hands it to tcmtraced as it came. The server never
// sees a secret key. What the ledger says is read back through the API.
import * as K from './stallkey.js';
import { makeCrypto } from './crypto.js';
import * as V from './verify.js';
import { prover } from './ledger.js';

const meta = (n) => document.querySelector(`meta[name="tcmtrace-${n}"]`).content;
const cfg = { origin: meta('origin'), baseUrl: meta('base-url'), prefix: meta('prefix'), logKey: meta('log-key'), fresh: Number(meta('fresh-seconds')) || 3600 };
const P = prover(cfg.prefix);
const api = (p) => cfg.prefix + '/api/v1/' + p;
const LEDGER = cfg.origin;
const te = new TextEncoder();
const app = () => document.getElementById('app');
const S = { rec: null, actor: null, herbs: null, actors: null, skew: 0, how: null, tab: 'stock' };

// ---- small helpers ----------------------------------------------------------------------

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) e.append(typeof k === 'string' ? unbidi(k) : k);
  return e;
}
// Text from others (names, stalls, reasons) may hold bidi controls that reorder what follows
// them ("(T-9)" shown reversed): they are dropped from everything drawn as text.
function unbidi(s) { return s.replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, ''); }
const bi = (zh, en) => [zh, el('span', { class: 'en' }, en)];
const pretty = (c) => c.replace(/(\d{4})(?=\d)/g, '$1 ');
const $ = (id) => document.getElementById(id);
const val = (id) => ($(id).value || '').trim();

export function fmtQty(g) {
  if (g >= 1000 && g % 1000 === 0) return g / 1000 + ' kg';
  if (g >= 1000) return (g / 1000).toFixed(3).replace(/0+$/, '') + ' kg';
  return g + ' g';
}
// 市制 beside: 1 斤 = 500 g
const jin = (g) => (g % 50 === 0 ? `（${+(g / 500).toFixed(2)} 斤）` : '');

// A quantity as people type it (the CLI's rules): "20斤", "1.5kg", "500 g", "3两", "１０公斤".
// With no unit, `unit` (the picker beside the field) is meant. Whole grams, or null.
const UNITS = { kg: 1000, '公斤': 1000, '千克': 1000, g: 1, '克': 1, t: 1000000, '吨': 1000000, '斤': 500, '两': 50, '钱': 5 };
export function parseQty(text, unit) {
  let s = String(text).replace(/[\uFF10-\uFF19\uFF0E\uFF21-\uFF3A\uFF41-\uFF5A]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xFEE0))
    .replace(/[\s\u3000]/g, '').toLowerCase();
  const m = /^(\d*)(?:\.(\d*))?(.*)$/.exec(s);
  if (!m || (m[1] + (m[2] || '')).length === 0) return null;
  const u = m[3] || unit;
  if (!(u in UNITS)) return null;
  const g = UNITS[u], frac = m[2] || '';
  const whole = BigInt(m[1] || '0') * BigInt(g);
  const fnum = BigInt(frac || '0') * BigInt(g), fden = 10n ** BigInt(frac.length);
  if (fnum % fden !== 0n) return null; // not whole grams
  const total = whole + fnum / fden;
  return total >= 1n && total <= 1000000000000n ? Number(total) : null;
}

// ---- the ledger's clock, codes, events --------------------------------------------------

const now = () => new Date(Date.now() + S.skew);
function rfc3339(d) {
  const p = (n) => String(n).padStart(2, '0'), off = -d.getTimezoneOffset();
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` +
    `${off >= 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}
const DAMM = ['0317598642', '7092154863', '4206871359', '1750983426', '6123045978', '3674209581', '5869720134', '8945362017', '9438617205', '2581436790'];
const damm = (s) => [...s].reduce((i, c) => Number(DAMM[i][Number(c)]), 0);
// A new trace code: YYMMDD (UTC) of today, nine random digits, a Damm check digit.
export function newCode() {
  const d = now(), p = (n) => String(n).padStart(2, '0');
  const r = crypto.getRandomValues(new Uint32Array(9));
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` + [...r].map((x) => x % 10).join('');
  return s + damm(s);
}
export const codeOk = (c) => /^\d{16}$/.test(c) && damm(c) === 0;

function eventBody(type, fields) {
  const nonce = K.b64url(crypto.getRandomValues(new Uint8Array(16)));
  return JSON.stringify({ v: 1, type, at: rfc3339(now()), nonce, ...fields });
}

async function getJSON(path) {
  const r = await fetch(api(path), { cache: 'no-store' });
  const date = r.headers.get('Date');
  if (date) S.skew = new Date(date).getTime() + 500 - Date.now();
  return r.json();
}

// One signed event to the ledger: its answer, or {code: 'unreachable'} when the ledger
// could not be reached (no network, or tcmtrace-web says its daemon is not answering).
async function post(signed) {
  try {
    const r = await fetch(api('events'), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(signed),
    });
    const a = await r.json();
    if (!a.ok && a.error && a.error.code === 'unavailable') throw new Error(a.error.message);
    return a;
  } catch (e) {
    return { ok: false, error: { code: 'unreachable', message: String(e.message || e) } };
  }
}

// ---- the outbox: events signed here that the ledger has not yet answered -----------------
//
// On a flaky market Wi-Fi nothing typed is lost: an event that could not be delivered is
// kept signed in IndexedDB (its own database, beside the key's) and sent again when the
// network is back, on a timer and from the list. Sending it twice cannot count it twice:
// the ledger refuses a body it has seen (replay), which here means "it was recorded".

function outboxDb() {
  return new Promise((ok, no) => {
    const r = indexedDB.open('tcmtrace-outbox', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('events', { autoIncrement: true });
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
}
async function outbox(mode, fn) {
  const d = await outboxDb();
  return new Promise((ok, no) => {
    const t = d.transaction('events', mode), st = t.objectStore('events');
    const out = fn(st);
    t.oncomplete = () => { d.close(); ok(out && out.result); };
    t.onerror = () => { d.close(); no(t.error); };
  });
}
async function queued() {
  const d = await outboxDb();
  return new Promise((ok) => {
    const items = [];
    const c = d.transaction('events').objectStore('events').openCursor();
    c.onsuccess = () => { const x = c.result; if (x) { items.push({ key: x.key, ...x.value }); x.continue(); } else { d.close(); ok(items); } };
    c.onerror = () => { d.close(); ok(items); };
  });
}
const enqueue = (item) => outbox('readwrite', (st) => st.add({ ...item, ledger: LEDGER, queued_at: Date.now() }));
const dequeue = (key) => outbox('readwrite', (st) => st.delete(key));
const requeue = (key, item) => outbox('readwrite', (st) => st.put(item, key));

let flushing = false;
// Sends what waits; returns how many went in. A refusal other than "unreachable" stays in
// the list, marked with the ledger's reason, for the trader to read and remove.
async function flush() {
  if (flushing) return 0;
  flushing = true;
  let sent = 0;
  try {
    for (const it of await queued()) {
      if (it.ledger !== LEDGER || it.refused) continue;
      const a = await post(it.signed);
      if (!a.ok && a.error.code === 'unreachable') break;
      const { key, ...item } = it;
      if (a.ok || a.error.code === 'replay') { await dequeue(key); sent++; }
      else await requeue(key, { ...item, refused: explain(a.error) });
    }
  } finally { flushing = false; }
  if (sent) {
    say('ok', `网络已恢复：${sent} 条待发送的记录已记入账本`, ['库存已刷新。'], { code: 'flushed' });
    if (S.tab === 'stock' && document.body.dataset.ready === 'stock') await show('stock');
  }
  return sent;
}
window.addEventListener('online', () => { flush(); });
setInterval(() => { if (S.actor) flush(); }, 15000);

async function outboxCard() {
  const items = (await queued().catch(() => [])).filter((it) => it.ledger === LEDGER);
  if (!items.length) return null;
  return el('section', { id: 'outbox', 'data-count': items.length },
    el('h2', null, ...bi(`待发送（${items.length} 条）`, 'Signed here, not yet in the ledger')),
    el('p', { class: 'muted' }, '这些记录已在本机签名，但还没有送到账本：网络恢复后会自动发送，重复发送不会重复入账。'),
    items.map((it) => el('div', { class: 'card', 'data-key': it.key },
      el('b', null, it.summary), el('div', { class: 'muted' }, `签名于 ${new Date(it.queued_at).toLocaleString('zh-CN')}`),
      it.refused ? el('div', { class: 'refused-item' }, `账本没有接受：${it.refused.zh} ${it.refused.todo}`,
        el('button', { class: 'danger', onclick: async () => { await dequeue(it.key); show('stock'); } }, '删除这条')) : null)),
    el('button', { class: 'wide', id: 'outbox-send', onclick: async () => {
      const n = await flush();
      if (!n) say('err', '还是连不上账本服务器，记录仍保存在本机。', ['请检查网络（市场的 Wi-Fi），稍后会自动再试。'], { code: 'unreachable' });
    } }, '立即重发'));
}

// Signs and sends one event; on duplicate_id the codes made here are drawn afresh. When the
// ledger cannot be reached the signed event goes to the outbox: {queued: true}.
async function submit(type, fields, fresh = [], summary = type) {
  for (let attempt = 1; ; attempt++) {
    const body = eventBody(type, fields);
    const sig = await K.sign(cfg.prefix, S.rec, te.encode(`tcmtrace/event/v2\n${LEDGER}\n` + body));
    const signed = { actor: K.b64(S.rec.pub), sig: K.b64(sig), body, ledger: LEDGER };
    const a = await post(signed);
    if (!a.ok && a.error.code === 'unreachable') {
      await enqueue({ signed, type, summary });
      return { ...a, queued: true };
    }
    if (a.ok || a.error.code !== 'duplicate_id' || fresh.length === 0 || attempt === 3) return a;
    let text = JSON.stringify(fields);
    for (const c of fresh) { const n = newCode(); text = text.split(c).join(n); fresh[fresh.indexOf(c)] = n; }
    fields = JSON.parse(text);
  }
}

// ---- what the daemon's refusals mean, in plain Chinese -----------------------------------

// One table for the CLI and both pages (GET /api/v1/messages, tcmtrace/messages.h), kept
// in localStorage so that the page still explains itself when the network is gone.
const OFFLINE_WHY = {
  unreachable: { zh: '连不上账本服务器，这条记录还没有送到账本。', todo: '记录已在本机签名保存（见“库存”里的“待发送”），网络恢复后自动发送；请勿重复填写。' },
};
let WHY = null;
async function loadMessages() {
  try {
    const r = await fetch(api('messages'));
    if (!r.ok) throw new Error(String(r.status));
    WHY = await r.json();
    localStorage.setItem('tcmtrace-messages', JSON.stringify(WHY));
  } catch (e) {
    try { WHY = JSON.parse(localStorage.getItem('tcmtrace-messages')); } catch (e2) { WHY = null; }
  }
}
function explain(err) {
  // the page's own outbox words for a ledger out of reach; the table's for everything else
  const w = (err.code === 'unreachable' || err.code === 'unavailable' ? OFFLINE_WHY.unreachable : null) ||
    (WHY && WHY[err.code]) || { zh: '账本没有接受这条记录。', todo: '请把下面的说明告诉市场管理处。' };
  return { zh: w.zh, todo: w.todo, code: err.code, detail: err.message };
}

function say(kind, title, lines = [], extra) {
  const box = el('div', { class: 'msg ' + kind, id: kind === 'ok' ? 'done' : 'refused', 'data-code': extra && extra.code ? extra.code : null },
    el('b', null, title), lines.map((l) => el('div', null, l)));
  if (extra && extra.node) box.append(extra.node);
  $('msg').replaceChildren(box);
  box.scrollIntoView({ block: 'nearest' });
}
function refused(a, context) {
  const x = explain(a.error);
  const here = context && context[x.code];
  say('err', x.zh, [here, x.todo, el('span', { class: 'en' }, `${x.code}: ${x.detail}`)], { code: x.code });
}
const clearMsg = () => $('msg').replaceChildren();

// ---- start ------------------------------------------------------------------------------

async function start() {
  await loadMessages();
  S.how = await K.capability();
  if (!S.how) return noCrypto();
  S.rec = await K.loadRecord(LEDGER).catch(() => null);
  if (!S.rec) return setup();
  if (S.rec.kind !== 'locked' && idleMinutes() && Date.now() - Number(localStorage.getItem(IDLE_SINCE) || Date.now()) >= idleMinutes() * 60000)
    S.rec = await K.lock(LEDGER, S.rec); /* left idle with the page closed: locked all the same */
  if (S.rec.kind === 'locked') return lockedPage();
  watchIdle();
  await findMe();
}

// ---- idle: a stall left alone locks its key -------------------------------------------------
//
// After the chosen idle time (密钥 tab; 15 minutes unless changed) the usable key is dropped and
// only its sealed backup stays in the browser: a phone left on the counter signs nothing until
// the backup passphrase is typed again. Events already signed wait in the outbox as before.

const IDLE_KEY = 'tcmtrace-idle-minutes', IDLE_SINCE = 'tcmtrace-idle-since';
export const IDLE_CHOICES = [[5, '5 分钟'], [15, '15 分钟'], [60, '1 小时'], [480, '8 小时'], [0, '不自动锁定']];
const idleMinutes = () => {
  const s = localStorage.getItem(IDLE_KEY), v = Number(s);
  return s !== null && IDLE_CHOICES.some(([m]) => m === v) ? v : 15;
};
// the last touch, also kept for a start after the page was closed (written at most every 5 s)
let idleSince = Date.now(), idleTimer = null;
function watchIdle() {
  if (idleTimer) return;
  const touch = () => {
    const now = Date.now();
    if (now - Number(localStorage.getItem(IDLE_SINCE) || 0) >= 5000) localStorage.setItem(IDLE_SINCE, String(now));
    idleSince = now;
  };
  for (const ev of ['pointerdown', 'keydown', 'input', 'scroll']) addEventListener(ev, touch, { passive: true, capture: true });
  touch();
  idleTimer = setInterval(async () => {
    const m = idleMinutes();
    if (!m || !S.rec || S.rec.kind === 'locked' || Date.now() - idleSince < m * 60000) return;
    S.rec = await K.lock(LEDGER, S.rec);
    stopCamera();
    lockedPage(m);
  }, 5000);
}

// A sale over the chosen quantity (密钥 tab; 20 kg unless changed) asks for the backup passphrase
// again before it is signed: an unlocked phone picked up from the counter cannot sell the stock.
const BIG_KEY = 'tcmtrace-confirm-over-g';
export const BIG_CHOICES = [[1000, '1 kg'], [5000, '5 kg'], [20000, '20 kg'], [100000, '100 kg'], [0, '不再确认']];
const bigSale = () => {
  const s = localStorage.getItem(BIG_KEY), v = Number(s);
  return s !== null && BIG_CHOICES.some(([g]) => g === v) ? v : 20000;
};

function lockedPage(minutes) {
  $('nav').hidden = true;
  clearMsg();
  app().replaceChildren(el('section', { id: 'locked' },
    el('h2', null, ...bi('已锁定', 'Locked')),
    el('p', null, minutes ? `这台设备闲置了 ${minutes} 分钟，密钥已自动锁定：不输入备份密码，谁也不能用它签名。`
      : '密钥已锁定：不输入备份密码，谁也不能用它签名。'),
    el('p', { class: 'muted' }, '已签好、还没送出的记录仍在待发送列表里，联网后照常送出。'),
    el('label', { for: 'unlock-pass' }, '备份密码'),
    el('input', { id: 'unlock-pass', type: 'password', autocomplete: 'current-password' }),
    el('progress', { id: 'kdf', max: 1, value: 0, hidden: true }),
    el('button', { class: 'wide', id: 'unlock', onclick: unlockKey }, '解锁')));
  document.body.dataset.ready = 'locked';
}

async function unlockKey() {
  clearMsg();
  const pass = $('unlock-pass').value;
  if (!pass) return say('err', '请输入备份密码。');
  $('unlock').disabled = true;
  say('ok', '正在解锁…', ['需要几秒钟，请稍候。']);
  try {
    S.rec = await K.unlock(cfg.prefix, LEDGER, S.rec, pass, S.how, progress);
  } catch (e) {
    $('unlock').disabled = false;
    return say('err', e.zh || '没有解锁。', [el('span', { class: 'en' }, String(e.message || e))], { code: e.code });
  }
  clearMsg();
  localStorage.setItem(IDLE_SINCE, String(Date.now()));
  watchIdle();
  idleSince = Date.now();
  await findMe();
}

function noCrypto() {
  app().replaceChildren(el('section', { id: 'need-https' },
    el('h2', null, ...bi('此页面需要 HTTPS 才能安全保存您的密钥', 'This page needs HTTPS to keep your key safe')),
    el('p', null, '浏览器只在加密连接（https://）或本机上提供保存密钥所需的功能。请让市场管理处提供 https:// 的地址，再打开本页。',
      el('span', { class: 'en' }, 'Browsers give pages the means to keep a key only over https:// (or on this very machine). Ask the market office for the https:// address of this page.')),
    el('p', { class: 'muted' }, '查询和验证标签不受影响：扫码页照常可用。')));
  document.body.dataset.ready = 'no-crypto';
}

function setup() {
  $('who').textContent = '第一次使用：建立本机密钥';
  app().replaceChildren(
    el('section', { id: 'new-key' },
      el('h2', null, ...bi('新建密钥', 'Make a new key')),
      el('p', { class: 'muted' }, '密钥只保存在这台手机（电脑）的浏览器里，用来给您的每一条记录签名。请设一个您记得住的密码：它用来加密密钥备份。'),
      el('label', { for: 'pass1' }, '备份密码（至少 8 个字符）'),
      el('input', { id: 'pass1', type: 'password', autocomplete: 'new-password' }),
      el('label', { for: 'pass2' }, '再输入一次'),
      el('input', { id: 'pass2', type: 'password', autocomplete: 'new-password' }),
      el('progress', { id: 'kdf', max: 1, value: 0, hidden: true }),
      el('button', { class: 'wide', id: 'make-key', onclick: makeKey }, '生成我的密钥')),
    el('section', { id: 'restore-key' },
      el('h2', null, ...bi('从备份恢复', 'Restore from a backup')),
      el('p', { class: 'muted' }, '换了手机？选择以前下载的密钥备份文件（.key），输入它的密码。命令行 tcmtrace 的密钥文件也可以。'),
      el('input', { id: 'backup-file', type: 'file', accept: '.key,text/plain' }),
      el('label', { for: 'pass3' }, '备份密码'),
      el('input', { id: 'pass3', type: 'password', autocomplete: 'current-password' }),
      el('button', { class: 'wide plain', id: 'restore', onclick: restoreKey }, '恢复密钥')));
  document.body.dataset.ready = 'setup';
}

const progress = (f) => { const p = $('kdf'); if (p) { p.hidden = false; p.value = f; } };

async function makeKey() {
  clearMsg();
  const a = $('pass1').value, b = $('pass2').value;
  if (a.length < 8) return say('err', '密码太短了。', ['请至少用 8 个字符：丢了手机时，备份只靠它保护。']);
  if (a !== b) return say('err', '两次输入的密码不一样。', ['请重新输入。']);
  $('make-key').disabled = true;
  say('ok', '正在生成并加密密钥…', ['需要几秒钟，请稍候。']);
  try {
    S.rec = await K.create(cfg.prefix, LEDGER, a, S.how, progress);
  } catch (e) {
    $('make-key').disabled = false;
    return say('err', '密钥没有生成。', [String(e.message || e)]);
  }
  clearMsg();
  watchIdle();
  await findMe();
}

async function restoreKey() {
  clearMsg();
  const f = $('backup-file').files[0], pass = $('pass3').value;
  if (!f) return say('err', '请先选择密钥备份文件。');
  if (!pass) return say('err', '请输入备份密码。');
  $('restore').disabled = true;
  say('ok', '正在打开备份…', ['需要几秒钟，请稍候。']);
  try {
    S.rec = await K.restore(cfg.prefix, LEDGER, await f.text(), pass, S.how, progress);
  } catch (e) {
    $('restore').disabled = false;
    return say('err', e.zh || '备份没有打开。', [el('span', { class: 'en' }, String(e.message || e))], { code: e.code });
  }
  clearMsg();
  watchIdle();
  await findMe();
}

// Who this key is in the ledger: enrolled (the stall opens) or not yet.
async function findMe() {
  const a = await getJSON('actors?key=' + encodeURIComponent(K.b64(S.rec.pub))).catch(() => null);
  if (a === null) { // not an answer: the server is out of reach, which says nothing of the key
    app().replaceChildren(el('section', { id: 'offline' },
      el('h2', null, ...bi('连不上账本服务器', 'The ledger cannot be reached')),
      el('p', null, '您的密钥还在这台设备上。请检查网络（市场的 Wi-Fi），再点“重试”。'),
      el('button', { class: 'wide', id: 'retry', onclick: () => { clearMsg(); findMe(); } }, '重试')));
    document.body.dataset.ready = 'offline';
    return;
  }
  if (a && a.ok && a.actor && a.actor.status === 'active' && a.actor.key === K.b64(S.rec.pub)) {
    S.actor = a.actor;
    $('who').textContent = `${S.actor.name} · ${S.actor.org}${S.actor.stall ? ' · ' + S.actor.stall : ''}（${S.actor.id}）`;
    return openStall();
  }
  if (a && a.ok && a.actor) return keyPage(a.actor.status === 'revoked' ? 'revoked' : 'retired');
  return keyPage('unenrolled');
}

// ---- the key: shown for enrollment, backed up ----------------------------------------------

function backupLink() {
  const name = (S.actor ? S.actor.id : 'stall') + '.key';
  const url = URL.createObjectURL(new Blob([S.rec.sealed], { type: 'text/plain' }));
  return el('a', { class: 'button plain', id: 'backup', href: url, download: name }, '下载密钥备份');
}

async function keyPage(why) {
  const pub = K.b64(S.rec.pub);
  const check = await K.keyCheck(S.rec.pub);
  const title = {
    unenrolled: ['请到市场管理处登记这把密钥', 'Have the market office enroll this key'],
    revoked: ['这把密钥已被撤销', 'This key was revoked'],
    retired: ['这把密钥已被换下', 'This key was replaced'],
    enrolled: ['我的密钥', 'My key'],
  }[why];
  if (why !== 'enrolled') { $('nav').hidden = true; $('who').textContent = '密钥尚未登记'; }
  const sec = el('section', { id: 'key', 'data-state': why },
    el('h2', null, ...bi(title[0], title[1])),
    why === 'unenrolled' ? el('p', null, '请市场管理处扫下面的二维码（或拍照），为您登记；登记时对方会读出一串核对码，请和下面的核对码逐组比对，一致才算登记对了。登记后点“我已登记”。') : null,
    why === 'enrolled' ? el('p', null, `这把密钥已登记为 ${S.actor.name}（${S.actor.id}）。换手机时用下面的备份恢复。`) : null,
    why === 'revoked' ? el('p', null, '如果手机丢失后重新登记过，请用新手机的密钥；否则请联系市场管理处。') : null,
    el('img', { class: 'qr', id: 'pub-qr', alt: '公钥二维码', src: api('keys/qr.png?key=' + encodeURIComponent(pub)) }),
    el('div', { class: 'muted' }, '核对码 / key check'),
    el('div', { class: 'check-digits', id: 'key-check' }, check),
    el('div', { class: 'muted' }, '公钥 / public key'),
    el('div', { class: 'pub', id: 'pubkey' }, pub),
    why !== 'enrolled' ? el('div', null, el('div', { class: 'muted' }, '市场管理处登记命令（拍下二维码，或抄公钥加核对码）/ enrollment command'),
      el('pre', null, `tcmtrace actor enroll --pubkey-photo 照片.png \\\n  --id ID --name 姓名 --org 商号 --licence 证照号 \\\n  --role trader --stall 摊位号\n\n# 手工抄写时：\n--pubkey ${pub} \\\n  --check "${check}"`)) : null,
    el('p', { class: 'muted' }, '备份是用您的密码加密的密钥文件，和命令行 tcmtrace 的格式相同。请存到电脑或 U 盘上：换手机时用它恢复。'),
    backupLink(),
    why === 'enrolled' ? el('div', null, el('label', { for: 'idle' }, '闲置多久后自动锁定密钥'),
      el('select', { id: 'idle', onchange: (e) => localStorage.setItem(IDLE_KEY, e.target.value) },
        IDLE_CHOICES.map(([m, zh]) => el('option', { value: String(m), selected: m === idleMinutes() ? '' : null }, zh)))) : null,
    why === 'enrolled' ? el('div', null, el('label', { for: 'confirm-over' }, '销售超过多少时再输一次密码'),
      el('select', { id: 'confirm-over', onchange: (e) => localStorage.setItem(BIG_KEY, e.target.value) },
        BIG_CHOICES.map(([g, zh]) => el('option', { value: String(g), selected: g === bigSale() ? '' : null }, zh)))) : null,
    why !== 'enrolled' ? el('button', { id: 'recheck', onclick: () => { clearMsg(); findMe(); } }, '我已登记，刷新') : null,
    el('button', { class: 'danger', id: 'forget', onclick: forgetKey }, '从本机删除密钥'));
  if (why === 'enrolled') return sec;
  app().replaceChildren(sec);
  document.body.dataset.ready = 'enroll';
  return sec;
}

async function forgetKey() {
  if (!confirm('从这台设备删除密钥？没有备份就再也找不回来。')) return;
  await K.forget(LEDGER);
  S.rec = null; S.actor = null;
  $('nav').hidden = true;
  clearMsg();
  setup();
}

// ---- the stall --------------------------------------------------------------------------

const TABS = [['stock', '库存'], ['register', '登记'], ['scan', '扫码'], ['key', '密钥']];
function openStall() {
  const nav = $('nav');
  nav.hidden = false;
  nav.replaceChildren(...TABS.map(([t, zh]) => el('button', { id: 'tab-' + t, onclick: () => { clearMsg(); show(t); } }, zh)));
  show(S.tab);
}

async function show(tab) {
  S.tab = tab;
  for (const [t] of TABS) $('tab-' + t).setAttribute('aria-current', t === tab ? 'page' : 'false');
  document.body.dataset.ready = 'busy';
  if (tab === 'stock') await stock();
  else if (tab === 'register') await registerForm();
  else if (tab === 'scan') scanPage();
  else app().replaceChildren(await keyPage('enrolled'));
  document.body.dataset.ready = tab;
}

async function pages(path) {
  const out = [];
  for (let cursor = null, n = 0; n < 50; n++) {
    const a = await getJSON(path + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (!a.ok) throw a;
    out.push(...(a.batches || a.actors));
    if (!(cursor = a.next)) break;
  }
  return out;
}

const STATUS = { active: '在库', in_transit: '在途', held: '已扣留', recalled: '已召回', depleted: '已售完', destroyed: '已销毁' };
const statusTag = (s) => el('span', { class: 'tag ' + s }, STATUS[s] || s);

async function stock() {
  let lots;
  const box = await outboxCard();
  try {
    lots = await pages('batches?limit=100&holder=' + encodeURIComponent(S.actor.id));
  } catch (e) {
    app().replaceChildren(...[box, el('section', { id: 'stock-offline' },
      el('h2', null, ...bi('连不上账本服务器，库存暂时读不出来', 'The ledger cannot be reached')),
      el('p', null, '您的记录和密钥都还在这台设备上。请检查网络（市场的 Wi-Fi），再点“刷新”。'),
      el('button', { class: 'plain wide', id: 'refresh', onclick: () => { clearMsg(); show('stock'); } }, '刷新'))].filter(Boolean));
    return;
  }
  const me = S.actor.id;
  const held = lots.filter((b) => b.holder === me && !b.pending_to && b.status !== 'depleted' && b.status !== 'destroyed');
  const out = lots.filter((b) => b.holder === me && b.pending_to);
  const inc = lots.filter((b) => b.pending_to === me);
  const gone = lots.filter((b) => b.holder === me && (b.status === 'depleted' || b.status === 'destroyed'));
  const total = held.reduce((s, b) => s + b.remaining_g, 0);
  app().replaceChildren(...[box].filter(Boolean),
    el('section', { id: 'incoming' }, el('h2', null, `待收货（${inc.length}）`),
      inc.length ? inc.map((b) => lotCard(b, 'incoming')) : el('p', { class: 'muted' }, '没有发给您、等您收货的货。')),
    el('section', { id: 'held' }, el('h2', null, `在库（${held.length} 批，共 ${fmtQty(total)}）`),
      held.length ? held.map((b) => lotCard(b, 'held')) : el('p', { class: 'muted' }, '还没有货。点上面的“登记”登记一批，或等上家发货后收货。')),
    el('section', { id: 'outgoing' }, el('h2', null, `已发出、对方未收（${out.length}）`),
      out.length ? out.map((b) => lotCard(b, 'outgoing')) : el('p', { class: 'muted' }, '没有在途的货。')),
    ...(gone.length ? [el('section', { id: 'ended' }, el('h2', null, `已售完或已销毁（${gone.length}）`),
      gone.map((b) => el('div', { class: 'muted code' }, `${b.herb} · ${pretty(b.id)} · ${STATUS[b.status]}`)))] : []),
    el('button', { class: 'plain wide', id: 'refresh', onclick: () => { clearMsg(); show('stock'); } }, '刷新'));
}

function lotCard(b, kind) {
  const acts = [];
  if (kind === 'held' && b.status === 'active') {
    acts.push(el('button', { 'data-act': 'send', onclick: () => sendForm(b) }, '发货'));
    acts.push(el('button', { class: 'plain', 'data-act': 'split', onclick: () => splitForm(b) }, '分拆'));
    acts.push(el('button', { class: 'plain', 'data-act': 'sell', onclick: () => sellForm(b) }, '销售'));
  }
  if (kind === 'held') acts.push(el('button', { class: 'plain', 'data-act': 'label', onclick: () => labelPage([b.id], b) }, '标签'));
  if (kind === 'incoming') {
    acts.push(el('button', { 'data-act': 'receive', onclick: () => act('batch.receive', { id: b.id }, `已收货：${b.herb} ${fmtQty(b.remaining_g)}`) }, '收货'));
    acts.push(el('button', { class: 'danger', 'data-act': 'reject', onclick: () => rejectForm(b) }, '拒收'));
  }
  if (kind === 'outgoing')
    acts.push(el('button', { class: 'danger', 'data-act': 'cancel', onclick: () => act('batch.cancel', { id: b.id }, `已撤回发货：${b.herb} ${fmtQty(b.remaining_g)} 回到您的库存`) }, '撤回发货'));
  const who = kind === 'incoming' ? `来自 ${b.holder}` : kind === 'outgoing' ? `发往 ${b.pending_to}` : `${b.province || ''} ${b.county || ''}`;
  return el('div', { class: 'card lot ' + b.status, 'data-id': b.id },
    el('div', { class: 'top' }, el('span', { class: 'herb' }, b.herb, ' ', el('small', { class: 'muted' }, b.form || '')), statusTag(b.status)),
    el('div', { class: 'top' }, el('span', { class: 'code muted' }, pretty(b.id)), el('span', { class: 'qty', 'data-g': b.remaining_g }, fmtQty(b.remaining_g))),
    el('div', { class: 'muted' }, who, b.registered_g !== b.remaining_g ? ` · 原 ${fmtQty(b.registered_g)}` : ''),
    el('div', { class: 'acts' }, acts));
}

// One event, then the stock again, with what happened (or why not) on top.
// `context` says, per error code, what the refusal means for this lot.
async function act(type, fields, done, fresh = [], context) {
  clearMsg();
  document.body.dataset.ready = 'busy';
  const a = await submit(type, fields, fresh, done.replace(/^已记?/, ''));
  if (a.queued) {
    const x = explain(a.error);
    say('err', x.zh, [x.todo, el('span', { class: 'en' }, 'The ledger could not be reached: the signed record is kept on this device and sent when the network is back.')], { code: 'queued' });
    document.body.dataset.ready = 'queued';
    return a;
  }
  if (!a.ok) { refused(a, context); document.body.dataset.ready = 'refused'; return a; }
  await show('stock');
  say('ok', done, [`已记入账本，序号 #${a.seq}`], { node: el('span', { class: 'en', id: 'done-seq', 'data-seq': a.seq }, `recorded as entry #${a.seq}`) });
  return a;
}
const has = (b, g) => ({ quantity: `这批货现有 ${fmtQty(b.remaining_g)}${jin(b.remaining_g)}，您填写的是 ${fmtQty(g)}${jin(g)}。` });

// A day as people write it: 2026-10-12, 2026/10/12, 2026.10.12, 2026年10月12日 or 20261012, read
// the same in every browser (a date input draws the browser's locale: mm/dd/yyyy in one set to
// English). Returns YYYY-MM-DD, or null for no such day.
export function dayOf(s) {
  const t = String(s).trim();
  const m = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$/.exec(t) || /^(\d{4})(\d{2})(\d{2})$/.exec(t);
  if (!m) return null;
  const [y, mo, d] = [+m[1], +m[2], +m[3]];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1900 || dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}
function dayField(id, hint) {
  const echo = () => {
    clearMsg();
    const d = dayOf(val(id));
    $(id + '-is').textContent = !val(id) ? '' : d ? `${+d.slice(0, 4)}年${+d.slice(5, 7)}月${+d.slice(8)}日`
      : '请写成 年-月-日，例如 2026-10-12';
  };
  return el('div', null,
    el('label', { for: id }, hint),
    el('input', { id, inputmode: 'numeric', autocomplete: 'off', placeholder: '例如 2026-10-12 或 20261012', oninput: echo }),
    el('div', { class: 'muted', id: id + '-is' }));
}
function qtyField(id, hint) {
  return el('div', null,
    el('label', { for: id }, hint),
    el('div', { class: 'row' },
      el('input', { id, inputmode: 'decimal', placeholder: '例如 20斤、5kg、500g', oninput: () => preview(id) }),
      el('select', { id: id + '-unit', style: 'flex:0 0 5.5em', onchange: () => preview(id) },
        ['斤', 'kg', 'g', '两'].map((u) => el('option', { value: u }, u)))),
    el('div', { class: 'muted', id: id + '-is' }));
}
function preview(id) {
  const g = parseQty(val(id), $(id + '-unit').value);
  $(id + '-is').textContent = val(id) === '' ? '' : g ? `= ${fmtQty(g)}${jin(g)}` : '看不懂这个数量：请写数字，可带单位 斤、两、kg、g（整克）。';
}
function qtyOf(id) {
  const g = parseQty(val(id), $(id + '-unit').value);
  if (!g) say('err', '数量看不懂。', ['请写数字，可带单位：斤、两、kg、g，例如 20斤 或 1.5kg（必须是整克）。']);
  return g;
}

function formPage(id, title, b, ...body) {
  app().replaceChildren(el('section', { id },
    el('h2', null, title),
    b ? el('div', { class: 'muted' }, `${b.herb} · ${pretty(b.id)} · 现有 ${fmtQty(b.remaining_g)}${jin(b.remaining_g)}`) : null,
    body,
    el('button', { class: 'plain', onclick: () => { clearMsg(); show('stock'); } }, '返回')));
}

async function actors() {
  if (!S.actors) S.actors = await pages('actors?limit=100').catch(() => []);
  return S.actors.filter((a) => a.status === 'active' && !a.authority && a.id !== S.actor.id &&
    a.roles.some((r) => r === 'trader' || r === 'pharmacy' || r === 'processor'));
}

async function sendForm(b) {
  const to = await actors();
  formPage('send', '发货', b,
    el('label', { for: 'to' }, '发给谁'),
    el('select', { id: 'to' }, el('option', { value: '' }, '请选择收货方'),
      to.map((a) => el('option', { value: a.id }, `${a.name} · ${a.org}${a.stall ? ' · ' + a.stall : ''}（${a.id}）`))),
    el('label', { class: 'check' }, el('input', { type: 'checkbox', id: 'all', checked: true, onchange: () => { $('part').hidden = $('all').checked; } }), '整批发出'),
    el('div', { id: 'part', hidden: true }, qtyField('qty', '发出多少（其余留在您这里，发出的部分有自己的新追溯码）')),
    el('label', { for: 'note' }, '备注（可不填）'),
    el('input', { id: 'note', maxlength: 200 }),
    el('button', { id: 'ok', onclick: async () => {
      const who = val('to');
      if (!who) return say('err', '请选择收货方。');
      const f = { id: b.id, to: who };
      const fresh = [];
      if (!$('all').checked) {
        const g = qtyOf('qty');
        if (!g) return;
        f.qty_g = g; f.child = newCode(); fresh.push(f.child);
      }
      if (val('note')) f.note = val('note');
      await act('batch.transfer', f, `已发货给 ${who}：${b.herb} ${fmtQty(f.qty_g || b.remaining_g)}，等对方收货`, fresh, has(b, f.qty_g || b.remaining_g));
    } }, '确认发货'));
}

function rejectForm(b) {
  formPage('reject', '拒收', b,
    el('label', { for: 'reason' }, '拒收原因（对方和监管都看得到）'),
    el('input', { id: 'reason', maxlength: 200, placeholder: '例如：货不对版、数量不足、受潮' }),
    el('button', { class: 'danger', id: 'ok', onclick: () => {
      if (!val('reason')) return say('err', '请写拒收原因。');
      return act('batch.reject', { id: b.id, reason: val('reason') }, `已拒收：${b.herb}，货退回发货方`);
    } }, '确认拒收'));
}

function splitForm(b) {
  formPage('split', '分拆', b,
    el('p', { class: 'muted' }, '把这批货分成几份，每份有自己的追溯码和标签；分剩的留在原批次。'),
    el('label', { for: 'parts' }, '每份多少（用逗号或空格隔开）'),
    el('input', { id: 'parts', placeholder: '例如 10斤, 10斤, 5kg', oninput: () => {
      const gs = val('parts').split(/[,，、\s]+/).filter(Boolean).map((p) => parseQty(p, $('parts-unit').value));
      $('parts-is').textContent = gs.length && gs.every(Boolean) ? `${gs.length} 份，共 ${fmtQty(gs.reduce((s, g) => s + g, 0))}` : '';
    } }),
    el('select', { id: 'parts-unit' }, ['斤', 'kg', 'g', '两'].map((u) => el('option', { value: u }, u))),
    el('div', { class: 'muted', id: 'parts-is' }),
    el('button', { id: 'ok', onclick: async () => {
      const gs = val('parts').split(/[,，、\s]+/).filter(Boolean).map((p) => parseQty(p, $('parts-unit').value));
      if (!gs.length || !gs.every(Boolean)) return say('err', '每份的数量看不懂。', ['请写数字，可带单位：斤、两、kg、g，用逗号隔开。']);
      const children = gs.map((g) => ({ id: newCode(), qty_g: g }));
      const fresh = children.map((c) => c.id);
      const a = await act('batch.split', { id: b.id, children }, `已分拆成 ${gs.length} 份`, fresh, has(b, gs.reduce((x, y) => x + y, 0)));
      if (a.ok) $('msg').firstChild.append(el('button', { id: 'print-parts', onclick: () => labelPage(fresh) }, '打印这几份的标签'));
    } }, '确认分拆'));
}

function sellForm(b) {
  formPage('sell', '销售', b,
    qtyField('qty', '卖出多少'),
    el('div', { id: 'confirm-box' }),
    el('button', { id: 'ok', onclick: async () => {
      const g = qtyOf('qty');
      if (!g) return;
      const over = bigSale();
      if (over && g > over && !S.rec.sealed) return say('err', '这台设备上没有密钥备份，不能确认大额销售。', ['请在密钥页重新恢复密钥。']);
      if (over && g > over) return confirmSale(b, g, over);
      await act('batch.sell', { id: b.id, qty_g: g }, `已记销售：${b.herb} ${fmtQty(g)}`, [], has(b, g));
    } }, '确认销售'));
}

// A sale over the chosen quantity: the passphrase first, checked against the sealed backup here.
function confirmSale(b, g, over) {
  clearMsg();
  $('ok').hidden = true;
  $('confirm-box').replaceChildren(el('section', { id: 'confirm-sale' },
    el('p', null, `这笔销售 ${fmtQty(g)}${jin(g)}，超过 ${fmtQty(over)}：请再输入一次备份密码确认。`,
      el('span', { class: 'en' }, `a sale over ${fmtQty(over)}: type the backup passphrase to sign it`)),
    el('label', { for: 'confirm-pass' }, '备份密码'),
    el('input', { id: 'confirm-pass', type: 'password', autocomplete: 'current-password' }),
    el('button', { class: 'wide', id: 'confirm', onclick: async () => {
      const pass = $('confirm-pass').value;
      if (!pass) return say('err', '请输入备份密码。');
      $('confirm').disabled = true;
      try {
        await K.confirmPass(cfg.prefix, S.rec, pass);
      } catch (e) {
        $('confirm').disabled = false;
        return say('err', e.zh || '密码不对。', ['这笔销售没有签名，也没有记入账本。'], { code: e.code || 'bad_passphrase' });
      }
      await act('batch.sell', { id: b.id, qty_g: g }, `已记销售：${b.herb} ${fmtQty(g)}`, [], has(b, g));
    } }, '确认并签名')));
  document.body.dataset.ready = 'confirm-sale';
}

// ---- labels: PNG from tcmtrace-web at the printer's size ---------------------------------

const SIZES = [['60x30', '60 × 30 mm（常用）'], ['50x30', '50 × 30 mm'], ['70x40', '70 × 40 mm'], ['100x50', '100 × 50 mm']];
function labelPage(ids, b) {
  const src = () => {
    const [w, h] = val('size').split('x');
    return api(`labels.png?ids=${ids.join(',')}&width_mm=${w}&height_mm=${h}&dpi=${val('dpi')}`);
  };
  const draw = () => {
    const [w] = val('size').split('x');
    const img = el('img', { id: 'label-img', alt: '标签', src: src(), style: `width:${Math.min(ids.length, 3) * w}mm` });
    img.onerror = async () => {
      const a = await fetch(src()).then((r) => r.json()).catch(() => null);
      if (a && a.error) refused(a);
    };
    img.onload = () => { document.body.dataset.label = 'loaded'; };
    $('labels').replaceChildren(img);
    $('download').href = src();
  };
  app().replaceChildren(el('section', { id: 'label' },
    el('h2', { class: 'noprint' }, ids.length > 1 ? `打印标签（${ids.length} 张）` : '打印标签'),
    b ? el('div', { class: 'muted noprint' }, `${b.herb} · ${pretty(b.id)}`) : null,
    el('div', { class: 'row noprint' },
      el('div', null, el('label', { for: 'size' }, '标签尺寸'), el('select', { id: 'size', onchange: draw }, SIZES.map(([v, t]) => el('option', { value: v }, t)))),
      el('div', null, el('label', { for: 'dpi' }, '打印机'), el('select', { id: 'dpi', onchange: draw },
        el('option', { value: '300' }, '300 dpi'), el('option', { value: '203' }, '203 dpi'), el('option', { value: '600' }, '600 dpi')))),
    el('div', { id: 'labels' }),
    el('div', { class: 'noprint' },
      el('button', { id: 'print', onclick: () => window.print() }, '打印'),
      el('a', { class: 'button plain', id: 'download', download: `label-${ids[0]}.png` }, '下载 PNG'),
      el('button', { class: 'plain', onclick: () => { clearMsg(); show('stock'); } }, '返回'))));
  draw();
}

// ---- register: the herb dictionary as a picker -------------------------------------------

async function registerForm() {
  if (!S.herbs) {
    const a = await getJSON('herbs').catch(() => null);
    S.herbs = a && a.ok ? a.herbs : [];
  }
  let herb = null;
  const pick = (h) => {
    herb = h;
    $('herb-q').value = h.name_zh;
    $('picks').replaceChildren();
    const parts = [h.part, ...(h.parts || [])].filter(Boolean);
    $('herb-chosen').replaceChildren(el('div', { class: 'card' }, el('b', null, h.name_zh), ' ', el('i', null, h.latin || ''),
      el('div', { class: 'muted' }, `${h.pinyin || ''} · 药用部位 ${parts.join('、') || '—'}`)));
    $('part').replaceChildren(...(parts.length ? parts : ['—']).map((p) => el('option', { value: p }, p)));
  };
  const search = () => {
    const q = val('herb-q').toLowerCase().replace(/\s+/g, '');
    herb = null;
    $('herb-chosen').replaceChildren();
    if (!q) return $('picks').replaceChildren();
    const hits = S.herbs.filter((h) => h.name_zh.includes(q) || (h.pinyin || '').toLowerCase().startsWith(q) ||
      (h.pinyin || '').toLowerCase().includes(q) || (h.latin || '').toLowerCase().includes(q)).slice(0, 12);
    $('picks').replaceChildren(...(hits.length ? hits.map((h) => el('button', { 'data-herb': h.name_zh, onclick: () => pick(h) },
      el('b', null, h.name_zh), ` ${h.pinyin || ''} · `, el('i', null, h.latin || ''))) : [el('div', { class: 'muted' }, '目录里没有找到。请换个写法，或用拼音。')]));
  };
  const today = rfc3339(now()).slice(0, 10);
  app().replaceChildren(el('section', { id: 'register' },
    el('h2', null, ...bi('登记一批货', 'Register a lot')),
    el('label', { for: 'herb-q' }, '药材（中文名、拼音或拉丁名）'),
    el('input', { id: 'herb-q', placeholder: '例如 当归 或 danggui', autocomplete: 'off', oninput: search }),
    el('div', { class: 'picks', id: 'picks' }), el('div', { id: 'herb-chosen' }),
    el('label', { for: 'part' }, '药用部位'), el('select', { id: 'part' }),
    el('label', { for: 'form' }, '形态'), el('select', { id: 'form' }, el('option', { value: '药材' }, '药材'), el('option', { value: '饮片' }, '饮片')),
    qtyField('qty', '数量'),
    el('h3', null, '产地'),
    el('div', { class: 'row' }, el('div', null, el('label', { for: 'province' }, '省'), el('input', { id: 'province', placeholder: '甘肃省' })),
      el('div', null, el('label', { for: 'city' }, '市'), el('input', { id: 'city', placeholder: '定西市' }))),
    el('div', { class: 'row' }, el('div', null, el('label', { for: 'county' }, '县'), el('input', { id: 'county', placeholder: '岷县' })),
      el('div', null, el('label', { for: 'base' }, '基地或产地'), el('input', { id: 'base', placeholder: '梅川镇' }))),
    el('label', { class: 'check' }, el('input', { type: 'checkbox', id: 'daodi' }), '道地产区'),
    dayField('harvest', '采收日期'),
    el('div', { class: 'row' }, el('div', null, el('label', { for: 'grade' }, '等级'), el('input', { id: 'grade', placeholder: '一等 / 统货' })),
      el('div', null, el('label', { for: 'processing' }, '产地加工'), el('input', { id: 'processing', placeholder: '晒干' }))),
    el('label', { for: 'gtin' }, '商品条码 GTIN（可不填）'), el('input', { id: 'gtin', inputmode: 'numeric', placeholder: '6901234567892' }),
    el('button', { class: 'wide', id: 'ok', onclick: async () => {
      const missing = [['herb-q', '药材'], ['qty', '数量'], ['province', '省'], ['city', '市'], ['county', '县'], ['base', '基地'], ['harvest', '采收日期'], ['grade', '等级'], ['processing', '产地加工']]
        .filter(([id]) => !val(id)).map(([, n]) => n);
      if (!herb) return say('err', '请从目录中选择药材。', ['在“药材”一栏输入中文名或拼音，再点选一项。']);
      if (missing.length) return say('err', '还有没填的：' + missing.join('、'));
      const day = dayOf(val('harvest'));
      if (!day) return say('err', '采收日期不对：没有这一天。', ['请写成 年-月-日，例如 2026-10-12，或连写 20261012。']);
      if (day > today) return say('err', '采收日期在今天之后。', ['请填已经采收的那一天。']);
      const g = qtyOf('qty');
      if (!g) return;
      const id = newCode();
      const f = {
        id, herb: { name_zh: herb.name_zh, latin: herb.latin || '', part: val('part'), ...(herb.category ? { category: herb.category } : {}) },
        form: val('form'),
        origin: { province: val('province'), city: val('city'), county: val('county'), base: val('base'), daodi: $('daodi').checked },
        harvest_date: day, grade: val('grade'), processing: val('processing'), qty_g: g,
      };
      if (val('gtin')) f.gtin = val('gtin').replace(/\s/g, '').padStart(14, '0');
      const fresh = [id];
      const a = await act('batch.register', f, `已登记：${herb.name_zh} ${fmtQty(g)}`, fresh);
      if (a.ok) $('msg').firstChild.append(el('div', { class: 'code', id: 'new-code' }, '追溯码 ' + pretty(fresh[0])),
        el('button', { id: 'print-new', onclick: () => labelPage([fresh[0]]) }, '打印标签'));
    } }, '登记')));
}

// ---- scan: the camera where the browser has a QR detector, else the code typed ------------

function codeFrom(text) {
  const t = String(text).trim();
  const m = /\/b\/([0-9 -]{16,24})(?:[?#]|$)/.exec(t) || /\/10\/([0-9]{16})(?:[?#]|$)/.exec(t);
  const c = (m ? m[1] : t).replace(/[\s-]/g, '');
  return codeOk(c) ? c : null;
}

let stream = null;
function stopCamera() { if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; } }

function scanPage() {
  const camera = 'BarcodeDetector' in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  app().replaceChildren(el('section', { id: 'scan' },
    el('h2', null, ...bi('扫码或输入追溯码', 'Scan a label or type its code')),
    camera ? el('button', { class: 'wide', id: 'camera', onclick: startCamera }, '用相机扫码')
      : el('p', { class: 'muted', id: 'no-camera' }, '这个浏览器不能直接识别二维码：请输入标签上的 16 位追溯码，或用手机相机扫码后打开链接。'),
    el('video', { id: 'video', hidden: true, playsinline: true, muted: true }),
    el('label', { for: 'code' }, '追溯码或标签链接'),
    el('input', { id: 'code', inputmode: 'numeric', placeholder: '2611 2248 3910 5527' }),
    el('button', { class: 'wide', id: 'lookup', onclick: () => lookup(val('code')) }, '查询'),
    el('div', { id: 'found' })));
}

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  } catch (e) {
    return say('err', '打不开相机。', ['请允许本页使用相机，或直接输入追溯码。']);
  }
  const v = $('video');
  v.hidden = false; v.srcObject = stream; await v.play();
  const det = new window.BarcodeDetector({ formats: ['qr_code'] });
  const tick = async () => {
    if (!stream) return;
    const hits = await det.detect(v).catch(() => []);
    if (hits.length) { stopCamera(); v.hidden = true; return lookup(hits[0].rawValue, true); }
    requestAnimationFrame(tick);
  };
  tick();
}

// A label's token, checked against the log key as the phone page checks it: {ok, hash16} (the
// registration hash it binds) or {why}.
async function labelGenuine(text, code) {
  let u;
  try { u = new URL(String(text).trim()); } catch (e) { return { why: 'no_token' }; }
  const digits = u.searchParams.get('n'), token = u.searchParams.get('t');
  if (digits === null && token === null) return { why: 'no_token' };
  try {
    const c = await makeCrypto(cfg.prefix);
    const t = V.parseToken(digits !== null ? V.tokenFromDigits(digits) : token);
    const r = await V.checkToken(c, await V.parseVkey(c, cfg.logKey), code, t);
    return r === 'ok' ? { ok: true, hash16: t.hash16 } : { why: r };
  } catch (e) {
    return { why: 'bad_signature' };
  }
}

// The lot as this tab shows it: its state (status, holder, receiver, what remains) proved under
// a checkpoint this page verified, its witnesses met and fresh; what it is from the proved entry
// that made it (a label's registration hash held to that entry). The server's record only for
// what no proof reaches, marked as its word. Throws, with the reason, when a proof fails.
async function proveLot(code, b, hash16) {
  const c = await makeCrypto(cfg.prefix);
  const vk = await V.parseVkey(c, cfg.logKey);
  const cpr = await getJSON('checkpoint?need=' + (Number(b.created_seq) + 1));
  const cp = await V.verifyCheckpoint(c, vk, cpr.checkpoint);
  const wit = await P.witnessed(c, cp, cpr.checkpoint, cpr);
  if (wit && !wit.met) throw new Error(`见证不足：已由 ${wit.cosigned} 个见证方共同签署（要求 ${wit.required} 个）`);
  if (wit && Date.now() / 1000 - wit.newest > cfg.fresh)
    throw new Error('见证方最近一次确认这份账本已是很久以前：服务器给出的可能是旧的账本状态（例如召回之前的）');
  const [leaf, first] = await Promise.all([P.state(c, cp, code), P.prove(c, cp, cpr.checkpoint, b.created_seq)]);
  const e = first.body;
  const makes = (e.type === 'batch.register' && e.id === code) || (e.type === 'batch.split' && (e.children || []).some((k) => k.id === code)) ||
    (e.type === 'batch.transfer' && e.child === code) || (e.type === 'batch.process' && e.output && e.output.id === code);
  if (!makes) throw new Error(`第 ${b.created_seq} 条记录没有产生这批货`);
  if (hash16 && !V.equal(first.leaf.slice(0, 16), hash16)) throw new Error('标签令牌与该批次的登记记录不符');
  const herb = e.type === 'batch.register' ? e.herb : e.type === 'batch.process' ? e.output.herb : null;
  return { size: cp.size, leaf, herb, origin: e.type === 'batch.register' ? e.origin : null, form: e.type === 'batch.register' ? e.form || '药材' : e.type === 'batch.process' ? e.output.form : null };
}

// `camera`: the text was read from a label in front of the camera, not typed.
async function lookup(text, camera = false) {
  clearMsg();
  const code = codeFrom(text);
  if (!code) return say('err', '这不是有效的追溯码。', ['追溯码是 16 位数字，最后一位是校验位：请逐位核对。'], { code: 'malformed' });
  const lab = await labelGenuine(text, code);
  const genuine = lab.ok ? 'ok' : lab.why;
  if (genuine !== 'ok' && genuine !== 'no_token') {
    $('found').replaceChildren();
    return say('err', '疑似假冒：这张标签不是本账本为这批货签发的。', ['请不要收货或出售，保留标签，并告知市场管理处。'], { code: genuine });
  }
  const a = await getJSON('batches/' + code);
  if (!a.ok) { refused(a); return; }
  const b = a.batch;
  let pv;
  try {
    pv = await proveLot(code, b, lab.hash16);
  } catch (e) {
    $('found').replaceChildren();
    return say('err', '本页未能证明这批货的状态：' + String(e.message || e), ['请勿据此收货或出售；稍后再扫，或打开验证页查看。'], { code: 'unverified' });
  }
  const st = pv.leaf, to = st.to === '-' ? null : st.to;
  const mine = st.holder === S.actor.id, toMe = to === S.actor.id;
  // a signed scan (this stall is a place the lot was seen) only for a genuine label read by the
  // camera: a typed code is no sighting of the goods, and must not count against their holder
  if (camera && genuine === 'ok') {
    const body = JSON.stringify({ v: 1, type: 'scan', id: code, at: rfc3339(now()), nonce: K.b64url(crypto.getRandomValues(new Uint8Array(16))) });
    K.sign(cfg.prefix, S.rec, te.encode(`tcmtrace/scan/v2\n${LEDGER}\n` + body)).then((sig) => fetch(api('scans'), {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: code, actor: K.b64(S.rec.pub), sig: K.b64(sig), body }),
    })).catch(() => {});
  }
  // status, holder, receiver and what remains from the proved leaf; the herb and origin from the
  // proved entry that made the lot where it names them, else the server's word, said so
  const word = !pv.herb;
  const summary = { id: b.id, herb: (pv.herb || b.herb).name_zh, form: pv.form || b.form, status: st.status, holder: st.holder, pending_to: to,
    remaining_g: st.remaining_g, registered_g: b.qty.registered, province: (pv.origin || b.origin).province, county: (pv.origin || b.origin).county };
  $('found').replaceChildren(
    lotCard(summary, toMe ? 'incoming' : mine && to ? 'outgoing' : mine ? 'held' : 'other'),
    el('div', { class: 'muted', id: 'state-proved', 'data-size': pv.size, 'data-status': st.status },
      `状态、持有人和剩余量已在本机核验（第 ${pv.size} 条记录时）。` + (word ? '品名和产地是服务器的记录。' : '')),
    el('div', { class: 'muted' }, mine || toMe ? '' : `这批货在 ${st.holder} 名下。`),
    el('div', { class: 'muted', id: 'label-check' }, genuine === 'ok' ? '标签签名有效（已在本机核对）。'
      : '输入的追溯码不能证明手上的标签是真的：请用相机扫码，或打开验证页。'),
    el('a', { class: 'button plain', href: `${cfg.prefix}/b/${code}` }, '查看完整来源和验证'));
}

window.addEventListener('pagehide', stopCamera);
start().catch((e) => { say('err', '页面出错了。', [String(e.message || e)]); document.body.dataset.ready = 'error'; });
