#!/usr/bin/env bash
# demo.sh BUILD_DIR - the RTR demo (`make demo`): a bank on a shadow pair survives the death of
# its primary backend under load; the old primary comes back, catches up, and both copies of
# the bank end identical, with not one cent lost or moved twice.
#
#   1. The facility file: docs/facility-shadow.conf (three routers holding the facility
#      register, backends be1 and be2, one partition ACCT served by the pair), copied into a
#      temporary directory with its journals, router state and ipc sockets moved there (and its
#      tcp ports moved up if another facility already uses them).
#   2. `rtrcli start facility --bootstrap` starts the routers and both backends and writes the
#      first register value; be1 becomes the primary (pri_act), be2 its secondary (sec_act).
#   3. A bank_server on each backend, each with its own Berkeley DB database: the secondary
#      executes every committed transfer too, in the primary's order.
#   4. bank_client runs 4,000 random transfers from 8 client channels, with a live progress
#      line. After a quarter of them the primary backend be1 is killed with SIGKILL: be2 is
#      promoted by the register (a new epoch) and commits alone (REMEMBER). A quarter later be1
#      is started again: it rejoins as the member, is streamed what it missed, executes it,
#      and the pair is back to ACTIVE/SECONDARY; the progress line shows the catch-up (lag,
#      rate, eta, from `rtrcli show partition`).
#   5. When the workload has ended and both members applied everything: `bank_dump` of the two
#      databases must be identical, and bank_verify checks each (money conserved, every
#      accepted transfer applied exactly once, no rejected one).
#   6. The shadow counters, then SIGTERM to the bank servers and `rtrcli stop facility`; a
#      summary.
#
# Every process it starts is stopped by its pid, also on failure or Ctrl-C (an EXIT trap); the
# temporary directory is removed (DEMO_KEEP=1 keeps it). On a failure it prints the tail of
# every log and exits 1. About a minute once built on 2 CPUs. DEMO_TRANSFERS and DEMO_CHANNELS
# change the workload.
set -uo pipefail

