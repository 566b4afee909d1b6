/*
 * bkd_daemon_impl.h - the rtr-backend shell around the pure core: sockets, journal, timers,
 * admin. bkd_main.c (start-up, the loop), bkd_net.c (sockets and action execution, the shadow
 * links), bkd_admin.c (admin commands) share this context.
 *
 * Thread rule: one thread owns everything here (every ZeroMQ socket, the core, the journal
 * handle's submit side). The journal's own threads are behind jrn.h.
 */
#ifndef BKD_DAEMON_IMPL_H
#define BKD_DAEMON_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "bkd.h"
#include "cmn.h"
#include "jrn.h"
#include "wire_zmq.h"

/* Frames a socket refused, beyond the decoder's own counters. */
typedef struct {
    wire_counters_t wire;
    uint64_t wrong_role;   /* envelope from a role this socket does not serve */
    uint64_t unexpected;   /* a body not expected on this socket, or not applicable */
    uint64_t unknown_peer; /* shadow: a backend that is no configured partner of this one */
    uint64_t sent, send_failed;
    uint64_t last_log_ms; /* rate limit of the rejection log lines */
    uint64_t suppressed;
} bkd_sockstat_t;

/* One router: our DEALER connected to its peers endpoint. */
typedef struct {
    const cmn_router_t *cfg;
    void *sock;
    bkd_sockstat_t st;
    bool up;              /* heard from within failure_timeout_ms */
    uint64_t incarnation; /* 0 until heard */
    uint64_t last_seen_ms;
} bkd_rlink_t;

/* One shadow partner (docs/shadow-protocol.md §4.1): a backend this one shares a shadowed
 * partition with. Frames to it go out on our DEALER connected to its `shadow` endpoint; its
 * frames arrive on our shadow ROUTER (identity = its node name). Liveness comes from what
 * arrives: its first frame, or the first of a new incarnation, is bkd_core_partner_up;
 * failure_timeout_ms of silence is bkd_core_partner_lost. */
typedef struct {
    const cmn_backend_t *cfg;
    void *sock;           /* our DEALER to its shadow endpoint */
    bkd_sockstat_t st;    /* the DEALER's sends (what arrives is counted on the ROUTER) */
    bool up;              /* heard from within failure_timeout_ms */
    uint64_t incarnation; /* 0 until heard */
    uint64_t last_seen_ms;
    uint64_t ups, losts; /* partner up (first frame, new incarnation) / lost events */
} bkd_plink_t;

/* One server process seen on the servers socket. */
typedef struct {
    char id[BKD_ID_MAX + 1];
    uint64_t incarnation;
    uint64_t last_seen_ms;
} bkd_speer_t;

/* A journal submission waiting to harden: core ticket -> jrn ticket (FIFO, both ascending). */
typedef struct {
    uint64_t core_ticket;
    uint64_t jrn_ticket;
} bkd_pending_t;

typedef struct {
    const cmn_facility_t *fac;
    const cmn_backend_t *me;
    uint64_t incarnation;
    uint64_t started_ms;
    void *zctx;
    void *servers;
    void *admin;
    void *shadow; /* the shadow ROUTER; NULL when this backend shares no shadowed partition */
    int nbound;   /* endpoints bound so far: 1 servers, 2 + admin, 3 + shadow */
    bkd_sockstat_t servers_st, admin_st, shadow_st;
    bkd_rlink_t *routers;
    size_t nrouters;
    bkd_plink_t *partners; /* one per distinct partner backend */
    size_t npartners;
    bkd_speer_t *peers;
    size_t npeers, peercap;
    jrn_t *jrn;
    size_t nparts;
    const cmn_partition_t **parts; /* served partitions (core index order) */
    uint32_t *part_ids;            /* journal id of each */
    bkd_role_t *roles;             /* this backend's role in each (static from the config) */
    bkd_core_t *core;
    bkd_pending_t *pend;
    size_t pend_head, pend_count, pend_cap;
    uint64_t core_deadline_ms; /* earliest ARM_TIMER, UINT64_MAX if none */
    uint64_t next_hb_ms;
    uint64_t last_tick_ms;
    uint64_t polled_ms; /* the loop last read its sockets (silence is judged only after) */
    uint64_t hb_seq;
    uint64_t admin_requests;
    int sigfd;
    bool stop;
    int exit_code;
} bkd_backend_t;

/* ---- bkd_net.c ------------------------------------------------------------------------ */

/* bkd_net_open - create the sockets: bind servers and admin (and shadow when this backend has
 * a shadow partner), connect one DEALER per router and one per shadow partner.
 * RTR_STS_BUSY if an endpoint is in use, RTR_STS_IOERR otherwise (logged). */
rtr_status_t bkd_net_open(bkd_backend_t *b);

/* bkd_net_close - close every socket and the context. */
void bkd_net_close(bkd_backend_t *b);

/* bkd_net_servers_in / bkd_net_router_in / bkd_net_shadow_in - drain one socket's waiting
 * frames into the core. */
void bkd_net_servers_in(bkd_backend_t *b);
void bkd_net_router_in(bkd_backend_t *b, bkd_rlink_t *r);
void bkd_net_shadow_in(bkd_backend_t *b);

/* bkd_net_heartbeat - BackendHello to every router, Heartbeat to every server and every shadow
 * partner; loses peers and partners silent for failure_timeout_ms. */
void bkd_net_heartbeat(bkd_backend_t *b, uint64_t now_ms);

/* bkd_net_flush - the end of a poll round: bkd_core_flush (the batches and acks of everything
 * this round did), then its actions. Call it once per round, after every other event. */
void bkd_net_flush(bkd_backend_t *b);

/* bkd_net_run_actions - execute every action the core queued (sends, journal submissions,
 * timers). A journal failure sets b->stop and b->exit_code. */
void bkd_net_run_actions(bkd_backend_t *b);

/* bkd_net_journal_in - the journal's fd fired: complete what hardened. */
void bkd_net_journal_in(bkd_backend_t *b);

/* bkd_sock_reject - count and (rate-limited) log a refused frame. */
void bkd_sock_reject(bkd_sockstat_t *st, const char *sock, const char *what, rtr_status_t sts,
                     uint64_t now_ms);

/* bkd_max_frame - the facility's frame limit (settings.max_frame_bytes) for every socket. */
static inline size_t
bkd_max_frame(const bkd_backend_t *b)
{
    return (size_t)b->fac->settings.max_frame_bytes;
}

/* ---- bkd_admin.c ---------------------------------------------------------------------- */

/* bkd_admin_in - drain the admin socket: answer each AdminRequest. */
void bkd_admin_in(bkd_backend_t *b);

#endif /* BKD_DAEMON_IMPL_H */
