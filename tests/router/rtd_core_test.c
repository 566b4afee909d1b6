/*
 * rtd_core_test.c - the router's pure core driven by events, asserting the exact actions.
 *
 * Every action the core returns is encoded with wire_encode and decoded again with the strict
 * decoder before it is inspected, so the tests also prove each envelope is complete and valid
 * on the wire (required fields, TID bytes pointing at the right storage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "rtd.h"
#include "tst.h"

/* Two partitions on an unsigned 32-bit key at offset 0: P_LOW [0..499], P_HIGH [500..999]. */
static const char rtd_tst_conf[] =
    "facility = \"TST\";\n"
    "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
    "routers = ( { name = \"r1\"; clients = \"tcp://127.0.0.1:7101\";\n"
    "              peers = \"tcp://127.0.0.1:7111\"; admin = \"ipc:///tmp/rtd-core-t.adm\"; } );\n"
    "backends = ( { name = \"be1\"; shadow = \"tcp://127.0.0.1:7201\";\n"
    "               servers = \"ipc:///tmp/rtd-core-t1.srv\"; admin = "
    "\"ipc:///tmp/rtd-core-t1.adm\";\n"
    "               journal = \"/tmp/rtd-core-t/be1\"; },\n"
    "             { name = \"be2\"; shadow = \"tcp://127.0.0.1:7202\";\n"
    "               servers = \"ipc:///tmp/rtd-core-t2.srv\"; admin = "
    "\"ipc:///tmp/rtd-core-t2.adm\";\n"
    "               journal = \"/tmp/rtd-core-t/be2\"; } );\n"
    "partitions = (\n"
    "  { name = \"P_LOW\"; low = [ 0 ]; high = [ 499 ]; primary = \"be1\"; },\n"
    "  { name = \"P_HIGH\"; low = [ 500 ]; high = [ 999 ]; primary = \"be2\"; } );\n";

#define CLIENT  "c-00000000000000aa"
#define CLIENT2 "c-00000000000000bb"
#define INC     0xaaull

typedef struct {
    cmn_facility_t *fac;
    rtd_core_t *core;
    char *dir;
    Rtr__Envelope *got[512]; /* decoded actions of the last event */
    rtd_action_t act[512];   /* the raw actions (kind, sock, to) */
    size_t n;
} rtd_tst_t;

static rtd_tst_t T;
static bool rtd_tst_shadowed; /* the rtd_ring suite: P_LOW is a shadowed partition */

static void
rtd_tst_setup(void)
{
    char path[512];
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_diag_t *diag = NULL;

    memset(&T, 0, sizeof T);
    T.dir = tst_tmpdir("rtdcore");
    snprintf(path, sizeof path, "%s/facility.conf", T.dir);
    if (rtd_tst_shadowed) {
        /* the same facility with P_LOW shadowed (be1 primary, be2 secondary) */
        char text[sizeof rtd_tst_conf + 128], *at;
        snprintf(text, sizeof text, "%s", rtd_tst_conf);
        at = strstr(text, "admin = \"ipc:///tmp/rtd-core-t.adm\";");
        cr_assert_not_null(at);
        at += strlen("admin = \"ipc:///tmp/rtd-core-t.adm\";");
        char rest[sizeof text];
        snprintf(rest, sizeof rest, "%s", at);
        snprintf(at, sizeof text - (size_t)(at - text), " state = \"%s/r1\";%s", T.dir, rest);
        at = strstr(text, "primary = \"be1\"; }");
        cr_assert_not_null(at);
        at += strlen("primary = \"be1\";");
        snprintf(rest, sizeof rest, "%s", at);
        snprintf(at, sizeof text - (size_t)(at - text), " secondary = \"be2\";%s", rest);
        cr_assert_eq(tst_write_file(path, text, strlen(text)), 0);
    } else {
        cr_assert_eq(tst_write_file(path, rtd_tst_conf, strlen(rtd_tst_conf)), 0);
    }
    cr_assert_eq(cmn_facility_load_ex(path, &lo, &T.fac, &diag), RTR_STS_OK, "%s",
                 diag && diag->error ? diag->error : "?");
    cmn_diag_free(&diag);
    cr_assert_eq(rtd_core_new(T.fac, &T.fac->routers[0], 0x7777, 500, &T.core), RTR_STS_OK);
}

static void
rtd_tst_clear(void)
{
    for (size_t i = 0; i < T.n; i++)
        wire_free((ProtobufCMessage **)&T.got[i]);
    T.n = 0;
}

static void
rtd_tst_teardown(void)
{
    rtd_tst_clear();
    rtd_core_free(&T.core);
    cmn_facility_free(&T.fac);
    tst_rmtree(T.dir);
    free(T.dir);
}

/* take - collect the actions of the last event (each send round-tripped through the wire). */
static size_t
take(void)
{
    size_t n = 0;
    rtd_action_t *a = rtd_core_actions(T.core, &n);

    rtd_tst_clear();
    cr_assert_leq(n, 512);
    for (size_t i = 0; i < n; i++) {
        T.act[i] = a[i];
        T.got[i] = NULL;
        if (a[i].kind == RTD_ACT_SEND) {
            uint8_t *buf = NULL;
            size_t len = 0;
            cr_assert_eq(wire_encode(&a[i].env.base, 0, &buf, &len), RTR_STS_OK);
            cr_assert_eq(wire_envelope_decode(buf, len, 0, NULL, &T.got[i]), RTR_STS_OK);
            free(buf);
            cr_assert_eq(T.got[i]->role, RTR__ROLE__ROLE_ROUTER);
            cr_assert_str_eq(T.got[i]->sender, "r1");
            cr_assert_eq(T.got[i]->incarnation, 0x7777);
        }
    }
    T.n = n;
    return n;
}

/* sends - the number of send actions among the last event's actions. */
static size_t
sends(void)
{
    size_t k = 0;
    for (size_t i = 0; i < T.n; i++)
        k += T.act[i].kind == RTD_ACT_SEND;
    return k;
}

/* the i-th action must be a send of body `bc` to `to` on socket `sock` */
static Rtr__Envelope *
expect_send(size_t i, rtd_sock_t sock, const char *to, Rtr__Envelope__BodyCase bc)
{
    cr_assert_lt(i, T.n, "action %zu of %zu", i, T.n);
    cr_assert_eq(T.act[i].kind, RTD_ACT_SEND, "action %zu", i);
    cr_assert_eq(T.act[i].sock, sock, "action %zu", i);
    cr_assert(rtd_id_eq_str(&T.act[i].to, to), "action %zu goes to %.*s, not %s", i,
              (int)T.act[i].to.len, T.act[i].to.bytes, to);
    cr_assert_eq(T.got[i]->body_case, bc, "action %zu body %d", i, T.got[i]->body_case);
    return T.got[i];
}

