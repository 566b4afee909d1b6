/*
 * bkd_shadow.c - the member's side of a shadow pair (docs/shadow-protocol.md §4): harden the
 * primary's records in CSN order, ack them, and execute them on this backend's own servers
 * after the primary applied them, comparing the digest of replies and vote.
 *
 * Design note:
 * - The live stream is strictly ordered: a record n == expect is appended; n < expect is a
 *   duplicate (dropped, the next ack repeats the position); n > expect is a gap (the rest of the
 *   batch is dropped and a NACK asks for a resend from expect, at most once per resend_ms).
 *   The receiver never holds records out of order.
 * - The ack is cumulative: hardened_upto is contiguous, so a lost ack is repaired by the next.
 * - Execution is serial in CSN order (milestone M3: exec_after = n - 1): record n runs when it
 *   is hardened here, the primary applied it, and n - 1 is done here. Replies and broadcasts of
 *   a member's execution go nowhere (the transaction has no router).
 * - A digest mismatch or a reject is a divergence: the execution is rolled back, the alarm is
 *   raised (BKD-DIVERGED, shadow_divergence), the partner is told, and the member stops for the
 *   partition (state shd_out). Divergence is never skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd_core_impl.h"
#include "wire.h"

static void bkd_shd_exec_next(bkd_core_t *c, uint32_t part);

bkd_shd_t *
bkd_shd_new(uint64_t last_n)
{
    bkd_shd_t *s = calloc(1, sizeof(*s));
    if (s != NULL) {
        s->expect = last_n + 1;
        s->hardened = last_n;
    }
    return s;
}

static bkd_srec_t *
bkd_srec_at(bkd_shd_t *s, size_t i)
{
    return &s->r[(s->head + i) % s->cap];
}

void
bkd_shd_free(bkd_shd_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    bkd_shd_t *s = *sp;
    for (size_t i = 0; i < s->count; i++)
        wire_free((ProtobufCMessage **)&bkd_srec_at(s, i)->rec);
    free(s->r);
    free(s);
    *sp = NULL;
}

static bkd_srec_t *
bkd_srec_find(bkd_shd_t *s, uint64_t n)
{
    if (s->count == 0)
        return NULL;
    uint64_t first = bkd_srec_at(s, 0)->n;
    if (n < first || n - first >= s->count)
        return NULL;
    return bkd_srec_at(s, (size_t)(n - first));
}

/* bkd_shd_out - the member stops for this partition (a re-seed is needed). */
static void
bkd_shd_out(bkd_core_t *c, uint32_t part, uint64_t n, const char *why)
{
    bkd_part_t *p = &c->parts[part];
    bkd_shd_t *s = p->shd;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ShadowDiverged d = RTR__SHADOW_DIVERGED__INIT;

    if (s->out)
        return;
    s->out = true;
    p->reg.ms = BKD_MS_OUT;
    snprintf(s->out_reason, sizeof(s->out_reason), "diverged n=%llu: %s", (unsigned long long)n,
             why);
    c->ctr.shadow_divergence++;
    RTR_LOG(CMN_LOG_ERR, "BKD-DIVERGED", "partition=%s csn=%llu %s", p->name, (unsigned long long)n,
            why);
    d.partition = p->name;
    d.epoch = s->epoch;
    d.n = n;
    d.reason = (char *)(uintptr_t)why;
    env.body_case = RTR__ENVELOPE__BODY_SHADOW_DIVERGED;
    env.shadow_diverged = &d;
    bkd_emit_send(c, BKD_SOCK_SHADOW, p->partner, &env);
}

/* bkd_shd_ring_push - a free slot at the end of the ring (grown as needed). */
static bkd_srec_t *
bkd_shd_ring_push(bkd_shd_t *s)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        bkd_srec_t *v = malloc(cap * sizeof(*v));
        RTR_ASSERT(v != NULL);
        for (size_t i = 0; i < s->count; i++)
            v[i] = *bkd_srec_at(s, i);
        free(s->r);
        s->r = v;
        s->cap = cap;
        s->head = 0;
    }
    bkd_srec_t *sr = bkd_srec_at(s, s->count);
    memset(sr, 0, sizeof(*sr));
    s->count++;
    return sr;
}

