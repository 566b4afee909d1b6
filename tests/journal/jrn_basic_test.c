/*
 * jrn_basic_test.c - the journal's contract (jrn.h), one promise per test: open and reopen,
 * partitions, put/get/scan, state changes, deletes, the TID index, meta, batches and tickets,
 * statistics, close, and the exact statuses of every refusal.
 *
 * Every test gets its own directory (removed in .fini) and, via jtst_basic_setup, a writer
 * journal with partitions "A" (id 0) and "B" (id 1).
 */
#include <criterion/criterion.h>
#include <db.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmn.h"
#include "jrn.h"
#include "jrn_tst.h"
#include "tst.h"
#include "wire.h"

#define SEED 0x5eedULL

static char *jtst_dir;
static jrn_t *jtst_j;
static uint32_t jtst_pa, jtst_pb;

static void
jtst_basic_setup(void)
{
    jrn_options_t o;

    jtst_dir = tst_tmpdir("jrn-basic");
    o = jtst_opts(jtst_dir, false);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "A", &jtst_pa), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "B", &jtst_pb), RTR_STS_OK);
}

static void
jtst_basic_teardown(void)
{
    jrn_close(&jtst_j);
    tst_rmtree(jtst_dir);
    free(jtst_dir);
    jtst_dir = NULL;
}

static void
jtst_dir_only(void)
{
    jtst_dir = tst_tmpdir("jrn-basic");
}

/* Reopen the test's journal (writer or read-only) in jtst_j. */
static void
jtst_reopen(bool readonly)
{
    jrn_options_t o = jtst_opts(jtst_dir, readonly);

    jrn_close(&jtst_j);
    cr_assert_null(jtst_j);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
}

/* Put records n = from..to of stream SEED into part, waiting for each. */
static void
jtst_put_range(uint32_t part, uint64_t from, uint64_t to)
{
    jtst_rec_t r;

    for (uint64_t n = from; n <= to; n++) {
        jtst_rec_make(&r, SEED + part, n, 300);
        cr_assert_eq(jtst_append_wait(jtst_j, part, &r.rec, NULL), RTR_STS_OK, "n=%llu",
                     (unsigned long long)n);
    }
}

/* Submit a batch and wait for it. */
static rtr_status_t
jtst_submit_wait(jrn_batch_t **b)
{
    uint64_t t = 0;
    rtr_status_t sts = jrn_submit(jtst_j, b, &t);

    return sts == RTR_STS_OK ? jrn_wait(jtst_j, t) : sts;
}

static void
jtst_expect_record(uint32_t part, uint64_t n, const Rtr__JournalRecord *want)
{
    Rtr__JournalRecord *got = NULL;

    cr_assert_eq(jrn_get(jtst_j, part, n, &got), RTR_STS_OK, "part=%u n=%llu", part,
                 (unsigned long long)n);
    cr_assert_not_null(got);
    cr_assert(jtst_same(&got->base, &want->base), "record (%u, %llu) differs from what was put",
              part, (unsigned long long)n);
    wire_free((ProtobufCMessage **)&got);
    cr_assert_null(got);
}

/* ---- open and close ------------------------------------------------------------------ */

Test(jrn_basic, creates_journal_and_reopen_keeps_records, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jtst_rec_t r;
    jtst_scan_t s = { 0 };
    char why[256];

    cr_assert_str_eq(jrn_dir(jtst_j), jtst_dir);
    jtst_put_range(jtst_pa, 1, 25);
    jtst_reopen(false);
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 25);
    cr_assert_eq(jtst_check_run(&s, jtst_pa, SEED + jtst_pa, 300, why, sizeof why), 0, "%s", why);
    jtst_scan_free(&s);

    /* and a read-only open of a stopped journal sees the same */
    jtst_reopen(true);
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 25);
    cr_assert_eq(jtst_check_run(&s, jtst_pa, SEED + jtst_pa, 300, why, sizeof why), 0, "%s", why);
    jtst_scan_free(&s);
    jtst_rec_make(&r, SEED + jtst_pa, 25, 300);
    jtst_expect_record(jtst_pa, 25, &r.rec);
}

Test(jrn_basic, creates_missing_directory_when_parent_exists, .init = jtst_dir_only,
     .fini = jtst_basic_teardown)
{
    char sub[4096], deep[4096];
    struct stat sb;
    jrn_options_t o;
    jrn_t *j = NULL;

    snprintf(sub, sizeof sub, "%s/journal", jtst_dir);
    o = jtst_opts(sub, false);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(stat(sub, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));

    snprintf(deep, sizeof deep, "%s/missing/journal", jtst_dir);
    o = jtst_opts(deep, false);
    cr_assert_neq(jrn_open(&o, &j), RTR_STS_OK, "parents must exist");
    cr_assert_null(j);
}

Test(jrn_basic, readonly_open_of_missing_dir_is_notfound, .init = jtst_dir_only,
     .fini = jtst_basic_teardown)
{
    char path[4096];
    jrn_options_t o;
    struct stat sb;

    snprintf(path, sizeof path, "%s/nothing-here", jtst_dir);
    o = jtst_opts(path, true);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_NOTFOUND);
    cr_assert_null(jtst_j);
    cr_assert_neq(stat(path, &sb), 0, "a read-only open must not create the directory");
}

