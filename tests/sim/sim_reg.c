/*
 * sim_reg.c - the register world of milestone M1 (docs/shadow-protocol.md §8, §11 M1): three
 * routers, each a real rtd_reg core behind a store model, the faults, the checks made on what
 * the routers send, quiesce and liveness, and the event loop. The fake requesters (rtrcli, be1,
 * be2, the probe) are in sim_req.c.
 *
 * Node indices: 0..2 the routers (fac->routers order), then rtrcli, be1, be2, probe.
 *
 * Every frame between nodes is encoded by the sender and strictly decoded by the receiver. A
 * router's loopback (RTD_REG_SEND_ROUTER to itself) is delivered after its whole action list,
 * as the daemon's shell does (rtd_reg.h). Clocks: each router's monotonic clock runs at its own
 * rate (±2 %, seeded) from its own offset; requesters use true time.
 *
 * Faults (fault phase only, stream SIM_RNG_FAULTS): router crash (restart after
 * 0..3 x failure_timeout_ms, keeping its durable store), one wipe per seed (restart with an
 * empty store, only while the two others hold state), partitions of any node subset for
 * 0.2..5 s, connection resets, a router stopped (SIGSTOP-like: its events wait and then arrive
 * in order) for 0.2 s..3 x failure_timeout_ms, a primary backend pausing (no heartbeats) for
 * 1..4 s, a backend restart, a second bootstrap, an operator FORCE, and loss and duplication
 * per link drawn per seed. One router crashed or stopped at a time, except in seeds drawn as
 * "stress" where a second may fail briefly (safety must hold, liveness returns at quiesce).
 *
 * Design note: everything a check needs is observed at the boundary (the actions a core
 * returns, the frames it sends), never inside the core, so the same checks will hold for the
 * daemon's shell when it replays a sim schedule.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_reg_impl.h"

/* ---- clocks ---------------------------------------------------------------------------- */

static uint64_t
sim_local_ms(const sim_world_t *w, size_t i)
{
    const sim_router_t *r = &w->r[i];
    uint64_t d = (uint64_t)(1000000 + r->rate_ppm);
    return r->off_ms + (sim_now(w) * d) / 1000000000u;
}

/* sim_true_us - the first true time at which router i's clock shows at_ms */
static uint64_t
sim_true_us(const sim_world_t *w, size_t i, uint64_t at_ms)
{
    const sim_router_t *r = &w->r[i];
    uint64_t d = (uint64_t)(1000000 + r->rate_ppm);
    if (at_ms <= r->off_ms)
        return sim_now(w);
    return ((at_ms - r->off_ms) * 1000000000u + d - 1) / d;
}

/* ---- sending --------------------------------------------------------------------------- */

void
sim_send(sim_world_t *w, size_t from, size_t to, const Rtr__Envelope *env, bool reliable)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rtr_status_t st = wire_encode(&env->base, 0, &buf, &len);

    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s>%s: encode failed: %s", sim_node_name(w, from),
                       sim_node_name(w, to), rtr_status_name(st));
        return;
    }
    if (sim_net_send(w->net, from, to, buf, len, reliable) != RTR_STS_OK)
        sim_check_fail(w->check, "sim", "out of memory");
    free(buf);
}

void
sim_schedule(sim_world_t *w, uint64_t at, int kind, uint32_t a, uint64_t gen, uint64_t x,
             uint8_t *data, size_t len)
{
    sim_event_t ev;

    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.a = a;
    ev.gen = gen;
    ev.x = x;
    ev.data = data;
    ev.len = len;
    if (sim_sched_at(w->sched, at, &ev) != RTR_STS_OK) {
        free(data);
        sim_check_fail(w->check, "sim", "out of memory");
    }
}

/* ---- routers: actions ------------------------------------------------------------------- */

static void
sim_router_check_vote(sim_world_t *w, size_t i, const Rtr__Envelope *env)
{
    sim_router_t *r = &w->r[i];
    bool ok = (env->body_case == RTR__ENVELOPE__BODY_REG_PROMISE && env->reg_promise->ok &&
               !env->reg_promise->learner) ||
              (env->body_case == RTR__ENVELOPE__BODY_REG_ACCEPTED && env->reg_accepted->ok);
    if (!ok)
        return;
    /* invariant 4: only a voting acceptor says yes */
    if (rtd_reg_mode(r->reg) != RTD_REG_VOTING)
        sim_check_fail(w->check, "4-learner-votes", "%s is %s and sent an ok %s",
                       sim_node_name(w, i), rtd_reg_mode_name(rtd_reg_mode(r->reg)),
                       env->body_case == RTR__ENVELOPE__BODY_REG_PROMISE ? "promise" : "accept");
    /* ... and an acceptor that started empty votes only after it holds a copy at least as new
     * as everything committed before it started (M1: "every learner's first vote is after its
     * copy") */
    if (r->started_empty && !r->voted && r->need_version > 0) {
        const Rtr__AcceptorState *a = rtd_reg_accepted(r->reg);
        uint64_t have = a && a->value ? a->value->version : 0;
        if (have < r->need_version)
            sim_check_fail(w->check, "4-learner-copy",
                           "%s started with an empty store when version %" PRIu64
                           " was committed, and votes holding version %" PRIu64,
                           sim_node_name(w, i), r->need_version, have);
    }
    if (r->started_empty && !r->voted && r->need_version > 0)
        w->res->learner_joins++;
    r->voted = true;
}

