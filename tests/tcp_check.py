#!/usr/bin/env python3
"""tcp_check.py: hostile TCP clients against tcmtraced's tcp:// listener.

The daemon runs with a soft limit of 1,024 file descriptors (systemd's
default) and tcp_stall_seconds = 2. Under a sanitizer (TCMTRACE_SANITIZED set)
the memory bound allows for its shadow memory. Prints "tcp: N passed, N failed".

    tcp_check.py PID PORT TT DIR
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

PID, PORT, TT, DIR = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
# a sanitizer's shadow memory multiplies what each byte held costs
SHADOW = 8 if os.environ.get('TCMTRACE_SANITIZED') else 1
# and under valgrind or a sanitizer every program (this tcmtrace too) runs several times slower
SLOW = 4 if os.environ.get('TCMTRACE_SANITIZED') or os.environ.get('TCMTRACE_VALGRIND') else 1
passed = failed = 0


def check(ok, what, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print('pass', what)
    else:
        failed += 1
        print('FAIL', what, str(detail)[:300])
    return ok


def cpu_s():
    f = open('/proc/%d/stat' % PID).read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')


def rss_kb():
    for line in open('/proc/%d/status' % PID):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return 0


def fds():
    return len(os.listdir('/proc/%d/fd' % PID))


def local_status():
    t0 = time.time()
    r = subprocess.run([TT, '--dir', DIR, '--timeout', '5000', 'status'], capture_output=True, text=True)
    return r.returncode == 0, time.time() - t0


GREETING = b'\0SP\0\0\x30\0\0'


def sp_connect():
    s = socket.create_connection(('127.0.0.1', PORT), timeout=5)
    s.sendall(GREETING)
    return s


def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError('closed')
        b += c
    return b


def sp_request(s, body, reqid=0x80000001):
    s.sendall(struct.pack('>QI', len(body) + 4, reqid) + body)
    n = struct.unpack('>Q', recv_exact(s, 8))[0]
    msg = recv_exact(s, n)
    return struct.unpack('>I', msg[:4])[0], json.loads(msg[4:])


# a nanomsg REQ peer, by hand: the greeting, then one request
s = sp_connect()
check(recv_exact(s, 8) == b'\0SP\0\0\x31\0\0', 'the listener greets as a nanomsg REP')
rid, a = sp_request(s, b'{"op":"status"}', 0x8000abcd)
check(rid == 0x8000abcd and a.get('ok') is True, 'a request over TCP is answered with its request id', a)
rid, a = sp_request(s, b'{"op":"status","pad":"' + b'x' * 300000 + b'"}', 0x80000002)
check(rid == 0x80000002 and a.get('error', {}).get('code') == 'too_large',
      'a 300 KB request is read and thrown away, and answered too_large', a)
rid, a = sp_request(s, b'{"op":"status"}', 0x80000003)
check(a.get('ok') is True, 'and the connection goes on', a)
s.close()

# 1,100 idle nanomsg clients (greeted, then silent): at most the cap are kept, the rest
# are closed at once;
# the daemon neither runs out of descriptors nor spins, and the local socket answers
fd0 = fds()
idle = []
for i in range(1100):
    try:
        c = socket.create_connection(('127.0.0.1', PORT), timeout=5)
        c.sendall(GREETING)
        idle.append(c)
    except OSError:
        pass
time.sleep(1.0 * SLOW)
c0, t0 = cpu_s(), time.time()
time.sleep(2.0)
busy = (cpu_s() - c0) / (time.time() - t0)
open_fds = fds()
ok, took = local_status()
check(ok and took < 2 * SLOW, 'with 1,100 TCP connections open, the local socket answers status', '%.1f s' % took)
check(busy < 0.10, 'and the daemon does not spin (%.0f%% of a core)' % (busy * 100), busy)
check(open_fds < 1000, 'and it stays within its descriptors (%d open)' % open_fds, open_fds)
alive = 0
for s in idle:
    try:
        s.settimeout(0.01)
        s.recv(8)  # the greeting, for those kept; b'' (closed) for the others
        s.settimeout(0.01)
        alive += s.recv(1, socket.MSG_PEEK) != b''
    except socket.timeout:
        alive += 1
    except OSError:
        pass
check(0 < alive <= 256, 'at most tcp_max_connections are kept (%d of 1,100)' % alive, alive)
for s in idle:
    s.close()
time.sleep(0.5)

# 300 connections each stopped inside a message: what they hold stays bounded
rss0 = rss_kb()
part = []
for i in range(300):
    try:
        s = sp_connect()
        s.sendall(struct.pack('>Q', 200000) + b'\x80\0\0\x01' + b'x' * 190000)
        part.append(s)
    except OSError:
        pass
time.sleep(1.0 * SLOW)
grew = rss_kb() - rss0
check(grew < 80 * 1024 * max(SHADOW, SLOW // 2), '300 connections each 10 KB short of a 200 KB message: the daemon grew %d MB (bounded by the cap)' % (grew // 1024), grew)
ok, took = local_status()
check(ok, 'and the local socket still answers', took)
# they stall: closed after tcp_stall_seconds
time.sleep(3.5 * SLOW)
closed = 0
for s in part:
    try:
        s.settimeout(0.2)
        closed += s.recv(64) in (b'', b'\0SP\0\0\x31\0\0') and s.recv(1) == b''
    except socket.timeout:
        pass
    except OSError:  # reset: refused at the cap
        closed += 1
check(closed >= len(part) * 9 // 10 and closed > 0, 'connections stalled inside a message are closed (%d of %d)' % (closed, len(part)), closed)
for s in part:
    s.close()


def closed_while_busy(s, seconds):
    """Whether the daemon closes s while this side keeps sending a byte every 0.2 s, so that
    the stall timer (no progress for tcp_stall_seconds) cannot be what closed it. A receive
    timeout is not a close (socket.timeout is an OSError: it is told apart first)."""
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if s.recv(4096) == b'':
                return True
            continue
        except socket.timeout:
            pass
        except OSError:  # reset
            return True
        try:
            s.send(b'\0')
        except OSError:
            return True
    return False


# a message declared over 1 MiB closes its connection at once
s = sp_connect()
recv_exact(s, 8)
s.sendall(struct.pack('>Q', 5 << 20))
check(closed_while_busy(s, 10 * SLOW), 'a message declared at 5 MiB closes its connection')
s.close()
# a peer that is not a nanomsg REQ is closed
s = socket.create_connection(('127.0.0.1', PORT), timeout=5)
s.sendall(b'GET / HTTP/1.1\r\n\r\n')
check(closed_while_busy(s, 10 * SLOW), 'a client that is not nanomsg REQ is closed')
s.close()
# and the same check holds a connection open that only keeps talking: it can fail
s = sp_connect()
recv_exact(s, 8)
s.sendall(struct.pack('>Q', 64 << 10))
check(not closed_while_busy(s, 3), 'a client that keeps sending inside a message in bounds is not closed')
s.close()
# after all that, a real client over TCP
r = subprocess.run([TT, '--connect', 'tcp://127.0.0.1:%d' % PORT, 'status'], capture_output=True, text=True)
check(r.returncode == 0, 'tcmtrace --connect tcp:// still works', r.stderr)
print('tcp: %d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