Test(jrn_basic, readonly_open_of_empty_dir_is_notfound, .init = jtst_dir_only,
     .fini = jtst_basic_teardown)
{
    jrn_options_t o = jtst_opts(jtst_dir, true);
    jtst_dirsnap_t before, after;
    char why[512];

    cr_assert_eq(jtst_dirsnap(jtst_dir, &before), 0);
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_NOTFOUND);
    cr_assert_null(jtst_j);
    cr_assert_eq(jtst_dirsnap(jtst_dir, &after), 0);
    cr_assert_null(jtst_dirsnap_diff(&before, &after, why, sizeof why), "%s", why);
    jtst_dirsnap_free(&before);
    jtst_dirsnap_free(&after);
}

/* Fill dir `to` with garbage files named like those of the real journal in `from`. */
static void
jtst_garbage_like(const char *from, const char *to)
{
    jtst_dirsnap_t s;

    cr_assert_eq(jtst_dirsnap(from, &s), 0);
    cr_assert_gt(s.len, 0);
    for (size_t i = 0; i < s.len; i++) {
        char path[4096];
        size_t len = s.v[i].size < 4096 ? 4096 : (size_t)s.v[i].size;
        uint8_t *junk = malloc(len);
        cr_assert_not_null(junk);
        for (size_t k = 0; k < len; k++)
            junk[k] = (uint8_t)(jtst_mix(k / 8 + i) >> (8 * (k % 8)));
        snprintf(path, sizeof path, "%s/%s", to, s.v[i].name);
        cr_assert_eq(tst_write_file(path, junk, len), 0);
        free(junk);
    }
    jtst_dirsnap_free(&s);
}

Test(jrn_basic, readonly_open_of_garbage_is_jnlcorrupt, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    char *bad = tst_tmpdir("jrn-garbage");
    jrn_options_t o = jtst_opts(bad, true);
    jtst_dirsnap_t before, after;
    jrn_t *j = NULL;
    char why[512];

    jtst_put_range(jtst_pa, 1, 3);
    jrn_close(&jtst_j);
    jtst_garbage_like(jtst_dir, bad);
    cr_assert_eq(jtst_dirsnap(bad, &before), 0);
    cr_assert_eq(jrn_open(&o, &j), RTR_STS_JNLCORRUPT);
    cr_assert_null(j);
    cr_assert_eq(jtst_dirsnap(bad, &after), 0);
    cr_assert_null(jtst_dirsnap_diff(&before, &after, why, sizeof why), "%s", why);
    jtst_dirsnap_free(&before);
    jtst_dirsnap_free(&after);
    tst_rmtree(bad);
    free(bad);
}

Test(jrn_basic, writer_open_of_garbage_is_jnlcorrupt, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    char *bad = tst_tmpdir("jrn-garbage");
    jrn_options_t o = jtst_opts(bad, false);
    jrn_t *j = NULL;

    jtst_put_range(jtst_pa, 1, 3);
    jrn_close(&jtst_j);
    jtst_garbage_like(jtst_dir, bad);
    cr_assert_eq(jrn_open(&o, &j), RTR_STS_JNLCORRUPT);
    cr_assert_null(j);
    tst_rmtree(bad);
    free(bad);
}

Test(jrn_basic, second_writer_is_busy, .init = jtst_basic_setup, .fini = jtst_basic_teardown)
{
    jrn_options_t o = jtst_opts(jtst_dir, false);
    jrn_t *j2 = NULL;

    cr_assert_eq(jrn_open(&o, &j2), RTR_STS_BUSY);
    cr_assert_null(j2);
    /* the owner is unharmed */
    jtst_put_range(jtst_pa, 1, 2);
}

Test(jrn_basic, readonly_open_while_this_process_owns_it, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jrn_options_t o = jtst_opts(jtst_dir, true);
    jtst_scan_t s = { 0 };
    jrn_t *v = NULL;
    rtr_status_t sts;

    /* In the owner's own process a second BDB handle would unregister the owner (POSIX lock
     * semantics on __db.register): the contract refuses it with BUSY, and the owner's handle
     * reads everything. */
    jtst_put_range(jtst_pa, 1, 3);
    sts = jrn_open(&o, &v);
    cr_assert_eq(sts, RTR_STS_BUSY, "read-only open beside the owner in its process: %s",
                 rtr_status_name(sts));
    cr_assert_null(v);
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 3);
    jtst_scan_free(&s);
    jtst_put_range(jtst_pa, 4, 4); /* the owner is unharmed */
}

Test(jrn_basic, close_accepts_null_and_double_close, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jrn_t *none = NULL;
    jrn_batch_t *b = NULL;

    jrn_close(NULL);
    jrn_close(&none);
    jrn_close(&jtst_j);
    cr_assert_null(jtst_j);
    jrn_close(&jtst_j);
    cr_assert_null(jtst_j);
    jrn_batch_free(NULL);
    jrn_batch_free(&b);
    b = jrn_batch_new();
    cr_assert_not_null(b);
    jrn_batch_free(&b);
    cr_assert_null(b);
}

Test(jrn_basic, close_hardens_everything_submitted, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jtst_scan_t s = { 0 };
    uint64_t t, prev = 0;
    char why[256];
    jtst_rec_t r;

    for (uint64_t n = 1; n <= 200; n++) {
        jtst_rec_make(&r, SEED + jtst_pa, n, 300);
        cr_assert_eq(jrn_append(jtst_j, jtst_pa, &r.rec, &t), RTR_STS_OK);
        cr_assert_gt(t, prev);
        prev = t;
    }
    jtst_reopen(false);
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 200);
    cr_assert_eq(jtst_check_run(&s, jtst_pa, SEED + jtst_pa, 300, why, sizeof why), 0, "%s", why);
    jtst_scan_free(&s);
}

/* ---- partitions ---------------------------------------------------------------------- */

