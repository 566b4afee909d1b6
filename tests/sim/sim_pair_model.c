/*
 * sim_pair_model.c - the pair world's server and client models (docs/shadow-protocol.md §8.1).
 *
 * Server (one process per backend, a bank of SP_ACCTS accounts, SP_CHANS channels): answers
 * every message, votes accept, applies a transfer at its ServerOutcome{accepted} and answers
 * ServerDone. It deduplicates by TID only for msg1_uncertain deliveries (the server contract:
 * it votes already_applied when the TID is in its database); a plain msg1 is applied again if
 * the backend delivers it again, which invariant 2 catches. Its frames reach the backend in
 * order, 0.05..1.5 ms later (ipc). Its database survives the backend's crashes; what it held
 * in flight is rolled back when its backend dies.
 *
 * Client (SP_NCLI, each beside a router it picks per transfer): a transfer is a TxMsg
 * (accepting) and a VoteRequest, sent by that router to the backend its route names; no
 * outcome within 1 s: the transfer again, as librtr's vote resend makes its router do (to the
 * backend the route names now), every second, with a TxQuery from the third on (30 at most).
 * A TxNack from 0 also gets the transfer again. It records every `accepted` it sees
 * and fails the run if one TID is told both accepted and rejected.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_pair_impl.h"

static const uint8_t sp_key_low[4] = { 0, 0, 0, 0 };
static const uint8_t sp_key_high[4] = { 0xff, 0xff, 0xff, 0xff };

/* ---- server ----------------------------------------------------------------------------- */

/* sp_srv_send - env (body set) from b's server process to b, in order, a little later. */
static void
sp_srv_send(sp_world_t *w, size_t b, Rtr__Envelope *env)
{
    sp_srv_t *s = &w->b[b].srv;
    Rtr__Envelope body = *env; /* the body is a union: keep its case and pointer */
    char id[16];
    uint8_t *buf = NULL;
    size_t len = 0;

    snprintf(id, sizeof id, "s-%s", sp_names[SP_NR + b]);
    wire_envelope_init(env, id, 0, 7, RTR__ROLE__ROLE_SERVER);
    env->body_case = body.body_case;
    env->heartbeat = body.heartbeat;
    if (wire_encode(&env->base, 0, &buf, &len) != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "a server frame does not encode");
        return;
    }
    uint64_t due = sp_now(w) + sim_rng_range(&w->rstore, 50, 1500);
    if (due <= s->due)
        due = s->due + 1;
    s->due = due;
    sp_schedule(w, due, SP_EV_B_SRV, (uint32_t)b, w->b[b].life, 0, buf, len);
}

void
sp_srv_attach(sp_world_t *w, size_t b)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;

    memset(w->b[b].srv.ch, 0, sizeof w->b[b].srv.ch);
    for (uint32_t ch = 1; ch <= SP_CHANS; ch++) {
        o.channel = ch;
        o.has_key_low = o.has_key_high = true;
        o.key_low.data = (uint8_t *)(uintptr_t)sp_key_low;
        o.key_low.len = 4;
        o.key_high.data = (uint8_t *)(uintptr_t)sp_key_high;
        o.key_high.len = 4;
        env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
        env.channel_open = &o;
        sp_srv_send(w, b, &env);
    }
}

static sp_chan_t *
sp_srv_chan(sp_srv_t *s, uint32_t ch)
{
    return ch >= 1 && ch <= SP_CHANS ? &s->ch[ch - 1] : NULL;
}

