/*
 * rtr_impl.h - librtr internals (rtrl_ prefix): the process-wide context, channels,
 * transactions, the application queue and the I/O thread.
 *
 * The RTR API has no context argument, so librtr keeps ONE process-wide context (the one
 * justified global of the project), created at the first rtr_open_channel. Everything in it is
 * protected by one mutex, rtrl_ctx_t.lock: API threads and the I/O thread take it for every
 * state change. The ZeroMQ sockets belong to the I/O thread alone; API threads never touch them:
 * they encode envelopes into the outbox and wake the I/O thread through an eventfd.
 *
 * Thread rule: every function here is called with ctx->lock held unless it says otherwise.
 */
#ifndef RTR_IMPL_H
#define RTR_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmn.h"
#include "rtr.h"
#include "wire_zmq.h"

#define RTRL_LINK_ROUTER  0
#define RTRL_LINK_BACKEND 1
#define RTRL_NLINKS       2

#define RTRL_COUNTER_BLOCK 1024u /* rtrx_set_incarnation: counters reserved per file write */

/* One message kept for resending (client TxMsg) or a server reply (ServerReply). */
typedef struct {
    uint8_t *body;
    uint32_t len;
    uint32_t flags;
    bool sent; /* posted once already: later sends are resends (TxMsg.resent) */
} rtrl_msg_t;

typedef enum {
    RTRL_CTX_ACTIVE = 1, /* messages may be sent; not voted */
    RTRL_CTX_VOTED,      /* TxVote{accept} sent: waiting for the outcome (cannot time out) */
    RTRL_CTX_REJECTING,  /* TxVote{reject} sent: waiting for the router's rejected outcome */
    RTRL_CTX_QUERY,      /* router lost after the vote: resolving by TxQuery */
} rtrl_ctx_state_t;

/* A client transaction (one per client channel at a time). */
typedef struct {
    cmn_tid_t tid;
    uint8_t tidb[16];
    rtrl_ctx_state_t state;
    uint32_t timeout_ms;  /* 0 = none */
    uint64_t deadline_ns; /* start + timeout; 0 = none */
    rtrl_msg_t *msgs;     /* every message sent, kept until the outcome */
    uint32_t nmsgs, cap;
    uint32_t next_reply; /* the reply index expected next */
    uint64_t last_send_ns;
    uint64_t query_deadline_ns;
} rtrl_ctx_tx_t;

/* A server transaction (one per server channel at a time). */
typedef struct {
    uint8_t tidb[16];
    uint32_t next_index; /* Deliver index expected next */
    bool last_seen;      /* a Deliver said the client accepted */
    bool vote_requested; /* VoteRequest arrived */
    bool prepare_queued; /* rtr_mt_prepare handed to the application queue */
    int vote;            /* 0 none, 1 accept, -1 reject */
    uint32_t reason;
    bool already_applied;
    bool retry; /* the reject asks RTR to deliver the transaction again (RTR_F_REJ_RETRY) */
    rtrl_msg_t *replies; /* ServerReply bodies, kept until the outcome */
    uint32_t nreplies, cap;
    uint32_t queued, consumed; /* application events of this tx queued / taken */
    bool outcome;              /* ServerOutcome arrived */
    bool done_pending;         /* the application took the outcome: ServerDone on next receive */
    bool orphan;               /* its backend link was lost: no ServerDone */
} rtrl_stx_t;

typedef enum {
    RTRL_CH_FREE = 0,
    RTRL_CH_OPENING,
    RTRL_CH_OPEN,
    RTRL_CH_CLOSED, /* closed by the facility: freed when the application takes rtr_mt_closed */
} rtrl_ch_state_t;

typedef struct {
    rtrl_ch_state_t state;
    uint32_t id;
    bool server;
    uint32_t flags;
    rtr_usrhdl_t usrhdl;
    rtr_usrctx_t usrctx;
    char rcpnam[RTR_MAX_RCPNAM_LEN + 1];
    uint32_t *events;
    size_t nevents;
    uint8_t *key_low, *key_high; /* server: normalized range (fac->keylen bytes) */
    rtrl_ctx_tx_t *tx;           /* client */
    rtrl_stx_t *stx;             /* server */
    uint8_t last_tid[16];
    bool has_tid;
    bool info;       /* an rtr_request_info pseudo-channel (state CLOSED from the start) */
    char *partition; /* server: the partition of its ChannelStatus (owned), or NULL */
} rtrl_chan_t;