static int
sim_ballot_cmp(uint64_t a, uint32_t an, uint64_t b, uint32_t bn)
{
    if (a != b)
        return a < b ? -1 : 1;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* sim_router_note_round - remember the ballot of a prepare or accept router i sends (once per
 * round: the copies to every router carry the same req_id). */
static void
sim_router_note_round(sim_router_t *r, const Rtr__Envelope *env)
{
    bool acc = env->body_case == RTR__ENVELOPE__BODY_REG_ACCEPT;
    uint64_t req, b;
    uint32_t bn;

    if (acc) {
        req = env->reg_accept->req_id;
        b = env->reg_accept->ballot;
        bn = env->reg_accept->ballot_node;
    } else if (env->body_case == RTR__ENVELOPE__BODY_REG_PREPARE && !env->reg_prepare->fetch) {
        req = env->reg_prepare->req_id;
        b = env->reg_prepare->ballot;
        bn = env->reg_prepare->ballot_node;
    } else {
        return;
    }
    size_t n = sizeof r->sent / sizeof r->sent[0];
    for (size_t k = 0; k < n && k < r->nsent; k++) {
        size_t s = (r->nsent - 1 - k) % n;
        if (r->sent[s].req_id == req && r->sent[s].accept == acc && r->sent[s].ballot == b &&
            r->sent[s].node == bn)
            return;
    }
    size_t s = r->nsent++ % n;
    r->sent[s].req_id = req;
    r->sent[s].ballot = b;
    r->sent[s].node = bn;
    r->sent[s].accept = acc;
}

/* sim_router_check_persisted - invariant 8: an ok promise or accept leaves only after the
 * state it promises is durable (rtd_reg.h: replies wait for their PERSIST). The ballot comes
 * from the proposer's prepare/accept with the same req_id. */
static void
sim_router_check_persisted(sim_world_t *w, size_t i, size_t to, const Rtr__Envelope *env)
{
    bool acc = env->body_case == RTR__ENVELOPE__BODY_REG_ACCEPTED;
    uint64_t req;
    const sim_router_t *p = &w->r[to];
    Rtr__AcceptorState *st = NULL;

    if (acc && env->reg_accepted->ok)
        req = env->reg_accepted->req_id;
    else if (env->body_case == RTR__ENVELOPE__BODY_REG_PROMISE && env->reg_promise->ok &&
             !env->reg_promise->learner)
        req = env->reg_promise->req_id;
    else
        return;
    size_t n = sizeof p->sent / sizeof p->sent[0];
    for (size_t k = 0; k < n && k < p->nsent; k++) {
        size_t s = (p->nsent - 1 - k) % n;
        if (p->sent[s].req_id != req || p->sent[s].accept != acc)
            continue;
        if (sim_store_load(&w->r[i].store, &st) != RTR_STS_OK)
            return;
        uint64_t db = st ? (acc ? st->accepted : st->promised) : 0;
        uint32_t dn = st ? (acc ? st->accepted_node : st->promised_node) : 0;
        wire_free((ProtobufCMessage **)&st);
        if (sim_ballot_cmp(db, dn, p->sent[s].ballot, p->sent[s].node) < 0)
            sim_check_fail(w->check, "8-persist-before-reply",
                           "%s sent an ok %s for ballot %" PRIu64 ".%u of %s, but its store "
                           "holds %s %" PRIu64 ".%u",
                           sim_node_name(w, i), acc ? "accept" : "promise", p->sent[s].ballot,
                           p->sent[s].node, sim_node_name(w, to), acc ? "accepted" : "promised", db,
                           dn);
        return;
    }
}

static void
sim_router_send_router(sim_world_t *w, size_t i, const rtd_reg_action_t *a)
{
    sim_router_t *r = &w->r[i];

    sim_router_check_vote(w, i, a->env);
    sim_router_note_round(r, a->env);
    if (a->router < SIM_NROUTERS && w->r[a->router].up)
        sim_router_check_persisted(w, i, a->router, a->env);
    if (a->router >= SIM_NROUTERS) {
        sim_check_fail(w->check, "sim", "%s sends to router index %zu", sim_node_name(w, i),
                       a->router);
        return;
    }
    if (a->router != i) {
        sim_send(w, i, a->router, a->env, false);
        return;
    }
    /* loopback: executed after the whole action list (sim_router_drain) */
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_encode(&a->env->base, 0, &buf, &len) != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s: loopback encode failed", sim_node_name(w, i));
        return;
    }
    if (r->nlb == r->caplb) {
        size_t cap = r->caplb ? r->caplb * 2 : 8;
        uint8_t **lb = realloc(r->lb, cap * sizeof *lb);
        size_t *ll = lb ? realloc(r->lblen, cap * sizeof *ll) : NULL;
        if (lb != NULL)
            r->lb = lb;
        if (ll == NULL) {
            free(buf);
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
        r->lblen = ll;
        r->caplb = cap;
    }
    r->lb[r->nlb] = buf;
    r->lblen[r->nlb++] = len;
}

/* sim_check_grant - invariant 5: a lease is granted for (P, epoch) only by a router whose
 * newest known value has that primary at that epoch, and only for a committed epoch. */
static void
sim_check_grant(sim_world_t *w, size_t i, const char *to, const Rtr__LeaseGrant *g)
{
    sim_router_t *r = &w->r[i];
    const Rtr__RegisterValue *learned = rtd_reg_value(r->reg);
    const Rtr__AcceptorState *acc = rtd_reg_accepted(r->reg);
    const Rtr__RegisterValue *newest = learned;

    w->res->leases++;
    if (acc != NULL && acc->value != NULL &&
        (newest == NULL || acc->value->version > newest->version))
        newest = acc->value;
    const Rtr__PartitionRole *p = newest ? rtd_reg_role(newest, g->partition) : NULL;
    if (p == NULL || p->epoch != g->epoch || strcmp(p->primary, to) != 0)
        sim_check_fail(w->check, "5-lease",
                       "%s granted %s a lease for %s epoch %" PRIu64
                       " but its newest value (version %" PRIu64 ") has %s at epoch %" PRIu64,
                       sim_node_name(w, i), to, g->partition, g->epoch,
                       newest ? newest->version : 0, p ? p->primary : "-", p ? p->epoch : 0);
    const char *pri = sim_check_primary(w->check, g->partition, g->epoch);
    if (pri == NULL || strcmp(pri, to) != 0)
        sim_check_fail(w->check, "5-lease",
                       "%s granted %s a lease for %s epoch %" PRIu64
                       " whose committed primary is %s",
                       sim_node_name(w, i), to, g->partition, g->epoch, pri ? pri : "(none)");
}

static void
sim_router_send_peer(sim_world_t *w, size_t i, const rtd_reg_action_t *a)
{
    size_t k = sim_req_by_id(&a->to);

    if (k == SIM_NREQ) {
        sim_check_fail(w->check, "sim", "%s answers an unknown identity", sim_node_name(w, i));
        return;
    }
    const Rtr__Envelope *env = a->env;
    if (env->body_case == RTR__ENVELOPE__BODY_REG_CHANGE_REPLY) {
        const Rtr__RegChangeReply *m = env->reg_change_reply;
        /* OK and EXISTS replies carry a committed value (rtd_reg.h, shadow-protocol §5.5) */
        if (m->value != NULL && (m->status == RTR_STS_OK || m->status == RTR_STS_EXISTS))
            sim_check_committed(w->check, sim_node_name(w, i), m->value);
    } else if (env->body_case == RTR__ENVELOPE__BODY_LEASE_GRANT && env->lease_grant->granted) {
        sim_check_grant(w, i, sim_req_names[k], env->lease_grant);
    }
    sim_send(w, i, SIM_NROUTERS + k, env, false);
}

static void
sim_router_learned(sim_world_t *w, size_t i, const Rtr__RegisterValue *v)
{
    char buf[200];
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__RegLearn learn = RTR__REG_LEARN__INIT;

    sim_check_committed(w->check, sim_node_name(w, i), v);
    if (v->version <= w->r[i].learned)
        sim_check_fail(w->check, "learned-order",
                       "%s reported LEARNED version %" PRIu64 " after version %" PRIu64
                       " (rtd_reg.h: each is newer than any reported before)",
                       sim_node_name(w, i), v->version, w->r[i].learned);
    w->r[i].learned = v->version;
    learn.value = (Rtr__RegisterValue *)(uintptr_t)v;
    env.body_case = RTR__ENVELOPE__BODY_REG_LEARN;
    env.reg_learn = &learn;
    TRACE(w, "%s LEARNED %s", sim_node_name(w, i), sim_trace_env(buf, sizeof buf, &env));
    /* the shell sends RegLearn to the connected backends */
    wire_envelope_init(&env, sim_node_name(w, i), 0, w->r[i].inc, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_REG_LEARN;
    env.reg_learn = &learn;
    sim_send(w, i, SIM_NROUTERS + SIM_RQ_BE1, &env, false);
    sim_send(w, i, SIM_NROUTERS + SIM_RQ_BE2, &env, false);
}

static void
sim_router_persist(sim_world_t *w, size_t i, const rtd_reg_action_t *a)
{
    sim_router_t *r = &w->r[i];
    uint8_t *buf = NULL;
    size_t len = 0;

    if (a->state == NULL || wire_encode(&a->state->base, 0, &buf, &len) != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s: PERSIST without an encodable state",
                       sim_node_name(w, i));
        return;
    }
    if (a->ticket <= r->last_ticket)
        sim_check_fail(w->check, "ticket-order",
                       "%s issued PERSIST ticket %" PRIu64 " after ticket %" PRIu64
                       " (rtd_reg.h: tickets increase)",
                       sim_node_name(w, i), a->ticket, r->last_ticket);
    r->last_ticket = a->ticket;
    uint64_t due = sim_store_due(&r->store, sim_now(w), sim_rng_range(&w->rstore, 200, 3000));
    TRACE(w, "%s PERSIST ticket=%" PRIu64 " prom=%" PRIu64 ".%u acc=%" PRIu64 ".%u v=%" PRIu64 "%s",
          sim_node_name(w, i), a->ticket, a->state->promised, a->state->promised_node,
          a->state->accepted, a->state->accepted_node,
          a->state->value ? a->state->value->version : 0, a->state->learner ? " learner" : "");
    sim_schedule(w, due, SIM_EV_PERSIST, (uint32_t)i, r->inc, a->ticket, buf, len);
}

static void
sim_router_exec(sim_world_t *w, size_t i)
{
    sim_router_t *r = &w->r[i];
    size_t n = 0;
    rtd_reg_action_t *a = rtd_reg_actions(r->reg, &n);

    for (size_t k = 0; k < n && !sim_check_failed(w->check); k++) {
        switch (a[k].kind) {
        case RTD_REG_SEND_ROUTER:
            sim_router_send_router(w, i, &a[k]);
            break;
        case RTD_REG_SEND_PEER:
            sim_router_send_peer(w, i, &a[k]);
            break;
        case RTD_REG_PERSIST:
            sim_router_persist(w, i, &a[k]);
            break;
        case RTD_REG_LEARNED:
            sim_router_learned(w, i, a[k].value);
            break;
        case RTD_REG_ARM_TIMER:
            r->timer_gen++;
            if (a[k].at_ms != 0)
                sim_schedule(w, sim_true_us(w, i, a[k].at_ms), SIM_EV_TIMER, (uint32_t)i,
                             r->timer_gen, a[k].at_ms, NULL, 0);
            break;
        default:
            sim_check_fail(w->check, "sim", "%s: unknown action kind %d", sim_node_name(w, i),
                           (int)a[k].kind);
            break;
        }
    }
}

static void sim_router_continue(sim_world_t *w, size_t i);
static void sim_router_deliver(sim_world_t *w, size_t i, size_t from, const uint8_t *buf,
                               size_t len, bool drain);

/* sim_router_done - after an event: execute its actions, then the loopbacks they queued (and
 * theirs), in order. */
static void
sim_router_done(sim_world_t *w, size_t i)
{
    sim_router_t *r = &w->r[i];

    sim_router_exec(w, i);
    while (r->up && r->nlb > 0 && !sim_check_failed(w->check)) {
        uint8_t *buf = r->lb[0];
        size_t len = r->lblen[0];
        memmove(r->lb, r->lb + 1, (r->nlb - 1) * sizeof *r->lb);
        memmove(r->lblen, r->lblen + 1, (r->nlb - 1) * sizeof *r->lblen);
        r->nlb--;
        sim_router_deliver(w, i, i, buf, len, false);
        free(buf);
    }
}

/* sim_router_deliver - a frame arrives at router i: decode, hand it to the core, execute the
 * actions; `drain`: then the loopbacks too (false when called for a loopback, whose caller
 * drains). */
static void
sim_router_deliver(sim_world_t *w, size_t i, size_t from, const uint8_t *buf, size_t len,
                   bool drain)
{
    sim_router_t *r = &w->r[i];
    Rtr__Envelope *env = NULL;
    char d[200];
    rtr_status_t st = wire_envelope_decode(buf, len, 0, NULL, &env);

    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s>%s: a frame the strict decoder refuses: %s",
                       sim_node_name(w, from), sim_node_name(w, i), rtr_status_name(st));
        return;
    }
    TRACE(w, "%s>%s %s", sim_node_name(w, from), sim_node_name(w, i),
          sim_trace_env(d, sizeof d, env));
    if (from < SIM_NROUTERS) {
        if (env->role != RTR__ROLE__ROLE_ROUTER || strcmp(env->sender, sim_node_name(w, from)) != 0)
            sim_check_fail(w->check, "wire", "%s>%s: header says sender %s role %d",
                           sim_node_name(w, from), sim_node_name(w, i), env->sender,
                           (int)env->role);
        else if ((st = rtd_reg_on_router(r->reg, sim_local_ms(w, i), from, env)) != RTR_STS_OK)
            sim_check_fail(w->check, "router-refused", "%s refused a register message from %s: %s",
                           sim_node_name(w, i), sim_node_name(w, from), rtr_status_name(st));
    } else {
        size_t k = from - SIM_NROUTERS;
        sim_req_t *q = &w->q[k];
        rtd_id_t id;
        memset(&id, 0, sizeof id);
        id.len = strlen(q->name);
        memcpy(id.bytes, q->name, id.len);
        const char *node = q->sock == RTD_SOCK_PEERS ? q->name : NULL;
        st = rtd_reg_on_request(r->reg, sim_local_ms(w, i), q->sock, &id, node, env);
        if (st != RTR_STS_OK)
            sim_check_fail(w->check, "router-refused", "%s refused a request of %s: %s",
                           sim_node_name(w, i), q->name, rtr_status_name(st));
    }
    if (!sim_check_failed(w->check)) {
        if (drain)
            sim_router_done(w, i);
        else
            sim_router_exec(w, i);
    }
    wire_free((ProtobufCMessage **)&env);
}

