/*
 * bkd_core.c - the backend's pure state machine: its life, and the event entry points of bkd.h
 * (router and server messages, links up and lost, journal progress, the clock, start-up), with
 * the partition and server-channel bookkeeping they do. What the events set in motion lives
 * beside it: bkd_core_tx.c decides (the vote checklist, CSNs, outcomes) and keeps the tables;
 * bkd_deliver.c delivers to servers and replays. The partitions are served alone (RTR's plain
 * `active` state).
 *
 * Design note (invariants):
 * - A transaction is delivered to at most one server channel at a time (tx->srv <-> srv->tx).
 *   A server channel holds one transaction from Deliver msg1 until its ServerDone.
 * - Every message to a peer that must be answered is resent from here on the timer until it
 *   is (VoteRequest until a vote, ServerOutcome until ServerDone); receivers dedup by
 *   (TID, index), so resending is always safe.
 * - A message from a server is taken only from the channel that holds its transaction
 *   (bkd_srv_tx): one from an execution that was replayed elsewhere is counted and ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkd_core_impl.h"
#include "wire.h"

/* ---- life ------------------------------------------------------------------------------ */

rtr_status_t
bkd_core_new(const bkd_core_cfg_t *cfg, bkd_core_t **out)
{
    bkd_core_t *c = NULL;

    *out = NULL;
    if (cfg == NULL || cfg->node == NULL || cfg->keylen == 0 || cfg->nparts == 0 ||
        cfg->parts == NULL)
        return RTR_STS_INVARG;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    c->node = strdup(cfg->node);
    c->parts = calloc(cfg->nparts, sizeof(*c->parts));
    if (c->node == NULL || c->parts == NULL)
        goto fail;
    c->nparts = cfg->nparts;
    c->incarnation = cfg->incarnation;
    c->keylen = cfg->keylen;
    c->max_frame = cfg->max_frame;
    c->shadow_window_bytes = cfg->shadow_window_bytes ? cfg->shadow_window_bytes : 8u << 20;
    c->catchup_window_bytes = cfg->catchup_window_bytes ? cfg->catchup_window_bytes : 4u << 20;
    /* register request ids differ between incarnations too (a router keeps replies) */
    c->reg_req_ids = (cfg->incarnation & 0xffffffffull) << 32;
    c->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 500;
    c->failure_timeout_ms = cfg->failure_timeout_ms ? cfg->failure_timeout_ms : 2000;
    c->lease_ms = cfg->lease_ms ? cfg->lease_ms : 2 * c->failure_timeout_ms;
    c->lease_margin_ms = cfg->lease_margin_ms ? cfg->lease_margin_ms : c->lease_ms / 10;
    c->shadow_lag_ms = cfg->shadow_lag_ms ? cfg->shadow_lag_ms : c->failure_timeout_ms;
    c->catchup_lag_ms = cfg->catchup_lag_ms ? cfg->catchup_lag_ms : c->shadow_lag_ms;
    c->register_timeout_ms = cfg->register_timeout_ms ? cfg->register_timeout_ms : 500;
    c->deny_reject_ms = cfg->deny_reject_ms ? cfg->deny_reject_ms : 2 * c->failure_timeout_ms;
    if (cfg->nrouters > 64 || (cfg->nrouters > 0 && cfg->routers == NULL))
        goto invalid;
    if (cfg->nrouters > 0) {
        c->routers_reg = calloc(cfg->nrouters, sizeof(*c->routers_reg));
        if (c->routers_reg == NULL)
            goto fail;
        c->nrouters_reg = cfg->nrouters;
        for (size_t i = 0; i < cfg->nrouters; i++)
            if ((c->routers_reg[i] = strdup(cfg->routers[i])) == NULL)
                goto fail;
    }
#ifdef RTR_SIM
    c->broken_commit_rule = cfg->test_broken_commit_rule;
#endif
    c->replay_limit = cfg->replay_limit ? cfg->replay_limit : BKD_REPLAY_LIMIT_DEFAULT;
    c->resend_ms = cfg->resend_ms ? cfg->resend_ms : BKD_RESEND_MS_DEFAULT;
    for (size_t i = 0; i < cfg->nparts; i++) {
        const bkd_part_cfg_t *pc = &cfg->parts[i];
        bkd_part_t *p = &c->parts[i];
        p->name = strdup(pc->name);
        p->low = malloc(cfg->keylen);
        p->high = malloc(cfg->keylen);
        if (p->name == NULL || p->low == NULL || p->high == NULL)
            goto fail;
        memcpy(p->low, pc->low, cfg->keylen);
        memcpy(p->high, pc->high, cfg->keylen);
        p->concurrent = pc->concurrent;
        p->epoch = pc->epoch ? pc->epoch : 1;
        p->hardened_n = pc->last_n;
        p->next_n = pc->last_n + 1;
        p->role = pc->role;
        p->shadowed = pc->role != BKD_ROLE_SOLE;
        p->reg.deny = pc->remember_deny;
        if (pc->role != BKD_ROLE_SOLE) {
            if (pc->partner == NULL || pc->partner[0] == '\0' ||
                strcmp(pc->partner, cfg->node) == 0)
                goto invalid;
            p->partner = strdup(pc->partner);
            if (p->partner == NULL)
                goto fail;
        }
        if (p->shadowed) {
            Rtr__JournalMeta m = RTR__JOURNAL_META__INIT;
            const Rtr__JournalMeta *src = pc->meta;
            uint8_t *buf = NULL;
            size_t len = 0;
            if (src == NULL) {
                m.partition = p->name;
                src = &m;
            }
            if (wire_encode(&src->base, 0, &buf, &len) != RTR_STS_OK ||
                wire_decode(&rtr__journal_meta__descriptor, buf, len, 0, NULL,
                            (ProtobufCMessage **)&p->meta) != RTR_STS_OK) {
                free(buf);
                goto fail;
            }
            free(buf);
            p->reg.highest_epoch_seen =
                p->meta->has_highest_epoch_seen ? p->meta->highest_epoch_seen : 0;
        }
        if (pc->role == BKD_ROLE_PRIMARY && (p->pipe = bkd_pipe_new()) == NULL)
            goto fail;
        if (pc->role == BKD_ROLE_MEMBER && (p->shd = bkd_shd_new(pc->last_n)) == NULL)
            goto fail;
        /* static roles (no register): the stream runs from the start, no handshake */
        if (p->pipe != NULL)
            p->pipe->streaming = cfg->nrouters == 0;
        if (p->shd != NULL)
            p->shd->started = cfg->nrouters == 0;
    }
    *out = c;
    return RTR_STS_OK;
fail:
    bkd_core_free(&c);
    return RTR_STS_NOMEM;
invalid:
    bkd_core_free(&c);
    return RTR_STS_INVARG;
}

