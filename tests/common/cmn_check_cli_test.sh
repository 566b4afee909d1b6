#!/bin/sh
# cmn_check_cli_test.sh RTRCLI JSON_CHECK SOURCE_DIR
# `rtrcli check facility` end to end: a good file (exit 0, summary on stdout), a bad file
# (exit 1, the exact error on stderr, nothing on stdout), --json for both, usage errors (exit 2).
set -u
RTRCLI=$1
JSON_CHECK=$2
SRC=$3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rtr-check-cli-XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect CODE WANT_STDOUT WANT_STDERR -- ARGS...: run rtrcli, compare exit code and outputs.
expect() {
    code=$1 want_out=$2 want_err=$3
    shift 4
    "$RTRCLI" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ "$rc" -eq "$code" ] || fail "rtrcli $*: exit $rc, expected $code"
    [ "$(cat "$TMP/out")" = "$want_out" ] ||
        fail "rtrcli $*: stdout [$(cat "$TMP/out")], expected [$want_out]"
    [ "$(cat "$TMP/err")" = "$want_err" ] ||
        fail "rtrcli $*: stderr [$(cat "$TMP/err")], expected [$want_err]"
}

good=$SRC/docs/facility.conf
shadow=$SRC/docs/facility-shadow.conf
bad=$SRC/tests/common/configs/bad/overlap.conf
bad_msg="$bad:27: partitions[1]: key range [400] .. [999] of partition \"HIGH\" overlaps partition \"LOW\" [0] .. [499] (line 25)"

expect 0 "$good: ok (facility BANK: 1 router, 2 backends, 2 partitions)" "" -- check facility "$good"
expect 0 "$shadow: ok (facility BANK: 3 routers, 2 backends, 1 partition)" "" -- check facility "$shadow"
expect 1 "" "$bad_msg" -- check facility "$bad"
expect 1 "" "$TMP/none.conf: cannot read the file: No such file or directory" -- check facility "$TMP/none.conf"
# --node: the node must exist; only its own journal is checked
expect 0 "$good: ok (facility BANK: 1 router, 2 backends, 2 partitions)" "" -- check facility "$good" --node be2
expect 1 "" "$good: node \"be9\" is not defined in the facility" -- check facility "$good" --node be9

# a warning goes to stderr, the verdict stays ok
sed -e 's/^routers = (/routers = ( { name = "r2"; clients = "tcp:\/\/127.0.0.1:7102"; peers = "tcp:\/\/127.0.0.1:7112"; admin = "ipc:\/\/\/tmp\/rtr-r2.adm"; },/' \
    "$good" >"$TMP/two.conf"
expect 0 "$TMP/two.conf: ok (facility BANK: 2 routers, 2 backends, 2 partitions)" \
    "warning: $TMP/two.conf:16: routers: an even number of routers (2) tolerates no more router failures than 1 would; with 2, losing either blocks failover" \
    -- check facility "$TMP/two.conf"

# usage errors
"$RTRCLI" check facility >/dev/null 2>&1
[ $? -eq 2 ] || fail "check facility without FILE: expected exit 2"
"$RTRCLI" check facility "$good" "$good" >/dev/null 2>&1
[ $? -eq 2 ] || fail "check facility with two files: expected exit 2"
"$RTRCLI" check facility --bogus "$good" >/dev/null 2>&1
[ $? -eq 2 ] || fail "check facility --bogus: expected exit 2"
# --help: exit 0, the usage on stdout
"$RTRCLI" check facility --help >"$TMP/out" 2>"$TMP/err"
[ $? -eq 0 ] || fail "check facility --help: expected exit 0"
grep -q '^usage: rtrcli check facility FILE' "$TMP/out" || fail "check facility --help: no usage on stdout"
[ -s "$TMP/err" ] && fail "check facility --help: unexpected stderr"

# --json: parsed by jansson, shape and values checked
"$RTRCLI" --json check facility "$good" >"$TMP/good.json" 2>"$TMP/err"
[ $? -eq 0 ] || fail "--json good: exit code"
[ -s "$TMP/err" ] && fail "--json good: stderr not empty: $(cat "$TMP/err")"
"$JSON_CHECK" ok BANK 1 2 2 <"$TMP/good.json" || fail "--json good: $(cat "$TMP/good.json")"
"$RTRCLI" check facility "$bad" --json >"$TMP/bad.json" 2>"$TMP/err"
[ $? -eq 1 ] || fail "--json bad: exit code"
"$JSON_CHECK" fail "$bad_msg" <"$TMP/bad.json" || fail "--json bad: $(cat "$TMP/bad.json")"
"$RTRCLI" --json check facility "$TMP/two.conf" >"$TMP/two.json" 2>/dev/null
grep -q '"warnings": \[$' "$TMP/two.json" || fail "--json warnings: $(cat "$TMP/two.json")"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "rtrcli check facility: all checks passed"
