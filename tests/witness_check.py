#!/usr/bin/python3
"""An independent C2SP log, written here (not the project's C), against
tcmtrace-witness: tlog-witness add-checkpoint, cosignature/v1 checked with
python3-cryptography, the monitor endpoint, SIGHUP, the rate per log, and
atomic check-and-record under concurrent requests.

usage: witness_check.py phase1 URL WITNESS_DIR WITNESS_PID
       witness_check.py phase2 URL WITNESS_DIR STATE_FILE
(phase1 leaves STATE_FILE = WITNESS_DIR/../log-a.json for phase2, run after a
kill -9 and a restart of the witness.)

Prints one line per case; exits 1 on the first failure."""
import base64
import concurrent.futures
import hashlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives import serialization

EM = "\u2014 "
cases = 0


def ok(cond, what):
    global cases
    if not cond:
        print("FAIL", what)
        sys.exit(1)
    cases += 1
    print("ok", what)


# ---- RFC 6962 Merkle tree ---------------------------------------------------------------------

def leaf(d):
    return hashlib.sha256(b"\x00" + d).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def consistency(m, d):
    return [] if m == 0 or m == len(d) else subproof(m, d, True)


# ---- signed notes -----------------------------------------------------------------------------

def raw_pk(k):
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Log:
    def __init__(self, origin, seed=None):
        self.origin = origin
        self.key = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
        self.pk = raw_pk(self.key)
        self.kid = hashlib.sha256(origin.encode() + b"\n\x01" + self.pk).digest()[:4]
        self.leaves = []

    def vkey(self):
        return "%s+%s+%s" % (self.origin, self.kid.hex(),
                             base64.b64encode(b"\x01" + self.pk).decode())

    def add(self, n, tag=b"e"):
        for _ in range(n):
            self.leaves.append(tag + b"%d" % len(self.leaves))

    def text(self, size=None, leaves=None):
        d = (leaves or self.leaves)[:len(self.leaves) if size is None else size]
        return "%s\n%d\n%s\n" % (self.origin, len(d), base64.b64encode(mth(d)).decode())

    def sign(self, text, key=None, name=None):
        key = key or self.key
        name = name or self.origin
        kid = hashlib.sha256(name.encode() + b"\n\x01" + raw_pk(key)).digest()[:4]
        sig = key.sign(text.encode())
        return text + "\n" + EM + name + " " + base64.b64encode(kid + sig).decode() + "\n"

    def body(self, old, size=None, proof=None, note=None):
        size = len(self.leaves) if size is None else size
        if proof is None:
            proof = consistency(old, self.leaves[:size])
        note = note or self.sign(self.text(size))
        return ("old %d\n" % old + "".join(base64.b64encode(h).decode() + "\n" for h in proof) +
                "\n" + note).encode()


def post(url, body):
    req = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def witness_key(wdir):
    vkey = open(os.path.join(wdir, "witness.vkey")).read().strip()
    name, kid, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 0x04 and len(raw) == 33, "the witness's vkey is not a type 0x04 key"
    pk = raw[1:]
    assert hashlib.sha256(name.encode() + b"\n\x04" + pk).digest()[:4].hex() == kid
    return name, bytes.fromhex(kid), Ed25519PublicKey.from_public_bytes(pk)


def check_cosig(line, text, wkey, what):
    """An independent check of one cosignature/v1 line; returns its timestamp."""
    name, kid, pub = wkey
    ok(line.startswith(EM + name + " ") and line.endswith("\n"), what + ": a signature line by the witness's name")
    raw = base64.b64decode(line[len(EM + name + " "):].strip())
    ok(len(raw) == 4 + 8 + 64 and raw[:4] == kid, what + ": key ID of type 0x04, 8-byte time, 64-byte signature")
    ts = int.from_bytes(raw[4:12], "big")
    ok(abs(ts - time.time()) < 120, what + ": the timestamp is now (%d)" % ts)
    msg = ("cosignature/v1\ntime %d\n" % ts).encode() + text.encode()
    try:
        pub.verify(raw[12:], msg)
        good = True
    except Exception:
        good = False
    ok(good, what + ": the Ed25519 signature over cosignature/v1 || time || checkpoint verifies")
    return ts


def write_logs(wdir, logs, pid):
    with open(os.path.join(wdir, "logs"), "w") as f:
        f.write("# written by witness_check.py\n")
        for l in logs:
            f.write("log %s %s\n" % (l.origin, l.vkey()))
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.3)