static void
sp_srv_apply(sp_world_t *w, size_t b, sp_chan_t *c)
{
    sp_srv_t *s = &w->b[b].srv;
    size_t idx = sp_tx_index(w, c->tid);

    if (idx == SIZE_MAX) {
        sim_check_fail(w->check, "contract", "%s's server got a TID no client started",
                       sp_names[SP_NR + b]);
        return;
    }
    sp_check_apply(w, b, idx);
    if (s->applied[idx] < 255)
        s->applied[idx]++;
    s->bal[c->from % SP_ACCTS] -= c->amount;
    s->bal[c->to % SP_ACCTS] += c->amount;
    if (s->nlog == s->caplog) {
        size_t cap = s->caplog ? s->caplog * 2 : 256;
        uint32_t *v = realloc(s->log, cap * sizeof *v);
        if (v == NULL) {
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
        s->log = v;
        s->caplog = cap;
    }
    s->log[s->nlog++] = (uint32_t)idx;
}

void
sp_srv_from_backend(sp_world_t *w, size_t b, const Rtr__Envelope *env)
{
    sp_srv_t *s = &w->b[b].srv;
    Rtr__Envelope out = RTR__ENVELOPE__INIT;

    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_DELIVER: {
        const Rtr__Deliver *d = env->deliver;
        Rtr__ServerReply r = RTR__SERVER_REPLY__INIT;
        sp_chan_t *c = sp_srv_chan(s, d->channel);
        if (c == NULL || d->tid.len != 16)
            return;
        memset(c, 0, sizeof *c);
        c->used = true;
        memcpy(c->tid, d->tid.data, 16);
        c->uncertain = d->kind == RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN;
        if (d->body.len == 12) {
            c->from = ((uint32_t)d->body.data[0] << 24) | ((uint32_t)d->body.data[1] << 16) |
                      ((uint32_t)d->body.data[2] << 8) | d->body.data[3];
            c->to = ((uint32_t)d->body.data[4] << 24) | ((uint32_t)d->body.data[5] << 16) |
                    ((uint32_t)d->body.data[6] << 8) | d->body.data[7];
            c->amount = ((uint32_t)d->body.data[8] << 24) | ((uint32_t)d->body.data[9] << 16) |
                        ((uint32_t)d->body.data[10] << 8) | d->body.data[11];
        }
        r.tid = d->tid;
        r.channel = d->channel;
        r.index = d->index;
        r.body = d->body;
        out.body_case = RTR__ENVELOPE__BODY_SERVER_REPLY;
        out.server_reply = &r;
        sp_srv_send(w, b, &out);
        break;
    }
    case RTR__ENVELOPE__BODY_VOTE_REQUEST: {
        Rtr__ServerVote v = RTR__SERVER_VOTE__INIT;
        sp_chan_t *c = NULL;
        for (uint32_t k = 1; k <= SP_CHANS; k++)
            if (s->ch[k - 1].used && env->vote_request->tid.len == 16 &&
                memcmp(s->ch[k - 1].tid, env->vote_request->tid.data, 16) == 0) {
                c = &s->ch[k - 1];
                v.channel = k;
            }
        if (c == NULL)
            return; /* rolled back: the backend resends or replays */
        size_t idx = sp_tx_index(w, c->tid);
        /* the server contract: a msg1_uncertain TID already in the database is not applied
         * again; a plain msg1 is never deduplicated */
        c->skip = c->uncertain && idx != SIZE_MAX && s->applied[idx] > 0;
        v.tid = env->vote_request->tid;
        v.accept = true;
        v.has_already_applied = true;
        v.already_applied = c->skip;
        out.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
        out.server_vote = &v;
        sp_srv_send(w, b, &out);
        break;
    }
    case RTR__ENVELOPE__BODY_SERVER_OUTCOME: {
        const Rtr__ServerOutcome *o = env->server_outcome;
        Rtr__ServerDone d = RTR__SERVER_DONE__INIT;
        sp_chan_t *c = sp_srv_chan(s, o->channel);
        if (c != NULL && c->used && o->tid.len == 16 && memcmp(c->tid, o->tid.data, 16) == 0) {
            if (o->accepted && !c->skip)
                sp_srv_apply(w, b, c);
            memset(c, 0, sizeof *c);
        }
        d.tid = o->tid;
        d.channel = o->channel;
        out.body_case = RTR__ENVELOPE__BODY_SERVER_DONE;
        out.server_done = &d;
        sp_srv_send(w, b, &out);
        break;
    }
    default:
        break;
    }
}

/* ---- clients ------------------------------------------------------------------------------ */

static void
sp_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* sp_cli_router - an up router with a route, starting at `first`; SP_NR if none. */
static size_t
sp_cli_router(const sp_world_t *w, size_t first)
{
    for (size_t k = 0; k < SP_NR; k++) {
        size_t i = (first + k) % SP_NR;
        if (w->r[i].up && w->r[i].route >= 0)
            return i;
    }
    return SP_NR;
}

static void
sp_router_env(const sp_world_t *w, Rtr__Envelope *env, size_t i)
{
    wire_envelope_init(env, sp_names[i], 0, w->r[i].inc, RTR__ROLE__ROLE_ROUTER);
}

