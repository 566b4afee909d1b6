/*
 * sim_pair.c - the pair world of milestone M4 (docs/shadow-protocol.md §8): three routers with
 * real rtd_reg cores behind acceptor store models, two backends with real bkd cores (core,
 * pipe, shadow, role, catch-up) behind journal models, a bank server model beside each backend
 * and client models beside the routers, on the simulated net; the faults; quiesce; the loop.
 * The journal model is in sim_pair_jrn.c, the server and client models in sim_pair_model.c,
 * the invariants in sim_pair_check.c.
 *
 * What the daemons' shells do is done here, reduced to its contract: a backend's shell sends
 * a Heartbeat to its partner and a BackendHello to every router every heartbeat_ms, tells the
 * core a partner is up at its first frame (or the first of a new incarnation) and lost after
 * failure_timeout_ms of silence, a router lost when a frame of a new router incarnation comes
 * or failure_timeout_ms after the router died; it calls bkd_core_clock before and
 * bkd_core_flush after every event (one poll round per event). A router's shell loops its own
 * register messages back after the action list, sends RegLearn to both backends and a
 * Heartbeat with its register version every heartbeat_ms (bkd_core_register_version), keeps the
 * partition's route from the BackendHellos (the newest epoch wins), and relays TxOutcome and
 * TxQueryReply to the client that sits beside it.
 *
 * The journal model (sp_jrn_t, sim_pair_jrn.c): actions apply at once to what reads see and
 * harden at a group commit 0.2..3 ms later; a crash keeps the hardened state plus a random
 * prefix of what was queued.
 *
 * Clocks: every node's monotonic clock runs at 1 ± up to 2 % (seeded) from its own offset.
 * A SIGSTOP-like pause holds every event of a backend (frames, timers, its journal's and its
 * server's completions) and hands them over in order at SIGCONT, with the clock moved on.
 *
 * Design note: as in the register world every check looks at what crosses a boundary (frames,
 * actions, journal contents, server databases), never inside a core.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_pair_impl.h"

const char *const sp_names[SP_NODES] = { "r1", "r2", "r3", "be1", "be2" };

static const uint8_t sp_low[4] = { 0, 0, 0, 0 };
static const uint8_t sp_high[4] = { 0xff, 0xff, 0xff, 0xff };

/* ---- small helpers ----------------------------------------------------------------------- */

void
sp_schedule(sp_world_t *w, uint64_t at, int kind, uint32_t a, uint64_t gen, uint64_t x,
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

void
sp_send(sp_world_t *w, size_t from, size_t to, const Rtr__Envelope *env)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    if (wire_encode(&env->base, 0, &buf, &len) != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s>%s: encode failed", sp_names[from], sp_names[to]);
        return;
    }
    if (sim_net_send(w->net, from, to, buf, len, false) != RTR_STS_OK)
        sim_check_fail(w->check, "sim", "out of memory");
    free(buf);
}

static uint64_t
sp_local(int64_t rate_ppm, uint64_t off_ms, uint64_t now_us)
{
    uint64_t d = (uint64_t)(1000000 + rate_ppm);
    return off_ms + (now_us * d) / 1000000000u;
}

/* sp_true_us - the first true time at which a clock (rate, offset) shows at_ms. */
static uint64_t
sp_true(const sp_world_t *w, int64_t rate_ppm, uint64_t off_ms, uint64_t at_ms)
{
    uint64_t d = (uint64_t)(1000000 + rate_ppm);
    if (at_ms <= off_ms)
        return sp_now(w);
    return ((at_ms - off_ms) * 1000000000u + d - 1) / d;
}

uint64_t
sp_be_local_ms(const sp_world_t *w, size_t b)
{
    return sp_local(w->b[b].rate_ppm, w->b[b].off_ms, sp_now(w));
}

static uint64_t
sp_r_local_ms(const sp_world_t *w, size_t i)
{
    return sp_local(w->r[i].rate_ppm, w->r[i].off_ms, sp_now(w));
}

static void
sp_info_fn(void *arg, const bkd_part_info_t *pi)
{
    *(bkd_part_info_t *)arg = *pi; /* its state and reason texts live as long as the core */
}

bkd_part_info_t
sp_info(const sp_world_t *w, size_t b)
{
    bkd_part_info_t out;

    memset(&out, 0, sizeof out);
    bkd_core_each_part(w->b[b].c, sp_info_fn, &out);
    return out;
}

size_t
sp_tx_index(const sp_world_t *w, const uint8_t *tid)
{
    cmn_tid_t t;

    cmn_tid_unpack(tid, &t);
    for (size_t k = 0; k < SP_NCLI; k++)
        if (w->cli[k].inc == t.incarnation && t.counter >= 1 && t.counter <= SP_TXMAX)
            return k * SP_TXMAX + (size_t)(t.counter - 1);
    return SIZE_MAX;
}

void
sp_tid(const sp_world_t *w, size_t idx, uint8_t out[16])
{
    cmn_tid_t t = { w->cli[idx / SP_TXMAX].inc, (uint64_t)(idx % SP_TXMAX) + 1 };
    cmn_tid_pack(&t, out);
}

/* sp_desc - a short text of an envelope for the trace. */
static char *
sp_desc(char *buf, size_t n, const Rtr__Envelope *env)
{
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_RECORDS: {
        const Rtr__RecordBatch *m = env->records;
        snprintf(buf, n,
                 "RecordBatch{e=%" PRIu64 " n=%zu first=%" PRIu64 " applied=%" PRIu64
                 " pri_hardened=%" PRIu64 " mitt=%" PRIu64 "%s%s}",
                 m->epoch, m->n_records, m->n_records ? m->records[0]->n : 0, m->applied_upto,
                 m->primary_hardened, m->mitt,
                 m->has_stream && m->stream == RTR__STREAM__STREAM_BACKFILL ? " backfill" : "",
                 m->backfill_done ? " done" : "");
        break;
    }
    case RTR__ENVELOPE__BODY_SHADOW_ACK:
        snprintf(buf, n,
                 "ShadowAck{e=%" PRIu64 " hardened=%" PRIu64 " live=%" PRIu64 " applied=%" PRIu64
                 " nack=%" PRIu64 "}",
                 env->shadow_ack->epoch, env->shadow_ack->hardened_upto, env->shadow_ack->live_upto,
                 env->shadow_ack->applied_upto, env->shadow_ack->nack_from);
        break;
    case RTR__ENVELOPE__BODY_TX_OUTCOME:
        snprintf(buf, n, "TxOutcome{%s csn=%" PRIu64 " st=%u}",
                 env->tx_outcome->accepted ? "accepted" : "rejected", env->tx_outcome->csn,
                 env->tx_outcome->status);
        break;
    case RTR__ENVELOPE__BODY_HEARTBEAT:
        snprintf(buf, n, "Heartbeat");
        break;
    case RTR__ENVELOPE__BODY_BACKEND_HELLO:
        snprintf(buf, n, "BackendHello{%zu}", env->backend_hello->n_partitions);
        break;
    case RTR__ENVELOPE__BODY_TX_MSG:
        snprintf(buf, n, "TxMsg");
        break;
    case RTR__ENVELOPE__BODY_VOTE_REQUEST:
        snprintf(buf, n, "VoteRequest");
        break;
    default:
        return sim_trace_env(buf, n, env);
    }
    return buf;
}