def phase1(url, wdir, pid):
    wkey = witness_key(wdir)
    a = Log("example.test/log-a")
    a.add(5)
    st, _, body = post(url, a.body(0))
    ok(st == 404 and "unknown_log" in body, "a log not in the list: 404 (%d)" % st)
    b = Log("example.test/log-b")
    c = Log("example.test/log-c")
    write_logs(wdir, [a, b, c], pid)

    st, _, body = post(url, a.body(0))
    ok(st == 200, "after SIGHUP the log is known: old 0 to size 5 is cosigned (%d %s)" % (st, body[:80]))
    check_cosig(body, a.text(5), wkey, "size 5")

    st, ctype, body = post(url, a.body(0))
    ok(st == 409 and body == "5\n" and ctype.startswith("text/x.tlog.size"),
       "a stale old size: 409, text/x.tlog.size, the size it cosigned (%d %r %s)" % (st, body, ctype))

    a.add(4)
    st, _, body = post(url, a.body(5))
    ok(st == 200, "5 to 9 with a correct consistency proof is cosigned (%d %s)" % (st, body[:80]))
    check_cosig(body, a.text(9), wkey, "size 9")

    a.add(3)
    proof = consistency(9, a.leaves)
    bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:]
    st, _, body = post(url, a.body(9, proof=bad))
    ok(st == 422, "a consistency proof with one bit changed: 422 (%d)" % st)

    # a fork: another history of 9, grown to 14 with its own genuine proof
    fork = list(a.leaves[:8]) + [b"forged"] + [b"f%d" % i for i in range(5)]
    fproof = consistency(9, fork)
    fnote = a.sign(a.text(14, leaves=fork))
    st, _, body = post(url, a.body(9, size=14, proof=fproof, note=fnote))
    ok(st == 422 and "not consistent" in body, "a fork signed by the log (its own proof from another size 9): 422 (%d)" % st)

    st, _, body = post(url, a.body(12, size=12))
    ok(st == 409 and body == "9\n", "the refused fork moved nothing: still 9 (%d %r)" % (st, body))

    st, _, body = post(url, a.body(9))
    ok(st == 200, "the genuine 9 to 12 is cosigned (%d)" % st)

    st, _, body = post(url, a.body(12, size=12, proof=[]))
    ok(st == 200, "the same size and root again: cosigned afresh (%d)" % st)
    other = a.sign(a.text(12, leaves=fork))
    st, _, body = post(url, a.body(12, size=12, proof=[], note=other))
    ok(st == 422, "the same size with another root: 422 (%d)" % st)

    st, _, body = post(url, ("old 13\n\n" + a.sign(a.text(12))).encode())
    ok(st == 400, "an old size above the checkpoint's: 400 (%d)" % st)

    note = a.sign(a.text(12))
    i = note.rindex(" ") + 3
    flipped = note[:i] + ("A" if note[i] != "A" else "B") + note[i + 1:]
    st, _, body = post(url, ("old 12\n\n" + flipped).encode())
    ok(st == 403, "a signature line of the trusted key that does not verify: 403 (%d)" % st)

    stranger = Ed25519PrivateKey.generate()
    st, _, body = post(url, ("old 12\n\n" + a.sign(a.text(12), key=stranger)).encode())
    ok(st == 403, "signed only by a key the witness does not trust for that origin: 403 (%d)" % st)

    st, _, body = post(url, ("old 0\n\n" + b.sign("%s\n0\n%s\n" % (b.origin, base64.b64encode(b"\x00" * 32).decode()))).encode())
    ok(st == 422, "a size-0 checkpoint without the empty tree's root: 422 (%d)" % st)
    b.add(3)
    st, _, body = post(url, b.body(0, proof=[hashlib.sha256(b"x").digest()]))
    ok(st == 422, "a proof sent with old size 0: 422 (%d)" % st)

    for bad_body, what in ((b"12\n\n" + a.sign(a.text(12)).encode(), "no old line"),
                           (b"old 012\n\n" + a.sign(a.text(12)).encode(), "a leading zero"),
                           (b"old 12\n" + b"AAAA\n\n" + a.sign(a.text(12)).encode(), "a short proof hash"),
                           (b"old 12\n" + (base64.b64encode(b"\x00" * 32) + b"\n") * 64 + b"\n" + a.sign(a.text(12)).encode(), "64 proof lines"),
                           (b"old 12\n\n" + a.text(12).encode(), "a checkpoint without signatures")):
        st, _, body = post(url, bad_body)
        ok(st in (400, 403) and ":" in body, "malformed (%s): %d with a reason" % (what, st))

    st, _, body = post(url, b"old 0\n\n" + b"x" * 200000)
    ok(st == 413, "a body over the limit: 413 (%d)" % st)

    # the monitor endpoint: the log's signature and the witness's cosignature
    h = hashlib.sha256(a.origin.encode()).hexdigest()
    st, body = get("%s/%s/checkpoint" % (url, h))
    ok(st == 200 and body.startswith(a.text(12)), "GET <origin hash>/checkpoint: the latest cosigned (%d)" % st)
    sigs = body[len(a.text(12)) + 1:].splitlines(keepends=True)
    logsig = [s for s in sigs if s.startswith(EM + a.origin + " ")]
    wsig = [s for s in sigs if s.startswith(EM + wkey[0] + " ")]
    ok(len(logsig) == 1 and len(wsig) == 1, "it carries the log's signature and the witness's cosignature")
    raw = base64.b64decode(logsig[0].split(" ")[2])
    try:
        a.key.public_key().verify(raw[4:], a.text(12).encode())
        good = True
    except Exception:
        good = False
    ok(good, "the log's signature in it verifies")
    check_cosig(wsig[0], a.text(12), wkey, "monitor copy")
    st, _ = get("%s/%s/checkpoint" % (url, hashlib.sha256(b.origin.encode()).hexdigest()))
    ok(st == 404, "a known log never cosigned: 404 (%d)" % st)
    st, _ = get("%s/%s/checkpoint" % (url, "0" * 64))
    ok(st == 404, "an unknown origin hash: 404 (%d)" % st)

    # the check and the record are atomic: 16 racing requests from 12, one wins
    a.add(8)
    bodies = [a.body(12, size=13 + i) for i in range(8)] * 2
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        res = list(ex.map(lambda bd: post(url, bd), bodies))
    wins = [r for r in res if r[0] == 200]
    ok(len(wins) == 1 and all(r[0] == 409 for r in res if r[0] != 200),
       "16 concurrent requests from size 12: exactly one cosigned, the rest 409 (%s)" % sorted(r[0] for r in res))
    st, body = get("%s/%s/checkpoint" % (url, h))
    won = int(body.split("\n")[1])
    st, _, body = post(url, a.body(12, size=20))
    ok(st == 409 and body == "%d\n" % won, "the record is the winner's size %d" % won)

    # the rate per log: a burst past twice the rate is refused with 429, not queued
    c.add(2)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda _: post(url, c.body(1)), range(200)))
    codes = [r[0] for r in res]
    ok(429 in codes and set(codes) <= {409, 429},
       "200 quick requests for one log: some 429 (%d), none cosigned out of turn" % codes.count(429))
    time.sleep(1.1)
    st, _, body = post(url, c.body(0))
    ok(st == 200, "a second later the log is answered again (%d)" % st)

    # a bad list on SIGHUP keeps the old one
    with open(os.path.join(wdir, "logs"), "a") as f:
        f.write("log example.test/log-d not-a-key\n")
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.3)
    st, _, body = post(url, a.body(won, size=20))
    ok(st == 200, "a list with an error on SIGHUP: the witness keeps the old one (%d)" % st)
    write_logs(wdir, [a, b, c], pid)  # mended, for the restart
    json.dump({"origin": a.origin, "seed": a.key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption()).hex(), "n": len(a.leaves)},
        open(os.path.join(wdir, "..", "log-a.json"), "w"))
    print("%d cases" % cases)


