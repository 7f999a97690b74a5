#!/bin/sh
# Hostile input through the real API: each case must be refused with its
# stable code and leave the ledger file byte-for-byte unchanged (data.mdb's
# SHA-256 before and after). Prints "hostile: N passed, N failed".
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
. "$(dirname "$0")/lib.sh"
SIGN="$BIN/tcmtrace-sign"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-hostile-XXXXXX")
KEYS="$WORK/keys" L="$WORK/ledger"
mkdir -p "$KEYS"
trap 'stop_daemon; rm -rf "$WORK"' EXIT INT TERM
export TCMTRACE_DIR="$L"
passed=0 failed=0 cases=0

for who in mkt g t p i r ph x old; do "$TT" key new "$KEYS/$who.key" --unsealed >/dev/null; done
"$TTD" init "$L" --origin tcmtrace.test/hostile --market m --authority-key "$KEYS/mkt.key" \
    --authority-id MKT --authority-name m --unsealed-log-key >/dev/null || exit 1
start_daemon "$L" "$WORK/daemon.log" || exit 1
enroll() {
    as mkt actor enroll --id "$1" --pubkey "$KEYS/$2.key.pub" --name n --org "org-$1" --licence l \
        --role "$3" >/dev/null || { echo "setup: enroll $1"; exit 1; }
}
enroll G g grower
enroll T t trader
enroll P p processor
enroll I i inspector
enroll R r regulator
enroll PH ph pharmacy
enroll OLD old trader
reg() { # reg KEY: a new 10 kg lot; prints its code
    as "$1" register --herb 当归 --latin "Angelica sinensis" --part 根 --qty 10kg --province p --city c \
        --county x --base b --harvest 2026-10-12 --grade g --processing p >"$WORK/reg.out" &&
        codes_of "$WORK/reg.out" | head -1
}
A=$(reg g)          # held by G
B=$(reg t)          # held by T
HELD=$(reg t)
RECALLED=$(reg t)
SENT=$(reg g)
as g transfer "$SENT" --to T >/dev/null
[ -n "$A" ] && [ -n "$B" ] || { echo "setup: register"; exit 1; }
# the recalled lot's label, printed while it was still for sale
RURL=$("$TT" --json label "$RECALLED" --out "$WORK/recalled.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p')
as i hold "$HELD" --reason r >/dev/null
as r recall "$RECALLED" --reason r >/dev/null
"$TT" key new "$KEYS/new.key" --unsealed >/dev/null
as old actor rotate --new-key "$KEYS/new.key.pub" >/dev/null
as mkt actor revoke P --reason r >/dev/null
GOOD=$("$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}')
printf '%s' "$GOOD" | "$TT" api - >/dev/null || { echo "setup: a good submit"; exit 1; }
PK=$(sed -n 's/^public: //p' "$KEYS/g.key.pub")
NONCE=q83vEjRWeJASNFZ4kBI0Vg
AT=2026-11-22T09:30:00+08:00
UNKNOWN=2611221000000000
UNKNOWN=$(python3 -c "
t=[[0,3,1,7,5,9,8,6,4,2],[7,0,9,2,1,5,4,8,6,3],[4,2,0,6,8,7,1,3,5,9],[1,7,5,0,9,8,3,4,2,6],[6,1,2,3,0,4,5,9,7,8],[3,6,7,4,2,0,9,5,8,1],[5,8,6,9,7,2,0,1,3,4],[8,9,4,5,3,6,2,0,1,7],[9,4,3,8,6,1,7,2,0,5],[2,5,8,1,4,3,6,7,9,0]]
s='261122999999999'; i=0
for c in s: i=t[i][int(c)]
print(s+str(i))")
BADCHECK=$(echo "$A" | sed 's/.$/X/' | sed "s/X\$/$(( ( ${A#???????????????} + 1 ) % 10 ))/")

sum() { sha256sum "$L/data.mdb" | cut -d' ' -f1; }

# wait_sock PATH: until something accepts on the unix socket PATH (a started proxy), 10 s at most
wait_sock() {
    /usr/bin/python3 - "$1" <<'PY' || echo "FAIL: nothing listens on $1 after 10 s"
import socket, sys, time
end = time.monotonic() + 10
while time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
    finally:
        s.close()
sys.exit(1)
PY
}

# refuse NAME CODE: the request on standard input must be refused with CODE
# (results go to a file: refuse often runs at the end of a pipeline, in a subshell)
refuse() {
    before=$(sum)
    cat >"$WORK/req"
    "$TT" api - <"$WORK/req" >"$WORK/out" 2>&1
    after=$(sum)
    if grep -q "\"code\":\"$2\"" "$WORK/out" && [ "$before" = "$after" ]; then
        echo "pass $1" >>"$WORK/results"
    else
        echo "fail $1" >>"$WORK/results"
        echo "FAIL $1: wanted $2, ledger $( [ "$before" = "$after" ] && echo unchanged || echo CHANGED)"
        head -c 400 "$WORK/out"; echo
    fi
}
# signed NAME CODE KEY FIELDS: a signed submit (common fields added); a signer that fails
# is the case's failure, never an empty request that the daemon then calls malformed
signed() { sign_then_refuse "$1" "$2" "$KEYS/$3.key" "$4"; }
# rawsigned NAME CODE KEY BODY: BODY signed exactly as given
rawsigned() { sign_then_refuse "$1" "$2" --raw "$KEYS/$3.key" "$4"; }
sign_then_refuse() {
    sn=$1 sc=$2
    shift 2
    if "$SIGN" "$@" >"$WORK/signed.req" 2>"$WORK/signed.err" && [ -s "$WORK/signed.req" ]; then
        refuse "$sn" "$sc" <"$WORK/signed.req"
    else
        echo "fail $sn" >>"$WORK/results"
        echo "FAIL $sn: the signer failed: $(head -c 300 "$WORK/signed.err")"
    fi
}
body() { printf '{"v":1,"type":"batch.sell","at":"%s","nonce":"%s",%s}' "$AT" "$NONCE" "$1"; }
# note NOTE: a transfer body whose free text is NOTE (as written in JSON)
note() { printf '{"v":1,"type":"batch.transfer","at":"%s","nonce":"%s","id":"%s","to":"T","note":"%s"}' "$AT" "$NONCE" "$A" "$1"; }

# ---- malformed requests ---------------------------------------------------------
printf '{"op":' | refuse truncated-json malformed
printf '[1,2,3]' | refuse array malformed
printf '42' | refuse number malformed
printf '"status"' | refuse string malformed
printf '' | refuse empty malformed
printf '{"op":"status","x":"\377\376"}' | refuse invalid-utf8 malformed
printf '{"op":"submit","op":"status"}' | refuse duplicate-keys malformed
printf '{"id":1}' | refuse no-op malformed
printf '{"op":7}' | refuse op-number malformed
printf '{"op":"steal"}' | refuse unknown-op argument
printf '{"op":"status"} trailing' | refuse trailing-garbage malformed
printf '{"op":"entry","seq":-1}' | refuse negative-seq malformed
printf '{"op":"entry","seq":1.5}' | refuse float-seq malformed
printf '{"op":"proof","seq":"0"}' | refuse string-seq malformed
printf '{"op":"consistency","from":0,"to":1}' | refuse consistency-zero range
# ---- oversized ------------------------------------------------------------------
{ printf '{"op":"status","pad":"'; head -c 300000 /dev/zero | tr '\0' x; printf '"}'; } | refuse oversized-request too_large
signed oversized-body too_large g '{"type":"batch.transfer","id":"'"$A"'","to":"T","note":"'"$(head -c 70000 /dev/zero | tr '\0' x)"'"}'
# an entry is at most 65,535 bytes (a tlog-tiles bundle's 2-byte length): a body of
# 65,387 bytes is too large, one of 65,386 is parsed (and refused for its 65,000-character note)
pad_body() { python3 -c "
import sys; n=int(sys.argv[1]); head='{\"v\":1,\"type\":\"batch.transfer\",\"at\":\"$AT\",\"nonce\":\"$NONCE\",\"id\":\"$A\",\"to\":\"T\",\"note\":\"'
print(head + 'x' * (n - len(head) - 2) + '\"}', end='')" "$1"; }
rawsigned body-over-entry-limit too_large g "$(pad_body 65387)"
rawsigned body-at-entry-limit malformed g "$(pad_body 65386)"
# ---- submit shape -----------------------------------------------------------------
printf '{"op":"submit","sig":"x","body":"{}"}' | refuse no-actor malformed
printf '{"op":"submit","actor":"!!","sig":"x","body":"{}"}' | refuse actor-not-base64 malformed
printf '{"op":"submit","actor":"AAAA","sig":"x","body":"{}"}' | refuse actor-short malformed
printf '{"op":"submit","actor":"%s","body":"{}"}' "$PK" | refuse no-sig malformed
printf '{"op":"submit","actor":"%s","sig":"AAAA","body":"{}"}' "$PK" | refuse sig-short malformed
ZSIG=$(head -c 64 /dev/zero | base64 -w0)
printf '{"op":"submit","actor":"%s","sig":"%s"}' "$PK" "$ZSIG" | refuse no-body malformed
printf '{"op":"submit","actor":"%s","sig":"%s","body":{"v":1}}' "$PK" "$ZSIG" | refuse body-object malformed
printf '{"op":"submit","actor":"%s","sig":"%s","body":""}' "$PK" "$ZSIG" | refuse zero-signature bad_signature
# ---- submit_many: refused whole, or every event refused on its own ---------------------
printf '{"op":"submit_many","events":[]}' | refuse many-empty malformed
printf '{"op":"submit_many","events":"x"}' | refuse many-not-array malformed
{ printf '{"op":"submit_many","events":['; i=0; while [ $i -lt 257 ]; do [ $i -gt 0 ] && printf ,;
    printf '{"actor":"%s","sig":"%s","body":""}' "$PK" "$ZSIG"; i=$((i + 1)); done; printf ']}'; } | refuse many-too-many too_large
printf '{"op":"submit_many","events":[{"actor":"%s","sig":"%s","body":""},7]}' "$PK" "$ZSIG" | refuse many-all-bad bad_signature
# ---- the binary submit frame: the same checks, no JSON around the signed material ---------
# frame CASE: a frame made from one good sell, broken as CASE says (python, on stdin)
GOODSELL=$("$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}')
printf '%s\n' "$GOODSELL" | "$SIGN" --frame >"$WORK/good.frame"
frame() { python3 - "$WORK/good.frame" "$1" <<'PY'
import struct, sys
f = bytearray(open(sys.argv[1], 'rb').read()); case = sys.argv[2]
ev = f[8:]
if case == 'short': f = f[:6]
elif case == 'version': f[4] = 2
elif case == 'kind': f[5] = 3
elif case == 'count0': f[6:8] = b'\0\0'
elif case == 'one-kind-two': f[6:8] = struct.pack('>H', 2); f += ev
elif case == 'many-257': f[5] = 2; f[6:8] = struct.pack('>H', 257)
elif case == 'body-past-end': f[8 + 96:8 + 100] = struct.pack('>I', len(ev) - 100 + 1)
elif case == 'trailing': f += b'x'
elif case == 'header-cut': f = f[:8 + 50]
elif case == 'body-too-large': f[8 + 96:8 + 100] = struct.pack('>I', 70000); f += b' ' * (70000 - (len(ev) - 100))
elif case == 'body-changed': f[-3] ^= 1
elif case == 'sig-flipped': f[8 + 40] ^= 1
elif case == 'nul-in-body': f[-2] = 0
sys.stdout.buffer.write(bytes(f))
PY
}
for c in short:malformed version:malformed kind:malformed count0:malformed one-kind-two:malformed \
    many-257:too_large body-past-end:malformed trailing:malformed header-cut:malformed \
    body-too-large:too_large body-changed:bad_signature sig-flipped:bad_signature nul-in-body:malformed; do
    frame "${c%%:*}" | refuse "frame-${c%%:*}" "${c#*:}"
done
# a good frame is written, once; its replay is refused
before=$(sum)
if "$TT" api - <"$WORK/good.frame" >"$WORK/out" 2>&1 && grep -q '"seq":' "$WORK/out" && [ "$(sum)" != "$before" ]; then
    echo "pass frame-accepted" >>"$WORK/results"
else echo "fail frame-accepted" >>"$WORK/results"; echo "FAIL a good frame was not written"; cat "$WORK/out"; fi
refuse frame-replayed replay <"$WORK/good.frame"
# kind 2: each event answered on its own, in order
{ "$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}'
  "$SIGN" "$KEYS/x.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | sed "s|\"actor\":\"[^\"]*\"|\"actor\":\"$PK\"|"
  "$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}'; } | "$SIGN" --frame-many >"$WORK/many.frame"
"$TT" api - <"$WORK/many.frame" >"$WORK/out" 2>&1
if python3 -c "
import json, sys; r = json.load(open(sys.argv[1]))['results']
sys.exit(not (len(r) == 3 and r[0]['ok'] and r[1]['error']['code'] == 'bad_signature' and r[2]['ok'] and r[2]['seq'] == r[0]['seq'] + 1))" "$WORK/out"; then
    echo "pass frame-many-each-answered" >>"$WORK/results"
else echo "fail frame-many-each-answered" >>"$WORK/results"; echo "FAIL frame-many"; cat "$WORK/out"; fi
# ---- bad signatures -------------------------------------------------------------------
"$SIGN" "$KEYS/x.key" '{"type":"batch.sell","id":"'"$A"'","qty_g":1}' | sed "s|\"actor\":\"[^\"]*\"|\"actor\":\"$PK\"|" | refuse sig-by-another-key bad_signature
"$SIGN" "$KEYS/g.key" '{"type":"batch.sell","id":"'"$A"'","qty_g":1}' | sed 's/"qty_g\\":1/"qty_g\\":2/' | refuse body-changed-after-signing bad_signature
"$SIGN" "$KEYS/g.key" '{"type":"batch.sell","id":"'"$A"'","qty_g":1}' | sed 's/}","ledger"/} ","ledger"/' | refuse trailing-space-added bad_signature
# ---- events name their ledger (docs/formats.md): another ledger's is refused ----------
TCMTRACE_ORIGIN=tcmtrace.test/other "$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | refuse signed-for-another-ledger wrong_ledger
TCMTRACE_ORIGIN=tcmtrace.test/other "$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | sed 's/,"ledger":"[^"]*"//' | refuse another-ledgers-event-without-its-name bad_signature
TCMTRACE_ORIGIN=tcmtrace.test/other "$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | sed 's|"ledger":"[^"]*"|"ledger":"tcmtrace.test/hostile"|' | refuse another-ledgers-event-renamed bad_signature
TCMTRACE_ORIGIN=v1 "$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | refuse signed-v1-naming-no-ledger bad_signature
"$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | sed 's/"ledger":"[^"]*"/"ledger":7/' | refuse ledger-not-a-string malformed
TCMTRACE_ORIGIN=tcmtrace.test/other "$SIGN" --scan "$KEYS/t.key" "$B" | refuse scan-signed-for-another-ledger bad_signature
# ---- events that are not valid -------------------------------------------------------
rawsigned qty-string malformed t "$(body "\"id\":\"$B\",\"qty_g\":\"1\"")"
rawsigned qty-float malformed t "$(body "\"id\":\"$B\",\"qty_g\":1.5")"
rawsigned qty-negative malformed t "$(body "\"id\":\"$B\",\"qty_g\":-1")"
rawsigned qty-zero malformed t "$(body "\"id\":\"$B\",\"qty_g\":0")"
rawsigned qty-over-limit malformed t "$(body "\"id\":\"$B\",\"qty_g\":1000000000001")"
rawsigned qty-overflow malformed t "$(body "\"id\":\"$B\",\"qty_g\":9223372036854775808")"
rawsigned qty-exponent malformed t "$(body "\"id\":\"$B\",\"qty_g\":1e3")"
rawsigned version-2 malformed t '{"v":2,"type":"batch.sell","at":"'$AT'","nonce":"'$NONCE'","id":"'$B'","qty_g":1}'
rawsigned no-type malformed t '{"v":1,"at":"'$AT'","nonce":"'$NONCE'","id":"'$B'","qty_g":1}'
rawsigned unknown-type malformed t '{"v":1,"type":"batch.steal","at":"'$AT'","nonce":"'$NONCE'","id":"'$B'"}'
rawsigned no-nonce malformed t '{"v":1,"type":"batch.sell","at":"'$AT'","id":"'$B'","qty_g":1}'
rawsigned short-nonce malformed t '{"v":1,"type":"batch.sell","at":"'$AT'","nonce":"abc","id":"'$B'","qty_g":1}'
rawsigned at-no-offset malformed t '{"v":1,"type":"batch.sell","at":"2026-11-22T09:30:00","nonce":"'$NONCE'","id":"'$B'","qty_g":1}'
rawsigned at-feb-30 malformed t '{"v":1,"type":"batch.sell","at":"2026-02-30T09:30:00Z","nonce":"'$NONCE'","id":"'$B'","qty_g":1}'
rawsigned unknown-field malformed t "$(body "\"id\":\"$B\",\"qty_g\":1,\"price\":\"9.90\"")"
rawsigned duplicate-key-in-body malformed t "$(body "\"id\":\"$B\",\"qty_g\":1,\"qty_g\":2")"
rawsigned code-check-digit malformed t "$(body "\"id\":\"$BADCHECK\",\"qty_g\":1")"
rawsigned code-letters malformed t "$(body "\"id\":\"26112212345678AB\",\"qty_g\":1")"
rawsigned control-character malformed g "$(note 'a\u0001b')"
rawsigned lone-surrogate malformed g "$(note '\ud800')"
rawsigned nul-in-string malformed g "$(note 'a\u0000b')"
rawsigned body-array malformed t '[1,2]'
rawsigned body-not-json malformed t 'hello'
signed unknown-role malformed mkt '{"type":"actor.enroll","id":"Z1","key":"'"$PK"'","name":"n","org":"o","licence":"l","roles":["smuggler"]}'
signed daodi-string malformed g '{"type":"batch.register","id":"'"$UNKNOWN"'","herb":{"name_zh":"当归","latin":"Angelica sinensis","part":"根"},"origin":{"province":"p","city":"c","county":"x","base":"b","daodi":"yes"},"harvest_date":"2026-10-12","grade":"g","processing":"p","qty_g":1}'
signed value-not-string malformed i '{"type":"batch.inspect","id":"'"$B"'","lab":"l","standard":"s","results":[{"test":"so2","value":520,"unit":"mg/kg"}],"report_sha256":"'"$(printf %064d 0)"'"}'
# ---- who may sign ---------------------------------------------------------------------
signed unenrolled-key not_enrolled x '{"type":"batch.sell","id":"'"$B"'","qty_g":1}'
signed revoked-actor revoked p '{"type":"batch.register","id":"'"$UNKNOWN"'","herb":{"name_zh":"当归","latin":"Angelica sinensis","part":"根"},"origin":{"province":"p","city":"c","county":"x","base":"b","daodi":true},"harvest_date":"2026-10-12","grade":"g","processing":"p","qty_g":1}'
signed rotated-old-key revoked old '{"type":"batch.register","id":"'"$UNKNOWN"'","herb":{"name_zh":"当归","latin":"Angelica sinensis","part":"根"},"origin":{"province":"p","city":"c","county":"x","base":"b","daodi":true},"harvest_date":"2026-10-12","grade":"g","processing":"p","qty_g":1}'
signed grower-sells forbidden g '{"type":"batch.sell","id":"'"$A"'","qty_g":1}'
signed trader-enrolls forbidden t '{"type":"actor.enroll","id":"Z2","key":"'"$PK"'","name":"n","org":"o","licence":"l","roles":["trader"]}'
signed trader-recalls forbidden t '{"type":"batch.recall","id":"'"$B"'","reason":"r"}'
signed inspector-registers forbidden i '{"type":"batch.register","id":"'"$UNKNOWN"'","herb":{"name_zh":"当归","latin":"Angelica sinensis","part":"根"},"origin":{"province":"p","city":"c","county":"x","base":"b","daodi":true},"harvest_date":"2026-10-12","grade":"g","processing":"p","qty_g":1}'
signed trader-sets-limits forbidden t '{"type":"ledger.limits","edition":"e","table":{"tests":{},"rules":[]}}'
signed second-genesis genesis mkt '{"type":"ledger.genesis","origin":"o","log_key":"'"$(cat "$L/log.vkey")"'","market":"m","authorities":[{"id":"MKT","name":"m","key":"'"$PK"'"}]}'
# ---- moving someone else's goods ---------------------------------------------------------
signed move-others-batch not_holder t '{"type":"batch.transfer","id":"'"$A"'","to":"PH"}'
signed split-others-batch not_holder t '{"type":"batch.split","id":"'"$A"'","children":[{"id":"'"$UNKNOWN"'","qty_g":1}]}'
signed sell-others-batch not_holder ph '{"type":"batch.sell","id":"'"$B"'","qty_g":1}'
signed receive-sent-to-another not_holder ph '{"type":"batch.receive","id":"'"$SENT"'"}'
signed destroy-others-batch not_holder t '{"type":"batch.destroy","id":"'"$A"'","reason":"r"}'
# ---- quantities and states -----------------------------------------------------------------
signed sell-more-than-remains quantity t '{"type":"batch.sell","id":"'"$B"'","qty_g":10000}'
signed transfer-more-than-remains quantity t '{"type":"batch.transfer","id":"'"$B"'","to":"PH","qty_g":20000,"child":"'"$UNKNOWN"'"}'
signed split-more-than-remains quantity t '{"type":"batch.split","id":"'"$B"'","children":[{"id":"'"$UNKNOWN"'","qty_g":10000}]}'
signed process-output-exceeds quantity t '{"type":"batch.process","inputs":[{"id":"'"$B"'","qty_g":1000}],"output":{"id":"'"$UNKNOWN"'","qty_g":1001,"form":"饮片"},"method":"m"}'
signed part-without-child argument t '{"type":"batch.transfer","id":"'"$B"'","to":"PH","qty_g":10}'
signed sell-recalled frozen t '{"type":"batch.sell","id":"'"$RECALLED"'","qty_g":1}'
signed transfer-held frozen t '{"type":"batch.transfer","id":"'"$HELD"'","to":"PH"}'
signed release-not-held bad_state i '{"type":"batch.release","id":"'"$B"'","reason":"r"}'
signed receive-not-in-transit bad_state t '{"type":"batch.receive","id":"'"$B"'"}'
signed unknown-batch unknown_batch t '{"type":"batch.sell","id":"'"$UNKNOWN"'","qty_g":1}'
signed to-unknown-actor unknown_actor t '{"type":"batch.transfer","id":"'"$B"'","to":"NOBODY"}'
signed to-revoked-actor revoked t '{"type":"batch.transfer","id":"'"$B"'","to":"P"}'
signed to-inspector forbidden t '{"type":"batch.transfer","id":"'"$B"'","to":"I"}'
signed duplicate-batch-id duplicate_id t '{"type":"batch.register","id":"'"$A"'","herb":{"name_zh":"当归","latin":"Angelica sinensis","part":"根"},"origin":{"province":"p","city":"c","county":"x","base":"b","daodi":true},"harvest_date":"2026-10-12","grade":"g","processing":"p","qty_g":1}'
signed duplicate-actor-id duplicate_id mkt '{"type":"actor.enroll","id":"T","key":"'"$(sed -n 's/^public: //p' "$KEYS/x.key.pub")"'","name":"n","org":"o","licence":"l","roles":["trader"]}'
signed inspect-bad-unit bad_unit i '{"type":"batch.inspect","id":"'"$B"'","lab":"l","standard":"s","results":[{"test":"so2","value":"5","unit":"%"}],"report_sha256":"'"$(printf %064d 0)"'"}'
# ---- claims the rules refuse -------------------------------------------------------------------
REGB() { printf '{"type":"batch.register","id":"%s","herb":{"name_zh":"%s","latin":"%s","part":"根"},"origin":{"province":"p","city":"c","county":"x","base":"b","daodi":true},"harvest_date":"%s","grade":"g","processing":"p","qty_g":1%s}' "$UNKNOWN" "$1" "$2" "${3:-2026-10-12}" "${4:-}"; }
signed inspect-unknown-test unknown_test i '{"type":"batch.inspect","id":"'"$B"'","lab":"l","standard":"s","results":[{"test":"aflatoxin-x","value":"5","unit":"µg/kg"}],"report_sha256":"'"$(printf %064d 0)"'"}'
signed inspect-same-test-twice malformed i '{"type":"batch.inspect","id":"'"$B"'","lab":"l","standard":"s","results":[{"test":"so2","value":"5","unit":"mg/kg"},{"test":"SO2","value":"1","unit":"mg/kg"}],"report_sha256":"'"$(printf %064d 0)"'"}'
signed register-wrong-latin unknown_herb t "$(REGB 当归 "Angelica pubescens")"
signed register-not-in-dictionary unknown_herb t "$(REGB 川银花 "Lonicera confusa")"
signed register-listed-as-unlisted unknown_herb t "$(REGB 当归 "Angelica sinensis" 2026-10-12 ',"unlisted":true')"
signed register-harvest-2999 bad_time t "$(REGB 当归 "Angelica sinensis" 2999-10-12)"
signed process-rename relabel t '{"type":"batch.process","inputs":[{"id":"'"$B"'","qty_g":1000}],"output":{"id":"'"$UNKNOWN"'","qty_g":900,"form":"饮片","name_zh":"党参"},"method":"m"}'
signed process-compound-without-herb malformed t '{"type":"batch.process","inputs":[{"id":"'"$B"'","qty_g":1000}],"output":{"id":"'"$UNKNOWN"'","qty_g":900,"form":"饮片","compound":true},"method":"m"}'
signed cancel-not-in-transit bad_state t '{"type":"batch.cancel","id":"'"$B"'"}'
signed cancel-not-the-sender not_holder t '{"type":"batch.cancel","id":"'"$SENT"'"}'
signed sell-buyer-in-clear malformed t '{"type":"batch.sell","id":"'"$B"'","qty_g":1,"buyer":"门诊处方 031"}'
signed revoke-last-authority forbidden mkt '{"type":"actor.revoke","id":"MKT","reason":"r"}'
signed herbs-by-a-trader forbidden t '{"type":"ledger.herbs","edition":"e","herbs":[{"name_zh":"川银花"}]}'
rawsigned at-year-9999 bad_time t '{"v":1,"type":"batch.sell","at":"9999-12-31T00:00:00+08:00","nonce":"'$NONCE'","id":"'$B'","qty_g":1}'
rawsigned at-year-1900 bad_time t '{"v":1,"type":"batch.sell","at":"1900-01-01T00:00:00+08:00","nonce":"'$NONCE'","id":"'$B'","qty_g":1}'
printf '{"op":"scan","id":"%s","by":"T"}' "$B" | refuse scan-by-untrusted malformed
printf '%s' "$GOOD" | refuse replay replay
# ---- forged checkpoints and proofs (checked by the client) -----------------------------------
"$TTD" init "$WORK/other" --origin tcmtrace.test/other --market m --authority-key "$KEYS/mkt.key" \
    --authority-id MKT --authority-name m --unsealed-log-key >/dev/null 2>&1