/* ---- backends ---------------------------------------------------------------------------- */

static size_t
sp_router_index(const char *name)
{
    for (size_t i = 0; i < SP_NR; i++)
        if (strcmp(sp_names[i], name) == 0)
            return i;
    return SP_NR;
}

static void
sp_be_send(sp_world_t *w, size_t b, bkd_action_t *a)
{
    size_t node = SP_NR + b;

    if (a->sock == BKD_SOCK_SERVERS) {
        if (a->env == NULL)
            return;
        /* a primary's ServerOutcome{accepted} is its decision (a msg1_uncertain replay's or a
         * re-execution's too, which tell the client nothing) */
        if (a->env->body_case == RTR__ENVELOPE__BODY_SERVER_OUTCOME &&
            a->env->server_outcome->accepted && a->env->server_outcome->tid.len == 16 &&
            sp_info(w, b).role == BKD_ROLE_PRIMARY) {
            size_t idx = sp_tx_index(w, a->env->server_outcome->tid.data);
            if (idx != SIZE_MAX && w->b[b].n_of[idx] != 0)
                sp_check_decision(w, b, a->env->server_outcome->tid.data, w->b[b].n_of[idx]);
        }
        sp_srv_from_backend(w, b, a->env);
        return;
    }
    if (a->sock == BKD_SOCK_SHADOW) {
        size_t to = SP_NR + (1 - b);
        if (strcmp(a->to, sp_names[to]) != 0) {
            sim_check_fail(w->check, "contract", "%s sends a shadow frame to %s", sp_names[node],
                           a->to);
            return;
        }
        if (a->frame != NULL) {
            if (sim_net_send(w->net, node, to, a->frame, a->framelen, false) != RTR_STS_OK)
                sim_check_fail(w->check, "sim", "out of memory");
        } else if (a->env != NULL) {
            sp_send(w, node, to, a->env);
        }
        return;
    }
    size_t r = sp_router_index(a->to);
    if (r == SP_NR || a->env == NULL) {
        sim_check_fail(w->check, "contract", "%s sends to router \"%s\"", sp_names[node], a->to);
        return;
    }
    if (a->env->body_case == RTR__ENVELOPE__BODY_TX_OUTCOME && a->env->tx_outcome->accepted)
        sp_check_decision(w, b, a->env->tx_outcome->tid.data, a->env->tx_outcome->csn);
    if (a->env->body_case == RTR__ENVELOPE__BODY_LEASE_REQUEST)
        sp_lease_sent(w, b, a->env->lease_request);
    sp_send(w, node, r, a->env);
}

/* sp_be_drain - execute backend b's queued actions. */
static void
sp_be_drain(sp_world_t *w, size_t b)
{
    sp_be_t *be = &w->b[b];
    bkd_action_t a;

    while (be->c != NULL && bkd_core_next_action(be->c, &a)) {
        if (!sim_check_failed(w->check)) {
            switch (a.kind) {
            case BKD_ACT_SEND:
                sp_be_send(w, b, &a);
                break;
            case BKD_ACT_JOURNAL_APPEND:
            case BKD_ACT_JOURNAL_SET_STATE:
            case BKD_ACT_JOURNAL_META:
            case BKD_ACT_JOURNAL_TRUNCATE:
                if (a.kind == BKD_ACT_JOURNAL_TRUNCATE)
                    SP_TRACE(w, "%s TRUNCATE above %" PRIu64, sp_names[SP_NR + b], a.n);
                sp_jrn_submit(w, b, &a);
                break;
            case BKD_ACT_JOURNAL_READ:
                sp_jrn_read(w, b, &a);
                break;
            case BKD_ACT_ARM_TIMER:
                be->timer_gen++;
                sp_schedule(w, sp_true(w, be->rate_ppm, be->off_ms, a.deadline_ms), SP_EV_B_TIMER,
                            (uint32_t)b, be->timer_gen, 0, NULL, 0);
                break;
            default:
                break;
            }
        }
        bkd_action_clear(&a);
    }
}

/* sp_be_round - the end of a poll round: actions, flush, actions. */
static void
sp_be_round(sp_world_t *w, size_t b)
{
    sp_be_drain(w, b);
    if (w->b[b].c != NULL) {
        bkd_core_flush(w->b[b].c);
        sp_be_drain(w, b);
    }
}

/* sp_be_first_meta - a journal without an epoch: the daemon (bkd_main.c, bkd_epoch) stores
 * epoch 1 and, with no history yet, the history {epoch 1 from n 1}, and waits for it to harden
 * before the core starts. */
static void
sp_be_first_meta(sp_world_t *w, size_t b)
{
    sp_jrn_t *j = &w->b[b].j;
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT;
    Rtr__EpochStart es = RTR__EPOCH_START__INIT;
    Rtr__EpochStart *hist[1] = { &es };
    const Rtr__JournalMeta *old = j->hard.meta;

    if (old != NULL) {
        m = *old;
    } else {
        m.partition = (char *)(uintptr_t)w->fac->partitions[0].name;
        m.id = 1;
    }
    m.has_epoch = true;
    m.epoch = 1;
    if (m.n_history == 0) {
        es.epoch = 1;
        es.first_n = 1;
        m.history = hist;
        m.n_history = 1;
    }
    Rtr__JournalMeta *hard = sp_meta_dup(w, &m);
    Rtr__JournalMeta *cur = sp_meta_dup(w, &m);
    wire_free((ProtobufCMessage **)&j->hard.meta);
    wire_free((ProtobufCMessage **)&j->cur.meta);
    j->hard.meta = hard;
    j->cur.meta = cur;
}