BUILD=${1:?usage: demo.sh BUILD_DIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
RTRCLI="$BUILD/tools/rtrcli"
BACKEND="$BUILD/backend/rtr-backend"
SERVER="$BUILD/examples/bank_server"
CLIENT="$BUILD/examples/bank_client"
VERIFY="$BUILD/examples/bank_verify"
DUMP="$BUILD/tests/integration/bank_dump"
for tool in "$RTRCLI" "$SERVER" "$CLIENT" "$VERIFY" "$BUILD/router/rtr-router" "$BACKEND"; do
    if [ ! -x "$tool" ]; then
        echo "demo: $tool is missing: build first (make build)" >&2
        exit 1
    fi
done
if [ ! -x "$DUMP" ]; then
    echo "demo: $DUMP is missing: it is built with the tests (cmake -DRTR_TESTS=ON, the default)" >&2
    exit 1
fi
command -v python3 >/dev/null || {
    echo "demo: needs python3 (to read rtrcli --json)" >&2
    exit 1
}

TRANSFERS=${DEMO_TRANSFERS:-4000}
CHANNELS=${DEMO_CHANNELS:-8}
KILL_AT=$((TRANSFERS / 4))    # transfers logged when the primary is killed
RESTART_AFTER=$((TRANSFERS / 4)) # transfers logged after the takeover when it is restarted
ACCOUNTS=100
INITIAL=100000 # cents per account
T_START=$EPOCHREALTIME

WORK=$(mktemp -d /tmp/rtr-demo-XXXXXX) || exit 1 # short: ipc paths live in it
CONF="$WORK/facility.conf"
RUN="$WORK/run"
LOG="$WORK/transfers.log"
S1="" S2="" CPID="" UP="" BE1_NEW=""
TTY=""
[ -t 1 ] && TTY=1
LINE="" # a progress line is drawn (a tty line without its newline yet)

cleanup() {
    local p
    trap - INT TERM
    for p in $CPID $S1 $S2; do
        kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [ -n "$UP" ]; then
        # the daemons run in sessions of their own: stopped by the pids in their pid files
        # (the restarted be1 included: its pid was written there)
        "$RTRCLI" stop facility "$CONF" --run "$RUN" --timeout 3000 >/dev/null 2>&1 ||
            echo "demo: rtrcli stop facility failed; pid files in $RUN" >&2
    fi
    [ -z "$BE1_NEW" ] || kill -KILL "$BE1_NEW" 2>/dev/null
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

# part NODE - partition ACCT as backend NODE reports it (`show partition --json`), as shell
# assignments of P_<field> (P_state P_role P_epoch P_hardened P_applied P_partner_hardened
# P_partner_applied P_serving P_single); status 1 (and P_state "down") when NODE does not answer.
part() {
    local out
    out=$("$RTRCLI" --json show partition --config "$CONF" --node "$1" --timeout 1000 2>/dev/null |
        python3 -c 'import json,sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
r = dict(zip(d["columns"], [x for x in d["rows"] if x[0] == "ACCT"][0]))
v = lambda x: str(x).lower() if isinstance(x, bool) else str(x)
print("P_state=%s P_role=%s P_epoch=%s P_hardened=%s P_applied=%s P_partner_hardened=%s "
      "P_partner_applied=%s P_serving=%s P_single=%s" % tuple(v(r[k]) for k in (
      "state", "role", "epoch", "hardened_csn", "applied_n", "partner_hardened",
      "partner_applied", "serving", "single_copy_commits")))' 2>/dev/null)
    if [ -z "$out" ]; then
        P_state=down P_role=- P_epoch=0 P_hardened=0 P_applied=0 P_serving=false P_single=0
        return 1
    fi
    eval "$out"
}
# pair_is PRIMARY MEMBER - PRIMARY is pri_act and MEMBER sec_act
pair_is() {
    part "$2" && [ "$P_state" = sec_act ] && part "$1" && [ "$P_state" = pri_act ]
}

# ---- 1. the facility file --------------------------------------------------------------------

section "1/6  the facility: docs/facility-shadow.conf"
sed -e "s#\"/tmp/rtr-shadow/#\"$WORK/state/#" -e "s#ipc:///tmp/rtr-shadow-#ipc://$WORK/#" \
    "$SRC/docs/facility-shadow.conf" >"$CONF" || die "cannot copy docs/facility-shadow.conf"
if grep -E '^[^#]*(journal *=|state *=|ipc://)' "$CONF" | grep -qv "$WORK"; then
    die "docs/facility-shadow.conf: the demo moves journals and router state under /tmp/rtr-shadow/" \
        "and ipc:///tmp/rtr-shadow-* endpoints into its directory, and this file has others"
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
    [ "$try" -lt 9 ] || die "the ports of docs/facility-shadow.conf (and 9 shifts of them) are busy"
done
if [ "$shift_by" -ne 0 ]; then
    for p in $PORTS; do
        sed -i "s#127\.0\.0\.1:$p\"#127.0.0.1:$((p + shift_by))\"#" "$CONF"
    done
fi
echo "A copy of docs/facility-shadow.conf in $WORK, its journals, router state and ipc sockets"
echo "moved there"
[ "$shift_by" -ne 0 ] && echo "(and its tcp ports up by $shift_by: another process holds them)"
echo
sed -e 's/ *#.*//' -e '/^ *$/d' "$CONF" | indent
echo
"$RTRCLI" check facility "$CONF" | indent || die "rtrcli check facility $CONF"

# ---- 2. start it -----------------------------------------------------------------------------

section "2/6  rtrcli start facility --bootstrap: three routers, the pair be1/be2"
echo "The routers hold the facility register (who is primary, in which epoch); a change needs a"
echo "majority of them. --bootstrap writes its first value from the file's hint: be1 primary."
echo
UP=1
"$RTRCLI" start facility "$CONF" --run "$RUN" --bootstrap --timeout 20000 >"$WORK/start.out" 2>&1
rc=$?
indent <"$WORK/start.out"
[ "$rc" -eq 0 ] || die "rtrcli start facility exit $rc"
wait_until 20 "be1 pri_act and be2 sec_act" pair_is be1 be2
E0=$P_epoch
echo
say "rtrcli show partition (each backend's view of ACCT)"
cli show partition | indent

# ---- 3. the bank servers ---------------------------------------------------------------------

section "3/6  a bank server on each backend, each with its own Berkeley DB database"
export RTR_CONFIG="$CONF"
start_server() { # OUT DB NODE -> pid in $!
    "$SERVER" --db "$WORK/$2" --partition ACCT --node "$3" --accounts "$ACCOUNTS" \
        --initial "$INITIAL" --quiet >>"$WORK/$1.out" 2>&1 &
}
serving() { grep -q '^serving accounts' "$WORK/$1.out" 2>/dev/null; }
start_server bank1 bank1 be1
S1=$!
start_server bank2 bank2 be2
S2=$!
wait_until 20 "bank_server 1 opens its channel" serving bank1
wait_until 20 "bank_server 2 opens its channel" serving bank2
echo "bank_server 1 (pid $S1) on be1, the primary:"
indent <"$WORK/bank1.out"
echo "bank_server 2 (pid $S2) on be2, the secondary: it executes every committed transfer too,"
echo "in the primary's order, its replies suppressed and compared (digest) with the primary's"
indent <"$WORK/bank2.out"
echo
say "rtrcli show server"
cli show server | indent

# ---- 4. the workload, the primary killed, its return ------------------------------------------

section "4/6  $TRANSFERS transfers from $CHANNELS channels; the primary be1 killed with SIGKILL at $KILL_AT"
echo "Each transfer moves money between two accounts; 5% of them ask for more than the account"
echo "holds and the bank rejects them. A transfer is accepted only once both journals (be1's"
echo "and be2's) hold it."
echo
: >"$LOG"
T_WORK=$(now)
"$CLIENT" --log "$LOG" --transfers "$TRANSFERS" --channels "$CHANNELS" --accounts "$ACCOUNTS" \
    --quiet >"$WORK/client.out" 2>&1 &
CPID=$!

done_count() { awk 'NF >= 7 { n++ } END { print n + 0 }' "$LOG"; }
PAIR="" # the pair's part of the progress line
# progress - the live progress line: the client's log of outcomes, then the pair (redrawn in
# place on a terminal, one line a second otherwise)
progress() {
    local fig
    fig=$(awk -v t0="$T_WORK" -v t1="$EPOCHREALTIME" -v total="$TRANSFERS" '
        NF >= 7 { n++; if ($2 == "ACCEPTED") a++; else if ($2 == "REJECTED") r++ }
        END { s = t1 - t0; printf "%5d/%d  %5d acc %4d rej  %4.0f tx/s %5.1f s",
              n, total, a, r, (s > 0 ? n / s : 0), s }' "$LOG")
    if [ -n "$TTY" ]; then
        printf '\r   %s | %s\033[K' "$fig" "$PAIR"
        LINE=1
    else
        printf '   %s | %s\n' "$fig" "$PAIR"
    fi
}

# catchup_fig - the returning be1 against the primary be2, from show partition: its state,
# the CSNs it applied of those be2 hardened, the lag (what its database lacks; in brackets
# what its journal lacks), its rate (CSNs it applied per second over the last 8 polls) and the
# eta (lag / (its rate - the primary's), when positive).
CU_T=() CU_A=() CU_H=() ST1=""
catchup_fig() {
    local h2 h1 a1 n k rate eta lag
    ST1=down
    part be2 || {
        PAIR="be2 does not answer"
        return
    }
    h2=$P_hardened
    if ! part be1; then
        PAIR="be1 not answering yet (starting: journal recovery, register, handshake)"
        return
    fi
    ST1=$P_state h1=$P_hardened a1=$P_applied
    [ "$a1" -le "$h2" ] || h2=$a1 # be2 was read first: it may already be further
    lag=$((h2 - a1))
    CU_T+=("$EPOCHREALTIME") CU_A+=("$a1") CU_H+=("$h2")
    n=${#CU_T[@]}
    k=$((n > 8 ? n - 8 : 0))
    read -r rate eta < <(awk -v t0="${CU_T[$k]}" -v t1="${CU_T[$((n - 1))]}" -v a0="${CU_A[$k]}" \
        -v a1="$a1" -v h0="${CU_H[$k]}" -v h1="$h2" -v lag="$lag" 'BEGIN {
            dt = t1 - t0; r = dt > 0 ? (a1 - a0) / dt : 0; p = dt > 0 ? (h1 - h0) / dt : 0
            eta = (lag == 0) ? "0 s" : (r - p > 0) ? sprintf("%.0f s", lag / (r - p)) : "-"
            printf "%.0f %s\n", r, eta }')
    PAIR=$(printf 'be1 %s: applied %d of %d, lag %d (journal %d)  %d/s  eta %s' "$ST1" "$a1" "$h2" \
        "$lag" "$((h2 > h1 ? h2 - h1 : 0))" "$rate" "$eta")
}

phase=0 # 0 before the kill, 1 waiting for the takeover, 2 be2 alone, 3 catching up, 4 in sync
last_print=0
T_KILL="" T_TAKE="" T_RESTART="" T_SYNC="" TAKE_AT=0 E1="" KILLED_AT=""
BE1=$(cat "$RUN/be1.pid")
PAIR="be1 pri_act, be2 sec_act (epoch $E0)"
while kill -0 "$CPID" 2>/dev/null; do
    case $phase in
    0)
        if [ "$(done_count)" -ge "$KILL_AT" ]; then
            progress
            kill -KILL "$BE1"
            T_KILL=$(now)
            KILLED_AT=$(done_count)
            say "SIGKILL to the primary backend be1 (pid $BE1) after $KILLED_AT transfers"
            echo "   be2 stops hearing it; after failure_timeout_ms, and once the routers no longer"
            echo "   grant be1 its lease, the register promotes be2 in a new epoch (a compare-and-set"
            echo "   on a majority of the routers). Transfers wait meanwhile; none is lost."
            PAIR="be1 down; waiting for the takeover"
            phase=1
        fi ;;
    1)
        if part be2 && [ "$P_role" = primary ] && [ "$P_serving" = true ] && [ "$P_epoch" -gt "$E0" ]; then
            T_TAKE=$(now)
            E1=$P_epoch
            TAKE_AT=$(done_count)
            say "failover: be2 is the primary in epoch $E1 (was $E0), state $P_state, $(secs "$T_KILL") s after the kill"
            echo "   rtrcli show register --node r1 (the register's value for ACCT):"
            cli show register --node r1 2>&1 | awk '/^partition / { p = 1 } p' | indent
            PAIR="be2 primary, alone (remember)"
            phase=2
        fi ;;
    2)
        part be2 && PAIR="be2 primary, alone: $P_single single-copy commits"
        if [ "$(done_count)" -ge $((TAKE_AT + RESTART_AFTER)) ]; then
            # the same command line as `rtrcli start facility`; the pid file lets `rtrcli stop
            # facility` stop it at the end
            setsid "$BACKEND" --config "$CONF" --node be1 --log "$RUN/be1.log" </dev/null \
                >>"$RUN/be1.log" 2>&1 &
            BE1_NEW=$!
            echo "$BE1_NEW" >"$RUN/be1.pid"
            T_RESTART=$(now)
            say "be1 started again (pid $BE1_NEW), $(done_count) transfers logged, be2 alone since $(secs "$T_TAKE") s"
            echo "   It rejoins as the member: handshake (its journal cut back to the point both agree"
            echo "   on), the records it missed streamed from be2's journal, executed by bank_server 1;"
            echo "   the register adds it back (in_sync) once its journal holds them."
            phase=3
        fi ;;
    3)
        catchup_fig
        if [ "$ST1" = sec_act ]; then
            if part be2 && [ "$P_state" = pri_act ]; then
                T_SYNC=$(now)
                say "be1 back in sync: be2 pri_act, be1 sec_act, $(secs "$T_RESTART") s after its restart"
                echo "   Its journal holds every CSN, so the register added it back to in_sync: every"
                echo "   commit waits for its ack again. Its bank server still executes the backlog:"
                phase=4
            fi
        fi ;;
    4)
        catchup_fig ;;
    esac
    # a bank server whose backend died may exit (its channel closed): start it again
    if [ -n "$S1" ] && ! kill -0 "$S1" 2>/dev/null; then
        wait "$S1"
        say "bank_server 1 exited (status $?): started again on its database"
        start_server bank1 bank1 be1
        S1=$!
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
[ "$phase" -ge 3 ] || die "the workload ended before be1 was restarted (phase $phase): more transfers? (DEMO_TRANSFERS)"
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

