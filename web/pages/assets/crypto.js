// crypto.js: Ed25519 verification and SHA-256 for the page. WebCrypto where
// the browser has Ed25519 in it; otherwise the audited @noble/ed25519 and
// @noble/hashes (npm, pinned in web/package-lock.json), served by
// tcmtrace-web itself: over plain HTTP on a market LAN a page has no
// crypto.subtle at all, and many in-app browsers lack Ed25519.

// A known-good vector (RFC 8032, test 1): WebCrypto counts only if it verifies it.
const RFC8032 = {
  pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
};

export const hex = (s) => Uint8Array.from(s.match(/../g).map((h) => parseInt(h, 16)));

async function webCrypto() {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) return null;
  try {
    const key = await subtle.importKey('raw', hex(RFC8032.pub), { name: 'Ed25519' }, false, ['verify']);
    if (!(await subtle.verify({ name: 'Ed25519' }, key, hex(RFC8032.sig), new Uint8Array(0)))) return null;
  } catch (e) {
    return null;
  }
  return {
    name: 'WebCrypto',
    sha256: async (data) => new Uint8Array(await subtle.digest('SHA-256', data)),
    verify: async (pub, sig, msg) => {
      try {
        const key = await subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
        return await subtle.verify({ name: 'Ed25519' }, key, sig, msg);
      } catch (e) {
        return false;
      }
    },
  };
}

async function noble(prefix) {
  const ed = await import(prefix + '/assets/noble/ed25519.js');
  const { sha256, sha512 } = await import(prefix + '/assets/noble/hashes/sha2.js');
  ed.hashes.sha512 = sha512; // synchronous: no crypto.subtle needed
  return {
    name: '@noble/ed25519',
    sha256: async (data) => sha256(data),
    verify: async (pub, sig, msg) => {
      try {
        return ed.verify(sig, msg, pub);
      } catch (e) {
        return false;
      }
    },
  };
}

export async function makeCrypto(prefix) {
  return (await webCrypto()) || (await noble(prefix));
}