# refused as not verified (exit 4), not any failure: a crash or an unreachable daemon is no pass
"$TT" --log-key "$WORK/other/log.vkey" checkpoint >/dev/null 2>&1
rc=$?
if [ "$rc" = 4 ]; then echo "pass forged-checkpoint" >>"$WORK/results"
else echo "fail forged-checkpoint" >>"$WORK/results"; echo "FAIL forged-checkpoint: exit $rc, wanted 4"; fi
"$TT" --log-key "$WORK/other/log.vkey" verify "$B" >/dev/null 2>&1
rc=$?
if [ "$rc" = 4 ]; then echo "pass forged-proof" >>"$WORK/results"
else echo "fail forged-proof" >>"$WORK/results"; echo "FAIL forged-proof: exit $rc, wanted 4"; fi

# a server that answers proofs with numbers for hashes: refused, never a crash
mkdir -p "$WORK/forged"
cp "$L/log.vkey" "$WORK/forged/"
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
for cmd in "proof 1" "verify $B"; do
    # shellcheck disable=SC2086
    TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" $cmd >"$WORK/out" 2>&1
    rc=$?
    if [ $rc -eq 4 ] && grep -q "malformed\|does not verify" "$WORK/out"; then
        echo "pass forged-proof-not-strings-${cmd%% *}" >>"$WORK/results"
    else
        echo "fail forged-proof-not-strings-${cmd%% *}" >>"$WORK/results"; echo "FAIL ${cmd%% *} on a forged proof: exit $rc"; cat "$WORK/out"
    fi