void
bkd_core_free(bkd_core_t **cp)
{
    bkd_core_t *c;
    bkd_action_t a;

    if (cp == NULL || *cp == NULL)
        return;
    c = *cp;
    for (size_t i = 0; i < c->nsrv; i++) {
        if (c->srv[i]->tx != NULL)
            c->srv[i]->tx->srv = NULL;
        free(c->srv[i]);
    }
    free(c->srv);
    while (c->first != NULL)
        bkd_tx_destroy(c, c->first);
    while (bkd_core_next_action(c, &a))
        bkd_action_clear(&a);
    free(c->q.a);
    for (size_t i = 0; c->parts != NULL && i < c->nparts; i++) {
        free(c->parts[i].name);
        free(c->parts[i].low);
        free(c->parts[i].high);
        free(c->parts[i].partner);
        free(c->parts[i].done);
        free(c->parts[i].moves);
        bkd_pipe_free(&c->parts[i].pipe);
        bkd_shd_free(&c->parts[i].shd);
        wire_free((ProtobufCMessage **)&c->parts[i].meta);
    }
    for (size_t i = 0; i < c->nrouters_reg; i++)
        free(c->routers_reg[i]);
    free(c->routers_reg);
    free(c->parts);
    free(c->wm);
    free(c->routers);
    free(c->node);
    free(c);
    *cp = NULL;
}

/* ---- sending to routers -------------------------------------------------------------------- */

void
bkd_send_tx_outcome(bkd_core_t *c, const bkd_tx_t *tx, const char *router, uint32_t channel,
                    bool accepted, uint32_t status, uint32_t reason, uint64_t csn)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxOutcome o = RTR__TX_OUTCOME__INIT;

    if (router == NULL || router[0] == '\0')
        return; /* loaded from the journal: the client asks with TxQuery */
    o.tid.data = (uint8_t *)(uintptr_t)tx->tid;
    o.tid.len = 16;
    o.channel = channel;
    o.accepted = accepted;
    o.status = status;
    o.has_reason = reason != 0;
    o.reason = reason;
    o.has_csn = accepted && csn != 0;
    o.csn = csn;
    env.body_case = RTR__ENVELOPE__BODY_TX_OUTCOME;
    env.tx_outcome = &o;
    bkd_emit_send(c, BKD_SOCK_ROUTER, router, &env);
}

/* bkd_reject_msg - TxOutcome{rejected, status} for a TxMsg that is not applied. */
static void
bkd_reject_msg(bkd_core_t *c, const char *router, const Rtr__TxMsg *m, rtr_status_t status)
{
    bkd_tx_t tmp;

    memset(&tmp, 0, sizeof(tmp));
    memcpy(tmp.tid, m->tid.data, 16);
    bkd_send_tx_outcome(c, &tmp, router, m->channel, false, status, 0, 0);
}

static void
bkd_send_nack(bkd_core_t *c, bkd_sock_t sock, const char *to, const uint8_t tid[16], uint32_t from,
              uint32_t channel)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxNack k = RTR__TX_NACK__INIT;

    k.tid.data = (uint8_t *)(uintptr_t)tid;
    k.tid.len = 16;
    k.from_index = from;
    k.has_channel = 1;
    k.channel = channel;
    env.body_case = RTR__ENVELOPE__BODY_TX_NACK;
    env.tx_nack = &k;
    bkd_emit_send(c, sock, to, &env);
    c->ctr.nacks_sent++;
}

static void
bkd_send_tx_reply(bkd_core_t *c, const bkd_tx_t *tx, const bkd_reply_t *r)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxReply p = RTR__TX_REPLY__INIT;

    if (tx->router[0] == '\0')
        return;
    p.tid.data = (uint8_t *)(uintptr_t)tx->tid;
    p.tid.len = 16;
    p.index = r->index;
    p.channel = tx->channel;
    p.body.data = r->body;
    p.body.len = r->len;
    p.has_format = r->format != 0;
    p.format = r->format;
    env.body_case = RTR__ENVELOPE__BODY_TX_REPLY;
    env.tx_reply = &p;
    bkd_emit_send(c, BKD_SOCK_ROUTER, tx->router, &env);
}

/* ---- router events ---------------------------------------------------------------------- */