/* ---- routers: life cycle ----------------------------------------------------------------- */

static void
sim_router_clear_loopbacks(sim_router_t *r)
{
    for (size_t k = 0; k < r->nlb; k++)
        free(r->lb[k]);
    r->nlb = 0;
}

static bool
sim_store_has_state(const sim_store_t *s)
{
    Rtr__AcceptorState *st = NULL;
    bool has;

    if (sim_store_load(s, &st) != RTR_STS_OK || st == NULL)
        return false;
    has = st->has_facility_uuid && st->value != NULL;
    wire_free((ProtobufCMessage **)&st);
    return has;
}

static void
sim_router_start(sim_world_t *w, size_t i)
{
    sim_router_t *r = &w->r[i];
    Rtr__AcceptorState *stored = NULL;
    rtr_status_t st = sim_store_load(&r->store, &stored);

    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "store", "%s: its durable state does not decode: %s",
                       sim_node_name(w, i), rtr_status_name(st));
        return;
    }
    w->cfg.seed = sim_rng_next(&w->rcore);
    st = rtd_reg_new(w->fac, &w->fac->routers[i], r->inc, &w->cfg, stored, &r->reg);
    TRACE(w, "%s START inc=%" PRIu64 " %s v=%" PRIu64 " prom=%" PRIu64 ".%u", sim_node_name(w, i),
          r->inc, stored ? "stored" : "empty", stored && stored->value ? stored->value->version : 0,
          stored ? stored->promised : 0, stored ? stored->promised_node : 0);
    r->started_empty = stored == NULL;
    wire_free((ProtobufCMessage **)&stored);
    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "router-refused", "%s: rtd_reg_new refused its store: %s",
                       sim_node_name(w, i), rtr_status_name(st));
        return;
    }
    r->up = true;
    r->need_version = sim_check_max_version(w->check);
    r->voted = false;
    r->learned = 0;
    r->last_ticket = 0;
    r->nsent = 0;
    rtd_reg_start(r->reg, sim_local_ms(w, i));
    sim_router_done(w, i);
}