Test(jrn_basic, assigns_dense_partition_ids_and_keeps_them, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    uint32_t id = 99;

    cr_assert_eq(jtst_pa, 0);
    cr_assert_eq(jtst_pb, 1);
    cr_assert_eq(jrn_partition(jtst_j, "A", &id), RTR_STS_OK);
    cr_assert_eq(id, 0);
    cr_assert_eq(jrn_partition(jtst_j, "C", &id), RTR_STS_OK);
    cr_assert_eq(id, 2);
    cr_assert_eq(jrn_partition_count(jtst_j), 3);
    cr_assert_str_eq(jrn_partition_name(jtst_j, 0), "A");
    cr_assert_str_eq(jrn_partition_name(jtst_j, 1), "B");
    cr_assert_str_eq(jrn_partition_name(jtst_j, 2), "C");
    cr_assert_null(jrn_partition_name(jtst_j, 3));
    cr_assert_null(jrn_partition_name(jtst_j, JRN_ALL_PARTITIONS));

    /* created durably: a reopen (writer, then read-only) knows them by the same ids */
    jtst_reopen(false);
    cr_assert_eq(jrn_partition_count(jtst_j), 3);
    cr_assert_str_eq(jrn_partition_name(jtst_j, 2), "C");
    cr_assert_eq(jrn_partition(jtst_j, "B", &id), RTR_STS_OK);
    cr_assert_eq(id, 1);
    jtst_reopen(true);
    cr_assert_eq(jrn_partition_count(jtst_j), 3);
    cr_assert_eq(jrn_partition(jtst_j, "C", &id), RTR_STS_OK);
    cr_assert_eq(id, 2);
}

Test(jrn_basic, refuses_bad_partition_names, .init = jtst_basic_setup, .fini = jtst_basic_teardown)
{
    char name63[64], name64[65];
    uint32_t id = 77;

    memset(name63, 'x', 63);
    name63[63] = '\0';
    memset(name64, 'y', 64);
    name64[64] = '\0';
    cr_assert_eq(jrn_partition(jtst_j, "", &id), RTR_STS_INVARG);
    cr_assert_eq(jrn_partition(jtst_j, name64, &id), RTR_STS_INVARG);
    cr_assert_eq(id, 77);
    cr_assert_eq(jrn_partition_count(jtst_j), 2);
    cr_assert_eq(jrn_partition(jtst_j, name63, &id), RTR_STS_OK);
    cr_assert_eq(id, 2);
    cr_assert_str_eq(jrn_partition_name(jtst_j, id), name63);
}

Test(jrn_basic, readonly_open_does_not_create_partitions, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    uint32_t id = 55;

    jtst_reopen(true);
    cr_assert_eq(jrn_partition(jtst_j, "Z", &id), RTR_STS_NOTFOUND);
    cr_assert_eq(id, 55);
    cr_assert_eq(jrn_partition(jtst_j, "", &id), RTR_STS_INVARG);
    cr_assert_eq(jrn_partition_count(jtst_j), 2);
    jtst_reopen(false);
    cr_assert_eq(jrn_partition_count(jtst_j), 2, "the read-only open created a partition");
}

/* ---- records ------------------------------------------------------------------------- */

Test(jrn_basic, gets_exactly_what_was_put, .init = jtst_basic_setup, .fini = jtst_basic_teardown)
{
    jtst_rec_t r;

    for (uint64_t n = 1; n <= 40; n++) {
        jtst_rec_make(&r, SEED, n, JTST_BODY_MAX);
        cr_assert_eq(jtst_append_wait(jtst_j, jtst_pb, &r.rec, NULL), RTR_STS_OK);
    }
    for (uint64_t n = 1; n <= 40; n++) {
        jtst_rec_make(&r, SEED, n, JTST_BODY_MAX);
        jtst_expect_record(jtst_pb, n, &r.rec);
    }
}

Test(jrn_basic, get_of_absent_record_is_notfound, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalRecord *got = NULL;

    jtst_put_range(jtst_pa, 1, 3);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 4, &got), RTR_STS_NOTFOUND);
    cr_assert_null(got);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 0, &got), RTR_STS_NOTFOUND);
    cr_assert_eq(jrn_get(jtst_j, jtst_pb, 1, &got), RTR_STS_NOTFOUND);
    cr_assert_eq(jrn_get(jtst_j, 9, 1, &got), RTR_STS_NOTFOUND);
}

/* Records n = 1..10 in A and 1..5 in B, B written first. */
static void
jtst_two_partitions(void)
{
    jtst_put_range(jtst_pb, 1, 5);
    jtst_put_range(jtst_pa, 1, 10);
}

Test(jrn_basic, scans_in_order_within_bounds, .init = jtst_basic_setup, .fini = jtst_basic_teardown)
{
    jtst_scan_t s = { 0 };

    jtst_two_partitions();
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 3, 7, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 5);
    for (size_t i = 0; i < s.len; i++) {
        cr_assert_eq(s.v[i].part, jtst_pa);
        cr_assert_eq(s.v[i].n, 3 + i);
        cr_assert_str_eq(s.v[i].part_name, "A");
        cr_assert_eq(s.v[i].bytes, s.v[i].packed_len, "bytes is the encoded size");
    }
    jtst_scan_free(&s);

    cr_assert_eq(jrn_scan(jtst_j, jtst_pb, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 5);
    cr_assert_eq(s.v[0].n, 1);
    cr_assert_eq(s.v[4].n, 5);
    cr_assert_str_eq(s.v[4].part_name, "B");
    jtst_scan_free(&s);

    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 10, 10, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 1);
    cr_assert_eq(s.v[0].n, 10);
    jtst_scan_free(&s);

    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 11, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 7, 3, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(jrn_scan(jtst_j, 2, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 0, "an unknown partition has no records");
}

