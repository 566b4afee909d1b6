/*
 * bkd_deliver.c - delivery to servers and replay: the partition queues are pumped to free
 * server channels, a transaction's messages and its vote request are sent as the server lacks
 * them, and a transaction whose execution did not end in an outcome is delivered again (a
 * replay, a retry the server asked for, the operator's retry), all through bkd_requeue.
 *
 * Design note (invariants):
 * - A non-concurrent partition, or one with a NOCONCURRENT channel attached, has at most one
 *   transaction on a server at a time (bkd_pump).
 * - A transaction whose server is lost is replayed: undecided -> msg1 again (its vote is void);
 *   decided COMMIT without ServerDone -> msg1_uncertain. After replay_limit replays, a decided
 *   one goes to EXCEPTION (journal state) and waits for the operator (bkd_core_tx_settle); an
 *   undecided one is aborted with RTR_STS_SRVDIED (it has no record to put in EXCEPTION).
 * - A server channel that goes away leaves the table before what it held is replayed
 *   (bkd_srv_detach), so a replay can never be handed straight back to it.
 * - A requeued transaction goes to the front of its partition's queue, ahead of new work.
 */
#include <stdlib.h>
#include <string.h>

#include "bkd_core_impl.h"

/* ---- sending to servers -------------------------------------------------------------------- */

void
bkd_send_server_outcome(bkd_core_t *c, bkd_tx_t *tx)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerOutcome o = RTR__SERVER_OUTCOME__INIT;

    if (tx->srv == NULL)
        return;
    o.tid.data = tx->tid;
    o.tid.len = 16;
    o.channel = tx->srv->channel;
    o.accepted = tx->accepted;
    o.status = tx->out_status;
    o.has_reason = tx->out_reason != 0;
    o.reason = tx->out_reason;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_OUTCOME;
    env.server_outcome = &o;
    bkd_emit_send(c, BKD_SOCK_SERVERS, tx->srv->id, &env);
    tx->outcome_sent_ms = c->now_ms;
    bkd_emit_timer(c, c->now_ms + c->resend_ms);
}

void
bkd_send_vote_request(bkd_core_t *c, bkd_tx_t *tx)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__VoteRequest v = RTR__VOTE_REQUEST__INIT;

    v.tid.data = tx->tid;
    v.tid.len = 16;
    v.nmsgs = tx->vreq_n;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &v;
    bkd_emit_send(c, BKD_SOCK_SERVERS, tx->srv->id, &env);
    tx->vreq_sent = true;
    tx->vreq_sent_ms = c->now_ms;
    bkd_emit_timer(c, c->now_ms + c->resend_ms);
}

static void
bkd_send_deliver(bkd_core_t *c, bkd_tx_t *tx, uint32_t i)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Deliver d = RTR__DELIVER__INIT;
    const bkd_msg_t *m = &tx->msgs[i];

    d.tid.data = tx->tid;
    d.tid.len = 16;
    d.channel = tx->srv->channel;
    if (i > 0)
        d.kind = RTR__DELIVER_KIND__DELIVER_MSGN;
    else if (tx->uncertain)
        d.kind = RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN;
    else
        d.kind = RTR__DELIVER_KIND__DELIVER_MSG1;
    d.index = i;
    d.body.data = m->body;
    d.body.len = m->len;
    d.has_format = m->format != 0;
    d.format = m->format;
    d.has_last = 1;
    d.last = (tx->vreq && i + 1 == tx->vreq_n) || (m->flags & BKD_SEN_ACCEPT) != 0;
    env.body_case = RTR__ENVELOPE__BODY_DELIVER;
    env.deliver = &d;
    bkd_emit_send(c, BKD_SOCK_SERVERS, tx->srv->id, &env);
}

/* ---- delivery ------------------------------------------------------------------------------ */

/* bkd_part_exclusive - one server at a time: a non-concurrent partition, or a
 * NOCONCURRENT channel attached to it. */
