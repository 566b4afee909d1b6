/*
 * rtd_reg.c - the facility register: CASPaxos acceptor, proposer, learner and lease granter
 * (contracts in rtd_reg.h, design in docs/shadow-protocol.md §5).
 *
 * Values are kept unpacked (protobuf-c, malloc allocator) and copied by pack + unpack: register
 * traffic is a handful of messages per role change, so clarity wins over allocation counts.
 * Everything an action points to lives in the per-event scratch list, freed at the next event.
 */
#include "rtd_reg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtd_reg_impl.h"

/* ---- scratch, actions, copies ------------------------------------------------------------- */

static void
reg_scratch_clear(rtd_reg_t *r)
{
    for (size_t i = 0; i < r->nscratch; i++)
        r->scratch[i].fn(r->scratch[i].p);
    r->nscratch = 0;
    r->nact = 0;
}

static void *
reg_keep(rtd_reg_t *r, void *p, void (*fn)(void *))
{
    if (p == NULL)
        return NULL;
    if (r->nscratch == r->capscratch) {
        size_t cap = r->capscratch ? r->capscratch * 2 : 32;
        reg_scratch_t *v = realloc(r->scratch, cap * sizeof *v);
        if (v == NULL) {
            fn(p);
            return NULL;
        }
        r->scratch = v;
        r->capscratch = cap;
    }
    r->scratch[r->nscratch].p = p;
    r->scratch[r->nscratch].fn = fn;
    r->nscratch++;
    return p;
}

static void *
reg_tmp(rtd_reg_t *r, size_t size)
{
    return reg_keep(r, calloc(1, size), free);
}

static void
reg_value_free_fn(void *p)
{
    rtr__register_value__free_unpacked(p, NULL);
}

static void
reg_env_free_fn(void *p)
{
    rtr__envelope__free_unpacked(p, NULL);
}

static void
reg_state_free_fn(void *p)
{
    rtr__acceptor_state__free_unpacked(p, NULL);
}

void
rtd_reg_value_free(Rtr__RegisterValue **v)
{
    if (v != NULL && *v != NULL) {
        rtr__register_value__free_unpacked(*v, NULL);
        *v = NULL;
    }
}

Rtr__RegisterValue *
rtd_reg_value_dup(const Rtr__RegisterValue *v)
{
    if (v == NULL)
        return NULL;
    size_t len = rtr__register_value__get_packed_size(v);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return NULL;
    rtr__register_value__pack(v, buf);
    Rtr__RegisterValue *out = rtr__register_value__unpack(NULL, len, buf);
    free(buf);
    return out;
}

bool
rtd_reg_value_same(const Rtr__RegisterValue *a, const Rtr__RegisterValue *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    size_t la = rtr__register_value__get_packed_size(a);
    size_t lb = rtr__register_value__get_packed_size(b);
    if (la != lb)
        return false;
    uint8_t *ba = malloc(la + 1), *bb = malloc(lb + 1);
    bool same = false;
    if (ba != NULL && bb != NULL) {
        rtr__register_value__pack(a, ba);
        rtr__register_value__pack(b, bb);
        same = memcmp(ba, bb, la) == 0;
    }
    free(ba);
    free(bb);
    return same;
}

