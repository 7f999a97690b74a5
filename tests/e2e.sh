#!/bin/sh
# End-to-end tests: a real tcmtraced on a temporary ledger, driven through
# the tcmtrace CLI and raw API requests. Every API error path is exercised
# and every raw request and response is kept for the schema check
# (API_DIR). Prints "e2e: N passed, N failed".
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
. "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-e2e-XXXXXX")
KEYS="$WORK/keys"
L="$WORK/ledger"
API_DIR=${API_DIR:-$WORK/api}
mkdir -p "$KEYS" "$API_DIR"
trap 'stop_daemon; rm -rf "$WORK"' EXIT INT TERM
export TCMTRACE_PASSPHRASE="e2e-口令" TCMTRACE_DIR="$L"
OUT="$WORK/out" ERR="$WORK/err"
passed=0 failed=0 n=0

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; sed 's/^/    /' "$OUT" "$ERR" 2>/dev/null | head -20; }

# expect CODE DESC CMD...: exit status must be CODE.
expect() {
    want=$1 desc=$2
    shift 2
    "$@" >"$OUT" 2>"$ERR"
    got=$?
    if [ "$got" = "$want" ]; then pass; else fail "$desc (exit $got, wanted $want)"; fi
}
# contains FILE TEXT DESC
contains() {
    if grep -qF -- "$2" "$1"; then pass; else fail "$3: no \"$2\" in output"; fi
}
# api NAME WANT JSON [request]: raw request; WANT is "ok" or an error code.
api() {
    name=$1 want=$2 json=$3
    n=$((n + 1))
    printf '%s' "$json" | "$TT" api - >"$OUT" 2>"$ERR"
    cp "$OUT" "$API_DIR/$(printf %03d $n)-$name.response.json"
    if [ "${4:-}" = request ]; then
        printf '%s\n' "$json" >"$API_DIR/$(printf %03d $n)-$name.request.json"
    fi
    if [ "$want" = ok ]; then
        if grep -q '"ok":true' "$OUT"; then pass; else fail "api $name: wanted ok"; fi
    elif grep -q "\"code\":\"$want\"" "$OUT"; then pass; else fail "api $name: wanted $want"; fi
}
for who in mkt grower trader pharmacy inspector regulator stranger; do
    "$TT" key new "$KEYS/$who.key" >/dev/null
done
# keys without friction, safely: an empty passphrase seals nothing; a key or
# passphrase file others can read is refused with the chmod that fixes it
printf '\n' >"$WORK/empty.pass"
chmod 600 "$WORK/empty.pass"
expect 2 "an empty passphrase is refused for a sealed key" "$TT" --passphrase-file "$WORK/empty.pass" key new "$KEYS/nope.key"
contains "$ERR" "empty" "the refusal says the passphrase is empty"
printf 'secret words\n' >"$WORK/open.pass"
chmod 644 "$WORK/open.pass"
printf 'not the passphrase\n' >"$WORK/wrong.pass"
chmod 600 "$WORK/wrong.pass"
expect 3 "a wrong passphrase: the key cannot be used (exit 3, as the README says)" "$TT" --passphrase-file "$WORK/wrong.pass" --key "$KEYS/grower.key" stock
contains "$ERR" "密码不对" "a wrong passphrase is said in Chinese first"
expect 2 "a passphrase file others can read is refused" "$TT" --passphrase-file "$WORK/open.pass" key new "$KEYS/nope.key"
contains "$ERR" "chmod 600" "and names the chmod that fixes it"
cp "$KEYS/stranger.key" "$WORK/loose.key"
chmod 644 "$WORK/loose.key"
expect 3 "a secret key others can read is refused" "$TT" --key "$WORK/loose.key" actor rotate --new-key "$KEYS/mkt.key.pub"
contains "$ERR" "chmod 600 $WORK/loose.key" "and names the chmod that fixes it"

# ---- init ------------------------------------------------------------------------
expect 2 "init without --origin is a usage error" "$TTD" init "$L" --market m \
    --authority-key "$KEYS/mkt.key" --authority-id MKT-01 --authority-name 管理处
expect 2 "init with a bad origin" "$TTD" init "$L" --origin "has space" --market m \
    --authority-key "$KEYS/mkt.key" --authority-id MKT-01 --authority-name 管理处
expect 0 "init" "$TTD" init "$L" --origin tcmtrace.test/e2e --market "重庆解放路中药材专业市场" \
    --authority-key "$KEYS/mkt.key" --authority-id MKT-01 --authority-name 解放路中药材市场管理处 \
    --unsealed-log-key
contains "$OUT" "tcmtrace.test/e2e+" "init prints the log verifier key"
if [ "$(stat -c %a "$L/log.key")" = 600 ]; then pass; else fail "log.key is not 0600"; fi
expect 1 "init refuses an existing ledger" "$TTD" init "$L" --origin tcmtrace.test/e2e \
    --market m --authority-key "$KEYS/mkt.key" --authority-id MKT-01 --authority-name x \
    --unsealed-log-key
contains "$ERR" "holds a ledger already" "init names the problem"
contains "$ERR" "tcmtraced init: 这个目录里已经有账本，什么都没有改动" "and says it in Chinese first"

# ---- daemon up -------------------------------------------------------------------
expect 3 "no daemon yet: unreachable" "$TT" status
contains "$ERR" "no tcmtraced is running" "unreachable names the problem"
start_daemon "$L" "$WORK/daemon.log" || exit 1
expect 1 "a second daemon on the same ledger is refused" "$TTD" run "$L"
contains "$ERR" "another process is writing" "second daemon says why"

# the feed: a watcher sees the next entry and checkpoint
SIZE0=$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
timeout 60 "$TT" watch --count 2 >"$WORK/watch" 2>&1 &
WATCH=$!
# it says "watching" once the feed has it: wait for that, not for a guessed time
i=0; while [ $i -lt 400 ] && ! grep -q "watching" "$WORK/watch" 2>/dev/null; do sleep 0.025; i=$((i + 1)); done
grep -q "watching" "$WORK/watch" || fail "tcmtrace watch did not start watching within 10 s"

enroll() {
    as mkt actor enroll --id "$1" --pubkey "$KEYS/$2.key.pub" --name "$3" --org "$4" \
        --licence L-1 --role "$5"
}
expect 0 "enroll a grower" enroll G-1 grower 马建国 岷县合作社 grower
wait $WATCH
contains "$WORK/watch" "#$SIZE0 " "watch saw the entry"
contains "$WORK/watch" "登记主体 G-1 马建国" "watch says in words what the entry did"
contains "$WORK/watch" "(actor.enroll)" "and names its type"
contains "$WORK/watch" "checkpoint: $((SIZE0 + 1))" "watch saw the checkpoint"
expect 0 "enroll a trader" enroll T-1 trader 陈秀兰 陈氏药材行 trader
expect 0 "enroll a pharmacy" enroll PH-1 pharmacy 周敏 解放碑大药房 pharmacy
expect 0 "enroll an inspector" enroll I-1 inspector 李静 药检所 inspector
expect 0 "enroll a regulator" enroll R-1 regulator 赵国栋 市场监管局 regulator
expect 1 "a trader cannot enroll anyone" as trader actor enroll --id X-1 \
    --pubkey "$KEYS/stranger.key.pub" --name x --org x --licence x --role trader
contains "$ERR" "forbidden" "the refusal carries its code"
expect 2 "an unknown role is caught before sending" enroll X-2 stranger x x smuggler
contains "$ERR" "malformed" "unknown role code"

# ---- quantities --------------------------------------------------------------------
reg() { # reg QTY [more options, which win over these]
    rq=$1
    shift
    as grower register --herb 当归 --latin "Angelica sinensis" --part 根 --qty "$rq" \
        --province 甘肃省 --city 定西市 --county 岷县 --base 梅川镇 --daodi \
        --harvest 2026-10-12 --grade 一等 --processing 晒干 "$@"
}
SIZE1=$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
expect 2 "a bad harvest date is caught before sending" as grower register --herb 当归 \
    --latin "Angelica sinensis" --part 根 --qty 1kg --province 甘肃省 --city 定西市 --county 岷县 \
    --base 梅川镇 --harvest 2026-13-01 --grade 一等 --processing 晒干
contains "$ERR" "nothing was sent" "and says nothing was sent"
expect 2 "a harvest date after today is caught before sending" as grower register --herb 当归 \
    --latin "Angelica sinensis" --part 根 --qty 1kg --province 甘肃省 --city 定西市 --county 岷县 \
    --base 梅川镇 --harvest 2099-01-01 --grade 一等 --processing 晒干
