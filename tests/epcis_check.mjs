// epcis_check.mjs: what a receiving system checks of a tcmtrace EPCIS export.
//
//   node tests/epcis_check.mjs --doc FILE --vkey FILE --web URL --base BASE_URL [--all-types]
//
// 1. The document is valid against GS1's EPCIS 2.0 JSON Schema (ajv +
//    ajv-formats), after the validator itself is shown to accept GS1's own
//    examples and to refuse each of them broken.
// 2. Every event is tied back to its ledger entry and verified, with
//    nothing of tcmtrace's code: the entry's leaf hash is tcmtrace:entryHash,
//    its seq is tcmtrace:seq, its body is signed by its actor's key, the
//    eventID is the one derived from the entry, and the entry is in the log:
//    an RFC 9162 inclusion proof (the tlog-proof bundle at tcmtrace:proof,
//    fetched from --web in place of BASE_URL) up to a checkpoint signed by
//    the log key in --vkey.
// 3. What the event says is what the entry says: type, bizStep,
//    disposition and action by event type (docs/epcis.md), eventTime, the
//    lots it names and their quantities in kg.
// --all-types: every batch.* event type must appear.
// Prints "pass ..." / "FAIL ..." and "epcis: N passed, N failed".

import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--all-types') args.allTypes = true;
  else args[a.slice(2)] = process.argv[++i];
}
let passed = 0, failed = 0;
const pass = (n) => { passed++; console.log('pass ' + n); };
const fail = (n, why) => { failed++; console.log('FAIL ' + n + (why ? '\n    ' + why : '')); };
const check = (n, ok, why) => (ok ? pass(n) : fail(n, why));

// ---- 1. the schema, and the validator proved on GS1's own examples -------------------------
const here = new URL('./epcis/', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('EPCIS-JSON-Schema.json', here)));
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);
for (const ex of ['Example_9.6.1-ObjectEvent.jsonld', 'Example_9.6.4-TransformationEvent.jsonld', 'SensorDataExample1.jsonld']) {
  const doc = JSON.parse(readFileSync(new URL(ex, here)));
  // GS1's examples name the document by the blank node "_:document1", which
  // the schema's format "uri" refuses; they get a URN in its place.
  doc.id = 'urn:uuid:6d2e1a40-1b7c-4d3e-9a51-0c8f2b7e4a10';
  check(`the validator accepts GS1's ${ex}`, validate(doc), JSON.stringify(validate.errors?.slice(0, 2)));
  const broken = structuredClone(doc);
  delete broken.epcisBody.eventList[0].eventTime;
  check(`and refuses it without an eventTime`, !validate(broken));
}

const doc = JSON.parse(readFileSync(args.doc, 'utf8'));
const valid = validate(doc);
check(`the export is valid against EPCIS-JSON-Schema.json (${doc.type})`, valid,
  JSON.stringify(validate.errors?.slice(0, 3), null, 1));
const events = doc.type === 'EPCISQueryDocument'
  ? doc.epcisBody.queryResults.resultsBody.eventList : doc.epcisBody.eventList;
check(`it holds events (${events.length})`, events.length > 0);
const ns = args.base + '/ns/epcis#';
check('its @context names GS1\'s context and the ledger\'s namespace',
  Array.isArray(doc['@context']) && doc['@context'].some((c) => c?.tcmtrace === ns)
  && doc['@context'].includes('https://ref.gs1.org/standards/epcis/epcis-context.jsonld'));

// ---- 2. each event's entry, verified without tcmtrace ------------------------------------
const sha256 = (...parts) => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest(); };
const edKey = (raw) => createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
const vkeyText = readFileSync(args.vkey, 'utf8').trim();
const p1 = vkeyText.indexOf('+'), p2 = vkeyText.indexOf('+', p1 + 1); // base64 may hold '+'
const vName = vkeyText.slice(0, p1), vId = vkeyText.slice(p1 + 1, p2), vB64 = vkeyText.slice(p2 + 1);
const vRaw = Buffer.from(vB64, 'base64');
const logKey = edKey(vRaw.subarray(1));
check('the log key is a well-formed verifier key', vRaw.length === 33 && vRaw[0] === 1
  && sha256(Buffer.from(vName + '\n'), vRaw).subarray(0, 4).toString('hex') === vId);

function checkpointOk(note) {
  const cut = note.indexOf('\n\n');
  const text = note.slice(0, cut + 1);
  for (const line of note.slice(cut + 2).split('\n')) {
    if (!line.startsWith('\u2014 ' + vName + ' ')) continue;
    const blob = Buffer.from(line.slice(line.lastIndexOf(' ') + 1), 'base64');
    if (blob.length === 68 && blob.subarray(0, 4).toString('hex') === vId
        && edVerify(null, Buffer.from(text), logKey, blob.subarray(4)))
      return text.split('\n');
  }
  return null;
}

