#!/usr/bin/env bash
# tools_cli_test.sh RTRCLI RTRBENCH - end-to-end checks of `rtrbench journal` and
# `rtrcli dump journal` on a real journal: a 4-producer run of 500 records is kept and then
# listed, filtered, looked up by TID and dumped as JSON; the error paths (missing directory,
# not a journal, unknown partition, bad TID/state/option) must give the documented exit code and
# a message that names the cause.
#
# Every check prints "ok - NAME" or "FAIL - NAME" with the evidence and the script exits 1 at
# the first failure. Sanitizer reports on a tool's stderr fail the check that ran it.
set -u

RTRCLI=${1:?usage: tools_cli_test.sh RTRCLI RTRBENCH}
RTRBENCH=${2:?usage: tools_cli_test.sh RTRCLI RTRBENCH}
T=$(mktemp -d "${TMPDIR:-/tmp}/rtr-tools-test-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export J="$T/journal"
NCHECK=0

fail() {
    echo "FAIL - $CHECK: $*"
    echo "---- command: ${LAST_CMD:-}"
    echo "---- exit status: ${RC:-}"
    echo "---- stdout (first 40 lines):"
    head -n 40 "$T/out" 2>/dev/null
    echo "---- stderr (first 40 lines):"
    head -n 40 "$T/err" 2>/dev/null
    exit 1
}

ok() {
    NCHECK=$((NCHECK + 1))
    echo "ok - $CHECK"
}

# run CMD... - run a tool with stdout in $T/out, stderr in $T/err, exit status in RC. A
# sanitizer report fails the current check at once (and is shown for ctest's regex too).
run() {
    LAST_CMD="$*"
    "$@" >"$T/out" 2>"$T/err"
    RC=$?
    if grep -qE 'Sanitizer|runtime error:' "$T/err"; then
        cat "$T/err" >&2
        fail "sanitizer report"
    fi
}

expect_rc() { [ "$RC" -eq "$1" ] || fail "exit status $RC, expected $1"; }
out_has() { grep -qE -- "$1" "$T/out" || fail "stdout lacks /$1/"; }
err_has() { grep -qE -- "$1" "$T/err" || fail "stderr lacks /$1/"; }

# json EXPR - evaluate a Python expression over the JSON on stdout (bound to `d`); fails the
# check unless it is true. The output must be a single JSON document.
json() {
    python3 -c 'import json, os, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/out" "$1" 2>>"$T/err" || fail "JSON check failed: $1"
}

# json_get EXPR - print a value from the JSON on stdout.
json_get() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$T/out" "$1"
}

# ---- rtrbench ------------------------------------------------------------------------------

CHECK="rtrbench journal --keep --json: 4 producers, 500 records"
run "$RTRBENCH" journal --producers 4 --records 500 --size 100 --dir "$J" --keep --json
expect_rc 0
json 'd["records"] == 500 and d["producers"] == 4 and d["size"] == 100'
json 'd["kept"] is True and d["dir"] == os.environ["J"]'
json 'all(k in d["latency_us"] for k in ("p50", "p99", "p99_9", "max"))'
json '0 < d["latency_us"]["p50"] <= d["latency_us"]["p99"] <= d["latency_us"]["p99_9"] <= d["latency_us"]["max"]'
json 'd["records_per_s"] > 0 and d["flushes"] > 0 and d["records_per_flush"] >= 1'
json 'd["ops"] == 500 and d["fsync_us"]["samples"] > 0 and d["fsync_us"]["p50"] > 0'
json '"p50_over_fsync_p50" not in d'
[ -d "$J" ] || fail "--keep did not keep $J"
ok

CHECK="rtrbench journal (1 producer, table): description, metrics, ratio, temp dir removed"
run env TMPDIR="$T" "$RTRBENCH" journal --producers 1 --records 20 --size 10 --fsyncs 20
expect_rc 0
out_has '^rtrbench journal: 1 producer \(event loop\), 20 records of 10 bytes'
out_has '^records hardened +20$'
out_has '^latency p99\.9 '
out_has '^records per flush '
out_has '^fsync p50 \(4 KiB \+ fdatasync\) '
out_has '^latency p50 / fsync p50 +[0-9.]+$'
leftover=$(find "$T" -maxdepth 1 -name 'rtrbench-*' | head -n 1)
[ -z "$leftover" ] || fail "temporary journal directory left behind: $leftover"
ok

