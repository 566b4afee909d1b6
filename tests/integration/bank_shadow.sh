#!/usr/bin/env bash
# bank_shadow.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP [TRANSFERS] -
# a shadow pair with real processes (docs/shadow-protocol.md §9, milestone M7): a facility of
# 1 router and 2 backends with ONE shadowed partition P holding every account (be1 primary,
# be2 secondary), a bank server on EACH backend with its own database. Roles are static from
# the config for now (the register drives them later).
#   phase 1: TRANSFERS (default 2,000) transfers from 8 client channels; then wait until be2
#            has applied everything be1 applied (show partition: applied_n equal, everything
#            hardened on be1 applied); both databases dump identical, bank_verify passes on
#            each (exactly once, conservation).
#   phase 2: TRANSFERS / 2 more; once a third are logged, be2 is killed with SIGKILL, and once
#            be1 has seen it silent it is started again; the load finishes; the same checks.
# About 50 s with gcc on a 2-core machine (the secondary executes serially, milestone M3).
# Exit 0 when every check passed, 1 at the first failure. Every process is ended by its PID.
set -u

RTRCLI=${1:?usage: bank_shadow.sh RTRCLI RTR_BACKEND BANK_SERVER BANK_CLIENT BANK_VERIFY BANK_DUMP [TRANSFERS]}
BACKEND=${2:?} SERVER=${3:?} CLIENT=${4:?} VERIFY=${5:?} DUMP=${6:?}
N1=${7:-2000}
N2=$((N1 / 2))
CHANNELS=8
. "$(dirname "$0")/bank_lib.sh"

T0=$(now_ms)
T=$(mktemp -d "/tmp/rtr-shadow-XXXXXX") || exit 1
trap bank_cleanup EXIT
cat >"$T/f.conf" <<CONF
facility = "BANKS";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = ( { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
              admin = "ipc:///tmp/rtri-$P-r1.adm"; state = "$T/r1"; } );
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 2))"; servers = "ipc:///tmp/rtri-$P-be1.srv";
    admin = "ipc:///tmp/rtri-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 3))"; servers = "ipc:///tmp/rtri-$P-be2.srv";
    admin = "ipc:///tmp/rtri-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "P"; low = [ 0 ]; high = [ 999 ]; primary = "be1"; secondary = "be2"; } );
settings = { heartbeat_ms = 200; failure_timeout_ms = 1000; };
CONF
export RTR_CONFIG="$T/f.conf"

CHECK="rtrcli start facility: the router and the shadow pair answer"
"$RTRCLI" start facility "$T/f.conf" --run "$T/run" --bootstrap --timeout 20000 >"$T/start.out" 2>&1 ||
    fail "exit $?: $(cat "$T/start.out")"
grep -q "facility BANKS is up: 1 router, 2 backends" "$T/start.out" || fail "$(cat "$T/start.out")"
ok

# part NODE - "show partition" of backend NODE as JSON in $T/part-NODE.json (fails the test if
# the backend does not answer).
part() {
    "$RTRCLI" --json show partition --config "$T/f.conf" --node "$1" --timeout 2000 \
        >"$T/part-$1.json" 2>&1 || fail "show partition --node $1: $(cat "$T/part-$1.json")"
}

