/*
 * jrn_sticky_test.c - failure is sticky (DESIGN §7, jrn.h): after a failed fsync the journal
 * refuses all further work with RTR_STS_JNLFAILED (wait, submit, append, poll, partition
 * creation, stats.failure), also once the disk works again; what was hardened before the
 * failure is still there after a reopen, and a truncation batch caught by the failure is there
 * after a reopen whole (records and meta) or not at all.
 *
 * Three ways to make I/O fail, each failing (EIO) while its mode says so and counting calls:
 *   - BDB's fsync hook, db_env_set_func_fsync (jtst_fsync). It is process-global, which is
 *     fine here: Criterion runs every test in its own worker process. BDB calls the hook once
 *     and takes its return value as the error (its convention: the errno value, not -1).
 *   - the C library's fdatasync, interposed by the definition below (the executable's symbol
 *     wins over libc's for libdb's calls). This is the path a real disk error takes, through
 *     BDB's RETRY_CHK (which in some BDB releases retries EIO); the hook bypasses that.
 *   - BDB's write hook, db_env_set_func_write (jtst_write), for writes of the log.
 * Checkpoint fsyncs of database files are failed too: they are fsyncs like any other.
 */
#include <criterion/criterion.h>
#include <db.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jrn.h"
#include "jrn_tst.h"
#include "tst.h"
#include "wire.h"

#define SEED    0x571c4ULL
#define BEFORE  20 /* records hardened before the fault */
#define WAIT_MS 30000

enum {
    JTST_FSYNC_OK,
    JTST_FSYNC_FAIL,      /* every fsync fails */
    JTST_FSYNC_FAIL_ONCE, /* the next fsync fails */
    JTST_FSYNC_FAIL_DATA, /* every fsync of a file other than a log file fails */
};

static atomic_int jtst_fsync_mode; /* the BDB hook */
static atomic_uint jtst_fsync_calls;
static atomic_uint jtst_fsync_failed;
static atomic_int jtst_libc_mode; /* the interposed fdatasync */
static atomic_uint jtst_libc_calls;
static atomic_uint jtst_libc_failed;

/* Is fd one of BDB's log files (log.NNNNNNNNNN)? */
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

/* Should this call on fd fail? Consumes a FAIL_ONCE. */
static bool
jtst_should_fail(atomic_int *mode, int fd)
{
    int m = atomic_load(mode);

    return m == JTST_FSYNC_FAIL || (m == JTST_FSYNC_FAIL_DATA && !jtst_is_log_file(fd)) ||
           (m == JTST_FSYNC_FAIL_ONCE && atomic_compare_exchange_strong(mode, &m, JTST_FSYNC_OK));
}

static int
jtst_fsync(int fd)
{
    atomic_fetch_add(&jtst_fsync_calls, 1);
    if (jtst_should_fail(&jtst_fsync_mode, fd)) {
        atomic_fetch_add(&jtst_fsync_failed, 1);
        return EIO;
    }
    return syscall(SYS_fdatasync, fd) == 0 ? 0 : errno;
}

/* BDB's write hook: fails (-1, EIO, like write) on log files while jtst_write_fail is set. */
static atomic_int jtst_write_fail;
static atomic_uint jtst_write_failed;

static ssize_t
jtst_write(int fd, const void *buf, size_t len)
{
    if (atomic_load(&jtst_write_fail) && jtst_is_log_file(fd)) {
        atomic_fetch_add(&jtst_write_failed, 1);
        errno = EIO;
        return -1;
    }
    return write(fd, buf, len);
}

int
fdatasync(int fd)
{
    atomic_fetch_add(&jtst_libc_calls, 1);
    if (jtst_should_fail(&jtst_libc_mode, fd)) {
        atomic_fetch_add(&jtst_libc_failed, 1);
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

static char *jtst_dir;
static jrn_t *jtst_j;
static uint32_t jtst_p;

/* Open a journal (checkpoint every checkpoint_mb) and harden records 1..BEFORE. */
static void
jtst_sticky_open_ckpt(uint32_t checkpoint_mb)
{
    jrn_options_t o;
    jtst_rec_t r;

    jtst_dir = tst_tmpdir("jrn-sticky");
    o = jtst_opts(jtst_dir, false);
    o.checkpoint_mb = checkpoint_mb;
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "P", &jtst_p), RTR_STS_OK);
    for (uint64_t n = 1; n <= BEFORE; n++) {
        jtst_rec_make(&r, SEED, n, 1000);
        cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_OK);
    }
}

static void
jtst_sticky_open(void)
{
    jtst_sticky_open_ckpt(0);
}