/* An event for the application (rtr_receive_message). */
typedef struct rtrl_evt {
    struct rtrl_evt *next;
    uint32_t channel;
    rtr_msg_type_t type;
    uint8_t tidb[16];
    uint8_t *body; /* owned; NULL for status events */
    uint32_t len;
    rtr_status_data_t sd; /* opened, closed, accepted, rejected */
    rtr_evtnum_t evtnum;
} rtrl_evt_t;

/* One encoded envelope waiting for the I/O thread. */
typedef struct rtrl_out {
    struct rtrl_out *next;
    int link;
    uint8_t *buf;
    size_t len;
} rtrl_out_t;

/* A pending rtrx_query_outcome. */
typedef struct rtrl_query {
    struct rtrl_query *next;
    uint64_t id;
    uint8_t tidb[16];
    bool done;
    rtr_status_t sts;
    rtrx_outcome_t outcome;
    rtr_status_data_t sd;
} rtrl_query_t;

typedef struct {
    pthread_mutex_t *lock; /* the process-wide mutex */
    pthread_cond_t *cond;  /* CLOCK_MONOTONIC; broadcast on every state change */
    cmn_facility_t *fac;
    const cmn_backend_t *backend; /* server channels' backend (RTR_NODE); NULL if none */
    uint64_t incarnation;
    uint64_t counter;     /* next TID counter */
    uint64_t counter_end; /* end of the reserved block (counter_file), 0 = unlimited */
    char *counter_file;
    char id[RTRL_NLINKS][24]; /* "c-<hex>", "s-<hex>" */

    void *zctx;
    void *sock[RTRL_NLINKS];
    bool want[RTRL_NLINKS]; /* the link is needed: the I/O thread (re)creates its socket */
    size_t router_idx;
    uint64_t last_rx_ns[RTRL_NLINKS];
    uint64_t peer_inc[RTRL_NLINKS];
    uint64_t last_hb_ns;
    uint64_t hb_seq;
    uint64_t heartbeat_ns, failure_ns, resend_ns;
    wire_counters_t ctr[RTRL_NLINKS];
    uint64_t wrong_role, unexpected;

    int wake_fd; /* eventfd: API threads -> I/O thread */
    int app_fd;  /* eventfd: readable while the application queue is non-empty */
    pthread_t thread;
    bool thread_started;
    bool stop;

    rtrl_chan_t chans[RTR_MAX_CHANNELS];
    uint32_t next_chan_id;
    rtrl_evt_t *qhead, *qtail;
    size_t qlen;
    bool pushed; /* an event was queued since the I/O thread last called the wakeup routine */
    rtrl_out_t *ohead, *otail;
    rtrl_query_t *queries;
    uint64_t next_query_id;
    void (*wakeup)(void);
} rtrl_ctx_t;

/* ---- rtr_ctx.c ----------------------------------------------------------------------- */

/* rtrl_ctx_get - the context, creating it (facility, sockets, I/O thread) at the first call.
 * Called WITHOUT the lock; on RTR_STS_OK returns with ctx->lock held and *out set.
 * RTR_STS_CONFIG (facility file invalid or unreadable, RTR_NODE unknown), RTR_STS_NOMEM,
 * RTR_STS_IOERR, RTR_STS_INVCHANNEL after rtrx_shutdown. */
rtr_status_t rtrl_ctx_get(bool create, rtrl_ctx_t **out);

/* rtrl_ctx_put - release the lock taken by rtrl_ctx_get. */
void rtrl_ctx_put(rtrl_ctx_t *ctx);

/* rtrl_chan_find - the channel with this id in a usable state (not FREE), or NULL. */
rtrl_chan_t *rtrl_chan_find(rtrl_ctx_t *ctx, rtr_channel_t id);

/* rtrl_post - encode env (its body set by the caller; the header is filled here) and queue it
 * for the I/O thread on `link`. Borrowed pointers in env need to live only during the call. */
rtr_status_t rtrl_post(rtrl_ctx_t *ctx, int link, Rtr__Envelope *env);

/* rtrl_evt_push - queue an event for the application (takes ownership of body). */
void rtrl_evt_push(rtrl_ctx_t *ctx, uint32_t channel, rtr_msg_type_t type, const uint8_t *tidb,
                   uint8_t *body, uint32_t len, rtr_status_t sts, rtr_reason_t reason);

/* rtrl_evt_push_event - queue an rtr_mt_user_event for a channel (takes ownership of body). */
void rtrl_evt_push_event(rtrl_ctx_t *ctx, uint32_t channel, rtr_evtnum_t evtnum, uint8_t *body,
                         uint32_t len);

