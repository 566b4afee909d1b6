/*
 * bkd_shadow_test.c - a shadow pair of backend cores (be1 primary, be2 member of partition P)
 * wired back to back: shadow frames travel encoded (the RecordBatch frames exactly as the
 * primary built them), each core has a journal model that hardens when the test says so and a
 * server model that answers by itself, and the router side is a list of the outcomes sent.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd.h"
#include "wire.h"

#define INC   0x5151515151515151ull
#define QMAX  4096
#define OUTMX 1024

static const uint8_t LOW[4] = { 0, 0, 0, 0 };
static const uint8_t HIGH[4] = { 0xff, 0xff, 0xff, 0xff };

typedef struct {
    uint8_t *buf;
    size_t len;
    int to; /* core index */
} sh_frame_t;

typedef struct {
    bkd_core_t *c;
    const char *name;
    bool auto_harden;
    uint64_t last_ticket; /* highest journal ticket queued */
    uint64_t hardened;
    uint32_t appends, set_states;
    uint64_t rec_n[QMAX]; /* n of every append, in order */
    /* server model */
    char srv_id[32];
    const char *reply_prefix; /* replies are prefix + message body */
    bool reject;
    uint32_t delivered, votes_req, outcomes_ok, outcomes_rej, replies_sent;
    char last_body[64];
    uint8_t chan_tid[8][16]; /* the transaction each channel (1..8) holds */
} sh_node_t;

static struct {
    sh_node_t n[2];
    sh_frame_t q[QMAX];
    size_t nq;
    int drop_batches; /* primary -> member RecordBatch frames still to drop */
    uint64_t now;
    /* router side */
    uint32_t accepted, rejected;
    uint64_t last_csn;
    uint32_t router_msgs_from_member;
} W;

/* ---- the world ---------------------------------------------------------------------------- */

/* sh_chan - the channel of core i's server that was given tid. */
static uint32_t
sh_chan(int i, const uint8_t *tid)
{
    for (uint32_t k = 0; k < 8; k++)
        if (memcmp(W.n[i].chan_tid[k], tid, 16) == 0)
            return k + 1;
    return 1;
}

static void
sh_server_send(int i, Rtr__Envelope *env)
{
    Rtr__Envelope saved = *env;
    wire_envelope_init(env, W.n[i].srv_id, 0, 7, RTR__ROLE__ROLE_SERVER);
    env->body_case = saved.body_case;
    env->heartbeat = saved.heartbeat; /* the body pointer, whatever its member */
    cr_assert_eq(bkd_core_server_msg(W.n[i].c, W.n[i].srv_id, env), RTR_STS_OK);
}

/* sh_server - the server model of core i receives env. */
static void
sh_server(int i, const Rtr__Envelope *env)
{
    sh_node_t *s = &W.n[i];
    Rtr__Envelope out = RTR__ENVELOPE__INIT;

    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_DELIVER: {
        const Rtr__Deliver *d = env->deliver;
        Rtr__ServerReply r = RTR__SERVER_REPLY__INIT;
        char body[128];
        s->delivered++;
        if (d->channel >= 1 && d->channel <= 8 && d->tid.len == 16)
            memcpy(s->chan_tid[d->channel - 1], d->tid.data, 16);
        snprintf(s->last_body, sizeof(s->last_body), "%.*s", (int)d->body.len,
                 (const char *)d->body.data);
        snprintf(body, sizeof(body), "%s%.*s", s->reply_prefix, (int)d->body.len,
                 (const char *)d->body.data);
        r.tid = d->tid;
        r.channel = d->channel;
        r.index = d->index;
        r.body.data = (uint8_t *)body;
        r.body.len = strlen(body);
        out.body_case = RTR__ENVELOPE__BODY_SERVER_REPLY;
        out.server_reply = &r;
        s->replies_sent++;
        sh_server_send(i, &out);
        break;
    }
    case RTR__ENVELOPE__BODY_VOTE_REQUEST: {
        Rtr__ServerVote v = RTR__SERVER_VOTE__INIT;
        s->votes_req++;
        v.tid = env->vote_request->tid;
        v.channel = sh_chan(i, v.tid.data);
        v.accept = !s->reject;
        out.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
        out.server_vote = &v;
        sh_server_send(i, &out);
        break;
    }
    case RTR__ENVELOPE__BODY_SERVER_OUTCOME: {
        Rtr__ServerDone d = RTR__SERVER_DONE__INIT;
        if (env->server_outcome->accepted)
            s->outcomes_ok++;
        else
            s->outcomes_rej++;
        d.tid = env->server_outcome->tid;
        d.channel = env->server_outcome->channel;
        out.body_case = RTR__ENVELOPE__BODY_SERVER_DONE;
        out.server_done = &d;
        sh_server_send(i, &out);
        break;
    }
    default:
        break;
    }
}

