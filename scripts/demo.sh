#!/usr/bin/env bash
# demo.sh BUILD_DIR - the RTR demo (`make demo`): a bank on a local facility survives the death
# of one of its servers, and not one cent is lost or moved twice.
#
#   1. The facility file: docs/facility.conf (one router, two backends, two partitions), copied
#      into a temporary directory with its journals and ipc sockets moved there (and its tcp
#      ports moved up if another facility already uses them).
#   2. `rtrcli start facility` starts rtr-router and two rtr-backends; `rtrcli show facility`
#      and `show partition` look at them.
#   3. Two bank_servers, one per partition, each with its own Berkeley DB database.
#   4. bank_client runs 3,000 random transfers from 8 client channels, with a live progress
#      line. After a third of them the server of ACCT_LOW is killed with SIGKILL and a new one is
#      started on the same database; the backend notices the loss (failure_timeout_ms) and
#      replays the transaction the dead server held to the new one.
#   5. When the workload has ended and the backends have settled (`rtrcli show transaction`
#      shows nothing in flight), bank_verify checks the money is conserved and every accepted
#      transfer was applied exactly once, rejected ones never.
#   6. A glance at be1's journal (`rtrcli dump journal`), then SIGTERM to the bank servers and
#      `rtrcli stop facility`; a summary.
#
# Every process it starts is stopped by its pid, also on failure or Ctrl-C (an EXIT trap); the
# temporary directory is removed (DEMO_KEEP=1 keeps it). On a failure it prints the tail of
# every log and exits 1. Takes about 15 s once built (a minute on a heavily loaded machine).
# DEMO_TRANSFERS and DEMO_CHANNELS change the workload.
set -uo pipefail