void
sp_cli_next(sp_world_t *w, size_t k)
{
    sp_cli_t *c = &w->cli[k];
    uint64_t gap;

    if (w->quiesce || c->next >= SP_TXMAX)
        return;
    size_t first = (size_t)sim_rng_below(&w->rreq, SP_NR);
    size_t i = sp_cli_router(w, first);
    if (i == SP_NR) {
        sp_schedule(w, sp_now(w) + 50000, SP_EV_CLI, (uint32_t)k, 0, 0, NULL, 0);
        return;
    }
    uint32_t x = c->next++;
    uint8_t tid[16], body[12];
    uint32_t from = (uint32_t)sim_rng_below(&w->rreq, SP_ACCTS);
    uint32_t to = (from + 1 + (uint32_t)sim_rng_below(&w->rreq, SP_ACCTS - 1)) % SP_ACCTS;
    uint32_t amount = (uint32_t)sim_rng_range(&w->rreq, 1, 100);
    size_t b = (size_t)w->r[i].route;
    Rtr__Envelope env;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    Rtr__VoteRequest v = RTR__VOTE_REQUEST__INIT;

    sp_tid(w, k * SP_TXMAX + x, tid);
    sp_put32(body, from);
    sp_put32(body + 4, to);
    sp_put32(body + 8, amount);
    memcpy(c->body[x], body, sizeof body);
    c->st[x] = SP_TX_PENDING;
    c->router[x] = (uint8_t)i;
    c->backend[x] = (uint8_t)b;
    m.tid.data = tid;
    m.tid.len = 16;
    m.index = 0;
    m.channel = (uint32_t)(1 + k);
    m.body.data = body;
    m.body.len = sizeof body;
    m.has_flags = true;
    m.flags = BKD_SEN_ACCEPT;
    m.partition = (char *)(uintptr_t)w->fac->partitions[0].name;
    sp_router_env(w, &env, i);
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    SP_TRACE(w, "client%zu TRANSFER #%u %u->%u %u via %s to %s", k, x, from, to, amount,
             sp_names[i], sp_names[SP_NR + b]);
    sp_send(w, i, SP_NR + b, &env);
    v.tid = m.tid;
    v.nmsgs = 1;
    sp_router_env(w, &env, i);
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &v;
    sp_send(w, i, SP_NR + b, &env);
    sp_schedule(w, sp_now(w) + 1000000, SP_EV_CLI_TMO, (uint32_t)k, 0, x, NULL, 0);
    gap = sim_rng_range(&w->rreq, w->tx_gap_lo, w->tx_gap_hi);
    sp_schedule(w, sp_now(w) + gap * 1000, SP_EV_CLI, (uint32_t)k, 0, 0, NULL, 0);
}

/* sp_cli_resend - the transfer again (TxMsg marked resent, then the VoteRequest) by router r
 * to backend b: what librtr's vote resend makes the router do. */
