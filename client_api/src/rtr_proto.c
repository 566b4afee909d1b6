/*
 * rtr_proto.c - librtr's side of docs/protocol.md: the envelopes it sends and how it handles
 * those it receives, heartbeats, peer loss and resends.
 *
 * Design note. librtr is a retransmission source twice over (protocol.md "Who keeps what"):
 * as a client it keeps every TxMsg of an in-flight transaction until the outcome and resends
 * from the index a TxNack names, and resends TxVote until an outcome arrives; as a server it
 * keeps its ServerReply bodies and its ServerVote until the ServerOutcome, answers a duplicate
 * VoteRequest with the same vote, and reports a Deliver gap with TxNack. Receivers drop
 * duplicates by index. Router loss (failure_timeout without a frame, or a new router
 * incarnation): transactions not voted are rejected with RTR_STS_NOROUTER at once; voted ones
 * are resolved by TxQuery through the next router, and rejected with RTR_STS_OUTCOMEUNKNOWN
 * only when their deadline passes without an answer.
 */
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "rtr_impl.h"

/* Envelope fields point into our buffers only while the envelope is encoded. */
#define RTRL_BIN(p, n) ((ProtobufCBinaryData){ .len = (n), .data = (uint8_t *)(uintptr_t)(p) })

/* ---- sending ----------------------------------------------------------------------------- */

rtr_status_t
rtrl_send_channel_open(rtrl_ctx_t *ctx, rtrl_chan_t *ch)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen m = RTR__CHANNEL_OPEN__INIT;

    m.channel = ch->id;
    m.flags = ch->flags;
    m.facility = ctx->fac->name;
    m.rcpnam = ch->rcpnam[0] != '\0' ? ch->rcpnam : NULL;
    m.n_events = ch->nevents;
    m.events = ch->events;
    if (ch->server) {
        m.has_key_low = m.has_key_high = 1;
        m.key_low = RTRL_BIN(ch->key_low, ctx->fac->keylen);
        m.key_high = RTRL_BIN(ch->key_high, ctx->fac->keylen);
    }
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
    env.channel_open = &m;
    return rtrl_post(ctx, ch->server ? RTRL_LINK_BACKEND : RTRL_LINK_ROUTER, &env);
}

rtr_status_t
rtrl_send_tx_msg(rtrl_ctx_t *ctx, rtrl_chan_t *ch, uint32_t i)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    rtrl_ctx_tx_t *tx = ch->tx;

    m.tid = RTRL_BIN(tx->tidb, 16);
    m.index = i;
    m.channel = ch->id;
    m.body = RTRL_BIN(tx->msgs[i].body, tx->msgs[i].len);
    m.has_flags = 1;
    m.flags = tx->msgs[i].flags;
    m.has_timeout_ms = tx->timeout_ms != 0;
    m.timeout_ms = tx->timeout_ms;
    m.has_watermark = 1;
    m.watermark = rtrl_watermark(ctx);
    m.has_resent = tx->msgs[i].sent;
    m.resent = tx->msgs[i].sent;
    tx->msgs[i].sent = true;
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    return rtrl_post(ctx, RTRL_LINK_ROUTER, &env);
}

rtr_status_t
rtrl_send_tx_vote(rtrl_ctx_t *ctx, rtrl_chan_t *ch, bool accept, uint32_t reason)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxVote m = RTR__TX_VOTE__INIT;

    m.tid = RTRL_BIN(ch->tx->tidb, 16);
    m.channel = ch->id;
    m.accept = accept;
    m.has_nmsgs = 1;
    m.nmsgs = ch->tx->nmsgs;
    m.has_reason = !accept;
    m.reason = reason;
    env.body_case = RTR__ENVELOPE__BODY_TX_VOTE;
    env.tx_vote = &m;
    return rtrl_post(ctx, RTRL_LINK_ROUTER, &env);
}

