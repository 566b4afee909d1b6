/*
 * bank_client.c - the bank's client application: random transfers through RTR from several
 * concurrent channels, every TID and its outcome logged for bank_verify.
 *
 *   bank_client --log FILE [--config FILE] [--transfers N] [--channels C] [--accounts N]
 *               [--max-amount CENTS] [--overdraw-pct P] [--timeout MS] [--seed S] [--quiet]
 *
 * Each of C threads opens its own client channel and runs its share of N transfers, one at a
 * time: rtr_start_tx (with the transaction timeout), rtr_send_to_server(RTR_F_SEN_ACCEPT: the
 * one message is the last, and the client accepts), then rtr_receive_message until the outcome
 * (rtr_mt_reply carries the new balances; only rtr_mt_accepted / rtr_mt_rejected says whether
 * the transfer happened).
 *
 * Both accounts of a transfer are in the SAME partition: this capability has no
 * multi-partition transactions, so the client picks a partition of the facility, then two
 * different accounts among the first --accounts of its range (the accounts bank_server
 * creates). --overdraw-pct of the transfers ask for more than any balance can hold, so that
 * the servers reject them (BANK_NSF) and bank_verify can check that no rejected transfer left
 * a trace.
 *
 * The log (--log FILE) has one line per transfer:
 *   TID(32 hex) OUTCOME(ACCEPTED|REJECTED|UNKNOWN) STATUS REASON FROM TO AMOUNT
 * UNKNOWN: no outcome arrived within the receive deadline (the transaction timeout plus a
 * margin); bank_verify accepts either fate for those. A live progress line is printed on
 * stderr (every 250 ms on a terminal, every 5 s otherwise). Exit 0 when every transfer got an
 * outcome, 1 when some stayed UNKNOWN or a channel failed, 2 on a bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bank.h"

#define BANK_PROG         "bank_client"
#define BANK_MAXPARTS     64
#define BANK_MAX_CHANNELS 64

/* What the threads share: the parameters, the log, the counters. */
typedef struct {
    bank_partition_t parts[BANK_MAXPARTS];
    int nparts;
    uint32_t accounts;
    int64_t max_amount;
    unsigned overdraw_pct;
    rtr_timout_t timeout_ms;
    uint64_t seed;
    FILE *log;
    pthread_mutex_t lock; /* guards the log and everything below */
    pthread_cond_t cond;  /* signalled when a thread finishes */
    uint64_t next;        /* transfers handed out */
    uint64_t total;
    uint64_t accepted, rejected, unknown;
    int running;
    bool failed;
} bank_client_t;

typedef struct {
    bank_client_t *c;
    int index;
    pthread_t thread;
} bank_worker_t;

static void
bank_usage(FILE *out)
{
    fprintf(out,
            "usage: bank_client --log FILE [--config FILE] [--transfers N] [--channels C]\n"
            "                   [--accounts N] [--max-amount CENTS] [--overdraw-pct P]\n"
            "                   [--timeout MS] [--seed S] [--quiet]\n\n"
            "The bank example's client: N random transfers through RTR from C concurrent client\n"
            "channels (threads), both accounts of each in the same partition; every TID and its\n"
            "outcome go to the log for bank_verify.\n\n"
            "  --log FILE          the TID log (appended)\n"
            "  --config FILE       the facility file (default $RTR_CONFIG)\n"
            "  --transfers N       transfers in all (default 1000)\n"
            "  --channels C        concurrent channels, 1..64 (default 4)\n"
            "  --accounts N        accounts per partition, as bank_server --accounts (default "
            "100)\n"
            "  --max-amount CENTS  largest ordinary transfer (default 1000)\n"
            "  --overdraw-pct P    percent of transfers that must be rejected as overdrafts "
            "(default 5)\n"
            "  --timeout MS        transaction timeout (rtr_start_tx; default 10000)\n"
            "  --seed S            random seed (default: from the clock)\n"
            "  --quiet             no progress line\n");
}

/* bank_rand - xorshift64*: a thread's own random numbers. */
static uint64_t
bank_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* bank_pick - a transfer between two different accounts of one partition. */
static void
bank_pick(const bank_client_t *c, uint64_t *rs, uint64_t seq, bank_transfer_t *t)
{
    const bank_partition_t *p = &c->parts[bank_rand(rs) % (uint64_t)c->nparts];
    uint64_t span = (uint64_t)p->high - p->low + 1;
    uint32_t n = (uint32_t)(span < c->accounts ? span : c->accounts);
    uint32_t a = (uint32_t)(bank_rand(rs) % n), b = (uint32_t)(bank_rand(rs) % (n - 1));

    if (b >= a)
        b++; /* a different account */
    t->from_account = p->low + a;
    t->to_account = p->low + b;
    t->client_seq = seq;
    if (bank_rand(rs) % 100 < c->overdraw_pct)
        t->amount = INT64_MAX / 2; /* more than any balance: the server must reject it */
    else
        t->amount = 1 + (int64_t)(bank_rand(rs) % (uint64_t)c->max_amount);
}

