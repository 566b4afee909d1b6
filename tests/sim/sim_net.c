/*
 * sim_net.c - directed lossy links over the scheduler.
 *
 * Design note: a frame's fate (lost, duplicated, its delay) is drawn at send time from the
 * net's own stream, in a fixed order per send, so the network's randomness does not depend on
 * anything but the sequence of sends. Whether it still arrives (link reset, partition) is
 * decided at delivery, as on a real link where a connection can die with frames queued.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_net.h"

typedef struct {
    uint32_t loss_ppm;
    uint32_t dup_ppm;
    uint64_t gen;
} sim_link_t;

struct sim_net {
    size_t n;
    sim_sched_t *sched;
    int kind;
    sim_rng_t rng;
    sim_link_t *links; /* n * n, [from * n + to] */
    uint64_t cut_mask;
    uint64_t cut_until;
    sim_net_counters_t ctr;
};

rtr_status_t
sim_net_new(size_t nnodes, uint64_t seed, sim_sched_t *sched, int deliver_kind, sim_net_t **out)
{
    *out = NULL;
    if (nnodes == 0 || nnodes > SIM_NET_MAXNODES || sched == NULL)
        return RTR_STS_INVARG;
    sim_net_t *net = calloc(1, sizeof *net);
    if (net == NULL)
        return RTR_STS_NOMEM;
    net->links = calloc(nnodes * nnodes, sizeof *net->links);
    if (net->links == NULL) {
        free(net);
        return RTR_STS_NOMEM;
    }
    net->n = nnodes;
    net->sched = sched;
    net->kind = deliver_kind;
    sim_rng_init(&net->rng, seed, SIM_RNG_NET);
    *out = net;
    return RTR_STS_OK;
}

void
sim_net_free(sim_net_t **np)
{
    if (np == NULL || *np == NULL)
        return;
    free((*np)->links);
    free(*np);
    *np = NULL;
}

void
sim_net_set_link(sim_net_t *net, size_t from, size_t to, uint32_t loss_ppm, uint32_t dup_ppm)
{
    if (from >= net->n || to >= net->n)
        return;
    net->links[from * net->n + to].loss_ppm = loss_ppm;
    net->links[from * net->n + to].dup_ppm = dup_ppm;
}

bool
sim_net_cut(const sim_net_t *net, size_t a, size_t b)
{
    if (sim_sched_now(net->sched) >= net->cut_until)
        return false;
    return ((net->cut_mask >> a) & 1u) != ((net->cut_mask >> b) & 1u);
}

/* sim_net_delay - one frame's delay in µs: uniform 0.1..5 ms, 1 in 50 stretched up to 20x. */
static uint64_t
sim_net_delay(sim_net_t *net)
{
    uint64_t d = sim_rng_range(&net->rng, 100, 5000);
    if (sim_rng_chance(&net->rng, 20000))
        d *= sim_rng_range(&net->rng, 2, 20);
    return d;
}

static rtr_status_t
sim_net_queue(sim_net_t *net, size_t from, size_t to, const uint8_t *frame, size_t len, uint64_t at)
{
    sim_event_t ev;
    rtr_status_t st;

    memset(&ev, 0, sizeof ev);
    ev.kind = net->kind;
    ev.a = (uint32_t)from;
    ev.b = (uint32_t)to;
    ev.gen = net->links[from * net->n + to].gen;
    ev.len = len;
    ev.data = malloc(len ? len : 1);
    if (ev.data == NULL)
        return RTR_STS_NOMEM;
    if (len)
        memcpy(ev.data, frame, len);
    st = sim_sched_at(net->sched, at, &ev);
    if (st != RTR_STS_OK)
        free(ev.data);
    return st;
}

rtr_status_t
sim_net_send(sim_net_t *net, size_t from, size_t to, const uint8_t *frame, size_t len,
             bool reliable)
{
    uint64_t now = sim_sched_now(net->sched);

    if (from >= net->n || to >= net->n)
        return RTR_STS_INVARG;
    net->ctr.sent++;
    if (reliable)
        return sim_net_queue(net, from, to, frame, len, now);

    sim_link_t *l = &net->links[from * net->n + to];
    /* draw everything first, in a fixed order, so a cut link consumes the same randomness */
    bool lost = sim_rng_chance(&net->rng, l->loss_ppm);
    bool dup = sim_rng_chance(&net->rng, l->dup_ppm);
    uint64_t d1 = sim_net_delay(net);
    uint64_t d2 = sim_net_delay(net);

    if (sim_net_cut(net, from, to)) {
        net->ctr.cut++;
        return RTR_STS_OK;
    }
    if (lost) {
        net->ctr.lost++;
        return RTR_STS_OK;
    }
    rtr_status_t st = sim_net_queue(net, from, to, frame, len, now + d1);
    if (st == RTR_STS_OK && dup) {
        net->ctr.duplicated++;
        st = sim_net_queue(net, from, to, frame, len, now + d2);
    }
    return st;
}

void
sim_net_partition(sim_net_t *net, uint64_t mask, uint64_t until_us)
{
    net->cut_mask = mask;
    net->cut_until = until_us;
}

void
sim_net_heal(sim_net_t *net)
{
    net->cut_mask = 0;
    net->cut_until = 0;
    for (size_t i = 0; i < net->n * net->n; i++) {
        net->links[i].loss_ppm = 0;
        net->links[i].dup_ppm = 0;
    }
}

void
sim_net_reset_link(sim_net_t *net, size_t from, size_t to)
{
    if (from < net->n && to < net->n)
        net->links[from * net->n + to].gen++;
}

void
sim_net_reset_node(sim_net_t *net, size_t node)
{
    for (size_t i = 0; i < net->n; i++) {
        sim_net_reset_link(net, node, i);
        if (i != node)
            sim_net_reset_link(net, i, node);
    }
}

bool
sim_net_accept(sim_net_t *net, const sim_event_t *ev)
{
    if (ev->a >= net->n || ev->b >= net->n)
        return false;
    if (ev->gen != net->links[ev->a * net->n + ev->b].gen) {
        net->ctr.reset++;
        return false;
    }
    if (ev->a != ev->b && sim_net_cut(net, ev->a, ev->b)) {
        net->ctr.cut++;
        return false;
    }
    net->ctr.delivered++;
    return true;
}

const sim_net_counters_t *
sim_net_counters(const sim_net_t *net)
{
    return &net->ctr;
}