rtr_status_t
rtrl_send_server_vote(rtrl_ctx_t *ctx, rtrl_chan_t *ch)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerVote m = RTR__SERVER_VOTE__INIT;
    rtrl_stx_t *stx = ch->stx;

    m.tid = RTRL_BIN(stx->tidb, 16);
    m.channel = ch->id;
    m.accept = stx->vote > 0;
    m.has_reason = stx->vote < 0;
    m.reason = stx->reason;
    m.has_already_applied = stx->already_applied;
    m.already_applied = stx->already_applied;
    m.has_retry = stx->vote < 0 && stx->retry;
    m.retry = m.has_retry;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
    env.server_vote = &m;
    return rtrl_post(ctx, RTRL_LINK_BACKEND, &env);
}

rtr_status_t
rtrl_send_server_reply(rtrl_ctx_t *ctx, rtrl_chan_t *ch, uint32_t i)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerReply m = RTR__SERVER_REPLY__INIT;
    rtrl_stx_t *stx = ch->stx;

    m.tid = RTRL_BIN(stx->tidb, 16);
    m.channel = ch->id;
    m.index = i;
    m.body = RTRL_BIN(stx->replies[i].body, stx->replies[i].len);
    m.has_flags = stx->replies[i].flags != 0;
    m.flags = stx->replies[i].flags;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_REPLY;
    env.server_reply = &m;
    return rtrl_post(ctx, RTRL_LINK_BACKEND, &env);
}

rtr_status_t
rtrl_send_server_done(rtrl_ctx_t *ctx, rtrl_chan_t *ch)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerDone m = RTR__SERVER_DONE__INIT;

    m.tid = RTRL_BIN(ch->stx->tidb, 16);
    m.channel = ch->id;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_DONE;
    env.server_done = &m;
    return rtrl_post(ctx, RTRL_LINK_BACKEND, &env);
}

rtr_status_t
rtrl_send_broadcast(rtrl_ctx_t *ctx, rtrl_chan_t *ch, rtr_evtnum_t evtnum, const void *body,
                    uint32_t len, const char *rcpspc)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Broadcast m = RTR__BROADCAST__INIT;

    m.evtnum = evtnum;
    m.body = RTRL_BIN(body, len);
    m.rcpspc = (char *)(uintptr_t)rcpspc; /* NULL: unset, every recipient */
    env.body_case = RTR__ENVELOPE__BODY_BROADCAST;
    env.broadcast = &m;
    return rtrl_post(ctx, ch->server ? RTRL_LINK_BACKEND : RTRL_LINK_ROUTER, &env);
}

rtr_status_t
rtrl_send_tx_query(rtrl_ctx_t *ctx, const uint8_t *tidb, uint64_t id)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQuery m = RTR__TX_QUERY__INIT;

    m.tid = RTRL_BIN(tidb, 16);
    m.request_id = id;
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY;
    env.tx_query = &m;
    return rtrl_post(ctx, RTRL_LINK_ROUTER, &env);
}

static void
rtrl_send_nack(rtrl_ctx_t *ctx, int link, const uint8_t *tidb, uint32_t from, uint32_t channel)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxNack m = RTR__TX_NACK__INIT;

    m.tid = RTRL_BIN(tidb, 16);
    m.from_index = from;
    m.has_channel = 1;
    m.channel = channel;
    env.body_case = RTR__ENVELOPE__BODY_TX_NACK;
    env.tx_nack = &m;
    (void)rtrl_post(ctx, link, &env);
}

static void
rtrl_send_heartbeat(rtrl_ctx_t *ctx, int link)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Heartbeat m = RTR__HEARTBEAT__INIT;

    m.seq = ctx->hb_seq;
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &m;
    (void)rtrl_post(ctx, link, &env);
}

/* ---- client side ------------------------------------------------------------------------- */