rtr_status_t
bkd_shd_load(bkd_core_t *c, uint32_t part, const Rtr__JournalRecord *rec)
{
    bkd_shd_t *s = c->parts[part].shd;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (s->count > 0 && bkd_srec_at(s, s->count - 1)->n >= rec->n)
        return RTR_STS_JNLCORRUPT; /* records come in ascending n */
    if (wire_encode(&rec->base, 0, &buf, &len) != RTR_STS_OK)
        return RTR_STS_NOMEM;
    bkd_srec_t *sr = bkd_shd_ring_push(s);
    sr->n = rec->n;
    sr->state = RTR__TX_STATE__TX_VOTED;
    sr->ticket = 0; /* hardened before this process started */
    rtr_status_t sts = wire_decode(&rtr__journal_record__descriptor, buf, len, 0, NULL,
                                   (ProtobufCMessage **)&sr->rec);
    free(buf);
    if (sts != RTR_STS_OK) {
        s->count--;
        return sts;
    }
    if (rec->n >= s->expect)
        s->expect = rec->n + 1;
    if (rec->n > s->hardened)
        s->hardened = rec->n;
    if (rec->n > c->parts[part].hardened_n)
        c->parts[part].hardened_n = rec->n;
    if (rec->n >= c->parts[part].next_n)
        c->parts[part].next_n = rec->n + 1;
    return RTR_STS_OK;
}

void
bkd_shd_adopt(bkd_core_t *c, uint32_t part, Rtr__JournalRecord *rec, uint64_t ticket)
{
    bkd_shd_t *s = c->parts[part].shd;
    size_t at = s->count;

    /* in CSN order: a record read back may come after newer ones arrived */
    while (at > 0 && bkd_srec_at(s, at - 1)->n > rec->n)
        at--;
    if (at > 0 && bkd_srec_at(s, at - 1)->n == rec->n) {
        wire_free((ProtobufCMessage **)&rec); /* already there */
        return;
    }
    bkd_shd_ring_push(s);
    for (size_t k = s->count - 1; k > at; k--)
        *bkd_srec_at(s, k) = *bkd_srec_at(s, k - 1);
    bkd_srec_t *sr = bkd_srec_at(s, at);
    memset(sr, 0, sizeof(*sr));
    sr->n = rec->n;
    sr->state = RTR__TX_STATE__TX_VOTED;
    sr->ticket = ticket <= c->hardened ? 0 : ticket;
    sr->rec = rec;
}

void
bkd_shd_read_back(bkd_core_t *c, uint32_t part, uint64_t from, uint64_t to)
{
    bkd_action_t a;

    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_JOURNAL_READ;
    a.part = part;
    a.n = from;
    a.to_n = to;
    a.max_bytes = UINT64_MAX;
    c->parts[part].shd->reloading++;
    bkd_push_action(c, &a);
}

/* bkd_shd_undone - record n is the source of a move undone by a truncation. */
static bool
bkd_shd_undone(const bkd_core_t *c, uint32_t part, uint64_t n)
{
    const bkd_part_t *p = &c->parts[part];
    for (size_t k = 0; k < p->nmoves; k++)
        if (p->moves[k].undone && p->moves[k].from == n)
            return true;
    return false;
}