CHECK="rtrbench journal --dir on a non-empty directory: exit 2"
run "$RTRBENCH" journal --records 10 --dir "$J"
expect_rc 2
err_has "not empty"
ok

# ---- rtrcli dump journal -------------------------------------------------------------------

CHECK="rtrcli dump journal: 500 records, counts, meta"
run "$RTRCLI" dump journal "$J"
expect_rc 0
out_has '^PARTITION +CSN +EPOCH +TID +STATE +MSGS +BYTES$'
[ "$(grep -cE '^bench +[0-9]+ +1 +[0-9a-f]{16}\.[0-9]+ +VOTED +1 +[0-9]+$' "$T/out")" -eq 500 ] ||
    fail "expected 500 record rows"
out_has '^VOTED +500$'
out_has '^COMMIT +0$'
out_has '^total: 500 records$'
out_has '^partition bench \(id 0\)'
# CSNs are dense: 1..500, each once
[ "$(awk '$1 == "bench" && $5 == "VOTED" { print $2 }' "$T/out" | sort -n | uniq | tr '\n' ' ')" = \
  "$(seq 1 500 | tr '\n' ' ')" ] || fail "CSNs are not exactly 1..500"
ok

CHECK="rtrcli dump journal --limit 20: 20 rows, counts still cover all"
run "$RTRCLI" dump journal "$J" --limit 20
expect_rc 0
[ "$(grep -cE '^bench +[0-9]+ ' "$T/out")" -eq 20 ] || fail "expected 20 record rows"
out_has '^VOTED +500$'
out_has '^total: 500 records \(20 listed'
ok

CHECK="rtrcli --json dump journal: parses, 500 records, counts, partitions"
run "$RTRCLI" --json dump journal "$J"
expect_rc 0
json 'd["total"] == 500 and len(d["records"]) == 500 and d["counts"]["VOTED"] == 500'
json 'd["counts"]["COMMIT"] == 0 and len(d["counts"]) == 7 and d["dir"] == os.environ["J"]'
json 'sorted(r["csn"] for r in d["records"]) == list(range(1, 501))'
json 'all(r["state"] == "VOTED" and r["msgs"] == 1 and r["partition"] == "bench" for r in d["records"])'
json 'len(d["partitions"]) == 1 and d["partitions"][0]["name"] == "bench" and d["partitions"][0]["id"] == 0'
TID=$(json_get 'd["records"][123]["tid"]')
TID_CSN=$(json_get 'd["records"][123]["csn"]')
[ -n "$TID" ] || fail "no TID in the JSON"
ok

CHECK="rtrcli dump journal --state: VOTED (any case) selects all, COMMIT none"
run "$RTRCLI" --json dump journal "$J" --state voted
expect_rc 0
json 'd["total"] == 500 and len(d["records"]) == 500'
run "$RTRCLI" dump journal "$J" --state COMMIT
expect_rc 0
out_has '^total: 0 records$'
out_has '^\(no records selected\)$'
ok

CHECK="rtrcli dump journal --tid $TID: exactly that record (CSN $TID_CSN)"
run "$RTRCLI" --json dump journal "$J" --tid "$TID"
expect_rc 0
json "d['total'] == 1 and d['records'][0]['tid'] == '$TID' and d['records'][0]['csn'] == $TID_CSN"
run "$RTRCLI" dump journal "$J" --tid "$TID" --partition bench
expect_rc 0
out_has "^bench +$TID_CSN +1 +$TID +VOTED "
out_has '^total: 1 record$'
run "$RTRCLI" dump journal "$J" --tid 0123456789abcdef.1
expect_rc 0
out_has '^total: 0 records$'
ok

