#!/usr/bin/env bash
# bench/catchup.sh [BUILD_DIR] - the catch-up of a returning secondary, under load: how long it
# takes after N transactions were committed without it, and what the primary commits meanwhile
# (the goal of issue 5: during the catch-up at least 50 % of its rate without one).
#
#   bench/catchup.sh build                       # N=100000, 16 load channels
#   N=20000 LOAD_CHANNELS=8 bench/catchup.sh build
#
# What it does, in order:
#   1. a local shadowed facility (bench/lib.sh, layout "onepri"): 1 router, 2 backends,
#      partitions LOW and HIGH both with primary be1 and secondary be2, journals with their real
#      fsync; SERVERS (2) bank_server processes per partition on each backend (be2's with
#      databases of their own); a priming run (PRIME s);
#   2. a load that runs to the end: `rtrbench tx --channels LOAD_CHANNELS` (closed loop);
#      be1's committed CSNs (hardened_csn of both partitions, from `rtrcli show partition`)
#      are sampled every SAMPLE_MS, and every rate below comes from these samples;
#   3. phase "active": PHASE_S seconds with the pair in sync (pri_act/sec_act);
#   4. be2 killed with SIGKILL; be1 shrinks both partitions to REMEMBER and commits alone;
#      phase "remember": until N transactions were committed after the kill;
#   5. be2 started again (same command line as `rtrcli start facility`): handshake, the records
#      it lacks streamed from be1 (read back from its journal beyond shadow_window_bytes), ADD
#      once it hardened them: phase "catch-up", from the restart until both partitions are
#      pri_act/sec_act - the catch-up of the protocol (docs/shadow-protocol.md §6);
#   6. phase "backlog exec": be2's bank servers execute the records it hardened (serially, M3),
#      until be2 has applied all but EXEC_DONE records of what be1 hardened, or EXEC_MAX_S;
#      phase "after": PHASE_S seconds more; then the load stops, phase "drain": be2 executes
#      the rest (DRAIN_MAX_S at most: if it has not finished by then, the table is printed
#      anyway, without the comparison, and the exit status is 1), and (if BUILD/tests/
#      integration/bank_dump exists) the two databases of each partition are dumped and
#      compared;
#   7. a table of the phases: duration, be1's commits and tx/s, be2's lag and execution rate;
#      the load average; and as the LAST line one JSON object (python3's json) with the
#      durations, the rates and "ratio_catchup_vs_remember" = be1's tx/s during the catch-up /
#      its tx/s in the last PHASE_S seconds of REMEMBER before the restart (same primary, same
#      load, no partner); the same for the backlog execution.
# Environment: N (100000), LOAD_CHANNELS (16), PHASE_S (15), EXEC_DONE (200), EXEC_MAX_S (120),
# DRAIN_MAX_S (900), SAMPLE_MS (500), CATCHUP_MAX_S (300), PRIME (5), SERVERS (2), ACCOUNTS
# (10000), BENCH_TMP, KEEP (0).
set -uo pipefail
BENCH_NAME=bench/catchup.sh
. "$(dirname "$0")/lib.sh"
N=${N:-100000}
LOAD_CHANNELS=${LOAD_CHANNELS:-16}
PHASE_S=${PHASE_S:-15}
EXEC_DONE=${EXEC_DONE:-200}
SAMPLE_MS=${SAMPLE_MS:-500}
CATCHUP_MAX_S=${CATCHUP_MAX_S:-300}
EXEC_MAX_S=${EXEC_MAX_S:-120}
DRAIN_MAX_S=${DRAIN_MAX_S:-900}
PRIME=${PRIME:-5}
bench_init "${1:-build}"
DUMP=$BUILD/tests/integration/bank_dump
bench_header
LOAD_BEFORE=$(bench_load)
bench_journal_probe "$T/journal.json"

bench_conf onepri
bench_start
bench_servers
bench_prime "$PRIME"

