/*
 * bkd_pipe.c - the primary's side of a shadow pair (docs/shadow-protocol.md §3, §4): the
 * records the partner has not acked, the batches that carry them, the partner's acks, and step 6
 * of the vote checklist. Also the applied points both sides keep.
 *
 * Design note:
 * - A record enters the pipe when its VOTED append is queued (bkd_append_voted) and leaves for
 *   the partner only at bkd_core_flush, after the shell executed the append: a record the local
 *   journal refused (JNLFULL) is dropped first, so the partner never holds a CSN the primary
 *   handed back (shadow-protocol §12.3).
 * - The records travel as they were packed for the journal: bkd_frame_batch appends them to the
 *   encoded batch header instead of decoding and re-encoding each one.
 * - Acks are cumulative (contiguous hardened_upto): an ack frees every record at or below it and
 *   runs the checklist of the transactions it covers, in CSN order.
 * - Nothing here knows time except through c->now_ms; the resend rule: records unacked and no
 *   progress for resend_ms -> send them all again (the receiver drops duplicates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd_core_impl.h"
#include "wire.h"

/* ---- applied points ---------------------------------------------------------------------- */

void
bkd_applied_note(bkd_core_t *c, uint32_t part, uint64_t n)
{
    bkd_part_t *p = &c->parts[part];
    size_t i;

    if (n <= p->applied_n)
        return;
    if (n == p->applied_n + 1) {
        p->applied_n = n;
        /* the ones already done above it follow */
        i = 0;
        while (i < p->ndone && p->done[i] <= p->applied_n + 1) {
            if (p->done[i] == p->applied_n + 1)
                p->applied_n++;
            i++;
        }
        if (i > 0) {
            memmove(p->done, p->done + i, (p->ndone - i) * sizeof(*p->done));
            p->ndone -= i;
        }
        return;
    }
    /* out of order: keep it sorted (completions are nearly in order: search from the end) */
    if (p->ndone == p->donecap) {
        size_t cap = p->donecap ? p->donecap * 2 : 64;
        uint64_t *v = realloc(p->done, cap * sizeof(*v));
        RTR_ASSERT(v != NULL);
        p->done = v;
        p->donecap = cap;
    }
    i = p->ndone;
    while (i > 0 && p->done[i - 1] > n)
        i--;
    if (i > 0 && p->done[i - 1] == n)
        return;
    memmove(p->done + i + 1, p->done + i, (p->ndone - i) * sizeof(*p->done));
    p->done[i] = n;
    p->ndone++;
}

/* ---- the pipe ------------------------------------------------------------------------------ */

bkd_pipe_t *
bkd_pipe_new(void)
{
    return calloc(1, sizeof(bkd_pipe_t));
}

void
bkd_pipe_free(bkd_pipe_t **pp)
{
    if (pp == NULL || *pp == NULL)
        return;
    bkd_pipe_t *q = *pp;
    for (size_t i = 0; i < q->count; i++)
        free(q->out[(q->head + i) % q->cap].buf);
    free(q->out);
    free(q->chg);
    free(q);
    *pp = NULL;
}

static bkd_out_t *
bkd_out_at(bkd_pipe_t *q, size_t i)
{
    return &q->out[(q->head + i) % q->cap];
}