void
bkd_shd_reloaded(bkd_core_t *c, uint32_t part, size_t n, uint8_t *const *bufs, const size_t *lens)
{
    for (size_t i = 0; i < n; i++) {
        Rtr__JournalRecord *rec = NULL;
        if (wire_decode(&rtr__journal_record__descriptor, bufs[i], lens[i], 0, NULL,
                        (ProtobufCMessage **)&rec) != RTR_STS_OK)
            continue;
        bkd_tx_t *tx = rec->tid.len == 16 ? bkd_tx_find(c, rec->tid.data) : NULL;
        bool finishing = tx != NULL && !tx->shadow && tx->n == rec->n &&
                         (tx->state == BKD_TX_COMMITTED || tx->state == BKD_TX_EXCEPTION ||
                          (tx->state == BKD_TX_DONE && tx->accepted));
        if (rec->state == RTR__TX_STATE__TX_MOVED && bkd_shd_undone(c, part, rec->n)) {
            /* a move the partner never saw (bkd_catchup.c): VOTED again, run as a member */
            rec->state = RTR__TX_STATE__TX_VOTED;
            rec->has_moved_to = false;
            bkd_shd_adopt(c, part, rec, 0);
        } else if (rec->state == RTR__TX_STATE__TX_DONE || rec->state == RTR__TX_STATE__TX_MOVED ||
                   rec->state == RTR__TX_STATE__TX_ABORT) {
            bkd_applied_note(c, part, rec->n);
            wire_free((ProtobufCMessage **)&rec);
        } else if (finishing) {
            wire_free((ProtobufCMessage **)&rec); /* its server commits it as decided here */
        } else {
            bkd_shd_adopt(c, part, rec, 0);
        }
    }
    if (c->parts[part].shd->reloading == 0) { /* the undone moves are in the ring now */
        bkd_part_t *p = &c->parts[part];
        size_t keep = 0;
        for (size_t k = 0; k < p->nmoves; k++)
            if (!p->moves[k].undone)
                p->moves[keep++] = p->moves[k];
        p->nmoves = keep;
    }
    bkd_shd_exec_next(c, part);
}

/* bkd_shd_append - queue the append of a received record (copied) to the member's journal. */
static void
bkd_shd_append(bkd_core_t *c, uint32_t part, const Rtr__JournalRecord *r)
{
    bkd_shd_t *s = c->parts[part].shd;
    bkd_action_t a;
    uint8_t *buf = NULL;
    size_t len = 0;

    /* the first record of an epoch starts it in this member's history too (same order in the
     * journal: the meta hardens before the record) */
    bkd_epoch_start(c, part, r->epoch, r->n);
    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_JOURNAL_APPEND;
    a.part = part;
    RTR_ASSERT(wire_encode(&r->base, 0, &buf, &len) == RTR_STS_OK);
    RTR_ASSERT(wire_decode(&rtr__journal_record__descriptor, buf, len, 0, NULL,
                           (ProtobufCMessage **)&a.rec) == RTR_STS_OK);
    /* The member's journal says what happened HERE: a record read back from the primary's
     * journal may already be DONE there, but it is VOTED here until this member's server has
     * executed it (journaled DONE, a crash before the execution skipped it on restart: found by
     * the seeded schedules). A MOVED or ABORTed one is skipped (marked when its turn comes). */
    a.rec->state = RTR__TX_STATE__TX_VOTED;
    a.rec->has_moved_to = false;
    a.rec->moved_to = 0;
    bkd_srec_t *sr = bkd_shd_ring_push(s);
    sr->n = r->n;
    sr->state = RTR__TX_STATE__TX_VOTED;
    if (r->state == RTR__TX_STATE__TX_MOVED || r->state == RTR__TX_STATE__TX_ABORT) {
        sr->state = r->state;
        sr->moved_to = r->has_moved_to ? r->moved_to : 0;
    }
    RTR_ASSERT(wire_decode(&rtr__journal_record__descriptor, buf, len, 0, NULL,
                           (ProtobufCMessage **)&sr->rec) == RTR_STS_OK);
    free(buf);
    a.ticket = ++c->next_ticket;
    sr->ticket = a.ticket;
    s->expect = r->n + 1;
    c->ctr.shadow_records_recv++;
    bkd_push_action(c, &a);
}