# ---- 5. catch-up to the end, then compare and verify ---------------------------------------

section "5/6  the pair back in step; both databases compared, then verified"
# in_step - be2 (primary) applied everything it hardened, be1 is its in-sync member and
# applied as far; draws the catch-up line meanwhile
in_step() {
    local h2 a2
    catchup_fig
    [ -n "$TTY" ] && {
        printf '\r   %s\033[K' "$PAIR"
        LINE=1
    }
    part be2 && [ "$P_state" = pri_act ] || return 1
    h2=$P_hardened a2=$P_applied
    part be1 && [ "$P_state" = sec_act ] && [ "$a2" -eq "$h2" ] && [ "$P_applied" -eq "$a2" ]
}
wait_until 120 "be1 in sync and applied as far as be2" in_step
endline
[ -n "$T_SYNC" ] || T_SYNC=$(now)
APPLIED=$P_applied
say "be1 applied everything be2 applied (up to n = $APPLIED), $(secs "$T_WORK_END") s after the last outcome"
cli show partition | indent
echo
say "bank_dump of both databases (sorted accounts and applied transfers)"
"$DUMP" --db "$WORK/bank1" >"$WORK/dump1.txt" 2>"$WORK/dump1.err" || die "bank_dump bank1: $(cat "$WORK/dump1.err")"
"$DUMP" --db "$WORK/bank2" >"$WORK/dump2.txt" 2>"$WORK/dump2.err" || die "bank_dump bank2: $(cat "$WORK/dump2.err")"
cmp -s "$WORK/dump1.txt" "$WORK/dump2.txt" ||
    die "the two databases differ: $(diff "$WORK/dump1.txt" "$WORK/dump2.txt" | head -20)"