void
bkd_pipe_add(bkd_core_t *c, uint32_t part, uint64_t n, uint8_t *buf, size_t len)
{
    bkd_pipe_t *q = c->parts[part].pipe;

    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        bkd_out_t *v = malloc(cap * sizeof(*v));
        RTR_ASSERT(v != NULL);
        for (size_t i = 0; i < q->count; i++)
            v[i] = *bkd_out_at(q, i);
        free(q->out);
        q->out = v;
        q->cap = cap;
        q->head = 0;
    }
    RTR_ASSERT(q->count == 0 || bkd_out_at(q, q->count - 1)->n < n);
    if (q->count == 0) {
        q->last_progress_ms = c->now_ms;
        q->unacked_since_ms = c->now_ms; /* the lag clock: only an ack moves it */
    }
    *bkd_out_at(q, q->count) = (bkd_out_t){ n, buf, len, false };
    if (n < q->unsent_from)
        q->unsent_from = n;
    q->count++;
    q->out_bytes += len;
    /* an absent partner: keep at most the window in memory; the rest is in the journal and is
     * read back when it returns (bkd_catchup.c) */
    while (!q->streaming && q->out_bytes > c->shadow_window_bytes && q->count > 1) {
        bkd_out_t *o = bkd_out_at(q, 0);
        q->out_bytes -= o->len;
        free(o->buf);
        q->head = (q->head + 1) % q->cap;
        q->count--;
        c->ctr.window_dropped++;
    }
}

void
bkd_pipe_drop(bkd_core_t *c, uint32_t part, uint64_t n)
{
    bkd_pipe_t *q = c->parts[part].pipe;

    /* the refused record is the last one added (the shell reports a refusal at once) */
    if (q->count > 0 && bkd_out_at(q, q->count - 1)->n == n) {
        bkd_out_t *o = bkd_out_at(q, q->count - 1);
        RTR_ASSERT(!o->sent);
        q->out_bytes -= o->len;
        free(o->buf);
        q->count--;
    }
}

void
bkd_pipe_change(bkd_core_t *c, uint32_t part, uint64_t n, Rtr__TxState state, uint64_t moved_to)
{
    bkd_pipe_t *q = c->parts[part].pipe;

    if (q == NULL)
        return;
    for (size_t i = 0; i < q->nchg; i++)
        if (q->chg[i].n == n && q->chg[i].state == state) {
            q->chg_dirty = true; /* already listed: sent again with the next batch */
            return;
        }
    if (q->nchg == q->chgcap) {
        size_t cap = q->chgcap ? q->chgcap * 2 : 16;
        bkd_chg_t *v = realloc(q->chg, cap * sizeof(*v));
        RTR_ASSERT(v != NULL);
        q->chg = v;
        q->chgcap = cap;
    }
    q->chg[q->nchg++] = (bkd_chg_t){ n, state, moved_to };
    q->chg_dirty = true;
}

bool
bkd_pipe_covered(bkd_core_t *c, bkd_tx_t *tx)
{
    bkd_part_t *p = &c->parts[tx->part];
    bkd_pipe_t *q = p->pipe;

    if (p->role != BKD_ROLE_PRIMARY)
        return true;
    if (bkd_role_deciding(c, tx->part)) {
#ifdef RTR_SIM
        if (c->broken_commit_rule)
            return true; /* the simulator's deliberately broken rule: no partner ack needed */
#endif
        if (q->acked >= tx->n)
            return true;
        /* the catcher's mitt (§3.2, §6 step 4): records from the mitt on wait for the
         * catching-up member's ack, so that ADD (once it holds everything below the mitt) never
         * puts in in_sync a member that lacks a commit (found by the simulator: seed 7) */
        bool catcher = (q->streaming && q->mitt != 0 && tx->n >= q->mitt) ||
                       (q->add_from != 0 && tx->n >= q->add_from);
        if (!bkd_role_needs_partner(c, tx->part) && !catcher) {
            c->ctr.single_copy_commits++; /* REMEMBER: decided with this journal alone */
            p->reg.single_copy_commits++;
            return true;
        }
    }
    if (!tx->cover_listed) {
        /* in CSN order: new records come in ascending n (hardening pops them in ticket
         * order); a replayed old record after a restart may come later than newer ones */
        bkd_tx_t **pp = &q->cover_head, *prev = NULL;
        while (*pp != NULL && (*pp)->n < tx->n) {
            prev = *pp;
            pp = &(*pp)->cover_next;
        }
        tx->cover_next = *pp;
        *pp = tx;
        if (tx->cover_next == NULL)
            q->cover_tail = tx;
        (void)prev;
        tx->cover_listed = true;
    }
    return false;
}

