#!/bin/sh
# make install into a DESTDIR, then the installed programs used as installed:
# tcmtraced finds its shipped limits table and herb dictionary, tcmtrace-web
# its pages and pinned modules; the man pages render, the bash completion
# completes, the units name the installed programs, sysusers.d makes the
# tcmtrace user; a reader outside its group is told so; uninstall leaves
# nothing. Prints "install: N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-install-XXXXXX")
chmod 0755 "$WORK"
D="$WORK/root" P=/usr/local
PID= WPID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; [ -n "$WPID" ] && kill $WPID 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "pass $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' "$2" | tail -8; }
check() { if eval "$2"; then pass "$1"; else fail "$1" "${3:-}"; fi; }

make -C "$HERE" --no-print-directory install DESTDIR="$D" PREFIX=$P >"$WORK/make.out" 2>&1
check "make install DESTDIR=... PREFIX=$P" '[ $? -eq 0 ] && [ -x "$D$P/bin/tcmtraced" ]' "$WORK/make.out"
B="$D$P/bin"
check "the shipped data is under share/tcmtrace" '[ -s "$D$P/share/tcmtrace/chp2020.json" ] && [ -s "$D$P/share/tcmtrace/chp2020-herbs.json" ]'

# the installed daemon finds what it ships: a ledger with the ChP 2020 tables, no flags
"$B/tcmtrace" key new "$WORK/mkt.key" --unsealed >/dev/null
"$B/tcmtrace" key new "$WORK/grower.key" --unsealed >/dev/null
"$B/tcmtraced" init "$WORK/ledger" --origin tcmtrace.test/install --market m --authority-key "$WORK/mkt.key" \
    --authority-id MKT-01 --authority-name m --unsealed-log-key --base-url http://127.0.0.1:1/x >"$WORK/out" 2>&1
check "the installed tcmtraced initialises a ledger with its shipped tables" '[ $? -eq 0 ]' "$WORK/out"
"$B/tcmtraced" run "$WORK/ledger" >"$WORK/daemon.log" 2>&1 &
PID=$!
for i in $(seq 100); do "$B/tcmtrace" --dir "$WORK/ledger" status >/dev/null 2>&1 && break; sleep 0.05; done
T() { "$B/tcmtrace" --dir "$WORK/ledger" "$@"; }
T --key "$WORK/mkt.key" actor enroll --id G-1 --pubkey "$WORK/grower.key.pub" --name g --org o --licence l --role grower >/dev/null
T --key "$WORK/grower.key" register --herb 当归 --latin "Angelica sinensis (Oliv.) Diels" --part 根 --qty 1kg \
    --province 甘肃省 --city 定西市 --county 岷县 --base b --harvest 2026-10-12 --grade 一等 --processing 晒干 >"$WORK/out" 2>&1