Test(jrn_basic, scans_all_partitions_in_part_then_n_order, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jtst_scan_t s = { 0 };

    jtst_two_partitions();
    cr_assert_eq(jrn_scan(jtst_j, JRN_ALL_PARTITIONS, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 15);
    for (size_t i = 0; i < 10; i++) {
        cr_assert_eq(s.v[i].part, jtst_pa);
        cr_assert_eq(s.v[i].n, i + 1);
        cr_assert_str_eq(s.v[i].part_name, "A");
    }
    for (size_t i = 10; i < 15; i++) {
        cr_assert_eq(s.v[i].part, jtst_pb);
        cr_assert_eq(s.v[i].n, i - 9);
        cr_assert_str_eq(s.v[i].part_name, "B");
    }
    jtst_scan_free(&s);

    /* bounds apply in every partition */
    cr_assert_eq(jrn_scan(jtst_j, JRN_ALL_PARTITIONS, 4, 6, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 5);
    uint64_t want[5][2] = { { 0, 4 }, { 0, 5 }, { 0, 6 }, { 1, 4 }, { 1, 5 } };
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(s.v[i].part, want[i][0], "position %zu", i);
        cr_assert_eq(s.v[i].n, want[i][1], "position %zu", i);
    }
    jtst_scan_free(&s);
}

Test(jrn_basic, scan_stops_when_callback_returns_nonzero, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jtst_scan_t s = { .stop_after = 3 };

    jtst_two_partitions();
    cr_assert_eq(jrn_scan(jtst_j, JRN_ALL_PARTITIONS, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 3);
    cr_assert_eq(s.v[2].n, 3);
    jtst_scan_free(&s);
}

Test(jrn_basic, put_over_existing_record_replaces_it, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jtst_rec_t old, neu;
    jrn_stats_t st0, st1;
    uint64_t n = 0;

    jtst_rec_sized(&old, SEED, 1, 100);
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_pa, &old.rec, NULL), RTR_STS_OK);
    jrn_stats(jtst_j, &st0);
    /* the same key (part, n = 1), another TID and size */
    jtst_rec_sized(&neu, SEED + 1, 1, 700);
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_pa, &neu.rec, NULL), RTR_STS_OK);
    jtst_expect_record(jtst_pa, 1, &neu.rec);
    cr_assert_eq(jrn_lookup_tid(jtst_j, neu.tid, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(jrn_lookup_tid(jtst_j, old.tid, jtst_pa, &n), RTR_STS_NOTFOUND,
                 "the replaced record's TID must leave the index");
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.live_records, st0.live_records);
    cr_assert_eq(st1.live_bytes - st0.live_bytes,
                 protobuf_c_message_get_packed_size(&neu.rec.base) -
                     protobuf_c_message_get_packed_size(&old.rec.base));
}

Test(jrn_basic, set_state_changes_state_and_keeps_the_rest, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalRecord *got = NULL;
    jrn_batch_t *b = jrn_batch_new();
    jtst_rec_t r;

    jtst_put_range(jtst_pa, 1, 3);
    cr_assert_eq(jrn_batch_set_state(b, jtst_pa, 2, RTR__TX_STATE__TX_COMMIT, 0), RTR_STS_OK);
    cr_assert_eq(jrn_batch_ops(b), 1);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    cr_assert_null(b);

    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 2, &got), RTR_STS_OK);
    cr_assert_eq(got->state, RTR__TX_STATE__TX_COMMIT);
    cr_assert_eq(got->has_moved_to, 0);
    jtst_rec_make(&r, SEED + jtst_pa, 2, 300);
    r.rec.state = RTR__TX_STATE__TX_COMMIT;
    cr_assert(jtst_same(&got->base, &r.rec.base), "set_state changed more than the state");
    wire_free((ProtobufCMessage **)&got);

    /* neighbours untouched, and the state survives a reopen */
    jtst_rec_make(&r, SEED + jtst_pa, 1, 300);
    jtst_expect_record(jtst_pa, 1, &r.rec);
    jtst_reopen(true);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 2, &got), RTR_STS_OK);
    cr_assert_eq(got->state, RTR__TX_STATE__TX_COMMIT);
    wire_free((ProtobufCMessage **)&got);
}

Test(jrn_basic, set_state_moved_stores_moved_to, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalRecord *got = NULL;
    jrn_batch_t *b = jrn_batch_new();

    jtst_put_range(jtst_pa, 1, 2);
    cr_assert_eq(jrn_batch_set_state(b, jtst_pa, 1, RTR__TX_STATE__TX_MOVED, 42), RTR_STS_OK);
    /* moved_to is ignored for other states */
    cr_assert_eq(jrn_batch_set_state(b, jtst_pa, 2, RTR__TX_STATE__TX_ABORT, 43), RTR_STS_OK);
    cr_assert_eq(jrn_batch_ops(b), 2);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);

    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 1, &got), RTR_STS_OK);
    cr_assert_eq(got->state, RTR__TX_STATE__TX_MOVED);
    cr_assert_eq(got->has_moved_to, 1);
    cr_assert_eq(got->moved_to, 42);
    wire_free((ProtobufCMessage **)&got);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 2, &got), RTR_STS_OK);
    cr_assert_eq(got->state, RTR__TX_STATE__TX_ABORT);
    cr_assert_eq(got->has_moved_to, 0);
    wire_free((ProtobufCMessage **)&got);
}

