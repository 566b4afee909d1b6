/*
 * bench_tx.c - `rtrbench tx`: committed transactions per second and their latency, through a
 * running facility, with the bank example's transfer as the transaction (DESIGN §10).
 *
 * N client channels each run closed-loop transfers: rtr_start_tx (with the transaction
 * timeout), rtr_send_to_server(RTR_F_SEN_ACCEPT) of one transfer message, then
 * rtr_receive_message until rtr_mt_accepted / rtr_mt_rejected (the server's rtr_mt_reply is
 * read and ignored), then the next transfer. The message is the bank's bank_transfer_t
 * (examples/bank/bank.h, same layout below), so the facility's servers are bank_server
 * processes; both accounts of a transfer are in one partition, among the first --accounts of
 * its range (the accounts bank_server creates), amounts 1..--max-amount cents, so that with
 * bank_server's default balance nothing is refused for want of funds.
 *
 * The latency of a transaction is from just before rtr_start_tx to the return of the
 * rtr_receive_message that delivered its outcome (CLOCK_MONOTONIC): what the application
 * sees, client library and scheduling included. Two drivers:
 *   - event loop (default): one thread opens the N channels and drives them all with
 *     rtr_receive_message(RTR_ANYCHAN), as an event-driven client would;
 *   - --threads: one OS thread per channel, each blocking on its own channel, as
 *     examples/bank/bank_client does. On a small machine this measures the scheduler too.
 * Only transactions whose outcome arrives inside the measured window (after --warmup, for
 * --duration seconds) are counted; the rate is those committed divided by the window. After
 * the window no transaction is started and the ones in flight are drained (not counted)
 * before the channels are closed. Latencies are kept per channel (no sharing on the hot path)
 * and merged at the end for exact nearest-rank percentiles.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cmn.h"
#include "cmn_config.h"
#include "rtr.h"
#include "tool.h"

#define BENCH_TX_NS_PER_S    1000000000ull
#define BENCH_TX_SLICE_MS    100    /* receive slice: how soon a deadline or a signal is seen */
#define BENCH_TX_MARGIN_MS   30000u /* an outcome may come this long after the tx timeout */
#define BENCH_TX_MAXPARTS    256
#define BENCH_TX_MAXSTATUSES 16

/* The bank's transfer message (examples/bank/bank.h bank_transfer_t): native byte order, the
 * routing key first, so the facility key is { unsigned, offset 0, length 4 }. */
typedef struct {
    rtr_uns_32_t from_account;
    rtr_uns_32_t to_account;
    rtr_sgn_64_t amount;
    rtr_uns_64_t client_seq;
} bench_transfer_t;
_Static_assert(sizeof(bench_transfer_t) == 24, "bank_transfer_t is 24 bytes");

/* The command line. */
typedef struct {
    uint64_t channels;
    uint64_t duration;
    uint64_t warmup;
    uint64_t accounts;
    uint64_t max_amount;
    uint64_t timeout_ms;
    uint64_t open_timeout_ms;
    uint64_t seed;
    const char *config; /* --config, or NULL: $RTR_CONFIG, else /etc/rtr/facility.conf */
    bool threads;
    bool quiet;
    bool json;
} bench_topts_t;

/* A partition's accounts. */
typedef struct {
    uint32_t low;   /* first account */
    uint32_t count; /* accounts used: min(--accounts, range) */
} bench_tpart_t;

/* Rejections by status, and by reason for a party's reject vote (status RTR_STS_OK: the bank
 * server's BANK_* result, e.g. 5 = BANK_DBERROR for a Berkeley DB deadlock victim). */
typedef struct {
    rtr_status_t status;
    rtr_reason_t reason; /* 0 unless status is RTR_STS_OK */
    uint64_t count;
} bench_tsts_t;

typedef struct bench_trun bench_trun_t;

/* One client channel. Only its driver (the event loop or its thread) touches it until the
 * run is over. */
typedef struct {
    bench_trun_t *run;
    pthread_t thread;
    rtr_channel_t ch;
    bool opened;
    bool in_flight;
    bool broken;       /* an API call failed or an outcome never came: no more transactions */
    uint64_t t0;       /* start of the transaction in flight */
    uint64_t deadline; /* when it is given up (timeout + margin) */
    uint64_t rng;
    uint64_t seq;
    uint64_t *lat; /* committed in the window: start -> outcome, ns */
    size_t nlat, cap;
    uint64_t rejected, unknown, errors;
    bench_tsts_t rej[BENCH_TX_MAXSTATUSES];
    size_t nrej;
    char err[160]; /* the first error of this channel */
} bench_tchan_t;

