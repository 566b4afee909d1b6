/*
 * bkd_catchup.c - a member joins its primary's stream (docs/shadow-protocol.md §6): the
 * handshake (ShadowHello), the agreed point computed from the two epoch histories, truncation
 * of the member's journal above it (ShadowTruncate), the start of the stream (ShadowStart), and
 * the primary's ADD once the member holds everything up to the mitt. Also the demotion of a
 * primary that the register no longer names (it rejoins as a member).
 *
 * Design note:
 * - The agreed point k is the largest n <= min(member's contiguous n, primary's last n) at which
 *   both histories name the same epoch (one primary per epoch, and a member takes an epoch's
 *   records only from that primary: equal epochs at n mean equal prefixes up to n).
 * - One ordered stream: after ShadowStart the primary sends every record from k + 1 on, in
 *   order. What is no longer in its memory window (bkd_pipe keeps at most shadow_window_bytes
 *   for an absent partner) is read back from its journal first (BKD_ACT_JOURNAL_READ, one
 *   read of catchup_window_bytes at a time, the next once the last is acked), then the window's
 *   records follow. New records keep going into the window meanwhile.
 * - The primary never waits for a catching-up member: it is not in the in-sync set, so step 6
 *   does not need its ack (REMEMBER); once its ack reaches the mitt (the first CSN assigned
 *   after the start), ADD puts it back in the in-sync set (ACTIVE / SECONDARY).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd_core_impl.h"
#include "wire.h"

/* epoch_at - the epoch a history gives record n (0: before its first entry). */
static uint64_t
epoch_at(Rtr__EpochStart *const *h, size_t nh, uint64_t n, uint64_t *start)
{
    uint64_t e = 0, s = 0;
    for (size_t i = 0; i < nh; i++) {
        if (h[i]->first_n <= n && h[i]->epoch >= e) {
            e = h[i]->epoch;
            s = h[i]->first_n;
        }
    }
    if (start != NULL)
        *start = s;
    return e;
}

uint64_t
bkd_agreed_point(Rtr__EpochStart *const *hp, size_t nhp, uint64_t last_p,
                 Rtr__EpochStart *const *hm, size_t nhm, uint64_t contig_m)
{
    uint64_t n = last_p < contig_m ? last_p : contig_m;
    while (n > 0) {
        uint64_t sp = 0, sm = 0;
        uint64_t ep = epoch_at(hp, nhp, n, &sp), em = epoch_at(hm, nhm, n, &sm);
        if (ep == em)
            return n;
        /* below the later of the two epoch starts covering n */
        uint64_t s = sp > sm ? sp : sm;
        n = s > 0 ? s - 1 : 0;
    }
    return 0;
}

/* ---- member side ---------------------------------------------------------------------------- */

static void
cu_send_hello(bkd_core_t *c, uint32_t i)
{
    bkd_part_t *p = &c->parts[i];
    bkd_shd_t *s = p->shd;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ShadowHello h = RTR__SHADOW_HELLO__INIT;

    h.partition = p->name;
    h.epoch = p->reg.highest_epoch_seen;
    h.contig_n = s->expect - 1;
    h.applied_n = p->applied_n;
    if (p->meta != NULL) {
        h.n_history = p->meta->n_history;
        h.history = p->meta->history;
    }
    env.body_case = RTR__ENVELOPE__BODY_SHADOW_HELLO;
    env.shadow_hello = &h;
    bkd_emit_send(c, BKD_SOCK_SHADOW, p->partner, &env);
    s->hello_ms = c->now_ms ? c->now_ms : 1;
    c->ctr.shadow_hellos++;
}

void
bkd_catchup_member(bkd_core_t *c, uint32_t i)
{
    bkd_part_t *p = &c->parts[i];
    bkd_shd_t *s = p->shd;

    if (s->started) {
        bkd_role_set(c, i, p->reg.insync_me ? BKD_MS_SECONDARY : BKD_MS_CATCHUP, "");
        return;
    }
    if (s->hello_ms == 0 || c->now_ms >= s->hello_ms + c->resend_ms)
        cu_send_hello(c, i);
    bkd_role_set(c, i, BKD_MS_LCL_REC, "handshake with the primary");
}

