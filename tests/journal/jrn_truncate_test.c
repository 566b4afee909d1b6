/*
 * jrn_truncate_test.c - jrn_batch_truncate (jrn.h; docs/shadow-protocol.md §6 step 2): every
 * record of one partition above a point goes, with its TID index entry, atomically with the
 * rest of its batch and in batch order; jrn_last_n, jrn_scan, jrn_get and jrn_lookup_tid stop
 * seeing what went; truncated CSNs can be put again with other TIDs; the other partitions and
 * everything at or below the point stay byte for byte; refusals have exact statuses.
 *
 * Every test gets its own directory (removed in .fini) and a writer journal with partitions
 * "A" (id 0), "B" (id 1) and "C" (id 2). Records of partition p are stream SEED + p (bodies of
 * 0..300 bytes), so jtst_check_run can compare a whole partition with what was written.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jrn.h"
#include "jrn_tst.h"
#include "tst.h"
#include "wire.h"

#define SEED    0x7c0fULL
#define MAXBODY 300
#define RESEED  0xabcdULL /* stream of the records put again after a truncation */

static char *jtst_dir;
static jrn_t *jtst_j;
static uint32_t jtst_pa, jtst_pb, jtst_pc;

static void
jtst_trunc_setup(void)
{
    jrn_options_t o;

    jtst_dir = tst_tmpdir("jrn-trunc");
    o = jtst_opts(jtst_dir, false);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "A", &jtst_pa), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "B", &jtst_pb), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "C", &jtst_pc), RTR_STS_OK);
    cr_assert(jtst_pa == 0 && jtst_pb == 1 && jtst_pc == 2);
}

static void
jtst_trunc_teardown(void)
{
    jrn_close(&jtst_j);
    tst_rmtree(jtst_dir);
    free(jtst_dir);
    jtst_dir = NULL;
}

static void
jtst_reopen(bool readonly)
{
    jrn_options_t o = jtst_opts(jtst_dir, readonly);

    jrn_close(&jtst_j);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
}

static rtr_status_t
jtst_submit_wait(jrn_batch_t **b)
{
    uint64_t t = 0;
    rtr_status_t sts = jrn_submit(jtst_j, b, &t);

    return sts == RTR_STS_OK ? jrn_wait(jtst_j, t) : sts;
}

/* Put records from..to of partition part's stream in one batch and wait for it. */
static void
jtst_put_range(uint32_t part, uint64_t from, uint64_t to)
{
    jrn_batch_t *b = jrn_batch_new();
    jtst_rec_t *r = malloc(sizeof *r);

    cr_assert(b != NULL && r != NULL);
    for (uint64_t n = from; n <= to; n++) {
        jtst_rec_make(r, SEED + part, n, MAXBODY);
        cr_assert_eq(jrn_batch_put(b, part, &r->rec), RTR_STS_OK);
    }
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    free(r);
}

/* One batch holding only a truncation, waited. */
static rtr_status_t
jtst_truncate(uint32_t part, uint64_t above_n)
{
    jrn_batch_t *b = jrn_batch_new();
    rtr_status_t sts = jrn_batch_truncate(b, part, above_n);

    if (sts == RTR_STS_OK)
        sts = jtst_submit_wait(&b);
    jrn_batch_free(&b);
    return sts;
}

