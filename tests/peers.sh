#!/bin/sh
# Peers on loopback, each in its own directory and on its own free port:
# tcmtrace-witness against a log written by the test's own code
# (tests/witness_check.py), kill -9 and a restart of the witness; then a
# market ledger whose daemon asks two witnesses, a witness down, and the
# cosigned checkpoint served and checked. Prints "peers: N passed, N failed".
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-peers-XXXXXX")
TW="$BIN/tcmtrace-witness"
PY=/usr/bin/python3
W_PIDS=""
trap 'stop_daemon; for p in $W_PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT INT TERM
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "pass $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' "$2" | tail -20; }
free_port() { $PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
# start_witness DIR PORT [ARGS]: sets W_PID once it answers
start_witness() {
    sw_dir=$1 sw_port=$2
    shift 2
    "$TW" run "$sw_dir" --listen "127.0.0.1:$sw_port" "$@" >>"$sw_dir.log" 2>&1 &
    W_PID=$!
    W_PIDS="$W_PIDS $W_PID"
    for i in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$sw_port/" && return 0
        kill -0 "$W_PID" 2>/dev/null || { cat "$sw_dir.log"; return 1; }
        sleep 0.05
    done
    return 1
}

# ---- the witness on its own, against a log that is not tcmtrace's ------------------------------
echo "witness pass" >"$WORK/wpass"
chmod 600 "$WORK/wpass"
if "$TW" init "$WORK/w1" --name witness.test/w1 --passphrase-file "$WORK/wpass" >"$WORK/out" 2>&1 &&
    grep -q "witness.test/w1+" "$WORK/out"; then
    pass "init makes a witness and prints its verifier key"
else
    fail "witness init" "$WORK/out"
fi
MODE=$(stat -c %a "$WORK/w1/witness.key")
[ "$MODE" = 600 ] && grep -q "^sealed: " "$WORK/w1/witness.key" &&
    pass "witness.key is 0600 and sealed" || fail "witness.key mode $MODE or unsealed"
"$TW" init "$WORK/w1" --name witness.test/w1 --passphrase-file "$WORK/wpass" >"$WORK/out" 2>&1
[ $? = 3 ] && grep -q "already holds a witness" "$WORK/out" && grep -q "^tcmtrace-witness: 这个目录里已经有见证方" "$WORK/out" &&
    pass "init refuses a directory that already holds a witness" || fail "second init" "$WORK/out"
"$TW" init "$WORK/w0" --name "bad name" --unsealed-key >"$WORK/out" 2>&1
[ $? = 2 ] && grep -q -- "--name" "$WORK/out" && pass "init refuses a name with a space, saying what a name is" ||
    fail "bad name" "$WORK/out"
echo "wrong" >"$WORK/wrongpass"
"$TW" run "$WORK/w1" --listen 127.0.0.1:1 --passphrase-file "$WORK/wrongpass" >"$WORK/out" 2>&1
[ $? = 3 ] && grep -qi "passphrase" "$WORK/out" && pass "run with a wrong passphrase stops and says so" ||
    fail "wrong passphrase" "$WORK/out"

P1=$(free_port)
start_witness "$WORK/w1" "$P1" --passphrase-file "$WORK/wpass" --address-rate 1000 || exit 1
if $PY "$HERE/witness_check.py" phase1 "http://127.0.0.1:$P1" "$WORK/w1" "$W_PID" >"$WORK/py.out" 2>&1; then
    pass "an independent log (Python): tlog-witness and cosignature/v1 ($(tail -1 "$WORK/py.out"))"
else
    fail "witness_check phase1" "$WORK/py.out"
fi
kill -9 "$W_PID"
wait "$W_PID" 2>/dev/null
start_witness "$WORK/w1" "$P1" --passphrase-file "$WORK/wpass" || exit 1
if $PY "$HERE/witness_check.py" phase2 "http://127.0.0.1:$P1" "$WORK/w1" "$WORK/log-a.json" >"$WORK/py.out" 2>&1; then
    pass "after kill -9 the witness remembers what it cosigned ($(tail -1 "$WORK/py.out"))"
else
    fail "witness_check phase2" "$WORK/py.out"
fi
grep -q "REFUSED example.test/log-a: size 14 is not consistent" "$WORK/w1.log" &&
    pass "the fork is logged with the checkpoint the log signed (evidence)" || fail "no evidence of the fork" "$WORK/w1.log"
stop_pid "$W_PID" tcmtrace-witness
# the rate per address
start_witness "$WORK/w1" "$P1" --passphrase-file "$WORK/wpass" --address-rate 1 || exit 1
n429=0
for i in 1 2 3 4 5 6; do
    c=$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'old 0' "http://127.0.0.1:$P1/add-checkpoint")
    [ "$c" = 429 ] && n429=$((n429 + 1))