contains "$ERR" "bad_time" "with its code"
if [ "$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')" = "$SIZE1" ]; then pass; else fail "bad input changed the ledger"; fi
expect 2 "a harvest date that is no date" reg 10kg --harvest 2026-13-01
contains "$ERR" "--harvest must be a date" "the message names the option, not the JSON field"
if grep -q '"harvest_date"' "$ERR"; then fail "the message names the JSON field"; else pass; fi
expect 2 "1.5g is not a whole number of grams" reg 1.5g
expect 2 "a quantity needs a unit" reg 500
expect 0 "register 10斤" reg 10斤
C10=$(codes_of "$OUT" | head -1)
expect 0 "show it" "$TT" --json show "$C10"
contains "$OUT" '"remaining": 5000' "10斤 is 5000 g"
expect 0 "register 1.5kg" reg 1.5kg
C15=$(codes_of "$OUT" | head -1)
# as an input method types them: full-width digits, 钱 (5 g), 公斤 and KG
for q in "３斤:1500" "2钱:10" "1.5 公斤:1500" "２．５ＫＧ:2500" "3 两:150"; do
    expect 0 "register ${q%%:*}" reg "${q%%:*}"
    expect 0 "show it" "$TT" --json show "$(codes_of "$OUT" | head -1)"
    contains "$OUT" "\"remaining\": ${q##*:}" "${q%%:*} is ${q##*:} g"
done
expect 2 "1钱.5 is no quantity" reg "1钱.5"
expect 0 "register 500kg" reg 500kg
A=$(codes_of "$OUT" | head -1)

# ---- a trace code the CLI made that is taken already is made afresh ----------------
# tests/fixed-digits.c, preloaded, makes the CLI draw chosen digits first
SHIM=
for d in "$BIN" "$BIN/.."; do
    if [ -f "$d/tests/fixed-digits.so" ]; then SHIM="$d/tests/fixed-digits.so"; break; fi
done
if [ -n "$SHIM" ]; then pass; else fail "no tests/fixed-digits.so beside $BIN"; fi
# drawing DIGITS CMD...: CMD with the CLI's first random digits fixed
drawing() {
    dg=$1
    shift
    LD_PRELOAD="$SHIM" TT_FIXED_DIGITS="$dg" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
expect 0 "register with drawn digits" drawing 123456789 reg 1kg
F1=$(codes_of "$OUT" | head -1)
case $F1 in ??????123456789?) pass ;; *) fail "the shim did not fix the drawn code ($F1)" ;; esac
expect 0 "the same code drawn again: registered under a fresh one" drawing 123456789 reg 2kg
F2=$(codes_of "$OUT" | head -1)
if [ -n "$F2" ] && [ "$F2" != "$F1" ]; then pass; else fail "no fresh code ($F1 / $F2)"; fi
expect 0 "the fresh code holds the new lot" "$TT" --json show "$F2"
contains "$OUT" '"registered": 2000' "the new lot is under the fresh code"
expect 0 "the taken code is unchanged" "$TT" --json show "$F1"
contains "$OUT" '"registered": 1000' "the first lot is untouched"
expect 0 "a split whose drawn child code is taken gets fresh ones" \
    drawing 123456789 as grower split "$F2" --into 1kg,1kg