static void
tid_of(uint64_t counter, uint8_t out[16])
{
    cmn_tid_t t = { INC, counter };
    cmn_tid_pack(&t, out);
}

static void
expect_tid(const ProtobufCBinaryData *d, uint64_t counter)
{
    uint8_t b[16];
    tid_of(counter, b);
    cr_assert_eq(d->len, 16);
    cr_assert_eq(memcmp(d->data, b, 16), 0);
}

/* ---- events ------------------------------------------------------------------------- */

static rtr_status_t
client_env(uint64_t now, const char *who, Rtr__Envelope *env)
{
    rtd_id_t id;
    rtd_id_from_str(&id, who);
    env->version = WIRE_VERSION;
    env->sender = (char *)(uintptr_t)who;
    env->has_role = 1;
    env->role = RTR__ROLE__ROLE_CLIENT;
    return rtd_core_on_client(T.core, now, &id, env);
}

static rtr_status_t
backend_env(uint64_t now, const char *who, Rtr__Envelope *env)
{
    rtd_id_t id;
    rtd_id_from_str(&id, who);
    env->version = WIRE_VERSION;
    env->sender = (char *)(uintptr_t)who;
    env->has_role = 1;
    env->role = RTR__ROLE__ROLE_BACKEND;
    return rtd_core_on_backend(T.core, now, &id, env);
}

static void
hello(const char *be, const char *part)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__BackendHello h = RTR__BACKEND_HELLO__INIT;
    char *parts[1] = { (char *)(uintptr_t)part };

    h.n_partitions = part ? 1 : 0;
    h.partitions = parts;
    env.body_case = RTR__ENVELOPE__BODY_BACKEND_HELLO;
    env.backend_hello = &h;
    cr_assert_eq(backend_env(0, be, &env), RTR_STS_OK);
    take();
    cr_assert_eq(sends(), 0);
}

static void
hello_both(void)
{
    hello("be1", "P_LOW");
    hello("be2", "P_HIGH");
}

static bool msg_resent; /* the next msg_from marks its TxMsg as a resend */

/* msg - TxMsg{tid (INC, counter), index, key} from `who`; returns the core's status. */
static rtr_status_t
msg_from(const char *who, uint64_t now, uint64_t counter, uint32_t index, uint32_t key,
         uint32_t flags, uint32_t timeout_ms)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    uint8_t tid[16];
    uint8_t body[8];

    tid_of(counter, tid);
    memcpy(body, &key, 4); /* native byte order, as the key segment says */
    memcpy(body + 4, "abcd", 4);
    m.tid.len = 16;
    m.tid.data = tid;
    m.index = index;
    m.channel = 3;
    m.body.len = sizeof body;
    m.body.data = body;
    m.has_flags = flags != 0;
    m.flags = flags;
    m.has_timeout_ms = timeout_ms != 0;
    m.timeout_ms = timeout_ms;
    m.has_resent = msg_resent;
    m.resent = msg_resent;
    msg_resent = false;
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    rtr_status_t sts = client_env(now, who, &env);
    take(); /* decode now: the actions borrow the message's body */
    return sts;
}

static rtr_status_t
msg(uint64_t now, uint64_t counter, uint32_t index, uint32_t key, uint32_t flags,
    uint32_t timeout_ms)
{
    return msg_from(CLIENT, now, counter, index, key, flags, timeout_ms);
}

static void
vote(uint64_t counter, bool accept, uint32_t nmsgs, uint32_t reason)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxVote v = RTR__TX_VOTE__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    v.tid.len = 16;
    v.tid.data = tid;
    v.channel = 3;
    v.accept = accept;
    v.has_nmsgs = accept;
    v.nmsgs = nmsgs;
    v.has_reason = !accept;
    v.reason = reason;
    env.body_case = RTR__ENVELOPE__BODY_TX_VOTE;
    env.tx_vote = &v;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    take();
}

static void
phase_is(uint64_t counter, rtd_phase_t phase)
{
    cmn_tid_t t = { INC, counter };
    rtd_tx_view_t v;
    cr_assert(rtd_core_tx_find(T.core, &t, &v), "tx %llu unknown", (unsigned long long)counter);
    cr_assert_eq(v.phase, phase);
}

static bool
known(uint64_t counter)
{
    cmn_tid_t t = { INC, counter };
    rtd_tx_view_t v;
    return rtd_core_tx_find(T.core, &t, &v);
}

static void
expect_rejected(size_t i, uint64_t counter, rtr_status_t status)
{
    Rtr__Envelope *e = expect_send(i, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_OUTCOME);
    expect_tid(&e->tx_outcome->tid, counter);
    cr_assert_eq(e->tx_outcome->accepted, 0);
    cr_assert_eq(e->tx_outcome->status, (uint32_t)status, "status %s, expected %s",
                 rtr_status_name((rtr_status_t)e->tx_outcome->status), rtr_status_name(status));
    cr_assert_eq(e->tx_outcome->channel, 3);
}

static void
expect_abort(size_t i, const char *be, uint64_t counter, rtr_status_t status)
{
    Rtr__Envelope *e = expect_send(i, RTD_SOCK_PEERS, be, RTR__ENVELOPE__BODY_TX_ABORT);
    expect_tid(&e->tx_abort->tid, counter);
    cr_assert_eq(e->tx_abort->status, (uint32_t)status);
}

TestSuite(rtd_core, .init = rtd_tst_setup, .fini = rtd_tst_teardown);

/* ---- routing ------------------------------------------------------------------------ */

Test(rtd_core, routes_first_message_to_the_partition_backend)
{
    Rtr__Envelope *e;

    hello_both();
    cr_assert_eq(msg(0, 1, 0, 700, 0, 0), RTR_STS_OK);
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_PEERS, "be2", RTR__ENVELOPE__BODY_TX_MSG);
    expect_tid(&e->tx_msg->tid, 1);
    cr_assert_eq(e->tx_msg->index, 0);
    cr_assert_eq(e->tx_msg->channel, 3);
    cr_assert_str_eq(e->tx_msg->partition, "P_HIGH");
    cr_assert_eq(e->tx_msg->body.len, 8);
    cr_assert_eq(memcmp(e->tx_msg->body.data + 4, "abcd", 4), 0);

    cr_assert_eq(msg(0, 2, 0, 499, 0, 0), RTR_STS_OK);
    e = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG);
    cr_assert_str_eq(e->tx_msg->partition, "P_LOW");
    phase_is(1, RTD_PHASE_COLLECTING);
    cr_assert_eq(rtd_core_counters(T.core)->tx_started, 2);
    cr_assert_eq(rtd_core_tx_count(T.core, NULL), 2);
}

