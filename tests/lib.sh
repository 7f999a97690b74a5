# lib.sh: shell helpers shared by demo.sh and e2e.sh (sourced, not run).
# Expects BIN (the build directory holding tcmtrace and tcmtraced).

TT="$BIN/tcmtrace"
TTD="$BIN/tcmtraced"

# start_daemon DIR LOG [ARGS...]: runs tcmtraced in the background until it answers.
start_daemon() {
    sd_dir=$1 sd_log=$2
    shift 2
    "$TTD" run "$sd_dir" "$@" >>"$sd_log" 2>&1 &
    DAEMON_PID=$!
    i=0
    while [ $i -lt 100 ]; do
        if "$TT" --dir "$sd_dir" status >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            echo "tcmtraced did not start:"; cat "$sd_log"; return 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
    echo "tcmtraced did not answer within 5 s"; return 1
}

# stop_daemon: SIGTERM, then wait for its exit. Any exit but 0 (a crash, or a sanitizer's
# report at exit: AddressSanitizer, LeakSanitizer) is counted in DAEMON_BAD and said, and
# every suite fails on it (suite_exits_ok).
DAEMON_BAD=0
stop_daemon() {
    if [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
        sd_st=$?
        if [ "$sd_st" != 0 ]; then
            DAEMON_BAD=$((DAEMON_BAD + 1))
            echo "FAIL: tcmtraced (pid $DAEMON_PID) exited with status $sd_st when stopped"
        fi
    fi
    DAEMON_PID=
}

# stop_pid PID WHAT: SIGTERM, wait, and count an exit but 0 in DAEMON_BAD as stop_daemon does.
stop_pid() {
    if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
        kill -TERM "$1"
        wait "$1" 2>/dev/null
        sp_st=$?
        if [ "$sp_st" != 0 ]; then
            DAEMON_BAD=$((DAEMON_BAD + 1))
            echo "FAIL: $2 (pid $1) exited with status $sp_st when stopped"
        fi
    fi
}

# codes_of FILE: the trace codes a command printed, digits only, in order.
codes_of() {
    grep -oE '[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}' "$1" | tr -d ' '
}

# as ACTOR CMD...: runs tcmtrace with ACTOR's key.
as() {
    who=$1
    shift
    "$TT" --key "$KEYS/$who.key" "$@"
}