static rtd_reg_action_t *
reg_act(rtd_reg_t *r, rtd_reg_act_kind_t kind)
{
    if (r->nact == r->capact) {
        size_t cap = r->capact ? r->capact * 2 : 16;
        rtd_reg_action_t *v = realloc(r->act, cap * sizeof *v);
        RTR_ASSERT(v != NULL); /* a few dozen actions at most; no way to continue without */
        r->act = v;
        r->capact = cap;
    }
    rtd_reg_action_t *a = &r->act[r->nact++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

/* reg_env - a scratch envelope with this router's header and body case `bc`; body set by the
 * caller (a scratch struct). */
static Rtr__Envelope *
reg_env(rtd_reg_t *r, Rtr__Envelope__BodyCase bc)
{
    Rtr__Envelope *env = reg_tmp(r, sizeof *env);
    RTR_ASSERT(env != NULL);
    rtr__envelope__init(env);
    wire_envelope_init(env, r->self->name, 0, r->incarnation, RTR__ROLE__ROLE_ROUTER);
    env->body_case = bc;
    return env;
}

static void
reg_send_router(rtd_reg_t *r, size_t to, Rtr__Envelope *env)
{
    rtd_reg_action_t *a = reg_act(r, RTD_REG_SEND_ROUTER);
    a->router = to;
    a->env = env;
}

static void
reg_send_all(rtd_reg_t *r, Rtr__Envelope *env, bool self_too)
{
    for (size_t i = 0; i < r->nrouters; i++)
        if (self_too || i != r->self_idx)
            reg_send_router(r, i, env);
}

static char *
reg_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* ---- ballots and the PRNG ----------------------------------------------------------------- */

static int
reg_ballot_cmp(reg_ballot_t a, reg_ballot_t b)
{
    if (a.c != b.c)
        return a.c < b.c ? -1 : 1;
    if (a.node != b.node)
        return a.node < b.node ? -1 : 1;
    return 0;
}

static uint64_t
reg_rand(rtd_reg_t *r)
{
    /* splitmix64: small, seeded, the same sequence on every platform */
    uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- facility checks ------------------------------------------------------------------------ */

static const cmn_partition_t *
reg_fac_partition(const rtd_reg_t *r, const char *name, size_t *idx)
{
    for (size_t i = 0; i < r->fac->npartitions; i++) {
        if (strcmp(r->fac->partitions[i].name, name) == 0) {
            if (idx != NULL)
                *idx = i;
            return &r->fac->partitions[i];
        }
    }
    return NULL;
}

/* reg_member - is backend `node` configured as a member (primary, secondary, standby) of p? */
static bool
reg_member(const cmn_partition_t *p, const char *node)
{
    if (node == NULL)
        return false;
    if (strcmp(p->primary->name, node) == 0)
        return true;
    if (p->secondary != NULL && strcmp(p->secondary->name, node) == 0)
        return true;
    for (size_t i = 0; i < p->nstandby; i++)
        if (strcmp(p->standby[i]->name, node) == 0)
            return true;
    return false;
}

static bool
reg_in(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* rtd_reg_value_check - is v a well-formed value of this facility? NULL when it is, else why. */
const char *
rtd_reg_value_check(const cmn_facility_t *fac, const Rtr__RegisterValue *v)
{
    if (strcmp(v->facility, fac->name) != 0)
        return "value of another facility name";
    if (v->facility_uuid.len != 16)
        return "facility_uuid is not 16 bytes";
    if (v->version == 0)
        return "version 0";
    for (size_t i = 0; i < v->n_partitions; i++) {
        const Rtr__PartitionRole *pr = v->partitions[i];
        const cmn_partition_t *p = NULL;
        for (size_t k = 0; k < fac->npartitions; k++)
            if (strcmp(fac->partitions[k].name, pr->partition) == 0)
                p = &fac->partitions[k];
        if (p == NULL || p->secondary == NULL)
            return "partition not shadowed in the facility";
        for (size_t k = 0; k < i; k++)
            if (strcmp(v->partitions[k]->partition, pr->partition) == 0)
                return "partition listed twice";
        if (pr->epoch == 0)
            return "epoch 0";
        if (!reg_member(p, pr->primary))
            return "primary is no member of the partition";
        if (pr->n_in_sync == 0 || strcmp(pr->in_sync[0], pr->primary) != 0)
            return "in_sync does not start with the primary";
        for (size_t k = 0; k < pr->n_in_sync; k++) {
            if (!reg_member(p, pr->in_sync[k]))
                return "in_sync names no member of the partition";
            if (reg_in(pr->in_sync, k, pr->in_sync[k]))
                return "in_sync names a member twice";
        }
        if (pr->partner != NULL && !reg_member(p, pr->partner))
            return "partner is no member of the partition";
    }
    return NULL;
}

/* reg_value_ok - check a received value; counts and logs a bad one. */
static bool
reg_value_ok(rtd_reg_t *r, const Rtr__RegisterValue *v, const char *what)
{
    const char *why = rtd_reg_value_check(r->fac, v);
    if (why == NULL && r->has_uuid && memcmp(v->facility_uuid.data, r->uuid, 16) != 0) {
        r->ctr.foreign_uuid++;
        RTR_LOG(CMN_LOG_WARNING, "RTD-REG-FOREIGN", "msg=%s version=%llu", what,
                (unsigned long long)v->version);
        return false;
    }
    if (why != NULL) {
        r->ctr.invalid++;
        RTR_LOG(CMN_LOG_WARNING, "RTD-REG-INVALID", "msg=%s why=\"%s\"", what, why);
        return false;
    }
    return true;
}

/* ---- the acceptor's durable state --------------------------------------------------------- */

/* reg_state_build - the acceptor state as it must be stored now (scratch). */
static Rtr__AcceptorState *
reg_state_build(rtd_reg_t *r, bool scratch)
{
    Rtr__AcceptorState st;
    rtr__acceptor_state__init(&st);
    if (r->has_uuid) {
        st.has_facility_uuid = true;
        st.facility_uuid.data = r->uuid;
        st.facility_uuid.len = 16;
    }
    st.has_promised = st.has_promised_node = true;
    st.promised = r->promised.c;
    st.promised_node = r->promised.node;
    if (r->acc_value != NULL) {
        st.has_accepted = st.has_accepted_node = true;
        st.accepted = r->accepted.c;
        st.accepted_node = r->accepted.node;
        st.value = r->acc_value;
    }
    st.has_learner = true;
    st.learner = r->mode == RTD_REG_LEARNER;
    st.has_ballot_reserved = true;
    st.ballot_reserved = r->reserved;
    /* deep copy so the action stays valid whatever happens to the live state */
    size_t len = rtr__acceptor_state__get_packed_size(&st);
    uint8_t *buf = malloc(len + 1);
    RTR_ASSERT(buf != NULL);
    rtr__acceptor_state__pack(&st, buf);
    Rtr__AcceptorState *out = rtr__acceptor_state__unpack(NULL, len, buf);
    free(buf);
    RTR_ASSERT(out != NULL);
    if (scratch)
        return reg_keep(r, out, reg_state_free_fn);
    return out;
}

/* reg_persist - store the current state; returns the ticket replies must wait for. */
static uint64_t
reg_persist(rtd_reg_t *r)
{
    rtd_reg_action_t *a = reg_act(r, RTD_REG_PERSIST);
    a->ticket = ++r->ticket_issued;
    a->state = reg_state_build(r, true);
    if (r->view != NULL)
        rtr__acceptor_state__free_unpacked(r->view, NULL);
    r->view = reg_state_build(r, false);
    return a->ticket;
}

/* reg_hold - send env to router `to` once ticket is persisted (at once if it already is). */
static void
reg_hold(rtd_reg_t *r, uint64_t ticket, size_t to, Rtr__Envelope *env)
{
    if (ticket <= r->ticket_done) {
        reg_send_router(r, to, env);
        return;
    }
    size_t len = rtr__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len + 1);
    if (buf == NULL)
        return; /* the reply is lost: the proposer times out and retries */
    if (r->nheld == r->capheld) {
        size_t cap = r->capheld ? r->capheld * 2 : 8;
        reg_held_t *v = realloc(r->held, cap * sizeof *v);
        if (v == NULL) {
            free(buf);
            return;
        }
        r->held = v;
        r->capheld = cap; /* whether realloc moved the block or grew it in place */
    }
    rtr__envelope__pack(env, buf);
    r->held[r->nheld].ticket = ticket;
    r->held[r->nheld].to = to;
    r->held[r->nheld].buf = buf;
    r->held[r->nheld].len = len;
    r->nheld++;
}

/* ---- learned values ----------------------------------------------------------------------- */

static const Rtr__RegisterValue *
reg_newest(const rtd_reg_t *r)
{
    const Rtr__RegisterValue *a = r->acc_value, *l = r->learned;
    if (a == NULL)
        return l;
    if (l == NULL)
        return a;
    return a->version > l->version ? a : l;
}

/* reg_learn - v (borrowed) is committed: keep it if newer, tell the shell. */
static void
reg_learn(rtd_reg_t *r, const Rtr__RegisterValue *v)
{
    if (r->learned != NULL && r->learned->version >= v->version)
        return;
    Rtr__RegisterValue *copy = rtd_reg_value_dup(v);
    if (copy == NULL)
        return;
    rtd_reg_value_free(&r->learned);
    r->learned = copy;
    r->ctr.learned++;
    rtd_reg_action_t *a = reg_act(r, RTD_REG_LEARNED);
    a->value = reg_keep(r, rtd_reg_value_dup(v), reg_value_free_fn);
    if (a->value == NULL)
        r->nact--;
}

/* ---- proposer ------------------------------------------------------------------------------ */

static size_t
reg_majority(const rtd_reg_t *r)
{
    return r->nrouters / 2 + 1;
}

static void
reg_req_free(reg_req_t **rq)
{
    if (*rq == NULL)
        return;
    if ((*rq)->msg != NULL)
        rtr__reg_change__free_unpacked((*rq)->msg, NULL);
    free(*rq);
    *rq = NULL;
}

static void
reg_round_reset(rtd_reg_t *r)
{
    rtd_reg_value_free(&r->round.best);
    rtd_reg_value_free(&r->round.next);
    r->round.phase = REG_IDLE;
    r->round.promised = 0;
    r->round.accepted_mask = 0;
    r->round.best_ballot = (reg_ballot_t){ 0, 0 };
    r->round.status = RTR_STS_OK;
    r->round.reason = NULL;
    r->round.wait_ms = 0;
}

/* reg_reply - answer the current request (internal requests get no message). */
static void
reg_reply(rtd_reg_t *r, reg_req_t *rq, rtr_status_t sts, const Rtr__RegisterValue *v,
          uint64_t wait_ms, const char *reason)
{
    if (sts != RTR_STS_OK)
        r->ctr.refused++;
    if (rq->internal)
        return;
    Rtr__RegChangeReply *rep = reg_tmp(r, sizeof *rep);
    RTR_ASSERT(rep != NULL);
    rtr__reg_change_reply__init(rep);
    rep->req_id = rq->msg->req_id;
    rep->status = (uint32_t)sts;
    rep->value = v == NULL ? NULL : reg_keep(r, rtd_reg_value_dup(v), reg_value_free_fn);
    if (wait_ms != 0) {
        rep->has_wait_ms = true;
        rep->wait_ms = wait_ms;
    }
    rep->reason = reason == NULL ? NULL : reg_keep(r, reg_strdup(reason), free);
    Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_REG_CHANGE_REPLY);
    env->reg_change_reply = rep;
    rtd_reg_action_t *a = reg_act(r, RTD_REG_SEND_PEER);
    a->sock = rq->sock;
    a->to = rq->from;
    a->env = env;

    /* keep the reply for a duplicate of the request */
    reg_replay_t *slot = &r->replays[r->nextreplay++ % RTD_REG_REPLAYS];
    free(slot->buf);
    slot->buf = NULL;
    size_t len = rtr__envelope__get_packed_size(env);
    slot->buf = malloc(len + 1);
    if (slot->buf != NULL) {
        rtr__envelope__pack(env, slot->buf);
        slot->len = len;
        slot->from = rq->from;
        slot->req_id = rq->msg->req_id;
        slot->incarnation = rq->incarnation;
    }
}

static void reg_round_start(rtd_reg_t *r, uint64_t now_ms);

/* reg_next_request - finish the current request and start the next queued one. */
static void
reg_request_done(rtd_reg_t *r, uint64_t now_ms)
{
    reg_req_free(&r->cur);
    reg_round_reset(r);
    if (r->nqueue > 0) {
        r->cur = r->queue[0];
        memmove(r->queue, r->queue + 1, (r->nqueue - 1) * sizeof r->queue[0]);
        r->nqueue--;
        reg_round_start(r, now_ms);
    }
}

/* reg_round_start - a new prepare phase for r->cur with a fresh ballot. A ballot counter is
 * used only after it is reserved on disk (a restarted router never reuses one). */
static void
reg_round_start(rtd_reg_t *r, uint64_t now_ms)
{
    reg_round_reset(r);
    r->ctr.rounds++;
    uint64_t c = r->max_seen + 1;
    if (c <= r->reserved_used)
        c = r->reserved_used + 1;
    r->round.ballot = (reg_ballot_t){ c, (uint32_t)r->self_idx };
    r->reserved_used = c;
    r->max_seen = c;
    r->round.deadline_ms = now_ms + r->cfg.register_timeout_ms;
    r->round.started_ms = r->round.started_ms ? r->round.started_ms : now_ms;
    if (c > r->reserved) {
        r->reserved = c + 64;
        r->round.wait_ticket = reg_persist(r);
        r->round.phase = REG_RESERVING;
        return;
    }
    r->round.phase = REG_PREPARE;
    Rtr__RegPrepare *p = reg_tmp(r, sizeof *p);
    RTR_ASSERT(p != NULL);
    rtr__reg_prepare__init(p);
    p->req_id = c;
    p->ballot = c;
    p->ballot_node = (uint32_t)r->self_idx;
    Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_REG_PREPARE);
    env->reg_prepare = p;
    /* a learner's own READ is decided by the others alone */
    reg_send_all(r, env, r->mode == RTD_REG_VOTING);
}

/* reg_round_retry - the round failed (refused or timed out): back off, then a new ballot. */
static void
reg_round_retry(rtd_reg_t *r, uint64_t now_ms)
{
    r->ctr.round_retries++;
    uint64_t started = r->round.started_ms;
    reg_round_reset(r);
    r->round.started_ms = started;
    r->round.phase = REG_BACKOFF;
    r->round.deadline_ms = now_ms + 50 + reg_rand(r) % 101;
}

/* reg_set_in_sync - replace pr's in_sync with names[0..n) (copies). */
static bool
reg_set_in_sync(Rtr__PartitionRole *pr, const char *const *names, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        v[i] = reg_strdup(names[i]);
        if (v[i] == NULL) {
            while (i-- > 0)
                free(v[i]);
            free(v);
            return false;
        }
    }
    for (size_t i = 0; i < pr->n_in_sync; i++)
        free(pr->in_sync[i]);
    free(pr->in_sync);
    pr->in_sync = v;
    pr->n_in_sync = n;
    return true;
}