CHECK="rtrcli dump journal --tid garbage: usage error naming the TID"
run "$RTRCLI" dump journal "$J" --tid not-a-tid
expect_rc 2
err_has "'not-a-tid' is not a TID"
ok

CHECK="rtrcli dump journal --state bogus: usage error listing the states"
run "$RTRCLI" dump journal "$J" --state bogus
expect_rc 2
err_has "unknown state 'bogus'.*VOTED, COMMIT, ABORT, EXCEPTION, PRI_DONE, DONE, MOVED"
ok

CHECK="rtrcli dump journal --partition nosuch: exit 1, names it"
run "$RTRCLI" dump journal "$J" --partition nosuch
expect_rc 1
err_has "has no partition 'nosuch' \(partitions: bench\)"
ok

CHECK="rtrcli dump journal /nonexistent: exit 1, names the directory"
run "$RTRCLI" dump journal "$T/nonexistent"
expect_rc 1
err_has "$T/nonexistent: no such directory"
ok

CHECK="rtrcli dump journal on an empty directory: exit 1, not a journal"
mkdir -p "$T/empty"
run "$RTRCLI" dump journal "$T/empty"
expect_rc 1
err_has "$T/empty: not a journal directory.*\\[NOTFOUND\\]"
[ -z "$(ls -A "$T/empty")" ] || fail "the read-only dump wrote into $T/empty: $(ls -A "$T/empty")"
ok

CHECK="rtrcli dump journal with garbage in place of the databases: exit 1, clear message"
mkdir -p "$T/garbage"
for db in records.db by_tid.db meta.db; do
    head -c 65536 /dev/urandom >"$T/garbage/$db"
done
run "$RTRCLI" dump journal "$T/garbage"
expect_rc 1
err_has "cannot read journal $T/garbage: the journal is damaged.*\\[JNLCORRUPT\\]"
ok

CHECK="rtrcli dump journal on a copy whose records.db is garbage: exit 1, damaged"
cp -r "$J" "$T/damaged"
head -c "$(stat -c %s "$T/damaged/records.db")" /dev/urandom >"$T/damaged/records.db"
run "$RTRCLI" dump journal "$T/damaged"
expect_rc 1
err_has "cannot read journal $T/damaged: the journal is damaged.*\\[JNLCORRUPT\\]"
ok

CHECK="rtrcli dump journal on a regular file: exit 1"
run "$RTRCLI" dump journal "$J/records.db"
expect_rc 1
err_has "not a directory"
ok

# ---- help and usage errors -----------------------------------------------------------------

CHECK="--help exits 0 everywhere"
run "$RTRCLI" --help
expect_rc 0
out_has 'dump journal DIR'
run "$RTRCLI" dump journal --help
expect_rc 0
out_has '^usage: rtrcli dump journal DIR'
run "$RTRBENCH" --help
expect_rc 0
out_has '^usage: rtrbench COMMAND'
run "$RTRBENCH" journal --help
expect_rc 0
out_has '^usage: rtrbench journal'
out_has '--producers N'
ok

CHECK="bad options exit 2 with a message"
run "$RTRCLI" dump journal "$J" --bogus
expect_rc 2
err_has "unknown option '--bogus'"
run "$RTRCLI" dump journal
expect_rc 2
err_has "missing the journal directory"
run "$RTRCLI" dump journal "$J" --limit -3
expect_rc 2
err_has "'-3' is not a number"
run "$RTRBENCH" journal --producers 0
expect_rc 2
err_has "--producers: 0 is out of range"
run "$RTRBENCH" journal --records
expect_rc 2
err_has "--records needs a value"
run "$RTRBENCH" journal --size abc
expect_rc 2
err_has "'abc' is not a number"
run "$RTRBENCH" journal extra
expect_rc 2
err_has "unexpected argument 'extra'"
run "$RTRBENCH" nosuch
expect_rc 2
err_has "unknown command 'nosuch'"
run "$RTRBENCH"
expect_rc 2
ok

echo "all $NCHECK checks passed"
