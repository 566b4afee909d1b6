/*
 * sim_pair_jrn.c - the pair world's journal model (docs/shadow-protocol.md §8.1, sim_jrn): what
 * a backend's journal does with the core's journal actions, reduced to its contract.
 *
 * Every action (APPEND, SET_STATE, META, TRUNCATE) is applied at once to `cur` (what a
 * JOURNAL_READ sees, as BDB reads its own writes) and queued; a group commit 0.2..3 ms after
 * the first queued action hardens everything queued (`hard`) and the world reports the last
 * core ticket to the core. A crash keeps `hard` plus a random prefix of the queue: BDB may have
 * written part of its log, never out of order. Hardened appends feed invariant 5.
 *
 * Ownership: records and metas in the states and the queue are owned by the model (wire_free).
 * Thread rule: one world, one thread.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_pair_impl.h"

Rtr__JournalRecord *
sp_rec_dup(sp_world_t *w, const Rtr__JournalRecord *r)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ProtobufCMessage *m = NULL;

    if (wire_encode(&r->base, 0, &buf, &len) != RTR_STS_OK ||
        wire_decode(&rtr__journal_record__descriptor, buf, len, 0, NULL, &m) != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "a journal record does not copy");
        m = NULL;
    }
    free(buf);
    return (Rtr__JournalRecord *)m;
}

Rtr__JournalMeta *
sp_meta_dup(sp_world_t *w, const Rtr__JournalMeta *r)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ProtobufCMessage *m = NULL;

    if (r == NULL)
        return NULL;
    if (wire_encode(&r->base, 0, &buf, &len) != RTR_STS_OK ||
        wire_decode(&rtr__journal_meta__descriptor, buf, len, 0, NULL, &m) != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "a journal meta does not copy");
        m = NULL;
    }
    free(buf);
    return (Rtr__JournalMeta *)m;
}

void
sp_jstate_clear(sp_jstate_t *s)
{
    for (uint64_t n = 0; n < s->cap; n++)
        wire_free((ProtobufCMessage **)&s->rec[n]);
    free(s->rec);
    wire_free((ProtobufCMessage **)&s->meta);
    memset(s, 0, sizeof *s);
}

static void
sp_jstate_top(sp_jstate_t *s)
{
    while (s->top > 0 && s->rec[s->top] == NULL)
        s->top--;
}

/* sp_jstate_apply - apply one journal action to a state; `own`: the op's pointers move in
 * (else copies are made). */
void
sp_jstate_apply(sp_world_t *w, sp_jstate_t *s, sp_jop_t *op, bool own)
{
    switch (op->kind) {
    case BKD_ACT_JOURNAL_APPEND: {
        uint64_t n = op->rec->n;
        if (n >= s->cap) {
            uint64_t cap = s->cap ? s->cap : 256;
            while (cap <= n)
                cap *= 2;
            Rtr__JournalRecord **v = realloc(s->rec, cap * sizeof *v);
            if (v == NULL) {
                sim_check_fail(w->check, "sim", "out of memory");
                return;
            }
            memset(v + s->cap, 0, (cap - s->cap) * sizeof *v);
            s->rec = v;
            s->cap = cap;
        }
        wire_free((ProtobufCMessage **)&s->rec[n]);
        if (own) {
            s->rec[n] = op->rec;
            op->rec = NULL;
        } else {
            s->rec[n] = sp_rec_dup(w, op->rec);
        }
        if (n > s->top)
            s->top = n;
        break;
    }
    case BKD_ACT_JOURNAL_SET_STATE:
        if (op->n < s->cap && s->rec[op->n] != NULL) {
            s->rec[op->n]->state = op->state;
            s->rec[op->n]->has_moved_to = op->moved_to != 0;
            s->rec[op->n]->moved_to = op->moved_to;
        }
        break;
    case BKD_ACT_JOURNAL_TRUNCATE:
        for (uint64_t n = op->n + 1; n < s->cap; n++)
            wire_free((ProtobufCMessage **)&s->rec[n]);
        if (s->top > op->n)
            s->top = op->n;
        sp_jstate_top(s);
        /* fall through: the cut meta */
        __attribute__((fallthrough));
    case BKD_ACT_JOURNAL_META:
        wire_free((ProtobufCMessage **)&s->meta);
        if (own) {
            s->meta = op->meta;
            op->meta = NULL;
        } else {
            s->meta = sp_meta_dup(w, op->meta);
        }
        break;
    default:
        break;
    }
}

void
sp_jop_clear(sp_jop_t *op)
{
    wire_free((ProtobufCMessage **)&op->rec);
    wire_free((ProtobufCMessage **)&op->meta);
}

/* sp_jrn_submit - a journal action of backend b: applied to `cur`, queued for the group
 * commit (takes a->rec / a->meta). */