void
rtrl_client_outcome(rtrl_ctx_t *ctx, rtrl_chan_t *ch, bool accepted, rtr_status_t sts,
                    rtr_reason_t reason)
{
    rtrl_evt_push(ctx, ch->id, accepted ? rtr_mt_accepted : rtr_mt_rejected, ch->tx->tidb, NULL, 0,
                  sts, reason);
    rtrl_ctx_tx_free(ch->tx);
    ch->tx = NULL;
}

/* rtrl_client_tx - the client channel whose transaction has this TID, or NULL. */
static rtrl_chan_t *
rtrl_client_tx(rtrl_ctx_t *ctx, const ProtobufCBinaryData *tid)
{
    if (tid->len != 16)
        return NULL;
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        if (ch->state != RTRL_CH_FREE && !ch->server && ch->tx != NULL &&
            memcmp(ch->tx->tidb, tid->data, 16) == 0)
            return ch;
    }
    return NULL;
}

static void
rtrl_on_channel_status(rtrl_ctx_t *ctx, int link, const Rtr__ChannelStatus *m)
{
    rtrl_chan_t *ch = rtrl_chan_find(ctx, m->channel);

    if (ch == NULL || ch->server != (link == RTRL_LINK_BACKEND) || ch->state == RTRL_CH_CLOSED)
        return;
    if (m->status == RTR_STS_OK && !(m->has_closed && m->closed)) {
        if (ch->server && m->partition != NULL &&
            (ch->partition == NULL || strcmp(ch->partition, m->partition) != 0)) {
            char *p = strdup(m->partition); /* for rtr_request_info "channel" */
            if (p != NULL) {
                free(ch->partition);
                ch->partition = p;
            }
        }
        if (ch->state == RTRL_CH_OPENING) {
            ch->state = RTRL_CH_OPEN;
            rtrl_evt_push(ctx, ch->id, rtr_mt_opened, NULL, NULL, 0, RTR_STS_OK, 0);
        }
        return; /* a re-open after failover: already open */
    }
    ch->state = RTRL_CH_CLOSED;
    rtrl_evt_push(ctx, ch->id, rtr_mt_closed, NULL, NULL, 0,
                  m->status == RTR_STS_OK ? RTR_STS_INVCHANNEL : (rtr_status_t)m->status, 0);
}

static void
rtrl_on_tx_reply(rtrl_ctx_t *ctx, const Rtr__TxReply *m)
{
    rtrl_chan_t *ch = rtrl_client_tx(ctx, &m->tid);
    uint8_t *body;

    if (ch == NULL || m->index < ch->tx->next_reply)
        return; /* unknown or duplicate */
    if (m->index > ch->tx->next_reply) {
        rtrl_send_nack(ctx, RTRL_LINK_ROUTER, ch->tx->tidb, ch->tx->next_reply, ch->id);
        return;
    }
    body = malloc(m->body.len ? m->body.len : 1);
    if (body == NULL)
        return; /* not counted as received: the gap is NACKed with the next reply */
    memcpy(body, m->body.data, m->body.len);
    ch->tx->next_reply++;
    rtrl_evt_push(ctx, ch->id, rtr_mt_reply, ch->tx->tidb, body, (uint32_t)m->body.len, RTR_STS_OK,
                  0);
}

static void
rtrl_on_tx_outcome(rtrl_ctx_t *ctx, const Rtr__TxOutcome *m)
{
    rtrl_chan_t *ch = rtrl_client_tx(ctx, &m->tid);

    if (ch == NULL)
        return; /* duplicate: already delivered */
    rtrl_client_outcome(ctx, ch, m->accepted, m->accepted ? RTR_STS_OK : (rtr_status_t)m->status,
                        m->has_reason ? m->reason : 0);
}

