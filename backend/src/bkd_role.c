/*
 * bkd_role.c - the backend's register client (docs/shadow-protocol.md §2, §5): what the
 * facility register says about each shadowed partition this backend is a member of, the
 * requests that change it (RESUME, SHRINK, PROMOTE), the primary's lease, and the member-state
 * transitions that follow.
 *
 * Design note:
 * - Transitions are driven by the value: every answer (RegChangeReply, RegLearn, a refused
 *   LeaseGrant through a READ) updates the partition's view, then role_eval decides from the
 *   view and local facts (the link to the partner, what this process took) what to do next. A
 *   request that times out is never repeated blindly: a READ goes to the next router and the
 *   decision is taken again from the value it returns.
 * - Authority: a primary decides only in the epoch it took itself (RESUME or PROMOTE in this
 *   process, or a SHRINK of its own that kept it primary) and only while a majority of routers
 *   granted it a lease for that epoch (bkd_role_deciding, step 6 of the checklist).
 * - A member stops taking records of epoch e before it proposes PROMOTE in e (T14), so the old
 *   primary can never again gather the coverage it needs (§5.4).
 * - Without routers in the configuration (nrouters = 0: the core's own tests, or a facility
 *   run without a register) the roles are static: the config's primary decides, always needing
 *   the partner's ack; nothing changes roles.
 * - Not here yet (next milestone, catch-up §6): a member that is out of the in-sync set, a
 *   fenced primary and a restarted member whose journal may hold a tail the primary lacks wait
 *   in wt_quorum with the reason; ADD never runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd_core_impl.h"
#include "wire.h"

const char *
bkd_ms_name(bkd_ms_t ms)
{
    switch (ms) {
    case BKD_MS_NONE:
        return "active";
    case BKD_MS_WT_QUORUM:
        return "wt_quorum";
    case BKD_MS_LCL_REC:
        return "lcl_rec";
    case BKD_MS_CATCHUP:
        return "shd_rec";
    case BKD_MS_SECONDARY:
        return "sec_act";
    case BKD_MS_ACTIVE:
        return "pri_act";
    case BKD_MS_REMEMBER:
        return "remember";
    case BKD_MS_OUT:
        return "shd_out";
    }
    return "?";
}

static bool
role_static(const bkd_core_t *c)
{
    return c->nrouters_reg == 0;
}

static size_t
role_majority(const bkd_core_t *c)
{
    return c->nrouters_reg / 2 + 1;
}

/* RTR's role event numbers (rtr.h) */
#define BKD_EVT_SRPRIMARY     1001u
#define BKD_EVT_SRSECONDARY   1003u
#define BKD_EVT_SRSHADOWLOST  1004u
#define BKD_EVT_SRSHADOWGAIN  1005u
#define BKD_EVT_SRRECOVERCMPL 1006u

/* role_event_to - ServerEvent{evtnum} for partition i to server process `id`. */
static void
role_event_to(bkd_core_t *c, uint32_t i, uint32_t evtnum, const char *id)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerEvent e = RTR__SERVER_EVENT__INIT;

    e.evtnum = evtnum;
    e.partition = c->parts[i].name;
    e.has_epoch = true;
    e.epoch = c->parts[i].epoch;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_EVENT;
    env.server_event = &e;
    bkd_emit_send(c, BKD_SOCK_SERVERS, id, &env);
    c->ctr.role_events++;
}

/* role_event - the event to every server process with a channel on partition i (once each). */
static void
role_event(bkd_core_t *c, uint32_t i, uint32_t evtnum)
{
    for (size_t k = 0; k < c->nsrv; k++) {
        bool seen = false;
        if (c->srv[k]->part != i)
            continue;
        for (size_t j = 0; j < k && !seen; j++)
            seen = c->srv[j]->part == i && strcmp(c->srv[j]->id, c->srv[k]->id) == 0;
        if (!seen)
            role_event_to(c, i, evtnum, c->srv[k]->id);
    }
}

void
bkd_role_channel_opened(bkd_core_t *c, const bkd_srv_t *s)
{
    const bkd_part_t *p = &c->parts[s->part];
    if (!p->shadowed)
        return;
    if (p->role == BKD_ROLE_PRIMARY && (p->reg.ms == BKD_MS_ACTIVE || p->reg.ms == BKD_MS_REMEMBER))
        role_event_to(c, s->part, BKD_EVT_SRPRIMARY, s->id);
    else if (p->reg.ms == BKD_MS_SECONDARY)
        role_event_to(c, s->part, BKD_EVT_SRSECONDARY, s->id);
}