static bool
reg_set_str(char **field, const char *s)
{
    char *d = reg_strdup(s);
    if (d == NULL)
        return false;
    free(*field);
    *field = d;
    return true;
}

static Rtr__PartitionRole *
reg_role_mut(Rtr__RegisterValue *v, const char *name)
{
    for (size_t i = 0; i < v->n_partitions; i++)
        if (strcmp(v->partitions[i]->partition, name) == 0)
            return v->partitions[i];
    return NULL;
}

const Rtr__PartitionRole *
rtd_reg_role(const Rtr__RegisterValue *v, const char *name)
{
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < v->n_partitions; i++)
        if (strcmp(v->partitions[i]->partition, name) == 0)
            return v->partitions[i];
    return NULL;
}

static const char *
reg_kind_name(int kind)
{
    switch (kind) {
    case RTR__REG_KIND__REG_READ:
        return "READ";
    case RTR__REG_KIND__REG_RESUME:
        return "RESUME";
    case RTR__REG_KIND__REG_SHRINK:
        return "SHRINK";
    case RTR__REG_KIND__REG_ADD:
        return "ADD";
    case RTR__REG_KIND__REG_PROMOTE:
        return "PROMOTE";
    case RTR__REG_KIND__REG_FORCE:
        return "FORCE";
    case RTR__REG_KIND__REG_BOOTSTRAP:
        return "BOOTSTRAP";
    }
    return "?";
}

/* reg_audit - append a forced-change entry to v (the last RTD_REG_FORCED are kept). */
static bool
reg_audit(Rtr__RegisterValue *v, const Rtr__PartitionRole *pr, const Rtr__RegChange *m)
{
    Rtr__ForcedChange *f = calloc(1, sizeof *f);
    if (f == NULL)
        return false;
    rtr__forced_change__init(f);
    f->partition = reg_strdup(pr->partition);
    f->primary = reg_strdup(pr->primary);
    f->operator_ = reg_strdup("rtrcli");
    f->epoch = pr->epoch;
    if (m->has_single_copy_from) {
        f->has_loss_from = true;
        f->loss_from = m->single_copy_from;
    }
    if (m->has_loss_to) {
        f->has_loss_to = true;
        f->loss_to = m->loss_to;
    }
    f->has_loss_tid_count = m->has_loss_tid_count;
    f->loss_tid_count = m->loss_tid_count;
    if (m->has_confirm) {
        f->has_confirm = true;
        f->confirm.data = malloc(m->confirm.len ? m->confirm.len : 1);
        if (f->confirm.data != NULL)
            memcpy(f->confirm.data, m->confirm.data, m->confirm.len);
        f->confirm.len = m->confirm.len;
    }
    size_t nt = m->n_loss_tids < RTD_REG_FORCED_TIDS ? m->n_loss_tids : RTD_REG_FORCED_TIDS;
    f->loss_tids = nt ? calloc(nt, sizeof *f->loss_tids) : NULL;
    for (size_t k = 0; k < nt && f->loss_tids != NULL; k++) {
        f->loss_tids[k].data = malloc(16);
        if (f->loss_tids[k].data == NULL || m->loss_tids[k].len != 16)
            break;
        memcpy(f->loss_tids[k].data, m->loss_tids[k].data, 16);
        f->loss_tids[k].len = 16;
        f->n_loss_tids = k + 1;
    }
    if (f->partition == NULL || f->primary == NULL || f->operator_ == NULL ||
        (m->has_confirm && f->confirm.data == NULL) || f->n_loss_tids != nt) {
        rtr__forced_change__free_unpacked(f, NULL);
        return false;
    }
    if (v->n_forced == RTD_REG_FORCED) {
        rtr__forced_change__free_unpacked(v->forced[0], NULL);
        memmove(v->forced, v->forced + 1, (v->n_forced - 1) * sizeof v->forced[0]);
        v->n_forced--;
    }
    Rtr__ForcedChange **nv = realloc(v->forced, (v->n_forced + 1) * sizeof *nv);
    if (nv == NULL) {
        rtr__forced_change__free_unpacked(f, NULL);
        return false;
    }
    v->forced = nv;
    v->forced[v->n_forced++] = f;
    return true;
}