static void
rtrl_on_tx_nack(rtrl_ctx_t *ctx, const Rtr__TxNack *m)
{
    rtrl_chan_t *ch = rtrl_client_tx(ctx, &m->tid);

    if (ch == NULL)
        return;
    RTR_LOG(CMN_LOG_INFO, "RTR-NACK", "channel=%u from=%u nmsgs=%u", ch->id, m->from_index,
            ch->tx->nmsgs);
    for (uint32_t i = m->from_index; i < ch->tx->nmsgs; i++)
        (void)rtrl_send_tx_msg(ctx, ch, i);
    if (ch->tx->state == RTRL_CTX_VOTED || ch->tx->state == RTRL_CTX_REJECTING)
        (void)rtrl_send_tx_vote(ctx, ch, ch->tx->state == RTRL_CTX_VOTED, 0);
}

static void
rtrl_on_query_reply(rtrl_ctx_t *ctx, const Rtr__TxQueryReply *m)
{
    bool decided = m->outcome != NULL;
    bool accepted =
        decided ? m->outcome->accepted
                : (m->state == RTR__TX_STATE__TX_COMMIT || m->state == RTR__TX_STATE__TX_PRI_DONE ||
                   m->state == RTR__TX_STATE__TX_DONE);
    rtr_status_t sts = decided ? (rtr_status_t)m->outcome->status : RTR_STS_OK;
    rtr_reason_t reason = decided && m->outcome->has_reason ? m->outcome->reason : 0;
    rtrl_chan_t *ch;

    if (!decided && (accepted || m->state == RTR__TX_STATE__TX_ABORT))
        decided = true;
    for (rtrl_query_t *q = ctx->queries; q != NULL; q = q->next) {
        if (q->id != m->request_id || q->done)
            continue;
        q->done = true;
        q->sts = m->has_status && m->status == RTR_STS_FORGOTTEN ? RTR_STS_FORGOTTEN : RTR_STS_OK;
        if (m->has_status && m->status == RTR_STS_NOTFOUND) { /* nowhere, and fenced */
            decided = true;
            accepted = false;
            sts = RTR_STS_NOROUTER;
        }
        q->outcome = !decided ? rtrx_outcome_inprogress
                              : (accepted ? rtrx_outcome_accepted : rtrx_outcome_rejected);
        q->sd.status = accepted ? RTR_STS_OK : sts;
        q->sd.reason = reason;
        pthread_cond_broadcast(ctx->cond);
    }
    ch = rtrl_client_tx(ctx, &m->tid);
    if (ch == NULL || ch->tx->state != RTRL_CTX_QUERY)
        return;
    if (m->has_status && m->status == RTR_STS_FORGOTTEN)
        rtrl_client_outcome(ctx, ch, false, RTR_STS_FORGOTTEN, 0);
    else if (m->has_status && m->status == RTR_STS_NOTFOUND)
        rtrl_client_outcome(ctx, ch, false, RTR_STS_NOROUTER, 0); /* it never reached a backend */
    else if (decided)
        rtrl_client_outcome(ctx, ch, accepted, accepted ? RTR_STS_OK : sts, reason);
}

/* ---- server side ------------------------------------------------------------------------- */

static rtrl_chan_t *
rtrl_server_chan(rtrl_ctx_t *ctx, uint32_t channel)
{
    rtrl_chan_t *ch = rtrl_chan_find(ctx, channel);
    return ch != NULL && ch->server && ch->state == RTRL_CH_OPEN ? ch : NULL;
}

static bool
rtrl_stx_is(const rtrl_chan_t *ch, const ProtobufCBinaryData *tid)
{
    return ch->stx != NULL && tid->len == 16 && memcmp(ch->stx->tidb, tid->data, 16) == 0;
}

/* rtrl_server_switch - a new transaction arrives on a channel that still holds one. A decided
 * one is finished at once (ServerDone; its queued outcome stays for the application). An
 * undecided one was taken back by the backend (to replay elsewhere): its unread messages are
 * dropped. */
static void
rtrl_server_switch(rtrl_ctx_t *ctx, rtrl_chan_t *ch)
{
    rtrl_stx_t *old = ch->stx;

    if (old == NULL)
        return;
    if (old->outcome && !old->orphan) {
        (void)rtrl_send_server_done(ctx, ch);
    } else if (!old->outcome) {
        RTR_LOG(CMN_LOG_WARNING, "RTR-STXDROP", "channel=%u", ch->id);
        rtrl_evt_drop_tx(ctx, ch->id, old->tidb);
    }
    rtrl_stx_free(old);
    ch->stx = NULL;
}

