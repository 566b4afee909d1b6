/*
 * jrn_limit_test.c - the size limit (jrn_options_t.max_bytes, reserve_bytes): new records are
 * refused with RTR_STS_JNLFULL once live bytes + queued + new would pass max - reserve; state
 * changes, deletes, truncations and meta of admitted transactions still go through (the
 * reserve); deletes and truncations make room again. The rule is checked exactly, record by record,
 * from jrn_stats.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "jrn.h"
#include "jrn_tst.h"
#include "tst.h"
#include "wire.h"

#define SEED      0x11717ULL
#define MAX_BYTES 20000u
#define RESERVE   5000u
#define ROOM      (MAX_BYTES - RESERVE)

static char *jtst_dir;
static jrn_t *jtst_j;
static uint32_t jtst_p;

static void
jtst_limit_open(void)
{
    jrn_options_t o = jtst_opts(jtst_dir, false);

    o.max_bytes = MAX_BYTES;
    o.reserve_bytes = RESERVE;
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "P", &jtst_p), RTR_STS_OK);
}

static void
jtst_limit_setup(void)
{
    jtst_dir = tst_tmpdir("jrn-limit");
    jtst_limit_open();
}

static void
jtst_limit_teardown(void)
{
    jrn_close(&jtst_j);
    tst_rmtree(jtst_dir);
    free(jtst_dir);
}

static size_t
jtst_size(const jtst_rec_t *r)
{
    return protobuf_c_message_get_packed_size(&r->rec.base);
}

static uint64_t
jtst_live(void)
{
    jrn_stats_t st;

    jrn_stats(jtst_j, &st);
    return st.live_bytes;
}

static rtr_status_t
jtst_submit_wait(jrn_batch_t **b)
{
    uint64_t t = 0;
    rtr_status_t sts = jrn_submit(jtst_j, b, &t);

    return sts == RTR_STS_OK ? jrn_wait(jtst_j, t) : sts;
}

/* Append records n = 1, 2, ... of body 900..1099 bytes, each waited, asserting the exact rule,
 * until `refusals` appends were refused. Returns the last n tried; *refused_len gets the body
 * length of the last refused record. */
static uint64_t
jtst_fill(unsigned refusals, size_t *refused_len)
{
    unsigned seen = 0;
    uint64_t n = 0;
    jtst_rec_t r;

    while (seen < refusals) {
        size_t len = 900 + (size_t)(jtst_mix(++n) % 200);
        uint64_t live = jtst_live(), t = 0;
        jtst_rec_sized(&r, SEED, n, len);
        rtr_status_t want = live + jtst_size(&r) <= ROOM ? RTR_STS_OK : RTR_STS_JNLFULL;
        rtr_status_t sts = jrn_append(jtst_j, jtst_p, &r.rec, &t);
        cr_assert_eq(sts, want, "n=%llu live=%llu new=%zu room=%u: got %s", (unsigned long long)n,
                     (unsigned long long)live, jtst_size(&r), ROOM, rtr_status_name(sts));
        if (sts == RTR_STS_OK) {
            cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_OK);
        } else {
            seen++;
            *refused_len = len;
        }
        cr_assert_lt(n, 1000, "never refused");
    }
    return n;
}

Test(jrn_limit, refuses_new_records_past_max_minus_reserve, .init = jtst_limit_setup,
     .fini = jtst_limit_teardown)
{
    jrn_batch_t *b, *keep;
    jrn_stats_t st0, st1;
    size_t len = 0;
    uint64_t n, t = 999;
    jtst_rec_t r;

    n = jtst_fill(3, &len);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(st0.full_refusals, 3);
    cr_assert_leq(st0.live_bytes, ROOM);
    cr_assert_eq(st0.max_bytes, MAX_BYTES);
    cr_assert_eq(st0.failure, RTR_STS_OK, "full is not a failure");

    /* a refused batch stays with the caller and takes no ticket */
    keep = b = jrn_batch_new();
    jtst_rec_sized(&r, SEED, n + 1, 1500);
    cr_assert_eq(jrn_batch_put(b, jtst_p, &r.rec), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_JNLFULL);
    cr_assert_eq(b, keep);
    cr_assert_eq(t, 999);
    jrn_batch_free(&b);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.full_refusals, 4);
    cr_assert_eq(st1.submitted, st0.submitted);
    Rtr__JournalRecord *got = NULL;
    cr_assert_eq(jrn_get(jtst_j, jtst_p, n + 1, &got), RTR_STS_NOTFOUND);
}