/* sh_drain - execute core i's actions; returns how many. */
static size_t
sh_drain(int i)
{
    sh_node_t *s = &W.n[i];
    bkd_action_t a;
    size_t k = 0;

    while (bkd_core_next_action(s->c, &a)) {
        k += a.kind != BKD_ACT_ARM_TIMER;
        switch (a.kind) {
        case BKD_ACT_SEND:
            if (a.sock == BKD_SOCK_SHADOW) {
                uint8_t *buf = a.frame;
                size_t len = a.framelen;
                a.frame = NULL;
                if (buf == NULL)
                    cr_assert_eq(wire_encode(&a.env->base, 0, &buf, &len), RTR_STS_OK);
                cr_assert_str_eq(a.to, W.n[1 - i].name);
                cr_assert_lt(W.nq, QMAX);
                W.q[W.nq++] = (sh_frame_t){ buf, len, 1 - i };
            } else if (a.sock == BKD_SOCK_SERVERS) {
                sh_server(i, a.env);
            } else {
                if (i == 1)
                    W.router_msgs_from_member++;
                if (a.env->body_case == RTR__ENVELOPE__BODY_TX_OUTCOME) {
                    if (a.env->tx_outcome->accepted) {
                        W.accepted++;
                        W.last_csn = a.env->tx_outcome->csn;
                    } else {
                        W.rejected++;
                    }
                }
            }
            break;
        case BKD_ACT_JOURNAL_APPEND:
            cr_assert_lt(s->appends, QMAX);
            s->rec_n[s->appends++] = a.rec->n;
            s->last_ticket = a.ticket;
            break;
        case BKD_ACT_JOURNAL_SET_STATE:
        case BKD_ACT_JOURNAL_TRUNCATE:
        case BKD_ACT_JOURNAL_META:
            s->set_states++;
            s->last_ticket = a.ticket;
            break;
        case BKD_ACT_ARM_TIMER:
        case BKD_ACT_JOURNAL_READ: /* static roles never catch up from the journal */
            break;
        }
        free(a.frame);
        a.frame = NULL;
        bkd_action_clear(&a);
    }
    return k;
}

static void
sh_harden(int i)
{
    sh_node_t *s = &W.n[i];
    if (s->hardened < s->last_ticket) {
        s->hardened = s->last_ticket;
        bkd_core_journal_hardened(s->c, s->hardened);
    }
}

