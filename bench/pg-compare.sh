#!/usr/bin/env bash
# bench/pg-compare.sh [BUILD_DIR] - committed transactions through a SHADOWED RTR facility
# (every commit hardened in both members' journals, each with its real fsync) next to
# PostgreSQL 15 synchronous streaming replication (commit waits for the standby's flush), at
# the same client counts, in one run on this machine; the figures of docs/performance.md
# ("Shadow pair next to PostgreSQL synchronous replication").
#
#   bench/pg-compare.sh build                    # 1, 16 and 64 clients, 10 s each
#   DUR=20 bench/pg-compare.sh build
#   PG=0 bench/pg-compare.sh build               # RTR only (the JSON ratios are null)
#
# What it does, in order:
#   1. the disk's fsync and the journal's single-producer hardening latency (rtrbench journal
#      --producers 1 in the work directory, where the journals will be);
#   2. a local shadowed facility (bench/lib.sh, layout "crossed"): 1 router, 2 backends, 2
#      partitions, LOW with primary be1 and secondary be2, HIGH the other way round, so each
#      backend is the primary of one partition and the shadow of the other; started with
#      `rtrcli start facility --bootstrap`, then it waits until both pairs are pri_act/sec_act.
#      SERVERS (2) bank_server processes per partition on each backend, the secondary's with a
#      database of their own (the secondary executes every transaction too);
#   3. a priming run (PRIME s, 16 channels, not reported), then for each C of CLIENTS
#      `rtrbench tx --channels C --duration DUR --warmup WARMUP --json`, with the CPU time of
#      every process and both backends' counters (journal flushes, shadow batches) read
#      before and after each run;
#   4. the facility stopped by PID (bank servers SIGTERM, daemons `rtrcli stop facility`);
#   5. ../shared/bench/pg-syncrep.sh with MODES=sync, CLIENTS, DUR seconds each (pgbench,
#      one-row UPDATE, primary and standby on loopback, fsync on both); PG_INSTALL=1 lets it
#      install PostgreSQL 15 with apt-get if missing;
#   6. one side-by-side table, where RTR's CPU went, the load average, and as the LAST line one
#      JSON object with the ratios RTR / PostgreSQL (built by python3's json module):
#      {"tps_ratio_c64": ..., "p99_ratio_c64": ..., "p50_ratio_c1": ...}
#      (null where a point was not measured). The goals of issue 5: tps_ratio_c64 >= 10,
#      p99_ratio_c64 <= 0.2, p50_ratio_c1 <= 1.
# Environment: DUR (10), WARMUP (2), PRIME (5), CLIENTS ("1 16 64"), SERVERS (2), ACCOUNTS
# (10000), DRIVER ("" = event loop, or --threads), PG (1), PG_INSTALL (0), PG_SCRIPT,
# BENCH_TMP, KEEP (0), PERF (0; 1: `perf record` of the facility's processes during the last
# point, printed by process and by function - the profiler's overhead is then in that point's
# figures). Exit 0 when every measurement ran, 1 otherwise.
set -uo pipefail
BENCH_NAME=bench/pg-compare.sh
. "$(dirname "$0")/lib.sh"
DUR=${DUR:-10}
WARMUP=${WARMUP:-2}
PRIME=${PRIME:-5}
CLIENTS=${CLIENTS:-"1 16 64"}
DRIVER=${DRIVER:-}
PG=${PG:-1}
PERF=${PERF:-0}
bench_init "${1:-build}"
bench_header
LOAD_BEFORE=$(bench_load)

# 1. fsync and the journal alone, where the journals live
bench_journal_probe "$T/journal.json"

# 2. the shadowed facility and its bank servers
bench_conf crossed
bench_start
bench_servers