/* cu_truncate - drop everything of partition i above n: the ring, the history, the journal. */
static void
cu_truncate(bkd_core_t *c, uint32_t i, uint64_t n)
{
    bkd_part_t *p = &c->parts[i];
    bkd_shd_t *s = p->shd;
    bkd_action_t a;
    uint8_t *buf = NULL;
    size_t len = 0;

    while (s->count > 0) {
        bkd_srec_t *last = &s->r[(s->head + s->count - 1) % s->cap];
        if (last->n <= n)
            break;
        wire_free((ProtobufCMessage **)&last->rec);
        s->count--;
    }
    if (p->meta != NULL) {
        size_t keep = 0;
        for (size_t k = 0; k < p->meta->n_history; k++) {
            if (p->meta->history[k]->first_n <= n)
                p->meta->history[keep++] = p->meta->history[k];
            else
                wire_free((ProtobufCMessage **)&p->meta->history[k]);
        }
        p->meta->n_history = keep;
    }
    RTR_LOG(CMN_LOG_WARNING, "BKD-TRUNCATE", "partition=%s above=%llu had=%llu", p->name,
            (unsigned long long)n, (unsigned long long)(s->expect - 1));
    c->ctr.shadow_truncations++;
    s->expect = n + 1;
    if (s->hardened > n)
        s->hardened = n;
    if (p->hardened_n > n)
        p->hardened_n = n;
    if (p->next_n > n + 1)
        p->next_n = n + 1;
    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_JOURNAL_TRUNCATE;
    a.part = i;
    a.n = n;
    if (p->meta != NULL) {
        RTR_ASSERT(wire_encode(&p->meta->base, 0, &buf, &len) == RTR_STS_OK);
        RTR_ASSERT(wire_decode(&rtr__journal_meta__descriptor, buf, len, 0, NULL,
                               (ProtobufCMessage **)&a.meta) == RTR_STS_OK);
        free(buf);
    }
    a.ticket = ++c->next_ticket;
    bkd_push_action(c, &a);
}

/* ---- moves the partner may not know ---------------------------------------------------- */

void
bkd_move_note(bkd_core_t *c, uint32_t part, uint64_t from, uint64_t to)
{
    bkd_part_t *p = &c->parts[part];
    size_t keep = 0;

    if (!p->shadowed || to <= from)
        return;
    /* the ones the partner applied past (skipped, as MOVED) are done with: forget them */
    for (size_t k = 0; k < p->nmoves; k++)
        if (p->pipe == NULL || p->moves[k].from > p->pipe->partner_applied)
            p->moves[keep++] = p->moves[k];
    p->nmoves = keep;
    if (p->nmoves == p->movecap) {
        size_t cap = p->movecap ? p->movecap * 2 : 8;
        bkd_move_t *v = realloc(p->moves, cap * sizeof(*v));
        RTR_ASSERT(v != NULL);
        p->moves = v;
        p->movecap = cap;
    }
    p->moves[p->nmoves++] = (bkd_move_t){ .from = from, .to = to, .undone = false };
}

/* cu_undo_moves - the journal is cut to the agreed point k: a move whose record `from` the agreed
 * history keeps but whose target it cuts never happened as far as the partner knows (it was
 * promoted before the MOVED mark reached it, and committed `from`). Such a record is VOTED
 * again and read back into the member's ring: executed in CSN order as the partner did.
 * Returns false, with *why, when this database already applied a record of the agreed
 * history after the undone one: it executed that history in another order, and only a re-seed
 * makes it equal to the partner's. */