/* settle - run both cores until nothing moves: actions, end-of-round flushes, frames. */
static void
settle(void)
{
    for (int guard = 0; guard < 100000; guard++) {
        size_t moved = 0;
        for (int i = 0; i < 2; i++) {
            moved += sh_drain(i);
            if (W.n[i].auto_harden && W.n[i].hardened < W.n[i].last_ticket) {
                sh_harden(i);
                moved++;
            }
            moved += sh_drain(i);
            bkd_core_flush(W.n[i].c);
            moved += sh_drain(i);
        }
        if (W.nq > 0) {
            sh_frame_t f = W.q[0];
            memmove(W.q, W.q + 1, (W.nq - 1) * sizeof(W.q[0]));
            W.nq--;
            Rtr__Envelope *env = NULL;
            cr_assert_eq(wire_envelope_decode(f.buf, f.len, 0, NULL, &env), RTR_STS_OK);
            free(f.buf);
            if (env->body_case == RTR__ENVELOPE__BODY_RECORDS && f.to == 1 && W.drop_batches > 0) {
                W.drop_batches--;
            } else {
                cr_assert_eq(bkd_core_shadow_msg(W.n[f.to].c, W.n[1 - f.to].name, env), RTR_STS_OK);
            }
            wire_free((ProtobufCMessage **)&env);
            moved++;
        }
        if (moved == 0)
            return;
    }
    cr_assert_fail("the pair does not settle");
}

static void
sh_open_channel(int i, uint32_t channel)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;
    o.channel = channel;
    o.flags = 0;
    o.has_key_low = o.has_key_high = true;
    o.key_low.data = (uint8_t *)(uintptr_t)LOW;
    o.key_low.len = 4;
    o.key_high.data = (uint8_t *)(uintptr_t)HIGH;
    o.key_high.len = 4;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
    env.channel_open = &o;
    sh_server_send(i, &env);
    sh_drain(i);
}

static void
sh_node_new(int i, uint64_t last_n, uint64_t incarnation)
{
    bkd_part_cfg_t part = { .name = "P",
                            .low = LOW,
                            .high = HIGH,
                            .concurrent = true,
                            .epoch = 3,
                            .last_n = last_n,
                            .role = i == 0 ? BKD_ROLE_PRIMARY : BKD_ROLE_MEMBER,
                            .partner = i == 0 ? "be2" : "be1" };
    bkd_core_cfg_t cfg = { .node = i == 0 ? "be1" : "be2",
                           .incarnation = incarnation,
                           .keylen = 4,
                           .nparts = 1,
                           .parts = &part,
                           .resend_ms = 100 };
    sh_node_t *n = &W.n[i];
    n->name = cfg.node;
    n->auto_harden = true;
    n->reply_prefix = "r:";
    n->last_ticket = n->hardened = 0;
    snprintf(n->srv_id, sizeof(n->srv_id), "s-%d", i);
    cr_assert_eq(bkd_core_new(&cfg, &n->c), RTR_STS_OK);
    bkd_core_timer(n->c, 1000, 5000);
    sh_open_channel(i, 1);
}

static void
sh_setup(void)
{
    memset(&W, 0, sizeof(W));
    for (int i = 0; i < 2; i++)
        sh_node_new(i, 0, 10 + (uint64_t)i);
    bkd_core_partner_up(W.n[0].c, "be2", 11);
    bkd_core_partner_up(W.n[1].c, "be1", 10);
    W.now = 1000;
}

static void
sh_teardown(void)
{
    for (int i = 0; i < 2; i++) {
        sh_drain(i);
        bkd_core_free(&W.n[i].c);
    }
    for (size_t i = 0; i < W.nq; i++)
        free(W.q[i].buf);
}

TestSuite(bkd_shadow, .init = sh_setup, .fini = sh_teardown);

/* tx - one transaction of one message through the primary: message + accept, as a router
 * sends them. */