SUM=$(sha256sum <"$WORK/dump1.txt" | cut -c1-16)
echo "   bank1 (be1) and bank2 (be2): identical, $(wc -l <"$WORK/dump1.txt") lines, sha256 $SUM..."
for n in 1 2; do
    echo
    say "bank_verify --db bank$n --log transfers.log"
    "$VERIFY" --db "$WORK/bank$n" --log "$LOG" >"$WORK/verify$n.out" 2>&1
    vrc=$?
    indent <"$WORK/verify$n.out"
    [ "$vrc" -eq 0 ] || die "bank_verify bank$n exit $vrc"
done

# ---- 6. the counters, and stop ---------------------------------------------------------------

section "6/6  the shadow counters, then stop everything"
for n in be1 be2; do
    cli show counters --node "$n" >"$WORK/ctr-$n.txt" 2>&1 || die "show counters --node $n"
done
printf '   %-6s %s\n' "" "tx_committed  records_sent  records_recv  executed  hellos  single_copy  divergence"
for n in be1 be2; do
    awk -v n="$n" -F': ' '{ v[$1] = $2 } END { printf "   %-6s %12d  %12d  %12d  %8d  %6d  %11d  %10d\n", n,
        v["tx_committed"], v["shadow_records_sent"], v["shadow_records_recv"], v["shadow_executed"],
        v["shadow_hellos"], v["single_copy_commits"], v["shadow_divergence"] }' "$WORK/ctr-$n.txt"
