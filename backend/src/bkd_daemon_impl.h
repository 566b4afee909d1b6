/*
 * bkd_daemon_impl.h - the rtr-backend shell around the pure core: sockets, journal, timers,
 * admin. bkd_main.c (start-up, the loop), bkd_net.c (sockets and action execution),
 * bkd_admin.c (admin commands) share this context.
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
    uint64_t wrong_role; /* envelope from a role this socket does not serve */
    uint64_t unexpected; /* a body not expected on this socket, or not applicable */
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
    int nbound; /* endpoints bound so far: 1 servers, 2 servers and admin */
    bkd_sockstat_t servers_st, admin_st;
    bkd_rlink_t *routers;
    size_t nrouters;
    bkd_speer_t *peers;
    size_t npeers, peercap;
    jrn_t *jrn;
    size_t nparts;
    const cmn_partition_t **parts; /* served partitions (core index order) */
    uint32_t *part_ids;            /* journal id of each */
    bkd_core_t *core;
    bkd_pending_t *pend;
    size_t pend_head, pend_count, pend_cap;
    uint64_t core_deadline_ms; /* earliest ARM_TIMER, UINT64_MAX if none */
    uint64_t next_hb_ms;
    uint64_t last_tick_ms;
    uint64_t hb_seq;
    uint64_t admin_requests;
    int sigfd;
    bool stop;
    int exit_code;
} bkd_backend_t;

/* ---- bkd_net.c ------------------------------------------------------------------------ */

/* bkd_net_open - create the sockets: bind servers and admin, connect one DEALER per router.
 * RTR_STS_BUSY if an endpoint is in use, RTR_STS_IOERR otherwise (logged). */
rtr_status_t bkd_net_open(bkd_backend_t *b);

/* bkd_net_close - close every socket and the context. */
void bkd_net_close(bkd_backend_t *b);

/* bkd_net_servers_in / bkd_net_router_in - drain one socket's waiting frames into the core. */
void bkd_net_servers_in(bkd_backend_t *b);
void bkd_net_router_in(bkd_backend_t *b, bkd_rlink_t *r);

/* bkd_net_heartbeat - BackendHello to every router, Heartbeat to every server; loses peers
 * silent for failure_timeout_ms. */
void bkd_net_heartbeat(bkd_backend_t *b, uint64_t now_ms);

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
