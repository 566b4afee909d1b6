/*
 * sim_net.h - the simulated network (docs/shadow-protocol.md §8.1): directed links between
 * nodes (indices 0..n-1) carrying ENCODED frames, so every frame a node receives goes through
 * the strict decoder exactly as on a real socket.
 *
 * Per directed link: a delay drawn per frame (uniform 0.1..5 ms, now and then a heavy tail up
 * to 20x), loss and duplication in ppm (set per link by the world from its seed), reordering
 * (each copy draws its own delay), and a generation: resetting a link (connection reset, or a
 * node crash: ZeroMQ drops what is queued) bumps it and every frame still in flight on the old
 * generation is dropped at delivery. One partition at a time: the nodes in `mask` are cut off
 * from all others until `until_us` (checked at send and again at delivery).
 *
 * A frame is one scheduler event of kind `deliver_kind` with a = from, b = to, gen = the link
 * generation, data = the frame (owned). The world pops it and asks sim_net_accept whether it
 * still arrives.
 *
 * Ownership: the scheduler is borrowed (must outlive the net). Frames are copied on send.
 * Thread rule: one thread per world.
 */
#ifndef SIM_NET_H
#define SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_sched.h"

#define SIM_NET_MAXNODES 32

typedef struct sim_net sim_net_t;

typedef struct {
    uint64_t sent;      /* frames handed to sim_net_send */
    uint64_t delivered; /* frames sim_net_accept let through */
    uint64_t lost;      /* dropped by the link's loss rate */
    uint64_t cut;       /* dropped by a partition */
    uint64_t reset;     /* dropped by a link reset or a crash */
    uint64_t duplicated;
} sim_net_counters_t;

/* sim_net_new - a net of `nnodes` nodes (<= SIM_NET_MAXNODES), reliable links (no loss, no
 * duplication) until configured, randomness from stream SIM_RNG_NET of `seed`. RTR_STS_INVARG,
 * RTR_STS_NOMEM. *out owned by the caller (sim_net_free). */
rtr_status_t sim_net_new(size_t nnodes, uint64_t seed, sim_sched_t *sched, int deliver_kind,
                         sim_net_t **out);

/* sim_net_free - free the net and NULL the pointer; accepts NULL and &NULL. */
void sim_net_free(sim_net_t **net);

/* sim_net_set_link - loss and duplication of the directed link from -> to, in ppm. */
void sim_net_set_link(sim_net_t *net, size_t from, size_t to, uint32_t loss_ppm, uint32_t dup_ppm);

/* sim_net_send - send a copy of frame[0..len) from -> to. `reliable`: no loss, no
 * duplication, no partition, no delay (delivered at the current time, after whatever the
 * caller is doing: never inline); used for a node's loopback. RTR_STS_NOMEM, RTR_STS_INVARG
 * (a bad node). A dropped frame is not an error. */
rtr_status_t sim_net_send(sim_net_t *net, size_t from, size_t to, const uint8_t *frame, size_t len,
                          bool reliable);

/* sim_net_partition - cut the nodes of `mask` (bit i = node i) off from the others until
 * until_us; replaces any current partition. */
void sim_net_partition(sim_net_t *net, uint64_t mask, uint64_t until_us);

/* sim_net_heal - end the partition and set every link to no loss, no duplication. */
void sim_net_heal(sim_net_t *net);

/* sim_net_cut - is the link a -> b cut right now? */
bool sim_net_cut(const sim_net_t *net, size_t a, size_t b);

/* sim_net_reset_link / sim_net_reset_node - drop everything in flight on one link / on every
 * link to or from a node (a crash, a connection reset). */
void sim_net_reset_link(sim_net_t *net, size_t from, size_t to);
void sim_net_reset_node(sim_net_t *net, size_t node);

/* sim_net_accept - at delivery of a frame event: true if it arrives (same link generation, not
 * cut), counted in delivered; false otherwise (counted). */
bool sim_net_accept(sim_net_t *net, const sim_event_t *ev);

const sim_net_counters_t *sim_net_counters(const sim_net_t *net);

#endif /* SIM_NET_H */