Test(jrn_basic, set_state_of_absent_record_is_skipped, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalRecord *got = NULL;
    jrn_batch_t *b = jrn_batch_new();
    jrn_stats_t st0, st1;
    jtst_rec_t r;

    jtst_put_range(jtst_pa, 1, 1);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(jrn_batch_set_state(b, jtst_pa, 5, RTR__TX_STATE__TX_DONE, 0), RTR_STS_OK);
    cr_assert_eq(jrn_batch_set_state(b, jtst_pa, 1, RTR__TX_STATE__TX_DONE, 0), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK, "a skipped state change is no failure");
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 5, &got), RTR_STS_NOTFOUND, "it must not create one");
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 1, &got), RTR_STS_OK, "the rest of the batch is applied");
    cr_assert_eq(got->state, RTR__TX_STATE__TX_DONE);
    wire_free((ProtobufCMessage **)&got);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.live_records, st0.live_records);
    cr_assert_eq(st1.failure, RTR_STS_OK);
    /* and the journal goes on */
    jtst_rec_make(&r, SEED, 2, 10);
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_pa, &r.rec, NULL), RTR_STS_OK);
}

Test(jrn_basic, delete_removes_record_and_tid_index, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalRecord *got = NULL;
    jrn_batch_t *b = jrn_batch_new();
    jrn_stats_t st0, st1;
    jtst_scan_t s = { 0 };
    jtst_rec_t r;
    uint64_t n = 0;
    size_t bytes2 = 0;

    jtst_put_range(jtst_pa, 1, 3);
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 2, 2, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 1);
    bytes2 = s.v[0].bytes;
    jtst_scan_free(&s);
    jrn_stats(jtst_j, &st0);

    cr_assert_eq(jrn_batch_delete(b, jtst_pa, 2), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 2, &got), RTR_STS_NOTFOUND);
    jtst_rec_make(&r, SEED + jtst_pa, 2, 300);
    cr_assert_eq(jrn_lookup_tid(jtst_j, r.tid, jtst_pa, &n), RTR_STS_NOTFOUND);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st0.live_records - st1.live_records, 1);
    cr_assert_eq(st0.live_bytes - st1.live_bytes, bytes2);

    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_OK);
    cr_assert_eq(s.len, 2);
    cr_assert_eq(s.v[0].n, 1);
    cr_assert_eq(s.v[1].n, 3);
    jtst_scan_free(&s);

    /* deleting an absent record is harmless */
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_delete(b, jtst_pa, 2), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    jtst_reopen(false);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(st0.live_records, st1.live_records, "live records are counted again at open");
    cr_assert_eq(st0.live_bytes, st1.live_bytes);
}

