/*
 * rtd_impl.h - internals of the router daemon's shell (rtd_main.c, rtd_net.c, rtd_admin.c).
 * Included by no other folder except tests/router.
 *
 * Thread rule: the whole daemon is one thread; every function here runs on it.
 */
#ifndef RTD_IMPL_H
#define RTD_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "rtd.h"
#include "wire_zmq.h"

/* A peer seen on the clients or peers socket: liveness and heartbeats are per peer. */
typedef struct {
    rtd_id_t id;
    uint64_t incarnation;
    uint64_t last_seen_ms;
} rtd_peer_t;

typedef struct {
    rtd_peer_t *v;
    size_t n, cap;
} rtd_peers_t;

/* Per-socket counters shown by "show counters" (besides the wire_counters_t). */
typedef struct {
    uint64_t wrong_role;  /* envelopes whose role does not belong on this socket */
    uint64_t unexpected;  /* right role, body not accepted here */
    uint64_t send_failed; /* sends refused (peer gone with ZMQ_ROUTER_MANDATORY, HWM) */
    uint64_t peers_lost;  /* peers declared lost (silence or new incarnation) */
} rtd_sock_counters_t;

/* Rate limit for repeated warnings: at most one line per kind per second. */
typedef struct {
    uint64_t last_ms;
    uint64_t suppressed;
} rtd_ratelimit_t;

/* The daemon: everything the shell owns. */
typedef struct {
    cmn_facility_t *fac; /* owned */
    const cmn_router_t *self;
    uint64_t incarnation;
    uint64_t started_ms;
    void *zctx;
    void *sock[RTD_SOCK__COUNT];
    int sigfd;
    rtd_core_t *core;
    rtd_peers_t peers[2]; /* RTD_SOCK_CLIENTS, RTD_SOCK_PEERS */
    wire_counters_t wire[RTD_SOCK__COUNT];
    rtd_sock_counters_t sctr[RTD_SOCK__COUNT];
    rtd_ratelimit_t rl[RTD_SOCK__COUNT];
    uint64_t timer_at_ms; /* the core's timer; 0 = none */
    uint64_t next_hb_ms;
    uint64_t hb_seq;
    uint64_t admin_requests;
    bool stop;
} rtd_router_t;

/* rtd_now_ms - the monotonic clock in milliseconds. */
uint64_t rtd_now_ms(void);

/* rtd_net_open - create the sockets (bind clients, peers, admin) and the signalfd.
 * RTR_STS_OK, or RTR_STS_BUSY (an endpoint is in use) / RTR_STS_IOERR, with a message on
 * stderr and in the log. */
rtr_status_t rtd_net_open(rtd_router_t *r);

/* rtd_net_close - close whatever rtd_net_open created; safe on a half-opened router. */
void rtd_net_close(rtd_router_t *r);

/* rtd_net_run - the event loop until SIGTERM/SIGINT. RTR_STS_OK on a clean stop. */
rtr_status_t rtd_net_run(rtd_router_t *r);

/* rtd_admin_handle - answer one admin request: fills *reply (json and error are new strings
 * the caller frees with free()). */
void rtd_admin_handle(rtd_router_t *r, const Rtr__AdminRequest *req, Rtr__AdminReply *reply);

#endif /* RTD_IMPL_H */
