/*
 * jrn_commit_test.c - group commit and completion: concurrent producers share log flushes
 * (observed in the counters, not timed), tickets are dense and handed out in order, and the
 * owner learns of hardening from jrn_fd + jrn_poll without blocking or busy-waiting (poll's
 * timeout is only a deadline for a broken journal). A gated fsync (BDB's process-global hook,
 * fine in Criterion's one-process-per-test) holds the writer inside a flush for as long as a
 * test wants, to show that submit and poll do not block and that jrn_wait sleeps.
 */
#include <criterion/criterion.h>
#include <db.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "jrn.h"
#include "jrn_tst.h"
#include "tst.h"

#define SEED        0xc0117ULL
#define THREADS     16
#define PER_THREAD  200
#define DEADLINE_MS 30000

static char *jtst_dir;
static jrn_t *jtst_j;
static uint32_t jtst_p;

static void
jtst_commit_setup(void)
{
    jrn_options_t o;

    jtst_dir = tst_tmpdir("jrn-commit");
    o = jtst_opts(jtst_dir, false);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "P", &jtst_p), RTR_STS_OK);
}

static void
jtst_commit_teardown(void)
{
    jrn_close(&jtst_j);
    tst_rmtree(jtst_dir);
    free(jtst_dir);
}

typedef struct {
    int id;
    uint64_t tickets[PER_THREAD];
    rtr_status_t sts;   /* first failure */
    const char *failed; /* what failed */
} jtst_producer_t;

static void *
jtst_producer(void *arg)
{
    jtst_producer_t *p = arg;
    jtst_rec_t *r = malloc(sizeof *r);

    if (r == NULL) {
        p->sts = RTR_STS_NOMEM;
        return NULL;
    }
    for (int i = 0; i < PER_THREAD && p->sts == RTR_STS_OK; i++) {
        uint64_t n = (uint64_t)p->id * PER_THREAD + (uint64_t)i + 1;
        jtst_rec_make(r, SEED, n, 100);
        if ((p->sts = jrn_append(jtst_j, jtst_p, &r->rec, &p->tickets[i])) != RTR_STS_OK)
            p->failed = "append";
        else if ((p->sts = jrn_wait(jtst_j, p->tickets[i])) != RTR_STS_OK)
            p->failed = "wait";
    }
    free(r);
    return NULL;
}

