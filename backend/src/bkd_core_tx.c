/*
 * bkd_core_tx.c - the core's decisions and tables: the vote checklist, CSN assignment and the
 * VOTED record, outcomes; then the transaction hash and list, message and reply storage,
 * partition queues, client watermarks, server channels, the action queue, and the inspection
 * calls of bkd.h.
 *
 * Design note (invariants):
 * - Nothing is journaled before the vote. The only record a transaction writes before its
 *   outcome is its VOTED record, and it is written only when the server voted accept; the
 *   hardened VOTED record IS the commit decision (bkd_vote_checklist).
 * - CSNs are dense per partition: next_n starts at the journal's last n + 1 and is taken only
 *   by bkd_vote_checklist, immediately followed by the append of that n.
 * - Every outgoing envelope is stamped here and queued as an owned deep copy made by encoding
 *   and strictly decoding it (wire_encode + wire_envelope_decode): the core builds bodies on
 *   its stack without allocating their parts, the shell frees what it took with one wire_free,
 *   and nothing the core sends can be a frame its peers would reject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd_core_impl.h"
#include "wire.h"

/* ---- journal actions ---------------------------------------------------------------------- */

uint64_t
bkd_emit_set_state(bkd_core_t *c, uint32_t part, uint64_t n, Rtr__TxState state, uint64_t moved_to)
{
    bkd_action_t a;

    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_JOURNAL_SET_STATE;
    a.part = part;
    a.ticket = ++c->next_ticket;
    a.n = n;
    a.state = state;
    a.moved_to = moved_to;
    bkd_push_action(c, &a);
    return c->next_ticket;
}

/* bkd_digest_replies - digest of the server's replies and vote (JournalRecord.digest): what a
 * shadow's execution of the same CSN must reproduce. */
static uint64_t bkd_digest_replies(const bkd_tx_t *tx);

void
bkd_digest_be(const bkd_tx_t *tx, uint8_t out[8])
{
    cmn_put_be64(out, bkd_digest_replies(tx));
}

static uint64_t
bkd_digest_replies(const bkd_tx_t *tx)
{
    uint64_t h = BKD_DIGEST_INIT;
    uint8_t v = tx->vote > 0 ? 1 : 0;

    for (uint32_t i = 0; i < tx->nreplies; i++) {
        uint8_t b[4];
        cmn_put_be32(b, tx->replies[i].index);
        h = bkd_digest(h, b, 4);
        h = bkd_digest(h, tx->replies[i].body, tx->replies[i].len);
    }
    return bkd_digest(h, &v, 1);
}