void
bkd_role_set(bkd_core_t *c, uint32_t i, bkd_ms_t ms, const char *reason)
{
    bkd_reg_t *r = &c->parts[i].reg;
    bkd_ms_t old = r->ms;
    bool primary = c->parts[i].role == BKD_ROLE_PRIMARY;
    bool was_serving = old == BKD_MS_ACTIVE || old == BKD_MS_REMEMBER;
    bool serving = primary && (ms == BKD_MS_ACTIVE || ms == BKD_MS_REMEMBER);

    /* the servers' role events (shadow-protocol §10) */
    if (serving && !was_serving) {
        role_event(c, i, BKD_EVT_SRRECOVERCMPL);
        role_event(c, i, BKD_EVT_SRPRIMARY);
        if (ms == BKD_MS_REMEMBER)
            role_event(c, i, BKD_EVT_SRSHADOWLOST);
    } else if (serving && old == BKD_MS_ACTIVE && ms == BKD_MS_REMEMBER) {
        role_event(c, i, BKD_EVT_SRSHADOWLOST);
    } else if (serving && old == BKD_MS_REMEMBER && ms == BKD_MS_ACTIVE) {
        role_event(c, i, BKD_EVT_SRSHADOWGAIN);
    } else if (ms == BKD_MS_SECONDARY && old != BKD_MS_SECONDARY) {
        role_event(c, i, BKD_EVT_SRSECONDARY);
    }
    if (r->ms != ms || strcmp(r->reason, reason) != 0)
        RTR_LOG(CMN_LOG_NOTICE, "BKD-ROLE", "partition=%s state=%s%s%s epoch=%llu",
                c->parts[i].name, bkd_ms_name(ms), reason[0] ? " reason=" : "", reason,
                (unsigned long long)r->epoch);
    r->ms = ms;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static void role_meta_write(bkd_core_t *c, uint32_t part);
static bool role_note_epoch(bkd_core_t *c, uint32_t part, uint64_t e);

void
bkd_epoch_start(bkd_core_t *c, uint32_t part, uint64_t epoch, uint64_t first_n)
{
    bkd_part_t *p = &c->parts[part];
    Rtr__JournalMeta *m = p->meta;

    if (m == NULL || (m->n_history > 0 && m->history[m->n_history - 1]->epoch >= epoch))
        return;
    Rtr__EpochStart **v = realloc(m->history, (m->n_history + 1) * sizeof(*v));
    Rtr__EpochStart *e = malloc(sizeof(*e));
    RTR_ASSERT(v != NULL && e != NULL);
    rtr__epoch_start__init(e);
    e->epoch = epoch;
    e->first_n = first_n;
    m->history = v;
    m->history[m->n_history++] = e;
    m->has_epoch = true;
    m->epoch = epoch;
    (void)role_note_epoch(c, part, epoch);
    role_meta_write(c, part); /* the history grew: written whether or not the highest did */
}

/* role_meta_write - queue a write of partition part's journal meta (as it is now). */
static void
role_meta_write(bkd_core_t *c, uint32_t part)
{
    bkd_action_t a;
    uint8_t *buf = NULL;
    size_t len = 0;

    memset(&a, 0, sizeof(a));
    a.kind = BKD_ACT_JOURNAL_META;
    a.part = part;
    RTR_ASSERT(wire_encode(&c->parts[part].meta->base, 0, &buf, &len) == RTR_STS_OK);
    RTR_ASSERT(wire_decode(&rtr__journal_meta__descriptor, buf, len, 0, NULL,
                           (ProtobufCMessage **)&a.meta) == RTR_STS_OK);
    free(buf);
    a.ticket = ++c->next_ticket;
    bkd_push_action(c, &a);
}

/* role_epoch_seen - a register value names epoch e for partition part: the highest epoch seen
 * is persisted when it grows (shadow-protocol §5.4: after a restart, frames of older epochs
 * stay fenced even before the register answers). */
static void
role_epoch_seen(bkd_core_t *c, uint32_t part, uint64_t e)
{
    if (role_note_epoch(c, part, e))
        role_meta_write(c, part);
}

/* role_note_epoch - raise the highest epoch seen of partition part to e (in memory and in its
 * journal meta, not written); true if the meta changed. */
static bool
role_note_epoch(bkd_core_t *c, uint32_t part, uint64_t e)
{
    Rtr__JournalMeta *m = c->parts[part].meta;

    if (c->parts[part].reg.highest_epoch_seen < e)
        c->parts[part].reg.highest_epoch_seen = e;
    if (m == NULL || (m->has_highest_epoch_seen && m->highest_epoch_seen >= e))
        return false;
    m->has_highest_epoch_seen = true;
    m->highest_epoch_seen = e;
    return true;
}

/* role_send - the partition's one request (kind) to its current router. */
static void
role_send(bkd_core_t *c, uint32_t i, Rtr__RegKind kind, const char *node, uint64_t single_copy_from)
{
    bkd_part_t *p = &c->parts[i];
    bkd_reg_t *r = &p->reg;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__RegChange m = RTR__REG_CHANGE__INIT;

    r->req_kind = kind;
    r->req_id = ++c->reg_req_ids;
    if (kind == RTR__REG_KIND__REG_SHRINK || kind == RTR__REG_KIND__REG_ADD)
        r->own_change_from = r->epoch;
    r->req_sent_ms = c->now_ms;
    m.req_id = r->req_id;
    m.kind = kind;
    if (kind != RTR__REG_KIND__REG_READ) {
        m.partition = p->name;
        m.has_expected_epoch = true;
        m.expected_epoch = r->epoch;
        m.node = (char *)(uintptr_t)node;
        if (single_copy_from != 0) {
            m.has_single_copy_from = true;
            m.single_copy_from = single_copy_from;
        }
    }
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
    env.reg_change = &m;
    c->ctr.reg_requests++;
    bkd_emit_send(c, BKD_SOCK_ROUTER, c->routers_reg[r->req_router], &env);
    bkd_emit_timer(c, c->now_ms + c->register_timeout_ms);
}

/* role_fence - a newer epoch took the partition from this primary (T16): stop deciding, roll
 * back what is undecided on the servers (the clients resolve with the new primary), withdraw
 * the route. */
static void
role_fence(bkd_core_t *c, uint32_t i, const char *why)
{
    bkd_part_t *p = &c->parts[i];
    bkd_tx_t *next;

    c->ctr.fenced++;
    RTR_LOG(CMN_LOG_WARNING, "BKD-FENCED", "partition=%s epoch=%llu %s", p->name,
            (unsigned long long)p->reg.epoch, why);
    p->reg.resumed_epoch = 0;
    p->reg.lease_until = 0;
    for (bkd_tx_t *tx = c->first; tx != NULL; tx = next) {
        next = tx->next;
        if (tx->part != i || tx->shadow)
            continue;
        if (tx->state == BKD_TX_QUEUED || tx->state == BKD_TX_ACTIVE ||
            tx->state == BKD_TX_HARDENING) {
            bkd_pipe_unlist(c, tx);
            bkd_hard_remove(c, tx);
            bkd_decide_abort(c, tx, RTR_STS_FENCED, 0, !tx->vreq);
        }
    }
    bkd_role_set(c, i, BKD_MS_WT_QUORUM, "fenced: a newer epoch has the partition");
}

/* role_become_primary - this member's PROMOTE committed: apply what it hardened, then serve. */
static void
role_become_primary(bkd_core_t *c, uint32_t i)
{
    bkd_part_t *p = &c->parts[i];
    bkd_shd_t *s = p->shd;

    p->role = BKD_ROLE_PRIMARY;
    p->epoch = p->reg.epoch;
    if (p->pipe == NULL)
        p->pipe = bkd_pipe_new();
    RTR_ASSERT(p->pipe != NULL);
    if (s != NULL) {
        /* everything it holds is committed now: up to the old primary's hardened point by the
         * old primary, above it (single copy) by this one; no new CSN before the last held */
        if (s->expect > p->next_n)
            p->next_n = s->expect;
        p->reg.promoting_backlog = true;
        s->p_applied = UINT64_MAX;
        bkd_epoch_start(c, i, p->epoch, p->next_n);
        bkd_role_set(c, i, BKD_MS_LCL_REC, "applying the backlog");
        bkd_shd_hardened(c, i); /* starts the executions */
        if (p->reg.promoting_backlog && s->count == 0 && !s->executing)
            bkd_role_backlog_done(c, i);
    } else {
        bkd_role_set(c, i, p->reg.insync_partner ? BKD_MS_ACTIVE : BKD_MS_REMEMBER, "");
    }
}

void
bkd_role_backlog_done(bkd_core_t *c, uint32_t i)
{
    bkd_part_t *p = &c->parts[i];

    if (!p->reg.promoting_backlog)
        return;
    p->reg.promoting_backlog = false;
    if (p->shd != NULL && p->shd->hardened > p->hardened_n)
        p->hardened_n = p->shd->hardened;
    bkd_shd_free(&p->shd);
    bkd_role_set(c, i, p->reg.insync_partner ? BKD_MS_ACTIVE : BKD_MS_REMEMBER, "");
    RTR_LOG(CMN_LOG_NOTICE, "BKD-PRIMARY", "partition=%s epoch=%llu next_n=%llu", p->name,
            (unsigned long long)p->epoch, (unsigned long long)p->next_n);
}

/* role_eval - decide from the view. */
static void
role_eval(bkd_core_t *c, uint32_t i)
{
    bkd_part_t *p = &c->parts[i];
    bkd_reg_t *r = &p->reg;

    if (!r->bootstrapped) {
        bkd_role_set(c, i, BKD_MS_WT_QUORUM, "not_bootstrapped");
        return;
    }
    if (r->primary_me) {
        if (p->role == BKD_ROLE_PRIMARY && r->resumed_epoch != 0 && !r->promoting_backlog &&
            r->resumed_epoch != r->epoch &&
            !(r->epoch == r->resumed_epoch + 1 && r->own_change_from == r->resumed_epoch)) {
            /* a newer epoch naming this node that it did not make (a FORCE, or changes it
             * missed): it is not this process's epoch; start over with a RESUME */
            role_fence(c, i, "an epoch this process did not take names it primary");
            r->own_change_from = 0;
        }
        if (p->role == BKD_ROLE_PRIMARY && r->resumed_epoch != 0 && !r->promoting_backlog) {
            /* our own SHRINK or ADD (or a RESUME/PROMOTE reply that came after its RegLearn) */
            if (r->resumed_epoch != r->epoch) {
                r->resumed_epoch = r->epoch;
                p->epoch = r->epoch;
                bkd_epoch_start(c, i, p->epoch, p->next_n);
            }
            if (c->now_ms < r->wait_until) {
                bkd_role_set(c, i, BKD_MS_LCL_REC, "waiting out the old primary's lease");
                return;
            }
            bkd_role_set(c, i, r->insync_partner ? BKD_MS_ACTIVE : BKD_MS_REMEMBER, "");
            bkd_pipe_recheck(c, i);
            bkd_pump(c, i);
            return;
        }
        if (r->resumed_epoch == r->epoch && p->role == BKD_ROLE_MEMBER) {
            role_become_primary(c, i);
            return;
        }
        if (r->resumed_epoch == 0 && r->req_kind == 0) {
            /* a start as primary: every start or resumption takes a new epoch */
            bkd_role_set(c, i, BKD_MS_WT_QUORUM, "resuming");
            role_send(c, i, RTR__REG_KIND__REG_RESUME, NULL, 0);
        }
        return;
    }
    if (p->role == BKD_ROLE_PRIMARY && r->resumed_epoch != 0)
        role_fence(c, i, "a newer epoch names another primary");
    if (p->role == BKD_ROLE_PRIMARY)
        bkd_demote(c, i); /* it rejoins as a member (handshake, truncation, catch-up) */
    if (p->shd != NULL && p->shd->out) {
        bkd_role_set(c, i, BKD_MS_OUT, p->shd->out_reason);
        return;
    }
    if (p->partner_up) {
        bkd_catchup_member(c, i); /* in in_sync: SECONDARY once started; else CATCHUP */
        return;
    }
    if (!r->insync_me) {
        char w[64];
        snprintf(w, sizeof(w), "waiting_for %s (not in the in-sync set)", p->partner);
        bkd_role_set(c, i, BKD_MS_WT_QUORUM, w);
        return;
    }
    /* T4/T14: the primary is silent (reported lost by the shell, or never heard from for
     * failure_timeout_ms since start): first refuse every further record of its epoch, then
     * PROMOTE; the routers refuse while they still grant it leases (primary_alive), and it is
     * tried again a timeout later */
    if (r->deny && p->shd != NULL && r->partner_lost_ms != 0) {
        /* one copy is never enough here: the partition waits for its primary (or for an
         * operator's FORCE) instead of running alone */
        char w[96];
        snprintf(w, sizeof(w), "remember = deny: waiting_for %s", p->partner);
        bkd_role_set(c, i, BKD_MS_WT_QUORUM, w);
        return;
    }
    if (p->shd != NULL && r->partner_lost_ms != 0 && r->req_kind == 0 &&
        c->now_ms >= r->partner_lost_ms && c->now_ms >= r->next_promote_ms) {
        RTR_LOG(CMN_LOG_WARNING, "BKD-PROMOTE", "partition=%s primary=%s silent", p->name,
                p->partner);
        p->shd->refuse_epoch = r->epoch;
        r->next_promote_ms = c->now_ms + c->failure_timeout_ms;
        bkd_role_set(c, i, BKD_MS_WT_QUORUM, "promoting");
        role_send(c, i, RTR__REG_KIND__REG_PROMOTE, NULL, p->shd->p_hardened + 1);
        return;
    }
    char why[64];
    snprintf(why, sizeof(why), "waiting_for %s", p->partner);
    bkd_role_set(c, i, BKD_MS_WT_QUORUM, why);
}

/* role_learn_value - a register value (borrowed) from any router; partition `eval` (or -1) is
 * evaluated again even when the value is not newer (the answer to its own request). */
static void
role_learn_value(bkd_core_t *c, const Rtr__RegisterValue *v, int eval)
{
    for (uint32_t i = 0; i < c->nparts; i++) {
        bkd_part_t *p = &c->parts[i];
        bkd_reg_t *r = &p->reg;
        const Rtr__PartitionRole *pr = NULL;
        if (!p->shadowed)
            continue;
        for (size_t k = 0; k < v->n_partitions; k++)
            if (strcmp(v->partitions[k]->partition, p->name) == 0)
                pr = v->partitions[k];
        if (pr == NULL || (r->bootstrapped && v->version <= r->version) ||
            pr->epoch < r->highest_epoch_seen) {
            if ((int)i == eval && r->bootstrapped)
                role_eval(c, i); /* nothing new: decide again from what we know */
            continue;
        }
        c->ctr.reg_learned++;
        bool was_insync = r->insync_me;
        r->bootstrapped = true;
        r->version = v->version;
        r->epoch = pr->epoch;
        role_epoch_seen(c, (uint32_t)i, pr->epoch);
        bool was_primary_me = r->primary_me;
        r->primary_me = strcmp(pr->primary, c->node) == 0;
        if (r->primary_me && !was_primary_me && pr->changed_by != NULL &&
            strstr(pr->changed_by, "FORCE") != NULL)
            r->after_force = true; /* its first RESUME must wait out the old primary's lease */
        if (p->pipe != NULL && p->pipe->add_from != 0 && (pr->epoch > p->pipe->add_epoch)) {
            /* a newer value: the ADD either committed (the partner is in in_sync) or can no
             * longer commit (its expected epoch is gone) */
            p->pipe->add_from = 0;
            bkd_pipe_recheck(c, (uint32_t)i);
        }
        bool had_partner = r->insync_partner;
        r->insync_me = r->insync_partner = false;
        for (size_t k = 0; k < pr->n_in_sync; k++) {
            r->insync_me |= strcmp(pr->in_sync[k], c->node) == 0;
            r->insync_partner |= strcmp(pr->in_sync[k], p->partner) == 0;
        }
        if (had_partner && !r->insync_partner && r->primary_me && p->pipe != NULL) {
            /* shrunk: the stream's mitt of the in-sync days says nothing about what the
             * partner will hold; it catches up from a new handshake (a new mitt) before ADD */
            p->pipe->streaming = false;
            p->pipe->mitt = 0;
            bkd_pipe_recheck(c, (uint32_t)i);
        }
        r->single_copy_from = pr->has_single_copy_from ? pr->single_copy_from : 0;
        if (was_insync && !r->insync_me && p->shd != NULL && c->nrouters_reg > 0) {
            /* shrunk out: the primary stopped streaming to it; a new handshake */
            p->shd->started = false;
            p->shd->hello_ms = 0;
        }
        role_eval(c, i);
    }
}

/* role_reply - the answer to the partition's request. */
static void
role_reply(bkd_core_t *c, uint32_t i, const Rtr__RegChangeReply *m)
{
    bkd_part_t *p = &c->parts[i];
    bkd_reg_t *r = &p->reg;
    int kind = r->req_kind;

    r->req_kind = 0;
    if (m->status == RTR_STS_OK && m->value != NULL) {
        const Rtr__PartitionRole *pr = NULL;
        for (size_t k = 0; k < m->value->n_partitions; k++)
            if (strcmp(m->value->partitions[k]->partition, p->name) == 0)
                pr = m->value->partitions[k];
        if (pr != NULL && strcmp(pr->primary, c->node) == 0 &&
            (kind == RTR__REG_KIND__REG_RESUME || kind == RTR__REG_KIND__REG_PROMOTE)) {
            r->resumed_epoch = pr->epoch;
            if (kind == RTR__REG_KIND__REG_RESUME && r->after_force) {
                /* made primary by the operator (FORCE): the old primary may hold a lease
                 * still; nothing is decided before it has run out */
                r->wait_until = c->now_ms + c->lease_ms + c->lease_margin_ms;
                r->after_force = false;
            }
            if (p->role == BKD_ROLE_PRIMARY) {
                p->epoch = pr->epoch;
                bkd_epoch_start(c, i, p->epoch, p->next_n);
            }
        }
    }
    if (m->value != NULL) {
        role_learn_value(c, m->value, (int)i);
    } else if (m->status == RTR_STS_NOTFOUND) {
        r->bootstrapped = false;
        role_eval(c, i);
    }
    if (m->status == RTR_STS_BUSY && kind == RTR__REG_KIND__REG_PROMOTE)
        bkd_role_set(c, i, BKD_MS_WT_QUORUM, "primary_alive");
    if (m->status != RTR_STS_OK && m->status != RTR_STS_EXISTS)
        r->next_read_ms = c->now_ms + c->failure_timeout_ms; /* ask again later */
}

void
bkd_core_register_version(bkd_core_t *c, uint64_t version)
{
    if (c->nrouters_reg == 0)
        return;
    for (uint32_t i = 0; i < c->nparts; i++) {
        bkd_reg_t *r = &c->parts[i].reg;
        if (c->parts[i].shadowed && version > r->version && r->req_kind == 0) {
            c->ctr.reg_behind++;
            role_send(c, i, RTR__REG_KIND__REG_READ, NULL, 0);
        }
    }
}

/* role_lease_grant - a router's answer to a lease request. */
static void
role_lease_grant(bkd_core_t *c, uint32_t i, size_t router, const Rtr__LeaseGrant *g)
{
    bkd_part_t *p = &c->parts[i];
    bkd_reg_t *r = &p->reg;
    size_t k = g->seq % BKD_LEASE_RING;

    if (!g->granted) {
        c->ctr.leases_refused++;
        if (g->has_register_version && g->register_version > r->version && r->req_kind == 0)
            role_send(c, i, RTR__REG_KIND__REG_READ, NULL, 0);
        return;
    }
    c->ctr.leases_granted++;
    if (g->epoch != r->resumed_epoch || r->lease_seqs[k] != g->seq)
        return;
    r->lease_grants[k] |= 1ull << router;
    size_t n = 0;
    for (uint64_t m = r->lease_grants[k]; m; m &= m - 1)
        n++;
    if (n < role_majority(c))
        return;
    uint64_t until = r->lease_sent[k] + c->lease_ms - c->lease_margin_ms;
    bool was_valid = c->now_ms < r->lease_until;
    if (until > r->lease_until)
        r->lease_until = until;
    if (!was_valid && c->now_ms < r->lease_until)
        bkd_pipe_recheck(c, i);
}

static int
role_router_index(const bkd_core_t *c, const char *router)
{
    for (size_t k = 0; k < c->nrouters_reg; k++)
        if (strcmp(c->routers_reg[k], router) == 0)
            return (int)k;
    return -1;
}

static int
role_part(const bkd_core_t *c, const char *name)
{
    for (uint32_t i = 0; i < c->nparts; i++)
        if (c->parts[i].shadowed && name != NULL && strcmp(c->parts[i].name, name) == 0)
            return (int)i;
    return -1;
}

rtr_status_t
bkd_core_register_msg(bkd_core_t *c, const char *router, const Rtr__Envelope *env)
{
    int ri = role_router_index(c, router);

    if (ri < 0 || role_static(c)) {
        c->ctr.reg_unexpected++;
        return RTR_STS_INVARG;
    }
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_REG_CHANGE_REPLY: {
        const Rtr__RegChangeReply *m = env->reg_change_reply;
        for (uint32_t i = 0; i < c->nparts; i++) {
            if (c->parts[i].shadowed && c->parts[i].reg.req_kind != 0 &&
                c->parts[i].reg.req_id == m->req_id) {
                role_reply(c, i, m);
                return RTR_STS_OK;
            }
        }
        if (m->value != NULL)
            role_learn_value(c, m->value, -1); /* a late answer still carries a committed value */
        return RTR_STS_OK;
    }
    case RTR__ENVELOPE__BODY_REG_LEARN:
        role_learn_value(c, env->reg_learn->value, -1);
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_LEASE_GRANT: {
        int i = role_part(c, env->lease_grant->partition);
        if (i < 0)
            break;
        role_lease_grant(c, (uint32_t)i, (size_t)ri, env->lease_grant);
        return RTR_STS_OK;
    }
    default:
        break;
    }
    c->ctr.reg_unexpected++;
    return RTR_STS_INVARG;
}

