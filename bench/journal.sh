#!/usr/bin/env bash
# bench/journal.sh [BUILD_DIR] - the journal's group commit, measured as docs/performance.md
# reports it: rtrbench journal at several producer counts, each repeated, with the fsync of the
# same disk measured in the same run. Prints one line per run and a median summary.
#
#   REPEAT=3 PRODUCERS="1 16 64" RECORDS=100000 SIZE=200 bench/journal.sh build
#   DRIVER=--threads bench/journal.sh build     # one OS thread per producer
set -euo pipefail
BUILD=${1:-build}
BENCH=$BUILD/tools/rtrbench
REPEAT=${REPEAT:-3}
PRODUCERS=${PRODUCERS:-"1 16 64"}
RECORDS=${RECORDS:-100000}
SIZE=${SIZE:-200}
DRIVER=${DRIVER:-}
[ -x "$BENCH" ] || { echo "bench/journal.sh: no $BENCH (run make build first)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench/journal.sh: needs python3 for the summary" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for p in $PRODUCERS; do
  n=$RECORDS
  [ "$p" -eq 1 ] && n=$((RECORDS / 20 > 2000 ? RECORDS / 20 : 2000))
  for r in $(seq 1 "$REPEAT"); do
    "$BENCH" journal --producers "$p" --records "$n" --size "$SIZE" $DRIVER --json 2>/dev/null |
      tee -a "$out" | python3 -c '
import json,sys
d=json.load(sys.stdin)
print("producers=%-3d driver=%-10s records/s=%8.0f p50_us=%8.1f p99_us=%8.1f p999_us=%8.1f per_flush=%6.1f fsync_p50_us=%6.1f" % (
  d["producers"], d["driver"], d["records_per_s"], d["latency_us"]["p50"], d["latency_us"]["p99"],
  d["latency_us"]["p99_9"], d["records_per_flush"], d["fsync_us"]["p50"]))'
  done
done
python3 - "$out" <<'PY'
import json,sys,statistics
runs=[]
txt=open(sys.argv[1]).read()
dec=json.JSONDecoder(); i=0
while i < len(txt):
    while i < len(txt) and txt[i].isspace(): i+=1
    if i>=len(txt): break
    o,i=dec.raw_decode(txt,i); runs.append(o)
by={}
for d in runs: by.setdefault(d["producers"],[]).append(d)
print("\nmedian of %d run(s) per point:" % len(next(iter(by.values()))))
print("%-9s %12s %10s %10s %10s %10s %12s" % ("producers","records/s","p50 us","p99 us","p99.9 us","per flush","fsync p50 us"))
base=None
for p in sorted(by):
    m=lambda f: statistics.median(f(d) for d in by[p])
    rate=m(lambda d:d["records_per_s"])
    if p==1: base=rate
    print("%-9d %12.0f %10.1f %10.1f %10.1f %10.1f %12.1f" % (p, rate, m(lambda d:d["latency_us"]["p50"]),
      m(lambda d:d["latency_us"]["p99"]), m(lambda d:d["latency_us"]["p99_9"]),
      m(lambda d:d["records_per_flush"]), m(lambda d:d["fsync_us"]["p50"])))
if base:
    for p in sorted(by):
        if p>1: print("speed-up at %d producers: %.1fx the single-producer rate" % (p, statistics.median(d["records_per_s"] for d in by[p])/base))
    one=by.get(1)
    if one: print("single-producer p50 / fsync p50: %.2f" % statistics.median(d["latency_us"]["p50"]/d["fsync_us"]["p50"] for d in one))
PY
