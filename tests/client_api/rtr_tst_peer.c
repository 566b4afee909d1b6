/*
 * rtr_tst_peer.c - fake router and backend for librtr's tests (see rtr_tst_peer.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "cmn.h"
#include "rtr_tst_peer.h"
#include "tst.h"

#define TSTP_BIN(p, n) ((ProtobufCBinaryData){ .len = (n), .data = (uint8_t *)(uintptr_t)(p) })
#define TSTP_INC       0x1234u

void
tstp_tid(uint64_t n, uint8_t out[16])
{
    cmn_tid_t t = { .incarnation = 0xABC, .counter = n };
    cmn_tid_pack(&t, out);
}

void
tstp_start(tstp_t *p, int heartbeat_ms, int failure_ms)
{
    char ep[256], conf[2048];
    size_t len = sizeof ep;
    int zero = 0, one = 1, port;

    memset(p, 0, sizeof *p);
    p->zctx = zmq_ctx_new();
    p->router = zmq_socket(p->zctx, ZMQ_ROUTER);
    p->backend = zmq_socket(p->zctx, ZMQ_ROUTER);
    cr_assert(p->router != NULL && p->backend != NULL);
    zmq_setsockopt(p->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(p->backend, ZMQ_LINGER, &zero, sizeof zero);
    /* librtr reconnects with the same routing id after a peer loss: the new connection must
     * take the id over from the old one the ROUTER may not have noticed is gone. */
    zmq_setsockopt(p->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(p->backend, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    cr_assert_eq(zmq_bind(p->router, "tcp://127.0.0.1:*"), 0);
    cr_assert_eq(zmq_getsockopt(p->router, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    port = atoi(strrchr(ep, ':') + 1);
    snprintf(p->ipc, sizeof p->ipc, "/tmp/rtr-ct-%d.srv", (int)getpid());
    unlink(p->ipc);
    snprintf(ep, sizeof ep, "ipc://%s", p->ipc);
    cr_assert_eq(zmq_bind(p->backend, ep), 0);
    p->dir = tst_tmpdir("capi");
    snprintf(p->conf, sizeof p->conf, "%s/facility.conf", p->dir);
    snprintf(conf, sizeof conf,
             "facility = \"TST\";\n"
             "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
             "routers = ( { name = \"r1\"; clients = \"tcp://127.0.0.1:%d\";\n"
             "  peers = \"tcp://127.0.0.1:%d\"; admin = \"ipc:///tmp/rtr-ct-%d.adm\"; } );\n"
             "backends = ( { name = \"be1\"; shadow = \"tcp://127.0.0.1:%d\";\n"
             "  servers = \"ipc://%s\"; admin = \"ipc:///tmp/rtr-ct-%d.badm\";\n"
             "  journal = \"%s/journal\"; } );\n"
             "partitions = (\n"
             "  { name = \"P1\"; low = [ 0 ]; high = [ 499 ]; primary = \"be1\"; },\n"
             "  { name = \"P2\"; low = [ 500 ]; high = [ 999 ]; primary = \"be1\"; } );\n"
             "settings = { heartbeat_ms = %d; failure_timeout_ms = %d; };\n",
             port, port + 1, (int)getpid(), port + 2, p->ipc, (int)getpid(), p->dir, heartbeat_ms,
             failure_ms);
    cr_assert_eq(tst_write_file(p->conf, conf, strlen(conf)), 0);
    setenv("RTR_CONFIG", p->conf, 1);
    setenv("RTR_NODE", "be1", 1);
}

void
tstp_stop(tstp_t *p)
{
    rtrx_shutdown();
    wire_free((ProtobufCMessage **)&p->last);
    zmq_close(p->router);
    zmq_close(p->backend);
    zmq_ctx_term(p->zctx);
    unlink(p->ipc);
    tst_rmtree(p->dir);
    free(p->dir);
}

Rtr__Envelope *
tstp_expect(tstp_t *p, void *sock, Rtr__Envelope__BodyCase body, int wait_ms)
{
    uint64_t end = cmn_now_mono_ns() + (uint64_t)wait_ms * 1000000u;

    wire_free((ProtobufCMessage **)&p->last);
    for (;;) {
        uint64_t now = cmn_now_mono_ns();
        zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;

        if (now >= end)
            return NULL;
        if (zmq_poll(&it, 1, (long)((end - now) / 1000000u) + 1) <= 0)
            continue;
        rtr_status_t sts = wire_zmq_recv(sock, &from, NULL, &env);
        if (sts != RTR_STS_OK)
            continue;
        if (sock == p->router) {
            p->client_id = from;
            p->client_inc = env->incarnation;
            cr_assert_eq(env->role, RTR__ROLE__ROLE_CLIENT);
            cr_assert_eq(strncmp(env->sender, "c-", 2), 0);
        } else {
            p->server_id = from;
            cr_assert_eq(env->role, RTR__ROLE__ROLE_SERVER);
            cr_assert_eq(strncmp(env->sender, "s-", 2), 0);
        }
        if (env->body_case == body) {
            p->last = env;
            return env;
        }
        wire_free((ProtobufCMessage **)&env);
    }
}

bool
tstp_quiet(tstp_t *p, void *sock, Rtr__Envelope__BodyCase body, int wait_ms)
{
    return tstp_expect(p, sock, body, wait_ms) == NULL;
}

static void
tstp_send(tstp_t *p, void *sock, Rtr__Envelope *env)
{
    bool r = sock == p->router;
    Rtr__Envelope__BodyCase bc = env->body_case;
    Rtr__Heartbeat *body = env->heartbeat; /* wire_envelope_init resets the body */
    wire_envelope_init(env, r ? "r1" : "be1", 0, TSTP_INC + (r ? 0 : p->backend_restarts),
                       r ? RTR__ROLE__ROLE_ROUTER : RTR__ROLE__ROLE_BACKEND);
    env->body_case = bc;
    env->heartbeat = body;
    cr_assert_eq(wire_zmq_send(sock, r ? &p->client_id : &p->server_id, env, 0), RTR_STS_OK);
}

void
tstp_channel_status(tstp_t *p, void *sock, uint32_t channel, uint32_t status, const char *partition,
                    bool closed)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelStatus m = RTR__CHANNEL_STATUS__INIT;
    m.channel = channel;
    m.status = status;
    m.partition = (char *)(uintptr_t)partition;
    m.has_closed = closed;
    m.closed = closed;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_STATUS;
    env.channel_status = &m;
    tstp_send(p, sock, &env);
}

void
tstp_tx_reply(tstp_t *p, const uint8_t *tid, uint32_t index, uint32_t channel, const char *body)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxReply m = RTR__TX_REPLY__INIT;
    m.tid = TSTP_BIN(tid, 16);
    m.index = index;
    m.channel = channel;
    m.body = TSTP_BIN(body, strlen(body));
    env.body_case = RTR__ENVELOPE__BODY_TX_REPLY;
    env.tx_reply = &m;
    tstp_send(p, p->router, &env);
}

void
tstp_tx_outcome(tstp_t *p, const uint8_t *tid, uint32_t channel, bool accepted, uint32_t status,
                uint32_t reason)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxOutcome m = RTR__TX_OUTCOME__INIT;
    m.tid = TSTP_BIN(tid, 16);
    m.channel = channel;
    m.accepted = accepted;
    m.status = status;
    m.has_reason = 1;
    m.reason = reason;
    env.body_case = RTR__ENVELOPE__BODY_TX_OUTCOME;
    env.tx_outcome = &m;
    tstp_send(p, p->router, &env);
}