check "a lot of a dictionary herb registers (the dictionary was loaded)" '[ $? -eq 0 ]' "$WORK/out"
CODE=$(grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' "$WORK/out" | head -1 | tr -d ' ')
T --json show "$CODE" >"$WORK/out" 2>&1
check "and the herb is the dictionary's, confirmed" 'grep -q "\"listing\": \"confirmed\"" "$WORK/out"' "$WORK/out"

# the installed front end finds its pages and the pinned crypto modules
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$B/tcmtrace-web" "$WORK/ledger" --listen "127.0.0.1:$PORT" >"$WORK/web.log" 2>&1 &
WPID=$!
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/x/api/v1/status" && break; sleep 0.05; done
check "the installed tcmtrace-web serves the phone page" \
    'curl -sf "http://127.0.0.1:$PORT/x/b/$CODE" | grep -q assets/app.js' "$WORK/web.log"
check "and the pinned @noble fallback" \
    '[ "$(curl -s -o /dev/null -w %{http_code} "http://127.0.0.1:$PORT/x/assets/noble/ed25519.js")" = 200 ]'
kill $WPID; wait $WPID 2>/dev/null; WPID=

# man pages, completion, units, the tcmtrace user
for m in man1/tcmtrace.1 man8/tcmtraced.8 man8/tcmtrace-web.8 man8/tcmtrace-witness.8; do
    groff -man -Tutf8 -ww -P-cbou "$D$P/share/man/$m" >"$WORK/man.txt" 2>"$WORK/man.err"
    check "man page $m renders without a warning" '[ ! -s "$WORK/man.err" ] && grep -q "SYNOPSIS" "$WORK/man.txt"' "$WORK/man.err"
done
cat >"$WORK/comp.sh" <<EOF
. "$D$P/share/bash-completion/completions/tcmtrace"
COMP_WORDS=(tcmtrace reg); COMP_CWORD=1; _tcmtrace; echo "1:\${COMPREPLY[*]}"
COMP_WORDS=(tcmtrace --dir /x trace 1234 --d); COMP_CWORD=5; COMPREPLY=(); _tcmtrace; echo "2:\${COMPREPLY[*]}"
COMP_WORDS=(tcmtrace search --state he); COMP_CWORD=3; COMPREPLY=(); _tcmtrace; echo "3:\${COMPREPLY[*]}"
EOF
bash "$WORK/comp.sh" >"$WORK/comp.out" 2>&1
check "bash completion completes commands" 'grep -q "^1:register$" "$WORK/comp.out"' "$WORK/comp.out"
check "and a command's options" 'grep "^2:" "$WORK/comp.out" | grep -q -- --depth && grep "^2:" "$WORK/comp.out" | grep -q -- --down' "$WORK/comp.out"
check "and their values" 'grep -q "^3:held$" "$WORK/comp.out"' "$WORK/comp.out"
check "the units run the installed programs" \
    'grep -q "^ExecStart=$P/bin/tcmtraced run" "$D$P/lib/systemd/system/tcmtraced.service" && grep -q "^ExecStart=$P/bin/tcmtrace-web" "$D$P/lib/systemd/system/tcmtrace-web.service"'
mkdir -p "$D/etc"
systemd-sysusers --root="$D" "$D$P/lib/sysusers.d/tcmtrace.conf" >"$WORK/out" 2>&1
check "sysusers.d makes the tcmtrace user and group" \
    'grep -q "^tcmtrace:" "$D/etc/passwd" && grep -q "^tcmtrace:" "$D/etc/group"' "$WORK/out"
systemd-tmpfiles --root="$D" --create "$D$P/lib/tmpfiles.d/tcmtrace.conf" >"$WORK/out" 2>&1
check "tmpfiles.d makes /var/lib/tcmtrace, 0750" '[ "$(stat -c %a "$D/var/lib/tcmtrace")" = 750 ]' "$WORK/out"

# someone outside the ledger's group is told why, not that no daemon runs
chmod 0750 "$WORK/ledger"
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/tcmtrace" --dir "$WORK/ledger" status >"$WORK/out" 2>&1
check "a reader outside the group: 'permission denied ... add yourself to the tcmtrace group'" \
    '[ $? -eq 3 ] && grep -q "permission denied on $WORK/ledger: add yourself to the tcmtrace group" "$WORK/out"' "$WORK/out"
chmod 0755 "$WORK/ledger"
kill $PID; wait $PID 2>/dev/null; PID=

make -C "$HERE" --no-print-directory uninstall DESTDIR="$D" PREFIX=$P >"$WORK/out" 2>&1
check "make uninstall removes every installed file" \
    '[ -z "$(find "$D$P" -type f)" ]' "$WORK/out"
make -C "$HERE" --no-print-directory install DESTDIR="$WORK/usr" PREFIX=/usr >/dev/null 2>&1
check "PREFIX=/usr puts the programs in /usr/bin and the units name them" \
    '[ -x "$WORK/usr/usr/bin/tcmtrace" ] && grep -q "^ExecStart=/usr/bin/tcmtraced" "$WORK/usr/usr/lib/systemd/system/tcmtraced.service"'
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