/* role_lease_request - one LeaseRequest to every router. */
static void
role_lease_request(bkd_core_t *c, uint32_t i)
{
    bkd_part_t *p = &c->parts[i];
    bkd_reg_t *r = &p->reg;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__LeaseRequest m = RTR__LEASE_REQUEST__INIT;
    size_t k;

    r->lease_seq++;
    k = r->lease_seq % BKD_LEASE_RING;
    r->lease_seqs[k] = r->lease_seq;
    r->lease_sent[k] = c->now_ms;
    r->lease_grants[k] = 0;
    m.partition = p->name;
    m.epoch = r->resumed_epoch;
    m.seq = r->lease_seq;
    m.has_decided_upto = true;
    m.decided_upto = p->hardened_n;
    env.body_case = RTR__ENVELOPE__BODY_LEASE_REQUEST;
    env.lease_request = &m;
    for (size_t ri = 0; ri < c->nrouters_reg; ri++)
        bkd_emit_send(c, BKD_SOCK_ROUTER, c->routers_reg[ri], &env);
    c->ctr.leases_requested++;
    r->next_lease_ms = c->now_ms + c->heartbeat_ms;
}

void
bkd_role_start(bkd_core_t *c)
{
    for (uint32_t i = 0; i < c->nparts; i++) {
        bkd_part_t *p = &c->parts[i];
        if (!p->shadowed)
            continue;
        p->reg.deny = p->reg.deny;
        /* never heard from yet: silent once failure_timeout_ms have passed (T4) */
        p->reg.partner_lost_ms = p->partner_up ? 0 : c->now_ms + c->failure_timeout_ms;
        if (role_static(c)) {
            p->reg.bootstrapped = true;
            p->reg.epoch = p->reg.resumed_epoch = p->epoch;
            p->reg.primary_me = p->role == BKD_ROLE_PRIMARY;
            p->reg.insync_me = p->reg.insync_partner = true;
            if (p->role == BKD_ROLE_PRIMARY)
                bkd_epoch_start(c, i, p->epoch, p->next_n);
            if (p->pipe != NULL)
                p->pipe->streaming = true;
            if (p->shd != NULL)
                p->shd->started = true;
            bkd_role_set(c, i, p->role == BKD_ROLE_PRIMARY ? BKD_MS_ACTIVE : BKD_MS_SECONDARY, "");
            continue;
        }
        if (p->reg.bootstrapped) {
            role_eval(c, i); /* a RegLearn came before the first timer */
            continue;
        }
        bkd_role_set(c, i, BKD_MS_WT_QUORUM, "no_register");
        role_send(c, i, RTR__REG_KIND__REG_READ, NULL, 0);
    }
}

