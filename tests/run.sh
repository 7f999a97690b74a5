#!/bin/sh
# Runs each test program given, the shell suites named in SUITES (e2e,
# hostile, scenario, web, peers, browser, crash, install), then the JSON Schema check over the shared fixtures,
# every event body the rules test signed and every API message the e2e
# suite saw; prints one summary line "N passed, N failed" (programs and
# suites; each prints its own cases).
BUILD=${BUILD:-build}
# the checkpoints the CLI remembers per log (README, "The largest checkpoint seen"): the suite's own
TCMTRACE_STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-state-XXXXXX")
export TCMTRACE_STATE_DIR
trap 'rm -rf "$TCMTRACE_STATE_DIR"' EXIT
bodies="$BUILD/signed-bodies"
rm -rf "$bodies" "$BUILD/api-messages"
passed=0
failed=0
failures=""
# run CMD...: one program or suite, stopped (and failed, saying so) if it runs past
# LIMIT seconds: no test can hang the run
LIMIT=${TEST_LIMIT:-1200}
run() {
    echo "== $*"
    timeout -k 10 "$LIMIT" "$@"
    rc=$?
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
    else
        [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "FAIL: $* ran past its limit of $LIMIT s and was stopped"
        failed=$((failed + 1))
        failures="$failures $1"
    fi
}
for t in "$@"; do
    TT_KEEP_BODIES="$bodies" run "$t"
done
for suite in ${SUITES:-e2e hostile scenario web}; do
    case $suite in
    e2e) API_DIR="$BUILD/api-messages" BIN="$BUILD" run sh tests/e2e.sh ;;
    hostile) BIN="$BUILD" run sh tests/hostile.sh ;;
    scenario) BIN="$BUILD" run sh tests/scenario.sh ;;
    web) BIN="$BUILD" run sh tests/web.sh ;;
    peers) BIN="$BUILD" run sh tests/peers.sh ;;
    browser) BIN="$BUILD" run sh tests/browser.sh ;;
    crash) ROUNDS=${ROUNDS:-10} BIN="$BUILD" run sh tests/crashtest.sh ;;
    install) run sh tests/install.sh ;;
    esac
done
# Debian's python3 with Debian's python3-jsonschema (make deps installs it)
if [ -d "$bodies" ]; then
    run /usr/bin/python3 tests/check_schemas.py "$bodies" --api "$BUILD/api-messages"
else
    run /usr/bin/python3 tests/check_schemas.py --api "$BUILD/api-messages"
fi
# the state map's vectors, with the checker's own code (docs/statemap.md)
run /usr/bin/python3 tests/check_statemap.py tests/data/statemap-vectors.json
echo
if [ "$failed" -ne 0 ]; then
    echo "failed:$failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