done
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null

# a server that shows an old view: the genuinely signed checkpoint of 2 entries
hcase() { # NAME WANT-EXIT TEXT CMD...: exit and message as wanted
    name=$1 want=$2 text=$3
    shift 3
    "$@" >"$WORK/out" 2>&1
    rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$text" "$WORK/out"; then echo "pass $name" >>"$WORK/results"
    else echo "fail $name" >>"$WORK/results"; echo "FAIL $name: exit $rc"; cat "$WORK/out"; fi
}
export TCMTRACE_STATE_DIR="$WORK/state"
hcase old-checkpoint-honest-first 0 "verified" "$TT" --log-key "$L/log.vkey" verify "$B"
hcase old-checkpoint-age-shown 0 "分钟前" "$TT" --log-key "$L/log.vkey" checkpoint
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --old-checkpoint 2 &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase old-checkpoint-rollback-verify 4 "older than the" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" verify "$B"
hcase old-checkpoint-rollback-checkpoint 4 "an old or forked view" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" checkpoint
hcase old-checkpoint-first-sight-verify 4 "not covered by the ledger's checkpoint of 2 entries" \
    env TCMTRACE_STATE_DIR="$WORK/state2" TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" verify "$B"
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
hcase old-checkpoint-honest-after 0 "verified" "$TT" --log-key "$L/log.vkey" verify "$B"
# a checkpoint remembered, then a log that is not its extension (another ledger, same name and key)
cp "$WORK/state/"checkpoint-* "$WORK/remembered" 2>/dev/null
f=$(ls "$WORK/state/"checkpoint-* | head -1)
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, encoding='utf-8').read().split('\n')
lines[1] = str(int(lines[1]) - 1)   # a smaller tree under the same signature: no longer verifies
open(p, 'w', encoding='utf-8').write('\n'.join(lines))
PY
hcase remembered-checkpoint-damaged 4 "remembered in" "$TT" --log-key "$L/log.vkey" verify "$B"
cp "$WORK/remembered" "$f"
# a checkpoint of another log, genuinely signed with this log's key: refused by its origin
python3 - "$L/log.key" "$L/log.vkey" "$WORK/foreign.note" <<'PY'
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
seed = next(l.split(': ')[1] for l in open(sys.argv[1]) if l.startswith('secret: '))
name, kid, _ = open(sys.argv[2]).read().strip().split('+', 2)
sk = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
text = 'tcmtrace.test/elsewhere\n1\n' + base64.b64encode(hashlib.sha256(b'x').digest()).decode() + '\n'
sig = sk.sign(text.encode())
line = '\u2014 ' + name + ' ' + base64.b64encode(bytes.fromhex(kid) + sig).decode() + '\n'
open(sys.argv[3], 'w').write(text + '\n' + line)
PY
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --checkpoint-note "$WORK/foreign.note" &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase checkpoint-of-another-origin 4 "not of \"tcmtrace.test/hostile\"" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" checkpoint
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
# a fork: a second tree of the size this computer remembers, with another root, signed by the
# log key (as a log that shows one history to some and another to others would)
python3 - "$L/log.key" "$L/log.vkey" "$f" "$WORK/fork.note" <<'PY'
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
seed = next(l.split(': ')[1] for l in open(sys.argv[1]) if l.startswith('secret: '))
name, kid, _ = open(sys.argv[2]).read().strip().split('+', 2)
size = open(sys.argv[3], encoding='utf-8').read().split('\n')[1]
sk = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
text = name + '\n' + size + '\n' + base64.b64encode(hashlib.sha256(b'the other history').digest()).decode() + '\n'
sig = sk.sign(text.encode())
line = '\u2014 ' + name + ' ' + base64.b64encode(bytes.fromhex(kid) + sig).decode() + '\n'
open(sys.argv[4], 'w').write(text + '\n' + line)
PY
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --checkpoint-note "$WORK/fork.note" &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase checkpoint-fork-same-size 4 "the log has forked" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" checkpoint
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
# a larger fork: the log has grown past the size this computer remembers, and the server shows
# a checkpoint of that size with another root; the genuine consistency proof it passes on from
# the log does not take the remembered tree to it
"$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | "$TT" api - >/dev/null
"$SIGN" "$KEYS/t.key" '{"type":"batch.sell","id":"'"$B"'","qty_g":1}' | "$TT" api - >/dev/null
GROWN=$("$TT" api '{"op":"status"}' | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["size"])')
python3 - "$L/log.key" "$L/log.vkey" "$GROWN" "$WORK/bigfork.note" <<'PY'
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
seed = next(l.split(': ')[1] for l in open(sys.argv[1]) if l.startswith('secret: '))
name, kid, _ = open(sys.argv[2]).read().strip().split('+', 2)
sk = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
text = name + '\n' + sys.argv[3] + '\n' + base64.b64encode(hashlib.sha256(b'a larger other history').digest()).decode() + '\n'
sig = sk.sign(text.encode())
line = '\u2014 ' + name + ' ' + base64.b64encode(bytes.fromhex(kid) + sig).decode() + '\n'
open(sys.argv[4], 'w').write(text + '\n' + line)
PY
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --checkpoint-note "$WORK/bigfork.note" &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase checkpoint-fork-larger 4 "not an extension" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" checkpoint
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
# a server that answers an entry asked for by its hash with another, genuine entry: the
# proof of that other entry verifies, and is still refused, as it is not the one asked for
H3=$(printf '{"op":"entry","seq":3}' | "$TT" api - | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["hash"])')
hcase proof-by-hash-honest 0 "#3 " "$TT" --log-key "$L/log.vkey" proof "$H3"
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --wrong-entry &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase proof-by-hash-wrong-entry 4 "gave entry #1 for that hash" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" proof "$H3"
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
# the lot's latest state (docs/statemap.md): an honest server shows the recall, proved; a server
# that hides it is caught by the state leaf; a genuine leaf of an older size fails its proof
hcase state-honest-recalled 5 "state proved at [0-9]* entries: recalled" "$TT" --log-key "$L/log.vkey" verify "$RECALLED"
hcase state-honest-said 5 "已核验：本批次在第" "$TT" --log-key "$L/log.vkey" verify "$RECALLED"
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --hide batch.recall &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase state-hidden-recall 4 "part of its history was left out" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" verify "$RECALLED"
hcase scan-hidden-recall 4 "part of its history was left out" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" scan "$RURL"
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
# a scan shows the proved state: a server that calls the recalled lot active, hiding nothing
hcase scan-honest-recalled 1 "该批次已被召回" "$TT" --log-key "$L/log.vkey" scan "$RURL"
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --hide none &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase scan-server-says-active 1 "该批次已被召回" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" scan "$RURL"
hcase verify-server-says-active 5 "state proved at [0-9]* entries: recalled" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" verify "$RECALLED"
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
# a label the log key signed for this lot, bound to another entry than its first
FAKEURL=$(TCMTRACE_DIR="$L" "$SIGN" --label "$L/log.key" "$(dirname "$(dirname "$RURL")")" "$RECALLED" "not the registration")
hcase scan-token-of-another-entry 4 "LABEL DOES NOT MATCH THE LEDGER" "$TT" --log-key "$L/log.vkey" scan "$FAKEURL"
RSEQ=$("$TT" --json show "$RECALLED" | /usr/bin/python3 -c "import json,sys; b=json.load(sys.stdin); print([e['seq'] for e in b['events'] if e['type']=='batch.recall'][0])")
"$BIN/forging-proxy" "$WORK/forged" "ipc://$L/api.sock" --state-size "$RSEQ" &
PROXY=$!
wait_sock "$WORK/forged/api.sock"
hcase state-other-size 4 "does not verify against the checkpoint" env TCMTRACE_DIR="$WORK/forged" "$TT" --log-key "$L/log.vkey" verify "$RECALLED"
kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null
unset TCMTRACE_STATE_DIR

