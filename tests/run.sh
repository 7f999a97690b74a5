#!/bin/sh
# Runs each test program given, then the JSON Schema check over the shared
# fixtures and every event body the rules test signed, and prints one
# summary line "N passed, N failed" (programs; each prints its own cases).
BUILD=${BUILD:-build}
bodies="$BUILD/signed-bodies"
rm -rf "$bodies" "$BUILD/api-messages"
passed=0
failed=0
failures=""
run() {
    echo "== $*"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $1"
    fi
}
for t in "$@"; do
    TT_KEEP_BODIES="$bodies" run "$t"
done
API_DIR="$BUILD/api-messages" BIN="$BUILD" run sh tests/e2e.sh
# Debian's python3 with Debian's python3-jsonschema (make deps installs it)
if [ -d "$bodies" ]; then
    run /usr/bin/python3 tests/check_schemas.py "$bodies" --api "$BUILD/api-messages"
else
    run /usr/bin/python3 tests/check_schemas.py --api "$BUILD/api-messages"
fi
echo
if [ "$failed" -ne 0 ]; then
    echo "failed:$failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