static bool
cu_undo_moves(bkd_core_t *c, uint32_t i, uint64_t k, char *why, size_t whylen)
{
    bkd_part_t *p = &c->parts[i];
    uint64_t lo = 0;
    size_t keep = 0;

    for (size_t m = 0; m < p->nmoves; m++) {
        bkd_move_t *mv = &p->moves[m];
        if (mv->from <= k && mv->to > k) {
            mv->undone = true;
            if (lo == 0 || mv->from < lo)
                lo = mv->from;
        }
        if (mv->undone)
            p->moves[keep++] = *mv; /* kept until the read below is back */
    }
    p->nmoves = keep;
    if (lo == 0)
        return true;
    /* every CSN in (lo, applied] must be an undone move too (nothing executed after lo): the
     * undone moves above lo must number as many as those CSNs (each record moves once) */
    uint64_t upto = p->applied_n < k ? p->applied_n : k, above = 0;
    for (size_t m = 0; m < p->nmoves; m++)
        above += p->moves[m].from > lo && p->moves[m].from <= upto;
    if (upto > lo && above != upto - lo) {
        snprintf(why, whylen, "applied_out_of_order moved=%llu applied=%llu agreed=%llu",
                 (unsigned long long)lo, (unsigned long long)p->applied_n, (unsigned long long)k);
        return false;
    }
    if (p->ndone > 0) {
        snprintf(why, whylen, "applied_out_of_order moved=%llu done_above=%llu",
                 (unsigned long long)lo, (unsigned long long)p->done[0]);
        return false;
    }
    RTR_LOG(CMN_LOG_WARNING, "BKD-UNMOVE", "partition=%s from=%llu upto=%llu applied=%llu", p->name,
            (unsigned long long)lo, (unsigned long long)k, (unsigned long long)p->applied_n);
    c->ctr.unmoved += p->nmoves;
    for (size_t m = 0; m < p->nmoves; m++)
        bkd_emit_set_state(c, i, p->moves[m].from, RTR__TX_STATE__TX_VOTED, 0);
    if (p->applied_n >= lo)
        p->applied_n = lo - 1;
    bkd_shd_read_back(c, i, lo, k);
    return true;
}

static rtr_status_t
cu_on_truncate(bkd_core_t *c, uint32_t i, const Rtr__ShadowTruncate *m)
{
    bkd_part_t *p = &c->parts[i];
    bkd_shd_t *s = p->shd;
    char why[120];

    if (s == NULL)
        return RTR_STS_INVARG;
    if (m->status == RTR_STS_FENCED) {
        /* the primary is not streaming to this member (it lost it meanwhile, or restarted its
         * side): handshake again */
        s->started = false;
        s->hello_ms = 0;
        bkd_catchup_member(c, i);
        return RTR_STS_OK;
    }
    if (s->started)
        return RTR_STS_INVARG;
    if (m->status != RTR_STS_OK) {
        snprintf(why, sizeof(why), "records_gone oldest=%llu: %s",
                 (unsigned long long)(m->has_oldest_n ? m->oldest_n : 0),
                 m->reason != NULL ? m->reason : "re-seed needed");
        s->out = true;
        snprintf(s->out_reason, sizeof(s->out_reason), "%s", why);
        bkd_role_set(c, i, BKD_MS_OUT, why);
        return RTR_STS_OK;
    }
    uint64_t k = m->has_keep_upto ? m->keep_upto : 0;
    if (p->applied_n > k) {
        /* it applied a record that is not in the agreed history (only after a FORCE) */
        snprintf(why, sizeof(why), "applied_truncated applied=%llu agreed=%llu",
                 (unsigned long long)p->applied_n, (unsigned long long)k);
        s->out = true;
        snprintf(s->out_reason, sizeof(s->out_reason), "%s", why);
        bkd_role_set(c, i, BKD_MS_OUT, why);
        return RTR_STS_OK;
    }
    if (s->expect - 1 > k) {
        if (!cu_undo_moves(c, i, k, why, sizeof(why))) {
            s->out = true;
            snprintf(s->out_reason, sizeof(s->out_reason), "%s", why);
            bkd_role_set(c, i, BKD_MS_OUT, why);
            return RTR_STS_OK;
        }
        cu_truncate(c, i, k);
    } else {
        p->nmoves = 0; /* the agreed history holds the target of every move */
    }
    cu_send_hello(c, i);
    return RTR_STS_OK;
}