/* The same with BDB's fsync hook installed (and passing). */
static void
jtst_sticky_setup(void)
{
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_OK);
    cr_assert_eq(db_env_set_func_fsync(jtst_fsync), 0);
    jtst_sticky_open();
    cr_assert_gt(atomic_load(&jtst_fsync_calls), 0, "the hook is not called: test is void");
}

/* The same without the hook: BDB calls the (interposed) fdatasync. */
static void
jtst_sticky_setup_libc(void)
{
    atomic_store(&jtst_libc_mode, JTST_FSYNC_OK);
    jtst_sticky_open();
    cr_assert_gt(atomic_load(&jtst_libc_calls), 0,
                 "BDB does not call the interposed fdatasync: test is void");
}

static void
jtst_sticky_teardown(void)
{
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_OK);
    atomic_store(&jtst_libc_mode, JTST_FSYNC_OK);
    atomic_store(&jtst_write_fail, 0);
    jrn_close(&jtst_j);
    db_env_set_func_fsync(NULL);
    db_env_set_func_write(NULL);
    tst_rmtree(jtst_dir);
    free(jtst_dir);
}

/* Everything the journal offers refuses with JNLFAILED. */
static void
jtst_expect_refusals(uint64_t hardened_at_failure, uint64_t submitted_at_failure, uint64_t t)
{
    jrn_batch_t *b = jrn_batch_new(), *keep = b;
    jrn_stats_t st;
    jtst_rec_t r;
    uint64_t h = 0, t2 = 0;
    uint32_t id = 0;

    cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_JNLFAILED);
    cr_assert_eq(jrn_poll(jtst_j, &h), RTR_STS_JNLFAILED);
    cr_assert_eq(h, hardened_at_failure, "hardened moved after the failure");
    jtst_rec_make(&r, SEED, 1000, 10);
    cr_assert_eq(jrn_batch_put(b, jtst_p, &r.rec), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t2), RTR_STS_JNLFAILED);
    cr_assert_eq(b, keep, "a refused batch stays with the caller");
    jrn_batch_free(&b);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t2), RTR_STS_JNLFAILED);
    cr_assert_eq(jrn_partition(jtst_j, "NEW", &id), RTR_STS_JNLFAILED);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.failure, RTR_STS_JNLFAILED);
    cr_assert_eq(st.hardened, hardened_at_failure);
    cr_assert_eq(st.submitted, submitted_at_failure, "no ticket after the failure");
}

/* Fail fsync from now on, submit one record and see the journal fail. Returns its ticket. */
static uint64_t
jtst_make_it_fail(uint64_t *hardened, uint64_t *submitted)
{
    struct pollfd p;
    jrn_stats_t st;
    jtst_rec_t r;
    uint64_t t = 0;

    atomic_store(&jtst_fsync_mode, JTST_FSYNC_FAIL);
    jtst_rec_make(&r, SEED, BEFORE + 1, 1000);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
    cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_JNLFAILED);
    cr_assert_gt(atomic_load(&jtst_fsync_failed), 0);
    /* the fd reports the failure */
    p = (struct pollfd){ .fd = jrn_fd(jtst_j), .events = POLLIN };
    cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "jrn_fd not readable after the failure");
    jrn_stats(jtst_j, &st);
    cr_assert_lt(st.hardened, t);
    *hardened = st.hardened;
    *submitted = st.submitted;
    return t;
}

Test(jrn_sticky, refuses_all_work_after_failed_fsync, .init = jtst_sticky_setup,
     .fini = jtst_sticky_teardown)
{
    uint64_t h, s, t = jtst_make_it_fail(&h, &s);

    jtst_expect_refusals(h, s, t);
    /* the disk recovers: the journal does not */
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_OK);
    jtst_expect_refusals(h, s, t);
    jtst_expect_refusals(h, s, t);
    jrn_close(&jtst_j);
    cr_assert_null(jtst_j);
}