static void
rtrl_on_deliver(rtrl_ctx_t *ctx, const Rtr__Deliver *m)
{
    rtrl_chan_t *ch = rtrl_server_chan(ctx, m->channel);
    rtrl_stx_t *stx;
    uint8_t *body;
    rtr_msg_type_t type = m->kind == RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN
                              ? rtr_mt_msg1_uncertain
                              : (m->index == 0 ? rtr_mt_msg1 : rtr_mt_msgn);

    if (ch == NULL || m->tid.len != 16 || m->body.len > RTR_MAX_MSGLEN) {
        ctx->unexpected++;
        return;
    }
    if (!rtrl_stx_is(ch, &m->tid)) {
        rtrl_server_switch(ctx, ch);
        if ((ch->stx = calloc(1, sizeof *ch->stx)) == NULL)
            return;
        memcpy(ch->stx->tidb, m->tid.data, 16);
        memcpy(ch->last_tid, m->tid.data, 16);
        ch->has_tid = true;
    }
    stx = ch->stx;
    if (m->index < stx->next_index)
        return; /* duplicate */
    if (m->index > stx->next_index) {
        rtrl_send_nack(ctx, RTRL_LINK_BACKEND, stx->tidb, stx->next_index, ch->id);
        return;
    }
    if ((body = malloc(m->body.len ? m->body.len : 1)) == NULL)
        return;
    memcpy(body, m->body.data, m->body.len);
    stx->next_index++;
    if (m->has_last && m->last)
        stx->last_seen = true;
    stx->queued++;
    rtrl_evt_push(ctx, ch->id, type, stx->tidb, body, (uint32_t)m->body.len, RTR_STS_OK, 0);
}

static void
rtrl_on_vote_request(rtrl_ctx_t *ctx, const Rtr__VoteRequest *m)
{
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        if (!ch->server || ch->state != RTRL_CH_OPEN || !rtrl_stx_is(ch, &m->tid))
            continue;
        rtrl_stx_t *stx = ch->stx;
        if (stx->next_index < m->nmsgs) { /* messages missing: ask for them first */
            rtrl_send_nack(ctx, RTRL_LINK_BACKEND, stx->tidb, stx->next_index, ch->id);
            return;
        }
        stx->vote_requested = true;
        stx->last_seen = true;
        if (stx->vote != 0) { /* duplicate, or the vote came early: the same vote again */
            (void)rtrl_send_server_vote(ctx, ch);
        } else if ((ch->flags & RTR_F_OPE_EXPLICIT_PREPARE) && !stx->prepare_queued) {
            stx->prepare_queued = true;
            stx->queued++;
            rtrl_evt_push(ctx, ch->id, rtr_mt_prepare, stx->tidb, NULL, 0, RTR_STS_OK, 0);
        }
        pthread_cond_broadcast(ctx->cond); /* a receiver may now vote implicitly */
        return;
    }
}

static void
rtrl_on_server_outcome(rtrl_ctx_t *ctx, const Rtr__ServerOutcome *m)
{
    rtrl_chan_t *ch = rtrl_server_chan(ctx, m->channel);

    if (ch == NULL || !rtrl_stx_is(ch, &m->tid) || ch->stx->outcome)
        return; /* unknown or duplicate */
    ch->stx->outcome = true;
    ch->stx->queued++;
    rtrl_evt_push(ctx, ch->id, m->accepted ? rtr_mt_accepted : rtr_mt_rejected, ch->stx->tidb, NULL,
                  0, m->accepted ? RTR_STS_OK : (rtr_status_t)m->status,
                  m->has_reason ? m->reason : 0);
}

