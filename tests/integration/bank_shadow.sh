#!/usr/bin/env bash
# bank_shadow.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP [TRANSFERS] -
# a shadow pair with real processes (docs/shadow-protocol.md §9, scenarios 1-4): a facility of
# 3 routers and 2 backends with ONE shadowed partition P holding every account (be1 primary,
# be2 secondary at bootstrap), a bank server on EACH backend with its own database
# (shadow_lib.sh).
#   phase 1: TRANSFERS (default 2,000) transfers from 8 client channels; then wait until be2
#            has applied everything be1 applied (show partition: applied_n equal, everything
#            hardened on be1 applied); both databases dump identical, bank_verify passes on
#            each (exactly once, conservation).
#   phase 2: TRANSFERS / 2 more; once a third are logged, be2 is killed with SIGKILL, and once
#            be1 has seen it silent it is started again; the load finishes; the same checks.
#   phase 3: TRANSFERS / 2 more; the primary be1 killed after a third: be2 is promoted (a new
#            epoch, remember), be1 restarted rejoins as the member; the same checks.
#   phase 4: the primary be2 SIGSTOPped past the failure timeout, then continued: fenced,
#            demoted, rejoined; the same checks (BANK_SHADOW_SIGSTOP=0 skips it).
# At the end, with the facility stopped, the journal dumps of both members agree: no CSN with
# two TIDs, every accepted TID committed at exactly one CSN in each.
# About 50 s with gcc on a 2-core machine (the secondary executes serially, milestone M3).
# Exit 0 when every check passed, 1 at the first failure. Every process is ended by its PID.
set -u

RTRCLI=${1:?usage: bank_shadow.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP [TRANSFERS]}
BACKEND=${2:?} SERVER=${3:?} CLIENT=${4:?} VERIFY=${5:?} DUMP=${6:?}
N1=${7:-2000}
N2=$((N1 / 2))
CHANNELS=8
. "$(dirname "$0")/shadow_lib.sh"

T0=$(now_ms)
shadow_setup shadow

CHECK="a bank server on each backend, each with its own database"
srv_start 0 db1 P be1
srv_start 1 db2 P be2
srv_wait_serving 0 1 30
srv_wait_serving 1 1 30
ok

CHECK="phase 1: $N1 transfers from $CHANNELS channels through the pair"
TC=$(now_ms)
run_client "$T/c1.log" "$N1"
wait_client "$T/c1.log" 110
TE=$(now_ms)
ok "$CLIENT_SUMMARY"

CHECK="phase 1: be2 applies everything be1 applied"
wait_pair_applied 60
ok "applied_n $A1 on both, $WAIT_MS ms after the client ended"
P1_APPLIED=$A1 P1_WAIT=$WAIT_MS P1_RUN=$((TE - TC))

CHECK="phase 1: the two databases are identical; exactly once and conservation on each"
compare_dbs p1 "$T/c1.log"
ok "$APPLIED transfers applied on each"
P1_DBAPPLIED=$APPLIED