/* bkd_shd_exec_next - start the next execution if its turn has come. */
static void
bkd_shd_exec_next(bkd_core_t *c, uint32_t part)
{
    bkd_part_t *p = &c->parts[part];
    bkd_shd_t *s = p->shd;

    if (p->reg.promoting_backlog && s->count == 0 && !s->executing) {
        bkd_role_backlog_done(c, part);
        return;
    }
    while (!s->out && !s->executing && s->count > 0) {
        bkd_srec_t *sr = bkd_srec_at(s, 0);
        uint64_t n = sr->n;
        if (n > s->hardened || n > s->p_applied || n != p->applied_n + 1)
            return;
        if (sr->state == RTR__TX_STATE__TX_MOVED || sr->state == RTR__TX_STATE__TX_ABORT) {
            /* the primary re-executed it under a newer CSN (or aborted it): nothing to run */
            bkd_emit_set_state(c, part, n, sr->state, sr->moved_to);
            bkd_applied_note(c, part, n);
        } else {
            const Rtr__JournalRecord *r = sr->rec;
            bkd_tx_t *tx = bkd_tx_find(c, r->tid.data);
            if (tx != NULL) {
                /* the same TID at an older CSN: fine if that one was skipped (MOVED) or rolled
                 * back here; executed, it would now run twice */
                if (tx->state == BKD_TX_ABORTED && tx->srv != NULL)
                    return; /* its server is rolling it back (a demotion): its ServerDone
                             * comes first (bkd_on_server_done runs this again) */
                if (tx->srv != NULL || tx->queued || (tx->state == BKD_TX_DONE && tx->accepted)) {
                    char why[96];
                    snprintf(why, sizeof(why), "the TID was already executed here (n=%llu %s%s)",
                             (unsigned long long)tx->n, bkd_tx_state_name(tx->state),
                             tx->shadow ? "" : " as primary");
                    bkd_shd_out(c, part, n, why);
                    return;
                }
                bkd_tx_destroy(c, tx);
            }
            tx = bkd_tx_create(c, r->tid.data, part);
            RTR_ASSERT(tx != NULL);
            for (size_t i = 0; i < r->n_messages; i++) {
                const Rtr__TxMessage *m = r->messages[i];
                RTR_ASSERT(bkd_tx_put_msg(tx, m->index, m->body.data, m->body.len,
                                          m->has_flags ? m->flags : 0,
                                          m->has_format ? m->format : 0) == RTR_STS_OK);
            }
            tx->shadow = true;
            tx->uncertain = sr->ticket == 0; /* loaded at start: it may have run before */
            tx->vreq = true;
            tx->vreq_n = (uint32_t)r->n_messages;
            tx->epoch = r->epoch;
            tx->n = r->n;
            tx->watermark = r->has_watermark ? r->watermark : 0;
            tx->accepted_ms = r->has_accepted_ms ? r->accepted_ms : 0;
            if (r->has_digest && r->digest.len == 8)
                memcpy(tx->shadow_digest, r->digest.data, 8);
            tx->state = BKD_TX_QUEUED;
            s->executing = true;
            bkd_queue_push(c, tx, false);
        }
        wire_free((ProtobufCMessage **)&sr->rec);
        s->head = (s->head + 1) % s->cap;
        s->count--;
        if (s->executing)
            bkd_pump(c, part);
    }
    if (p->reg.promoting_backlog && s->count == 0 && !s->executing)
        bkd_role_backlog_done(c, part);
}