Test(rtd_core, nodstfnd_without_backend_or_partition)
{
    hello("be1", "P_LOW"); /* nobody serves P_HIGH (after the warm-up: failure_timeout_ms) */
    cr_assert_eq(msg(1000, 1, 0, 700, 0, 0), RTR_STS_OK);
    cr_assert_eq(T.n, 1);
    expect_rejected(0, 1, RTR_STS_NODSTFND);
    cr_assert_eq(msg(0, 2, 0, 5000, 0, 0), RTR_STS_OK); /* no partition holds 5000 */
    cr_assert_eq(T.n, 1);
    expect_rejected(0, 2, RTR_STS_NODSTFND);
    cr_assert_eq(rtd_core_counters(T.core)->tx_nodstfnd, 2);
    cr_assert_eq(rtd_core_tx_count(T.core, NULL), 0);
}

Test(rtd_core, body_too_short_for_the_key_is_invmsglen)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    uint8_t tid[16], body[2] = { 1, 2 };

    hello_both();
    tid_of(1, tid);
    m.tid.len = 16;
    m.tid.data = tid;
    m.body.len = 2;
    m.body.data = body;
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.n, 1);
    cr_assert_eq(T.got[0]->tx_outcome->status, RTR_STS_INVMSGLEN);
}

Test(rtd_core, backend_hello_routes_only_its_claimed_partitions)
{
    hello("be1", "P_LOW");
    cr_assert_not_null(rtd_core_route(T.core, 0, NULL));
    cr_assert_null(rtd_core_route(T.core, 1, NULL));
    cr_assert(rtd_core_backend_up(T.core, 0));
    cr_assert_not(rtd_core_backend_up(T.core, 1));
    /* a second backend claiming a served partition does not take it */
    hello("be2", "P_LOW");
    cr_assert_str_eq(rtd_core_route(T.core, 0, NULL)->name, "be1");
    cr_assert_eq(rtd_core_counters(T.core)->partition_conflict, 1);
}

static void
hello_epoch(const char *be, const char *part, uint64_t epoch)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__BackendHello h = RTR__BACKEND_HELLO__INIT;
    char *parts[1] = { (char *)(uintptr_t)part };
    uint64_t epochs[1] = { epoch };

    h.n_partitions = 1;
    h.partitions = parts;
    h.n_epochs = 1;
    h.epochs = epochs;
    env.body_case = RTR__ENVELOPE__BODY_BACKEND_HELLO;
    env.backend_hello = &h;
    cr_assert_eq(backend_env(0, be, &env), RTR_STS_OK);
    take();
}

Test(rtd_core, a_claim_in_a_newer_epoch_moves_the_route)
{
    hello_epoch("be1", "P_LOW", 4);
    cr_assert_str_eq(rtd_core_route(T.core, 0, NULL)->name, "be1");
    /* the same epoch from another backend: a conflict, the route stays */
    hello_epoch("be2", "P_LOW", 4);
    cr_assert_str_eq(rtd_core_route(T.core, 0, NULL)->name, "be1");
    cr_assert_eq(rtd_core_counters(T.core)->partition_conflict, 1);
    /* a newer epoch (a promotion): the route moves */
    hello_epoch("be2", "P_LOW", 5);
    cr_assert_str_eq(rtd_core_route(T.core, 0, NULL)->name, "be2");
    cr_assert_eq(rtd_core_counters(T.core)->partition_moved, 1);
    /* the old primary, not yet fenced, claims its old epoch again: ignored */
    hello_epoch("be1", "P_LOW", 4);
    cr_assert_str_eq(rtd_core_route(T.core, 0, NULL)->name, "be2");
    cr_assert_eq(rtd_core_counters(T.core)->partition_conflict, 2);
}

/* ---- the last-agent rule ------------------------------------------------------------- */

Test(rtd_core, vote_request_only_after_the_client_accepts)
{
    Rtr__Envelope *e;

    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    msg(0, 1, 1, 11, 0, 0);
    cr_assert_eq(T.n, 1);
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG);
    phase_is(1, RTD_PHASE_COLLECTING);
    cr_assert_eq(rtd_core_counters(T.core)->votes_requested, 0);

    vote(1, true, 2, 0);
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    expect_tid(&e->vote_request->tid, 1);
    cr_assert_eq(e->vote_request->nmsgs, 2);
    phase_is(1, RTD_PHASE_VOTING);

    /* a resent TxVote resends the request; a late reject is ignored (too late to abort) */
    vote(1, true, 2, 0);
    cr_assert_eq(T.n, 1);
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    vote(1, false, 0, 9);
    cr_assert_eq(T.n, 0);
    phase_is(1, RTD_PHASE_VOTING);
}

Test(rtd_core, accept_flag_on_the_last_message_sends_the_vote_request)
{
    Rtr__Envelope *e;

    hello_both();
    msg(0, 1, 0, 10, RTD_SEN_ACCEPT, 0);
    cr_assert_eq(T.n, 2);
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG);
    e = expect_send(1, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(e->vote_request->nmsgs, 1);
    phase_is(1, RTD_PHASE_VOTING);
}

Test(rtd_core, vote_with_missing_messages_nacks_instead_of_voting)
{
    Rtr__Envelope *e;

    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    vote(1, true, 3, 0);
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(e->tx_nack->from_index, 1);
    phase_is(1, RTD_PHASE_COLLECTING);
}

Test(rtd_core, client_reject_aborts_at_the_backend)
{
    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    vote(1, false, 0, 42);
    cr_assert_eq(T.n, 2);
    expect_abort(0, "be1", 1, RTR_STS_CLIABORT);
    cr_assert_eq(T.got[0]->tx_abort->reason, 42);
    expect_rejected(1, 1, RTR_STS_CLIABORT);
    cr_assert_eq(T.got[1]->tx_outcome->reason, 42);
    cr_assert_not(known(1));
}

/* ---- timeouts ------------------------------------------------------------------------ */

Test(rtd_core, timeout_before_voting_rejects_with_timout_and_aborts)
{
    hello_both();
    msg(1000, 1, 0, 10, 0, 100);
    cr_assert_eq(T.n, 2);
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG);
    cr_assert_eq(T.act[1].kind, RTD_ACT_ARM_TIMER);
    cr_assert_eq(T.act[1].at_ms, 1100);

    rtd_core_on_timer(T.core, 1099);
    take();
    cr_assert_eq(sends(), 0);
    cr_assert(known(1));

    rtd_core_on_timer(T.core, 1100);
    take();
    cr_assert_eq(sends(), 2);
    expect_abort(0, "be1", 1, RTR_STS_TIMOUT);
    expect_rejected(1, 1, RTR_STS_TIMOUT);
    cr_assert_not(known(1));
    cr_assert_eq(rtd_core_counters(T.core)->tx_timeout, 1);
}