/* reg_change - apply the request's change function to cur (which may be NULL). Returns the
 * status; on OK *out is the new value (owned) or NULL for "unchanged". */
static rtr_status_t
reg_change(rtd_reg_t *r, uint64_t now_ms, const reg_req_t *rq, const Rtr__RegisterValue *cur,
           Rtr__RegisterValue **out, const char **reason, uint64_t *wait_ms)
{
    const Rtr__RegChange *m = rq->msg;
    *out = NULL;
    *reason = NULL;
    *wait_ms = 0;
    if (m->kind == RTR__REG_KIND__REG_BOOTSTRAP) {
        if (cur != NULL) {
            *reason = "the register exists";
            return RTR_STS_EXISTS;
        }
        Rtr__RegisterValue *v = rtd_reg_value_dup(m->bootstrap);
        if (v == NULL)
            return RTR_STS_NOMEM;
        v->version = 1;
        *out = v;
        return RTR_STS_OK;
    }
    if (cur == NULL) {
        *reason = "not_bootstrapped";
        return RTR_STS_NOTFOUND;
    }
    if (m->kind == RTR__REG_KIND__REG_READ)
        return RTR_STS_OK;

    size_t pidx = 0;
    const cmn_partition_t *p = reg_fac_partition(r, m->partition, &pidx);
    const Rtr__PartitionRole *pr = rtd_reg_role(cur, m->partition);
    if (pr == NULL) {
        *reason = "partition not in the register";
        return RTR_STS_NOTFOUND;
    }
    if (pr->epoch != m->expected_epoch) {
        *reason = "epoch moved on";
        return RTR_STS_EXISTS;
    }
    const char *who = rq->has_node ? rq->node : NULL;
    const char *node = m->node;
    bool is_primary = who != NULL && strcmp(who, pr->primary) == 0;
    switch (m->kind) {
    case RTR__REG_KIND__REG_RESUME:
        if (!is_primary) {
            *reason = "not the primary";
            return RTR_STS_EXISTS;
        }
        break;
    case RTR__REG_KIND__REG_SHRINK:
        if (!is_primary || !reg_in(pr->in_sync, pr->n_in_sync, node) ||
            strcmp(node, pr->primary) == 0) {
            *reason = "not the primary, or the member is not in in_sync";
            return RTR_STS_EXISTS;
        }
        if (p->remember == CMN_REMEMBER_DENY) {
            *reason = "remember = deny";
            return RTR_STS_NOSHADOW;
        }
        break;
    case RTR__REG_KIND__REG_ADD:
        if (!is_primary || pr->partner == NULL || strcmp(node, pr->partner) != 0 ||
            reg_in(pr->in_sync, pr->n_in_sync, node)) {
            *reason = "not the primary, or the member is not the partner or already in in_sync";
            return RTR_STS_EXISTS;
        }
        break;
    case RTR__REG_KIND__REG_PROMOTE:
        if (who == NULL || is_primary || !reg_in(pr->in_sync, pr->n_in_sync, who)) {
            *reason = "not an in-sync secondary";
            return RTR_STS_EXISTS;
        }
        if (!(m->has_planned && m->planned) && r->grant_ms[pidx] != 0 &&
            r->grant_epoch[pidx] == pr->epoch &&
            now_ms - r->grant_ms[pidx] < r->cfg.failure_timeout_ms) {
            *reason = "primary_alive";
            return RTR_STS_BUSY;
        }
        break;
    case RTR__REG_KIND__REG_FORCE:
        if (pr->partner == NULL || strcmp(node, pr->partner) != 0 ||
            strcmp(node, pr->primary) == 0) {
            *reason = "the node is not the partition's partner";
            return RTR_STS_EXISTS;
        }
        *wait_ms = r->cfg.lease_ms + r->cfg.lease_margin_ms;
        break;
    default:
        *reason = "unknown kind";
        return RTR_STS_INVARG;
    }

    Rtr__RegisterValue *v = rtd_reg_value_dup(cur);
    if (v == NULL)
        return RTR_STS_NOMEM;
    Rtr__PartitionRole *w = reg_role_mut(v, m->partition);
    bool ok = true;
    char by[64];
    snprintf(by, sizeof by, "%s %s", who != NULL ? who : "rtrcli", reg_kind_name(m->kind));
    w->epoch++;
    v->version++;
    switch (m->kind) {
    case RTR__REG_KIND__REG_SHRINK: {
        const char *keep[8];
        size_t n = 0;
        for (size_t i = 0; i < w->n_in_sync && n < 8; i++)
            if (strcmp(w->in_sync[i], node) != 0)
                keep[n++] = w->in_sync[i];
        /* copy before replacing: keep[] points into the array being freed */
        char *tmp[8];
        for (size_t i = 0; i < n; i++)
            tmp[i] = reg_strdup(keep[i]);
        for (size_t i = 0; i < n; i++)
            ok = ok && tmp[i] != NULL;
        ok = ok && reg_set_in_sync(w, (const char *const *)tmp, n);
        for (size_t i = 0; i < n; i++)
            free(tmp[i]);
        w->has_single_copy_from = true;
        w->single_copy_from = m->has_single_copy_from ? m->single_copy_from : 0;
        break;
    }
    case RTR__REG_KIND__REG_ADD: {
        const char *names[2] = { w->primary, node };
        char *prim = reg_strdup(w->primary);
        names[0] = prim;
        ok = prim != NULL && reg_set_in_sync(w, names, 2);
        free(prim);
        w->has_single_copy_from = true;
        w->single_copy_from = 0;
        break;
    }
    case RTR__REG_KIND__REG_PROMOTE:
    case RTR__REG_KIND__REG_FORCE: {
        const char *np = m->kind == RTR__REG_KIND__REG_PROMOTE ? who : node;
        char *old = reg_strdup(w->primary);
        ok = old != NULL && reg_set_str(&w->partner, old) && reg_set_str(&w->primary, np) &&
             reg_set_in_sync(w, &np, 1);
        free(old);
        w->has_single_copy_from = true;
        w->single_copy_from = m->has_single_copy_from ? m->single_copy_from : 0;
        if (m->kind == RTR__REG_KIND__REG_FORCE) {
            w->has_flags = true;
            w->flags |= RTD_REG_FLAG_FORCED;
            ok = ok && reg_audit(v, w, m);
        }
        break;
    }
    default:
        break;
    }
    ok = ok && reg_set_str(&w->changed_by, by);
    if (!ok) {
        rtd_reg_value_free(&v);
        return RTR_STS_NOMEM;
    }
    *out = v;
    return RTR_STS_OK;
}

