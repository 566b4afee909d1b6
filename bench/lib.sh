# shellcheck shell=bash
# bench/lib.sh - the pieces the bench scripts share (sourced, not run): a local facility in a
# fresh directory, its bank servers, rtrbench tx runs, show partition as JSON, PostgreSQL
# through ../shared/bench/pg-syncrep.sh, and a cleanup that stops everything by PID.
#
# A script sets BENCH_NAME (its name, for messages) and calls `bench_init BUILD_DIR`, which
# checks the binaries, makes the work directory $T (under BENCH_TMP, default BUILD_DIR: the
# build's disk), picks ports from the script's pid ($BASE..$BASE+7) and sets the EXIT trap.
# Then bench_conf LAYOUT, bench_start, bench_servers, and rtrbench runs with bench_tx.
#
# Layouts (bench_conf): 2 partitions, LOW = accounts 0..999999, HIGH = 1000000..1999999, and
#   single   no shadowing: LOW on be1, HIGH on be2 (bench/tx.sh)
#   crossed  shadowed: LOW primary be1 secondary be2, HIGH primary be2 secondary be1 (both
#            backends are a primary, each journal hardens its own commits and its partner's)
#   onepri   shadowed: be1 primary of both partitions, be2 secondary of both (the catch-up
#            benchmark: killing be2 leaves one primary committing everything alone)
# Every journal is on $T's disk with its real fsync; so are the bank servers' databases
# (bank_server without --nosync: its own commit is flushed too, as in docs/performance.md).
#
# Environment read here: SERVERS (bank servers per partition and backend, 2), ACCOUNTS (10000),
# BENCH_TMP, KEEP (1 keeps $T), PG_SCRIPT, PG_INSTALL (0).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SERVERS=${SERVERS:-2}
ACCOUNTS=${ACCOUNTS:-10000}
PG_SCRIPT=${PG_SCRIPT:-$REPO/../shared/bench/pg-syncrep.sh}
PG_INSTALL=${PG_INSTALL:-0}
PGBIN=/usr/lib/postgresql/15/bin
P=$$
BASE=$((62000 + (P % 400) * 8)) # above the ephemeral ports (32768-60999)
SPIDS=()      # bank servers
EXTRA_PIDS="" # other processes of ours (a load generator, a backend restarted by hand)
FAC_UP=0
LAYOUT=""
T=""

