#!/usr/bin/python3
"""The state map's format checked with this file's own code (docs/statemap.md), not the project's.

  check_statemap.py VECTORS.json
      recomputes the vectors' root from their lots and checks each proof;
  check_statemap.py --url BASE --log-key VKEY CODE... [--absent CODE...] [--expect CODE=STATUS...]
      fetches BASE/log/checkpoint, checks its signature with the log's verifier key (a C2SP
      signed-note Ed25519 key, by hand: PyNaCl is not needed, Python's own hashlib and a small
      Ed25519 verifier below), reads its "tcmtrace-state" line, and proves each lot's leaf
      (and each absent lot's absence) from BASE/api/v1/batches/CODE/state?size=N.

Prints one line per check and exits 1 on the first failure.
"""
import base64
import hashlib
import json
import sys
import urllib.request


def h(b):
    return hashlib.sha256(b).digest()


def bit(key, i):
    return (key[i // 8] >> (7 - i % 8)) & 1


def leaf_hash(key, value_hash):
    return h(b"\x00" + key + value_hash)


def node_hash(left, right):
    return h(b"\x01" + left + right)


ZERO = bytes(32)


def root_of(pairs, depth=0):
    """pairs: sorted list of (key, leafhash)."""
    if not pairs:
        return ZERO
    if len(pairs) == 1:
        return pairs[0][1]
    left = [p for p in pairs if not bit(p[0], depth)]
    right = [p for p in pairs if bit(p[0], depth)]
    return node_hash(root_of(left, depth + 1), root_of(right, depth + 1))


def decode(proof):
    if len(proof) < 2 or proof[0] > 2:
        raise ValueError("header")
    kind, depth = proof[0], proof[1]
    n = 2
    maplen = (depth + 7) // 8
    bitmap = proof[n:n + maplen]
    if len(bitmap) != maplen:
        raise ValueError("bitmap")
    if depth % 8 and bitmap[-1] & (0xFF >> (depth % 8)):
        raise ValueError("bitmap bits past the depth")
    n += maplen
    sibs = []
    for i in range(depth):
        if bitmap[i // 8] & (0x80 >> (i % 8)):
            s = proof[n:n + 32]
            if len(s) != 32 or s == ZERO:
                raise ValueError("sibling")
            sibs.append(s)
            n += 32
        else:
            sibs.append(ZERO)
    other = None
    if kind == 1:
        other = (proof[n:n + 32], proof[n + 32:n + 64])
        if len(other[1]) != 32:
            raise ValueError("other leaf")
        n += 64
    if n != len(proof):
        raise ValueError("trailing bytes")
    return kind, depth, sibs, other


def verify(root, code, proof, leaf):
    """leaf: the leaf text (bytes) to prove, or None to prove the lot absent."""
    key = h(code.encode())
    kind, depth, sibs, other = decode(proof)
    if leaf is not None:
        if kind != 0:
            return False
        cur = leaf_hash(key, h(leaf))
    elif kind == 0:
        return False
    elif kind == 1:
        okey, ovh = other
        if okey == key or any(bit(okey, i) != bit(key, i) for i in range(depth)):
            return False
        cur = leaf_hash(okey, ovh)
    else:
        cur = ZERO
    for i in reversed(range(depth)):
        cur = node_hash(sibs[i], cur) if bit(key, i) else node_hash(cur, sibs[i])
    return cur == root


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check_vectors(path):
    v = json.load(open(path, encoding="utf-8"))
    pairs = sorted((h(l["code"].encode()), leaf_hash(h(l["code"].encode()), h(l["leaf"].encode())))
                   for l in v["lots"])
    root = root_of(pairs)
    if base64.b64encode(root).decode() != v["root"]:
        fail("the vectors' root is not the map of their lots")
    print("ok: the root of the %d lots is %s" % (len(pairs), v["root"]))
    kinds = set()
    for p in v["proofs"]:
        proof = base64.b64decode(p["proof"])
        leaf = p["leaf"].encode() if p["present"] else None
        if not verify(root, p["code"], proof, leaf):
            fail("the proof of %s does not verify" % p["code"])
        kinds.add(proof[0])
        # a changed claim, a changed byte: refused
        wrong = b"tcmtrace-state/v1\n" if leaf is None else leaf.replace(b"status", b"statuS")
        if verify(root, p["code"], proof, wrong):
            fail("the proof of %s also proves another claim" % p["code"])
        for i in range(len(proof)):
            bad = bytearray(proof)
            bad[i] ^= 0x04
            try:
                if verify(root, p["code"], bytes(bad), leaf):
                    fail("the proof of %s with byte %d changed still verifies" % (p["code"], i))
            except (ValueError, IndexError):
                pass
        print("ok: %s proved %s (kind %d, %d bytes)" % (p["code"], "present" if leaf else "absent",
                                                       proof[0], len(proof)))
    if kinds != {0, 1, 2}:
        fail("the vectors do not show all three kinds of proof")


# ---- Ed25519 verification (RFC 8032), for the live check's checkpoint signature ----
P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
I = pow(2, (P - 1) // 4, P)


def inv(x):
    return pow(x, P - 2, P)


def xrecover(y):
    xx = (y * y - 1) * inv(D * y * y + 1)
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P != 0:
        x = (x * I) % P
    if x % 2 != 0:
        x = P - x
    return x


def edwards(a, b):
    x1, y1 = a
    x2, y2 = b
    x3 = (x1 * y2 + x2 * y1) * inv(1 + D * x1 * x2 * y1 * y2)
    y3 = (y1 * y2 + x1 * x2) * inv(1 - D * x1 * x2 * y1 * y2)
    return (x3 % P, y3 % P)


def scalarmult(pt, e):
    q = (0, 1)
    while e:
        if e & 1:
            q = edwards(q, pt)
        pt = edwards(pt, pt)
        e >>= 1
    return q


BY = 4 * inv(5) % P
B = (xrecover(BY), BY)


def decodepoint(s):
    y = int.from_bytes(s, "little") & ((1 << 255) - 1)
    x = xrecover(y)
    if x & 1 != s[31] >> 7:
        x = P - x
    pt = (x, y)
    x, y = pt
    if (-x * x + y * y - 1 - D * x * x * y * y) % P != 0:
        raise ValueError("not on the curve")
    return pt


def ed25519_verify(pk, msg, sig):
    r = decodepoint(sig[:32])
    a = decodepoint(pk)
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + pk + msg).digest(), "little")
    return scalarmult(B, s) == edwards(r, scalarmult(a, k))


def check_live(base, vkey, codes, absent, expect):
    name, keyhash, rest = vkey.split("+", 2)
    raw = base64.b64decode(rest)
    if raw[0] != 1:
        fail("the log key is not an Ed25519 note key")
    pk = raw[1:]
    note = urllib.request.urlopen(base + "/log/checkpoint").read().decode()
    text, sigs = note.split("\n\n", 1)
    text += "\n"
    ok = False
    for line in sigs.splitlines():
        if line.startswith("\u2014 " + name + " "):
            sig = base64.b64decode(line.split(" ")[2])
            if sig[:4] == bytes.fromhex(keyhash) and ed25519_verify(pk, text.encode(), sig[4:]):
                ok = True
    if not ok:
        fail("the checkpoint is not signed by the log key")
    lines = text.split("\n")
    size = int(lines[1])
    state = [l for l in lines[3:] if l.startswith("tcmtrace-state ")]
    if len(state) != 1:
        fail("the checkpoint carries %d state map lines, not one" % len(state))
    root = base64.b64decode(state[0].split(" ", 1)[1])
    print("ok: checkpoint of %d entries, signed, state map root %s" % (size, state[0].split(" ")[1]))
    for code in codes + absent:
        a = json.load(urllib.request.urlopen("%s/api/v1/batches/%s/state?size=%d" % (base, code, size)))
        proof = base64.b64decode(a["proof"])
        want_present = code in codes
        if a.get("present") != want_present:
            fail("%s: the server says present=%s" % (code, a.get("present")))
        leaf = a["leaf"].encode() if want_present else None
        if not verify(root, code, proof, leaf):
            fail("%s: the state proof does not verify against the checkpoint" % code)
        status = leaf.decode().split("\n")[1].split(" ")[1] if leaf else None
        if code in expect and expect[code] != status:
            fail("%s: proved status %s, expected %s" % (code, status, expect[code]))
        print("ok: %s proved %s%s (%d bytes)" % (code, "present" if leaf else "absent",
                                                 ", " + status if status else "", len(proof)))


def main(argv):
    if len(argv) == 2 and not argv[1].startswith("--"):
        check_vectors(argv[1])
        return
    base = vkey = None
    codes, absent, expect = [], [], {}
    mode = codes
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--url":
            base = argv[i + 1].rstrip("/")
            i += 1
        elif a == "--log-key":
            vkey = argv[i + 1]
            i += 1
        elif a == "--absent":
            mode = absent
        elif a == "--expect":
            c, s = argv[i + 1].split("=")
            expect[c] = s
            i += 1
        else:
            mode.append(a)
        i += 1
    if not base or not vkey:
        fail("usage: check_statemap.py VECTORS | --url BASE --log-key VKEY CODE... [--absent CODE...]")
    check_live(base, vkey, codes, absent, expect)


main(sys.argv)
