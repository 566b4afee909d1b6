/*
 * bkd_core_test.c - the backend's pure core driven event by event; every test asserts the
 * exact actions it queues (sends, journal appends and state changes, their order).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd.h"
#include "wire.h"

#define INC     0x1122334455667788ull
#define MAXACTS 64

static const uint8_t LOW[4] = { 0, 0, 0, 0 };
static const uint8_t HIGH[4] = { 0x7f, 0xff, 0xff, 0xff };
static const uint8_t LOW2[4] = { 0x80, 0, 0, 0 };
static const uint8_t HIGH2[4] = { 0xff, 0xff, 0xff, 0xff };

typedef struct {
    bkd_core_t *c;
    bkd_action_t a[MAXACTS];
    size_t n;
} fx_t;

static void
fx_new(fx_t *f, bool concurrent, uint64_t last_n)
{
    bkd_part_cfg_t parts[2] = {
        { .name = "P1",
          .low = LOW,
          .high = HIGH,
          .concurrent = concurrent,
          .epoch = 0,
          .last_n = last_n },
        { .name = "P2", .low = LOW2, .high = HIGH2, .concurrent = true, .epoch = 4, .last_n = 0 },
    };
    bkd_core_cfg_t cfg = { .node = "be1",
                           .incarnation = 99,
                           .keylen = 4,
                           .nparts = 2,
                           .parts = parts,
                           .replay_limit = 0,
                           .resend_ms = 100 };
    memset(f, 0, sizeof(*f));
    cr_assert_eq(bkd_core_new(&cfg, &f->c), RTR_STS_OK);
    bkd_core_timer(f->c, 1000, 5000);
}

static void
fx_clear(fx_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        bkd_action_clear(&f->a[i]);
    f->n = 0;
}

static void
fx_free(fx_t *f)
{
    fx_clear(f);
    bkd_core_free(&f->c);
    cr_assert_null(f->c);
}

/* fx_drain - take every queued action, dropping ARM_TIMER (asserted separately). */
static size_t
fx_drain(fx_t *f)
{
    bkd_action_t a;
    fx_clear(f);
    while (bkd_core_next_action(f->c, &a)) {
        if (a.kind == BKD_ACT_ARM_TIMER) {
            bkd_action_clear(&a);
            continue;
        }
        cr_assert_lt(f->n, MAXACTS);
        f->a[f->n++] = a;
    }
    return f->n;
}

static const Rtr__Envelope *
fx_send(fx_t *f, size_t i, bkd_sock_t sock, const char *to, Rtr__Envelope__BodyCase body)
{
    cr_assert_lt(i, f->n, "action %zu of %zu", i, f->n);
    cr_assert_eq(f->a[i].kind, BKD_ACT_SEND, "action %zu kind %d", i, f->a[i].kind);
    cr_assert_eq(f->a[i].sock, sock);
    cr_assert_str_eq(f->a[i].to, to);
    cr_assert_eq(f->a[i].env->body_case, body, "action %zu body %d want %d", i,
                 f->a[i].env->body_case, body);
    cr_assert_eq(f->a[i].env->role, RTR__ROLE__ROLE_BACKEND);
    cr_assert_str_eq(f->a[i].env->sender, "be1");
    return f->a[i].env;
}

static void
tid_of(uint64_t counter, uint8_t out[16])
{
    cmn_tid_t t = { INC, counter };
    cmn_tid_pack(&t, out);
}

/* ---- events ------------------------------------------------------------------------------ */

static rtr_status_t
ev_tx_msg(fx_t *f, uint64_t counter, uint32_t index, const char *body, uint32_t flags)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.index = index;
    m.channel = 7;
    m.body.data = (uint8_t *)(uintptr_t)body;
    m.body.len = strlen(body);
    m.has_flags = 1;
    m.flags = flags;
    m.has_watermark = 1;
    m.watermark = 1;
    m.partition = "P1";
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    return bkd_core_router_msg(f->c, "r1", &env);
}

static rtr_status_t
ev_tx_msg_wm(fx_t *f, uint64_t counter, const char *body, uint64_t watermark)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.channel = 7;
    m.body.data = (uint8_t *)(uintptr_t)body;
    m.body.len = strlen(body);
    m.has_watermark = 1;
    m.watermark = watermark;
    m.partition = "P1";
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    return bkd_core_router_msg(f->c, "r1", &env);
}

static rtr_status_t
ev_vote_request(fx_t *f, uint64_t counter, uint32_t nmsgs)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__VoteRequest v = RTR__VOTE_REQUEST__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    v.tid.data = tid;
    v.tid.len = 16;
    v.nmsgs = nmsgs;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &v;
    return bkd_core_router_msg(f->c, "r1", &env);
}

static rtr_status_t
ev_tx_abort(fx_t *f, uint64_t counter)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxAbort a = RTR__TX_ABORT__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    a.tid.data = tid;
    a.tid.len = 16;
    a.status = RTR_STS_TIMOUT;
    env.body_case = RTR__ENVELOPE__BODY_TX_ABORT;
    env.tx_abort = &a;
    return bkd_core_router_msg(f->c, "r1", &env);
}

static rtr_status_t
ev_tx_query(fx_t *f, uint64_t counter)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQuery q = RTR__TX_QUERY__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    q.tid.data = tid;
    q.tid.len = 16;
    q.request_id = 42;
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY;
    env.tx_query = &q;
    return bkd_core_router_msg(f->c, "r1", &env);
}

static rtr_status_t
ev_open(fx_t *f, const char *id, uint32_t channel, uint32_t flags, const uint8_t *low,
        const uint8_t *high)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;

    o.channel = channel;
    o.flags = flags;
    o.has_key_low = 1;
    o.key_low.data = (uint8_t *)(uintptr_t)low;
    o.key_low.len = 4;
    o.has_key_high = 1;
    o.key_high.data = (uint8_t *)(uintptr_t)high;
    o.key_high.len = 4;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
    env.channel_open = &o;
    return bkd_core_server_msg(f->c, id, &env);
}