done
echo "   (be1's counters start at its restart; be2 sent the records be1 missed and every new one)"
echo
say "SIGTERM to the bank servers (pids $S1 $S2)"
kill -TERM "$S1" "$S2"
wait "$S1"
r1=$?
wait "$S2"
r2=$?
S1="" S2=""
if [ "$r1" -ne 0 ] || [ "$r2" -ne 0 ]; then
    die "bank_server exit statuses $r1 $r2"
fi
say "rtrcli stop facility"
"$RTRCLI" stop facility "$CONF" --run "$RUN" >"$WORK/stop.out" 2>&1
rc=$?
indent <"$WORK/stop.out"
[ "$rc" -eq 0 ] || die "rtrcli stop facility exit $rc"
UP="" BE1_NEW=""

# ---- summary ---------------------------------------------------------------------------------

read -r ACC REJ UNK < <(awk '{ c[$2]++ } END { print c["ACCEPTED"] + 0, c["REJECTED"] + 0, c["UNKNOWN"] + 0 }' "$LOG")
MONEY=$(awk '$1 == "money" { print $2 }' "$WORK/verify1.out")
section "summary"
printf '  %-14s %s\n' \
    "transfers" "$TRANSFERS from $CHANNELS channels in $(secs "$T_WORK" "$T_WORK_END") s: $ACC accepted, $REJ rejected, $UNK unknown" \
    "failover" "be1 (primary) killed after $KILLED_AT transfers; be2 primary in epoch $E1 after $(secs "$T_KILL" "$T_TAKE") s" \
    "catch-up" "be1 restarted after $(secs "$T_KILL" "$T_RESTART") s; back in sync $(secs "$T_RESTART" "$T_SYNC") s later" \
    "databases" "identical on be1 and be2 (bank_dump), every CSN up to n = $APPLIED applied on each" \
    "verify" "OK on both: money conserved ($MONEY cents), every accepted transfer applied exactly once, no rejected one" \
    "elapsed" "$(secs "$T_START") s"
echo "  Every process the demo started is stopped; $WORK is removed."