void
bkd_pipe_unlist(bkd_core_t *c, bkd_tx_t *tx)
{
    bkd_pipe_t *q = c->parts[tx->part].pipe;
    bkd_tx_t *prev = NULL;

    if (!tx->cover_listed || q == NULL)
        return;
    for (bkd_tx_t *t = q->cover_head; t != NULL; prev = t, t = t->cover_next) {
        if (t != tx)
            continue;
        if (prev != NULL)
            prev->cover_next = t->cover_next;
        else
            q->cover_head = t->cover_next;
        if (q->cover_tail == t)
            q->cover_tail = prev;
        break;
    }
    tx->cover_listed = false;
    tx->cover_next = NULL;
}

void
bkd_pipe_progress(const bkd_core_t *c, uint32_t part, uint64_t *ack_rate, uint64_t *new_rate)
{
    const bkd_pipe_t *q = c->parts[part].pipe;
    uint64_t last = c->parts[part].next_n - 1;
    int oldest = -1;

    *ack_rate = *new_rate = 0;
    /* the oldest sample inside the window is the reference point; the rate runs to now, so it
     * falls when the acks stop */
    for (unsigned k = 0; k < q->prog_n; k++) {
        unsigned i = (q->prog_i + BKD_PROG_SAMPLES - q->prog_n + k) % BKD_PROG_SAMPLES;
        if (c->now_ms <= q->prog_ms[i] + BKD_PROG_WINDOW_MS) {
            oldest = (int)i;
            break;
        }
    }
    if (oldest < 0 || c->now_ms <= q->prog_ms[oldest])
        return;
    uint64_t dt = c->now_ms - q->prog_ms[oldest];
    if (q->acked > q->prog_acked[oldest])
        *ack_rate = (q->acked - q->prog_acked[oldest]) * 1000 / dt;
    if (last > q->prog_last[oldest])
        *new_rate = (last - q->prog_last[oldest]) * 1000 / dt;
}

