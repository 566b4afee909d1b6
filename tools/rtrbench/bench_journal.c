/*
 * bench_journal.c - `rtrbench journal`: how fast does the journal harden records, and how
 * does that compare with one fsync of the same disk (DESIGN §7 group commit, §10).
 *
 * N producers share one journal; each keeps one record in flight. A producer takes the next
 * CSN (dense, as on a primary), builds a VOTED JournalRecord with a TID of its own random
 * incarnation and one message of B bytes, appends it and, once it is hardened, the next.
 * Two drivers:
 *   - event loop (default): one thread drives all N producers the way the daemons use the
 *     journal: it polls jrn_fd and, when it fires, completes every producer whose ticket is
 *     <= the hardened ticket (jrn_poll) and submits its next record;
 *   - --threads: one OS thread per producer, each blocking in jrn_wait. On a small machine
 *     this measures the scheduler as much as the journal (a sleep and a wake-up per record
 *     per thread). The latency of a record is submit -> hardened on the monotonic
 * clock, kept in a per-producer array (no sharing on the hot path) and merged at the end
 * for exact nearest-rank percentiles.
 *
 * The same directory gets a raw probe, half of it before the journal is opened and half after
 * it is closed: 4 KiB written at the next offset of a pre-sized file (as BDB pre-sizes its log
 * files) and fdatasync'ed, K times in all. Its p50 is the floor for a single producer: with
 * group commit a lone producer should see about one fsync per record, and many producers
 * should see many records per fsync (records per flush = ops / flushes from jrn_stats) at a
 * latency still near one fsync.
 *
 * The journal lives in a fresh temporary directory (or --dir, which must be new or empty) and
 * is removed at the end unless --keep.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cmn.h"
#include "jrn.h"
#include "tool.h"

#define BENCH_PARTITION  "bench"
#define BENCH_PROBE_FILE "rtrbench-fsync.probe"
#define BENCH_PROBE_SIZE 4096
#define BENCH_NS_PER_S   1000000000ull

/* The command line. */
typedef struct {
    uint64_t producers;
    uint64_t records;
    uint64_t size;
    uint64_t fsyncs;
    uint64_t checkpoint_mb;
    const char *dir; /* --dir, or NULL: a fresh temporary directory */
    bool threads;    /* one OS thread per producer instead of the event loop */
    bool keep;
    bool json;
} bench_jopts_t;

typedef struct bench_jrun bench_jrun_t;

/* One producer thread; only it touches lat until it has been joined. */
typedef struct {
    bench_jrun_t *run;
    pthread_t thread;
    uint64_t incarnation;
    uint64_t *lat; /* submit -> hardened, ns */
    size_t nlat;
    size_t cap;
    uint64_t end_ns; /* when its last record hardened */
    rtr_status_t sts;
    uint64_t ticket; /* event loop: the record in flight (0 = none) */
    uint64_t t0;     /* event loop: when it was submitted */
    uint64_t counter;
} bench_producer_t;

/* One run: the journal, the shared counters, the producers. */
struct bench_jrun {
    const bench_jopts_t *o;
    char *dir;
    bool dir_created; /* we made dir (temporary, or --dir that did not exist) */
    jrn_t *j;
    uint32_t part;
    atomic_uint_fast64_t next_n; /* next CSN to hand out, from 1 */
    atomic_uint_fast64_t done;   /* records hardened */
    atomic_int running;          /* producers not yet finished */
    atomic_bool stop;            /* a producer failed or the user interrupted */
    bench_producer_t *prod;
    size_t nstarted;
    uint64_t start_ns;
    jrn_stats_t before, after;
};

/* What the report shows; latencies in ns. */
typedef struct {
    uint64_t hardened;
    double elapsed_s;
    double rate;
    uint64_t p50, p99, p999, max;
    uint64_t flushes, ops, batches, checkpoints;
    double per_flush;
    size_t fsync_n;
    uint64_t fsync_p50, fsync_p99, fsync_max;
} bench_jresult_t;

