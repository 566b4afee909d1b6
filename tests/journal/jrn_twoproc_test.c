/*
 * jrn_twoproc_test.c - one writer process, other processes looking (jrn.h: "One process owns
 * a journal directory ... Any number of read-only openers ... live or stopped, without writing
 * anything to the directory").
 *
 * A forked child (no Criterion in it) owns the journal and appends records last_n + 1, ... one
 * at a time (after READY and last_n), writing each hardened n to a report pipe; it stops when
 * the control pipe closes, closes the journal, reports FINAL and its last n, and exits 0. The
 * parent reads the reports with poll deadlines, so "the child has hardened n" is a fact, never a
 * guess from a sleep.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jrn.h"
#include "jrn_tst.h"
#include "tst.h"

#define SEED        0x2970cULL
#define MAXBODY     600
#define TIMEOUT_MS  30000
#define MSG_READY   0
#define MSG_FINAL   (UINT64_MAX - 1)
#define MSG_ERROR   UINT64_MAX
#define CHILD_LIMIT 1000000

/* ---- the child ----------------------------------------------------------------------- */

static void
jtst_child_fail(int wfd, rtr_status_t sts)
{
    jtst_write_u64(wfd, MSG_ERROR);
    jtst_write_u64(wfd, (uint64_t)sts);
    _exit(3);
}

/* Append from last_n + 1 on until ctl reaches end of file. */
static void
jtst_writer_child(const char *dir, int wfd, int ctl)
{
    jrn_options_t o = jtst_opts(dir, false);
    jtst_rec_t *r = malloc(sizeof *r);
    jrn_t *j = NULL;
    uint32_t p;
    uint64_t n = 0, count = 0;
    rtr_status_t sts;

    if (r == NULL)
        jtst_child_fail(wfd, RTR_STS_NOMEM);
    if ((sts = jrn_open(&o, &j)) != RTR_STS_OK || (sts = jrn_partition(j, "P", &p)) ||
        (sts = jrn_last_n(j, p, &n)))
        jtst_child_fail(wfd, sts);
    jtst_write_u64(wfd, MSG_READY);
    jtst_write_u64(wfd, n);
    for (;;) {
        struct pollfd c = { .fd = ctl, .events = POLLIN };
        if (poll(&c, 1, 0) != 0 || count >= CHILD_LIMIT)
            break; /* the parent closed ctl (or is gone) */
        jtst_rec_make(r, SEED, ++n, MAXBODY);
        if ((sts = jtst_append_wait(j, p, &r->rec, NULL)) != RTR_STS_OK)
            jtst_child_fail(wfd, sts);
        count++;
        if (jtst_write_u64(wfd, n) != 0)
            _exit(4);
    }
    jrn_close(&j);
    free(r);
    jtst_write_u64(wfd, MSG_FINAL);
    jtst_write_u64(wfd, n);
    _exit(0);
}

/* ---- the parent ---------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int ctl; /* write end of the control pipe; close to stop the child */
    jtst_reader_t rd;
    uint64_t max_n; /* highest hardened n reported */
    uint64_t final; /* count from MSG_FINAL */
    bool got_final;
} jtst_child_t;

static char *jtst_dir;

static void
jtst_twoproc_setup(void)
{
    jtst_dir = tst_tmpdir("jrn-twoproc");
}

static void
jtst_twoproc_teardown(void)
{
    tst_rmtree(jtst_dir);
    free(jtst_dir);
}

static void
jtst_child_start(jtst_child_t *c)
{
    int rep[2], ctl[2];
    struct timespec d = jtst_deadline(TIMEOUT_MS);
    uint64_t v = 1;

    memset(c, 0, sizeof *c);
    cr_assert_eq(pipe(rep), 0);
    cr_assert_eq(pipe(ctl), 0);
    fflush(NULL);
    c->pid = fork();
    cr_assert_geq(c->pid, 0, "fork: %s", strerror(errno));
    if (c->pid == 0) {
        close(rep[0]);
        close(ctl[1]);
        jtst_writer_child(jtst_dir, rep[1], ctl[0]);
    }
    close(rep[1]);
    close(ctl[0]);
    c->ctl = ctl[1];
    c->rd = (jtst_reader_t){ .fd = rep[0] };
    cr_assert_eq(jtst_read_u64(&c->rd, &v, &d), 1, "no word from the child");
    if (v == MSG_ERROR) {
        uint64_t sts = 0;
        jtst_read_u64(&c->rd, &sts, &d);
        cr_assert_fail("child could not open the journal: %s", rtr_status_name((rtr_status_t)sts));
    }
    cr_assert_eq(v, MSG_READY);
    cr_assert_eq(jtst_read_u64(&c->rd, &c->max_n, &d), 1, "no start position from the child");
}