/* reg_accept_phase - promises from a majority are in: apply the change and send accepts. */
static void
reg_accept_phase(rtd_reg_t *r, uint64_t now_ms)
{
    const Rtr__RegisterValue *cur = r->round.best;
    Rtr__RegisterValue *next = NULL;
    const char *reason = NULL;
    uint64_t wait_ms = 0;
    rtr_status_t sts = reg_change(r, now_ms, r->cur, cur, &next, &reason, &wait_ms);
    if (cur == NULL && next == NULL) {
        /* nothing to accept: never bootstrapped (or a refused bootstrap of nothing) */
        reg_reply(r, r->cur, sts == RTR_STS_OK ? RTR_STS_NOTFOUND : sts, NULL, 0,
                  reason != NULL ? reason : "not_bootstrapped");
        if (r->cur->learner_read) {
            /* every router answered the learner's READ without a value: it is fresh */
            r->mode = RTD_REG_VOTING;
            (void)reg_persist(r);
        }
        reg_request_done(r, now_ms);
        return;
    }
    r->round.status = sts;
    r->round.reason = reason;
    r->round.wait_ms = wait_ms;
    r->round.next = next != NULL ? next : rtd_reg_value_dup(cur);
    if (r->round.next == NULL) {
        reg_round_retry(r, now_ms);
        return;
    }
    r->round.phase = REG_ACCEPT;
    r->round.deadline_ms = now_ms + r->cfg.register_timeout_ms;
    Rtr__RegAccept *acc = reg_tmp(r, sizeof *acc);
    RTR_ASSERT(acc != NULL);
    rtr__reg_accept__init(acc);
    acc->req_id = r->round.ballot.c;
    acc->ballot = r->round.ballot.c;
    acc->ballot_node = r->round.ballot.node;
    acc->value = reg_keep(r, rtd_reg_value_dup(r->round.next), reg_value_free_fn);
    RTR_ASSERT(acc->value != NULL);
    Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_REG_ACCEPT);
    env->reg_accept = acc;
    reg_send_all(r, env, r->mode == RTD_REG_VOTING);
}

/* reg_committed - accepts from a majority: the round's value is committed. */
static void
reg_committed(rtd_reg_t *r, uint64_t now_ms)
{
    const Rtr__RegisterValue *v = r->round.next;
    r->ctr.commits++;
    if (r->round.best == NULL || v->version != r->round.best->version)
        r->ctr.changes++;
    if (r->cur->learner_read) {
        /* the learner now holds what a majority holds: it becomes a full acceptor */
        rtd_reg_value_free(&r->acc_value);
        r->acc_value = rtd_reg_value_dup(v);
        r->accepted = r->round.ballot;
        if (reg_ballot_cmp(r->promised, r->round.ballot) < 0)
            r->promised = r->round.ballot;
        memcpy(r->uuid, v->facility_uuid.data, 16);
        r->has_uuid = true;
        r->mode = RTD_REG_VOTING;
        (void)reg_persist(r);
        RTR_LOG(CMN_LOG_NOTICE, "RTD-REG-JOINED", "router=%s version=%llu", r->self->name,
                (unsigned long long)v->version);
    }
    reg_reply(r, r->cur, r->round.status, v, r->round.wait_ms, r->round.reason);
    reg_learn(r, v);
    Rtr__RegLearn *l = reg_tmp(r, sizeof *l);
    RTR_ASSERT(l != NULL);
    rtr__reg_learn__init(l);
    l->value = reg_keep(r, rtd_reg_value_dup(v), reg_value_free_fn);
    if (l->value != NULL) {
        Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_REG_LEARN);
        env->reg_learn = l;
        reg_send_all(r, env, false);
    }
    reg_request_done(r, now_ms);
}

/* reg_enqueue - queue a request (owned); it starts at once when nothing runs. */
static void
reg_enqueue(rtd_reg_t *r, uint64_t now_ms, reg_req_t *rq)
{
    if (r->cur == NULL) {
        r->cur = rq;
        reg_round_start(r, now_ms);
        return;
    }
    if (r->nqueue == RTD_REG_QUEUE) {
        r->ctr.queue_full++;
        reg_reply(r, rq, RTR_STS_BUSY, NULL, 0, "register proposer queue full");
        reg_req_free(&rq);
        return;
    }
    r->queue[r->nqueue++] = rq;
}

static reg_req_t *
reg_req_internal(rtd_reg_t *r, bool learner_read)
{
    reg_req_t *rq = calloc(1, sizeof *rq);
    Rtr__RegChange *m = calloc(1, sizeof *m);
    if (rq == NULL || m == NULL) {
        free(rq);
        free(m);
        return NULL;
    }
    rtr__reg_change__init(m);
    m->req_id = ++r->internal_ids;
    m->kind = RTR__REG_KIND__REG_READ;
    rq->msg = m;
    rq->internal = true;
    rq->learner_read = learner_read;
    return rq;
}

/* ---- fetching (empty store) ---------------------------------------------------------------- */

static void
reg_fetch_send(rtd_reg_t *r, uint64_t now_ms)
{
    Rtr__RegPrepare *p = reg_tmp(r, sizeof *p);
    RTR_ASSERT(p != NULL);
    rtr__reg_prepare__init(p);
    p->req_id = 0;
    p->ballot = 0;
    p->ballot_node = (uint32_t)r->self_idx;
    p->has_fetch = p->fetch = true;
    Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_REG_PREPARE);
    env->reg_prepare = p;
    reg_send_all(r, env, false);
    r->fetch_deadline_ms = now_ms + r->cfg.register_timeout_ms;
}

/* reg_fetch_answer - router `from` says whether it holds a facility. */
static void
reg_fetch_answer(rtd_reg_t *r, uint64_t now_ms, size_t from, const Rtr__RegPromise *m)
{
    if (r->mode != RTD_REG_FETCHING)
        return;
    if (m->has_facility_uuid && m->facility_uuid.len == 16) {
        /* a facility exists: learn it before voting */
        RTR_LOG(CMN_LOG_NOTICE, "RTD-REG-LEARNER", "router=%s from=%zu", r->self->name, from);
        r->mode = RTD_REG_LEARNER;
        reg_req_t *rq = reg_req_internal(r, true);
        if (rq != NULL)
            reg_enqueue(r, now_ms, rq);
        return;
    }
    r->fetch_empty |= 1ull << from;
    size_t n = 0;
    for (size_t i = 0; i < r->nrouters; i++)
        if (i != r->self_idx && (r->fetch_empty >> i & 1))
            n++;
    if (n == r->nrouters - 1) {
        RTR_LOG(CMN_LOG_NOTICE, "RTD-REG-FRESH", "router=%s no router holds a facility",
                r->self->name);
        r->mode = RTD_REG_VOTING;
        (void)reg_persist(r);
    }
}

/* ---- acceptor ------------------------------------------------------------------------------ */