Test(rtd_core, no_timeout_reject_after_voting)
{
    hello_both();
    msg(1000, 1, 0, 10, 0, 100);
    vote(1, true, 1, 0);
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    rtd_core_on_timer(T.core, 1100);
    take();
    cr_assert_eq(sends(), 0);
    rtd_core_on_timer(T.core, 100000);
    take();
    cr_assert_eq(sends(), 0);
    phase_is(1, RTD_PHASE_VOTING);
    cr_assert_eq(rtd_core_counters(T.core)->tx_timeout, 0);
}

/* ---- duplicates and gaps ------------------------------------------------------------- */

Test(rtd_core, duplicates_dropped_and_gaps_nacked)
{
    Rtr__Envelope *e;

    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    msg(0, 1, 0, 10, 0, 0); /* duplicate of 0 */
    cr_assert_eq(T.n, 0);
    cr_assert_eq(rtd_core_counters(T.core)->msgs_duplicate, 1);

    msg(0, 1, 2, 10, 0, 0); /* 1 is missing */
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_NACK);
    expect_tid(&e->tx_nack->tid, 1);
    cr_assert_eq(e->tx_nack->from_index, 1);
    cr_assert_eq(e->tx_nack->channel, 3);

    msg(0, 1, 1, 10, 0, 0); /* the resend fills the hole */
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG);
    cr_assert_eq(e->tx_msg->index, 1);
    msg(0, 1, 2, 10, 0, 0);
    cr_assert_eq(T.got[0]->tx_msg->index, 2);
    cr_assert_eq(rtd_core_counters(T.core)->nacks_sent, 1);
    cr_assert_eq(rtd_core_counters(T.core)->msgs_routed, 3);
}

Test(rtd_core, warming_up_defers_instead_of_nodstfnd)
{
    Rtr__Envelope *e;

    hello("be1", "P_LOW"); /* at t = 0: be2's hello is still on its way */
    cr_assert_eq(msg(10, 1, 0, 700, RTD_SEN_ACCEPT, 0), RTR_STS_OK);
    cr_assert_eq(T.n, 0, "dropped, not rejected, while warming up");
    cr_assert_eq(rtd_core_counters(T.core)->tx_deferred, 1);
    cr_assert_not(known(1));
    /* a later message of a transaction the router never held: all again */
    cr_assert_eq(msg(20, 2, 1, 700, 0, 0), RTR_STS_OK);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(e->tx_nack->from_index, 0);
    /* the client's vote resend for TID 1: NACK from 0 */
    vote(1, true, 1, 0);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(e->tx_nack->from_index, 0);
    cr_assert_eq(e->tx_nack->channel, 3);
    /* be2's hello arrives: the resent message is routed */
    hello("be2", "P_HIGH");
    msg_resent = true;
    cr_assert_eq(msg(30, 1, 0, 700, RTD_SEN_ACCEPT, 0), RTR_STS_OK);
    expect_send(0, RTD_SOCK_PEERS, "be2", RTR__ENVELOPE__BODY_TX_MSG);
    expect_send(1, RTD_SOCK_PEERS, "be2", RTR__ENVELOPE__BODY_VOTE_REQUEST);
}

Test(rtd_core, warm_up_ends_after_failure_timeout_and_resends_are_never_nodstfnd)
{
    hello("be1", "P_LOW");
    cr_assert_eq(msg(1000, 1, 0, 700, 0, 0), RTR_STS_OK); /* warm-up over: a fresh one */
    expect_rejected(0, 1, RTR_STS_NODSTFND);
    msg_resent = true; /* a resend may have been decided before: never "no destination" */
    cr_assert_eq(msg(1100, 2, 0, 700, RTD_SEN_ACCEPT, 0), RTR_STS_OK);
    cr_assert_eq(T.n, 0);
    cr_assert_eq(rtd_core_counters(T.core)->tx_deferred, 1);
}

Test(rtd_core, unknown_tid_vote_asks_for_every_message_again)
{
    hello_both();
    vote(7, true, 1, 0); /* e.g. its outcome was lost: the backend will answer it again */
    Rtr__Envelope *e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(e->tx_nack->from_index, 0);
    vote(8, false, 0, 3); /* an unknown reject: nothing to do */
    cr_assert_eq(T.n, 0);
}

Test(rtd_core, unknown_tid_later_message_is_rejected_notfound)
{
    hello_both();
    msg(0, 9, 3, 10, 0, 0);
    cr_assert_eq(T.n, 1);
    expect_rejected(0, 9, RTR_STS_NOTFOUND);
    cr_assert_eq(rtd_core_tx_count(T.core, NULL), 0);
}

Test(rtd_core, tid_of_another_client_is_dropped)
{
    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    cr_assert_eq(msg_from(CLIENT2, 0, 1, 1, 10, 0, 0), RTR_STS_OK);
    cr_assert_eq(T.n, 0);
    cr_assert_eq(rtd_core_counters(T.core)->foreign_tid, 1);
}

/* ---- relays ---------------------------------------------------------------------------- */

Test(rtd_core, reply_nack_and_outcome_relayed_to_the_client)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxReply r = RTR__TX_REPLY__INIT;
    Rtr__TxNack k = RTR__TX_NACK__INIT;
    Rtr__TxOutcome o = RTR__TX_OUTCOME__INIT;
    uint8_t tid[16];
    Rtr__Envelope *e;

    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    tid_of(1, tid);

    r.tid.len = 16;
    r.tid.data = tid;
    r.index = 0;
    r.channel = 3;
    r.body.len = 5;
    r.body.data = (uint8_t *)"hello";
    env.body_case = RTR__ENVELOPE__BODY_TX_REPLY;
    env.tx_reply = &r;
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_REPLY);
    cr_assert_eq(e->tx_reply->body.len, 5);
    cr_assert_eq(memcmp(e->tx_reply->body.data, "hello", 5), 0);

    k.tid.len = 16;
    k.tid.data = tid;
    k.from_index = 0;
    env.body_case = RTR__ENVELOPE__BODY_TX_NACK;
    env.tx_nack = &k;
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK);
    take();
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(e->tx_nack->from_index, 0);
    cr_assert_eq(e->tx_nack->channel, 3);
    msg(0, 1, 0, 10, 0, 0); /* the client's resend of 0 is forwarded again */
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG);

    vote(1, true, 1, 0);
    o.tid.len = 16;
    o.tid.data = tid;
    o.channel = 3;
    o.accepted = 1;
    o.status = RTR_STS_OK;
    o.has_csn = 1;
    o.csn = 17;
    env.body_case = RTR__ENVELOPE__BODY_TX_OUTCOME;
    env.tx_outcome = &o;
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert_eq(e->tx_outcome->accepted, 1);
    cr_assert_eq(e->tx_outcome->csn, 17);
    cr_assert_not(known(1));
    cr_assert_eq(rtd_core_counters(T.core)->tx_accepted, 1);

    /* the entry is gone: a late reply is dropped and counted */
    env.body_case = RTR__ENVELOPE__BODY_TX_REPLY;
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.n, 0);
    cr_assert_eq(rtd_core_counters(T.core)->tx_unknown, 1);
}

