/*
 * sim_sched_test.c - the simulator's framework is deterministic: PRNG streams, the event heap
 * and the network give the same sequence for the same seed, and streams are independent.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sim_net.h"
#include "sim_sched.h"

Test(sim_rng, same_seed_same_sequence_other_seed_or_stream_differs)
{
    sim_rng_t a, b, c, d;
    int same_c = 0, same_d = 0;

    sim_rng_init(&a, 42, SIM_RNG_NET);
    sim_rng_init(&b, 42, SIM_RNG_NET);
    sim_rng_init(&c, 43, SIM_RNG_NET);
    sim_rng_init(&d, 42, SIM_RNG_FAULTS);
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sim_rng_next(&a);
        cr_assert_eq(x, sim_rng_next(&b), "draw %d", i);
        same_c += x == sim_rng_next(&c);
        same_d += x == sim_rng_next(&d);
    }
    cr_expect_eq(same_c, 0);
    cr_expect_eq(same_d, 0);
}

Test(sim_rng, streams_do_not_reshuffle_each_other)
{
    sim_rng_t n1, f1, n2, f2;

    sim_rng_init(&n1, 7, SIM_RNG_NET);
    sim_rng_init(&f1, 7, SIM_RNG_FAULTS);
    sim_rng_init(&n2, 7, SIM_RNG_NET);
    sim_rng_init(&f2, 7, SIM_RNG_FAULTS);
    /* world 2 draws 500 more network numbers in between: its faults are unchanged */
    for (int i = 0; i < 500; i++)
        (void)sim_rng_next(&n2);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(sim_rng_next(&f1), sim_rng_next(&f2));
    (void)n1;
}

Test(sim_rng, below_and_range_stay_in_bounds_and_cover_them)
{
    sim_rng_t r;
    int seen[7] = { 0 };

    sim_rng_init(&r, 1, SIM_RNG_REQUESTS);
    for (int i = 0; i < 7000; i++) {
        uint64_t v = sim_rng_range(&r, 3, 9);
        cr_assert(v >= 3 && v <= 9, "%llu", (unsigned long long)v);
        seen[v - 3]++;
    }
    for (int i = 0; i < 7; i++)
        cr_expect_gt(seen[i], 800, "value %d seen %d times", i + 3, seen[i]);
    cr_expect_eq(sim_rng_below(&r, 0), 0);
    cr_expect_eq(sim_rng_below(&r, 1), 0);
    cr_expect_eq(sim_rng_range(&r, 5, 5), 5);
    cr_expect_eq(sim_rng_range(&r, 6, 5), 6);
    cr_expect(!sim_rng_chance(&r, 0));
    cr_expect(sim_rng_chance(&r, 1000000));
}

/* pop everything; return a digest of (time, a, x) in pop order */
static uint64_t
sim_tst_drain(sim_sched_t *s, size_t *n, uint64_t *last_t)
{
    sim_event_t ev;
    uint64_t h = 1469598103934665603ull, prev = 0;

    *n = 0;
    while (sim_sched_pop(s, &ev)) {
        cr_assert_geq(ev.at_us, prev, "time went back");
        cr_assert_eq(sim_sched_now(s), ev.at_us);
        prev = ev.at_us;
        h = (h ^ ev.at_us) * 1099511628211ull;
        h = (h ^ ev.a) * 1099511628211ull;
        h = (h ^ ev.x) * 1099511628211ull;
        free(ev.data);
        (*n)++;
    }
    *last_t = prev;
    return h;
}

static uint64_t
sim_tst_sched_run(uint64_t seed, size_t *n, uint64_t *last)
{
    sim_sched_t *s = NULL;
    sim_rng_t r;
    sim_event_t ev;

    cr_assert_eq(sim_sched_new(seed, &s), RTR_STS_OK);
    sim_rng_init(&r, 99, SIM_RNG_REQUESTS);
    memset(&ev, 0, sizeof ev);
    for (uint32_t i = 0; i < 2000; i++) {
        ev.a = i;
        ev.x = i * 3;
        /* many events share a time: the seeded tie-break orders them */
        cr_assert_eq(sim_sched_at(s, sim_rng_below(&r, 50) * 10, &ev), RTR_STS_OK);
    }
    uint64_t h = sim_tst_drain(s, n, last);
    sim_sched_free(&s);
    cr_assert_null(s);
    return h;
}

Test(sim_sched, same_seed_same_order_other_seed_other_ties)
{
    size_t n1, n2, n3;
    uint64_t l1, l2, l3;
    uint64_t h1 = sim_tst_sched_run(5, &n1, &l1);
    uint64_t h2 = sim_tst_sched_run(5, &n2, &l2);
    uint64_t h3 = sim_tst_sched_run(6, &n3, &l3);

    cr_assert_eq(n1, 2000);
    cr_assert_eq(n2, 2000);
    cr_assert_eq(h1, h2);
    cr_assert_eq(l1, 490);
    cr_expect_neq(h1, h3, "simultaneous events keep one order whatever the seed");
}

