#!/usr/bin/env bash
# bank_shadow_force.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP [TRANSFERS]
# - scenario 5 of docs/shadow-protocol.md §9.2: the operator's FORCE and its loss list.
#   1. TRANSFERS (default 900) transfers; after a third the secondary be2 is killed (SIGKILL):
#      be1 shrinks to REMEMBER and commits alone (single_copy_commits > 0).
#   2. be1 is killed too (both members down), then only be2 is started: it is outside the
#      in-sync set, so it waits (wt_quorum, "waiting_for be1") and serves nothing: transfers
#      offered meanwhile are not accepted.
#   3. `rtrcli set partition P /primary=be2 /force` answered "no": refused, nothing changes.
#   4. with --yes --json: be2 becomes primary (remember) and serves; the printed loss list
#      holds every CSN that be1's journal has committed and be2's lacks, and the TID of every
#      accepted transfer that be2's database lacks.
#   5. new transfers are accepted on be2; its database conserves money and applied nothing
#      twice (it lacks exactly the listed single-copy commits of be1).
# Every wait is a predicate on `rtrcli show partition` / `show register`; every process is
# ended by its pid. Exit 0 when every check passed.
set -u

RTRCLI=${1:?usage: bank_shadow_force.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP [TRANSFERS]}
BACKEND=${2:?} SERVER=${3:?} CLIENT=${4:?} VERIFY=${5:?} DUMP=${6:?}
N1=${7:-900}
. "$(dirname "$0")/shadow_lib.sh"

T_START=$(now_ms)
shadow_setup shadow-force
export RTR_CONFIG="$T/f.conf"
SEED=$P

CHECK="a bank server on each backend, each with its own database"
srv_start 0 db1 P be1
srv_start 1 db2 P be2
srv_wait_serving 0 1 30
srv_wait_serving 1 1 30
ok

CHECK="$N1 transfers; be2 killed after a third: be1 commits alone (REMEMBER)"
run_client "$T/c1.log" "$N1"
wait_lines "$T/c1.log" $((N1 / 3)) 90 "$CPID"
node_kill be2
wait_partition 30 'be1.state == "remember" and be1.serving'
wait_client "$T/c1.log" 120
wait_partition 30 'be1.single_copy_commits > 0 and be1.applied_n == be1.hardened_csn'
part be1
read -r SC FROM1 LAST1 < <(pfield be1 single_copy_commits single_copy_from applied_n)
ok "$CLIENT_SUMMARY; $SC single-copy commits from CSN $FROM1, be1 applied up to $LAST1"

CHECK="be1 killed too; only be2 started: it waits for be1 and serves nothing"
node_kill be1
node_start be2 # its bank server (slot 1) reconnects by itself
wait_partition 30 'not be1.up and be2.state == "wt_quorum" and "waiting_for be1" in (be2.reason or "") and not be2.serving'
T0=$(now_ms)
run_client "$T/c2.log" 16
wait "$CPID"
CPID=""
[ "$(accepted "$T/c2.log")" -eq 0 ] || fail "accepted while be2 waited: $(grep ACCEPTED "$T/c2.log" | head -3)"
wait_partition 5 'be2.state == "wt_quorum" and not be2.serving'
ok "16 transfers offered over $(($(now_ms) - T0)) ms, none accepted; be2: $(pfield be2 reason)"

CHECK="set partition /force answered \"no\": refused, the register unchanged"
echo no | "$RTRCLI" set partition P /primary=be2 /force --timeout 5000 >"$T/force-no.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc: $(cat "$T/force-no.out")"
grep -q "LOSS LIST" "$T/force-no.out" || fail "no loss list printed: $(cat "$T/force-no.out")"
grep -q "not confirmed; nothing changed" "$T/force-no.out" || fail "$(cat "$T/force-no.out")"
wait_register 10 'reg.primary == "be1"'
wait_partition 5 'be2.state == "wt_quorum" and not be2.serving'
ok