CHECK="phase 2: $N2 transfers; be2 killed (SIGKILL) after a third, restarted once be1 saw it silent"
SEED=$((SEED + 1)) # other transfers than phase 1's
TC=$(now_ms)
run_client "$T/c2.log" "$N2"
wait_lines "$T/c2.log" $((N2 / 3)) 90 "$CPID"
SILENT0=$(grep -c "BKD-PARTNER-SILENT partner=be2" "$T/run/be1.log")
KILL_TIME=$(date -u +%H:%M:%S.%3N)
node_kill be2
BE2=$KILLED_PID
KILLED_AT=$(wc -l <"$T/c2.log")
TK=$(now_ms)
# be2 stays down until be1 declares it silent (failure_timeout_ms; its bank server's librtr
# notices the same silence and announces its channel again on the new connection). The log
# line is the cheapest thing to poll; show partition must agree.
wait_more "$T/run/be1.log" "BKD-PARTNER-SILENT partner=be2" "$SILENT0" 20
TD=$(now_ms)
part be1
[ "$(pfield be1 partner_up)" = false ] || fail "be1 logged be2 silent, show partition says up: $(cat "$T/part-be1.json")"
node_start be2
BE2_NEW=$NODE_PID
echo "   killed be2 (pid $BE2) at $KILL_TIME UTC after $KILLED_AT logged transfers; be1 saw it silent after $((TD - TK)) ms; restarted as pid $BE2_NEW"
wait_for "$T/run/be1.log" "BKD-PARTNER-UP partner=be2 .*restarted=1" 20
TUP=$(now_ms)
part be1
[ "$(pfield be1 partner_up)" = true ] || fail "be1 logged be2 up, show partition says down: $(cat "$T/part-be1.json")"
wait_client "$T/c2.log" 110
TE=$(now_ms)
after=$(tail -n +$((KILLED_AT + 1)) "$T/c2.log" | awk '$2 == "ACCEPTED"' | wc -l)
[ "$after" -ge $((N2 / 3)) ] || fail "only $after transfers accepted after the kill: $(tail -5 "$T/c2.log")"
ok "$CLIENT_SUMMARY; $after accepted after the kill"
P2_RUN=$((TE - TC))

CHECK="phase 2: the restarted be2 applies everything be1 applied"
wait_pair_applied 60
ok "applied_n $A1 on both, $WAIT_MS ms after the client ended"

CHECK="phase 2: the two databases are identical; exactly once and conservation on each"
compare_dbs p2 "$T/c1.log" "$T/c2.log"
ok "$APPLIED transfers applied on each"

CHECK="phase 3: $N2 transfers; the primary be1 killed (SIGKILL) after a third: be2 takes over, be1 rejoins"
part be1
E0=$(pfield be1 epoch)
SEED=$((SEED + 1))
TC=$(now_ms)
run_client "$T/c3.log" "$N2"
wait_lines "$T/c3.log" $((N2 / 3)) 90 "$CPID"
node_kill be1
BE1=$KILLED_PID
KILLED3=$(wc -l <"$T/c3.log")
TK3=$(now_ms)
# be2 is promoted (a new epoch, alone: remember) and claims the route
wait_partition 30 "be2.role == 'primary' and be2.state == 'remember' and be2.serving and be2.epoch > $E0"
TP3=$(now_ms)
node_start be1
BE1_NEW=$NODE_PID
# be1 comes back as a member: handshake (its undecided tail cut), catch-up, ADD
wait_partition 60 "be1.role == 'member' and be1.state == 'sec_act' and be2.state == 'pri_act'"
TJ3=$(now_ms)
wait_client "$T/c3.log" 110
TE=$(now_ms)
after=$(tail -n +$((KILLED3 + 1)) "$T/c3.log" | awk '$2 == "ACCEPTED"' | wc -l)
[ "$after" -ge 1 ] || fail "nothing accepted after the kill: $(tail -5 "$T/c3.log")"
echo "   killed be1 (pid $BE1) after $KILLED3 logged transfers; be2 served alone after $((TP3 - TK3)) ms; be1 back in sync after $((TJ3 - TK3)) ms"
ok "$CLIENT_SUMMARY; $after accepted after the kill"

CHECK="phase 3: be1 applies everything be2 applied"
wait_pair_applied 60 be2 be1
ok "applied_n $A1 on both, $WAIT_MS ms after the client ended"

CHECK="phase 3: the two databases are identical; every accepted transfer exactly once, conservation"
compare_dbs p3 "$T/c1.log" "$T/c2.log" "$T/c3.log"
ok "$APPLIED transfers applied on each"