/* bkd_append_voted - assign the next CSN of the partition and queue the VOTED record. */
static void
bkd_append_voted(bkd_core_t *c, bkd_tx_t *tx)
{
    bkd_part_t *p = &c->parts[tx->part];
    Rtr__JournalRecord r = RTR__JOURNAL_RECORD__INIT;
    Rtr__TxMessage *mv = calloc(tx->vreq_n ? tx->vreq_n : 1, sizeof(*mv));
    Rtr__TxMessage **mp = calloc(tx->vreq_n ? tx->vreq_n : 1, sizeof(*mp));
    char *parts[1] = { p->name };
    uint8_t dig[8], *buf = NULL;
    size_t len = 0;
    bkd_action_t a;

    RTR_ASSERT(mv != NULL && mp != NULL);
    /* a shadowed primary assigns CSNs only in the epoch it took (bkd_role_may_run holds its
     * queue before) */
    RTR_ASSERT(!p->shadowed || c->nrouters_reg == 0 ||
               (p->reg.resumed_epoch != 0 && p->epoch == p->reg.resumed_epoch));
    if (tx->n != 0)
        tx->old_n = tx->n; /* a re-execution: the old record becomes MOVED */
    tx->epoch = p->epoch;
    tx->n = p->next_n++;
    tx->accepted_ms = c->wall_ms;
    for (uint32_t i = 0; i < tx->vreq_n; i++) {
        rtr__tx_message__init(&mv[i]);
        mv[i].index = i;
        mv[i].body.data = tx->msgs[i].body;
        mv[i].body.len = tx->msgs[i].len;
        mv[i].has_flags = tx->msgs[i].flags != 0;
        mv[i].flags = tx->msgs[i].flags;
        mv[i].has_format = tx->msgs[i].format != 0;
        mv[i].format = tx->msgs[i].format;
        mp[i] = &mv[i];
    }
    cmn_put_be64(dig, bkd_digest_replies(tx));
    r.epoch = tx->epoch;
    r.n = tx->n;
    r.tid.data = tx->tid;
    r.tid.len = 16;
    r.state = RTR__TX_STATE__TX_VOTED;
    r.n_messages = tx->vreq_n;
    r.messages = mp;
    r.coordinator = p->name;
    r.n_participants = 1;
    r.participants = parts;
    r.has_digest = 1;
    r.digest.data = dig;
    r.digest.len = 8;
    r.has_watermark = 1;
    r.watermark = tx->watermark;
    r.has_accepted_ms = 1;
    r.accepted_ms = tx->accepted_ms;
    r.has_replays = tx->replays != 0;
    r.replays = tx->replays;

    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_JOURNAL_APPEND;
    a.part = tx->part;
    RTR_ASSERT(wire_encode(&r.base, 0, &buf, &len) == RTR_STS_OK);
    RTR_ASSERT(wire_decode(&rtr__journal_record__descriptor, buf, len, 0, NULL,
                           (ProtobufCMessage **)&a.rec) == RTR_STS_OK);
    if (p->pipe != NULL)
        bkd_pipe_add(c, tx->part, tx->n, buf, len); /* the pipe keeps the packed record */
    else
        free(buf);
    free(mv);
    free(mp);
    a.ticket = ++c->next_ticket;
    tx->voted_ticket = a.ticket;
    bkd_push_action(c, &a);
    bkd_hard_push(c, tx);
    /* The MOVED mark goes in after the new record, so a crash between the two leaves the old
     * record VOTED and the new one VOTED: replay finds the newer by TID. */
    if (tx->old_n != 0) {
        bkd_emit_set_state(c, tx->part, tx->old_n, RTR__TX_STATE__TX_MOVED, tx->n);
        bkd_pipe_change(c, tx->part, tx->old_n, RTR__TX_STATE__TX_MOVED, tx->n);
        bkd_applied_note(c, tx->part, tx->old_n);
        bkd_move_note(c, tx->part, tx->old_n, tx->n);
        c->ctr.moved++;
    }
    tx->state = BKD_TX_HARDENING;
}

/* ---- decisions ---------------------------------------------------------------------------- */

void
bkd_finish(bkd_core_t *c, bkd_tx_t *tx)
{
    uint32_t part = tx->part;

    if (tx->srv != NULL) {
        tx->srv->tx = NULL;
        tx->srv = NULL;
    }
    if (tx->queued)
        bkd_queue_remove(c, tx);
    tx->state = BKD_TX_DONE;
    bkd_tx_drop_bodies(tx);
    bkd_tx_drop_replies(tx);
    bkd_pump(c, part);
}

void
bkd_decide_abort(bkd_core_t *c, bkd_tx_t *tx, uint32_t status, uint32_t reason, bool tell_router)
{
    tx->accepted = false;
    tx->out_status = status;
    tx->out_reason = reason;
    c->ctr.tx_aborted++;
    if (tell_router)
        bkd_send_tx_outcome(c, tx, tx->router, tx->channel, false, status, reason, 0);
    if (tx->srv != NULL) {
        tx->state = BKD_TX_ABORTED;
        bkd_send_server_outcome(c, tx); /* resent until ServerDone */
    } else {
        bkd_finish(c, tx);
    }
}

/* bkd_decide_commit - tell the server the transaction committed (resent until ServerDone), or
 * replay it when its server left while the record hardened; the client is told only at the
 * first decision (not for a re-execution or a msg1_uncertain replay). */
static void
bkd_decide_commit(bkd_core_t *c, bkd_tx_t *tx, bool first_decision)
{
    tx->accepted = true;
    tx->out_status = RTR_STS_OK;
    tx->out_reason = 0;
    tx->state = BKD_TX_COMMITTED;
    if (first_decision) {
        c->ctr.tx_committed++;
        bkd_send_tx_outcome(c, tx, tx->router, tx->channel, true, RTR_STS_OK, 0, tx->n);
    }
    if (tx->srv != NULL)
        bkd_send_server_outcome(c, tx); /* resent until ServerDone */
    else
        bkd_replay(c, tx); /* the server went away while the record hardened */
}