/* ---- losses ---------------------------------------------------------------------------- */

Test(rtd_core, backend_loss_rejects_collecting_keeps_voting)
{
    rtd_id_t be1;
    cmn_tid_t t2 = { INC, 2 };
    rtd_tx_view_t v;

    hello_both();
    msg(0, 1, 0, 10, 0, 0); /* collecting on be1 */
    msg(0, 2, 0, 20, 0, 0); /* voting on be1 */
    vote(2, true, 1, 0);
    msg(0, 3, 0, 700, 0, 0); /* collecting on be2: untouched */
    rtd_id_from_str(&be1, "be1");
    rtd_core_on_lost(T.core, 0, RTD_SOCK_PEERS, &be1);
    take();
    cr_assert_eq(T.n, 1);
    expect_rejected(0, 1, RTR_STS_SRVDIED);
    cr_assert_not(known(1));
    cr_assert(rtd_core_tx_find(T.core, &t2, &v));
    cr_assert_eq(v.phase, RTD_PHASE_VOTING);
    cr_assert_null(v.backend);
    cr_assert(known(3));
    cr_assert_null(rtd_core_route(T.core, 0, NULL));
    cr_assert_eq(rtd_core_counters(T.core)->tx_backend_lost, 1);

    /* new transactions for P_LOW: no destination until a backend claims it again */
    msg(0, 4, 0, 10, 0, 0);
    expect_rejected(0, 4, RTR_STS_NODSTFND);
    hello("be1", "P_LOW");
    vote(2, true, 1, 0); /* the client's resend reaches the returned backend */
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
}

Test(rtd_core, client_loss_aborts_its_collecting_transactions)
{
    rtd_id_t c;

    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    msg(0, 2, 0, 700, 0, 0);
    vote(2, true, 1, 0);
    rtd_id_from_str(&c, CLIENT);
    rtd_core_on_lost(T.core, 0, RTD_SOCK_CLIENTS, &c);
    take();
    cr_assert_eq(T.n, 1);
    expect_abort(0, "be1", 1, RTR_STS_NOROUTER);
    cr_assert_eq(rtd_core_tx_count(T.core, NULL), 0);
}

Test(rtd_core, many_rejects_in_one_event_stay_valid_envelopes)
{
    rtd_id_t be1;

    hello_both();
    for (uint64_t i = 1; i <= 300; i++)
        msg(0, i, 0, (uint32_t)(i % 500), 0, 0);
    cr_assert_eq(rtd_core_tx_count(T.core, NULL), 300);
    rtd_id_from_str(&be1, "be1");
    rtd_core_on_lost(T.core, 0, RTD_SOCK_PEERS, &be1);
    take(); /* take() round-trips every envelope: the TIDs must be right after the array grew */
    cr_assert_eq(T.n, 300);
    for (size_t i = 0; i < T.n; i++) {
        cmn_tid_t t;
        cmn_tid_unpack(T.got[i]->tx_outcome->tid.data, &t);
        cr_assert_eq(t.incarnation, INC);
        cr_assert(t.counter >= 1 && t.counter <= 300);
        cr_assert_eq(T.got[i]->tx_outcome->status, RTR_STS_SRVDIED);
    }
    cr_assert_eq(rtd_core_tx_count(T.core, NULL), 0);
}

Test(rtd_core, table_grows_past_its_initial_size)
{
    hello_both();
    for (uint64_t i = 1; i <= 3000; i++) {
        cr_assert_eq(msg(0, i, 0, 10, 0, 0), RTR_STS_OK);
        cr_assert_eq(T.n, 1);
    }
    cr_assert_eq(rtd_core_tx_count(T.core, NULL), 3000);
    for (uint64_t i = 1; i <= 3000; i++)
        cr_assert(known(i));
    msg(0, 1234, 1, 10, 0, 0);
    cr_assert_eq(T.got[0]->tx_msg->index, 1);
}

/* ---- multi-partition and queries ---------------------------------------------------- */

Test(rtd_core, later_message_for_another_partition_is_refused)
{
    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    msg(0, 1, 1, 700, 0, 0);
    cr_assert_eq(T.n, 2);
    expect_abort(0, "be1", 1, RTR_STS_INVOP4CLI);
    expect_rejected(1, 1, RTR_STS_INVOP4CLI);
    cr_assert_not(known(1));
    cr_assert_eq(rtd_core_counters(T.core)->tx_multipartition, 1);
}

static void
query(uint64_t counter, uint64_t request_id)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQuery q = RTR__TX_QUERY__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    q.tid.len = 16;
    q.tid.data = tid;
    q.request_id = request_id;
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY;
    env.tx_query = &q;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    take();
}

static void
query_reply(const char *be, uint64_t rid, uint64_t counter, uint32_t state)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQueryReply r = RTR__TX_QUERY_REPLY__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    r.tid.len = 16;
    r.tid.data = tid;
    r.request_id = rid;
    r.state = state;
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY_REPLY;
    env.tx_query_reply = &r;
    cr_assert_eq(backend_env(0, be, &env), RTR_STS_OK);
    take();
}

/* query_notfound - a backend's "not here, and fenced" answer. */
static void
query_notfound(const char *be, uint64_t rid, uint64_t counter)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQueryReply r = RTR__TX_QUERY_REPLY__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    r.tid.len = 16;
    r.tid.data = tid;
    r.request_id = rid;
    r.has_status = 1;
    r.status = RTR_STS_NOTFOUND;
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY_REPLY;
    env.tx_query_reply = &r;
    cr_assert_eq(backend_env(0, be, &env), RTR_STS_OK);
    take();
}

Test(rtd_core, query_not_found_anywhere_is_relayed_only_when_every_backend_says_so)
{
    uint64_t rid;
    Rtr__Envelope *e;
    rtd_id_t b;

    hello_both();
    /* both backends: not here -> NOTFOUND relayed (the client reports NOROUTER) */
    query(77, 9);
    rid = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_QUERY)->tx_query->request_id;
    query_notfound("be1", rid, 77);
    cr_assert_eq(T.n, 0, "one NOTFOUND is not conclusive");
    query_notfound("be2", rid, 77);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->request_id, 9);
    cr_assert(e->tx_query_reply->has_status);
    cr_assert_eq(e->tx_query_reply->status, RTR_STS_NOTFOUND);

    /* one has it in progress: unknown, whatever the order */
    query(78, 10);
    rid = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_QUERY)->tx_query->request_id;
    query_reply("be1", rid, 78, 0);
    query_notfound("be2", rid, 78);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->state, 0);
    cr_assert_not(e->tx_query_reply->has_status, "in progress somewhere: not NOTFOUND");

    /* a backend of the facility is not connected: it could hold it, so unknown */
    rtd_id_from_str(&b, "be2");
    rtd_core_on_lost(T.core, 0, RTD_SOCK_PEERS, &b);
    take();
    query(79, 11);
    cr_assert_eq(sends(), 1);
    rid = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_QUERY)->tx_query->request_id;
    query_notfound("be1", rid, 79);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_not(e->tx_query_reply->has_status, "be2 was not asked: not conclusive");
}