/* Partition part holds exactly records 1..len of its stream (as put), and nothing else. */
static void
jtst_expect_run(uint32_t part, uint64_t len)
{
    jtst_scan_t s = { 0 };
    char why[256] = "";
    uint64_t last = 99;

    cr_assert_eq(jrn_scan(jtst_j, part, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert(!s.oom);
    cr_assert_eq(s.len, len, "partition %u holds %zu records, want %llu", part, s.len,
                 (unsigned long long)len);
    cr_assert_eq(jtst_check_run(&s, part, SEED + part, MAXBODY, why, sizeof why), 0,
                 "partition %u: %s", part, why);
    jtst_scan_free(&s);
    cr_assert_eq(jrn_last_n(jtst_j, part, &last), RTR_STS_OK);
    cr_assert_eq(last, len, "last_n of %u", part);
}

/* The TID of record n of part's stream is found (at n) or not. */
static void
jtst_expect_tid(uint32_t part, uint64_t n, bool found)
{
    uint8_t tid[16];
    uint64_t got = 12345;

    jtst_tid(SEED + part, n, tid);
    if (found) {
        cr_assert_eq(jrn_lookup_tid(jtst_j, tid, part, &got), RTR_STS_OK, "TID of (%u, %llu)", part,
                     (unsigned long long)n);
        cr_assert_eq(got, n);
    } else {
        cr_assert_eq(jrn_lookup_tid(jtst_j, tid, part, &got), RTR_STS_NOTFOUND,
                     "TID of truncated (%u, %llu) still indexed at %llu", part,
                     (unsigned long long)n, (unsigned long long)got);
    }
}

/* Encoded size of records from..to of part's stream. */
static uint64_t
jtst_bytes(uint32_t part, uint64_t from, uint64_t to)
{
    jtst_rec_t *r = malloc(sizeof *r);
    uint64_t sum = 0;

    cr_assert_not_null(r);
    for (uint64_t n = from; n <= to; n++) {
        jtst_rec_make(r, SEED + part, n, MAXBODY);
        sum += protobuf_c_message_get_packed_size(&r->rec.base);
    }
    free(r);
    return sum;
}

Test(jrn_truncate, deletes_records_above_the_point_and_their_tids, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    Rtr__JournalRecord *got = NULL;
    jrn_stats_t st0, st1;

    jtst_put_range(jtst_pa, 1, 10);
    jtst_put_range(jtst_pb, 1, 5);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(st0.live_records, 15);

    cr_assert_eq(jtst_truncate(jtst_pa, 6), RTR_STS_OK);
    jtst_expect_run(jtst_pa, 6);
    for (uint64_t n = 1; n <= 10; n++)
        jtst_expect_tid(jtst_pa, n, n <= 6);
    for (uint64_t n = 7; n <= 10; n++)
        cr_assert_eq(jrn_get(jtst_j, jtst_pa, n, &got), RTR_STS_NOTFOUND);
    cr_assert_null(got);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.live_records, 11);
    cr_assert_eq(st0.live_bytes - st1.live_bytes, jtst_bytes(jtst_pa, 7, 10),
                 "live bytes fall by exactly the truncated records");
    cr_assert_eq(st1.ops, st0.ops + 1, "a truncation is one operation");
    cr_assert_eq(st1.failure, RTR_STS_OK);
    /* the other partition is untouched */
    jtst_expect_run(jtst_pb, 5);
    for (uint64_t n = 1; n <= 5; n++)
        jtst_expect_tid(jtst_pb, n, true);

    /* durable, and counted the same at open */
    jtst_reopen(false);
    jtst_expect_run(jtst_pa, 6);
    jtst_expect_run(jtst_pb, 5);
    jtst_expect_tid(jtst_pa, 7, false);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(st0.live_records, st1.live_records);
    cr_assert_eq(st0.live_bytes, st1.live_bytes);
}

Test(jrn_truncate, at_or_above_the_last_record_is_a_noop, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    jrn_stats_t st0, st1;

    jtst_put_range(jtst_pa, 1, 8);
    jtst_put_range(jtst_pb, 1, 3);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(jtst_truncate(jtst_pa, 8), RTR_STS_OK);
    cr_assert_eq(jtst_truncate(jtst_pa, 9), RTR_STS_OK);
    cr_assert_eq(jtst_truncate(jtst_pa, UINT64_MAX), RTR_STS_OK);
    cr_assert_eq(jtst_truncate(jtst_pb, UINT64_MAX - 1), RTR_STS_OK);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.live_records, st0.live_records);
    cr_assert_eq(st1.live_bytes, st0.live_bytes);
    cr_assert_eq(st1.batches, st0.batches + 4);
    jtst_expect_run(jtst_pa, 8);
    jtst_expect_run(jtst_pb, 3);
    jtst_expect_tid(jtst_pa, 8, true);
}