rtr_status_t
bkd_shd_batch(bkd_core_t *c, uint32_t part, const Rtr__RecordBatch *b)
{
    bkd_part_t *p = &c->parts[part];
    bkd_shd_t *s = p->shd;
    bool gap = false;

    if (s->out)
        return RTR_STS_OK; /* a member waiting for a re-seed takes nothing */
    if (p->role == BKD_ROLE_PRIMARY || !s->started ||
        (b->has_epoch && b->epoch <= s->refuse_epoch)) {
        c->ctr.shadow_unexpected++; /* T14: no record of the old primary's epoch any more */
        return RTR_STS_OK;
    }
    if (b->has_epoch && b->epoch > s->epoch)
        s->epoch = b->epoch;
    for (size_t i = 0; i < b->n_records; i++) {
        const Rtr__JournalRecord *r = b->records[i];
        if (r->n < s->expect) {
            const bkd_srec_t *held = bkd_srec_find(s, r->n);
            if (held != NULL && held->rec != NULL &&
                (held->rec->epoch != r->epoch || held->rec->tid.len != r->tid.len ||
                 memcmp(held->rec->tid.data, r->tid.data, r->tid.len) != 0)) {
                /* another record at a CSN this member holds: the histories differ and no
                 * handshake cut them back (a protocol violation, never silently dropped) */
                bkd_shd_out(c, part, r->n, "a different record at a held CSN");
                return RTR_STS_OK;
            }
            c->ctr.shadow_dups++;
            s->sent_hardened = 0; /* repeat the position at the next flush */
            continue;
        }
        if (r->n > s->expect || r->tid.len != 16) {
            gap = true;
            break;
        }
        bkd_shd_append(c, part, r);
    }
    if (gap) {
        c->ctr.shadow_gaps++;
        if (s->last_nack_ms == 0 || c->now_ms >= s->last_nack_ms + c->resend_ms) {
            Rtr__Envelope env = RTR__ENVELOPE__INIT;
            Rtr__ShadowAck a = RTR__SHADOW_ACK__INIT;
            s->last_nack_ms = c->now_ms;
            a.partition = p->name;
            a.epoch = s->epoch;
            a.hardened_upto = s->hardened;
            a.has_applied_upto = true;
            a.applied_upto = p->applied_n;
            a.has_nack_stream = true;
            a.nack_stream = RTR__STREAM__STREAM_LIVE;
            a.has_nack_from = true;
            a.nack_from = s->expect;
            env.body_case = RTR__ENVELOPE__BODY_SHADOW_ACK;
            env.shadow_ack = &a;
            bkd_emit_send(c, BKD_SOCK_SHADOW, p->partner, &env);
        }
    }
    /* states after records: a resent batch carries a record and its state together */
    for (size_t i = 0; i < b->n_states; i++) {
        const Rtr__StateChange *sc = b->states[i];
        bkd_srec_t *sr = bkd_srec_find(s, sc->n);
        if (sr != NULL) {
            sr->state = sc->state;
            sr->moved_to = sc->has_moved_to ? sc->moved_to : 0;
        }
    }
    if (b->has_applied_upto && b->applied_upto > s->p_applied)
        s->p_applied = b->applied_upto;
    if (b->has_primary_hardened && b->primary_hardened > s->p_hardened)
        s->p_hardened = b->primary_hardened;
    bkd_shd_exec_next(c, part);
    return RTR_STS_OK;
}

void
bkd_shd_hardened(bkd_core_t *c, uint32_t part)
{
    bkd_shd_t *s = c->parts[part].shd;
    size_t i = 0;

    /* the ring holds consecutive CSNs: start at the first one above the hardened point (a scan
     * from the head made each call O(ring): a catch-up of 100,000 records stalled the loop) */
    if (s->count > 0 && s->hardened >= bkd_srec_at(s, 0)->n) {
        i = (size_t)(s->hardened + 1 - bkd_srec_at(s, 0)->n);
        if (i > s->count || bkd_srec_at(s, i - 1)->n != s->hardened)
            i = 0; /* not consecutive after all: scan */
    }
    for (; i < s->count; i++) {
        bkd_srec_t *sr = bkd_srec_at(s, i);
        if (sr->n <= s->hardened)
            continue;
        if (sr->ticket > c->hardened)
            break;
        s->hardened = sr->n;
    }
    if (s->hardened > c->parts[part].hardened_n)
        c->parts[part].hardened_n = s->hardened;
    bkd_shd_exec_next(c, part);
}

void
bkd_shd_voted(bkd_core_t *c, bkd_tx_t *tx)
{
    uint8_t got[8];
    char why[96];

    bkd_digest_be(tx, got);
    if (tx->vote > 0 && tx->uncertain && tx->already_applied)
        why[0] = '\0'; /* a replay after a restart the server had applied: nothing to compare */
    else if (tx->vote < 0)
        snprintf(why, sizeof(why), "the server rejected (reason %u)", tx->vote_reason);
    else if (memcmp(got, tx->shadow_digest, 8) != 0)
        snprintf(why, sizeof(why), "digest expected=%016llx got=%016llx",
                 (unsigned long long)cmn_get_be64(tx->shadow_digest),
                 (unsigned long long)cmn_get_be64(got));
    else
        why[0] = '\0';
    if (why[0] != '\0' && c->parts[tx->part].role == BKD_ROLE_PRIMARY) {
        /* a promoted member applying its backlog: the record is committed whatever this
         * server says now; the alarm stands, the databases need checking */
        c->ctr.shadow_divergence++;
        RTR_LOG(CMN_LOG_ERR, "BKD-DIVERGED", "partition=%s csn=%llu %s (promoted: committed)",
                c->parts[tx->part].name, (unsigned long long)tx->n, why);
        why[0] = '\0';
    }
    if (why[0] != '\0') {
        bkd_shd_out(c, tx->part, tx->n, why);
        tx->accepted = false;
        tx->out_status = RTR_STS_DIVERGED;
        tx->out_reason = 0;
        tx->state = BKD_TX_ABORTED;
        bkd_send_server_outcome(c, tx); /* the server rolls its execution back */
        return;
    }
    tx->accepted = true;
    tx->out_status = RTR_STS_OK;
    tx->out_reason = 0;
    tx->state = BKD_TX_COMMITTED;
    bkd_send_server_outcome(c, tx);
}