/* One run. */
struct bench_trun {
    const bench_topts_t *o;
    char facility[CMN_FACILITY_NAME_MAX + 1];
    char routers[256]; /* "r1 (tcp://...)" for messages */
    bench_tpart_t parts[BENCH_TX_MAXPARTS];
    size_t nparts;
    bench_tchan_t *chan;
    size_t nchan;
    uint64_t start_ns, win_start, win_end;
    atomic_uint_fast64_t done;      /* outcomes since the start, for the progress line */
    atomic_uint_fast64_t committed; /* committed since the start */
    atomic_int running;             /* --threads: workers not yet finished */
    atomic_bool stop;
};

/* SIGINT/SIGTERM: the run stops early and reports nothing. A handler can only reach static
 * storage, hence this one file-scope flag. */
static volatile sig_atomic_t bench_tx_interrupted;

static void
bench_tx_on_signal(int sig)
{
    (void)sig;
    bench_tx_interrupted = 1;
}

/* ---- command line ---------------------------------------------------------------------- */

static void
bench_tusage(FILE *out, const tool_opt_t *opts, size_t nopts)
{
    fprintf(out,
            "usage: rtrbench tx [--channels N] [--duration S] [--warmup S] [--accounts A]\n"
            "                   [--config FILE] [--threads] [--quiet] [--json]\n\n"
            "N client channels run bank transfers (examples/bank's message) closed-loop against\n"
            "a running facility whose servers are bank_server: start a transaction, send one\n"
            "transfer with accept, wait for the outcome, again. After --warmup seconds it\n"
            "counts for --duration seconds: committed tx/s, rejections, errors, and the latency\n"
            "from rtr_start_tx to the outcome (p50/p95/p99/p99.9/max). By default one event\n"
            "loop drives every channel through rtr_receive_message(RTR_ANYCHAN); --threads runs\n"
            "one OS thread per channel instead. A progress line goes to stderr every second\n"
            "unless --quiet. The facility file is --config, else $RTR_CONFIG, else\n"
            "/etc/rtr/facility.conf; its key must be the bank's (unsigned, offset 0, length 4).\n"
            "\noptions:\n");
    tool_opts_usage(opts, nopts, out);
    fprintf(out, "\nexit status: 0 ok, 1 the benchmark failed (no facility, a channel broke, "
                 "nothing committed), 2 usage error.\n");
}