Test(jrn_truncate, at_zero_empties_the_partition_only, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    jrn_stats_t st;
    jtst_rec_t r;

    jtst_put_range(jtst_pa, 1, 4);
    jtst_put_range(jtst_pb, 1, 6);
    jtst_put_range(jtst_pc, 1, 2);
    cr_assert_eq(jtst_truncate(jtst_pb, 0), RTR_STS_OK);
    jtst_expect_run(jtst_pb, 0);
    for (uint64_t n = 1; n <= 6; n++)
        jtst_expect_tid(jtst_pb, n, false);
    /* the partitions on both sides of it in key order are untouched */
    jtst_expect_run(jtst_pa, 4);
    jtst_expect_run(jtst_pc, 2);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.live_records, 6);
    cr_assert_eq(st.live_bytes, jtst_bytes(jtst_pa, 1, 4) + jtst_bytes(jtst_pc, 1, 2));

    /* the partition starts again at 1 */
    jtst_rec_make(&r, SEED + jtst_pb, 1, MAXBODY);
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_pb, &r.rec, NULL), RTR_STS_OK);
    jtst_expect_run(jtst_pb, 1);
    jtst_expect_tid(jtst_pb, 1, true);
}

Test(jrn_truncate, of_an_empty_partition_is_a_noop_beside_full_ones, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    jrn_stats_t st0, st1;

    /* A (id 0) is empty and B follows it in key order; C (the last id) is empty and nothing
     * follows it: both ends of the cursor walk */
    jtst_put_range(jtst_pb, 1, 5);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(jtst_truncate(jtst_pa, 0), RTR_STS_OK);
    cr_assert_eq(jtst_truncate(jtst_pa, 3), RTR_STS_OK);
    cr_assert_eq(jtst_truncate(jtst_pc, 0), RTR_STS_OK);
    jtst_expect_run(jtst_pa, 0);
    jtst_expect_run(jtst_pb, 5);
    jtst_expect_run(jtst_pc, 0);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.live_records, st0.live_records);
    cr_assert_eq(st1.live_bytes, st0.live_bytes);
    cr_assert_eq(st1.failure, RTR_STS_OK);
}

