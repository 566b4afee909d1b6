#!/usr/bin/env bash
# bank_e2e_test.sh RTRCLI BANK_SERVER BANK_CLIENT BANK_VERIFY - the bank example end to end on
# a real local facility (rtr-router, 2 rtr-backends started by `rtrcli start facility`):
#   1. two bank servers (one per partition), 400 transfers from 4 channels, bank_verify: money
#      conserved, every accepted transfer applied once, no rejected one applied;
#   2. a bank server killed with SIGKILL in the middle of 600 transfers and restarted: the
#      backend replays what it held, bank_verify still finds every TID applied exactly once;
#   3. SIGTERM stops the servers cleanly, `rtrcli stop facility` the daemons.
# Every check prints "ok - NAME" or "FAIL - NAME" with the evidence; exit 1 at the first
# failure. Processes are stopped by their pids; ports and ipc paths derive from this
# script's pid so parallel suites do not clash. Waits poll with a deadline.
set -u

RTRCLI=${1:?usage: bank_e2e_test.sh RTRCLI BANK_SERVER BANK_CLIENT BANK_VERIFY}
SERVER=${2:?} CLIENT=${3:?} VERIFY=${4:?}
T=$(mktemp -d /tmp/rtr-bank-XXXXXX) || exit 1
P=$$
BASE=$((18000 + (P % 300) * 10)) # below the ephemeral ports (32768-60999)
S1="" S2="" CPID=""

cleanup() {
    for p in $S1 $S2 $CPID; do kill -KILL "$p" 2>/dev/null; done
    "$RTRCLI" stop facility "$T/f.conf" --run "$T/run" --timeout 2000 >/dev/null 2>&1
    [ -n "${RTR_KEEP_TEST_DIR:-}" ] && echo "kept $T" || rm -rf "$T"
    rm -f /tmp/rtrb-$P-*
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

# wait_exit PID SECONDS - poll until PID has exited, or fail.
wait_exit() {
    local end=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "pid $1 still running after $2 s"
        sleep 0.05
    done
}

# wait_settled SECONDS - poll the backends' admin interface until no transaction is undecided
# or waiting for its server (a server killed after the commit decision holds its transaction
# until the backend notices the loss, failure_timeout_ms, and replays it to another server).
wait_settled() {
    local end=$((SECONDS + $1))
    until "$RTRCLI" --json show transaction >"$T/tx.out" 2>&1 && python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
busy = [r for o in d if o.get("title") == "transactions" for r in o["rows"] if r[2] != "DONE"]
sys.exit(1 if busy else 0)' "$T/tx.out"; do
        [ "$SECONDS" -lt "$end" ] || fail "transactions still in flight after $1 s: $(cat "$T/tx.out")"
        sleep 0.1
    done
}

cat >"$T/f.conf" <<CONF
facility = "BANKT";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = ( { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
              admin = "ipc:///tmp/rtrb-$P-r1.adm"; } );
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 2))"; servers = "ipc:///tmp/rtrb-$P-be1.srv";
    admin = "ipc:///tmp/rtrb-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 3))"; servers = "ipc:///tmp/rtrb-$P-be2.srv";
    admin = "ipc:///tmp/rtrb-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "LOW"; low = [ 0 ]; high = [ 999 ]; primary = "be1"; },
  { name = "HIGH"; low = [ 1000 ]; high = [ 1999 ]; primary = "be2"; } );
CONF
export RTR_CONFIG="$T/f.conf"

start_server() { # NAME PARTITION NODE -> pid in $!
    "$SERVER" --db "$T/$1" --partition "$2" --node "$3" --accounts 20 --initial 5000 --quiet \
        >>"$T/$1.out" 2>>"$T/$1.err" &
}

CHECK="rtrcli start facility: router and two backends answer"
"$RTRCLI" start facility "$T/f.conf" --run "$T/run" >"$T/start.out" 2>&1 ||
    fail "exit $?: $(cat "$T/start.out")"
grep -q "facility BANKT is up: 1 router, 2 backends" "$T/start.out" || fail "$(cat "$T/start.out")"
ok

CHECK="two bank servers open their channels"
start_server db1 LOW be1; S1=$!
start_server db2 high be2; S2=$!
wait_for "$T/db1.out" "^serving accounts 0\.\.999$" 20
wait_for "$T/db2.out" "^serving accounts 1000\.\.1999$" 20
"$RTRCLI" --json show server >"$T/show.out" 2>&1 || fail "show server: $(cat "$T/show.out")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if sum(len(o["rows"]) for o in d)==2 else 1)' \
    "$T/show.out" || fail "show server does not list 2 servers: $(cat "$T/show.out")"
ok

CHECK="400 transfers from 4 channels, verified"
"$CLIENT" --log "$T/c1.log" --transfers 400 --channels 4 --accounts 20 --max-amount 500 \
    --overdraw-pct 10 --seed 7 --quiet >"$T/c1.out" 2>&1 || fail "bank_client exit $?"
[ "$(wc -l <"$T/c1.log")" -eq 400 ] || fail "the log has $(wc -l <"$T/c1.log") lines, not 400"
"$VERIFY" --db "$T/db1" --db "$T/db2" --log "$T/c1.log" --json >"$T/v1.out" 2>&1 ||
    fail "bank_verify exit $?: $(cat "$T/v1.out")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
ok = d["ok"] and d["total"] == d["expected"] == 40*5000 and d["accepted"] > 0 and d["rejected"] >= 10
ok = ok and d["applied"] == d["accepted"] and d["unknown"] == 0
sys.exit(0 if ok else 1)' "$T/v1.out" || fail "figures: $(cat "$T/v1.out")"
ok

CHECK="server killed (SIGKILL) mid-run and restarted: every TID applied exactly once"
: >"$T/c2.log"
"$CLIENT" --log "$T/c2.log" --transfers 600 --channels 4 --accounts 20 --max-amount 500 \
    --overdraw-pct 5 --seed 8 --quiet >"$T/c2.out" 2>&1 &
CPID=$!
end=$((SECONDS + 60))
until [ "$(wc -l <"$T/c2.log")" -ge 100 ]; do
    [ "$SECONDS" -lt "$end" ] || fail "the client did not reach 100 transfers in 60 s"
    sleep 0.05
done
kill -KILL "$S1"
wait "$S1" 2>/dev/null
start_server db1 LOW be1; S1=$!
wait_exit "$CPID" 120
wait "$CPID" || fail "bank_client exit $? after the restart: $(cat "$T/c2.out")"
CPID=""
wait_settled 30
"$VERIFY" --db "$T/db1" --db "$T/db2" --log "$T/c1.log" --log "$T/c2.log" --json \
    >"$T/v2.out" 2>&1 || fail "bank_verify exit $?: $(cat "$T/v2.out")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(0 if d["ok"] and d["applied"] == d["accepted"] and d["accepted"] + d["rejected"] == 1000 else 1)' \
    "$T/v2.out" || fail "figures: $(cat "$T/v2.out")"
ok

CHECK="SIGTERM stops the bank servers cleanly"
kill -TERM "$S1" "$S2"
wait "$S1"; r1=$?
wait "$S2"; r2=$?
S1="" S2=""
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] || fail "exit statuses $r1 $r2"
grep -q "^stopping: " "$T/db2.out" || fail "no stopping line"
ok

CHECK="rtrcli stop facility"
"$RTRCLI" stop facility "$T/f.conf" --run "$T/run" >"$T/stop.out" 2>&1 || fail "exit $?"
[ "$(grep -c '^stopped ' "$T/stop.out")" -eq 3 ] || fail "$(cat "$T/stop.out")"
ok
echo "all checks passed"
