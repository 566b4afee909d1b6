#!/usr/bin/env bash
# bank_router_restart.sh RTRCLI RTR_ROUTER BANK_SERVER BANK_CLIENT BANK_VERIFY [TRANSFERS] -
# issue 4's second integration test, with real processes: the facility of bank_stress.sh (1
# router, 2 backends, 2 partitions, 2 bank servers per partition sharing its database) runs
# TRANSFERS (default 4,000) transfers from 16 client channels; once a third are logged the
# router is killed with SIGKILL, and once both backends have declared it lost it is started
# again with the command line `rtrcli start facility` gives it. Shows: every transaction in
# flight in the router at the kill ends with a clear status (accepted or rejected, learned by
# TxQuery through the restarted router; RTR_STS_NOROUTER before its vote; or
# RTR_STS_OUTCOMEUNKNOWN), none waits forever; the clients carry on through the restarted
# router; afterwards nothing accepted is lost, nothing is applied twice, nothing rejected is
# applied, and the money is conserved (bank_verify). Prints the statuses the clients saw.
# Exit 0 when every check passed, 1 at the first failure.
set -u

RTRCLI=${1:?usage: bank_router_restart.sh RTRCLI RTR_ROUTER BANK_SERVER BANK_CLIENT BANK_VERIFY [TRANSFERS]}
ROUTER=${2:?} SERVER=${3:?} CLIENT=${4:?} VERIFY=${5:?}
N=${6:-4000}
CHANNELS=16
. "$(dirname "$0")/bank_lib.sh"

T0=$(now_ms)
bank_setup router-restart

CHECK="4 bank servers open their channels (2 per partition, sharing its database)"
srv_start 0 dbL LOW be1
srv_wait_serving 0 1 30
srv_start 1 dbL LOW be1
srv_start 2 dbH HIGH be2
srv_wait_serving 2 1 30
srv_start 3 dbH HIGH be2
srv_wait_serving 1 1 30
srv_wait_serving 3 1 30
ok

# router_incarnation - the incarnation the router reports (show router), or "" if none answers.
router_incarnation() {
    "$RTRCLI" --json show router --config "$T/f.conf" --timeout 500 2>/dev/null | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
d = d if isinstance(d, list) else [d]
print(next((str(o.get("incarnation", "")) for o in d if o.get("node") == "r1"), ""))'
}

CHECK="$N transfers from $CHANNELS channels; the router killed (SIGKILL) and restarted mid-run"
INC1=$(router_incarnation)
[ -n "$INC1" ] || fail "show router gives no incarnation for r1"
RPID=$(cat "$T/run/r1.pid")
: >"$T/c.log"
TC=$(now_ms)
"$CLIENT" --log "$T/c.log" --transfers "$N" --channels "$CHANNELS" --accounts 100 \
    --max-amount 2000 --overdraw-pct 5 --seed "$SEED" --timeout 10000 --quiet >"$T/c.out" 2>&1 &
CPID=$!
wait_lines "$T/c.log" $((N / 3)) 90 "$CPID"
# the transactions in flight in the router just before the kill (some may end before it)
"$RTRCLI" --json show transaction --config "$T/f.conf" --node r1 >"$T/inflight.json" 2>&1
KILL_TIME=$(date -u +%H:%M:%S.%3N)
kill -KILL "$RPID"
KILLED_AT=$(wc -l <"$T/c.log")
# the pid is not our child (rtrcli started it in its own session): poll until it is gone
end=$((SECONDS + 10))
while [ -d "/proc/$RPID" ] && ! grep -q '^State:.*Z' "/proc/$RPID/status" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || fail "router pid $RPID still there 10 s after SIGKILL"
    sleep 0.02
done
TK=$(now_ms)
# the router stays down until both backends have declared it lost (failure_timeout_ms of
# silence; the clients' librtr notices it the same way), then it is started again
end=$((SECONDS + 20))
until "$RTRCLI" --json show backend --config "$T/f.conf" >"$T/backend.json" 2>&1 &&
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
rows = [r for o in d if o.get("title") == "backend" for r in o["rows"]]
sys.exit(0 if len(rows) == 2 and all(r[2] == "down" for r in rows) else 1)' "$T/backend.json"; do
    [ "$SECONDS" -lt "$end" ] || fail "the backends still see the router up 20 s after the kill: $(cat "$T/backend.json")"
    sleep 0.05
done
TD=$(now_ms)
# the same command line as `rtrcli start facility`; the pid file lets `rtrcli stop facility`
# stop it at the end
setsid "$ROUTER" --config "$T/f.conf" --node r1 --log "$T/run/r1.log" </dev/null \
    >>"$T/run/r1.log" 2>&1 &
EXTRA_PIDS=$!
echo "$EXTRA_PIDS" >"$T/run/r1.pid"
echo "   killed router r1 (pid $RPID) at $KILL_TIME UTC after $KILLED_AT logged transfers; both backends saw it down after $((TD - TK)) ms; restarted as pid $EXTRA_PIDS"
end=$((SECONDS + 20))
until INC2=$(router_incarnation) && [ -n "$INC2" ] && [ "$INC2" != "$INC1" ]; do
    kill -0 "$EXTRA_PIDS" 2>/dev/null || fail "the restarted router exited"
    [ "$SECONDS" -lt "$end" ] || fail "the restarted router does not answer show router within 20 s"
    sleep 0.05
done
TUP=$(now_ms)
end=$((SECONDS + 110))
while kill -0 "$CPID" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || fail "bank_client still running after 110 s ($(wc -l <"$T/c.log") logged)"
    srv_supervise
    sleep 0.1