/* bank_one - one transfer on channel ch; logs it. Returns 0, or -1 if the channel broke. */
static int
bank_one(bank_client_t *c, rtr_channel_t ch, const bank_transfer_t *t)
{
    rtr_channel_t list[] = { ch, RTR_CHAN_ENDLIST }, got;
    union {
        bank_reply_t rep;
        rtr_status_data_t sd;
        char raw[256];
    } buf;
    rtr_msgsb_t sb;
    rtr_tid_t tid;
    rtr_status_t sts;
    const char *outcome = "UNKNOWN";
    rtr_status_data_t sd = { RTR_STS_TIMOUT, 0 };
    char hex[33];
    int rc = 0;

    if ((sts = rtr_start_tx(ch, RTR_NO_FLAGS, c->timeout_ms, RTR_NO_JOINCHAN)) != RTR_STS_OK ||
        (sts = rtr_send_to_server(ch, RTR_F_SEN_ACCEPT, (rtr_msgbuf_t)(uintptr_t)t, sizeof *t,
                                  RTR_NO_MSGFMT)) != RTR_STS_OK ||
        (sts = rtr_get_tid(ch, RTR_NO_FLAGS, &tid)) != RTR_STS_OK) {
        fprintf(stderr, BANK_PROG ": channel %u: %s\n", ch, rtr_error_text(sts));
        return -1;
    }
    for (;;) {
        /* the outcome comes within the transaction timeout, or (after the vote) when the
         * facility decides: wait that long and a margin, never forever */
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, list, &buf, sizeof buf, c->timeout_ms + 30000,
                                  &sb);
        if (sts != RTR_STS_OK) {
            rc = -1; /* UNKNOWN, and this channel cannot be trusted any more */
            break;
        }
        if (sb.msgtype == rtr_mt_accepted || sb.msgtype == rtr_mt_rejected) {
            sd = buf.sd;
            outcome = sb.msgtype == rtr_mt_accepted         ? "ACCEPTED"
                      : sd.status == RTR_STS_OUTCOMEUNKNOWN ? "UNKNOWN"
                                                            : "REJECTED";
            break;
        }
        if (sb.msgtype == rtr_mt_closed) {
            rc = -1;
            break;
        }
        /* rtr_mt_reply: the balances; not the outcome */
    }
    pthread_mutex_lock(&c->lock);
    fprintf(c->log, "%s %s %s %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRId64 "\n",
            bank_tid_hex(&tid, hex), outcome, rtr_status_name(sd.status), sd.reason,
            t->from_account, t->to_account, t->amount);
    if (outcome[0] == 'A')
        c->accepted++;
    else if (outcome[0] == 'R')
        c->rejected++;
    else
        c->unknown++;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* bank_open - open a client channel and wait for rtr_mt_opened. */
static int
bank_open(rtr_channel_t *ch)
{
    rtr_channel_t list[2], got;
    rtr_status_data_t sd = { RTR_STS_OK, 0 };
    rtr_msgsb_t sb;
    rtr_status_t sts;

    sts = rtr_open_channel(ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM, RTR_NO_PEVTNUM,
                           RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG);
    if (sts == RTR_STS_OK) {
        list[0] = *ch;
        list[1] = RTR_CHAN_ENDLIST;
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, list, &sd, sizeof sd, 30000, &sb);
    }
    if (sts != RTR_STS_OK || sb.msgtype != rtr_mt_opened) {
        fprintf(stderr, BANK_PROG ": client channel not opened: %s\n",
                rtr_error_text(sts != RTR_STS_OK ? sts : sd.status));
        return -1;
    }
    return 0;
}