static size_t
sim_routers_down(const sim_world_t *w)
{
    size_t n = 0;
    for (size_t i = 0; i < SIM_NROUTERS; i++)
        n += !w->r[i].up || w->r[i].paused;
    return n;
}

static void
sim_router_crash(sim_world_t *w, size_t i, bool wipe)
{
    sim_router_t *r = &w->r[i];

    TRACE(w, "%s %s", sim_node_name(w, i), wipe ? "WIPE" : "CRASH");
    rtd_reg_free(&r->reg);
    for (size_t k = 0; k < r->ninbox; k++)
        free(r->inbox[k].data);
    r->ninbox = 0;
    r->paused = false;
    r->up = false;
    r->inc++;
    r->timer_gen++;
    sim_router_clear_loopbacks(r);
    sim_store_crash(&r->store);
    sim_net_reset_node(w->net, i);
    if (wipe) {
        sim_store_wipe(&r->store);
        w->res->wipes++;
    } else {
        w->res->crashes++;
    }
    if (w->amnesia) {
        size_t k = (size_t)sim_rng_range(&w->rfault, 1, 3);
        TRACE(w, "%s AMNESIA loses %zu acknowledged writes (broken store)", sim_node_name(w, i), k);
        sim_store_amnesia(&r->store, k);
    }
}

/* ---- faults ------------------------------------------------------------------------------ */