static bool
bkd_part_exclusive(const bkd_core_t *c, uint32_t part)
{
    if (!c->parts[part].concurrent)
        return true;
    for (size_t i = 0; i < c->nsrv; i++)
        if (c->srv[i]->part == part && (c->srv[i]->flags & BKD_OPE_NOCONCURRENT))
            return true;
    return false;
}

void
bkd_pump(bkd_core_t *c, uint32_t part)
{
    bool exclusive = bkd_part_exclusive(c, part);

    if (!bkd_role_may_run(c, part))
        return; /* a shadowed primary that has not taken its epoch yet delivers nothing */
    while (c->parts[part].qhead != NULL) {
        bkd_srv_t *free_srv = NULL;
        bkd_tx_t *tx;

        for (size_t i = 0; i < c->nsrv; i++) {
            bkd_srv_t *s = c->srv[i];
            if (s->part != part)
                continue;
            if (s->tx != NULL && exclusive)
                return;
            if (s->tx == NULL && free_srv == NULL)
                free_srv = s;
        }
        if (free_srv == NULL)
            return;
        tx = bkd_queue_pop(c, part);
        tx->srv = free_srv;
        free_srv->tx = tx;
        tx->state = BKD_TX_ACTIVE;
        tx->delivered = 0;
        tx->vote = 0;
        tx->vote_retry = false;
        tx->already_applied = false;
        tx->vreq_sent = false;
        tx->voted_ticket = 0;
        bkd_deliver_pending(c, tx);
    }
}

void
bkd_deliver_pending(bkd_core_t *c, bkd_tx_t *tx)
{
    if (tx->srv == NULL || tx->state != BKD_TX_ACTIVE)
        return;
    while (tx->delivered < tx->held && (!tx->vreq || tx->delivered < tx->vreq_n))
        bkd_send_deliver(c, tx, tx->delivered++);
    /* A server that already voted (early rtr_accept_tx) needs no vote request, unless it
     * asked to see the prepare explicitly. */
    if (tx->vreq && !tx->vreq_sent && tx->delivered >= tx->vreq_n &&
        (tx->vote == 0 || (tx->srv->flags & BKD_OPE_EXPLICIT_PREPARE)))
        bkd_send_vote_request(c, tx);
    bkd_vote_checklist(c, tx);
}

/* ---- replay and requeue -------------------------------------------------------------------- */

void
bkd_replay(bkd_core_t *c, bkd_tx_t *tx)
{
    /* a member's execution is of a committed record: it is never aborted, only replayed (and
     * after replay_limit it waits in EXCEPTION for the operator, as on the primary) */
    bool decided = tx->shadow || (tx->n != 0 && tx->voted_ticket <= c->hardened &&
                                  (tx->state == BKD_TX_COMMITTED || tx->uncertain));

    if (tx->srv != NULL) {
        tx->srv->tx = NULL;
        tx->srv = NULL;
    }
    if (!tx->shadow && c->parts[tx->part].role == BKD_ROLE_MEMBER) {
        /* a demoted primary's decision that its server dropped before finishing it: the
         * record is the member's to execute now, in CSN order (read back from the journal) */
        if (tx->n != 0 && decided)
            bkd_shd_read_back(c, tx->part, tx->n, tx->n);
        tx->accepted = false;
        bkd_finish(c, tx);
        return;
    }
    tx->replays++;
    c->ctr.replays++;
    if (tx->replays > c->replay_limit) {
        if (decided) {
            RTR_LOG(CMN_LOG_ERR, "BKD-EXCEPTION", "partition=%s csn=%llu replays=%u",
                    c->parts[tx->part].name, (unsigned long long)tx->n, tx->replays - 1);
            bkd_emit_set_state(c, tx->part, tx->n, RTR__TX_STATE__TX_EXCEPTION, 0);
            tx->state = BKD_TX_EXCEPTION;
            c->ctr.tx_exception++;
        } else {
            bkd_decide_abort(c, tx, RTR_STS_SRVDIED, 0, true);
        }
        return;
    }
    bkd_tx_drop_replies(tx);
    tx->uncertain = decided;
    tx->old_n = 0;
    bkd_requeue(c, tx);
}