static void
sp_be_start(sp_world_t *w, size_t b)
{
    sp_be_t *be = &w->b[b];
    sp_jstate_t *h = &be->j.hard;
    bkd_part_cfg_t part;
    bkd_core_cfg_t cfg;
    const char *routers[SP_NR] = { sp_names[0], sp_names[1], sp_names[2] };
    rtr_status_t st;

    memset(&part, 0, sizeof part);
    memset(&cfg, 0, sizeof cfg);
    if (h->meta == NULL || !h->meta->has_epoch || h->meta->epoch == 0)
        sp_be_first_meta(w, b); /* what bkd_main's bkd_epoch writes before the core starts */
    part.name = w->fac->partitions[0].name;
    part.low = sp_low;
    part.high = sp_high;
    part.concurrent = true;
    part.epoch = h->meta != NULL && h->meta->epoch != 0 ? h->meta->epoch : 1;
    part.last_n = h->top;
    part.meta = h->meta;
    part.role = b == 0 ? BKD_ROLE_PRIMARY : BKD_ROLE_MEMBER;
    part.partner = sp_names[SP_NR + 1 - b];
    be->life++;
    be->incarnation = ((uint64_t)(b + 1) << 20) + be->life;
    cfg.node = sp_names[SP_NR + b];
    cfg.incarnation = be->incarnation;
    cfg.keylen = 4;
    cfg.nparts = 1;
    cfg.parts = &part;
    cfg.resend_ms = 100;
    cfg.replay_limit = 1000;
    cfg.nrouters = SP_NR;
    cfg.routers = routers;
    cfg.heartbeat_ms = SP_HB;
    cfg.failure_timeout_ms = SP_FT;
    cfg.register_timeout_ms = 300;
    cfg.shadow_window_bytes = w->res->small_window ? 3000 : 0;
    cfg.catchup_window_bytes = 4000;
#ifdef RTR_SIM
    cfg.test_broken_commit_rule = w->broken;
#endif
    st = bkd_core_new(&cfg, &be->c);
    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "setup", "%s: bkd_core_new: %s", cfg.node, rtr_status_name(st));
        return;
    }
    SP_TRACE(w, "%s START inc=%" PRIx64 " records=%" PRIu64 " epoch-history=%zu", cfg.node,
             be->incarnation, h->top, h->meta ? h->meta->n_history : 0);
    bkd_core_clock(be->c, sp_be_local_ms(w, b), 1000000 + sp_now(w) / 1000);
    for (uint64_t n = 1; n <= h->top; n++)
        if (h->rec[n] != NULL && (st = bkd_core_load_record(be->c, 0, h->rec[n])) != RTR_STS_OK) {
            sim_check_fail(w->check, "setup", "%s: load_record n=%" PRIu64 ": %s", cfg.node, n,
                           rtr_status_name(st));
            return;
        }
    be->up = true;
    be->paused = false;
    be->partner_up = false;
    be->partner_inc = 0;
    for (size_t i = 0; i < SP_NR; i++)
        be->router_up[i] = false;
    be->nlease = 0;
    memset(be->lease_epoch, 0, sizeof be->lease_epoch);
    memset(be->lease_until, 0, sizeof be->lease_until);
    bkd_core_timer(be->c, sp_be_local_ms(w, b), 1000000 + sp_now(w) / 1000);
    sp_be_round(w, b);
    sp_srv_attach(w, b);
    sp_schedule(w, sp_now(w) + sim_rng_range(&w->rcore, 0, SP_HB * 1000), SP_EV_B_HB, (uint32_t)b,
                be->life, 0, NULL, 0);
}

static void
sp_be_crash(sp_world_t *w, size_t b)
{
    sp_be_t *be = &w->b[b];

    SP_TRACE(w, "%s CRASH", sp_names[SP_NR + b]);
    bkd_core_free(&be->c);
    for (size_t k = 0; k < be->ninbox; k++)
        free(be->inbox[k].data);
    be->ninbox = 0;
    be->up = false;
    be->paused = false;
    be->timer_gen++;
    sp_jrn_crash(w, b);
    sim_net_reset_node(w->net, SP_NR + b);
    /* the server process loses its connection: what it held is rolled back */
    memset(be->srv.ch, 0, sizeof be->srv.ch);
    w->bcrash++;
    sp_check_accepted_all(w);
}

static void
sp_be_heartbeat(sp_world_t *w, size_t b)
{
    sp_be_t *be = &w->b[b];
    size_t node = SP_NR + b;
    Rtr__Envelope env;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    Rtr__BackendHello hello = RTR__BACKEND_HELLO__INIT;
    char *names[1] = { (char *)(uintptr_t)w->fac->partitions[0].name };
    uint64_t epochs[1] = { 0 };
    uint64_t now = sp_be_local_ms(w, b);

    if (bkd_core_claim(be->c, 0, &epochs[0])) {
        hello.n_partitions = 1;
        hello.partitions = names;
        hello.n_epochs = 1;
        hello.epochs = epochs;
    }
    hello.has_servers = true;
    hello.servers = bkd_core_server_count(be->c);
    for (size_t i = 0; i < SP_NR; i++) {
        wire_envelope_init(&env, sp_names[node], 0, be->incarnation, RTR__ROLE__ROLE_BACKEND);
        env.body_case = RTR__ENVELOPE__BODY_BACKEND_HELLO;
        env.backend_hello = &hello;
        sp_send(w, node, i, &env);
    }
    hb.seq = now;
    wire_envelope_init(&env, sp_names[node], 0, be->incarnation, RTR__ROLE__ROLE_BACKEND);
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    sp_send(w, node, SP_NR + 1 - b, &env);
    if (be->partner_up && now > be->partner_seen_ms + SP_FT) {
        SP_TRACE(w, "%s PARTNER-LOST (silent)", sp_names[node]);
        be->partner_up = false;
        bkd_core_partner_lost(be->c, sp_names[SP_NR + 1 - b]);
    }
    sp_schedule(w, sp_true(w, be->rate_ppm, be->off_ms, now + SP_HB), SP_EV_B_HB, (uint32_t)b,
                be->life, 0, NULL, 0);
}

static void
sp_be_from_partner(sp_world_t *w, size_t b, const Rtr__Envelope *env)
{
    sp_be_t *be = &w->b[b];
    uint64_t inc = env->has_incarnation ? env->incarnation : 0;

    if (env->role != RTR__ROLE__ROLE_BACKEND)
        return;
    if (!be->partner_up || be->partner_inc != inc) {
        be->partner_up = true;
        be->partner_inc = inc;
        bkd_core_partner_up(be->c, sp_names[SP_NR + 1 - b], inc);
    }
    be->partner_seen_ms = sp_be_local_ms(w, b);
    if (env->body_case != RTR__ENVELOPE__BODY_HEARTBEAT)
        (void)bkd_core_shadow_msg(be->c, sp_names[SP_NR + 1 - b], env);
}

static void
sp_be_from_router(sp_world_t *w, size_t b, size_t r, const Rtr__Envelope *env)
{
    sp_be_t *be = &w->b[b];
    uint64_t inc = env->has_incarnation ? env->incarnation : 0;

    if (be->router_up[r] && be->router_inc[r] != inc)
        bkd_core_router_lost(be->c, sp_names[r]);
    if (!be->router_up[r] || be->router_inc[r] != inc)
        bkd_core_router_up(be->c, sp_names[r]);
    be->router_up[r] = true;
    be->router_inc[r] = inc;
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_HEARTBEAT:
        /* the register's version: a backend that missed a RegLearn READs the value */
        if (env->heartbeat->has_register_version)
            bkd_core_register_version(be->c, env->heartbeat->register_version);
        break;
    case RTR__ENVELOPE__BODY_LEASE_GRANT:
        if (env->lease_grant->granted)
            sp_lease_granted(w, b, r, env->lease_grant);
        __attribute__((fallthrough));
    case RTR__ENVELOPE__BODY_REG_CHANGE_REPLY:
    case RTR__ENVELOPE__BODY_REG_LEARN:
        (void)bkd_core_register_msg(be->c, sp_names[r], env);
        break;
    default:
        (void)bkd_core_router_msg(be->c, sp_names[r], env);
        break;
    }
}

/* sp_be_deliver - a frame for backend b from node `from`. */
static void
sp_be_deliver(sp_world_t *w, size_t b, size_t from, const uint8_t *buf, size_t len)
{
    Rtr__Envelope *env = NULL;
    char d[200];
    rtr_status_t st = wire_envelope_decode(buf, len, 0, NULL, &env);

    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s>%s: a frame the strict decoder refuses: %s",
                       sp_names[from], sp_names[SP_NR + b], rtr_status_name(st));
        return;
    }
    if (env->body_case != RTR__ENVELOPE__BODY_HEARTBEAT)
        SP_TRACE(w, "%s>%s %s", sp_names[from], sp_names[SP_NR + b], sp_desc(d, sizeof d, env));
    if (from >= SP_NR)
        sp_be_from_partner(w, b, env);
    else if (env->role == RTR__ROLE__ROLE_ROUTER)
        sp_be_from_router(w, b, from, env);
    wire_free((ProtobufCMessage **)&env);
}

