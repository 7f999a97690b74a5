// stallkey.js: the stall's Ed25519 key, made and kept in this browser.
//
// The key is made from 32 random bytes (crypto.getRandomValues). At once the
// seed is sealed with the trader's passphrase in the CLI's own key-file
// format (docs/formats.md "Key files": Argon2id, then XChaCha20-Poly1305 with
// the first line and the public key as associated data), so the backup opens
// with `tcmtrace key show` and signs with the CLI. Then the seed is imported
// into WebCrypto as a non-extractable Ed25519 key and kept in IndexedDB; the
// page never holds it again. A browser without Ed25519 in WebCrypto keeps the
// seed wrapped by a non-extractable AES-GCM key instead and signs with the
// audited @noble/ed25519. Without WebCrypto at all (a page over plain HTTP
// from another machine) no key is made: the page says it needs HTTPS.
//
// Argon2id is @noble/hashes' and XChaCha20-Poly1305 @noble/ciphers' (npm,
// pinned in web/package-lock.json), served by tcmtrace-web itself.

const MAGIC = 'tcmtrace secret key v1';
const PKCS8_ED25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
// libsodium's crypto_pwhash_OPSLIMIT_INTERACTIVE and MEMLIMIT_INTERACTIVE, as `tcmtrace key new`
const OPSLIMIT = 2, MEMLIMIT = 67108864;
const te = new TextEncoder();

export const b64 = (u8) => btoa(String.fromCharCode(...u8));
export const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
export const b64url = (u8) => b64(u8).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

// A public key's check for people to read back (docs/formats.md "Key checks"; the CLI's
// tt_key_check): five groups of four digits from SHA-256("tcmtrace/keycheck/v1\n" || pub).
export async function keyCheck(pub) {
  const m = new Uint8Array(21 + 32);
  m.set(te.encode('tcmtrace/keycheck/v1\n'));
  m.set(pub, 21);
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', m));
  const g = [];
  for (let i = 0; i < 5; i++) g.push(String(((h[3 * i] << 16) | (h[3 * i + 1] << 8) | h[3 * i + 2]) % 10000).padStart(4, '0'));
  return g.join(' ');
}

export class KeyError extends Error {
  constructor(code, zh, en) { super(en); this.code = code; this.zh = zh; }
}

// What this browser can do: 'webcrypto' (Ed25519 in WebCrypto), 'wrapped'
// (AES-GCM only: @noble signs), or null (no WebCrypto: not a secure context).
export async function capability() {
  const subtle = globalThis.isSecureContext && globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) return null;
  try {
    await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    return 'webcrypto';
  } catch (e) {
    return 'wrapped';
  }
}

let nobleMods = null;
async function noble(prefix) {
  if (!nobleMods) {
    const [ed, sha2, argon2, chacha] = await Promise.all([
      import(prefix + '/assets/noble/ed25519.js'),
      import(prefix + '/assets/noble/hashes/sha2.js'),
      import(prefix + '/assets/noble/hashes/argon2.js'),
      import(prefix + '/assets/noble/ciphers/chacha.js'),
    ]);
    ed.hashes.sha512 = sha2.sha512;
    nobleMods = { ed, sha256: sha2.sha256, argon2, chacha };
  }
  return nobleMods;
}

const ad = (pub) => { const a = new Uint8Array(MAGIC.length + 32); a.set(te.encode(MAGIC)); a.set(pub, MAGIC.length); return a; };

async function stretch(prefix, pass, salt, ops, mem, progress) {
  const { argon2 } = await noble(prefix);
  return argon2.argon2idAsync(te.encode(pass), salt, {
    t: ops, m: mem / 1024, p: 1, dkLen: 32, asyncTick: 20,
    onProgress: progress ? (f) => progress(f) : undefined,
  });
}

// The key file text for seed (with its public key), sealed with pass.
export async function sealKeyFile(prefix, seed, pub, pass, progress) {
  const { chacha } = await noble(prefix);
  const salt = crypto.getRandomValues(new Uint8Array(16)), nonce = crypto.getRandomValues(new Uint8Array(24));
  const key = await stretch(prefix, pass, salt, OPSLIMIT, MEMLIMIT, progress);
  const sealed = chacha.xchacha20poly1305(key, nonce, ad(pub)).encrypt(seed);
  key.fill(0);
  return `${MAGIC}\npublic: ${b64(pub)}\nkdf: argon2id\nopslimit: ${OPSLIMIT}\nmemlimit: ${MEMLIMIT}\n` +
    `salt: ${b64(salt)}\nnonce: ${b64(nonce)}\nsealed: ${b64(sealed)}\n`;
}

function fields(text) {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[0] !== MAGIC) throw new KeyError('key_format', '这不是 tcmtrace 密钥文件。', 'this is not a tcmtrace secret key file');
  const f = {};
  for (const l of lines.slice(1)) { const m = /^([a-z]+): (.*)$/.exec(l); if (m) f[m[1]] = m[2]; }
  return f;
}

