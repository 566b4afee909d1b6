/*
 * jrn_crash_test.c - crash safety: a hardened record survives SIGKILL, byte for byte, and the
 * journal never holds a hole.
 *
 * Each run forks a child (which never touches Criterion) that opens a fresh journal and
 * appends record n = 1, 2, ... (content a function of (seed, n), bodies of 0..2000 bytes) from
 * 4 producer threads. A producer assigns n and submits under one mutex, so ticket order is n
 * order; after jrn_wait says a ticket is hardened it writes n to a pipe. The parent reads the
 * pipe and kills the child with SIGKILL at a moment drawn from the run's PRNG: after a number
 * of reported records, then after a further delay measured by poll on the pipe (the clock is
 * the pipe, never a sleep), or at once when the child says it is ready. It then reopens the
 * journal as a writer (BDB recovery) and asserts that the partition holds exactly records
 * 1..K, each identical to what was written, with K >= every reported n (hardened means
 * durable; tickets harden in order; batches are atomic).
 *
 * RTR_CRASH_RUNS (default 50) sets the number of runs, RTR_CRASH_SEED the seed; the seed is
 * printed, and every failure names seed and run.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jrn.h"
#include "jrn_tst.h"
#include "tst.h"

#define CRASH_PRODUCERS   4
#define CRASH_MAX_RECORDS 200000
#define CRASH_MAX_KILL_AT 250 /* kill after 0 .. this many reported records */
#define CRASH_MAX_DELAY   20  /* ... and then 0 .. this many ms */
#define CRASH_TIMEOUT_MS  30000
#define CRASH_READY       0
#define CRASH_ERROR       UINT64_MAX

/* ---- the child ----------------------------------------------------------------------- */

typedef struct {
    jrn_t *j;
    uint32_t part;
    uint64_t seed;
    int wfd;
    pthread_mutex_t mu;
    uint64_t next;
} jtst_crash_child_t;

static void
jtst_crash_die(jtst_crash_child_t *c, rtr_status_t sts)
{
    jtst_write_u64(c->wfd, CRASH_ERROR);
    jtst_write_u64(c->wfd, (uint64_t)sts);
    _exit(3);
}

static void *
jtst_crash_producer(void *arg)
{
    jtst_crash_child_t *c = arg;
    jtst_rec_t *r = malloc(sizeof *r);
    rtr_status_t sts;

    if (r == NULL)
        jtst_crash_die(c, RTR_STS_NOMEM);
    for (;;) {
        uint64_t n, t = 0;
        pthread_mutex_lock(&c->mu);
        if (c->next > CRASH_MAX_RECORDS) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        n = c->next++;
        jtst_rec_make(r, c->seed, n, JTST_BODY_MAX);
        sts = jrn_append(c->j, c->part, &r->rec, &t);
        pthread_mutex_unlock(&c->mu);
        if (sts != RTR_STS_OK || (sts = jrn_wait(c->j, t)) != RTR_STS_OK)
            jtst_crash_die(c, sts);
        if (jtst_write_u64(c->wfd, n) != 0)
            _exit(4);
    }
    free(r);
    return NULL;
}

static void
jtst_crash_child(const char *dir, uint64_t seed, int wfd)
{
    jtst_crash_child_t c = { .seed = seed, .wfd = wfd, .next = 1 };
    jrn_options_t o = jtst_opts(dir, false);
    pthread_t th[CRASH_PRODUCERS];
    rtr_status_t sts;

    pthread_mutex_init(&c.mu, NULL);
    if ((sts = jrn_open(&o, &c.j)) != RTR_STS_OK || (sts = jrn_partition(c.j, "P", &c.part)))
        jtst_crash_die(&c, sts);
    if (jtst_write_u64(wfd, CRASH_READY) != 0)
        _exit(4);
    for (int i = 0; i < CRASH_PRODUCERS; i++)
        if (pthread_create(&th[i], NULL, jtst_crash_producer, &c) != 0)
            jtst_crash_die(&c, RTR_STS_NOMEM);
    for (int i = 0; i < CRASH_PRODUCERS; i++)
        pthread_join(th[i], NULL);
    jrn_close(&c.j);
    _exit(0);
}

/* ---- the parent ---------------------------------------------------------------------- */

static uint64_t
jtst_env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;

    if (s == NULL || *s == '\0')
        return dflt;
    errno = 0;
    v = strtoull(s, &end, 0);
    cr_assert(errno == 0 && *end == '\0', "%s=%s is not a number", name, s);
    return v;
}