void
tstp_nack(tstp_t *p, void *sock, const uint8_t *tid, uint32_t from, uint32_t channel)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxNack m = RTR__TX_NACK__INIT;
    m.tid = TSTP_BIN(tid, 16);
    m.from_index = from;
    m.has_channel = 1;
    m.channel = channel;
    env.body_case = RTR__ENVELOPE__BODY_TX_NACK;
    env.tx_nack = &m;
    tstp_send(p, sock, &env);
}

void
tstp_query_reply(tstp_t *p, uint64_t request_id, const uint8_t *tid, uint32_t state,
                 bool has_outcome, bool accepted, uint32_t status)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQueryReply m = RTR__TX_QUERY_REPLY__INIT;
    Rtr__TxOutcome o = RTR__TX_OUTCOME__INIT;
    m.request_id = request_id;
    m.tid = TSTP_BIN(tid, 16);
    m.state = state;
    if (has_outcome) {
        o.tid = m.tid;
        o.accepted = accepted;
        o.status = status;
        m.outcome = &o;
    }
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY_REPLY;
    env.tx_query_reply = &m;
    tstp_send(p, p->router, &env);
}

void
tstp_query_status(tstp_t *p, uint64_t request_id, const uint8_t *tid, uint32_t status)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxQueryReply m = RTR__TX_QUERY_REPLY__INIT;
    m.request_id = request_id;
    m.tid = TSTP_BIN(tid, 16);
    m.has_status = 1;
    m.status = status;
    env.body_case = RTR__ENVELOPE__BODY_TX_QUERY_REPLY;
    env.tx_query_reply = &m;
    tstp_send(p, p->router, &env);
}

