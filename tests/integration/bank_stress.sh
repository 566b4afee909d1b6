#!/usr/bin/env bash
# bank_stress.sh RTRCLI BANK_SERVER BANK_CLIENT BANK_VERIFY [TRANSFERS] - issue 4's first
# integration test, with real processes: a facility of 1 router and 2 backends serving 2
# partitions (`rtrcli start facility`), 2 concurrent bank servers per partition (the two share
# the partition's queue and its Berkeley DB environment), TRANSFERS (default 10,000) transfers
# from 16 concurrent client channels; once a third of them are logged, one bank server is
# killed with SIGKILL and started again. Afterwards (no transaction in flight in the
# backends): every transfer the client saw ACCEPTED is applied exactly once, REJECTED ones not
# at all, UNKNOWN ones at most once, the money is conserved, and the backends counted replays.
# Prints the figures. Exit 0 when every check passed, 1 at the first failure.
set -u

RTRCLI=${1:?usage: bank_stress.sh RTRCLI BANK_SERVER BANK_CLIENT BANK_VERIFY [TRANSFERS]}
SERVER=${2:?} CLIENT=${3:?} VERIFY=${4:?}
N=${5:-10000}
CHANNELS=16
. "$(dirname "$0")/bank_lib.sh"

T0=$(now_ms)
bank_setup stress

CHECK="4 bank servers open their channels (2 per partition, sharing its database)"
srv_start 0 dbL LOW be1
srv_wait_serving 0 1 30
srv_start 1 dbL LOW be1
srv_start 2 dbH HIGH be2
srv_wait_serving 2 1 30
srv_start 3 dbH HIGH be2
srv_wait_serving 1 1 30
srv_wait_serving 3 1 30
"$RTRCLI" --json show server --config "$T/f.conf" >"$T/show.json" 2>&1 ||
    fail "show server: $(cat "$T/show.json")"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
rows = [r for o in d for r in o["rows"]]
parts = sorted(r[2] for r in rows)
sys.exit(0 if parts == ["HIGH", "HIGH", "LOW", "LOW"] else 1)' "$T/show.json" ||
    fail "show server does not list 2 servers per partition: $(cat "$T/show.json")"
ok

CHECK="$N transfers from $CHANNELS channels, one bank server killed (SIGKILL) mid-run"
: >"$T/c.log"
TC=$(now_ms)
"$CLIENT" --log "$T/c.log" --transfers "$N" --channels "$CHANNELS" --accounts 100 \
    --max-amount 2000 --overdraw-pct 5 --seed "$SEED" --timeout 10000 --quiet >"$T/c.out" 2>&1 &
CPID=$!
wait_lines "$T/c.log" $((N / 3)) 90 "$CPID"
KILLED=${SRV_PIDS[0]}
KILL_TIME=$(date -u +%H:%M:%S.%3N)
kill -KILL "$KILLED"
wait "$KILLED" 2>/dev/null
KILLED_AT=$(wc -l <"$T/c.log")
echo "   killed bank server 0 (pid $KILLED, partition LOW) at $KILL_TIME UTC after $KILLED_AT logged transfers"
srv_restart 0
# Until the client is done: restart any bank server that exits (a server whose database
# environment is recovered by its restarted sibling exits for a restart; see bank_server.c).
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
# exit 1 is allowed only for UNKNOWN outcomes (bank_verify checks those at most once)
grep -q "^bank_client: .* accepted" "$T/c.out" || fail "no summary from bank_client (exit $crc)"
unknown=$(sed -n 's/^bank_client: .* \([0-9]*\) unknown in .*/\1/p' "$T/c.out")
[ "$crc" -eq 0 ] || [ "${unknown:-0}" -gt 0 ] || fail "bank_client exit $crc: $(cat "$T/c.out")"
ok "$(grep '^bank_client: .* accepted' "$T/c.out")"

CHECK="the backends settle: no transaction in flight"
wait_settled 60
srv_supervise
ok

CHECK="the backends replayed the killed server's transactions"
replays=$(counter replays)
moved=$(counter moved)
already=$(cat "$T"/s*.out | sed -n 's/^stopping: .* \([0-9]*\) replays already applied.*/\1/p' |
    awk '{s += $1} END {print s + 0}')
[ "$replays" -ge 1 ] || fail "show counters: replays=$replays: $(cat "$T/counters.json")"
ok "replays=$replays moved=$moved"

CHECK="SIGTERM stops the bank servers cleanly"
srv_stop_all
already=$(cat "$T"/s*.out | sed -n 's/^stopping: .* \([0-9]*\) replays already applied.*/\1/p' |
    awk '{s += $1} END {print s + 0}')
ok "replays found already applied by the servers: $already"

CHECK="bank_verify: accepted applied exactly once, rejected never, unknown at most once, money conserved"
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
if d["accepted"] < n // 2 or d["rejected"] < n // 100: bad.append("too few accepted or rejected")
print(" ".join(bad)); sys.exit(1 if bad else 0)' "$T/v.json" "$N" >"$T/v.check" ||
    fail "$(cat "$T/v.check"): $(cat "$T/v.json")"
ok

CHECK="rtrcli stop facility"
"$RTRCLI" stop facility "$T/f.conf" --run "$T/run" >"$T/stop.out" 2>&1 || fail "exit $?: $(cat "$T/stop.out")"
ok
check_sanitizers

python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print("figures: transfers %d, accepted %d, rejected %d, unknown %d (applied %d), applied %d, "
      "money %d" % (int(sys.argv[2]), d["accepted"], d["rejected"], d["unknown"],
      d["unknown_applied"], d["applied"], d["total"]))' "$T/v.json" "$N"
echo "figures: replays $replays (moved $moved, found already applied $already), server restarts $SRV_RESTARTS, killed after $KILLED_AT"
echo "figures: client run $(((TE - TC) / 1000)).$(((TE - TC) % 1000 / 100)) s ($((N * 1000 / (TE - TC + 1))) tx/s), test $((($(now_ms) - T0) / 1000)) s"
echo "figures: seed $SEED (BANK_SEED=$SEED replays this run's transfers)"
echo "all checks passed"