BUILD=${1:?usage: demo.sh BUILD_DIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
RTRCLI="$BUILD/tools/rtrcli"
SERVER="$BUILD/examples/bank_server"
CLIENT="$BUILD/examples/bank_client"
VERIFY="$BUILD/examples/bank_verify"
for tool in "$RTRCLI" "$SERVER" "$CLIENT" "$VERIFY" "$BUILD/router/rtr-router" \
    "$BUILD/backend/rtr-backend"; do
    if [ ! -x "$tool" ]; then
        echo "demo: $tool is missing: build first (make build)" >&2
        exit 1
    fi
done

TRANSFERS=${DEMO_TRANSFERS:-3000}
CHANNELS=${DEMO_CHANNELS:-8}
KILL_AT=$((TRANSFERS / 3))
ACCOUNTS=100      # per partition
INITIAL=100000    # cents per account
T_START=$EPOCHREALTIME

WORK=$(mktemp -d /tmp/rtr-demo-XXXXXX) || exit 1 # short: ipc paths live in it
CONF="$WORK/facility.conf"
RUN="$WORK/run"
LOG="$WORK/transfers.log"
S1="" S2="" S3="" CPID="" UP=""
TTY=""
[ -t 1 ] && TTY=1
LINE="" # a progress line is drawn (a tty line without its newline yet)

cleanup() {
    local p
    trap - INT TERM
    for p in $CPID $S1 $S2 $S3; do
        kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [ -n "$UP" ]; then
        # the daemons run in sessions of their own: stopped by the pids in their pid files
        "$RTRCLI" stop facility "$CONF" --run "$RUN" --timeout 3000 >/dev/null 2>&1 ||
            echo "demo: rtrcli stop facility failed; pid files in $RUN" >&2
    fi
    if [ -n "${DEMO_KEEP:-}" ]; then
        echo "demo: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'endline; echo "demo: interrupted" >&2; exit 130' INT TERM

now() { echo "$EPOCHREALTIME"; }
# secs T0 [T1] - seconds from T0 to T1 (default now), one decimal
secs() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'; }
endline() {
    if [ -n "$LINE" ]; then
        echo
        LINE=""
    fi
}
section() {
    endline
    printf '\n==== %s\n\n' "$*"
}
say() {
    endline
    printf -- '-- %s\n' "$*"
}
indent() { sed 's/^/   /'; }

die() {
    local f
    endline
    echo "demo: FAILED: $*" >&2
    [ -n "${DEMO_KEEP:-}" ] || echo "demo: (DEMO_KEEP=1 keeps $WORK for a look)" >&2
    for f in "$RUN"/*.log "$WORK"/*.out; do
        [ -s "$f" ] || continue
        echo "---- $f (last 15 lines)" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}

# wait_until SECONDS WHAT COMMAND... - run COMMAND every 0.1 s until it succeeds, or die.
wait_until() {
    local end what=$2
    end=$(awk -v t="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "%.3f", t + s }')
    shift 2
    until "$@"; do
        awk -v t="$EPOCHREALTIME" -v e="$end" 'BEGIN { exit !(t < e) }' ||
            die "$what: not within the time limit"
        sleep 0.1
    done
}

cli() { "$RTRCLI" "$@" --config "$CONF"; }

# ---- 1. the facility file --------------------------------------------------------------------

section "1/6  the facility: docs/facility.conf"
sed -e "s#\"/tmp/rtr/#\"$WORK/journal/#" -e "s#ipc:///tmp/rtr-#ipc://$WORK/#" \
    "$SRC/docs/facility.conf" >"$CONF" || die "cannot copy docs/facility.conf"
if grep -E '^[^#]*(journal *=|ipc://)' "$CONF" | grep -qv "$WORK"; then
    die "docs/facility.conf: the demo moves journals under /tmp/rtr/ and ipc:///tmp/rtr-* endpoints" \
        "into its directory, and this file has others"
fi
# another facility (the README's tour, say) may hold the file's ports: move them up if so
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORTS=$(grep -oE '127\.0\.0\.1:[0-9]+' "$CONF" | cut -d: -f2 | sort -u)
shift_by=0
for try in 0 1 2 3 4 5 6 7 8 9; do
    busy=""
    for p in $PORTS; do port_busy $((p + try * 1000)) && busy=1; done
    if [ -z "$busy" ]; then
        shift_by=$((try * 1000))
        break
    fi
    [ "$try" -lt 9 ] || die "the ports of docs/facility.conf (and 9 shifts of them) are busy"
done
if [ "$shift_by" -ne 0 ]; then
    for p in $PORTS; do
        sed -i "s#127\.0\.0\.1:$p\"#127.0.0.1:$((p + shift_by))\"#" "$CONF"
    done
fi
echo "A copy of docs/facility.conf in $WORK, its journals and ipc sockets moved there"
[ "$shift_by" -ne 0 ] && echo "(and its tcp ports up by $shift_by: another process holds them)"
echo
sed -e 's/ *#.*//' -e '/^ *$/d' "$CONF" | indent
echo
"$RTRCLI" check facility "$CONF" | indent || die "rtrcli check facility $CONF"

# ---- 2. start it -----------------------------------------------------------------------------

section "2/6  rtrcli start facility: one router, two backends"
UP=1
"$RTRCLI" start facility "$CONF" --run "$RUN" >"$WORK/start.out" 2>&1
rc=$?
indent <"$WORK/start.out"
[ "$rc" -eq 0 ] || die "rtrcli start facility exit $rc"
both_connected() { [ "$(cli show facility 2>/dev/null | grep -c ' connected ')" -eq 2 ]; }
wait_until 10 "the router sees both backends" both_connected
echo
say "rtrcli show facility"
cli show facility | indent
say "rtrcli show partition"
cli show partition | indent

# ---- 3. the bank servers ---------------------------------------------------------------------

section "3/6  two bank servers, one per partition, each with its own Berkeley DB database"
export RTR_CONFIG="$CONF"
start_server() { # OUT DB PARTITION NODE -> pid in $!
    "$SERVER" --db "$WORK/$2" --partition "$3" --node "$4" --accounts "$ACCOUNTS" \
        --initial "$INITIAL" --quiet >>"$WORK/$1.out" 2>&1 &
}
serving() { grep -q '^serving accounts' "$WORK/$1.out" 2>/dev/null; }
start_server bank1 bank1 ACCT_LOW be1
S1=$!
start_server bank2 bank2 ACCT_HIGH be2
S2=$!
wait_until 20 "bank_server 1 opens its channel" serving bank1
wait_until 20 "bank_server 2 opens its channel" serving bank2
echo "bank_server 1 (pid $S1):"
indent <"$WORK/bank1.out"
echo "bank_server 2 (pid $S2):"
indent <"$WORK/bank2.out"
echo
say "rtrcli show server"
cli show server >"$WORK/servers.txt" 2>&1 || die "show server: $(cat "$WORK/servers.txt")"
indent <"$WORK/servers.txt"
OLD_ID=$(awk '$1 == "be1" && $2 ~ /^s-/ { print $2 }' "$WORK/servers.txt")
[ -n "$OLD_ID" ] || die "be1 lists no server"

# ---- 4. the workload, and a server killed in the middle --------------------------------------

section "4/6  $TRANSFERS transfers from $CHANNELS channels; a bank server killed with SIGKILL at $KILL_AT"
echo "Each transfer moves money between two accounts of one partition; 5% of them ask for more"
echo "than the account holds and the bank rejects them."
echo
: >"$LOG"
T_WORK=$(now)
"$CLIENT" --log "$LOG" --transfers "$TRANSFERS" --channels "$CHANNELS" --accounts "$ACCOUNTS" \
    --quiet >"$WORK/client.out" 2>&1 &
CPID=$!

# progress - the live progress line, from the client's log of outcomes (redrawn in place on a
# terminal, one line a second otherwise)
progress() {
    local fig
    fig=$(awk -v t0="$T_WORK" -v t1="$EPOCHREALTIME" -v total="$TRANSFERS" '
        NF >= 7 { n++; if ($2 == "ACCEPTED") a++; else if ($2 == "REJECTED") r++ }
        END { s = t1 - t0; printf "%5d/%d transfers  %5d accepted  %4d rejected  %5.0f tx/s  %5.1f s",
              n, total, a, r, (s > 0 ? n / s : 0), s }' "$LOG")
    if [ -n "$TTY" ]; then
        printf '\r   %s ' "$fig"
        LINE=1
    else
        printf '   %s\n' "$fig"
    fi
}
done_count() { awk 'NF >= 7 { n++ } END { print n + 0 }' "$LOG"; }
# lost_gone - be1 answers and no longer lists the killed server
lost_gone() { cli show server >"$WORK/srv.txt" 2>&1 && ! grep -q -- "$OLD_ID" "$WORK/srv.txt"; }

# noticed - be1 has dropped the killed server: say so, with what it replayed
noticed() {
    local n held held_state replayed
    NOTICED=$(secs "$T_KILL")
    cli show counters --node be1 >"$WORK/ctr.txt" 2>&1
    n=$(awk -F': ' '$1 == "replays" { print $2 }' "$WORK/ctr.txt")
    say "be1 noticed the loss after $NOTICED s (a server silent for failure_timeout_ms is lost):" \
        "replays: ${n:-?}"
    # what the dead server held at the kill (HELD: "TID STATE"), and rows that show a replay
    # now (the replays column is the last one: the server column may be empty)
    read -r held held_state <<<"$HELD"
    cli show transaction --node be1 >"$WORK/tx.txt" 2>&1
    replayed=$(awk 'p && $NF ~ /^[1-9][0-9]*$/ { printf "%s%s", sep, $1; sep = ", " }
                    /^tid / { p = 1 }' "$WORK/tx.txt")
    if [ "${n:-0}" -eq 0 ]; then
        if [ -n "$held" ]; then
            echo "   The dead server held $held, $held_state: already rejected, it stays so."
        else
            echo "   The dead server held no transaction: nothing to replay."
        fi
    else
        case "$held_state" in
        HARDENING | COMMITTED)
            echo "   The dead server held $held, decided to commit but not known to be applied:"
            echo "   delivered to the new server as rtr_mt_msg1_uncertain, which applies it only if"
            echo "   its database does not already record the TID." ;;
        QUEUED | ACTIVE)
            echo "   The dead server held $held, not yet decided: delivered again to the new"
            echo "   server as rtr_mt_msg1 (the dead server's open DB transaction died with it)." ;;
        *)
            echo "   A transaction delivered to the dead server went to the new one instead." ;;
        esac
        [ -z "$replayed" ] || echo "   (rtrcli show transaction --node be1: replayed $replayed)"
    fi
    cli show server | indent
    phase=2
}

phase=0 # 0 before the kill, 1 waiting for be1 to notice, 2 after
last_print=0 T_KILL="" NOTICED="" HELD=""
while kill -0 "$CPID" 2>/dev/null; do
    if [ "$phase" -eq 0 ] && [ "$(done_count)" -ge "$KILL_AT" ]; then
        progress
        kill -KILL "$S1"
        T_KILL=$(now)
        wait "$S1" 2>/dev/null
        say "SIGKILL to bank_server 1 (pid $S1, server $OLD_ID on be1, partition ACCT_LOW)"
        S1=""
        # what be1 holds right now: the killed server's transaction, and the queued ones
        cli show transaction --node be1 >"$WORK/tx.txt" 2>&1
        HELD=$(awk -v id="$OLD_ID" '$0 ~ id && $3 != "DONE" { print $1, $3; exit }' "$WORK/tx.txt")
        if awk '/^tid / { p = 1; next } p && NF > 3 && $3 != "DONE" { f = 1 } END { exit !f }' \
            "$WORK/tx.txt"; then
            echo "   be1's transactions in flight (rtrcli show transaction --node be1, DONE ones left out):"
            awk '/^tid / || ($3 != "DONE" && NF > 3)' "$WORK/tx.txt" | head -n 12 | indent
        else
            echo "   be1 has no transaction in flight at this instant."
        fi
        echo "   be1 still believes the server is there; ACCT_LOW transfers wait in its queue."
        start_server bank1b bank1 ACCT_LOW be1
        S3=$!
        say "a new bank_server on the same database (pid $S3); Berkeley DB recovery runs first"
        phase=1
    elif [ "$phase" -eq 1 ] && lost_gone; then
        noticed
    fi
    t=${EPOCHREALTIME%.*}
    if [ -n "$TTY" ] || [ "$t" -gt "$last_print" ]; then
        progress
        last_print=$t
    fi
    sleep 0.25
done
wait "$CPID"
crc=$?
CPID=""
progress
endline
[ "$phase" -ge 1 ] || die "the workload ended before $KILL_AT transfers: no server was killed"
if [ "$phase" -eq 1 ]; then
    wait_until 10 "be1 notices the lost server" lost_gone
    noticed
fi
echo
indent <"$WORK/client.out"
if [ "$crc" -ne 0 ]; then
    # exit 1 also means some outcomes stayed unknown: bank_verify accepts either fate for those
    if [ "$crc" -ne 1 ] || [ "$(done_count)" -ne "$TRANSFERS" ] || ! grep -q ' UNKNOWN ' "$LOG"; then
        die "bank_client exit $crc"
    fi
    echo "   (some outcomes are unknown to the client: bank_verify checks they were applied at most once)"
fi
T_WORK_END=$(now)

# ---- 5. settle and verify --------------------------------------------------------------------

section "5/6  settle, then verify: money conserved, every transfer exactly once"
# in_flight - the backends and the router still hold an undecided or unfinished transaction
# (a transaction decided while its server died waits for the loss to be noticed, then for its
# replay); `show transaction` lists the backends' recent DONE ones too
in_flight() {
    cli show transaction >"$WORK/tx.txt" 2>&1 || return 0
    awk '/^tid / { state = ($3 == "state"); table = 1; next }
         /^$/ { table = 0 }
         table && $1 != "(none)" && (!state || $3 != "DONE") { busy = 1 }
         END { exit !busy }' "$WORK/tx.txt"
}
settled() { ! in_flight; }
wait_until 30 "nothing in flight (rtrcli show transaction)" settled
say "nothing in flight ($(secs "$T_WORK_END") s after the last outcome); rtrcli show counters:"
for n in be1 be2; do
    cli show counters --node "$n" >"$WORK/ctr-$n.txt" 2>&1 || die "show counters --node $n"
done
printf '   %-6s %s\n' "" "tx_committed  tx_aborted  replays  moved" 
for n in be1 be2; do
    awk -v n="$n" -F': ' '{ v[$1] = $2 } END { printf "   %-6s %12d  %10d  %7d  %5d\n", n,
        v["tx_committed"], v["tx_aborted"], v["replays"], v["moved"] }' "$WORK/ctr-$n.txt"
done
REPLAYS=$(awk -F': ' '$1 == "replays" { print $2 }' "$WORK/ctr-be1.txt")
echo
say "bank_verify --db bank1 --db bank2 --log transfers.log"
"$VERIFY" --db "$WORK/bank1" --db "$WORK/bank2" --log "$LOG" >"$WORK/verify.out" 2>&1
vrc=$?
indent <"$WORK/verify.out"
[ "$vrc" -eq 0 ] || die "bank_verify exit $vrc"

# ---- 6. the journal, and stop ----------------------------------------------------------------

section "6/6  be1's journal, then stop everything"
say "rtrcli dump journal $WORK/journal/be1 --limit 5 (read-only, while be1 runs)"
"$RTRCLI" dump journal "$WORK/journal/be1" --limit 5 >"$WORK/dump.out" 2>&1 ||
    die "rtrcli dump journal: $(cat "$WORK/dump.out")"
indent <"$WORK/dump.out"
echo
say "SIGTERM to the bank servers (pids $S2 $S3)"
kill -TERM "$S2" "$S3"
wait "$S2"
r2=$?
wait "$S3"
r3=$?
S2="" S3=""
if [ "$r2" -ne 0 ] || [ "$r3" -ne 0 ]; then
    die "bank_server exit statuses $r2 $r3"
fi
echo "   bank_server 1 (new): $(grep '^stopping' "$WORK/bank1b.out")"
echo "   bank_server 2:       $(grep '^stopping' "$WORK/bank2.out")"
say "rtrcli stop facility"
"$RTRCLI" stop facility "$CONF" --run "$RUN" >"$WORK/stop.out" 2>&1
rc=$?
indent <"$WORK/stop.out"
[ "$rc" -eq 0 ] || die "rtrcli stop facility exit $rc"
UP=""

# ---- summary ---------------------------------------------------------------------------------

read -r ACC REJ NSF UNK < <(awk '{ c[$2]++ } $2 == "REJECTED" && $4 == 1 { nsf++ }
    END { print c["ACCEPTED"] + 0, c["REJECTED"] + 0, nsf + 0, c["UNKNOWN"] + 0 }' "$LOG")
REJ_TEXT="$REJ rejected ($NSF overdrafts)"
[ "$NSF" -eq "$REJ" ] || REJ_TEXT="$REJ rejected ($NSF overdrafts, $((REJ - NSF)) for another reason)"
SKIPPED=$(sed -n 's/^stopping: .*, \([0-9]*\) replays already applied.*/\1/p' "$WORK/bank1b.out")
MONEY=$(awk '$1 == "money" { print $2 }' "$WORK/verify.out")
section "summary"
printf '  %-14s %s\n' \
    "transfers" "$TRANSFERS from $CHANNELS channels in $(secs "$T_WORK" "$T_WORK_END") s: $ACC accepted, $REJ_TEXT, $UNK unknown" \
    "server killed" "bank_server of ACCT_LOW, SIGKILL after $KILL_AT transfers; be1 noticed in $NOTICED s" \
    "replays" "${REPLAYS:-0} (delivered again after their server died; ${SKIPPED:-0} of them found already applied and skipped)" \
    "verify" "OK: money conserved ($MONEY cents), every accepted transfer applied exactly once, no rejected one" \
    "elapsed" "$(secs "$T_START") s"
echo "  Every process the demo started is stopped; $WORK is removed."
