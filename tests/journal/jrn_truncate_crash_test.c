/*
 * jrn_truncate_crash_test.c - a truncation batch survives SIGKILL whole or not at all: after
 * recovery the journal is exactly the state after some prefix of the submitted batches (the
 * records above the point gone AND the history cut, or neither), never half of one, and that
 * prefix covers every batch reported hardened.
 *
 * Each run forks a child (which never touches Criterion) that opens a fresh journal with one
 * partition and submits a deterministic sequence of batches, up to JTC_WINDOW in flight, as a
 * shadow member and primary would:
 *   - an epoch batch: jrn_batch_truncate(P, k), the partition's JournalMeta with the new epoch
 *     and the history cut to entries with first_n <= k plus EpochStart{epoch, k + 1}, and 0..8
 *     records k + 1, ... of the new epoch (batch 0 is one, with k = 0 on an empty partition);
 *   - an append batch: 1..8 more records of the current epoch.
 * k cuts 0..12 records off the tail, one epoch batch in four cuts anywhere (down to 0). Every
 * choice is a function of (seed, batch index, state), and a record's content of (seed, epoch,
 * n), so the parent replays the sequence in a model: the history alone says which epoch's
 * record each n must be. After the child writes "i batches hardened" to a pipe, the parent
 * kills it with SIGKILL at a moment drawn from the run's PRNG (as jrn_crash_test.c does: after
 * a number of reports, then a delay measured by poll on the pipe), reopens the journal as a
 * writer (BDB recovery), and finds the one prefix whose (epoch, last n) the journal shows; the
 * meta (epoch, history) and every record must then be byte-identical to it, the TIDs cut by the
 * prefix's last cutting truncation must be gone from the TID index, and the recovered journal
 * must truncate and append again.
 *
 * RTR_CRASH_RUNS (default 20: a few seconds) sets the number of runs, RTR_CRASH_SEED the seed,
 * as in jrn_crash_test.c; the seed is printed, and every failure names seed and run.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
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
#include "wire.h"

#define JTC_WINDOW      8     /* batches in flight in the child */
#define JTC_MAX_BATCHES 20000 /* the child stops here (never reached before the kill) */
#define JTC_MAX_APPEND  8     /* records per batch */
#define JTC_MAX_CUT     12    /* an ordinary truncation cuts 0..this many records */
#define JTC_MAXBODY     400
#define JTC_MAX_KILL_AT 60 /* kill after 0 .. this many reported batches */
#define JTC_MAX_DELAY   15 /* ... and then 0 .. this many ms */
#define JTC_TIMEOUT_MS  30000
#define JTC_READY       0
#define JTC_ERROR       UINT64_MAX
#define JTC_CUT_KEEP    16 /* TIDs of the last cutting truncation checked after recovery */

/* ---- the model (child and parent) ---------------------------------------------------- */

typedef struct {
    uint64_t seed;                 /* the run's record stream */
    uint64_t i;                    /* batches applied so far (= index of the next batch) */
    uint64_t epoch;                /* 0 before batch 0 */
    uint64_t last;                 /* records 1..last are held */
    uint64_t (*hist)[2];           /* epoch history: { epoch, first_n } */
    size_t nhist;                  /* entries */
    size_t cap;                    /* allocated entries */
    uint64_t cut[JTC_CUT_KEEP][2]; /* { epoch, n } of records the last cutting truncation cut */
    size_t ncut;
} jtc_model_t;

typedef struct {
    bool epoch_batch; /* truncate above `above`, new meta */
    uint64_t above;
    uint64_t count; /* records put after it: last + 1 .. last + count */
} jtc_plan_t;

static void
jtc_model_init(jtc_model_t *m, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->seed = seed;
}

static void
jtc_model_free(jtc_model_t *m)
{
    free(m->hist);
    m->hist = NULL;
}