static int
bkd_part_by_name(const bkd_core_t *c, const char *name)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (name != NULL && strcasecmp(c->parts[i].name, name) == 0)
            return (int)i;
    if (name == NULL && c->nparts == 1)
        return 0;
    return -1;
}

/* bkd_part_has_server - is any server channel attached to the partition? */
static bool
bkd_part_has_server(const bkd_core_t *c, uint32_t part)
{
    for (size_t i = 0; i < c->nsrv; i++)
        if (c->srv[i]->part == part)
            return true;
    return false;
}

/* bkd_tx_msg_known - a TxMsg for a transaction we have: a duplicate, a reuse, or new data. */
static void
bkd_tx_msg_known(bkd_core_t *c, const char *router, bkd_tx_t *tx, const Rtr__TxMsg *m)
{
    uint64_t dg = bkd_digest(BKD_DIGEST_INIT, m->body.data, m->body.len);

    if (tx->fenced) { /* a late arrival of a TID a query declared lost (bkd_on_tx_query) */
        c->ctr.duplicates++;
        bkd_reject_msg(c, router, m, RTR_STS_NOROUTER);
        return;
    }
    if (m->index < tx->msgcap && tx->msgs[m->index].have) {
        if (tx->msgs[m->index].digest != dg) {
            c->ctr.tx_reused++;
            RTR_LOG(CMN_LOG_WARNING, "BKD-TIDREUSED", "index=%u router=%s", m->index, router);
            bkd_reject_msg(c, router, m, RTR_STS_TIDREUSED);
            return;
        }
        c->ctr.duplicates++;
        if (tx->state == BKD_TX_DONE || tx->state == BKD_TX_COMMITTED)
            bkd_send_tx_outcome(c, tx, router, m->channel, tx->accepted, tx->out_status,
                                tx->out_reason, tx->n);
        return;
    }
    if (tx->state != BKD_TX_QUEUED && tx->state != BKD_TX_ACTIVE) {
        c->ctr.tx_reused++; /* more messages for a decided transaction */
        bkd_reject_msg(c, router, m, RTR_STS_TIDREUSED);
        return;
    }
    if (bkd_tx_put_msg(tx, m->index, m->body.data, m->body.len, m->has_flags ? m->flags : 0,
                       m->has_format ? m->format : 0) != RTR_STS_OK) {
        bkd_reject_msg(c, router, m, RTR_STS_INVARG);
        return;
    }
    if (tx->held <= m->index) /* a gap: ask the client (through the router) for the rest */
        bkd_send_nack(c, BKD_SOCK_ROUTER, router, tx->tid, tx->held, tx->channel);
    bkd_deliver_pending(c, tx);
}

static rtr_status_t
bkd_on_tx_msg(bkd_core_t *c, const char *router, const Rtr__TxMsg *m)
{
    bkd_tx_t *tx;
    cmn_tid_t t;
    int part;

    if (m->tid.len != 16 || m->body.len > WIRE_MAX_MSGLEN)
        return RTR_STS_INVARG;
    cmn_tid_unpack(m->tid.data, &t);
    if (m->has_watermark)
        bkd_wm_note(c, t.incarnation, m->watermark);
    tx = bkd_tx_find(c, m->tid.data);
    if (tx != NULL) {
        bkd_tx_msg_known(c, router, tx, m);
        return RTR_STS_OK;
    }
    if (t.counter < bkd_wm_get(c, t.incarnation)) {
        c->ctr.tx_forgotten++;
        bkd_reject_msg(c, router, m, RTR_STS_FORGOTTEN);
        return RTR_STS_OK;
    }
    part = bkd_part_by_name(c, m->partition);
    if (part < 0 || c->parts[part].role == BKD_ROLE_MEMBER ||
        (c->parts[part].shadowed && c->parts[part].reg.ms != BKD_MS_ACTIVE &&
         c->parts[part].reg.ms != BKD_MS_REMEMBER)) {
        bkd_reject_msg(c, router, m, RTR_STS_NODSTFND);
        return RTR_STS_OK;
    }
    if (c->jnlfull_until > c->now_ms) {
        c->ctr.jnlfull++;
        bkd_reject_msg(c, router, m, RTR_STS_JNLFULL);
        return RTR_STS_OK;
    }
    if (c->parts[part].reg.stalled_since != 0 &&
        c->now_ms >= c->parts[part].reg.stalled_since + c->deny_reject_ms) {
        /* remember = deny and no partner can harden: refused before any server works on it */
        c->ctr.tx_noshadow++;
        bkd_reject_msg(c, router, m, RTR_STS_NOSHADOW);
        return RTR_STS_OK;
    }
    if (!bkd_part_has_server(c, (uint32_t)part)) {
        /* RTR's NODSTFND: no server application serves the key range (not started, or all
         * gone). Queueing would leave the client waiting for a server nobody may start;
         * transactions already held stay queued (they were accepted when a server was there). */
        c->ctr.tx_noserver++;
        bkd_reject_msg(c, router, m, RTR_STS_NODSTFND);
        return RTR_STS_OK;
    }
    tx = bkd_tx_create(c, m->tid.data, (uint32_t)part);
    if (tx == NULL) {
        bkd_reject_msg(c, router, m, RTR_STS_NOMEM);
        return RTR_STS_OK;
    }
    snprintf(tx->router, sizeof(tx->router), "%s", router);
    tx->channel = m->channel;
    tx->watermark = m->has_watermark ? m->watermark : 0;
    c->ctr.tx_started++;
    if (bkd_tx_put_msg(tx, m->index, m->body.data, m->body.len, m->has_flags ? m->flags : 0,
                       m->has_format ? m->format : 0) != RTR_STS_OK) {
        bkd_tx_destroy(c, tx);
        bkd_reject_msg(c, router, m, RTR_STS_INVARG);
        return RTR_STS_OK;
    }
    if (tx->held == 0)
        bkd_send_nack(c, BKD_SOCK_ROUTER, router, tx->tid, 0, tx->channel);
    bkd_queue_push(c, tx, false);
    bkd_pump(c, tx->part);
    return RTR_STS_OK;
}