Test(jrn_sticky, keeps_records_hardened_before_failure, .init = jtst_sticky_setup,
     .fini = jtst_sticky_teardown)
{
    jtst_scan_t s = { 0 };
    jrn_options_t o = jtst_opts(NULL, false);
    uint64_t h, sub, t = 0;
    char why[256];
    jtst_rec_t r;

    jtst_make_it_fail(&h, &sub);
    jrn_close(&jtst_j);
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_OK);
    db_env_set_func_fsync(NULL);

    o.dir = jtst_dir;
    o.readonly = true;
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK, "read-only open after a failure");
    cr_assert_eq(jrn_scan(jtst_j, jtst_p, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_geq(s.len, BEFORE);
    jtst_scan_free(&s);
    jrn_close(&jtst_j);

    o.readonly = false;
    rtr_status_t sts = jrn_open(&o, &jtst_j);
    cr_assert_eq(sts, RTR_STS_OK, "writer reopen after a failure: %s", rtr_status_name(sts));
    cr_assert_eq(jrn_scan(jtst_j, jtst_p, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    /* record BEFORE + 1 was written but not hardened: it may or may not be there */
    cr_assert(s.len == BEFORE || s.len == BEFORE + 1, "%zu records", s.len);
    cr_assert_eq(jtst_check_run(&s, jtst_p, SEED, 1000, why, sizeof why), 0, "%s", why);
    jtst_scan_free(&s);
    /* a fresh handle works */
    jtst_rec_make(&r, SEED, BEFORE + 2, 1000);
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
    cr_assert_eq(t, 1);
}

Test(jrn_sticky, fails_even_if_only_one_fsync_fails, .init = jtst_sticky_setup,
     .fini = jtst_sticky_teardown)
{
    unsigned calls0 = atomic_load(&jtst_fsync_calls), calls;
    jtst_rec_t r;
    uint64_t t = 0;
    rtr_status_t sts;

    /* One EIO from fsync means the kernel may have dropped the dirty pages: a later fsync
     * that succeeds proves nothing, so nobody may retry it and report the ticket hardened. */
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_FAIL_ONCE);
    jtst_rec_make(&r, SEED, BEFORE + 1, 1000);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
    sts = jrn_wait(jtst_j, t);
    calls = atomic_load(&jtst_fsync_calls) - calls0;
    cr_assert_eq(atomic_load(&jtst_fsync_failed), 1);
    cr_assert_eq(sts, RTR_STS_JNLFAILED,
                 "one fsync failed with EIO, yet ticket %llu was reported %s after %u fsync "
                 "calls: the failed fsync was retried",
                 (unsigned long long)t, rtr_status_name(sts), calls);
}

Test(jrn_sticky, fails_even_if_the_kernel_reports_eio_only_once, .init = jtst_sticky_setup_libc,
     .fini = jtst_sticky_teardown)
{
    unsigned calls0 = atomic_load(&jtst_libc_calls), calls;
    jtst_rec_t r;
    uint64_t t = 0;
    rtr_status_t sts;

    /* Linux reports a writeback error to one fsync and then forgets it (the dirty pages may
     * be gone): the fdatasync after an EIO succeeds. That success must not harden anything. */
    atomic_store(&jtst_libc_mode, JTST_FSYNC_FAIL_ONCE);
    jtst_rec_make(&r, SEED, BEFORE + 1, 1000);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
    sts = jrn_wait(jtst_j, t);
    calls = atomic_load(&jtst_libc_calls) - calls0;
    cr_assert_eq(atomic_load(&jtst_libc_failed), 1);
    cr_assert_eq(sts, RTR_STS_JNLFAILED,
                 "fdatasync failed once with EIO, yet ticket %llu was reported %s after %u "
                 "fdatasync calls: the failed fsync was retried",
                 (unsigned long long)t, rtr_status_name(sts), calls);
}

/* The hook installed, checkpoints every MiB. */
static void
jtst_sticky_setup_ckpt(void)
{
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_OK);
    cr_assert_eq(db_env_set_func_fsync(jtst_fsync), 0);
    jtst_sticky_open_ckpt(1);
}

Test(jrn_sticky, fails_after_failed_fsync_of_a_database_file, .init = jtst_sticky_setup_ckpt,
     .fini = jtst_sticky_teardown)
{
    struct timespec deadline;
    jrn_stats_t st;
    jtst_rec_t r;
    uint64_t t = 0;

    /* A checkpoint writes the cache's dirty pages to the database files and fsyncs them. If
     * that fsync fails the pages may be lost while the cache thinks them clean; a later
     * checkpoint would then let BDB drop the log that could redo them. Sticky, too. */
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_FAIL_DATA);
    for (uint64_t n = BEFORE + 1; n <= BEFORE + 700; n++) {
        jtst_rec_sized(&r, SEED, n, JTST_BODY_MAX);
        cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
    }
    cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_OK, "log flushes still work");

    /* checkpoints run beside the writer and signal nothing: deadlines, poll as the clock */
    deadline = jtst_deadline(WAIT_MS);
    while (atomic_load(&jtst_fsync_failed) == 0 && jtst_ms_left(&deadline) > 0)
        poll(NULL, 0, 10);
    cr_assert_gt(atomic_load(&jtst_fsync_failed), 0,
                 "no checkpoint fsynced a database file after 1.4 MB of records");
    deadline = jtst_deadline(5000);
    jrn_stats(jtst_j, &st);
    while (st.failure == RTR_STS_OK && jtst_ms_left(&deadline) > 0) {
        poll(NULL, 0, 10);
        jrn_stats(jtst_j, &st);
    }
    cr_assert_eq(st.failure, RTR_STS_JNLFAILED,
                 "%u fsyncs of database files failed (EIO), yet 5 s later the journal is %s "
                 "(checkpoints %llu)",
                 atomic_load(&jtst_fsync_failed), rtr_status_name(st.failure),
                 (unsigned long long)st.checkpoints);
    jtst_rec_sized(&r, SEED, BEFORE + 701, 10);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_JNLFAILED);
}