set -- $(codes_of "$OUT")
if [ $# = 3 ] && [ "$2" != "$F1" ] && [ "$3" != "$F1" ] && [ "$2" != "$3" ]; then pass; else
    fail "split codes: $*"; fi
expect 0 "the split's first child exists" "$TT" --json show "$2"
contains "$OUT" '"registered": 1000' "the child holds its part"
expect 1 "drawn taken five times: refused after five tries" \
    drawing 123456789123456789123456789123456789123456789 reg 3kg
contains "$ERR" "duplicate_id" "the refusal names duplicate_id"
expect 1 "a taken --id is refused, not replaced" as grower register --herb 当归 \
    --latin "Angelica sinensis" --part 根 --qty 1kg --province 甘肃省 --city 定西市 \
    --county 岷县 --base 梅川镇 --harvest 2026-10-12 --grade 一等 --processing 晒干 --id "$F1"
contains "$ERR" "duplicate_id" "a taken --id names duplicate_id"

# ---- the lifecycle through the CLI ----------------------------------------------
expect 1 "only the holder transfers" as trader transfer "$A" --to PH-1
contains "$ERR" "not_holder" "not_holder code"
expect 0 "transfer to the trader" as grower transfer "$A" --to T-1
expect 1 "the pharmacy cannot receive what was sent to the trader" as pharmacy receive "$A"
expect 0 "the trader receives" as trader receive "$A"
expect 1 "receiving twice" as trader receive "$A"
if head -1 "$ERR" | grep -q "该批次已签收，无需再次签收"; then pass; else fail "a second receive says first that it was received already"; fi
expect 0 "split" as trader split "$A" --into 200kg,300kg
set -- $(codes_of "$OUT")
A1=$2 A2=$3
if grep "^  新批次 1" "$OUT" | grep -qF "$(echo "$A1" | sed 's/\(....\)\(....\)\(....\)\(....\)/\1 \2 \3 \4/')  200 kg（400 斤）"; then pass; else fail "split lists each new lot with its quantity"; fi
contains "$OUT" "分出 500 kg（1000 斤）" "and what was split off the original"
expect 1 "selling more than remains" as trader sell "$A1" --qty 201kg
contains "$ERR" "quantity" "quantity code"
contains "$ERR" "has 200 kg left, not 201 kg" "and says it in kg, not grams"
expect 0 "part transfer to the pharmacy" as trader transfer "$A1" --to PH-1 --qty 50kg
P1=$(codes_of "$OUT" | head -1)
pretty() { echo "$1" | sed 's/\(....\)\(....\)\(....\)\(....\)/\1 \2 \3 \4/'; }
if grep "^  发出" "$OUT" | grep -qF "$(pretty "$P1")  50 kg（100 斤）：新批次"; then pass; else fail "a part transfer names the new lot that was sent"; fi
if grep "^  留下" "$OUT" | grep -qF "$(pretty "$A1")  剩余 150 kg（300 斤）：原批次"; then pass; else fail "and what stays under the old code"; fi
expect 0 "stock of the pharmacy" "$TT" stock PH-1
contains "$OUT" "待收 on the way to you" "stock shows what is on its way"
contains "$OUT" "$(pretty "$P1")" "the part in transit is listed"
expect 0 "stock of the trader, from its own key" as trader stock
contains "$OUT" "T-1 的库存" "stock names whose it is"
contains "$OUT" "发出在途" "stock shows what it sent that is in transit"
contains "$OUT" "→ PH-1" "and to whom"
contains "$OUT" "$(pretty "$A2")" "and what it holds"
expect 2 "stock with neither an actor nor a key" "$TT" stock
expect 0 "the pharmacy receives" as pharmacy receive "$P1"
expect 0 "the pharmacy sells" as pharmacy sell "$P1" --qty 250g
echo report >"$WORK/report"
expect 0 "inspection fails on SO2" as inspector inspect "$A2" --lab 药检所 --result so2=520mg/kg \
    --report "$WORK/report"
contains "$OUT" "不合格" "the verdict is shown"
expect 1 "a held lot cannot be sold" as trader sell "$A2" --qty 1kg
contains "$ERR" "frozen" "frozen code"
# whether a lot may be sold is said first, and is an exit code of its own (5), whatever the proofs
expect 5 "verify of a held lot: proved, but not for sale" "$TT" verify "$A2"
if head -1 "$OUT" | grep -q "^✗ 不可销售：该批次已被扣留"; then pass; else fail "verify's first line says the held lot may not be sold"; fi
contains "$OUT" "so2 520 mg/kg" "and why it is held"
contains "$OUT" "NOT FOR SALE" "in English too"
if grep -q "^✓" "$OUT"; then fail "no green tick on a held lot"; else pass; fi
expect 5 "show of a held lot" "$TT" show "$A2"
if head -1 "$OUT" | grep -q "不可销售"; then pass; else fail "show says first that the held lot may not be sold"; fi
expect 5 "show --json of a held lot" "$TT" --json show "$A2"
contains "$OUT" '"saleable": false' "show --json says it may not be sold"
contains "$OUT" '"code": "held"' "and why, with a code"
expect 0 "show of a lot in stock" "$TT" show "$A1"
if head -1 "$OUT" | grep -q "^✓ 可以销售"; then pass; else fail "show says a lot in stock may be sold"; fi
expect 0 "verify --json of a lot in stock" "$TT" --json verify "$A1"
contains "$OUT" '"saleable": true' "verify --json says it may be sold"
# a lot with a long history (601 entries): every answer about it is bounded, and says so
expect 0 "register a lot for many sales" as trader register --herb 当归 --qty 1kg --province 甘肃省 \
    --city 定西市 --county 岷县 --base 梅川镇 --harvest 2026-10-12 --grade 一等 --processing 晒干
LONG=$(codes_of "$OUT" | head -1)
for part in 1 2 3; do
    i=0 evs=""
    while [ $i -lt 200 ]; do
        evs="$evs${evs:+,}$("$BIN/tcmtrace-sign" "$KEYS/trader.key" '{"type":"batch.sell","id":"'"$LONG"'","qty_g":1}' | sed 's/^{"op":"submit",/{/')"
        i=$((i + 1))
    done
    printf '{"op":"submit_many","events":[%s]}' "$evs" | "$TT" api - >"$OUT" 2>"$ERR" || fail "600 sales, part $part"
done
"$TT" api '{"op":"batch","id":"'"$LONG"'"}' >"$OUT" 2>"$ERR"
if /usr/bin/python3 -c "import json,sys; d=json.load(open('$OUT')); e=d['events']; sys.exit(0 if len(e) == 500 and d['events_total'] == 601 and d['events_omitted'] == 101 and e[0]['type'] == 'batch.register' and e[-1]['seq'] == max(x['seq'] for x in e) else 1)"
then pass; else fail "a lot of 601 entries: its first 20 and newest 480 events, and how many are left out"; fi
expect 0 "show of the lot of 601 entries" "$TT" show "$LONG"
contains "$OUT" "中间 101 条记录未列出" "show says how many entries it leaves out"
expect 0 "verify of the lot of 601 entries" "$TT" verify "$LONG"
if head -1 "$OUT" | grep -q "^✓ 可以销售" && grep -q "但不是全部" "$OUT" && ! grep -q "均已验证" "$OUT"; then pass; else fail "verify says it proved not all of a trace too large for one answer"; fi
expect 0 "verify --json of it" "$TT" --json verify "$LONG"
contains "$OUT" '"complete": false' "--json says the proof is not complete"
expect 0 "stock of the trader" "$TT" stock T-1
if grep -F "$(pretty "$A2")" "$OUT" | grep -q "^✗"; then pass; else fail "stock marks the held lot ✗"; fi
if grep -F "$(pretty "$A1")" "$OUT" | grep -q "^✗"; then fail "stock marks only lots that may not be sold"; else pass; fi
contains "$OUT" "其中 1 批不可销售" "stock counts the lots that may not be sold"
# columns line up by display width (a Chinese character is two columns), header and rows
aligned() { # aligned FILE HEADER-TEXT: every cell of the rows under the header starts where a header cell does
    python3 - "$1" "$2" <<'PY'
import re, sys, unicodedata
w = lambda s: sum(2 if unicodedata.east_asian_width(ch) in 'WF' else 1 for ch in s)
def starts(l):
    l = l.replace('\u2717 ', '  ', 1)  # a row's ✗ mark stands in the indent
    return [w(l[:m.start()]) for m in re.finditer(r'(?:^|(?<=  ))[^ ]', l)]
lines = open(sys.argv[1], encoding='utf-8').read().split('\n')
h = next(i for i, l in enumerate(lines) if sys.argv[2] in l)
want, rows = set(starts(lines[h])), []
for l in lines[h + 1:]:
    if not l.startswith(('  ', '\u2717')) or not l.strip():
        break
    rows.append(l)
bad = [l for l in rows if not set(starts(l)) <= want or len(starts(l)) < 2]
print('\n'.join(bad))
sys.exit(1 if bad or not rows else 0)
PY
}
if aligned "$OUT" "追溯码 code"; then pass; else fail "stock's columns do not line up"; fi
expect 2 "a mistyped trace code is caught before sending" as trader sell "$(echo "$A2" | sed 's/^\(.\)\(.\)/\2\1/')" --qty 1kg
expect 0 "the regulator recalls the origin lot" as regulator recall "$A" --reason 召回
expect 5 "trace of the recalled pharmacy lot" "$TT" trace "$P1"
if head -1 "$OUT" | grep -q "^✗ 不可销售：该批次已被召回"; then pass; else fail "trace says first that the recalled lot may not be sold"; fi
contains "$OUT" "$(echo "$A" | sed 's/\(....\)\(....\)\(....\)\(....\)/\1 \2 \3 \4/')" "trace reaches the origin"
contains "$OUT" "销售" "trace shows the sale"
expect 5 "trace --json" "$TT" --json trace "$P1"
contains "$OUT" '"code": "recalled"' "trace --json says why it may not be sold"
contains "$OUT" '"status": "recalled"' "the recall reached the pharmacy lot"
expect 5 "trace --down --depth 1 of the recalled origin lot" "$TT" trace "$A" --down --depth 1
contains "$OUT" "$(pretty "$A1")" "one level down shows the children"
if grep -qF "$(pretty "$P1")" "$OUT" || grep -q "来源" "$OUT"; then fail "--down --depth 1 shows no grandchild and nothing upstream"; else pass; fi
contains "$OUT" "more lots below" "and says how many lots it left out"
expect 5 "trace --up --brief of the recalled lot" "$TT" trace "$P1" --up --brief
if grep -q "去向" "$OUT" || grep -q "#[0-9]" "$OUT"; then fail "--up --brief shows no downstream and no events"; else pass; fi
contains "$OUT" "$(pretty "$A")" "--up reaches the origin"
expect 2 "trace --depth 0 is refused" "$TT" trace "$A" --depth 0
# ---- in the trader's words ---------------------------------------------------------------
R_ARGS="--qty 200斤 --province 甘肃省 --city 定西市 --county 岷县 --base b --harvest 2026-10-01 --grade g --processing p"
# shellcheck disable=SC2086
expect 0 "register takes the Latin name and part from the herb dictionary" as grower register --herb 当归 $R_ARGS
contains "$OUT" "200 斤（100 kg）" "register echoes the quantity as typed and in kg"
contains "$OUT" "Angelicae Sinensis Radix 干燥根" "with the dictionary's Latin name and part"
for typo in 當歸 当皈 danggui; do
    # shellcheck disable=SC2086
    expect 2 "register --herb $typo is caught before sending" as grower register --herb "$typo" $R_ARGS
    contains "$ERR" "您是否要登记：当归" "register --herb $typo asks whether 当归 was meant"
done
if head -1 "$ERR" | grep -q '^tcmtrace: 药材目录里没有“danggui”'; then pass; else fail "a refusal says in Chinese first what is wrong"; fi
contains "$ERR" "did you mean 当归" "and in English after it"
# shellcheck disable=SC2086
expect 2 "an unlisted herb needs its Latin name and part" as grower register --herb 川银花 --unlisted $R_ARGS
contains "$ERR" "--latin and --part" "the refusal names the options"
expect 0 "search --origin 甘肃 (the province as people say it)" "$TT" --json search --origin 甘肃
if grep -q '"batches": \[\]' "$OUT"; then fail "search --origin 甘肃 finds the lots of 甘肃省"; else pass; fi
expect 0 "search --origin 定西 (the city without 市)" "$TT" --json search --origin 定西
if grep -q '"batches": \[\]' "$OUT"; then fail "search --origin 定西 finds the lots of 定西市"; else pass; fi
expect 0 "search --origin 甘 matches no place by a prefix" "$TT" --json search --origin 甘
contains "$OUT" '"batches": []' "a bare prefix is not a place"

# ---- everyday lists and exports --------------------------------------------------------
expect 0 "search by herb and holder" "$TT" search --herb 当归 --holder PH-1
contains "$OUT" "$(pretty "$P1")" "search finds the pharmacy's lot"
contains "$OUT" "找到 1 批" "and only it"
expect 2 "search by a state that is not one" "$TT" search --state 召回
contains "$ERR" "held（扣留）" "the refusal names the states there are"
expect 0 "search by state" "$TT" --json search --state recalled
contains "$OUT" "\"$A\"" "the recalled origin lot is found"
expect 0 "search by a harvest range with no lot in it" "$TT" search --harvest-from 2099-01-01
contains "$OUT" "找到 0 批" "finds nothing"
expect 2 "search with a bad date" "$TT" search --harvest-to 2026-13-01
expect 0 "actor list" "$TT" actor list
contains "$OUT" "马建国" "actor list names the grower"
if aligned "$OUT" "编号 id"; then pass; else fail "actor list's columns do not line up"; fi
contains "$OUT" "种植户 grower" "actor list names roles in Chinese"
expect 0 "actor list --role pharmacy" "$TT" --json actor list --role pharmacy
contains "$OUT" '"PH-1"' "the pharmacy is listed"
if grep -q '"G-1"' "$OUT"; then fail "actor list --role pharmacy lists the grower"; else pass; fi
expect 0 "export --format csv (for Excel and WPS)" "$TT" export --format csv
if head -c 3 "$OUT" | od -An -tx1 | grep -q "ef bb bf"; then pass; else fail "the csv opens with a UTF-8 byte-order mark"; fi
contains "$OUT" "序号 seq,记录时间 recorded,签名时间 signed_at,事件 event,type,签名人 by,批次 lot,药材 herb,数量(kg) qty_kg,收货方 to,新批次 new_lots,检验结论 verdict,说明 detail" "csv has its header, Chinese first"
contains "$OUT" ",销售,batch.sell,PH-1,\"=\"\"$P1\"\"\",当归,0.250,," "the sale: its lot kept as text, its herb, kilograms"
contains "$OUT" ",检验,batch.inspect,I-1,\"=\"\"$A2\"\"\",当归,,,,不合格 FAIL," "an inspection with its verdict"
if /usr/bin/python3 - "$OUT" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline='')))
sys.exit(0 if rows and all(len(r) == 13 for r in rows) else 1)
PY
then pass; else fail "every csv row has the 13 columns"; fi
expect 0 "export --format csv --encoding gb18030" "$TT" export --format csv --encoding gb18030
if /usr/bin/python3 -c "import sys; t=open('$OUT','rb').read(); sys.exit(0 if t[:3] != b'\xef\xbb\xbf' and '当归' in t.decode('gb18030') else 1)"; then pass; else fail "--encoding gb18030 writes GB 18030 with no BOM"; fi
expect 0 "export --format csv --encoding utf-8 (for programs)" "$TT" export --format csv --encoding utf-8
contains "$OUT" ",销售,batch.sell,PH-1,$P1,当归,0.250,," "plain: the codes as they are"
expect 2 "an encoding export does not know" "$TT" export --format csv --encoding latin1
contains "$ERR" "gb18030" "the refusal names the encodings"
expect 0 "export --format json --from 2 --to 3" "$TT" export --format json --from 2 --to 3
if /usr/bin/python3 -c "import json,sys; d=json.load(open('$OUT')); sys.exit(0 if [r['seq'] for r in d]==[2,3] else 1)"; then pass; else fail "export --from 2 --to 3 holds entries 2 and 3"; fi
expect 0 "export of one lot" "$TT" export --format json "$P1"
if /usr/bin/python3 -c "import json,sys; d=json.load(open('$OUT')); sys.exit(0 if d and all('$P1' in json.dumps(r) or r['body']['type'] == 'batch.recall' for r in d) else 1)"; then pass; else fail "export CODE holds only that lot's entries (and the recall of its origin)"; fi
expect 2 "export with a bad --from" "$TT" export --from yesterday
expect 2 "export with a bad format" "$TT" export --format xml
expect 5 "verify of the recalled lot: its entries are proved, and it is not for sale" "$TT" verify "$P1"
if head -1 "$OUT" | grep -q "^✗ 不可销售：该批次已被召回（召回）"; then pass; else fail "verify says first that the lot is recalled, and why"; fi
contains "$OUT" "条追溯记录均已验证" "verify reports the proofs held"
expect 5 "verify --json of the recalled lot" "$TT" --json verify "$P1"
contains "$OUT" '"verified": true' "the proofs held"
contains "$OUT" '"saleable": false' "and it may not be sold"
"$TTD" init "$WORK/other" --origin tcmtrace.test/other --market m \
    --authority-key "$KEYS/mkt.key" --authority-id MKT-01 --authority-name x \
    --unsealed-log-key >/dev/null 2>&1