/* bkd_pipe_acked - the partner holds everything up to `upto`. */
static void
bkd_pipe_acked(bkd_core_t *c, uint32_t part, uint64_t upto)
{
    bkd_pipe_t *q = c->parts[part].pipe;

    if (upto <= q->acked)
        return;
    unsigned last = (q->prog_i + BKD_PROG_SAMPLES - 1) % BKD_PROG_SAMPLES;
    if (q->prog_n == 0 || c->now_ms >= q->prog_ms[last] + BKD_PROG_EVERY_MS) {
        /* where it stood before this ack: the rate counts this ack's progress too */
        q->prog_ms[q->prog_i] = c->now_ms;
        q->prog_acked[q->prog_i] = q->acked;
        q->prog_last[q->prog_i] = c->parts[part].next_n - 1;
        q->prog_i = (q->prog_i + 1) % BKD_PROG_SAMPLES;
        if (q->prog_n < BKD_PROG_SAMPLES)
            q->prog_n++;
    }
    q->acked = upto;
    q->last_progress_ms = c->now_ms;
    q->unacked_since_ms = c->now_ms;
    while (q->count > 0 && bkd_out_at(q, 0)->n <= upto) {
        bkd_out_t *o = bkd_out_at(q, 0);
        q->out_bytes -= o->len;
        free(o->buf);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    /* detach the covered part first: a checklist that cannot decide (no lease, a wait) lists
     * its transaction again, and must not be met again in this loop */
    bkd_tx_t *list = NULL, **tail = &list;
    while (q->cover_head != NULL && q->cover_head->n <= upto) {
        bkd_tx_t *tx = q->cover_head;
        q->cover_head = tx->cover_next;
        tx->cover_listed = false;
        tx->cover_next = NULL;
        *tail = tx;
        tail = &tx->cover_next;
    }
    if (q->cover_head == NULL)
        q->cover_tail = NULL;
    while (list != NULL) {
        bkd_tx_t *tx = list;
        list = tx->cover_next;
        tx->cover_next = NULL;
        bkd_vote_checklist(c, tx);
    }
}

void
bkd_pipe_restart(bkd_core_t *c, uint32_t part, uint64_t n)
{
    bkd_pipe_t *q = c->parts[part].pipe;

    while (q->count > 0 && bkd_out_at(q, 0)->n <= n) {
        bkd_out_t *o = bkd_out_at(q, 0);
        q->out_bytes -= o->len;
        free(o->buf);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    bool more = n > q->acked;
    q->acked = n;
    for (size_t i = 0; i < q->count; i++)
        bkd_out_at(q, i)->sent = false;
    q->unsent_from = 0;
    q->sent_applied = q->sent_hardened = 0;
    q->last_progress_ms = c->now_ms;
    if (more) /* the partner holds more than it had acked: what waited for it is covered */
        bkd_pipe_recheck(c, part);
}

void
bkd_pipe_recheck(bkd_core_t *c, uint32_t part)
{
    bkd_pipe_t *q = c->parts[part].pipe;
    bkd_tx_t *list;

    if (q == NULL)
        return;
    list = q->cover_head;
    q->cover_head = q->cover_tail = NULL;
    while (list != NULL) {
        bkd_tx_t *tx = list;
        list = tx->cover_next;
        tx->cover_listed = false;
        tx->cover_next = NULL;
        bkd_vote_checklist(c, tx); /* lists it again if still not covered */
    }
}

/* bkd_pipe_resend_from - send every record from n on again. */
static void
bkd_pipe_resend_from(bkd_core_t *c, bkd_pipe_t *q, uint64_t n)
{
    for (size_t i = 0; i < q->count; i++) {
        bkd_out_t *o = bkd_out_at(q, i);
        if (o->n >= n && o->sent) {
            o->sent = false;
            c->ctr.shadow_resent++;
        }
    }
    if (n < q->unsent_from)
        q->unsent_from = n;
}

rtr_status_t
bkd_pipe_msg(bkd_core_t *c, uint32_t part, const Rtr__Envelope *env)
{
    bkd_part_t *p = &c->parts[part];
    bkd_pipe_t *q = p->pipe;

    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_SHADOW_ACK: {
        const Rtr__ShadowAck *a = env->shadow_ack;
        c->ctr.shadow_acks++;
        if (!q->streaming) {
            /* it thinks its stream runs; this side lost it (or never started it) */
            bkd_catchup_not_streaming(c, part);
            return RTR_STS_OK;
        }
        if (a->has_applied_upto && a->applied_upto > q->partner_applied) {
            q->partner_applied = a->applied_upto;
            /* state changes the partner has applied past are no longer needed */
            size_t keep = 0;
            for (size_t i = 0; i < q->nchg; i++)
                if (q->chg[i].n > q->partner_applied)
                    q->chg[keep++] = q->chg[i];
            q->nchg = keep;
        }
        if (a->hardened_upto > p->hardened_n && a->hardened_upto >= p->next_n) {
            /* an ack for records this primary never sent: a confused partner */
            c->ctr.shadow_unexpected++;
            return RTR_STS_INVARG;
        }
        bkd_pipe_acked(c, part, a->hardened_upto);
        if (a->has_nack_from) {
            c->ctr.shadow_nacks_recv++;
            bkd_pipe_resend_from(c, q, a->nack_from);
            if (q->bf_end != 0 && a->nack_from <= q->bf_end && a->nack_from < q->bf_next)
                q->bf_next = a->nack_from; /* read that part of the backfill again */
        }
        return RTR_STS_OK;
    }
    case RTR__ENVELOPE__BODY_SHADOW_DIVERGED: {
        const Rtr__ShadowDiverged *d = env->shadow_diverged;
        if (!q->diverged)
            RTR_LOG(CMN_LOG_ERR, "BKD-PARTNER-DIVERGED", "partition=%s partner=%s csn=%llu %s",
                    p->name, p->partner, (unsigned long long)d->n,
                    d->reason != NULL ? d->reason : "");
        q->diverged = true;
        snprintf(q->out_reason, sizeof(q->out_reason), "partner diverged at n=%llu",
                 (unsigned long long)d->n);
        return RTR_STS_OK;
    }
    default:
        c->ctr.shadow_unexpected++;
        return RTR_STS_INVARG;
    }
}

/* ---- batches ------------------------------------------------------------------------------- */

static size_t
bkd_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

rtr_status_t
bkd_frame_batch(bkd_core_t *c, const Rtr__RecordBatch *hdr, const bkd_out_t *const *recs,
                size_t nrecs, uint8_t **out, size_t *outlen)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    size_t hlen, blen, elen, total, off;
    uint8_t *buf;

    /* RecordBatch = its header fields + one "field 2, length-delimited" per record */
    blen = rtr__record_batch__get_packed_size(hdr);
    for (size_t i = 0; i < nrecs; i++)
        blen += 1 + 10 + recs[i]->len;
    wire_envelope_init(&env, c->node, hdr->has_epoch ? hdr->epoch : 0, c->incarnation,
                       RTR__ROLE__ROLE_BACKEND);
    elen = rtr__envelope__get_packed_size(&env); /* header only: no body set */
    total = elen + 2 + 10 + blen;
    buf = malloc(total);
    if (buf == NULL)
        return RTR_STS_NOMEM;
    off = rtr__envelope__pack(&env, buf);
    /* the body: field 17 (records), length-delimited; its length is known only once the
     * records are laid out, so they are written after a 10-byte gap and moved down */
    size_t body_at = off + 2 + 10;
    size_t b = body_at;
    hlen = rtr__record_batch__pack(hdr, buf + b);
    b += hlen;
    for (size_t i = 0; i < nrecs; i++) {
        buf[b++] = (2u << 3) | 2u;
        b += bkd_varint(buf + b, recs[i]->len);
        memcpy(buf + b, recs[i]->buf, recs[i]->len);
        b += recs[i]->len;
    }
    size_t body_len = b - body_at;
    uint8_t pre[12];
    size_t np = 0;
    pre[np++] = (uint8_t)(((17u << 3) | 2u) & 0x7f) | 0x80; /* tag 138 as a varint */
    pre[np++] = 0x01;
    np += bkd_varint(pre + np, body_len);
    memmove(buf + off + np, buf + body_at, body_len);
    memcpy(buf + off, pre, np);
    *out = buf;
    *outlen = off + np + body_len;
    if (c->max_frame != 0 && *outlen > c->max_frame) {
        free(buf);
        *out = NULL;
        return RTR_STS_WIRE_OVERSIZE;
    }
    return RTR_STS_OK;
}