void
bkd_role_timer(bkd_core_t *c)
{
    if (role_static(c))
        return;
    for (uint32_t i = 0; i < c->nparts; i++) {
        bkd_part_t *p = &c->parts[i];
        bkd_reg_t *r = &p->reg;
        if (!p->shadowed)
            continue;
        /* a request without an answer: READ through the next router, then decide again */
        if (r->req_kind != 0 && c->now_ms >= r->req_sent_ms + c->register_timeout_ms) {
            c->ctr.reg_timeouts++;
            r->req_router = (r->req_router + 1) % c->nrouters_reg;
            role_send(c, i, RTR__REG_KIND__REG_READ, NULL, 0);
        } else if (r->req_kind == 0 && r->next_read_ms != 0 && c->now_ms >= r->next_read_ms) {
            r->next_read_ms = 0;
            role_send(c, i, RTR__REG_KIND__REG_READ, NULL, 0);
        }
        /* the primary's lease */
        if (p->role == BKD_ROLE_PRIMARY && r->resumed_epoch != 0 && c->now_ms >= r->next_lease_ms)
            role_lease_request(c, i);
        if (r->req_kind != 0)
            continue;
        /* T17: a catching-up partner (outside in_sync) whose acks stopped moving: its stream
         * is dropped (nothing waits for it; its next ack is answered "handshake again") */
        if (r->ms == BKD_MS_REMEMBER && !r->insync_partner && p->pipe != NULL &&
            p->pipe->streaming && p->pipe->count > 0 &&
            c->now_ms >= p->pipe->unacked_since_ms + c->catchup_lag_ms) {
            RTR_LOG(CMN_LOG_WARNING, "BKD-CATCHUP-DROP",
                    "partition=%s partner=%s why=lagging acked=%llu last=%llu", p->name, p->partner,
                    (unsigned long long)p->pipe->acked, (unsigned long long)(p->next_n - 1));
            c->ctr.catchup_dropped++;
            p->pipe->streaming = false;
            p->pipe->mitt = 0;
            bkd_pipe_recheck(c, i); /* what waited at its mitt is decided alone now */
        }
        /* T11: the in-sync partner is lost, lags or diverged -> SHRINK (remember = allow) */
        if ((r->ms == BKD_MS_ACTIVE) && r->insync_partner && bkd_role_deciding(c, i)) {
            bool lost = r->partner_lost_ms != 0 && c->now_ms >= r->partner_lost_ms;
            bool lag =
                p->pipe->count > 0 && c->now_ms >= p->pipe->unacked_since_ms + c->shadow_lag_ms;
            if (lost || lag || p->pipe->diverged) {
                if (r->deny) {
                    if (r->stalled_since == 0)
                        r->stalled_since = c->now_ms ? c->now_ms : 1;
                    bkd_role_set(c, i, BKD_MS_ACTIVE, "stalled: remember = deny");
                } else {
                    RTR_LOG(CMN_LOG_WARNING, "BKD-SHRINK", "partition=%s partner=%s why=%s",
                            p->name, p->partner,
                            lost  ? "lost"
                            : lag ? "lagging"
                                  : "diverged");
                    role_send(c, i, RTR__REG_KIND__REG_SHRINK, p->partner, p->pipe->acked + 1);
                }
            } else if (r->stalled_since != 0) {
                r->stalled_since = 0; /* the partner acks again */
                bkd_role_set(c, i, BKD_MS_ACTIVE, "");
            }
        }
        /* the lease wait after a FORCE is over: serve */
        if (r->ms == BKD_MS_LCL_REC && p->role == BKD_ROLE_PRIMARY && !r->promoting_backlog &&
            r->resumed_epoch == r->epoch && c->now_ms >= r->wait_until)
            role_eval(c, i);
        /* deciding again (a lease after a lapse): what waited at step 6 is looked at again */
        bool deciding = bkd_role_deciding(c, i);
        if (deciding && !r->was_deciding) {
            bkd_pipe_recheck(c, i);
            bkd_pump(c, i);
        }
        r->was_deciding = deciding;
        /* REMEMBER: the catching-up partner holds everything before the mitt -> ADD */
        if (r->ms == BKD_MS_REMEMBER && !r->insync_partner && bkd_role_deciding(c, i) &&
            bkd_catchup_ready(c, i)) {
            RTR_LOG(CMN_LOG_NOTICE, "BKD-ADD", "partition=%s partner=%s acked=%llu", p->name,
                    p->partner, (unsigned long long)p->pipe->acked);
            /* until the ADD is decided either way, what comes from the mitt on waits for the
             * partner's ack even if its stream restarts meanwhile (a new handshake moves the
             * mitt up while this ADD may still commit: found by the simulator, seed 4945) */
            p->pipe->add_from = p->pipe->mitt;
            p->pipe->add_epoch = r->epoch;
            role_send(c, i, RTR__REG_KIND__REG_ADD, p->partner, 0);
            continue;
        }
        /* a member in handshake: ask again after resend_ms */
        if (r->ms == BKD_MS_LCL_REC && p->role == BKD_ROLE_MEMBER && p->partner_up &&
            p->shd != NULL && !p->shd->started) {
            bkd_catchup_member(c, i);
            continue;
        }
        /* a member whose primary is silent: role_eval decides (rate-limited) */
        if ((r->ms == BKD_MS_SECONDARY || r->ms == BKD_MS_WT_QUORUM) && r->bootstrapped &&
            r->insync_me && !r->primary_me && p->role == BKD_ROLE_MEMBER &&
            r->partner_lost_ms != 0 && c->now_ms >= r->partner_lost_ms)
            role_eval(c, i);
    }
    bkd_emit_timer(c, c->now_ms + c->heartbeat_ms);
}

