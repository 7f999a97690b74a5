#!/bin/sh
# Runs each test program given, then prints one summary line
# "N passed, N failed" (programs, not cases; each program prints its own).
passed=0
failed=0
failures=""
for t in "$@"; do
    echo "== $t"
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $t"
    fi
done
echo
if [ "$failed" -ne 0 ]; then
    echo "failed:$failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
