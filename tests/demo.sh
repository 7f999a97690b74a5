#!/bin/sh
# A market day at the Jiefang Road medicinal-materials market (重庆解放路中药材
# 专业市场), end to end on a real daemon and a fresh ledger: what each person
# runs and what they see. `make demo` runs it; DEMO_KEEP=1 keeps the ledger.
set -eu
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
. "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-demo-XXXXXX")
KEYS="$WORK/keys"
LEDGER="$WORK/ledger"
mkdir -p "$KEYS"
WEB_PID=
cleanup() {
    stop_daemon
    [ -n "$WEB_PID" ] && kill "$WEB_PID" 2>/dev/null
    if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "ledger kept in $LEDGER"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

# Every key is sealed with a passphrase; the demo gives it in the environment.
export TCMTRACE_PASSPHRASE="解放路-demo-口令"
export TCMTRACE_DIR="$LEDGER"
export TCMTRACE_STATE_DIR="$WORK/state" # the checkpoints this day's CLI has seen

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { # [WANT=N] run WHO-LABEL CMD...: shows the command a person types, then its output;
    # the demo stops unless it exits N (default 0)
    label=$1
    shift
    printf '\n[%s] $ tcmtrace %s\n' "$label" "$(echo "$*" | sed "s|$KEYS/||")"
    rc=0
    "$TT" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    cat "$WORK/out"
    cat "$WORK/err" >&2
    if [ "$rc" != "${WANT:-0}" ]; then
        echo "demo: this step exited $rc, not ${WANT:-0}: the market day stops here" >&2
        exit 1
    fi
}

say "市场管理处 sets up the ledger / the market authority creates the ledger"
for who in mkt grower trader1 trader2 processor inspector regulator pharmacy; do
    "$TT" key new "$KEYS/$who.key" >/dev/null
done
PORT=${DEMO_PORT:-$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
"$TTD" init "$LEDGER" --origin tcmtrace.example/cq-jiefanglu \
    --market "重庆解放路中药材专业市场" --authority-key "$KEYS/mkt.key" \
    --authority-id MKT-01 --authority-name "解放路中药材市场管理处" --unsealed-log-key \
    --base-url "http://127.0.0.1:$PORT/cq"
start_daemon "$LEDGER" "$WORK/daemon.log"
echo "tcmtraced running on $LEDGER (log: $WORK/daemon.log)"
"$BIN/tcmtrace-web" "$LEDGER" --listen "127.0.0.1:$PORT" >"$WORK/web.log" 2>&1 &
WEB_PID=$!
echo "tcmtrace-web serving http://127.0.0.1:$PORT/cq/ (labels point here; log: $WORK/web.log)"

say "Enrolling everyone who will touch the goods"
enroll() { # id key name org licence roles [stall]
    set -- "$@" ""
    as mkt actor enroll --id "$1" --pubkey "$KEYS/$2.key.pub" --name "$3" --org "$4" \
        --licence "$5" --role "$6" ${7:+--stall "$7"} | head -1
}
enroll G-0001 grower "马建国" "岷县梅川当归专业合作社" "GAP-甘-2026-0142" grower
enroll T-0017 trader1 "陈秀兰" "陈氏药材行" "渝药经 2026-0317" trader "解放路 A 区 17 号"
enroll T-0023 trader2 "刘德明" "德明参茸药材" "渝药经 2026-0402" trader "解放路 C 区 3 号"
enroll P-0005 processor "王志强" "重庆渝中中药饮片厂" "渝药生 2026-0011" processor
enroll I-0002 inspector "李静" "重庆市药品检验所" "检-2026-88" inspector
enroll R-0001 regulator "赵国栋" "渝中区市场监督管理局" "监-2026-01" regulator
enroll PH-0009 pharmacy "周敏" "解放碑大药房" "渝药零 2026-1203" pharmacy

say "In 甘肃岷县, the grower registers this autumn's 当归"
run "grower 马建国" --key "$KEYS/grower.key" register --herb 当归 \
    --latin "Angelica sinensis (Oliv.) Diels" --part 根 --category plant --qty 500kg \
    --province 甘肃省 --city 定西市 --county 岷县 --base 梅川镇当归种植基地 \
    --lat 34.4337 --lon 104.0362 --daodi --harvest 2026-10-12 --grade 一等 --processing 晒干
LOT=$(codes_of "$WORK/out" | head -1)
run "grower 马建国" --key "$KEYS/grower.key" transfer "$LOT" --to T-0017 --note "岷县发车"

say "At stall A-17 on Jiefang Road, the trader receives the lot and splits it"
run "trader 陈秀兰" --key "$KEYS/trader1.key" receive "$LOT"
run "trader 陈秀兰" --key "$KEYS/trader1.key" split "$LOT" --into 200kg,200kg,100kg
set -- $(codes_of "$WORK/out")
A1=$2 A2=$3 A3=$4

say "The trader prints a sheet of QR labels for the split lot"
run "trader 陈秀兰" --key "$KEYS/trader1.key" label "$LOT" --all-children --out "$WORK/labels.png"
run "trader 陈秀兰" label "$A3" --format term

say "One part goes to the processor, who makes 当归片 (饮片)"
run "trader 陈秀兰" --key "$KEYS/trader1.key" transfer "$A1" --to P-0005
run "processor 王志强" --key "$KEYS/processor.key" receive "$A1"
run "processor 王志强" --key "$KEYS/processor.key" process --in "$A1=200kg" --out-qty 180kg \
    --form 饮片 --name 当归片 --method "净制、润透、切薄片、晒干" --gtin 6901234567892
PIECES=$(codes_of "$WORK/out" | head -1)
run "processor 王志强" --key "$KEYS/processor.key" transfer "$PIECES" --to PH-0009 --qty 50kg
PH_LOT=$(codes_of "$WORK/out" | head -1)
run "pharmacy 周敏" --key "$KEYS/pharmacy.key" receive "$PH_LOT"

say "Another part goes to a second trader; the inspector scans it and tests it"
run "trader 陈秀兰" --key "$KEYS/trader1.key" transfer "$A3" --to T-0023
run "trader 刘德明" --key "$KEYS/trader2.key" receive "$A3"
"$TT" label "$A3" --out "$WORK/a3.png" >/dev/null
run "inspector 李静" --key "$KEYS/inspector.key" scan "$WORK/a3.png"
echo "检验报告 2026-1122-017: 二氧化硫残留 520 mg/kg" >"$WORK/report.txt"
run "inspector 李静" --key "$KEYS/inspector.key" inspect "$A3" --lab 重庆市药品检验所 \
    --result so2=520mg/kg --result moisture=12.5% --report "$WORK/report.txt"
printf '\n[trader 刘德明] tries to sell the held lot anyway:\n'
if as trader2 sell "$A3" --qty 1kg; then echo "(unexpectedly accepted)"; exit 1; fi

say "The regulator recalls the failed lot and everything made from it"
run "regulator 赵国栋" --key "$KEYS/regulator.key" recall "$A3" --reason "二氧化硫残留超标 (520 mg/kg > 150)"

say "At the pharmacy, a patient's prescription is filled from the good lot"
"$TT" label "$PH_LOT" --out "$WORK/ph.png" >/dev/null
run "pharmacy 周敏" --key "$KEYS/pharmacy.key" scan "$WORK/ph.png"
run "pharmacy 周敏" --key "$KEYS/pharmacy.key" verify "$PH_LOT"
run "pharmacy 周敏" --key "$KEYS/pharmacy.key" sell "$PH_LOT" --qty 250g --buyer "门诊处方 031"

say "The trace a pharmacist or a regulator sees for the pharmacy's lot"
run "anyone" trace "$PH_LOT"

say "The recalled lot, as the regulator sees it — and as anyone scanning its label does"
WANT=5 run "regulator 赵国栋" show "$A3" # exit 5: proved, and not for sale
printf '\n[pharmacy 周敏] scans the recalled lot'"'"'s label when it is offered to her:\n'
if "$TT" --key "$KEYS/pharmacy.key" scan "$WORK/a3.png"; then echo "(unexpectedly in order)"; exit 1; fi

say "The pharmacist opens her lot's GS1 Digital Link label on her phone (headless Chromium, 360 x 780)"
PH_URL=$("$TT" --json label "$PH_LOT" --digital-link --out "$WORK/ph2.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p')
SHOT=${DEMO_SCREENS:-$(pwd)/build/screens}/demo-pharmacy.png
mkdir -p "$(dirname "$SHOT")"
printf '\n[pharmacy 周敏] opens %s\n' "$PH_URL"
if command -v node >/dev/null && [ -x /usr/bin/chromium ]; then
    printf '  the page says: %s\n  screenshot: %s\n' "$(node "$(dirname "$0")/browser/open.mjs" "$PH_URL" "$SHOT")" "$SHOT"
else
    echo "  (no node or chromium on this machine: make deps installs chromium)"
fi

say "A trader opens her stall page on her phone: her key is made and kept in the browser"
printf '\n[trader 王福] opens http://127.0.0.1:%s/cq/stall/\n' "$PORT"
if command -v node >/dev/null && [ -x /usr/bin/chromium ]; then
    node "$(dirname "$0")/browser/stall-day.mjs" "http://127.0.0.1:$PORT/cq" "$TT" "$LEDGER" "$KEYS/mkt.key" \
        "$(dirname "$SHOT")" || { echo "the stall page's day did not go through"; exit 1; }
else
    echo "  (no node or chromium on this machine: make deps installs chromium)"
fi

say "The market office hands the day to a pharmaceutical distributor as GS1 EPCIS 2.0"
printf '\n[market office] $ tcmtrace export --format epcis > market-day.epcis.json\n'
"$TT" export --format epcis >"$WORK/market-day.epcis.json"
if command -v node >/dev/null && [ -f "$(dirname "$0")/../web/node_modules/ajv/package.json" ]; then
    printf '[distributor] checks it against GS1'"'"'s schema and proves every event:\n'
    if ! node "$(dirname "$0")/epcis_check.mjs" --doc "$WORK/market-day.epcis.json" \
        --vkey "$LEDGER/log.vkey" --web "http://127.0.0.1:$PORT/cq" \
        --base "http://127.0.0.1:$PORT/cq" >"$WORK/epcis.out" 2>&1; then
        cat "$WORK/epcis.out"; echo "the EPCIS export does not check"; exit 1
    fi
    grep -v '^pass the validator\|^pass and refuses' "$WORK/epcis.out" | sed 's/^/  /'
else
    echo "  (no node modules: make installs them)"
fi

say "The signed checkpoint, verified with the log key everyone was given"
run "anyone" --log-key "$LEDGER/log.vkey" checkpoint
stop_daemon
kill "$WEB_PID" 2>/dev/null; wait "$WEB_PID" 2>/dev/null; WEB_PID=
say "An offline audit of the whole ledger (no daemon needed)"
run "auditor" audit "$LEDGER"
printf '\nThe market day is done: %s entries, every one signed, chained and proved.\n' \
    "$(grep -o '[0-9]* 条记录' "$WORK/out" | grep -o '[0-9]*')"