expect 4 "verify with another log's key fails" "$TT" --log-key "$WORK/other/log.vkey" verify "$P1"
expect 0 "checkpoint" "$TT" checkpoint
expect 0 "proof" "$TT" proof 3
expect 0 "log" "$TT" log --limit 5
contains "$OUT" "召回" "log lists the recall"
expect 0 "actor show" "$TT" actor show PH-1
contains "$OUT" "解放碑大药房" "actor show prints the organisation"

# key rotation through the CLI
"$TT" key new "$KEYS/pharmacy2.key" >/dev/null
expect 0 "rotate the pharmacy's key" as pharmacy actor rotate --new-key "$KEYS/pharmacy2.key.pub"
expect 1 "the old key is retired" as pharmacy sell "$C10" --qty 1g
contains "$ERR" "revoked" "retired key code"
expect 0 "revoke the stranger-free trader" as mkt actor revoke T-1 --reason 执照过期
expect 1 "a revoked trader cannot sign" as trader sell "$A1" --qty 1kg
# its open lots are not stranded: the market hands them to a successor, in each lot's history
"$TT" key new "$KEYS/trader5.key" >/dev/null
expect 0 "enroll the successor" enroll T-5 trader5 陈明 陈氏药材行 trader
expect 0 "the market hands the revoked trader's open lots to its successor" as mkt actor succeed T-1 --to T-5 --reason "执照过期，由其店员接手"
contains "$OUT" "已移交" "it says how many lots were handed on"
expect 1 "the successor holds it now: a recalled lot refuses it for its recall, not as another's" "$TT" --key "$KEYS/trader5.key" sell "$A1" --qty 1kg
contains "$ERR" "frozen" "the refusal is the recall's"
expect 5 "the lot's history (recalled: not for sale)" "$TT" show "$A1"
contains "$OUT" "移交库存" "the lot's history shows the hand-over"

# ---- raw API: every error path ---------------------------------------------------
api status ok '{"op":"status"}' request
api batch ok "{\"op\":\"batch\",\"id\":\"$A\"}" request
api trace ok "{\"op\":\"trace\",\"id\":\"$A\"}" request
api entry ok '{"op":"entry","seq":0}' request
# an entry by its hash, as a submit answered it: the receipt finds its entry
H3=$(printf '{"op":"entry","seq":3}' | "$TT" api - | python3 -c 'import json, sys; print(json.load(sys.stdin)["hash"])')
api entry-by-hash ok "{\"op\":\"entry\",\"hash\":\"$H3\"}" request
contains "$OUT" '"seq":3,' "the entry found by its hash is entry 3"
api entry-by-hash-upper ok "{\"op\":\"entry\",\"hash\":\"$(printf %s "$H3" | tr a-f A-F)\"}"
contains "$OUT" '"seq":3,' "an upper-case hash finds the same entry"
api proof-bundle-by-hash ok "{\"op\":\"proof_bundle\",\"hash\":\"$H3\"}" request
contains "$OUT" '"seq":3,' "the bundle found by hash is entry 3's"
api entry-hash-unknown not_found '{"op":"entry","hash":"0000000000000000000000000000000000000000000000000000000000000000"}'
contains "$OUT" "no entry of this ledger has the hash" "an unknown hash is said so"
api entry-hash-short malformed '{"op":"entry","hash":"abc"}'
contains "$OUT" "64 hexadecimal digits" "a short hash is named"
api entry-hash-not-hex malformed '{"op":"entry","hash":"zz00000000000000000000000000000000000000000000000000000000000000"}'
api entry-hash-number malformed '{"op":"entry","hash":3}'
api entry-seq-and-hash malformed "{\"op\":\"entry\",\"seq\":3,\"hash\":\"$H3\"}"
contains "$OUT" "not both" "seq and hash together are refused"
api entry-neither malformed '{"op":"entry"}'
expect 0 "proof by entry hash" "$TT" proof "$H3"
contains "$OUT" "条目 #3 " "proof by hash names entry 3"
contains "$OUT" "$H3" "proof by hash prints the hash"
expect 0 "proof by entry hash, json" "$TT" --json proof "$H3"
contains "$OUT" "\"hash\": \"$H3\"" "the json proof carries the hash"
expect 1 "proof of an unknown hash" "$TT" proof 0000000000000000000000000000000000000000000000000000000000000000
contains "$ERR" "not_found" "an unknown hash is not_found"
expect 2 "proof of a hash that is not hex" "$TT" proof "zz${H3#??}"
api log ok '{"op":"log","from":0,"limit":3}' request
api proof ok '{"op":"proof","seq":1}' request
api proof-size ok '{"op":"proof","seq":1,"size":5}' request
api consistency ok '{"op":"consistency","from":3,"to":8}' request
api checkpoint ok '{"op":"checkpoint"}' request
api actor ok '{"op":"actor","id":"G-1"}' request
api not-json malformed '{"op":'
api not-object malformed '[1,2]'
api no-op malformed '{"id":1}'
api duplicate-keys malformed '{"op":"status","op":"batch"}'
api unknown-op argument '{"op":"steal"}'
api batch-no-id malformed '{"op":"batch"}' 
UNKNOWN=$(python3 -c '
t=[[0,3,1,7,5,9,8,6,4,2],[7,0,9,2,1,5,4,8,6,3],[4,2,0,6,8,7,1,3,5,9],[1,7,5,0,9,8,3,4,2,6],[6,1,2,3,0,4,5,9,7,8],[3,6,7,4,2,0,9,5,8,1],[5,8,6,9,7,2,0,1,3,4],[8,9,4,5,3,6,2,0,1,7],[9,4,3,8,6,1,7,2,0,5],[2,5,8,1,4,3,6,7,9,0]]
s="261122123456789"; i=0
for ch in s: i=t[i][int(ch)]
print(s+str(i))')
api batch-unknown unknown_batch "{\"op\":\"batch\",\"id\":\"$UNKNOWN\"}" request
api batch-bad-code malformed '{"op":"batch","id":"2611221234567890"}' request
api trace-bad-code malformed '{"op":"trace","id":"12"}' request
api entry-missing not_found '{"op":"entry","seq":99999}' request
api entry-negative malformed '{"op":"entry","seq":-1}'
api entry-string malformed '{"op":"entry","seq":"1"}'
api proof-range range '{"op":"proof","seq":99999}' request
api proof-no-checkpoint not_found '{"op":"proof","seq":0,"size":99999}' request
api consistency-zero range '{"op":"consistency","from":0,"to":3}' request
api consistency-backwards range '{"op":"consistency","from":5,"to":3}' request
api consistency-future range '{"op":"consistency","from":3,"to":99999}' request
api checkpoint-missing not_found '{"op":"checkpoint","size":99999}' request
api actor-unknown unknown_actor '{"op":"actor","id":"NOBODY"}' request
api submit-no-actor malformed '{"op":"submit","sig":"x","body":"{}"}'
api submit-bad-actor malformed '{"op":"submit","actor":"AAAA","sig":"x","body":"{}"}'
PK=$(cat "$KEYS/grower.key.pub" | sed -n 's/^public: //p')
ZSIG=$(printf 'A%.0s' $(seq 1 86))==
api submit-bad-sig bad_signature "{\"op\":\"submit\",\"actor\":\"$PK\",\"sig\":\"$ZSIG\",\"body\":\"{}\"}" request
api submit-body-number malformed "{\"op\":\"submit\",\"actor\":\"$PK\",\"sig\":\"$ZSIG\",\"body\":5}"
# signed requests come from the test signer
REQ=$("$BIN/tcmtrace-sign" "$KEYS/grower.key" '{"type":"batch.sell","id":"'"$C10"'","qty_g":1}')
api submit-forbidden forbidden "$REQ" request
REQ=$("$BIN/tcmtrace-sign" "$KEYS/stranger.key" '{"type":"batch.sell","id":"'"$C10"'","qty_g":1}')
api submit-not-enrolled not_enrolled "$REQ" request
REQ=$("$BIN/tcmtrace-sign" "$KEYS/grower.key" '{"type":"batch.sell","id":"'"$C10"'","qty_g":1.5}')
api submit-float-qty malformed "$REQ" request
REQ=$("$BIN/tcmtrace-sign" "$KEYS/grower.key" '{"type":"batch.transfer","id":"'"$C15"'","to":"I-1"}')
api submit-to-inspector forbidden "$REQ" request
REQ=$("$BIN/tcmtrace-sign" "$KEYS/grower.key" '{"type":"batch.transfer","id":"'"$C15"'","to":"PH-1"}')
api submit-ok ok "$REQ" request
api submit-replay replay "$REQ" request
BIG=$(head -c 70000 /dev/zero | tr '\0' 'x')
REQ=$("$BIN/tcmtrace-sign" "$KEYS/grower.key" '{"type":"batch.transfer","id":"'"$C10"'","to":"PH-1","note":"'"$BIG"'"}')
api submit-body-too-large too_large "$REQ"
HUGE=$(head -c 300000 /dev/zero | tr '\0' 'x')
api request-too-large too_large "{\"op\":\"status\",\"pad\":\"$HUGE\"}"

# ---- submit_many: each event answered in order, the good ones kept ------------------
expect 0 "register a lot for submit_many" reg 2kg
CB=$(codes_of "$OUT" | head -1)
item() { "$BIN/tcmtrace-sign" "$KEYS/$1.key" "$2" | sed 's/^{"op":"submit",/{/'; }
SELL1=$(item pharmacy2 '{"type":"batch.sell","id":"'"$CB"'","qty_g":100}')
BADSIG=$(item pharmacy2 '{"type":"batch.sell","id":"'"$CB"'","qty_g":100}' | sed 's/"sig":"A/"sig":"B/;t;s/"sig":"[A-Za-z0-9+/]/"sig":"A/')
MANY="[$(item grower '{"type":"batch.transfer","id":"'"$CB"'","to":"PH-1"}'),
$(item pharmacy2 '{"type":"batch.receive","id":"'"$CB"'"}'),
$SELL1,
$(item pharmacy2 '{"type":"batch.sell","id":"'"$CB"'","qty_g":100}'),
$BADSIG, 5, $SELL1,
$(item pharmacy2 '{"type":"batch.sell","id":"'"$CB"'","qty_g":5000}')]"
before=$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
api submit-many ok "{\"op\":\"submit_many\",\"events\":$MANY}"
codes=$(grep -o '"ok":true,"seq"\|"code":"[a-z_]*"' "$OUT" |
    sed 's/"ok":true,"seq"/ok/; s/"code":"\(.*\)"/\1/' | tr '\n' ' ')