# sample PHASE - one line in $T/samples: time, phase, be1's hardened and applied (both
# partitions summed), be1's states, be2's hardened and applied, be2's states ("-" when down).
# Sets H1 A1 S1 H2 A2 S2.
sample() {
    bench_part be1 || bench_die "be1 does not answer: $(cat "$T/part-be1.json")"
    # be2 is not asked while it is down (an admin request to a dead backend waits its timeout)
    if [ "$1" = remember ] || ! bench_part be2; then echo '[]' >"$T/part-be2.json"; fi
    read -r H1 A1 S1 H2 A2 S2 < <(python3 -c 'import json,sys
def get(p):
    try:
        d = json.load(open(p))
        d = d[0] if isinstance(d, list) else d
        c = d["columns"]
        rows = [dict(zip(c, r)) for r in d["rows"]]
        return (sum(r["hardened_csn"] for r in rows), sum(r["applied_n"] for r in rows),
                ",".join(r["state"] for r in rows))
    except Exception:
        return ("-", "-", "-")
print(*get(sys.argv[1]), *get(sys.argv[2]))' "$T/part-be1.json" "$T/part-be2.json")
    echo "$EPOCHREALTIME $1 $H1 $A1 $S1 $H2 $A2 $S2" >>"$T/samples"
}
# progress PHASE - a line every 5 s
LAST_PRINT=0
progress() {
    [ $((SECONDS - LAST_PRINT)) -ge 5 ] || return 0
    LAST_PRINT=$SECONDS
    echo "   $(date -u +%H:%M:%S) $1: be1 hardened $H1 applied $A1 ($S1); be2 hardened $H2 applied $A2 ($S2)"
}
tick() {
    sleep "$(awk -v ms="$SAMPLE_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
    sample "$1"
    progress "$1"
    kill -0 "$LOAD" 2>/dev/null || bench_die "the load (rtrbench tx) ended: $(tail -5 "$T/load.err")"
}
mark() { echo "$EPOCHREALTIME $1" >>"$T/marks"; }

# 2. the load, to the end
"$RTRBENCH" tx --channels "$LOAD_CHANNELS" --duration 86400 --warmup 0 --accounts "$ACCOUNTS" \
    --quiet >"$T/load.out" 2>"$T/load.err" &
LOAD=$!
EXTRA_PIDS="$LOAD"
echo "$BENCH_NAME: load: rtrbench tx --channels $LOAD_CHANNELS (pid $LOAD), closed loop until the end"

# 3. active
mark active
end=$((SECONDS + PHASE_S))
while [ "$SECONDS" -lt "$end" ]; do tick active; done
bench_pairs_ok || bench_die "the pairs are not pri_act/sec_act under load"

# 4. be2 killed; REMEMBER until N more commits
BE2=$(cat "$T/run/be2.pid")
kill -KILL "$BE2"
mark remember
echo "$BENCH_NAME: be2 (pid $BE2) killed with SIGKILL at $(date -u +%H:%M:%S); be1 goes on alone until $N more commits"
sample remember
H_KILL=$H1
until [ "$S1" = "remember,remember" ]; do tick remember; done
echo "$BENCH_NAME: be1: both partitions in REMEMBER at $(date -u +%H:%M:%S), hardened $H1"
until [ "$H1" -ge $((H_KILL + N)) ]; do tick remember; done

# 5. be2 back: the same command line as `rtrcli start facility`; its pid file lets
#    `rtrcli stop facility` stop it at the end
setsid "$BUILD/backend/rtr-backend" --config "$T/f.conf" --node be2 --log "$T/run/be2.log" \
    </dev/null >>"$T/run/be2.log" 2>&1 &
echo "$!" >"$T/run/be2.pid"
mark sync
echo "$BENCH_NAME: be2 restarted (pid $!) at $(date -u +%H:%M:%S), $((H1 - H_KILL)) commits after the kill; be1 hardened $H1"
end=$((SECONDS + CATCHUP_MAX_S))
until [ "$S1" = "pri_act,pri_act" ] && [ "$S2" = "sec_act,sec_act" ]; do
    [ "$SECONDS" -lt "$end" ] || bench_die "be2 not in sync after $CATCHUP_MAX_S s"
    tick sync
done
mark exec
echo "$BENCH_NAME: both partitions in sync (pri_act/sec_act) at $(date -u +%H:%M:%S); be2 applied $A2 of $H1"
EXEC_END=$((SECONDS + EXEC_MAX_S))
EXEC_OK=1
until [ "$A2" != - ] && [ $((H1 - A2)) -le "$EXEC_DONE" ]; do
    [ "$SECONDS" -lt "$EXEC_END" ] || { EXEC_OK=0; break; }
    tick exec
done
mark after
if [ "$EXEC_OK" = 1 ]; then
    echo "$BENCH_NAME: be2 applied all but $((H1 - A2)) records at $(date -u +%H:%M:%S)"
else
    echo "$BENCH_NAME: after $EXEC_MAX_S s in sync be2 still has $((H1 - A2)) records to execute: the load goes on $PHASE_S s, then stops"
fi

# 6. in sync again, then the end of the load
end=$((SECONDS + PHASE_S))
while [ "$SECONDS" -lt "$end" ]; do tick after; done
mark end
LOAD_RTR=$(bench_load)
kill -INT "$LOAD" 2>/dev/null
wait "$LOAD" 2>/dev/null
EXTRA_PIDS=""
mark drain
sample drain
echo "$BENCH_NAME: load stopped at $(date -u +%H:%M:%S); be2 executes what it has left ($((H1 - A2)) records)"
end=$((SECONDS + DRAIN_MAX_S))
DRAINED=1
until [ "$A2" = "$H1" ] && [ "$A1" = "$H1" ]; do
    if [ "$SECONDS" -ge "$end" ]; then
        DRAINED=0
        break
    fi
    sleep 0.5
    sample drain
    progress drain
done
mark drained
"$RTRCLI" show partition >"$T/partition-end.txt" 2>&1
COMPARE="not compared (no $DUMP: a build with RTR_TESTS=ON has it)"
if [ "$DRAINED" = 0 ]; then
    COMPARE="not compared: $DRAIN_MAX_S s after the load be2 had applied $A2 of the $H1 CSNs be1 hardened (a partition stuck? rtrcli show partition at that point follows)"
    sed 's/^/   /' "$T/partition-end.txt"
elif [ -x "$DUMP" ]; then
    for part in LOW HIGH; do
        "$DUMP" --db "$T/db-$part-be1" >"$T/dump-$part-be1.txt" 2>"$T/dump.err" || bench_die "bank_dump: $(cat "$T/dump.err")"
        "$DUMP" --db "$T/db-$part-be2" >"$T/dump-$part-be2.txt" 2>"$T/dump.err" || bench_die "bank_dump: $(cat "$T/dump.err")"
        cmp -s "$T/dump-$part-be1.txt" "$T/dump-$part-be2.txt" ||
            bench_die "partition $part: the databases of be1 and be2 differ"
    done
    COMPARE="identical (bank_dump of LOW and HIGH on be1 and be2, $(grep -c '^applied ' "$T/dump-LOW-be1.txt") + $(grep -c '^applied ' "$T/dump-HIGH-be1.txt") transfers applied)"
fi
bench_counters "$T/ctr"
bench_stop
LOAD_AFTER=$(bench_load)

# 7. the table and the JSON line
python3 - "$T" "$N" "$LOAD_CHANNELS" "$PHASE_S" "$COMPARE" "$LOAD_BEFORE" "$LOAD_RTR" "$LOAD_AFTER" "$EXEC_OK" <<'PY'
import json, sys
t, n, chans, phase_s, compare, l0, l1, l2, exec_ok = sys.argv[1:10]
exec_ok = exec_ok == "1"
n, phase_s = int(n), float(phase_s)
samples = []
for line in open(t + "/samples"):
    f = line.split()
    conv = lambda v: None if v == "-" else int(v)
    samples.append(dict(t=float(f[0]), phase=f[1], h1=int(f[2]), a1=int(f[3]), s1=f[4],
                        h2=conv(f[5]), a2=conv(f[6]), s2=f[7]))
marks = {}
for line in open(t + "/marks"):
    tm, name = line.split()
    marks[name] = float(tm)

def at(tm):
    """be1's hardened sum at time tm, interpolated between the samples around it."""
    prev = None
    for s in samples:
        if s["t"] >= tm:
            if prev is None or s["t"] == prev["t"]:
                return s["h1"]
            w = (tm - prev["t"]) / (s["t"] - prev["t"])
            return prev["h1"] + w * (s["h1"] - prev["h1"])
        prev = s
    return samples[-1]["h1"]

def rate(a, b):
    return (at(b) - at(a)) / (b - a) if b > a else None

def a2_at(tm):
    """be2's applied sum at the last sample at or before tm."""
    v = None
    for s in samples:
        if s["t"] > tm:
            break
        if s["a2"] is not None:
            v = s["a2"]
    return v

rows = []
def row(name, a, b, what):
    c = at(b) - at(a)
    lag = [max(0, s["h1"] - s["a2"]) for s in samples if a <= s["t"] <= b and s["a2"] is not None]
    x0, x1 = a2_at(a), a2_at(b)
    ex = (x1 - x0) / (b - a) if x0 is not None and x1 is not None and b > a else None
    rows.append((name, b - a, c, rate(a, b), max(lag) if lag else None, ex, what))

m = marks
row("active", m["active"], m["remember"], "pair in sync, before the kill")
row("remember", m["remember"], m["sync"], "be2 down: be1 commits alone")
row("remember, last %.0f s" % phase_s, m["sync"] - phase_s, m["sync"], "the rate without catch-up")
row("catch-up (to ADD)", m["sync"], m["exec"], "restart -> both partitions pri_act/sec_act")
row("backlog exec", m["exec"], m["after"], "in sync -> be2 executed its backlog" if exec_ok
    else "in sync, be2 executing its backlog (stopped after EXEC_MAX_S)")
row("after", m["after"], m["end"], "in sync" + ("" if exec_ok else ", backlog still executing"))
row("drain (no load)", m["drain"], m["drained"], "be2 executes the rest, no load")

print("\n%-22s %9s %9s %9s %12s %12s  %s" % ("phase", "seconds", "commits", "be1 tx/s", "be2 lag max",
      "be2 exec/s", "what"))
for r in rows:
    print("%-22s %9.1f %9.0f %9.1f %12s %12s  %s" % (r[0], r[1], r[2], r[3] or 0,
          "-" if r[4] is None else "%d" % r[4], "-" if r[5] is None else "%.1f" % r[5], r[6]))
print("(commits and tx/s: be1's hardened CSNs, both partitions; be2 lag: be1 hardened - be2 applied;"
      " be2 exec/s: be2's applied CSNs per second)")
ctr = {}
for node in ("be1", "be2"):
    try:
        d = json.load(open("%s/ctr.%s" % (t, node)))
        ctr[node] = d[0] if isinstance(d, list) else d
    except (OSError, ValueError):
        ctr[node] = {}
c1, c2 = ctr["be1"], ctr["be2"]
print("\nbe1: backfill reads %s (%s records read back from its journal), window_dropped %s, single-copy commits %s;"
      " be2 (since its restart): shadow records received %s, executed %s, handshakes %s, truncations %s"
      % (c1.get("backfill_reads"), c1.get("backfill_records"), c1.get("window_dropped"),
         c1.get("single_copy_commits"), c2.get("shadow_records_recv"), c2.get("shadow_executed"),
         c2.get("shadow_hellos"), c2.get("shadow_truncations")))
print("databases after the run: %s" % compare)
print("load: rtrbench tx --channels %s, closed loop; load average before %s, at the end of the load %s, after %s" % (chans, l0, l1, l2))
r_rem = rate(m["sync"] - phase_s, m["sync"])
r_act = rate(m["active"], m["remember"])
r_cu = rate(m["sync"], m["exec"])
r_ex = rate(m["exec"], m["after"])
ratio = lambda a, b: None if a is None or not b else round(a / b, 4)
rnd = lambda v: None if v is None else round(v, 1)
out = {
    "n": n,
    "remember_commits": round(at(m["sync"]) - at(m["remember"])),
    "catchup_s": round(m["exec"] - m["sync"], 2),
    "backlog_exec_done": exec_ok,
    "backlog_exec_s": round(m["after"] - m["exec"], 2),
    "drain_s": round(m["drained"] - m["drain"], 2),
    "tps_active": rnd(r_act),
    "tps_remember": rnd(r_rem),
    "tps_catchup": rnd(r_cu),
    "tps_backlog_exec": rnd(r_ex),
    "ratio_catchup_vs_remember": ratio(r_cu, r_rem),
    "ratio_backlog_exec_vs_remember": ratio(r_ex, r_rem),
}
print(json.dumps(out))
PY
[ "$DRAINED" = 1 ] || exit 1