/* ---- routers ----------------------------------------------------------------------------- */

static void
sp_r_value(sp_world_t *w, size_t i, const Rtr__RegisterValue *v)
{
    sim_check_committed(w->check, sp_names[i], v);
    if (w->newest == NULL || v->version > w->newest->version) {
        char d[200];
        Rtr__RegisterValue *c = rtd_reg_value_dup(v);
        if (c == NULL) {
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
        rtd_reg_value_free(&w->newest);
        w->newest = c;
        w->booted = true;
        Rtr__RegLearn l = RTR__REG_LEARN__INIT;
        Rtr__Envelope env = RTR__ENVELOPE__INIT;
        l.value = c;
        env.body_case = RTR__ENVELOPE__BODY_REG_LEARN;
        env.reg_learn = &l;
        SP_TRACE(w, "COMMITTED %s", sim_trace_env(d, sizeof d, &env));
        sp_check_value(w, c);
    }
}

static void
sp_r_loopback(sp_world_t *w, size_t i, const Rtr__Envelope *env)
{
    sp_router_t *r = &w->r[i];
    uint8_t *buf = NULL;
    size_t len = 0;

    if (wire_encode(&env->base, 0, &buf, &len) != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s: loopback encode failed", sp_names[i]);
        return;
    }
    if (r->nlb == r->caplb) {
        size_t cap = r->caplb ? r->caplb * 2 : 8;
        uint8_t **lb = realloc(r->lb, cap * sizeof *lb);
        if (lb != NULL)
            r->lb = lb;
        size_t *ll = lb ? realloc(r->lblen, cap * sizeof *ll) : NULL;
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

static void
sp_r_exec(sp_world_t *w, size_t i)
{
    sp_router_t *r = &w->r[i];
    size_t n = 0;
    rtd_reg_action_t *a = rtd_reg_actions(r->reg, &n);

    for (size_t k = 0; k < n && !sim_check_failed(w->check); k++) {
        switch (a[k].kind) {
        case RTD_REG_SEND_ROUTER:
            if (a[k].router == i)
                sp_r_loopback(w, i, a[k].env);
            else if (a[k].router < SP_NR)
                sp_send(w, i, a[k].router, a[k].env);
            break;
        case RTD_REG_SEND_PEER: {
            const Rtr__Envelope *env = a[k].env;
            if (env->body_case == RTR__ENVELOPE__BODY_REG_CHANGE_REPLY &&
                env->reg_change_reply->value != NULL &&
                (env->reg_change_reply->status == RTR_STS_OK ||
                 env->reg_change_reply->status == RTR_STS_EXISTS))
                sp_r_value(w, i, env->reg_change_reply->value);
            for (size_t b = 0; b < SP_NB; b++)
                if (a[k].to.len == 3 && memcmp(a[k].to.bytes, sp_names[SP_NR + b], 3) == 0)
                    sp_send(w, i, SP_NR + b, env);
            break; /* rtrcli's replies: it reads the register through the values seen */
        }
        case RTD_REG_PERSIST: {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (a[k].state == NULL || wire_encode(&a[k].state->base, 0, &buf, &len) != RTR_STS_OK) {
                sim_check_fail(w->check, "wire", "%s: PERSIST without a state", sp_names[i]);
                break;
            }
            if (a[k].ticket <= r->last_ticket)
                sim_check_fail(w->check, "ticket-order",
                               "%s: PERSIST ticket %" PRIu64 " after %" PRIu64, sp_names[i],
                               a[k].ticket, r->last_ticket);
            r->last_ticket = a[k].ticket;
            uint64_t due =
                sim_store_due(&r->store, sp_now(w), sim_rng_range(&w->rstore, 200, 3000));
            sp_schedule(w, due, SP_EV_R_PERSIST, (uint32_t)i, r->inc, a[k].ticket, buf, len);
            break;
        }
        case RTD_REG_LEARNED: {
            Rtr__Envelope env;
            Rtr__RegLearn l = RTR__REG_LEARN__INIT;
            sp_r_value(w, i, a[k].value);
            l.value = (Rtr__RegisterValue *)(uintptr_t)a[k].value;
            wire_envelope_init(&env, sp_names[i], 0, r->inc, RTR__ROLE__ROLE_ROUTER);
            env.body_case = RTR__ENVELOPE__BODY_REG_LEARN;
            env.reg_learn = &l;
            for (size_t b = 0; b < SP_NB; b++)
                sp_send(w, i, SP_NR + b, &env);
            break;
        }
        case RTD_REG_ARM_TIMER:
            r->timer_gen++;
            if (a[k].at_ms != 0)
                sp_schedule(w, sp_true(w, r->rate_ppm, r->off_ms, a[k].at_ms), SP_EV_R_TIMER,
                            (uint32_t)i, r->timer_gen, 0, NULL, 0);
            break;
        default:
            break;
        }
    }
}

static void sp_r_deliver(sp_world_t *w, size_t i, size_t from, const uint8_t *buf, size_t len,
                         bool drain);

static void
sp_r_done(sp_world_t *w, size_t i)
{
    sp_router_t *r = &w->r[i];

    sp_r_exec(w, i);
    while (r->up && r->nlb > 0 && !sim_check_failed(w->check)) {
        uint8_t *buf = r->lb[0];
        size_t len = r->lblen[0];
        memmove(r->lb, r->lb + 1, (r->nlb - 1) * sizeof *r->lb);
        memmove(r->lblen, r->lblen + 1, (r->nlb - 1) * sizeof *r->lblen);
        r->nlb--;
        sp_r_deliver(w, i, i, buf, len, false);
        free(buf);
    }
}

/* sp_r_from_backend - the router shell: register requests to the core, hellos to the route,
 * outcomes to the client beside it. */
static void
sp_r_from_backend(sp_world_t *w, size_t i, size_t b, const Rtr__Envelope *env)
{
    sp_router_t *r = &w->r[i];
    rtd_id_t id;

    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_REG_CHANGE:
    case RTR__ENVELOPE__BODY_LEASE_REQUEST:
        memset(&id, 0, sizeof id);
        id.len = 3;
        memcpy(id.bytes, sp_names[SP_NR + b], 3);
        (void)rtd_reg_on_request(r->reg, sp_r_local_ms(w, i), RTD_SOCK_PEERS, &id,
                                 sp_names[SP_NR + b], env);
        sp_r_done(w, i);
        break;
    case RTR__ENVELOPE__BODY_BACKEND_HELLO: {
        const Rtr__BackendHello *h = env->backend_hello;
        if (h->n_partitions > 0 && h->n_epochs > 0) {
            if (r->route != (int)b && h->epochs[0] >= r->route_epoch) {
                SP_TRACE(w, "%s ROUTE %s e=%" PRIu64, sp_names[i], sp_names[SP_NR + b],
                         h->epochs[0]);
                r->route = (int)b;
            }
            if (r->route == (int)b)
                r->route_epoch = h->epochs[0];
        } else if (r->route == (int)b) {
            SP_TRACE(w, "%s ROUTE none (%s withdrew)", sp_names[i], sp_names[SP_NR + b]);
            r->route = -1;
        }
        break;
    }
    case RTR__ENVELOPE__BODY_TX_OUTCOME:
        sp_cli_outcome(w, i, b, env->tx_outcome);
        break;
    case RTR__ENVELOPE__BODY_TX_NACK:
        sp_cli_nack(w, i, b, env->tx_nack);
        break;
    case RTR__ENVELOPE__BODY_TX_QUERY_REPLY:
        /* state 0: not decided here (or unknown): nothing to tell the client */
        if (env->tx_query_reply->outcome != NULL &&
            (env->tx_query_reply->outcome->accepted || env->tx_query_reply->state != 0))
            sp_cli_outcome(w, i, b, env->tx_query_reply->outcome);
        break;
    default:
        break;
    }
}

static void
sp_r_deliver(sp_world_t *w, size_t i, size_t from, const uint8_t *buf, size_t len, bool drain)
{
    sp_router_t *r = &w->r[i];
    Rtr__Envelope *env = NULL;
    char d[200];
    rtr_status_t st = wire_envelope_decode(buf, len, 0, NULL, &env);

    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s>%s: a frame the strict decoder refuses: %s",
                       sp_names[from], sp_names[i], rtr_status_name(st));
        return;
    }
    if (env->body_case != RTR__ENVELOPE__BODY_BACKEND_HELLO)
        SP_TRACE(w, "%s>%s %s", sp_names[from], sp_names[i], sp_desc(d, sizeof d, env));
    if (from < SP_NR) {
        if (rtd_reg_on_router(r->reg, sp_r_local_ms(w, i), from, env) == RTR_STS_OK) {
            if (drain)
                sp_r_done(w, i);
            else
                sp_r_exec(w, i);
        }
    } else {
        sp_r_from_backend(w, i, from - SP_NR, env);
    }
    wire_free((ProtobufCMessage **)&env);
}