static rtr_status_t
bkd_on_vote_request(bkd_core_t *c, const char *router, const Rtr__VoteRequest *v)
{
    bkd_tx_t *tx;

    if (v->tid.len != 16)
        return RTR_STS_INVARG;
    tx = bkd_tx_find(c, v->tid.data);
    if (tx == NULL) { /* we hold nothing: ask for everything */
        bkd_send_nack(c, BKD_SOCK_ROUTER, router, v->tid.data, 0, 0);
        return RTR_STS_OK;
    }
    if (tx->state != BKD_TX_QUEUED && tx->state != BKD_TX_ACTIVE) {
        c->ctr.duplicates++;
        if (tx->state == BKD_TX_DONE || tx->state == BKD_TX_COMMITTED)
            bkd_send_tx_outcome(c, tx, router, tx->channel, tx->accepted, tx->out_status,
                                tx->out_reason, tx->n);
        return RTR_STS_OK;
    }
    snprintf(tx->router, sizeof(tx->router), "%s", router);
    if (tx->vreq) {
        c->ctr.duplicates++;
    } else {
        tx->vreq = true;
        tx->vreq_n = v->nmsgs;
    }
    if (tx->held < tx->vreq_n)
        bkd_send_nack(c, BKD_SOCK_ROUTER, router, tx->tid, tx->held, tx->channel);
    bkd_deliver_pending(c, tx);
    return RTR_STS_OK;
}

static rtr_status_t
bkd_on_tx_abort(bkd_core_t *c, const Rtr__TxAbort *ab)
{
    bkd_tx_t *tx;

    if (ab->tid.len != 16)
        return RTR_STS_INVARG;
    tx = bkd_tx_find(c, ab->tid.data);
    if (tx == NULL)
        return RTR_STS_OK; /* nothing held: nothing to abort */
    if (tx->vreq || (tx->state != BKD_TX_QUEUED && tx->state != BKD_TX_ACTIVE)) {
        /* In VOTING the backend alone decides: a late abort is ignored. */
        c->ctr.unexpected++;
        return RTR_STS_INVARG;
    }
    bkd_decide_abort(c, tx, ab->status, ab->has_reason ? ab->reason : 0, false);
    return RTR_STS_OK;
}

static rtr_status_t
bkd_on_tx_query(bkd_core_t *c, const char *router, const Rtr__TxQuery *q)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQueryReply r = RTR__TX_QUERY_REPLY__INIT;
    Rtr__TxOutcome o = RTR__TX_OUTCOME__INIT;
    bkd_tx_t *tx;
    cmn_tid_t t;

    if (q->tid.len != 16)
        return RTR_STS_INVARG;
    c->ctr.queries++;
    cmn_tid_unpack(q->tid.data, &t);
    tx = bkd_tx_find(c, q->tid.data);
    r.request_id = q->request_id;
    r.tid = q->tid;
    r.state = 0;
    if (tx == NULL && t.counter < bkd_wm_get(c, t.incarnation)) {
        r.has_status = 1;
        r.status = RTR_STS_FORGOTTEN;
    } else if (tx == NULL || tx->fenced) {
        /* Not here. Presumed abort: from now on this backend refuses the TID (a tombstone),
         * so a message still in flight through a lost router can never start it after we
         * said "not here". When every backend of the facility says so, the router tells the
         * client, which reports the transaction rejected (NOROUTER). Without memory for the
         * tombstone the answer stays "unknown". */
        if (tx == NULL && (tx = bkd_tx_create(c, q->tid.data, 0)) != NULL) {
            tx->fenced = true;
            tx->state = BKD_TX_DONE;
            tx->accepted = false;
            tx->out_status = RTR_STS_NOROUTER;
            c->ctr.tx_fenced++;
        }
        if (tx != NULL) {
            r.has_status = 1;
            r.status = RTR_STS_NOTFOUND;
        }
    } else if (tx != NULL && (tx->state == BKD_TX_DONE || tx->state == BKD_TX_COMMITTED ||
                              tx->state == BKD_TX_ABORTED || tx->state == BKD_TX_EXCEPTION)) {
        if (tx->state == BKD_TX_EXCEPTION)
            r.state = RTR__TX_STATE__TX_EXCEPTION;
        else if (!tx->accepted)
            r.state = RTR__TX_STATE__TX_ABORT;
        else
            r.state = tx->state == BKD_TX_DONE ? RTR__TX_STATE__TX_DONE : RTR__TX_STATE__TX_COMMIT;
        if (tx->state != BKD_TX_EXCEPTION) {
            o.tid = q->tid;
            o.channel = tx->channel;
            o.accepted = tx->accepted;
            o.status = tx->out_status;
            o.has_reason = tx->out_reason != 0;
            o.reason = tx->out_reason;
            o.has_csn = tx->accepted;
            o.csn = tx->n;
            r.outcome = &o;
        }
    }
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY_REPLY;
    env.tx_query_reply = &r;
    bkd_emit_send(c, BKD_SOCK_ROUTER, router, &env);
    return RTR_STS_OK;
}

/* ---- user events ------------------------------------------------------------------------ */

