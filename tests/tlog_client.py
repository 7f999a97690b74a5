#!/usr/bin/env python3
"""An independent C2SP tlog-tiles client: follows a log over HTTP and checks it
without any of tcmtrace's C code.

Usage: tlog_client.py [--static] LOG-URL VERIFIER-KEY [PROOF-URL]

LOG-URL is the log's prefix (.../log), VERIFIER-KEY its C2SP signed-note
verifier key (name+hexid+base64(0x01||key)). It fetches the checkpoint and
checks its Ed25519 signature; fetches every hash tile (every level, full and
partial) and every entry bundle the checkpoint's size implies; recomputes
each leaf hash from the bundles and checks it against the level-0 tiles,
checks every higher tile hash against the tile below it, rebuilds the root
from the leaves with RFC 6962's MTH and checks it against the checkpoint; and
checks the HTTP content types, caching and gzip (not with --static: a plain
file server serving an exported tree). With PROOF-URL it also
verifies a c2sp.org/tlog-proof bundle offline. Prints "tiles: N passed, N
failed".
"""
import base64
import gzip
import hashlib
import struct
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print('FAIL', what)
    return ok


def get(url, gz=False):
    req = urllib.request.Request(url, headers={'Accept-Encoding': 'gzip' if gz else 'identity'})
    with urllib.request.urlopen(req, timeout=30) as r:
        body, headers = r.read(), r.headers
    if headers.get('Content-Encoding') == 'gzip':
        body = gzip.decompress(body)
    return body, headers


def leaf_hash(data):
    return hashlib.sha256(b'\x00' + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b'\x01' + left + right).digest()


def mth(hashes):
    """RFC 6962 Merkle Tree Hash over leaf hashes, without recursion."""
    if not hashes:
        return hashlib.sha256(b'').digest()
    # split as RFC 6962 does: the largest power of two smaller than n on the left
    def rec(lo, hi):
        n = hi - lo
        if n == 1:
            return hashes[lo]
        k = 1
        while k * 2 < n:
            k *= 2
        return node_hash(rec(lo, lo + k), rec(lo + k, hi))
    return rec(0, len(hashes))