static void
tx(uint64_t counter, const char *body)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    uint8_t tid[16];
    cmn_tid_t t = { INC, counter };

    cmn_tid_pack(&t, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.index = 0;
    m.channel = 9;
    m.body.data = (uint8_t *)(uintptr_t)body;
    m.body.len = strlen(body);
    m.has_flags = true;
    m.flags = BKD_SEN_ACCEPT;
    m.partition = "P";
    wire_envelope_init(&env, "r1", 0, 1, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    cr_assert_eq(bkd_core_router_msg(W.n[0].c, "r1", &env), RTR_STS_OK);
    Rtr__VoteRequest v = RTR__VOTE_REQUEST__INIT;
    v.tid = m.tid;
    v.nmsgs = 1;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &v;
    cr_assert_eq(bkd_core_router_msg(W.n[0].c, "r1", &env), RTR_STS_OK);
}

static void
info_fn(void *arg, const bkd_part_info_t *pi)
{
    *(bkd_part_info_t *)arg = *pi;
}

static bkd_part_info_t
info(int i)
{
    bkd_part_info_t out;
    memset(&out, 0, sizeof(out));
    bkd_core_each_part(W.n[i].c, info_fn, &out);
    return out;
}

static bkd_core_counters_t
ctr(int i)
{
    bkd_core_counters_t c;
    bkd_core_counters(W.n[i].c, &c);
    return c;
}

/* ---- tests ---------------------------------------------------------------------------------- */

Test(bkd_shadow, commit_waits_for_the_partners_hardened_copy)
{
    W.n[1].auto_harden = false;
    tx(1, "a");
    settle();
    /* hardened on the primary, sent, appended on the member but not hardened there */
    cr_assert_eq(W.n[0].appends, 1);
    cr_assert_eq(W.n[1].appends, 1);
    cr_assert_eq(W.n[1].rec_n[0], 1);
    cr_assert_eq(W.accepted, 0, "committed before the member hardened the record");
    cr_assert_eq(W.n[0].outcomes_ok, 0, "the primary's server was told before the member acked");
    sh_harden(1);
    settle();
    cr_assert_eq(W.accepted, 1);
    cr_assert_eq(W.last_csn, 1);
    cr_assert_eq(W.n[0].outcomes_ok, 1);
    bkd_part_info_t pi = info(0);
    cr_assert_str_eq(pi.state, "pri_act");
    cr_assert_eq(pi.partner_hardened, 1);
    cr_assert_eq(pi.lag_records, 0);
}

Test(bkd_shadow, member_executes_after_the_primary_in_csn_order)
{
    for (uint64_t k = 1; k <= 20; k++)
        tx(k, k % 2 ? "odd" : "even");
    settle();
    cr_assert_eq(W.accepted, 20);
    cr_assert_eq(W.n[1].appends, 20);
    for (uint32_t k = 0; k < 20; k++)
        cr_assert_eq(W.n[1].rec_n[k], k + 1);
    /* the member's server ran all of them, its replies went nowhere */
    cr_assert_eq(W.n[1].delivered, 20);
    cr_assert_eq(W.n[1].outcomes_ok, 20);
    cr_assert_eq(W.router_msgs_from_member, 0);
    cr_assert_eq(ctr(1).shadow_executed, 20);
    bkd_part_info_t p0 = info(0), p1 = info(1);
    cr_assert_eq(p0.applied_n, 20);
    cr_assert_eq(p1.applied_n, 20);
    cr_assert_str_eq(p1.state, "sec_act");
    cr_assert_eq(p0.partner_applied, 20);
    cr_assert_eq(p1.partner_applied, 20);
}

Test(bkd_shadow, member_waits_for_the_primary_to_apply)
{
    W.n[0].auto_harden = false;
    tx(1, "a");
    settle();
    /* the record goes out while the primary's own fsync runs (both in parallel), but the
     * member runs nothing before the primary decided and applied it */
    cr_assert_eq(W.n[1].appends, 1);
    cr_assert_eq(W.n[1].delivered, 0);
    cr_assert_eq(W.accepted, 0);
    sh_harden(0);
    W.n[1].auto_harden = true;
    settle();
    cr_assert_eq(W.accepted, 1);
    /* the primary's server said done: DONE record queued; the member ran it after */
    cr_assert_eq(W.n[1].delivered, 1);
    cr_assert_str_eq(W.n[1].last_body, "a");
}

Test(bkd_shadow, a_lost_batch_is_nacked_and_resent)
{
    sh_open_channel(0, 2); /* two transactions at once on the primary */
    W.drop_batches = 1;
    tx(1, "a");
    settle(); /* the batch with n=1 is lost: nothing reveals it yet */
    cr_assert_eq(W.n[1].appends, 0);
    tx(2, "b");
    settle(); /* n=2 arrives: a gap, NACK from 1, resend */
    cr_assert_eq(ctr(1).shadow_gaps, 1, "gaps %llu", (unsigned long long)ctr(1).shadow_gaps);
    cr_assert_eq(ctr(0).shadow_nacks_recv, 1);
    cr_assert_eq(W.accepted, 2);
    cr_assert_eq(W.n[1].appends, 2);
    cr_assert_eq(W.n[1].rec_n[0], 1);
    cr_assert_eq(W.n[1].rec_n[1], 2);
}

Test(bkd_shadow, a_lost_tail_is_resent_after_resend_ms)
{
    W.drop_batches = 1;
    tx(1, "a");
    settle();
    cr_assert_eq(W.accepted, 0);
    bkd_core_timer(W.n[0].c, 1050, 5050); /* not yet */
    settle();
    cr_assert_eq(W.accepted, 0);
    bkd_core_timer(W.n[0].c, 1100, 5100);
    settle();
    cr_assert_eq(W.accepted, 1);
    cr_assert_geq(ctr(0).shadow_resent, 1);
}

Test(bkd_shadow, duplicates_are_dropped_and_reacked)
{
    tx(1, "a");
    settle();
    /* the timer resends nothing once acked */
    bkd_core_timer(W.n[0].c, 5000, 9000);
    settle();
    cr_assert_eq(ctr(0).shadow_resent, 0);
    cr_assert_eq(ctr(1).shadow_dups, 0);
}

Test(bkd_shadow, divergence_takes_the_member_out)
{
    W.n[1].reply_prefix = "X:"; /* the member's server computes something else */
    tx(1, "a");
    tx(2, "b");
    settle();
    cr_assert_eq(W.accepted, 2, "the primary's commits must go on");
    cr_assert_eq(ctr(1).shadow_divergence, 1);
    cr_assert_eq(W.n[1].outcomes_rej, 1, "the member's execution was not rolled back");
    cr_assert_eq(W.n[1].delivered, 1, "the member went on after a divergence");
    bkd_part_info_t p1 = info(1), p0 = info(0);
    cr_assert_str_eq(p1.state, "shd_out");
    cr_assert_not_null(strstr(p1.out_reason, "diverged n=1"), "%s", p1.out_reason);
    cr_assert_str_eq(p0.state, "pri_act");
    cr_assert_not_null(p0.out_reason);
    cr_assert_not_null(strstr(p0.out_reason, "partner diverged at n=1"), "%s", p0.out_reason);
}

Test(bkd_shadow, a_member_server_reject_is_a_divergence)
{
    W.n[1].reject = true;
    tx(1, "a");
    settle();
    cr_assert_eq(W.accepted, 1);
    cr_assert_eq(ctr(1).shadow_divergence, 1);
}

Test(bkd_shadow, frames_from_strangers_are_refused)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__RecordBatch b = RTR__RECORD_BATCH__INIT;
    Rtr__ShadowAck a = RTR__SHADOW_ACK__INIT;
    b.partition = "P";
    wire_envelope_init(&env, "be3", 0, 1, RTR__ROLE__ROLE_BACKEND);
    env.body_case = RTR__ENVELOPE__BODY_RECORDS;
    env.records = &b;
    cr_assert_eq(bkd_core_shadow_msg(W.n[1].c, "be3", &env), RTR_STS_INVARG);
    b.partition = "Q";
    cr_assert_eq(bkd_core_shadow_msg(W.n[1].c, "be1", &env), RTR_STS_INVARG);
    /* a batch to the primary, an ack to the member: wrong way round */
    b.partition = "P";
    cr_assert_eq(bkd_core_shadow_msg(W.n[0].c, "be2", &env), RTR_STS_INVARG);
    a.partition = "P";
    env.body_case = RTR__ENVELOPE__BODY_SHADOW_ACK;
    env.shadow_ack = &a;
    cr_assert_eq(bkd_core_shadow_msg(W.n[1].c, "be1", &env), RTR_STS_INVARG);
    /* an ack beyond anything sent */
    a.hardened_upto = 50;
    cr_assert_eq(bkd_core_shadow_msg(W.n[0].c, "be2", &env), RTR_STS_INVARG);
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    cr_assert_eq(bkd_core_shadow_msg(W.n[0].c, "be2", &env), RTR_STS_INVARG);
    cr_assert_eq(ctr(0).shadow_unexpected + ctr(1).shadow_unexpected, 6);
}