static void
sim_fault(sim_world_t *w)
{
    uint64_t now = sim_now(w);
    uint64_t ft = (uint64_t)w->fac->settings.failure_timeout_ms;
    uint64_t c = sim_rng_below(&w->rfault, 100);
    size_t i = (size_t)sim_rng_below(&w->rfault, SIM_NROUTERS);
    size_t down = sim_routers_down(w); /* crashed or stopped: one failure at a time */

    if (w->quiesce)
        return;
    if (c < 25) {
        if (w->r[i].up && (down == 0 || (w->stress && down == 1))) {
            sim_router_crash(w, i, false);
            sim_schedule(w, now + sim_rng_range(&w->rfault, 0, 3 * ft) * 1000, SIM_EV_RESTART,
                         (uint32_t)i, 0, 0, NULL, 0);
        }
    } else if (c < 30) {
        bool others = true;
        for (size_t j = 0; j < SIM_NROUTERS; j++)
            if (j != i && !sim_store_has_state(&w->r[j].store))
                others = false;
        if (!w->wiped_once && down == 0 && others) {
            w->wiped_once = true;
            sim_router_crash(w, i, true);
            sim_schedule(w, now + sim_rng_range(&w->rfault, 0, 3 * ft) * 1000, SIM_EV_RESTART,
                         (uint32_t)i, 0, 1, NULL, 0);
        }
    } else if (c < 55) {
        uint64_t mask = sim_rng_range(&w->rfault, 1, (1u << SIM_NODES) - 2);
        uint64_t dur = sim_rng_range(&w->rfault, 200, 5000);
        TRACE(w, "PARTITION mask=0x%02" PRIx64 " for %" PRIu64 " ms", mask, dur);
        sim_net_partition(w->net, mask, now + dur * 1000);
        w->res->partitions++;
    } else if (c < 70) {
        size_t a = (size_t)sim_rng_below(&w->rfault, SIM_NODES);
        size_t b = (size_t)sim_rng_below(&w->rfault, SIM_NODES);
        if (a != b) {
            TRACE(w, "RESET %s<->%s", sim_node_name(w, a), sim_node_name(w, b));
            sim_net_reset_link(w->net, a, b);
            sim_net_reset_link(w->net, b, a);
        }
    } else if (c < 82) {
        sim_req_t *q = &w->q[SIM_RQ_BE1 + sim_rng_below(&w->rfault, 2)];
        uint64_t dur = sim_rng_range(&w->rfault, 1000, 4000);
        TRACE(w, "%s PAUSE %" PRIu64 " ms", q->name, dur);
        q->paused_until = now + dur * 1000;
    } else if (c < 90) {
        /* SIGSTOP-like: the router's events wait, then arrive in order (a failure like a crash
         * for the one-at-a-time rule) */
        sim_router_t *r = &w->r[i];
        if (r->up && !r->paused && (down == 0 || (w->stress && down == 1))) {
            uint64_t dur = sim_rng_range(&w->rfault, 200, 3 * ft);
            TRACE(w, "%s STOP %" PRIu64 " ms", sim_node_name(w, i), dur);
            r->paused = true;
            sim_schedule(w, now + dur * 1000, SIM_EV_UNPAUSE, (uint32_t)i, ++r->pause_gen, 0, NULL,
                         0);
        }
    } else if (c < 96) {
        sim_req_restart(w, &w->q[SIM_RQ_BE1 + sim_rng_below(&w->rfault, 2)]);
    } else if (c < 98) {
        sim_req_t *q = &w->q[SIM_RQ_CLI];
        if (q->done && !q->busy) {
            /* an operator runs bootstrap again on a running facility (another uuid): it must
             * be refused with EXISTS, never committed */
            for (size_t k = 0; k < sizeof q->uuid; k++)
                q->uuid[k] = (uint8_t)sim_rng_next(&w->rfault);
            q->done = false;
            TRACE(w, "rtrcli BOOTSTRAP AGAIN (another uuid)");
            sim_cli_bootstrap(w, q);
        }
    } else {
        sim_cli_force(w, &w->q[SIM_RQ_CLI]);
    }
    sim_schedule(w, now + sim_rng_range(&w->rfault, w->fault_gap_lo, w->fault_gap_hi) * 1000,
                 SIM_EV_FAULT, 0, 0, 0, NULL, 0);
}

/* ---- quiesce and liveness ------------------------------------------------------------ */

static void
sim_quiesce(sim_world_t *w)
{
    TRACE(w, "QUIESCE heal, restart, no new faults");
    w->quiesce = true;
    sim_net_heal(w->net);
    for (size_t i = 0; i < SIM_NROUTERS; i++) {
        if (w->r[i].paused)
            sim_router_continue(w, i);
        if (!w->r[i].up)
            sim_router_start(w, i);
    }
    w->q[SIM_RQ_BE1].paused_until = 0;
    w->q[SIM_RQ_BE2].paused_until = 0;
}

/* sim_converged - invariant 6 holds: a READ committed through every router, and every router
 * votes and has learned the newest committed version. */
static bool
sim_converged(const sim_world_t *w)
{
    uint64_t maxv = sim_check_max_version(w->check);

    if (maxv == 0)
        return false;
    for (size_t i = 0; i < SIM_NROUTERS; i++) {
        const Rtr__RegisterValue *v;
        if (!w->probe_ok[i] || !w->r[i].up || rtd_reg_mode(w->r[i].reg) != RTD_REG_VOTING)
            return false;
        v = rtd_reg_value(w->r[i].reg);
        if (v == NULL || v->version != maxv)
            return false;
    }
    return true;
}

static void
sim_liveness_fail(sim_world_t *w)
{
    char d[512];
    size_t k = 0;

    for (size_t i = 0; i < SIM_NROUTERS && k < sizeof d; i++) {
        const sim_router_t *r = &w->r[i];
        const Rtr__RegisterValue *v = r->up ? rtd_reg_value(r->reg) : NULL;
        k += (size_t)snprintf(d + k, sizeof d - k, "%s%s: %s %s v=%" PRIu64 " read=%s",
                              i ? "; " : "", sim_node_name(w, i), r->up ? "up" : "down",
                              r->up ? rtd_reg_mode_name(rtd_reg_mode(r->reg)) : "-",
                              v ? v->version : 0, w->probe_ok[i] ? "ok" : "no");
    }
    sim_check_fail(w->check, "6-liveness",
                   "%" PRIu64 " s after the faults ended: newest committed version %" PRIu64 "; %s",
                   w->o->quiesce_ms / 1000, sim_check_max_version(w->check), d);
}

/* sim_check_durable - invariant 7: a committed value stays chosen. Every quorum that could
 * form (a majority of the routers whose durable store would vote at a restart: not empty, not a
 * learner) holds a value at least as new as the newest committed version in its stores. A
 * store losing an acknowledged write breaks this before any second value gets committed. */