static void
rtrl_on_server_nack(rtrl_ctx_t *ctx, const Rtr__TxNack *m)
{
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        if (!ch->server || !rtrl_stx_is(ch, &m->tid))
            continue;
        for (uint32_t r = m->from_index; r < ch->stx->nreplies; r++)
            (void)rtrl_send_server_reply(ctx, ch, r);
        if (ch->stx->vote != 0)
            (void)rtrl_send_server_vote(ctx, ch);
        return;
    }
}

/* ---- user events ------------------------------------------------------------------------- */

/* rtrl_subscribed - did the channel subscribe to event number e at rtr_open_channel? */
static bool
rtrl_subscribed(const rtrl_chan_t *ch, uint32_t e)
{
    for (size_t i = 0; i < ch->nevents; i++)
        if (ch->events[i] == e)
            return true;
    return false;
}

/* rtrl_on_broadcast - a user event from the facility: a copy for every open channel of the
 * link's kind (client channels on the router link, server channels on the backend link) that
 * subscribed to its number and whose recipient name matches its pattern. */
static void
rtrl_on_broadcast(rtrl_ctx_t *ctx, int link, const Rtr__Broadcast *m)
{
    if (m->evtnum > RTR_EVTNUM_USERMAX || m->body.len > RTR_MAX_MSGLEN) {
        ctx->unexpected++;
        return;
    }
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        uint8_t *body;
        if (ch->state != RTRL_CH_OPEN || ch->server != (link == RTRL_LINK_BACKEND) ||
            !rtrl_subscribed(ch, m->evtnum) ||
            (m->rcpspc != NULL && !rtrl_match(m->rcpspc, ch->rcpnam, false)))
            continue;
        if ((body = malloc(m->body.len ? m->body.len : 1)) == NULL) {
            RTR_LOG(CMN_LOG_CRIT, "RTR-NOMEM", "what=event channel=%u", ch->id);
            continue; /* best effort */
        }
        if (m->body.len > 0)
            memcpy(body, m->body.data, m->body.len);
        rtrl_evt_push_event(ctx, ch->id, m->evtnum, body, (uint32_t)m->body.len);
    }
}

/* rtrl_on_server_event - an RTR role event of a partition (SRPRIMARY, SRSECONDARY, ...): a
 * copy for every server channel on that partition that subscribed to it; the message is the
 * partition's name. */
static void
rtrl_on_server_event(rtrl_ctx_t *ctx, const Rtr__ServerEvent *m)
{
    if (m->evtnum <= RTR_EVTNUM_RTRBASE || m->evtnum > RTR_EVTNUM_SRRECOVERCMPL) {
        ctx->unexpected++;
        return;
    }
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        size_t len = strlen(m->partition) + 1;
        uint8_t *body;
        if (ch->state != RTRL_CH_OPEN || !ch->server || ch->partition == NULL ||
            strcmp(ch->partition, m->partition) != 0 || !rtrl_subscribed(ch, m->evtnum))
            continue;
        if ((body = malloc(len)) == NULL) {
            RTR_LOG(CMN_LOG_CRIT, "RTR-NOMEM", "what=rtr_event channel=%u", ch->id);
            continue;
        }
        memcpy(body, m->partition, len);
        rtrl_evt_push_rtr_event(ctx, ch->id, m->evtnum, body, (uint32_t)len);
    }
}

/* ---- dispatch ---------------------------------------------------------------------------- */