function inclusion(index, size, leaf, proof, root) { // RFC 9162 2.1.3.2
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.of(1), p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else r = sha256(Buffer.of(1), r, p);
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && r.equals(root);
}

const seen = new Map(); // seq -> events of that entry so far
const types = new Set();
const bundles = new Map();
let tied = 0, included = 0, mapped = 0;
const problems = [];
const steps = {
  'batch.register': ['ObjectEvent', 'ADD', 'commissioning', 'active'],
  'batch.transfer': ['ObjectEvent', 'OBSERVE', 'shipping', 'in_transit'],
  'batch.receive': ['ObjectEvent', 'OBSERVE', 'receiving', 'in_progress'],
  'batch.reject': ['ObjectEvent', 'OBSERVE', 'receiving', 'returned'],
  'batch.cancel': ['ObjectEvent', 'OBSERVE', 'void_shipping', 'in_progress'],
  'batch.split': ['TransformationEvent', undefined, 'repackaging', 'active'],
  'batch.process': ['TransformationEvent', undefined, 'commissioning', 'active'],
  'batch.inspect': ['ObjectEvent', 'OBSERVE', 'inspecting', null],
  'batch.hold': ['ObjectEvent', 'OBSERVE', 'holding', 'non_sellable_other'],
  'batch.release': ['ObjectEvent', 'OBSERVE', ns + 'releasing', 'active'],
  'batch.recall': ['ObjectEvent', 'OBSERVE', ns + 'recalling', 'recalled'],
  'batch.sell': ['ObjectEvent', 'OBSERVE', 'retail_selling', 'retail_sold'],
  'batch.destroy': ['ObjectEvent', 'DELETE', 'destroying', 'destroyed'],
  'batch.review': ['ObjectEvent', 'OBSERVE', ns + 'reviewing', null],
  'actor.succeed': ['ObjectEvent', 'OBSERVE', ns + 'succeeding', null],
};
const lotCode = (uri) => {
  const m = uri.startsWith(args.base) && uri.slice(args.base.length).match(/^\/(?:b\/|01\/(\d{14})\/10\/)(\d{16})$/);
  return m ? m[2] : null;
};
const gtinOk = (g) => { let s = 0; for (let i = 0; i < 13; i++) s += +g[i] * (i % 2 ? 1 : 3); return (10 - (s % 10)) % 10 === +g[13]; };