static void
reg_on_prepare(rtd_reg_t *r, size_t from, const Rtr__RegPrepare *m)
{
    Rtr__RegPromise *rep = reg_tmp(r, sizeof *rep);
    RTR_ASSERT(rep != NULL);
    rtr__reg_promise__init(rep);
    rep->req_id = m->req_id;
    Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_REG_PROMISE);
    env->reg_promise = rep;
    if (m->has_fetch && m->fetch) {
        rep->ok = false;
        if (r->has_uuid && r->mode == RTD_REG_VOTING) {
            rep->has_facility_uuid = true;
            rep->facility_uuid.data = r->uuid;
            rep->facility_uuid.len = 16;
        }
        /* the asker's first ballot then starts above every promise here */
        rep->has_promised = rep->has_promised_node = true;
        rep->promised = r->promised.c;
        rep->promised_node = r->promised.node;
        reg_send_router(r, from, env);
        return;
    }
    reg_ballot_t b = { m->ballot, m->ballot_node };
    if (b.c > r->max_seen)
        r->max_seen = b.c;
    if (r->mode != RTD_REG_VOTING) {
        r->ctr.not_voting++;
        rep->ok = false;
        rep->has_learner = rep->learner = true;
        reg_send_router(r, from, env);
        return;
    }
    if (reg_ballot_cmp(b, r->promised) <= 0) {
        r->ctr.nacks++;
        rep->ok = false;
        rep->has_promised = rep->has_promised_node = true;
        rep->promised = r->promised.c;
        rep->promised_node = r->promised.node;
        reg_send_router(r, from, env);
        return;
    }
    r->promised = b;
    r->ctr.promises++;
    rep->ok = true;
    if (r->acc_value != NULL) {
        rep->has_accepted_ballot = rep->has_accepted_node = true;
        rep->accepted_ballot = r->accepted.c;
        rep->accepted_node = r->accepted.node;
        rep->value = reg_keep(r, rtd_reg_value_dup(r->acc_value), reg_value_free_fn);
    }
    reg_hold(r, reg_persist(r), from, env);
}

static void
reg_on_accept(rtd_reg_t *r, size_t from, const Rtr__RegAccept *m)
{
    Rtr__RegAccepted *rep = reg_tmp(r, sizeof *rep);
    RTR_ASSERT(rep != NULL);
    rtr__reg_accepted__init(rep);
    rep->req_id = m->req_id;
    Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_REG_ACCEPTED);
    env->reg_accepted = rep;
    reg_ballot_t b = { m->ballot, m->ballot_node };
    if (b.c > r->max_seen)
        r->max_seen = b.c;
    if (r->mode != RTD_REG_VOTING) {
        r->ctr.not_voting++;
        rep->ok = false;
        reg_send_router(r, from, env);
        return;
    }
    if (!reg_value_ok(r, m->value, "RegAccept"))
        return;
    if (reg_ballot_cmp(b, r->promised) < 0) {
        r->ctr.nacks++;
        rep->ok = false;
        rep->has_promised = rep->has_promised_node = true;
        rep->promised = r->promised.c;
        rep->promised_node = r->promised.node;
        reg_send_router(r, from, env);
        return;
    }
    Rtr__RegisterValue *copy = rtd_reg_value_dup(m->value);
    if (copy == NULL)
        return; /* no answer: the proposer times out */
    r->promised = b;
    r->accepted = b;
    rtd_reg_value_free(&r->acc_value);
    r->acc_value = copy;
    if (!r->has_uuid) {
        memcpy(r->uuid, copy->facility_uuid.data, 16);
        r->has_uuid = true;
    }
    r->ctr.accepts++;
    rep->ok = true;
    reg_hold(r, reg_persist(r), from, env);
}

/* ---- proposer: answers --------------------------------------------------------------------- */

static bool
reg_round_counts(const rtd_reg_t *r, size_t from)
{
    /* a learner's own READ does not count its own (absent) vote */
    return !(r->cur != NULL && r->cur->learner_read && from == r->self_idx);
}