# Phase 4 (scenario 4: SIGSTOP of the primary). It once found the woken old primary diverging
# after it rejoined (a move its partner never saw: docs/shadow-protocol.md, departure 12).
PHASE4=0
if [ "${BANK_SHADOW_SIGSTOP:-1}" = 1 ]; then
PHASE4=1
CHECK="phase 4: $N2 transfers; the primary be2 stopped (SIGSTOP) past the failure timeout, then continued"
part be2
E0=$(pfield be2 epoch)
SEED=$((SEED + 1))
run_client "$T/c4.log" "$N2"
wait_lines "$T/c4.log" $((N2 / 3)) 90 "$CPID"
BE2P=$(cat "$T/run/be2.pid")
kill -STOP "$BE2P"
STOPPED4=$(wc -l <"$T/c4.log")
TK4=$(now_ms)
# be1 is promoted while be2 is frozen (a new epoch, alone)
end=$((SECONDS + 30))
until part be1 && [ "$(pfield be1 role state serving)" = "primary remember true" ] &&
    [ "$(pfield be1 epoch)" -gt "$E0" ]; do
    [ "$SECONDS" -lt "$end" ] || { kill -CONT "$BE2P"; fail "be1 did not take over within 30 s: $(cat "$T/part-be1.json")"; }
    sleep 0.1
done
TP4=$(now_ms)
kill -CONT "$BE2P"
# the old primary wakes with an expired lease: it is fenced (nothing of its old epoch is
# decided any more), demoted, and rejoins as the member
end=$((SECONDS + 60))
until part be2 && part be1 && [ "$(pfield be2 role state serving)" = "member sec_act false" ] &&
    [ "$(pfield be1 state)" = "pri_act" ]; do
    [ "$SECONDS" -lt "$end" ] ||
        fail "be2 did not rejoin within 60 s: $(cat "$T/part-be2.json" "$T/part-be1.json")"
    sleep 0.1
done
TJ4=$(now_ms)
wait_client "$T/c4.log" 110
echo "   stopped be2 after $STOPPED4 logged transfers; be1 served alone after $((TP4 - TK4)) ms; be2 back in sync after $((TJ4 - TK4)) ms"
ok "$CLIENT_SUMMARY"

CHECK="phase 4: be2 applies everything be1 applied"
wait_pair_applied 60
ok "applied_n $A1 on both"

CHECK="phase 4: the two databases are identical; every accepted transfer exactly once, conservation"
compare_dbs p4 "$T/c1.log" "$T/c2.log" "$T/c3.log" "$T/c4.log"
ok "$APPLIED transfers applied on each"

fi

CHECK="show counters: the shadow stream moved, nothing refused on the shadow sockets"
"$RTRCLI" --json show counters --config "$T/f.conf" --node be1 >"$T/ctr-be1.json" 2>&1 || fail "$(cat "$T/ctr-be1.json")"
"$RTRCLI" --json show counters --config "$T/f.conf" --node be2 >"$T/ctr-be2.json" 2>&1 || fail "$(cat "$T/ctr-be2.json")"
python3 -c 'import json,sys
def load(p):
    d = json.load(open(p))
    return d[0] if isinstance(d, list) else d
b1, b2 = load(sys.argv[1]), load(sys.argv[2])
bad = []
# both served as primary (be2 in phase 3, be1 in phase 1, 2 and again in phase 4)
phase4 = sys.argv[3] == "1"
if b2["shadow_records_sent"] < 1 or b2["shadow_acks"] < 1: bad.append("be2 sent nothing")
if b1["shadow_records_recv"] < 1 or b1["shadow_executed"] < 1: bad.append("be1 took nothing")
if b1["shadow_divergence"] or b2["shadow_divergence"]: bad.append("divergence")
if b1["shadow_hellos"] < 1: bad.append("be1 never handshook")
if phase4:
    if b1["shadow_records_sent"] < 1 or b1["shadow_acks"] < 1: bad.append("be1 sent nothing")
    if b2["shadow_records_recv"] < 1 or b2["shadow_executed"] < 1: bad.append("be2 took nothing")
    if b2["fenced"] < 1: bad.append("be2 was never fenced")
    if b2["shadow_hellos"] < 1: bad.append("be2 never handshook")