/* rtrl_link_lost - a link's peer is gone (silence or a new incarnation). */
static void
rtrl_link_lost(rtrl_ctx_t *ctx, int link, uint64_t now, bool reconnect)
{
    RTR_LOG(CMN_LOG_WARNING, "RTR-PEERLOST", "link=%s",
            link == RTRL_LINK_ROUTER ? "router" : "backend");
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        if (ch->state == RTRL_CH_FREE || ch->server != (link == RTRL_LINK_BACKEND))
            continue;
        if (!ch->server && ch->tx != NULL) {
            rtrl_ctx_tx_t *tx = ch->tx;
            if (tx->state == RTRL_CTX_VOTED || tx->state == RTRL_CTX_QUERY) {
                uint64_t d = now + ctx->failure_ns;
                tx->state = RTRL_CTX_QUERY;
                if (tx->query_deadline_ns == 0)
                    tx->query_deadline_ns = tx->deadline_ns > d ? tx->deadline_ns : d;
                tx->last_send_ns = 0; /* query at once on the new link */
            } else {
                rtrl_client_outcome(ctx, ch, false, RTR_STS_NOROUTER, 0);
            }
        } else if (ch->server && ch->stx != NULL && !ch->stx->outcome) {
            /* The backend replays it elsewhere: roll back here (DESIGN §5 server contract). */
            ch->stx->outcome = true;
            ch->stx->orphan = true; /* no ServerDone for it on the new connection */
            ch->stx->queued++;
            rtrl_evt_push(ctx, ch->id, rtr_mt_rejected, ch->stx->tidb, NULL, 0, RTR_STS_NOROUTER,
                          0);
        }
    }
    if (reconnect) {
        if (link == RTRL_LINK_ROUTER)
            ctx->router_idx++; /* the next router in config order */
        if (ctx->sock[link] != NULL) {
            zmq_close(ctx->sock[link]);
            ctx->sock[link] = NULL;
        }
        ctx->last_rx_ns[link] = now;
    }
    /* Channels of the link are announced again: on the new connection, or on this one to a
     * peer that restarted (a new incarnation knows none of them; a backend restarted within
     * the failure timeout would otherwise never see this process's server channels). */
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        if ((ch->state == RTRL_CH_OPEN || ch->state == RTRL_CH_OPENING) &&
            ch->server == (link == RTRL_LINK_BACKEND))
            (void)rtrl_send_channel_open(ctx, ch);
    }
}

static bool
rtrl_body_ok(int link, Rtr__Envelope__BodyCase b)
{
    switch (b) {
    case RTR__ENVELOPE__BODY_HEARTBEAT:
    case RTR__ENVELOPE__BODY_CHANNEL_STATUS:
    case RTR__ENVELOPE__BODY_TX_NACK:
    case RTR__ENVELOPE__BODY_BROADCAST:
        return true;
    case RTR__ENVELOPE__BODY_TX_REPLY:
    case RTR__ENVELOPE__BODY_TX_OUTCOME:
    case RTR__ENVELOPE__BODY_TX_QUERY_REPLY:
        return link == RTRL_LINK_ROUTER;
    case RTR__ENVELOPE__BODY_DELIVER:
    case RTR__ENVELOPE__BODY_VOTE_REQUEST:
    case RTR__ENVELOPE__BODY_SERVER_OUTCOME:
    case RTR__ENVELOPE__BODY_BACKEND_HELLO:
    case RTR__ENVELOPE__BODY_SERVER_EVENT:
        return link == RTRL_LINK_BACKEND;
    default:
        return false;
    }
}