Test(rtd_core, query_of_a_known_tid_goes_to_its_backend_and_back)
{
    Rtr__Envelope *e;
    uint64_t rid;

    hello_both();
    msg(0, 1, 0, 700, RTD_SEN_ACCEPT, 0);
    query(1, 55);
    cr_assert_eq(T.n, 2); /* query to be2 + the query's expiry timer */
    e = expect_send(0, RTD_SOCK_PEERS, "be2", RTR__ENVELOPE__BODY_TX_QUERY);
    expect_tid(&e->tx_query->tid, 1);
    rid = e->tx_query->request_id;
    cr_assert_eq(T.act[1].kind, RTD_ACT_ARM_TIMER);
    cr_assert_eq(T.act[1].at_ms, 500);

    query_reply("be2", rid, 1, RTR__TX_STATE__TX_COMMIT);
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->request_id, 55);
    cr_assert_eq(e->tx_query_reply->state, RTR__TX_STATE__TX_COMMIT);
    query_reply("be2", rid, 1, RTR__TX_STATE__TX_COMMIT); /* answered already */
    cr_assert_eq(T.n, 0);
}

Test(rtd_core, query_of_an_unknown_tid_asks_every_backend)
{
    uint64_t rid1, rid2;
    Rtr__Envelope *e;

    hello_both();
    query(77, 9);
    cr_assert_eq(sends(), 2);
    rid1 =
        expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_QUERY)->tx_query->request_id;
    rid2 =
        expect_send(1, RTD_SOCK_PEERS, "be2", RTR__ENVELOPE__BODY_TX_QUERY)->tx_query->request_id;
    cr_assert_eq(rid1, rid2);
    query_reply("be1", rid1, 77, 0); /* unknown there: wait for the other */
    cr_assert_eq(T.n, 0);
    query_reply("be2", rid2, 77, 0);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->request_id, 9);
    cr_assert_eq(e->tx_query_reply->state, 0);

    /* no backend at all: answered at once with NODSTFND */
    rtd_id_t b;
    rtd_id_from_str(&b, "be1");
    rtd_core_on_lost(T.core, 0, RTD_SOCK_PEERS, &b);
    rtd_id_from_str(&b, "be2");
    rtd_core_on_lost(T.core, 0, RTD_SOCK_PEERS, &b);
    query(78, 10);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->status, RTR_STS_NODSTFND);
}

/* ---- channels and bad input --------------------------------------------------------- */

Test(rtd_core, channel_open_answers_status)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;
    Rtr__Envelope *e;

    o.channel = 4;
    o.flags = 1;
    o.facility = (char *)(uintptr_t) "tst";
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
    env.channel_open = &o;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    take();
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_CHANNEL_STATUS);
    cr_assert_eq(e->channel_status->channel, 4);
    cr_assert_eq(e->channel_status->status, RTR_STS_OK);
    o.facility = (char *)(uintptr_t) "OTHER";
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.got[0]->channel_status->status, RTR_STS_INVFACNAM);
}

Test(rtd_core, unexpected_bodies_are_refused_and_counted)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__VoteRequest vr = RTR__VOTE_REQUEST__INIT;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    uint8_t tid[16] = { 0 };

    vr.tid.len = 16;
    vr.tid.data = tid;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &vr;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_INVARG);
    take();
    cr_assert_eq(T.n, 0);
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_INVARG);
    cr_assert_eq(backend_env(0, "stranger", &env), RTR_STS_NOTFOUND);
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK);
    cr_assert_eq(rtd_core_counters(T.core)->unexpected_client, 1);
    cr_assert_eq(rtd_core_counters(T.core)->unexpected_backend, 1);
    cr_assert_eq(rtd_core_counters(T.core)->unknown_backend, 1);
}

static void
backend_nack(const char *be, uint64_t counter, uint32_t from)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxNack k = RTR__TX_NACK__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    k.tid.len = 16;
    k.tid.data = tid;
    k.from_index = from;
    env.body_case = RTR__ENVELOPE__BODY_TX_NACK;
    env.tx_nack = &k;
    cr_assert_eq(backend_env(0, be, &env), RTR_STS_OK);
    take();
}

Test(rtd_core, backend_nack_in_voting_refills_then_repeats_the_vote_request)
{
    Rtr__Envelope *e;

    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    msg(0, 1, 1, 10, 0, 0);
    msg(0, 1, 2, 10, RTD_SEN_ACCEPT, 0);
    cr_assert_eq(T.got[1]->vote_request->nmsgs, 3);

    /* the backend lost message 1 (ZeroMQ dropped it): its NACK goes to the client */
    backend_nack("be1", 1, 1);
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(e->tx_nack->from_index, 1);
    cr_assert_eq(e->tx_nack->channel, 3);

    msg(0, 1, 0, 10, 0, 0); /* below the hole: still a duplicate */
    cr_assert_eq(T.n, 0);
    msg(0, 1, 1, 10, 0, 0);
    cr_assert_eq(T.n, 1);
    cr_assert_eq(expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG)->tx_msg->index,
                 1);
    msg(0, 1, 2, 10, RTD_SEN_ACCEPT, 0);
    cr_assert_eq(T.n, 2);
    expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_MSG);
    e = expect_send(1, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(e->vote_request->nmsgs, 3);
    phase_is(1, RTD_PHASE_VOTING);
    msg(0, 1, 3, 10, 0, 0); /* nothing beyond the voted messages */
    cr_assert_eq(T.n, 0);
}

Test(rtd_core, channel_close_rejects_its_collecting_transactions)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelClose c = RTR__CHANNEL_CLOSE__INIT;

    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    msg(0, 2, 0, 700, RTD_SEN_ACCEPT, 0);
    c.channel = 3;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_CLOSE;
    env.channel_close = &c;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.n, 2);
    expect_abort(0, "be1", 1, RTR_STS_CLIABORT);
    expect_rejected(1, 1, RTR_STS_CLIABORT);
    cr_assert_not(known(1));
    phase_is(2, RTD_PHASE_VOTING);
}