static int
jtst_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(jrn_commit, groups_concurrent_commits_into_fewer_flushes, .init = jtst_commit_setup,
     .fini = jtst_commit_teardown)
{
    static jtst_producer_t prod[THREADS];
    static uint64_t all[THREADS * PER_THREAD];
    pthread_t th[THREADS];
    jrn_stats_t st0, st1;
    jtst_scan_t s = { 0 };
    const uint64_t total = THREADS * PER_THREAD;
    char why[256];

    jrn_stats(jtst_j, &st0);
    for (int i = 0; i < THREADS; i++) {
        memset(&prod[i], 0, sizeof prod[i]);
        prod[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, jtst_producer, &prod[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(prod[i].sts, RTR_STS_OK, "thread %d: %s: %s", i, prod[i].failed,
                     rtr_status_name(prod[i].sts));
        for (int k = 1; k < PER_THREAD; k++)
            cr_assert_gt(prod[i].tickets[k], prod[i].tickets[k - 1]);
        memcpy(all + (size_t)i * PER_THREAD, prod[i].tickets, sizeof prod[i].tickets);
    }

    /* tickets: every one of st0.submitted + 1 .. + total, once */
    qsort(all, total, sizeof *all, jtst_u64_cmp);
    for (uint64_t k = 0; k < total; k++)
        cr_assert_eq(all[k], st0.submitted + 1 + k, "tickets are dense and unique");

    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.submitted - st0.submitted, total);
    cr_assert_eq(st1.hardened, st1.submitted);
    cr_assert_eq(st1.batches - st0.batches, total);
    cr_assert_eq(st1.ops - st0.ops, total);
    cr_assert_eq(st1.live_records, total);
    cr_assert_geq(st1.flushes - st0.flushes, 1);
    fprintf(stderr, "jrn_commit: %llu records, %llu flushes\n", (unsigned long long)total,
            (unsigned long long)(st1.flushes - st0.flushes));
    cr_assert_leq(st1.flushes - st0.flushes, total / 2,
                  "group commit: %llu flushes for %llu records from %d threads",
                  (unsigned long long)(st1.flushes - st0.flushes), (unsigned long long)total,
                  THREADS);

    cr_assert_eq(jrn_scan(jtst_j, jtst_p, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, total);
    cr_assert_eq(jtst_check_run(&s, jtst_p, SEED, 100, why, sizeof why), 0, "%s", why);
    jtst_scan_free(&s);
}

/* Poll jrn_fd until jrn_poll reports `ticket` hardened; returns the wake-ups it took. */
static int
jtst_poll_until(uint64_t ticket, uint64_t *hardened)
{
    struct timespec deadline = jtst_deadline(DEADLINE_MS);
    int fd = jrn_fd(jtst_j), wakeups = 0;
    uint64_t prev = 0;

    *hardened = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int rc = poll(&p, 1, jtst_ms_left(&deadline));
        cr_assert_gt(rc, 0, "jrn_fd not readable within %d ms (ticket %llu, hardened %llu)",
                     DEADLINE_MS, (unsigned long long)ticket, (unsigned long long)*hardened);
        cr_assert(p.revents & POLLIN);
        wakeups++;
        cr_assert_eq(jrn_poll(jtst_j, hardened), RTR_STS_OK);
        cr_assert_geq(*hardened, prev, "hardened never goes back");
        prev = *hardened;
        if (*hardened >= ticket)
            return wakeups;
    }
}

Test(jrn_commit, fd_becomes_readable_when_ticket_hardens, .init = jtst_commit_setup,
     .fini = jtst_commit_teardown)
{
    struct pollfd p;
    uint64_t t = 0, h = 0;
    jtst_rec_t r;
    jrn_stats_t st;

    cr_assert_geq(jrn_fd(jtst_j), 0);
    /* partition creation advanced hardened: consume that readiness first */
    cr_assert_eq(jrn_poll(jtst_j, &h), RTR_STS_OK);
    p = (struct pollfd){ .fd = jrn_fd(jtst_j), .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 0), 0, "jrn_poll resets readiness");

    jtst_rec_make(&r, SEED, 1, 100);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
    jtst_poll_until(t, &h);
    cr_assert_geq(h, t);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.hardened, h);

    /* nothing pending: after jrn_poll the fd stays quiet */
    cr_assert_eq(jrn_poll(jtst_j, &h), RTR_STS_OK);
    cr_assert_eq(h, t);
    p = (struct pollfd){ .fd = jrn_fd(jtst_j), .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 0), 0, "readable although nothing was hardened");
    /* jrn_wait on a hardened ticket returns at once */
    cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_OK);
}

Test(jrn_commit, fd_reports_the_last_of_many_tickets, .init = jtst_commit_setup,
     .fini = jtst_commit_teardown)
{
    uint64_t t = 0, first = 0, h = 0;
    jtst_rec_t r;
    int wakeups;

    for (uint64_t n = 1; n <= 300; n++) {
        jtst_rec_make(&r, SEED, n, 500);
        cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
        if (n == 1)
            first = t;
    }
    cr_assert_eq(t, first + 299);
    wakeups = jtst_poll_until(t, &h);
    cr_assert_eq(h, t, "nothing beyond the last ticket can be hardened");
    cr_assert_leq(wakeups, 300);
    /* every earlier ticket is hardened too: tickets harden in order */
    for (uint64_t k = first; k <= t; k += 37)
        cr_assert_eq(jrn_wait(jtst_j, k), RTR_STS_OK);
}

/* ---- a gated fsync ------------------------------------------------------------------- */

static atomic_int jtst_gate_armed;
static int jtst_gate_entered[2]; /* the hook writes a byte when it holds a flush */
static int jtst_gate_release[2]; /* the test writes a byte to let it go on */

/* Is fd one of BDB's log files (log.NNNNNNNNNN)? Only the log flush is gated, not a
 * checkpoint's fsync of a database file. */