/* sp_r_heartbeat - the router shell's heartbeat to the backends (rtd_net.c): its incarnation
 * and the version of the newest register value it knows; re-armed on its own clock. */
static void
sp_r_heartbeat(sp_world_t *w, size_t i)
{
    sp_router_t *r = &w->r[i];
    Rtr__Envelope env;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    const Rtr__RegisterValue *v = rtd_reg_value(r->reg);
    uint64_t now = sp_r_local_ms(w, i);

    wire_envelope_init(&env, sp_names[i], 0, r->inc, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    hb.seq = now;
    if (v != NULL) {
        hb.has_register_version = true;
        hb.register_version = v->version;
    }
    for (size_t b = 0; b < SP_NB; b++)
        sp_send(w, i, SP_NR + b, &env);
    sp_schedule(w, sp_true(w, r->rate_ppm, r->off_ms, now + SP_HB), SP_EV_R_HB, (uint32_t)i, r->inc,
                0, NULL, 0);
}

static void
sp_r_start(sp_world_t *w, size_t i)
{
    sp_router_t *r = &w->r[i];
    Rtr__AcceptorState *stored = NULL;
    rtr_status_t st = sim_store_load(&r->store, &stored);

    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "store", "%s: its state does not decode", sp_names[i]);
        return;
    }
    w->rcfg.seed = sim_rng_next(&w->rcore);
    st = rtd_reg_new(w->fac, &w->fac->routers[i], r->inc, &w->rcfg, stored, &r->reg);
    SP_TRACE(w, "%s START inc=%" PRIu64 " %s", sp_names[i], r->inc, stored ? "stored" : "empty");
    wire_free((ProtobufCMessage **)&stored);
    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "setup", "%s: rtd_reg_new: %s", sp_names[i], rtr_status_name(st));
        return;
    }
    r->up = true;
    r->last_ticket = 0;
    r->route = -1;
    r->route_epoch = 0;
    rtd_reg_start(r->reg, sp_r_local_ms(w, i));
    sp_r_done(w, i);
    sp_schedule(w, sp_now(w) + sim_rng_range(&w->rcore, 0, SP_HB * 1000), SP_EV_R_HB, (uint32_t)i,
                r->inc, 0, NULL, 0);
}

static void
sp_r_crash(sp_world_t *w, size_t i)
{
    sp_router_t *r = &w->r[i];

    SP_TRACE(w, "%s CRASH", sp_names[i]);
    rtd_reg_free(&r->reg);
    for (size_t k = 0; k < r->nlb; k++)
        free(r->lb[k]);
    r->nlb = 0;
    r->up = false;
    r->timer_gen++;
    sim_store_crash(&r->store);
    sim_net_reset_node(w->net, i);
    /* the backends' shells notice its silence after failure_timeout_ms */
    for (size_t b = 0; b < SP_NB; b++)
        sp_schedule(w, sp_now(w) + SP_FT * 1000, SP_EV_B_RLOST, (uint32_t)b, r->inc, i, NULL, 0);
    r->inc++;
    w->rcrash++;
}

/* ---- the bootstrap ----------------------------------------------------------------------- */

static void
sp_bootstrap(sp_world_t *w, uint64_t attempt)
{
    static char *insync[2] = { "be1", "be2" };
    uint8_t uuid[16];
    Rtr__PartitionRole pr = RTR__PARTITION_ROLE__INIT;
    Rtr__PartitionRole *prs[1] = { &pr };
    Rtr__RegisterValue v = RTR__REGISTER_VALUE__INIT;
    Rtr__RegChange m = RTR__REG_CHANGE__INIT;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    rtd_id_t id;
    size_t i = (size_t)(attempt % SP_NR);

    if (w->booted)
        return;
    sim_rng_t u;
    sim_rng_init(&u, w->o->seed, 99);
    for (size_t k = 0; k < sizeof uuid; k++)
        uuid[k] = (uint8_t)sim_rng_next(&u);
    pr.partition = (char *)(uintptr_t)w->fac->partitions[0].name;
    pr.epoch = 1;
    pr.primary = insync[0];
    pr.in_sync = insync;
    pr.n_in_sync = 2;
    pr.partner = insync[1];
    v.version = 1;
    v.facility = (char *)(uintptr_t)w->fac->name;
    v.facility_uuid.data = uuid;
    v.facility_uuid.len = 16;
    v.partitions = prs;
    v.n_partitions = 1;
    m.req_id = attempt + 1;
    m.kind = RTR__REG_KIND__REG_BOOTSTRAP;
    m.bootstrap = &v;
    wire_envelope_init(&env, "a-1", 0, 1, RTR__ROLE__ROLE_ADMIN);
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
    env.reg_change = &m;
    memset(&id, 0, sizeof id);
    id.len = 3;
    memcpy(id.bytes, "a-1", 3);
    if (w->r[i].up) {
        SP_TRACE(w, "rtrcli BOOTSTRAP via %s", sp_names[i]);
        (void)rtd_reg_on_request(w->r[i].reg, sp_r_local_ms(w, i), RTD_SOCK_ADMIN, &id, NULL, &env);
        sp_r_done(w, i);
    }
    sp_schedule(w, sp_now(w) + 1000000, SP_EV_BOOT, 0, 0, attempt + 1, NULL, 0);
}

/* ---- faults ------------------------------------------------------------------------------ */

static size_t
sp_be_down(const sp_world_t *w)
{
    size_t n = 0;
    for (size_t b = 0; b < SP_NB; b++)
        n += !w->b[b].up || w->b[b].paused;
    return n;
}

