# bank_lib.sh - shared helpers of the bank integration tests (sourced, not run).
#
# The caller sets: RTRCLI SERVER CLIENT VERIFY (binaries), and calls bank_setup NAME, which
# makes the test directory $T, the facility file $T/f.conf (1 router, 2 backends, 2
# partitions; ports and ipc paths derived from the script's pid, so tests run in parallel with
# the rest of the suite) and the EXIT trap that kills every process started here by pid.
# Every check prints "ok - NAME" or "FAIL - NAME: evidence"; the first failure dumps the tails
# of the daemon and program logs and exits 1. Waits poll files or admin state with deadlines.

P=$$
BASE=$((15000 + (P % 300) * 10)) # below the ephemeral ports (32768-60999)
SRV_PIDS=() # pid of each bank server slot (index = slot), "" when not running
SRV_ARGS=() # the arguments of each slot, to restart it
SRV_BIN=()  # the program of a slot when not $SERVER (a test build's bank_server_fault)
SRV_RESTARTS=0
CPID=""
EXTRA_PIDS=""
T=""
SEED=${BANK_SEED:-$((P % 100000 + 1))} # the client's random seed (BANK_SEED=S to replay a run)

# python3 - the interpreter behind `python3`, resolved once: a version manager's shim (pyenv)
# costs about 2 s per call on a loaded machine, and the waits below call it in their loops.
RTR_PYTHON=$(command python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
python3() {
    if [ -n "$RTR_PYTHON" ]; then "$RTR_PYTHON" "$@"; else command python3 "$@"; fi
}

bank_cleanup() {
    local p
    for p in "${SRV_PIDS[@]}" $CPID $EXTRA_PIDS; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done
    if [ -n "$T" ]; then
        "$RTRCLI" stop facility "$T/f.conf" --run "$T/run" --timeout 2000 >/dev/null 2>&1
        if [ -n "${RTR_KEEP_TEST_DIR:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
    fi
    rm -f /tmp/rtri-$P-*
}

fail() {
    local f
    echo "FAIL - $CHECK: $*"
    "$RTRCLI" show server --config "$T/f.conf" >"$T/fail-server.out" 2>&1
    "$RTRCLI" show transaction --config "$T/f.conf" 2>&1 | grep -v ' DONE ' >"$T/fail-tx.out"
    echo "bank servers: ${SRV_PIDS[*]} (slot order)" >>"$T/fail-server.out"
    # RTR_TEST_HOLD=SECONDS keeps every process alive that long after a failure (debugging)
    [ -z "${RTR_TEST_HOLD:-}" ] || { echo "holding $T for $RTR_TEST_HOLD s"; sleep "$RTR_TEST_HOLD"; }
    for f in "$T"/*.out "$T"/*.err "$T"/run/*.log; do
        [ -s "$f" ] && { echo "---- $f (last 25 lines)"; tail -n 25 "$f"; }
    done
    exit 1
}
ok() { echo "ok - $CHECK${1:+: $1}"; }

# now_ms - milliseconds since the epoch (for elapsed times; never for synchronization).
now_ms() { date +%s%3N; }

# wait_for FILE REGEX SECONDS - poll until FILE has a line matching REGEX, or fail.
wait_for() {
    local end=$((SECONDS + $3))
    until grep -qE -- "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "no /$2/ in $1 within $3 s"
        sleep 0.05
    done
}

# wait_lines FILE N SECONDS [PID] - poll until FILE has at least N lines, or fail (also when
# PID, if given, exits first).
wait_lines() {
    local end=$((SECONDS + $3)) n
    while :; do
        n=$(wc -l <"$1" 2>/dev/null || echo 0)
        [ "$n" -ge "$2" ] && return 0
        [ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || fail "pid $4 exited with $n lines in $1"
        [ "$SECONDS" -lt "$end" ] || fail "$1 has $n lines, not $2, after $3 s"
        sleep 0.05
    done
}

# wait_settled SECONDS - poll the backends' admin state until no transaction is in flight
# (every row of "show transaction" is DONE): a killed server's transactions are replayed
# after failure_timeout_ms, and bank_verify must see the final state.
wait_settled() {
    local end=$((SECONDS + $1))
    until "$RTRCLI" --json show transaction --config "$T/f.conf" >"$T/tx.json" 2>&1 &&
        python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
d = d if isinstance(d, list) else [d]
busy = [r for o in d if o.get("title") == "transactions" for r in o["rows"] if r[2] != "DONE"]
sys.exit(1 if busy else 0)' "$T/tx.json" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "transactions still in flight after $1 s: $(head -c 3000 "$T/tx.json")"
        sleep 0.1
    done
}

# counter NAME - the sum of the top-level field NAME over every daemon's "show counters".
counter() {
    "$RTRCLI" --json show counters --config "$T/f.conf" >"$T/counters.json" 2>&1 ||
        fail "show counters: $(cat "$T/counters.json")"
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
d = d if isinstance(d, list) else [d]
print(sum(int(o.get(sys.argv[2], 0)) for o in d if isinstance(o, dict)))' "$T/counters.json" "$1"
}

# bank_setup NAME - test directory, facility file, trap; starts the facility.
bank_setup() {
    T=$(mktemp -d "/tmp/rtr-$1-XXXXXX") || exit 1
    trap bank_cleanup EXIT
    cat >"$T/f.conf" <<CONF
facility = "BANKI";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = ( { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
              admin = "ipc:///tmp/rtri-$P-r1.adm"; } );
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 2))"; servers = "ipc:///tmp/rtri-$P-be1.srv";
    admin = "ipc:///tmp/rtri-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 3))"; servers = "ipc:///tmp/rtri-$P-be2.srv";
    admin = "ipc:///tmp/rtri-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "LOW"; low = [ 0 ]; high = [ 999 ]; primary = "be1"; },
  { name = "HIGH"; low = [ 1000 ]; high = [ 1999 ]; primary = "be2"; } );
settings = { heartbeat_ms = 200; failure_timeout_ms = 1000; };
CONF
    export RTR_CONFIG="$T/f.conf"
    CHECK="rtrcli start facility: router and two backends answer"
    "$RTRCLI" start facility "$T/f.conf" --run "$T/run" --timeout 20000 >"$T/start.out" 2>&1 ||
        fail "exit $?: $(cat "$T/start.out")"
    grep -q "facility BANKI is up: 1 router, 2 backends" "$T/start.out" || fail "$(cat "$T/start.out")"
    ok
}

# srv_start SLOT DB PARTITION NODE [OPTION...] - start bank server SLOT (appending to
# $T/sSLOT.out/.err) on database DIR $T/DB, with the extra OPTIONs (no spaces in them); the
# program is ${SRV_BIN[SLOT]} if set, else $SERVER. Records its pid and arguments.
srv_start() {
    local slot=$1 db=$2 part=$3 node=$4
    shift 4
    SRV_ARGS[$slot]="$db $part $node $*"
    "${SRV_BIN[$slot]:-$SERVER}" --db "$T/$db" --partition "$part" --node "$node" --accounts 100 \
        --initial 100000 --nosync --quiet "$@" >>"$T/s$slot.out" 2>>"$T/s$slot.err" &
    SRV_PIDS[$slot]=$!
}

# srv_restart SLOT - start SLOT again with the same arguments.
srv_restart() {
    # shellcheck disable=SC2086
    srv_start "$1" ${SRV_ARGS[$1]}
    SRV_RESTARTS=$((SRV_RESTARTS + 1))
}

# srv_wait_serving SLOT COUNT SECONDS - wait until SLOT has printed COUNT "serving" lines.
srv_wait_serving() {
    local end=$((SECONDS + $3)) n
    while :; do
        n=$(grep -c '^serving accounts' "$T/s$1.out" 2>/dev/null)
        [ "${n:-0}" -ge "$2" ] && return 0
        kill -0 "${SRV_PIDS[$1]}" 2>/dev/null || fail "bank server $1 exited before serving"
        [ "$SECONDS" -lt "$end" ] || fail "bank server $1 not serving after $3 s"
        sleep 0.05
    done
}

# srv_supervise - restart every bank server slot whose process has exited (a server exits
# on purpose when its database environment must be recovered, or when a commit failed: the
# backend replays its transaction). Prints one line per restart.
srv_supervise() {
    local i p rc
    for i in "${!SRV_PIDS[@]}"; do
        p=${SRV_PIDS[$i]}
        [ -n "$p" ] || continue
        kill -0 "$p" 2>/dev/null && continue
        wait "$p"
        rc=$?
        echo "   bank server $i (pid $p) exited with status $rc: restarted"
        srv_restart "$i"
    done
}

# srv_stop_all - SIGTERM every bank server, wait for each; fails if one does not exit 0.
srv_stop_all() {
    local i p rc bad=""
    for p in "${SRV_PIDS[@]}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
    for i in "${!SRV_PIDS[@]}"; do
        p=${SRV_PIDS[$i]}
        [ -n "$p" ] || continue
        wait "$p"
        rc=$?
        SRV_PIDS[$i]=""
        [ "$rc" -eq 0 ] || bad="$bad server$i=$rc"
    done
    [ -z "$bad" ] || fail "bank servers did not stop cleanly:$bad"
}

# check_sanitizers - after every process has stopped: no AddressSanitizer, LeakSanitizer or
# UndefinedBehaviorSanitizer report in any process's output (the daemons and the bank programs
# write to files, which ctest does not see; the lines printed here make ctest fail too).
check_sanitizers() {
    CHECK="no sanitizer report in any process's output"
    local hits
    hits=$(grep -lE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer|WARNING: ThreadSanitizer" \
        "$T"/*.out "$T"/*.err "$T"/run/*.log 2>/dev/null)
    if [ -n "$hits" ]; then
        grep -hE -A12 "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer|WARNING: ThreadSanitizer" $hits | head -80
        fail "reports in: $hits"
    fi
    ok
}