for d in (b1, b2):
    cols = d["columns"]
    for r in d["rows"]:
        if r[0] != "shadow": continue
        row = dict(zip(cols, r))
        for k in ("malformed", "wrong_role", "unknown_peer", "unexpected"):
            if row[k]: bad.append("%s %s=%d" % (d.get("node", "?"), k, row[k]))
print("be1 sent %d records, received %d, executed %d, truncations %d, stale frames refused %d; be2 sent %d, received %d, executed %d, fenced %d, truncations %d" % (
    b1["shadow_records_sent"], b1["shadow_records_recv"], b1["shadow_executed"],
    b1["shadow_truncations"], b1["fenced_frames"], b2["shadow_records_sent"],
    b2["shadow_records_recv"], b2["shadow_executed"], b2["fenced"], b2["shadow_truncations"]))
print(" ".join(bad), file=sys.stderr); sys.exit(1 if bad else 0)' "$T/ctr-be1.json" "$T/ctr-be2.json" "$PHASE4" \
    >"$T/ctr.out" 2>"$T/ctr.err" || fail "$(cat "$T/ctr.err")"
ok "$(cat "$T/ctr.out")"

CHECK="SIGTERM stops the bank servers cleanly"
srv_stop_all
ok

CHECK="rtrcli stop facility (the restarted be1 and be2 included)"
"$RTRCLI" stop facility "$T/f.conf" --run "$T/run" >"$T/stop.out" 2>&1 || fail "exit $?: $(cat "$T/stop.out")"
grep -q "^stopped be2 (pid $BE2_NEW)" "$T/stop.out" || fail "$(cat "$T/stop.out")"
grep -q "^stopped be1 (pid $BE1_NEW)" "$T/stop.out" || fail "$(cat "$T/stop.out")"
wait "$BE2_NEW" "$BE1_NEW" 2>/dev/null
EXTRA_PIDS=""
ok

CHECK="journal dumps: no CSN with two TIDs; every accepted TID committed once in each journal"
LOGS=("$T/c1.log" "$T/c2.log" "$T/c3.log")
[ "$PHASE4" = 1 ] && LOGS+=("$T/c4.log")
journal_check all "${LOGS[@]}"
ok "$JRN_SUMMARY, each committed once in both"
check_sanitizers

echo "figures: phase 1: $N1 transfers in $((P1_RUN / 1000)).$((P1_RUN % 1000 / 100)) s ($((N1 * 1000 / (P1_RUN + 1))) tx/s), applied point $P1_APPLIED on both ($P1_DBAPPLIED transfers in each database), be2 caught up $P1_WAIT ms after the client"
echo "figures: phase 2: $N2 transfers in $((P2_RUN / 1000)).$((P2_RUN % 1000 / 100)) s, be2 killed after $KILLED_AT, silent for be1 after $((TD - TK)) ms, up again after $((TUP - TK)) ms; applied point $A1 on both ($APPLIED transfers in each database), be2 caught up $WAIT_MS ms after the client; bank server restarts $SRV_RESTARTS"
echo "figures: phase 3: be1 (primary) killed after $KILLED3, be2 served alone after $((TP3 - TK3)) ms, be1 back in sync after $((TJ3 - TK3)) ms"
[ "$PHASE4" = 1 ] && echo "figures: phase 4: be2 (primary) stopped after $STOPPED4, be1 served alone after $((TP4 - TK4)) ms, be2 back in sync after $((TJ4 - TK4)) ms"
echo "figures: test $((($(now_ms) - T0) / 1000)) s; seed $((SEED - 1)) (BANK_SEED=$((SEED - 1)) replays this run's transfers)"
echo "all checks passed"