static void
sim_check_durable(sim_world_t *w)
{
    uint64_t v = sim_check_max_version(w->check);
    size_t lacking = 0;
    char d[256];
    size_t k = 0;

    if (v == 0)
        return;
    for (size_t i = 0; i < SIM_NROUTERS; i++) {
        const sim_store_t *s = &w->r[i].store;
        if (s->voter && s->version < v)
            lacking++;
        if (k < sizeof d)
            k += (size_t)snprintf(d + k, sizeof d - k, "%s%s: %s v=%" PRIu64, i ? "; " : "",
                                  sim_node_name(w, i),
                                  s->durable == NULL ? "empty"
                                  : s->voter         ? "voter"
                                                     : "learner",
                                  s->version);
    }
    if (lacking >= SIM_NROUTERS / 2 + 1)
        sim_check_fail(w->check, "7-commit-durable",
                       "version %" PRIu64 " was committed, but %zu routers that would vote "
                       "(a majority) hold older values in their stores: %s",
                       v, lacking, d);
}

/* ---- the loop ---------------------------------------------------------------------------- */

/* sim_event_router - the router an event is for (SIM_NROUTERS: none). */
static size_t
sim_event_router(const sim_event_t *ev)
{
    if (ev->kind == SIM_EV_DELIVER)
        return ev->b < SIM_NROUTERS ? ev->b : SIM_NROUTERS;
    if (ev->kind == SIM_EV_PERSIST || ev->kind == SIM_EV_TIMER)
        return ev->a < SIM_NROUTERS ? ev->a : SIM_NROUTERS;
    return SIM_NROUTERS;
}

/* sim_router_hold - keep an event of a stopped router for later (takes its data). */
static void
sim_router_hold(sim_world_t *w, sim_router_t *r, sim_event_t *ev)
{
    if (r->ninbox == r->capinbox) {
        size_t cap = r->capinbox ? r->capinbox * 2 : 32;
        sim_event_t *n = realloc(r->inbox, cap * sizeof *n);
        if (n == NULL) {
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
        r->inbox = n;
        r->capinbox = cap;
    }
    r->inbox[r->ninbox++] = *ev;
    ev->data = NULL;
}

static void sim_dispatch(sim_world_t *w, sim_event_t *ev);

/* sim_router_continue - a stopped router runs again: what happened meanwhile, in order. */
static void
sim_router_continue(sim_world_t *w, size_t i)
{
    sim_router_t *r = &w->r[i];
    sim_event_t *held = r->inbox;
    size_t n = r->ninbox;

    TRACE(w, "%s CONT (%zu events held)", sim_node_name(w, i), n);
    r->paused = false;
    r->inbox = NULL;
    r->ninbox = r->capinbox = 0;
    for (size_t k = 0; k < n; k++) {
        if (!sim_check_failed(w->check))
            sim_dispatch(w, &held[k]);
        free(held[k].data);
    }
    free(held);
}

static void
sim_dispatch(sim_world_t *w, sim_event_t *ev)
{
    sim_router_t *r = ev->a < SIM_NROUTERS ? &w->r[ev->a] : NULL;
    size_t target = sim_event_router(ev);

    if (target < SIM_NROUTERS && w->r[target].paused) {
        sim_router_hold(w, &w->r[target], ev);
        return;
    }

    switch (ev->kind) {
    case SIM_EV_DELIVER:
        if (!sim_net_accept(w->net, ev))
            return;
        if (ev->b < SIM_NROUTERS) {
            if (w->r[ev->b].up)
                sim_router_deliver(w, ev->b, ev->a, ev->data, ev->len, true);
        } else {
            sim_req_deliver(w, ev->b - SIM_NROUTERS, ev->a, ev->data, ev->len);
        }
        break;
    case SIM_EV_PERSIST:
        if (r == NULL || !r->up || ev->gen != r->inc) {
            if (r != NULL)
                r->store.lost++;
            return;
        }
        sim_store_durable(&r->store, ev->data, ev->len);
        ev->data = NULL;
        TRACE(w, "%s DURABLE ticket=%" PRIu64, sim_node_name(w, ev->a), ev->x);
        rtd_reg_on_persisted(r->reg, sim_local_ms(w, ev->a), ev->x);
        sim_router_done(w, ev->a);
        break;
    case SIM_EV_TIMER:
        if (r == NULL || !r->up || ev->gen != r->timer_gen)
            return;
        TRACE(w, "%s TIMER %" PRIu64, sim_node_name(w, ev->a), ev->x);
        rtd_reg_on_timer(r->reg, sim_local_ms(w, ev->a));
        sim_router_done(w, ev->a);
        break;
    case SIM_EV_RESTART:
        if (r != NULL && !r->up)
            sim_router_start(w, ev->a);
        break;
    case SIM_EV_FAULT:
        sim_fault(w);
        break;
    case SIM_EV_TICK:
        sim_be_tick(w, &w->q[ev->a]);
        break;
    case SIM_EV_TIMEOUT:
        sim_req_timeout(w, &w->q[ev->a], ev->x);
        break;
    case SIM_EV_QUIESCE:
        sim_quiesce(w);
        break;
    case SIM_EV_PROBE:
        sim_probe_next(w);
        break;
    case SIM_EV_END:
        if (!w->done)
            sim_liveness_fail(w);
        break;
    case SIM_EV_UNPAUSE:
        if (r != NULL && r->paused && ev->gen == r->pause_gen)
            sim_router_continue(w, ev->a);
        break;
    default:
        break;
    }
}

/* A facility of three routers and the pair be1/be2; `two` adds a second shadowed partition.
 * Directories are never touched (CMN_JOURNAL_CHECK_NONE). */
static const char sim_fac_head[] =
    "facility = \"SIM\";\n"
    "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
    "routers = (\n"
    " { name = \"r1\"; clients = \"tcp://127.0.0.1:7301\"; peers = \"tcp://127.0.0.1:7311\";\n"
    "   admin = \"ipc:///tmp/rtr-sim-r1.adm\"; state = \"/tmp/rtr-sim/r1\"; },\n"
    " { name = \"r2\"; clients = \"tcp://127.0.0.1:7302\"; peers = \"tcp://127.0.0.1:7312\";\n"
    "   admin = \"ipc:///tmp/rtr-sim-r2.adm\"; state = \"/tmp/rtr-sim/r2\"; },\n"
    " { name = \"r3\"; clients = \"tcp://127.0.0.1:7303\"; peers = \"tcp://127.0.0.1:7313\";\n"
    "   admin = \"ipc:///tmp/rtr-sim-r3.adm\"; state = \"/tmp/rtr-sim/r3\"; } );\n"
    "backends = (\n"
    " { name = \"be1\"; shadow = \"tcp://127.0.0.1:7321\"; servers = "
    "\"ipc:///tmp/rtr-sim-1.srv\";\n"
    "   admin = \"ipc:///tmp/rtr-sim-1.adm\"; journal = \"/tmp/rtr-sim/be1\"; },\n"
    " { name = \"be2\"; shadow = \"tcp://127.0.0.1:7322\"; servers = "
    "\"ipc:///tmp/rtr-sim-2.srv\";\n"
    "   admin = \"ipc:///tmp/rtr-sim-2.adm\"; journal = \"/tmp/rtr-sim/be2\"; } );\n";
static const char sim_fac_one[] =
    "partitions = ( { name = \"P1\"; low = [ 0 ]; high = [ 4294967295L ]; primary = \"be1\";\n"
    "                 secondary = \"be2\"; } );\n";
static const char sim_fac_two[] =
    "partitions = ( { name = \"P1\"; low = [ 0 ]; high = [ 999 ]; primary = \"be1\";\n"
    "                 secondary = \"be2\"; },\n"
    "               { name = \"P2\"; low = [ 1000 ]; high = [ 4294967295L ]; primary = \"be1\";\n"
    "                 secondary = \"be2\"; } );\n";

/* sim_load - write the facility file to a private temporary directory and load it. */
static rtr_status_t
sim_load(const char *parts, cmn_facility_t **out)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_diag_t *diag = NULL;
    rtr_status_t st = RTR_STS_IOERR;
    FILE *f;

    snprintf(dir, sizeof dir, "%s/rtr-sim-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "rtr-sim: mkdtemp %s: %s\n", dir, strerror(errno));
        return RTR_STS_IOERR;
    }
    snprintf(path, sizeof path, "%s/facility.conf", dir);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs(sim_fac_head, f);
        fputs(parts, f);
        if (fclose(f) == 0)
            st = cmn_facility_load_ex(path, &lo, out, &diag);
    }
    if (st != RTR_STS_OK)
        fprintf(stderr, "rtr-sim: the simulated facility does not load: %s\n",
                diag && diag->error ? diag->error : rtr_error_text(st));
    cmn_diag_free(&diag);
    unlink(path);
    rmdir(dir);
    return st;
}

