/*
 * bkd_core_tx.c - the core's tables and plumbing: the transaction hash and list, message and
 * reply storage, partition queues, client watermarks, server channels, the action queue, and
 * the inspection calls of bkd.h.
 *
 * Design note: every outgoing envelope is stamped here and queued as an owned deep copy made
 * by encoding and strictly decoding it (wire_encode + wire_envelope_decode): the core builds
 * bodies on its stack without allocating their parts, the shell frees what it took with one
 * wire_free, and nothing the core sends can be a frame its peers would reject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd_core_impl.h"
#include "wire.h"

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
    uint8_t b[16];
    bkd_tx_t *tx;

    cmn_tid_pack(tid, b);
    tx = bkd_tx_find(c, b);
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
        for (size_t s = 0; s < c->nsrv; s++)
            pi.servers += c->srv[s]->part == i;
        for (const bkd_tx_t *q = p->qhead; q != NULL; q = q->qnext)
            pi.queued++;
        for (const bkd_tx_t *tx = c->first; tx != NULL; tx = tx->next)
            pi.active += tx->part == i && tx->state != BKD_TX_DONE;
        fn(arg, &pi);
    }
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