void
rtrl_handle(rtrl_ctx_t *ctx, int link, const Rtr__Envelope *env)
{
    Rtr__Role want = link == RTRL_LINK_ROUTER ? RTR__ROLE__ROLE_ROUTER : RTR__ROLE__ROLE_BACKEND;
    uint64_t now = cmn_now_mono_ns();

    if (!env->has_role || env->role != want) {
        ctx->wrong_role++;
        RTR_LOG(CMN_LOG_WARNING, "RTR-WRONGROLE", "link=%d role=%d", link, (int)env->role);
        return;
    }
    if (!rtrl_body_ok(link, env->body_case)) {
        ctx->unexpected++;
        RTR_LOG(CMN_LOG_WARNING, "RTR-UNEXPECTED", "link=%d body=%d", link, (int)env->body_case);
        return;
    }
    if (env->has_incarnation && env->incarnation != 0) {
        if (ctx->peer_inc[link] != 0 && ctx->peer_inc[link] != env->incarnation)
            rtrl_link_lost(ctx, link, now, false); /* the peer restarted: its state is gone */
        ctx->peer_inc[link] = env->incarnation;
    }
    ctx->last_rx_ns[link] = now;
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_CHANNEL_STATUS:
        rtrl_on_channel_status(ctx, link, env->channel_status);
        break;
    case RTR__ENVELOPE__BODY_TX_REPLY:
        rtrl_on_tx_reply(ctx, env->tx_reply);
        break;
    case RTR__ENVELOPE__BODY_TX_OUTCOME:
        rtrl_on_tx_outcome(ctx, env->tx_outcome);
        break;
    case RTR__ENVELOPE__BODY_TX_NACK:
        if (link == RTRL_LINK_ROUTER)
            rtrl_on_tx_nack(ctx, env->tx_nack);
        else
            rtrl_on_server_nack(ctx, env->tx_nack);
        break;
    case RTR__ENVELOPE__BODY_TX_QUERY_REPLY:
        rtrl_on_query_reply(ctx, env->tx_query_reply);
        break;
    case RTR__ENVELOPE__BODY_DELIVER:
        rtrl_on_deliver(ctx, env->deliver);
        break;
    case RTR__ENVELOPE__BODY_VOTE_REQUEST:
        rtrl_on_vote_request(ctx, env->vote_request);
        break;
    case RTR__ENVELOPE__BODY_SERVER_OUTCOME:
        rtrl_on_server_outcome(ctx, env->server_outcome);
        break;
    case RTR__ENVELOPE__BODY_BROADCAST:
        rtrl_on_broadcast(ctx, link, env->broadcast);
        break;
    case RTR__ENVELOPE__BODY_SERVER_EVENT:
        rtrl_on_server_event(ctx, env->server_event);
        break;
    default: /* heartbeat, backend hello: liveness only */
        break;
    }
}

/* ---- timers ------------------------------------------------------------------------------ */

static void
rtrl_client_timers(rtrl_ctx_t *ctx, uint64_t now)
{
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        rtrl_ctx_tx_t *tx = ch->tx;
        if (ch->state == RTRL_CH_FREE || ch->server || tx == NULL)
            continue;
        if (tx->state == RTRL_CTX_QUERY && now >= tx->query_deadline_ns) {
            rtrl_client_outcome(ctx, ch, false, RTR_STS_OUTCOMEUNKNOWN, 0);
            continue;
        }
        if (tx->state == RTRL_CTX_ACTIVE || now - tx->last_send_ns < ctx->resend_ns)
            continue;
        tx->last_send_ns = now;
        if (tx->state == RTRL_CTX_QUERY)
            (void)rtrl_send_tx_query(ctx, tx->tidb, 0);
        else /* no outcome yet: resend the vote (the router answers duplicates idempotently) */
            (void)rtrl_send_tx_vote(ctx, ch, tx->state == RTRL_CTX_VOTED, 0);
    }
}

void
rtrl_timers(rtrl_ctx_t *ctx, uint64_t now)
{
    bool hb = now - ctx->last_hb_ns >= ctx->heartbeat_ns;

    if (hb) {
        ctx->last_hb_ns = now;
        ctx->hb_seq++;
    }
    for (int l = 0; l < RTRL_NLINKS; l++) {
        if (!ctx->want[l] || ctx->sock[l] == NULL)
            continue;
        if (now - ctx->last_rx_ns[l] >= ctx->failure_ns) {
            rtrl_link_lost(ctx, l, now, true);
            continue;
        }
        if (hb)
            rtrl_send_heartbeat(ctx, l);
    }
    rtrl_client_timers(ctx, now);
    for (rtrl_query_t *q = ctx->queries; q != NULL && hb; q = q->next)
        if (!q->done) /* re-ask with every heartbeat until answered */
            (void)rtrl_send_tx_query(ctx, q->tidb, q->id);
}
