/*
 * rtd_impl.h - internals of the router daemon's shell (rtd_main.c, rtd_net.c, rtd_admin.c,
 * rtd_store.c). Included by no other folder except tests/router.
 *
 * Thread rule: the whole daemon is one thread; every function here runs on it.
 */
#ifndef RTD_IMPL_H
#define RTD_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "rtd.h"
#include "rtd_reg.h"
#include "wire_zmq.h"

typedef struct rtd_store rtd_store_t;

/* A link to another router of the facility (register traffic, shadow-protocol §5.5): a DEALER
 * with identity = this router's name connected to that router's peers endpoint. Everything
 * this router sends to router i goes out on link i; what router i sends arrives on the peers
 * ROUTER socket (role ROUTER, identity = its name). */
typedef struct {
    const cmn_router_t *cfg;
    void *sock;            /* NULL for this router itself (loopback) */
    uint64_t incarnation;  /* as last seen on the peers socket */
    uint64_t last_seen_ms; /* last frame from it; 0 = never */
    uint64_t received;     /* frames from it */
    uint64_t sent;
    uint64_t send_failed; /* not connected (ZMQ_IMMEDIATE) or queue full */
} rtd_rlink_t;

/* A follow-up event of the register core, run after the current action list. */
typedef struct {
    uint64_t ticket; /* != 0: report this PERSIST ticket */
    uint8_t *buf;    /* else: a loopback envelope to this router (packed, owned) */
    size_t len;
} rtd_reg_next_t;

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
    rtr_status_t fatal; /* a runtime failure that stops the loop (store write) */

    /* the facility register: only when a partition is shadowed (else all NULL / 0) */
    rtd_reg_t *reg;
    rtd_store_t *store;
    rtd_rlink_t *links; /* one per configured router, in config order */
    size_t self_idx;
    uint64_t reg_timer_at_ms; /* the register core's timer; 0 = none */
    rtd_reg_next_t *regq;     /* follow-up events (FIFO) */
    size_t regq_head, regq_n, regq_cap;
    uint64_t reg_learn_sent;  /* RegLearn frames sent to backends */
    uint64_t reg_requests_in; /* RegChange/LeaseRequest frames received */
    uint64_t reg_router_in;   /* register frames from routers (loopback included) */
    uint64_t router_bad;      /* role ROUTER frames from an unknown identity */
    uint64_t store_writes;
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

/* rtd_reg_shell_start - start the register core (rtd_reg_start) and run its actions; call once
 * the sockets are open. No-op without a register. */
void rtd_reg_shell_start(rtd_router_t *r);

/* rtd_admin_handle - answer one admin request: fills *reply (json and error are new strings
 * the caller frees with free()). */
void rtd_admin_handle(rtd_router_t *r, const Rtr__AdminRequest *req, Rtr__AdminReply *reply);

/* ---- rtd_store.c: the acceptor store ------------------------------------------------- */

/* rtd_store_open - open (creating it and missing parents, mode 0700) the store in `dir`,
 * locked for this process. RTR_STS_OK; RTR_STS_BUSY (another process holds it: its pid is on
 * stderr and in the log), RTR_STS_IOERR, RTR_STS_NOMEM, each with a message on stderr and in
 * the log. *out owned by the caller (rtd_store_close). Blocks on disk I/O (start-up only). */
rtr_status_t rtd_store_open(const char *dir, rtd_store_t **out);

/* rtd_store_load - the stored acceptor state: *out a new message (wire_free) or NULL when the
 * store is empty. RTR_STS_JNLCORRUPT if it does not decode, RTR_STS_IOERR. */
rtr_status_t rtd_store_load(rtd_store_t *s, Rtr__AcceptorState **out);

/* rtd_store_write - replace the stored state with `st` (borrowed) in one transaction committed
 * with DB_TXN_SYNC: durable when it returns RTR_STS_OK. After a failure the store refuses
 * every write (RTR_STS_IOERR): the caller stops the router. Blocks on one fsync. */
rtr_status_t rtd_store_write(rtd_store_t *s, const Rtr__AcceptorState *st);

/* rtd_store_dir - the directory (borrowed, valid until close). */
const char *rtd_store_dir(const rtd_store_t *s);

/* rtd_store_close - close, release the lock, free and NULL the pointer; accepts NULL. */
void rtd_store_close(rtd_store_t **s);

#endif /* RTD_IMPL_H */