/*
 * THE VOTE CHECKLIST (docs/protocol.md step 7, DESIGN §5 step 6). The only place that decides
 * a transaction after its vote request; called whenever any of its inputs may have changed.
 * A COMMIT is reported to anyone (server or client) only when every box is ticked:
 *   1. the vote request arrived (the router collected every other vote: nmsgs is final);
 *   2. the backend holds messages 0..nmsgs-1, and the server voting has been given all of them;
 *   3. the server voted: accept goes on; reject -> ABORT with no CSN (nothing journaled);
 *      a msg1_uncertain replay answered "already applied" keeps the CSN it had: COMMIT again;
 *   4. a CSN n was assigned (next n = last hardened n + 1, dense) and its VOTED record
 *      {tid, messages, digest of replies and vote, watermark, accepted_ms} was appended;
 *   5. that record is hardened in the local journal (jrn group commit: fsync done);
 *   6. (shadow pair, later) every in-sync member acked (e, n) under a valid lease: one more
 *      `if (!...) return;` here - nothing else changes.
 * The hardened record is the commit decision: once 5 (and 6) hold, the outcome can no longer
 * change, so it is safe to tell the server and the client.
 */
void
bkd_vote_checklist(bkd_core_t *c, bkd_tx_t *tx)
{
    bool reexecuted;

    if (tx->state != BKD_TX_ACTIVE && tx->state != BKD_TX_HARDENING)
        return;
    /* 1 */
    if (!tx->vreq)
        return;
    /* 2 */
    if (tx->held < tx->vreq_n || tx->delivered < tx->vreq_n)
        return;
    /* 3 */
    if (tx->vote == 0)
        return;
    if (tx->shadow) { /* a member's execution of the primary's record: compare, no new CSN */
        bkd_shd_voted(c, tx);
        return;
    }
    if (tx->vote < 0) {
        if (tx->uncertain) { /* a committed transaction the server now refuses */
            bkd_replay(c, tx);
            return;
        }
        if (tx->vote_retry && tx->replays < c->replay_limit) {
            bkd_retry(c, tx);
            return;
        }
        bkd_decide_abort(c, tx, RTR_STS_SRVREJECT, tx->vote_reason, true);
        return;
    }
    if (tx->uncertain && tx->already_applied && tx->voted_ticket == 0) {
        /* the old CSN stands; a shadowed primary's record must still be on the partner (a
         * restart may have come before the partner acked it: it is sent again at load) */
        if (!bkd_pipe_covered(c, tx))
            return;
        bkd_decide_commit(c, tx, false);
        return;
    }
    /* 4 */
    if (tx->voted_ticket == 0) {
        bkd_append_voted(c, tx);
        return;
    }
    /* 5 */
    if (tx->voted_ticket > c->hardened)
        return;
    /* 6 */
    if (!bkd_pipe_covered(c, tx))
        return;
    reexecuted = tx->old_n != 0;
    if (tx->n > c->parts[tx->part].hardened_n)
        c->parts[tx->part].hardened_n = tx->n;
    bkd_decide_commit(c, tx, !reexecuted && !tx->uncertain);
}

/* ---- transactions -------------------------------------------------------------------------- */

