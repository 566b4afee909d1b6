# shadow_lib.sh - shared helpers of the shadow-pair integration tests (sourced, not run;
# docs/shadow-protocol.md §9). Sources bank_lib.sh (fail, ok, wait_for, wait_lines, the bank
# server slots, check_sanitizers, the EXIT trap's bank_cleanup).
#
# The caller sets RTRCLI BACKEND SERVER CLIENT VERIFY DUMP (binaries) and CHANNELS, then calls
# shadow_setup NAME: the test directory $T, the facility file $T/f.conf - 3 routers (each with
# its register store), 2 backends, ONE shadowed partition P holding every account (config:
# be1 primary, be2 secondary) - started with `rtrcli start facility --bootstrap`, and the pair
# waited for (be1 pri_act, be2 sec_act). Ports and ipc paths come from the script's pid
# (bank_lib.sh: BASE .. BASE + 9), so the tests run in parallel with the rest of the suite.
# SHADOW_SETTINGS (before shadow_setup) replaces the facility's settings group body.
#
# Waits are predicates with deadlines: wait_partition / wait_register evaluate a python
# expression over `rtrcli --json show partition` of both backends / `show register` of a
# router until it holds. Every process is ended by its pid (bank_cleanup, EXTRA_PIDS).

. "$(dirname "${BASH_SOURCE[0]}")/bank_lib.sh"

SHADOW_SETTINGS=${SHADOW_SETTINGS:-"heartbeat_ms = 200; failure_timeout_ms = 1000;"}
CHANNELS=${CHANNELS:-8}

# shadow_setup NAME - test directory, facility file, trap; starts and bootstraps the facility
# (3 routers, be1 and be2) and waits until be1 is pri_act and be2 sec_act.
shadow_setup() {
    local r
    T=$(mktemp -d "/tmp/rtr-$1-XXXXXX") || exit 1
    trap bank_cleanup EXIT
    {
        echo 'facility = "BANKS";'
        echo 'key = ( { type = "unsigned"; offset = 0; length = 4; } );'
        echo 'routers = ('
        for r in 1 2 3; do
            # r1: BASE, BASE+1; r2: BASE+4, BASE+5; r3: BASE+6, BASE+7 (be1/be2 shadow: +2, +3)
            local c=$((BASE + (r == 1 ? 0 : 2 * r)))
            echo "  { name = \"r$r\"; clients = \"tcp://127.0.0.1:$c\"; peers = \"tcp://127.0.0.1:$((c + 1))\";"
            echo "    admin = \"ipc:///tmp/rtri-$P-r$r.adm\"; state = \"$T/r$r\"; }$([ $r -lt 3 ] && echo ,)"
        done
        echo ');'
        cat <<CONF
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 2))"; servers = "ipc:///tmp/rtri-$P-be1.srv";
    admin = "ipc:///tmp/rtri-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 3))"; servers = "ipc:///tmp/rtri-$P-be2.srv";
    admin = "ipc:///tmp/rtri-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "P"; low = [ 0 ]; high = [ 999 ]; primary = "be1"; secondary = "be2"; } );
settings = { $SHADOW_SETTINGS };
CONF
    } >"$T/f.conf"
    export RTR_CONFIG="$T/f.conf"

    CHECK="rtrcli start facility --bootstrap: 3 routers and the shadow pair answer"
    "$RTRCLI" start facility "$T/f.conf" --run "$T/run" --bootstrap --timeout 20000 >"$T/start.out" 2>&1 ||
        fail "exit $?: $(cat "$T/start.out")"
    grep -q "facility BANKS is up: 3 routers, 2 backends" "$T/start.out" || fail "$(cat "$T/start.out")"
    ok

    CHECK="be1 is the primary of P, be2 its secondary; only be1 claims the route"
    # the register was just bootstrapped: be1 takes a new epoch (RESUME) and its lease, be2
    # handshakes
    wait_partition 30 'be1.role == "primary" and be1.state == "pri_act" and be1.serving and be1.partner_up
        and be2.role == "member" and be2.state == "sec_act" and not be2.serving and be2.partner_up'
    ok
}