Test(jrn_basic, lookup_tid_finds_newest_record_of_tid_in_partition, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jrn_batch_t *b;
    jtst_rec_t r;
    uint8_t tid[16];
    uint64_t n = 0;

    /* one TID executed under n = 3, then re-executed under n = 7 (moved) */
    jtst_tid(SEED, 1000, tid);
    jtst_put_range(jtst_pa, 1, 2);
    for (uint64_t k = 3; k <= 7; k += 4) {
        jtst_rec_make(&r, SEED, 1000, 50);
        r.rec.n = k;
        cr_assert_eq(jtst_append_wait(jtst_j, jtst_pa, &r.rec, NULL), RTR_STS_OK);
    }
    jtst_put_range(jtst_pa, 4, 6); /* other TIDs in between */
    cr_assert_eq(jrn_lookup_tid(jtst_j, tid, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 7);
    cr_assert_eq(jrn_lookup_tid(jtst_j, tid, jtst_pb, &n), RTR_STS_NOTFOUND,
                 "the TID has no record in B");

    /* the same TID in B too (a multi-partition transaction) */
    jtst_rec_make(&r, SEED, 1000, 50);
    r.rec.n = 1;
    cr_assert_eq(jtst_append_wait(jtst_j, jtst_pb, &r.rec, NULL), RTR_STS_OK);
    cr_assert_eq(jrn_lookup_tid(jtst_j, tid, jtst_pb, &n), RTR_STS_OK);
    cr_assert_eq(n, 1);

    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_delete(b, jtst_pa, 7), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    cr_assert_eq(jrn_lookup_tid(jtst_j, tid, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 3, "after deleting the newest, the older record is the newest");
    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_delete(b, jtst_pa, 3), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    n = 12345;
    cr_assert_eq(jrn_lookup_tid(jtst_j, tid, jtst_pa, &n), RTR_STS_NOTFOUND);
    cr_assert_eq(jrn_lookup_tid(jtst_j, tid, jtst_pb, &n), RTR_STS_OK);
    cr_assert_eq(n, 1);

    /* and the index is durable: read-only reopen */
    jtst_reopen(true);
    jtst_rec_make(&r, SEED + jtst_pa, 5, 300);
    cr_assert_eq(jrn_lookup_tid(jtst_j, r.tid, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 5);
    cr_assert_eq(jrn_lookup_tid(jtst_j, tid, jtst_pa, &n), RTR_STS_NOTFOUND);
}

Test(jrn_basic, last_n_is_highest_n_of_partition, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jrn_batch_t *b;
    uint32_t pc;
    uint64_t n = 99;

    cr_assert_eq(jrn_last_n(jtst_j, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 0, "empty partition");
    jtst_put_range(jtst_pa, 1, 4);
    jtst_put_range(jtst_pb, 1, 9);
    cr_assert_eq(jrn_partition(jtst_j, "C", &pc), RTR_STS_OK);
    cr_assert_eq(jrn_last_n(jtst_j, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 4);
    cr_assert_eq(jrn_last_n(jtst_j, jtst_pb, &n), RTR_STS_OK);
    cr_assert_eq(n, 9);
    n = 99;
    cr_assert_eq(jrn_last_n(jtst_j, pc, &n), RTR_STS_OK);
    cr_assert_eq(n, 0, "empty partition after a full one");

    b = jrn_batch_new();
    cr_assert_eq(jrn_batch_delete(b, jtst_pa, 4), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    cr_assert_eq(jrn_last_n(jtst_j, jtst_pa, &n), RTR_STS_OK);
    cr_assert_eq(n, 3);
}

Test(jrn_basic, meta_put_get_roundtrip_and_survives_reopen, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT, *got = NULL;
    Rtr__EpochStart e1 = RTR__EPOCH_START__INIT, e2 = RTR__EPOCH_START__INIT;
    Rtr__EpochStart *hist[2] = { &e1, &e2 };
    char name[] = "B";
    jrn_batch_t *b = jrn_batch_new();

    /* a new partition's meta names it */
    cr_assert_eq(jrn_meta_get(jtst_j, jtst_pb, &got), RTR_STS_OK);
    cr_assert_str_eq(got->partition, "B");
    cr_assert_eq(got->id, jtst_pb);
    wire_free((ProtobufCMessage **)&got);

    m.partition = name;
    m.id = jtst_pb;
    m.has_epoch = 1;
    m.epoch = 3;
    m.has_role = 1;
    m.role = 2;
    m.has_hardened_n = 1;
    m.hardened_n = 17;
    m.has_applied_n = 1;
    m.applied_n = 15;
    m.has_partner_hardened_n = 1;
    m.partner_hardened_n = 16;
    m.has_single_copy_from = 1;
    m.single_copy_from = 10;
    e1.epoch = 1;
    e1.first_n = 1;
    e2.epoch = 3;
    e2.first_n = 11;
    m.history = hist;
    m.n_history = 2;
    m.has_highest_epoch_seen = 1;
    m.highest_epoch_seen = 3;
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);

    cr_assert_eq(jrn_meta_get(jtst_j, jtst_pb, &got), RTR_STS_OK);
    cr_assert(jtst_same(&got->base, &m.base), "meta differs from what was put");
    wire_free((ProtobufCMessage **)&got);
    /* A's meta is untouched */
    cr_assert_eq(jrn_meta_get(jtst_j, jtst_pa, &got), RTR_STS_OK);
    cr_assert_str_eq(got->partition, "A");
    cr_assert_eq(got->has_epoch, 0);
    wire_free((ProtobufCMessage **)&got);

    jtst_reopen(true);
    cr_assert_eq(jrn_meta_get(jtst_j, jtst_pb, &got), RTR_STS_OK);
    cr_assert(jtst_same(&got->base, &m.base), "meta differs after reopen");
    wire_free((ProtobufCMessage **)&got);
}

Test(jrn_basic, meta_get_of_unknown_partition_is_notfound, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalMeta *got = NULL;

    cr_assert_eq(jrn_meta_get(jtst_j, 2, &got), RTR_STS_NOTFOUND);
    cr_assert_null(got);
    cr_assert_eq(jrn_meta_get(jtst_j, JRN_ALL_PARTITIONS, &got), RTR_STS_NOTFOUND);
}

Test(jrn_basic, meta_with_mismatched_name_is_invarg_and_harmless, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT, *got = NULL;
    char name[] = "NOT-B", other[] = "A";
    jrn_batch_t *b = jrn_batch_new(), *keep = b;
    jrn_options_t o;
    uint64_t t = 0;
    rtr_status_t sts;

    /* The header makes a matching name a must. A mismatch stored would name a partition by
     * two ids (or one id by two names) and leave a journal that no longer opens. */
    m.partition = name;
    m.id = jtst_pb;
    m.has_epoch = 1;
    m.epoch = 9;
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_INVARG);
    cr_assert_eq(b, keep, "a refused batch stays with the caller");
    jrn_batch_free(&b);
    /* another partition's name under B's id */
    b = keep = jrn_batch_new();
    m.partition = other;
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_INVARG);
    cr_assert_eq(b, keep);
    jrn_batch_free(&b);
    /* an id no partition has */
    b = keep = jrn_batch_new();
    m.id = 7;
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_INVARG);
    jrn_batch_free(&b);

    jrn_close(&jtst_j);
    o = jtst_opts(jtst_dir, false);
    sts = jrn_open(&o, &jtst_j);
    cr_assert_eq(sts, RTR_STS_OK, "reopen after mismatched meta puts: %s", rtr_status_name(sts));
    cr_assert_eq(jrn_partition_count(jtst_j), 2);
    cr_assert_eq(jrn_meta_get(jtst_j, jtst_pb, &got), RTR_STS_OK);
    cr_assert_str_eq(got->partition, "B");
    cr_assert_eq(got->has_epoch, 0);
    wire_free((ProtobufCMessage **)&got);
}

/* ---- batches, tickets, statistics ----------------------------------------------------- */

Test(jrn_basic, submit_of_empty_batch_is_invarg, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jrn_batch_t *b = jrn_batch_new(), *keep = b;
    jrn_stats_t st0, st1;
    uint64_t t = 777;

    jrn_stats(jtst_j, &st0);
    cr_assert_eq(jrn_batch_ops(b), 0);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_INVARG);
    cr_assert_eq(b, keep, "a refused batch stays with the caller");
    cr_assert_eq(t, 777);
    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.submitted, st0.submitted, "no ticket for a refused batch");
    jrn_batch_free(&b);
}