/* bkd_broadcast_ok - the limits of a user event (rtr.h: 0..250, RTR_MAX_MSGLEN). */
static bool
bkd_broadcast_ok(bkd_core_t *c, const Rtr__Broadcast *b)
{
    if (b->evtnum <= BKD_EVTNUM_USERMAX && b->body.len <= WIRE_MAX_MSGLEN)
        return true;
    c->ctr.events_dropped++;
    return false;
}

/* bkd_on_router_broadcast - a client's user event: one copy to every server process that has
 * an open channel (several channels of one process share one copy). */
static rtr_status_t
bkd_on_router_broadcast(bkd_core_t *c, const Rtr__Broadcast *b)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Broadcast m = *b;
    uint64_t sent = 0;

    if (!bkd_broadcast_ok(c, b))
        return RTR_STS_INVARG;
    env.body_case = RTR__ENVELOPE__BODY_BROADCAST;
    env.broadcast = &m;
    for (size_t i = 0; i < c->nsrv; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->srv[j]->id, c->srv[i]->id) == 0;
        if (seen)
            continue;
        bkd_emit_send(c, BKD_SOCK_SERVERS, c->srv[i]->id, &env);
        sent++;
    }
    c->ctr.events_forwarded += sent;
    if (sent == 0)
        c->ctr.events_dropped++;
    return RTR_STS_OK;
}

/* bkd_on_server_broadcast - a server's user event: one copy to every router that is up. */
static rtr_status_t
bkd_on_server_broadcast(bkd_core_t *c, const Rtr__Broadcast *b)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Broadcast m = *b;

    if (!bkd_broadcast_ok(c, b))
        return RTR_STS_INVARG;
    env.body_case = RTR__ENVELOPE__BODY_BROADCAST;
    env.broadcast = &m;
    for (size_t i = 0; i < c->nrouters; i++)
        bkd_emit_send(c, BKD_SOCK_ROUTER, c->routers[i], &env);
    c->ctr.events_forwarded += c->nrouters;
    if (c->nrouters == 0)
        c->ctr.events_dropped++;
    return RTR_STS_OK;
}

void
bkd_core_router_up(bkd_core_t *c, const char *router)
{
    for (size_t i = 0; i < c->nrouters; i++)
        if (strcmp(c->routers[i], router) == 0)
            return;
    if (c->nrouters == c->routercap) {
        size_t cap = c->routercap ? c->routercap * 2 : 4;
        char(*v)[BKD_ID_MAX + 1] = realloc(c->routers, cap * sizeof(*v));
        RTR_ASSERT(v != NULL); /* a few names: out of memory here means no way on */
        c->routers = v;
        c->routercap = cap;
    }
    snprintf(c->routers[c->nrouters++], BKD_ID_MAX + 1, "%s", router);
}

rtr_status_t
bkd_core_router_msg(bkd_core_t *c, const char *router, const Rtr__Envelope *env)
{
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_TX_MSG:
        return bkd_on_tx_msg(c, router, env->tx_msg);
    case RTR__ENVELOPE__BODY_VOTE_REQUEST:
        return bkd_on_vote_request(c, router, env->vote_request);
    case RTR__ENVELOPE__BODY_TX_ABORT:
        return bkd_on_tx_abort(c, env->tx_abort);
    case RTR__ENVELOPE__BODY_TX_QUERY:
        return bkd_on_tx_query(c, router, env->tx_query);
    case RTR__ENVELOPE__BODY_REG_CHANGE_REPLY:
    case RTR__ENVELOPE__BODY_REG_LEARN:
    case RTR__ENVELOPE__BODY_LEASE_GRANT:
        return bkd_core_register_msg(c, router, env);
    case RTR__ENVELOPE__BODY_BROADCAST:
        return bkd_on_router_broadcast(c, env->broadcast);
    default:
        c->ctr.unexpected++;
        return RTR_STS_INVARG;
    }
}

/* ---- server events ---------------------------------------------------------------------- */

static void
bkd_send_channel_status(bkd_core_t *c, const char *id, uint32_t channel, rtr_status_t sts,
                        const char *part)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelStatus s = RTR__CHANNEL_STATUS__INIT;

    s.channel = channel;
    s.status = sts;
    s.partition = (char *)(uintptr_t)part;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_STATUS;
    env.channel_status = &s;
    bkd_emit_send(c, BKD_SOCK_SERVERS, id, &env);
}

static rtr_status_t
bkd_on_channel_open(bkd_core_t *c, const char *id, const Rtr__ChannelOpen *o)
{
    bkd_srv_t *s = bkd_srv_find(c, id, o->channel);
    int part = -1;

    if (o->has_key_low && o->has_key_high && o->key_low.len == c->keylen &&
        o->key_high.len == c->keylen && memcmp(o->key_low.data, o->key_high.data, c->keylen) <= 0) {
        for (size_t i = 0; i < c->nparts && part < 0; i++)
            if (memcmp(o->key_low.data, c->parts[i].low, c->keylen) >= 0 &&
                memcmp(o->key_high.data, c->parts[i].high, c->keylen) <= 0)
                part = (int)i;
    }
    if (part < 0) {
        bkd_send_channel_status(c, id, o->channel, RTR_STS_INVPKEYSEG, NULL);
        return RTR_STS_OK;
    }
    if (s != NULL && (s->part != (uint32_t)part || s->tx != NULL)) {
        /* reopened elsewhere, or announced again while it held a transaction: librtr announces
         * its channels again after it lost its link to this backend, and rolls back what they
         * held (it may have missed the outcome): the old channel closes and what it held is
         * replayed, msg1_uncertain if decided */
        bkd_srv_detach(c, s);
        s = NULL;
    }
    if (s == NULL) {
        bkd_srv_t **v;
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return RTR_STS_NOMEM;
        if (c->nsrv == c->srvcap) {
            size_t cap = c->srvcap ? c->srvcap * 2 : 8;
            v = realloc(c->srv, cap * sizeof(*v));
            if (v == NULL) {
                free(s);
                return RTR_STS_NOMEM;
            }
            c->srv = v;
            c->srvcap = cap;
        }
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->channel = o->channel;
        s->part = (uint32_t)part;
        c->srv[c->nsrv++] = s;
    }
    s->flags = o->flags;
    bkd_send_channel_status(c, id, o->channel, RTR_STS_OK, c->parts[part].name);
    bkd_role_channel_opened(c, s);
    bkd_pump(c, (uint32_t)part);
    return RTR_STS_OK;
}