static size_t
sp_r_down(const sp_world_t *w)
{
    size_t n = 0;
    for (size_t i = 0; i < SP_NR; i++)
        n += !w->r[i].up;
    return n;
}

static void
sp_fault(sp_world_t *w)
{
    uint64_t now = sp_now(w);
    uint64_t c = sim_rng_below(&w->rfault, 100);
    size_t b = (size_t)sim_rng_below(&w->rfault, SP_NB);
    size_t i = (size_t)sim_rng_below(&w->rfault, SP_NR);
    size_t bdown = sp_be_down(w);

    if (w->quiesce)
        return;
    if (c < 22) {
        if (w->b[b].up && !w->b[b].paused && (bdown == 0 || w->stress)) {
            sp_be_crash(w, b);
            sp_schedule(w, now + sim_rng_range(&w->rfault, 0, 3 * SP_FT) * 1000, SP_EV_B_RESTART,
                        (uint32_t)b, 0, 0, NULL, 0);
        }
    } else if (c < 34) {
        if (w->b[b].up && !w->b[b].paused && (bdown == 0 || w->stress)) {
            /* SIGSTOP, mostly past the failure timeout */
            uint64_t dur = sim_rng_range(&w->rfault, SP_FT / 2, 4 * SP_FT);
            SP_TRACE(w, "%s STOP %" PRIu64 " ms", sp_names[SP_NR + b], dur);
            w->b[b].paused = true;
            w->bpause++;
            sp_schedule(w, now + dur * 1000, SP_EV_UNPAUSE, (uint32_t)b, ++w->b[b].pause_gen, 0,
                        NULL, 0);
        }
    } else if (c < 56) {
        uint64_t mask = sim_rng_range(&w->rfault, 1, (1u << SP_NODES) - 2);
        uint64_t dur = sim_rng_range(&w->rfault, 200, 5000);
        SP_TRACE(w, "PARTITION mask=0x%02" PRIx64 " for %" PRIu64 " ms", mask, dur);
        sim_net_partition(w->net, mask, now + dur * 1000);
        w->res->partitions++;
    } else if (c < 70) {
        size_t x = (size_t)sim_rng_below(&w->rfault, SP_NODES);
        size_t y = (size_t)sim_rng_below(&w->rfault, SP_NODES);
        if (x != y) {
            SP_TRACE(w, "RESET %s<->%s", sp_names[x], sp_names[y]);
            sim_net_reset_link(w->net, x, y);
            sim_net_reset_link(w->net, y, x);
        }
    } else if (c < 86) {
        if (w->r[i].up && (sp_r_down(w) == 0 || w->stress)) {
            sp_r_crash(w, i);
            sp_schedule(w, now + sim_rng_range(&w->rfault, 0, 3 * SP_FT) * 1000, SP_EV_R_RESTART,
                        (uint32_t)i, 0, 0, NULL, 0);
        }
    }
    sp_schedule(w, now + sim_rng_range(&w->rfault, w->fault_gap_lo, w->fault_gap_hi) * 1000,
                SP_EV_FAULT, 0, 0, 0, NULL, 0);
}

/* ---- the loop ---------------------------------------------------------------------------- */

/* sp_event_backend - the backend an event is for (SP_NB: none). */
static size_t
sp_event_backend(const sim_event_t *ev)
{
    switch (ev->kind) {
    case SP_EV_DELIVER:
        return ev->b >= SP_NR ? ev->b - SP_NR : SP_NB;
    case SP_EV_B_TIMER:
    case SP_EV_B_FLUSH:
    case SP_EV_B_HB:
    case SP_EV_B_SRV:
    case SP_EV_B_RLOST:
        return ev->a < SP_NB ? ev->a : SP_NB;
    default:
        return SP_NB;
    }
}