static rtr_status_t
ev_reply(fx_t *f, const char *id, uint64_t counter, uint32_t index, const char *body)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerReply r = RTR__SERVER_REPLY__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    r.tid.data = tid;
    r.tid.len = 16;
    r.channel = 1;
    r.index = index;
    r.body.data = (uint8_t *)(uintptr_t)body;
    r.body.len = strlen(body);
    env.body_case = RTR__ENVELOPE__BODY_SERVER_REPLY;
    env.server_reply = &r;
    return bkd_core_server_msg(f->c, id, &env);
}

static rtr_status_t ev_vote_ex(fx_t *f, const char *id, uint64_t counter, bool accept,
                               bool already_applied, bool retry);

static rtr_status_t
ev_vote(fx_t *f, const char *id, uint64_t counter, bool accept, bool already_applied)
{
    return ev_vote_ex(f, id, counter, accept, already_applied, false);
}

/* ev_vote_ex - ServerVote from server `id` for TID counter (reject reason 17; `retry`: the
 * reject asks for another execution, RTR_F_REJ_RETRY). */
static rtr_status_t
ev_vote_ex(fx_t *f, const char *id, uint64_t counter, bool accept, bool already_applied, bool retry)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerVote v = RTR__SERVER_VOTE__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    v.tid.data = tid;
    v.tid.len = 16;
    v.channel = 1;
    v.accept = accept;
    v.has_reason = !accept;
    v.reason = accept ? 0 : 17;
    v.has_already_applied = already_applied;
    v.already_applied = already_applied;
    v.has_retry = retry;
    v.retry = retry;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
    env.server_vote = &v;
    return bkd_core_server_msg(f->c, id, &env);
}

static rtr_status_t
ev_done(fx_t *f, const char *id, uint64_t counter)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerDone d = RTR__SERVER_DONE__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    d.tid.data = tid;
    d.tid.len = 16;
    d.channel = 1;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_DONE;
    env.server_done = &d;
    return bkd_core_server_msg(f->c, id, &env);
}

static void
want_deliver(fx_t *f, size_t i, const char *to, uint64_t counter, Rtr__DeliverKind kind,
             uint32_t index, const char *body)
{
    const Rtr__Envelope *e = fx_send(f, i, BKD_SOCK_SERVERS, to, RTR__ENVELOPE__BODY_DELIVER);
    uint8_t tid[16];

    tid_of(counter, tid);
    cr_assert_eq(e->deliver->tid.len, 16);
    cr_assert_eq(memcmp(e->deliver->tid.data, tid, 16), 0);
    cr_assert_eq(e->deliver->kind, kind, "kind %d want %d", e->deliver->kind, kind);
    cr_assert_eq(e->deliver->index, index);
    cr_assert_eq(e->deliver->channel, 1);
    cr_assert_eq(e->deliver->body.len, strlen(body));
    cr_assert_eq(memcmp(e->deliver->body.data, body, strlen(body)), 0);
}

static const Rtr__JournalRecord *
want_append(fx_t *f, size_t i, uint64_t n, uint64_t *ticket)
{
    cr_assert_lt(i, f->n);
    cr_assert_eq(f->a[i].kind, BKD_ACT_JOURNAL_APPEND, "action %zu kind %d", i, f->a[i].kind);
    cr_assert_eq(f->a[i].part, 0);
    cr_assert_eq(f->a[i].rec->n, n, "n %llu want %llu", (unsigned long long)f->a[i].rec->n,
                 (unsigned long long)n);
    cr_assert_eq(f->a[i].rec->state, RTR__TX_STATE__TX_VOTED);
    *ticket = f->a[i].ticket;
    return f->a[i].rec;
}

static void
want_set_state(fx_t *f, size_t i, uint64_t n, Rtr__TxState state, uint64_t moved_to)
{
    cr_assert_lt(i, f->n);
    cr_assert_eq(f->a[i].kind, BKD_ACT_JOURNAL_SET_STATE, "action %zu kind %d", i, f->a[i].kind);
    cr_assert_eq(f->a[i].n, n);
    cr_assert_eq(f->a[i].state, state, "state %d want %d", f->a[i].state, state);
    cr_assert_eq(f->a[i].moved_to, moved_to);
}