def phase2(url, wdir, state):
    wkey = witness_key(wdir)
    s = json.load(open(state))
    a = Log(s["origin"], bytes.fromhex(s["seed"]))
    a.add(s["n"])
    st, ctype, body = post(url, a.body(0))
    ok(st == 409 and body == "20\n", "after kill -9 and a restart the witness remembers size 20 (%d %r)" % (st, body))
    a.add(2)
    st, _, body = post(url, a.body(20))
    ok(st == 200, "and goes on from it (%d)" % st)
    check_cosig(body, a.text(22), wkey, "after the restart")
    print("%d cases" % cases)


def cosigned(url, log_vkey_file, wdirs):
    """Fetches URL (a log's checkpoint) and checks it here: the log's signature and each
    witness's cosignature/v1; prints the size and how many witnesses cosigned."""
    st, note = get(url)
    ok(st == 200, "the checkpoint is served (%d)" % st)
    text, sigs = note.split("\n\n", 1)
    text += "\n"
    name, kid, b64 = open(log_vkey_file).read().strip().split("+", 2)
    raw = base64.b64decode(b64)
    pub = Ed25519PublicKey.from_public_bytes(raw[1:])
    good = 0
    for line in sigs.splitlines(keepends=True):
        if line.startswith(EM + name + " "):
            r = base64.b64decode(line.split(" ")[2])
            if r[:4].hex() == kid:
                pub.verify(r[4:], text.encode())
                good += 1
    ok(good == 1, "the log's signature verifies")
    n = 0
    for wdir in wdirs:
        wkey = witness_key(wdir)
        mine = [l for l in sigs.splitlines(keepends=True) if l.startswith(EM + wkey[0] + " ")]
        if mine:
            check_cosig(mine[0], text, wkey, wkey[0])
            n += 1
    print("size %s cosigned %d" % (text.split("\n")[1], n))


if __name__ == "__main__":
    if sys.argv[1] == "cosigned":
        cosigned(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "phase1":
        phase1(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        phase2(sys.argv[2], sys.argv[3], sys.argv[4])
