#!/bin/sh
# make coverage: line and branch coverage (gcov, lcov from Debian) of a build made with
# --coverage in BUILD (default build/cov): first of the unit tests alone, then of the unit
# tests and the e2e, hostile, scenario, web and peers suites together. Prints a table a directory,
# and, for the rules (every file of core/rules/, and the witness policy), every function the unit tests leave short of
# full line coverage: there must be none (exit 1 names them). The figures go into
# docs/testing.md by hand.
set -u
BUILD=${1:-build/cov}
OUT=$BUILD/coverage
rm -rf "$OUT" && mkdir -p "$OUT"
RC="--rc lcov_branch_coverage=1"
lcov -q $RC --zerocounters -d "$BUILD" >/dev/null 2>&1
for t in "$BUILD"/tests/test_*; do
    case "$t" in *.*) continue ;; esac # the programs, not their .o, .gcno and .gcda
    "$t" >"$OUT/unit.log" 2>&1 || { echo "coverage: $t failed"; tail -20 "$OUT/unit.log"; exit 1; }
done
lcov -q $RC -c -d "$BUILD" -o "$OUT/unit.raw" >/dev/null 2>&1
lcov -q $RC -e "$OUT/unit.raw" "$(pwd)/core/*" "$(pwd)/cli/*" "$(pwd)/daemon/*" "$(pwd)/web/*" -o "$OUT/unit.info" >/dev/null 2>&1
for s in e2e hostile scenario web peers; do
    BIN=$BUILD sh "tests/$s.sh" >"$OUT/$s.log" 2>&1 || { echo "coverage: the $s suite failed"; tail -20 "$OUT/$s.log"; exit 1; }
done
lcov -q $RC -c -d "$BUILD" -o "$OUT/all.raw" >/dev/null 2>&1
lcov -q $RC -e "$OUT/all.raw" "$(pwd)/core/*" "$(pwd)/cli/*" "$(pwd)/daemon/*" "$(pwd)/web/*" -o "$OUT/all.info" >/dev/null 2>&1

# figure FILE PATTERN: "lines% (hit/found) branches% (hit/found)" of the files matching PATTERN
figure() {
    lcov -q $RC -e "$1" "$2" -o "$OUT/part.info" >/dev/null 2>&1 || { echo "—"; return; }
    awk -F: '/^LF:/{lf+=$2} /^LH:/{lh+=$2} /^BRF:/{bf+=$2} /^BRH:/{bh+=$2}
        END {printf "%.1f%% (%d/%d) | %.1f%% (%d/%d)", lf ? 100*lh/lf : 0, lh, lf, bf ? 100*bh/bf : 0, bh, bf}' "$OUT/part.info"
}
echo "| directory | unit tests: lines | unit tests: branches | all suites: lines | all suites: branches |"
echo "| --- | --- | --- | --- | --- |"
for d in core cli daemon web; do
    u=$(figure "$OUT/unit.info" "$(pwd)/$d/*") a=$(figure "$OUT/all.info" "$(pwd)/$d/*")
    echo "| $d/ | $(echo "$u" | sed 's/ | / | /') | $(echo "$a" | sed 's/ | / | /') |"
done
echo
echo "rule functions the unit tests leave short of full line coverage:"
short=0
for f in $(cd core && ls rules/*.c) peers/policy.c; do
    lcov -q $RC -e "$OUT/unit.info" "$(pwd)/core/$f" -o "$OUT/part.info" >/dev/null 2>&1
    # FN:line,name / FNDA:count,name give the functions; DA:line,count the lines
    awk -F'[:,]' -v file="$f" '
        /^FN:/ {start[$3] = $2; names[++n] = $3}
        /^DA:/ {line[$2] = $3}
        END {
            for (i = 1; i <= n; i++) order[i] = names[i]
            for (i = 1; i <= n; i++) {
                s = start[order[i]]; e = 1e9
                for (j = 1; j <= n; j++) if (start[order[j]] > s && start[order[j]] < e) e = start[order[j]]
                miss = 0; tot = 0
                for (l in line) if (l + 0 >= s && l + 0 < e) { tot++; if (line[l] == 0) miss++ }
                if (miss) printf "  %s %s: %d of %d lines not run\n", file, order[i], miss, tot
            }
        }' "$OUT/part.info" >"$OUT/short.txt"
    cat "$OUT/short.txt"
    [ -s "$OUT/short.txt" ] && short=1
done
[ "$short" = 0 ] && echo "  none"
echo "coverage: reports in $OUT (genhtml $OUT/all.info -o DIR for pages)"
[ "$short" = 0 ] || { echo "coverage: a rule function is short of full line coverage by the unit tests"; exit 1; }
