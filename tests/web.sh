#!/bin/sh
# tcmtrace-web on real sockets: a ledger of more than 70,000 entries read as
# C2SP tlog-tiles by an independent client (tests/tlog_client.py); the REST
# API against its OpenAPI description, the same answers as nanomsg, writes
# forwarded to a real daemon; hostile HTTP clients (tests/web_check.py); and
# 503 while the daemon is down. Prints "web: N passed, N failed".
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-web-XXXXXX")
KEYS="$WORK/keys" L="$WORK/ledger"
mkdir -p "$KEYS"
WEB_PID=
trap 'stop_daemon; [ -n "$WEB_PID" ] && kill "$WEB_PID" 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
export TCMTRACE_DIR="$L"
PY=/usr/bin/python3
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "pass $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' "$2" | tail -20; }
free_port() { $PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
# start_web DIR PORT [ARGS]: tcmtrace-web in the background until it answers
start_web() {
    w_dir=$1 w_port=$2
    shift 2
    "$BIN/tcmtrace-web" "$w_dir" --listen "127.0.0.1:$w_port" "$@" >>"$WORK/web.log" 2>&1 &
    WEB_PID=$!
    for i in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$w_port/" && return 0
        kill -0 "$WEB_PID" 2>/dev/null || { cat "$WORK/web.log"; return 1; }
        sleep 0.05
    done
    return 1
}
stop_web() { stop_pid "$WEB_PID" tcmtrace-web; WEB_PID=; }
# py NAME SCRIPT ARGS...: runs one checker; its own cases are counted as one
py() {
    name=$1
    shift
    if $PY "$@" >"$WORK/py.out" 2>&1; then
        pass "$name ($(tail -1 "$WORK/py.out"))"
    else
        fail "$name" "$WORK/py.out"
    fi
}

# ---- tiles: a log with level-1 and level-2 tiles ----------------------------------------
PORT=$(free_port)
"$BIN/fill-ledger" "$WORK/big" 70500 "http://127.0.0.1:$PORT/cq" >/dev/null || exit 1
printf 'web_answer_seconds = 4\nweb_send_buffer = 16384\n' >"$WORK/big.conf"
start_web "$WORK/big" "$PORT" --config "$WORK/big.conf" || exit 1
py "an independent client follows and checks the log as tiles" "$HERE/tlog_client.py" \
    "http://127.0.0.1:$PORT/cq/log" "$WORK/big/log.vkey" "http://127.0.0.1:$PORT/cq/api/v1/entries/70321/proof"
py "a slow reader of a long answer is let go at web_answer_seconds" "$HERE/web_check.py" slowread \
    "http://127.0.0.1:$PORT/cq" 4
OUT=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/log/checkpoint")
[ "$OUT" = 404 ] && pass "nothing is served outside the base URL's path" || fail "outside the base path: $OUT"
stop_web
# the same log exported as files, served by a plain static server, checked the same way
if "$TT" tiles export "$WORK/big" "$WORK/static" >"$WORK/out" 2>&1; then pass "tiles export"; else fail "tiles export" "$WORK/out"; fi
"$TT" --json tiles export "$WORK/big" "$WORK/static" >"$WORK/out" 2>&1
grep -q '"written":4,"kept":551' "$WORK/out" && pass "a second export writes only the 4 partial tiles (entries, levels 0-2), keeps the 551 full ones" ||
    fail "a second export rewrote full tiles" "$WORK/out"
SPORT=$(free_port)
(cd "$WORK/static" && exec $PY -m http.server "$SPORT" --bind 127.0.0.1) >/dev/null 2>&1 &
SPID=$!
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$SPORT/checkpoint" && break; sleep 0.1; done
py "the exported tree, from a plain file server, checks out too" "$HERE/tlog_client.py" --static \
    "http://127.0.0.1:$SPORT" "$WORK/big/log.vkey"
kill "$SPID" 2>/dev/null

# ---- a market's ledger, its daemon and its web front end ----------------------------------
PORT=$(free_port)
for who in mkt grower trader; do "$TT" key new "$KEYS/$who.key" --unsealed >/dev/null; done
"$TTD" init "$L" --origin tcmtrace.test/web --market 解放路 --authority-key "$KEYS/mkt.key" \
    --authority-id MKT --authority-name 市场管理处 --unsealed-log-key \
    --base-url "http://127.0.0.1:$PORT/cq" >/dev/null || exit 1
start_daemon "$L" "$WORK/daemon.log" || exit 1
as mkt actor enroll --id G-1 --pubkey "$KEYS/grower.key.pub" --name 马建国 --org 岷县合作社 \
    --licence L-1 --role grower >/dev/null
as mkt actor enroll --id T-1 --pubkey "$KEYS/trader.key.pub" --name 陈秀兰 --org 陈氏药材行 \
    --licence L-2 --role trader >/dev/null
as grower register --herb 当归 --latin "Angelica sinensis" --part 根 --qty 10kg --province 甘肃省 \
    --city 定西市 --county 岷县 --base 梅川镇 --harvest 2026-10-12 --grade 一等 --processing 晒干 \
    >"$WORK/reg" || { cat "$WORK/reg"; exit 1; }
CODE=$(codes_of "$WORK/reg" | head -1)
as grower transfer "$CODE" --to T-1 --qty 2kg >/dev/null && as grower register --herb 黄芪 \
    --latin "Astragali Radix" --part 根 --qty 5kg --province 甘肃省 --city 定西市 --county 陇西县 \
    --base b --harvest 2026-09-01 --grade 统货 --processing 晒干 >/dev/null || exit 1
REG() { printf '{"type":"batch.register","id":"%s","herb":{"name_zh":"当归","latin":"Angelica sinensis","part":"根"},"origin":{"province":"甘肃省","city":"定西市","county":"岷县","base":"b","daodi":true},"harvest_date":"2026-10-12","grade":"g","processing":"p","qty_g":1000}' "$1"; }
damm() { $PY -c "
t=[[0,3,1,7,5,9,8,6,4,2],[7,0,9,2,1,5,4,8,6,3],[4,2,0,6,8,7,1,3,5,9],[1,7,5,0,9,8,3,4,2,6],[6,1,2,3,0,4,5,9,7,8],[3,6,7,4,2,0,9,5,8,1],[5,8,6,9,7,2,0,1,3,4],[8,9,4,5,3,6,2,0,1,7],[9,4,3,8,6,1,7,2,0,5],[2,5,8,1,4,3,6,7,9,0]]
i=0
for c in '$1': i=t[i][int(c)]
print('$1'+str(i))"; }
"$BIN/tcmtrace-sign" "$KEYS/grower.key" "$(REG "$(damm 261122000001000)")" >"$WORK/signed1.json"
"$BIN/tcmtrace-sign" "$KEYS/grower.key" "$(REG "$(damm 261122000002000)")" >"$WORK/signed2.json"
cat >"$WORK/web.conf" <<EOF
web_timeout_seconds = 3
web_header_seconds = 4
web_min_bytes_per_second = 4000
web_writes_per_second = 5
web_write_burst = 20
EOF
start_web "$L" "$PORT" --config "$WORK/web.conf" || exit 1
py "the REST API, as its OpenAPI says and as nanomsg answers" "$HERE/web_check.py" rest \
    "http://127.0.0.1:$PORT/cq" "$TT" "$CODE" "$WORK/signed1.json" "$WORK/signed2.json"
py "the state map: each lot's state and an absent lot's absence, proved by the checker's own code" \
    "$HERE/check_statemap.py" --url "http://127.0.0.1:$PORT/cq" --log-key "$(cat "$L/log.vkey")" \
    "$CODE" --expect "$CODE=active" --absent "$(damm 261122999999000)"
py "hostile HTTP clients" "$HERE/web_check.py" hostile "http://127.0.0.1:$PORT/cq" "$WEB_PID" 3 4 4000
# HTTPS with a certificate of its own (GnuTLS), on another port
stop_web
TPORT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1 || exit 1
start_web_tls() {
    "$BIN/tcmtrace-web" "$L" --listen "127.0.0.1:$TPORT" --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" >>"$WORK/web.log" 2>&1 &
    WEB_PID=$!
    for i in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$TPORT/" && return 0; sleep 0.05; done
    return 1
}
start_web_tls || { fail "tcmtrace-web did not start with TLS" "$WORK/web.log"; }
OUT=$(curl -s --cacert "$WORK/tls.crt" -o "$WORK/out" -w '%{http_code}' "https://127.0.0.1:$TPORT/cq/api/v1/batches/$CODE")
[ "$OUT" = 200 ] && grep -q '"ok":true' "$WORK/out" && pass "HTTPS with --tls-cert and --tls-key, the certificate verified" ||
    fail "HTTPS: $OUT" "$WORK/out"
OUT=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TPORT/cq/api/v1/status")
[ "$OUT" != 200 ] && pass "the HTTPS port does not answer plain HTTP" || fail "plain HTTP on the HTTPS port: $OUT"
stop_web
if "$BIN/tcmtrace-web" "$L" --listen "127.0.0.1:$TPORT" --tls-cert "$WORK/tls.crt" >"$WORK/out" 2>&1; then
    fail "a certificate without its key was accepted"
else grep -q "both --tls-cert and --tls-key" "$WORK/out" && pass "a certificate without its key is refused" || fail "no key" "$WORK/out"; fi
start_web "$L" "$PORT" --config "$WORK/web.conf" || exit 1
# a port that is taken: the address named, in Chinese first, exit 3
if "$BIN/tcmtrace-web" "$L" --listen "127.0.0.1:$PORT" >"$WORK/out" 2>&1; then
    fail "a second tcmtrace-web on a taken port started"
else
    rc=$?
    [ "$rc" = 3 ] && grep -q "无法在 127.0.0.1:$PORT 上监听：这个端口已被别的程序占用" "$WORK/out" &&
        grep -q "Address already in use" "$WORK/out" && pass "a taken port is named, with what to do (exit 3)" ||
        fail "a taken port: exit $rc" "$WORK/out"
fi
# a daemon that does not answer (stopped with SIGSTOP): the first write waits out the timeout,
# the next are answered 503 at once instead of each holding a thread as long, reads go on,
# and once the daemon answers again writes go to it again
HPORT=$(free_port)
printf 'web_daemon_timeout_ms = 1000\n' >"$WORK/web-hung.conf"
"$BIN/tcmtrace-web" "$L" --listen "127.0.0.1:$HPORT" --config "$WORK/web-hung.conf" >>"$WORK/web.log" 2>&1 &
HUNG_PID=$!
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$HPORT/cq/api/v1/status" && break; sleep 0.05; done
kill -STOP "$DAEMON_PID"
post_hung() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST --data-binary @"$WORK/signed2.json" \
    "http://127.0.0.1:$HPORT/cq/api/v1/events"; }
first=$(post_hung)
: >"$WORK/hung"
for i in 1 2 3 4 5 6 7 8; do post_hung >>"$WORK/hung"; done
read_st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/cq/api/v1/batches/$CODE")
kill -CONT "$DAEMON_PID"
# each of the eight within a fifth of the timeout (the first took all of it)
if [ "${first%% *}" = 503 ] && awk '$1 != 503 || $2 > 0.2 {bad++} END {exit bad ? 1 : 0}' "$WORK/hung" && [ "$read_st" = 200 ]; then
    pass "a daemon that does not answer: after one timeout, writes get 503 at once and reads go on"
else fail "a hung daemon: first $first, reads $read_st, then" "$WORK/hung"; fi
again=503
for i in $(seq 100); do
    again=$(post_hung | cut -d' ' -f1)
    [ "$again" != 503 ] && break
    sleep 0.1
done
[ "$again" != 503 ] && pass "once it answers again, writes reach it again ($again)" || fail "writes stay 503 after the daemon answers again"
kill "$HUNG_PID" 2>/dev/null; wait "$HUNG_PID" 2>/dev/null
# the daemon down: reads go on from the store, writes get 503 and change nothing
stop_daemon
before=$(sha256sum "$L/data.mdb" | cut -d' ' -f1)
OUT=$(curl -s -o "$WORK/out" -w '%{http_code}' -X POST --data-binary @"$WORK/signed2.json" \
    "http://127.0.0.1:$PORT/cq/api/v1/events")
after=$(sha256sum "$L/data.mdb" | cut -d' ' -f1)
if [ "$OUT" = 503 ] && grep -q '"code":"unavailable"' "$WORK/out" && [ "$before" = "$after" ]; then
    pass "a write while the daemon is down: 503, nothing written"
else fail "a write while the daemon is down: $OUT" "$WORK/out"; fi
OUT=$(curl -s -o "$WORK/out" -w '%{http_code}' "http://127.0.0.1:$PORT/cq/api/v1/batches/$CODE")
[ "$OUT" = 200 ] && pass "reads go on without the daemon" || fail "a read without the daemon: $OUT" "$WORK/out"
OUT=$(curl -s -o "$WORK/out" -w '%{http_code}' "http://127.0.0.1:$PORT/cq/api/v1/batches/$CODE/label")
[ "$OUT" = 503 ] && pass "a label token needs the daemon: 503" || fail "a label without the daemon: $OUT" "$WORK/out"
stop_web
grep -q "tcmtrace-web: stopped" "$WORK/web.log" && pass "SIGTERM stops tcmtrace-web cleanly" ||
    fail "tcmtrace-web did not stop cleanly" "$WORK/web.log"
stop_daemon
if [ "$DAEMON_BAD" = 0 ]; then pass "every tcmtraced and tcmtrace-web stopped exited 0"
else fail "$DAEMON_BAD tcmtraced or tcmtrace-web processes exited with an error when stopped"; fi
# every check ran (raise it with a new check)
WEB_CHECKS=20
[ $((passed + failed)) = "$WEB_CHECKS" ] || fail "$((passed + failed)) web checks ran, $WEB_CHECKS expected"
echo "web: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