static rtr_status_t
cu_on_start(bkd_core_t *c, uint32_t i, const Rtr__ShadowStart *m)
{
    bkd_part_t *p = &c->parts[i];
    bkd_shd_t *s = p->shd;

    (void)m;
    if (s == NULL || s->out)
        return RTR_STS_INVARG;
    s->started = true;
    s->refuse_epoch = 0;
    s->sent_hardened = s->sent_applied = 0; /* tell it where we are */
    bkd_catchup_member(c, i);
    return RTR_STS_OK;
}

/* ---- primary side --------------------------------------------------------------------------- */

static void
cu_send_truncate(bkd_core_t *c, uint32_t i, uint32_t status, uint64_t keep, uint64_t oldest,
                 const char *reason)
{
    bkd_part_t *p = &c->parts[i];
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ShadowTruncate t = RTR__SHADOW_TRUNCATE__INIT;

    t.partition = p->name;
    t.epoch = p->epoch;
    t.status = status;
    t.has_keep_upto = true;
    t.keep_upto = keep;
    if (oldest != 0) {
        t.has_oldest_n = true;
        t.oldest_n = oldest;
    }
    t.reason = (char *)(uintptr_t)reason;
    env.body_case = RTR__ENVELOPE__BODY_SHADOW_TRUNCATE;
    env.shadow_truncate = &t;
    bkd_emit_send(c, BKD_SOCK_SHADOW, p->partner, &env);
}

static rtr_status_t
cu_on_hello(bkd_core_t *c, uint32_t i, const Rtr__ShadowHello *h)
{
    bkd_part_t *p = &c->parts[i];
    bkd_pipe_t *q = p->pipe;
    uint64_t last = p->next_n - 1;

    if (q == NULL || (p->reg.ms != BKD_MS_ACTIVE && p->reg.ms != BKD_MS_REMEMBER))
        return RTR_STS_OK; /* not serving: the member asks again later */
    uint64_t k = bkd_agreed_point(p->meta != NULL ? p->meta->history : NULL,
                                  p->meta != NULL ? p->meta->n_history : 0, last, h->history,
                                  h->n_history, h->contig_n);
    q->streaming = false;
    bkd_pipe_recheck(c, i); /* no stream, no catcher's mitt */
    if (h->contig_n > k) {
        cu_send_truncate(c, i, RTR_STS_OK, k, 0, NULL);
        return RTR_STS_OK;
    }
    /* the stream starts at k + 1; what is no longer in memory is read back from the journal */
    uint64_t first = q->count > 0 ? q->out[q->head].n : p->next_n;
    bkd_pipe_restart(c, i, k);
    /* the member may hold, as VOTED, records this journal moved while it was away (or before
     * this process restarted, when the changes in memory were lost): it must skip them, so
     * their MOVED marks go first, with the stream's first batch */
    q->partner_applied = h->applied_n;
    for (size_t m = 0; m < p->nmoves; m++)
        if (p->moves[m].from > h->applied_n && !p->moves[m].undone)
            bkd_pipe_change(c, i, p->moves[m].from, RTR__TX_STATE__TX_MOVED, p->moves[m].to);
    q->bf_reading = false;
    if (first > k + 1) {
        q->bf_next = k + 1;
        q->bf_end = first - 1;
    } else {
        q->bf_next = q->bf_end = 0;
    }
    q->mitt = p->next_n;
    q->streaming = true;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ShadowStart st = RTR__SHADOW_START__INIT;
    st.partition = p->name;
    st.epoch = p->epoch;
    st.mitt = q->mitt;
    if (k + 1 < q->mitt) {
        st.has_backfill_from = st.has_backfill_to = true;
        st.backfill_from = k + 1;
        st.backfill_to = q->mitt - 1;
    }
    env.body_case = RTR__ENVELOPE__BODY_SHADOW_START;
    env.shadow_start = &st;
    bkd_emit_send(c, BKD_SOCK_SHADOW, p->partner, &env);
    RTR_LOG(CMN_LOG_NOTICE, "BKD-CATCHUP", "partition=%s member=%s from=%llu mitt=%llu", p->name,
            p->partner, (unsigned long long)(k + 1), (unsigned long long)q->mitt);
    return RTR_STS_OK;
}