Test(jrn_truncate, runs_in_batch_order, .init = jtst_trunc_setup, .fini = jtst_trunc_teardown)
{
    jrn_batch_t *b = jrn_batch_new();
    jtst_rec_t before, after, reput;
    Rtr__JournalRecord *got = NULL;
    jtst_scan_t s = { 0 };
    uint64_t n = 0;
    jrn_stats_t st;

    jtst_put_range(jtst_pa, 1, 5);
    /* put 6 (deleted by the truncation after it), truncate above 3, put 7 and a new 4 */
    jtst_rec_make(&before, RESEED, 6, 50);
    jtst_rec_make(&after, RESEED, 7, 50);
    jtst_rec_make(&reput, RESEED, 4, 50);
    cr_assert_eq(jrn_batch_put(b, jtst_pa, &before.rec), RTR_STS_OK);
    cr_assert_eq(jrn_batch_truncate(b, jtst_pa, 3), RTR_STS_OK);
    cr_assert_eq(jrn_batch_put(b, jtst_pa, &after.rec), RTR_STS_OK);
    cr_assert_eq(jrn_batch_put(b, jtst_pa, &reput.rec), RTR_STS_OK);
    cr_assert_eq(jrn_batch_ops(b), 4);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);

    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 5);
    uint64_t want[] = { 1, 2, 3, 4, 7 };
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(s.v[i].n, want[i], "scan[%zu] = %llu", i, (unsigned long long)s.v[i].n);
    jtst_scan_free(&s);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 6, &got), RTR_STS_NOTFOUND, "put before: deleted");
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 7, &got), RTR_STS_OK, "put after: survives");
    cr_assert(jtst_same(&got->base, &after.rec.base));
    wire_free((ProtobufCMessage **)&got);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 4, &got), RTR_STS_OK);
    cr_assert(jtst_same(&got->base, &reput.rec.base), "4 is the record put after");
    wire_free((ProtobufCMessage **)&got);
    cr_assert_eq(jrn_lookup_tid(jtst_j, before.tid, jtst_pa, &n), RTR_STS_NOTFOUND);
    cr_assert_eq(jrn_lookup_tid(jtst_j, after.tid, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 7);
    cr_assert_eq(jrn_lookup_tid(jtst_j, reput.tid, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 4);
    jtst_expect_tid(jtst_pa, 4, false);
    jtst_expect_tid(jtst_pa, 5, false);
    jtst_expect_tid(jtst_pa, 3, true);
    cr_assert_eq(jrn_last_n(jtst_j, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 7);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.live_records, 5);
    cr_assert_eq(st.live_bytes, jtst_bytes(jtst_pa, 1, 3) +
                                    protobuf_c_message_get_packed_size(&after.rec.base) +
                                    protobuf_c_message_get_packed_size(&reput.rec.base));
}

Test(jrn_truncate, puts_again_with_new_tids_and_finds_only_those, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    Rtr__JournalRecord *got = NULL;
    jrn_batch_t *b = jrn_batch_new();
    jtst_rec_t r[3], moved;
    uint64_t n = 0;
    jrn_stats_t st0, st1;

    jtst_put_range(jtst_pa, 1, 6);
    cr_assert_eq(jtst_truncate(jtst_pa, 3), RTR_STS_OK);
    /* 4..6 again, with other TIDs and contents (no EXISTS, no duplicate) */
    for (uint64_t k = 4; k <= 6; k++) {
        jtst_rec_make(&r[k - 4], RESEED, k, MAXBODY);
        cr_assert_eq(jrn_batch_put(b, jtst_pa, &r[k - 4].rec), RTR_STS_OK);
    }
    /* and the TID truncated at 5 comes back at 7 (re-executed under a new CSN) */
    jtst_rec_make(&moved, SEED + jtst_pa, 5, MAXBODY);
    moved.rec.n = 7;
    cr_assert_eq(jrn_batch_put(b, jtst_pa, &moved.rec), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);

    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t k = 4; k <= 6; k++) {
            cr_assert_eq(jrn_lookup_tid(jtst_j, r[k - 4].tid, jtst_pa, &n), RTR_STS_OK);
            cr_assert_eq(n, k);
            cr_assert_eq(jrn_get(jtst_j, jtst_pa, k, &got), RTR_STS_OK);
            cr_assert(jtst_same(&got->base, &r[k - 4].rec.base), "record %llu",
                      (unsigned long long)k);
            wire_free((ProtobufCMessage **)&got);
        }
        jtst_expect_tid(jtst_pa, 4, false);
        jtst_expect_tid(jtst_pa, 6, false);
        cr_assert_eq(jrn_lookup_tid(jtst_j, moved.tid, jtst_pa, &n), RTR_STS_OK);
        cr_assert_eq(n, 7, "the truncated entry at 5 is gone: only the new one at 7");
        for (uint64_t k = 1; k <= 3; k++)
            jtst_expect_tid(jtst_pa, k, true);
        cr_assert_eq(jrn_last_n(jtst_j, jtst_pa, &n), RTR_STS_OK);
        cr_assert_eq(n, 7);
        jrn_stats(jtst_j, pass == 0 ? &st0 : &st1);
        jtst_reopen(pass == 0 ? false : true);
    }
    cr_assert_eq(st0.live_records, 7);
    cr_assert_eq(st1.live_records, st0.live_records, "counted the same at open");
    cr_assert_eq(st1.live_bytes, st0.live_bytes);
}

/* The meta of A with the given history (epoch = the last entry's). */
static void
jtst_meta_a(Rtr__JournalMeta *m, Rtr__EpochStart *es, Rtr__EpochStart **ep, char *name,
            const uint64_t (*hist)[2], size_t nhist)
{
    rtr__journal_meta__init(m);
    m->partition = name;
    m->id = jtst_pa;
    for (size_t i = 0; i < nhist; i++) {
        rtr__epoch_start__init(&es[i]);
        es[i].epoch = hist[i][0];
        es[i].first_n = hist[i][1];
        ep[i] = &es[i];
    }
    m->history = ep;
    m->n_history = nhist;
    m->has_epoch = 1;
    m->epoch = hist[nhist - 1][0];
}

