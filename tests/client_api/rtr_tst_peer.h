/*
 * rtr_tst_peer.h - fake RTR peers for librtr's tests (tstp_ prefix): a ZeroMQ ROUTER playing
 * the router (tcp on 127.0.0.1, a port the kernel picks) and one playing the backend (ipc under
 * /tmp), and a facility file pointing at them, exported with RTR_CONFIG / RTR_NODE before the
 * test's first librtr call. Criterion runs every test in its own process, so librtr's
 * process-wide context is fresh in each.
 *
 * Thread rule: the peer's sockets belong to the thread that called tstp_start.
 */
#ifndef RTR_TST_PEER_H
#define RTR_TST_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "rtr.h"
#include "wire_zmq.h"

#define TSTP_WAIT_MS 5000 /* deadline of every expectation */

typedef struct {
    void *zctx;
    void *router;  /* plays rtr-router's `clients` ROUTER */
    void *backend; /* plays rtr-backend's `servers` ROUTER */
    char *dir;
    char conf[512];
    char ipc[128];
    wire_zmq_id_t client_id; /* learned from the client's first frame */
    wire_zmq_id_t server_id;
    uint64_t client_inc;
    uint64_t backend_restarts; /* added to the fake backend's incarnation (a restart) */
    Rtr__Envelope *last;       /* the last envelope returned by tstp_expect (freed by the next) */
} tstp_t;

/* tstp_start - bind both sockets, write the facility file (heartbeat and failure timeout in
 * ms), setenv RTR_CONFIG and RTR_NODE. Aborts the test on failure. */
void tstp_start(tstp_t *p, int heartbeat_ms, int failure_ms);

/* tstp_stop - rtrx_shutdown, close the sockets, remove the files. */
void tstp_stop(tstp_t *p);

/* tstp_expect - the next envelope with this body on sock, skipping others (heartbeats, resends)
 * until TSTP_WAIT_MS passes: NULL then. The envelope belongs to p (valid until the next call). */
Rtr__Envelope *tstp_expect(tstp_t *p, void *sock, Rtr__Envelope__BodyCase body, int wait_ms);

/* tstp_quiet - true if no envelope with this body arrives on sock within wait_ms. */
bool tstp_quiet(tstp_t *p, void *sock, Rtr__Envelope__BodyCase body, int wait_ms);

/* Senders: router side (to the client) and backend side (to the server). */
void tstp_channel_status(tstp_t *p, void *sock, uint32_t channel, uint32_t status,
                         const char *partition, bool closed);
void tstp_tx_reply(tstp_t *p, const uint8_t *tid, uint32_t index, uint32_t channel,
                   const char *body);
void tstp_tx_outcome(tstp_t *p, const uint8_t *tid, uint32_t channel, bool accepted,
                     uint32_t status, uint32_t reason);
void tstp_nack(tstp_t *p, void *sock, const uint8_t *tid, uint32_t from, uint32_t channel);
void tstp_query_reply(tstp_t *p, uint64_t request_id, const uint8_t *tid, uint32_t state,
                      bool has_outcome, bool accepted, uint32_t status);

/* tstp_query_status - the router's TxQueryReply{state 0, status} (no outcome), e.g. NOTFOUND. */
void tstp_query_status(tstp_t *p, uint64_t request_id, const uint8_t *tid, uint32_t status);
void tstp_deliver(tstp_t *p, const uint8_t *tid, uint32_t channel, Rtr__DeliverKind kind,
                  uint32_t index, const void *body, size_t len, bool last);
void tstp_vote_request(tstp_t *p, const uint8_t *tid, uint32_t nmsgs);
void tstp_server_outcome(tstp_t *p, const uint8_t *tid, uint32_t channel, bool accepted,
                         uint32_t status);

/* tstp_server_event - a ServerEvent (RTR role event) for `partition` to the server side. */
void tstp_server_event(tstp_t *p, uint32_t evtnum, const char *partition);

/* tstp_broadcast - a Broadcast (user event) to the client (sock = p->router) or the server
 * (sock = p->backend); rcpspc NULL = unset. */
void tstp_broadcast(tstp_t *p, void *sock, uint32_t evtnum, const void *body, size_t len,
                    const char *rcpspc);

/* tstp_open_client / tstp_open_server - open a channel and complete it through the fake peer
 * (ChannelOpen -> ChannelStatus OK -> rtr_mt_opened). Server: the key range [lo, hi]. */
rtr_channel_t tstp_open_client(tstp_t *p);
rtr_channel_t tstp_open_server(tstp_t *p, rtr_ope_flag_t flags, uint32_t lo, uint32_t hi);

/* tstp_recv - rtr_receive_message on one channel (or any if ch == 0) with TSTP_WAIT_MS;
 * returns its status, fills msgsb and buf. */
rtr_status_t tstp_recv(rtr_channel_t ch, void *buf, size_t len, rtr_msgsb_t *msgsb);

/* tstp_tid - a test TID (incarnation 0xABC, counter n) in wire form. */
void tstp_tid(uint64_t n, uint8_t out[16]);

#endif /* RTR_TST_PEER_H */