static size_t
reg_popcount(uint64_t m)
{
    size_t n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

static void
reg_on_promise(rtd_reg_t *r, uint64_t now_ms, size_t from, const Rtr__RegPromise *m)
{
    if (m->has_promised && m->promised > r->max_seen)
        r->max_seen = m->promised;
    if (m->req_id == 0) {
        reg_fetch_answer(r, now_ms, from, m);
        return;
    }
    if (r->round.phase != REG_PREPARE || m->req_id != r->round.ballot.c ||
        !reg_round_counts(r, from))
        return;
    if (!m->ok) {
        if (!(m->has_learner && m->learner))
            reg_round_retry(r, now_ms);
        return;
    }
    if (m->value != NULL) {
        if (!reg_value_ok(r, m->value, "RegPromise"))
            return;
        reg_ballot_t ab = { m->accepted_ballot, m->accepted_node };
        if (r->round.best == NULL || reg_ballot_cmp(ab, r->round.best_ballot) > 0) {
            Rtr__RegisterValue *copy = rtd_reg_value_dup(m->value);
            if (copy == NULL)
                return;
            rtd_reg_value_free(&r->round.best);
            r->round.best = copy;
            r->round.best_ballot = ab;
        }
    }
    r->round.promised |= 1ull << from;
    if (reg_popcount(r->round.promised) >= reg_majority(r))
        reg_accept_phase(r, now_ms);
}

static void
reg_on_accepted(rtd_reg_t *r, uint64_t now_ms, size_t from, const Rtr__RegAccepted *m)
{
    if (m->has_promised && m->promised > r->max_seen)
        r->max_seen = m->promised;
    if (r->round.phase != REG_ACCEPT || m->req_id != r->round.ballot.c ||
        !reg_round_counts(r, from))
        return;
    if (!m->ok) {
        reg_round_retry(r, now_ms);
        return;
    }
    r->round.accepted_mask |= 1ull << from;
    if (reg_popcount(r->round.accepted_mask) >= reg_majority(r))
        reg_committed(r, now_ms);
}

static void
reg_on_learn(rtd_reg_t *r, const Rtr__RegLearn *m)
{
    if (!reg_value_ok(r, m->value, "RegLearn"))
        return;
    reg_learn(r, m->value);
}

/* ---- events ---------------------------------------------------------------------------------- */

static void
reg_arm(rtd_reg_t *r)
{
    uint64_t at = 0;
    if (r->cur != NULL && r->round.phase != REG_RESERVING)
        at = r->round.deadline_ms;
    if (r->mode == RTD_REG_FETCHING && (at == 0 || r->fetch_deadline_ms < at))
        at = r->fetch_deadline_ms;
    rtd_reg_action_t *a = reg_act(r, RTD_REG_ARM_TIMER);
    a->at_ms = at;
}

rtr_status_t
rtd_reg_new(const cmn_facility_t *fac, const cmn_router_t *self, uint64_t incarnation,
            const rtd_reg_cfg_t *cfg, const Rtr__AcceptorState *stored, rtd_reg_t **out)
{
    if (fac == NULL || self == NULL || cfg == NULL || out == NULL || fac->nrouters > 64)
        return RTR_STS_INVARG;
    size_t idx = fac->nrouters;
    for (size_t i = 0; i < fac->nrouters; i++)
        if (&fac->routers[i] == self || strcmp(fac->routers[i].name, self->name) == 0)
            idx = i;
    if (idx == fac->nrouters)
        return RTR_STS_INVARG;
    rtd_reg_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return RTR_STS_NOMEM;
    r->fac = fac;
    r->self = &fac->routers[idx];
    r->self_idx = idx;
    r->nrouters = fac->nrouters;
    r->incarnation = incarnation;
    r->cfg = *cfg;
    r->rng = cfg->seed ^ (0x5157ull * (idx + 1));
    r->grant_ms = calloc(fac->npartitions ? fac->npartitions : 1, sizeof *r->grant_ms);
    r->grant_epoch = calloc(fac->npartitions ? fac->npartitions : 1, sizeof *r->grant_epoch);
    if (r->grant_ms == NULL || r->grant_epoch == NULL)
        goto nomem;
    if (stored == NULL) {
        r->mode = RTD_REG_FETCHING;
    } else {
        if (stored->value != NULL) {
            const char *why = rtd_reg_value_check(fac, stored->value);
            if (why != NULL) {
                RTR_LOG(CMN_LOG_ERR, "RTD-REG-STORE", "router=%s stored value refused: %s",
                        self->name, why);
                rtd_reg_free(&r);
                return RTR_STS_INVARG;
            }
            r->acc_value = rtd_reg_value_dup(stored->value);
            if (r->acc_value == NULL)
                goto nomem;
        }
        if (stored->has_facility_uuid && stored->facility_uuid.len == 16) {
            memcpy(r->uuid, stored->facility_uuid.data, 16);
            r->has_uuid = true;
        }
        r->promised = (reg_ballot_t){ stored->promised, stored->promised_node };
        r->accepted = (reg_ballot_t){ stored->accepted, stored->accepted_node };
        r->reserved = stored->ballot_reserved;
        r->reserved_used = stored->ballot_reserved;
        r->max_seen = r->promised.c > r->reserved ? r->promised.c : r->reserved;
        r->mode = stored->has_learner && stored->learner ? RTD_REG_LEARNER : RTD_REG_VOTING;
    }
    *out = r;
    return RTR_STS_OK;
nomem:
    rtd_reg_free(&r);
    return RTR_STS_NOMEM;
}

void
rtd_reg_free(rtd_reg_t **rp)
{
    if (rp == NULL || *rp == NULL)
        return;
    rtd_reg_t *r = *rp;
    reg_scratch_clear(r);
    free(r->scratch);
    free(r->act);
    reg_req_free(&r->cur);
    for (size_t i = 0; i < r->nqueue; i++)
        reg_req_free(&r->queue[i]);
    reg_round_reset(r);
    rtd_reg_value_free(&r->acc_value);
    rtd_reg_value_free(&r->learned);
    if (r->view != NULL)
        rtr__acceptor_state__free_unpacked(r->view, NULL);
    for (size_t i = 0; i < r->nheld; i++)
        free(r->held[i].buf);
    free(r->held);
    for (size_t i = 0; i < RTD_REG_REPLAYS; i++)
        free(r->replays[i].buf);
    free(r->grant_ms);
    free(r->grant_epoch);
    free(r);
    *rp = NULL;
}

void
rtd_reg_start(rtd_reg_t *r, uint64_t now_ms)
{
    reg_scratch_clear(r);
    if (r->view == NULL && r->mode != RTD_REG_FETCHING)
        r->view = reg_state_build(r, false);
    if (r->mode == RTD_REG_FETCHING && r->nrouters == 1) {
        /* nobody to ask: a one-router facility has no register failover to protect */
        r->mode = RTD_REG_VOTING;
        (void)reg_persist(r);
    } else if (r->mode == RTD_REG_FETCHING) {
        reg_fetch_send(r, now_ms);
    } else {
        reg_req_t *rq = reg_req_internal(r, r->mode == RTD_REG_LEARNER);
        if (rq != NULL)
            reg_enqueue(r, now_ms, rq);
    }
    reg_arm(r);
}

rtr_status_t
rtd_reg_on_router(rtd_reg_t *r, uint64_t now_ms, size_t from, const Rtr__Envelope *env)
{
    reg_scratch_clear(r);
    if (from >= r->nrouters) {
        r->ctr.invalid++;
        return RTR_STS_INVARG;
    }
    rtr_status_t sts = RTR_STS_OK;
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_REG_PREPARE:
        reg_on_prepare(r, from, env->reg_prepare);
        break;
    case RTR__ENVELOPE__BODY_REG_PROMISE:
        reg_on_promise(r, now_ms, from, env->reg_promise);
        break;
    case RTR__ENVELOPE__BODY_REG_ACCEPT:
        reg_on_accept(r, from, env->reg_accept);
        break;
    case RTR__ENVELOPE__BODY_REG_ACCEPTED:
        reg_on_accepted(r, now_ms, from, env->reg_accepted);
        break;
    case RTR__ENVELOPE__BODY_REG_LEARN:
        reg_on_learn(r, env->reg_learn);
        break;
    default:
        r->ctr.invalid++;
        sts = RTR_STS_INVARG;
        break;
    }
    reg_arm(r);
    return sts;
}

/* reg_on_lease - a primary asks for its lease. */
static void
reg_on_lease(rtd_reg_t *r, uint64_t now_ms, rtd_sock_t sock, const rtd_id_t *to, const char *node,
             const Rtr__LeaseRequest *m)
{
    Rtr__LeaseGrant *g = reg_tmp(r, sizeof *g);
    RTR_ASSERT(g != NULL);
    rtr__lease_grant__init(g);
    g->partition = reg_keep(r, reg_strdup(m->partition), free);
    if (g->partition == NULL)
        return;
    g->epoch = m->epoch;
    g->seq = m->seq;
    const Rtr__RegisterValue *v = reg_newest(r);
    const Rtr__PartitionRole *pr = rtd_reg_role(v, m->partition);
    size_t pidx = 0;
    g->granted = r->mode == RTD_REG_VOTING && node != NULL && pr != NULL &&
                 reg_fac_partition(r, m->partition, &pidx) != NULL && pr->epoch == m->epoch &&
                 strcmp(pr->primary, node) == 0;
    if (v != NULL) {
        g->has_register_version = true;
        g->register_version = v->version;
    }
    if (g->granted) {
        r->ctr.leases_granted++;
        r->grant_ms[pidx] = now_ms ? now_ms : 1;
        r->grant_epoch[pidx] = m->epoch;
    } else {
        r->ctr.leases_refused++;
    }
    Rtr__Envelope *env = reg_env(r, RTR__ENVELOPE__BODY_LEASE_GRANT);
    env->lease_grant = g;
    rtd_reg_action_t *a = reg_act(r, RTD_REG_SEND_PEER);
    a->sock = sock;
    a->to = *to;
    a->env = env;
}

/* reg_request_check - INVARG reason for a request that can never succeed, else NULL. */
static const char *
reg_request_check(const rtd_reg_t *r, const Rtr__RegChange *m, const char *node)
{
    bool admin = node == NULL;
    switch (m->kind) {
    case RTR__REG_KIND__REG_READ:
        return NULL;
    case RTR__REG_KIND__REG_BOOTSTRAP:
        if (!admin)
            return "BOOTSTRAP comes from rtrcli only";
        if (m->bootstrap == NULL)
            return "BOOTSTRAP without a value";
        return rtd_reg_value_check(r->fac, m->bootstrap);
    case RTR__REG_KIND__REG_FORCE:
        if (!admin)
            return "FORCE comes from rtrcli only";
        for (size_t k = 0; k < m->n_loss_tids; k++)
            if (m->loss_tids[k].len != 16)
                return "a TID of the loss list is not 16 bytes";
        break;
    default:
        if (admin && !(m->kind == RTR__REG_KIND__REG_PROMOTE && m->has_planned && m->planned))
            return "this change comes from a backend only";
        break;
    }
    if (m->partition == NULL || !m->has_expected_epoch)
        return "partition and expected_epoch are required";
    const cmn_partition_t *p = reg_fac_partition(r, m->partition, NULL);
    if (p == NULL || p->secondary == NULL)
        return "no such shadowed partition";
    if (!admin && !reg_member(p, node))
        return "the requester is no member of the partition";
    bool needs_node = m->kind == RTR__REG_KIND__REG_SHRINK || m->kind == RTR__REG_KIND__REG_ADD ||
                      m->kind == RTR__REG_KIND__REG_FORCE;
    if (needs_node && (m->node == NULL || !reg_member(p, m->node)))
        return "the node is no member of the partition";
    return NULL;
}