if [ "$codes" = "ok ok ok ok bad_signature malformed replay quantity " ]; then pass; else
    fail "submit_many answers in order: got '$codes'"; fi
after=$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
if [ $((after - before)) = 4 ]; then pass; else fail "submit_many kept $((after - before)) events, not 4"; fi
expect 0 "the lot after submit_many" "$TT" --json show "$CB"
contains "$OUT" '"sold": 200' "two sales of 100 g went in"
contains "$OUT" '"holder": "PH-1"' "the transfer and receive went in"
api submit-many-empty malformed '{"op":"submit_many","events":[]}'
api submit-many-not-array malformed '{"op":"submit_many","events":{"actor":"x"}}'
TOO_MANY=$(i=0; printf '['; while [ $i -lt 257 ]; do [ $i -gt 0 ] && printf ,; printf 5; i=$((i + 1)); done; printf ']')
api submit-many-too-many too_large "{\"op\":\"submit_many\",\"events\":$TOO_MANY}"
api submit-many-all-bad ok "{\"op\":\"submit_many\",\"events\":[$BADSIG,$BADSIG]}" request
contains "$OUT" '"bad_signature"' "an all-refused submit_many still answers each event"

# ---- concurrent clients ------------------------------------------------------------
before=$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
pids=
for i in 1 2 3 4 5 6 7 8; do
    (for j in 1 2 3 4 5; do reg "${i}${j}kg" >/dev/null 2>&1 || echo "client $i/$j failed"; done) \
        >"$WORK/client$i" 2>&1 &
    pids="$pids $!"
done
# a backup while they write: LMDB's own consistent copy, once the first of them went in
SIZE1=$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
i=0; while [ $i -lt 400 ] && [ "$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')" = "$SIZE1" ]; do
    sleep 0.025; i=$((i + 1)); done