done
wait "$CPID"
crc=$?
CPID=""
TE=$(now_ms)
lines=$(wc -l <"$T/c.log")
[ "$lines" -eq "$N" ] || fail "the client log has $lines lines, not $N (bank_client exit $crc): $(cat "$T/c.out")"
ok "router incarnation $INC1 -> $INC2, answering $((TUP - TK)) ms after the kill"

# The statuses: OUTCOME STATUS per line of the log.
awk '{print $2, $3}' "$T/c.log" | sort | uniq -c | sort -rn >"$T/statuses.out"
count() { awk -v o="$1" -v s="$2" '$2 == o && $3 == s {print $1}' "$T/statuses.out" | head -1; }
norouter=$(count REJECTED NOROUTER)
unknown_st=$(count UNKNOWN OUTCOMEUNKNOWN)
timeouts=$(awk '$2 == "UNKNOWN" && $3 != "OUTCOMEUNKNOWN"' "$T/c.log" | wc -l)

CHECK="every transaction in flight at the kill got a clear status (none left waiting)"
# TIDs of the router's table ("<incarnation hex>.<counter>") as the client logs them (32 hex)
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
for o in (d if isinstance(d, list) else [d]):
    for r in o.get("rows", []):
        inc, ctr = r[0].split(".")
        print("%016x%016x" % (int(inc, 16), int(ctr)))' "$T/inflight.json" >"$T/inflight.tids" ||
    fail "cannot read the router's transactions before the kill: $(cat "$T/inflight.json")"
ninflight=$(wc -l <"$T/inflight.tids")
[ "$ninflight" -ge 1 ] || fail "no transaction in flight in the router before the kill: $(cat "$T/inflight.json")"
grep -F -f "$T/inflight.tids" "$T/c.log" >"$T/inflight.log"
[ "$(wc -l <"$T/inflight.log")" -eq "$ninflight" ] ||
    fail "$ninflight TIDs in flight, $(wc -l <"$T/inflight.log") of them in the client log"
awk '{print $2, $3}' "$T/inflight.log" | sort | uniq -c | sort -rn >"$T/inflight.statuses"
[ "$timeouts" -eq 0 ] ||
    fail "$timeouts transfers got no outcome before the client's receive deadline: $(awk '$2 == "UNKNOWN" && $3 != "OUTCOMEUNKNOWN"' "$T/c.log" | head -5)"
grep -q "^bank_client: .* accepted" "$T/c.out" || fail "no summary from bank_client (exit $crc): $(cat "$T/c.out")"
ok "$ninflight in flight: $(tr -s ' \n' ' ' <"$T/inflight.statuses"); in all NOROUTER ${norouter:-0}, OUTCOMEUNKNOWN ${unknown_st:-0}; bank_client exit $crc"

CHECK="the clients carry on through the restarted router"
after=$(tail -n +$((KILLED_AT + 100)) "$T/c.log" | awk '$2 == "ACCEPTED"' | wc -l)
[ "$after" -ge $((N / 3)) ] || fail "only $after transfers accepted after the restart: $(tail -5 "$T/c.log")"
ok "$after transfers accepted after the restart"

CHECK="the backends settle: no transaction in flight"
wait_settled 60
ok

CHECK="SIGTERM stops the bank servers cleanly"
srv_stop_all
ok

CHECK="bank_verify: nothing accepted lost, nothing applied twice, nothing rejected applied, money conserved"
"$VERIFY" --db "$T/dbL" --db "$T/dbH" --log "$T/c.log" --json >"$T/v.json" 2>"$T/v.err" ||
    fail "bank_verify exit $?: $(cat "$T/v.json" "$T/v.err")"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
bad = []
if not d["ok"]: bad.append("not ok")
if d["total"] != d["expected"] or d["expected"] != 2 * 100 * 100000: bad.append("money")
if d["accepted"] + d["rejected"] + d["unknown"] != n: bad.append("outcomes != transfers")
if d["accepted_missing"] or d["rejected_applied"] or d["duplicates"]: bad.append("exactly once")
if d["applied"] != d["accepted"] + d["unknown_applied"]: bad.append("applied != accepted + unknown applied")
if d["applied_unlogged"]: bad.append("applied but never logged")
print(" ".join(bad)); sys.exit(1 if bad else 0)' "$T/v.json" "$N" >"$T/v.check" ||
    fail "$(cat "$T/v.check"): $(cat "$T/v.json")"
ok

CHECK="rtrcli stop facility (the restarted router included)"
"$RTRCLI" stop facility "$T/f.conf" --run "$T/run" >"$T/stop.out" 2>&1 || fail "exit $?: $(cat "$T/stop.out")"
grep -q "^stopped r1 (pid $EXTRA_PIDS)" "$T/stop.out" || fail "$(cat "$T/stop.out")"
wait "$EXTRA_PIDS" 2>/dev/null
EXTRA_PIDS=""
ok
check_sanitizers

echo "figures: statuses the clients saw (count OUTCOME STATUS), all transfers:"
sed 's/^/   /' "$T/statuses.out"
echo "figures: statuses of the $ninflight transactions in flight in the router at the kill:"
sed 's/^/   /' "$T/inflight.statuses"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print("figures: transfers %d, accepted %d, rejected %d, unknown %d (applied %d), applied %d, "
      "money %d" % (int(sys.argv[2]), d["accepted"], d["rejected"], d["unknown"],
      d["unknown_applied"], d["applied"], d["total"]))' "$T/v.json" "$N"
echo "figures: router killed after $KILLED_AT transfers, down $((TD - TK)) ms, answering again after $((TUP - TK)) ms; bank server restarts $SRV_RESTARTS"
echo "figures: client run $(((TE - TC) / 1000)).$(((TE - TC) % 1000 / 100)) s, test $((($(now_ms) - T0) / 1000)) s"
echo "figures: seed $SEED (BANK_SEED=$SEED replays this run's transfers)"
echo "all checks passed"