bool
bkd_role_deciding(const bkd_core_t *c, uint32_t i)
{
    const bkd_part_t *p = &c->parts[i];
    const bkd_reg_t *r = &p->reg;

    if (!p->shadowed || role_static(c))
        return true;
    return p->role == BKD_ROLE_PRIMARY && r->primary_me && r->resumed_epoch == r->epoch &&
           !r->promoting_backlog && (r->ms == BKD_MS_ACTIVE || r->ms == BKD_MS_REMEMBER) &&
           c->now_ms < r->lease_until && c->now_ms >= r->wait_until;
}

bool
bkd_role_may_run(const bkd_core_t *c, uint32_t i)
{
    const bkd_part_t *p = &c->parts[i];
    const bkd_reg_t *r = &p->reg;

    if (!p->shadowed || role_static(c) || p->role == BKD_ROLE_MEMBER)
        return true; /* a member's queue holds only its executions of the primary's records */
    return r->primary_me && r->resumed_epoch != 0 && r->resumed_epoch == r->epoch;
}

bool
bkd_role_needs_partner(const bkd_core_t *c, uint32_t i)
{
    const bkd_reg_t *r = &c->parts[i].reg;
    return role_static(c) || r->insync_partner || r->deny;
}

void
bkd_role_partner(bkd_core_t *c, uint32_t i, bool up)
{
    bkd_reg_t *r = &c->parts[i].reg;

    r->partner_lost_ms = up ? 0 : (c->now_ms ? c->now_ms : 1);
    if (!up && c->parts[i].pipe != NULL && !r->insync_partner && c->parts[i].pipe->mitt != 0) {
        /* a catcher lost is dropped: its mitt no longer holds back single-copy commits, and
         * it handshakes again (a new mitt) before ADD */
        c->parts[i].pipe->streaming = false;
        c->parts[i].pipe->mitt = 0;
        bkd_pipe_recheck(c, i);
    }
    if (!role_static(c) && r->bootstrapped && c->parts[i].role == BKD_ROLE_MEMBER &&
        r->req_kind == 0)
        role_eval(c, i); /* handshake when it comes (back); promotion when it goes */
}