static void
want_tx_outcome(fx_t *f, size_t i, bool accepted, uint32_t status, uint64_t csn)
{
    const Rtr__Envelope *e = fx_send(f, i, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert_eq(e->tx_outcome->accepted, accepted);
    cr_assert_eq(e->tx_outcome->status, status, "status %s want %s",
                 rtr_status_name(e->tx_outcome->status), rtr_status_name(status));
    cr_assert_eq(e->tx_outcome->channel, 7);
    cr_assert_eq(e->tx_outcome->has_csn, csn != 0);
    if (csn)
        cr_assert_eq(e->tx_outcome->csn, csn);
}

static void
want_server_outcome(fx_t *f, size_t i, const char *to, bool accepted)
{
    const Rtr__Envelope *e =
        fx_send(f, i, BKD_SOCK_SERVERS, to, RTR__ENVELOPE__BODY_SERVER_OUTCOME);
    cr_assert_eq(e->server_outcome->accepted, accepted);
}

/* open server channel `id` on P1 and check ChannelStatus OK. */
static void
attach(fx_t *f, const char *id, uint32_t flags)
{
    const Rtr__Envelope *e;
    cr_assert_eq(ev_open(f, id, 1, flags, LOW, HIGH), RTR_STS_OK);
    cr_assert_geq(fx_drain(f), 1);
    e = fx_send(f, 0, BKD_SOCK_SERVERS, id, RTR__ENVELOPE__BODY_CHANNEL_STATUS);
    cr_assert_eq(e->channel_status->status, RTR_STS_OK);
    cr_assert_str_eq(e->channel_status->partition, "P1");
}

/* run a transaction through its vote: msg + vote request + accept; returns the append ticket. */
static uint64_t
to_voted(fx_t *f, const char *id, uint64_t counter, uint64_t want_n)
{
    uint64_t ticket = 0;
    cr_assert_eq(ev_tx_msg(f, counter, 0, "m0", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(f), 1);
    want_deliver(f, 0, id, counter, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "m0");
    cr_assert_eq(ev_vote_request(f, counter, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(f), 1);
    fx_send(f, 0, BKD_SOCK_SERVERS, id, RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(ev_vote(f, id, counter, true, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(f), 1);
    want_append(f, 0, want_n, &ticket);
    return ticket;
}

/* ---- tests ------------------------------------------------------------------------------- */

Test(bkd_core, happy_path_commit_only_after_hardened)
{
    fx_t f;
    uint64_t ticket = 0;
    const Rtr__JournalRecord *rec;
    const Rtr__Envelope *e;
    bkd_tx_info_t ti;
    cmn_tid_t t = { INC, 1 };

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "hello", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_deliver(&f, 0, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "hello");

    cr_assert_eq(ev_reply(&f, "s-1", 1, 0, "r0"), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_REPLY);
    cr_assert_eq(e->tx_reply->index, 0);
    cr_assert_eq(e->tx_reply->channel, 7);
    cr_assert_eq(memcmp(e->tx_reply->body.data, "r0", 2), 0);

    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(e->vote_request->nmsgs, 1);

    cr_assert_eq(ev_vote(&f, "s-1", 1, true, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    rec = want_append(&f, 0, 1, &ticket);
    cr_assert_eq(rec->epoch, 1);
    cr_assert_eq(rec->n_messages, 1);
    cr_assert_eq(memcmp(rec->messages[0]->body.data, "hello", 5), 0);
    cr_assert(rec->has_digest);
    cr_assert_eq(rec->digest.len, 8);
    cr_assert_eq(rec->watermark, 1);
    cr_assert_eq(rec->accepted_ms, 5000);
    cr_assert_str_eq(rec->coordinator, "P1");
    cr_assert_eq(ticket, 1);

    /* Not hardened yet: no outcome to anyone, even on a timer tick. */
    bkd_core_timer(f.c, 1050, 5050);
    cr_assert_eq(fx_drain(&f), 0);
    cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
    cr_assert_eq(ti.state, BKD_TX_HARDENING);

    bkd_core_journal_hardened(f.c, ticket);
    cr_assert_eq(fx_drain(&f), 2);
    want_tx_outcome(&f, 0, true, RTR_STS_OK, 1);
    want_server_outcome(&f, 1, "s-1", true);

    /* ServerOutcome is resent until ServerDone. */
    bkd_core_timer(f.c, 1200, 5200);
    cr_assert_eq(fx_drain(&f), 1);
    want_server_outcome(&f, 0, "s-1", true);

    cr_assert_eq(ev_done(&f, "s-1", 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_set_state(&f, 0, 1, RTR__TX_STATE__TX_DONE, 0);
    cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
    cr_assert_eq(ti.state, BKD_TX_DONE);
    bkd_core_timer(f.c, 2000, 6000);
    cr_assert_eq(fx_drain(&f), 0);

    /* A query now returns the recorded outcome. */
    cr_assert_eq(ev_tx_query(&f, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->state, RTR__TX_STATE__TX_DONE);
    cr_assert_eq(e->tx_query_reply->request_id, 42);
    cr_assert(e->tx_query_reply->outcome->accepted);
    cr_assert_eq(e->tx_query_reply->outcome->csn, 1);
    fx_free(&f);
}

Test(bkd_core, server_reject_aborts_without_journal)
{
    fx_t f;
    const Rtr__Envelope *e;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "m0", 0), RTR_STS_OK);
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    cr_assert_eq(ev_vote(&f, "s-1", 1, false, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    want_tx_outcome(&f, 0, false, RTR_STS_SRVREJECT, 0);
    cr_assert_eq(f.a[0].env->tx_outcome->reason, 17);
    e = fx_send(&f, 1, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_SERVER_OUTCOME);
    cr_assert_not(e->server_outcome->accepted);
    cr_assert_eq(e->server_outcome->reason, 17);
    cr_assert_eq(ev_done(&f, "s-1", 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 0, "no journal action for an abort");
    /* the next transaction still gets CSN 1: the abort took none */
    to_voted(&f, "s-1", 2, 1);
    fx_free(&f);
}

Test(bkd_core, reject_with_retry_delivers_again_until_the_limit)
{
    fx_t f;
    const Rtr__Envelope *e;
    bkd_tx_info_t ti;
    bkd_core_counters_t k;
    cmn_tid_t t = { INC, 1 };

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "m0", 0), RTR_STS_OK);
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2); /* msg1 + the vote request */
    for (int i = 0; i < 3; i++) {  /* replay_limit 3: three retries */
        cr_assert_eq(ev_vote_ex(&f, "s-1", 1, false, false, true), RTR_STS_OK);
        cr_assert_eq(fx_drain(&f), 1, "the server only: nothing to the router, nothing journaled");
        e = fx_send(&f, 0, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_SERVER_OUTCOME);
        cr_assert_not(e->server_outcome->accepted);
        cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
        cr_assert_eq(ti.state, BKD_TX_RETRYING);
        cr_assert_eq(ev_done(&f, "s-1", 1), RTR_STS_OK);
        cr_assert_eq(fx_drain(&f), 2, "delivered again: msg1 and the vote request");
        want_deliver(&f, 0, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "m0");
        fx_send(&f, 1, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    }
    /* the fourth reject is final, with the server's reason */
    cr_assert_eq(ev_vote_ex(&f, "s-1", 1, false, false, true), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    want_tx_outcome(&f, 0, false, RTR_STS_SRVREJECT, 0);
    cr_assert_eq(f.a[0].env->tx_outcome->reason, 17);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.retries, 3);
    fx_free(&f);
}

Test(bkd_core, retrying_transaction_whose_server_dies_goes_to_another)
{
    fx_t f;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "m0", 0), RTR_STS_OK);
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    fx_drain(&f);
    cr_assert_eq(ev_vote_ex(&f, "s-1", 1, false, false, true), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    attach(&f, "s-2", 0);
    cr_assert_eq(f.n, 1, "s-1 still holds it until its ServerDone");
    bkd_core_server_lost(f.c, "s-1");
    cr_assert_eq(fx_drain(&f), 2);
    want_deliver(&f, 0, "s-2", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "m0");
    fx_free(&f);
}

Test(bkd_core, concurrent_servers_share_the_queue)
{
    fx_t f;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "b", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 3, 0, "c", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    want_deliver(&f, 0, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "a");
    want_deliver(&f, 1, "s-2", 2, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "b");
    /* tx 3 waits for the first free server: s-2 after its abort is done */
    cr_assert_eq(ev_vote_request(&f, 2, 1), RTR_STS_OK);
    cr_assert_eq(ev_vote(&f, "s-2", 2, false, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 3);
    cr_assert_eq(ev_done(&f, "s-2", 2), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_deliver(&f, 0, "s-2", 3, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "c");
    fx_free(&f);
}

Test(bkd_core, noconcurrent_server_takes_the_partition_alone)
{
    fx_t f;

    fx_new(&f, true, 0);
    attach(&f, "s-1", BKD_OPE_NOCONCURRENT);
    attach(&f, "s-2", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1, "one transaction at a time on the partition");
    want_deliver(&f, 0, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "a");
    cr_assert_eq(ev_tx_abort(&f, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_server_outcome(&f, 0, "s-1", false);
    cr_assert_eq(ev_done(&f, "s-1", 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_deliver(&f, 0, "s-1", 2, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "b");
    fx_free(&f);
}

Test(bkd_core, non_concurrent_partition_serves_one_at_a_time)
{
    fx_t f;

    fx_new(&f, false, 0);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    fx_free(&f);
}

Test(bkd_core, explicit_prepare_gets_the_vote_request_after_an_early_accept)
{
    fx_t f;
    uint64_t ticket;

    /* implicit: an early accept needs no vote request; the record goes out at once */
    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_vote(&f, "s-1", 1, true, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1, "delivered; the early vote waits for the vote request");
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_append(&f, 0, 1, &ticket);
    fx_free(&f);

    /* explicit prepare: the server sees the vote request even after accepting early */
    fx_new(&f, true, 0);
    attach(&f, "s-1", BKD_OPE_EXPLICIT_PREPARE);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_vote(&f, "s-1", 1, true, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    fx_send(&f, 0, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    want_append(&f, 1, 1, &ticket);
    fx_free(&f);
}

Test(bkd_core, vote_request_resent_until_a_vote)
{
    fx_t f;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    bkd_core_timer(f.c, 1050, 5000);
    cr_assert_eq(fx_drain(&f), 0, "not due yet");
    bkd_core_timer(f.c, 1100, 5000);
    cr_assert_eq(fx_drain(&f), 1);
    fx_send(&f, 0, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    fx_free(&f);
}

Test(bkd_core, messages_gap_is_nacked_and_vote_waits)
{
    fx_t f;
    const Rtr__Envelope *e;
    uint64_t ticket;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 1, 2, "c", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    want_deliver(&f, 0, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "a");
    e = fx_send(&f, 1, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(e->tx_nack->from_index, 1);
    cr_assert_eq(ev_vote_request(&f, 1, 3), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    fx_send(&f, 0, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(ev_tx_msg(&f, 1, 1, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 3);
    want_deliver(&f, 0, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSGN, 1, "b");
    want_deliver(&f, 1, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSGN, 2, "c");
    cr_assert(f.a[1].env->deliver->last);
    fx_send(&f, 2, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(ev_vote(&f, "s-1", 1, true, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    cr_assert_eq(want_append(&f, 0, 1, &ticket)->n_messages, 3);
    fx_free(&f);
}

Test(bkd_core, replay_msg1_on_server_loss_before_the_vote)
{
    fx_t f;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 1, 1, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    bkd_core_server_lost(f.c, "s-1");
    cr_assert_eq(fx_drain(&f), 2);
    want_deliver(&f, 0, "s-2", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "a");
    want_deliver(&f, 1, "s-2", 1, RTR__DELIVER_KIND__DELIVER_MSGN, 1, "b");
    /* a late message of the dead server is ignored */
    cr_assert_eq(ev_vote(&f, "s-1", 1, true, false), RTR_STS_INVARG);
    cr_assert_eq(fx_drain(&f), 0);
    fx_free(&f);
}

Test(bkd_core, replay_to_the_restarted_server)
{
    fx_t f;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    bkd_core_server_lost(f.c, "s-1");
    cr_assert_eq(fx_drain(&f), 0, "no server: it waits in the queue");
    cr_assert_eq(bkd_core_server_count(f.c), 0);
    attach(&f, "s-9", 0);
    cr_assert_eq(f.n, 2);
    want_deliver(&f, 1, "s-9", 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "a");
    fx_free(&f);
}

/* commit tx 1 on s-1 up to the outcome, without ServerDone; returns nothing. */
static void
commit_without_done(fx_t *f)
{
    uint64_t ticket = to_voted(f, "s-1", 1, 1);
    bkd_core_journal_hardened(f->c, ticket);
    cr_assert_eq(fx_drain(f), 2);
    want_tx_outcome(f, 0, true, RTR_STS_OK, 1);
    want_server_outcome(f, 1, "s-1", true);
}

Test(bkd_core, msg1_uncertain_after_commit_without_done_already_applied_keeps_csn)
{
    fx_t f;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    commit_without_done(&f);
    bkd_core_server_lost(f.c, "s-1");
    cr_assert_eq(fx_drain(&f), 2);
    want_deliver(&f, 0, "s-2", 1, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN, 0, "m0");
    fx_send(&f, 1, BKD_SOCK_SERVERS, "s-2", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(ev_vote(&f, "s-2", 1, true, true), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1, "old CSN stands: no journal append, no second TxOutcome");
    want_server_outcome(&f, 0, "s-2", true);
    cr_assert_eq(ev_done(&f, "s-2", 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_set_state(&f, 0, 1, RTR__TX_STATE__TX_DONE, 0);
    fx_free(&f);
}

Test(bkd_core, a_channel_announced_again_replays_what_it_held)
{
    fx_t f;

    /* librtr lost its link to the backend (a frozen backend: no new incarnation) and rolled
     * back what its channel held; on the new link it announces the channel again. The backend
     * must not wait for a ServerDone that will never come: it replays, msg1_uncertain. */
    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    commit_without_done(&f);
    cr_assert_eq(ev_open(&f, "s-1", 1, 0, LOW, HIGH), RTR_STS_OK);
    size_t n = fx_drain(&f);
    bool status = false, replayed = false;
    for (size_t i = 0; i < n; i++) {
        if (f.a[i].kind != BKD_ACT_SEND)
            continue;
        if (f.a[i].env->body_case == RTR__ENVELOPE__BODY_CHANNEL_STATUS)
            status = true;
        if (f.a[i].env->body_case == RTR__ENVELOPE__BODY_DELIVER) {
            cr_assert_eq(f.a[i].env->deliver->kind, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN);
            replayed = true;
        }
    }
    cr_assert(status, "no ChannelStatus");
    cr_assert(replayed, "the held transaction was not replayed (%zu actions)", n);
    fx_free(&f);
}

Test(bkd_core, reexecution_gets_a_new_csn_and_the_old_becomes_moved)
{
    fx_t f;
    uint64_t ticket;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    commit_without_done(&f);
    bkd_core_server_lost(f.c, "s-1");
    cr_assert_eq(fx_drain(&f), 2);
    cr_assert_eq(ev_vote(&f, "s-2", 1, true, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    cr_assert_eq(want_append(&f, 0, 2, &ticket)->replays, 1);
    want_set_state(&f, 1, 1, RTR__TX_STATE__TX_MOVED, 2);
    bkd_core_journal_hardened(f.c, f.a[1].ticket);
    cr_assert_eq(fx_drain(&f), 1, "the client already has its outcome");
    want_server_outcome(&f, 0, "s-2", true);
    cr_assert_eq(ev_done(&f, "s-2", 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_set_state(&f, 0, 2, RTR__TX_STATE__TX_DONE, 0);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.moved, 1);
    cr_assert_eq(k.tx_committed, 1);
    fx_free(&f);
}

Test(bkd_core, exception_after_the_replay_limit)
{
    fx_t f;
    bkd_tx_info_t ti;
    cmn_tid_t t = { INC, 1 };
    char id[8];

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    commit_without_done(&f);
    for (int i = 0; i < 3; i++) { /* replays 1..3 are allowed */
        snprintf(id, sizeof(id), "s-%d", i + 1);
        bkd_core_server_lost(f.c, id);
        cr_assert_eq(fx_drain(&f), 0);
        snprintf(id, sizeof(id), "s-%d", i + 2);
        attach(&f, id, 0);
        cr_assert_eq(f.n, 3);
        want_deliver(&f, 1, id, 1, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN, 0, "m0");
    }
    bkd_core_server_lost(f.c, "s-4");
    cr_assert_eq(fx_drain(&f), 1);
    want_set_state(&f, 0, 1, RTR__TX_STATE__TX_EXCEPTION, 0);
    cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
    cr_assert_eq(ti.state, BKD_TX_EXCEPTION);
    attach(&f, "s-5", 0);
    cr_assert_eq(f.n, 1, "an EXCEPTION waits for the operator, it is not delivered");
    fx_free(&f);
}

/* exception - commit TID 1 without ServerDone, then lose servers until it is in EXCEPTION with
 * server s-5 attached and idle. */
static void
exception(fx_t *f)
{
    char id[8];

    attach(f, "s-1", 0);
    commit_without_done(f);
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "s-%d", i + 1);
        bkd_core_server_lost(f->c, id);
        fx_drain(f);
        if (i < 3) {
            snprintf(id, sizeof(id), "s-%d", i + 2);
            attach(f, id, 0);
        }
    }
    want_set_state(f, 0, 1, RTR__TX_STATE__TX_EXCEPTION, 0);
    attach(f, "s-5", 0);
    cr_assert_eq(f->n, 1, "an EXCEPTION waits for the operator");
}

Test(bkd_core, operator_retries_an_exception)
{
    fx_t f;
    bkd_tx_info_t ti;
    cmn_tid_t t = { INC, 1 }, other = { INC, 99 };

    fx_new(&f, true, 0);
    exception(&f);
    cr_assert_eq(bkd_core_tx_settle(f.c, &other, true), RTR_STS_NOTFOUND);
    cr_assert_eq(bkd_core_tx_settle(f.c, &t, true), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 3);
    want_set_state(&f, 0, 1, RTR__TX_STATE__TX_VOTED, 0);
    want_deliver(&f, 1, "s-5", 1, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN, 0, "m0");
    fx_send(&f, 2, BKD_SOCK_SERVERS, "s-5", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
    cr_assert_eq(ti.replays, 0, "the replay count starts again");
    cr_assert_eq(bkd_core_tx_settle(f.c, &t, true), RTR_STS_INVARG, "no longer in EXCEPTION");
    cr_assert_eq(ev_vote(&f, "s-5", 1, true, true), RTR_STS_OK); /* already applied */
    cr_assert_eq(fx_drain(&f), 1, "the old CSN stands: no append, no second TxOutcome");
    want_server_outcome(&f, 0, "s-5", true);
    cr_assert_eq(ev_done(&f, "s-5", 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_set_state(&f, 0, 1, RTR__TX_STATE__TX_DONE, 0);
    fx_free(&f);
}

Test(bkd_core, operator_marks_an_exception_done)
{
    fx_t f;
    bkd_tx_info_t ti;
    cmn_tid_t t = { INC, 1 };

    fx_new(&f, true, 0);
    exception(&f);
    cr_assert_eq(bkd_core_tx_settle(f.c, &t, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1, "only the journal state: nothing is delivered");
    want_set_state(&f, 0, 1, RTR__TX_STATE__TX_DONE, 0);
    cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
    cr_assert_eq(ti.state, BKD_TX_DONE);
    cr_assert_eq(bkd_core_tx_settle(f.c, &t, false), RTR_STS_INVARG);
    fx_free(&f);
}

Test(bkd_core, undecided_transaction_aborted_after_the_replay_limit)
{
    fx_t f;
    char id[8];

    fx_new(&f, true, 0);
    attach(&f, "s-0", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "s-%d", i);
        bkd_core_server_lost(f.c, id);
        snprintf(id, sizeof(id), "s-%d", i + 1);
        attach(&f, id, 0);
        cr_assert_eq(f.n, 2);
        want_deliver(&f, 1, id, 1, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "a");
    }
    bkd_core_server_lost(f.c, "s-3");
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, false, RTR_STS_SRVDIED, 0);
    fx_free(&f);
}

Test(bkd_core, tid_reused_with_different_messages)
{
    fx_t f;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 0, "an identical resend is a duplicate");
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "X", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, false, RTR_STS_TIDREUSED, 0);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.tx_reused, 1);
    cr_assert_eq(k.duplicates, 1);
    fx_free(&f);
}

Test(bkd_core, forgotten_below_the_watermark)
{
    fx_t f;
    const Rtr__Envelope *e;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg_wm(&f, 10, "a", 10), RTR_STS_OK);
    fx_drain(&f);
    cr_assert_eq(ev_tx_query(&f, 3), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->state, 0);
    cr_assert(e->tx_query_reply->has_status);
    cr_assert_eq(e->tx_query_reply->status, RTR_STS_FORGOTTEN);
    /* in progress: state 0 and no status */
    cr_assert_eq(ev_tx_query(&f, 10), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->state, 0);
    cr_assert_not(e->tx_query_reply->has_status);
    /* a message below the watermark for an unknown TID */
    cr_assert_eq(ev_tx_msg_wm(&f, 4, "z", 10), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, false, RTR_STS_FORGOTTEN, 0);
    fx_free(&f);
}

Test(bkd_core, query_for_an_unknown_tid_fences_it)
{
    fx_t f;
    const Rtr__Envelope *e;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    /* TID 11 never arrived (its messages were lost with a router): not here, and now never */
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ev_tx_query(&f, 11), RTR_STS_OK);
        cr_assert_eq(fx_drain(&f), 1);
        e = fx_send(&f, 0, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
        cr_assert_eq(e->tx_query_reply->state, 0);
        cr_assert(e->tx_query_reply->has_status);
        cr_assert_eq(e->tx_query_reply->status, RTR_STS_NOTFOUND);
        cr_assert_null(e->tx_query_reply->outcome);
    }
    /* its late arrival is refused, never delivered */
    cr_assert_eq(ev_tx_msg(&f, 11, 0, "late", BKD_SEN_ACCEPT), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, false, RTR_STS_NOROUTER, 0);
    cr_assert_eq(ev_vote_request(&f, 11, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_ROUTER, "r1", RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert_not(e->tx_outcome->accepted);
    cr_assert_eq(e->tx_outcome->status, RTR_STS_NOROUTER);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.tx_fenced, 1);
    {
        cmn_tid_t t = { INC, 11 };
        bkd_tx_info_t ti;
        cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
        cr_assert_str_eq(ti.partition, "-", "a tombstone belongs to no partition");
        cr_assert_eq(ti.state, BKD_TX_DONE);
    }
    cr_assert_eq(k.tx_started, 0);
    fx_free(&f);
}

Test(bkd_core, csns_are_dense_and_continue_after_the_journal)
{
    fx_t f;
    uint64_t t1, t2, t3;

    fx_new(&f, true, 41);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    attach(&f, "s-3", 0);
    t1 = to_voted(&f, "s-1", 1, 42);
    /* an abort in between takes no CSN */
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "x", 0), RTR_STS_OK);
    cr_assert_eq(ev_vote_request(&f, 2, 1), RTR_STS_OK);
    cr_assert_eq(ev_vote(&f, "s-2", 2, false, false), RTR_STS_OK);
    fx_drain(&f);
    t2 = to_voted(&f, "s-3", 3, 43);
    cr_assert_eq(ev_done(&f, "s-2", 2), RTR_STS_OK);
    fx_drain(&f);
    t3 = to_voted(&f, "s-2", 4, 44);
    cr_assert_eq(t2, t1 + 1);
    cr_assert_eq(t3, t2 + 1);
    /* hardened out of the journal in one go: three outcomes, CSN order */
    bkd_core_journal_hardened(f.c, t3);
    cr_assert_eq(fx_drain(&f), 6);
    cr_assert_eq(f.a[0].env->tx_outcome->csn, 42);
    cr_assert_eq(f.a[2].env->tx_outcome->csn, 43);
    cr_assert_eq(f.a[4].env->tx_outcome->csn, 44);
    fx_free(&f);
}

Test(bkd_core, no_server_for_the_partition_is_nodstfnd_but_held_work_waits)
{
    fx_t f;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, false, RTR_STS_NODSTFND, 0);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.tx_noserver, 1);
    cr_assert_eq(k.tx_started, 0, "nothing was queued");

    /* a transaction held when the last server goes away waits for the next one */
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    bkd_core_server_lost(f.c, "s-1");
    cr_assert_eq(fx_drain(&f), 0, "no outcome: the transaction is held");
    cr_assert_eq(ev_tx_msg(&f, 3, 0, "c", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, false, RTR_STS_NODSTFND, 0);
    attach(&f, "s-2", 0);
    cr_assert_eq(f.n, 2);
    want_deliver(&f, 1, "s-2", 2, RTR__DELIVER_KIND__DELIVER_MSG1, 0, "b");
    fx_free(&f);
}

Test(bkd_core, abort_before_the_vote)
{
    fx_t f;
    uint64_t ticket;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    cr_assert_eq(ev_tx_abort(&f, 2), RTR_STS_OK); /* queued: dropped at once */
    cr_assert_eq(fx_drain(&f), 0);
    cr_assert_eq(ev_tx_abort(&f, 1), RTR_STS_OK); /* delivered: the server rolls back */
    cr_assert_eq(fx_drain(&f), 1);
    want_server_outcome(&f, 0, "s-1", false);
    cr_assert_eq(f.a[0].env->server_outcome->status, RTR_STS_TIMOUT);
    cr_assert_eq(ev_done(&f, "s-1", 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 0);
    /* after the vote request the router can no longer abort */
    to_voted(&f, "s-1", 3, 1);
    cr_assert_eq(ev_tx_abort(&f, 3), RTR_STS_INVARG);
    cr_assert_eq(fx_drain(&f), 0);
    (void)ticket;
    fx_free(&f);
}

Test(bkd_core, channel_open_outside_served_partitions_is_refused)
{
    fx_t f;
    const Rtr__Envelope *e;
    static const uint8_t mid_lo[4] = { 0x70, 0, 0, 0 }, mid_hi[4] = { 0x90, 0, 0, 0 };

    fx_new(&f, true, 0);
    cr_assert_eq(ev_open(&f, "s-1", 1, 0, mid_lo, mid_hi), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_CHANNEL_STATUS);
    cr_assert_eq(e->channel_status->status, RTR_STS_INVPKEYSEG);
    cr_assert_eq(bkd_core_server_count(f.c), 0);
    cr_assert_eq(ev_open(&f, "s-1", 1, 0, LOW2, HIGH2), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    e = fx_send(&f, 0, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_CHANNEL_STATUS);
    cr_assert_eq(e->channel_status->status, RTR_STS_OK);
    cr_assert_str_eq(e->channel_status->partition, "P2");
    fx_free(&f);
}

Test(bkd_core, wrong_bodies_are_counted_never_applied)
{
    fx_t f;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    cr_assert_eq(bkd_core_router_msg(f.c, "r1", &env), RTR_STS_INVARG);
    cr_assert_eq(bkd_core_server_msg(f.c, "s-1", &env), RTR_STS_INVARG);
    cr_assert_eq(ev_vote(&f, "s-1", 1, true, false), RTR_STS_INVARG);
    cr_assert_eq(fx_drain(&f), 0);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.unexpected, 3);
    fx_free(&f);
}

Test(bkd_core, journal_full_rejects_and_hands_back_the_csn)
{
    fx_t f;
    uint64_t ticket;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    ticket = to_voted(&f, "s-1", 1, 1);
    bkd_core_journal_full(f.c, ticket);
    cr_assert_eq(fx_drain(&f), 2);
    want_tx_outcome(&f, 0, false, RTR_STS_JNLFULL, 0);
    want_server_outcome(&f, 1, "s-1", false);
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, false, RTR_STS_JNLFULL, 0);
    fx_free(&f);
}

Test(bkd_core, journal_record_loaded_at_start_is_replayed_uncertain)
{
    fx_t f;
    Rtr__JournalRecord r = RTR__JOURNAL_RECORD__INIT;
    Rtr__TxMessage m = RTR__TX_MESSAGE__INIT, *mp = &m;
    uint8_t tid[16];
    uint64_t ticket;

    fx_new(&f, true, 0);
    tid_of(5, tid);
    m.index = 0;
    m.body.data = (uint8_t *)"m0";
    m.body.len = 2;
    r.epoch = 1;
    r.n = 7;
    r.tid.data = tid;
    r.tid.len = 16;
    r.state = RTR__TX_STATE__TX_VOTED;
    r.n_messages = 1;
    r.messages = &mp;
    cr_assert_eq(bkd_core_load_record(f.c, 0, &r), RTR_STS_OK);
    attach(&f, "s-1", 0);
    cr_assert_eq(f.n, 3);
    want_deliver(&f, 1, "s-1", 5, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN, 0, "m0");
    fx_send(&f, 2, BKD_SOCK_SERVERS, "s-1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    /* the next new transaction continues after the loaded CSN */
    attach(&f, "s-2", 0);
    to_voted(&f, "s-2", 6, 8);
    (void)ticket;
    fx_free(&f);
}

Test(bkd_core, router_lost_aborts_only_what_is_not_voting)
{
    fx_t f;
    uint64_t ticket;
    bkd_tx_info_t ti;
    cmn_tid_t t1 = { INC, 1 }, t2 = { INC, 2 };

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    ticket = to_voted(&f, "s-1", 1, 1); /* in VOTING: the backend decides alone */
    cr_assert_eq(ev_tx_msg(&f, 2, 0, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    bkd_core_router_lost(f.c, "r1");
    cr_assert_eq(fx_drain(&f), 1);
    want_server_outcome(&f, 0, "s-2", false);
    cr_assert_eq(f.a[0].env->server_outcome->status, RTR_STS_NOROUTER);
    cr_assert_eq(bkd_core_tx_info(f.c, &t2, &ti), RTR_STS_OK);
    cr_assert_eq(ti.state, BKD_TX_ABORTED);
    bkd_core_journal_hardened(f.c, ticket);
    cr_assert_eq(fx_drain(&f), 2, "the voting one still commits");
    want_tx_outcome(&f, 0, true, RTR_STS_OK, 1);
    cr_assert_eq(bkd_core_tx_info(f.c, &t1, &ti), RTR_STS_OK);
    cr_assert_eq(ti.state, BKD_TX_COMMITTED);
    fx_free(&f);
}

Test(bkd_core, server_nack_resends_deliveries)
{
    fx_t f;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxNack k = RTR__TX_NACK__INIT;
    uint8_t tid[16];

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_tx_msg(&f, 1, 0, "a", 0), RTR_STS_OK);
    cr_assert_eq(ev_tx_msg(&f, 1, 1, "b", 0), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    tid_of(1, tid);
    k.tid.data = tid;
    k.tid.len = 16;
    k.from_index = 1;
    k.has_channel = 1;
    k.channel = 1;
    env.body_case = RTR__ENVELOPE__BODY_TX_NACK;
    env.tx_nack = &k;
    cr_assert_eq(bkd_core_server_msg(f.c, "s-1", &env), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_deliver(&f, 0, "s-1", 1, RTR__DELIVER_KIND__DELIVER_MSGN, 1, "b");
    fx_free(&f);
}

Test(bkd_core, duplicate_vote_request_after_commit_resends_the_outcome)
{
    fx_t f;
    uint64_t ticket;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    ticket = to_voted(&f, "s-1", 1, 1);
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 0, "nothing is said before the record hardens");
    bkd_core_journal_hardened(f.c, ticket);
    cr_assert_eq(fx_drain(&f), 2);
    cr_assert_eq(ev_vote_request(&f, 1, 1), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    want_tx_outcome(&f, 0, true, RTR_STS_OK, 1);
    fx_free(&f);
}

Test(bkd_core, refused_uncertain_replay_counts_toward_the_limit)
{
    fx_t f;
    bkd_tx_info_t ti;
    cmn_tid_t t = { INC, 1 };

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    commit_without_done(&f);
    bkd_core_server_lost(f.c, "s-1");
    cr_assert_eq(fx_drain(&f), 2);
    want_deliver(&f, 0, "s-2", 1, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN, 0, "m0");
    /* a committed transaction the server refuses is delivered again, never aborted */
    cr_assert_eq(ev_vote(&f, "s-2", 1, false, false), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    want_deliver(&f, 0, "s-2", 1, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN, 0, "m0");
    cr_assert_eq(bkd_core_tx_info(f.c, &t, &ti), RTR_STS_OK);
    cr_assert_eq(ti.replays, 2);
    cr_assert_eq(ti.n, 1);
    fx_free(&f);
}

/* ---- user events (Broadcast) ------------------------------------------------------------ */

static uint8_t bcast_body[WIRE_MAX_MSGLEN + 1];

/* ev_bcast - a Broadcast from server `id` (server != NULL) or from router "r1". */
static rtr_status_t
ev_bcast(fx_t *f, const char *server, uint32_t evtnum, size_t len, const char *rcpspc)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Broadcast b = RTR__BROADCAST__INIT;

    memset(bcast_body, 'e', sizeof bcast_body);
    b.evtnum = evtnum;
    b.body.data = bcast_body;
    b.body.len = len;
    b.rcpspc = (char *)(uintptr_t)rcpspc;
    env.body_case = RTR__ENVELOPE__BODY_BROADCAST;
    env.broadcast = &b;
    return server != NULL ? bkd_core_server_msg(f->c, server, &env)
                          : bkd_core_router_msg(f->c, "r1", &env);
}

static void
expect_bcast(fx_t *f, size_t i, bkd_sock_t sock, const char *to, uint32_t evtnum, size_t len,
             const char *rcpspc)
{
    const Rtr__Envelope *e = fx_send(f, i, sock, to, RTR__ENVELOPE__BODY_BROADCAST);
    cr_assert_eq(e->broadcast->evtnum, evtnum);
    cr_assert_eq(e->broadcast->body.len, len);
    if (len > 0)
        cr_assert_eq(memcmp(e->broadcast->body.data, bcast_body, len), 0);
    if (rcpspc == NULL)
        cr_assert_null(e->broadcast->rcpspc);
    else
        cr_assert_str_eq(e->broadcast->rcpspc, rcpspc);
}

Test(bkd_core, server_broadcast_goes_to_every_router_up)
{
    fx_t f;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    cr_assert_eq(ev_bcast(&f, "s-1", 3, 4, NULL), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 0); /* no router up yet: dropped */
    bkd_core_router_up(f.c, "r1");
    bkd_core_router_up(f.c, "r2");
    bkd_core_router_up(f.c, "r1"); /* idempotent */
    cr_assert_eq(ev_bcast(&f, "s-1", 250, WIRE_MAX_MSGLEN, "CL*"), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    expect_bcast(&f, 0, BKD_SOCK_ROUTER, "r1", 250, WIRE_MAX_MSGLEN, "CL*");
    expect_bcast(&f, 1, BKD_SOCK_ROUTER, "r2", 250, WIRE_MAX_MSGLEN, "CL*");
    bkd_core_router_lost(f.c, "r1");
    cr_assert_eq(ev_bcast(&f, "s-1", 0, 0, NULL), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    expect_bcast(&f, 0, BKD_SOCK_ROUTER, "r2", 0, 0, NULL);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.events_forwarded, 3);
    cr_assert_eq(k.events_dropped, 1);
    fx_free(&f);
}

Test(bkd_core, router_broadcast_goes_once_to_each_server_process)
{
    fx_t f;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    cr_assert_eq(ev_bcast(&f, NULL, 8, 2, NULL), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 0); /* no server attached: dropped */
    attach(&f, "s-1", 0);
    attach(&f, "s-2", 0);
    cr_assert_eq(ev_open(&f, "s-1", 2, 0, LOW2, HIGH2), RTR_STS_OK); /* s-1's second channel */
    fx_drain(&f);
    cr_assert_eq(ev_bcast(&f, NULL, 8, 2, "S%"), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 2);
    expect_bcast(&f, 0, BKD_SOCK_SERVERS, "s-1", 8, 2, "S%");
    expect_bcast(&f, 1, BKD_SOCK_SERVERS, "s-2", 8, 2, "S%");
    bkd_core_server_lost(f.c, "s-1");
    fx_drain(&f);
    cr_assert_eq(ev_bcast(&f, NULL, 9, 1, NULL), RTR_STS_OK);
    cr_assert_eq(fx_drain(&f), 1);
    expect_bcast(&f, 0, BKD_SOCK_SERVERS, "s-2", 9, 1, NULL);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.events_forwarded, 3);
    cr_assert_eq(k.events_dropped, 1);
    fx_free(&f);
}

Test(bkd_core, broadcast_out_of_limits_is_refused)
{
    fx_t f;
    bkd_core_counters_t k;

    fx_new(&f, true, 0);
    attach(&f, "s-1", 0);
    bkd_core_router_up(f.c, "r1");
    cr_assert_eq(ev_bcast(&f, NULL, 251, 1, NULL), RTR_STS_INVARG);
    cr_assert_eq(ev_bcast(&f, "s-1", 1001, 1, NULL), RTR_STS_INVARG);
    cr_assert_eq(ev_bcast(&f, "s-1", 1, WIRE_MAX_MSGLEN + 1, NULL), RTR_STS_INVARG);
    cr_assert_eq(fx_drain(&f), 0);
    bkd_core_counters(f.c, &k);
    cr_assert_eq(k.events_dropped, 3);
    cr_assert_eq(k.events_forwarded, 0);
    fx_free(&f);
}