/* The epoch of record n: the last history entry starting at or below n. */
static uint64_t
jtc_epoch_of(const jtc_model_t *m, uint64_t n)
{
    uint64_t e = 0;

    for (size_t i = 0; i < m->nhist && m->hist[i][1] <= n; i++)
        e = m->hist[i][0];
    return e;
}

/* Record n of epoch e of the run. */
static void
jtc_rec(jtst_rec_t *r, const jtc_model_t *m, uint64_t e, uint64_t n)
{
    jtst_rec_make(r, m->seed ^ jtst_mix(e), n, JTC_MAXBODY);
    r->rec.epoch = e;
}

/* The next batch, a function of the seed, its index and the state. */
static jtc_plan_t
jtc_plan(const jtc_model_t *m)
{
    uint64_t rs = jtst_mix(m->seed ^ jtst_mix(m->i + 0x7c));
    jtc_plan_t p = { 0 };

    p.epoch_batch = m->i == 0 || rs % 4 == 0;
    if (p.epoch_batch) {
        uint64_t cut =
            (rs >> 8) % 16 == 0 ? (rs >> 16) % (m->last + 1) : (rs >> 16) % (JTC_MAX_CUT + 1);
        p.above = cut > m->last ? 0 : m->last - cut;
        p.count = (rs >> 40) % (JTC_MAX_APPEND + 1);
    } else {
        p.count = 1 + (rs >> 40) % JTC_MAX_APPEND;
    }
    return p;
}

/* Apply a planned batch to the model. false on out of memory. */
static bool
jtc_apply(jtc_model_t *m, const jtc_plan_t *p)
{
    if (p->epoch_batch) {
        if (p->above < m->last) {
            m->ncut = 0;
            for (uint64_t n = p->above + 1; n <= m->last && m->ncut < JTC_CUT_KEEP; n++) {
                m->cut[m->ncut][0] = jtc_epoch_of(m, n);
                m->cut[m->ncut++][1] = n;
            }
        }
        while (m->nhist > 0 && m->hist[m->nhist - 1][1] > p->above)
            m->nhist--;
        if (m->nhist == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 16;
            uint64_t(*h)[2] = realloc(m->hist, cap * sizeof *h);
            if (h == NULL)
                return false;
            m->hist = h;
            m->cap = cap;
        }
        m->epoch++;
        m->hist[m->nhist][0] = m->epoch;
        m->hist[m->nhist++][1] = p->above + 1;
        m->last = p->above;
    }
    m->last += p->count;
    m->i++;
    return true;
}

/* The batch for plan p, built from the model AFTER jtc_apply(p) (new epoch and history). */
static rtr_status_t
jtc_batch(const jtc_model_t *m, const jtc_plan_t *p, uint32_t part, jrn_batch_t **out)
{
    Rtr__JournalMeta meta = RTR__JOURNAL_META__INIT;
    Rtr__EpochStart *es = NULL, **ep = NULL;
    jrn_batch_t *b = jrn_batch_new();
    jtst_rec_t *r = malloc(sizeof *r);
    char name[] = "P";
    rtr_status_t sts = RTR_STS_NOMEM;

    if (b == NULL || r == NULL)
        goto fail;
    if (p->epoch_batch) {
        es = calloc(m->nhist, sizeof *es);
        ep = calloc(m->nhist, sizeof *ep);
        if (es == NULL || ep == NULL)
            goto fail;
        for (size_t i = 0; i < m->nhist; i++) {
            rtr__epoch_start__init(&es[i]);
            es[i].epoch = m->hist[i][0];
            es[i].first_n = m->hist[i][1];
            ep[i] = &es[i];
        }
        meta.partition = name;
        meta.id = part;
        meta.has_epoch = 1;
        meta.epoch = m->epoch;
        meta.history = ep;
        meta.n_history = m->nhist;
        if ((sts = jrn_batch_truncate(b, part, p->above)) != RTR_STS_OK ||
            (sts = jrn_batch_put_meta(b, &meta)) != RTR_STS_OK)
            goto fail;
    }
    for (uint64_t n = m->last - p->count + 1; n <= m->last; n++) {
        jtc_rec(r, m, m->epoch, n);
        if ((sts = jrn_batch_put(b, part, &r->rec)) != RTR_STS_OK)
            goto fail;
    }
    *out = b;
    b = NULL;
    sts = RTR_STS_OK;
fail:
    jrn_batch_free(&b);
    free(r);
    free(es);
    free(ep);
    return sts;
}

