#!/bin/sh
# make mutants: applies each mutation of tests/mutants/mutants.txt in turn to a copy of this
# tree (the working tree as it is, uncommitted changes included), rebuilds what changed, and
# runs the checks the line names; a mutation none of them fails has survived. The checks are
# first run once on the unmutated copy: a check that fails there makes the run void.
# MUTANTS="name ..." runs only those. Prints each verdict and "mutants: N caught, N survived".
# Every check runs with no standard input: the list is the loop's, and a check must not eat it.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIST=$ROOT/tests/mutants/mutants.txt
LIMIT=${MUTANT_TIMEOUT:-1200} # seconds a check may take before it counts as failed (a hang)
W=$(mktemp -d "${TMPDIR:-/tmp}/tcmtrace-mutants-XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
cd "$ROOT" || exit 2
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -p --parents -t "$W" 2>/dev/null
[ -d web/node_modules ] && ln -s "$ROOT/web/node_modules" "$W/web/node_modules"
cd "$W" || exit 2
echo "mutants: building the unmutated copy in $W"
make -s test-build >"$W/build.log" 2>&1 || { tail -30 "$W/build.log"; echo "mutants: the unmutated tree does not build"; exit 2; }

TAB=$(printf '\t')
# run_check NAME: 0 when the check passes
run_check() {
    case $1 in
    e2e | hostile | scenario | web | peers | browser)
        BIN=build timeout "$LIMIT" sh "tests/$1.sh" >"$W/check.out" 2>&1 </dev/null ;;
    *) TT_KEEP_BODIES= timeout "$LIMIT" "build/tests/$1" >"$W/check.out" 2>&1 </dev/null ;;
    esac
}

wanted() { [ -z "${MUTANTS:-}" ] || case " $MUTANTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

checks=$(grep -v '^#' "$LIST" | while IFS="$TAB" read -r name file chk expr; do
    [ -n "$name" ] && wanted "$name" && echo "$chk"; done | tr ' ' '\n' | sort -u)
for c in $checks; do
    t0=$(date +%s)
    if ! run_check "$c"; then tail -20 "$W/check.out"; echo "mutants: $c fails on the unmutated tree: no verdict"; exit 2; fi
    echo "mutants: baseline $c passes ($(( $(date +%s) - t0 )) s)"
done

caught=0 survived=0 broken=0 survivors=""
while IFS="$TAB" read -r name file chk expr; do
    case $name in '#'* | '') continue ;; esac
    wanted "$name" || continue
    cp -p "$file" "$W/orig"
    sed -e "$expr" "$W/orig" >"$file"
    if cmp -s "$W/orig" "$file"; then
        echo "NOT APPLIED  $name: the sed script no longer changes $file"
        broken=$((broken + 1))
        continue
    fi
    if ! make -s test-build >"$W/build.log" 2>&1 </dev/null; then
        echo "NO BUILD     $name: the mutation does not compile; make it one that does"
        broken=$((broken + 1))
    else
        by=""
        for c in $chk; do
            if ! run_check "$c"; then by=$c; break; fi
        done
        if [ -n "$by" ]; then
            caught=$((caught + 1))
            echo "caught       $name (by $by)"
        else
            survived=$((survived + 1))
            survivors="$survivors $name"
            echo "SURVIVED     $name: $chk all pass with $file changed"
        fi
    fi
    cp -p "$W/orig" "$file"
    touch "$file"
done <"$LIST"
make -s test-build >/dev/null 2>&1
echo
[ -n "$survivors" ] && echo "survived:$survivors"
echo "mutants: $caught caught, $survived survived, $broken not applied or not building"
[ "$survived" = 0 ] && [ "$broken" = 0 ]