done
[ "$n429" -ge 3 ] && pass "--address-rate 1: a burst from one address gets 429 ($n429 of 6)" ||
    fail "address rate: $n429 of 6 refused"
stop_pid "$W_PID" tcmtrace-witness

# ---- a market ledger whose daemon asks three witnesses, two of which must cosign -------------
KEYS="$WORK/keys" L="$WORK/ledger"
mkdir -p "$KEYS"
export TCMTRACE_DIR="$L"
for who in mkt grower; do "$TT" key new "$KEYS/$who.key" --unsealed >/dev/null; done
WPORT=$(free_port)
"$TTD" init "$L" --origin tcmtrace.test/peers --market 重庆解放路中药材专业市场 \
    --authority-key "$KEYS/mkt.key" --authority-id MKT-01 --authority-name 市场管理处 \
    --base-url "http://127.0.0.1:$WPORT/peers" --unsealed-log-key >/dev/null || exit 1
# cosignatures asked for again every 2 s, and the phone page takes one older than 8 s as an
# old view of the log (docs/statemap.md, "Fresh"): the defaults are 600 s and an hour
printf 'witness_refresh_seconds = 2\nweb_fresh_seconds = 8\n' >>"$L/tcmtraced.conf"
start_daemon "$L" "$WORK/daemon.log" || exit 1
as mkt actor enroll --id GROWER-01 --pubkey "$KEYS/grower.key.pub" --name 王建国 --org 石柱县黄连合作社 \
    --licence "渝 2026-G1" --role grower >/dev/null || { echo "setup: enroll"; exit 1; }
POLICY="$WORK/policy"
: >"$POLICY"
for w in w2 w3 w4; do
    "$TW" init "$WORK/$w" --name "witness.test/$w" --unsealed-key >/dev/null || exit 1
    echo "log tcmtrace.test/peers $(cat "$L/log.vkey")" >>"$WORK/$w/logs"
    eval "P_$w=\$(free_port)"
    eval "port=\$P_$w"
    start_witness "$WORK/$w" "$port" || exit 1
    eval "PID_$w=\$W_PID"
    echo "witness $w $(cat "$WORK/$w/witness.vkey") http://127.0.0.1:$port" >>"$POLICY"
done
printf 'group two-of-three 2 w2 w3 w4\nquorum two-of-three\n' >>"$POLICY"
# what is refused before anything is signed
printf 'witness w9 %s\nquorum w9\n' "$(cat "$WORK/w2/witness.vkey")" >"$WORK/nourl"
as mkt witnesses publish "$WORK/nourl" >"$WORK/out" 2>&1
[ $? = 2 ] && grep -q "has no URL" "$WORK/out" && pass "a policy naming a witness without a URL is refused before signing" ||
    fail "policy without URL" "$WORK/out"
as grower witnesses publish "$POLICY" >"$WORK/out" 2>&1
[ $? = 1 ] && grep -q "market authority" "$WORK/out" && pass "only an authority may publish the witness policy" ||
    fail "policy by a grower" "$WORK/out"
if as mkt witnesses publish "$POLICY" >"$WORK/out" 2>&1 && grep -q "3 个见证方，要求 2 个" "$WORK/out"; then
    pass "the authority publishes the policy: 3 witnesses, 2 to cosign"
else
    fail "publish policy" "$WORK/out"
