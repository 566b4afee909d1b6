#!/usr/bin/env bash
# reg_start_test.sh RTRCLI - the facility register with real daemons started by rtrcli: three
# rtr-routers and two rtr-backends with one shadowed partition.
#   1. `start facility --bootstrap` commits the first value (both members fresh: both in sync);
#   2. `show register --json` on every router: voting, version 1, the same value;
#   3. `show meta --json` on the backends (what bootstrap read);
#   4. `bootstrap facility --yes` again is refused (every router holds state), exit 1;
#   5. stop and `start facility --bootstrap` again: the routers' stores still hold version 1 and
#      nothing is bootstrapped twice;
#   6. a facility without shadowed partitions: no register (no state, `show register` and
#      `bootstrap facility` answer that clearly, exit 1).
# Every check prints "ok - NAME" or "FAIL - NAME" with the evidence; exit 1 at the first
# failure. Daemons are stopped by `rtrcli stop facility` (pid files); ports (65000-65479, above
# the ephemeral range, used by no other test) and ipc paths derive from this script's pid.
set -u

RTRCLI=${1:?usage: reg_start_test.sh RTRCLI}
T=$(mktemp -d /tmp/rtr-regst-XXXXXX) || exit 1
P=$$
BASE=$((65000 + (P % 60) * 8))
UP=""

cleanup() {
    for c in $UP; do
        "$RTRCLI" stop facility "$T/$c.conf" --run "$T/run-$c" --timeout 5000 >/dev/null 2>&1
    done
    [ -n "${RTR_KEEP_TEST_DIR:-}" ] && echo "kept $T" || rm -rf "$T"
    rm -f /tmp/rtrrs-$P-*
}
trap cleanup EXIT

fail() {
    echo "FAIL - $CHECK: $*"
    for f in "$T"/*.out "$T"/run-*/*.log; do
        [ -s "$f" ] && { echo "---- $f (last 15 lines)"; tail -n 15 "$f"; }
    done
    exit 1
}
ok() { echo "ok - $CHECK"; }

cat >"$T/sh.conf" <<CONF
facility = "REGST";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = (
  { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
    admin = "ipc:///tmp/rtrrs-$P-r1.adm"; state = "$T/state/r1"; },
  { name = "r2"; clients = "tcp://127.0.0.1:$((BASE + 2))"; peers = "tcp://127.0.0.1:$((BASE + 3))";
    admin = "ipc:///tmp/rtrrs-$P-r2.adm"; state = "$T/state/r2"; },
  { name = "r3"; clients = "tcp://127.0.0.1:$((BASE + 4))"; peers = "tcp://127.0.0.1:$((BASE + 5))";
    admin = "ipc:///tmp/rtrrs-$P-r3.adm"; state = "$T/state/r3"; } );
backends = (
  { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 6))"; servers = "ipc:///tmp/rtrrs-$P-be1.srv";
    admin = "ipc:///tmp/rtrrs-$P-be1.adm"; journal = "$T/j1"; },
  { name = "be2"; shadow = "tcp://127.0.0.1:$((BASE + 7))"; servers = "ipc:///tmp/rtrrs-$P-be2.srv";
    admin = "ipc:///tmp/rtrrs-$P-be2.adm"; journal = "$T/j2"; } );
partitions = (
  { name = "P"; low = [ 0 ]; high = [ 499 ]; primary = "be1"; secondary = "be2"; },
  { name = "U"; low = [ 500 ]; high = [ 999 ]; primary = "be2"; } );
settings = { heartbeat_ms = 50; failure_timeout_ms = 1000; };
CONF

CHECK="start facility --bootstrap"
"$RTRCLI" start facility "$T/sh.conf" --run "$T/run-sh" --bootstrap >"$T/start.out" 2>&1
rc=$?
UP="sh"
[ $rc = 0 ] || fail "exit $rc"
grep -q "^committed register value: facility REGST, version 1" "$T/start.out" || fail "no commit"
ok

CHECK="show register on every router"
# the backends run: be1, the bootstrap's primary, takes a new epoch at once (RESUME), so the
# value settles at version 2, epoch 3, on every router (a predicate with a deadline)
end=$((SECONDS + 15))
until "$RTRCLI" --json show register --config "$T/sh.conf" >"$T/reg.out" 2>&1 &&
    python3 - "$T/reg.out" <<'PY'; do
import json, sys
d = json.load(open(sys.argv[1]))
assert [o["node"] for o in d] == ["r1", "r2", "r3"], d
uuids = set()
for o in d:
    assert o["mode"] == "voting" and o["version"] == 2 and o["has_state"] is True, o
    assert o["accepted_version"] >= 1, o
    assert sorted(o["routers"].values()) == ["this", "up", "up"], o
    uuids.add(o["facility_uuid"])
    assert o["columns"][:4] == ["partition", "epoch", "primary", "in_sync"], o
    assert len(o["rows"]) == 1, o
    p = o["rows"][0]
    assert p[0] == "P" and p[1] == 3 and p[2] == "be1" and p[3] == ["be1", "be2"], p
    assert p[4] == "be2" and p[7] == "be1 RESUME", p