Test(rtd_core, backend_dropping_a_partition_from_its_hello_unroutes_it)
{
    hello_both();
    msg(0, 1, 0, 10, 0, 0);
    {
        Rtr__Envelope env = RTR__ENVELOPE__INIT;
        Rtr__BackendHello h = RTR__BACKEND_HELLO__INIT;
        env.body_case = RTR__ENVELOPE__BODY_BACKEND_HELLO;
        env.backend_hello = &h;
        cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK); /* be1 no longer serves P_LOW */
        take();
        cr_assert_eq(T.n, 1);
        expect_rejected(0, 1, RTR_STS_SRVDIED);
    }
    cr_assert_null(rtd_core_route(T.core, 0, NULL));
    cr_assert_not(known(1));
    msg(0, 2, 0, 10, 0, 0);
    expect_rejected(0, 2, RTR_STS_NODSTFND);
}

Test(rtd_core, fanned_out_query_relays_the_first_definitive_answer)
{
    uint64_t rid;
    Rtr__Envelope *e;

    hello_both();
    query(80, 11);
    rid = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_QUERY)->tx_query->request_id;
    query_reply("be2", rid, 80, RTR__TX_STATE__TX_COMMIT);
    cr_assert_eq(T.n, 1);
    e = expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    cr_assert_eq(e->tx_query_reply->request_id, 11);
    cr_assert_eq(e->tx_query_reply->state, RTR__TX_STATE__TX_COMMIT);
    query_reply("be1", rid, 80, 0); /* the slower "unknown" is dropped */
    cr_assert_eq(T.n, 0);
    cr_assert_eq(rtd_core_counters(T.core)->query_replies, 1);
}

Test(rtd_core, unanswered_query_expires_at_its_deadline)
{
    uint64_t rid;

    hello_both();
    query(81, 12);
    rid = expect_send(0, RTD_SOCK_PEERS, "be1", RTR__ENVELOPE__BODY_TX_QUERY)->tx_query->request_id;
    rtd_core_on_timer(T.core, 499);
    take();
    cr_assert_eq(T.act[T.n - 1].kind, RTD_ACT_ARM_TIMER);
    cr_assert_eq(T.act[T.n - 1].at_ms, 500);
    rtd_core_on_timer(T.core, 500);
    take();
    cr_assert_eq(sends(), 0);
    cr_assert_eq(T.act[T.n - 1].at_ms, 0);                 /* nothing left to wait for */
    query_reply("be1", rid, 81, RTR__TX_STATE__TX_COMMIT); /* too late: dropped */
    cr_assert_eq(T.n, 0);
}

Test(rtd_core, outcome_from_a_backend_that_does_not_serve_the_transaction_is_dropped)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxOutcome o = RTR__TX_OUTCOME__INIT;
    uint8_t tid[16];

    hello_both();
    msg(0, 1, 0, 10, RTD_SEN_ACCEPT, 0); /* on be1 */
    tid_of(1, tid);
    o.tid.len = 16;
    o.tid.data = tid;
    o.channel = 3;
    o.accepted = 1;
    env.body_case = RTR__ENVELOPE__BODY_TX_OUTCOME;
    env.tx_outcome = &o;
    cr_assert_eq(backend_env(0, "be2", &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.n, 0);
    cr_assert(known(1));
    cr_assert_eq(rtd_core_counters(T.core)->foreign_tid, 1);
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK);
    take();
    expect_send(0, RTD_SOCK_CLIENTS, CLIENT, RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert_not(known(1));
}

/* ---- user events (Broadcast) ------------------------------------------------------------ */

static void
chan_open(const char *who, uint32_t channel)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;

    o.channel = channel;
    o.flags = 1;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
    env.channel_open = &o;
    cr_assert_eq(client_env(0, who, &env), RTR_STS_OK);
    take();
    cr_assert_eq(T.got[0]->channel_status->status, RTR_STS_OK);
}

static void
chan_close(const char *who, uint32_t channel)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelClose c = RTR__CHANNEL_CLOSE__INIT;

    c.channel = channel;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_CLOSE;
    env.channel_close = &c;
    cr_assert_eq(client_env(0, who, &env), RTR_STS_OK);
    take();
}

/* bcast - a Broadcast from a backend (be != NULL) or from client CLIENT; returns the status. */
static rtr_status_t
bcast(const char *be, uint32_t evtnum, size_t len, const char *rcpspc)
{
    static uint8_t body[WIRE_MAX_MSGLEN + 1];
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Broadcast b = RTR__BROADCAST__INIT;
    rtr_status_t sts;

    memset(body, 'e', sizeof body);
    b.evtnum = evtnum;
    b.body.data = body;
    b.body.len = len;
    b.rcpspc = (char *)(uintptr_t)rcpspc;
    env.body_case = RTR__ENVELOPE__BODY_BROADCAST;
    env.broadcast = &b;
    sts = be != NULL ? backend_env(0, be, &env) : client_env(0, CLIENT, &env);
    take();
    return sts;
}

static void
expect_bcast(size_t i, rtd_sock_t sock, const char *to, uint32_t evtnum, size_t len,
             const char *rcpspc)
{
    Rtr__Envelope *e = expect_send(i, sock, to, RTR__ENVELOPE__BODY_BROADCAST);
    cr_assert_eq(e->broadcast->evtnum, evtnum);
    cr_assert_eq(e->broadcast->body.len, len);
    if (rcpspc == NULL)
        cr_assert_null(e->broadcast->rcpspc);
    else
        cr_assert_str_eq(e->broadcast->rcpspc, rcpspc);
}

Test(rtd_core, server_broadcast_goes_once_to_each_client_with_open_channels)
{
    hello_both();
    cr_assert_eq(bcast("be1", 7, 3, NULL), RTR_STS_OK);
    cr_assert_eq(T.n, 0); /* no client has a channel: dropped */
    cr_assert_eq(rtd_core_counters(T.core)->events_dropped, 1);
    chan_open(CLIENT, 1);
    chan_open(CLIENT, 2); /* a second channel: still one copy for the process */
    chan_open(CLIENT2, 1);
    chan_open(CLIENT, 2); /* re-announced after a failover: no duplicate */
    cr_assert_eq(rtd_core_client_count(T.core), 2);
    cr_assert_eq(bcast("be2", 250, 64000, "BR*"), RTR_STS_OK);
    cr_assert_eq(sends(), 2);
    expect_bcast(0, RTD_SOCK_CLIENTS, CLIENT, 250, 64000, "BR*");
    expect_bcast(1, RTD_SOCK_CLIENTS, CLIENT2, 250, 64000, "BR*");
    cr_assert_eq(rtd_core_counters(T.core)->events_forwarded, 2);
}