CHECK="set partition /force --yes: be2 is primary (remember) and serves"
"$RTRCLI" --json set partition P /primary=be2 /force --yes --timeout 5000 >"$T/force.json" \
    2>"$T/force.err" || fail "exit $?: $(cat "$T/force.json" "$T/force.err")"
wait_partition 30 'be2.role == "primary" and be2.state == "remember" and be2.serving'
wait_register 10 'reg.primary == "be2"'
ok "after $WAITED_MS ms"

CHECK="the loss list holds every commit be2 lacks (journals, and the accepted transfers its database lacks)"
for j in j1 j2; do
    "$RTRCLI" dump journal "$T/$j" --partition P --json >"$T/dump-$j.json" 2>"$T/dump-$j.err" ||
        fail "rtrcli dump journal $j: $(cat "$T/dump-$j.err")"
done
"$DUMP" --db "$T/db2" >"$T/dump2.txt" 2>"$T/dump2.err" || fail "bank_dump db2: $(cat "$T/dump2.err")"
python3 -c 'import json,sys
dec = json.JSONDecoder()
text = open(sys.argv[1]).read().lstrip()
loss, _ = dec.raw_decode(text)
lo, hi, tids = loss["loss_from"], loss["loss_to"], set(loss["loss_tids"])
committed = ("COMMIT", "PRI_DONE", "DONE")
j1 = json.load(open(sys.argv[2]))["records"]
held = {r["csn"] for r in json.load(open(sys.argv[3]))["records"]}
def tid(hex32): return "%s.%d" % (hex32[:16], int(hex32[16:], 16))
missing = [r for r in j1 if r["state"] in committed and r["csn"] not in held]
bad = ["csn %d (%s) missing on be2 but outside %d..%d" % (r["csn"], r["tid"], lo, hi)
       for r in missing if not lo <= r["csn"] <= hi]
bad += ["csn %d: TID %s not listed" % (r["csn"], r["tid"]) for r in missing if r["tid"] not in tids]
applied = {l.split()[1] for l in open(sys.argv[4]) if l.startswith("applied ")}
acc = [tid(l.split()[0]) for l in open(sys.argv[5]) if l.split()[1:2] == ["ACCEPTED"]]
applied_tids = {tid(t) if len(t) == 32 else t for t in applied}
lost = [t for t in acc if t not in applied_tids]
bad += ["accepted %s not in db2 and not listed" % t for t in lost if t not in tids]
print("loss list CSNs %d..%d, %d TIDs; be1 committed %d CSNs be2 lacks; %d accepted transfers not in db2, all listed" % (
    lo, hi, len(tids), len(missing), len(lost)))
if not missing: bad.append("be1 has no commit that be2 lacks: the scenario did not run as meant")
if bad: print("; ".join(bad[:10]), file=sys.stderr)
sys.exit(1 if bad else 0)' "$T/force.json" "$T/dump-j1.json" "$T/dump-j2.json" "$T/dump2.txt" "$T/c1.log" \
    >"$T/loss.out" 2>"$T/loss.err" || fail "$(cat "$T/loss.err" "$T/loss.out"; head -c 2000 "$T/force.json")"
ok "$(cat "$T/loss.out")"

CHECK="new transfers are accepted on be2; its database conserves money, nothing applied twice"
SEED=$((SEED + 1))
run_client "$T/c3.log" 300
wait_client "$T/c3.log" 120
[ "$(accepted "$T/c3.log")" -gt 0 ] || fail "nothing accepted after the FORCE: $CLIENT_SUMMARY"
wait_partition 30 'be2.applied_n == be2.hardened_csn'
verify_db db2 after --money-only "$T/c1.log" "$T/c2.log" "$T/c3.log"
ok "$CLIENT_SUMMARY"

shadow_stop
check_sanitizers
echo "bank_shadow_force: all checks passed in $(($(now_ms) - T_START)) ms"
