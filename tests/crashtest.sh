#!/bin/sh
# Crash test: load from concurrent clients while tcmtraced is killed with
# SIGKILL at random moments, many times. After each restart the full audit
# (chain, signatures, Merkle tree, checkpoints, replayed state) must pass;
# at the end every event a client saw acknowledged must be in the ledger with
# the seq and hash it was acknowledged with. Then a full disk (a small tmpfs,
# when this user may mount one): clean refusals, nothing acknowledged lost,
# the ledger still audits. Then no memory for requests (a preloaded shim):
# nomem answers, nothing written for them. Prints "crashtest: N passed, N failed".
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
ROUNDS=${ROUNDS:-15}
. "$(dirname "$0")/lib.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-crash-XXXXXX")
KEYS="$WORK/keys" L="$WORK/ledger"
mkdir -p "$KEYS"
MNT=
cleanup() {
    stop_daemon
    kill $(jobs -p) 2>/dev/null
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
export TCMTRACE_DIR="$L"
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# size_of: the ledger size the running daemon reports
size_of() { "$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p'; }

for who in mkt g1 g2 g3 g4; do "$TT" key new "$KEYS/$who.key" --unsealed >/dev/null; done
"$TTD" init "$L" --origin tcmtrace.test/crash --market m --authority-key "$KEYS/mkt.key" \
    --authority-id MKT --authority-name m --unsealed-log-key >/dev/null || exit 1
start_daemon "$L" "$WORK/daemon.log" || exit 1
for g in g1 g2 g3 g4; do
    as mkt actor enroll --id "$g" --pubkey "$KEYS/$g.key.pub" --name n --org o --licence l \
        --role grower >/dev/null || exit 1
done

# client KEY OUT: registers lots until killed; logs "seq hash" of each ack.
client() {
    while :; do
        out=$(as "$1" --json --timeout 5000 register --herb 当归 --latin "Angelica sinensis" --part 根 --qty 1kg \
            --province 甘肃省 --city 定西市 --county 岷县 --base b --harvest 2026-10-12 \
            --grade 一等 --processing 晒干 2>/dev/null) || { sleep 0.05; continue; }
        echo "$out" | sed -n 's/.*"seq": \([0-9]*\),*$/\1/p;s/.*"hash": "\([0-9a-f]*\)".*/\1/p' |
            paste -sd' ' >>"$2"
    done
}

# the moments of the kills, drawn at random, printed, and given again by CRASH_DELAYS="0.3 0.7 ..."
DELAYS=${CRASH_DELAYS:-$(for r in $(seq 1 "$ROUNDS"); do printf '0.%s ' "$(shuf -i 2-9 -n 1)"; done)}
echo "  kill times (CRASH_DELAYS to repeat them): $DELAYS"
round=0
for delay in $DELAYS; do
    round=$((round + 1))
    pids=
    for g in g1 g2 g3 g4; do
        client "$g" "$WORK/acked.$g" &
        pids="$pids $!"
    done
    sleep "$delay" # the kill's moment is the random input here, not a wait for a condition
    kill -KILL "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    kill $pids 2>/dev/null
    wait $pids 2>/dev/null
    if "$TT" audit "$L" >"$WORK/audit" 2>&1; then pass; else
        fail "round $round (SIGKILL after $delay s; CRASH_DELAYS=\"$DELAYS\" repeats the run): audit after SIGKILL"; cat "$WORK/audit"
    fi
    start_daemon "$L" "$WORK/daemon.log" || { fail "round $round: restart"; break; }
done

# every acknowledged event is there, with its seq and hash
cat "$WORK"/acked.* | grep -E '^[0-9]+ [0-9a-f]{64}$' | sort -n >"$WORK/acked"
acked=$(wc -l <"$WORK/acked")
size=$(size_of)
from=0
: >"$WORK/ledger.txt"
while [ "$from" -lt "$size" ]; do
    "$TT" --json log --from "$from" --limit 1000 |
        sed -n 's/.*"seq": \([0-9]*\),*$/\1/p;s/.*"hash": "\([0-9a-f]*\)".*/\1/p' |
        paste -d' ' - - >>"$WORK/ledger.txt"
    from=$((from + 1000))
done
missing=$(sort "$WORK/acked" | comm -23 - "$(sort "$WORK/ledger.txt" >"$WORK/l.sorted"; echo "$WORK/l.sorted")" | wc -l)
if [ "$acked" -gt 20 ]; then pass; else fail "only $acked events were acknowledged: the load did not run"; fi
if [ "$missing" = 0 ]; then pass; else fail "$missing of $acked acknowledged events are missing or changed"; fi
echo "  $ROUNDS SIGKILLs, $acked acknowledged events, all present; ledger of $size entries"
stop_daemon

# ---- a full disk --------------------------------------------------------------------
MNT="$WORK/small"
mkdir -p "$MNT"
if mount -t tmpfs -o size=3m tmpfs "$MNT" 2>/dev/null; then
    F="$MNT/ledger"
    export TCMTRACE_DIR="$F"
    "$TTD" init "$F" --origin tcmtrace.test/full --market m --authority-key "$KEYS/mkt.key" \
        --authority-id MKT --authority-name m --unsealed-log-key >/dev/null || fail "init on tmpfs"
    start_daemon "$F" "$WORK/full.log" || exit 1
    as mkt actor enroll --id g1 --pubkey "$KEYS/g1.key.pub" --name n --org o --licence l \
        --role grower >/dev/null
    : >"$WORK/full.acked"
    full=0
    for i in $(seq 1 3000); do
        if out=$(as g1 --json register --herb 当归 --latin "Angelica sinensis" --part 根 --qty 1kg --province p \
            --city c --county x --base b --harvest 2026-10-12 --grade g --processing p 2>"$WORK/full.err"); then
            echo "$out" | sed -n 's/.*"hash": "\([0-9a-f]*\)".*/\1/p' >>"$WORK/full.acked"
        else
            full=1
            break
        fi
    done
    if [ "$full" = 1 ] && grep -q "disk_full" "$WORK/full.err"; then pass; else
        fail "filling the disk did not end in a disk_full refusal:"; cat "$WORK/full.err"
    fi
    if "$TT" status >/dev/null 2>&1; then pass; else fail "the daemon died when the disk filled"; fi
    # the refusal changed nothing: what was acknowledged is all there
    last=$(tail -1 "$WORK/full.acked")
    if [ -n "$last" ] && "$TT" --json log --limit 1 | grep -q "$last"; then pass; else
        fail "the last acknowledged event is not the last entry (or no event was acknowledged: '$last')"; fi
    stop_daemon
    if grep -q "stopped cleanly" "$WORK/full.log"; then pass; else fail "no clean stop on a full disk"; fi
    if "$TT" audit "$F" >"$WORK/audit" 2>&1; then pass; else fail "audit after a full disk"; cat "$WORK/audit"; fi
    # the audit's scratch store on that full disk: disk_full in a sentence, no verdict, no crash
    TMPDIR="$MNT" "$TT" audit "$F" >"$WORK/audit-full" 2>&1
    code=$?
    if [ "$code" = 3 ] && grep -q "disk_full: no room for the audit's scratch store" "$WORK/audit-full" &&
        ! grep -q "FAILED" "$WORK/audit-full" && ! ls -d "$MNT"/tcmtrace-audit-* >/dev/null 2>&1; then
        pass
    else
        fail "an audit with its scratch store on a full disk (exit $code):"
        cat "$WORK/audit-full"
    fi
    echo "  full disk after $(wc -l <"$WORK/full.acked") registrations: refused with disk_full, ledger intact; an audit's scratch store there: disk_full"
else
    echo "  (cannot mount a tmpfs here: full-disk test not run)"
    fail "the full-disk test needs a small tmpfs (run as root)"
fi

# ---- out of memory ------------------------------------------------------------------
# tests/fail-jobs.c, preloaded into the daemon alone, fails its per-request
# allocation while $WORK/oom exists ("all": every one; "odd": every second)
export TCMTRACE_DIR="$L"
printf '#!/bin/sh\nLD_PRELOAD="%s" TT_FAIL_JOBS="%s" exec "%s" "$@"\n' \
    "$BIN/tests/fail-jobs.so" "$WORK/oom" "$TTD" >"$WORK/tcmtraced-oom"
chmod +x "$WORK/tcmtraced-oom"
"$TT" key new "$KEYS/t1.key" --unsealed >/dev/null
reg1() {
    as t1 --json register --herb 当归 --latin "Angelica sinensis" --part 根 --qty 1kg --province p --city c \
        --county x --base b --harvest 2026-10-12 --grade g --processing p
}
REAL_TTD=$TTD TTD="$WORK/tcmtraced-oom"
start_daemon "$L" "$WORK/oom.log" || exit 1
TTD=$REAL_TTD
as mkt actor enroll --id t1 --pubkey "$KEYS/t1.key.pub" --name n --org o --licence l \
    --role trader >/dev/null || fail "enroll a trader"
size0=$(size_of)
echo all >"$WORK/oom"
if "$TT" status >/dev/null 2>"$WORK/oom.err"; then fail "a request was answered with no memory for it"
elif grep -q "nomem" "$WORK/oom.err"; then pass; else fail "no nomem answer:"; cat "$WORK/oom.err"; fi
if reg1 >/dev/null 2>"$WORK/oom.err"; then fail "a register was accepted with no memory for it"
elif grep -q "nomem" "$WORK/oom.err"; then pass; else fail "no nomem answer to a register:"; cat "$WORK/oom.err"; fi
rm -f "$WORK/oom"
if [ "$(size_of)" = "$size0" ]; then pass; else fail "the ledger changed while out of memory"; fi
# a submit_many whose first and third events find no memory: those two are
# refused with nomem, the second is written
C=$(reg1 | sed -n 's/.*"codes": \[ *"\([0-9]*\)".*/\1/p;s/^ *"\([0-9]\{16\}\)",*$/\1/p' | head -1)
size1=$(size_of)
sell1() { "$BIN/tcmtrace-sign" "$KEYS/t1.key" '{"type":"batch.sell","id":"'"$C"'","qty_g":1}' |
    sed 's/^{"op":"submit",/{/'; }
MANY="{\"op\":\"submit_many\",\"events\":[$(sell1),$(sell1),$(sell1)]}"
echo odd >"$WORK/oom"
printf '%s' "$MANY" | "$TT" api - >"$WORK/oom.out" 2>&1
rm -f "$WORK/oom"
codes=$(grep -o '"ok":true,"seq"\|"code":"[a-z_]*"' "$WORK/oom.out" |
    sed 's/"ok":true,"seq"/ok/; s/"code":"\(.*\)"/\1/' | tr '\n' ' ')
if [ "$codes" = "nomem ok nomem " ]; then pass; else
    fail "submit_many out of memory: got '$codes'"; cat "$WORK/oom.out"; fi
if [ "$(size_of)" = $((size1 + 1)) ]; then pass; else fail "submit_many out of memory kept $(($(size_of) - size1)) events, not 1"; fi
stop_daemon
if grep -q "stopped cleanly" "$WORK/oom.log"; then pass; else fail "no clean stop after running out of memory"; fi
if "$TT" audit "$L" >"$WORK/audit" 2>&1; then pass; else fail "audit after running out of memory"; cat "$WORK/audit"; fi
echo "  out of memory: requests answered nomem, nothing written for them, ledger intact"

echo "crashtest: $passed passed, $failed failed"
[ "$failed" = 0 ]