rtr_status_t
bkd_catchup_msg(bkd_core_t *c, uint32_t i, const Rtr__Envelope *env)
{
    bkd_part_t *p = &c->parts[i];

    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_SHADOW_HELLO:
        if (p->role != BKD_ROLE_PRIMARY)
            break;
        return cu_on_hello(c, i, env->shadow_hello);
    case RTR__ENVELOPE__BODY_SHADOW_TRUNCATE:
        if (p->role != BKD_ROLE_MEMBER)
            break;
        return cu_on_truncate(c, i, env->shadow_truncate);
    case RTR__ENVELOPE__BODY_SHADOW_START:
        if (p->role != BKD_ROLE_MEMBER)
            break;
        return cu_on_start(c, i, env->shadow_start);
    default:
        c->ctr.shadow_unexpected++;
        return RTR_STS_INVARG;
    }
    if (c->nrouters_reg > 0) {
        /* a handshake frame for the role this backend had before a failover (the partner has
         * not learned yet that the roles turned): stale, dropped, counted */
        c->ctr.fenced_frames++;
        return RTR_STS_OK;
    }
    c->ctr.shadow_unexpected++;
    return RTR_STS_INVARG;
}

void
bkd_catchup_not_streaming(bkd_core_t *c, uint32_t i)
{
    cu_send_truncate(c, i, RTR_STS_FENCED, 0, 0, "no stream: handshake again");
}

bool
bkd_catchup_ready(const bkd_core_t *c, uint32_t i)
{
    const bkd_part_t *p = &c->parts[i];
    const bkd_pipe_t *q = p->pipe;
    /* a partner that diverged stays out (its database differs) until it is re-seeded */
    return q != NULL && !q->diverged && q->streaming && p->partner_up && q->mitt != 0 &&
           q->acked + 1 >= q->mitt;
}

/* ---- demotion ------------------------------------------------------------------------------- */

void
bkd_demote(bkd_core_t *c, uint32_t i)
{
    bkd_part_t *p = &c->parts[i];
    bkd_tx_t *next;

    if (p->shd == NULL)
        p->shd = bkd_shd_new(p->next_n - 1);
    RTR_ASSERT(p->shd != NULL);
    /* its records above its applied point stay in its journal: as a member it runs those the
     * agreed history keeps (the handshake cuts the others). They are read back from the
     * journal into the member's ring (bkd_core_records_read); the ones a server is still
     * committing as the primary's decision finish that way instead. */
    if (p->applied_n + 1 < p->next_n)
        bkd_shd_read_back(c, i, p->applied_n + 1, p->next_n - 1);
    /* what is undecided here is not this backend's to decide any more: its servers roll it
     * back; the clients resolve by TID with the primary */
    for (bkd_tx_t *tx = c->first; tx != NULL; tx = next) {
        next = tx->next;
        if (tx->part != i || tx->shadow)
            continue;
        if (tx->state == BKD_TX_QUEUED || tx->state == BKD_TX_ACTIVE ||
            tx->state == BKD_TX_HARDENING ||
            (tx->uncertain && tx->state != BKD_TX_DONE && tx->state != BKD_TX_COMMITTED)) {
            bkd_pipe_unlist(c, tx);
            bkd_hard_remove(c, tx);
            bkd_decide_abort(c, tx, RTR_STS_FENCED, 0, !tx->vreq);
        }
    }
    bkd_pipe_free(&p->pipe);
    p->role = BKD_ROLE_MEMBER;
    p->reg.resumed_epoch = 0;
    p->reg.lease_until = 0;
    RTR_LOG(CMN_LOG_WARNING, "BKD-DEMOTED", "partition=%s last_n=%llu applied=%llu", p->name,
            (unsigned long long)(p->next_n - 1), (unsigned long long)p->applied_n);
}