static bool
jtst_is_log_file(int fd)
{
    char link[64], path[4096];
    ssize_t n;
    const char *base;

    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    if ((n = readlink(link, path, sizeof path - 1)) < 0)
        return false;
    path[n] = '\0';
    base = strrchr(path, '/');
    return strncmp(base ? base + 1 : path, "log.", 4) == 0;
}

static int
jtst_gated_fsync(int fd)
{
    int one = 1;
    char c = 0;

    if (jtst_is_log_file(fd) && atomic_compare_exchange_strong(&jtst_gate_armed, &one, 0)) {
        if (write(jtst_gate_entered[1], "e", 1) != 1 || read(jtst_gate_release[0], &c, 1) != 1)
            return EIO;
    }
    return syscall(SYS_fdatasync, fd) == 0 ? 0 : errno;
}

static void
jtst_gate_setup(void)
{
    cr_assert_eq(pipe(jtst_gate_entered), 0);
    cr_assert_eq(pipe(jtst_gate_release), 0);
    cr_assert_eq(db_env_set_func_fsync(jtst_gated_fsync), 0);
    jtst_commit_setup();
}

static void
jtst_gate_teardown(void)
{
    if (write(jtst_gate_release[1], "r", 1) != 1) /* never leave the writer stuck */
        abort();
    jtst_commit_teardown();
    db_env_set_func_fsync(NULL);
}

typedef struct {
    uint64_t ticket;
    rtr_status_t sts;
} jtst_waiter_t;

static void *
jtst_waiter(void *arg)
{
    jtst_waiter_t *w = arg;

    w->sts = jrn_wait(jtst_j, w->ticket);
    return NULL;
}

static double
jtst_thread_cpu_ms(pthread_t th)
{
    clockid_t cid;
    struct timespec ts;

    cr_assert_eq(pthread_getcpuclockid(th, &cid), 0);
    cr_assert_eq(clock_gettime(cid, &ts), 0);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

Test(jrn_commit, submit_and_poll_return_while_the_writer_is_in_fsync, .init = jtst_gate_setup,
     .fini = jtst_gate_teardown)
{
    struct pollfd p = { .fd = jtst_gate_entered[0], .events = POLLIN };
    jtst_waiter_t w = { 0 };
    pthread_t th;
    uint64_t t2 = 0, h = 0;
    double cpu0, cpu1;
    jtst_rec_t r;
    char c;

    atomic_store(&jtst_gate_armed, 1);
    jtst_rec_make(&r, SEED, 1, 100);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &w.ticket), RTR_STS_OK);
    cr_assert_eq(poll(&p, 1, DEADLINE_MS), 1, "the writer never flushed");
    cr_assert_eq(read(jtst_gate_entered[0], &c, 1), 1);

    /* the writer is held inside the flush of w.ticket: nothing of ours may block on it */
    cr_assert_eq(pthread_create(&th, NULL, jtst_waiter, &w), 0);
    jtst_rec_make(&r, SEED, 2, 100);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t2), RTR_STS_OK);
    cr_assert_eq(t2, w.ticket + 1);
    cr_assert_eq(jrn_poll(jtst_j, &h), RTR_STS_OK);
    cr_assert_lt(h, w.ticket, "hardened before its fsync returned");

    /* a measuring window (not synchronisation): a spinning jrn_wait would burn it all */
    cpu0 = jtst_thread_cpu_ms(th);
    poll(NULL, 0, 300);
    cpu1 = jtst_thread_cpu_ms(th);
    cr_assert_lt(cpu1 - cpu0, 60.0, "jrn_wait used %.1f ms of CPU in 300 ms of waiting",
                 cpu1 - cpu0);
    cr_assert_eq(jrn_poll(jtst_j, &h), RTR_STS_OK);
    cr_assert_lt(h, w.ticket);

    cr_assert_eq(write(jtst_gate_release[1], "r", 1), 1);
    pthread_join(th, NULL);
    cr_assert_eq(w.sts, RTR_STS_OK);
    cr_assert_eq(jrn_wait(jtst_j, t2), RTR_STS_OK);
}