Test(bkd_shadow, the_member_serves_no_client)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    uint8_t tid[16];
    cmn_tid_t t = { INC, 77 };
    cmn_tid_pack(&t, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.body.data = (uint8_t *)"x";
    m.body.len = 1;
    m.partition = "P";
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    cr_assert_eq(bkd_core_router_msg(W.n[1].c, "r1", &env), RTR_STS_OK);
    sh_drain(1);
    cr_assert_eq(W.router_msgs_from_member, 1); /* the rejection */
    cr_assert_eq(W.n[1].delivered, 0);
}

Test(bkd_shadow, core_refuses_a_pair_without_a_partner)
{
    bkd_part_cfg_t part = {
        .name = "P", .low = LOW, .high = HIGH, .role = BKD_ROLE_PRIMARY, .partner = NULL
    };
    bkd_core_cfg_t cfg = {
        .node = "be1", .incarnation = 1, .keylen = 4, .nparts = 1, .parts = &part
    };
    bkd_core_t *c = NULL;
    cr_assert_eq(bkd_core_new(&cfg, &c), RTR_STS_INVARG);
    part.partner = "be1";
    cr_assert_eq(bkd_core_new(&cfg, &c), RTR_STS_INVARG);
    cr_assert_null(c);
}

Test(bkd_shadow, a_restarted_member_gets_the_unacked_records_again)
{
    W.n[1].auto_harden = false;
    tx(1, "a");
    settle();
    cr_assert_eq(W.n[1].appends, 1);
    cr_assert_eq(W.accepted, 0);
    /* the member dies before its fsync: its journal has nothing; it comes back */
    bkd_core_partner_lost(W.n[0].c, "be2");
    bkd_core_free(&W.n[1].c);
    W.n[1].appends = 0;
    sh_node_new(1, 0, 21);
    tx(2, "b"); /* queued behind tx 1 on the primary's only server channel */
    settle();
    cr_assert_eq(W.accepted, 0, "decided with one copy");
    cr_assert_eq(ctr(0).shadow_partner_lost, 1);
    bkd_core_partner_up(W.n[0].c, "be2", 21);
    settle();
    cr_assert_eq(W.accepted, 2);
    cr_assert_eq(W.n[1].rec_n[0], 1);
    cr_assert_eq(W.n[1].delivered, 2);
    bkd_part_info_t p0 = info(0);
    cr_assert(p0.partner_up);
    cr_assert_eq(p0.partner_applied, 2);
}