uint64_t
bkd_digest(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint32_t
bkd_tid_hash(const uint8_t tid[16])
{
    return (uint32_t)(bkd_digest(BKD_DIGEST_INIT, tid, 16) % BKD_HASH_BUCKETS);
}

bkd_tx_t *
bkd_tx_find(bkd_core_t *c, const uint8_t tid[16])
{
    for (bkd_tx_t *tx = c->hash[bkd_tid_hash(tid)]; tx != NULL; tx = tx->hnext)
        if (memcmp(tx->tid, tid, 16) == 0)
            return tx;
    return NULL;
}

bkd_tx_t *
bkd_tx_find_tid(bkd_core_t *c, const cmn_tid_t *tid)
{
    uint8_t b[16];

    cmn_tid_pack(tid, b);
    return bkd_tx_find(c, b);
}

bkd_tx_t *
bkd_tx_create(bkd_core_t *c, const uint8_t tid[16], uint32_t part)
{
    bkd_tx_t *tx = calloc(1, sizeof(*tx));
    uint32_t h = bkd_tid_hash(tid);

    if (tx == NULL)
        return NULL;
    memcpy(tx->tid, tid, 16);
    cmn_tid_unpack(tid, &tx->t);
    tx->part = part;
    tx->state = BKD_TX_QUEUED;
    tx->hnext = c->hash[h];
    c->hash[h] = tx;
    tx->prev = c->last;
    if (c->last != NULL)
        c->last->next = tx;
    else
        c->first = tx;
    c->last = tx;
    c->ntx++;
    return tx;
}

void
bkd_tx_destroy(bkd_core_t *c, bkd_tx_t *tx)
{
    bkd_tx_t **pp = &c->hash[bkd_tid_hash(tx->tid)];

    RTR_ASSERT(tx->srv == NULL);
    if (tx->queued)
        bkd_queue_remove(c, tx);
    bkd_hard_remove(c, tx);
    bkd_pipe_unlist(c, tx);
    while (*pp != tx)
        pp = &(*pp)->hnext;
    *pp = tx->hnext;
    if (tx->prev != NULL)
        tx->prev->next = tx->next;
    else
        c->first = tx->next;
    if (tx->next != NULL)
        tx->next->prev = tx->prev;
    else
        c->last = tx->prev;
    c->ntx--;
    bkd_tx_drop_bodies(tx);
    bkd_tx_drop_replies(tx);
    free(tx->msgs);
    free(tx->replies);
    free(tx);
}

rtr_status_t
bkd_tx_put_msg(bkd_tx_t *tx, uint32_t index, const uint8_t *body, size_t len, uint32_t flags,
               uint32_t format)
{
    bkd_msg_t *m;

    if (index >= BKD_MAX_MSGS)
        return RTR_STS_INVARG;
    if (index >= tx->msgcap) {
        uint32_t cap = tx->msgcap ? tx->msgcap : 4;
        while (cap <= index)
            cap *= 2;
        m = realloc(tx->msgs, cap * sizeof(*m));
        if (m == NULL)
            return RTR_STS_NOMEM;
        memset(m + tx->msgcap, 0, (cap - tx->msgcap) * sizeof(*m));
        tx->msgs = m;
        tx->msgcap = cap;
    }
    m = &tx->msgs[index];
    RTR_ASSERT(!m->have);
    m->body = malloc(len ? len : 1);
    if (m->body == NULL)
        return RTR_STS_NOMEM;
    if (len)
        memcpy(m->body, body, len);
    m->len = len;
    m->flags = flags;
    m->format = format;
    m->digest = bkd_digest(BKD_DIGEST_INIT, body, len);
    m->have = true;
    while (tx->held < tx->msgcap && tx->msgs[tx->held].have)
        tx->held++;
    return RTR_STS_OK;
}

rtr_status_t
bkd_tx_put_reply(bkd_tx_t *tx, uint32_t index, const uint8_t *body, size_t len, uint32_t format)
{
    bkd_reply_t *r;

    if (tx->nreplies == tx->replycap) {
        uint32_t cap = tx->replycap ? tx->replycap * 2 : 4;
        r = realloc(tx->replies, cap * sizeof(*r));
        if (r == NULL)
            return RTR_STS_NOMEM;
        tx->replies = r;
        tx->replycap = cap;
    }
    r = &tx->replies[tx->nreplies];
    r->body = malloc(len ? len : 1);
    if (r->body == NULL)
        return RTR_STS_NOMEM;
    if (len)
        memcpy(r->body, body, len);
    r->len = len;
    r->index = index;
    r->format = format;
    tx->nreplies++;
    return RTR_STS_OK;
}

void
bkd_tx_drop_replies(bkd_tx_t *tx)
{
    for (uint32_t i = 0; i < tx->nreplies; i++)
        free(tx->replies[i].body);
    tx->nreplies = 0;
}

void
bkd_tx_drop_bodies(bkd_tx_t *tx)
{
    for (uint32_t i = 0; i < tx->msgcap; i++) {
        free(tx->msgs[i].body);
        tx->msgs[i].body = NULL;
    }
}

/* ---- partition queues ------------------------------------------------------------------ */

void
bkd_queue_push(bkd_core_t *c, bkd_tx_t *tx, bool front)
{
    bkd_part_t *p = &c->parts[tx->part];

    RTR_ASSERT(!tx->queued);
    tx->queued = true;
    tx->qnext = NULL;
    if (p->qhead == NULL) {
        p->qhead = p->qtail = tx;
    } else if (front) {
        tx->qnext = p->qhead;
        p->qhead = tx;
    } else {
        p->qtail->qnext = tx;
        p->qtail = tx;
    }
}

void
bkd_queue_remove(bkd_core_t *c, bkd_tx_t *tx)
{
    bkd_part_t *p = &c->parts[tx->part];
    bkd_tx_t *prev = NULL;

    for (bkd_tx_t *q = p->qhead; q != NULL; prev = q, q = q->qnext) {
        if (q != tx)
            continue;
        if (prev != NULL)
            prev->qnext = q->qnext;
        else
            p->qhead = q->qnext;
        if (p->qtail == q)
            p->qtail = prev;
        break;
    }
    tx->queued = false;
    tx->qnext = NULL;
}

bkd_tx_t *
bkd_queue_pop(bkd_core_t *c, uint32_t part)
{
    bkd_tx_t *tx = c->parts[part].qhead;
    if (tx != NULL)
        bkd_queue_remove(c, tx);
    return tx;
}

/* ---- hardening FIFO --------------------------------------------------------------------- */

void
bkd_hard_push(bkd_core_t *c, bkd_tx_t *tx)
{
    RTR_ASSERT(!tx->hard_listed);
    RTR_ASSERT(c->hard_tail == NULL || c->hard_tail->voted_ticket < tx->voted_ticket);
    tx->hard_listed = true;
    tx->hard_next = NULL;
    if (c->hard_tail != NULL)
        c->hard_tail->hard_next = tx;
    else
        c->hard_head = tx;
    c->hard_tail = tx;
}

void
bkd_hard_remove(bkd_core_t *c, bkd_tx_t *tx)
{
    bkd_tx_t *prev = NULL;

    if (!tx->hard_listed)
        return;
    for (bkd_tx_t *q = c->hard_head; q != NULL; prev = q, q = q->hard_next) {
        if (q != tx)
            continue;
        if (prev != NULL)
            prev->hard_next = q->hard_next;
        else
            c->hard_head = q->hard_next;
        if (c->hard_tail == q)
            c->hard_tail = prev;
        break;
    }
    tx->hard_listed = false;
    tx->hard_next = NULL;
}

/* ---- watermarks ------------------------------------------------------------------------ */

uint64_t
bkd_wm_get(const bkd_core_t *c, uint64_t incarnation)
{
    for (size_t i = 0; i < c->nwm; i++)
        if (c->wm[i].incarnation == incarnation)
            return c->wm[i].watermark;
    return 0;
}

void
bkd_wm_note(bkd_core_t *c, uint64_t incarnation, uint64_t watermark)
{
    for (size_t i = 0; i < c->nwm; i++) {
        if (c->wm[i].incarnation == incarnation) {
            if (watermark > c->wm[i].watermark)
                c->wm[i].watermark = watermark;
            return;
        }
    }
    if (watermark == 0)
        return;
    if (c->nwm == c->wmcap) {
        size_t cap = c->wmcap ? c->wmcap * 2 : 16;
        bkd_wm_t *w = realloc(c->wm, cap * sizeof(*w));
        if (w == NULL)
            return; /* only forgetting is delayed */
        c->wm = w;
        c->wmcap = cap;
    }
    c->wm[c->nwm].incarnation = incarnation;
    c->wm[c->nwm].watermark = watermark;
    c->nwm++;
}

/* ---- server channels ------------------------------------------------------------------- */

bkd_srv_t *
bkd_srv_find(bkd_core_t *c, const char *id, uint32_t channel)
{
    for (size_t i = 0; i < c->nsrv; i++)
        if (c->srv[i]->channel == channel && strcmp(c->srv[i]->id, id) == 0)
            return c->srv[i];
    return NULL;
}

void
bkd_srv_remove(bkd_core_t *c, bkd_srv_t *s)
{
    RTR_ASSERT(s->tx == NULL);
    for (size_t i = 0; i < c->nsrv; i++) {
        if (c->srv[i] == s) {
            /* keep the order: round-robin and "first free server" stay predictable */
            memmove(&c->srv[i], &c->srv[i + 1], (c->nsrv - i - 1) * sizeof(c->srv[0]));
            c->nsrv--;
            break;
        }
    }
    free(s);
}

/* ---- actions --------------------------------------------------------------------------- */

void
bkd_push_action(bkd_core_t *c, bkd_action_t *a)
{
    bkd_actq_t *q = &c->q;

    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        bkd_action_t *n = malloc(cap * sizeof(*n));
        RTR_ASSERT(n != NULL); /* losing an action would break the protocol: no way on */
        for (size_t i = 0; i < q->count; i++)
            n[i] = q->a[(q->head + i) % q->cap];
        free(q->a);
        q->a = n;
        q->cap = cap;
        q->head = 0;
    }
    q->a[(q->head + q->count) % q->cap] = *a;
    q->count++;
    memset(a, 0, sizeof(*a));
}