expect 0 "backup while clients write" "$TT" --json backup "$L" "$WORK/backup"
wait $pids
if cat "$WORK"/client* | grep -q failed; then fail "a concurrent client was refused"; else pass; fi
expect 0 "the backup audits" "$TT" --log-key "$L/log.vkey" audit "$WORK/backup"
contains "$OUT" "审计通过" "the copy passes the full audit"
if [ "$(stat -c %a "$WORK/backup/log.key")" = 600 ]; then pass; else fail "the backup's log key is not 0600"; fi
expect 2 "a backup into an existing directory is refused" "$TT" backup "$L" "$WORK/backup"
contains "$ERR" "new directory" "the refusal says what to do"
after=$("$TT" --json status | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
if [ $((after - before)) = 40 ]; then pass; else fail "40 concurrent registrations made $((after - before)) entries"; fi

# ---- restart keeps everything ------------------------------------------------------
"$TT" --json checkpoint >"$WORK/cp-before"
stop_daemon
contains "$WORK/daemon.log" "stopped cleanly" "SIGTERM stops cleanly"
expect 3 "stopped daemon: unreachable" "$TT" status
expect 0 "audit while stopped" "$TT" audit "$L"
contains "$OUT" "审计通过" "audit passes"
# a stopped audit's scratch store is removed by the next audit; a running one's is not
mkdir -p "$WORK/tmp"
sh -c 'exit 0' &
dead=$!
wait "$dead"
mkdir "$WORK/tmp/tcmtrace-audit-$dead" "$WORK/tmp/tcmtrace-audit-$$"
: >"$WORK/tmp/tcmtrace-audit-$dead/data.mdb"
expect 0 "audit with a stopped audit's scratch store in TMPDIR" env TMPDIR="$WORK/tmp" "$TT" audit "$L"
contains "$ERR" "tcmtrace-audit-$dead" "the audit says it removed the stopped one's scratch store"
if [ ! -e "$WORK/tmp/tcmtrace-audit-$dead" ] && [ -d "$WORK/tmp/tcmtrace-audit-$$" ] &&
    [ -z "$(ls "$WORK/tmp/tcmtrace-audit-$$")" ]; then pass; else
    fail "a stopped audit's scratch store is still there, or a live one's was touched"; ls -R "$WORK/tmp"
fi
rmdir "$WORK/tmp/tcmtrace-audit-$$"
start_daemon "$L" "$WORK/daemon.log" || exit 1
"$TT" --json checkpoint >"$WORK/cp-after"
if cmp -s "$WORK/cp-before" "$WORK/cp-after"; then pass; else fail "the checkpoint changed across a restart"; fi
expect 5 "state survives a restart" "$TT" --json show "$P1"
contains "$OUT" '"sold": 250' "the sale is still there"
expect 5 "verify after restart" "$TT" verify "$P1"
contains "$OUT" "条追溯记录均已验证" "verify after restart proves the entries"

# ---- a damaged store is caught, never served or signed from ------------------------
expect 0 "register a 1 kg lot" reg 1kg
DMG=$(codes_of "$OUT" | head -1)
stop_daemon
"$BIN/tamper" "$L" "$DMG" 9000 || fail "tamper"
if "$TTD" run "$L" >"$WORK/dmg.log" 2>&1; then fail "the daemon started on damaged derived state"; else pass; fi
contains "$WORK/dmg.log" "does not match its digest" "the daemon names the damage"
contains "$WORK/dmg.log" "tcmtrace rebuild" "and says what to do"
expect 4 "audit names the damaged record" "$TT" --log-key "$L/log.vkey" audit "$L"
contains "$OUT" "$DMG" "the audit names the record"
expect 0 "rebuild the derived state from the entries" "$TT" rebuild "$L"
start_daemon "$L" "$WORK/daemon.log" || exit 1
expect 0 "show the lot" "$TT" --json show "$DMG"
contains "$OUT" '"remaining": 1000' "the rebuilt record holds the true 1000 g"
expect 1 "an 8 kg sale from the 1 kg lot is refused" as grower transfer "$DMG" --to PH-1 --qty 8kg
# a ledger an older tcmtraced left (children inside records): refused, then rebuilt
stop_daemon
"$BIN/tamper" "$L" --old-layout || fail "tamper --old-layout"
if timeout 10 "$BIN/tcmtrace-web" "$L" --listen 127.0.0.1:1 >"$WORK/oldweb.log" 2>&1; then fail "tcmtrace-web opened an older layout"; else pass; fi
contains "$WORK/oldweb.log" "older tcmtraced" "tcmtrace-web names the older layout"
contains "$WORK/oldweb.log" "tcmtrace rebuild" "and what to do"
if "$TTD" run "$L" >"$WORK/old.log" 2>&1; then fail "the daemon started on an older layout"; else pass; fi
contains "$WORK/old.log" "older layout" "the daemon says the layout is older"
contains "$WORK/old.log" "tcmtrace rebuild" "and what to do"
if timeout 10 "$BIN/tcmtrace-web" "$L" --listen 127.0.0.1:1 >"$WORK/oldweb2.log" 2>&1; then fail "tcmtrace-web opened an older layout the daemon had touched"; else pass; fi
contains "$WORK/oldweb2.log" "older layout" "tcmtrace-web checks the layout too"
expect 0 "rebuild into this layout" "$TT" rebuild "$L"
start_daemon "$L" "$WORK/daemon.log" || exit 1
expect 5 "trace after the rebuild (of the recalled origin lot)" "$TT" trace "$A" --down --depth 1
contains "$OUT" "$(pretty "$A1")" "the children are back, from their index"

# ---- settings: the config file and a TCP listener ------------------------------------
stop_daemon
cp "$L/tcmtraced.conf" "$WORK/conf.saved"
echo "colour = blue" >>"$L/tcmtraced.conf"
expect 2 "an unknown setting is refused" "$TTD" run "$L"
contains "$ERR" "unknown setting \"colour\"" "the setting is named"
contains "$ERR" "配置文件里有不认识的设置" "in Chinese first"
cp "$WORK/conf.saved" "$L/tcmtraced.conf"
PORT=$((20000 + $$ % 20000))
printf 'tcp = tcp://127.0.0.1:%s\nthreads = 3\nbatch_max = 16\n' "$PORT" >>"$L/tcmtraced.conf"
start_daemon "$L" "$WORK/daemon.log" || exit 1
expect 0 "the API over TCP from the config file" env -u TCMTRACE_DIR "$TT" --connect "tcp://127.0.0.1:$PORT" status
contains "$WORK/daemon.log" "3 verification threads" "threads from the config file"
# each thread is named for what it does, as top -H and ps -L show it
cat /proc/"$DAEMON_PID"/task/*/comm | sort | uniq -c >"$WORK/threads.txt"
for t in "3 tt-worker" "1 tt-writer" "1 tt-acker" "1 tt-signals" "1 tt-tcp"; do
    if grep -qE "^ *$t\$" "$WORK/threads.txt"; then pass; else fail "thread names: no \"$t\" in $(tr '\n' ' ' <"$WORK/threads.txt")"; fi
done
if grep -q "tt-reader" "$WORK/threads.txt"; then pass; else fail "thread names: no tt-reader"; fi
stop_daemon
cp "$WORK/conf.saved" "$L/tcmtraced.conf"
start_daemon "$L" "$WORK/daemon.log" --threads 1 --batch-max 2 || exit 1
contains "$WORK/daemon.log" "1 verification threads" "flags win over the config file"
expect 0 "writes with one thread and groups of two" reg 2kg

# ---- audit catches tampering -----------------------------------------------------------
stop_daemon
cp -r "$L" "$WORK/tampered"
# a signed body now says 900000 g, stored back deflated as the daemon stores it
"$BIN/tamper" "$WORK/tampered" --body '"qty_g":500000' '"qty_g":900000' >/dev/null || fail "tamper --body"
expect 4 "audit finds a tampered body" "$TT" --log-key "$L/log.vkey" audit "$WORK/tampered"
contains "$OUT" "审计未通过" "audit reports failure"

# ---- labels and scanning -----------------------------------------------------------
start_daemon "$L" "$WORK/daemon.log" || exit 1
api label ok "{\"op\":\"label\",\"id\":\"$P1\"}" request
api label-unknown unknown_batch "{\"op\":\"label\",\"id\":\"$UNKNOWN\"}" request
api scan-bad-by malformed "{\"op\":\"scan\",\"id\":\"$C15\",\"by\":\"no spaces allowed\"}"
expect 0 "label PNG" "$TT" label "$C15" --out "$WORK/c15.png"
contains "$OUT" "QR version" "label reports the QR version"
expect 0 "label SVG" "$TT" label "$C15" --out "$WORK/c15.svg"
contains "$WORK/c15.svg" "<svg" "SVG is SVG"
contains "$WORK/c15.svg" "$(echo "$C15" | sed 's/\(....\)\(....\)\(....\)\(....\)/\1 \2 \3 \4/')" "SVG prints the code"
expect 0 "label in the terminal" "$TT" label "$C15" --format term
contains "$OUT" "▀" "terminal label uses half blocks"
expect 2 "PNG without --out" "$TT" label "$C15" --format png
expect 0 "sheet of a split lot" "$TT" label "$A" --all-children --out "$WORK/sheet.png"
contains "$OUT" "2 labels" "one label per child"
expect 0 "scan of the sheet reads every label on it" env -u TCMTRACE_DIR "$TT" --log-key "$L/log.vkey" scan "$WORK/sheet.png"
contains "$OUT" "[2/2]" "both labels"
contains "$OUT" "2 张标签已扫描" "and says how many"
if [ "$(codes_of "$OUT" | tr '\n' ' ')" = "$A1 $A2 " ]; then pass; else fail "the sheet's labels come in reading order: $(codes_of "$OUT" | tr '\n' ' ') (children $A1 $A2)"; fi
/usr/bin/python3 -c "
import struct, zlib, sys
w = h = 64
raw = b''.join(b'\x00' + b'\xff' * w for _ in range(h))
chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
" "$WORK/blank.png"
expect 2 "a photo with no label in it exits 2" "$TT" scan "$WORK/blank.png"
contains "$ERR" "no QR symbol could be read" "and says so"
expect 0 "scan a genuine label" "$TT" --key "$KEYS/pharmacy2.key" scan "$WORK/c15.png"
contains "$OUT" "PH-1" "a signed scan names its signer"
contains "$OUT" "标签签名有效" "scan says genuine"
contains "$OUT" "entries proved" "scan proves the trace"
expect 0 "scan offline needs no daemon" env -u TCMTRACE_DIR "$TT" --log-key "$L/log.vkey" scan "$WORK/c15.png"
contains "$OUT" "offline" "offline scan says so"
URL=$("$TT" --json label "$C15" --out "$WORK/c15b.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p')
expect 0 "scan the URL text" "$TT" scan "$URL"
# change one character inside the signature (the last one also holds padding bits)
TAMPERED=$(python3 -c 'import sys; u=sys.argv[1]; i=len(u)-20; print(u[:i]+str((int(u[i])+1)%10)+u[i+1:])' "$URL")
expect 4 "a tampered token is refused" "$TT" scan "$TAMPERED"
contains "$OUT" "bad_signature" "tampered: bad_signature"
SWAPPED=$(echo "$URL" | sed "s|/b/$C15|/b/$C10|")
expect 4 "a swapped trace code is refused" "$TT" scan "$SWAPPED"
contains "$OUT" "code_mismatch" "swapped: code_mismatch"
expect 4 "scan with another ledger's key" "$TT" --log-key "$WORK/other/log.vkey" scan "$URL"
contains "$OUT" "unknown_key" "other ledger: unknown_key"
expect 0 "label the recalled lot" "$TT" label "$P1" --out "$WORK/p1.png"
contains "$ERR" "must not be sold" "labelling a recalled lot warns"
expect 1 "scanning a recalled lot warns" "$TT" scan "$WORK/p1.png"
contains "$OUT" "RECALLED" "recalled warning"
# counterfeit signals come from signed scans alone
expect 2 "scan --by is not taken on trust" "$TT" scan "$URL" --by G-1
contains "$ERR" "--key" "--by names what to do instead"
for i in 1 2 3; do expect 0 "anonymous scan $i" "$TT" --json scan "$URL"; done
if grep -q more_holders_than_sent "$OUT"; then fail "anonymous scans raised a flag"; else pass; fi
contains "$OUT" '"anonymous": 4' "anonymous scans are counted"
expect 0 "signed scan at its holder" "$TT" --key "$KEYS/grower.key" --json scan "$URL"
contains "$OUT" '"by": "G-1"' "the scan's place is its signer"
expect 0 "an inspector's scan is an observer's" "$TT" --key "$KEYS/inspector.key" --json scan "$URL"
contains "$OUT" '"observer": true' "observers are listed as such"
if grep -q more_holders_than_sent "$OUT"; then fail "an observer raised a flag"; else pass; fi
"$TT" key new "$KEYS/stall2.key" >/dev/null
expect 0 "enroll a second stall" enroll T-2 stall2 黄丽 黄记药材 trader
expect 0 "one stranger's signed scan is no pattern" "$TT" --key "$KEYS/stall2.key" --json scan "$URL"
if grep -q more_holders_than_sent "$OUT"; then fail "one stranger raised a flag"; else pass; fi
contains "$OUT" '"strangers": 1' "and it is counted as a stranger's"
"$TT" key new "$KEYS/stall3.key" >/dev/null
expect 0 "enroll a stall of another firm" enroll T-3 stall3 邓强 邓氏参茸 trader
expect 1 "strangers of two firms: a place it never went" "$TT" --key "$KEYS/stall3.key" --json scan "$URL"
contains "$OUT" "more_holders_than_sent" "flag: more holders than sent"
expect 1 "only the market office reviews a lot's scans" as grower review "$C15" --reason 已核实
expect 0 "the market office reviews the flag, with its reason" as mkt review "$C15" --reason "两家为同一买家看货，已到现场核实"
expect 0 "scanned after the review" "$TT" --json scan "$URL"
if grep -q more_holders_than_sent "$OUT"; then fail "the review did not clear the flag"; else pass; fi
contains "$OUT" "两家为同一买家看货" "the scan record gives the review's reason"
REQ=$("$BIN/tcmtrace-sign" --scan "$KEYS/inspector.key" "$C15")
api signed-scan ok "$REQ"
api signed-scan-replay replay "$REQ"
REQ=$("$BIN/tcmtrace-sign" --scan "$KEYS/inspector.key" "$C15" 2099-01-01T00:00:00Z)
api signed-scan-future bad_time "$REQ"
REQ=$("$BIN/tcmtrace-sign" --scan "$KEYS/stranger.key" "$C15")
api signed-scan-unenrolled not_enrolled "$REQ"
REQ=$("$BIN/tcmtrace-sign" --scan "$KEYS/inspector.key" "$C10")
api signed-scan-other-code malformed "$(echo "$REQ" | sed "s/\"id\":\"$C10\"/\"id\":\"$C15\"/")"
# a used-up lot that keeps being scanned: only signed scans make the pattern
expect 0 "send C10 to the pharmacy" as grower transfer "$C10" --to PH-1
expect 0 "the pharmacy receives it" "$TT" --key "$KEYS/pharmacy2.key" receive "$C10"
expect 0 "and sells all of it" "$TT" --key "$KEYS/pharmacy2.key" sell "$C10" --qty 10斤
expect 0 "label C10" "$TT" label "$C10" --out "$WORK/c10.png"
for i in 1 2 3; do expect 1 "a used-up lot warns ($i, anonymous)" "$TT" --json scan "$WORK/c10.png"; done
if grep -q scanned_after_depleted "$OUT"; then fail "anonymous scans flagged a used-up lot"; else pass; fi
expect 1 "an inspector's signed scan of the used-up lot" "$TT" --key "$KEYS/inspector.key" --json scan "$WORK/c10.png"
if grep -q scanned_after_depleted "$OUT"; then fail "an observer flagged a used-up lot"; else pass; fi
expect 1 "a stranger's signed scan of the used-up lot" "$TT" --key "$KEYS/stall2.key" --json scan "$WORK/c10.png"
expect 1 "scanned again by the same" "$TT" --key "$KEYS/stall2.key" --json scan "$WORK/c10.png"
if grep -q scanned_after_depleted "$OUT"; then fail "one stranger's scans flagged a used-up lot"; else pass; fi
expect 1 "and by a stranger of another firm" "$TT" --key "$KEYS/stall3.key" --json scan "$WORK/c10.png"
contains "$OUT" "scanned_after_depleted" "flag: keeps being scanned after depletion"
# ---- the key agent: a counter signs all day after one passphrase ----------------------
export TCMTRACE_AGENT="$WORK/agent.sock"
printf '柜台-口令\n' >"$WORK/counter.pass" && chmod 600 "$WORK/counter.pass"
"$TT" --passphrase-file "$WORK/counter.pass" key new "$KEYS/counter.key" >/dev/null
expect 0 "enroll the counter's sealed key" enroll PH-7 counter 周敏 解放碑大药房 pharmacy
expect 0 "agent start" "$TT" agent start
contains "$OUT" "TCMTRACE_AGENT=$WORK/agent.sock; export TCMTRACE_AGENT;" "agent start prints what to eval"
if [ "$(stat -c %a "$WORK/agent.sock")" = 600 ]; then pass; else fail "the agent's socket is 0600"; fi
expect 2 "without the agent holding it, a sealed key needs its passphrase" env -u TCMTRACE_PASSPHRASE "$TT" --key "$KEYS/counter.key" scan "$URL"
contains "$ERR" "passphrase is needed" "and says so"
expect 0 "agent add (the passphrase once)" "$TT" --passphrase-file "$WORK/counter.pass" agent add "$KEYS/counter.key" --ttl 1h
env -u TCMTRACE_PASSPHRASE "$TT" --key "$KEYS/counter.key" scan "$URL" >"$OUT" 2>"$ERR" </dev/null
# (exit 1: a place the lot was never sent to is a warning, which is the scan working)
if [ $? -le 1 ] && ! grep -q passphrase "$ERR"; then pass; else fail "a scan signed through the agent, no passphrase asked"; fi
contains "$OUT" "PH-7" "signed as the counter"
contains "$WORK/agent.sock.log" "signed key" "the agent logs what it signed"
contains "$WORK/agent.sock.log" "scan of" "naming a scan and its lot"
if [ "$(stat -c %a "$WORK/agent.sock.log")" = 600 ]; then pass; else fail "the agent's log is 0600"; fi
# the agent signs tcmtrace messages only: any other bytes, and a v1 event naming no ledger, are refused
PKC=$(sed -n 's/^public: //p' "$KEYS/counter.key.pub")
for what in raw v1; do
    /usr/bin/python3 - "$WORK/agent.sock" "$PKC" "$what" <<'PY' && pass || fail "the agent signed $what bytes"
import base64, socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
msg = b'transfer 1000 yuan to the bearer' if sys.argv[3] == 'raw' else \
    b'tcmtrace/event/v1\n{"v":1,"type":"batch.sell","at":"2026-12-07T10:00:00+08:00","nonce":"abcdefghijklmnop","id":"2611224839105527","qty_g":1}'
m = b'S' + base64.b64decode(sys.argv[2]) + msg
s.sendall(struct.pack('>I', len(m)) + m)
n = struct.unpack('>I', s.recv(4))[0]
sys.exit(0 if s.recv(n)[:1] == b'N' else 1)
PY
done
contains "$WORK/agent.sock.log" "refused key" "and logs the refusal"
expect 0 "agent status" "$TT" --json agent status
contains "$OUT" "$(sed -n 's/^public: //p' "$KEYS/counter.key")" "lists the key"
AGENT_PID=$(pgrep -f "tcmtrace agent start" | head -1)
case "$BIN" in
*/asan | */tsan) # the sanitizers turn mlock into a no-op, so only the normal build can show it
    if [ -n "$AGENT_PID" ]; then pass; else fail "the agent runs"; fi ;;