static void
sp_cli_resend(sp_world_t *w, size_t idx, size_t r, size_t b, const char *why)
{
    sp_cli_t *c = &w->cli[idx / SP_TXMAX];
    size_t x = idx % SP_TXMAX;
    uint8_t tid[16];
    Rtr__Envelope env;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    Rtr__VoteRequest v = RTR__VOTE_REQUEST__INIT;

    sp_tid(w, idx, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.index = 0;
    m.channel = (uint32_t)(1 + idx / SP_TXMAX);
    m.body.data = c->body[x];
    m.body.len = sizeof c->body[x];
    m.has_flags = true;
    m.flags = BKD_SEN_ACCEPT;
    m.partition = (char *)(uintptr_t)w->fac->partitions[0].name;
    m.has_resent = true;
    m.resent = true;
    sp_router_env(w, &env, r);
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    SP_TRACE(w, "client%zu RESEND #%zu (%s) via %s to %s", idx / SP_TXMAX, x, why, sp_names[r],
             sp_names[SP_NR + b]);
    c->router[x] = (uint8_t)r;
    c->backend[x] = (uint8_t)b;
    sp_send(w, r, SP_NR + b, &env);
    v.tid = m.tid;
    v.nmsgs = 1;
    sp_router_env(w, &env, r);
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &v;
    sp_send(w, r, SP_NR + b, &env);
}

void
sp_cli_nack(sp_world_t *w, size_t r, size_t b, const Rtr__TxNack *n)
{
    size_t idx = n->tid.len == 16 ? sp_tx_index(w, n->tid.data) : SIZE_MAX;

    if (idx == SIZE_MAX)
        return;
    sp_cli_t *c = &w->cli[idx / SP_TXMAX];
    size_t x = idx % SP_TXMAX;
    if (c->st[x] != SP_TX_PENDING || n->from_index != 0 || c->resends[x] >= 20)
        return;
    if (c->router[x] != r || c->backend[x] != b)
        return; /* rtd_core drops a foreign backend's NACK for this entry */
    c->resends[x]++;
    sp_cli_resend(w, idx, r, b, "nack");
}

void
sp_cli_timeout(sp_world_t *w, size_t k, uint64_t x)
{
    sp_cli_t *c = &w->cli[k];
    Rtr__Envelope env;
    Rtr__TxQuery q = RTR__TX_QUERY__INIT;
    uint8_t tid[16];

    if (x >= SP_TXMAX || c->st[x] != SP_TX_PENDING)
        return;
    if (c->queries[x] >= 30) {
        c->st[x] = SP_TX_UNKNOWN;
        return;
    }
    c->queries[x]++;
    sp_schedule(w, sp_now(w) + 1000000, SP_EV_CLI_TMO, (uint32_t)k, 0, x, NULL, 0);
    size_t i = sp_cli_router(w, (size_t)c->router[x] + c->queries[x] - 1);
    if (i == SP_NR)
        return;
    size_t b = (size_t)w->r[i].route;
    /* librtr resends its vote every second: the router asks the current backend again */
    sp_cli_resend(w, k * SP_TXMAX + x, i, b, "timeout");
    if (c->queries[x] < 3)
        return;
    sp_tid(w, k * SP_TXMAX + x, tid);
    q.tid.data = tid;
    q.tid.len = 16;
    q.request_id = ++w->queries;
    sp_router_env(w, &env, i);
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY;
    env.tx_query = &q;
    SP_TRACE(w, "client%zu QUERY #%" PRIu64 " via %s to %s", k, x, sp_names[i],
             sp_names[SP_NR + b]);
    sp_send(w, i, SP_NR + b, &env);
}

void
sp_cli_outcome(sp_world_t *w, size_t r, size_t b, const Rtr__TxOutcome *o)
{
    size_t idx = o->tid.len == 16 ? sp_tx_index(w, o->tid.data) : SIZE_MAX;

    if (idx == SIZE_MAX)
        return;
    sp_cli_t *c = &w->cli[idx / SP_TXMAX];
    size_t x = idx % SP_TXMAX;
    if (!o->accepted && (c->router[x] != r || c->backend[x] != b))
        return; /* rtd_core: a foreign backend's answer for this entry is dropped */
    if (o->accepted) {
        if (c->st[x] == SP_TX_REJECTED)
            sim_check_fail(w->check, "2-outcome",
                           "client%zu transfer #%zu was told rejected, then accepted (csn %" PRIu64
                           ")",
                           idx / SP_TXMAX, x, o->csn);
        if (c->st[x] != SP_TX_ACCEPTED) {
            c->st[x] = SP_TX_ACCEPTED;
            c->csn[x] = o->csn;
            w->accepted++;
            SP_TRACE(w, "client%zu ACCEPTED #%zu csn=%" PRIu64, idx / SP_TXMAX, x, o->csn);
            sp_check_accepted_one(w, idx, o->csn);
        } else if (c->csn[x] != o->csn) {
            sim_check_fail(w->check, "5-csn",
                           "client%zu transfer #%zu accepted with csn %" PRIu64 " and %" PRIu64,
                           idx / SP_TXMAX, x, c->csn[x], o->csn);
        }
    } else if (c->st[x] == SP_TX_ACCEPTED) {
        sim_check_fail(w->check, "2-outcome",
                       "client%zu transfer #%zu was told accepted, then rejected (status %u)",
                       idx / SP_TXMAX, x, o->status);
    } else if (c->st[x] == SP_TX_PENDING) {
        c->st[x] = SP_TX_REJECTED;
        SP_TRACE(w, "client%zu REJECTED #%zu status=%u", idx / SP_TXMAX, x, o->status);
    }
}
