/*
 * sim_sched.h - the simulator's clock and randomness (docs/shadow-protocol.md §8.1): a
 * deterministic PRNG split into named sub-streams, and an event heap ordered by virtual time.
 *
 * PRNG: xoshiro256** seeded through splitmix64. A world owns one generator per stream
 * (network, faults, requests, clocks, ...), each seeded from (seed, stream id), so drawing more
 * numbers in one stream never reshuffles another: adding a message does not move the faults.
 *
 * Scheduler: events are ordered by (virtual time in µs, a tie-break drawn from the scheduler's
 * own stream, insertion sequence). The tie-break makes the order of simultaneous events a
 * function of the seed (so seeds explore different interleavings of the same instant) and the
 * sequence makes the order total. Popping an event advances the virtual clock to its time;
 * time never goes back.
 *
 * Ownership: an event's `data` (malloc'd) is owned by the scheduler from a successful
 * sim_sched_at until sim_sched_pop hands it to the caller (who frees it); sim_sched_free frees
 * the data of every event still pending.
 *
 * Thread rule: one thread per world; nothing here is shared between worlds.
 */
#ifndef SIM_SCHED_H
#define SIM_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtr_status.h"

/* ---- PRNG ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t s[4];
} sim_rng_t;

/* The named sub-streams of a world. Append only: renumbering reshuffles every seed. */
typedef enum {
    SIM_RNG_NET = 1,      /* delays, loss, duplication */
    SIM_RNG_FAULTS = 2,   /* crashes, wipes, partitions, resets, pauses */
    SIM_RNG_REQUESTS = 3, /* what the fake requesters ask and when */
    SIM_RNG_CLOCKS = 4,   /* clock rates and offsets of the nodes */
    SIM_RNG_SCHED = 5,    /* tie-breaks of simultaneous events */
    SIM_RNG_CORES = 6,    /* seeds handed to the cores (back-off jitter) */
    SIM_RNG_STORE = 7,    /* store write latencies */
} sim_stream_t;

/* sim_rng_init - seed stream `stream` of world seed `seed`. */
void sim_rng_init(sim_rng_t *r, uint64_t seed, uint64_t stream);

/* sim_rng_next - the next 64 random bits. */
uint64_t sim_rng_next(sim_rng_t *r);

/* sim_rng_below - uniform in [0, n); n == 0 gives 0. Unbiased (rejection). */
uint64_t sim_rng_below(sim_rng_t *r, uint64_t n);

/* sim_rng_range - uniform in [lo, hi] (inclusive); hi < lo gives lo. */
uint64_t sim_rng_range(sim_rng_t *r, uint64_t lo, uint64_t hi);

/* sim_rng_chance - true with probability ppm / 1,000,000. */
bool sim_rng_chance(sim_rng_t *r, uint32_t ppm);

/* ---- scheduler ------------------------------------------------------------------------- */

/* One event. The scheduler fills at_us, tie and seq; the rest is the world's. */
typedef struct {
    uint64_t at_us; /* virtual time */
    uint64_t tie;   /* seeded tie-break */
    uint64_t seq;   /* insertion order */
    int kind;       /* the world's event kind */
    uint32_t a, b;  /* e.g. from, to */
    uint64_t gen;   /* e.g. the generation an event belongs to (stale ones are ignored) */
    uint64_t x;     /* a free argument (a ticket, a request id) */
    uint8_t *data;  /* owned payload (free()), or NULL */
    size_t len;
} sim_event_t;

typedef struct sim_sched sim_sched_t;

/* sim_sched_new - an empty scheduler at time 0 whose tie-breaks come from stream SIM_RNG_SCHED
 * of `seed`. RTR_STS_NOMEM. *out owned by the caller (sim_sched_free). */
rtr_status_t sim_sched_new(uint64_t seed, sim_sched_t **out);

/* sim_sched_free - free the scheduler and every pending event's data; NULL the pointer. Accepts
 * NULL and &NULL. */
void sim_sched_free(sim_sched_t **s);

/* sim_sched_now - the virtual time of the last popped event (0 before any). */
uint64_t sim_sched_now(const sim_sched_t *s);

/* sim_sched_at - schedule a copy of *ev at at_us (clamped to now: never in the past).
 * ev->data is consumed on success only. RTR_STS_NOMEM (nothing consumed). */
rtr_status_t sim_sched_at(sim_sched_t *s, uint64_t at_us, const sim_event_t *ev);

/* sim_sched_pop - the earliest event into *out (its data now owned by the caller) and advance
 * the clock to it; false when nothing is pending. */
bool sim_sched_pop(sim_sched_t *s, sim_event_t *out);

/* sim_sched_pending - the number of pending events. */
size_t sim_sched_pending(const sim_sched_t *s);

#endif /* SIM_SCHED_H */