/* bkd_srv_tx - the transaction `tid` held by server channel (id, channel), or NULL (counted:
 * a stale message from an execution that was replayed elsewhere, or a bad peer). */
static bkd_tx_t *
bkd_srv_tx(bkd_core_t *c, const char *id, uint32_t channel, const ProtobufCBinaryData *tid)
{
    bkd_srv_t *s = bkd_srv_find(c, id, channel);

    if (s == NULL || tid->len != 16 || s->tx == NULL || memcmp(s->tx->tid, tid->data, 16) != 0) {
        c->ctr.unexpected++;
        return NULL;
    }
    return s->tx;
}

static rtr_status_t
bkd_on_server_reply(bkd_core_t *c, const char *id, const Rtr__ServerReply *r)
{
    bkd_tx_t *tx = bkd_srv_tx(c, id, r->channel, &r->tid);

    if (tx == NULL || tx->state != BKD_TX_ACTIVE)
        return RTR_STS_INVARG;
    if (r->index < tx->nreplies) {
        c->ctr.duplicates++;
        return RTR_STS_OK;
    }
    if (r->index > tx->nreplies) {
        bkd_send_nack(c, BKD_SOCK_SERVERS, id, tx->tid, tx->nreplies, r->channel);
        return RTR_STS_OK;
    }
    if (r->body.len > WIRE_MAX_MSGLEN ||
        bkd_tx_put_reply(tx, r->index, r->body.data, r->body.len, r->has_format ? r->format : 0) !=
            RTR_STS_OK)
        return RTR_STS_INVARG;
    bkd_send_tx_reply(c, tx, &tx->replies[tx->nreplies - 1]);
    return RTR_STS_OK;
}

static rtr_status_t
bkd_on_server_vote(bkd_core_t *c, const char *id, const Rtr__ServerVote *v)
{
    bkd_tx_t *tx = bkd_srv_tx(c, id, v->channel, &v->tid);

    if (tx == NULL)
        return RTR_STS_INVARG;
    if (tx->state == BKD_TX_COMMITTED || tx->state == BKD_TX_ABORTED ||
        tx->state == BKD_TX_RETRYING) {
        c->ctr.duplicates++;
        bkd_send_server_outcome(c, tx);
        return RTR_STS_OK;
    }
    if (tx->state != BKD_TX_ACTIVE || tx->vote != 0) {
        c->ctr.duplicates++;
        return RTR_STS_OK;
    }
    tx->vote = v->accept ? 1 : -1;
    tx->vote_reason = v->has_reason ? v->reason : 0;
    tx->vote_retry = !v->accept && v->has_retry && v->retry;
    tx->already_applied = v->has_already_applied && v->already_applied;
    bkd_vote_checklist(c, tx);
    return RTR_STS_OK;
}

static rtr_status_t
bkd_on_server_done(bkd_core_t *c, const char *id, const Rtr__ServerDone *d)
{
    bkd_srv_t *s = bkd_srv_find(c, id, d->channel);
    bkd_tx_t *tx;

    if (s == NULL || d->tid.len != 16) {
        c->ctr.unexpected++;
        return RTR_STS_INVARG;
    }
    tx = s->tx;
    if (tx == NULL || memcmp(tx->tid, d->tid.data, 16) != 0) {
        tx = bkd_tx_find(c, d->tid.data);
        if (tx != NULL && tx->state == BKD_TX_DONE) { /* a resent ServerDone */
            c->ctr.duplicates++;
            return RTR_STS_OK;
        }
        c->ctr.unexpected++;
        return RTR_STS_INVARG;
    }
    if (tx->state == BKD_TX_RETRYING) {
        bkd_requeue(c, tx);
        return RTR_STS_OK;
    }
    if (tx->state != BKD_TX_COMMITTED && tx->state != BKD_TX_ABORTED) {
        c->ctr.unexpected++;
        return RTR_STS_INVARG;
    }
    if (tx->state == BKD_TX_COMMITTED) {
        bkd_emit_set_state(c, tx->part, tx->n, RTR__TX_STATE__TX_DONE, 0);
        if (!tx->shadow)
            bkd_applied_note(c, tx->part, tx->n);
    }
    bkd_finish(c, tx);
    if (tx->shadow)
        bkd_shd_done(c, tx);
    else if (c->parts[tx->part].shd != NULL)
        bkd_shd_hardened(c, tx->part); /* a demoted primary's last commit: the member goes on */
    return RTR_STS_OK;
}