Test(bkd_shadow, a_restarted_member_executes_what_it_had_hardened)
{
    W.n[0].auto_harden = false; /* the primary decides nothing: the member only hardens */
    tx(1, "a");
    settle();
    cr_assert_eq(W.n[1].appends, 1);
    /* its journal holds record 1 (VOTED): load it as the daemon would */
    Rtr__JournalRecord r = RTR__JOURNAL_RECORD__INIT;
    Rtr__TxMessage m = RTR__TX_MESSAGE__INIT;
    Rtr__TxMessage *mp = &m;
    uint8_t tid[16], dig[8] = { 0 };
    cmn_tid_t t = { INC, 1 };
    cmn_tid_pack(&t, tid);
    m.index = 0;
    m.body.data = (uint8_t *)"a";
    m.body.len = 1;
    r.epoch = 3;
    r.n = 1;
    r.tid.data = tid;
    r.tid.len = 16;
    r.state = RTR__TX_STATE__TX_VOTED;
    r.n_messages = 1;
    r.messages = &mp;
    r.has_digest = true;
    r.digest.data = dig;
    r.digest.len = 8;
    bkd_core_free(&W.n[1].c);
    W.n[1].appends = 0;
    {
        bkd_part_cfg_t part = { .name = "P",
                                .low = LOW,
                                .high = HIGH,
                                .concurrent = true,
                                .epoch = 3,
                                .last_n = 0,
                                .role = BKD_ROLE_MEMBER,
                                .partner = "be1" };
        bkd_core_cfg_t cfg = {
            .node = "be2", .incarnation = 23, .keylen = 4, .nparts = 1, .parts = &part
        };
        cr_assert_eq(bkd_core_new(&cfg, &W.n[1].c), RTR_STS_OK);
        cr_assert_eq(bkd_core_load_record(W.n[1].c, 0, &r), RTR_STS_OK);
        cr_assert_eq(bkd_core_load_record(W.n[1].c, 0, &r), RTR_STS_JNLCORRUPT);
        sh_open_channel(1, 1);
    }
    bkd_core_partner_up(W.n[0].c, "be2", 23);
    sh_harden(0);
    settle();
    cr_assert_eq(W.accepted, 1);
    cr_assert_eq(W.n[1].appends, 0, "a record it held was appended again");
    cr_assert_eq(ctr(0).shadow_resent, 0, "the primary resent a record the member had acked");
    /* it ran the record it had loaded; the digest differs from this made-up one: divergence */
    cr_assert_eq(W.n[1].delivered, 1);
    cr_assert_eq(ctr(1).shadow_divergence, 1);
}