/* bkd_pipe_send - one batch to the partner: the header, the state changes, records[0..n). */
static void bkd_pipe_send(bkd_core_t *c, uint32_t part, const bkd_out_t *const *recs, size_t n,
                          bool changes);

void
bkd_core_records_read(bkd_core_t *c, uint32_t part, rtr_status_t sts, size_t n, const uint64_t *ns,
                      uint8_t *const *bufs, const size_t *lens)
{
    bkd_pipe_t *q = part < c->nparts ? c->parts[part].pipe : NULL;
    if (part < c->nparts && c->parts[part].shd != NULL && c->parts[part].shd->reloading) {
        c->parts[part].shd->reloading--;
        if (sts == RTR_STS_OK)
            bkd_shd_reloaded(c, part, n, bufs, lens);
        else
            RTR_LOG(CMN_LOG_ERR, "BKD-RELOAD", "partition=%s sts=%s", c->parts[part].name,
                    rtr_status_name(sts));
        return;
    }
    const bkd_out_t *batch[512];
    bkd_out_t outs[512];
    size_t k = 0, bytes = 0;
    size_t limit = (c->max_frame ? c->max_frame : WIRE_MAX_FRAME_DEFAULT) / 2;

    if (q == NULL || !q->bf_reading)
        return; /* the partition changed hands or the stream restarted meanwhile */
    q->bf_reading = false;
    if (sts != RTR_STS_OK || n == 0 || ns[0] != q->bf_next) {
        RTR_LOG(CMN_LOG_ERR, "BKD-BACKFILL", "partition=%s from=%llu sts=%s got=%zu first=%llu",
                c->parts[part].name, (unsigned long long)q->bf_next, rtr_status_name(sts), n,
                (unsigned long long)(n ? ns[0] : 0));
        return; /* tried again after resend_ms */
    }
    for (size_t i = 0; i < n && ns[i] <= q->bf_end; i++) {
        if (i > 0 && ns[i] != ns[i - 1] + 1)
            break; /* a hole: the rest is read again */
        if (k == 512 || (k > 0 && bytes + lens[i] > limit)) {
            /* with the state changes: its applied_upto may pass a MOVED record the member
             * holds as VOTED (a change for a record it lacked was dropped there) */
            bkd_pipe_send(c, part, batch, k, true);
            k = 0;
            bytes = 0;
        }
        outs[k] = (bkd_out_t){ ns[i], bufs[i], lens[i], true };
        batch[k] = &outs[k];
        k++;
        bytes += lens[i] + 12;
        q->bf_next = ns[i] + 1;
        c->ctr.backfill_records++;
    }
    if (k > 0)
        bkd_pipe_send(c, part, batch, k, true);
}