assert len(uuids) == 1 and len(uuids.pop()) == 32, d
PY
    [ "$SECONDS" -lt "$end" ] || fail "$(cat "$T/reg.out")"
    sleep 0.2
done
ok

CHECK="show meta on the backends"
"$RTRCLI" --json show meta --config "$T/sh.conf" >"$T/meta.out" 2>&1 || fail "exit $?"
python3 - "$T/meta.out" <<'PY' || fail "$(cat "$T/meta.out")"
import json, sys
d = {o["node"]: o for o in json.load(open(sys.argv[1]))}
assert d["be1"]["columns"] == ["partition", "member", "epoch", "highest_epoch_seen", "last_n",
                               "last_epoch", "history"], d
r = d["be1"]["rows"]
# be1 took epoch 3 (RESUME after the bootstrap's epoch 2): its history says so, from CSN 1
assert len(r) == 1 and r[0][:4] == ["P", "primary", 3, 3] and r[0][4:] == [0, 0, [[1, 1], [3, 1]]], r
rows = {r[0]: r for r in d["be2"]["rows"]}
assert rows["P"][1] == "secondary" and rows["U"][1] == "primary", rows
PY
ok

CHECK="a second bootstrap is refused"
"$RTRCLI" bootstrap facility --config "$T/sh.conf" --yes >"$T/boot2.out" 2>&1
rc=$?
[ $rc = 1 ] || fail "exit $rc"
grep -q "router r2 already holds register state (version [0-9]*): the facility was bootstrapped before; refusing" \
    "$T/boot2.out" || fail "message"
ok

CHECK="restart: the stores keep the value, no second bootstrap"
"$RTRCLI" stop facility "$T/sh.conf" --run "$T/run-sh" >/dev/null 2>&1 || fail "stop"
UP=""
"$RTRCLI" start facility "$T/sh.conf" --run "$T/run-sh" --bootstrap >"$T/start2.out" 2>&1
rc=$?
UP="sh"
[ $rc = 0 ] || fail "exit $rc"
grep -q "the register is already bootstrapped; nothing to do" "$T/start2.out" || fail "message"
# each restarted router runs a READ of its own: poll until r3 has learned the value again
end=$((SECONDS + 15))
until "$RTRCLI" --json show register --config "$T/sh.conf" --node r3 >"$T/reg2.out" 2>&1 &&
    python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(not (o["version"]>=2 and o["mode"]=="voting" and o["rows"][0][2]=="be1"))' \
        "$T/reg2.out"; do
    [ "$SECONDS" -lt "$end" ] || fail "r3 did not learn the value again: $(cat "$T/reg2.out")"
    sleep 0.05
done
ok

cat >"$T/plain.conf" <<CONF
facility = "PLAIN";
key = ( { type = "unsigned"; offset = 0; length = 4; } );
routers = ( { name = "r1"; clients = "tcp://127.0.0.1:$BASE"; peers = "tcp://127.0.0.1:$((BASE + 1))";
              admin = "ipc:///tmp/rtrrs-$P-p1.adm"; } );
backends = ( { name = "be1"; shadow = "tcp://127.0.0.1:$((BASE + 6))";
               servers = "ipc:///tmp/rtrrs-$P-pb1.srv"; admin = "ipc:///tmp/rtrrs-$P-pb1.adm";
               journal = "$T/pj1"; } );
partitions = ( { name = "P"; low = [ 0 ]; high = [ 999 ]; primary = "be1"; } );
settings = { heartbeat_ms = 50; failure_timeout_ms = 1000; };
CONF

CHECK="no shadowed partition: no register"
"$RTRCLI" stop facility "$T/sh.conf" --run "$T/run-sh" >/dev/null 2>&1 || fail "stop"
UP=""
"$RTRCLI" start facility "$T/plain.conf" --run "$T/run-plain" --bootstrap >"$T/start3.out" 2>&1
rc=$?
UP="plain"
[ $rc = 0 ] || fail "start exit $rc"
grep -qi "register" "$T/start3.out" && fail "start mentions a register"
"$RTRCLI" show register --config "$T/plain.conf" >"$T/reg3.out" 2>&1
rc=$?
[ $rc = 1 ] || fail "show register exit $rc"
grep -q "node r1: facility PLAIN has no shadowed partition: its routers run no register \[NOTFOUND\]" \
    "$T/reg3.out" || fail "show register message"
"$RTRCLI" bootstrap facility --config "$T/plain.conf" --yes >"$T/boot3.out" 2>&1
rc=$?
[ $rc = 1 ] || fail "bootstrap exit $rc"
grep -q "facility PLAIN has no shadowed partition (no \`secondary\`): it has no register to bootstrap" \
    "$T/boot3.out" || fail "bootstrap message"
ok

echo "all checks passed"