static void
sp_be_hold(sp_world_t *w, sp_be_t *be, sim_event_t *ev)
{
    if (be->ninbox == be->capinbox) {
        size_t cap = be->capinbox ? be->capinbox * 2 : 64;
        sim_event_t *n = realloc(be->inbox, cap * sizeof *n);
        if (n == NULL) {
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
        be->inbox = n;
        be->capinbox = cap;
    }
    be->inbox[be->ninbox++] = *ev;
    ev->data = NULL;
}

static void sp_be_event(sp_world_t *w, size_t b, sim_event_t *ev);

static void
sp_be_continue(sp_world_t *w, size_t b)
{
    sp_be_t *be = &w->b[b];
    sim_event_t *held = be->inbox;
    size_t n = be->ninbox;

    SP_TRACE(w, "%s CONT (%zu events held)", sp_names[SP_NR + b], n);
    be->paused = false;
    be->inbox = NULL;
    be->ninbox = be->capinbox = 0;
    /* what waited in its sockets and completions, in order: no second network check */
    for (size_t k = 0; k < n; k++) {
        sim_event_t *ev = &held[k];
        bool stale =
            (ev->kind == SP_EV_B_FLUSH || ev->kind == SP_EV_B_HB || ev->kind == SP_EV_B_SRV) &&
            ev->gen != be->life;
        if (!sim_check_failed(w->check) && be->up && !stale)
            sp_be_event(w, b, ev);
        free(ev->data);
    }
    free(held);
}

/* sp_be_event - one event of a running backend: the clock, the event, a poll round's end. */
static void
sp_be_event(sp_world_t *w, size_t b, sim_event_t *ev)
{
    sp_be_t *be = &w->b[b];

    bkd_core_clock(be->c, sp_be_local_ms(w, b), 1000000 + sp_now(w) / 1000);
    switch (ev->kind) {
    case SP_EV_DELIVER:
        sp_be_deliver(w, b, ev->a, ev->data, ev->len);
        break;
    case SP_EV_B_TIMER:
        if (ev->gen != be->timer_gen)
            return;
        bkd_core_timer(be->c, sp_be_local_ms(w, b), 1000000 + sp_now(w) / 1000);
        break;
    case SP_EV_B_FLUSH: {
        uint64_t last = be->j.nops ? be->j.ops[be->j.nops - 1].ticket : 0;
        size_t k = be->j.nops;
        be->j.flush_armed = false;
        be->j.flushes++;
        bool cut = sp_jrn_harden(w, b, k);
        SP_TRACE(w, "%s HARDENED %zu actions to ticket %" PRIu64 " (top n %" PRIu64 ")",
                 sp_names[SP_NR + b], k, last, be->j.hard.top);
        if (last != 0)
            bkd_core_journal_hardened(be->c, last);
        if (cut)
            sp_check_accepted_all(w);
        break;
    }
    case SP_EV_B_HB:
        sp_be_heartbeat(w, b);
        break;
    case SP_EV_B_SRV: {
        Rtr__Envelope *env = NULL;
        char id[16];
        if (wire_envelope_decode(ev->data, ev->len, 0, NULL, &env) != RTR_STS_OK) {
            sim_check_fail(w->check, "wire", "a server frame does not decode");
            return;
        }
        snprintf(id, sizeof id, "s-%s", sp_names[SP_NR + b]);
        (void)bkd_core_server_msg(be->c, id, env);
        wire_free((ProtobufCMessage **)&env);
        break;
    }
    case SP_EV_B_RLOST:
        if (be->router_up[ev->x] && be->router_inc[ev->x] == ev->gen) {
            be->router_up[ev->x] = false;
            bkd_core_router_lost(be->c, sp_names[ev->x]);
        }
        break;
    default:
        break;
    }
    sp_be_round(w, b);
}

static void
sp_dispatch(sp_world_t *w, sim_event_t *ev)
{
    size_t b = sp_event_backend(ev);

    if (b < SP_NB) {
        sp_be_t *be = &w->b[b];
        if (ev->kind == SP_EV_DELIVER && !sim_net_accept(w->net, ev))
            return;
        if (!be->up)
            return;
        if ((ev->kind == SP_EV_B_FLUSH || ev->kind == SP_EV_B_HB || ev->kind == SP_EV_B_SRV) &&
            ev->gen != be->life)
            return;
        if (be->paused) {
            sp_be_hold(w, be, ev);
            return;
        }
        sp_be_event(w, b, ev);
        return;
    }
    sp_router_t *r = ev->a < SP_NR ? &w->r[ev->a] : NULL;
    switch (ev->kind) {
    case SP_EV_DELIVER:
        if (sim_net_accept(w->net, ev) && ev->b < SP_NR && w->r[ev->b].up)
            sp_r_deliver(w, ev->b, ev->a, ev->data, ev->len, true);
        break;
    case SP_EV_R_PERSIST:
        if (r == NULL || !r->up || ev->gen != r->inc) {
            if (r != NULL)
                r->store.lost++;
            return;
        }
        sim_store_durable(&r->store, ev->data, ev->len);
        ev->data = NULL;
        rtd_reg_on_persisted(r->reg, sp_r_local_ms(w, ev->a), ev->x);
        sp_r_done(w, ev->a);
        break;
    case SP_EV_R_TIMER:
        if (r == NULL || !r->up || ev->gen != r->timer_gen)
            return;
        rtd_reg_on_timer(r->reg, sp_r_local_ms(w, ev->a));
        sp_r_done(w, ev->a);
        break;
    case SP_EV_R_HB:
        if (r != NULL && r->up && ev->gen == r->inc)
            sp_r_heartbeat(w, ev->a);
        break;
    case SP_EV_R_RESTART:
        if (r != NULL && !r->up)
            sp_r_start(w, ev->a);
        break;
    case SP_EV_B_RESTART:
        if (ev->a < SP_NB && !w->b[ev->a].up)
            sp_be_start(w, ev->a);
        break;
    case SP_EV_UNPAUSE:
        if (ev->a < SP_NB && w->b[ev->a].paused && ev->gen == w->b[ev->a].pause_gen)
            sp_be_continue(w, ev->a);
        break;
    case SP_EV_FAULT:
        sp_fault(w);
        break;
    case SP_EV_CLI:
        sp_cli_next(w, ev->a);
        break;
    case SP_EV_CLI_TMO:
        sp_cli_timeout(w, ev->a, ev->x);
        break;
    case SP_EV_BOOT:
        sp_bootstrap(w, ev->x);
        break;
    case SP_EV_QUIESCE:
        SP_TRACE(w, "QUIESCE heal, restart, continue; no new faults or transfers");
        w->quiesce = true;
        sim_net_heal(w->net);
        for (size_t i = 0; i < SP_NR; i++)
            if (!w->r[i].up)
                sp_r_start(w, i);
        for (size_t k = 0; k < SP_NB; k++) {
            if (!w->b[k].up)
                sp_be_start(w, k);
            else if (w->b[k].paused)
                sp_be_continue(w, k);
        }
        break;
    default:
        break;
    }
}

/* ---- the facility and the world ---------------------------------------------------------- */

bool
sim_pair_broken_known(const char *rule)
{
    return rule != NULL && strcmp(rule, "vote_before_ack") == 0;
}

static rtr_status_t
sp_world_init(sp_world_t *w, const sim_opts_t *o, sim_result_t *res)
{
    rtr_status_t st;
    uint64_t seed = o->seed;

    w->o = o;
    w->res = res;
    w->fac = o->fac1;
    sim_rng_init(&w->rfault, seed, SIM_RNG_FAULTS);
    sim_rng_init(&w->rreq, seed, SIM_RNG_REQUESTS);
    sim_rng_init(&w->rclock, seed, SIM_RNG_CLOCKS);
    sim_rng_init(&w->rcore, seed, SIM_RNG_CORES);
    sim_rng_init(&w->rstore, seed, SIM_RNG_STORE);
    w->broken = o->broken != NULL && strcmp(o->broken, "vote_before_ack") == 0;
    w->rcfg.register_timeout_ms = 300;
    w->rcfg.failure_timeout_ms = SP_FT;
    w->rcfg.lease_ms = SP_LEASE;
    w->rcfg.lease_margin_ms = SP_MARGIN;
    if ((st = sim_sched_new(seed, &w->sched)) != RTR_STS_OK ||
        (st = sim_net_new(SP_NODES, seed, w->sched, SP_EV_DELIVER, &w->net)) != RTR_STS_OK ||
        (st = sim_trace_new(SIM_TRACE_CAP, o->live, &w->trace)) != RTR_STS_OK ||
        (st = sim_check_new(&w->check)) != RTR_STS_OK)
        return st;
    /* the seed's profile: 1 in 10 quiet (no faults, lossless); else loss up to 20 % per link,
     * duplication, a fault every 0.3..2.5 s; 1 in 5 faulty seeds "stress" (both backends or
     * two routers may be down at once) */
    bool quiet = sim_rng_below(&w->rfault, 10) == 0;
    uint32_t loss = quiet ? 0 : (uint32_t)sim_rng_below(&w->rfault, 200001);
    w->stress = !quiet && sim_rng_below(&w->rfault, 5) == 0;
    w->fault_gap_lo = 300;
    w->fault_gap_hi = 2500;
    res->small_window = sim_rng_below(&w->rfault, 4) == 0;
    for (size_t a = 0; a < SP_NODES; a++)
        for (size_t b = 0; b < SP_NODES; b++) {
            if (a == b)
                continue;
            uint32_t link_loss = (uint32_t)sim_rng_below(&w->rfault, loss + 1);
            uint32_t link_dup = quiet ? 0 : (uint32_t)sim_rng_below(&w->rfault, 20001);
            sim_net_set_link(w->net, a, b, link_loss, link_dup);
        }
    for (size_t i = 0; i < SP_NR; i++) {
        w->r[i].inc = 1;
        w->r[i].rate_ppm = (int64_t)sim_rng_range(&w->rclock, 0, 40000) - 20000;
        w->r[i].off_ms = sim_rng_range(&w->rclock, 1000, 100000000);
    }
    for (size_t b = 0; b < SP_NB; b++) {
        w->b[b].rate_ppm = (int64_t)sim_rng_range(&w->rclock, 0, 40000) - 20000;
        w->b[b].off_ms = sim_rng_range(&w->rclock, 1000, 100000000);
        for (size_t k = 0; k < SP_ACCTS; k++)
            w->b[b].srv.bal[k] = 1000;
    }
    w->tx_gap_lo = 20;
    w->tx_gap_hi = sim_rng_below(&w->rreq, 2) ? 150 : 600;
    for (size_t k = 0; k < SP_NCLI; k++)
        w->cli[k].inc = 0xC11E000000000000ull + (seed << 8) + k;
    SP_TRACE(w, "SEED %" PRIu64 " scenario pair loss<=%u ppm %s%s%s%s", seed, loss,
             quiet ? "quiet" : "faults", w->stress ? " stress" : "",
             res->small_window ? " small-window" : "", w->broken ? " BROKEN=vote_before_ack" : "");
    if (quiet)
        w->fault_gap_lo = w->fault_gap_hi = 0;
    return RTR_STS_OK;
}

static void
sp_world_free(sp_world_t *w)
{
    for (size_t i = 0; i < SP_NR; i++) {
        rtd_reg_free(&w->r[i].reg);
        for (size_t k = 0; k < w->r[i].nlb; k++)
            free(w->r[i].lb[k]);
        free(w->r[i].lb);
        free(w->r[i].lblen);
        sim_store_clear(&w->r[i].store);
    }
    for (size_t b = 0; b < SP_NB; b++) {
        sp_be_t *be = &w->b[b];
        if (be->c != NULL) {
            bkd_action_t a;
            while (bkd_core_next_action(be->c, &a))
                bkd_action_clear(&a);
        }
        bkd_core_free(&be->c);
        for (size_t k = 0; k < be->ninbox; k++)
            free(be->inbox[k].data);
        free(be->inbox);
        for (size_t k = 0; k < be->j.nops; k++)
            sp_jop_clear(&be->j.ops[k]);
        free(be->j.ops);
        sp_jstate_clear(&be->j.cur);
        sp_jstate_clear(&be->j.hard);
        free(be->srv.log);
    }
    rtd_reg_value_free(&w->newest);
    sp_check_clear(w);
    sim_check_free(&w->check);
    sim_trace_free(&w->trace);
    sim_net_free(&w->net);
    sim_sched_free(&w->sched);
}

rtr_status_t
sim_pair_run(const sim_opts_t *o, sim_result_t *res, FILE *report)
{
    sp_world_t *w = calloc(1, sizeof *w);
    rtr_status_t st;
    sim_event_t ev;
    uint64_t next_conv = 0;

    memset(res, 0, sizeof *res);
    if (w == NULL)
        return RTR_STS_NOMEM;
    if (o->fac1 == NULL) {
        free(w);
        return RTR_STS_INVARG;
    }
    st = sp_world_init(w, o, res);
    if (st != RTR_STS_OK)
        goto out;

    uint64_t fault_end = o->fault_ms * 1000;
    for (size_t i = 0; i < SP_NR; i++)
        sp_r_start(w, i);
    for (size_t b = 0; b < SP_NB; b++)
        sp_be_start(w, b);
    sp_schedule(w, 300000, SP_EV_BOOT, 0, 0, 0, NULL, 0);
    for (size_t k = 0; k < SP_NCLI; k++)
        sp_schedule(w, 1000000 + sim_rng_range(&w->rreq, 0, 500000), SP_EV_CLI, (uint32_t)k, 0, 0,
                    NULL, 0);
    if (w->fault_gap_hi > 0)
        sp_schedule(w, sim_rng_range(&w->rfault, 1500000, 3000000), SP_EV_FAULT, 0, 0, 0, NULL, 0);
    sp_schedule(w, fault_end, SP_EV_QUIESCE, 0, 0, 0, NULL, 0);
    sp_schedule(w, fault_end + o->quiesce_ms * 1000, SP_EV_END, 0, 0, 0, NULL, 0);

    while (!w->done && !sim_check_failed(w->check) && sim_sched_pop(w->sched, &ev)) {
        res->events++;
        if (ev.kind == SP_EV_END) {
            free(ev.data);
            break;
        }
        sp_dispatch(w, &ev);
        free(ev.data);
        if (w->quiesce && !sim_check_failed(w->check) && sp_now(w) >= next_conv) {
            next_conv = sp_now(w) + 20000;
            if (sp_converged(w)) {
                SP_TRACE(w, "CONVERGED");
                sp_check_final(w);
                w->done = true;
            }
        }
        if (res->events > SP_MAX_EVENTS)
            sim_check_fail(w->check, "runaway", "more than %u events", SP_MAX_EVENTS);
    }
    if (!w->done && !sim_check_failed(w->check)) {
        char d[900];
        size_t k = 0;
        for (size_t b = 0; b < SP_NB && k < sizeof d; b++) {
            if (!w->b[b].up) {
                k += (size_t)snprintf(d + k, sizeof d - k, "%s down; ", sp_names[SP_NR + b]);
                continue;
            }
            bkd_part_info_t p = sp_info(w, b);
            char first[128];
            size_t open = sp_open_tx(w, b, first, sizeof first);
            bkd_core_counters_t ctr;
            bkd_core_counters(w->b[b].c, &ctr);
            SP_TRACE(w,
                     "%s at the deadline: partner_hardened=%" PRIu64 " partner_applied=%" PRIu64
                     " lag_records=%" PRIu64 " partner_up=%d shadow_acks=%" PRIu64
                     " shadow_unexpected=%" PRIu64 " fenced_frames=%" PRIu64 " hellos=%" PRIu64
                     " truncations=%" PRIu64,
                     sp_names[SP_NR + b], p.partner_hardened, p.partner_applied, p.lag_records,
                     p.partner_up, ctr.shadow_acks, ctr.shadow_unexpected, ctr.fenced_frames,
                     ctr.shadow_hellos, ctr.shadow_truncations);
            k += (size_t)snprintf(d + k, sizeof d - k,
                                  "%s %s (%s) e=%" PRIu64 " applied=%" PRIu64 " hardened=%" PRIu64
                                  " serving=%d lease=%d journal-queue=%zu%s open=%zu%s%s; ",
                                  sp_names[SP_NR + b], p.state, p.reason, p.epoch, p.applied_n,
                                  p.hardened_n, p.serving, p.lease_held, w->b[b].j.nops,
                                  w->b[b].j.flush_armed ? " (flush armed)" : "", open,
                                  open ? " " : "", open ? first : "");
        }
        sim_check_fail(w->check, "9-liveness",
                       "%" PRIu64 " s after the faults ended the pair has not converged: %s",
                       o->quiesce_ms / 1000, d);
    }
    res->failed = sim_check_failed(w->check);
    snprintf(res->invariant, sizeof res->invariant, "%s", sim_check_invariant(w->check));
    snprintf(res->detail, sizeof res->detail, "%s", sim_check_detail(w->check));
    res->trace_lines = sim_trace_count(w->trace);
    res->trace_hash = sim_trace_hash(w->trace);
    res->max_version = sim_check_max_version(w->check);
    sim_check_kinds(w->check, res->kinds);
    res->end_us = sp_now(w);
    res->crashes = w->rcrash; /* the summary line says "router crashes" */
    res->accepted = w->accepted;
    res->decisions = w->decisions;
    res->bcrashes = w->bcrash;
    res->bpauses = w->bpause;
    if (res->failed && report != NULL) {
        uint64_t n = res->trace_lines;
        fprintf(report, "--- trace: last %" PRIu64 " of %" PRIu64 " events ---\n",
                n < SIM_TRACE_CAP ? n : SIM_TRACE_CAP, n);
        sim_trace_dump(w->trace, report);
        fprintf(report, "--- end of trace ---\n");
    }
out:
    sp_world_free(w);
    free(w);
    return st;
}
