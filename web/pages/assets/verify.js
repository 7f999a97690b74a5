// verify.js: pure checks over bytes, as the C verifier makes them (docs/formats.md,
// "The ledger", "QR labels"): signed notes and checkpoints, label tokens,
// entries and their signatures, RFC 9162 inclusion proofs. `c` is the
// crypto of crypto.js; nothing here fetches.

const te = new TextEncoder();

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function unb64(s, url = false) {
  let t = url ? s.replace(/-/g, '+').replace(/_/g, '/') : s;
  while (t.length % 4) t += '=';
  const bin = atob(t);
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

export const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

// name+hexid+base64(type || key): the C2SP signed-note verifier key (type 0x01), or a
// witness's cosigner key (type 0x04, C2SP tlog-cosignature)
export async function parseVkey(c, vkey, type = 1) {
  const first = vkey.indexOf('+'), second = vkey.indexOf('+', first + 1);
  const name = vkey.slice(0, first), id = vkey.slice(first + 1, second);
  const raw = unb64(vkey.slice(second + 1));
  if (raw.length !== 33 || raw[0] !== type) throw new Error(type === 1 ? 'not an Ed25519 verifier key' : 'not an Ed25519 cosigner key');
  const keyId = (await c.sha256(concat(te.encode(name + '\n'), raw))).slice(0, 4);
  if (toHex(keyId) !== id) throw new Error('the verifier key ID does not match its key');
  return { name, keyId, pub: raw.slice(1) };
}

// A checkpoint, once its signature by vk verifies: {origin, size, root, text}
export async function verifyCheckpoint(c, vk, note) {
  const cut = note.indexOf('\n\n');
  if (cut < 0) throw new Error('a checkpoint without signatures');
  const text = note.slice(0, cut + 1);
  let good = false;
  for (const line of note.slice(cut + 2).split('\n')) {
    if (!line.startsWith('\u2014 ')) continue;
    const sp = line.lastIndexOf(' ');
    if (line.slice(2, sp) !== vk.name) continue;
    const blob = unb64(line.slice(sp + 1));
    if (blob.length === 68 && equal(blob.slice(0, 4), vk.keyId))
      good = good || (await c.verify(vk.pub, blob.slice(4), te.encode(text)));
  }
  if (!good) throw new Error('the checkpoint is not signed by this ledger\'s log key');
  const [origin, size, root, ...ext] = text.split('\n');
  if (origin !== vk.name) throw new Error('the checkpoint is of another log');
  // the state map's root at this size (docs/statemap.md): one extension line, or none
  const lines = ext.filter((l) => l.startsWith('tcmtrace-state '));
  if (lines.length > 1) throw new Error('the checkpoint has two state map lines');
  const state = lines.length ? unb64(lines[0].slice(15)) : null;
  if (state && state.length !== 32) throw new Error('the checkpoint\'s state map root is not 32 bytes');
  return { origin, size: Number(size), root: unb64(root), state, text };
}

// ---- the state map (docs/statemap.md) ----
const bitOf = (key, i) => (key[i >> 3] >> (7 - (i & 7))) & 1;
const ZERO = new Uint8Array(32);

// Does `proof` (its wire bytes) prove lot `code` has leaf text `leaf` (a string), or with leaf
// null that it is absent, under state map root `root`? Strict, as the C decoder is.
export async function stateHolds(c, root, code, proof, leaf) {
  if (proof.length < 2 || proof[0] > 2) return false;
  const kind = proof[0], depth = proof[1], maplen = (depth + 7) >> 3;
  if ((leaf === null) === (kind === 0)) return false;
  let n = 2 + maplen;
  if (proof.length < n || (depth % 8 && proof[n - 1] & (0xff >> (depth % 8)))) return false;
  const sibs = [];
  for (let i = 0; i < depth; i++) {
    if (proof[2 + (i >> 3)] & (0x80 >> (i & 7))) {
      const s = proof.slice(n, n + 32);
      if (s.length !== 32 || equal(s, ZERO)) return false;
      sibs.push(s);
      n += 32;
    } else sibs.push(ZERO);
  }
  const key = await c.sha256(te.encode(code));
  let h;
  if (kind === 0) h = await c.sha256(concat(Uint8Array.of(0), key, await c.sha256(te.encode(leaf))));
  else if (kind === 1) {
    const okey = proof.slice(n, n + 32), ovh = proof.slice(n + 32, n + 64);
    n += 64;
    if (ovh.length !== 32 || equal(okey, key)) return false;
    for (let i = 0; i < depth; i++) if (bitOf(okey, i) !== bitOf(key, i)) return false;
    h = await c.sha256(concat(Uint8Array.of(0), okey, ovh));
  } else h = ZERO;
  if (n !== proof.length) return false;
  for (let i = depth - 1; i >= 0; i--)
    h = await c.sha256(bitOf(key, i) ? concat(Uint8Array.of(1), sibs[i], h) : concat(Uint8Array.of(1), h, sibs[i]));
  return equal(h, root);
}

// A leaf text read back: {status, holder, to, remaining_g, verdict, last}, or an error.
export function parseLeaf(text) {
  const lines = text.split('\n');
  const names = ['status', 'holder', 'to', 'remaining_g', 'verdict', 'last'];
  if (lines[0] !== 'tcmtrace-state/v1' || lines.length !== 8 || lines[7] !== '') throw new Error('the state leaf is not tcmtrace-state/v1');
  const out = {};
  names.forEach((k, i) => {
    const sp = lines[i + 1].indexOf(' ');
    if (lines[i + 1].slice(0, sp) !== k || sp < 0) throw new Error('the state leaf\'s lines are not the six it must have');
    out[k] = lines[i + 1].slice(sp + 1);
  });
  if (!/^-?\d+$/.test(out.remaining_g) || !/^\d+$/.test(out.last)) throw new Error('the state leaf\'s numbers are not decimal');
  out.remaining_g = Number(out.remaining_g);
  out.last = Number(out.last);
  return out;
}

// The token of a label: key ID, the code it was made for, 16 bytes of the
// registration entry's hash, and the log key's signature.
// A label gives it as ?t=<base64url> or, for a smaller QR symbol, ?n=<the 91 bytes as 220 digits>.
export function tokenFromDigits(d) {
  if (!/^[0-9]{220}$/.test(d)) throw new Error('the token is not 220 digits');
  let v = BigInt(d);
  const raw = new Uint8Array(91);
  for (let i = 90; i >= 0; i--, v >>= 8n) raw[i] = Number(v & 255n);
  if (v !== 0n) throw new Error('the token digits hold more than 91 bytes');
  return raw;
}

export function parseToken(token) {
  const raw = token instanceof Uint8Array ? token : unb64(token, true);
  if (raw.length !== 91) throw new Error('the token is not 91 bytes');
  let code = 0n;
  for (let i = 4; i < 11; i++) code = (code << 8n) | BigInt(raw[i]);
  return { keyId: raw.slice(0, 4), code: code.toString().padStart(16, '0'), hash16: raw.slice(11, 27), sig: raw.slice(27) };
}

// 'ok', 'other_ledger', 'code_mismatch' or 'bad_signature'
export async function checkToken(c, vk, code, t) {
  if (!equal(t.keyId, vk.keyId)) return 'other_ledger';
  if (t.code !== code) return 'code_mismatch';
  const msg = concat(te.encode('tcmtrace/label/v1\n' + vk.name + '\n' + code + '\n'), t.hash16);
  return (await c.verify(vk.pub, t.sig, msg)) ? 'ok' : 'bad_signature';
}

const u64 = (b, o) => b.slice(o, o + 8).reduce((n, x) => n * 256 + x, 0);

export function decodeEntry(b) {
  if (b.length < 149 || b[0] !== 1) throw new Error('not an entry');
  const len = ((b[145] << 24) | (b[146] << 16) | (b[147] << 8) | b[148]) >>> 0;
  if (149 + len !== b.length) throw new Error('an entry of the wrong length');
  return { seq: u64(b, 1), time_ms: u64(b, 9), prev: b.slice(17, 49), actor: b.slice(49, 81), sig: b.slice(81, 145), body: b.slice(149) };
}

export const leafHash = (c, entry) => c.sha256(concat(Uint8Array.of(0), entry));
const nodeHash = (c, l, r) => c.sha256(concat(Uint8Array.of(1), l, r));

// An event names the ledger it is for (docs/formats.md, "Events name their ledger"): signed
// over "tcmtrace/event/v2\n" || origin || "\n" || body. `legacy`: the ledger's genesis is
// signed v1 (a ledger made before), so a v1 signature is taken as well.
export async function eventSigned(c, e, origin, legacy = false) {
  if (await c.verify(e.actor, e.sig, concat(te.encode(`tcmtrace/event/v2\n${origin}\n`), e.body))) return true;
  return legacy && c.verify(e.actor, e.sig, concat(te.encode('tcmtrace/event/v1\n'), e.body));
}

// RFC 9162 2.1.3.2: does `proof` take leaf `index` of a tree of `size` to `root`?
export async function inclusionHolds(c, index, size, leaf, proof, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(c, p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(c, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// A c2sp.org/tlog-proof bundle: {entry bytes, index, proof, checkpoint note}
export function parseBundle(text) {
  const lines = text.split('\n');
  if (lines[0] !== 'c2sp.org/tlog-proof@v1' || !lines[1].startsWith('extra ') || !lines[2].startsWith('index '))
    throw new Error('not a tlog-proof bundle');
  const proof = [];
  let i = 3;
  for (; lines[i]; i++) proof.push(unb64(lines[i]));
  return { entry: unb64(lines[1].slice(6)), index: Number(lines[2].slice(6)), proof, note: lines.slice(i + 1).join('\n') };
}

// A witness policy (docs/peers.md), read as core/policy.c reads it:
// {witnesses: [{label, vkey}], groups: {label: {k, members}}, quorum: label or null}.
export function parsePolicy(text) {
  const witnesses = [], groups = {}, defined = new Set();
  let quorum = null, quorums = 0;
  for (const raw of text.split('\n')) {
    const w = raw.replace(/#.*/, '').split(/[ \t\r]+/).filter(Boolean);
    if (!w.length) continue;
    if (w[0] === 'witness' && (w.length === 3 || w.length === 4) && !defined.has(w[1])) {
      witnesses.push({ label: w[1], vkey: w[2] });
      defined.add(w[1]);
    } else if (w[0] === 'group' && w.length >= 4 && !defined.has(w[1])) {
      const members = w.slice(3);
      if (!members.every((m) => defined.has(m)) || new Set(members).size !== members.length) throw new Error('a policy group names a label not defined above it');
      const k = w[2] === 'all' ? members.length : w[2] === 'any' ? 1 : /^[1-9][0-9]*$/.test(w[2]) ? Number(w[2]) : 0;
      if (k < 1 || k > members.length) throw new Error('a policy group\'s threshold is out of range');
      groups[w[1]] = { k, members };
      defined.add(w[1]);
    } else if (w[0] === 'quorum' && w.length === 2 && ++quorums === 1) {
      if (w[1] !== 'none' && !defined.has(w[1])) throw new Error('the policy\'s quorum is not defined');
      quorum = w[1] === 'none' ? null : w[1];
    } else throw new Error('the witness policy does not parse');
  }
  if (witnesses.length && !quorums) throw new Error('the witness policy has no quorum');
  return { witnesses, groups, quorum };
}

// Which of the policy's witnesses cosigned the checkpoint note (cosignature/v1 over
// "cosignature/v1\ntime T\n" || its text), and whether the quorum is met:
// {cosigned, required, met}. A witness's cosignature that does not verify is an error.
export async function checkWitnesses(c, policy, note) {
  const cut = note.indexOf('\n\n');
  const text = note.slice(0, cut + 1);
  const yes = new Set();
  let newest = 0; // the time (s) of the newest cosignature verified
  const keys = await Promise.all(policy.witnesses.map((w) => parseVkey(c, w.vkey, 4)));
  for (const line of note.slice(cut + 2).split('\n')) {
    if (!line.startsWith('\u2014 ')) continue;
    const sp = line.lastIndexOf(' ');
    const name = line.slice(2, sp), blob = unb64(line.slice(sp + 1));
    for (let i = 0; i < keys.length; i++) {
      if (keys[i].name !== name || !equal(blob.slice(0, 4), keys[i].keyId)) continue;
      const ts = blob.length === 76 ? u64(blob, 4) : 0;
      const msg = concat(te.encode(`cosignature/v1\ntime ${ts}\n`), te.encode(text));
      if (blob.length !== 76 || ts === 0 || !(await c.verify(keys[i].pub, blob.slice(12), msg))) throw new Error(`witness ${policy.witnesses[i].label}'s cosignature does not verify`);
      yes.add(policy.witnesses[i].label);
      newest = Math.max(newest, ts);
    }
  }
  const met = (label) => (policy.groups[label] ? policy.groups[label].members.filter(met).length >= policy.groups[label].k : yes.has(label));
  const least = (label) => {
    const g = policy.groups[label];
    if (!g) return 1;
    return g.members.map(least).sort((a, z) => a - z).slice(0, g.k).reduce((n, x) => n + x, 0);
  };
  return { cosigned: yes.size, required: policy.quorum ? least(policy.quorum) : 0, met: policy.quorum ? met(policy.quorum) : true, newest };
}