for (const ev of events) {
  const seq = ev['tcmtrace:seq'];
  const entry = Buffer.from(ev['tcmtrace:entry'] || '', 'base64');
  const bad = (why) => problems.push(`#${seq} ${ev.eventID}: ${why}`);
  if (entry.length < 149 || entry[0] !== 1) { bad('no entry'); continue; }
  const eSeq = Number(entry.readBigUInt64BE(1)), actor = entry.subarray(49, 81), sig = entry.subarray(81, 145);
  const body = entry.subarray(149), leaf = sha256(Buffer.of(0), entry);
  // the idx-th event of its entry: a part sent off is a TransformationEvent (0), then its shipping (1)
  let b0 = {};
  try { b0 = JSON.parse(entry.subarray(149).toString('utf8')); } catch { /* told below */ }
  const idx = b0.type === 'batch.transfer' && b0.child && ev.type === 'ObjectEvent' ? 1 : 0;
  seen.set(seq, (seen.get(seq) || 0) + 1);
  const d = sha256(Buffer.from('tcmtrace/epcis/v1\n'), leaf, Buffer.of(idx));
  d[6] = (d[6] & 0x0f) | 0x80; d[8] = (d[8] & 0x3f) | 0x80;
  const h = d.subarray(0, 16).toString('hex');
  const id = `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  if (eSeq !== seq) bad(`the entry is #${eSeq}`);
  else if (leaf.toString('hex') !== ev['tcmtrace:entryHash']) bad('entryHash is not the entry\'s leaf hash');
  else if (ev.eventID !== id) bad(`eventID ${ev.eventID} is not derived from the entry (${id})`);
  // the event names its ledger (docs/formats.md): signed over "tcmtrace/event/v2\n" origin "\n" body
  else if (!edVerify(null, Buffer.concat([Buffer.from(`tcmtrace/event/v2\n${vName}\n`), body]), edKey(actor), sig)) bad('the body\'s signature does not verify for this ledger');
  else tied++;

  // in the log: the tlog-proof bundle the event points to
  const url = ev['tcmtrace:proof'];
  if (!bundles.has(seq)) {
    const r = await fetch(url.replace(args.base, args.web));
    bundles.set(seq, r.ok ? await r.text() : '');
  }
  const lines = bundles.get(seq).split('\n');
  const proof = [];
  let i = 3;
  for (; lines[i]; i++) proof.push(Buffer.from(lines[i], 'base64'));
  const cp = lines.length > 4 ? checkpointOk(lines.slice(i + 1).join('\n')) : null;
  if (lines[0] !== 'c2sp.org/tlog-proof@v1' || !Buffer.from(lines[1].slice(6), 'base64').equals(entry)) bad('its proof bundle is not of this entry');
  else if (!cp || cp[0] !== vName) bad('the bundle\'s checkpoint is not signed by the log key');
  else if (!inclusion(seq, Number(cp[1]), leaf, proof, Buffer.from(cp[2], 'base64'))) bad('the inclusion proof does not hold');
  else included++;

  // ---- 3. the event says what the entry says
  let b;
  try { b = JSON.parse(body.toString('utf8')); } catch { bad('the body is not JSON'); continue; }
  types.add(b.type);
  const want = steps[b.type];
  const lists = ['quantityList', 'inputQuantityList', 'outputQuantityList'].flatMap((k) => ev[k] || []);
  const named = new Map(lists.map((q) => [lotCode(q.epcClass), q]));
  const partOf = b.type === 'batch.transfer' && b.child && ev.type === 'TransformationEvent';
  if (!want) bad(`a ${b.type} entry has no EPCIS event`);
  else if (ev['tcmtrace:eventType'] !== b.type) bad('tcmtrace:eventType is not the body\'s type');
  else if (ev.eventTime !== b.at) bad('eventTime is not the body\'s "at"');
  else if (!partOf && (ev.type !== want[0] || ev.action !== want[1] || ev.bizStep !== want[2]
      || (want[3] !== null && ev.disposition !== want[3]))) bad(`${b.type} maps to ${ev.type}/${ev.action}/${ev.bizStep}/${ev.disposition}`);
  else if (b.type === 'batch.inspect' && !(['conformant', 'non_conformant'].includes(ev.disposition)
      || (ev.disposition === 'unknown' && ev['tcmtrace:verdict'] === 'no_limit'))) bad('an inspection without a verdict');
  else if (b.type === 'batch.inspect' && (ev.disposition === 'non_conformant') !== (ev['tcmtrace:verdict'] === 'fail')) bad('the disposition is not the verdict');
  else if (b.type === 'batch.inspect' && ev.sensorElementList[0].sensorReport.length !== b.results.length) bad('not every measured value is reported');
  else if (b.type === 'batch.inspect' && ev.sensorElementList[0].sensorReport.some((r, k) => r['tcmtrace:value'] !== b.results[k].value || r.value !== Number(b.results[k].value))) bad('a measured value differs');
  else if (lists.some((q) => !lotCode(q.epcClass))) bad('a lot is named by a URI outside the ledger');
  else if (lists.some((q) => q.epcClass.includes('/01/') && !gtinOk(q.epcClass.split('/01/')[1].slice(0, 14)))) bad('a Digital Link URI with a wrong GTIN check digit');
  else {
    const expect = [];
    if (b.type === 'batch.process') { for (const p of b.inputs) expect.push([p.id, p.qty_g]); expect.push([b.output.id, b.output.qty_g]); }
    else if (b.type === 'batch.split') { for (const p of b.children) expect.push([p.id, p.qty_g]); expect.push([b.id, b.children.reduce((n, p) => n + p.qty_g, 0)]); }
    else if (b.type === 'batch.transfer') expect.push([ev.type === 'TransformationEvent' || !b.child ? b.id : b.child, b.qty_g]);
    else if (b.type === 'actor.succeed') for (const code of b.lots) expect.push([code, undefined]);
    else expect.push([b.id, ['batch.register', 'batch.sell'].includes(b.type) ? b.qty_g : undefined]);
    const miss = expect.find(([code, g]) => !named.has(code) || (g !== undefined && Math.round(named.get(code).quantity * 1000) !== g || (g !== undefined && named.get(code).uom !== 'KGM')));
    if (miss) bad(`lot ${miss[0]} (${miss[1]} g) is not named as the entry says`);
    else mapped++;
  }
}
check(`every event is its entry's: hash, seq, eventID and signature (${tied}/${events.length})`, tied === events.length, problems.slice(0, 5).join('\n    '));
check(`every entry is in the log under a checkpoint signed by the log key (${included}/${events.length})`, included === events.length, problems.slice(0, 5).join('\n    '));
check(`every event says what its entry says (${mapped}/${events.length})`, mapped === events.length, problems.slice(0, 5).join('\n    '));
const ids = new Set(events.map((e) => e.eventID));
check('no two events share an eventID', ids.size === events.length);
if (args.allTypes) {
  const missing = Object.keys(steps).filter((t) => !types.has(t));
  check(`every event type appears (${types.size} of ${Object.keys(steps).length})`, missing.length === 0, 'missing: ' + missing.join(' '));
}
console.log(`epcis: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
