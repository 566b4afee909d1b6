/*
 * sim_sched.c - PRNG streams and the event heap of the simulator.
 *
 * Design note: the heap is a plain binary min-heap of event values (no pointers into it survive
 * a push or pop), ordered by (at_us, tie, seq). Nothing here reads a clock or the address of
 * anything, so the order of events is a function of the seed and of the calls alone.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_sched.h"

/* splitmix64: the recommended way to expand one 64-bit seed into xoshiro's 256 bits. */
static uint64_t
sim_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
sim_rng_init(sim_rng_t *r, uint64_t seed, uint64_t stream)
{
    /* the stream id goes through its own mixing step so streams of neighbouring seeds differ */
    uint64_t x = stream * 0xd1342543de82ef95ull;
    uint64_t k = sim_splitmix64(&x) ^ seed;

    for (int i = 0; i < 4; i++)
        r->s[i] = sim_splitmix64(&k);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) /* the one state xoshiro cannot leave */
        r->s[0] = 1;
}

uint64_t
sim_rng_next(sim_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return out;
}

uint64_t
sim_rng_below(sim_rng_t *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* reject the top partial block so every residue is equally likely */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;
    do {
        v = sim_rng_next(r);
    } while (v >= limit);
    return v % n;
}

uint64_t
sim_rng_range(sim_rng_t *r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    if (lo == 0 && hi == UINT64_MAX)
        return sim_rng_next(r);
    return lo + sim_rng_below(r, hi - lo + 1);
}

bool
sim_rng_chance(sim_rng_t *r, uint32_t ppm)
{
    return sim_rng_below(r, 1000000) < ppm;
}

/* ---- the heap ------------------------------------------------------------------------- */

struct sim_sched {
    sim_rng_t rng;
    uint64_t now;
    uint64_t seq;
    sim_event_t *heap;
    size_t n, cap;
};

rtr_status_t
sim_sched_new(uint64_t seed, sim_sched_t **out)
{
    sim_sched_t *s = calloc(1, sizeof *s);

    *out = NULL;
    if (s == NULL)
        return RTR_STS_NOMEM;
    sim_rng_init(&s->rng, seed, SIM_RNG_SCHED);
    *out = s;
    return RTR_STS_OK;
}

void
sim_sched_free(sim_sched_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    sim_sched_t *s = *sp;
    for (size_t i = 0; i < s->n; i++)
        free(s->heap[i].data);
    free(s->heap);
    free(s);
    *sp = NULL;
}

uint64_t
sim_sched_now(const sim_sched_t *s)
{
    return s->now;
}

size_t
sim_sched_pending(const sim_sched_t *s)
{
    return s->n;
}

static bool
sim_ev_before(const sim_event_t *a, const sim_event_t *b)
{
    if (a->at_us != b->at_us)
        return a->at_us < b->at_us;
    if (a->tie != b->tie)
        return a->tie < b->tie;
    return a->seq < b->seq;
}

static void
sim_ev_swap(sim_event_t *a, sim_event_t *b)
{
    sim_event_t t = *a;
    *a = *b;
    *b = t;
}

rtr_status_t
sim_sched_at(sim_sched_t *s, uint64_t at_us, const sim_event_t *ev)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        sim_event_t *h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL)
            return RTR_STS_NOMEM;
        s->heap = h;
        s->cap = cap;
    }
    size_t i = s->n++;
    s->heap[i] = *ev;
    s->heap[i].at_us = at_us < s->now ? s->now : at_us;
    s->heap[i].tie = sim_rng_next(&s->rng);
    s->heap[i].seq = s->seq++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!sim_ev_before(&s->heap[i], &s->heap[p]))
            break;
        sim_ev_swap(&s->heap[i], &s->heap[p]);
        i = p;
    }
    return RTR_STS_OK;
}

bool
sim_sched_pop(sim_sched_t *s, sim_event_t *out)
{
    if (s->n == 0)
        return false;
    *out = s->heap[0];
    s->heap[0] = s->heap[--s->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && sim_ev_before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n && sim_ev_before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        sim_ev_swap(&s->heap[i], &s->heap[m]);
        i = m;
    }
    s->now = out->at_us;
    return true;
}