/* The write hook installed (and passing). */
static void
jtst_sticky_setup_write(void)
{
    atomic_store(&jtst_write_fail, 0);
    cr_assert_eq(db_env_set_func_write(jtst_write), 0);
    jtst_sticky_open();
}

Test(jrn_sticky, refuses_all_work_after_failed_log_write, .init = jtst_sticky_setup_write,
     .fini = jtst_sticky_teardown)
{
    jrn_stats_t st;
    jtst_rec_t r;
    uint64_t t = 0, h = 0;
    rtr_status_t sts;

    atomic_store(&jtst_write_fail, 1);
    jtst_rec_make(&r, SEED, BEFORE + 1, 1000);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, &t), RTR_STS_OK);
    sts = jrn_wait(jtst_j, t);
    cr_assert_gt(atomic_load(&jtst_write_failed), 0, "the log was never written: test is void");
    cr_assert_eq(sts, RTR_STS_JNLFAILED);
    jrn_stats(jtst_j, &st);
    atomic_store(&jtst_write_fail, 0);
    jtst_expect_refusals(st.hardened, st.submitted, t);
    cr_assert_eq(jrn_poll(jtst_j, &h), RTR_STS_JNLFAILED);
}

Test(jrn_sticky, truncation_caught_by_a_failed_fsync_is_whole_or_absent_after_reopen,
     .init = jtst_sticky_setup, .fini = jtst_sticky_teardown)
{
    Rtr__EpochStart e1 = RTR__EPOCH_START__INIT, e2 = RTR__EPOCH_START__INIT;
    Rtr__EpochStart *hist[] = { &e1, &e2 };
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT, *got = NULL;
    jrn_batch_t *b = jrn_batch_new(), *keep;
    jrn_options_t o = jtst_opts(NULL, false);
    jtst_scan_t s = { 0 };
    char name[] = "P", why[256];
    uint64_t t = 0, t2 = 0;

    /* a member cuts back to 10 and starts epoch 2 at 11: truncation and meta in one batch */
    m.partition = name;
    m.id = jtst_p;
    m.has_epoch = 1;
    m.epoch = 2;
    e1.epoch = 1;
    e1.first_n = 1;
    e2.epoch = 2;
    e2.first_n = 11;
    m.history = hist;
    m.n_history = 2;
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_FAIL);
    cr_assert_eq(jrn_batch_truncate(b, jtst_p, 10), RTR_STS_OK);
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_OK);
    cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_JNLFAILED);
    cr_assert_gt(atomic_load(&jtst_fsync_failed), 0);

    /* sticky: a truncation is refused like everything else, and the batch stays the caller's */
    b = keep = jrn_batch_new();
    cr_assert_eq(jrn_batch_truncate(b, jtst_p, 0), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t2), RTR_STS_JNLFAILED);
    cr_assert_eq(b, keep);
    jrn_batch_free(&b);
    cr_assert_eq(jrn_scan(jtst_j, jtst_p, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_geq(s.len, 10, "records at or below the point never go");
    jtst_scan_free(&s);

    jrn_close(&jtst_j);
    atomic_store(&jtst_fsync_mode, JTST_FSYNC_OK);
    db_env_set_func_fsync(NULL);
    o.dir = jtst_dir;
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(jrn_scan(jtst_j, jtst_p, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(jrn_meta_get(jtst_j, jtst_p, &got), RTR_STS_OK);
    if (got->has_epoch) {
        cr_assert(jtst_same(&got->base, &m.base), "the cut meta, changed");
        cr_assert_eq(s.len, 10, "meta cut but %zu records: half a batch", s.len);
    } else {
        cr_assert_eq(got->n_history, 0);
        cr_assert_eq(s.len, BEFORE, "meta not cut but %zu records: half a batch", s.len);
    }
    cr_assert_eq(jtst_check_run(&s, jtst_p, SEED, 1000, why, sizeof why), 0, "%s", why);
    jtst_scan_free(&s);
    wire_free((ProtobufCMessage **)&got);
}
