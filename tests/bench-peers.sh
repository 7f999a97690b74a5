#!/bin/sh
# make bench, the peers' part: tcmtrace-witness add-checkpoint requests a second and their
# p99 (each one checked, cosigned and synced to disk), and a follower catching up from zero
# on a ledger of BENCH_PEERS_ENTRIES (100,000) entries, against this run's Ed25519 ceiling.
# Prints markdown table rows; judges nothing (docs/bench.md).
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-bench-peers-XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
PY=/usr/bin/python3
N=${BENCH_PEERS_ENTRIES:-100000}
free_port() { $PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
wait_http() { for i in $(seq 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }

PORT=$(free_port)
"$BIN/fill-ledger" "$WORK/big" "$N" "http://127.0.0.1:$PORT/cq" >/dev/null || exit 1
"$BIN/tcmtrace-web" "$WORK/big" --listen "127.0.0.1:$PORT" >"$WORK/web.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$PORT/" || exit 1

# the witness: 8 clients re-cosigning the log's checkpoint for 5 s
"$BIN/tcmtrace-witness" init "$WORK/w" --name bench.test/w --unsealed-key >/dev/null || exit 1
echo "log tcmtrace.test/tiles $(cat "$WORK/big/log.vkey")" >>"$WORK/w/logs"
WPORT=$(free_port)
"$BIN/tcmtrace-witness" run "$WORK/w" --listen "127.0.0.1:$WPORT" --quiet --log-rate 100000 \
    --address-rate 100000 >"$WORK/w.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$WPORT/" || exit 1
$PY - "http://127.0.0.1:$PORT/cq/log/checkpoint" "http://127.0.0.1:$WPORT/add-checkpoint" <<'PYEOF'
import sys, threading, time, urllib.request, http.client, urllib.parse
note = urllib.request.urlopen(sys.argv[1]).read().decode()
size = int(note.split('\n')[1])
target = urllib.parse.urlparse(sys.argv[2])
first = ('old 0\n\n' + note).encode()
again = ('old %d\n\n' % size + note).encode()
c = http.client.HTTPConnection(target.hostname, target.port)
c.request('POST', target.path, first); r = c.getresponse(); r.read()
assert r.status == 200, r.status
lat, stop, errors = [], time.time() + 5, [0]
def client():
    c = http.client.HTTPConnection(target.hostname, target.port)
    while time.time() < stop:
        t = time.perf_counter()
        c.request('POST', target.path, again)
        r = c.getresponse(); r.read()
        if r.status != 200: errors[0] += 1
        lat.append(time.perf_counter() - t)
t0 = time.time()
ts = [threading.Thread(target=client) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
el = time.time() - t0
lat.sort()
print('| tcmtrace-witness add-checkpoint, 8 clients on loopback (each checked, cosigned, synced) | %.0f requests/s, p50 %.2f ms, p99 %.2f ms, %d refused |'
      % (len(lat) / el, lat[len(lat) // 2] * 1e3, lat[len(lat) * 99 // 100] * 1e3, errors[0]))
PYEOF

# the follower, from zero
CEIL=$("$BIN/tcmtrace-bench" --ceiling)
T0=$(date +%s.%N)
"$BIN/tcmtraced" follow "http://127.0.0.1:$PORT/cq" "$WORK/replica" --log-key "$WORK/big/log.vkey" \
    --once --quiet || exit 1
T1=$(date +%s.%N)
$PY -c "
n, t, ceil = $N, $T1 - $T0, $CEIL
print('| follower catch-up from zero, %d entries (tiles, root, rules replayed) | %.0f entries/s in %.1f s; Ed25519 ceiling %.0f/s; ratio %.2f (goal 0.60: %s) |'
      % (n, n / t, t, ceil, n / t / ceil, 'met' if n / t / ceil >= 0.6 else 'not met'))"