void
tstp_deliver(tstp_t *p, const uint8_t *tid, uint32_t channel, Rtr__DeliverKind kind, uint32_t index,
             const void *body, size_t len, bool last)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Deliver m = RTR__DELIVER__INIT;
    m.tid = TSTP_BIN(tid, 16);
    m.channel = channel;
    m.kind = kind;
    m.index = index;
    m.body = TSTP_BIN(body, len);
    m.has_last = last;
    m.last = last;
    env.body_case = RTR__ENVELOPE__BODY_DELIVER;
    env.deliver = &m;
    tstp_send(p, p->backend, &env);
}

void
tstp_vote_request(tstp_t *p, const uint8_t *tid, uint32_t nmsgs)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__VoteRequest m = RTR__VOTE_REQUEST__INIT;
    m.tid = TSTP_BIN(tid, 16);
    m.nmsgs = nmsgs;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &m;
    tstp_send(p, p->backend, &env);
}

void
tstp_server_outcome(tstp_t *p, const uint8_t *tid, uint32_t channel, bool accepted, uint32_t status)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerOutcome m = RTR__SERVER_OUTCOME__INIT;
    m.tid = TSTP_BIN(tid, 16);
    m.channel = channel;
    m.accepted = accepted;
    m.status = status;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_OUTCOME;
    env.server_outcome = &m;
    tstp_send(p, p->backend, &env);
}

void
tstp_broadcast(tstp_t *p, void *sock, uint32_t evtnum, const void *body, size_t len,
               const char *rcpspc)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Broadcast m = RTR__BROADCAST__INIT;
    m.evtnum = evtnum;
    m.body = TSTP_BIN(body, len);
    m.rcpspc = (char *)(uintptr_t)rcpspc;
    env.body_case = RTR__ENVELOPE__BODY_BROADCAST;
    env.broadcast = &m;
    tstp_send(p, sock, &env);
}

rtr_status_t
tstp_recv(rtr_channel_t ch, void *buf, size_t len, rtr_msgsb_t *msgsb)
{
    rtr_channel_t list[] = { ch, RTR_CHAN_ENDLIST }, got = 0;
    return rtr_receive_message(&got, RTR_NO_FLAGS, ch == 0 ? RTR_ANYCHAN : list, buf,
                               (rtr_msglen_t)len, TSTP_WAIT_MS, msgsb);
}

static void
tstp_opened(rtr_channel_t ch)
{
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_opened);
    cr_assert_eq(sd.status, RTR_STS_OK);
}

rtr_channel_t
tstp_open_client(tstp_t *p)
{
    rtr_channel_t ch = 0;
    Rtr__Envelope *env;

    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, "TST", RTR_NO_RCPNAM, RTR_NO_PEVTNUM,
                                  RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    env = tstp_expect(p, p->router, RTR__ENVELOPE__BODY_CHANNEL_OPEN, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cr_assert_eq(env->channel_open->channel, ch);
    tstp_channel_status(p, p->router, ch, RTR_STS_OK, NULL, false);
    tstp_opened(ch);
    return ch;
}

rtr_channel_t
tstp_open_server(tstp_t *p, rtr_ope_flag_t flags, uint32_t lo, uint32_t hi)
{
    rtr_channel_t ch = 0;
    rtr_keyseg_t ks = { rtr_keyseg_unsigned, 4, 0, &lo, &hi };
    Rtr__Envelope *env;

    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_SERVER | flags, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                                  RTR_NO_PEVTNUM, RTR_NO_ACCESS, 1, &ks),
                 RTR_STS_OK);
    env = tstp_expect(p, p->backend, RTR__ENVELOPE__BODY_CHANNEL_OPEN, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cr_assert_eq(env->channel_open->channel, ch);
    tstp_channel_status(p, p->backend, ch, RTR_STS_OK, "P1", false);
    tstp_opened(ch);
    return ch;
}

void
tstp_server_event(tstp_t *p, uint32_t evtnum, const char *partition)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ServerEvent m = RTR__SERVER_EVENT__INIT;
    m.evtnum = evtnum;
    m.partition = (char *)(uintptr_t)partition;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_EVENT;
    env.server_event = &m;
    tstp_send(p, p->backend, &env);
}