/* A sized record (TID (SEED, n)) that encodes to exactly `bytes`; fails the test if none. */
static void
jtst_rec_of_size(jtst_rec_t *r, uint64_t n, uint64_t bytes)
{
    for (size_t len = 0; len <= JTST_BODY_MAX; len++) {
        jtst_rec_sized(r, SEED, n, len);
        if (jtst_size(r) == bytes)
            return;
    }
    cr_assert_fail("no record of %llu bytes", (unsigned long long)bytes);
}

/* Fill the room exactly: live_bytes == ROOM afterwards. Returns the last n used. */
static uint64_t
jtst_fill_exactly(void)
{
    jtst_rec_t r;
    uint64_t n = 0;

    /* fill to within about 500 .. 1,500 bytes of the room, then one record of the rest */
    while (ROOM - jtst_live() > 1500) {
        jtst_rec_sized(&r, SEED, ++n, 1000);
        cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_OK);
    }
    jtst_rec_of_size(&r, ++n, ROOM - jtst_live());
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_OK,
                 "a record of exactly the room left is admitted");
    cr_assert_eq(jtst_live(), ROOM);
    return n;
}

Test(jrn_limit, accepts_a_record_that_exactly_fills_the_room, .init = jtst_limit_setup,
     .fini = jtst_limit_teardown)
{
    jtst_rec_t r;
    uint64_t n = 0, left;
    jrn_stats_t st;

    while (ROOM - jtst_live() > 1500) {
        jtst_rec_sized(&r, SEED, ++n, 1000);
        cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_OK);
    }
    left = ROOM - jtst_live();
    /* a record one byte too big is refused ... */
    jtst_rec_of_size(&r, n + 1, left + 1);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_JNLFULL);
    /* ... one of exactly the room left is not */
    jtst_rec_of_size(&r, n + 1, left);
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_OK);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.live_bytes, ROOM);
    cr_assert_eq(st.full_refusals, 1);
    /* now even the smallest record is refused */
    jtst_rec_sized(&r, SEED, n + 2, 0);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_JNLFULL);
}

Test(jrn_limit, counts_submitted_but_unwritten_records, .init = jtst_limit_setup,
     .fini = jtst_limit_teardown)
{
    uint64_t accepted = 0, t = 0, last = 0;
    jtst_rec_t r;
    jrn_stats_t st;

    /* no waiting: the queue must count, or a burst would overrun the limit */
    for (uint64_t n = 1; n <= 100; n++) {
        jtst_rec_sized(&r, SEED, n, 1000);
        rtr_status_t want = accepted + jtst_size(&r) <= ROOM ? RTR_STS_OK : RTR_STS_JNLFULL;
        rtr_status_t sts = jrn_append(jtst_j, jtst_p, &r.rec, &t);
        cr_assert_eq(sts, want, "n=%llu accepted=%llu new=%zu: got %s", (unsigned long long)n,
                     (unsigned long long)accepted, jtst_size(&r), rtr_status_name(sts));
        if (sts != RTR_STS_OK)
            break;
        accepted += jtst_size(&r);
        last = t;
    }
    cr_assert_eq(jrn_wait(jtst_j, last), RTR_STS_OK);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.live_bytes, accepted);
    cr_assert_leq(st.live_bytes, ROOM);
    cr_assert_eq(st.full_refusals, 1);
}

Test(jrn_limit, admits_state_delete_and_meta_from_the_reserve, .init = jtst_limit_setup,
     .fini = jtst_limit_teardown)
{
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT, *gm = NULL;
    Rtr__JournalRecord *got = NULL;
    char name[] = "P";
    jrn_batch_t *b;
    uint64_t n;
    uint32_t q;
    jrn_stats_t st;
    jtst_rec_t r;

    n = jtst_fill_exactly();
    jtst_rec_sized(&r, SEED, n + 1, 0);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_JNLFULL);

    /* every live record moves: moved_to grows each record, into the reserve */
    b = jrn_batch_new();
    for (uint64_t k = 1; k <= n; k++)
        cr_assert_eq(jrn_batch_set_state(b, jtst_p, k, RTR__TX_STATE__TX_MOVED, UINT64_MAX - k),
                     RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK, "state changes use the reserve");
    cr_assert_gt(jtst_live(), ROOM, "the test needs live bytes beyond max - reserve");
    cr_assert_eq(jrn_get(jtst_j, jtst_p, 1, &got), RTR_STS_OK);
    cr_assert_eq(got->state, RTR__TX_STATE__TX_MOVED);
    cr_assert_eq(got->moved_to, UINT64_MAX - 1);
    wire_free((ProtobufCMessage **)&got);

    /* more state changes while beyond the room */
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_set_state(b, jtst_p, 2, RTR__TX_STATE__TX_DONE, 0), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);

    /* meta, and a new partition (its meta) */
    m.partition = name;
    m.id = jtst_p;
    m.has_hardened_n = 1;
    m.hardened_n = n;
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK, "meta uses the reserve");
    cr_assert_eq(jrn_meta_get(jtst_j, jtst_p, &gm), RTR_STS_OK);
    cr_assert_eq(gm->hardened_n, n);
    wire_free((ProtobufCMessage **)&gm);
    cr_assert_eq(jrn_partition(jtst_j, "Q", &q), RTR_STS_OK);

    /* and a delete */
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_delete(b, jtst_p, 1), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    cr_assert_eq(jrn_get(jtst_j, jtst_p, 1, &got), RTR_STS_NOTFOUND);

    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.full_refusals, 1);
    cr_assert_eq(st.failure, RTR_STS_OK);
}

