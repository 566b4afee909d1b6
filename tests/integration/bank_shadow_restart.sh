#!/usr/bin/env bash
# bank_shadow_restart.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP
#                        [TRANSFERS] -
# scenario 6 of docs/shadow-protocol.md §9.2: the primary killed with SIGKILL under load and
# restarted WITHIN the failure timeout. The facility of shadow_lib.sh (3 routers, be1 primary
# and be2 secondary of P, a bank server with its own database on each), failure_timeout_ms
# 3000 so that the restart (well under a second after the kill, even on a loaded machine) is
# inside it.
#   - TRANSFERS (default 1,500) from 8 channels; after a third are logged the primary's node
#     crashes: be1 and its bank server are killed (SIGKILL) and started again at once;
#   - the routers' register moves to a new epoch (>= E0 + 1) with a primary (be1 resumed, or
#     be2 promoted), and later the pair is pri_act/sec_act again (either way round);
#   - the load finishes, then TRANSFERS / 5 more through the re-formed pair;
#   - the member applies everything the primary applied; both databases dump identical;
#     bank_verify on each (exactly once, conservation);
#   - after the facility stopped, the journal dumps (`rtrcli dump journal --json`): no CSN
#     with two different TIDs, every accepted TID committed once in each, no rejected one.
# The bank server is killed with be1 because librtr does not announce a server channel again
# when its backend comes back with a new incarnation before it noticed the silence (the
# backend then has no server: NODSTFND for every transfer). BANK_SHADOW_KEEP_SERVER=1 keeps
# the bank server running through be1's restart, to reproduce that.
# About 25 s with gcc on a 2-core machine. Exit 0 when every check passed, 1 at the first
# failure. Every process is ended by its PID.
set -u

RTRCLI=${1:?usage: bank_shadow_restart.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP [TRANSFERS]}
BACKEND=${2:?} SERVER=${3:?} CLIENT=${4:?} VERIFY=${5:?} DUMP=${6:?}
N1=${7:-1500}
N2=$((N1 / 5))
FAILURE_MS=3000
SHADOW_SETTINGS="heartbeat_ms = 200; failure_timeout_ms = $FAILURE_MS;"
CHANNELS=8
. "$(dirname "$0")/shadow_lib.sh"

T0=$(now_ms)
shadow_setup shadow-restart

CHECK="a bank server on each backend, each with its own database"
srv_start 0 db1 P be1
srv_start 1 db2 P be2
srv_wait_serving 0 1 30
srv_wait_serving 1 1 30
ok

CHECK="the routers' register: be1 primary, both in sync"
wait_register 20 "reg.primary == 'be1' and reg.in_sync == ['be1', 'be2']"
E0=$(pfield reg epoch)
ok "epoch $E0 (router $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["node"])' "$T/part-reg.json"))"

KEEP_SERVER=${BANK_SHADOW_KEEP_SERVER:-0}
CHECK="$N1 transfers; the primary be1 killed (SIGKILL) after a third and restarted within the failure timeout"
TC=$(now_ms)
run_client "$T/c1.log" "$N1"
wait_lines "$T/c1.log" $((N1 / 3)) 90 "$CPID"
TK=$(now_ms)
[ "$KEEP_SERVER" = 1 ] || kill -KILL "${SRV_PIDS[0]}"
node_kill be1
KILLED_AT=$(wc -l <"$T/c1.log")
node_start be1
TS=$(now_ms)
if [ "$KEEP_SERVER" != 1 ]; then
    wait "${SRV_PIDS[0]}" 2>/dev/null
    srv_restart 0
fi
[ $((TS - TK)) -lt "$FAILURE_MS" ] || fail "be1 restarted $((TS - TK)) ms after the kill: not within $FAILURE_MS ms"
ok "killed be1 (pid $KILLED_PID) after $KILLED_AT logged transfers; restarted as pid $NODE_PID $((TS - TK)) ms later"

CHECK="the register moves to a new epoch (>= $((E0 + 1))) with a primary"
wait_register 30 "reg.epoch >= $E0 + 1 and reg.primary in ('be1', 'be2')"
read -r E1 PRI < <(pfield reg epoch primary)
ok "epoch $E1, primary $PRI, in_sync $(pfield reg in_sync), $WAITED_MS ms after the restart"

CHECK="the pair is active again: one pri_act serving, the other sec_act"
wait_partition 60 "{be1.state, be2.state} == {'pri_act', 'sec_act'} and
    (be1 if be1.state == 'pri_act' else be2).serving and
    (be1 if be1.state == 'pri_act' else be2).epoch >= $E1"
if [ "$(pfield be1 state)" = pri_act ]; then PRI=be1 SEC=be2; else PRI=be2 SEC=be1; fi
TA=$(now_ms)
ok "$PRI pri_act, $SEC sec_act, epoch $(pfield $PRI epoch), $((TA - TK)) ms after the kill"

CHECK="a bank server is attached to the primary"
wait_partition 30 "(be1 if be1.state == 'pri_act' else be2).servers >= 1"
ok "$(pfield $PRI servers) on $PRI"

CHECK="the load finishes: transfers accepted after the kill"
wait_client "$T/c1.log" 110
TE=$(now_ms)
after=$(tail -n +$((KILLED_AT + 1)) "$T/c1.log" | awk '$2 == "ACCEPTED"' | wc -l)
[ "$after" -ge $((N1 / 3)) ] || fail "only $after transfers accepted after the kill: $(tail -5 "$T/c1.log")"
ok "$CLIENT_SUMMARY; $after accepted after the kill"
RUN1=$((TE - TC))

CHECK="$N2 more transfers through the re-formed pair ($PRI primary)"
SEED=$((SEED + 1))
run_client "$T/c2.log" "$N2"
wait_client "$T/c2.log" 110
[ "$(accepted "$T/c2.log")" -ge $((N2 / 2)) ] || fail "only $(accepted "$T/c2.log") accepted: $CLIENT_SUMMARY"
part $PRI
[ "$(pfield $PRI state)" = pri_act ] || fail "$PRI is no longer pri_act: $(cat "$T/part-$PRI.json")"
ok "$CLIENT_SUMMARY"

CHECK="$SEC applies everything $PRI applied"
wait_pair_applied 60 $PRI $SEC
ok "applied_n $A1 on both, $WAIT_MS ms after the client ended"

CHECK="the two databases are identical; every accepted transfer exactly once, conservation"
compare_dbs s6 "$T/c1.log" "$T/c2.log"
ok "$APPLIED transfers applied on each"

shadow_stop

CHECK="journal dumps: no CSN with two TIDs; every accepted TID committed once in each journal"
journal_check s6 "$T/c1.log" "$T/c2.log"
ok "$JRN_SUMMARY, each committed once in both"
check_sanitizers

echo "figures: $N1 transfers in $((RUN1 / 1000)).$((RUN1 % 1000 / 100)) s, be1 killed after $KILLED_AT and restarted $((TS - TK)) ms later; register epoch $E0 -> $E1 (primary $PRI); pair active $((TA - TK)) ms after the kill"
echo "figures: test $((($(now_ms) - T0) / 1000)) s; seed $((SEED - 1)) (BANK_SEED=$((SEED - 1)) replays the first load)"
echo "all checks passed"