void
sp_jrn_submit(sp_world_t *w, size_t b, bkd_action_t *a)
{
    sp_jrn_t *j = &w->b[b].j;
    sp_jop_t op;

    memset(&op, 0, sizeof op);
    op.kind = a->kind;
    op.ticket = a->ticket;
    op.rec = a->rec;
    op.meta = a->meta;
    op.n = a->n;
    op.state = a->state;
    op.moved_to = a->moved_to;
    a->rec = NULL;
    a->meta = NULL;
    if (op.kind == BKD_ACT_JOURNAL_APPEND && op.rec == NULL) {
        sim_check_fail(w->check, "contract", "%s: JOURNAL_APPEND without a record",
                       sp_names[SP_NR + b]);
        return;
    }
    if (op.kind == BKD_ACT_JOURNAL_APPEND && op.rec->state != RTR__TX_STATE__TX_VOTED)
        SP_TRACE(w, "%s APPEND n=%" PRIu64 " e=%" PRIu64 " in state %d", sp_names[SP_NR + b],
                 op.rec->n, op.rec->epoch, (int)op.rec->state);
    sp_jstate_apply(w, &j->cur, &op, false);
    if (op.kind == BKD_ACT_JOURNAL_APPEND && op.rec->tid.len == 16) {
        size_t idx = sp_tx_index(w, op.rec->tid.data);
        if (idx != SIZE_MAX)
            w->b[b].n_of[idx] = op.rec->n;
    }
    if (j->nops == j->capops) {
        size_t cap = j->capops ? j->capops * 2 : 64;
        sp_jop_t *v = realloc(j->ops, cap * sizeof *v);
        if (v == NULL) {
            sp_jop_clear(&op);
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
        j->ops = v;
        j->capops = cap;
    }
    j->ops[j->nops++] = op;
    if (!j->flush_armed) {
        j->flush_armed = true;
        sp_schedule(w, sp_now(w) + sim_rng_range(&w->rstore, 200, 3000), SP_EV_B_FLUSH, (uint32_t)b,
                    w->b[b].life, 0, NULL, 0);
    }
}

/* sp_jrn_harden - the first k queued actions become hardened; true if one was a truncation. */
bool
sp_jrn_harden(sp_world_t *w, size_t b, size_t k)
{
    sp_jrn_t *j = &w->b[b].j;
    bool cut = false;

    for (size_t i = 0; i < k; i++) {
        sp_jop_t *op = &j->ops[i];
        if (op->kind == BKD_ACT_JOURNAL_APPEND)
            sp_check_hardened_record(w, b, op->rec);
        if (op->kind == BKD_ACT_JOURNAL_TRUNCATE)
            cut = true;
        sp_jstate_apply(w, &j->hard, op, true);
        sp_jop_clear(op);
    }
    for (size_t i = k; i < j->nops; i++)
        sp_jop_clear(&j->ops[i]);
    j->nops = 0;
    return cut;
}

/* sp_jrn_crash - the process died: the hardened state, plus a random prefix of what was
 * queued; `cur` becomes that. */
void
sp_jrn_crash(sp_world_t *w, size_t b)
{
    sp_jrn_t *j = &w->b[b].j;
    size_t k = (size_t)sim_rng_range(&w->rfault, 0, j->nops);

    j->kept_ops += k;
    j->lost_ops += j->nops - k;
    SP_TRACE(w, "%s JOURNAL keeps %zu of %zu unhardened actions", sp_names[SP_NR + b], k, j->nops);
    sp_jrn_harden(w, b, k);
    j->flush_armed = false;
    sp_jstate_clear(&j->cur);
    j->cur.cap = j->hard.cap;
    j->cur.top = j->hard.top;
    if (j->hard.cap > 0) {
        j->cur.rec = calloc(j->hard.cap, sizeof *j->cur.rec);
        if (j->cur.rec == NULL) {
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
    }
    for (uint64_t n = 0; n < j->hard.cap; n++)
        if (j->hard.rec[n] != NULL)
            j->cur.rec[n] = sp_rec_dup(w, j->hard.rec[n]);
    j->cur.meta = sp_meta_dup(w, j->hard.meta);
}

void
sp_jrn_read(sp_world_t *w, size_t b, const bkd_action_t *a)
{
    sp_jstate_t *s = &w->b[b].j.cur;
    size_t cap = 256, n = 0;
    uint64_t bytes = 0;
    uint64_t *ns = calloc(cap, sizeof *ns);
    uint8_t **bufs = calloc(cap, sizeof *bufs);
    size_t *lens = calloc(cap, sizeof *lens);

    if (ns == NULL || bufs == NULL || lens == NULL) {
        sim_check_fail(w->check, "sim", "out of memory");
        goto out;
    }
    for (uint64_t x = a->n; x <= a->to_n && x < s->cap && n < cap && bytes < a->max_bytes; x++) {
        if (s->rec[x] == NULL)
            break;
        if (wire_encode(&s->rec[x]->base, 0, &bufs[n], &lens[n]) != RTR_STS_OK)
            break;
        ns[n] = x;
        bytes += lens[n++];
    }
    SP_TRACE(w, "%s JOURNAL_READ %" PRIu64 "..%" PRIu64 ": %zu records", sp_names[SP_NR + b], a->n,
             a->to_n, n);
    bkd_core_records_read(w->b[b].c, a->part, RTR_STS_OK, n, ns, bufs, lens);
out:
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(ns);
    free(bufs);
    free(lens);
}