Test(rtd_core, client_leaves_the_event_set_with_its_last_channel)
{
    hello_both();
    chan_open(CLIENT, 1);
    chan_open(CLIENT, 2);
    chan_open(CLIENT2, 5);
    chan_close(CLIENT, 1);
    cr_assert_eq(bcast("be1", 1, 0, NULL), RTR_STS_OK);
    cr_assert_eq(sends(), 2); /* CLIENT still has channel 2 */
    chan_close(CLIENT, 2);
    chan_close(CLIENT, 9); /* never opened: harmless */
    cr_assert_eq(rtd_core_client_count(T.core), 1);
    cr_assert_eq(bcast("be1", 1, 0, NULL), RTR_STS_OK);
    cr_assert_eq(sends(), 1);
    expect_bcast(0, RTD_SOCK_CLIENTS, CLIENT2, 1, 0, NULL);
}

Test(rtd_core, lost_client_is_removed_from_the_event_set)
{
    rtd_id_t c;

    chan_open(CLIENT, 1);
    chan_open(CLIENT2, 1);
    rtd_id_from_str(&c, CLIENT);
    rtd_core_on_lost(T.core, 0, RTD_SOCK_CLIENTS, &c);
    take();
    cr_assert_eq(rtd_core_client_count(T.core), 1);
    cr_assert_eq(bcast("be1", 3, 1, NULL), RTR_STS_OK);
    cr_assert_eq(sends(), 1);
    expect_bcast(0, RTD_SOCK_CLIENTS, CLIENT2, 3, 1, NULL);
}

Test(rtd_core, refused_channel_open_does_not_join_the_event_set)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;

    o.channel = 1;
    o.facility = (char *)(uintptr_t) "OTHER";
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
    env.channel_open = &o;
    cr_assert_eq(client_env(0, CLIENT, &env), RTR_STS_OK);
    take();
    cr_assert_eq(rtd_core_client_count(T.core), 0);
}

Test(rtd_core, client_broadcast_goes_to_every_connected_backend)
{
    rtd_id_t b;

    cr_assert_eq(bcast(NULL, 0, 5, NULL), RTR_STS_OK);
    cr_assert_eq(T.n, 0); /* no backend connected */
    cr_assert_eq(rtd_core_counters(T.core)->events_dropped, 1);
    hello_both();
    cr_assert_eq(bcast(NULL, 0, 5, "srv%"), RTR_STS_OK);
    cr_assert_eq(sends(), 2);
    expect_bcast(0, RTD_SOCK_PEERS, "be1", 0, 5, "srv%");
    expect_bcast(1, RTD_SOCK_PEERS, "be2", 0, 5, "srv%");
    rtd_id_from_str(&b, "be1");
    rtd_core_on_lost(T.core, 0, RTD_SOCK_PEERS, &b);
    take();
    cr_assert_eq(bcast(NULL, 9, 5, NULL), RTR_STS_OK);
    cr_assert_eq(sends(), 1);
    expect_bcast(0, RTD_SOCK_PEERS, "be2", 9, 5, NULL);
    cr_assert_eq(rtd_core_counters(T.core)->events_forwarded, 3);
}

Test(rtd_core, broadcast_out_of_limits_is_refused)
{
    hello_both();
    chan_open(CLIENT, 1);
    cr_assert_eq(bcast(NULL, 251, 1, NULL), RTR_STS_INVARG);
    cr_assert_eq(T.n, 0);
    cr_assert_eq(bcast("be1", 1001, 1, NULL), RTR_STS_INVARG); /* RTR events are not user's */
    cr_assert_eq(bcast("be1", 1, WIRE_MAX_MSGLEN + 1, NULL), RTR_STS_INVARG);
    cr_assert_eq(T.n, 0);
    cr_assert_eq(rtd_core_counters(T.core)->events_dropped, 3);
    cr_assert_eq(rtd_core_counters(T.core)->events_forwarded, 0);
}

/* ---- the outcome ring of a shadowed partition (FORCE's loss list) ----------------------- */

static void
rtd_ring_setup(void)
{
    rtd_tst_shadowed = true;
    rtd_tst_setup();
}

static void
rtd_ring_teardown(void)
{
    rtd_tst_teardown();
    rtd_tst_shadowed = false;
}

static uint64_t ring_csns[8];
static size_t ring_n;

static void
ring_row(void *arg, uint64_t csn, const uint8_t tid[16])
{
    cmn_tid_t t;
    (void)arg;
    cmn_tid_unpack(tid, &t);
    cr_assert_eq(t.counter, csn - 100, "csn %llu has TID counter %llu", (unsigned long long)csn,
                 (unsigned long long)t.counter);
    cr_assert_lt(ring_n, 8);
    ring_csns[ring_n++] = csn;
}

/* outcome - TxOutcome for TID counter from be1 (accepted with CSN 100 + counter, or not). */
static void
outcome(uint64_t counter, bool accepted)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxOutcome o = RTR__TX_OUTCOME__INIT;
    uint8_t tid[16];

    tid_of(counter, tid);
    o.tid.len = 16;
    o.tid.data = tid;
    o.channel = 3;
    o.accepted = accepted;
    o.status = accepted ? RTR_STS_OK : RTR_STS_SRVREJECT;
    o.has_csn = accepted;
    o.csn = 100 + counter;
    env.body_case = RTR__ENVELOPE__BODY_TX_OUTCOME;
    env.tx_outcome = &o;
    cr_assert_eq(backend_env(0, "be1", &env), RTR_STS_OK);
    take();
}

Test(rtd_ring, accepted_outcomes_of_a_shadowed_partition_are_kept_by_csn, .init = rtd_ring_setup,
     .fini = rtd_ring_teardown)
{
    rtd_outcomes_info_t info;

    hello_both();
    for (uint64_t k = 1; k <= 4; k++) {
        msg(0, k, 0, 10, 0, 0); /* key 10: P_LOW, shadowed */
        vote(k, true, 1, 0);
    }
    msg(0, 5, 0, 600, 0, 0); /* P_HIGH: not shadowed, no ring */
    outcome(1, true);
    outcome(2, false); /* rejected: not in the ring */
    outcome(3, true);
    outcome(4, true);
    ring_n = 0;
    cr_assert(rtd_core_outcomes(T.core, 0, 0, &info, ring_row, NULL));
    cr_assert_eq(ring_n, 3);
    cr_assert_eq(ring_csns[0], 101);
    cr_assert_eq(ring_csns[2], 104);
    cr_assert_eq(info.decided_upto, 104);
    cr_assert_eq(info.oldest, 101);
    cr_assert_eq(info.dropped_upto, 0);
    cr_assert_eq(info.count, 3);
    /* from a CSN on */
    ring_n = 0;
    cr_assert(rtd_core_outcomes(T.core, 0, 103, &info, ring_row, NULL));
    cr_assert_eq(ring_n, 2);
    cr_assert_eq(ring_csns[0], 103);
    /* an unshadowed partition has none */
    cr_assert_not(rtd_core_outcomes(T.core, 1, 0, &info, ring_row, NULL));
    cr_assert_not(rtd_core_outcomes(T.core, 7, 0, &info, ring_row, NULL));
}
