#!/bin/sh
# A market day with adversaries, through the real daemon and the CLI: a
# careless inspector, a dishonest processor, a trader who is also enrolled
# as an inspector, and a counterfeiter try each way of making the ledger
# state something false. Every try must be refused with its stable code and
# leave data.mdb byte for byte unchanged, or end in the corrected state; each
# check is one line "pass NAME" / "FAIL NAME". Prints
# "scenario: N passed, N failed".
set -u
BIN=${BIN:-build}
BIN=$(cd "$BIN" && pwd)
. "$(dirname "$0")/lib.sh"
SIGN="$BIN/tcmtrace-sign"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-scenario-XXXXXX")
KEYS="$WORK/keys" L="$WORK/ledger"
mkdir -p "$KEYS"
trap 'stop_daemon; rm -rf "$WORK"' EXIT INT TERM
export TCMTRACE_DIR="$L"
passed=0 failed=0

pass() { passed=$((passed + 1)); echo "pass $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && grep -v '^pass ' "$2" | head -12 | sed 's/^/    /'; }
sum() { sha256sum "$L/data.mdb" | cut -d' ' -f1; }

# refused_with EXIT NAME CODE CMD...: exits EXIT with CODE in its message, ledger unchanged
refused_with() {
    want=$1 name=$2 code=$3
    shift 3
    before=$(sum)
    "$@" >"$WORK/out" 2>&1
    rc=$?
    after=$(sum)
    if [ $rc -eq "$want" ] && grep -q "$code" "$WORK/out" && [ "$before" = "$after" ]; then
        pass "$name"
    else
        echo "    (exit $rc, ledger $([ "$before" = "$after" ] && echo unchanged || echo CHANGED))"
        fail "$name" "$WORK/out"
    fi
}
# refused NAME CODE CMD...: the daemon says no (exit 1)
refused() { refused_with 1 "$@"; }
# usage_refused NAME CODE CMD...: caught before anything is sent (exit 2)
usage_refused() { refused_with 2 "$@"; }
# ok NAME CMD...: exits 0
ok() {
    name=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then pass "$name"; else fail "$name" "$WORK/out"; fi
}
# says NAME TEXT: the last command's output holds TEXT
says() { if grep -q -- "$2" "$WORK/out"; then pass "$1"; else fail "$1" "$WORK/out"; fi; }
lacks() { if grep -q -- "$2" "$WORK/out"; then fail "$1" "$WORK/out"; else pass "$1"; fi; }
field() { # field JSON-PATH (python syntax) of batch CODE: field CODE "['status']"
    "$TT" --json show "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['batch']$2)"
}
is() { # is NAME WANT GOT
    if [ "$2" = "$3" ]; then pass "$1"; else echo "    wanted '$2', got '$3'"; fail "$1"; fi
}

for who in mkt grower trader1 trader2 processor inspector dual dual2 regulator pharmacy fake fake2; do
    "$TT" key new "$KEYS/$who.key" --unsealed >/dev/null
done
"$TTD" init "$L" --origin tcmtrace.test/scenario --market 重庆解放路中药材专业市场 \
    --authority-key "$KEYS/mkt.key" --authority-id MKT-01 --authority-name 市场管理处 \
    --unsealed-log-key >/dev/null || exit 1
start_daemon "$L" "$WORK/daemon.log" || exit 1
enroll() { # id key name org roles
    as mkt actor enroll --id "$1" --pubkey "$KEYS/$2.key.pub" --name "$3" --org "$4" \
        --licence "渝 2026-$1" --role "$5" >/dev/null || { echo "setup: enroll $1"; exit 1; }
}
enroll G-0001 grower 马建国 岷县梅川当归专业合作社 grower
enroll T-0017 trader1 陈秀兰 "陈氏药材行 (A-17)" trader
enroll T-0023 trader2 刘德明 "德明参茸 (C-3)" trader
enroll P-0005 processor 王志强 重庆渝中饮片厂 processor
enroll I-0002 inspector 李静 重庆市药品检验所 inspector
enroll D-0001 dual 孙某 孙记药材 inspector,trader
enroll R-0001 regulator 赵国栋 渝中区市场监督管理局 regulator
enroll PH-0009 pharmacy 周敏 同仁堂解放碑店 pharmacy
enroll F-0666 fake 假冒者 某某贸易 trader
enroll F-0667 fake2 同伙 某某商行 trader

reg() { # reg KEY HERB LATIN PART COUNTY [--daodi] [QTY] ...: prints the new code
    k=$1 h=$2 la=$3 p=$4 co=$5
    shift 5
    as "$k" register --herb "$h" --latin "$la" --part "$p" --qty "${QTY:-100kg}" --province 甘肃省 \
        --city 定西市 --county "$co" --base 基地 --harvest 2026-10-12 --grade 一等 \
        --processing 晒干 "$@" >"$WORK/reg" 2>&1 && codes_of "$WORK/reg" | head -1
}

# ---- the morning: an honest grower and trader --------------------------------------
A=$(reg grower 当归 "Angelica sinensis (Oliv.) Diels" 根 岷县 --daodi)
[ -n "$A" ] || { cat "$WORK/reg"; exit 1; }
as grower transfer "$A" --to T-0017 >/dev/null && as trader1 receive "$A" >/dev/null
as trader1 split "$A" --into 40kg,30kg >"$WORK/split" || exit 1
A1=$(codes_of "$WORK/split" | sed -n 2p) A2=$(codes_of "$WORK/split" | sed -n 3p)
[ -n "$A1" ] && [ -n "$A2" ] || { cat "$WORK/split"; exit 1; }

# ---- the careless inspector -----------------------------------------------------------
refused "an unknown test name is refused" unknown_test \
    as inspector inspect "$A" --lab 市药检所 --result aflatoxin_x=12ug/kg --report-sha256 "$(printf %064d 0)"
says "the refusal names the valid tests" "so2 (二氧化硫残留)"
ok "铅 is the limits table's pb" as inspector inspect "$A" --lab 市药检所 --result 铅=1.2mg/kg \
    --result SO2=20mg/kg --report-sha256 "$(printf %064d 1)"
says "SO2 in capitals gets its limit" "限量 ≤ 150 mg/kg"
says "铅 is judged against the lead limit" "pb 铅"
ok "a test with no limit for 当归" as inspector inspect "$A" --lab 市药检所 --result AFB1=12ug/kg \
    --report-sha256 "$(printf %064d 2)"
says "is recorded with its value and no_limit" "12 ug/kg"
says "and says so" "无适用限量"
ok "show prints every measured value" "$TT" show "$A"
says "show: the SO2 value with its limit" "限量 ≤ 150 mg/kg"
ok "the inspector fails the lot on SO2" as inspector inspect "$A" --lab 市药检所 \
    --result 二氧化硫=390mg/kg --report-sha256 "$(printf %064d 3)"
is "the lot is held" held "$(field "$A" "['status']")"
is "a part split off before the test is held too" held "$(field "$A1" "['status']")"
says "a fail says who may release it" "只有监管人员可以解除"
ok "a second failed test of the held lot is recorded" as inspector inspect "$A" --lab 市药检所 \
    --result 二氧化硫=410mg/kg --report-sha256 "$(printf %064d 6)"
says "and says the lot was held already" "该批次此前已扣留"
lacks "and does not say it is held anew" "批次及其全部下游批次已扣留"
refused "the part cannot be sold" frozen as trader1 transfer "$A1" --to T-0023
refused "the inspector who failed it cannot release it" forbidden \
    as inspector release "$A1" --reason 复检合格
says "only a regulator may" "only a regulator"
says "and says it in Chinese first" "检验不合格的批次只有监管人员可以解除扣留"
ok "a regulator releases the part, with a reason" as regulator release "$A1" --reason 复检合格，监管放行
is "the part is active again" active "$(field "$A1" "['status']")"

# ---- an actor that is inspector and trader passes its own lot --------------------------
D=$(reg dual 当归 "Angelica sinensis" 根 岷县)
refused "an inspector may not pass its own lot" forbidden \
    as dual inspect "$D" --lab 孙记 --result so2=1mg/kg --report-sha256 "$(printf %064d 4)"
ok "a regulator holds it" as regulator hold "$D" --reason 抽检
refused "nor may it release a lot it holds" forbidden as dual release "$D" --reason x
enroll I-0003 dual2 陈小明 "陈氏药材行 (A-17)" inspector
refused "an inspector of the holder's organisation may not inspect" forbidden \
    as dual2 inspect "$A2" --lab x --result so2=1mg/kg --report-sha256 "$(printf %064d 5)"

# ---- a recall asks for destruction -----------------------------------------------------
ok "the regulator recalls the failed lot" as regulator recall "$A" --reason 二氧化硫超标
ok "its holder destroys the recalled remainder" as trader1 destroy "$A" --reason 召回销毁 --method 焚烧
is "the recalled lot is destroyed" destroyed "$(field "$A" "['status']")"

# ---- the dishonest processor ----------------------------------------------------------
QTY=1g M1=$(reg processor 当归 "Angelica sinensis" 根 岷县 --daodi)
QTY=999999g M2=$(reg processor 独活 "Angelicae Pubescentis Radix" 根 巴东县)
QTY=999999g M3=$(reg processor 当归 "Angelica sinensis" 根 渭源县)
refused "1 g of 当归 with 999,999 g of 独活 is not 当归" relabel \
    as processor process --in "$M1=1g" --in "$M2=999999g" --out-qty 1000kg --method 切片 --name 当归
refused "独活 cannot be renamed 党参 to pass a softer limit" relabel \
    as processor process --in "$M2=100kg" --out-qty 90kg --method 切片 --name 党参
ok "1 g of 道地 岷县 当归 with 999,999 g from 渭源县" \
    as processor process --in "$M1=1g" --in "$M3=999999g" --out-qty 900kg --method 切片 --name 当归片
OUTP=$(codes_of "$WORK/out" | head -1)
is "the output is not 道地" False "$(field "$OUTP" "['origin']['daodi']")"
is "and not 岷县" True "$(field "$OUTP" "['origin'].get('mixed', False)")"
COMP=$("$TT" --json show "$OUTP" | python3 -c "import json,sys; print(' '.join(c['county']+':'+str(c['g']) for c in json.load(sys.stdin)['batch']['composition']))")
is "its composition carries both origins with masses" "岷县:1 渭源县:999999" "$COMP"
ok "show prints the composition" "$TT" show "$OUTP"
says "show: 多个产地" "多个产地"
D1=$(QTY=5kg reg processor 党参 "Codonopsis Radix" 根 渭源县 --daodi)
ok "a declared compound" as processor process --in "$D1=4kg" --in "$M2=1kg" --out-qty 4500g \
    --method 配伍切片 --compound 参活饮片 --compound-latin "Codonopsis et Angelica"
OUTC=$(codes_of "$WORK/out" | head -1)
as processor transfer "$OUTC" --to T-0023 >/dev/null && as trader2 receive "$OUTC" >/dev/null
ok "SO2 390 mg/kg in the compound" as inspector inspect "$OUTC" --lab 市药检所 \
    --result so2=390mg/kg --report-sha256 "$(printf %064d 6)"
says "is judged against 独活's 150, not 党参's 400" "限量 ≤ 150 mg/kg"
says "and fails" "不合格"

# ---- the herb dictionary ------------------------------------------------------------------
refused "当归 with 独活's Latin name is refused" unknown_herb \
    as trader1 register --herb 独活 --latin "Angelica sinensis" --part 根 --qty 1kg --province p \
    --city c --county x --base b --harvest 2026-10-01 --grade g --processing p
says "naming the dictionary's entry" "Angelicae Pubescentis Radix"
usage_refused "a herb the dictionary lacks needs --unlisted, caught before sending" unknown_herb \
    as trader1 register --herb 川银花 --latin "Lonicera confusa" --part 花蕾 --qty 1kg --province 重庆市 \
    --city 重庆市 --county 秀山县 --base b --harvest 2026-06-01 --grade g --processing p
ok "with --unlisted it is accepted" as trader1 register --herb 川银花 --latin "Lonicera confusa" \
    --part 花蕾 --qty 1kg --province 重庆市 --city 重庆市 --county 秀山县 --base b --harvest 2026-06-01 \
    --grade g --processing p --unlisted
U=$(codes_of "$WORK/out" | head -1)
ok "show the unlisted lot" "$TT" show "$U"
says "and it is shown as unlisted" "unlisted"
printf '{"edition":"勘误 1","herbs":[{"name_zh":"川银花","latin":"Lonicerae Flos","species":["Lonicera confusa DC."],"part":"干燥花蕾","category":"plant"}]}' >"$WORK/herbs.json"
refused "a trader cannot publish a herb dictionary" forbidden as trader1 herbs publish "$WORK/herbs.json"
ok "the authority publishes a dictionary edition" as mkt herbs publish "$WORK/herbs.json"
ok "the new row is in force" as trader1 register --herb 川银花 --latin "Lonicera confusa" \
    --part 花蕾 --qty 1kg --province 重庆市 --city 重庆市 --county 秀山县 --base b --harvest 2026-06-01 \
    --grade g --processing p
python3 -c "import json; d=json.load(open('$(cd "$(dirname "$0")/.." && pwd)/schemas/limits/chp2020.json')); d['edition']='ChP 2020, 勘误 1'; print(json.dumps(d, ensure_ascii=False))" >"$WORK/limits.json"
refused "a trader cannot publish a limits table" forbidden as trader1 limits publish "$WORK/limits.json"
ok "the authority publishes a new limits table" as mkt limits publish "$WORK/limits.json"

# ---- plausible values -------------------------------------------------------------------
usage_refused "a harvest date in 2999 is caught before sending" bad_time as trader1 register --herb 当归 --latin "Angelica sinensis" \
    --part 根 --qty 1kg --province p --city c --county x --base b --harvest 2999-01-01 --grade g --processing p
AT_BODY() { printf '{"v":1,"type":"batch.sell","at":"%s","nonce":"q83vEjRWeJASNFZ4kBI0Vg","id":"%s","qty_g":1}' "$1" "$A2"; }
api_refused() { # NAME CODE REQUEST
    before=$(sum)
    printf '%s' "$3" | "$TT" api - >"$WORK/out" 2>&1
    after=$(sum)
    if grep -q "\"code\":\"$2\"" "$WORK/out" && [ "$before" = "$after" ]; then pass "$1"; else fail "$1" "$WORK/out"; fi
}
api_refused "\"at\" of 9999-12-31" bad_time "$("$SIGN" --raw "$KEYS/trader1.key" "$(AT_BODY 9999-12-31T00:00:00+08:00)")"
api_refused "\"at\" of 1900-01-01" bad_time "$("$SIGN" --raw "$KEYS/trader1.key" "$(AT_BODY 1900-01-01T00:00:00+08:00)")"
api_refused "\"at\" 40 days behind the clock" bad_time \
    "$("$SIGN" --raw "$KEYS/trader1.key" "$(AT_BODY "$(date -u -d '40 days ago' +%Y-%m-%dT%H:%M:%SZ)")")"

# ---- custody -----------------------------------------------------------------------------
B=$(reg grower 当归 "Angelica sinensis (Oliv.) Diels" 根 岷县 --daodi)
as grower transfer "$B" --to T-0017 >/dev/null && as trader1 receive "$B" >/dev/null
as trader1 split "$B" --into 20kg,20kg >"$WORK/split" || exit 1
B1=$(codes_of "$WORK/split" | sed -n 2p) B2=$(codes_of "$WORK/split" | sed -n 3p)
ok "send a lot to trader 刘德明" as trader1 transfer "$B1" --to T-0023
W=$(reg grower 当归 "Angelica sinensis (Oliv.) Diels" 根 岷县 --daodi)
as grower transfer "$W" --to T-0023 >/dev/null && as trader2 receive "$W" >/dev/null
ok "the market office revokes the recipient" as mkt actor revoke T-0023 --reason 营业执照过期
refused "a stranger cannot cancel the transfer" not_holder as fake cancel "$B1"
ok "the sender takes back the transfer" as trader1 cancel "$B1"
is "custody is back with the sender" "T-0017 active" "$(field "$B1" "['holder']") $(field "$B1" "['status']")"
# the revoked trader's own stock is not stranded: the market hands it to a successor
ok "the market hands the revoked trader's open lots to a successor" as mkt actor succeed T-0023 --to T-0017 --reason "营业执照过期，库存由陈秀兰接手"
is "its lot is the successor's now" "T-0017 active" "$(field "$W" "['holder']") $(field "$W" "['status']")"
refused "the last authority cannot be revoked" forbidden as mkt actor revoke MKT-01 --reason x

# ---- personal data stays out of the public log ---------------------------------------------
as trader1 transfer "$B1" --to PH-0009 >/dev/null && as pharmacy receive "$B1" >/dev/null
ok "a sale to a prescription" as pharmacy --json sell "$B1" --qty 250g --buyer "门诊处方 2026-1201-031"
SEQ=$(python3 -c "import json,sys; print(json.load(open('$WORK/out'))['seq'])")
SALT=$(python3 -c "import json,sys; print(json.load(open('$WORK/out'))['buyer_opening']['salt'])")
ok "the sale's entry" "$TT" api "{\"op\":\"entry\",\"seq\":$SEQ}"
lacks "does not hold the prescription" "门诊处方"
says "but a commitment to it" "buyer_commitment"
ok "the pharmacy opens the commitment on request" "$TT" buyer-check "$SEQ" --salt "$SALT" --buyer "门诊处方 2026-1201-031"
ok "a sale to a prescription, for people" as pharmacy sell "$B1" --qty 1两 --buyer "门诊处方 2026-1201-033"
SEQ2=$(sed -n 's/^  账本序号  #\([0-9]*\)$/\1/p' "$WORK/out")
SALT2=$(sed -n 's/^  salt   \([0-9a-f]*\)$/\1/p' "$WORK/out")
says "sell prints the buyer-check line with its real entry number" "tcmtrace buyer-check $SEQ2 --salt $SALT2 --buyer '门诊处方 2026-1201-033'"
says "and the quantity as typed and in grams" "已销售 / sold: 1 两（50 g）"
ok "the printed buyer-check line opens the commitment" "$TT" buyer-check "$SEQ2" --salt "$SALT2" --buyer "门诊处方 2026-1201-033"
if "$TT" buyer-check "$SEQ" --salt "$SALT" --buyer "门诊处方 2026-1201-032" >"$WORK/out" 2>&1; then
    fail "another buyer does not open it" "$WORK/out"
else pass "another buyer does not open it"; fi

# ---- the counterfeiter --------------------------------------------------------------------
"$TT" label "$B2" --out "$WORK/b2.png" >/dev/null
URL=$("$TT" --json label "$B2" --out "$WORK/b2b.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p')
api_refused "a scan with an invented \"by\" is refused" malformed "{\"op\":\"scan\",\"id\":\"$A1\",\"by\":\"T-9999\"}"
scans_ok=0
for i in 1 2 3 4; do "$TT" --json scan "$URL" >"$WORK/out" 2>&1 && scans_ok=$((scans_ok + 1)); done
is "the four anonymous scans each exit 0" 4 "$scans_ok"
lacks "anonymous scans never flag the lot" "more_holders_than_sent"
ok "the honest holder's next scan" as trader1 scan "$WORK/b2.png"
lacks "does not warn of a cloned label" "疑似克隆"
says "and shows the public scan count" "5 次"
ok "an inspector on the market floor scans it" as inspector --json scan "$URL"
lacks "an observer is no place the goods went" "more_holders_than_sent"
as fake --json scan "$URL" >"$WORK/out" 2>&1
says "a counterfeiter's stall scans its clone, signed" '"by": "F-0666"'
lacks "one extra place is a buyer looking, not yet a pattern" "more_holders_than_sent"
as fake2 --json scan "$URL" >"$WORK/out" 2>&1
says "a second stall it was never sent to raises the flag" "more_holders_than_sent"
as pharmacy scan "$WORK/b2.png" >"$WORK/out" 2>&1
says "and everyone who scans it next is warned" "疑似克隆标签"
# the market office looks into it: it clears the flag with its reason, which everyone then sees
refused "only the market office reviews a lot's scans" forbidden as fake review "$B2" --reason 没问题
ok "the market office reviews the flag, with its reason" as mkt review "$B2" --reason "假冒摊位的标签已没收，原标签无误"
as pharmacy scan "$WORK/b2.png" >"$WORK/out" 2>&1
lacks "after the review the genuine label is no longer called a clone" "疑似克隆标签"
says "and the scan gives the office's reason" "假冒标签已没收\|假冒摊位的标签已没收"

# ---- the framer: one dishonest trader scans an honest lot it never held, again and again ----
FR=$(reg grower 当归 "Angelica sinensis (Oliv.) Diels" 根 岷县 --daodi)
"$TT" label "$FR" --out "$WORK/a1.png" >/dev/null
AURL=$("$TT" --json label "$FR" --out "$WORK/a1b.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p')
framed=0
for i in 1 2 3 4 5; do as fake --json scan "$AURL" >"$WORK/out" 2>&1 && framed=$((framed + 1)); done
is "the framer's five signed scans are each taken" 5 "$framed"
lacks "one dishonest trader cannot brand an honest lot 疑似假冒" "more_holders_than_sent"
as grower scan "$WORK/a1.png" >"$WORK/out" 2>&1
lacks "its holder's next scan shows no warning" "疑似克隆"

# ---- GTIN, GS1 Digital Link and EPCIS -------------------------------------------------------
usage_refused "a GTIN with a wrong check digit is refused" malformed \
    as grower register --herb 当归 --latin "Angelica sinensis (Oliv.) Diels" --part 根 --qty 1kg \
    --province 甘肃省 --city 定西市 --county 岷县 --base 基地 --harvest 2026-10-12 --grade 一等 \
    --processing 晒干 --gtin 06901234567893
says "and the message gives the right check digit" "should end in 2"
api_refused "so is a signed body with one" malformed \
    "$("$SIGN" --raw "$KEYS/grower.key" "$(cat "$(dirname "$0")/fixtures/events/implausible/gtin-check-digit.json")")"
G=$(reg grower 当归 "Angelica sinensis (Oliv.) Diels" 根 岷县 --gtin 6901234567892)
is "a GTIN-13 is kept as its GTIN-14" "06901234567892" "$(field "$G" "['gtin']")"
as grower transfer "$G" --to T-0017 --qty 10kg >"$WORK/out" 2>&1
G1=$(codes_of "$WORK/out" | sed -n 2p)
is "a part sent off keeps the product's GTIN" "06901234567892" "$(field "$G1" "['gtin']")"
as grower transfer "$G" --to D-0001 >/dev/null
ok "a trader refuses a lot sent to it" as dual reject "$G" --reason "货不对板 not what was ordered"
ok "a Digital Link label" as grower --json label "$G" --digital-link --out "$WORK/dl.png"
says "encodes <base>/01/<GTIN-14>/10/<code>" "/scenario/01/06901234567892/10/$G?n="
ok "and its photo scans as genuine" "$TT" scan "$WORK/dl.png"
usage_refused "a lot without a GTIN has no Digital Link" no_gtin "$TT" label "$B1" --digital-link --out "$WORK/x.png"
BADDL=$("$TT" --json label "$B2" --out "$WORK/b2c.png" | sed -n 's/.*"url": "\([^"]*\)".*/\1/p' |
    sed "s|/b/|/01/06901234567892/10/|")
"$TT" scan "$BADDL" >"$WORK/out" 2>&1
is "a Digital Link naming another product's GTIN is caught" 4 $?
says "with the reason" gtin_mismatch

WPORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$BIN/tcmtrace-web" "$L" --listen "127.0.0.1:$WPORT" >"$WORK/web.log" 2>&1 &
WEB_PID=$!
trap 'kill $WEB_PID 2>/dev/null; stop_daemon; rm -rf "$WORK"' EXIT INT TERM
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$WPORT/scenario/api/v1/status" && break; sleep 0.05; done
BASE=https://tcmtrace.test/scenario WEB="http://127.0.0.1:$WPORT/scenario"
NODE_CHECK="node $(dirname "$0")/epcis_check.mjs --vkey $L/log.vkey --web $WEB --base $BASE"
ok "the whole ledger exports as EPCIS 2.0" "$TT" export --format epcis
mv "$WORK/out" "$WORK/epcis.json"
if $NODE_CHECK --doc "$WORK/epcis.json" --all-types >"$WORK/out" 2>&1; then
    [ -n "${EPCIS_KEEP:-}" ] && cp "$WORK/epcis.json" "$EPCIS_KEEP"
    pass "a receiver validates it against GS1's schema and ties every event to its proved entry ($(tail -1 "$WORK/out"))"
else fail "the EPCIS export does not check" "$WORK/out"; fi
N_ALL=$(python3 -c "import json; print(len(json.load(open('$WORK/epcis.json'))['epcisBody']['eventList']))")
"$TT" export --format epcis "$A" >"$WORK/a.json"
is "export CODE holds that lot's events" "ok" "$(python3 -c "
import json; d=json.load(open('$WORK/a.json'))['epcisBody']['eventList']
print('ok' if d and all(any(q['epcClass'].endswith('$A') for k in ('quantityList','inputQuantityList','outputQuantityList') for q in e.get(k,[])) for e in d) else 'no')")"
"$TT" export --format epcis --from 0 --to 5 >"$WORK/r.json"
is "--from/--to keep the entries in range" "ok" "$(python3 -c "
import json; d=json.load(open('$WORK/r.json'))['epcisBody']['eventList']
print('ok' if all(0 <= e['tcmtrace:seq'] <= 5 for e in d) else 'no')")"
# the REST query, paged, as another system reads it
curl -s "$WEB/api/v1/epcis/events?EQ_bizStep=shipping&perPage=500" >"$WORK/q.json"
if $NODE_CHECK --doc "$WORK/q.json" >"$WORK/out" 2>&1; then
    pass "the EPCIS query answer is a valid EPCISQueryDocument, every event proved ($(tail -1 "$WORK/out"))"
else fail "the EPCIS query answer does not check" "$WORK/out"; fi
N_SHIP=$(python3 -c "import json; print(sum(1 for e in json.load(open('$WORK/epcis.json'))['epcisBody']['eventList'] if e.get('bizStep')=='shipping'))")
is "EQ_bizStep=shipping finds every shipping event, and only those" "$N_SHIP" "$(python3 -c "
import json; d=json.load(open('$WORK/q.json'))['epcisBody']['queryResults']['resultsBody']['eventList']
print(len(d) if all(e['bizStep']=='shipping' for e in d) else -1)")"
python3 - "$WEB" "$N_ALL" "$BASE" "$G" "$A" >"$WORK/out" 2>&1 <<'PY'
import json, sys, urllib.request, urllib.parse, re
web, n_all, base, g, a = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def get(url):
    with urllib.request.urlopen(url) as r:
        return json.load(r), r.headers.get('Link')
# every page by its Link header, three events at a time: the same events as the export
url, seen, pages = web + '/api/v1/epcis/events?perPage=3', [], 0
while url:
    doc, link = get(url)
    seen += doc['epcisBody']['queryResults']['resultsBody']['eventList']
    pages += 1
    m = re.match(r'<([^>]*)>; rel="next"', link or '')
    url = m.group(1).replace(base, web) if m else None
ids = [e['eventID'] for e in seen]
assert len(ids) == n_all == len(set(ids)), (len(ids), n_all)
assert pages >= n_all // 3, pages
print('paged', pages, 'pages')
# MATCH_anyEPCClass with a Digital Link lot, MATCH_epc with a /b/ lot, a GTIN wildcard
lot = f'{base}/01/06901234567892/10/{g}'
d, _ = get(web + '/api/v1/epcis/events?MATCH_anyEPCClass=' + urllib.parse.quote(lot, safe=''))
ev = d['epcisBody']['queryResults']['resultsBody']['eventList']
assert ev and all(any(q['epcClass'] == lot for k in ('quantityList', 'inputQuantityList', 'outputQuantityList') for q in e.get(k, [])) for e in ev), ev
d, _ = get(web + '/api/v1/epcis/events?MATCH_epc=' + urllib.parse.quote(f'{base}/b/{a}', safe=''))
assert d['epcisBody']['queryResults']['resultsBody']['eventList'], 'MATCH_epc found nothing'
d, _ = get(web + '/api/v1/epcis/events?MATCH_anyEPCClass=' + urllib.parse.quote(f'{base}/01/06901234567892/10/*', safe=''))
gl = d['epcisBody']['queryResults']['resultsBody']['eventList']
assert len(gl) >= 3 and all('/01/06901234567892/' in json.dumps(e) for e in gl), len(gl)
# time bounds: the half-open range [GE, LT) of eventTime, split at a time that is not the
# earliest (a fast run signs many events within one second, so the median may be it)
from datetime import datetime
when = lambda t: datetime.fromisoformat(t.replace('Z', '+00:00'))
times = sorted(when(e['eventTime']) for e in seen)
distinct = sorted(set(times))
assert len(distinct) >= 2, distinct
cut = distinct[len(distinct) // 2]
mid = next(e['eventTime'] for e in seen if when(e['eventTime']) == cut)
d, _ = get(web + '/api/v1/epcis/events?perPage=500&GE_eventTime=' + urllib.parse.quote(mid))
late = d['epcisBody']['queryResults']['resultsBody']['eventList']
d, _ = get(web + '/api/v1/epcis/events?perPage=500&LT_eventTime=' + urllib.parse.quote(mid))
early = d['epcisBody']['queryResults']['resultsBody']['eventList']
assert len(late) == sum(t >= cut for t in times) and len(early) == sum(t < cut for t in times), (len(late), len(early), mid)
assert len(late) + len(early) == n_all and late and early, (len(late), len(early), n_all)
# what it refuses, with a code and a sentence
for q in ('EQ_disposition=active', 'GE_eventTime=yesterday', 'perPage=0', 'nextPageToken=x', 'EQ_bizStep='):
    try:
        urllib.request.urlopen(web + '/api/v1/epcis/events?' + q)
        raise SystemExit('accepted ' + q)
    except urllib.error.HTTPError as e:
        body = json.load(e)
        assert e.code == 400 and body['error']['code'] == 'malformed' and body['error']['message'], (q, body)
print('queries ok')
PY
if [ $? -eq 0 ]; then pass "paging by Link header, MATCH_epc, MATCH_anyEPCClass (with a GTIN wildcard), time bounds and bad queries ($(tail -1 "$WORK/out"))"
else fail "the EPCIS REST query" "$WORK/out"; fi
code=$(curl -s -o "$WORK/page.html" -w '%{http_code}' "$WEB/01/06901234567892/10/$G?t=x")
is "tcmtrace-web opens a Digital Link as the phone page" "200 yes" "$code $(grep -q 'assets/app.js' "$WORK/page.html" && echo yes)"
is "and refuses one whose GTIN check digit is wrong" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$WEB/01/06901234567893/10/$G")"
stop_pid "$WEB_PID" tcmtrace-web
WEB_PID=

stop_daemon
is "every tcmtraced and tcmtrace-web stopped exited 0" 0 "$DAEMON_BAD"
ok "the ledger audits" "$TT" --log-key "$L/log.vkey" audit "$L"
# every check ran (raise it with a new check)
SCENARIO_CHECKS=117
[ $((passed + failed)) = "$SCENARIO_CHECKS" ] || fail "$((passed + failed)) scenario checks ran, $SCENARIO_CHECKS expected"
echo "scenario: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