# ---- hostile TCP clients: the daemon's own listener, under systemd's default 1,024 descriptors ----
stop_daemon
TPORT=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
printf 'tcp = tcp://127.0.0.1:%s\ntcp_stall_seconds = 2\n' "$TPORT" >>"$L/tcmtraced.conf"
(ulimit -n 1024; exec "$TTD" run "$L" >>"$WORK/daemon-tcp.log" 2>&1) &
DAEMON_PID=$!
i=0; while [ $i -lt 100 ] && ! "$TT" --dir "$L" status >/dev/null 2>&1; do sleep 0.05; i=$((i + 1)); done
case "$BIN" in */asan|*/tsan) export TCMTRACE_SANITIZED=1 ;; */vg) export TCMTRACE_VALGRIND=1 ;; esac
if /usr/bin/python3 "$(dirname "$0")/tcp_check.py" "$DAEMON_PID" "$TPORT" "$TT" "$L" >"$WORK/tcp.out" 2>&1; then
    echo "pass tcp-listener-limits" >>"$WORK/results"
else
    echo "fail tcp-listener-limits" >>"$WORK/results"; grep -v '^pass' "$WORK/tcp.out"
fi
grep '^tcp:' "$WORK/tcp.out"
stop_daemon
if [ "$DAEMON_BAD" = 0 ]; then echo "pass daemon-exits-clean" >>"$WORK/results"
else echo "fail daemon-exits-clean" >>"$WORK/results"; fi

passed=$(grep -c '^pass' "$WORK/results")
failed=$(grep -c '^fail' "$WORK/results")
cases=$((passed + failed))
echo "  $cases hostile cases"
echo "hostile: $passed passed, $failed failed"
# every case counted: one that vanishes (or a new one not counted here) fails the suite
HOSTILE_CASES=156
[ "$cases" = "$HOSTILE_CASES" ] || echo "FAIL: $cases hostile cases ran, $HOSTILE_CASES expected"
[ "$failed" = 0 ] && [ "$cases" = "$HOSTILE_CASES" ]