static void *
bank_worker(void *arg)
{
    bank_worker_t *w = arg;
    bank_client_t *c = w->c;
    uint64_t rs = c->seed ^ ((uint64_t)(w->index + 1) * 0x9E3779B97F4A7C15ULL);
    rtr_channel_t ch;
    bool ok = bank_open(&ch) == 0;

    if (rs == 0)
        rs = 1;
    while (ok) {
        bank_transfer_t t;
        pthread_mutex_lock(&c->lock);
        uint64_t seq = c->next < c->total ? c->next++ : UINT64_MAX;
        pthread_mutex_unlock(&c->lock);
        if (seq == UINT64_MAX)
            break;
        bank_pick(c, &rs, seq, &t);
        ok = bank_one(c, ch, &t) == 0;
    }
    if (ok)
        rtr_close_channel(ch, RTR_NO_FLAGS);
    pthread_mutex_lock(&c->lock);
    c->failed |= !ok;
    c->running--;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* bank_progress - the live progress line; caller holds the lock. */
static void
bank_progress(const bank_client_t *c, double secs, bool tty, bool last)
{
    uint64_t done = c->accepted + c->rejected + c->unknown;
    fprintf(stderr,
            "%s%" PRIu64 "/%" PRIu64 " transfers: %" PRIu64 " accepted, %" PRIu64
            " rejected, %" PRIu64 " unknown, %.0f tx/s%s",
            tty ? "\r" : "", done, c->total, c->accepted, c->rejected, c->unknown,
            secs > 0 ? (double)done / secs : 0.0, tty && !last ? "   " : "\n");
}

static int
bank_num(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0 || n < min || n > max) {
        fprintf(stderr, BANK_PROG ": %s: '%s' is not a number in %" PRIu64 "..%" PRIu64 "\n", opt,
                v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

int
main(int argc, char **argv)
{
    bank_client_t c = { 0 };
    bank_worker_t workers[BANK_MAX_CHANNELS];
    const char *logpath = NULL, *config = NULL;
    uint64_t transfers = 1000, channels = 4, accounts = 100, max_amount = 1000, pct = 5;
    uint64_t timeout = 10000, seed = 0;
    bool quiet = false, tty = isatty(STDERR_FILENO);
    struct timespec t0, t1;
    int started = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bank_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, BANK_PROG ": %s needs a value (or is unknown)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--log") == 0)
            logpath = v;
        else if (strcmp(a, "--config") == 0)
            config = v;
        else if (strcmp(a, "--transfers") == 0)
            r = bank_num(a, v, 1, UINT32_MAX, &transfers);
        else if (strcmp(a, "--channels") == 0)
            r = bank_num(a, v, 1, BANK_MAX_CHANNELS, &channels);
        else if (strcmp(a, "--accounts") == 0)
            r = bank_num(a, v, 2, UINT32_MAX, &accounts);
        else if (strcmp(a, "--max-amount") == 0)
            r = bank_num(a, v, 1, INT32_MAX, &max_amount);
        else if (strcmp(a, "--overdraw-pct") == 0)
            r = bank_num(a, v, 0, 100, &pct);
        else if (strcmp(a, "--timeout") == 0)
            r = bank_num(a, v, 1, INT32_MAX - 60000, &timeout);
        else if (strcmp(a, "--seed") == 0)
            r = bank_num(a, v, 0, UINT64_MAX, &seed);
        else {
            fprintf(stderr, BANK_PROG ": unknown option '%s'\n", a);
            r = -1;
        }
        if (r != 0)
            return 2;
    }
    if (logpath == NULL) {
        fprintf(stderr, BANK_PROG ": --log FILE is required\n");
        bank_usage(stderr);
        return 2;
    }
    if (config != NULL)
        setenv("RTR_CONFIG", config, 1); /* librtr reads the same file */
    if ((c.nparts = bank_partitions(BANK_PROG, config, c.parts, BANK_MAXPARTS)) <= 0)
        return 1;
    for (int i = 0; i < c.nparts; i++)
        if (c.parts[i].high == c.parts[i].low) {
            fprintf(stderr, BANK_PROG ": partition %s holds one account: no transfer possible\n",
                    c.parts[i].name);
            return 1;
        }
    if ((c.log = fopen(logpath, "a")) == NULL) {
        fprintf(stderr, BANK_PROG ": %s: %s\n", logpath, strerror(errno));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    c.accounts = (uint32_t)accounts;
    c.max_amount = (int64_t)max_amount;
    c.overdraw_pct = (unsigned)pct;
    c.timeout_ms = (rtr_timout_t)timeout;
    c.seed = seed != 0 ? seed : (uint64_t)t0.tv_nsec * 2654435761u + (uint64_t)getpid();
    c.total = transfers;
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    printf("bank_client: %" PRIu64 " transfers on %" PRIu64 " channels over %d partitions "
           "(both accounts of a transfer in the same partition), seed %" PRIu64 "\n",
           transfers, channels, c.nparts, c.seed);
    fflush(stdout);
    pthread_mutex_lock(&c.lock);
    for (uint64_t i = 0; i < channels; i++) {
        workers[i] = (bank_worker_t){ &c, (int)i, 0 };
        if (pthread_create(&workers[i].thread, NULL, bank_worker, &workers[i]) != 0)
            break;
        c.running++;
        started++;
    }
    /* the progress line: redrawn on every period, or when a thread ends */
    while (c.running > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += tty ? 250000000L : 0;
        dl.tv_sec += tty ? 0 : 5;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        bool period = pthread_cond_timedwait(&c.cond, &c.lock, &dl) == ETIMEDOUT;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!quiet && (period || c.running == 0))
            bank_progress(&c, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
                          tty, c.running == 0);
    }
    pthread_mutex_unlock(&c.lock);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("bank_client: %" PRIu64 " accepted, %" PRIu64 " rejected, %" PRIu64
           " unknown in %.2f s (%.0f tx/s); log %s\n",
           c.accepted, c.rejected, c.unknown, secs,
           secs > 0 ? (double)(c.accepted + c.rejected + c.unknown) / secs : 0.0, logpath);
    fclose(c.log);
    rtrx_shutdown();
    pthread_mutex_destroy(&c.lock);
    pthread_cond_destroy(&c.cond);
    return c.failed || c.unknown > 0 || started != (int)channels ? 1 : 0;
}