static rtr_status_t
bkd_on_server_nack(bkd_core_t *c, const char *id, const Rtr__TxNack *k)
{
    bkd_tx_t *tx = bkd_srv_tx(c, id, k->has_channel ? k->channel : 0, &k->tid);

    if (tx == NULL || tx->state != BKD_TX_ACTIVE)
        return RTR_STS_INVARG;
    if (k->from_index < tx->delivered) {
        c->ctr.resends++;
        tx->delivered = k->from_index;
        if (tx->delivered < tx->vreq_n)
            tx->vreq_sent = false; /* it will need the vote request again too */
        bkd_deliver_pending(c, tx);
    }
    return RTR_STS_OK;
}

rtr_status_t
bkd_core_server_msg(bkd_core_t *c, const char *id, const Rtr__Envelope *env)
{
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_CHANNEL_OPEN:
        return bkd_on_channel_open(c, id, env->channel_open);
    case RTR__ENVELOPE__BODY_CHANNEL_CLOSE: {
        bkd_srv_t *s = bkd_srv_find(c, id, env->channel_close->channel);
        if (s == NULL) {
            c->ctr.unexpected++;
            return RTR_STS_INVARG;
        }
        bkd_srv_detach(c, s);
        return RTR_STS_OK;
    }
    case RTR__ENVELOPE__BODY_SERVER_REPLY:
        return bkd_on_server_reply(c, id, env->server_reply);
    case RTR__ENVELOPE__BODY_SERVER_VOTE:
        return bkd_on_server_vote(c, id, env->server_vote);
    case RTR__ENVELOPE__BODY_SERVER_DONE:
        return bkd_on_server_done(c, id, env->server_done);
    case RTR__ENVELOPE__BODY_TX_NACK:
        return bkd_on_server_nack(c, id, env->tx_nack);
    case RTR__ENVELOPE__BODY_BROADCAST:
        return bkd_on_server_broadcast(c, env->broadcast);
    default:
        c->ctr.unexpected++;
        return RTR_STS_INVARG;
    }
}

void
bkd_core_server_lost(bkd_core_t *c, const char *id)
{
    size_t i = 0;

    while (i < c->nsrv) {
        if (strcmp(c->srv[i]->id, id) == 0)
            bkd_srv_detach(c, c->srv[i]); /* removes c->srv[i]: do not advance */
        else
            i++;
    }
}

void
bkd_core_router_lost(bkd_core_t *c, const char *router)
{
    bkd_tx_t *tx = c->first;

    for (size_t i = 0; i < c->nrouters; i++) {
        if (strcmp(c->routers[i], router) == 0) {
            memmove(c->routers[i], c->routers[c->nrouters - 1], BKD_ID_MAX + 1);
            c->nrouters--;
            break;
        }
    }
    while (tx != NULL) {
        bkd_tx_t *next = tx->next;
        if (strcmp(tx->router, router) == 0 && !tx->vreq &&
            (tx->state == BKD_TX_QUEUED || tx->state == BKD_TX_ACTIVE))
            bkd_decide_abort(c, tx, RTR_STS_NOROUTER, 0, false);
        tx = next;
    }
}

/* ---- journal and time ------------------------------------------------------------------- */

void
bkd_core_journal_hardened(bkd_core_t *c, uint64_t ticket)
{
    if (ticket <= c->hardened)
        return;
    RTR_ASSERT(ticket <= c->next_ticket);
    c->hardened = ticket;
    /* Only transactions waiting for their VOTED record are looked at: pop them in ticket
     * order (CSN order within a partition) and run the checklist on each. */
    while (c->hard_head != NULL && c->hard_head->voted_ticket <= ticket) {
        bkd_tx_t *tx = c->hard_head;
        bkd_hard_remove(c, tx);
        bkd_vote_checklist(c, tx);
    }
    for (uint32_t i = 0; i < c->nparts; i++)
        if (c->parts[i].shd != NULL)
            bkd_shd_hardened(c, i);
}

void
bkd_core_journal_full(bkd_core_t *c, uint64_t ticket)
{
    for (bkd_tx_t *tx = c->hard_head; tx != NULL; tx = tx->hard_next) {
        if (tx->voted_ticket != ticket || tx->state != BKD_TX_HARDENING)
            continue;
        bkd_hard_remove(c, tx);
        if (c->parts[tx->part].pipe != NULL)
            bkd_pipe_drop(c, tx->part, tx->n);
        /* The CSN was never written: hand it back if it was the last one taken, so CSNs stay
         * dense (the shell reports a refusal right after the append, before any other). */
        if (c->parts[tx->part].next_n == tx->n + 1)
            c->parts[tx->part].next_n--;
        tx->n = tx->old_n;
        tx->old_n = 0;
        tx->voted_ticket = 0;
        tx->state = BKD_TX_ACTIVE;
        c->ctr.jnlfull++;
        c->jnlfull_until = c->now_ms + 1000;
        bkd_decide_abort(c, tx, RTR_STS_JNLFULL, 0, true);
        return;
    }
}

void
bkd_core_clock(bkd_core_t *c, uint64_t now_ms, uint64_t wall_ms)
{
    c->now_ms = now_ms;
    c->wall_ms = wall_ms;
}