def tile_path(level, n, width):
    s = str(n).zfill(((len(str(n)) + 2) // 3) * 3)
    parts = [s[i:i + 3] for i in range(0, len(s), 3)]
    p = '/'.join(['x' + x for x in parts[:-1]] + [parts[-1]])
    return ('entries' if level == 'entries' else str(level)) + '/' + p + ('' if width == 256 else '.p/%d' % width)


def parse_vkey(vkey):
    name, hexid, key = vkey.strip().split('+', 2)
    raw = base64.b64decode(key)
    assert raw[0] == 1 and len(raw) == 33, 'not an Ed25519 verifier key'
    keyid = hashlib.sha256(name.encode() + b'\n' + raw).digest()[:4]
    assert keyid.hex() == hexid, 'key ID does not match'
    return name, keyid, Ed25519PublicKey.from_public_bytes(raw[1:])


def verify_checkpoint(note, vkey):
    """The checkpoint's (origin, size, root) once its signature by vkey verifies."""
    name, keyid, pub = parse_vkey(vkey)
    text, sigs = note.split('\n\n', 1)
    text += '\n'
    good = False
    for line in sigs.splitlines():
        if not line.startswith('\u2014 '):
            continue
        signer, b64 = line[2:].rsplit(' ', 1)
        blob = base64.b64decode(b64)
        if signer == name and blob[:4] == keyid:
            pub.verify(blob[4:], text.encode())  # raises if wrong
            good = True
    lines = text.splitlines()
    check(good, 'the checkpoint carries a valid signature by the log key')
    check(lines[0] == name, 'the checkpoint origin is the key name')
    return lines[0], int(lines[1]), base64.b64decode(lines[2])


def inclusion_root(index, size, leaf, proof):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while (fn & 1) == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


STATIC = '--static' in sys.argv
if STATIC:
    sys.argv.remove('--static')


def headers_check(ok, what):
    return check(ok, what) if not STATIC else True


def main():
    base, vkey = sys.argv[1].rstrip('/'), open(sys.argv[2]).read().strip()
    note, h = get(base + '/checkpoint')
    headers_check(h.get('Content-Type', '').startswith('text/plain'), 'checkpoint is text/plain')
    headers_check('max-age=' in h.get('Cache-Control', '') and 'immutable' not in h.get('Cache-Control', ''),
          'the checkpoint is cached for seconds only')
    origin, size, root = verify_checkpoint(note.decode(), vkey)
    print('checkpoint: %s, %d entries' % (origin, size))
    # entry bundles: every entry, its leaf hash
    leaves = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        body, h = get(base + '/tile/' + tile_path('entries', n, width), gz=(n % 2 == 0))
        if n == 0:
            headers_check(h.get('Content-Type') == 'application/octet-stream', 'bundles are octet-stream')
            headers_check(h.get('Content-Encoding') == 'gzip', 'a bundle is gzip\'d when the client asks')
        if width == 256:
            headers_check('immutable' in h.get('Cache-Control', ''), 'full bundle %d is immutable' % n)
        off, k = 0, 0
        while off < len(body):
            (ln,) = struct.unpack('>H', body[off:off + 2])
            entry = body[off + 2:off + 2 + ln]
            (seq,) = struct.unpack('>Q', entry[1:9])
            if seq != n * 256 + k:
                check(False, 'entry %d of bundle %d carries seq %d' % (k, n, seq))
            leaves.append(leaf_hash(entry))
            off += 2 + ln
            k += 1
        check(k == width, 'bundle %d holds %d entries' % (n, width))
    check(len(leaves) == size, 'the bundles hold every entry')
    # hash tiles, level by level
    below = leaves
    level = 0
    while True:
        count = size >> (8 * level)
        if count == 0:
            break
        got = []
        for n in range((count + 255) // 256):
            width = min(256, count - n * 256)
            body, h = get(base + '/tile/' + tile_path(level, n, width))
            if len(body) != 32 * width:
                check(False, 'tile %d/%d is %d bytes' % (level, n, len(body)))
                continue
            got += [body[i:i + 32] for i in range(0, len(body), 32)]
            if width == 256 and n == 0:
                headers_check(h.get('Cache-Control') == 'public, max-age=31536000, immutable',
                      'full tile %d/0 is cached as immutable' % level)
        if level == 0:
            ok = got == below
        else:  # each hash is the MTH of a full tile below
            ok = all(got[i] == mth(below[i * 256:(i + 1) * 256]) for i in range(len(got)))
        check(ok, 'every hash of level %d (%d of them) is right' % (level, len(got)))
        below = got
        level += 1
    print('levels: %d' % level)
    check(level >= 3, 'the log has level-1 and level-2 tiles')
    check(mth(leaves) == root, 'the root rebuilt from every leaf is the checkpoint\'s')
    # a tile beyond the tree, and a malformed path (the server's, not a file server's)
    for path, want in () if STATIC else (('/tile/0/' + tile_path(0, (size + 255) // 256 + 1, 256)[2:], 404),
                       ('/tile/0/1', 400), ('/tile/0/0001', 400), ('/tile/64/000', 400),
                       ('/tile/0/000.p/0', 400), ('/tile/0/000.p/256', 400)):
        try:
            get(base + path)
            check(False, '%s is refused' % path)
        except urllib.error.HTTPError as e:
            check(e.code == want, '%s answers %d, not %d' % (path, want, e.code))
    if len(sys.argv) > 3:  # a tlog-proof bundle, verified offline
        text, _ = get(sys.argv[3])
        lines = text.decode().split('\n')
        check(lines[0] == 'c2sp.org/tlog-proof@v1', 'a tlog-proof bundle')
        entry = base64.b64decode(lines[1][len('extra '):])
        index = int(lines[2][len('index '):])
        i, proof = 3, []
        while lines[i]:
            proof.append(base64.b64decode(lines[i]))
            i += 1
        corigin, csize, croot = verify_checkpoint('\n'.join(lines[i + 1:]), vkey)
        check(inclusion_root(index, csize, leaf_hash(entry), proof) == croot,
              'the bundle\'s entry is included in its signed checkpoint')
        check(struct.unpack('>Q', entry[1:9])[0] == index, 'the bundle\'s entry is entry %d' % index)
    print('tiles: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