Test(jrn_basic, submit_to_readonly_journal_is_jnlrdonly, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jrn_batch_t *b, *keep;
    jtst_rec_t r;
    uint64_t t = 0;
    Rtr__JournalRecord *got = NULL;

    jtst_put_range(jtst_pa, 1, 1);
    jtst_reopen(true);
    keep = b = jrn_batch_new();
    jtst_rec_make(&r, SEED, 2, 10);
    cr_assert_eq(jrn_batch_put(b, jtst_pa, &r.rec), RTR_STS_OK);
    cr_assert_eq(jrn_batch_delete(b, jtst_pa, 1), RTR_STS_OK);
    cr_assert_eq(jrn_batch_ops(b), 2);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_JNLRDONLY);
    cr_assert_eq(b, keep);
    jrn_batch_free(&b);
    cr_assert_eq(jrn_append(jtst_j, jtst_pa, &r.rec, &t), RTR_STS_JNLRDONLY);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 1, &got), RTR_STS_OK);
    wire_free((ProtobufCMessage **)&got);
}

Test(jrn_basic, tickets_start_at_one_and_increase_by_one, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jtst_rec_t r;
    uint64_t t = 0;
    uint32_t id;

    jtst_reopen(false);
    cr_assert_eq(jrn_partition(jtst_j, "A", &id), RTR_STS_OK); /* known: no write */
    for (uint64_t n = 1; n <= 5; n++) {
        jtst_rec_make(&r, SEED, n, 10);
        cr_assert_eq(jrn_append(jtst_j, id, &r.rec, &t), RTR_STS_OK);
        cr_assert_eq(t, n);
    }
    cr_assert_eq(jrn_wait(jtst_j, 5), RTR_STS_OK);
    cr_assert_eq(jrn_wait(jtst_j, 3), RTR_STS_OK, "an older ticket is hardened too");
}

static int
jtst_sum_bytes(void *arg, const jrn_entry_t *e)
{
    *(uint64_t *)arg += e->bytes;
    return 0;
}

Test(jrn_basic, stats_count_submissions_and_live_bytes, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    jrn_stats_t st0, st1;
    jtst_rec_t r;
    jrn_batch_t *b;
    uint64_t t = 0, first = 0, sum = 0, expect_bytes = 0;

    jrn_stats(jtst_j, &st0);
    cr_assert_eq(st0.failure, RTR_STS_OK);
    cr_assert_eq(st0.max_bytes, 0);
    cr_assert_eq(st0.hardened, st0.submitted, "partition creation waited for its ticket");
    cr_assert_eq(st0.live_records, 0);
    cr_assert_eq(st0.live_bytes, 0);
    cr_assert_eq(st0.full_refusals, 0);

    /* 10 single-put batches, waited one by one */
    for (uint64_t n = 1; n <= 10; n++) {
        jtst_rec_make(&r, SEED, n, 500);
        expect_bytes += protobuf_c_message_get_packed_size(&r.rec.base);
        cr_assert_eq(jtst_append_wait(jtst_j, jtst_pa, &r.rec, &t), RTR_STS_OK);
        if (n == 1)
            first = t;
        cr_assert_eq(t, first + n - 1);
    }
    /* and one batch of 3 operations */
    b = jrn_batch_new();
    jtst_rec_make(&r, SEED, 11, 500);
    expect_bytes += protobuf_c_message_get_packed_size(&r.rec.base);
    cr_assert_eq(jrn_batch_put(b, jtst_pb, &r.rec), RTR_STS_OK);
    jtst_rec_make(&r, SEED, 12, 500);
    expect_bytes += protobuf_c_message_get_packed_size(&r.rec.base);
    cr_assert_eq(jrn_batch_put(b, jtst_pb, &r.rec), RTR_STS_OK);
    cr_assert_eq(jrn_batch_set_state(b, jtst_pb, 12, RTR__TX_STATE__TX_ABORT, 0), RTR_STS_OK);
    cr_assert_eq(jrn_batch_ops(b), 3);
    cr_assert_eq(jrn_submit(jtst_j, &b, &t), RTR_STS_OK);
    cr_assert_null(b);
    cr_assert_eq(t, first + 10);
    cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_OK);

    jrn_stats(jtst_j, &st1);
    cr_assert_eq(st1.submitted - st0.submitted, 11);
    cr_assert_eq(st1.submitted, t);
    cr_assert_eq(st1.hardened, t);
    cr_assert_eq(st1.batches - st0.batches, 11);
    cr_assert_eq(st1.ops - st0.ops, 13);
    cr_assert_geq(st1.flushes - st0.flushes, 1);
    cr_assert_leq(st1.flushes - st0.flushes, 11);
    cr_assert_eq(st1.live_records, 12);
    cr_assert_eq(jrn_scan(jtst_j, JRN_ALL_PARTITIONS, 0, UINT64_MAX, jtst_sum_bytes, &sum),
                 RTR_STS_OK);
    cr_assert_eq(st1.live_bytes, sum, "live_bytes is the sum of the records' encoded sizes");
    /* ABORT (3) and VOTED (1) encode in one byte each: the size is what was put */
    cr_assert_eq(st1.live_bytes, expect_bytes);
    cr_assert_eq(st1.full_refusals, 0);
    cr_assert_eq(st1.failure, RTR_STS_OK);

    jtst_reopen(false);
    jrn_stats(jtst_j, &st0);
    cr_assert_eq(st0.live_records, 12, "counted at open");
    cr_assert_eq(st0.live_bytes, sum);
}