rtr_status_t
sim_register_facilities(cmn_facility_t **one, cmn_facility_t **two)
{
    rtr_status_t st;

    *one = *two = NULL;
    st = sim_load(sim_fac_one, one);
    if (st == RTR_STS_OK)
        st = sim_load(sim_fac_two, two);
    if (st != RTR_STS_OK)
        cmn_facility_free(one);
    return st;
}

bool
sim_broken_known(const char *rule)
{
    return rule != NULL && strcmp(rule, "amnesia") == 0;
}

static rtr_status_t
sim_world_init(sim_world_t *w, const sim_opts_t *o, sim_result_t *res)
{
    rtr_status_t st;
    uint64_t seed = o->seed;

    memset(w, 0, sizeof *w);
    w->o = o;
    w->res = res;
    sim_rng_init(&w->rfault, seed, SIM_RNG_FAULTS);
    sim_rng_init(&w->rreq, seed, SIM_RNG_REQUESTS);
    sim_rng_init(&w->rclock, seed, SIM_RNG_CLOCKS);
    sim_rng_init(&w->rcore, seed, SIM_RNG_CORES);
    sim_rng_init(&w->rstore, seed, SIM_RNG_STORE);
    w->fac = sim_rng_below(&w->rreq, 2) ? o->fac2 : o->fac1;
    w->amnesia = o->broken != NULL && strcmp(o->broken, "amnesia") == 0;
    w->cfg.register_timeout_ms = (uint64_t)w->fac->settings.register_timeout_ms;
    w->cfg.failure_timeout_ms = (uint64_t)w->fac->settings.failure_timeout_ms;
    w->cfg.lease_ms = (uint64_t)w->fac->settings.lease_ms;
    w->cfg.lease_margin_ms = (uint64_t)w->fac->settings.lease_margin_ms;
    for (size_t i = 0; i < sizeof w->uuid; i++)
        w->uuid[i] = (uint8_t)sim_rng_next(&w->rreq);
    if ((st = sim_sched_new(seed, &w->sched)) != RTR_STS_OK ||
        (st = sim_net_new(SIM_NODES, seed, w->sched, SIM_EV_DELIVER, &w->net)) != RTR_STS_OK ||
        (st = sim_trace_new(SIM_TRACE_CAP, o->live, &w->trace)) != RTR_STS_OK ||
        (st = sim_check_new(&w->check)) != RTR_STS_OK)
        return st;

    /* the seed's fault profile: 1 in 10 quiet (no faults, lossless), else lossy links and a
     * fault every 0.2..2 s; 1 in 5 faulty seeds may have two routers down at once */
    bool quiet = sim_rng_below(&w->rfault, 10) == 0;
    uint32_t loss = quiet ? 0 : (uint32_t)sim_rng_below(&w->rfault, 200001);
    w->stress = !quiet && sim_rng_below(&w->rfault, 5) == 0;
    w->fault_gap_lo = 200;
    w->fault_gap_hi = 2000;
    /* 1 in 3 seeds: backends ask for changes in bursts (contention between proposers) */
    bool busy = sim_rng_below(&w->rreq, 3) == 0;
    w->change_lo = busy ? 50 : 300;
    w->change_hi = busy ? 500 : 3000;
    for (size_t a = 0; a < SIM_NODES; a++) {
        for (size_t b = 0; b < SIM_NODES; b++) {
            if (a == b)
                continue;
            /* two draws, two statements: argument order is unspecified in C, and gcc and
             * clang evaluate it differently (the same seed must give the same run anywhere) */
            uint32_t link_loss = (uint32_t)sim_rng_below(&w->rfault, loss + 1);
            uint32_t link_dup = quiet ? 0 : (uint32_t)sim_rng_below(&w->rfault, 20001);
            sim_net_set_link(w->net, a, b, link_loss, link_dup);
        }
    }
    for (size_t i = 0; i < SIM_NROUTERS; i++) {
        w->r[i].inc = 1;
        w->r[i].rate_ppm = (int64_t)sim_rng_range(&w->rclock, 0, 40000) - 20000;
        w->r[i].off_ms = sim_rng_range(&w->rclock, 1000, 100000000);
    }
    for (size_t k = 0; k < SIM_NREQ; k++) {
        sim_req_t *q = &w->q[k];
        q->name = sim_req_names[k];
        q->node = SIM_NROUTERS + k;
        q->sock = k == SIM_RQ_BE1 || k == SIM_RQ_BE2 ? RTD_SOCK_PEERS : RTD_SOCK_ADMIN;
        q->role = q->sock == RTD_SOCK_PEERS ? RTR__ROLE__ROLE_BACKEND : RTR__ROLE__ROLE_ADMIN;
        q->inc = 0x1000 + k;
        if (q->sock == RTD_SOCK_PEERS)
            q->req_id = (q->inc & 0xffffffffull) << 32; /* as bkd_core numbers them */
        q->router = (size_t)sim_rng_below(&w->rreq, SIM_NROUTERS);
    }
    memcpy(w->q[SIM_RQ_CLI].uuid, w->uuid, sizeof w->uuid);
    TRACE(w, "SEED %" PRIu64 " partitions=%zu loss<=%u ppm %s%s%s", seed, w->fac->npartitions, loss,
          quiet ? "quiet" : "faults", w->stress ? " stress" : "",
          w->amnesia ? " BROKEN=amnesia" : "");
    return RTR_STS_OK;
}