rtr_status_t
rtd_reg_on_request(rtd_reg_t *r, uint64_t now_ms, rtd_sock_t sock, const rtd_id_t *to,
                   const char *node, const Rtr__Envelope *env)
{
    reg_scratch_clear(r);
    rtr_status_t sts = RTR_STS_OK;
    if (env->body_case == RTR__ENVELOPE__BODY_LEASE_REQUEST) {
        reg_on_lease(r, now_ms, sock, to, node, env->lease_request);
        goto done;
    }
    if (env->body_case != RTR__ENVELOPE__BODY_REG_CHANGE) {
        r->ctr.invalid++;
        sts = RTR_STS_INVARG;
        goto done;
    }
    const Rtr__RegChange *m = env->reg_change;
    r->ctr.requests++;
    /* a duplicate: the same reply again, or nothing while it runs */
    for (size_t i = 0; i < RTD_REG_REPLAYS; i++) {
        reg_replay_t *s = &r->replays[i];
        if (s->buf != NULL && s->req_id == m->req_id && s->incarnation == env->incarnation &&
            s->from.len == to->len && memcmp(s->from.bytes, to->bytes, to->len) == 0) {
            r->ctr.duplicates++;
            Rtr__Envelope *e = rtr__envelope__unpack(NULL, s->len, s->buf);
            if (e != NULL) {
                reg_keep(r, e, reg_env_free_fn);
                rtd_reg_action_t *a = reg_act(r, RTD_REG_SEND_PEER);
                a->sock = sock;
                a->to = *to;
                a->env = e;
            }
            goto done;
        }
    }
    for (size_t i = 0; i <= r->nqueue; i++) {
        reg_req_t *q = i < r->nqueue ? r->queue[i] : r->cur;
        if (q != NULL && !q->internal && q->msg->req_id == m->req_id &&
            q->incarnation == env->incarnation && q->from.len == to->len &&
            memcmp(q->from.bytes, to->bytes, to->len) == 0) {
            r->ctr.duplicates++;
            goto done;
        }
    }
    reg_req_t *rq = calloc(1, sizeof *rq);
    if (rq == NULL) {
        sts = RTR_STS_NOMEM;
        goto done;
    }
    rq->sock = sock;
    rq->from = *to;
    rq->incarnation = env->incarnation;
    rq->started_ms = now_ms;
    if (node != NULL) {
        snprintf(rq->node, sizeof rq->node, "%s", node);
        rq->has_node = true;
    }
    size_t len = rtr__reg_change__get_packed_size(m);
    uint8_t *buf = malloc(len + 1);
    if (buf != NULL) {
        rtr__reg_change__pack(m, buf);
        rq->msg = rtr__reg_change__unpack(NULL, len, buf);
        free(buf);
    }
    if (rq->msg == NULL) {
        free(rq);
        sts = RTR_STS_NOMEM;
        goto done;
    }
    const char *why = reg_request_check(r, m, node);
    if (why != NULL) {
        r->ctr.invalid++;
        RTR_LOG(CMN_LOG_WARNING, "RTD-REG-REQUEST", "kind=%s refused: %s", reg_kind_name(m->kind),
                why);
        reg_reply(r, rq, RTR_STS_INVARG, NULL, 0, why);
        reg_req_free(&rq);
        goto done;
    }
    if (r->mode != RTD_REG_VOTING) {
        reg_reply(r, rq, RTR_STS_NOQUORUM, NULL, 0, "router is joining the register");
        reg_req_free(&rq);
        goto done;
    }
    reg_enqueue(r, now_ms, rq);
done:
    reg_arm(r);
    return sts;
}

void
rtd_reg_on_persisted(rtd_reg_t *r, uint64_t now_ms, uint64_t ticket)
{
    reg_scratch_clear(r);
    RTR_ASSERT(ticket == r->ticket_done + 1 && ticket <= r->ticket_issued);
    r->ticket_done = ticket;
    size_t keep = 0;
    for (size_t i = 0; i < r->nheld; i++) {
        reg_held_t *h = &r->held[i];
        if (h->ticket <= ticket) {
            Rtr__Envelope *e = rtr__envelope__unpack(NULL, h->len, h->buf);
            free(h->buf);
            if (e != NULL) {
                reg_keep(r, e, reg_env_free_fn);
                reg_send_router(r, h->to, e);
            }
        } else {
            r->held[keep++] = *h;
        }
    }
    r->nheld = keep;
    if (r->round.phase == REG_RESERVING && ticket >= r->round.wait_ticket) {
        uint64_t started = r->round.started_ms;
        reg_round_start(r, now_ms);
        r->round.started_ms = started;
    }
    reg_arm(r);
}

void
rtd_reg_on_timer(rtd_reg_t *r, uint64_t now_ms)
{
    reg_scratch_clear(r);
    if (r->mode == RTD_REG_FETCHING && now_ms >= r->fetch_deadline_ms)
        reg_fetch_send(r, now_ms);
    if (r->cur != NULL && r->round.phase != REG_RESERVING && now_ms >= r->round.deadline_ms) {
        if (!r->cur->internal && now_ms - r->cur->started_ms >= 4 * r->cfg.register_timeout_ms) {
            reg_reply(r, r->cur, RTR_STS_NOQUORUM, NULL, 0, "no majority of routers answered");
            reg_request_done(r, now_ms);
        } else if (r->round.phase == REG_BACKOFF) {
            uint64_t started = r->round.started_ms;
            reg_round_start(r, now_ms);
            r->round.started_ms = started;
        } else {
            reg_round_retry(r, now_ms);
        }
    }
    reg_arm(r);
}

rtd_reg_action_t *
rtd_reg_actions(rtd_reg_t *r, size_t *n)
{
    *n = r->nact;
    return r->act;
}

const Rtr__RegisterValue *
rtd_reg_value(const rtd_reg_t *r)
{
    return r->learned;
}

const Rtr__AcceptorState *
rtd_reg_accepted(const rtd_reg_t *r)
{
    return r->view;
}

rtd_reg_mode_t
rtd_reg_mode(const rtd_reg_t *r)
{
    return r->mode;
}

const char *
rtd_reg_mode_name(rtd_reg_mode_t m)
{
    switch (m) {
    case RTD_REG_FETCHING:
        return "fetching";
    case RTD_REG_LEARNER:
        return "learner";
    case RTD_REG_VOTING:
        return "voting";
    }
    return "?";
}

const rtd_reg_counters_t *
rtd_reg_counters(const rtd_reg_t *r)
{
    return &r->ctr;
}

uint64_t
rtd_reg_last_grant(const rtd_reg_t *r, size_t i, uint64_t *epoch)
{
    if (i >= r->fac->npartitions)
        return 0;
    if (epoch != NULL)
        *epoch = r->grant_epoch[i];
    return r->grant_ms[i];
}
