#!/usr/bin/env bash
# demo.sh BUILD_DIR - the first RTR demo (`make demo`): the journal's group commit, measured.
#
#   1. rtrbench journal with 1 producer: each record waits for its own fsync, so the latency
#      p50 is about one fsync of this disk (the report shows the ratio).
#   2. rtrbench journal with 64 producers: one fsync hardens many records (records per flush),
#      throughput grows while latency stays near a few fsyncs. The journal is kept.
#   3. rtrcli dump journal on that journal: the first 20 records, the per-state counts and the
#      partition's meta, read-only.
#   4. The journal directory is removed.
#
# Exits non-zero on the first failure. Takes well under a minute on an ordinary SSD.
set -euo pipefail

BUILD=${1:?usage: demo.sh BUILD_DIR}
RTRBENCH="$BUILD/tools/rtrbench"
RTRCLI="$BUILD/tools/rtrcli"
for tool in "$RTRBENCH" "$RTRCLI"; do
    if [ ! -x "$tool" ]; then
        echo "demo: $tool is missing: build first (make build)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rtr-demo-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
JOURNAL="$WORK/journal"

section() {
    printf '\n==== %s\n\n' "$*"
}

section "1/4  journal: 1 producer, 2,000 records of 200 bytes (one fsync per record)"
"$RTRBENCH" journal --producers 1 --records 2000 --size 200

section "2/4  journal: 64 producers, 50,000 records of 200 bytes (group commit)"
"$RTRBENCH" journal --producers 64 --records 50000 --size 200 --dir "$JOURNAL" --keep

section "3/4  rtrcli dump journal $JOURNAL --limit 20"
"$RTRCLI" dump journal "$JOURNAL" --limit 20

section "3/4  per-state counts of the whole journal"
"$RTRCLI" dump journal "$JOURNAL" >"$WORK/dump.txt"
sed -n '/^STATE /,/^total:/p' "$WORK/dump.txt"
if ! grep -qx 'total: 50000 records' "$WORK/dump.txt"; then
    echo "demo: expected 50000 records in $JOURNAL" >&2
    exit 1
fi

section "4/4  removing $JOURNAL"
rm -rf "$JOURNAL"
echo "done."