# bench_init BUILD_DIR - binaries, work directory, trap. Exits 1 when something is missing.
bench_init() {
    local b
    BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || {
        echo "$BENCH_NAME: no build directory ${1:-build}" >&2
        exit 1
    }
    RTRCLI=$BUILD/tools/rtrcli
    RTRBENCH=$BUILD/tools/rtrbench
    SERVER=$BUILD/examples/bank_server
    for b in "$RTRCLI" "$RTRBENCH" "$SERVER" "$BUILD/router/rtr-router" "$BUILD/backend/rtr-backend"; do
        [ -x "$b" ] || {
            echo "$BENCH_NAME: no $b (build first: cmake --build $BUILD)" >&2
            exit 1
        }
    done
    command -v python3 >/dev/null || {
        echo "$BENCH_NAME: needs python3 for the tables" >&2
        exit 1
    }
    T=$(mktemp -d "${BENCH_TMP:-$BUILD}/rtr-bench-XXXXXX") || exit 1
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# bench_stop - stop the bank servers (SIGTERM, by PID) and the daemons (rtrcli stop facility,
# which reads their pid files); a no-op when nothing runs.
bench_stop() {
    local p
    for p in "${SPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${SPIDS[@]}"; do wait "$p" 2>/dev/null; done
    SPIDS=()
    if [ "$FAC_UP" = 1 ]; then
        "$RTRCLI" stop facility "$T/f.conf" --run "$T/run" --timeout 5000 >>"$T/stop.out" 2>&1 ||
            echo "$BENCH_NAME: rtrcli stop facility: $(tail -3 "$T/stop.out")" >&2
        FAC_UP=0
    fi
}

bench_cleanup() {
    local p
    for p in $EXTRA_PIDS; do kill -KILL "$p" 2>/dev/null; done
    EXTRA_PIDS=""
    bench_stop
    rm -f /tmp/rtrbx-$P-*
    rm -rf "/tmp/rtrbx-pg-$P"
    [ -n "$T" ] || return 0
    if [ "${KEEP:-0}" = 1 ]; then echo "$BENCH_NAME: kept $T" >&2; else rm -rf "$T"; fi
}

# bench_die MESSAGE - print it with the tails of the logs, exit 1 (the trap cleans up).
bench_die() {
    local f
    echo "$BENCH_NAME: $*" >&2
    for f in "$T"/*.err "$T"/run/*.log; do
        [ -s "$f" ] && {
            echo "---- $f (last 10 lines)" >&2
            tail -n 10 "$f" >&2
        }
    done
    exit 1
}

# bench_wait_for FILE REGEX SECONDS - poll until FILE has a line matching REGEX, or die.
bench_wait_for() {
    local end=$((SECONDS + $3))
    until grep -qE -- "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || bench_die "no /$2/ in $1 within $3 s"
        sleep 0.05
    done
}

bench_load() { cut -d' ' -f1-3 /proc/loadavg; }
bench_dev_of() { df -P "$1" | awk 'NR == 2 { print $1 }'; }
bench_now() { echo "$EPOCHREALTIME"; }

# bench_header - the date, the machine, its load and where the work directory is.
bench_header() {
    echo "$BENCH_NAME: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load average $(bench_load)"
    echo "$BENCH_NAME: work directory $T on $(bench_dev_of "$T") (repository on $(bench_dev_of "$REPO"))"
}

# bench_journal_probe OUT - the disk's fsync and the journal's single-producer hardening
# latency, in the work directory (rtrbench journal --json into OUT).
bench_journal_probe() {
    mkdir -p "$T/jbench"
    "$RTRBENCH" journal --producers 1 --records 2000 --size 200 --dir "$T/jbench" --json \
        >"$1" 2>"$T/journal.err" || bench_die "rtrbench journal failed"
    rm -rf "$T/jbench"
}

# bench_conf LAYOUT - write $T/f.conf (see the layouts above) and export RTR_CONFIG.
bench_conf() {
    local state="" sec1="" sec2="" pri2=be2
    LAYOUT=$1
    case $LAYOUT in
    single) ;;
    crossed) sec1='secondary = "be2";' sec2='secondary = "be1";' ;;
    onepri) sec1='secondary = "be2";' sec2='secondary = "be2";' pri2=be1 ;;
    *) bench_die "bench_conf: unknown layout $LAYOUT" ;;
    esac
    [ "$LAYOUT" = single ] || state="state = \"$T/r1\";"
    cat >"$T/f.conf" <<CONF
facility = "BENCH";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = ( { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
              admin = "ipc:///tmp/rtrbx-$P-r1.adm"; $state } );
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 2))"; servers = "ipc:///tmp/rtrbx-$P-be1.srv";
    admin = "ipc:///tmp/rtrbx-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 3))"; servers = "ipc:///tmp/rtrbx-$P-be2.srv";
    admin = "ipc:///tmp/rtrbx-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "LOW"; low = [ 0 ]; high = [ 999999 ]; primary = "be1"; $sec1 },
  { name = "HIGH"; low = [ 1000000 ]; high = [ 1999999 ]; primary = "$pri2"; $sec2 } );
CONF
    export RTR_CONFIG="$T/f.conf"
}

# bench_start - rtrcli start facility (with --bootstrap for a shadowed layout: the first
# register value), then for a shadowed layout wait until every pair is ACTIVE/SECONDARY.
bench_start() {
    local boot=""
    [ "$LAYOUT" = single ] || boot=--bootstrap
    "$RTRCLI" start facility "$T/f.conf" --run "$T/run" --timeout 20000 $boot >"$T/start.out" 2>&1 ||
        bench_die "rtrcli start facility: $(cat "$T/start.out")"
    FAC_UP=1
    echo "$BENCH_NAME: $(grep 'is up' "$T/start.out")"
    [ "$LAYOUT" = single ] || bench_wait_pairs 30
}

# bench_part NODE - show partition of backend NODE as JSON in $T/part-NODE.json; status 1 if
# it does not answer.
bench_part() {
    "$RTRCLI" --json show partition --node "$1" --timeout 2000 >"$T/part-$1.json" 2>&1
}

# bench_pfield NODE PARTITION FIELD... - fields of a partition in $T/part-NODE.json, one line
# (booleans as true/false; "?" when unreadable).
bench_pfield() {
    python3 -c 'import json,sys
try:
    d = json.load(open(sys.argv[1]))
    d = d[0] if isinstance(d, list) else d
    row = [r for r in d["rows"] if r[0] == sys.argv[2]][0]
    vals = [row[d["columns"].index(f)] for f in sys.argv[3:]]
    print(" ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in vals))
except Exception:
    print("?")' "$T/part-$1.json" "${@:2}"
}

# bench_pairs_ok - every shadowed partition is pri_act on its primary and sec_act on the other.
bench_pairs_ok() {
    local pri
    bench_part be1 && bench_part be2 || return 1
    for pri in LOW:be1 "HIGH:$([ "$LAYOUT" = onepri ] && echo be1 || echo be2)"; do
        local part=${pri%%:*} node=${pri##*:} other
        other=$([ "$node" = be1 ] && echo be2 || echo be1)
        [ "$(bench_pfield "$node" "$part" state)" = pri_act ] || return 1
        [ "$(bench_pfield "$other" "$part" state)" = sec_act ] || return 1
    done
}

# bench_wait_pairs SECONDS - wait until bench_pairs_ok, or die.
bench_wait_pairs() {
    local end=$((SECONDS + $1))
    until bench_pairs_ok; do
        [ "$SECONDS" -lt "$end" ] ||
            bench_die "no pri_act/sec_act pairs after $1 s: $(cat "$T/part-be1.json" "$T/part-be2.json" 2>/dev/null)"
        sleep 0.1
    done
}

# bench_server PARTITION NODE - start one bank server of PARTITION on backend NODE, with the
# database $T/db-PARTITION-NODE, and wait until it serves (one at a time: the first creates the
# database, the next ones join it).
bench_server() {
    local n=$((${#SPIDS[@]} + 1))
    "$SERVER" --db "$T/db-$1-$2" --partition "$1" --node "$2" --accounts "$ACCOUNTS" --quiet \
        >"$T/s$n.out" 2>"$T/s$n.err" &
    SPIDS+=($!)
    bench_wait_for "$T/s$n.out" "^serving accounts " 30
}

# bench_servers - SERVERS bank servers for each partition on each backend that holds it (its
# primary, and for a shadowed layout its secondary too, with a database of its own).
bench_servers() {
    local pn i
    local list="LOW:be1 HIGH:be2"
    case $LAYOUT in
    crossed) list="LOW:be1 LOW:be2 HIGH:be2 HIGH:be1" ;;
    onepri) list="LOW:be1 LOW:be2 HIGH:be1 HIGH:be2" ;;
    esac
    for pn in $list; do
        for i in $(seq 1 "$SERVERS"); do bench_server "${pn%%:*}" "${pn##*:}"; done
    done
    echo "$BENCH_NAME: ${#SPIDS[@]} bank servers attached ($SERVERS per partition and backend, $ACCOUNTS accounts each)"
}

# bench_prime SECONDS - an unreported run of 16 channels (a fresh facility is slower at first).
bench_prime() {
    [ "$1" -gt 0 ] || return 0
    echo "$BENCH_NAME: priming: rtrbench tx --channels 16 --duration $1 (not reported)"
    "$RTRBENCH" tx --channels 16 --duration "$1" --warmup 0 --accounts "$ACCOUNTS" --quiet \
        >"$T/prime.out" 2>&1 || bench_die "priming run: $(cat "$T/prime.out")"
}

# bench_tx CHANNELS DURATION WARMUP OUT [DRIVER] - rtrbench tx --json into OUT, or die.
bench_tx() {
    local rc
    echo "$BENCH_NAME: rtrbench tx --channels $1 --duration $2 --warmup $3 --accounts $ACCOUNTS ${5:-}"
    # /usr/bin/time (when there) writes rtrbench's own CPU seconds, "USER SYS", to OUT.time
    local timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -o "$4.time" -f "%U %S")
    # shellcheck disable=SC2086
    "${timer[@]}" "$RTRBENCH" tx --channels "$1" --duration "$2" --warmup "$3" --accounts "$ACCOUNTS" \
        ${5:-} --json >"$4" 2>"$4.err"
    rc=$?
    grep -v '^rtrbench tx: .* s \(warmup\|measuring\|draining\)' "$4.err" >&2
    [ "$rc" -eq 0 ] || bench_die "rtrbench tx --channels $1: exit $rc"
}

# bench_pg MODE CLIENTS DURATION OUT - ../shared/bench/pg-syncrep.sh with MODES=MODE, one JSON
# line per point into OUT. Sets PG_NOTE to why it did not run (empty when it ran).
bench_pg() {
    : >"$4"
    PG_NOTE=""
    if [ ! -f "$PG_SCRIPT" ]; then
        PG_NOTE="PostgreSQL not run: no $PG_SCRIPT"
    elif [ ! -x "$PGBIN/pgbench" ] && [ "$PG_INSTALL" != 1 ]; then
        PG_NOTE="PostgreSQL not run: PostgreSQL 15 is not installed ($PGBIN/pgbench missing); $PG_SCRIPT would install it (apt-get): rerun with PG_INSTALL=1"
    else
        echo "$BENCH_NAME: $PG_SCRIPT MODES=$1 CLIENTS=\"$2\" DUR=$3"
        # its data directories go to /tmp (the postgres user must reach them)
        MODES=$1 CLIENTS=$2 DUR=$3 JSON=1 PORT=$((BASE + 5)) BASE="/tmp/rtrbx-pg-$P" \
            bash "$PG_SCRIPT" >"$4" 2>"$T/pg.err" ||
            PG_NOTE="pg-syncrep.sh failed (exit $?): $(tail -3 "$T/pg.err" | tr '\n' ' ')"
    fi
}

# bench_cpu OUT - CPU time (user + system, clock ticks) and context switches (voluntary +
# involuntary, every thread) used so far by each process of the facility, one "NAME TICKS
# SWITCHES" line each: r1, be1, be2 (from their pid files) and "servers" (the bank servers,
# summed). Two snapshots around a run give where its CPU went.
bench_cpu() {
    local f name p
    : >"$1"
    for f in "$T"/run/*.pid; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .pid)
        bench_cpu1 "$name" "$(cat "$f")" >>"$1"
    done
    for p in "${SPIDS[@]}"; do bench_cpu1 servers "$p"; done |
        awk '{ t += $2; s += $3 } END { print "servers", t + 0, s + 0 }' >>"$1"
}
# bench_cpu1 NAME PID - "NAME TICKS SWITCHES" of one process (nothing if it is gone)
bench_cpu1() {
    local t s
    t=$(awk '{ print $14 + $15 }' "/proc/$2/stat" 2>/dev/null) || return 0
    s=$(cat /proc/"$2"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }')
    echo "$1 ${t:-0} ${s:-0}"
}

# bench_counters OUT - `show counters --json` of both backends into OUT.be1 and OUT.be2.
bench_counters() {
    local n
    for n in be1 be2; do
        "$RTRCLI" --json show counters --node "$n" --timeout 2000 >"$1.$n" 2>&1 || echo '{}' >"$1.$n"
    done
}