Test(jrn_basic, batch_ops_counts_operations, .init = jtst_basic_setup, .fini = jtst_basic_teardown)
{
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT;
    jrn_batch_t *b = jrn_batch_new();
    char name[] = "A";
    jtst_rec_t r;

    jtst_rec_make(&r, SEED, 1, 10);
    m.partition = name;
    m.id = jtst_pa;
    cr_assert_eq(jrn_batch_ops(b), 0);
    cr_assert_eq(jrn_batch_put(b, jtst_pa, &r.rec), RTR_STS_OK);
    cr_assert_eq(jrn_batch_set_state(b, jtst_pa, 1, RTR__TX_STATE__TX_DONE, 0), RTR_STS_OK);
    cr_assert_eq(jrn_batch_put_meta(b, &m), RTR_STS_OK);
    cr_assert_eq(jrn_batch_delete(b, jtst_pa, 1), RTR_STS_OK);
    cr_assert_eq(jrn_batch_ops(b), 4);
    /* operations apply in order: put, state, meta, delete */
    cr_assert_eq(jtst_submit_wait(&b), RTR_STS_OK);
    Rtr__JournalRecord *got = NULL;
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 1, &got), RTR_STS_NOTFOUND);
}

Test(jrn_basic, checkpoints_after_checkpoint_mb_of_log, .init = jtst_dir_only,
     .fini = jtst_basic_teardown)
{
    jrn_options_t o = jtst_opts(jtst_dir, false);
    jrn_stats_t st;
    jtst_rec_t r;
    uint64_t t = 0;
    uint32_t p;

    o.checkpoint_mb = 1;
    cr_assert_eq(jrn_open(&o, &jtst_j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(jtst_j, "A", &p), RTR_STS_OK);
    /* 800 records of 2,000 bytes: more than 1 MiB of log */
    for (uint64_t n = 1; n <= 800; n++) {
        jtst_rec_sized(&r, SEED, n, JTST_BODY_MAX);
        cr_assert_eq(jrn_append(jtst_j, p, &r.rec, &t), RTR_STS_OK);
    }
    cr_assert_eq(jrn_wait(jtst_j, t), RTR_STS_OK);
    /* Checkpoints run beside the writer and signal nothing: watch the counter against a
     * generous deadline (poll is the clock; the test passes as soon as it moves). */
    struct timespec deadline = jtst_deadline(20000);
    jrn_stats(jtst_j, &st);
    while (st.checkpoints == 0 && jtst_ms_left(&deadline) > 0) {
        poll(NULL, 0, 10);
        jrn_stats(jtst_j, &st);
    }
    cr_assert_geq(st.checkpoints, 1, "no checkpoint after %llu bytes of records",
                  (unsigned long long)st.live_bytes);
    cr_assert_eq(st.failure, RTR_STS_OK);
}

/* Store `val` under records key (part, n) with BDB itself, behind the journal's back. The
 * database file name (records.db) is the implementation's; the key layout is jrn.h's. */
static void
jtst_poke_record(const char *dir, uint32_t part, uint64_t n, const void *val, size_t len)
{
    uint8_t k[12];
    DB_ENV *env = NULL;
    DB *db = NULL;
    DBT key, data;

    cmn_put_be32(k, part);
    cmn_put_be64(k + 4, n);
    memset(&key, 0, sizeof key);
    memset(&data, 0, sizeof data);
    key.data = k;
    key.size = sizeof k;
    data.data = (void *)(uintptr_t)val;
    data.size = (uint32_t)len;
    cr_assert_eq(db_env_create(&env, 0), 0);
    cr_assert_eq(
        env->open(env, dir,
                  DB_CREATE | DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL | DB_RECOVER,
                  0600),
        0);
    cr_assert_eq(db_create(&db, env, 0), 0);
    cr_assert_eq(db->set_flags(db, DB_CHKSUM), 0);
    cr_assert_eq(db->open(db, NULL, "records.db", NULL, DB_BTREE, DB_AUTO_COMMIT, 0600), 0,
                 "the test assumes the records database lives in records.db");
    cr_assert_eq(db->put(db, NULL, &key, &data, DB_AUTO_COMMIT), 0);
    cr_assert_eq(db->close(db, 0), 0);
    cr_assert_eq(env->close(env, 0), 0);
}

Test(jrn_basic, scan_and_get_of_undecodable_record_are_jnlcorrupt, .init = jtst_basic_setup,
     .fini = jtst_basic_teardown)
{
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x07, 0x01 };
    Rtr__JournalRecord *got = NULL;
    jtst_scan_t s = { 0 };

    jtst_put_range(jtst_pa, 1, 4);
    jrn_close(&jtst_j);
    jtst_poke_record(jtst_dir, jtst_pa, 3, junk, sizeof junk);
    jtst_reopen(true);
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 3, &got), RTR_STS_JNLCORRUPT);
    cr_assert_null(got);
    cr_assert_eq(jrn_scan(jtst_j, jtst_pa, 0, UINT64_MAX, jtst_collect, &s), RTR_STS_JNLCORRUPT);
    cr_assert_leq(s.len, 2, "records after the damaged one were reported");
    jtst_scan_free(&s);
    /* the neighbours still read */
    cr_assert_eq(jrn_get(jtst_j, jtst_pa, 4, &got), RTR_STS_OK);
    wire_free((ProtobufCMessage **)&got);
}