*) if [ -n "$AGENT_PID" ] && [ "$(awk '/VmLck/ {print $2}' "/proc/$AGENT_PID/status")" -gt 0 ]; then pass; else fail "the agent's keys are in locked memory"; fi ;;
esac
# another user cannot reach the agent: its own refusal (exit 3), not a missing setpriv (127)
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to try the agent as another user"
# the binary itself, not valgrind's wrapper (whose log another user could not write)
TT_BIN=$TT
case $(head -c 2 "$TT") in '#!') TT_BIN=$(sed -n 's/.* \(\/[^ ]*\) "\$@"$/\1/p' "$TT") ;; esac
setpriv --reuid=65534 --regid=65534 --clear-groups "$TT_BIN" agent status >/dev/null 2>&1
rc=$?
if [ "$rc" = 3 ]; then pass; else fail "another user reaches the agent, or the check could not run (exit $rc, wanted 3)"; fi
expect 0 "agent remove" "$TT" agent remove "$KEYS/counter.key"
expect 2 "a removed key needs its passphrase again" env -u TCMTRACE_PASSPHRASE "$TT" --key "$KEYS/counter.key" scan "$URL"
expect 0 "agent add --ttl 1s" "$TT" --passphrase-file "$WORK/counter.pass" agent add "$KEYS/counter.key" --ttl 1s
i=0; while [ $i -lt 200 ] && ! "$TT" agent status 2>/dev/null | grep -q "持有 0 把密钥"; do sleep 0.05; i=$((i + 1)); done
expect 0 "agent status after the time ran out" "$TT" agent status
contains "$OUT" "持有 0 把密钥" "the key is gone"
expect 2 "a bad --ttl" "$TT" agent add "$KEYS/counter.key" --ttl forever
expect 0 "agent stop" "$TT" agent stop
if [ -e "$WORK/agent.sock" ]; then fail "agent stop removes its socket"; else pass; fi
unset TCMTRACE_AGENT
stop_daemon