/* Read reports until the child has hardened `n` (or, n = UINT64_MAX, to end of file). */
static void
jtst_child_until(jtst_child_t *c, uint64_t n)
{
    struct timespec d = jtst_deadline(TIMEOUT_MS);
    uint64_t v;

    while (c->max_n < n) {
        int rc = jtst_read_u64(&c->rd, &v, &d);
        if (rc < 0 && n == UINT64_MAX)
            return;
        cr_assert_eq(rc, 1, "child stopped reporting at n=%" PRIu64 " (waiting for %" PRIu64 ")",
                     c->max_n, n);
        if (v == MSG_ERROR) {
            uint64_t sts = 0;
            jtst_read_u64(&c->rd, &sts, &d);
            cr_assert_fail("child failed after n=%" PRIu64 ": %s", c->max_n,
                           rtr_status_name((rtr_status_t)sts));
        }
        if (v == MSG_FINAL) {
            cr_assert_eq(jtst_read_u64(&c->rd, &c->final, &d), 1);
            c->got_final = true;
            continue;
        }
        cr_assert_eq(v, c->max_n + 1, "reports come in order");
        c->max_n = v;
    }
}

/* Ask the child to stop; it must exit 0 after reporting its count. */
static void
jtst_child_stop(jtst_child_t *c)
{
    int status = 0;

    close(c->ctl);
    jtst_child_until(c, UINT64_MAX);
    close(c->rd.fd);
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
    cr_assert(c->got_final, "child did not report its count");
    cr_assert_eq(c->final, c->max_n);
}

/* SIGKILL the child; returns after it is reaped and every report it wrote is read. */
static void
jtst_child_kill(jtst_child_t *c)
{
    int status = 0;

    cr_assert_eq(kill(c->pid, SIGKILL), 0);
    jtst_child_until(c, UINT64_MAX);
    close(c->rd.fd);
    close(c->ctl);
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status 0x%x", status);
}