static void
bkd_pipe_send(bkd_core_t *c, uint32_t part, const bkd_out_t *const *recs, size_t n, bool changes)
{
    bkd_part_t *p = &c->parts[part];
    bkd_pipe_t *q = p->pipe;
    Rtr__RecordBatch hdr = RTR__RECORD_BATCH__INIT;
    Rtr__StateChange *sv = NULL, **sp = NULL;
    bkd_action_t a;

    hdr.partition = p->name;
    hdr.has_epoch = true;
    hdr.epoch = p->epoch;
    hdr.has_applied_upto = true;
    hdr.applied_upto = p->applied_n;
    hdr.has_primary_hardened = true;
    hdr.primary_hardened = p->hardened_n;
    if (changes && q->nchg > 0) {
        sv = calloc(q->nchg, sizeof(*sv));
        sp = calloc(q->nchg, sizeof(*sp));
        RTR_ASSERT(sv != NULL && sp != NULL);
        for (size_t i = 0; i < q->nchg; i++) {
            rtr__state_change__init(&sv[i]);
            sv[i].n = q->chg[i].n;
            sv[i].state = q->chg[i].state;
            sv[i].has_moved_to = q->chg[i].moved_to != 0;
            sv[i].moved_to = q->chg[i].moved_to;
            sp[i] = &sv[i];
        }
        hdr.n_states = q->nchg;
        hdr.states = sp;
    }
    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_SEND;
    a.sock = BKD_SOCK_SHADOW;
    snprintf(a.to, sizeof(a.to), "%s", p->partner);
    rtr_status_t sts = bkd_frame_batch(c, &hdr, recs, n, &a.frame, &a.framelen);
    free(sv);
    free(sp);
    if (sts != RTR_STS_OK) {
        RTR_LOG(CMN_LOG_ERR, "BKD-BATCH", "partition=%s records=%zu sts=%s", p->name, n,
                rtr_status_name(sts));
        return;
    }
    if (changes)
        q->chg_dirty = false;
    q->sent_applied = p->applied_n;
    q->sent_hardened = p->hardened_n;
    c->ctr.shadow_batches++;
    c->ctr.shadow_records_sent += n;
    bkd_push_action(c, &a);
}