Test(sim_sched, past_is_clamped_and_pending_data_is_freed)
{
    sim_sched_t *s = NULL;
    sim_event_t ev, out;

    cr_assert_eq(sim_sched_new(1, &s), RTR_STS_OK);
    memset(&ev, 0, sizeof ev);
    cr_assert_eq(sim_sched_at(s, 1000, &ev), RTR_STS_OK);
    cr_assert(sim_sched_pop(s, &out));
    cr_assert_eq(sim_sched_now(s), 1000);
    cr_assert_eq(sim_sched_at(s, 10, &ev), RTR_STS_OK);
    cr_assert(sim_sched_pop(s, &out));
    cr_assert_eq(out.at_us, 1000, "an event in the past happens now");
    cr_assert(!sim_sched_pop(s, &out));
    ev.data = malloc(10); /* freed by sim_sched_free (LeakSanitizer would say otherwise) */
    ev.len = 10;
    cr_assert_eq(sim_sched_at(s, 2000, &ev), RTR_STS_OK);
    cr_assert_eq(sim_sched_pending(s), 1);
    sim_sched_free(&s);
    sim_sched_free(&s);
    sim_sched_free(NULL);
}

/* one network run: node 0 sends 500 frames to node 1 over a lossy, duplicating link; returns a
 * digest of what arrives when */
static uint64_t
sim_tst_net_run(uint64_t seed, sim_net_counters_t *ctr)
{
    sim_sched_t *s = NULL;
    sim_net_t *net = NULL;
    sim_event_t ev;
    uint64_t h = 1469598103934665603ull;

    cr_assert_eq(sim_sched_new(seed, &s), RTR_STS_OK);
    cr_assert_eq(sim_net_new(3, seed, s, 1, &net), RTR_STS_OK);
    sim_net_set_link(net, 0, 1, 100000, 50000);
    for (uint32_t i = 0; i < 500; i++) {
        uint8_t frame[4] = { (uint8_t)i, (uint8_t)(i >> 8), 0, 0 };
        cr_assert_eq(sim_net_send(net, 0, 1, frame, sizeof frame, false), RTR_STS_OK);
    }
    while (sim_sched_pop(s, &ev)) {
        cr_assert_eq(ev.kind, 1);
        if (sim_net_accept(net, &ev)) {
            cr_assert_eq(ev.len, 4);
            h = (h ^ ev.at_us) * 1099511628211ull;
            h = (h ^ ev.data[0]) * 1099511628211ull;
        }
        free(ev.data);
    }
    *ctr = *sim_net_counters(net);
    sim_net_free(&net);
    sim_sched_free(&s);
    return h;
}

Test(sim_net, same_seed_same_deliveries)
{
    sim_net_counters_t a, b;

    cr_assert_eq(sim_tst_net_run(11, &a), sim_tst_net_run(11, &b));
    cr_assert_eq(a.sent, 500);
    cr_assert_eq(a.lost, b.lost);
    cr_assert_eq(a.duplicated, b.duplicated);
    cr_expect(a.lost > 20 && a.lost < 90, "10%% loss of 500: %llu", (unsigned long long)a.lost);
    cr_expect(a.duplicated > 5 && a.duplicated < 50, "%llu", (unsigned long long)a.duplicated);
    cr_assert_eq(a.delivered, 500 - a.lost + a.duplicated);
}

Test(sim_net, reset_drops_in_flight_and_partition_cuts_both_ways)
{
    sim_sched_t *s = NULL;
    sim_net_t *net = NULL;
    sim_event_t ev;
    uint8_t f = 7;
    size_t arrived = 0;

    cr_assert_eq(sim_sched_new(3, &s), RTR_STS_OK);
    cr_assert_eq(sim_net_new(3, 3, s, 1, &net), RTR_STS_OK);
    cr_assert_eq(sim_net_send(net, 0, 1, &f, 1, false), RTR_STS_OK);
    cr_assert_eq(sim_net_send(net, 1, 0, &f, 1, false), RTR_STS_OK);
    sim_net_reset_node(net, 1); /* both frames were in flight on links of node 1 */
    cr_assert_eq(sim_net_send(net, 2, 0, &f, 1, false), RTR_STS_OK);
    while (sim_sched_pop(s, &ev)) {
        arrived += sim_net_accept(net, &ev);
        free(ev.data);
    }
    cr_assert_eq(arrived, 1);
    cr_assert_eq(sim_net_counters(net)->reset, 2);

    /* node 2 cut off for 1 s: nothing crosses, 0 <-> 1 still works, loopback is reliable */
    sim_net_partition(net, 1u << 2, sim_sched_now(s) + 1000000);
    cr_assert(sim_net_cut(net, 2, 0));
    cr_assert(sim_net_cut(net, 1, 2));
    cr_assert(!sim_net_cut(net, 0, 1));
    cr_assert_eq(sim_net_send(net, 2, 0, &f, 1, false), RTR_STS_OK);
    cr_assert_eq(sim_net_send(net, 0, 2, &f, 1, false), RTR_STS_OK);
    cr_assert_eq(sim_net_send(net, 0, 1, &f, 1, false), RTR_STS_OK);
    cr_assert_eq(sim_net_send(net, 2, 2, &f, 1, true), RTR_STS_OK);
    arrived = 0;
    while (sim_sched_pop(s, &ev)) {
        arrived += sim_net_accept(net, &ev);
        free(ev.data);
    }
    cr_assert_eq(arrived, 2);
    cr_assert_eq(sim_net_counters(net)->cut, 2);
    cr_assert_eq(sim_net_send(net, 0, 3, &f, 1, false), RTR_STS_INVARG);
    sim_net_free(&net);
    sim_sched_free(&s);
}