# ---- clear messages where a person goes wrong ------------------------------------------
expect 3 "watch with no daemon" "$TT" --dir "$WORK/other" watch --count 1
contains "$ERR" "nothing to watch" "watch says there is no daemon"
TCMTRACE_LOG_PASSPHRASE=sealed-log-key "$TTD" init "$WORK/sealed" --origin tcmtrace.test/sealed \
    --market m --authority-key "$KEYS/mkt.key" --authority-id MKT --authority-name m >/dev/null
expect 1 "a sealed log key without its passphrase" env -u TCMTRACE_LOG_PASSPHRASE "$TTD" run "$WORK/sealed"
contains "$ERR" "--log-passphrase-file" "tcmtraced names the option it needs"
# init with a passphrase file: it prints the run command, and run needs no more than that
printf 'sealed-log-key\n' >"$WORK/log.pass" && chmod 600 "$WORK/log.pass"
expect 0 "init with --log-passphrase-file" env -u TCMTRACE_LOG_PASSPHRASE "$TTD" init "$WORK/sealed2" \
    --origin tcmtrace.test/sealed2 --market m --authority-key "$KEYS/mkt.key" --authority-id MKT \
    --authority-name m --log-passphrase-file "$WORK/log.pass"
contains "$OUT" "tcmtraced run $(cd "$WORK/sealed2" && pwd)" "init prints the exact run command"
contains "$WORK/sealed2/tcmtraced.conf" "log_passphrase_file = $WORK/log.pass" "and writes the passphrase file into the settings"
if start_daemon "$WORK/sealed2" "$WORK/sealed2.log" >/dev/null; then pass; else fail "the printed run command does not start the daemon"; fi
stop_daemon

# ---- an event counts only on the ledger it names: one market authority key, two ledgers ----
for m in a b; do
    "$TTD" init "$WORK/two-$m" --origin "tcmtrace.test/two-$m" --market "$m" --authority-key "$KEYS/mkt.key" \
        --authority-id MKT --authority-name m --unsealed-log-key >/dev/null || fail "init two-$m"
done
PKG=$(sed -n 's/^public: //p' "$KEYS/grower.key.pub")
ENROLL='{"type":"actor.enroll","id":"G-9","key":"'"$PKG"'","name":"某","org":"某","licence":"L","roles":["grower"]}'
TCMTRACE_DIR="$WORK/two-a" "$BIN/tcmtrace-sign" "$KEYS/mkt.key" "$ENROLL" >"$WORK/enroll-a.json"
start_daemon "$WORK/two-a" "$WORK/two-a.log" || fail "start two-a"
expect 0 "an enrolment signed for ledger a, on ledger a" "$TT" --dir "$WORK/two-a" api - <"$WORK/enroll-a.json"
contains "$OUT" '"ok":true' "is taken"
stop_daemon
start_daemon "$WORK/two-b" "$WORK/two-b.log" || fail "start two-b"
expect 1 "the same signed request, sent to ledger b" "$TT" --dir "$WORK/two-b" api - <"$WORK/enroll-a.json"
contains "$OUT" '"code":"wrong_ledger"' "is refused as another ledger's"
sed 's/,"ledger":"[^"]*"//' "$WORK/enroll-a.json" >"$WORK/enroll-a-bare.json"
expect 1 "and without the name of its ledger" "$TT" --dir "$WORK/two-b" api - <"$WORK/enroll-a-bare.json"
contains "$OUT" '"code":"bad_signature"' "its signature holds for ledger a only"
expect 1 "G-9 is not on ledger b" "$TT" --dir "$WORK/two-b" actor show G-9
expect 0 "the CLI signs for the ledger it talks to" env TCMTRACE_DIR="$WORK/two-b" "$TT" --key "$KEYS/mkt.key" actor enroll \
    --id G-9 --pubkey "$KEYS/grower.key.pub" --name 某 --org 某 --licence L --role grower
stop_daemon
expect 0 "the audit of ledger b holds every signature for b" "$TT" --log-key "$WORK/two-b/log.vkey" audit "$WORK/two-b"
expect 2 "--connect without tcp:// or ipc://" "$TT" --connect 127.0.0.1:9 status
contains "$ERR" "tcp://HOST:PORT" "the message names the form an address takes"
expect 3 "--connect to a dead port" "$TT" --connect tcp://127.0.0.1:9 --timeout 20000 status
contains "$ERR" "nothing answers on tcp://127.0.0.1:9" "a dead port is named at once"
if grep -q "may still have been written" "$ERR"; then fail "a read warns of a write"; else pass; fi
expect 4 "audit with another ledger's log key" "$TT" --log-key "$WORK/other/log.vkey" audit "$L"
contains "$OUT" "signed by another key" "the audit says the checkpoints are another key's"

# ---- usage ----------------------------------------------------------------------------
expect 2 "unknown command" "$TT" frobnicate
contains "$ERR" "没有“frobnicate”这个命令" "an unknown command is named in Chinese"
# zh_first DESC: the first line of the refusal is a Chinese sentence of its own, not the table's
# general one for every usage error
zh_first() {
    first=$(head -n 1 "$ERR")
    if printf '%s' "$first" | LC_ALL=C.UTF-8 grep -qP '^tcmtrace: .*\p{Han}' &&
        ! printf '%s' "$first" | grep -qF "请看 tcmtrace 命令 --help"; then
        pass
    else
        fail "$1: the first line is \"$first\""
    fi
}
expect 2 "an unknown option" "$TT" register --bogus 1
contains "$ERR" "选项“--bogus”不认识" "the unknown option is named"
if grep -q "unrecognized option '--bogus'" "$ERR"; then fail "getopt's English complaint is printed"; else pass; fi
expect 2 "register without its fields" "$TT" register --herb 当归
zh_first "register without its fields"
contains "$ERR" "登记需要 --herb、--qty" "the missing fields are named as options"
expect 2 "a quantity that is not one" "$TT" transfer 1234567890123456 --to T-1 --qty 十斤
zh_first "a quantity that is not one"
expect 2 "a trace too deep" "$TT" trace 1234567890123456 --depth 99
contains "$ERR" "--depth 是 1 到 64" "the depth's range in Chinese"
expect 2 "search with a word it does not know" "$TT" search --colour red
contains "$ERR" "不认识“--colour”" "the word is named"
expect 2 "export in a format it lacks" "$TT" export --format xml
zh_first "export in a format it lacks"
expect 2 "stock of no one" env -u TCMTRACE_KEY "$TT" stock
zh_first "stock of no one"
expect 2 "key with no subcommand" "$TT" key
contains "$ERR" "命令写得不对，没有发送任何东西：请按下面的用法改正" "a bare usage error says so in Chinese first"
expect 2 "an agent time out of range" "$TT" agent add --ttl 99y
zh_first "an agent time out of range"
expect 2 "a label too small" "$TT" label 1234567890123456 --width-mm 5 --out "$WORK/x.png"
zh_first "a label too small"
expect 0 "every refusal the CLI writes has its own Chinese sentence" /usr/bin/python3 tests/check_cli_words.py cli
expect 0 "help" "$TT" --help
for c in key actor register transfer receive reject split process inspect hold release recall \
    sell destroy show trace log checkpoint proof verify audit watch api label scan stock search \
    export cancel herbs limits buyer-check rebuild backup tiles status agent; do
    expect 0 "$c --help" "$TT" $c --help
done
expect 0 "tcmtraced --help" "$TTD" --help
# the benchmark (built by every make test, run only by make bench) refuses a place it cannot
# make its ledgers in before it measures anything, and names the place and the option
expect 2 "bench with a --dir it cannot write to" "$BIN/tcmtrace-bench" --dir "$WORK/no/such/dir"
contains "$ERR" "$WORK/no/such/dir" "the bench names the directory"
contains "$ERR" "give --dir a directory you can write to" "the bench says what to do"
expect 2 "bench with an unknown option" "$BIN/tcmtrace-bench" --frobnicate
contains "$ERR" "[--dir DIR]" "the bench's usage lists --dir"

stop_daemon
if [ "$DAEMON_BAD" = 0 ]; then pass; else fail "$DAEMON_BAD tcmtraced processes exited with an error when stopped"; fi
# every check ran: one skipped by a broken branch cannot pass unseen (raise it with a new check)
E2E_CHECKS=568
[ $((passed + failed)) = "$E2E_CHECKS" ] || fail "$((passed + failed)) e2e checks ran, $E2E_CHECKS expected"
echo "e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]
