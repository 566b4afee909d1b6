#!/usr/bin/env bash
# bench/tx.sh [BUILD_DIR] - committed transactions through RTR next to PostgreSQL's local
# commit, measured in one run on this machine, as docs/performance.md reports them.
#
#   bench/tx.sh build                         # 1 and 64 channels, 10 s each, then PostgreSQL
#   DUR=20 CHANNELS="1 16 64" bench/tx.sh build
#   PG=0 bench/tx.sh build                    # RTR only
#
# What it does, in order:
#   1. the disk's fsync and the journal's single-producer hardening latency (rtrbench journal
#      --producers 1, in the same temporary directory as the facility's journals);
#   2. a local facility written to a temporary directory under BUILD_DIR (the same disk as the
#      build, unless BENCH_TMP says otherwise): 1 router, 2 backends, 2 partitions, started with
#      `rtrcli start facility`; 2 bank_server processes per partition (SERVERS) sharing the
#      partition's Berkeley DB environment;
#   3. a priming run of PRIME seconds (16 channels, not reported: a fresh facility is slower
#      at first), then `rtrbench tx --channels C --duration DUR --warmup WARMUP` for each C of
#      CHANNELS;
#   4. everything stopped by PID (bank servers: SIGTERM; daemons: `rtrcli stop facility`);
#   5. ../shared/bench/pg-syncrep.sh with MODES=local and CLIENTS=CHANNELS, DUR seconds each,
#      if the script exists and PostgreSQL 15 is installed (PG_INSTALL=1 lets that script
#      install it with apt-get; nothing else here installs PostgreSQL);
#   6. one table of every figure, with the date, the machine and its load average.
# Environment: DUR (10), WARMUP (2), PRIME (5), CHANNELS ("1 64"), SERVERS (2), ACCOUNTS (10000),
# DRIVER ("" = event loop, or --threads), PG (1), PG_INSTALL (0), PG_SCRIPT, BENCH_TMP, KEEP (0).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "bench/tx.sh: no build directory ${1:-build}" >&2; exit 1; }
DUR=${DUR:-10}
WARMUP=${WARMUP:-2}
PRIME=${PRIME:-5}
CHANNELS=${CHANNELS:-"1 64"}
SERVERS=${SERVERS:-2}
ACCOUNTS=${ACCOUNTS:-10000}
DRIVER=${DRIVER:-}
PG=${PG:-1}
PG_INSTALL=${PG_INSTALL:-0}
PG_SCRIPT=${PG_SCRIPT:-$REPO/../shared/bench/pg-syncrep.sh}
PGBIN=/usr/lib/postgresql/15/bin
RTRCLI=$BUILD/tools/rtrcli
RTRBENCH=$BUILD/tools/rtrbench
SERVER=$BUILD/examples/bank_server
for b in "$RTRCLI" "$RTRBENCH" "$SERVER" "$BUILD/router/rtr-router" "$BUILD/backend/rtr-backend"; do
    [ -x "$b" ] || { echo "bench/tx.sh: no $b (build first: cmake --build $BUILD)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "bench/tx.sh: needs python3 for the table" >&2; exit 1; }

T=$(mktemp -d "${BENCH_TMP:-$BUILD}/rtr-bench-tx-XXXXXX") || exit 1
P=$$
BASE=$((62000 + (P % 400) * 8)) # above the ephemeral ports (32768-60999)
SPIDS=()
FAC_UP=0

cleanup() {
    for p in "${SPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${SPIDS[@]}"; do wait "$p" 2>/dev/null; done
    SPIDS=()
    if [ "$FAC_UP" = 1 ]; then
        "$RTRCLI" stop facility "$T/f.conf" --run "$T/run" --timeout 5000 >>"$T/stop.out" 2>&1
        FAC_UP=0
    fi
    rm -f /tmp/rtrbx-$P-*
    rm -rf "/tmp/rtrbx-pg-$P"
    if [ "${KEEP:-0}" = 1 ]; then echo "bench/tx.sh: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "bench/tx.sh: $*" >&2
    for f in "$T"/*.err "$T"/run/*.log; do
        [ -s "$f" ] && { echo "---- $f (last 10 lines)" >&2; tail -n 10 "$f" >&2; }
    done
    exit 1
}

# wait_for FILE REGEX SECONDS - poll until FILE matches, or die.
wait_for() {
    local end=$((SECONDS + $3))
    until grep -qE -- "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || die "no /$2/ in $1 within $3 s"
        sleep 0.05
    done
}

dev_of() { df -P "$1" | awk 'NR == 2 { print $1 }'; }
echo "bench/tx.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench/tx.sh: work directory $T on $(dev_of "$T") (repository on $(dev_of "$REPO"))"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. the disk's fsync and the journal's single-producer latency, same directory
mkdir -p "$T/jbench"
"$RTRBENCH" journal --producers 1 --records 2000 --size 200 --dir "$T/jbench" --json \
    >"$T/journal.json" 2>"$T/journal.err" || die "rtrbench journal failed"

# 2. the facility
cat >"$T/f.conf" <<CONF
facility = "BENCH";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = ( { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
              admin = "ipc:///tmp/rtrbx-$P-r1.adm"; } );
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 2))"; servers = "ipc:///tmp/rtrbx-$P-be1.srv";
    admin = "ipc:///tmp/rtrbx-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 3))"; servers = "ipc:///tmp/rtrbx-$P-be2.srv";
    admin = "ipc:///tmp/rtrbx-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "LOW"; low = [ 0 ]; high = [ 999999 ]; primary = "be1"; },
  { name = "HIGH"; low = [ 1000000 ]; high = [ 1999999 ]; primary = "be2"; } );
CONF
export RTR_CONFIG="$T/f.conf"
"$RTRCLI" start facility "$T/f.conf" --run "$T/run" >"$T/start.out" 2>&1 ||
    die "rtrcli start facility: $(cat "$T/start.out")"
FAC_UP=1
echo "bench/tx.sh: $(grep 'is up' "$T/start.out")"
n=0
for part in LOW:be1 HIGH:be2; do
    for _ in $(seq 1 "$SERVERS"); do
        n=$((n + 1))
        "$SERVER" --db "$T/db-${part%%:*}" --partition "${part%%:*}" --node "${part##*:}" \
            --accounts "$ACCOUNTS" --quiet >"$T/s$n.out" 2>"$T/s$n.err" &
        SPIDS+=($!)
        # one at a time: the first creates the partition's database, the next ones join it
        wait_for "$T/s$n.out" "^serving accounts " 30
    done
done
echo "bench/tx.sh: $n bank servers attached ($SERVERS per partition, $ACCOUNTS accounts each)"

# 3. rtrbench tx: first a priming run that is not reported (a fresh facility is slower for its
#    first seconds: new journal and database log files, cold caches), then the measured ones
if [ "$PRIME" -gt 0 ]; then
    echo "bench/tx.sh: priming: rtrbench tx --channels 16 --duration $PRIME (not reported)"
    "$RTRBENCH" tx --channels 16 --duration "$PRIME" --warmup 0 --accounts "$ACCOUNTS" --quiet \
        >"$T/prime.out" 2>&1 || die "priming run: $(cat "$T/prime.out")"
fi
i=0
for c in $CHANNELS; do
    i=$((i + 1))
    echo "bench/tx.sh: rtrbench tx --channels $c --duration $DUR --warmup $WARMUP --accounts $ACCOUNTS $DRIVER"
    "$RTRBENCH" tx --channels "$c" --duration "$DUR" --warmup "$WARMUP" --accounts "$ACCOUNTS" $DRIVER --json \
        >"$T/tx-$i.json" 2>"$T/tx-$i.err"
    rc=$?
    grep -v '^rtrbench tx: .* s \(warmup\|measuring\|draining\)' "$T/tx-$i.err" >&2
    [ "$rc" -eq 0 ] || die "rtrbench tx --channels $c: exit $rc"
done
LOAD_RTR=$(cut -d' ' -f1-3 /proc/loadavg)

# 4. stop everything we started, by PID
cleanup_fac() {
    for p in "${SPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${SPIDS[@]}"; do wait "$p" 2>/dev/null; done
    SPIDS=()
    "$RTRCLI" stop facility "$T/f.conf" --run "$T/run" --timeout 5000 >"$T/stop.out" 2>&1 ||
        echo "bench/tx.sh: rtrcli stop facility: $(cat "$T/stop.out")" >&2
    FAC_UP=0
}
cleanup_fac

# 5. PostgreSQL, local commit, same clients and duration
: >"$T/pg.json"
PG_NOTE=""
if [ "$PG" != 1 ]; then
    PG_NOTE="PostgreSQL not run (PG=$PG)"
elif [ ! -f "$PG_SCRIPT" ]; then
    PG_NOTE="PostgreSQL not run: no $PG_SCRIPT"
elif [ ! -x "$PGBIN/pgbench" ] && [ "$PG_INSTALL" != 1 ]; then
    PG_NOTE="PostgreSQL not run: PostgreSQL 15 is not installed ($PGBIN/pgbench missing); scripts/deps.sh does not install it, $PG_SCRIPT would (apt-get): rerun with PG_INSTALL=1"
else
    echo "bench/tx.sh: $PG_SCRIPT MODES=local CLIENTS=\"$CHANNELS\" DUR=$DUR"
    # its data directories go to /tmp (the postgres user must reach them; same disk here)
    MODES=local CLIENTS="$CHANNELS" DUR="$DUR" JSON=1 PORT=$((BASE + 5)) \
        BASE="/tmp/rtrbx-pg-$P" bash "$PG_SCRIPT" >"$T/pg.json" 2>"$T/pg.err" ||
        PG_NOTE="pg-syncrep.sh failed (exit $?): $(tail -3 "$T/pg.err" | tr '\n' ' ')"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# 6. the table
python3 - "$T" "$CHANNELS" "$PG_NOTE" "$LOAD_BEFORE" "$LOAD_RTR" "$LOAD_AFTER" "$DUR" <<'PY'
import json, sys
t, chans, note, l0, l1, l2, dur = sys.argv[1:8]
dur = float(dur)
j = json.load(open(t + "/journal.json"))
print("\nfsync of this disk (4 KiB write + fdatasync): p50 %.1f us, p99 %.1f us; journal, 1 producer: p50 %.1f us (%.0f records/s)"
      % (j["fsync_us"]["p50"], j["fsync_us"]["p99"], j["latency_us"]["p50"], j["records_per_s"]))
rows = []
for i, c in enumerate(chans.split()):
    d = json.load(open("%s/tx-%d.json" % (t, i + 1)))
    l = d["latency_us"]
    rows.append(("RTR rtrbench tx (%s)" % d["driver"], c, d["committed_per_s"], l["p50"] / 1e3,
                 l["p95"] / 1e3, l["p99"] / 1e3, l["p99_9"] / 1e3,
                 "%d committed, %d rejected, %d errors" % (d["committed"], d["rejected"], d["errors"])))
for line in open(t + "/pg.json"):
    line = line.strip()
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    rows.append(("PostgreSQL 15 pgbench (%s)" % d["mode"], str(d["clients"]), d["tps"], d["p50_ms"],
                 None, d["p99_ms"], d["p999_ms"],
                 "%d tx logged (%.0f/s over the whole %s s), %d failed" % (d["ntx"], d["ntx"] / dur, dur, d["failed"])))
print("\n%-30s %8s %10s %9s %9s %9s %9s  %s" % ("system", "clients", "tx/s", "p50 ms", "p95 ms",
      "p99 ms", "p99.9 ms", "notes"))
for r in rows:
    f = lambda v: "%9s" % "-" if v is None else "%9.3f" % v
    print("%-30s %8s %10.1f %s %s %s %s  %s" % (r[0], r[1], r[2], f(r[3]), f(r[4]), f(r[5]), f(r[6]), r[7]))
if note:
    print("\n" + note)
else:
    print("\npgbench's tx/s excludes its connection time; the notes give the logged transactions over the whole run.")
print("\nload average: before %s, after RTR %s, at the end %s" % (l0, l1, l2))
PY