Test(bkd_shadow, a_restarted_primary_waits_for_the_partner_before_replaying)
{
    W.n[1].auto_harden = false;
    tx(1, "a");
    settle();
    cr_assert_eq(W.n[1].appends, 1);
    cr_assert_eq(W.accepted, 0);
    /* the primary dies with record 1 hardened locally only; it comes back and loads it */
    Rtr__JournalRecord r = RTR__JOURNAL_RECORD__INIT;
    Rtr__TxMessage m = RTR__TX_MESSAGE__INIT;
    Rtr__TxMessage *mp = &m;
    uint8_t tid[16], dig[8] = { 0 };
    cmn_tid_t t = { INC, 1 };
    cmn_tid_pack(&t, tid);
    m.index = 0;
    m.body.data = (uint8_t *)"a";
    m.body.len = 1;
    r.epoch = 3;
    r.n = 1;
    r.tid.data = tid;
    r.tid.len = 16;
    r.state = RTR__TX_STATE__TX_VOTED;
    r.n_messages = 1;
    r.messages = &mp;
    r.has_digest = true;
    r.digest.data = dig;
    r.digest.len = 8;
    bkd_core_free(&W.n[0].c);
    W.n[0].appends = W.n[0].outcomes_ok = 0;
    {
        bkd_part_cfg_t part = { .name = "P",
                                .low = LOW,
                                .high = HIGH,
                                .concurrent = true,
                                .epoch = 3,
                                .last_n = 1,
                                .role = BKD_ROLE_PRIMARY,
                                .partner = "be2" };
        bkd_core_cfg_t cfg = {
            .node = "be1", .incarnation = 30, .keylen = 4, .nparts = 1, .parts = &part
        };
        cr_assert_eq(bkd_core_new(&cfg, &W.n[0].c), RTR_STS_OK);
        cr_assert_eq(bkd_core_load_record(W.n[0].c, 0, &r), RTR_STS_OK);
        bkd_core_timer(W.n[0].c, 1000, 5000);
        sh_open_channel(0, 1);
    }
    bkd_core_partner_up(W.n[0].c, "be2", 11);
    settle();
    /* replayed to its server, but nothing is decided before the member holds it */
    cr_assert_eq(W.n[0].outcomes_ok, 0, "decided a record the partner may lack");
    sh_harden(1);
    settle();
    cr_assert_geq(W.n[0].outcomes_ok, 1);
    /* the member ran the transaction exactly once */
    cr_assert_eq(W.n[1].delivered, 1);
}