/* rtrl_evt_push_rtr_event - queue an rtr_mt_rtr_event (a role event of the channel's partition;
 * the message is the partition's name) for a channel (takes ownership of body). */
void rtrl_evt_push_rtr_event(rtrl_ctx_t *ctx, uint32_t channel, rtr_evtnum_t evtnum, uint8_t *body,
                             uint32_t len);

/* rtrl_match - does `s` match the pattern `pat` (`*` any string, `%` one character)? */
bool rtrl_match(const char *pat, const char *s, bool nocase);

/* rtrl_chan_alloc - a FREE channel slot with a new id, in state OPENING; NULL if all 256 are
 * in use. */
rtrl_chan_t *rtrl_chan_alloc(rtrl_ctx_t *ctx);

/* rtrl_evt_drop_channel - drop every queued event of a channel. */
void rtrl_evt_drop_channel(rtrl_ctx_t *ctx, uint32_t channel);

/* rtrl_evt_drop_tx - drop the queued events of one transaction of a channel. */
void rtrl_evt_drop_tx(rtrl_ctx_t *ctx, uint32_t channel, const uint8_t *tidb);

/* rtrl_evt_taken - bookkeeping after the application took ev (the caller unlinked it):
 * the eventfd, server transaction counters, ServerDone scheduling. */
void rtrl_evt_taken(rtrl_ctx_t *ctx, rtrl_evt_t *ev);

/* rtrl_tid_next - the next TID of the process (reserving a counter block if needed). */
rtr_status_t rtrl_tid_next(rtrl_ctx_t *ctx, cmn_tid_t *tid);

/* rtrl_ctx_tx_free / rtrl_stx_free - free a transaction; accept NULL. */
void rtrl_ctx_tx_free(rtrl_ctx_tx_t *tx);
void rtrl_stx_free(rtrl_stx_t *stx);

/* rtrl_chan_release - free a channel's memory and mark it FREE. */
void rtrl_chan_release(rtrl_ctx_t *ctx, rtrl_chan_t *ch);

/* ---- rtr_proto.c: building and handling protocol messages -------------------------------- */

/* rtrl_send_channel_open - ChannelOpen for ch on its link. */
rtr_status_t rtrl_send_channel_open(rtrl_ctx_t *ctx, rtrl_chan_t *ch);

/* rtrl_send_tx_msg - TxMsg for message i of ch's transaction. */
rtr_status_t rtrl_send_tx_msg(rtrl_ctx_t *ctx, rtrl_chan_t *ch, uint32_t i);

/* rtrl_send_tx_vote - TxVote (accept or reject) for ch's transaction. */
rtr_status_t rtrl_send_tx_vote(rtrl_ctx_t *ctx, rtrl_chan_t *ch, bool accept, uint32_t reason);

/* rtrl_send_server_vote / rtrl_send_server_reply / rtrl_send_server_done - server side. */
rtr_status_t rtrl_send_server_vote(rtrl_ctx_t *ctx, rtrl_chan_t *ch);
rtr_status_t rtrl_send_server_reply(rtrl_ctx_t *ctx, rtrl_chan_t *ch, uint32_t i);
rtr_status_t rtrl_send_server_done(rtrl_ctx_t *ctx, rtrl_chan_t *ch);

/* rtrl_send_broadcast - Broadcast{evtnum, body, rcpspc} on ch's link. */
rtr_status_t rtrl_send_broadcast(rtrl_ctx_t *ctx, rtrl_chan_t *ch, rtr_evtnum_t evtnum,
                                 const void *body, uint32_t len, const char *rcpspc);

/* rtrl_send_tx_query - TxQuery{tid, id} to the router. */
rtr_status_t rtrl_send_tx_query(rtrl_ctx_t *ctx, const uint8_t *tidb, uint64_t id);

/* rtrl_handle - apply one envelope received on `link` (I/O thread). */
void rtrl_handle(rtrl_ctx_t *ctx, int link, const Rtr__Envelope *env);

/* rtrl_timers - heartbeats, peer loss, resends, query deadlines (I/O thread). */
void rtrl_timers(rtrl_ctx_t *ctx, uint64_t now);

/* rtrl_client_outcome - deliver a client transaction's outcome and free it. */
void rtrl_client_outcome(rtrl_ctx_t *ctx, rtrl_chan_t *ch, bool accepted, rtr_status_t sts,
                         rtr_reason_t reason);

/* rtrl_watermark - the lowest unresolved TID counter of the incarnation. */
uint64_t rtrl_watermark(rtrl_ctx_t *ctx);

#endif /* RTR_IMPL_H */