# part NODE [MS] - "show partition" of backend NODE as JSON in $T/part-NODE.json; fails the
# test if the backend does not answer within MS (default 2000).
part() {
    "$RTRCLI" --json show partition --config "$T/f.conf" --node "$1" --timeout "${2:-2000}" \
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

# The python side of wait_partition / wait_register: each file a node's JSON answer (or not
# JSON: the node did not answer), bound to its name as an object whose attributes are the
# columns of partition P's row (plus up = answered; a missing attribute is None).
SHADOW_PY='import json,sys
class N:
    def __init__(self, **kw): self.__dict__.update(kw)
    def __getattr__(self, k): return None
    def __repr__(self): return repr(self.__dict__)
def load(path):
    try:
        d = json.load(open(path))
        d = d[0] if isinstance(d, list) else d
        row = [r for r in d["rows"] if r[0] == "P"][0]
        n = N(up=True, **dict(zip(d["columns"], row)))
        for k, v in d.items():
            if k not in ("rows", "columns", "title") and k not in n.__dict__: n.__dict__[k] = v
        return n
    except Exception:
        return N(up=False)
env = {}
for a in sys.argv[2:]:
    name, path = a.split("=", 1)
    env[name] = load(path)
ok = eval("(" + sys.argv[1] + ")", {}, env)
if not ok: print(" ".join("%s=%r" % kv for kv in env.items()))
sys.exit(0 if ok else 1)'

# wait_partition SECONDS EXPR - poll `show partition` of be1 and be2 until the python
# expression EXPR holds; in EXPR `be1` and `be2` are P's rows (be1.state, be2.epoch, ...;
# be1.up is false while be1 does not answer). Fails with the last answers after SECONDS.
# Sets WAITED_MS. Each poll that does not hold is logged in $T/wait.trace (time, answers).
wait_partition() {
    local end=$((SECONDS + $1)) t n
    t=$(now_ms)
    while :; do
        for n in be1 be2; do
            "$RTRCLI" --json show partition --config "$T/f.conf" --node $n --timeout 1000 \
                >"$T/part-$n.json" 2>&1
        done
        python3 -c "$SHADOW_PY" "$2" be1="$T/part-be1.json" be2="$T/part-be2.json" \
            >"$T/wait.last" 2>&1 && break
        echo "$(date -u +%T.%3N) $(head -c 600 "$T/wait.last")" >>"$T/wait.trace"
        [ "$SECONDS" -lt "$end" ] || fail "not within $1 s: $2: $(cat "$T/wait.last")"
        sleep 0.1
    done
    WAITED_MS=$(($(now_ms) - t))
}

# wait_register SECONDS EXPR - poll the routers' view (`show register`, asked of r1, r2, r3
# in turn) until the python expression EXPR holds for the router asked; in EXPR `reg` is P's
# row (reg.epoch, reg.primary, reg.in_sync, reg.node, reg.version). The last answer stays in
# $T/part-reg.json (`pfield reg epoch primary`). Sets WAITED_MS.
wait_register() {
    local end=$((SECONDS + $1)) t i=0
    t=$(now_ms)
    while :; do
        i=$((i % 3 + 1))
        "$RTRCLI" --json show register --config "$T/f.conf" --node r$i --timeout 1000 \
            >"$T/part-reg.json" 2>&1
        python3 -c "$SHADOW_PY" "$2" reg="$T/part-reg.json" >"$T/wait.last" 2>&1 && break
        echo "$(date -u +%T.%3N) $(head -c 600 "$T/wait.last")" >>"$T/wait.trace"
        [ "$SECONDS" -lt "$end" ] || fail "not within $1 s: $2: $(cat "$T/wait.last")"
        sleep 0.1
    done
    WAITED_MS=$(($(now_ms) - t))
}

# wait_more FILE REGEX COUNT SECONDS - wait until FILE has more than COUNT lines matching REGEX.
wait_more() {
    local end=$((SECONDS + $4))
    until [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -gt "$3" ]; do
        [ "$SECONDS" -lt "$end" ] || fail "no new /$2/ in $1 within $4 s"
        sleep 0.05
    done
}

# wait_pair_applied SECONDS [PRI SEC] - wait until PRI (default be1) applied everything it
# hardened and SEC (default be2) applied as far as PRI (both reported by show partition);
# sets A1 (the applied point) and WAIT_MS.
wait_pair_applied() {
    local end=$((SECONDS + $1)) t h1 a1 a2 pri=${2:-be1} sec=${3:-be2}
    t=$(now_ms)
    while :; do
        part "$pri"
        part "$sec"
        read -r h1 a1 < <(pfield "$pri" hardened_csn applied_n)
        a2=$(pfield "$sec" applied_n)
        [ "$a1" -eq "$h1" ] && [ "$a2" -eq "$a1" ] && break
        [ "$SECONDS" -lt "$end" ] ||
            fail "after $1 s: $pri hardened $h1 applied $a1, $sec applied $a2: $(cat "$T/part-$pri.json" "$T/part-$sec.json")"
        sleep 0.1
    done
    A1=$a1
    WAIT_MS=$(($(now_ms) - t))
}

# verify_db DB TAG [--money-only] LOGS... - bank_verify on $T/DB with the client logs LOGS:
# exactly once, nothing rejected applied, money conserved (with --money-only: only money
# conserved and nothing applied twice - for a database that stopped taking transfers).
verify_db() {
    local db=$1 tag=$2 mode=full l args=()
    shift 2
    [ "${1:-}" = --money-only ] && { mode=money; shift; }
    for l in "$@"; do args+=(--log "$l"); done
    # stderr in .verr, not .err: fail() shows every .err, and a database checked with
    # --money-only lists the accepted transfers it lacks there
    "$VERIFY" --db "$T/$db" "${args[@]}" --json >"$T/v-$db-$tag.json" 2>"$T/v-$db-$tag.verr"
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
bad = []
if d["total"] != d["expected"] or d["expected"] != 100 * 100000: bad.append("money")
if d["duplicates"] or d["rejected_applied"]: bad.append("applied twice or rejected applied")
if sys.argv[2] == "full":
    if not d["ok"]: bad.append("not ok")
    if d["accepted_missing"]: bad.append("accepted missing")
    if d["applied"] != d["accepted"] + d["unknown_applied"]: bad.append("applied != accepted + unknown applied")
    if d["applied_unlogged"]: bad.append("applied but never logged")
print(" ".join(bad)); sys.exit(1 if bad else 0)' "$T/v-$db-$tag.json" "$mode" >"$T/v.check" 2>&1 ||
        fail "bank_verify $db: $(cat "$T/v.check"): $(cat "$T/v-$db-$tag.json"; head -20 "$T/v-$db-$tag.verr")"
}

# compare_dbs TAG LOGS... - both databases dump identical; bank_verify passes on each with the
# client logs LOGS (exactly once, nothing rejected applied, money conserved). Sets APPLIED.
compare_dbs() {
    local tag=$1
    shift
    "$DUMP" --db "$T/db1" >"$T/dump1-$tag.txt" 2>"$T/dump1-$tag.err" || fail "bank_dump db1: $(cat "$T/dump1-$tag.err")"
    "$DUMP" --db "$T/db2" >"$T/dump2-$tag.txt" 2>"$T/dump2-$tag.err" || fail "bank_dump db2: $(cat "$T/dump2-$tag.err")"
    cmp -s "$T/dump1-$tag.txt" "$T/dump2-$tag.txt" ||
        fail "the databases differ: $(diff "$T/dump1-$tag.txt" "$T/dump2-$tag.txt" | head -20)"
    verify_db db1 "$tag" "$@"
    verify_db db2 "$tag" "$@"
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
# that it logged N outcomes (UNKNOWN ones allowed only with exit 1). Sets CLIENT_SUMMARY.
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

# accepted LOG - how many transfers LOG has as ACCEPTED so far.
accepted() { awk '$2 == "ACCEPTED"' "$1" | wc -l; }

# node_kill NODE - SIGKILL the backend NODE (pid from $T/run/NODE.pid) and wait until it is
# gone (it is not our child when rtrcli started it: poll /proc). Sets KILLED_PID.
node_kill() {
    local end
    KILLED_PID=$(cat "$T/run/$1.pid")
    kill -KILL "$KILLED_PID" || fail "kill $1 (pid $KILLED_PID)"
    end=$((SECONDS + 10))
    while [ -d "/proc/$KILLED_PID" ] && ! grep -q '^State:.*Z' "/proc/$KILLED_PID/status" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "$1 pid $KILLED_PID still there 10 s after SIGKILL"
        sleep 0.02
    done
    EXTRA_PIDS=$(echo " $EXTRA_PIDS " | sed "s/ $KILLED_PID / /")
    wait "$KILLED_PID" 2>/dev/null # when it was ours (restarted here)
}

# node_start NODE - start the backend NODE again with the command line of `rtrcli start
# facility`; its pid goes to $T/run/NODE.pid (so `rtrcli stop facility` stops it) and to
# EXTRA_PIDS (killed by bank_cleanup if the test fails). Sets NODE_PID.
node_start() {
    setsid "$BACKEND" --config "$T/f.conf" --node "$1" --log "$T/run/$1.log" </dev/null \
        >>"$T/run/$1.log" 2>&1 &
    NODE_PID=$!
    EXTRA_PIDS="$EXTRA_PIDS $NODE_PID"
    echo "$NODE_PID" >"$T/run/$1.pid"
}

# journal_check TAG LOGS... - after the backends stopped: dump both journals (`rtrcli dump
# journal --json`) and check that no CSN of P carries two different TIDs (across the two
# journals), that every TID the client logs LOGS have ACCEPTED is committed (COMMIT, PRI_DONE,
# DONE) in each journal, at exactly one CSN, and that no REJECTED one is committed. Sets
# JRN_SUMMARY.
journal_check() {
    local tag=$1 j
    shift
    for j in j1 j2; do
        "$RTRCLI" dump journal "$T/$j" --partition P --json >"$T/dump-$j-$tag.json" 2>"$T/dump-$j-$tag.err" ||
            fail "rtrcli dump journal $j: $(cat "$T/dump-$j-$tag.err")"
    done
    python3 -c 'import json,sys
def tid(hex32):  # the bank log prints the 16 TID bytes; the journal incarnation.counter
    return "%s.%d" % (hex32[:16], int(hex32[16:], 16))
jr = [json.load(open(p))["records"] for p in sys.argv[1:3]]
committed = ("COMMIT", "PRI_DONE", "DONE")
bad = []
bycsn = {}
for i, recs in enumerate(jr):
    for r in recs:
        t = bycsn.setdefault(r["csn"], r["tid"])
        if t != r["tid"]: bad.append("csn %d: tid %s and %s" % (r["csn"], t, r["tid"]))
accepted, rejected = set(), set()
for p in sys.argv[3:]:
    for line in open(p):
        f = line.split()
        if len(f) < 2: continue
        (accepted if f[1] == "ACCEPTED" else rejected if f[1] == "REJECTED" else set()).add(tid(f[0]))
anywhere = {}  # TID -> lowest CSN it is committed at in either journal (to list misses in order)
for recs in jr:
    for r in recs:
        if r["state"] in committed: anywhere[r["tid"]] = min(r["csn"], anywhere.get(r["tid"], r["csn"]))
for i, recs in enumerate(jr):
    where = {}
    for r in recs:
        if r["state"] in committed: where.setdefault(r["tid"], []).append(r["csn"])
    miss = sorted((t for t in accepted if t not in where), key=lambda t: anywhere.get(t, 0))
    twice = [t for t, n in where.items() if len(n) > 1]
    rej = [t for t in rejected if t in where]
    name = "j%d" % (i + 1)
    if miss: bad.append("%s: %d accepted TIDs not committed (%s ...)" % (name, len(miss),
        ", ".join("%s at csn %s" % (t, anywhere.get(t, "-")) for t in miss[:3])))
    if twice: bad.append("%s: %d TIDs committed at two CSNs (%s at %s ...)" % (name, len(twice), twice[0], where[twice[0]]))
    if rej: bad.append("%s: %d rejected TIDs committed (%s ...)" % (name, len(rej), rej[0]))
print("%d CSNs, j1 %d records, j2 %d records, %d accepted TIDs" % (
    len(bycsn), len(jr[0]), len(jr[1]), len(accepted)))
if bad: print("; ".join(bad[:10]), file=sys.stderr)
sys.exit(1 if bad else 0)' "$T/dump-j1-$tag.json" "$T/dump-j2-$tag.json" "$@" \
        >"$T/jcheck.out" 2>"$T/jcheck.err" || fail "$(cat "$T/jcheck.err" "$T/jcheck.out")"
    JRN_SUMMARY=$(cat "$T/jcheck.out")
}

# shadow_stop - SIGTERM the bank servers (each must exit 0), `rtrcli stop facility` (the
# restarted backends included: their pids are in the pid files); clears EXTRA_PIDS.
shadow_stop() {
    local p
    CHECK="SIGTERM stops the bank servers cleanly"
    srv_stop_all
    ok
    CHECK="rtrcli stop facility (restarted backends included)"
    "$RTRCLI" stop facility "$T/f.conf" --run "$T/run" >"$T/stop.out" 2>&1 || fail "exit $?: $(cat "$T/stop.out")"
    for p in $EXTRA_PIDS; do
        grep -q "(pid $p)" "$T/stop.out" || fail "restarted pid $p not stopped: $(cat "$T/stop.out")"
    done
    # shellcheck disable=SC2086
    wait $EXTRA_PIDS 2>/dev/null
    EXTRA_PIDS=""
    ok
}
