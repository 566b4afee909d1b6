/*
 * sim_check_test.c - the checker and the store model on their own: each invariant of
 * sim_check.c fires on a hand-made history that breaks it and stays quiet on a good one; the
 * store model keeps writes in ticket order, loses nothing durable in a crash, and the broken
 * store rolls back acknowledged writes.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sim.h"

static uint8_t sim_tst_uuid[16] = { 1, 2, 3 };

typedef struct {
    Rtr__RegisterValue v;
    Rtr__PartitionRole role;
    Rtr__PartitionRole *roles[1];
    char *in_sync[2];
} sim_tst_value_t;

/* a value of one partition P1 */
static Rtr__RegisterValue *
sim_tst_value(sim_tst_value_t *t, uint64_t version, uint64_t epoch, const char *primary,
              const char *second, const char *partner)
{
    rtr__register_value__init(&t->v);
    rtr__partition_role__init(&t->role);
    t->v.version = version;
    t->v.facility = (char *)(uintptr_t) "SIM";
    t->v.facility_uuid.data = sim_tst_uuid;
    t->v.facility_uuid.len = sizeof sim_tst_uuid;
    t->role.partition = (char *)(uintptr_t) "P1";
    t->role.epoch = epoch;
    t->role.primary = (char *)(uintptr_t)primary;
    t->in_sync[0] = (char *)(uintptr_t)primary;
    t->in_sync[1] = (char *)(uintptr_t)second;
    t->role.in_sync = t->in_sync;
    t->role.n_in_sync = second ? 2 : 1;
    t->role.partner = (char *)(uintptr_t)partner;
    t->roles[0] = &t->role;
    t->v.partitions = t->roles;
    t->v.n_partitions = 1;
    return &t->v;
}

Test(sim_check, a_good_chain_passes_and_names_its_changes)
{
    sim_check_t *c = NULL;
    sim_tst_value_t a, b, d, e, f;
    uint64_t kinds[5];

    cr_assert_eq(sim_check_new(&c), RTR_STS_OK);
    sim_check_committed(c, "r1", sim_tst_value(&a, 1, 1, "be1", "be2", "be2"));
    sim_check_committed(c, "r2", sim_tst_value(&a, 1, 1, "be1", "be2", "be2")); /* again */
    sim_check_committed(c, "r1", sim_tst_value(&b, 2, 2, "be1", NULL, "be2"));  /* SHRINK */
    /* reported out of order: version 4 before 3 */
    sim_check_committed(c, "r3", sim_tst_value(&e, 4, 4, "be2", NULL, "be1"));  /* PROMOTE */
    sim_check_committed(c, "r2", sim_tst_value(&d, 3, 3, "be1", "be2", "be2")); /* ADD */
    sim_check_committed(c, "r2", sim_tst_value(&f, 5, 5, "be2", NULL, "be1"));  /* RESUME */
    cr_assert(!sim_check_failed(c), "%s: %s", sim_check_invariant(c), sim_check_detail(c));
    cr_assert_eq(sim_check_max_version(c), 5);
    cr_assert_str_eq(sim_check_primary(c, "P1", 3), "be1");
    cr_assert_str_eq(sim_check_primary(c, "P1", 4), "be2");
    cr_assert_null(sim_check_primary(c, "P1", 6));
    sim_check_kinds(c, kinds);
    cr_assert_eq(kinds[0], 1);
    cr_assert_eq(kinds[1], 1);
    cr_assert_eq(kinds[2], 1);
    cr_assert_eq(kinds[3], 1);
    cr_assert_eq(kinds[4], 0);
    sim_check_free(&c);
    cr_assert_null(c);
}

Test(sim_check, two_values_for_one_version)
{
    sim_check_t *c = NULL;
    sim_tst_value_t a, b;

    cr_assert_eq(sim_check_new(&c), RTR_STS_OK);
    sim_check_committed(c, "r1", sim_tst_value(&a, 3, 3, "be1", "be2", "be2"));
    sim_check_committed(c, "r2", sim_tst_value(&b, 3, 3, "be1", NULL, "be2"));
    cr_assert(sim_check_failed(c));
    cr_assert_str_eq(sim_check_invariant(c), "1-one-value-per-version");
    sim_check_free(&c);
}

Test(sim_check, an_epoch_that_jumps_breaks_the_chain)
{
    sim_check_t *c = NULL;
    sim_tst_value_t a, b;

    cr_assert_eq(sim_check_new(&c), RTR_STS_OK);
    sim_check_committed(c, "r1", sim_tst_value(&a, 7, 3, "be1", "be2", "be2"));
    sim_check_committed(c, "r1", sim_tst_value(&b, 8, 5, "be1", "be2", "be2"));
    cr_assert_str_eq(sim_check_invariant(c), "2-chain");
    sim_check_free(&c);
}