// Opens a key file (sealed, or unsealed when made so with the CLI): {seed, pub}.
export async function openKeyFile(prefix, text, pass, progress) {
  const f = fields(text);
  let pub, seed;
  try { pub = unb64(f.public || ''); } catch (e) { pub = null; }
  if (!pub || pub.length !== 32) throw new KeyError('key_format', '密钥文件中的公钥不完整。', 'the file has no 32-byte public key');
  if (f.kdf === 'none') {
    seed = unb64(f.secret || '');
  } else if (f.kdf === 'argon2id') {
    const ops = Number(f.opslimit), mem = Number(f.memlimit);
    if (!(ops >= 1 && ops <= 64 && mem >= 8192 && mem <= 4 * 2 ** 30))
      throw new KeyError('key_format', '密钥文件的参数超出范围。', 'the file has Argon2id limits out of range');
    const { chacha } = await noble(prefix);
    const key = await stretch(prefix, pass, unb64(f.salt), ops, mem, progress);
    try {
      seed = chacha.xchacha20poly1305(key, unb64(f.nonce), ad(pub)).decrypt(unb64(f.sealed));
    } catch (e) {
      throw new KeyError('bad_passphrase', '密码不对，打不开这个密钥文件（或文件被改动过）。', 'the passphrase does not open the file (or it was altered)');
    } finally { key.fill(0); }
  } else {
    throw new KeyError('key_format', '不认识这个密钥文件的加密方式。', 'unknown kdf');
  }
  if (seed.length !== 32) throw new KeyError('key_format', '密钥文件中的私钥不完整。', 'the secret is not 32 bytes');
  const { ed } = await noble(prefix);
  const derived = ed.getPublicKey(seed);
  if (b64(derived) !== b64(pub)) throw new KeyError('key_format', '密钥文件的公钥与私钥不符。', 'the public key does not match the secret key');
  return { seed, pub };
}

// ---- IndexedDB: one stall key per ledger (its origin) -------------------------------------

function db() {
  return new Promise((ok, no) => {
    const r = indexedDB.open('tcmtrace-stall', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('keys');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
}
async function tx(mode, fn) {
  const d = await db();
  return new Promise((ok, no) => {
    const t = d.transaction('keys', mode), s = t.objectStore('keys');
    const r = fn(s);
    t.oncomplete = () => { d.close(); ok(r && r.result); };
    t.onerror = () => { d.close(); no(t.error); };
  });
}
export const loadRecord = (ledger) => tx('readonly', (s) => s.get(ledger));
const saveRecord = (ledger, rec) => tx('readwrite', (s) => s.put(rec, ledger));
export const forget = (ledger) => tx('readwrite', (s) => s.delete(ledger));

// Keeps seed in this browser (non-extractable where it can), with its sealed backup text.
export async function keep(ledger, seed, pub, sealed, how) {
  const subtle = crypto.subtle;
  let rec;
  if (how === 'webcrypto') {
    const pkcs8 = new Uint8Array(48);
    pkcs8.set(PKCS8_ED25519);
    pkcs8.set(seed, 16);
    const priv = await subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
    pkcs8.fill(0);
    rec = { kind: 'webcrypto', pub, priv, sealed, created: Date.now() };
  } else {
    const wrap = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, wrap, seed));
    rec = { kind: 'wrapped', pub, wrap, iv, ct, sealed, created: Date.now() };
  }
  seed.fill(0);
  await saveRecord(ledger, rec);
  return rec;
}

// Locks the kept key: only its sealed backup stays in this browser, to be opened again with
// the backup passphrase (unlock). Returns the locked record.
export async function lock(ledger, rec) {
  const locked = { kind: 'locked', pub: rec.pub, sealed: rec.sealed, created: rec.created };
  await saveRecord(ledger, locked);
  return locked;
}

// Opens a locked record's sealed backup with its passphrase and keeps the key again.
export const unlock = (prefix, ledger, rec, pass, how, progress) => restore(prefix, ledger, rec.sealed, pass, how, progress);

// Whether `pass` opens this record's sealed backup (and it is this key's): nothing is kept, the
// seed is wiped. Throws KeyError('bad_passphrase') when it does not.
export async function confirmPass(prefix, rec, pass, progress) {
  const { seed, pub } = await openKeyFile(prefix, rec.sealed, pass, progress);
  seed.fill(0);
  if (b64(pub) !== b64(rec.pub)) throw new KeyError('key_format', '备份与本机的密钥不符。', 'the backup is another key\'s');
}

// A new key: sealed first (the backup), then kept. Returns the record.
export async function create(prefix, ledger, pass, how, progress) {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const { ed } = await noble(prefix);
  const pub = ed.getPublicKey(seed);
  const sealed = await sealKeyFile(prefix, seed, pub, pass, progress);
  return keep(ledger, seed, pub, sealed, how);
}

// A key from a backup file; its sealed text is kept as it came (or sealed anew when it was not).
export async function restore(prefix, ledger, text, pass, how, progress) {
  const { seed, pub } = await openKeyFile(prefix, text, pass, progress);
  const sealed = fields(text).kdf === 'none' ? await sealKeyFile(prefix, seed, pub, pass, progress) : text;
  return keep(ledger, seed, pub, sealed, how);
}

// Ed25519 over msg with the kept key.
export async function sign(prefix, rec, msg) {
  if (rec.kind === 'webcrypto')
    return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, rec.priv, msg));
  const seed = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: rec.iv }, rec.wrap, rec.ct));
  try {
    const { ed } = await noble(prefix);
    return ed.sign(msg, seed);
  } finally { seed.fill(0); }
}