void
bkd_shd_done(bkd_core_t *c, bkd_tx_t *tx)
{
    bkd_shd_t *s = c->parts[tx->part].shd;

    s->executing = false;
    if (tx->accepted) {
        c->ctr.shadow_executed++;
        bkd_applied_note(c, tx->part, tx->n);
    }
    bkd_shd_exec_next(c, tx->part);
}

void
bkd_shd_flush(bkd_core_t *c, uint32_t part)
{
    bkd_part_t *p = &c->parts[part];
    bkd_shd_t *s = p->shd;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ShadowAck a = RTR__SHADOW_ACK__INIT;

    if (!s->started)
        return; /* no stream to ack: handshake first */
    if (s->sent_hardened == s->hardened && s->sent_applied == p->applied_n &&
        c->now_ms < s->last_ack_ms + c->heartbeat_ms)
        return; /* nothing new; an unchanged ack still goes every heartbeat, so a primary that
                 * lost this stream meanwhile says so (ShadowTruncate{FENCED}) */
    a.partition = p->name;
    a.epoch = s->epoch;
    a.hardened_upto = s->hardened;
    a.has_applied_upto = true;
    a.applied_upto = p->applied_n;
    env.body_case = RTR__ENVELOPE__BODY_SHADOW_ACK;
    env.shadow_ack = &a;
    bkd_emit_send(c, BKD_SOCK_SHADOW, p->partner, &env);
    s->sent_hardened = s->hardened;
    s->sent_applied = p->applied_n;
    s->last_ack_ms = c->now_ms;
}

/* ---- entry points (bkd.h) ------------------------------------------------------------------ */

/* bkd_shared_part - the partition `name` this backend shares with `partner`, or -1. */
static int
bkd_shared_part(const bkd_core_t *c, const char *partner, const char *name)
{
    if (name == NULL)
        return -1;
    for (uint32_t i = 0; i < c->nparts; i++) {
        const bkd_part_t *p = &c->parts[i];
        if (p->partner != NULL && strcmp(p->name, name) == 0 && strcmp(p->partner, partner) == 0)
            return (int)i;
    }
    return -1;
}