void
bkd_pipe_flush(bkd_core_t *c, uint32_t part)
{
    bkd_part_t *p = &c->parts[part];
    bkd_pipe_t *q = p->pipe;
    const bkd_out_t *batch[512];
    size_t n = 0, bytes = 0;
    size_t limit = (c->max_frame ? c->max_frame : WIRE_MAX_FRAME_DEFAULT) / 2;
    bool changes = q->nchg > 0;
    bool send_changes = q->chg_dirty;

    if (!q->streaming)
        return; /* the partner has not handshaken (or is gone): records wait in memory */
    if (q->bf_end != 0 && q->acked >= q->bf_end)
        q->bf_end = q->bf_next = 0; /* the backfill is acked: only the live stream is left */
    if (q->bf_next <= q->bf_end && q->bf_end != 0) {
        /* backfill first, one journal read at a time, the next once the last is acked */
        if (!q->bf_reading && q->acked + 1 >= q->bf_next) {
            bkd_action_t a;
            memset(&a, 0, sizeof(a));
            a.kind = BKD_ACT_JOURNAL_READ;
            a.part = part;
            a.n = q->bf_next;
            a.to_n = q->bf_end;
            a.max_bytes = c->catchup_window_bytes;
            q->bf_reading = true;
            c->ctr.backfill_reads++;
            bkd_push_action(c, &a);
        }
        if (q->armed_ms != q->last_progress_ms + c->resend_ms) {
            q->armed_ms = q->last_progress_ms + c->resend_ms;
            bkd_emit_timer(c, q->armed_ms);
        }
        return;
    }
    /* the window holds consecutive CSNs: start at the first that may be unsent (a scan of the
     * whole window every poll round cost O(window) while a partner caught up) */
    size_t i0 = 0;
    if (q->count > 0 && q->unsent_from > bkd_out_at(q, 0)->n) {
        uint64_t k = q->unsent_from - bkd_out_at(q, 0)->n;
        i0 = k < q->count ? (size_t)k : q->count;
        if (i0 < q->count && bkd_out_at(q, i0)->n != q->unsent_from)
            i0 = 0; /* not consecutive after all: scan */
    }
    q->unsent_from = UINT64_MAX;
    for (size_t i = i0; i < q->count; i++) {
        bkd_out_t *o = bkd_out_at(q, i);
        if (o->sent)
            continue;
        if (n == 512 || (n > 0 && bytes + o->len > limit)) {
            bkd_pipe_send(c, part, batch, n, changes);
            changes = false;
            n = 0;
            bytes = 0;
        }
        o->sent = true;
        batch[n++] = o;
        bytes += o->len + 12;
    }
    if (n > 0 || send_changes || q->sent_applied != p->applied_n ||
        q->sent_hardened != p->hardened_n)
        bkd_pipe_send(c, part, batch, n, changes);
    if (q->count > 0 && q->armed_ms != q->last_progress_ms + c->resend_ms) {
        q->armed_ms = q->last_progress_ms + c->resend_ms;
        bkd_emit_timer(c, q->armed_ms);
    }
}

void
bkd_pipe_timer(bkd_core_t *c, uint32_t part)
{
    bkd_pipe_t *q = c->parts[part].pipe;

    if ((q->count == 0 && q->bf_end == 0) || c->now_ms < q->last_progress_ms + c->resend_ms)
        return;
    /* no progress for a whole resend period: the tail may be lost (nothing after it reveals
     * the gap), so send everything unacked again */
    bkd_pipe_resend_from(c, q, 0);
    if (q->bf_end != 0 && q->bf_next <= q->bf_end + 1 && q->acked + 1 < q->bf_next) {
        q->bf_next = q->acked + 1; /* the backfill's tail too */
        q->bf_reading = false;
    }
    q->last_progress_ms = c->now_ms;
}