# pfield NODE FIELD... - partition P's FIELDs (column names) in $T/part-NODE.json, one line,
# separated by spaces (booleans as true/false).
pfield() {
    local node=$1
    shift
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
d = d[0] if isinstance(d, list) else d
row = [r for r in d["rows"] if r[0] == "P"][0]
vals = [row[d["columns"].index(f)] for f in sys.argv[2:]]
print(" ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in vals))' \
        "$T/part-$node.json" "$@" || echo "unreadable"
}

# wait_more FILE REGEX COUNT SECONDS - wait until FILE has more than COUNT lines matching REGEX.
wait_more() {
    local end=$((SECONDS + $4))
    until [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -gt "$3" ]; do
        [ "$SECONDS" -lt "$end" ] || fail "no new /$2/ in $1 within $4 s"
        sleep 0.05
    done
}

# wait_pair_applied SECONDS - wait until be1 applied everything it hardened and be2 applied
# as far as be1 (both reported by show partition); sets A1 (the applied point) and WAIT_MS.
wait_pair_applied() {
    local end=$((SECONDS + $1)) t h1 a1 a2
    t=$(now_ms)
    while :; do
        part be1
        part be2
        read -r h1 a1 < <(pfield be1 hardened_csn applied_n)
        a2=$(pfield be2 applied_n)
        [ "$a1" -eq "$h1" ] && [ "$a2" -eq "$a1" ] && break
        [ "$SECONDS" -lt "$end" ] ||
            fail "after $1 s: be1 hardened $h1 applied $a1, be2 applied $a2: $(cat "$T/part-be1.json" "$T/part-be2.json")"
        sleep 0.1
    done
    A1=$a1
    WAIT_MS=$(($(now_ms) - t))
}

# compare_dbs TAG LOGS... - both databases dump identical; bank_verify passes on each with the
# client logs LOGS (exactly once, nothing rejected applied, money conserved).
compare_dbs() {
    local tag=$1 db l args=()
    shift
    for l in "$@"; do args+=(--log "$l"); done
    "$DUMP" --db "$T/db1" >"$T/dump1-$tag.txt" 2>"$T/dump1-$tag.err" || fail "bank_dump db1: $(cat "$T/dump1-$tag.err")"
    "$DUMP" --db "$T/db2" >"$T/dump2-$tag.txt" 2>"$T/dump2-$tag.err" || fail "bank_dump db2: $(cat "$T/dump2-$tag.err")"
    cmp -s "$T/dump1-$tag.txt" "$T/dump2-$tag.txt" ||
        fail "the databases differ: $(diff "$T/dump1-$tag.txt" "$T/dump2-$tag.txt" | head -20)"
    for db in db1 db2; do
        "$VERIFY" --db "$T/$db" "${args[@]}" --json >"$T/v-$db-$tag.json" 2>"$T/v-$db-$tag.err" ||
            fail "bank_verify $db exit $?: $(cat "$T/v-$db-$tag.json" "$T/v-$db-$tag.err")"
        python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
bad = []
if not d["ok"]: bad.append("not ok")
if d["total"] != d["expected"] or d["expected"] != 100 * 100000: bad.append("money")
if d["accepted_missing"] or d["rejected_applied"] or d["duplicates"]: bad.append("exactly once")
if d["applied"] != d["accepted"] + d["unknown_applied"]: bad.append("applied != accepted + unknown applied")
if d["applied_unlogged"]: bad.append("applied but never logged")
print(" ".join(bad)); sys.exit(1 if bad else 0)' "$T/v-$db-$tag.json" >"$T/v.check" ||
            fail "$db: $(cat "$T/v.check"): $(cat "$T/v-$db-$tag.json")"
    done
    APPLIED=$(grep -c '^applied ' "$T/dump1-$tag.txt")
}

# run_client LOG N - N transfers from CHANNELS channels in the background (CPID).
run_client() {
    N=$2
    : >"$1"
    "$CLIENT" --log "$1" --transfers "$N" --channels "$CHANNELS" --accounts 100 \
        --max-amount 2000 --overdraw-pct 5 --seed "$SEED" --timeout 10000 --quiet \
        >"${1%.log}.out" 2>&1 &
    CPID=$!
}

# wait_client LOG SECONDS - wait for the client, restarting any bank server that exits; checks
# that it logged N outcomes (UNKNOWN ones allowed only with exit 1).
wait_client() {
    local end=$((SECONDS + $2)) crc lines unknown
    while kill -0 "$CPID" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "bank_client still running after $2 s ($(wc -l <"$1") logged)"
        srv_supervise
        sleep 0.1
    done
    wait "$CPID"
    crc=$?
    CPID=""
    lines=$(wc -l <"$1")
    [ "$lines" -eq "$N" ] || fail "the client log has $lines lines, not $N (bank_client exit $crc): $(cat "${1%.log}.out")"
    grep -q "^bank_client: .* accepted" "${1%.log}.out" || fail "no summary from bank_client (exit $crc)"
    unknown=$(sed -n 's/^bank_client: .* \([0-9]*\) unknown in .*/\1/p' "${1%.log}.out")
    [ "$crc" -eq 0 ] || [ "${unknown:-0}" -gt 0 ] || fail "bank_client exit $crc: $(cat "${1%.log}.out")"
    CLIENT_SUMMARY=$(grep '^bank_client: .* accepted' "${1%.log}.out")
}

CHECK="be1 is the primary of P, be2 its secondary; only be1 claims the route"
# the register was just bootstrapped: be1 takes a new epoch (RESUME) and its lease, be2
# handshakes; wait for the pair (a predicate with a deadline)
end=$((SECONDS + 20))
until part be1 && part be2 &&
    [ "$(pfield be1 role state partner serving partner_up)" = "primary pri_act be2 true true" ] &&
    [ "$(pfield be2 role state partner serving partner_up)" = "member sec_act be1 false true" ]; do
    [ "$SECONDS" -lt "$end" ] ||
        fail "no pri_act/sec_act pair after 20 s: $(cat "$T/part-be1.json" "$T/part-be2.json")"
    sleep 0.1
done
ok

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
BE2=$(cat "$T/run/be2.pid")
SILENT0=$(grep -c "BKD-PARTNER-SILENT partner=be2" "$T/run/be1.log")
KILL_TIME=$(date -u +%H:%M:%S.%3N)
kill -KILL "$BE2"
KILLED_AT=$(wc -l <"$T/c2.log")
TK=$(now_ms)
# not our child (rtrcli started it in its own session): poll until it is gone
end=$((SECONDS + 10))
while [ -d "/proc/$BE2" ] && ! grep -q '^State:.*Z' "/proc/$BE2/status" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || fail "be2 pid $BE2 still there 10 s after SIGKILL"
    sleep 0.02
done
# be2 stays down until be1 declares it silent (failure_timeout_ms; its bank server's librtr
# notices the same silence and announces its channel again on the new connection). The log
# line is the cheapest thing to poll; show partition must agree.
wait_more "$T/run/be1.log" "BKD-PARTNER-SILENT partner=be2" "$SILENT0" 20
TD=$(now_ms)
part be1
[ "$(pfield be1 partner_up)" = false ] || fail "be1 logged be2 silent, show partition says up: $(cat "$T/part-be1.json")"
# the same command line as `rtrcli start facility`; the pid file lets `rtrcli stop facility`
# stop it at the end
setsid "$BACKEND" --config "$T/f.conf" --node be2 --log "$T/run/be2.log" </dev/null \
    >>"$T/run/be2.log" 2>&1 &
EXTRA_PIDS=$!
BE2_NEW=$EXTRA_PIDS
echo "$EXTRA_PIDS" >"$T/run/be2.pid"
echo "   killed be2 (pid $BE2) at $KILL_TIME UTC after $KILLED_AT logged transfers; be1 saw it silent after $((TD - TK)) ms; restarted as pid $EXTRA_PIDS"
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
BE1=$(cat "$T/run/be1.pid")
kill -KILL "$BE1"
KILLED3=$(wc -l <"$T/c3.log")
TK3=$(now_ms)
end=$((SECONDS + 10))
while [ -d "/proc/$BE1" ] && ! grep -q '^State:.*Z' "/proc/$BE1/status" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || fail "be1 pid $BE1 still there 10 s after SIGKILL"
    sleep 0.02
done
# be2 is promoted (a new epoch, alone: remember) and claims the route
end=$((SECONDS + 30))
until part be2 && [ "$(pfield be2 role state serving)" = "primary remember true" ] &&
    [ "$(pfield be2 epoch)" -gt "$E0" ]; do
    [ "$SECONDS" -lt "$end" ] || fail "be2 did not take over within 30 s: $(cat "$T/part-be2.json")"
    sleep 0.1
done
TP3=$(now_ms)
setsid "$BACKEND" --config "$T/f.conf" --node be1 --log "$T/run/be1.log" </dev/null \
    >>"$T/run/be1.log" 2>&1 &
BE1_NEW=$!
EXTRA_PIDS="$EXTRA_PIDS $BE1_NEW" # killed by bank_cleanup if the test fails
echo "$BE1_NEW" >"$T/run/be1.pid"
# be1 comes back as a member: handshake (its undecided tail cut), catch-up, ADD
end=$((SECONDS + 60))
until part be1 && part be2 && [ "$(pfield be1 role state)" = "member sec_act" ] &&
    [ "$(pfield be2 state)" = "pri_act" ]; do
    [ "$SECONDS" -lt "$end" ] ||
        fail "be1 did not rejoin within 60 s: $(cat "$T/part-be1.json" "$T/part-be2.json")"
    sleep 0.1
done
TJ3=$(now_ms)
wait_client "$T/c3.log" 110
TE=$(now_ms)
after=$(tail -n +$((KILLED3 + 1)) "$T/c3.log" | awk '$2 == "ACCEPTED"' | wc -l)
[ "$after" -ge 1 ] || fail "nothing accepted after the kill: $(tail -5 "$T/c3.log")"
echo "   killed be1 (pid $BE1) after $KILLED3 logged transfers; be2 served alone after $((TP3 - TK3)) ms; be1 back in sync after $((TJ3 - TK3)) ms"
ok "$CLIENT_SUMMARY; $after accepted after the kill"

CHECK="phase 3: be1 applies everything be2 applied"
end=$((SECONDS + 60))
t3=$(now_ms)
while :; do
    part be1
    part be2
    read -r h2 a2 < <(pfield be2 hardened_csn applied_n)
    a1=$(pfield be1 applied_n)
    [ "$a2" -eq "$h2" ] && [ "$a1" -eq "$a2" ] && break
    [ "$SECONDS" -lt "$end" ] || fail "be2 hardened $h2 applied $a2, be1 applied $a1"
    sleep 0.1
done
ok "applied_n $a2 on both, $(($(now_ms) - t3)) ms after the client ended"

CHECK="phase 3: the two databases are identical; every accepted transfer exactly once, conservation"
compare_dbs p3 "$T/c1.log" "$T/c2.log" "$T/c3.log"
ok "$APPLIED transfers applied on each"

# Phase 4 (scenario 4: SIGSTOP of the primary) is run only with BANK_SHADOW_SIGSTOP=1: one CI
# run under ASan saw the woken old primary diverge (digest) a few CSNs after it rejoined as the
# member; that bug is open (docs/shadow-protocol.md, Status).
PHASE4=0
if [ "${BANK_SHADOW_SIGSTOP:-0}" = 1 ]; then
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
check_sanitizers

echo "figures: phase 1: $N1 transfers in $((P1_RUN / 1000)).$((P1_RUN % 1000 / 100)) s ($((N1 * 1000 / (P1_RUN + 1))) tx/s), applied point $P1_APPLIED on both ($P1_DBAPPLIED transfers in each database), be2 caught up $P1_WAIT ms after the client"
echo "figures: phase 2: $N2 transfers in $((P2_RUN / 1000)).$((P2_RUN % 1000 / 100)) s, be2 killed after $KILLED_AT, silent for be1 after $((TD - TK)) ms, up again after $((TUP - TK)) ms; applied point $A1 on both ($APPLIED transfers in each database), be2 caught up $WAIT_MS ms after the client; bank server restarts $SRV_RESTARTS"
echo "figures: phase 3: be1 (primary) killed after $KILLED3, be2 served alone after $((TP3 - TK3)) ms, be1 back in sync after $((TJ3 - TK3)) ms"
[ "$PHASE4" = 1 ] && echo "figures: phase 4: be2 (primary) stopped after $STOPPED4, be1 served alone after $((TP4 - TK4)) ms, be2 back in sync after $((TJ4 - TK4)) ms"
echo "figures: test $((($(now_ms) - T0) / 1000)) s; seed $((SEED - 1)) (BANK_SEED=$((SEED - 1)) replays this run's transfers)"
echo "all checks passed"