Test(jrn_limit, accepts_new_records_again_after_deletes, .init = jtst_limit_setup,
     .fini = jtst_limit_teardown)
{
    jrn_batch_t *b;
    size_t len = 0;
    uint64_t n;
    jtst_rec_t r;

    n = jtst_fill(2, &len);
    jtst_rec_sized(&r, SEED, n + 1, len);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_JNLFULL);

    b = jrn_batch_new();
    for (uint64_t k = 1; k <= 3; k++)
        cr_assert_eq(jrn_batch_delete(b, jtst_p, k), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    cr_assert_leq(jtst_live() + jtst_size(&r), ROOM, "three deletes free room for one");
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_OK);
    Rtr__JournalRecord *got = NULL;
    cr_assert_eq(jrn_get(jtst_j, jtst_p, n + 1, &got), RTR_STS_OK);
    wire_free((ProtobufCMessage **)&got);
}

Test(jrn_limit, counts_records_from_before_reopen, .init = jtst_limit_setup,
     .fini = jtst_limit_teardown)
{
    size_t len = 0;
    uint64_t n, live;
    jtst_rec_t r;
    jrn_stats_t st;

    n = jtst_fill(1, &len);
    live = jtst_live();
    jrn_close(&jtst_j);
    jtst_limit_open();
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.live_bytes, live);
    cr_assert_eq(st.full_refusals, 0);
    jtst_rec_sized(&r, SEED, n + 1, len);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_JNLFULL);
}

Test(jrn_limit, is_unlimited_when_max_bytes_is_zero)
{
    char *dir = tst_tmpdir("jrn-limit");
    jrn_options_t o = jtst_opts(dir, false);
    jrn_t *j = NULL;
    jtst_rec_t r;
    jrn_stats_t st;
    uint32_t p;
    uint64_t t = 0;

    o.reserve_bytes = 1000; /* ignored without max_bytes */
    cr_assert_eq(jrn_open(&o, &j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(j, "P", &p), RTR_STS_OK);
    for (uint64_t n = 1; n <= 60; n++) {
        jtst_rec_sized(&r, SEED, n, JTST_BODY_MAX);
        cr_assert_eq(jrn_append(j, p, &r.rec, &t), RTR_STS_OK);
    }
    cr_assert_eq(jrn_wait(j, t), RTR_STS_OK);
    jrn_stats(j, &st);
    cr_assert_eq(st.full_refusals, 0);
    cr_assert_gt(st.live_bytes, 60 * JTST_BODY_MAX);
    jrn_close(&j);
    tst_rmtree(dir);
    free(dir);
}

Test(jrn_limit, admits_a_truncation_from_the_reserve_and_it_makes_room, .init = jtst_limit_setup,
     .fini = jtst_limit_teardown)
{
    jrn_batch_t *b;
    size_t len = 0;
    uint64_t n, last = 0;
    jrn_stats_t st;
    jtst_rec_t r;

    n = jtst_fill(1, &len);
    jtst_rec_sized(&r, SEED, n, len);
    cr_assert_eq(jrn_append(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_JNLFULL);

    /* full: a truncation is still admitted (it adds no bytes) */
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_truncate(b, jtst_p, n - 4), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK, "a truncation uses the reserve");
    cr_assert_eq(jrn_last_n(jtst_j, jtst_p, &last), RTR_STS_OK);
    cr_assert_eq(last, n - 4);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.live_records, n - 4);
    /* the truncated bytes are free again: the refused record goes in now */
    cr_assert_leq(jtst_live() + jtst_size(&r), ROOM, "three records cut free room for one");
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_p, &r.rec, NULL), RTR_STS_OK);
    cr_assert_eq(jrn_last_n(jtst_j, jtst_p, &last), RTR_STS_OK);
    cr_assert_eq(last, n);
}