Test(bkd_shadow, agreed_point_from_two_epoch_histories)
{
    Rtr__EpochStart a = RTR__EPOCH_START__INIT, b = RTR__EPOCH_START__INIT,
                    d = RTR__EPOCH_START__INIT, e = RTR__EPOCH_START__INIT;
    a.epoch = 2, a.first_n = 1; /* both start in epoch 2 */
    b.epoch = 3, b.first_n = 6; /* the primary took epoch 3 at 6 */
    d.epoch = 4, d.first_n = 10;
    e.epoch = 3, e.first_n = 10;
    Rtr__EpochStart *p1[] = { &a, &b }, *m1[] = { &a };
    /* the member holds 6..8 of epoch 2 that the primary lost: agree up to 5 */
    cr_assert_eq(bkd_agreed_point(p1, 2, 12, m1, 1, 8), 5);
    /* the same history: the shorter journal's end */
    cr_assert_eq(bkd_agreed_point(p1, 2, 12, p1, 2, 9), 9);
    cr_assert_eq(bkd_agreed_point(p1, 2, 7, p1, 2, 9), 7);
    /* diverged at 10 (epochs 4 and 3 both start there): 9 */
    Rtr__EpochStart *p2[] = { &a, &e }, *m2[] = { &a, &d };
    cr_assert_eq(bkd_agreed_point(p2, 2, 12, m2, 2, 12), 9);
    /* an empty member, and histories with nothing in common */
    cr_assert_eq(bkd_agreed_point(p1, 2, 12, NULL, 0, 0), 0);
    Rtr__EpochStart f = RTR__EPOCH_START__INIT;
    f.epoch = 1, f.first_n = 1;
    Rtr__EpochStart *m3[] = { &f };
    Rtr__EpochStart *p3[] = { &a };
    cr_assert_eq(bkd_agreed_point(p3, 1, 5, m3, 1, 5), 0);
}

Test(bkd_shadow, a_different_record_at_a_held_csn_takes_the_member_out)
{
    W.n[0].auto_harden = false; /* the member holds record 1, unexecuted */
    tx(1, "a");
    settle();
    cr_assert_eq(W.n[1].appends, 1);
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__RecordBatch b = RTR__RECORD_BATCH__INIT;
    Rtr__JournalRecord r = RTR__JOURNAL_RECORD__INIT, *rp = &r;
    uint8_t tid[16] = { 9 };
    r.epoch = 4; /* another epoch's record 1 */
    r.n = 1;
    r.tid.data = tid;
    r.tid.len = 16;
    r.state = RTR__TX_STATE__TX_VOTED;
    b.partition = "P";
    b.n_records = 1;
    b.records = &rp;
    wire_envelope_init(&env, "be1", 0, 10, RTR__ROLE__ROLE_BACKEND);
    env.body_case = RTR__ENVELOPE__BODY_RECORDS;
    env.records = &b;
    cr_assert_eq(bkd_core_shadow_msg(W.n[1].c, "be1", &env), RTR_STS_OK);
    sh_drain(1);
    bkd_part_info_t p1 = info(1);
    cr_assert_str_eq(p1.state, "shd_out");
    cr_assert_not_null(strstr(p1.out_reason, "a different record at a held CSN"), "%s",
                       p1.out_reason);
}