/* cr_assert with the seed and run in front (needs `seed` and `run` in scope). */
#define CRASH_CHECK(cond, fmt, ...)                                      \
    cr_assert(cond,                                                      \
              "seed=%" PRIu64 " run=%d (replay: RTR_CRASH_SEED=%" PRIu64 \
              " RTR_CRASH_RUNS=%d): " fmt,                               \
              seed, run, seed, run + 1, ##__VA_ARGS__)

typedef struct {
    uint64_t reported; /* hardened records the child reported */
    uint64_t max_n;    /* highest reported n */
    uint64_t kill_at;  /* kill after this many reports ... */
    uint64_t delay_ms; /* ... and this many ms more */
    uint64_t stop_at;  /* jtst_crash_drain returns once reported reaches this */
} jtst_crash_run_t;

/* Totals over all runs, for the summary line. */
static uint64_t jtst_crash_sum_reported, jtst_crash_sum_held, jtst_crash_zero_runs;

/* Read reports until the child is dead and its pipe closed; fails the test on an error. */
static void
jtst_crash_drain(jtst_reader_t *rd, jtst_crash_run_t *cr, uint64_t seed, int run,
                 const struct timespec *until, bool until_is_kill_time)
{
    uint64_t v;

    for (;;) {
        int rc = jtst_read_u64(rd, &v, until);
        if (rc == 0) {
            CRASH_CHECK(until_is_kill_time, "child silent for %d ms", CRASH_TIMEOUT_MS);
            return;
        }
        if (rc < 0)
            return;
        if (v == CRASH_ERROR) {
            uint64_t sts = 0;
            struct timespec d = jtst_deadline(CRASH_TIMEOUT_MS);
            jtst_read_u64(rd, &sts, &d);
            CRASH_CHECK(0, "child failed: %s", rtr_status_name((rtr_status_t)sts));
        }
        CRASH_CHECK(v != CRASH_READY, "second ready message");
        cr->reported++;
        if (v > cr->max_n)
            cr->max_n = v;
        if (!until_is_kill_time && cr->reported >= cr->stop_at)
            return;
    }
}

static void
jtst_crash_one(uint64_t seed, int run)
{
    uint64_t rs = jtst_mix(seed ^ jtst_mix((uint64_t)run + 1));
    jtst_crash_run_t cr = { .kill_at = rs % (CRASH_MAX_KILL_AT + 1),
                            .delay_ms = (rs >> 32) % (CRASH_MAX_DELAY + 1) };
    char *dir = tst_tmpdir("jrn-crash");
    int fds[2], status = 0;
    jtst_reader_t rd;
    struct timespec d;
    pid_t pid;
    uint64_t v, k = 0, rseed = jtst_mix(rs);
    jrn_options_t o;
    jrn_t *j = NULL;
    jrn_stats_t st;
    jtst_scan_t s = { 0 };
    uint32_t part = 99;
    char why[256];

    CRASH_CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    CRASH_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        jtst_crash_child(dir, rseed, fds[1]);
    }
    close(fds[1]);
    rd = (jtst_reader_t){ .fd = fds[0] };

    d = jtst_deadline(CRASH_TIMEOUT_MS);
    CRASH_CHECK(jtst_read_u64(&rd, &v, &d) == 1, "no ready message from the child");
    if (v == CRASH_ERROR) {
        uint64_t sts = 0;
        jtst_read_u64(&rd, &sts, &d);
        CRASH_CHECK(0, "child could not open: %s", rtr_status_name((rtr_status_t)sts));
    }
    CRASH_CHECK(v == CRASH_READY, "first message %" PRIu64, v);

    /* the moment: kill_at reports, then delay_ms more on the pipe's clock; one run in ten
     * kills at once on READY, while the first records are in flight */
    if ((rs >> 56) % 10 != 0) {
        if (cr.kill_at > 0) {
            cr.stop_at = cr.kill_at;
            d = jtst_deadline(CRASH_TIMEOUT_MS);
            jtst_crash_drain(&rd, &cr, seed, run, &d, false);
        }
        d = jtst_deadline((int64_t)cr.delay_ms);
        jtst_crash_drain(&rd, &cr, seed, run, &d, true);
    } else {
        cr.kill_at = cr.delay_ms = 0;
    }
    CRASH_CHECK(kill(pid, SIGKILL) == 0, "kill: %s", strerror(errno));
    /* what the child reported before it died counts too: read to end of file */
    cr.stop_at = UINT64_MAX;
    d = jtst_deadline(CRASH_TIMEOUT_MS);
    jtst_crash_drain(&rd, &cr, seed, run, &d, false);
    CRASH_CHECK(rd.eof, "the child's pipe stayed open after SIGKILL");
    close(fds[0]);
    CRASH_CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    CRASH_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                "child ended otherwise (status 0x%x) before the kill", status);

    /* recovery */
    o = jtst_opts(dir, false);
    rtr_status_t sts = jrn_open(&o, &j);
    CRASH_CHECK(sts == RTR_STS_OK, "reopen after kill: %s", rtr_status_name(sts));
    sts = jrn_partition(j, "P", &part);
    CRASH_CHECK(sts == RTR_STS_OK && part == 0, "partition P: %s id %u", rtr_status_name(sts),
                part);
    CRASH_CHECK(jrn_partition_count(j) == 1, "%u partitions", jrn_partition_count(j));
    sts = jrn_scan(j, part, 0, UINT64_MAX, jtst_collect, &s);
    CRASH_CHECK(sts == RTR_STS_OK && !s.oom, "scan: %s", rtr_status_name(sts));
    k = s.len;
    uint64_t bad = jtst_check_run(&s, part, rseed, JTST_BODY_MAX, why, sizeof why);
    CRASH_CHECK(bad == 0,
                "kill_at=%" PRIu64 " delay=%" PRIu64 "ms reported=%" PRIu64 " max=%" PRIu64 ": %s",
                cr.kill_at, cr.delay_ms, cr.reported, cr.max_n, why);
    CRASH_CHECK(k >= cr.max_n,
                "lost hardened records: journal holds 1..%" PRIu64 ", child reported n=%" PRIu64
                " hardened",
                k, cr.max_n);
    CRASH_CHECK(cr.reported <= k, "reported %" PRIu64 " > %" PRIu64, cr.reported, k);
    jrn_stats(j, &st);
    CRASH_CHECK(st.live_records == k, "live_records %" PRIu64 " != %" PRIu64, st.live_records, k);
    uint64_t last = 0;
    CRASH_CHECK(jrn_last_n(j, part, &last) == RTR_STS_OK && last == k, "last_n %" PRIu64, last);
    if (k > 0) {
        uint8_t tid[16];
        uint64_t n = 0;
        jtst_tid(rseed, k, tid);
        CRASH_CHECK(jrn_lookup_tid(j, tid, part, &n) == RTR_STS_OK && n == k,
                    "TID of the last record -> %" PRIu64, n);
    }
    /* the recovered journal goes on at K + 1 */
    jtst_rec_t *r = malloc(sizeof *r);
    CRASH_CHECK(r != NULL, "malloc");
    jtst_rec_make(r, rseed, k + 1, 100);
    sts = jtst_append_wait(j, part, &r->rec, NULL);
    CRASH_CHECK(sts == RTR_STS_OK, "append after recovery: %s", rtr_status_name(sts));
    free(r);
    jtst_scan_free(&s);
    jrn_close(&j);
    tst_rmtree(dir);
    free(dir);
    jtst_crash_sum_reported += cr.reported;
    jtst_crash_sum_held += k;
    jtst_crash_zero_runs += k == 0;
}

Test(jrn_crash, keeps_every_hardened_record_after_sigkill)
{
    struct timespec now;
    uint64_t seed, runs;

    clock_gettime(CLOCK_REALTIME, &now);
    seed = jtst_env_u64("RTR_CRASH_SEED",
                        jtst_mix((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec));
    runs = jtst_env_u64("RTR_CRASH_RUNS", 50);
    fprintf(stderr, "jrn_crash: RTR_CRASH_SEED=%" PRIu64 " RTR_CRASH_RUNS=%" PRIu64 "\n", seed,
            runs);
    for (int run = 0; (uint64_t)run < runs; run++)
        jtst_crash_one(seed, run);
    fprintf(stderr,
            "jrn_crash: %" PRIu64 " runs, %" PRIu64 " records reported hardened, %" PRIu64
            " held after recovery, %" PRIu64 " runs killed before the first record\n",
            runs, jtst_crash_sum_reported, jtst_crash_sum_held, jtst_crash_zero_runs);
}
