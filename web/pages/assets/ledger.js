/*
 * ledger.js: what a page proves of the ledger it was served by, shared by the phone page
 * (app.js) and the stall page (stall.js): one entry by its seq (its signature and inclusion in
 * a verified checkpoint), the witness policy and its cosignatures, and a lot's state leaf
 * under that checkpoint's state map root (docs/statemap.md).
 */
import * as v from './verify.js';

const td = new TextDecoder();

export async function pool(items, n, fn) {
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

export function prover(prefix) {
  const api = (p) => prefix + '/api/v1/' + p;
  // Whether this ledger was made before events named their ledger: its genesis, proved, is
  // signed v1. Only then is a v1 signature taken. Asked once, and only when a v2 one fails.
  let legacy = null;
  function legacyLedger(c, cp, cpNote) {
    legacy ??= (async () => {
      const r = await fetch(api(`entries/0/proof?size=${cp.size}`), { cache: 'no-store' });
      const bundle = v.parseBundle(await r.text());
      const entry = v.decodeEntry(bundle.entry), leaf = await v.leafHash(c, bundle.entry);
      return bundle.note === cpNote && bundle.index === 0 && entry.seq === 0 && (await v.inclusionHolds(c, 0, cp.size, leaf, bundle.proof, cp.root)) &&
        JSON.parse(td.decode(entry.body)).type === 'ledger.genesis' && !(await v.eventSigned(c, entry, cp.origin)) && (await v.eventSigned(c, entry, cp.origin, true));
    })().catch(() => false);
    return legacy;
  }

  // One entry, by its seq, proved against the verified checkpoint: its signature by its
  // actor and its inclusion. Throws when either does not hold.
  async function prove(c, cp, cpNote, seq) {
    const r = await fetch(api(`entries/${seq}/proof?size=${cp.size}`), { cache: 'no-store' });
    const bundle = v.parseBundle(await r.text());
    // the same checkpoint: its text (cosignatures may have been added in between)
    if (bundle.note.slice(0, bundle.note.indexOf('\n\n') + 1) !== cpNote.slice(0, cpNote.indexOf('\n\n') + 1) || bundle.index !== seq) throw new Error(`第 ${seq} 条记录的证明不属于已验证的检查点 (entry ${seq}: another checkpoint)`);
    const entry = v.decodeEntry(bundle.entry);
    const leaf = await v.leafHash(c, bundle.entry);
    const signed = (await v.eventSigned(c, entry, cp.origin)) || (seq !== 0 && (await legacyLedger(c, cp, cpNote)) && (await v.eventSigned(c, entry, cp.origin, true)));
    if (entry.seq !== seq || !signed || !(await v.inclusionHolds(c, seq, cp.size, leaf, bundle.proof, cp.root)))
      throw new Error(`第 ${seq} 条记录的签名或默克尔证明不成立 (entry ${seq} does not verify)`);
    return { seq, leaf, entry, body: JSON.parse(td.decode(entry.body)) };
  }

  // The ledger's witness policy, checked here: its entry proved and signed by an authority of
  // the proved genesis, the checkpoint's cosignatures verified against it. null when the
  // ledger has none (and this phone never saw one); {cosigned, required, met} otherwise.
  async function witnessed(c, cp, cpNote, answer) {
    const pinKey = 'tcmtrace.policy.' + cp.origin;
    let pinned = 0;
    try { pinned = Number(localStorage.getItem(pinKey) || 0); } catch { pinned = 0; }
    const w = answer.witnesses;
    if (!w) {
      if (pinned) throw new Error(`服务器未给出本机曾见过的见证策略（第 ${pinned} 条记录）(the server hides the witness policy this phone saw)`);
      return null;
    }
    if (w.seq < pinned) throw new Error('服务器给出的见证策略比本机见过的旧 (an older witness policy than this phone saw)');
    const [pe, genesis] = await Promise.all([prove(c, cp, cpNote, w.seq), prove(c, cp, cpNote, 0)]);
    const authorities = (genesis.body.authorities || []).map((a) => a.key);
    if (pe.body.type !== 'ledger.witnesses' || pe.body.policy !== w.policy || !authorities.includes(btoa(String.fromCharCode(...pe.entry.actor))))
      throw new Error(`第 ${w.seq} 条记录不是市场管理方发布的这份见证策略 (entry ${w.seq} is not an authority's witness policy)`);
    const r = await v.checkWitnesses(c, v.parsePolicy(w.policy), cpNote);
    if (r.met) try { localStorage.setItem(pinKey, String(w.seq)); } catch { /* private mode: no pin */ }
    return r;
  }

  // A lot's state under the verified checkpoint cp: its leaf proved against cp's state map root,
  // parsed (docs/statemap.md). Throws when the checkpoint has no root or the proof fails.
  async function state(c, cp, code) {
    if (!cp.state) throw new Error('检查点没有状态根，无法证明这批货现在的状态 (the checkpoint carries no state map root)');
    const r = await fetch(api(`batches/${code}/state?size=${cp.size}`), { cache: 'no-store' });
    const a = r.ok ? await r.json() : null;
    if (!a || !a.ok || a.size !== cp.size || typeof a.leaf !== 'string')
      throw new Error(`批次 ${code} 没有已验证检查点下的状态证明 (lot ${code}: no state proof at size ${cp.size})`);
    if (!(await v.stateHolds(c, cp.state, code, v.unb64(a.proof), a.leaf)))
      throw new Error(`批次 ${code} 的状态证明不成立 (lot ${code}: the state proof does not verify)`);
    return v.parseLeaf(a.leaf);
  }

  return { prove, witnessed, state };
}