void
bkd_emit_send(bkd_core_t *c, bkd_sock_t sock, const char *to, Rtr__Envelope *env)
{
    Rtr__Envelope saved = *env;
    bkd_action_t a;
    uint8_t *buf = NULL;
    size_t len = 0;
    rtr_status_t sts;

    wire_envelope_init(env, c->node, 0, c->incarnation, RTR__ROLE__ROLE_BACKEND);
    env->body_case = saved.body_case;
    env->heartbeat = saved.heartbeat; /* the body pointer, whatever its member */
    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_SEND;
    a.sock = sock;
    snprintf(a.to, sizeof(a.to), "%s", to);
    sts = wire_encode(&env->base, 0, &buf, &len);
    if (sts == RTR_STS_OK)
        sts = wire_envelope_decode(buf, len, 0, NULL, &a.env);
    free(buf);
    if (sts != RTR_STS_OK) {
        RTR_LOG(CMN_LOG_ERR, "BKD-ENCODE", "to=%s body=%d sts=%s", to, (int)saved.body_case,
                rtr_status_name(sts));
        return;
    }
    bkd_push_action(c, &a);
}

void
bkd_emit_timer(bkd_core_t *c, uint64_t deadline_ms)
{
    bkd_action_t a;

    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_ARM_TIMER;
    a.deadline_ms = deadline_ms;
    bkd_push_action(c, &a);
}