/* Scan partition P of an open journal; assert records 1..m, each as written; return m. */
static uint64_t
jtst_scan_prefix(jrn_t *j)
{
    jtst_scan_t s = { 0 };
    uint32_t p = 99;
    char why[256];
    uint64_t m;

    cr_assert_eq(jrn_partition(j, "P", &p), RTR_STS_OK);
    cr_assert_eq(p, 0);
    cr_assert_eq(jrn_scan(j, p, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert(!s.oom);
    cr_assert_eq(jtst_check_run(&s, p, SEED, MAXBODY, why, sizeof why), 0, "%s", why);
    m = s.len;
    jtst_scan_free(&s);
    return m;
}

Test(jrn_twoproc, reader_sees_growing_prefix_while_owner_writes, .init = jtst_twoproc_setup,
     .fini = jtst_twoproc_teardown)
{
    jrn_options_t ro = jtst_opts(jtst_dir, true), rw = jtst_opts(jtst_dir, false);
    jtst_dirsnap_t before, after;
    jrn_t *j = NULL, *w = NULL;
    jtst_child_t c;
    uint64_t m1, m2, m3, t = 0;
    jtst_rec_t r;
    jrn_stats_t st;
    uint32_t q = 0;
    char why[512];

    jtst_child_start(&c);
    jtst_child_until(&c, 20);

    cr_assert_eq(jrn_open(&ro, &j), RTR_STS_OK, "read-only open of a live journal");
    m1 = jtst_scan_prefix(j);
    cr_assert_geq(m1, 20, "hardened records are visible");
    jtst_child_until(&c, m1 + 25);
    m2 = jtst_scan_prefix(j);
    cr_assert_geq(m2, m1 + 25, "the second scan sees the records hardened since the first");

    /* the read-only handle refuses to write and to create */
    cr_assert_eq(jrn_partition(j, "Q", &q), RTR_STS_NOTFOUND);
    jtst_rec_make(&r, SEED, m2 + 1000, MAXBODY);
    cr_assert_eq(jrn_append(j, 0, &r.rec, &t), RTR_STS_JNLRDONLY);

    /* a second writer is refused while the child owns the journal */
    cr_assert_eq(jrn_open(&rw, &w), RTR_STS_BUSY);
    cr_assert_null(w);
    jrn_close(&j);

    /* the child was not disturbed: it goes on hardening */
    jtst_child_until(&c, m2 + 25);
    cr_assert_eq(jrn_open(&rw, &w), RTR_STS_BUSY, "still owned");
    jtst_child_stop(&c);
    cr_assert_geq(c.final, m2 + 25);

    /* the owner is gone: read-only still works, sees everything, changes nothing */
    cr_assert_eq(jtst_dirsnap(jtst_dir, &before), 0);
    cr_assert_eq(jrn_open(&ro, &j), RTR_STS_OK, "read-only open of a stopped journal");
    m3 = jtst_scan_prefix(j);
    cr_assert_eq(m3, c.final);
    jrn_stats(j, &st);
    cr_assert_eq(st.live_records, c.final);
    jrn_close(&j);
    cr_assert_eq(jtst_dirsnap(jtst_dir, &after), 0);
    cr_assert_null(jtst_dirsnap_diff(&before, &after, why, sizeof why),
                   "read-only open changed the directory: %s", why);
    jtst_dirsnap_free(&before);
    jtst_dirsnap_free(&after);

    /* and a writer may own it again */
    cr_assert_eq(jrn_open(&rw, &w), RTR_STS_OK);
    cr_assert_eq(jtst_scan_prefix(w), c.final);
    jrn_close(&w);
}

Test(jrn_twoproc, readonly_open_after_sigkill_leaves_dir_untouched, .init = jtst_twoproc_setup,
     .fini = jtst_twoproc_teardown)
{
    jrn_options_t ro = jtst_opts(jtst_dir, true), rw = jtst_opts(jtst_dir, false);
    jtst_dirsnap_t before, after;
    jrn_t *j = NULL, *j2 = NULL;
    jtst_child_t c;
    uint64_t m, m2;
    char why[512];

    jtst_child_start(&c);
    jtst_child_until(&c, 60);
    jtst_child_kill(&c);
    cr_assert_geq(c.max_n, 60);

    cr_assert_eq(jtst_dirsnap(jtst_dir, &before), 0);
    cr_assert_eq(jrn_open(&ro, &j), RTR_STS_OK, "read-only open after SIGKILL of the owner");
    m = jtst_scan_prefix(j);
    cr_assert_geq(m, c.max_n, "hardened records missing from the read-only view");
    /* two readers at once */
    cr_assert_eq(jrn_open(&ro, &j2), RTR_STS_OK);
    cr_assert_eq(jtst_scan_prefix(j2), m);
    jrn_close(&j2);
    jrn_close(&j);
    cr_assert_eq(jtst_dirsnap(jtst_dir, &after), 0);
    cr_assert_null(jtst_dirsnap_diff(&before, &after, why, sizeof why),
                   "read-only open changed the directory: %s", why);
    jtst_dirsnap_free(&before);
    jtst_dirsnap_free(&after);

    /* the writer recovers the same records, and a new owner continues after them */
    cr_assert_eq(jrn_open(&rw, &j), RTR_STS_OK);
    m2 = jtst_scan_prefix(j);
    cr_assert_eq(m2, m, "writer recovery and the read-only view disagree");
    jrn_close(&j);
    jtst_child_start(&c);
    jtst_child_until(&c, m + 10);
    jtst_child_stop(&c);
    cr_assert_eq(jrn_open(&ro, &j), RTR_STS_OK);
    cr_assert_eq(jtst_scan_prefix(j), c.final);
    jrn_close(&j);
}

/* Open the test's journal read-only in a forked child and scan partition p there; *sts and
 * *seen get the child's status and record count. */
static void
jtst_fork_reader(uint32_t p, rtr_status_t *sts, uint64_t *seen)
{
    struct timespec d;
    jtst_reader_t rd;
    uint64_t v = 0;
    int fds[2], status = 0;
    pid_t pid;

    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        jrn_options_t ro = jtst_opts(jtst_dir, true);
        jtst_scan_t s = { 0 };
        jrn_t *v2 = NULL;
        rtr_status_t x = jrn_open(&ro, &v2);
        if (x == RTR_STS_OK)
            x = jrn_scan(v2, p, 0, UINT64_MAX, jtst_collect, &s);
        jrn_close(&v2);
        jtst_write_u64(fds[1], (uint64_t)x);
        jtst_write_u64(fds[1], s.len);
        _exit(0);
    }
    close(fds[1]);
    rd = (jtst_reader_t){ .fd = fds[0] };
    d = jtst_deadline(TIMEOUT_MS);
    cr_assert_eq(jtst_read_u64(&rd, &v, &d), 1);
    *sts = (rtr_status_t)v;
    cr_assert_eq(jtst_read_u64(&rd, seen, &d), 1);
    close(fds[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader status 0x%x", status);
}

/* The owner (this process) with records 1..30 in P, idle between commits. */
static jrn_t *
jtst_owner_open(uint32_t *p)
{
    jrn_options_t rw = jtst_opts(jtst_dir, false);
    jrn_t *j = NULL;
    jtst_rec_t r;

    cr_assert_eq(jrn_open(&rw, &j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(j, "P", p), RTR_STS_OK);
    for (uint64_t n = 1; n <= 30; n++) {
        jtst_rec_make(&r, SEED, n, MAXBODY);
        cr_assert_eq(jtst_append_wait(j, *p, &r.rec, NULL), RTR_STS_OK);
    }
    return j;
}

/* The owner must not notice a reader: its next commit hardens. */
static void
jtst_owner_unharmed(jrn_t *j, uint32_t p, uint64_t n, const char *after)
{
    jrn_stats_t st;
    jtst_rec_t r;
    rtr_status_t own;

    jtst_rec_make(&r, SEED, n, MAXBODY);
    own = jtst_append_wait(j, p, &r.rec, NULL);
    jrn_stats(j, &st);
    cr_assert_eq(own, RTR_STS_OK, "the owner's next commit after %s: %s", after,
                 rtr_status_name(own));
    cr_assert_eq(st.failure, RTR_STS_OK);
}

Test(jrn_twoproc, readonly_open_in_forked_child_of_owner_leaves_owner_working,
     .init = jtst_twoproc_setup, .fini = jtst_twoproc_teardown)
{
    rtr_status_t sts;
    uint64_t seen = 0;
    uint32_t p;
    jrn_t *j = jtst_owner_open(&p);

    jtst_fork_reader(p, &sts, &seen);
    jtst_owner_unharmed(j, p, 31, "a reader in a forked child");
    cr_assert_eq(sts, RTR_STS_OK, "read-only open in a forked child of the owner: %s",
                 rtr_status_name(sts));
    cr_assert_geq(seen, 30);
    jrn_close(&j);
}

Test(jrn_twoproc, readonly_open_in_owner_process_does_not_expose_owner_to_other_readers,
     .init = jtst_twoproc_setup, .fini = jtst_twoproc_teardown)
{
    jrn_options_t ro = jtst_opts(jtst_dir, true);
    rtr_status_t same, sts;
    uint64_t seen = 0;
    uint32_t p;
    jrn_t *j = jtst_owner_open(&p), *v = NULL;

    /* a reader beside the owner in its own process (its status is checked in jrn_basic) */
    same = jrn_open(&ro, &v);
    jrn_close(&v);
    jtst_owner_unharmed(j, p, 31, "a reader in the owner's process");
    /* then a reader in another process: it must still see a live owner, and harm nothing */
    jtst_fork_reader(p, &sts, &seen);
    jtst_owner_unharmed(j, p, 32, "a same-process reader, then a reader in another process");
    cr_assert_eq(sts, RTR_STS_OK,
                 "read-only open in another process, after one in the owner's process (%s): %s",
                 rtr_status_name(same), rtr_status_name(sts));
    cr_assert_geq(seen, 31);
    jrn_close(&j);
}
