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
# The facility, bank server and PostgreSQL pieces are in bench/lib.sh (shared with pg-compare.sh
# and catchup.sh).
set -uo pipefail
BENCH_NAME=bench/tx.sh
. "$(dirname "$0")/lib.sh"
DUR=${DUR:-10}
WARMUP=${WARMUP:-2}
PRIME=${PRIME:-5}
CHANNELS=${CHANNELS:-"1 64"}
DRIVER=${DRIVER:-}
PG=${PG:-1}
bench_init "${1:-build}"
bench_header
LOAD_BEFORE=$(bench_load)

# 1. the disk's fsync and the journal's single-producer latency, same directory
bench_journal_probe "$T/journal.json"

# 2. the facility: no shadowing, LOW on be1, HIGH on be2; SERVERS bank servers per partition
bench_conf single
bench_start
bench_servers

# 3. rtrbench tx: first a priming run that is not reported (a fresh facility is slower for its
#    first seconds: new journal and database log files, cold caches), then the measured ones
bench_prime "$PRIME"
i=0
for c in $CHANNELS; do
    i=$((i + 1))
    bench_tx "$c" "$DUR" "$WARMUP" "$T/tx-$i.json" "$DRIVER"
done
LOAD_RTR=$(bench_load)

# 4. stop everything we started, by PID
bench_stop

# 5. PostgreSQL, local commit, same clients and duration
PG_NOTE="PostgreSQL not run (PG=$PG)"
: >"$T/pg.json"
[ "$PG" != 1 ] || bench_pg local "$CHANNELS" "$DUR" "$T/pg.json"
LOAD_AFTER=$(bench_load)

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