/* bench_tparse - fill *o from argv. Returns -1 when parsed, else the exit code to return. */
static int
bench_tparse(bench_topts_t *o, int argc, char **argv)
{
    const tool_opt_t opts[] = {
        { "channels", TOOL_OPT_U64, "N", "client channels, each with one transaction in flight", 1,
          1, RTR_MAX_CHANNELS, &o->channels },
        { "duration", TOOL_OPT_U64, "S", "seconds measured", 10, 1, 86400, &o->duration },
        { "warmup", TOOL_OPT_U64, "S", "seconds run before measuring", 1, 0, 3600, &o->warmup },
        { "accounts", TOOL_OPT_U64, "A", "accounts per partition, as bank_server --accounts", 100,
          2, UINT32_MAX, &o->accounts },
        { "max-amount", TOOL_OPT_U64, "CENTS", "largest transfer", 100, 1, INT32_MAX,
          &o->max_amount },
        { "timeout", TOOL_OPT_U64, "MS", "transaction timeout (rtr_start_tx)", 10000, 1, 3600000,
          &o->timeout_ms },
        { "open-timeout", TOOL_OPT_U64, "MS", "how long to wait for the channels to open", 10000, 1,
          3600000, &o->open_timeout_ms },
        { "seed", TOOL_OPT_U64, "S", "random seed (0: from the clock)", 0, 0, UINT64_MAX,
          &o->seed },
        { "config", TOOL_OPT_STR, "FILE", "the facility file (default $RTR_CONFIG)", 0, 0, 0,
          &o->config },
        { "threads", TOOL_OPT_FLAG, NULL,
          "one OS thread per channel (default: one event loop on RTR_ANYCHAN)", 0, 0, 0,
          &o->threads },
        { "quiet", TOOL_OPT_FLAG, NULL, "no progress line", 0, 0, 0, &o->quiet },
        { "json", TOOL_OPT_FLAG, NULL, "print the report as one JSON object", 0, 0, 0, &o->json },
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    int npos;
    int rc = tool_opts_parse("rtrbench tx", opts, nopts, argc, argv, NULL, 0, &npos);

    if (rc == TOOL_OPTS_HELP) {
        bench_tusage(stdout, opts, nopts);
        return TOOL_EXIT_OK;
    }
    return rc == 0 ? -1 : TOOL_EXIT_USAGE;
}

/* bench_tfacility - read the facility file: name, routers, the partitions' accounts. Checks
 * that the key is the bank's. Returns 0, or -1 (printed). */
static int
bench_tfacility(bench_trun_t *r)
{
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;
    const char *path = r->o->config;
    int rc = -1;

    if (path == NULL || *path == '\0')
        path = getenv("RTR_CONFIG");
    if (path == NULL || *path == '\0')
        path = "/etc/rtr/facility.conf";
    if (cmn_facility_load_ex(path, &lo, &fac, &diag) != RTR_STS_OK) {
        fprintf(stderr, "rtrbench tx: %s\n",
                diag != NULL && diag->error != NULL ? diag->error : "cannot load the facility");
        goto done;
    }
    if (fac->nseg != 1 || fac->seg[0].type != CMN_KEYSEG_UNSIGNED || fac->seg[0].offset != 0 ||
        fac->seg[0].length != 4) {
        fprintf(stderr,
                "rtrbench tx: %s: the bank transfer needs the facility key { type = "
                "\"unsigned\"; offset = 0; length = 4; }\n",
                path);
        goto done;
    }
    snprintf(r->facility, sizeof r->facility, "%s", fac->name);
    for (size_t i = 0, off = 0; i < fac->nrouters && off < sizeof r->routers; i++)
        off += (size_t)snprintf(r->routers + off, sizeof r->routers - off, "%s%s (%s)",
                                i ? ", " : "", fac->routers[i].name, fac->routers[i].clients);
    for (size_t i = 0; i < fac->npartitions && r->nparts < BENCH_TX_MAXPARTS; i++) {
        const cmn_partition_t *p = &fac->partitions[i];
        uint32_t lo32 = cmn_get_be32(p->low.bytes); /* unsigned keys normalize to big-endian */
        uint64_t span = (uint64_t)cmn_get_be32(p->high.bytes) - lo32 + 1;
        uint64_t n = span < r->o->accounts ? span : r->o->accounts;
        if (n < 2) {
            fprintf(stderr, "rtrbench tx: partition %s holds one account: no transfer possible\n",
                    p->name);
            goto done;
        }
        r->parts[r->nparts++] = (bench_tpart_t){ lo32, (uint32_t)n };
    }
    rc = 0;
done:
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    return rc;
}

/* ---- one channel ----------------------------------------------------------------------- */

/* bench_trand - xorshift64*: a channel's own random numbers. */
static uint64_t
bench_trand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void bench_tfail(bench_tchan_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* bench_tfail - the channel is broken: count an error, keep the first message. */
static void
bench_tfail(bench_tchan_t *c, const char *fmt, ...)
{
    va_list ap;

    c->errors++;
    c->broken = true;
    c->in_flight = false;
    if (c->err[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

/* bench_tbegin - start the next transfer on c: rtr_start_tx, then the one message with
 * accept. On failure the channel is marked broken. */
static void
bench_tbegin(bench_tchan_t *c)
{
    const bench_trun_t *r = c->run;
    const bench_tpart_t *p = &r->parts[bench_trand(&c->rng) % r->nparts];
    uint32_t a = (uint32_t)(bench_trand(&c->rng) % p->count);
    uint32_t b = (uint32_t)(bench_trand(&c->rng) % (p->count - 1));
    bench_transfer_t t;
    rtr_status_t sts;

    if (b >= a)
        b++; /* a different account */
    t.from_account = p->low + a;
    t.to_account = p->low + b;
    t.amount = 1 + (int64_t)(bench_trand(&c->rng) % r->o->max_amount);
    t.client_seq = ++c->seq;
    c->t0 = cmn_now_mono_ns();
    c->deadline = c->t0 + (r->o->timeout_ms + BENCH_TX_MARGIN_MS) * 1000000ull;
    if ((sts = rtr_start_tx(c->ch, RTR_NO_FLAGS, (rtr_timout_t)r->o->timeout_ms,
                            RTR_NO_JOINCHAN)) != RTR_STS_OK) {
        bench_tfail(c, "channel %u: rtr_start_tx: %s", c->ch, rtr_error_text(sts));
        return;
    }
    if ((sts = rtr_send_to_server(c->ch, RTR_F_SEN_ACCEPT, &t, sizeof t, RTR_NO_MSGFMT)) !=
        RTR_STS_OK) {
        bench_tfail(c, "channel %u: rtr_send_to_server: %s", c->ch, rtr_error_text(sts));
        return;
    }
    c->in_flight = true;
}

/* bench_tlat_push - keep one latency; false on out of memory. */
static bool
bench_tlat_push(bench_tchan_t *c, uint64_t ns)
{
    if (c->nlat == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        uint64_t *v = realloc(c->lat, cap * sizeof *v);
        if (v == NULL)
            return false;
        c->lat = v;
        c->cap = cap;
    }
    c->lat[c->nlat++] = ns;
    return true;
}

/* bench_tmessage - a message of c's transaction arrived at `now`. The outcome ends it and
 * is counted if it falls in the window; a reply is ignored; a closed channel breaks it. */
static void
bench_tmessage(bench_tchan_t *c, const rtr_msgsb_t *sb, const rtr_status_data_t *sd, uint64_t now)
{
    bench_trun_t *r = c->run;
    bool counted = now >= r->win_start && now < r->win_end;
    rtr_reason_t reason;

    switch (sb->msgtype) {
    case rtr_mt_accepted:
        c->in_flight = false;
        atomic_fetch_add(&r->done, 1);
        atomic_fetch_add(&r->committed, 1);
        if (counted && !bench_tlat_push(c, now - c->t0))
            bench_tfail(c, "out of memory");
        return;
    case rtr_mt_rejected:
        c->in_flight = false;
        atomic_fetch_add(&r->done, 1);
        if (!counted)
            return;
        if (sd->status == RTR_STS_OUTCOMEUNKNOWN) {
            c->unknown++;
            return;
        }
        c->rejected++;
        reason = sd->status == RTR_STS_OK ? sd->reason : 0;
        for (size_t i = 0; i < c->nrej; i++)
            if (c->rej[i].status == sd->status && c->rej[i].reason == reason) {
                c->rej[i].count++;
                return;
            }
        if (c->nrej < BENCH_TX_MAXSTATUSES)
            c->rej[c->nrej++] = (bench_tsts_t){ sd->status, reason, 1 };
        return;
    case rtr_mt_closed:
        bench_tfail(c, "channel %u closed: %s", c->ch, rtr_error_text(sd->status));
        return;
    default: /* rtr_mt_reply (the server's balances), events: not the outcome */
        return;
    }
}

/* ---- opening --------------------------------------------------------------------------- */

/* bench_topen - open the N client channels and wait for every rtr_mt_opened. Returns 0, or -1
 * (printed: which status, or that no router answered in time). */
static int
bench_topen(bench_trun_t *r)
{
    uint64_t deadline = cmn_now_mono_ns() + r->o->open_timeout_ms * 1000000ull;
    size_t opened = 0;
    rtr_status_t sts;

    for (size_t i = 0; i < r->nchan; i++) {
        sts = rtr_open_channel(&r->chan[i].ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                               RTR_NO_PEVTNUM, RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG);
        if (sts != RTR_STS_OK) {
            fprintf(stderr, "rtrbench tx: rtr_open_channel (channel %zu of %zu): %s [%s]\n", i + 1,
                    r->nchan, rtr_error_text(sts), rtr_status_name(sts));
            return -1;
        }
    }
    while (opened < r->nchan) {
        union {
            rtr_status_data_t sd;
            char raw[256];
        } buf;
        rtr_msgsb_t sb;
        rtr_channel_t got;
        uint64_t now = cmn_now_mono_ns();
        bench_tchan_t *c = NULL;

        if (now >= deadline || bench_tx_interrupted) {
            if (!bench_tx_interrupted)
                fprintf(stderr,
                        "rtrbench tx: no answer from facility %s within %" PRIu64
                        " ms (%zu of %zu channels opened); routers: %s. Is the facility "
                        "running?\n",
                        r->facility, r->o->open_timeout_ms, opened, r->nchan, r->routers);
            return -1;
        }
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf,
                                  BENCH_TX_SLICE_MS, &sb);
        if (sts == RTR_STS_TIMOUT)
            continue;
        if (sts != RTR_STS_OK) {
            fprintf(stderr, "rtrbench tx: rtr_receive_message: %s\n", rtr_error_text(sts));
            return -1;
        }
        for (size_t i = 0; i < r->nchan && c == NULL; i++)
            if (r->chan[i].ch == got)
                c = &r->chan[i];
        if (c == NULL || c->opened)
            continue;
        if (sb.msgtype == rtr_mt_closed || (sb.msgtype == rtr_mt_opened && buf.sd.status != 0)) {
            fprintf(stderr,
                    "rtrbench tx: facility %s refused client channel %u: %s [%s]; routers: %s\n",
                    r->facility, got, rtr_error_text(buf.sd.status), rtr_status_name(buf.sd.status),
                    r->routers);
            return -1;
        }
        if (sb.msgtype != rtr_mt_opened)
            continue;
        c->opened = true;
        opened++;
        if ((sts = rtr_set_user_handle(c->ch, c)) != RTR_STS_OK) {
            fprintf(stderr, "rtrbench tx: rtr_set_user_handle: %s\n", rtr_error_text(sts));
            return -1;
        }
    }
    return 0;
}

/* ---- the drivers ----------------------------------------------------------------------- */

/* bench_tprogress - the progress line, if one is due at `now` (*next advanced). */
static void
bench_tprogress(bench_trun_t *r, uint64_t now, uint64_t *next, uint64_t *last_done)
{
    uint64_t done, committed;

    if (now < *next)
        return;
    *next += BENCH_TX_NS_PER_S;
    if (r->o->quiet)
        return;
    done = atomic_load(&r->done);
    committed = atomic_load(&r->committed);
    fprintf(stderr,
            "rtrbench tx: %5.1f s %-9s %" PRIu64 " committed, %" PRIu64
            " outcomes in the last second, %" PRIu64 " rejected or unknown\n",
            (double)(now - r->start_ns) / 1e9,
            now < r->win_start ? "warmup"
            : now < r->win_end ? "measuring"
                               : "draining",
            committed, done - *last_done, done - committed);
    *last_done = done;
}

/* bench_tloop - the event loop: every channel keeps one transfer in flight until the window
 * ends; then the ones in flight are drained. */
static void
bench_tloop(bench_trun_t *r)
{
    uint64_t next = r->start_ns + BENCH_TX_NS_PER_S, last_done = 0;
    size_t inflight = 0;

    for (size_t i = 0; i < r->nchan; i++) {
        bench_tbegin(&r->chan[i]);
        inflight += r->chan[i].in_flight;
    }
    while (inflight > 0 && !bench_tx_interrupted) {
        union {
            rtr_status_data_t sd;
            char raw[RTR_MAX_MSGLEN]; /* a reply of any size */
        } buf;
        rtr_msgsb_t sb;
        rtr_channel_t got;
        rtr_status_t sts = rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf,
                                               BENCH_TX_SLICE_MS, &sb);
        uint64_t now = cmn_now_mono_ns();
        bool stopping = now >= r->win_end || bench_tx_interrupted;

        if (sts == RTR_STS_OK && sb.usrhdl != NULL) {
            bench_tchan_t *c = sb.usrhdl;
            bool was = c->in_flight;
            bench_tmessage(c, &sb, &buf.sd, now);
            if (was && !c->in_flight && !c->broken && !stopping)
                bench_tbegin(c);
            if (was && !c->in_flight)
                inflight--;
            else if (!was && c->in_flight)
                inflight++;
        } else if (sts != RTR_STS_OK && sts != RTR_STS_TIMOUT) {
            for (size_t i = 0; i < r->nchan; i++)
                if (r->chan[i].in_flight)
                    bench_tfail(&r->chan[i], "rtr_receive_message: %s", rtr_error_text(sts));
            return;
        }
        for (size_t i = 0; i < r->nchan; i++) {
            bench_tchan_t *c = &r->chan[i];
            if (c->in_flight && now > c->deadline) {
                bench_tfail(c, "channel %u: no outcome within %" PRIu64 " ms", c->ch,
                            r->o->timeout_ms + BENCH_TX_MARGIN_MS);
                inflight--;
            }
        }
        bench_tprogress(r, now, &next, &last_done);
    }
}

/* bench_tworker - --threads: one channel, one transfer at a time, until the window ends. */
static void *
bench_tworker(void *arg)
{
    bench_tchan_t *c = arg;
    bench_trun_t *r = c->run;
    rtr_channel_t list[] = { c->ch, RTR_CHAN_ENDLIST };

    while (!c->broken && !atomic_load(&r->stop) && cmn_now_mono_ns() < r->win_end) {
        bench_tbegin(c);
        while (c->in_flight && !atomic_load(&r->stop)) {
            union {
                rtr_status_data_t sd;
                char raw[RTR_MAX_MSGLEN]; /* a reply of any size */
            } buf;
            rtr_msgsb_t sb;
            rtr_channel_t got;
            rtr_status_t sts = rtr_receive_message(&got, RTR_NO_FLAGS, list, &buf, sizeof buf,
                                                   BENCH_TX_SLICE_MS, &sb);
            uint64_t now = cmn_now_mono_ns();
            if (sts == RTR_STS_OK)
                bench_tmessage(c, &sb, &buf.sd, now);
            else if (sts != RTR_STS_TIMOUT)
                bench_tfail(c, "channel %u: rtr_receive_message: %s", c->ch, rtr_error_text(sts));
            if (c->in_flight && now > c->deadline)
                bench_tfail(c, "channel %u: no outcome within %" PRIu64 " ms", c->ch,
                            r->o->timeout_ms + BENCH_TX_MARGIN_MS);
        }
    }
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

/* bench_tthreads - --threads: start one worker per channel, print progress until they have
 * all finished, join them. Returns 0, or -1 if a thread could not be started. */
static int
bench_tthreads(bench_trun_t *r)
{
    uint64_t next = r->start_ns + BENCH_TX_NS_PER_S, last_done = 0;
    struct timespec nap = { 0, 50 * 1000 * 1000 };
    size_t started = 0;
    int rc = 0;

    atomic_store(&r->running, (int)r->nchan);
    for (; started < r->nchan; started++)
        if (pthread_create(&r->chan[started].thread, NULL, bench_tworker, &r->chan[started]) != 0) {
            fprintf(stderr, "rtrbench tx: cannot start thread %zu: %s\n", started + 1,
                    strerror(errno));
            atomic_store(&r->stop, true);
            atomic_fetch_sub(&r->running, (int)(r->nchan - started));
            rc = -1;
            break;
        }
    while (atomic_load(&r->running) > 0) {
        nanosleep(&nap, NULL);
        if (bench_tx_interrupted)
            atomic_store(&r->stop, true);
        bench_tprogress(r, cmn_now_mono_ns(), &next, &last_done);
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(r->chan[i].thread, NULL);
    return rc;
}

/* ---- the report ------------------------------------------------------------------------ */

/* What the report shows; latencies in ns. */
typedef struct {
    uint64_t committed, rejected, unknown, errors;
    size_t broken;
    double window_s;
    double rate;
    uint64_t p50, p95, p99, p999, max, mean;
    bench_tsts_t rej[BENCH_TX_MAXSTATUSES];
    size_t nrej;
} bench_tresult_t;

/* bench_tresults - merge the channels' figures. Returns -1 on out of memory. */
static int
bench_tresults(const bench_trun_t *r, bench_tresult_t *s)
{
    size_t n = 0;
    uint64_t *all, sum = 0;

    for (size_t i = 0; i < r->nchan; i++)
        n += r->chan[i].nlat;
    if ((all = malloc((n ? n : 1) * sizeof *all)) == NULL)
        return -1;
    n = 0;
    for (size_t i = 0; i < r->nchan; i++) {
        const bench_tchan_t *c = &r->chan[i];
        memcpy(all + n, c->lat, c->nlat * sizeof *all);
        n += c->nlat;
        s->rejected += c->rejected;
        s->unknown += c->unknown;
        s->errors += c->errors;
        s->broken += c->broken;
        for (size_t k = 0; k < c->nrej; k++) {
            size_t j = 0;
            while (j < s->nrej &&
                   (s->rej[j].status != c->rej[k].status || s->rej[j].reason != c->rej[k].reason))
                j++;
            if (j == s->nrej && s->nrej < BENCH_TX_MAXSTATUSES)
                s->rej[s->nrej++] = (bench_tsts_t){ c->rej[k].status, c->rej[k].reason, 0 };
            if (j < s->nrej)
                s->rej[j].count += c->rej[k].count;
        }
    }
    for (size_t i = 0; i < n; i++)
        sum += all[i];
    tool_sort_u64(all, n);
    s->committed = n;
    s->window_s = (double)(r->win_end - r->win_start) / 1e9;
    s->rate = (double)n / s->window_s;
    s->p50 = tool_percentile(all, n, 50);
    s->p95 = tool_percentile(all, n, 95);
    s->p99 = tool_percentile(all, n, 99);
    s->p999 = tool_percentile(all, n, 99.9);
    s->max = n ? all[n - 1] : 0;
    s->mean = n ? sum / n : 0;
    free(all);
    return 0;
}

/* bench_trej_name - a rejection class as text: "reason 5" for a party's reject vote (status
 * OK), else the status name ("TIMOUT"). Returns buf. */
static const char *
bench_trej_name(const bench_tsts_t *r, char *buf, size_t len)
{
    if (r->status == RTR_STS_OK)
        snprintf(buf, len, "reason %" PRIu32, (uint32_t)r->reason);
    else
        snprintf(buf, len, "%s", rtr_status_name(r->status));
    return buf;
}

static double
bench_tus(uint64_t ns)
{
    return (double)ns / 1e3;
}

/* bench_treport_json - the report as one JSON object on stdout. Times in microseconds. */
static void
bench_treport_json(const bench_trun_t *r, const bench_tresult_t *s)
{
    const bench_topts_t *o = r->o;
    json_t *v =
        json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:I, s:I, s:I, s:I}",
                  "benchmark", "tx", "facility", r->facility, "channels", (json_int_t)o->channels,
                  "driver", o->threads ? "threads" : "event-loop", "partitions",
                  (json_int_t)r->nparts, "accounts", (json_int_t)o->accounts, "duration_s",
                  (json_int_t)o->duration, "warmup_s", (json_int_t)o->warmup, "window_s",
                  s->window_s, "committed", (json_int_t)s->committed, "committed_per_s", s->rate,
                  "rejected", (json_int_t)s->rejected, "unknown", (json_int_t)s->unknown, "errors",
                  (json_int_t)s->errors, "broken_channels", (json_int_t)s->broken);
    json_t *lat =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "p50", bench_tus(s->p50), "p95",
                  bench_tus(s->p95), "p99", bench_tus(s->p99), "p99_9", bench_tus(s->p999), "max",
                  bench_tus(s->max), "mean", bench_tus(s->mean));
    json_t *rej = json_object();

    if (v == NULL || lat == NULL || rej == NULL) {
        fprintf(stderr, "rtrbench: out of memory\n");
        json_decref(v);
        json_decref(lat);
        json_decref(rej);
        return;
    }
    for (size_t i = 0; i < s->nrej; i++) {
        char key[48];
        json_object_set_new(rej, bench_trej_name(&s->rej[i], key, sizeof key),
                            json_integer((json_int_t)s->rej[i].count));
    }
    json_object_set_new(v, "latency_us", lat);
    json_object_set_new(v, "rejected_by_status", rej);
    tool_json_print(v, stdout);
    json_decref(v);
}

static void
bench_treport_text(const bench_tresult_t *s)
{
    static const char *const hdr[] = { "METRIC", ">VALUE" };
    tool_table_t *t = tool_table_new(2, hdr);
    char b[32];

    if (t == NULL)
        return;
    tool_table_metric(t, "window", "%.2f s", s->window_s);
    tool_table_metric(t, "committed", "%" PRIu64, s->committed);
    tool_table_metric(t, "committed tx/s", "%.0f", s->rate);
    tool_table_metric(t, "rejected", "%" PRIu64, s->rejected);
    for (size_t i = 0; i < s->nrej; i++)
        tool_table_metric(t, "  of which", "%s: %" PRIu64, bench_trej_name(&s->rej[i], b, sizeof b),
                          s->rej[i].count);
    tool_table_metric(t, "outcome unknown", "%" PRIu64, s->unknown);
    tool_table_metric(t, "errors", "%" PRIu64, s->errors);
    tool_table_metric(t, "latency p50", "%s", tool_fmt_ns(s->p50, b, sizeof b));
    tool_table_metric(t, "latency p95", "%s", tool_fmt_ns(s->p95, b, sizeof b));
    tool_table_metric(t, "latency p99", "%s", tool_fmt_ns(s->p99, b, sizeof b));
    tool_table_metric(t, "latency p99.9", "%s", tool_fmt_ns(s->p999, b, sizeof b));
    tool_table_metric(t, "latency max", "%s", tool_fmt_ns(s->max, b, sizeof b));
    tool_table_metric(t, "latency mean", "%s", tool_fmt_ns(s->mean, b, sizeof b));
    tool_table_print(t, stdout);
    tool_table_free(&t);
}

/* bench_tmeasure - open the channels, run the driver, report. */
static int
bench_tmeasure(bench_trun_t *r)
{
    bench_tresult_t res = { 0 };
    int rc = TOOL_EXIT_FAIL;

    if (bench_topen(r) != 0)
        return TOOL_EXIT_FAIL;
    r->start_ns = cmn_now_mono_ns();
    r->win_start = r->start_ns + r->o->warmup * BENCH_TX_NS_PER_S;
    r->win_end = r->win_start + r->o->duration * BENCH_TX_NS_PER_S;
    if (r->o->threads) {
        if (bench_tthreads(r) != 0)
            return TOOL_EXIT_FAIL;
    } else {
        bench_tloop(r);
    }
    if (bench_tx_interrupted) {
        fprintf(stderr, "rtrbench tx: interrupted\n");
        return TOOL_EXIT_FAIL;
    }
    if (bench_tresults(r, &res) != 0) {
        fprintf(stderr, "rtrbench: out of memory\n");
        return TOOL_EXIT_FAIL;
    }
    if (r->o->json)
        bench_treport_json(r, &res);
    else
        bench_treport_text(&res);
    rc = TOOL_EXIT_OK;
    for (size_t i = 0; i < r->nchan; i++)
        if (r->chan[i].err[0] != '\0') {
            fprintf(stderr, "rtrbench tx: %s\n", r->chan[i].err);
            rc = TOOL_EXIT_FAIL;
        }
    if (res.committed == 0) {
        fprintf(stderr, "rtrbench tx: no transaction committed in the window (are bank_server "
                        "processes attached to every partition?)\n");
        rc = TOOL_EXIT_FAIL;
    }
    return rc;
}

int
bench_tx(int argc, char **argv)
{
    bench_topts_t o = { 0 };
    bench_trun_t r = { .o = &o };
    struct sigaction sa = { .sa_handler = bench_tx_on_signal }, old_int, old_term;
    int rc = bench_tparse(&o, argc, argv);

    if (rc >= 0)
        return rc;
    cmn_log_open(NULL, CMN_LOG_WARNING, "rtrbench", NULL);
    if (o.config != NULL && setenv("RTR_CONFIG", o.config, 1) != 0) { /* librtr reads it */
        fprintf(stderr, "rtrbench tx: setenv: %s\n", strerror(errno));
        return TOOL_EXIT_FAIL;
    }
    if (bench_tfacility(&r) != 0)
        return TOOL_EXIT_FAIL;
    if (o.seed == 0)
        o.seed = cmn_now_mono_ns() ^ ((uint64_t)getpid() << 32);
    r.nchan = (size_t)o.channels;
    if ((r.chan = calloc(r.nchan, sizeof *r.chan)) == NULL) {
        fprintf(stderr, "rtrbench: out of memory\n");
        return TOOL_EXIT_FAIL;
    }
    for (size_t i = 0; i < r.nchan; i++) {
        r.chan[i].run = &r;
        r.chan[i].rng = o.seed ^ ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL);
        if (r.chan[i].rng == 0)
            r.chan[i].rng = 1;
    }
    fprintf(o.json ? stderr : stdout,
            "rtrbench tx: facility %s, %" PRIu64 " channel%s (%s), %zu partition%s, %" PRIu64
            " s warmup + %" PRIu64 " s measured, bank transfers of 1..%" PRIu64 " cents\n",
            r.facility, o.channels, o.channels == 1 ? "" : "s",
            o.threads ? "one thread each" : "event loop", r.nparts, r.nparts == 1 ? "" : "s",
            o.warmup, o.duration, o.max_amount);
    fflush(stdout);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = bench_tmeasure(&r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    rtrx_shutdown(); /* closes every channel */
    for (size_t i = 0; i < r.nchan; i++)
        free(r.chan[i].lat);
    free(r.chan);
    return rc;
}