# 3. rtrbench tx, with CPU and counters around each run
bench_prime "$PRIME"
i=0
for c in $CLIENTS; do
    i=$((i + 1))
    bench_cpu "$T/cpu-$i.pre"
    bench_counters "$T/ctr-$i.pre"
    PERF_PID=""
    if [ "$PERF" = 1 ] && [ "$c" = "${CLIENTS##* }" ]; then
        # the facility's processes, sampled during the measured window of the last point
        pids=$(cat "$T"/run/*.pid | tr '\n' ','; IFS=,; echo "${SPIDS[*]}")
        (sleep "$WARMUP" && exec perf record -F 499 -g -o "$T/perf.data" -p "$pids" -- sleep "$DUR") \
            >"$T/perf.out" 2>&1 &
        PERF_PID=$!
        EXTRA_PIDS="$EXTRA_PIDS $PERF_PID"
    fi
    bench_tx "$c" "$DUR" "$WARMUP" "$T/tx-$i.json" "$DRIVER"
    if [ -n "$PERF_PID" ]; then
        wait "$PERF_PID"
        perf report -i "$T/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -25 >"$T/perf-comm.txt"
        perf report -i "$T/perf.data" --no-children --sort comm,symbol --stdio -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -40 >"$T/perf-sym.txt"
    fi
    bench_cpu "$T/cpu-$i.post"
    bench_counters "$T/ctr-$i.post"
done
bench_pairs_ok || bench_die "a pair is no longer pri_act/sec_act after the runs: $(cat "$T/part-be1.json" "$T/part-be2.json")"
LOAD_RTR=$(bench_load)

# 4. stop it all before PostgreSQL starts: the two never share the CPUs
bench_stop

# 5. PostgreSQL synchronous replication, same clients and duration
PG_NOTE="PostgreSQL not run (PG=$PG)"
: >"$T/pg.json"
[ "$PG" != 1 ] || bench_pg sync "$CLIENTS" "$DUR" "$T/pg.json"
LOAD_AFTER=$(bench_load)

# 6. the table, and the JSON line last
python3 - "$T" "$CLIENTS" "$PG_NOTE" "$LOAD_BEFORE" "$LOAD_RTR" "$LOAD_AFTER" "$DUR" "$SERVERS" <<'PY'
import json, os, sys
t, clients, note, l0, l1, l2, dur, servers = sys.argv[1:9]
clients = [int(c) for c in clients.split()]
dur = float(dur)

def load(path, default=None):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return default

j = load(t + "/journal.json")
print("\nfsync of this disk (4 KiB write + fdatasync): p50 %.1f us, p99 %.1f us; journal, 1 producer: p50 %.1f us (%.0f records/s)"
      % (j["fsync_us"]["p50"], j["fsync_us"]["p99"], j["latency_us"]["p50"], j["records_per_s"]))

rtr, pg, cpu, ctr = {}, {}, {}, {}
for i, c in enumerate(clients, 1):
    rtr[c] = load("%s/tx-%d.json" % (t, i))
    def ticks(p, col):
        d = {}
        for line in open(p):
            f = line.split()
            d[f[0]] = int(f[col])
        return d
    a, b = ticks("%s/cpu-%d.pre" % (t, i), 1), ticks("%s/cpu-%d.post" % (t, i), 1)
    cpu[c] = {k: (b[k] - a.get(k, 0)) / os.sysconf("SC_CLK_TCK") for k in b}
    a, b = ticks("%s/cpu-%d.pre" % (t, i), 2), ticks("%s/cpu-%d.post" % (t, i), 2)
    cpu[c]["switches"] = sum(b[k] - a.get(k, 0) for k in b)
    tm = "%s/tx-%d.json.time" % (t, i)
    if os.path.exists(tm):
        try:
            u, s = open(tm).read().split()[-2:]
            cpu[c]["rtrbench"] = float(u) + float(s)
        except ValueError:
            pass
    ctr[c] = {}
    for n in ("be1", "be2"):
        pre = load("%s/ctr-%d.pre.%s" % (t, i, n), {}) or {}
        post = load("%s/ctr-%d.post.%s" % (t, i, n), {}) or {}
        pre = pre[0] if isinstance(pre, list) else pre
        post = post[0] if isinstance(post, list) else post
        ctr[c][n] = {k: post[k] - pre.get(k, 0) for k in post
                     if isinstance(post[k], int) and not isinstance(post[k], bool)}
for line in open(t + "/pg.json"):
    line = line.strip()
    if line.startswith("{"):
        d = json.loads(line)
        pg[int(d["clients"])] = d

def f(v, fmt="%9.3f"):
    return "%9s" % "-" if v is None else fmt % v

print("\n%-8s | %-52s | %-40s | %s" % ("", "RTR shadow pair (rtrbench tx, %s servers/partition/member)" % servers,
      "PostgreSQL 15 sync replication (pgbench)", "RTR / PostgreSQL"))
print("%-8s | %9s %9s %9s %9s %9s | %9s %9s %9s %9s | %9s %9s %9s" % (
    "clients", "tx/s", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "tx/s", "p50 ms", "p99 ms", "p99.9 ms",
    "tx/s", "p50", "p99"))
ratio = lambda a, b: None if a is None or b in (None, 0) else a / b
for c in clients:
    r, p = rtr[c], pg.get(c)
    l = r["latency_us"]
    rt, r50, r99 = r["committed_per_s"], l["p50"] / 1e3, l["p99"] / 1e3
    pt, p50, p99 = (p["tps"], p["p50_ms"], p["p99_ms"]) if p else (None, None, None)
    print("%-8d | %9.1f %9.3f %9.3f %9.3f %9.3f | %s %s %s %s | %s %s %s" % (
        c, rt, r50, l["p95"] / 1e3, r99, l["p99_9"] / 1e3,
        f(pt, "%9.1f"), f(p50), f(p99), f(p["p999_ms"] if p else None),
        f(ratio(rt, pt), "%8.2fx"), f(ratio(r50, p50), "%8.2fx"), f(ratio(r99, p99), "%8.2fx")))
for c in clients:
    r, p = rtr[c], pg.get(c)
    extra = "" if not p else "; pgbench: %d tx logged (%.0f/s over the whole %.0f s), %d failed" % (
        p["ntx"], p["ntx"] / dur, dur, p["failed"])
    print("  %d clients: RTR %d committed, %d rejected, %d unknown, %d errors%s" % (
        c, r["committed"], r["rejected"], r["unknown"], r["errors"], extra))

print("\nwhere RTR's CPU went (CPU seconds per measured run, warmup and drain included; 2 CPUs = %.0f s available in %.0f s):"
      % (2 * (dur + 2), dur + 2))
names = ["r1", "be1", "be2", "servers", "rtrbench"]
print("%-8s %s %9s   %s" % ("clients", " ".join("%9s" % n for n in names), "total",
      "per commit: CPU, context switches (daemons + servers), fsyncs of both journals; shadow batches per record"))
for c in clients:
    d = cpu[c]
    total = sum(d.get(n, 0) for n in names)
    com = sum(ctr[c][n].get("tx_committed", 0) for n in ("be1", "be2"))
    fl = sum(ctr[c][n].get("journal_flushes", 0) for n in ("be1", "be2"))
    sent = sum(ctr[c][n].get("shadow_records_sent", 0) for n in ("be1", "be2"))
    bat = sum(ctr[c][n].get("shadow_batches", 0) for n in ("be1", "be2"))
    print("%-8d %s %9.1f   %.2f ms CPU, %.0f switches, %.2f fsyncs (%d commits, %d flushes); %.2f batches/record" % (
        c, " ".join(f(d.get(n), "%9.1f") for n in names), total,
        1e3 * total / com if com else 0, d["switches"] / com if com else 0,
        fl / com if com else 0, com, fl, bat / sent if sent else 0))

if note:
    print("\n" + note)
else:
    print("\npgbench's tx/s excludes its connection time; the notes give the logged transactions over the whole run.")
print("load average: before %s, after RTR %s, at the end %s" % (l0, l1, l2))

def pick(c, sysd, key):
    d = sysd.get(c)
    if d is None:
        return None
    if sysd is rtr:
        return d["committed_per_s"] if key == "tps" else d["latency_us"][key] / 1e3
    return d[{"tps": "tps", "p50": "p50_ms", "p99": "p99_ms"}[key]]

for name, what in (("perf-comm.txt", "by process and object"), ("perf-sym.txt", "by process and function")):
    p = os.path.join(t, name)
    if os.path.exists(p):
        print("\nperf record -F 499 -g on the facility's processes, %d clients, %s (%% of samples):" % (clients[-1], what))
        print(open(p).read().rstrip())

out = {
    "tps_ratio_c64": ratio(pick(64, rtr, "tps"), pick(64, pg, "tps")),
    "p99_ratio_c64": ratio(pick(64, rtr, "p99"), pick(64, pg, "p99")),
    "p50_ratio_c1": ratio(pick(1, rtr, "p50"), pick(1, pg, "p50")),
}
out = {k: (None if v is None else round(v, 4)) for k, v in out.items()}
print(json.dumps(out))
PY
rc=$?
[ "$rc" -eq 0 ] || exit 1
[ -z "$PG_NOTE" ] || [ "$PG" != 1 ] || exit 1
exit 0
