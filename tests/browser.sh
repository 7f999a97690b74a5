#!/bin/sh
# The browser tests: a market's ledger with a genuine, a recalled and a held
# lot, tcmtrace-web and tcmtraced on it, and a second ledger for a foreign
# label; tests/browser/phone.mjs then opens each label's URL in Debian's
# Chromium, and tests/browser/stall.mjs runs two traders' day on /stall/. Screenshots at 360 x 780 go to $SCREENS (default build/screens).
# Prints "browser: N passed, N failed".
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SCREENS=${SCREENS:-$HERE/../build/screens}
mkdir -p "$SCREENS"
SCREENS=$(cd "$SCREENS" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-browser-XXXXXX")
KEYS="$WORK/keys" L="$WORK/ledger" L2="$WORK/other"
mkdir -p "$KEYS"
WEB_PID=
trap 'stop_daemon; [ -n "$WEB_PID" ] && kill "$WEB_PID" 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
export TCMTRACE_DIR="$L"
PORT=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
BASE="http://127.0.0.1:$PORT/cq"
for who in mkt mkt2 grower trader inspector regulator; do "$TT" key new "$KEYS/$who.key" --unsealed >/dev/null; done
# another market's ledger, at the same address: its label must not pass here
"$TTD" init "$L2" --origin tcmtrace.test/other --market 荷花池 --authority-key "$KEYS/mkt2.key" \
    --authority-id MKT --authority-name 荷花池市场 --unsealed-log-key --base-url "$BASE" >/dev/null || exit 1
start_daemon "$L2" "$WORK/daemon2.log" || exit 1
"$TT" --dir "$L2" --key "$KEYS/mkt2.key" actor enroll --id G-1 --pubkey "$KEYS/grower.key.pub" \
    --name 某 --org 某 --licence L --role grower >/dev/null
"$TT" --dir "$L2" --key "$KEYS/grower.key" register --herb 当归 --latin "Angelica sinensis" --part 根 \
    --qty 1kg --province 四川省 --city 成都市 --county 金牛区 --base b --harvest 2026-10-01 --grade g \
    --processing p >"$WORK/reg2" || exit 1
OTHER=$("$TT" --dir "$L2" --json label "$(codes_of "$WORK/reg2" | head -1)" --out "$WORK/o.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p')
stop_daemon
# this market's ledger
"$TTD" init "$L" --origin tcmtrace.test/cq --market 重庆解放路中药材专业市场 --authority-key "$KEYS/mkt.key" \
    --authority-id MKT-01 --authority-name 市场管理处 --unsealed-log-key --base-url "$BASE" >/dev/null || exit 1
start_daemon "$L" "$WORK/daemon.log" || exit 1
enroll() { as mkt actor enroll --id "$1" --pubkey "$KEYS/$2.key.pub" --name "$3" --org "$4" --licence L \
    --role "$5" ${6:+--stall "$6"} >/dev/null || { echo "setup: enroll $1"; exit 1; }; }
enroll G-0001 grower 马建国 岷县梅川当归专业合作社 grower
enroll T-0017 trader 陈秀兰 陈氏药材行 trader "解放路 A 区 17 号"
enroll I-0002 inspector 李静 重庆市药品检验所 inspector
enroll R-0001 regulator 赵国栋 渝中区市场监督管理局 regulator
as grower register --herb 当归 --latin "Angelica sinensis (Oliv.) Diels" --part 根 --qty 100kg \
    --province 甘肃省 --city 定西市 --county 岷县 --base 梅川镇当归种植基地 --daodi --harvest 2026-10-12 \
    --grade 一等 --processing 晒干 >"$WORK/reg" || { cat "$WORK/reg"; exit 1; }
A=$(codes_of "$WORK/reg" | head -1)
as grower transfer "$A" --to T-0017 >/dev/null && as trader receive "$A" >/dev/null
as trader split "$A" --into 30kg,30kg,20kg >"$WORK/split" || exit 1
G=$(codes_of "$WORK/split" | sed -n 2p) R=$(codes_of "$WORK/split" | sed -n 3p) H=$(codes_of "$WORK/split" | sed -n 4p)
as trader split "$R" --into 5kg >"$WORK/split2" || exit 1
RC=$(codes_of "$WORK/split2" | sed -n 2p) # recalled with its parent
echo "r" >"$WORK/report"
as inspector inspect "$G" --lab 重庆市药品检验所 --result SO2=20mg/kg --result 水分=11% --report "$WORK/report" >/dev/null
as trader sell "$G" --qty 2kg >/dev/null
as regulator recall "$R" --reason "二氧化硫残留超标" >/dev/null
as inspector hold "$H" --reason "待复检" >/dev/null
# H fails its test: its sibling G's page says so, as a notice, not a hold
as inspector inspect "$H" --lab 重庆市药品检验所 --result SO2=400mg/kg --report "$WORK/report" >"$WORK/fail" 2>&1
FAILSEQ=$(sed -n 's/.*#\([0-9][0-9]*\).*/\1/p' "$WORK/fail" | head -1)
# the rest of A, split after G was made: not G's history. One part sold out, one destroyed
as trader split "$A" --into 5kg,5kg >"$WORK/split3" || exit 1
LATER=$("$TT" --json show "$A" | python3 -c "import json,sys; b=json.load(sys.stdin); print(max(e['seq'] for e in b['events']))")
E1=$(codes_of "$WORK/split3" | sed -n 2p) E2=$(codes_of "$WORK/split3" | sed -n 3p)
as trader sell "$E1" --qty 5kg >/dev/null || exit 1
as trader destroy "$E2" --reason 受潮霉变 >/dev/null || exit 1
url() { "$TT" --json label "$1" --out "$WORK/$1.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p'; }
as grower register --herb 当归 --latin "Angelica sinensis (Oliv.) Diels" --part 根 --qty 5kg \
    --province 甘肃省 --city 定西市 --county 岷县 --base 梅川镇当归种植基地 --harvest 2026-10-12 \
    --grade 一等 --processing 晒干 --gtin 6901234567892 >"$WORK/reg3" || { cat "$WORK/reg3"; exit 1; }
D=$(codes_of "$WORK/reg3" | head -1)
DL=$("$TT" --json label "$D" --digital-link --out "$WORK/dl.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p')
# the market office reviewed D's scan signals: the page shows its reason, from the proved entry
as mkt review "$D" --reason "两处扫码为同一药房的两家门店，已到店核实" >/dev/null || { echo "setup: review"; exit 1; }
printf '{"genuine":"%s","recalled":"%s","held":"%s","other":"%s","dl":"%s","other_gtin":"06901234567908","min_entries":6,"recalled_child":"%s","log_key":"%s","vkey":"%s","base":"%s","genuine_code":"%s","depleted":"%s","destroyed":"%s","parent_later_seq":%s,"sibling_fail_seq":%s,"market":"重庆解放路中药材专业市场"}\n' \
    "$(url "$G")" "$(url "$R")" "$(url "$H")" "$OTHER" "$DL" "$(url "$RC")" "$L/log.key" "$(cat "$L/log.vkey")" \
    "$BASE" "$G" "$(url "$E1")" "$(url "$E2")" "$LATER" "${FAILSEQ:-0}" >"$WORK/cases.json"
"$BIN/tcmtrace-web" "$L" --listen "127.0.0.1:$PORT" >"$WORK/web.log" 2>&1 &
WEB_PID=$!
for i in $(seq 100); do curl -s -o /dev/null "$BASE/api/v1/status" && break; sleep 0.05; done
if timeout -k 5 600 node "$HERE/browser/phone.mjs" "$WORK/cases.json" "$SCREENS" >"$WORK/phone.out" 2>&1; then
    ok=1
else
    ok=0
fi
cat "$WORK/phone.out"
# the stall page: two traders' whole day, keys made in the browser
printf '{"base":"%s","tt":"%s","dir":"%s","office_key":"%s","log_key":"%s","work":"%s"}\n' \
    "$BASE" "$TT" "$L" "$KEYS/mkt.key" "$L/log.vkey" "$WORK" >"$WORK/stall.json"
if timeout -k 5 600 node "$HERE/browser/stall.mjs" "$WORK/stall.json" "$SCREENS" >"$WORK/stall.out" 2>&1; then :; else ok=0; fi
cat "$WORK/stall.out"
# the page's own judge of inspections, held to the vectors the C judge passes (test_rules)
if node "$HERE/browser/limits.mjs"; then :; else ok=0; fi
# the SVG labels, in another renderer: nothing runs off a label, and the symbols decode
svgok=1
for size in "60 30" "40 20"; do
    set -- $size
    "$TT" label "$A" --all-children --width-mm "$1" --height-mm "$2" --out "$WORK/sheet-$1.svg" >/dev/null || svgok=0
    node "$HERE/browser/svg.mjs" "$WORK/sheet-$1.svg" "$SCREENS/labels-$1x$2.png" || svgok=0
    if env -u TCMTRACE_DIR "$TT" --log-key "$L/log.vkey" scan "$SCREENS/labels-$1x$2.png" >"$WORK/scan.out" 2>&1 &&
        grep -q "5 张标签已扫描" "$WORK/scan.out"; then
        echo "pass the $1 × $2 mm SVG sheet, rendered by Chromium, scans: all 5 labels genuine"
    else
        svgok=0; echo "FAIL the $1 × $2 mm SVG sheet does not scan"; cat "$WORK/scan.out"
    fi
done
[ $svgok -eq 1 ] || ok=0
echo "screenshots: $SCREENS"
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null; WEB_PID=
[ $ok -eq 1 ] && echo "browser: 1 passed, 0 failed" || echo "browser: 0 passed, 1 failed"
[ $ok -eq 1 ]