void
bkd_retry(bkd_core_t *c, bkd_tx_t *tx)
{
    tx->replays++;
    c->ctr.retries++;
    tx->state = BKD_TX_RETRYING;
    bkd_tx_drop_replies(tx);
    if (tx->srv != NULL)
        bkd_send_server_outcome(c, tx); /* rejected: tx->accepted is false; resent until done */
    else
        bkd_requeue(c, tx);
}

void
bkd_requeue(bkd_core_t *c, bkd_tx_t *tx)
{
    if (tx->srv != NULL) {
        tx->srv->tx = NULL;
        tx->srv = NULL;
    }
    tx->state = BKD_TX_QUEUED;
    bkd_queue_push(c, tx, true);
    bkd_pump(c, tx->part);
}

void
bkd_srv_detach(bkd_core_t *c, bkd_srv_t *s)
{
    bkd_tx_t *tx = s->tx;
    uint32_t part = s->part;

    if (tx != NULL) {
        tx->srv = NULL;
        s->tx = NULL;
    }
    bkd_srv_remove(c, s);
    if (tx != NULL) {
        switch (tx->state) {
        case BKD_TX_ACTIVE:
        case BKD_TX_COMMITTED:
            bkd_replay(c, tx);
            break;
        case BKD_TX_ABORTED: /* librtr rolls back a server's open transaction on link loss */
            bkd_finish(c, tx);
            if (tx->shadow)
                bkd_shd_done(c, tx); /* a member's execution: the next CSN's turn */
            else if (c->parts[tx->part].shd != NULL)
                bkd_shd_hardened(c, tx->part); /* a member execution may wait for this TID */
            break;
        case BKD_TX_RETRYING: /* it was to be delivered again anyway */
            bkd_requeue(c, tx);
            break;
        default: /* HARDENING: decided when it hardens, replayed then (bkd_decide_commit) */
            break;
        }
    }
    bkd_pump(c, part);
}

rtr_status_t
bkd_core_tx_settle(bkd_core_t *c, const cmn_tid_t *tid, bool retry)
{
    bkd_tx_t *tx = bkd_tx_find_tid(c, tid);

    if (tx == NULL)
        return RTR_STS_NOTFOUND;
    if (tx->state != BKD_TX_EXCEPTION)
        return RTR_STS_INVARG;
    RTR_LOG(CMN_LOG_NOTICE, "BKD-SETTLE", "partition=%s csn=%llu action=%s replays=%u",
            c->parts[tx->part].name, (unsigned long long)tx->n, retry ? "retry" : "done",
            tx->replays - 1);
    if (!retry) { /* applied by the operator: the record is DONE, the transaction over */
        bool shadow = tx->shadow;
        bkd_emit_set_state(c, tx->part, tx->n, RTR__TX_STATE__TX_DONE, 0);
        tx->accepted = true;
        bkd_finish(c, tx);
        if (shadow) {
            bkd_shd_done(c, tx); /* the member goes on with the next CSN */
        } else {
            bkd_applied_note(c, tx->part, tx->n);
            /* the partner executes it normally; its digest is not compared (§4.5) */
            bkd_pipe_change(c, tx->part, tx->n, RTR__TX_STATE__TX_DONE, 0);
        }
        return RTR_STS_OK;
    }
    /* Back to the state a decided, unapplied transaction has after a restart: VOTED in the
     * journal, replayed as msg1_uncertain with a fresh replay count. */
    bkd_emit_set_state(c, tx->part, tx->n, RTR__TX_STATE__TX_VOTED, 0);
    tx->replays = 0;
    tx->uncertain = true;
    tx->old_n = 0;
    bkd_requeue(c, tx);
    return RTR_STS_OK;
}
