#!/usr/bin/env bash
# bench_tx_test.sh RTRCLI RTRBENCH BANK_SERVER - `rtrbench tx` works against a real local
# facility (rtr-router and 2 rtr-backends started by `rtrcli start facility`, one bank_server
# per partition). It checks the tool, not the timing:
#   1. --help, and a usage error exits 2;
#   2. no facility running: exit 1 with a clear message, within the open timeout;
#   3. 2 channels for 2 s, event loop, --json: parses, committed > 0, no errors, percentiles
#      ordered, rate = committed / window;
#   4. the same with --threads; 5. the text report.
# Every check prints "ok - NAME" or "FAIL - NAME" with the evidence; exit 1 at the first
# failure. Processes are stopped by their pids; ports (61000-64999, above Linux's ephemeral
# range, used by no other test) and ipc paths derive from this script's pid. Waits poll with a
# deadline.
set -u

RTRCLI=${1:?usage: bench_tx_test.sh RTRCLI RTRBENCH BANK_SERVER}
BENCH=${2:?} SERVER=${3:?}
T=$(mktemp -d /tmp/rtr-btx-XXXXXX) || exit 1
P=$$
BASE=$((61000 + (P % 500) * 8))
S1="" S2="" UP=0

cleanup() {
    for p in $S1 $S2; do kill -TERM "$p" 2>/dev/null; done
    for p in $S1 $S2; do wait "$p" 2>/dev/null; done
    [ "$UP" = 1 ] && "$RTRCLI" stop facility "$T/f.conf" --run "$T/run" --timeout 5000 >/dev/null 2>&1
    [ -n "${RTR_KEEP_TEST_DIR:-}" ] && echo "kept $T" || rm -rf "$T"
    rm -f /tmp/rtrbt-$P-*
}
trap cleanup EXIT

fail() {
    echo "FAIL - $CHECK: $*"
    for f in "$T"/*.out "$T"/*.err "$T"/run/*.log; do
        [ -s "$f" ] && { echo "---- $f (last 15 lines)"; tail -n 15 "$f"; }
    done
    exit 1
}
ok() { echo "ok - $CHECK"; }

# wait_for FILE REGEX SECONDS - poll until FILE matches, or fail.
wait_for() {
    local end=$((SECONDS + $3))
    until grep -qE -- "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "no /$2/ in $1 within $3 s"
        sleep 0.05
    done
}

# check_json FILE CHANNELS DRIVER - the report's figures hang together.
check_json() {
    python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want_ch, want_drv = int(sys.argv[2]), sys.argv[3]
l = d["latency_us"]
bad = []
if d["benchmark"] != "tx" or d["channels"] != want_ch or d["driver"] != want_drv: bad.append("header")
if d["partitions"] != 2: bad.append("partitions")
if not d["committed"] > 0: bad.append("committed")
if d["errors"] != 0 or d["broken_channels"] != 0 or d["unknown"] != 0: bad.append("errors")
if not 0 < l["p50"] <= l["p95"] <= l["p99"] <= l["p99_9"] <= l["max"]: bad.append("percentiles")
if abs(d["committed_per_s"] - d["committed"] / d["window_s"]) > 0.01: bad.append("rate")
if not 1.9 < d["window_s"] < 2.1: bad.append("window")
if sum(d["rejected_by_status"].values()) != d["rejected"]: bad.append("rejected_by_status")
if bad:
    print("bad: " + ", ".join(bad) + ": " + json.dumps(d))
    sys.exit(1)
PY
}

cat >"$T/f.conf" <<CONF
facility = "BTX";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = ( { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
              admin = "ipc:///tmp/rtrbt-$P-r1.adm"; } );
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 2))"; servers = "ipc:///tmp/rtrbt-$P-be1.srv";
    admin = "ipc:///tmp/rtrbt-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 3))"; servers = "ipc:///tmp/rtrbt-$P-be2.srv";
    admin = "ipc:///tmp/rtrbt-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "LOW"; low = [ 0 ]; high = [ 999 ]; primary = "be1"; },
  { name = "HIGH"; low = [ 1000 ]; high = [ 1999 ]; primary = "be2"; } );
CONF
export RTR_CONFIG="$T/f.conf"

CHECK="rtrbench tx --help; a bad option is a usage error"
"$BENCH" tx --help >"$T/help.out" 2>&1 || fail "--help exit $?"
grep -q -- "--channels N" "$T/help.out" || fail "$(cat "$T/help.out")"
"$BENCH" tx --channels 0 >"$T/usage.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "--channels 0 exited $rc, not 2"
grep -q "out of range" "$T/usage.out" || fail "$(cat "$T/usage.out")"
ok

CHECK="no facility running: exit 1 with a clear message"
"$BENCH" tx --channels 2 --duration 1 --open-timeout 1000 --quiet >"$T/nofac.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "exit status $rc instead of 1"
grep -q "no answer from facility BTX within 1000 ms" "$T/nofac.out" || fail "$(cat "$T/nofac.out")"
ok

CHECK="facility up, one bank server per partition"
"$RTRCLI" start facility "$T/f.conf" --run "$T/run" >"$T/start.out" 2>&1 ||
    fail "rtrcli start facility exit $?"
UP=1
"$SERVER" --db "$T/db1" --partition LOW --node be1 --accounts 20 --quiet >"$T/s1.out" 2>"$T/s1.err" &
S1=$!
"$SERVER" --db "$T/db2" --partition HIGH --node be2 --accounts 20 --quiet >"$T/s2.out" 2>"$T/s2.err" &
S2=$!
wait_for "$T/s1.out" "^serving accounts 0\.\.999$" 20
wait_for "$T/s2.out" "^serving accounts 1000\.\.1999$" 20
ok

CHECK="2 channels, event loop, --json: transactions committed, figures consistent"
"$BENCH" tx --channels 2 --duration 2 --warmup 0 --accounts 20 --json --quiet \
    >"$T/loop.json" 2>"$T/loop.err" || fail "exit $?"
check_json "$T/loop.json" 2 event-loop || fail "see above"
ok

CHECK="2 channels, --threads, --json: transactions committed, figures consistent"
"$BENCH" tx --channels 2 --duration 2 --warmup 0 --accounts 20 --threads --json \
    >"$T/thr.json" 2>"$T/thr.err" || fail "exit $?"
check_json "$T/thr.json" 2 threads || fail "see above"
grep -q "measuring" "$T/thr.err" || fail "no progress line on stderr: $(cat "$T/thr.err")"
ok

CHECK="text report"
"$BENCH" tx --channels 1 --duration 1 --warmup 0 --accounts 20 --quiet >"$T/text.out" 2>&1 ||
    fail "exit $?"
grep -qE "^committed tx/s +[0-9]+$" "$T/text.out" || fail "$(cat "$T/text.out")"
grep -qE "^latency p99\.9 " "$T/text.out" || fail "$(cat "$T/text.out")"
ok

CHECK="the bank servers saw the transfers and stop cleanly"
kill -TERM "$S1" "$S2"
wait "$S1"; r1=$?
wait "$S2"; r2=$?
S1="" S2=""
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] || fail "exit statuses $r1 $r2"
grep -qE "^stopping: [1-9][0-9]* applied" "$T/s1.out" || fail "$(cat "$T/s1.out")"
ok
echo "all checks passed"