bool
bkd_core_next_action(bkd_core_t *c, bkd_action_t *out)
{
    bkd_actq_t *q = &c->q;

    if (q->count == 0)
        return false;
    *out = q->a[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return true;
}

void
bkd_action_clear(bkd_action_t *a)
{
    if (a == NULL)
        return;
    wire_free((ProtobufCMessage **)&a->env);
    wire_free((ProtobufCMessage **)&a->rec);
    wire_free((ProtobufCMessage **)&a->meta);
    free(a->frame);
    memset(a, 0, sizeof(*a));
}

/* ---- inspection ------------------------------------------------------------------------ */

const char *
bkd_tx_state_name(bkd_tx_state_t s)
{
    static const char *const names[BKD_TX__COUNT] = {
        "QUEUED", "ACTIVE", "HARDENING", "COMMITTED", "ABORTED", "DONE", "EXCEPTION", "RETRYING"
    };
    return (unsigned)s < BKD_TX__COUNT ? names[s] : "?";
}

static void
bkd_tx_fill_info(bkd_core_t *c, const bkd_tx_t *tx, bkd_tx_info_t *ti)
{
    memset(ti, 0, sizeof(*ti));
    cmn_tid_format(&tx->t, ti->tid, sizeof(ti->tid));
    ti->partition = tx->fenced ? "-" : c->parts[tx->part].name; /* a tombstone has none */
    ti->router = tx->router;
    ti->channel = tx->channel;
    ti->state = tx->state;
    ti->server = tx->srv ? tx->srv->id : NULL;
    ti->server_channel = tx->srv ? tx->srv->channel : 0;
    ti->nmsgs = tx->held;
    ti->delivered = tx->delivered;
    ti->vote_nmsgs = tx->vreq ? (int32_t)tx->vreq_n : -1;
    ti->server_vote = tx->vote;
    ti->nreplies = tx->nreplies;
    ti->epoch = tx->epoch;
    ti->n = tx->n;
    ti->replays = tx->replays;
}

void
bkd_core_each_tx(bkd_core_t *c, bkd_tx_info_fn *fn, void *arg)
{
    bkd_tx_info_t ti;
    for (bkd_tx_t *tx = c->first; tx != NULL; tx = tx->next) {
        bkd_tx_fill_info(c, tx, &ti);
        fn(arg, &ti);
    }
}

rtr_status_t
bkd_core_tx_info(bkd_core_t *c, const cmn_tid_t *tid, bkd_tx_info_t *out)
{
    bkd_tx_t *tx = bkd_tx_find_tid(c, tid);

    if (tx == NULL)
        return RTR_STS_NOTFOUND;
    bkd_tx_fill_info(c, tx, out);
    return RTR_STS_OK;
}

void
bkd_core_each_server(bkd_core_t *c, bkd_server_info_fn *fn, void *arg)
{
    bkd_server_info_t si;
    for (size_t i = 0; i < c->nsrv; i++) {
        const bkd_srv_t *s = c->srv[i];
        memset(&si, 0, sizeof(si));
        si.id = s->id;
        si.channel = s->channel;
        si.partition = c->parts[s->part].name;
        si.flags = s->flags;
        si.busy = s->tx != NULL;
        if (s->tx != NULL)
            cmn_tid_format(&s->tx->t, si.tid, sizeof(si.tid));
        fn(arg, &si);
    }
}

void
bkd_core_each_part(bkd_core_t *c, bkd_part_info_fn *fn, void *arg)
{
    for (size_t i = 0; i < c->nparts; i++) {
        const bkd_part_t *p = &c->parts[i];
        bkd_part_info_t pi;
        memset(&pi, 0, sizeof(pi));
        pi.name = p->name;
        pi.epoch = p->epoch;
        pi.next_n = p->next_n;
        pi.hardened_n = p->hardened_n;
        pi.role = p->role;
        pi.partner = p->partner;
        pi.applied_n = p->applied_n;
        pi.partner_up = p->partner_up;
        pi.state = "active";
        if (p->shadowed) {
            pi.ms = p->reg.ms;
            pi.reason = p->reg.reason;
            pi.reg_version = p->reg.version;
            pi.single_copy_commits = p->reg.single_copy_commits;
            pi.single_copy_from = p->reg.single_copy_from;
            pi.lease_held = c->now_ms < p->reg.lease_until;
            pi.lease_left_ms = pi.lease_held ? p->reg.lease_until - c->now_ms : 0;
            pi.stalled_ms = p->reg.stalled_since ? c->now_ms - p->reg.stalled_since : 0;
        }
        if (p->shadowed)
            pi.state = bkd_ms_name(p->reg.ms);
        pi.serving = bkd_core_claim(c, (uint32_t)i, NULL);
        if (p->pipe != NULL) {

            pi.partner_hardened = p->pipe->acked;
            pi.partner_applied = p->pipe->partner_applied;
            pi.lag_records = p->pipe->count;
            pi.lag_bytes = p->pipe->out_bytes;
            pi.out_reason = p->pipe->diverged ? p->pipe->out_reason : NULL;
            pi.mitt = p->pipe->mitt;
            pi.behind = p->next_n - 1 > p->pipe->acked ? p->next_n - 1 - p->pipe->acked : 0;
            uint64_t new_rate = 0;
            bkd_pipe_progress(c, (uint32_t)i, &pi.catchup_rate, &new_rate);
            if (pi.behind == 0)
                pi.eta_ms = 0;
            else if (pi.catchup_rate > new_rate)
                pi.eta_ms = (int64_t)(pi.behind * 1000 / (pi.catchup_rate - new_rate));
            else
                pi.eta_ms = -1;
        }
        if (p->shd != NULL) {

            pi.partner_hardened = p->shd->p_hardened;
            pi.partner_applied = p->shd->p_applied;
            pi.lag_records = p->shd->hardened > p->applied_n ? p->shd->hardened - p->applied_n : 0;
            pi.out_reason = p->shd->out ? p->shd->out_reason : NULL;
        }
        for (size_t s = 0; s < c->nsrv; s++)
            pi.servers += c->srv[s]->part == i;
        for (const bkd_tx_t *q = p->qhead; q != NULL; q = q->qnext)
            pi.queued++;
        for (const bkd_tx_t *tx = c->first; tx != NULL; tx = tx->next)
            pi.active += tx->part == i && tx->state != BKD_TX_DONE;
        fn(arg, &pi);
    }
}

bool
bkd_core_claim(const bkd_core_t *c, uint32_t i, uint64_t *epoch)
{
    const bkd_part_t *p = &c->parts[i];
    bool serving = !p->shadowed || (p->role == BKD_ROLE_PRIMARY &&
                                    (p->reg.ms == BKD_MS_ACTIVE || p->reg.ms == BKD_MS_REMEMBER));
    if (epoch != NULL)
        *epoch = p->shadowed ? p->epoch : 0;
    return serving;
}

void
bkd_core_counters(const bkd_core_t *c, bkd_core_counters_t *out)
{
    *out = c->ctr;
}

uint32_t
bkd_core_server_count(const bkd_core_t *c)
{
    return (uint32_t)c->nsrv;
}