Test(jrn_truncate, commits_with_the_cut_meta_and_both_survive_reopen, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    static const uint64_t full[][2] = { { 1, 1 }, { 2, 5 }, { 4, 8 } };
    static const uint64_t cut[][2] = { { 1, 1 }, { 2, 5 }, { 6, 7 } };
    Rtr__JournalMeta m, mc, *got = NULL;
    Rtr__EpochStart es[3], esc[3], *ep[3], *epc[3];
    char name[] = "A";
    jrn_batch_t *b = jrn_batch_new();

    jtst_put_range(jtst_pa, 1, 9);
    jtst_meta_a(&m, es, ep, name, full, 3);
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);

    /* member truncates to the agreed point 6: epoch 4 (from 8) goes, epoch 6 starts at 7 */
    jtst_meta_a(&mc, esc, epc, name, cut, 3);
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_truncate(b, jtst_pa, 6), RTR_STS_OK);
    cr_assert_eq(jrn_batch_put_meta(b, &mc), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);

    for (int pass = 0; pass < 3; pass++) {
        jtst_expect_run(jtst_pa, 6);
        jtst_expect_tid(jtst_pa, 7, false);
        cr_assert_eq(jrn_meta_get(jtst_j, jtst_pa, &got), RTR_STS_OK);
        cr_assert(jtst_same(&got->base, &mc.base), "meta is not the cut one (pass %d)", pass);
        wire_free((ProtobufCMessage **)&got);
        if (pass < 2)
            jtst_reopen(pass == 1); /* writer reopen (recovery), then read-only */
    }
}

Test(jrn_truncate, refused_batch_truncates_nothing, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT;
    char other[] = "B";
    jrn_batch_t *b = jrn_batch_new(), *keep = b;
    jrn_stats_t st0, st1;
    uint64_t t = 0;

    jtst_put_range(jtst_pa, 1, 5);
    jrn_stats(jtst_j, &st0);
    /* a batch whose meta names A by B's name: the whole batch is refused, truncation included */
    m.partition = other;
    m.id = jtst_pa;
    cr_assert_eq(jrn_batch_truncate(b, jtst_pa, 2), RTR_STS_OK);
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_INVARG);
    cr_assert_eq(b, keep, "a refused batch stays with the caller");
    jrn_batch_free(&b);
    cr_assert_null(b);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.submitted, st0.submitted, "no ticket for a refused batch");
    jtst_expect_run(jtst_pa, 5);
}

Test(jrn_truncate, refuses_bad_arguments_with_exact_statuses, .init = jtst_trunc_setup,
     .fini = jtst_trunc_teardown)
{
    jrn_batch_t *b = jrn_batch_new(), *keep = b;
    uint64_t t = 0;
    jrn_stats_t st;
    size_t i;

    jtst_put_range(jtst_pa, 1, 3);
    cr_assert_eq(jrn_batch_truncate(NULL, jtst_pa, 0), RTR_STS_INVARG);
    cr_assert_eq(jrn_batch_truncate(b, JRN_ALL_PARTITIONS, 0), RTR_STS_INVARG);
    cr_assert_eq(jrn_batch_ops(b), 0, "a refused operation is not added");

    /* an id the journal does not know: refused at submit, logged, nothing written */
    cr_assert_eq(jrn_batch_truncate(b, 3, 0), RTR_STS_OK);
    cr_assert_eq(jrn_batch_truncate(b, jtst_pa, 0), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_INVARG);
    cr_assert_eq(b, keep);
    jrn_batch_free(&b);
    jtst_expect_run(jtst_pa, 3);
    jrn_stats(jtst_j, &st);
    cr_assert_eq(st.failure, RTR_STS_OK, "the journal goes on");

    /* a full batch refuses one more */
    b = jrn_batch_new();
    for (i = 0; jrn_batch_truncate(b, jtst_pa, 100) == RTR_STS_OK; i++)
        cr_assert_lt(i, 1000000, "never full");
    cr_assert_eq(jrn_batch_truncate(b, jtst_pa, 100), RTR_STS_INVARG);
    cr_assert_eq(jrn_batch_ops(b), i);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK, "a batch of %zu truncations", i);
    jtst_expect_run(jtst_pa, 3);

    /* read-only journal */
    jtst_reopen(true);
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_truncate(b, jtst_pa, 0), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_JNLRDONLY);
    jrn_batch_free(&b);
    jtst_expect_run(jtst_pa, 3);
}
