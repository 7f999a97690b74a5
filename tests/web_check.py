#!/usr/bin/env python3
"""Checks tcmtrace-web over real sockets. Prints "web-MODE: N passed, N failed".

  web_check.py rest BASE TCMTRACE CODE SIGNED.json [SIGNED2.json]
      every REST resource answered as schemas/api/openapi.yaml says; the same
      requests through nanomsg (TCMTRACE api ...) and HTTP give the same
      answers; writes go through; refusals have their statuses
  web_check.py hostile BASE PID
      2,000 idle connections, slow clients, oversized headers and bodies,
      malformed paths and numbers: each refused, memory bounded, and a normal
      client from another address still served meanwhile
"""
import functools
import json
import urllib.parse
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import jsonschema
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
passed = failed = 0


def check(ok, what, detail=''):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print('FAIL', what, detail[:400] if detail else '')
    return ok


def http(method, url, body=None, headers=None, src=None, timeout=20):
    """(status, headers, bytes) of one request; src: a loopback address to send from."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout,
                                 source_address=(src, 0) if src else None)
    path = u.path + ('?' + u.query if u.query else '')
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b'')
    head = '%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n' % (method, path, u.netloc)
    for k, v in (headers or {}).items():
        head += '%s: %s\r\n' % (k, v)
    if body is not None:
        head += 'Content-Type: application/json\r\nContent-Length: %d\r\n' % len(data)
    s.sendall(head.encode() + b'\r\n' + data)
    raw = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    hd, _, rest = raw.partition(b'\r\n\r\n')
    lines = hd.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hs = {}
    for l in lines[1:]:
        k, _, v = l.partition(':')
        hs[k.strip().lower()] = v.strip()
    if hs.get('transfer-encoding') == 'chunked':
        out, r = b'', rest
        while r:
            n, _, r = r.partition(b'\r\n')
            n = int(n, 16)
            if n == 0:
                break
            out, r = out + r[:n], r[n + 2:]
        rest = out
    return status, hs, rest


# ---- the OpenAPI description --------------------------------------------------------

def load_openapi():
    with open(os.path.join(ROOT, 'schemas', 'api', 'openapi.yaml'), encoding='utf-8') as f:
        return yaml.safe_load(f)


def schema_for(api, path, method, status):
    for tmpl, ops in api['paths'].items():
        rx = '^' + re.sub(r'\{[^}]+\}', '[^/]+', tmpl) + '$'
        if re.match(rx, path) and method in ops:
            resp = ops[method]['responses'].get(str(status))
            if resp is None:
                return None, 'no %d response for %s %s' % (status, method, tmpl)
            if '$ref' in resp:
                resp = api['components']['responses'][resp['$ref'].split('/')[-1]]
            content = resp['content']
            media = 'application/json' if 'application/json' in content else next(iter(content))
            return (media, content[media]['schema']), None
    return None, 'no path for %s' % path


def validate(api, path, method, status, hs, body):
    found, why = schema_for(api, path, method, status)
    if not check(found is not None, '%s %s answers %d as the OpenAPI says' % (method, path, status), why or ''):
        return None
    media, schema = found
    check(hs.get('content-type', '').startswith(media), '%s %s is %s' % (method, path, media), hs.get('content-type', ''))
    if media != 'application/json':
        return body
    doc = json.loads(body)
    full = dict(schema)
    full['components'] = api['components']
    v = jsonschema.Draft202012Validator(full)
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    check(not errs, '%s %s validates against the OpenAPI schema' % (method, path),
          errs[0].message if errs else '')
    return doc


def rest(base, tt, code, signed, signed2):
    api = load_openapi()
    pre = base[base.index('/', 8):] if base.count('/') > 2 else ''

    def get(path, want=200):
        st, hs, body = http('GET', base + path)
        check(st == want, 'GET %s answers %d' % (path, want), '%d %s' % (st, body[:200]))
        return validate(api, path.split('?')[0], 'get', st, hs, body)

    status = get('/api/v1/status')
    size = status['size']
    get('/api/v1/checkpoint')
    get('/api/v1/checkpoint?size=%d' % (size - 1))
    get('/api/v1/entries?from=0&limit=5')
    get('/api/v1/entries/3')
    get('/api/v1/entries/%d' % (size + 100), 404)
    get('/api/v1/entries/%d/proof' % (size - 1))
    e3 = get('/api/v1/entries/3')
    by_hash = get('/api/v1/entries/' + e3['hash'])
    check(by_hash == e3, 'an entry found by its hash is the entry with that seq',
          json.dumps(by_hash)[:200])
    check(get('/api/v1/entries/' + e3['hash'].upper()) == e3, 'an upper-case hash finds it too')
    bundle = get('/api/v1/entries/%s/proof' % e3['hash'])
    check(bundle == get('/api/v1/entries/3/proof'), 'the bundle by hash is the bundle by seq')
    get('/api/v1/entries/' + '0' * 64, 404)
    get('/api/v1/entries/' + '0' * 64 + '/proof', 404)
    get('/api/v1/proofs/inclusion?seq=3&size=%d' % size)
    get('/api/v1/proofs/consistency?from=2&to=%d' % size)
    get('/api/v1/batches/' + code)
    get('/api/v1/batches/' + code + '/trace')
    up = get('/api/v1/batches/' + code + '/trace?direction=up')
    check(up['trace']['nodes'][0]['id'] == code and up['trace']['nodes'][0]['depth'] == 0,
          'an upward trace starts at the lot')
    page = get('/api/v1/batches/' + code + '/trace?limit=1')
    ids = [n['id'] for n in page['trace']['nodes']]
    while page['trace']['next'] is not None:
        page = get('/api/v1/batches/' + code + '/trace?limit=1&cursor=%d' % page['trace']['next'])
        ids += [n['id'] for n in page['trace']['nodes']]
    whole = get('/api/v1/batches/' + code + '/trace?limit=500')
    check(len(ids) >= 2 and ids == [n['id'] for n in whole['trace']['nodes']],
          'the trace, page by page, is the whole trace', str(ids))
    get('/api/v1/batches/' + code + '/trace?direction=sideways', 400)
    get('/api/v1/batches/' + code + '/trace?depth=-1', 400)
    get('/api/v1/batches/' + code + '/label')
    get('/api/v1/batches/' + code + '/scans')
    # the stall page's resources
    herbs = get('/api/v1/herbs')
    check(len(herbs['herbs']) > 500 and any(h['name_zh'] == '当归' and h.get('pinyin') == 'Danggui' for h in herbs['herbs']),
          'the herb dictionary is served whole, with pinyin', str(len(herbs['herbs'])))
    me = get('/api/v1/actors?key=' + urllib.parse.quote(get('/api/v1/actors/G-1')['actor']['key'], safe=''))
    check(me['actor']['id'] == 'G-1', 'an actor is found by its key')
    get('/api/v1/actors?key=' + urllib.parse.quote('A' * 43 + '=', safe=''), 404)
    png = get('/api/v1/batches/' + code + '/label.png?width_mm=50&height_mm=30&dpi=203')
    check(png[:8] == b'\x89PNG\r\n\x1a\n', 'a label is a PNG')
    get('/api/v1/labels.png?ids=%s,%s' % (code, code))
    for bad in ('ids=', 'ids=' + ','.join([code] * 25), 'ids=%s&dpi=50' % code, 'ids=%s&width_mm=x' % code,
                'ids=%s&width_mm=20&height_mm=10&dpi=100' % code, 'ids=2611220000000001',
                'ids=%s&digital_link=1' % code):
        get('/api/v1/labels.png?' + bad, 400)
    damm = ['0317598642', '7092154863', '4206871359', '1750983426', '6123045978', '3674209581',
            '5869720134', '8945362017', '9438617205', '2581436790']
    nobody = '261122000000000'
    i = 0
    for ch in nobody:
        i = int(damm[i][int(ch)])
    get('/api/v1/labels.png?ids=' + nobody + str(damm[i].index('0')), 404)
    get('/api/v1/keys/qr.png?key=' + urllib.parse.quote(me['actor']['key'], safe=''))
    get('/api/v1/keys/qr.png?key=notakey', 400)
    st, hs, page = http('GET', base + '/stall/')
    check(st == 200 and b'stall.js' in page and "default-src 'self'" in hs.get('content-security-policy', ''),
          'the stall page is served with a policy that runs only its own code', str(hs)[:300])
    get('/api/v1/batches/2611220000000001', 400)
    get('/api/v1/actors')
    get('/api/v1/actors?role=trader')
    get('/api/v1/actors/G-1')
    get('/api/v1/actors/NOBODY', 404)
    page = get('/api/v1/batches?limit=2')
    seen = [b['id'] for b in page['batches']]
    while page['next']:
        page = get('/api/v1/batches?limit=2&cursor=' + page['next'])
        seen += [b['id'] for b in page['batches']]
    check(len(seen) == len(set(seen)) and code in seen, 'paging the stock lists every lot once', str(seen))
    held = get('/api/v1/batches?holder=G-1&herb=%E5%BD%93%E5%BD%92')  # 当归
    check(all(b['herb'] == '当归' for b in held['batches']), 'search by herb keeps to that herb')
    for path in ('/api/v1/batches?limit=-1', '/api/v1/entries?from=99999999999999999999',
                 '/api/v1/proofs/inclusion?seq=x', '/api/v1/proofs/inclusion'):
        get(path, 400)

    # one set of operations: the same requests through nanomsg and HTTP
    pairs = [({'op': 'batch', 'id': code}, '/api/v1/batches/' + code),
             ({'op': 'trace', 'id': code, 'direction': 'down'}, '/api/v1/batches/' + code + '/trace'),
             ({'op': 'trace', 'id': code, 'direction': 'up', 'limit': 1, 'cursor': 0},
              '/api/v1/batches/' + code + '/trace?direction=up&limit=1&cursor=0'),
             ({'op': 'entry', 'seq': 2}, '/api/v1/entries/2'),
             ({'op': 'entry', 'hash': e3['hash']}, '/api/v1/entries/' + e3['hash']),
             ({'op': 'log', 'from': 0, 'limit': 7}, '/api/v1/entries?from=0&limit=7'),
             ({'op': 'proof', 'seq': 1, 'size': size}, '/api/v1/proofs/inclusion?seq=1&size=%d' % size),
             ({'op': 'consistency', 'from': 3, 'to': size}, '/api/v1/proofs/consistency?from=3&to=%d' % size),
             ({'op': 'checkpoint', 'size': size}, '/api/v1/checkpoint?size=%d' % size),
             ({'op': 'actor', 'id': 'G-1'}, '/api/v1/actors/G-1'),
             ({'op': 'batches', 'limit': 3}, '/api/v1/batches?limit=3'),
             ({'op': 'actors', 'role': 'trader'}, '/api/v1/actors?role=trader'),
             ({'op': 'batch', 'id': '2611220000000001'}, '/api/v1/batches/2611220000000001'),
             ({'op': 'status'}, '/api/v1/status')]
    for req, path in pairs:
        nn = json.loads(subprocess.run([tt, '--json', 'api', json.dumps(req)], capture_output=True,
                                       text=True).stdout or 'null')
        st, hs, body = http('GET', base + path)
        web = json.loads(body)
        if req['op'] == 'status':  # the daemon adds its own counters
            nn = {k: v for k, v in nn.items() if k not in ('uptime_ms', 'requests', 'appended', 'refused', 'commits', 'witnesses', 'witness_policy')}
        check(nn == web, 'nanomsg and HTTP agree on %s' % path, json.dumps([nn, web], ensure_ascii=False)[:300])

    # writes go to the daemon and come back with their statuses
    ev = json.loads(open(signed).read())
    del ev['op']
    st, hs, body = http('POST', base + '/api/v1/events', ev)
    check(st == 200, 'POST a signed event', body.decode()[:200])
    validate(api, '/api/v1/events', 'post', st, hs, body)
    st, hs, body = http('POST', base + '/api/v1/events', ev)
    check(st == 409 and b'"replay"' in body, 'the same event again is a replay (409)', body.decode()[:200])
    validate(api, '/api/v1/events', 'post', st, hs, body)
    ev2 = json.loads(open(signed2).read())
    del ev2['op']
    st, hs, body = http('POST', base + '/api/v1/events', [ev2, ev])
    doc = validate(api, '/api/v1/events', 'post', st, hs, body)
    check(st == 200 and doc and doc['results'][0]['ok'] and not doc['results'][1]['ok'],
          'an array of events is answered event by event', body.decode()[:300])
    bad = dict(ev2, sig='A' + ev2['sig'][1:] if ev2['sig'][0] != 'A' else 'B' + ev2['sig'][1:])
    st, hs, body = http('POST', base + '/api/v1/events', bad)
    check(st == 422 and b'bad_signature' in body, 'a bad signature is refused (422)', body.decode()[:200])
    st, hs, body = http('POST', base + '/api/v1/events', b'{"actor":')
    check(st == 400, 'a body that is not JSON: 400', body.decode()[:200])
    st, hs, body = http('POST', base + '/api/v1/events', b'[' + b'1,' * 200000 + b'1]')
    check(st == 413, 'a body over the limit: 413', body.decode()[:200])
    st, hs, body = http('POST', base + '/api/v1/scans', {'id': code})
    check(st == 200, 'an anonymous scan', body.decode()[:200])
    validate(api, '/api/v1/scans', 'post', st, hs, body)
    st, hs, body = http('POST', base + '/api/v1/scans', {'id': code, 'by': 'T-1'})
    check(st == 400, 'a scan with an untrusted "by": 400', body.decode()[:200])
    st, hs, body = http('DELETE', base + '/api/v1/batches/' + code)
    check(st == 405, 'DELETE: 405', str(st))
    # writes are rate limited per address
    codes = [http('POST', base + '/api/v1/scans', {'id': code}, src='127.0.0.9')[0] for _ in range(80)]
    check(429 in codes and codes[0] == 200, 'a burst of writes from one address meets 429', str(codes))
    st, hs, body = http('POST', base + '/api/v1/scans', {'id': code}, src='127.0.0.10')
    check(st == 200, 'another address is not held back by it', str(st))
    # two addresses whose hash falls in one slot (FNV-1a mod 4096) do not refill each other
    fnv = lambda s: functools.reduce(lambda h, ch: ((h ^ ch) * 16777619) & 0xffffffff, s.encode(), 2166136261) % 4096
    seen, pair = {}, None
    for i in range(1, 255):
        for j in range(20, 255):
            a = '127.0.%d.%d' % (i, j)
            if fnv(a) in seen:
                pair = (seen[fnv(a)], a)
                break
            seen[fnv(a)] = a
        if pair:
            break
    t0 = time.monotonic()
    codes = [http('POST', base + '/api/v1/scans', {'id': code}, src=pair[k % 2])[0] for k in range(240)]
    spent = time.monotonic() - t0
    # each may write its burst (40) and 20 a second: together no more than that, however fast
    bound = 2 * (40 + 20 * spent) + 2
    check(codes.count(200) <= bound and (429 in codes or bound >= 240),
          'two addresses of one hash slot are each held to the rate (%s, %s)' % pair,
          '%d of 240 written in %.2f s, at most %d allowed' % (codes.count(200), spent, bound))


# ---- hostile clients ----------------------------------------------------------------------

def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def normal_ok(base, what):
    t0 = time.time()
    try:
        st, hs, body = http('GET', base + '/api/v1/status', src='127.0.0.2', timeout=5)
    except OSError as e:
        st, body = 0, str(e).encode()
    check(st == 200 and time.time() - t0 < 3, 'a normal client is served %s' % what,
          '%d in %.1f s %s' % (st, time.time() - t0, body[:100]))


def hostile(base, pid, timeout_s, header_s, min_rate):
    from urllib.parse import urlsplit
    u = urlsplit(base)
    addr = (u.hostname, u.port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    rss0 = rss_kb(pid)
    # 2,000 idle connections from one address
    socks, refused = [], 0
    for i in range(2000):
        try:
            s = socket.create_connection(addr, timeout=2, source_address=('127.0.0.1', 0))
            socks.append(s)
        except OSError:
            refused += 1
    time.sleep(0.5)
    normal_ok(base, 'beside 2,000 idle connections')
    closed = 0
    for s in socks:
        s.settimeout(0.01)
        try:
            if s.recv(1) == b'':
                closed += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
    check(closed + refused >= 2000 - 64, 'one address keeps at most 64 connections open',
          '%d closed, %d refused of 2000' % (closed, refused))
    for s in socks:
        s.close()
    # slowloris: headers that never end, trickled, from one address
    slow = []
    for i in range(100):
        try:
            s = socket.create_connection(addr, timeout=2, source_address=('127.0.0.3', 0))
            s.sendall(b'GET /api/v1/status HTTP/1.1\r\nHost: x\r\n')
            slow.append(s)
        except OSError:
            pass
    normal_ok(base, 'beside a slowloris')
    time.sleep(timeout_s + 2)
    gone = 0
    for s in slow:
        s.settimeout(0.5)
        try:
            gone += s.recv(1) == b''
        except socket.timeout:  # still open: a timeout is an OSError, not a close
            pass
        except OSError:
            gone += 1
        s.close()
    check(gone == len(slow), 'stalled headers are closed after web_timeout_seconds',
          '%d of %d' % (gone, len(slow)))
    # a body that stalls
    s = socket.create_connection(addr, timeout=timeout_s + 4, source_address=('127.0.0.4', 0))
    s.sendall(b'POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"id":')
    t0 = time.time()
    try:
        got = s.recv(100)
    except OSError:
        got = b''
    check(time.time() - t0 <= timeout_s + 3, 'a stalled body is dropped after the timeout',
          '%.1f s %r' % (time.time() - t0, got))
    s.close()
    # trickled headers: a byte each half second resets the idle timeout, never the deadline
    def trickle(src, head, data, every, limit):
        s = socket.create_connection(addr, timeout=2, source_address=(src, 0))
        s.sendall(head)
        t0 = time.time()
        for i in range(len(data)):
            try:
                s.send(data[i:i + 1])
            except OSError:
                break
            s.settimeout(every)
            try:
                if s.recv(4096) in (b'',):
                    break
            except socket.timeout:
                pass
            except OSError:
                break
            if time.time() - t0 > limit + 5:
                break
        s.close()
        return time.time() - t0
    took = trickle('127.0.0.7', b'', b'GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Pad: ' + b'a' * 200,
                   0.5, header_s)
    check(header_s - 0.5 <= took <= header_s + 2, 'headers trickled a byte each 0.5 s are cut at '
          'web_header_seconds (%d s), though each byte resets the idle timeout' % header_s, '%.1f s' % took)
    # a body trickled: its deadline is web_header_seconds plus its length at the least rate
    body_len = 2 * min_rate
    want = header_s + body_len / min_rate
    took = trickle('127.0.0.8', b'POST %s/api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n'
                   % (u.path.rstrip('/').encode(), body_len), b'{' * body_len, 0.5, want)
    check(want - 1 <= took <= want + 2, 'a body trickled below web_min_bytes_per_second is cut at '
          'its deadline (%.0f s)' % want, '%.1f s' % took)
    # a method is exactly GET, HEAD or POST: a NUL inside it is no GET
    for m, want_st in ((b'GET\0', 400), (b'G\0ET', 400), (b'GETX', 405), (b'PUT', 405), (b'get', 405)):
        s = socket.create_connection(addr, timeout=5, source_address=('127.0.0.11', 0))
        s.sendall(m + b' %s/log/checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
                  % u.path.rstrip('/').encode())
        d = b''
        try:
            while True:
                x = s.recv(4096)
                if not x:
                    break
                d += x
        except OSError:
            pass
        s.close()
        line = d.split(b'\r\n')[0]
        check(line.startswith(b'HTTP/1.1 %d' % want_st) and b'"ok":false' in d,
              'method %r is refused (%d)' % (m, want_st), repr(line))
    # oversized headers and body
    st, hs, body = http('GET', base + '/api/v1/status', headers={'X-Pad': 'x' * 100000}, src='127.0.0.5')
    check(st in (413, 431), 'a 100 KB header is refused (431)', str(st))
    st, hs, body = http('POST', base + '/api/v1/events', b'x' * 300000, src='127.0.0.5')
    check(st == 413, 'a 300 KB body is refused (413)', str(st))
    st, hs, body = http('GET', base + '/' + 'a' * 5000, src='127.0.0.5')
    check(st in (400, 414), 'a 5 KB path is refused', str(st))
    # malformed paths and numbers
    for path in ('/api/v1/../v1/status', '/api/v1/%2e%2e/status', '/api/v1/batches%2f1',
                 '/api/v1/batches/%00', '/api/v1/status%5c', '//api/v1/status',
                 '/api/v1/entries/-1', '/api/v1/entries/99999999999999999999999',
                 '/api/v1/entries/' + 'a' * 63, '/api/v1/entries/' + 'a' * 65,
                 '/api/v1/entries/' + 'g' * 64, '/api/v1/entries/' + 'a' * 64 + '/proofs',
                 '/api/v1/entries?from=-5', '/api/v1/entries?limit=1e9',
                 '/api/v1/proofs/inclusion?seq=0x10', '/log/tile/0/-01', '/log/tile/99/000',
                 '/log/tile/0/x1/000', '/log/tile/entries/000.p/999',
                 # only the modules a page loads: no source maps, types or package files
                 '/assets/noble/hashes/_md.js.map', '/assets/noble/hashes/sha2.d.ts',
                 '/assets/noble/hashes/package.json', '/assets/noble/ciphers/package.json',
                 '/assets/noble/ed25519.js.map', '/assets/package.json'):
        prefix = u.path.rstrip('/')
        st, hs, body = http('GET', '%s://%s%s%s' % (u.scheme, u.netloc, prefix, path), src='127.0.0.6')
        check(st in (400, 404) and b'"ok":false' in body, 'refused: %s' % path, '%d %s' % (st, body[:120]))
    normal_ok(base, 'after it all')
    rss1 = rss_kb(pid)
    check(rss1 - rss0 < 64 * 1024, 'memory stays bounded', '%d KB -> %d KB' % (rss0, rss1))


def slow_reader(base, answer_s):
    """An answer larger than the kernel may hold for it, read 1 KB a second: the server
    lets go of it at web_answer_seconds, so what arrives is short of its Content-Length."""
    from urllib.parse import urlsplit
    u = urlsplit(base)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect((u.hostname, u.port))
    s.sendall(b'GET %s/api/v1/entries?from=0&limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n' % u.path.rstrip('/').encode())
    t0, data, reset, cut_at = time.time(), b'', False, None
    s.settimeout(0.5)
    try:
        while time.time() - t0 < answer_s + 2:
            try:
                d = s.recv(200)
            except socket.timeout:
                continue
            if not d:
                cut_at = time.time() - t0
                break
            data += d
            time.sleep(0.2)
        # then as fast as it comes: what the kernel still held, and the end
        s.settimeout(3)
        while cut_at is None:
            d = s.recv(65536)
            if not d:
                cut_at = time.time() - t0
                break
            data += d
    except ConnectionResetError:  # let go with no linger: what the kernel held is dropped
        reset, cut_at = True, time.time() - t0
    except OSError:
        pass
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    m = re.search(rb'(?i)content-length: *(\d+)', head)
    want = int(m.group(1)) if m else -1
    check(head.startswith(b'HTTP/1.1 200') and want > 0 and cut_at is not None and
          cut_at >= answer_s - 0.5 and len(body) < want,
          'an answer read by nobody is let go at web_answer_seconds (%d s): %d of %d bytes, then %s'
          % (answer_s, len(body), want, 'a reset' if reset else 'the end'),
          '%r cut at %s' % (head[:60], cut_at))


def main():
    mode = sys.argv[1]
    if mode == 'rest':
        rest(sys.argv[2].rstrip('/'), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
    elif mode == 'slowread':
        slow_reader(sys.argv[2].rstrip('/'), int(sys.argv[3]))
    else:
        hostile(sys.argv[2].rstrip('/'), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    print('web-%s: %d passed, %d failed' % (mode, passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
