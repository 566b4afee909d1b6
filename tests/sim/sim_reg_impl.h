/*
 * sim_reg_impl.h - the register world's internals, shared by sim_reg.c (routers, faults, the
 * loop) and sim_req.c (the fake requesters). Included by no other file.
 *
 * Thread rule: a world is one thread.
 */
#ifndef SIM_REG_IMPL_H
#define SIM_REG_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "rtd_reg.h"
#include "sim.h"
#include "sim_net.h"
#include "sim_sched.h"

#define SIM_NROUTERS   3
#define SIM_MAX_EVENTS 3000000u /* a run that needs more is a message storm: a finding */

enum { SIM_RQ_CLI = 0, SIM_RQ_BE1, SIM_RQ_BE2, SIM_RQ_PROBE, SIM_NREQ };
#define SIM_NODES (SIM_NROUTERS + SIM_NREQ)

enum {
    SIM_EV_DELIVER = 1, /* a frame arrives (sim_net) */
    SIM_EV_PERSIST,     /* a == router, gen == incarnation, x == ticket, data == state */
    SIM_EV_TIMER,       /* a == router, gen == timer generation */
    SIM_EV_RESTART,     /* a == router, x == 1: wiped */
    SIM_EV_FAULT,       /* the next fault draw */
    SIM_EV_TICK,        /* a == requester: heartbeat */
    SIM_EV_TIMEOUT,     /* a == requester, x == req_id */
    SIM_EV_QUIESCE,     /* end of the fault phase */
    SIM_EV_PROBE,       /* the probe starts */
    SIM_EV_END,         /* liveness deadline */
    SIM_EV_UNPAUSE,     /* a == router, gen == pause generation */
};

typedef struct {
    rtd_reg_t *reg;
    bool up;
    uint64_t inc;       /* incarnation: bumped at each crash */
    uint64_t timer_gen; /* bumped at each arming and crash */
    sim_store_t store;
    bool started_empty;    /* this incarnation started with an empty store */
    uint64_t need_version; /* highest committed version when it started */
    bool voted;            /* this incarnation sent an ok promise or accept */
    int64_t rate_ppm;
    uint64_t off_ms;
    uint64_t last_ticket; /* the last PERSIST ticket of this incarnation */
    uint64_t learned;     /* version of the last RTD_REG_LEARNED of this incarnation */
    bool paused;          /* SIGSTOP-like: its events wait in `inbox`, in order */
    uint64_t pause_gen;
    sim_event_t *inbox;
    size_t ninbox, capinbox;
    struct {
        uint64_t req_id, ballot;
        uint32_t node;
        bool accept; /* RegAccept (else RegPrepare) */
    } sent[16];      /* this router's last prepares and accepts as a proposer (ring) */
    size_t nsent;
    uint8_t **lb; /* loopback frames (FIFO) */
    size_t *lblen;
    size_t nlb, caplb;
} sim_router_t;

typedef struct {
    const char *name;
    size_t node;
    rtd_sock_t sock;
    Rtr__Role role;
    uint64_t inc;
    Rtr__RegisterValue *cur; /* newest committed value learned (owned) */
    size_t router;           /* the router it talks to */
    uint64_t req_id;
    bool busy;
    uint64_t lease_seq;
    uint64_t paused_until;
    uint64_t next_change_at;
    bool done;
    Rtr__RegKind kind; /* the request in flight (req_id) */
    char part[CMN_PARTITION_NAME_MAX + 1];
    uint64_t expected;
    char node_arg[CMN_NODE_NAME_MAX + 1];
    uint8_t uuid[16]; /* rtrcli: the uuid of the bootstrap it sends */
} sim_req_t;

typedef struct {
    const sim_opts_t *o;
    const cmn_facility_t *fac;
    sim_result_t *res;
    rtd_reg_cfg_t cfg;
    sim_sched_t *sched;
    sim_net_t *net;
    sim_trace_t *trace;
    sim_check_t *check;
    sim_rng_t rfault, rreq, rclock, rcore, rstore;
    sim_router_t r[SIM_NROUTERS];
    sim_req_t q[SIM_NREQ];
    bool amnesia;
    bool quiesce;
    bool done;
    bool wiped_once;
    bool stress; /* a second router may go down */
    uint64_t fault_gap_lo, fault_gap_hi;
    uint64_t change_lo, change_hi; /* a backend's pause between two change requests, ms */
    uint8_t uuid[16];
    bool probe_ok[SIM_NROUTERS];
} sim_world_t;

extern const char *const sim_req_names[SIM_NREQ]; /* "rtrcli", "be1", "be2", "probe" */

static inline uint64_t
sim_now(const sim_world_t *w)
{
    return sim_sched_now(w->sched);
}

#define TRACE(w, ...) sim_trace_add((w)->trace, sim_now(w), __VA_ARGS__)

static inline const char *
sim_node_name(const sim_world_t *w, size_t node)
{
    if (node < SIM_NROUTERS)
        return w->fac->routers[node].name;
    return sim_req_names[node - SIM_NROUTERS];
}

/* ---- sim_reg.c: used by the requesters ----------------------------------------------- */

/* sim_send - encode env and send it from -> to over the simulated net (a failure is recorded
 * as a violation). env is borrowed for the call. */
void sim_send(sim_world_t *w, size_t from, size_t to, const Rtr__Envelope *env, bool reliable);

/* sim_schedule - schedule an event of `kind` at `at` (µs); data (malloc'd or NULL) consumed. */
void sim_schedule(sim_world_t *w, uint64_t at, int kind, uint32_t a, uint64_t gen, uint64_t x,
                  uint8_t *data, size_t len);

/* ---- sim_req.c: the fake requesters ---------------------------------------------------- */

/* sim_req_by_id - the requester with routing id `id` (SIM_NREQ: none). */
size_t sim_req_by_id(const rtd_id_t *id);

/* sim_in_sync - is `node` in p's in-sync set? */
bool sim_in_sync(const Rtr__PartitionRole *p, const char *node);

/* sim_cli_bootstrap / sim_cli_force - rtrcli's requests (bootstrap with q->uuid; FORCE of a
 * partner from the last value it saw). */
void sim_cli_bootstrap(sim_world_t *w, sim_req_t *q);
void sim_cli_force(sim_world_t *w, sim_req_t *q);

/* sim_be_tick - a backend's heartbeat: lease requests, maybe a change; re-arms itself. */
void sim_be_tick(sim_world_t *w, sim_req_t *q);

/* sim_probe_next - the quiesce probe reads through the next router not yet read. */
void sim_probe_next(sim_world_t *w);

/* sim_req_timeout - request `req_id` of q timed out: the next router, and a READ (rtrcli's
 * bootstrap: the bootstrap again; the probe: the same router again). */
void sim_req_timeout(sim_world_t *w, sim_req_t *q, uint64_t req_id);

/* sim_req_deliver - a frame for requester k from node `from`. */
void sim_req_deliver(sim_world_t *w, size_t k, size_t from, const uint8_t *buf, size_t len);

/* sim_req_restart - a backend process restarts (new incarnation, no value). */
void sim_req_restart(sim_world_t *w, sim_req_t *q);

#endif /* SIM_REG_IMPL_H */