/* Plan, apply to the model and submit the next batch. */
static rtr_status_t
jtc_submit_next(jrn_t *j, jtc_model_t *m, uint32_t part, uint64_t *ticket)
{
    jtc_plan_t p = jtc_plan(m);
    jrn_batch_t *b = NULL;
    rtr_status_t sts;

    if (!jtc_apply(m, &p))
        return RTR_STS_NOMEM;
    if ((sts = jtc_batch(m, &p, part, &b)) == RTR_STS_OK)
        sts = jrn_submit(j, &b, ticket);
    jrn_batch_free(&b);
    return sts;
}

/* ---- the child ----------------------------------------------------------------------- */

static void
jtc_child_die(int wfd, rtr_status_t sts)
{
    jtst_write_u64(wfd, JTC_ERROR);
    jtst_write_u64(wfd, (uint64_t)sts);
    _exit(3);
}

static void
jtc_child(const char *dir, uint64_t seed, int wfd)
{
    jrn_options_t o = jtst_opts(dir, false);
    uint64_t tickets[JTC_WINDOW];
    jtc_model_t m;
    rtr_status_t sts;
    uint32_t part = 0;
    jrn_t *j = NULL;

    jtc_model_init(&m, seed);
    if ((sts = jrn_open(&o, &j)) != RTR_STS_OK || (sts = jrn_partition(j, "P", &part)))
        jtc_child_die(wfd, sts);
    if (jtst_write_u64(wfd, JTC_READY) != 0)
        _exit(4);
    /* batch i has ticket tickets[i % JTC_WINDOW]; `done` batches are reported hardened */
    for (uint64_t done = 0; done < JTC_MAX_BATCHES;) {
        if (m.i < JTC_MAX_BATCHES && m.i - done < JTC_WINDOW) {
            if ((sts = jtc_submit_next(j, &m, part, &tickets[m.i % JTC_WINDOW])) != RTR_STS_OK)
                jtc_child_die(wfd, sts);
            continue;
        }
        if ((sts = jrn_wait(j, tickets[done % JTC_WINDOW])) != RTR_STS_OK)
            jtc_child_die(wfd, sts);
        if (jtst_write_u64(wfd, ++done) != 0)
            _exit(4);
    }
    jrn_close(&j);
    jtc_model_free(&m);
    _exit(0);
}

/* ---- the parent ---------------------------------------------------------------------- */