fi
CODE=$(as grower register --herb 黄连 --qty 50kg --province 重庆市 --city 重庆市 --county 石柱县 --base 黄水基地 --harvest 2026-10-20 --grade 一等 --processing 晒干 2>"$WORK/err" | grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' | head -1 | tr -d ' ')
[ -n "$CODE" ] || { echo "setup: register"; cat "$WORK/err"; exit 1; }
# wait for the three to cosign the latest
for i in $(seq 100); do
    "$TT" --json witnesses >"$WORK/wst" 2>&1
    $PY -c "import json,sys; w=json.load(open(sys.argv[1]))['witnesses']; sys.exit(0 if len(w)==3 and all(x['lag']==0 for x in w) else 1)" "$WORK/wst" && break
    sleep 0.1
done
$PY -c "import json,sys; w=json.load(open(sys.argv[1]))['witnesses']; sys.exit(0 if len(w)==3 and all(x['lag']==0 and x['cosigned_size']>0 for x in w) else 1)" "$WORK/wst" &&
    pass "status: each of the three witnesses has cosigned the latest checkpoint (lag 0)" || fail "witness lag" "$WORK/wst"
"$TT" checkpoint >"$WORK/out" 2>&1
grep -q "已由 3 个见证方共同签署（要求 2 个）" "$WORK/out" && pass "tcmtrace checkpoint: 已由 3 个见证方共同签署（要求 2 个）" ||
    fail "checkpoint with witnesses" "$WORK/out"
"$TT" verify "$CODE" >"$WORK/out" 2>&1 && pass "verify proves the lot against the cosigned checkpoint" || fail "verify" "$WORK/out"
"$BIN/tcmtrace-web" "$L" --listen "127.0.0.1:$WPORT" >>"$WORK/web.log" 2>&1 &
WEB_PID=$!
W_PIDS="$W_PIDS $WEB_PID"
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$WPORT/" && break; sleep 0.05; done
if $PY "$HERE/witness_check.py" cosigned "http://127.0.0.1:$WPORT/peers/log/checkpoint" "$L/log.vkey" \
    "$WORK/w2" "$WORK/w3" "$WORK/w4" >"$WORK/py.out" 2>&1 && grep -q "cosigned 3" "$WORK/py.out"; then
    pass "/log/checkpoint carries the three cosignatures, each checked here ($(tail -1 "$WORK/py.out"))"
else
    fail "served cosigned checkpoint" "$WORK/py.out"
fi
# a size the quorum cosigned, and when: later served as an old view of the log
OLD_SIZE=$("$TT" --json status | $PY -c "import json,sys; print(json.load(sys.stdin)['size'])")
OLD_AT=$(date +%s)
# the phone page checks the cosignatures itself (Chromium)
SCREENS=${SCREENS:-$HERE/../build/screens}
mkdir -p "$SCREENS"
label_url() { "$TT" --json label "$1" --out "$WORK/l.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p'; }
if timeout -k 5 300 node "$HERE/browser/witnessed.mjs" met "$(label_url "$CODE")" "$SCREENS" 3 2 >"$WORK/node.out" 2>&1; then
    pass "the phone page: 正品, 已由 3 个见证方共同签署（要求 2 个）, counted on the phone ($(tail -1 "$WORK/node.out"))"
else
    fail "phone page with witnesses" "$WORK/node.out"
fi
# one witness down: the writer goes on, two still make the quorum
kill -9 "$PID_w4"
wait "$PID_w4" 2>/dev/null
CODE2=$(as grower register --herb 黄连 --qty 20kg --province 重庆市 --city 重庆市 --county 石柱县 --base 黄水基地 --harvest 2026-10-21 --grade 一等 --processing 晒干 2>"$WORK/err" | grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' | head -1 | tr -d ' ')
T2=$(date +%s) # the latest checkpoint from now on: its cosignatures are refreshed, not remade
[ -n "$CODE2" ] && pass "with a witness down the daemon still acknowledges a registration" || fail "register with w4 down" "$WORK/err"
"$TT" verify "$CODE2" >"$WORK/out" 2>&1 && pass "a witness down: 2 of 3 still cosign, the new lot verifies" || fail "verify with w4 down" "$WORK/out"
for i in $(seq 50); do
    "$TT" witnesses >"$WORK/out" 2>&1
    grep -q "w4.*未应答" "$WORK/out" && break
    sleep 0.1
done
grep -q "w4.*未应答" "$WORK/out" && grep -q "w4: not reached" "$WORK/out" && pass "tcmtrace witnesses shows w4 failing, and why" ||
    fail "witnesses with w4 down" "$WORK/out"
# an old view: the checkpoint of OLD_SIZE, with the quorum's cosignatures of then (the log has
# grown since, so they were never asked again). Once they are older than the freshness window
# the page and verify take it for what it may be, a view from before a recall.
while [ $(($(date +%s) - OLD_AT)) -le 9 ] || [ $(($(date +%s) - T2)) -le 9 ]; do sleep 1; done
TCMTRACE_FRESH_SECONDS=8 "$TT" verify "$CODE2" >"$WORK/out" 2>&1 &&
    pass "the honest server, its checkpoint $(($(date +%s) - T2)) s old: the witnesses were asked again, its cosignatures are fresh and the lot verifies" ||
    fail "verify, fresh" "$WORK/out"
mkdir -p "$WORK/forged"
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --old-checkpoint "$OLD_SIZE" &
PROXY=$!
W_PIDS="$W_PIDS $PROXY"
for i in $(seq 100); do [ -S "$WORK/forged/api.sock" ] && break; sleep 0.05; done
mkdir -p "$WORK/newcomputer"
TCMTRACE_STATE_DIR="$WORK/newcomputer" TCMTRACE_FRESH_SECONDS=8 TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" verify "$CODE" >"$WORK/out" 2>&1
st=$?
kill "$PROXY" 2>/dev/null; wait "$PROXY" 2>/dev/null
[ $st = 4 ] && grep -q "may be an old view" "$WORK/out" &&
    pass "a server that serves an old checkpoint (its cosignatures $(($(date +%s) - OLD_AT)) s old): verify exits 4, an old view" ||
    fail "verify against an old checkpoint (exit $st)" "$WORK/out"
if timeout -k 5 300 node "$HERE/browser/witnessed.mjs" stale "$(label_url "$CODE")" "$SCREENS" 3 2 "$OLD_SIZE" >"$WORK/node.out" 2>&1; then
    pass "the phone page served that old checkpoint: not 正品, the witnesses' last word is too old ($(tail -1 "$WORK/node.out"))"
else
    fail "phone page, old checkpoint" "$WORK/node.out"
fi
# two down: short of the quorum, a new lot cannot be proved
kill -9 "$PID_w3"
wait "$PID_w3" 2>/dev/null
CODE3=$(as grower register --herb 黄连 --qty 10kg --province 重庆市 --city 重庆市 --county 石柱县 --base 黄水基地 --harvest 2026-10-22 --grade 一等 --processing 晒干 2>"$WORK/err" | grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' | head -1 | tr -d ' ')
"$TT" verify "$CODE3" >"$WORK/out" 2>&1
[ $? = 4 ] && grep -q "见证不足：已由 1 个见证方共同签署（要求 2 个）" "$WORK/out" &&
    pass "two witnesses down: verify of a new lot exits 4, 见证不足 (1 of 2)" || fail "verify short of the quorum" "$WORK/out"
if timeout -k 5 300 node "$HERE/browser/witnessed.mjs" short "$(label_url "$CODE3")" "$SCREENS" 1 2 >"$WORK/node.out" 2>&1; then
    pass "the phone page of that lot: 见证不足, not 正品 ($(tail -1 "$WORK/node.out"))"
else
    fail "phone page short of the quorum" "$WORK/node.out"
fi
if $PY "$HERE/witness_check.py" cosigned "http://127.0.0.1:$WPORT/peers/log/checkpoint" "$L/log.vkey" \
    "$WORK/w2" "$WORK/w3" "$WORK/w4" >"$WORK/py.out" 2>&1 && grep -q "cosigned [23]" "$WORK/py.out"; then
    pass "/log/checkpoint still serves the last checkpoint the quorum cosigned ($(tail -1 "$WORK/py.out"))"
else
    fail "served checkpoint short of quorum" "$WORK/py.out"
fi
# w3 back: the daemon catches it up from what it had cosigned, and the lot verifies
start_witness "$WORK/w3" "$P_w3" || exit 1
for i in $(seq 150); do
    "$TT" verify "$CODE3" >"$WORK/out" 2>&1 && break
    sleep 0.1
done
"$TT" verify "$CODE3" >"$WORK/out" 2>&1 && pass "w3 back: the daemon catches it up and the lot verifies" || fail "verify after w3 is back" "$WORK/out"
# ---- a follower of this ledger: a verified replica, incremental, and a lying mirror ------------
R="$WORK/replica"
BASEURL="http://127.0.0.1:$WPORT/peers"
if "$TTD" follow "$BASEURL" "$R" --log-key "$L/log.vkey" --once >"$WORK/out" 2>&1; then
    pass "tcmtraced follow: a replica of the witnessed ledger, its policy replayed and met"
else
    fail "follow the peers ledger" "$WORK/out"
fi
rsize() { "$TT" --json audit "$1" 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin).get('entries', -1))"; }
N1=$(rsize "$R")
CODE4=$(as grower register --herb 黄连 --qty 5kg --province 重庆市 --city 重庆市 --county 石柱县 --base 黄水基地 --harvest 2026-10-23 --grade 一等 --processing 晒干 2>"$WORK/err" | grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' | head -1 | tr -d ' ')
for i in $(seq 100); do "$TT" verify "$CODE4" >/dev/null 2>&1 && break; sleep 0.1; done
# a witness backed by that replica cosigns only what the replica replayed
"$TW" init "$WORK/w5" --name witness.test/w5-replayed --unsealed-key >/dev/null || exit 1
echo "log tcmtrace.test/peers $(cat "$L/log.vkey") replica=$R" >>"$WORK/w5/logs"
P_w5=$(free_port)
start_witness "$WORK/w5" "$P_w5" || exit 1
addcp0() { # POSTs "old 0" and the ledger's latest checkpoint to witness w5
    { printf 'old 0\n\n'; curl -s "$BASEURL/log/checkpoint"; } >"$WORK/addcp"
    curl -s -o "$WORK/out" -w '%{http_code}' --data-binary @"$WORK/addcp" "http://127.0.0.1:$P_w5/add-checkpoint"
}
c=$(addcp0)
[ "$c" = 503 ] && grep -q "not_replayed.*has $N1)" "$WORK/out" &&
    pass "a replica-backed witness refuses a checkpoint past what its replica replayed (503 not_replayed)" ||
    fail "replica-backed witness ahead of its replica: $c" "$WORK/out"
# a lying mirror in front: the bundles' last entries changed by one bit
XPORT=$(free_port)
$PY "$HERE/tamper_proxy.py" "$XPORT" "http://127.0.0.1:$WPORT" &
X_PID=$!
W_PIDS="$W_PIDS $X_PID"
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$XPORT/" && break; sleep 0.05; done
"$TTD" follow "http://127.0.0.1:$XPORT/peers" "$R" --once >"$WORK/out" 2>&1
st=$?
[ $st = 4 ] && grep -q "do not make the root its checkpoint" "$WORK/out" && [ "$(rsize "$R")" = "$N1" ] &&
    pass "a mirror that changes an entry: the follower stops (exit 4), says so, and keeps the $N1 entries it had" ||
    fail "follow a lying mirror (exit $st, size $(rsize "$R"), had $N1)" "$WORK/out"
kill "$X_PID" 2>/dev/null
if "$TTD" follow "$BASEURL" "$R" --once >"$WORK/out" 2>&1 && grep -q "(+" "$WORK/out" &&
    [ "$(rsize "$R")" -gt "$N1" ]; then
    pass "restarted against the real log, it continues from where it stopped ($N1 to $(rsize "$R"))"
else
    fail "follow incrementally" "$WORK/out"
fi
c=$(addcp0)
[ "$c" = 200 ] && grep -q "^— witness.test/w5-replayed " "$WORK/out" &&
    pass "once the replica has replayed it, that witness cosigns it" || fail "replica-backed witness: $c" "$WORK/out"
# the log key signs that checkpoint again with another state map root, or with none: the
# replaying witness refuses both (the map root is what its cosignature vouches for)
for how in other none; do
    curl -s "$BASEURL/log/checkpoint" | sed '/^$/q' >"$WORK/cp.text"
    $PY - "$L/log.key" "$L/log.vkey" "$WORK/cp.text" "$how" "$WORK/addcp" <<'PY'
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
seed = next(l.split(': ')[1] for l in open(sys.argv[1]) if l.startswith('secret: '))
name, kid, _ = open(sys.argv[2]).read().strip().split('+', 2)
lines = [l for l in open(sys.argv[3], encoding='utf-8').read().split('\n') if l]
assert any(l.startswith('tcmtrace-state ') for l in lines), lines
other = 'tcmtrace-state ' + base64.b64encode(hashlib.sha256(b'another state').digest()).decode()
lines = [other if l.startswith('tcmtrace-state ') else l for l in lines if sys.argv[4] == 'other' or not l.startswith('tcmtrace-state ')]
text = '\n'.join(lines) + '\n'
sk = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
line = '\u2014 ' + name + ' ' + base64.b64encode(bytes.fromhex(kid) + sk.sign(text.encode())).decode() + '\n'
open(sys.argv[5], 'w').write('old 0\n\n' + text + '\n' + line)
PY
    c=$(curl -s -o "$WORK/out" -w '%{http_code}' --data-binary @"$WORK/addcp" "http://127.0.0.1:$P_w5/add-checkpoint")
    want="another state map root"; desc="another state map root than its replica replayed"
    [ $how = none ] && want="carries no state map root" && desc="no state map root"
    [ "$c" = 422 ] && grep -q "$want" "$WORK/out" &&
        pass "a checkpoint the log key signed with $desc: the replaying witness refuses it (422)" ||
        fail "replaying witness, $how state root: $c" "$WORK/out"
done
stop_pid "$W_PID" tcmtrace-witness
"$TT" audit "$R" >"$WORK/out" 2>&1 && grep -q "审计通过" "$WORK/out" && pass "the replica passes a full audit of its own entries, tree and replayed state" ||
    fail "audit the replica" "$WORK/out"
RPORT=$(free_port)
"$BIN/tcmtrace-web" "$R" --listen "127.0.0.1:$RPORT" >>"$WORK/web2.log" 2>&1 &
RWEB=$!
W_PIDS="$W_PIDS $RWEB"
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$RPORT/" && break; sleep 0.05; done
curl -s "$BASEURL/api/v1/batches/$CODE4" >"$WORK/a.json"
curl -s "http://127.0.0.1:$RPORT/peers/api/v1/batches/$CODE4" >"$WORK/b.json"
curl -s "$BASEURL/log/checkpoint" | sed '/^$/q' >"$WORK/a.cp"
curl -s "http://127.0.0.1:$RPORT/peers/log/checkpoint" | sed '/^$/q' >"$WORK/b.cp"
cmp -s "$WORK/a.json" "$WORK/b.json" && grep -q '"ok":true' "$WORK/b.json" && cmp -s "$WORK/a.cp" "$WORK/b.cp" &&
    pass "tcmtrace-web serves the replica: the same checkpoint and the same lot as the market's own" ||
    fail "the replica served" "$WORK/b.json"
stop_pid "$RWEB" tcmtrace-web
stop_pid "$WEB_PID" tcmtrace-web
stop_daemon
# the primary is lost: the replica is promoted and continues the same log, witnessed
"$TTD" promote "$R" --log-key-file "$WORK/w2/witness.key" >"$WORK/out" 2>&1
[ $? = 2 ] && grep -q "is not the key of the log" "$WORK/out" && [ ! -e "$R/log.key" ] &&
    pass "promote with another key is refused and changes nothing" || fail "promote with a wrong key" "$WORK/out"
if "$TTD" promote "$R" --log-key-file "$L/log.key" >"$WORK/out" 2>&1 && grep -q "已提升为主账本" "$WORK/out" &&
    [ "$(stat -c %a "$R/log.key")" = 600 ]; then
    pass "tcmtraced promote: the replica holds the log key (0600) and signs a checkpoint of what it has"
else
    fail "promote" "$WORK/out"
fi
start_daemon "$R" "$WORK/daemon-r.log" || exit 1
CODE5=$(TCMTRACE_DIR="$R" as grower register --herb 黄连 --qty 3kg --province 重庆市 --city 重庆市 --county 石柱县 --base 黄水基地 --harvest 2026-10-24 --grade 一等 --processing 晒干 2>"$WORK/err" | grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' | head -1 | tr -d ' ')
TCMTRACE_DIR="$R" "$TT" verify "$CODE5" >"$WORK/out" 2>&1
vst=$?
if [ -n "$CODE5" ] && [ $vst = 0 ] && TCMTRACE_DIR="$R" "$TT" checkpoint >"$WORK/out2" 2>&1 &&
    grep -q "已由 2 个见证方共同签署（要求 2 个）" "$WORK/out2"; then
    pass "the promoted replica goes on: a new lot verifies, its checkpoint cosigned by the same witnesses (it extends all they cosigned)"
else
    fail "the promoted replica" "$WORK/out2"
fi
stop_daemon
"$TTD" follow "$BASEURL" "$WORK/r0" --once >"$WORK/out" 2>&1
[ $? = 2 ] && grep -q -- "--log-key" "$WORK/out" && pass "a new replica without --log-key is refused, saying what to give" ||
    fail "follow without a log key" "$WORK/out"

# ---- ack_after = follower: the primary killed under load, the standby promoted, nothing lost ----
P="$WORK/prim" S="$WORK/standby"
PPORT=$(free_port) SPORT=$(free_port)
"$TTD" init "$P" --origin tcmtrace.test/standby --market 解放路 --authority-key "$KEYS/mkt.key" \
    --authority-id MKT-01 --authority-name 市场管理处 --base-url "http://127.0.0.1:$PPORT/sb" \
    --unsealed-log-key >/dev/null || exit 1
"$BIN/tcmtrace-web" "$P" --listen "127.0.0.1:$PPORT" >>"$WORK/web-p.log" 2>&1 &
PWEB=$!
W_PIDS="$W_PIDS $PWEB"
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PPORT/" && break; sleep 0.05; done
# the follower reads once a second: a primary that answered before it held an entry would
# lose the last second's answers with its machine
"$TTD" follow "http://127.0.0.1:$PPORT/sb" "$S" --log-key "$P/log.vkey" --interval 1000 --quiet >"$WORK/follow-s.log" 2>&1 &
FPID=$!
W_PIDS="$W_PIDS $FPID"
# the replica's front end, once the follower has made the replica (its log key is written
# last): the primary's answers wait on its status
# (once it holds the genesis: the base URL's path comes from there)
for i in $(seq 400); do [ -e "$S/log.vkey" ] && [ "$(rsize "$S")" -ge 1 ] 2>/dev/null && break; sleep 0.05; done
SWEB=
for i in $(seq 200); do
    if [ -z "$SWEB" ] || ! kill -0 "$SWEB" 2>/dev/null; then
        "$BIN/tcmtrace-web" "$S" --listen "127.0.0.1:$SPORT" >>"$WORK/web-s.log" 2>&1 &
        SWEB=$!
        W_PIDS="$W_PIDS $SWEB"
    fi
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/sb/api/v1/status")" = 200 ] && break
    sleep 0.05
done
echo "ack_after = follower http://127.0.0.1:$SPORT/sb" >>"$P/tcmtraced.conf"
start_daemon "$P" "$WORK/daemon-p.log" || exit 1
TCMTRACE_DIR="$P" as mkt actor enroll --id GROWER-01 --pubkey "$KEYS/grower.key.pub" --name 王建国 \
    --org 石柱县黄连合作社 --licence "渝 2026-G1" --role grower >"$WORK/out" 2>&1 &&
    TCMTRACE_DIR="$P" "$TT" --json status >"$WORK/st" 2>&1 &&
    $PY -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s['standby']['held'] >= s['size'] else 1)" "$WORK/st" &&
    pass "ack_after = follower: an enrollment is answered once the follower holds it (status: standby held = size)" ||
    { tail -5 "$WORK/out" "$WORK/follow-s.log" "$WORK/daemon-p.log" 2>/dev/null; fail "ack_after: enroll" "$WORK/st"; }
: >"$WORK/acked"
(
    for i in $(seq 400); do
        c=$(TCMTRACE_DIR="$P" as grower register --herb 黄连 --qty 1kg --province 重庆市 --city 重庆市 --county 石柱县 --base 黄水基地 --harvest 2026-10-20 --grade 一等 --processing 晒干 2>/dev/null | grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' | head -1 | tr -d ' ')
        [ -n "$c" ] && echo "$c" >>"$WORK/acked"
    done
) &
LOAD=$!
sleep 4
# the primary's machine is lost: its daemon and its web front end at once
kill -9 "$DAEMON_PID" "$PWEB"
wait "$DAEMON_PID" 2>/dev/null
wait "$PWEB" 2>/dev/null
DAEMON_PID=
wait "$LOAD"
sleep 1
kill -TERM "$FPID"
wait "$FPID" 2>/dev/null
NACK=$(wc -l <"$WORK/acked")
"$TTD" promote "$S" --log-key-file "$P/log.key" >"$WORK/out" 2>&1 || fail "promote the standby" "$WORK/out"
start_daemon "$S" "$WORK/daemon-s.log" || exit 1
lost=0
for c in $(cat "$WORK/acked"); do TCMTRACE_DIR="$S" "$TT" show "$c" >/dev/null 2>&1 || lost=$((lost + 1)); done
[ "$NACK" -gt 0 ] && [ "$lost" = 0 ] &&
    pass "primary killed -9 under load: all $NACK acknowledged registrations are in the promoted standby" ||
    fail "acknowledged events lost: $lost of $NACK"
stop_daemon
stop_pid "$SWEB" tcmtrace-web

# ---- catching up from zero on a 70,000-entry log ------------------------------------------------
BPORT=$(free_port)
"$BIN/fill-ledger" "$WORK/big" 70500 "http://127.0.0.1:$BPORT/cq" >/dev/null || exit 1
"$BIN/tcmtrace-web" "$WORK/big" --listen "127.0.0.1:$BPORT" >>"$WORK/web3.log" 2>&1 &
BWEB=$!
W_PIDS="$W_PIDS $BWEB"
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$BPORT/" && break; sleep 0.05; done
"$TTD" follow "http://127.0.0.1:$BPORT/cq" "$WORK/bigr" --log-key "$L/log.vkey" --once >"$WORK/out" 2>&1
[ $? = 4 ] && grep -q "does not verify with the log key" "$WORK/out" && pass "another log's key: the follower refuses its checkpoint (exit 4)" ||
    fail "follow with the wrong key" "$WORK/out"
rm -rf "$WORK/bigr"
if "$TTD" follow "http://127.0.0.1:$BPORT/cq" "$WORK/bigr" --log-key "$WORK/big/log.vkey" --once >"$WORK/out" 2>&1 &&
    [ "$(rsize "$WORK/bigr")" = 70500 ]; then
    pass "a follower catches up from zero on 70,500 entries ($(grep -o '[0-9]* entries/s' "$WORK/out" | tail -1)), and its audit passes"
else
    fail "catch up on 70,500 entries" "$WORK/out"
fi
stop_pid "$BWEB" tcmtrace-web

if [ "$DAEMON_BAD" != 0 ]; then # what a process that exited badly said (a sanitizer's report)
    for f in "$WORK/daemon.log" "$WORK/web.log"; do echo "== $f"; tail -40 "$f"; done
fi
echo
echo "peers: $passed passed, $failed failed"
PEERS_CHECKS=44
[ $((passed + failed)) = "$PEERS_CHECKS" ] || { echo "FAIL $((passed + failed)) peers checks ran, $PEERS_CHECKS expected"; exit 1; }
[ "$failed" = 0 ] && [ "$DAEMON_BAD" = 0 ]