rtr_status_t
bkd_core_shadow_msg(bkd_core_t *c, const char *partner, const Rtr__Envelope *env)
{
    const char *name = NULL;
    int part;

    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_RECORDS:
        name = env->records->partition;
        break;
    case RTR__ENVELOPE__BODY_SHADOW_ACK:
        name = env->shadow_ack->partition;
        break;
    case RTR__ENVELOPE__BODY_SHADOW_DIVERGED:
        name = env->shadow_diverged->partition;
        break;
    case RTR__ENVELOPE__BODY_SHADOW_HELLO:
        name = env->shadow_hello->partition;
        break;
    case RTR__ENVELOPE__BODY_SHADOW_TRUNCATE:
        name = env->shadow_truncate->partition;
        break;
    case RTR__ENVELOPE__BODY_SHADOW_START:
        name = env->shadow_start->partition;
        break;
    default:
        break;
    }
    part = bkd_shared_part(c, partner, name);
    if (part < 0) {
        c->ctr.shadow_unexpected++;
        return RTR_STS_INVARG;
    }
    if (env->body_case == RTR__ENVELOPE__BODY_SHADOW_HELLO ||
        env->body_case == RTR__ENVELOPE__BODY_SHADOW_TRUNCATE ||
        env->body_case == RTR__ENVELOPE__BODY_SHADOW_START)
        return bkd_catchup_msg(c, (uint32_t)part, env);
    if (env->body_case == RTR__ENVELOPE__BODY_RECORDS) {
        if (c->parts[part].shd == NULL && c->parts[part].shadowed && c->nrouters_reg > 0 &&
            env->records->has_epoch && env->records->epoch < c->parts[part].epoch) {
            /* the partner's batch of an older epoch: it was primary once and has not learned
             * yet that it is not (a SIGSTOPped primary waking up): fenced, nothing applied */
            c->ctr.fenced_frames++;
            return RTR_STS_OK;
        }
        if (c->parts[part].shd == NULL) {
            c->ctr.shadow_unexpected++;
            return RTR_STS_INVARG;
        }
        return bkd_shd_batch(c, (uint32_t)part, env->records);
    }
    if (c->parts[part].pipe == NULL) {
        c->ctr.shadow_unexpected++;
        return RTR_STS_INVARG;
    }
    return bkd_pipe_msg(c, (uint32_t)part, env);
}

void
bkd_core_partner_up(bkd_core_t *c, const char *partner, uint64_t incarnation)
{
    for (uint32_t i = 0; i < c->nparts; i++) {
        bkd_part_t *p = &c->parts[i];
        if (p->partner == NULL || strcmp(p->partner, partner) != 0)
            continue;
        bool restarted = p->partner_inc != 0 && p->partner_inc != incarnation;
        p->partner_up = true;
        p->partner_inc = incarnation;
        if (restarted && c->nrouters_reg > 0) {
            /* a new process: a new handshake (register mode) */
            if (p->pipe != NULL)
                p->pipe->streaming = false;
            if (p->shd != NULL)
                p->shd->started = false, p->shd->hello_ms = 0;
        }
        bkd_role_partner(c, i, true);
        if (p->pipe != NULL && restarted) {
            /* its unhardened tail is gone with it: everything unacked goes again */
            for (size_t k = 0; k < p->pipe->count; k++) {
                bkd_out_t *o = &p->pipe->out[(p->pipe->head + k) % p->pipe->cap];
                if (o->sent) {
                    o->sent = false;
                    c->ctr.shadow_resent++;
                }
            }
            p->pipe->sent_applied = p->pipe->sent_hardened = 0;
            p->pipe->unsent_from = 0;
        }
        if (p->shd != NULL && restarted)
            p->shd->sent_hardened = p->shd->sent_applied = 0; /* tell it where we are */
    }
}

void
bkd_core_partner_lost(bkd_core_t *c, const char *partner)
{
    for (uint32_t i = 0; i < c->nparts; i++) {
        bkd_part_t *p = &c->parts[i];
        if (p->partner != NULL && strcmp(p->partner, partner) == 0 && p->partner_up) {
            p->partner_up = false;
            if (c->nrouters_reg > 0) {
                if (p->pipe != NULL)
                    p->pipe->streaming = false;
                if (p->shd != NULL)
                    p->shd->started = false, p->shd->hello_ms = 0;
            }
            bkd_role_partner(c, i, false);
            c->ctr.shadow_partner_lost++;
            RTR_LOG(CMN_LOG_WARNING, "BKD-PARTNER-LOST", "partition=%s partner=%s", p->name,
                    partner);
        }
    }
}

void
bkd_core_flush(bkd_core_t *c)
{
    for (uint32_t i = 0; i < c->nparts; i++) {
        if (c->parts[i].pipe != NULL)
            bkd_pipe_flush(c, i);
        else if (c->parts[i].shd != NULL)
            bkd_shd_flush(c, i);
    }
}

const char *
bkd_role_name(bkd_role_t r)
{
    switch (r) {
    case BKD_ROLE_SOLE:
        return "sole";
    case BKD_ROLE_PRIMARY:
        return "primary";
    case BKD_ROLE_MEMBER:
        return "member";
    }
    return "?";
}