static uint64_t
jtc_env_u64(const char *name, uint64_t dflt)
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
#define JTC_CHECK(cond, fmt, ...)                                        \
    cr_assert(cond,                                                      \
              "seed=%" PRIu64 " run=%d (replay: RTR_CRASH_SEED=%" PRIu64 \
              " RTR_CRASH_RUNS=%d): " fmt,                               \
              seed, run, seed, run + 1, ##__VA_ARGS__)

/* Totals over all runs, for the summary line. */
static uint64_t jtc_sum_reported, jtc_sum_found, jtc_sum_truncations, jtc_zero_runs;

/* Read reports until `until` (kill time) or until *reported reaches stop_at, or end of file. */
static void
jtc_drain(jtst_reader_t *rd, uint64_t *reported, uint64_t stop_at, uint64_t seed, int run,
          const struct timespec *until, bool until_is_kill_time)
{
    uint64_t v;

    for (;;) {
        int rc = jtst_read_u64(rd, &v, until);
        if (rc == 0) {
            JTC_CHECK(until_is_kill_time, "child silent for %d ms", JTC_TIMEOUT_MS);
            return;
        }
        if (rc < 0)
            return;
        if (v == JTC_ERROR) {
            uint64_t sts = 0;
            struct timespec d = jtst_deadline(JTC_TIMEOUT_MS);
            jtst_read_u64(rd, &sts, &d);
            JTC_CHECK(0, "child failed: %s", rtr_status_name((rtr_status_t)sts));
        }
        JTC_CHECK(v == *reported + 1, "report %" PRIu64 " after %" PRIu64, v, *reported);
        *reported = v;
        if (!until_is_kill_time && *reported >= stop_at)
            return;
    }
}

/* Does the journal (meta got, scan s) equal the model's state? NULL if so, else why (in buf). */
static const char *
jtc_differs(const jtc_model_t *m, const Rtr__JournalMeta *got, const jtst_scan_t *s, char *buf,
            size_t len)
{
    jtst_rec_t *r;
    const char *why = NULL;

    if (got->n_history != m->nhist) {
        snprintf(buf, len, "history has %zu entries, the prefix %zu", got->n_history, m->nhist);
        return buf;
    }
    for (size_t i = 0; i < m->nhist; i++) {
        if (got->history[i]->epoch != m->hist[i][0] || got->history[i]->first_n != m->hist[i][1]) {
            snprintf(buf, len, "history[%zu] = %" PRIu64 "@%" PRIu64 ", want %" PRIu64 "@%" PRIu64,
                     i, got->history[i]->epoch, got->history[i]->first_n, m->hist[i][0],
                     m->hist[i][1]);
            return buf;
        }
    }
    if ((r = malloc(sizeof *r)) == NULL)
        return "out of memory";
    for (size_t k = 0; why == NULL && k < s->len; k++) {
        uint64_t n = k + 1, e = jtc_epoch_of(m, n);
        size_t plen = 0;
        jtc_rec(r, m, e, n);
        uint8_t *want = jtst_pack(&r->rec.base, &plen);
        if (want == NULL) {
            why = "out of memory";
        } else if (s->v[k].n != n || plen != s->v[k].packed_len ||
                   memcmp(want, s->v[k].packed, plen) != 0) {
            snprintf(buf, len, "record at index %zu (n=%" PRIu64 ") is not epoch %" PRIu64 "'s", k,
                     s->v[k].n, e);
            why = buf;
        }
        free(want);
    }
    free(r);
    return why;
}

typedef struct {
    uint64_t found;   /* batches of the matching prefix */
    uint64_t epoch;   /* its epoch */
    uint64_t held;    /* records */
    bool truncations; /* some epoch batch after batch 0 in it */
} jtc_result_t;

/* Check the recovered journal j against the sequence of run (seed, rseed); reported = batches
 * the child reported hardened. Leaves the matching prefix in *m. */
static jtc_result_t
jtc_check(jrn_t *j, uint32_t part, jtc_model_t *m, uint64_t rseed, uint64_t reported, uint64_t seed,
          int run)
{
    Rtr__JournalMeta *got = NULL;
    jtst_scan_t s = { 0 };
    jtc_result_t res = { 0 };
    char buf[256], why[384] = "no prefix has this epoch and last n";
    uint64_t jepoch, last = 0, n = 0;
    uint8_t tid[16];
    jrn_stats_t st;
    bool found = false;

    rtr_status_t sts = jrn_meta_get(j, part, &got);
    JTC_CHECK(sts == RTR_STS_OK, "meta: %s", rtr_status_name(sts));
    jepoch = got->has_epoch ? got->epoch : 0;
    sts = jrn_scan(j, part, 0, UINT64_MAX, jtst_collect, &s);
    JTC_CHECK(sts == RTR_STS_OK && !s.oom, "scan: %s", rtr_status_name(sts));
    for (size_t k = 0; k < s.len; k++)
        JTC_CHECK(s.v[k].n == k + 1, "hole: record %zu has n=%" PRIu64, k, s.v[k].n);

    /* (epoch, last) names at most one prefix: epochs only grow, and within an epoch every
     * append batch adds records */
    jtc_model_init(m, rseed);
    for (;;) {
        if (m->epoch == jepoch && m->last == s.len) {
            const char *d = jtc_differs(m, got, &s, buf, sizeof buf);
            if (d == NULL) {
                found = true;
                break;
            }
            snprintf(why, sizeof why, "prefix of %" PRIu64 " batches: %s", m->i, d);
        }
        if (m->epoch > jepoch || m->i > reported + JTC_WINDOW + 1)
            break;
        jtc_plan_t p = jtc_plan(m);
        res.truncations = res.truncations || (p.epoch_batch && m->i > 0);
        JTC_CHECK(jtc_apply(m, &p), "out of memory");
    }
    JTC_CHECK(found,
              "journal (epoch %" PRIu64 ", %zu records, %zu history entries) is no prefix of the "
              "batches (half a batch?), %" PRIu64 " reported hardened: %s",
              jepoch, s.len, got->n_history, reported, why);
    JTC_CHECK(m->i >= reported,
              "lost hardened batches: prefix of %" PRIu64 ", %" PRIu64 " reported hardened", m->i,
              reported);

    /* the journal's own views agree */
    jrn_stats(j, &st);
    JTC_CHECK(st.live_records == s.len, "live_records %" PRIu64 " != %zu", st.live_records, s.len);
    JTC_CHECK(jrn_last_n(j, part, &last) == RTR_STS_OK && last == s.len, "last_n %" PRIu64, last);
    if (s.len > 0) {
        jtst_tid(m->seed ^ jtst_mix(jtc_epoch_of(m, s.len)), s.len, tid);
        JTC_CHECK(jrn_lookup_tid(j, tid, part, &n) == RTR_STS_OK && n == s.len,
                  "TID of the last record -> %" PRIu64, n);
    }
    for (size_t c = 0; c < m->ncut; c++) {
        jtst_tid(m->seed ^ jtst_mix(m->cut[c][0]), m->cut[c][1], tid);
        JTC_CHECK(jrn_lookup_tid(j, tid, part, &n) == RTR_STS_NOTFOUND,
                  "truncated TID (epoch %" PRIu64 ", n %" PRIu64 ") still indexed at %" PRIu64,
                  m->cut[c][0], m->cut[c][1], n);
    }
    res.found = m->i;
    res.epoch = jepoch;
    res.held = s.len;
    jtst_scan_free(&s);
    wire_free((ProtobufCMessage **)&got);
    return res;
}

static void
jtc_one(uint64_t seed, int run)
{
    uint64_t rs = jtst_mix(seed ^ jtst_mix((uint64_t)run + 1));
    uint64_t kill_at = rs % (JTC_MAX_KILL_AT + 1), delay_ms = (rs >> 32) % (JTC_MAX_DELAY + 1);
    uint64_t v, reported = 0, rseed = jtst_mix(rs), t = 0, last = 0;
    char *dir = tst_tmpdir("jrn-tcrash");
    int fds[2], status = 0;
    jtst_reader_t rd;
    struct timespec d;
    jrn_options_t o;
    jrn_t *j = NULL;
    uint32_t part = 99;
    jtc_model_t m;
    pid_t pid;

    JTC_CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    JTC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        jtc_child(dir, rseed, fds[1]);
    }
    close(fds[1]);
    rd = (jtst_reader_t){ .fd = fds[0] };

    d = jtst_deadline(JTC_TIMEOUT_MS);
    JTC_CHECK(jtst_read_u64(&rd, &v, &d) == 1, "no ready message from the child");
    if (v == JTC_ERROR) {
        uint64_t sts = 0;
        jtst_read_u64(&rd, &sts, &d);
        JTC_CHECK(0, "child could not open: %s", rtr_status_name((rtr_status_t)sts));
    }
    JTC_CHECK(v == JTC_READY, "first message %" PRIu64, v);

    /* the moment: kill_at reports, then delay_ms more on the pipe's clock; one run in ten
     * kills at once on READY, while batch 0 (the first truncation) is in flight */
    if ((rs >> 56) % 10 != 0) {
        if (kill_at > 0) {
            d = jtst_deadline(JTC_TIMEOUT_MS);
            jtc_drain(&rd, &reported, kill_at, seed, run, &d, false);
        }
        d = jtst_deadline((int64_t)delay_ms);
        jtc_drain(&rd, &reported, UINT64_MAX, seed, run, &d, true);
    }
    JTC_CHECK(kill(pid, SIGKILL) == 0, "kill: %s", strerror(errno));
    d = jtst_deadline(JTC_TIMEOUT_MS);
    jtc_drain(&rd, &reported, UINT64_MAX, seed, run, &d, false);
    JTC_CHECK(rd.eof, "the child's pipe stayed open after SIGKILL");
    close(fds[0]);
    JTC_CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    JTC_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "child ended otherwise (status 0x%x) before the kill", status);

    /* recovery */
    o = jtst_opts(dir, false);
    rtr_status_t sts = jrn_open(&o, &j);
    JTC_CHECK(sts == RTR_STS_OK, "reopen after kill: %s", rtr_status_name(sts));
    sts = jrn_partition(j, "P", &part);
    JTC_CHECK(sts == RTR_STS_OK && part == 0, "partition P: %s id %u", rtr_status_name(sts), part);
    jtc_result_t res = jtc_check(j, part, &m, rseed, reported, seed, run);

    /* the recovered journal truncates and appends again: the next epoch batch */
    jtc_plan_t p = jtc_plan(&m);
    p.epoch_batch = true;
    p.above = m.last / 2;
    p.count = 3;
    jrn_batch_t *b = NULL;
    JTC_CHECK(jtc_apply(&m, &p), "out of memory");
    sts = jtc_batch(&m, &p, part, &b);
    if (sts == RTR_STS_OK)
        sts = jrn_submit(j, &b, &t);
    if (sts == RTR_STS_OK)
        sts = jrn_wait(j, t);
    jrn_batch_free(&b);
    JTC_CHECK(sts == RTR_STS_OK, "truncation after recovery: %s", rtr_status_name(sts));
    JTC_CHECK(jrn_last_n(j, part, &last) == RTR_STS_OK && last == m.last,
              "last_n %" PRIu64 " after the truncation, want %" PRIu64, last, m.last);

    jtc_model_free(&m);
    jrn_close(&j);
    tst_rmtree(dir);
    free(dir);
    jtc_sum_reported += reported;
    jtc_sum_found += res.found;
    jtc_sum_truncations += res.truncations;
    jtc_zero_runs += res.found == 0;
}

Test(jrn_truncate_crash, applies_a_truncation_batch_whole_or_not_at_all_after_sigkill)
{
    struct timespec now;
    uint64_t seed, runs;

    clock_gettime(CLOCK_REALTIME, &now);
    seed = jtc_env_u64("RTR_CRASH_SEED",
                       jtst_mix((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec));
    runs = jtc_env_u64("RTR_CRASH_RUNS", 20);
    fprintf(stderr, "jrn_truncate_crash: RTR_CRASH_SEED=%" PRIu64 " RTR_CRASH_RUNS=%" PRIu64 "\n",
            seed, runs);
    for (int run = 0; (uint64_t)run < runs; run++)
        jtc_one(seed, run);
    fprintf(stderr,
            "jrn_truncate_crash: %" PRIu64 " runs, %" PRIu64 " batches reported hardened, %" PRIu64
            " recovered, %" PRIu64 " runs with truncations in the recovered prefix, %" PRIu64
            " runs killed before the first batch\n",
            runs, jtc_sum_reported, jtc_sum_found, jtc_sum_truncations, jtc_zero_runs);
}