/* SIGINT/SIGTERM during a run: producers stop, the directory is still cleaned up. A signal
 * handler can only reach static storage, hence this one file-scope flag. */
static volatile sig_atomic_t bench_interrupted;

static void
bench_on_signal(int sig)
{
    (void)sig;
    bench_interrupted = 1;
}

/* ---- command line ---------------------------------------------------------------------- */

static void
bench_jusage(FILE *out, const tool_opt_t *opts, size_t nopts)
{
    fprintf(out,
            "usage: rtrbench journal [--producers N] [--records M] [--size B] [--dir D] "
            "[--threads] [--keep] [--json]\n\n"
            "N producers append M records in total (B-byte message each) to a fresh journal,\n"
            "each keeping one record in flight until it hardens (group commit). By default one\n"
            "event loop drives them through the journal's pollable fd, as the daemons do;\n"
            "--threads runs one OS thread per producer instead. Reports hardened\n"
            "records/s, submit->hardened latency p50/p99/p99.9/max, records per flush, and the\n"
            "p50 of a raw 4 KiB write + fdatasync in the same directory.\n\noptions:\n");
    tool_opts_usage(opts, nopts, out);
    fprintf(out, "\nexit status: 0 ok, 1 the benchmark failed, 2 usage error.\n");
}

/* bench_jparse - fill *o from argv. Returns -1 when parsed, else the exit code to return. */
static int
bench_jparse(bench_jopts_t *o, int argc, char **argv)
{
    const tool_opt_t opts[] = {
        { "producers", TOOL_OPT_U64, "N", "concurrent producers (records in flight)", 1, 1, 4096,
          &o->producers },
        { "records", TOOL_OPT_U64, "M", "records in total", 10000, 1, 1000000000, &o->records },
        { "size", TOOL_OPT_U64, "B", "bytes of the one message of each record", 200, 0, 64000,
          &o->size },
        { "fsyncs", TOOL_OPT_U64, "K", "write+fdatasync samples of the fsync probe", 200, 1, 100000,
          &o->fsyncs },
        { "checkpoint-mb", TOOL_OPT_U64, "MB",
          "journal checkpoint interval in MiB of log (0 = the journal's default)", 0, 0, 65536,
          &o->checkpoint_mb },
        { "dir", TOOL_OPT_STR, "D", "journal directory (new or empty; default: a temporary one)", 0,
          0, 0, &o->dir },
        { "threads", TOOL_OPT_FLAG, NULL,
          "one OS thread per producer blocking in jrn_wait (default: one event loop on jrn_fd)", 0,
          0, 0, &o->threads },
        { "keep", TOOL_OPT_FLAG, NULL, "keep the journal directory and print its path", 0, 0, 0,
          &o->keep },
        { "json", TOOL_OPT_FLAG, NULL, "print the report as one JSON object", 0, 0, 0, &o->json },
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    int npos;
    int rc = tool_opts_parse("rtrbench journal", opts, nopts, argc, argv, NULL, 0, &npos);

    if (rc == TOOL_OPTS_HELP) {
        bench_jusage(stdout, opts, nopts);
        return TOOL_EXIT_OK;
    }
    return rc == 0 ? -1 : TOOL_EXIT_USAGE;
}

/* bench_jdir - choose the journal directory: --dir (must be new or an empty directory) or a
 * fresh temporary one. Returns -1 when ready, else the exit code to return (printed). */
static int
bench_jdir(bench_jrun_t *r)
{
    const char *d = r->o->dir;
    int empty;

    if (d == NULL) {
        if ((r->dir = tool_mkdtemp("rtrbench")) == NULL) {
            fprintf(stderr, "rtrbench: cannot create a temporary directory: %s\n", strerror(errno));
            return TOOL_EXIT_FAIL;
        }
        r->dir_created = true;
        return -1;
    }
    empty = tool_dir_is_empty(d);
    if (empty == 0 || (empty < 0 && errno != ENOENT)) {
        fprintf(stderr,
                "rtrbench journal: --dir %s: %s (the benchmark needs a new or empty "
                "directory)\n",
                d, empty == 0 ? "not empty" : strerror(errno));
        return TOOL_EXIT_USAGE;
    }
    if (empty < 0 && mkdir(d, 0700) != 0) {
        fprintf(stderr, "rtrbench journal: --dir %s: cannot create: %s\n", d, strerror(errno));
        return TOOL_EXIT_USAGE;
    }
    r->dir_created = empty < 0;
    if ((r->dir = strdup(d)) == NULL) {
        fprintf(stderr, "rtrbench: out of memory\n");
        return TOOL_EXIT_FAIL;
    }
    return -1;
}

/* ---- producers ------------------------------------------------------------------------- */

/* bench_lat_push - append one latency; false on out of memory. */
static bool
bench_lat_push(bench_producer_t *p, uint64_t ns)
{
    if (p->nlat == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        uint64_t *v = realloc(p->lat, cap * sizeof *v);
        if (v == NULL)
            return false;
        p->lat = v;
        p->cap = cap;
    }
    p->lat[p->nlat++] = ns;
    return true;
}

/* bench_submit_one - fill rec as CSN n, TID (p's incarnation, c), and submit it. */
static rtr_status_t
bench_submit_one(bench_producer_t *p, Rtr__JournalRecord *rec, uint64_t n, uint64_t c,
                 uint64_t *ticket)
{
    cmn_tid_t tid = { .incarnation = p->incarnation, .counter = c };

    rec->n = n;
    cmn_tid_pack(&tid, rec->tid.data);
    rec->accepted_ms = cmn_now_wall_ms();
    return jrn_append(p->run->j, p->run->part, rec, ticket);
}

/* bench_harden_one - append record rec (CSN n, TID counter c) and wait until it is hardened;
 * records the latency. */
static rtr_status_t
bench_harden_one(bench_producer_t *p, Rtr__JournalRecord *rec, uint64_t n, uint64_t c)
{
    bench_jrun_t *r = p->run;
    uint64_t ticket, t0 = cmn_now_mono_ns();
    rtr_status_t sts = bench_submit_one(p, rec, n, c, &ticket);

    if (sts == RTR_STS_OK)
        sts = jrn_wait(r->j, ticket);
    if (sts == RTR_STS_OK && !bench_lat_push(p, cmn_now_mono_ns() - t0))
        sts = RTR_STS_NOMEM;
    return sts;
}

/* bench_record_init - the record every producer reuses: one message of `body`. */
static void
bench_record_init(Rtr__JournalRecord *rec, Rtr__TxMessage *msg, Rtr__TxMessage **msgs, uint8_t *tid,
                  uint8_t *body, size_t size)
{
    msg->body.data = body;
    msg->body.len = size;
    msgs[0] = msg;
    rec->epoch = 1;
    rec->state = RTR__TX_STATE__TX_VOTED;
    rec->tid.data = tid;
    rec->tid.len = 16;
    rec->n_messages = 1;
    rec->messages = msgs;
    rec->has_accepted_ms = true;
}

static void *
bench_producer_main(void *arg)
{
    bench_producer_t *p = arg;
    bench_jrun_t *r = p->run;
    uint8_t tid[16];
    uint8_t *body = malloc(r->o->size ? r->o->size : 1);
    Rtr__TxMessage msg = RTR__TX_MESSAGE__INIT;
    Rtr__TxMessage *msgs[1];
    Rtr__JournalRecord rec = RTR__JOURNAL_RECORD__INIT;

    p->sts = body == NULL ? RTR_STS_NOMEM : RTR_STS_OK;
    if (body != NULL)
        memset(body, 'a' + (int)(p - r->prod) % 26, r->o->size ? r->o->size : 1);
    bench_record_init(&rec, &msg, msgs, tid, body, r->o->size);
    for (uint64_t c = 1; p->sts == RTR_STS_OK && !atomic_load(&r->stop); c++) {
        uint64_t n = atomic_fetch_add(&r->next_n, 1);
        if (n > r->o->records)
            break;
        p->sts = bench_harden_one(p, &rec, n, c);
        if (p->sts == RTR_STS_OK)
            atomic_fetch_add(&r->done, 1);
    }
    if (p->sts != RTR_STS_OK)
        atomic_store(&r->stop, true);
    p->end_ns = cmn_now_mono_ns();
    free(body);
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

/* bench_loop_next - producer p submits its next record, if any are left. */
static rtr_status_t
bench_loop_next(bench_jrun_t *r, bench_producer_t *p, Rtr__JournalRecord *rec)
{
    uint64_t n = atomic_fetch_add(&r->next_n, 1);

    p->ticket = 0;
    if (n > r->o->records)
        return RTR_STS_OK;
    p->t0 = cmn_now_mono_ns();
    return bench_submit_one(p, rec, n, ++p->counter, &p->ticket);
}

/* bench_loop_complete - every producer whose ticket is hardened: record its latency and
 * submit its next record. */
static rtr_status_t
bench_loop_complete(bench_jrun_t *r, uint64_t hardened, Rtr__JournalRecord *rec, size_t *busy)
{
    uint64_t now = cmn_now_mono_ns();
    rtr_status_t sts = RTR_STS_OK;

    for (size_t i = 0; sts == RTR_STS_OK && i < (size_t)r->o->producers; i++) {
        bench_producer_t *p = &r->prod[i];
        if (p->ticket == 0 || p->ticket > hardened)
            continue;
        if (!bench_lat_push(p, now - p->t0))
            return RTR_STS_NOMEM;
        atomic_fetch_add(&r->done, 1);
        p->end_ns = now;
        if (atomic_load(&r->stop))
            p->ticket = 0;
        else
            sts = bench_loop_next(r, p, rec);
        if (p->ticket == 0)
            (*busy)--;
    }
    return sts;
}

/* bench_loop_run - the event-loop driver: every producer in flight at once, completions from
 * jrn_fd. Prints the progress line itself. */
static rtr_status_t
bench_loop_run(bench_jrun_t *r)
{
    size_t n = (size_t)r->o->producers, busy = 0;
    uint8_t tid[16];
    uint8_t *body = calloc(1, r->o->size ? r->o->size : 1);
    Rtr__TxMessage msg = RTR__TX_MESSAGE__INIT, *msgs[1];
    Rtr__JournalRecord rec = RTR__JOURNAL_RECORD__INIT;
    rtr_status_t sts = body ? RTR_STS_OK : RTR_STS_NOMEM;
    bool tty = isatty(STDERR_FILENO), printed = false;
    uint64_t next = r->start_ns + BENCH_NS_PER_S;

    bench_record_init(&rec, &msg, msgs, tid, body, r->o->size);
    for (size_t i = 0; sts == RTR_STS_OK && i < n; i++) {
        sts = bench_loop_next(r, &r->prod[i], &rec);
        busy += r->prod[i].ticket != 0;
    }
    while (sts == RTR_STS_OK && busy > 0) {
        struct pollfd pfd = { .fd = jrn_fd(r->j), .events = POLLIN };
        uint64_t hardened = 0;
        if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
            sts = RTR_STS_IOERR;
        if (bench_interrupted)
            atomic_store(&r->stop, true);
        if (sts == RTR_STS_OK && (sts = jrn_poll(r->j, &hardened)) == RTR_STS_OK)
            sts = bench_loop_complete(r, hardened, &rec, &busy);
        uint64_t now = cmn_now_mono_ns();
        if (now >= next) {
            next += BENCH_NS_PER_S;
            uint64_t done = atomic_load(&r->done);
            fprintf(stderr, "%srtrbench: %" PRIu64 "/%" PRIu64 " records hardened, %.0f/s%s",
                    tty ? "\r" : "", done, r->o->records,
                    (double)done * 1e9 / (double)(now - r->start_ns), tty ? "   " : "\n");
            printed = true;
        }
    }
    if (printed && tty)
        fputc('\n', stderr);
    free(body);
    return sts;
}

/* bench_loop_start - the producers of the event loop (no threads). */
static rtr_status_t
bench_loop_start(bench_jrun_t *r)
{
    size_t n = (size_t)r->o->producers;
    size_t per = (size_t)(r->o->records / r->o->producers) + 16;

    if ((r->prod = calloc(n, sizeof *r->prod)) == NULL)
        return RTR_STS_NOMEM;
    atomic_store(&r->next_n, 1);
    r->start_ns = cmn_now_mono_ns();
    for (size_t i = 0; i < n; i++) {
        r->prod[i].run = r;
        if ((r->prod[i].lat = malloc(per * sizeof(uint64_t))) != NULL)
            r->prod[i].cap = per;
        if (cmn_incarnation_new(&r->prod[i].incarnation) != RTR_STS_OK)
            return RTR_STS_INTERNAL;
        r->nstarted++;
    }
    return bench_loop_run(r);
}

/* bench_start - create the producers. Returns RTR_STS_OK or NOMEM/INTERNAL (then the
 * already started ones are told to stop; bench_join still joins them). */
static rtr_status_t
bench_start(bench_jrun_t *r)
{
    size_t n = (size_t)r->o->producers;
    size_t per = (size_t)(r->o->records / r->o->producers) + 16;

    if ((r->prod = calloc(n, sizeof *r->prod)) == NULL)
        return RTR_STS_NOMEM;
    atomic_store(&r->next_n, 1);
    atomic_store(&r->running, (int)n);
    r->start_ns = cmn_now_mono_ns();
    for (size_t i = 0; i < n; i++) {
        bench_producer_t *p = &r->prod[i];
        p->run = r;
        if ((p->lat = malloc(per * sizeof *p->lat)) != NULL)
            p->cap = per;
        if (cmn_incarnation_new(&p->incarnation) != RTR_STS_OK ||
            pthread_create(&p->thread, NULL, bench_producer_main, p) != 0) {
            atomic_store(&r->stop, true);
            atomic_fetch_sub(&r->running, (int)(n - i));
            return RTR_STS_INTERNAL;
        }
        r->nstarted++;
    }
    return RTR_STS_OK;
}

/* bench_progress - until every producer has finished: a progress line on stderr every
 * second (\r-updated on a tty), and stop the producers on SIGINT/SIGTERM. */
static void
bench_progress(bench_jrun_t *r)
{
    bool tty = isatty(STDERR_FILENO);
    uint64_t next = r->start_ns + BENCH_NS_PER_S;
    bool printed = false;
    struct timespec nap = { 0, 50 * 1000 * 1000 };

    while (atomic_load(&r->running) > 0) {
        nanosleep(&nap, NULL);
        if (bench_interrupted)
            atomic_store(&r->stop, true);
        uint64_t now = cmn_now_mono_ns();
        if (now < next)
            continue;
        next += BENCH_NS_PER_S;
        uint64_t done = atomic_load(&r->done);
        fprintf(stderr, "%srtrbench: %" PRIu64 "/%" PRIu64 " records hardened, %.0f/s%s",
                tty ? "\r" : "", done, r->o->records,
                (double)done * 1e9 / (double)(now - r->start_ns), tty ? "   " : "\n");
        printed = true;
    }
    if (printed && tty)
        fputc('\n', stderr);
}

/* bench_join - join the started producers; the first failure of any of them, or OK. */
static rtr_status_t
bench_join(bench_jrun_t *r)
{
    rtr_status_t sts = RTR_STS_OK;

    for (size_t i = 0; i < r->nstarted; i++) {
        pthread_join(r->prod[i].thread, NULL);
        if (sts == RTR_STS_OK && r->prod[i].sts != RTR_STS_OK)
            sts = r->prod[i].sts;
    }
    return sts;
}

/* bench_run_journal - open the journal, run the producers to the end, close it. */
static rtr_status_t
bench_run_journal(bench_jrun_t *r)
{
    jrn_options_t jo = { .dir = r->dir,
                         .node = "rtrbench",
                         .checkpoint_mb = (uint32_t)r->o->checkpoint_mb };
    rtr_status_t sts = jrn_open(&jo, &r->j);

    if (sts != RTR_STS_OK) {
        fprintf(stderr, "rtrbench: cannot open a journal in %s: %s [%s]\n", r->dir,
                rtr_strerror(sts), rtr_status_name(sts));
        return sts;
    }
    if ((sts = jrn_partition(r->j, BENCH_PARTITION, &r->part)) != RTR_STS_OK) {
        fprintf(stderr, "rtrbench: cannot create partition %s: %s\n", BENCH_PARTITION,
                rtr_strerror(sts));
        goto done;
    }
    jrn_stats(r->j, &r->before);
    if (!r->o->threads) {
        sts = bench_loop_start(r);
    } else {
        sts = bench_start(r);
        bench_progress(r);
        if (sts == RTR_STS_OK)
            sts = bench_join(r);
        else
            bench_join(r);
    }
    jrn_stats(r->j, &r->after);
    if (sts != RTR_STS_OK)
        fprintf(stderr, "rtrbench: the run failed after %" PRIu64 " records: %s [%s]\n",
                (uint64_t)atomic_load(&r->done), rtr_strerror(sts), rtr_status_name(sts));
    else if (bench_interrupted)
        sts = RTR_STS_INTERNAL;
done:
    jrn_close(&r->j);
    return sts;
}

/* ---- the fsync probe ------------------------------------------------------------------- */

/* bench_fsync_probe - write 4 KiB at successive offsets of a pre-sized file in dir and
 * fdatasync, k times; lat[0..k) gets each write+fdatasync in ns. Removes the file.
 * Returns 0, or -1 (printed). */
static int
bench_fsync_probe(const char *dir, size_t k, uint64_t *lat)
{
    char path[4096];
    uint8_t buf[BENCH_PROBE_SIZE];
    int fd, rc = 0;

    snprintf(path, sizeof path, "%s/%s", dir, BENCH_PROBE_FILE);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "rtrbench: fsync probe: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* Pre-size the file (sparse), as BDB does with each log file (set_lg_max), so that like
     * the journal's appends these writes never change the file size: fdatasync then pays for
     * the data and its block allocation only, which is what a log flush pays. */
    if (ftruncate(fd, (off_t)(k * sizeof buf)) != 0) {
        fprintf(stderr, "rtrbench: fsync probe: %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    memset(buf, 0xa5, sizeof buf);
    for (size_t i = 0; i < k && rc == 0 && !bench_interrupted; i++) {
        uint64_t t0 = cmn_now_mono_ns();
        if (pwrite(fd, buf, sizeof buf, (off_t)(i * sizeof buf)) != (ssize_t)sizeof buf ||
            fdatasync(fd) != 0) {
            fprintf(stderr, "rtrbench: fsync probe: %s: %s\n", path, strerror(errno));
            rc = -1;
        }
        lat[i] = cmn_now_mono_ns() - t0;
    }
    close(fd);
    unlink(path);
    return bench_interrupted ? -1 : rc;
}

/* ---- the report ------------------------------------------------------------------------ */

/* bench_results - merge and sort the producers' latencies and fill *res. Returns -1 on out
 * of memory. */
static int
bench_results(const bench_jrun_t *r, bench_jresult_t *res)
{
    uint64_t end = r->start_ns;
    size_t n = 0;
    uint64_t *all = malloc((size_t)r->o->records * sizeof *all);

    if (all == NULL)
        return -1;
    for (size_t i = 0; i < r->nstarted; i++) {
        memcpy(all + n, r->prod[i].lat, r->prod[i].nlat * sizeof *all);
        n += r->prod[i].nlat;
        if (r->prod[i].end_ns > end)
            end = r->prod[i].end_ns;
    }
    tool_sort_u64(all, n);
    res->hardened = n;
    res->elapsed_s = (double)(end - r->start_ns) / 1e9;
    res->rate = res->elapsed_s > 0 ? (double)n / res->elapsed_s : 0;
    res->p50 = tool_percentile(all, n, 50);
    res->p99 = tool_percentile(all, n, 99);
    res->p999 = tool_percentile(all, n, 99.9);
    res->max = n ? all[n - 1] : 0;
    res->flushes = r->after.flushes - r->before.flushes;
    res->ops = r->after.ops - r->before.ops;
    res->batches = r->after.batches - r->before.batches;
    res->checkpoints = r->after.checkpoints - r->before.checkpoints;
    res->per_flush = res->flushes ? (double)res->ops / (double)res->flushes : 0;
    free(all);
    return 0;
}

static double
bench_us(uint64_t ns)
{
    return (double)ns / 1e3;
}

/* bench_report_json - the report as one JSON object on stdout. Times in microseconds. */
static void
bench_report_json(const bench_jrun_t *r, const bench_jresult_t *s)
{
    const bench_jopts_t *o = r->o;
    json_t *v =
        json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:b, s:f, s:f}", "benchmark", "journal",
                  "producers", (json_int_t)o->producers, "driver",
                  o->threads ? "threads" : "event-loop", "records", (json_int_t)s->hardened,
                  "records_requested", (json_int_t)o->records, "size", (json_int_t)o->size, "dir",
                  r->dir, "kept", o->keep, "elapsed_s", s->elapsed_s, "records_per_s", s->rate);
    json_t *lat = json_pack("{s:f, s:f, s:f, s:f}", "p50", bench_us(s->p50), "p99",
                            bench_us(s->p99), "p99_9", bench_us(s->p999), "max", bench_us(s->max));
    json_t *fs = json_pack("{s:I, s:f, s:f, s:f}", "samples", (json_int_t)s->fsync_n, "p50",
                           bench_us(s->fsync_p50), "p99", bench_us(s->fsync_p99), "max",
                           bench_us(s->fsync_max));

    if (v == NULL || lat == NULL || fs == NULL) {
        fprintf(stderr, "rtrbench: out of memory\n");
        json_decref(v);
        json_decref(lat);
        json_decref(fs);
        return;
    }
    json_object_set_new(v, "latency_us", lat);
    json_object_set_new(v, "flushes", json_integer((json_int_t)s->flushes));
    json_object_set_new(v, "batches", json_integer((json_int_t)s->batches));
    json_object_set_new(v, "ops", json_integer((json_int_t)s->ops));
    json_object_set_new(v, "records_per_flush", json_real(s->per_flush));
    json_object_set_new(v, "checkpoints", json_integer((json_int_t)s->checkpoints));
    json_object_set_new(v, "fsync_us", fs);
    if (o->producers == 1 && s->fsync_p50 > 0)
        json_object_set_new(v, "p50_over_fsync_p50",
                            json_real((double)s->p50 / (double)s->fsync_p50));
    tool_json_print(v, stdout);
    json_decref(v);
}

static void
bench_report_text(const bench_jrun_t *r, const bench_jresult_t *s)
{
    static const char *const hdr[] = { "METRIC", ">VALUE" };
    tool_table_t *t = tool_table_new(2, hdr);
    char b[5][32];

    if (t == NULL)
        return;
    tool_table_metric(t, "records hardened", "%" PRIu64, s->hardened);
    tool_table_metric(t, "elapsed", "%.2f s", s->elapsed_s);
    tool_table_metric(t, "hardened records/s", "%.0f", s->rate);
    tool_table_metric(t, "latency p50", "%s", tool_fmt_ns(s->p50, b[0], sizeof b[0]));
    tool_table_metric(t, "latency p99", "%s", tool_fmt_ns(s->p99, b[1], sizeof b[1]));
    tool_table_metric(t, "latency p99.9", "%s", tool_fmt_ns(s->p999, b[2], sizeof b[2]));
    tool_table_metric(t, "latency max", "%s", tool_fmt_ns(s->max, b[3], sizeof b[3]));
    tool_table_metric(t, "flushes (fsyncs)", "%" PRIu64, s->flushes);
    tool_table_metric(t, "records per flush", "%.2f", s->per_flush);
    tool_table_metric(t, "checkpoints", "%" PRIu64, s->checkpoints);
    tool_table_metric(t, "fsync p50 (4 KiB + fdatasync)", "%s",
                      tool_fmt_ns(s->fsync_p50, b[4], sizeof b[4]));
    tool_table_metric(t, "fsync p99", "%s", tool_fmt_ns(s->fsync_p99, b[0], sizeof b[0]));
    if (r->o->producers == 1 && s->fsync_p50 > 0)
        tool_table_metric(t, "latency p50 / fsync p50", "%.2f",
                          (double)s->p50 / (double)s->fsync_p50);
    tool_table_print(t, stdout);
    tool_table_free(&t);
    if (r->o->keep)
        printf("journal kept in %s\n", r->dir);
}

/* bench_measure - the fsync probe's first half, the journal run, the probe's second half (so
 * that a disk whose speed drifts during the run biases neither side), then the report. */
static int
bench_measure(bench_jrun_t *r)
{
    bench_jresult_t res = { 0 };
    size_t k = (size_t)r->o->fsyncs, k1 = k / 2;
    uint64_t *flat = malloc(k * sizeof *flat);

    if (flat == NULL || (k1 > 0 && bench_fsync_probe(r->dir, k1, flat) != 0) ||
        bench_run_journal(r) != RTR_STS_OK || bench_fsync_probe(r->dir, k - k1, flat + k1) != 0)
        goto fail;
    if (bench_results(r, &res) != 0)
        goto fail;
    tool_sort_u64(flat, k);
    res.fsync_n = k;
    res.fsync_p50 = tool_percentile(flat, k, 50);
    res.fsync_p99 = tool_percentile(flat, k, 99);
    res.fsync_max = flat[k - 1];
    if (r->o->json)
        bench_report_json(r, &res);
    else
        bench_report_text(r, &res);
    free(flat);
    return TOOL_EXIT_OK;
fail:
    if (bench_interrupted)
        fprintf(stderr, "rtrbench: interrupted\n");
    free(flat);
    return TOOL_EXIT_FAIL;
}

/* bench_jcleanup - remove the directory (unless --keep) and free the run. */
static void
bench_jcleanup(bench_jrun_t *r)
{
    if (r->dir != NULL && !r->o->keep && tool_rmtree(r->dir, !r->dir_created) != 0)
        fprintf(stderr, "rtrbench: cannot remove %s: %s\n", r->dir, strerror(errno));
    for (size_t i = 0; r->prod != NULL && i < (size_t)r->o->producers; i++)
        free(r->prod[i].lat);
    free(r->prod);
    free(r->dir);
}

int
bench_journal(int argc, char **argv)
{
    bench_jopts_t o = { 0 };
    bench_jrun_t r = { .o = &o };
    struct sigaction sa = { .sa_handler = bench_on_signal }, old_int, old_term;
    int rc = bench_jparse(&o, argc, argv);

    if (rc >= 0)
        return rc;
    cmn_log_open(NULL, CMN_LOG_WARNING, "rtrbench", NULL);
    if ((rc = bench_jdir(&r)) >= 0)
        return rc;
    fprintf(o.json ? stderr : stdout,
            "rtrbench journal: %" PRIu64 " producer%s (%s), %" PRIu64 " records of %" PRIu64
            " bytes, each waits until hardened; journal in %s\n",
            o.producers, o.producers == 1 ? "" : "s", o.threads ? "one thread each" : "event loop",
            o.records, o.size, r.dir);
    fflush(stdout);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = bench_measure(&r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    bench_jcleanup(&r);
    return rc;
}