void
bkd_core_timer(bkd_core_t *c, uint64_t now_ms, uint64_t wall_ms)
{
    bkd_tx_t *tx = c->first;

    c->now_ms = now_ms;
    c->wall_ms = wall_ms;
    if (!c->started) {
        c->started = true;
        bkd_role_start(c);
    }
    bkd_role_timer(c);
    for (uint32_t i = 0; i < c->nparts; i++)
        if (c->parts[i].pipe != NULL)
            bkd_pipe_timer(c, i);
    while (tx != NULL) {
        bkd_tx_t *next = tx->next;
        if (tx->state == BKD_TX_ACTIVE && tx->vreq_sent && tx->vote == 0 && tx->srv != NULL &&
            now_ms >= tx->vreq_sent_ms + c->resend_ms) {
            c->ctr.resends++;
            bkd_send_vote_request(c, tx);
        } else if ((tx->state == BKD_TX_COMMITTED || tx->state == BKD_TX_ABORTED ||
                    tx->state == BKD_TX_RETRYING) &&
                   tx->srv != NULL && now_ms >= tx->outcome_sent_ms + c->resend_ms) {
            c->ctr.resends++;
            bkd_send_server_outcome(c, tx);
        } else if (tx->state == BKD_TX_DONE && tx->t.counter < bkd_wm_get(c, tx->t.incarnation)) {
            bkd_tx_destroy(c, tx); /* the client resolved it: forget (FORGOTTEN from now on) */
        }
        tx = next;
    }
}

/* ---- start-up ------------------------------------------------------------------------------ */

rtr_status_t
bkd_core_load_record(bkd_core_t *c, uint32_t part, const Rtr__JournalRecord *rec)
{
    bkd_tx_t *tx;

    if (part >= c->nparts || rec->tid.len != 16)
        return RTR_STS_INVARG;
    if (c->parts[part].shd != NULL &&
        (rec->state == RTR__TX_STATE__TX_VOTED || rec->state == RTR__TX_STATE__TX_COMMIT ||
         rec->state == RTR__TX_STATE__TX_PRI_DONE))
        return bkd_shd_load(c, part, rec); /* a member's record: run when the primary says */
    if (rec->state == RTR__TX_STATE__TX_MOVED) {
        if (rec->has_moved_to)
            bkd_move_note(c, part, rec->n, rec->moved_to);
        bkd_applied_note(c, part, rec->n);
        return RTR_STS_OK; /* its newer record carries the transaction */
    }
    if (rec->state == RTR__TX_STATE__TX_DONE || rec->state == RTR__TX_STATE__TX_ABORT)
        bkd_applied_note(c, part, rec->n);
    tx = bkd_tx_find(c, rec->tid.data);
    if (tx != NULL) {
        /* an older record of a re-executed transaction whose MOVED mark did not harden before
         * a crash (the mark is written after the new record): keep the newer, mark the older */
        if (tx->n != 0 && tx->n < rec->n &&
            (tx->state == BKD_TX_QUEUED || tx->state == BKD_TX_EXCEPTION)) {
            bkd_emit_set_state(c, part, tx->n, RTR__TX_STATE__TX_MOVED, rec->n);
            bkd_move_note(c, part, tx->n, rec->n);
            bkd_applied_note(c, part, tx->n);
        }
        bkd_tx_destroy(c, tx);
    }
    tx = bkd_tx_create(c, rec->tid.data, part);
    if (tx == NULL)
        return RTR_STS_NOMEM;
    for (size_t i = 0; i < rec->n_messages; i++) {
        const Rtr__TxMessage *m = rec->messages[i];
        if (m->index != i ||
            bkd_tx_put_msg(tx, m->index, m->body.data, m->body.len, m->has_flags ? m->flags : 0,
                           m->has_format ? m->format : 0) != RTR_STS_OK) {
            bkd_tx_destroy(c, tx);
            return RTR_STS_JNLCORRUPT;
        }
    }
    tx->vreq = true;
    tx->vreq_n = (uint32_t)rec->n_messages;
    tx->epoch = rec->epoch;
    tx->n = rec->n;
    tx->watermark = rec->has_watermark ? rec->watermark : 0;
    tx->replays = rec->has_replays ? rec->replays : 0;
    tx->accepted = rec->state != RTR__TX_STATE__TX_ABORT;
    tx->out_status = RTR_STS_OK;
    if (rec->n > c->parts[part].hardened_n)
        c->parts[part].hardened_n = rec->n;
    if (rec->n >= c->parts[part].next_n)
        c->parts[part].next_n = rec->n + 1;
    if (c->parts[part].pipe != NULL &&
        (rec->state == RTR__TX_STATE__TX_VOTED || rec->state == RTR__TX_STATE__TX_COMMIT ||
         rec->state == RTR__TX_STATE__TX_PRI_DONE)) {
        /* a shadowed primary restarted: the partner may not have acked this record; it goes
         * to the partner again and its replay waits for the ack (step 6) */
        uint8_t *buf = NULL;
        size_t len = 0;
        if (wire_encode(&rec->base, 0, &buf, &len) != RTR_STS_OK) {
            bkd_tx_destroy(c, tx);
            return RTR_STS_NOMEM;
        }
        bkd_pipe_add(c, part, rec->n, buf, len);
    }
    switch (rec->state) {
    case RTR__TX_STATE__TX_VOTED:
    case RTR__TX_STATE__TX_COMMIT:
    case RTR__TX_STATE__TX_PRI_DONE:
        /* decided COMMIT, and no ServerDone was recorded: the server may or may not have
         * committed it, so it is replayed as msg1_uncertain when a server attaches. */
        tx->state = BKD_TX_QUEUED;
        tx->uncertain = true;
        bkd_queue_push(c, tx, false);
        break;
    case RTR__TX_STATE__TX_EXCEPTION:
        tx->state = BKD_TX_EXCEPTION;
        break;
    default:
        tx->state = BKD_TX_DONE;
        bkd_tx_drop_bodies(tx);
        break;
    }
    return RTR_STS_OK;
}