Test(sim_check, a_promotion_from_outside_the_in_sync_set_breaks_the_chain)
{
    sim_check_t *c = NULL;
    sim_tst_value_t a, b;

    cr_assert_eq(sim_check_new(&c), RTR_STS_OK);
    sim_check_committed(c, "r1", sim_tst_value(&a, 7, 3, "be1", NULL, "be2")); /* REMEMBER */
    sim_check_committed(c, "r1", sim_tst_value(&b, 8, 4, "be2", NULL, "be1")); /* not FORCE */
    cr_assert_str_eq(sim_check_invariant(c), "2-chain");
    sim_check_free(&c);
}

Test(sim_check, two_primaries_in_one_epoch)
{
    sim_check_t *c = NULL;
    sim_tst_value_t a, b;

    cr_assert_eq(sim_check_new(&c), RTR_STS_OK);
    /* versions far apart: no chain link between them, only the epoch rule sees it */
    sim_check_committed(c, "r1", sim_tst_value(&a, 4, 9, "be1", "be2", "be2"));
    sim_check_committed(c, "r3", sim_tst_value(&b, 9, 9, "be2", NULL, "be1"));
    cr_assert_str_eq(sim_check_invariant(c), "3-one-primary-per-epoch");
    sim_check_free(&c);
}

Test(sim_check, only_the_first_violation_is_kept)
{
    sim_check_t *c = NULL;

    cr_assert_eq(sim_check_new(&c), RTR_STS_OK);
    cr_assert_str_eq(sim_check_invariant(c), "");
    sim_check_fail(c, "first", "a %d", 1);
    sim_check_fail(c, "second", "b %d", 2);
    cr_assert_str_eq(sim_check_invariant(c), "first");
    cr_assert_str_eq(sim_check_detail(c), "a 1");
    sim_check_free(&c);
    sim_check_free(NULL);
}

static uint8_t *
sim_tst_state(uint64_t promised, uint64_t version, bool learner, size_t *len)
{
    Rtr__AcceptorState st = RTR__ACCEPTOR_STATE__INIT;
    sim_tst_value_t t;
    uint8_t *buf = NULL;

    st.has_promised = true;
    st.promised = promised;
    st.has_learner = learner;
    st.learner = learner;
    if (version)
        st.value = sim_tst_value(&t, version, version, "be1", "be2", "be2");
    cr_assert_eq(wire_encode(&st.base, 0, &buf, len), RTR_STS_OK);
    return buf;
}

Test(sim_store, writes_keep_ticket_order_and_the_broken_store_forgets)
{
    sim_store_t s;
    Rtr__AcceptorState *st = NULL;
    size_t len;

    memset(&s, 0, sizeof s);
    cr_assert_eq(sim_store_load(&s, &st), RTR_STS_OK);
    cr_assert_null(st, "an empty store loads as NULL");
    cr_assert(!s.voter);

    uint64_t d1 = sim_store_due(&s, 1000, 3000);
    uint64_t d2 = sim_store_due(&s, 1100, 200); /* issued later, faster disk: still after */
    cr_assert_eq(d1, 4000);
    cr_assert_gt(d2, d1);

    for (uint64_t v = 1; v <= 5; v++) {
        uint8_t *b = sim_tst_state(10 * v, v, false, &len);
        sim_store_durable(&s, b, len);
    }
    cr_assert(s.voter);
    cr_assert_eq(s.version, 5);
    cr_assert_eq(s.writes, 5);
    sim_store_crash(&s); /* a correct store keeps what was durable */
    cr_assert_eq(sim_store_load(&s, &st), RTR_STS_OK);
    cr_assert_not_null(st);
    cr_assert_eq(st->promised, 50);
    wire_free((ProtobufCMessage **)&st);

    sim_store_amnesia(&s, 2); /* the lying disk: two acknowledged writes gone */
    cr_assert_eq(s.version, 3);
    sim_store_amnesia(&s, 10); /* past its history: empty */
    cr_assert_null(s.durable);
    cr_assert(!s.voter);

    uint8_t *b = sim_tst_state(7, 0, true, &len);
    sim_store_durable(&s, b, len);
    cr_assert(!s.voter, "a learner's state does not vote");
    sim_store_wipe(&s);
    cr_assert_null(s.durable);
    sim_store_clear(&s);
}