static void
sim_world_free(sim_world_t *w)
{
    for (size_t i = 0; i < SIM_NROUTERS; i++) {
        rtd_reg_free(&w->r[i].reg);
        sim_router_clear_loopbacks(&w->r[i]);
        for (size_t k = 0; k < w->r[i].ninbox; k++)
            free(w->r[i].inbox[k].data);
        free(w->r[i].inbox);
        free(w->r[i].lb);
        free(w->r[i].lblen);
        sim_store_clear(&w->r[i].store);
    }
    for (size_t k = 0; k < SIM_NREQ; k++)
        wire_free((ProtobufCMessage **)&w->q[k].cur);
    sim_check_free(&w->check);
    sim_trace_free(&w->trace);
    sim_net_free(&w->net);
    sim_sched_free(&w->sched);
}

rtr_status_t
sim_register_run(const sim_opts_t *o, sim_result_t *res, FILE *report)
{
    sim_world_t *w = calloc(1, sizeof *w);
    rtr_status_t st;
    sim_event_t ev;

    memset(res, 0, sizeof *res);
    if (w == NULL)
        return RTR_STS_NOMEM;
    if (o->fac1 == NULL || o->fac2 == NULL) {
        free(w);
        return RTR_STS_INVARG;
    }
    st = sim_world_init(w, o, res);
    if (st != RTR_STS_OK)
        goto out;

    uint64_t fault_end = o->fault_ms * 1000;
    for (size_t i = 0; i < SIM_NROUTERS; i++)
        sim_router_start(w, i);
    sim_schedule(w, sim_rng_range(&w->rreq, 0, 50000), SIM_EV_TIMEOUT, SIM_RQ_CLI, 0, 0, NULL, 0);
    w->q[SIM_RQ_CLI].busy = true; /* its first "timeout" sends the first bootstrap */
    w->q[SIM_RQ_CLI].kind = RTR__REG_KIND__REG_BOOTSTRAP;
    w->q[SIM_RQ_CLI].router = (w->q[SIM_RQ_CLI].router + SIM_NROUTERS - 1) % SIM_NROUTERS;
    sim_schedule(w, sim_rng_range(&w->rreq, 0, 250000), SIM_EV_TICK, SIM_RQ_BE1, 0, 0, NULL, 0);
    sim_schedule(w, sim_rng_range(&w->rreq, 0, 250000), SIM_EV_TICK, SIM_RQ_BE2, 0, 0, NULL, 0);
    sim_schedule(w, sim_rng_range(&w->rfault, 100000, 2000000), SIM_EV_FAULT, 0, 0, 0, NULL, 0);
    sim_schedule(w, fault_end, SIM_EV_QUIESCE, 0, 0, 0, NULL, 0);
    sim_schedule(w, fault_end + 500000, SIM_EV_PROBE, 0, 0, 0, NULL, 0);
    sim_schedule(w, fault_end + o->quiesce_ms * 1000, SIM_EV_END, 0, 0, 0, NULL, 0);

    while (!w->done && !sim_check_failed(w->check) && sim_sched_pop(w->sched, &ev)) {
        res->events++;
        sim_dispatch(w, &ev);
        free(ev.data);
        if (!sim_check_failed(w->check) && !o->skip_durable_check)
            sim_check_durable(w);
        if (w->quiesce && !sim_check_failed(w->check) && sim_converged(w)) {
            TRACE(w, "CONVERGED version %" PRIu64, sim_check_max_version(w->check));
            w->done = true;
        }
        if (res->events > SIM_MAX_EVENTS)
            sim_check_fail(w->check, "runaway", "more than %u events", SIM_MAX_EVENTS);
    }
    if (!w->done && !sim_check_failed(w->check))
        sim_liveness_fail(w);

    res->failed = sim_check_failed(w->check);
    snprintf(res->invariant, sizeof res->invariant, "%s", sim_check_invariant(w->check));
    snprintf(res->detail, sizeof res->detail, "%s", sim_check_detail(w->check));
    res->trace_lines = sim_trace_count(w->trace);
    res->trace_hash = sim_trace_hash(w->trace);
    res->max_version = sim_check_max_version(w->check);
    sim_check_kinds(w->check, res->kinds);
    res->end_us = sim_now(w);
    if (res->failed && report != NULL) {
        uint64_t n = res->trace_lines;
        fprintf(report, "--- trace: last %" PRIu64 " of %" PRIu64 " events ---\n",
                n < SIM_TRACE_CAP ? n : SIM_TRACE_CAP, n);
        sim_trace_dump(w->trace, report);
        fprintf(report, "--- end of trace ---\n");
    }
out:
    sim_world_free(w);
    free(w);
    return st;
}
