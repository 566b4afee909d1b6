/*
 * rtr_client_test.c - librtr client channels against a fake router (rtr_tst_peer.h).
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cmn.h"
#include "rtr_tst_peer.h"

static tstp_t P;

static void
setup(void)
{
    tstp_start(&P, 50, 5000); /* long failure timeout: the fake router sends no heartbeats */
}

static void
teardown(void)
{
    tstp_stop(&P);
}

static void
setup_short(void)
{
    tstp_start(&P, 50, 500); /* short failure timeout; the fake router never heartbeats */
}

TestSuite(rtr_client, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(rtr_client_loss, .init = setup_short, .fini = teardown, .timeout = 60);

static Rtr__Envelope *
expect_router(Rtr__Envelope__BodyCase body)
{
    Rtr__Envelope *env = tstp_expect(&P, P.router, body, TSTP_WAIT_MS);
    cr_assert_not_null(env, "router expected body %d", (int)body);
    return env;
}

Test(rtr_client, open_gives_opened)
{
    rtr_channel_t ch = tstp_open_client(&P);
    cr_assert_neq(ch, 0);
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_OK);
    cr_assert_not_null(expect_router(RTR__ENVELOPE__BODY_CHANNEL_CLOSE));
}

Test(rtr_client, open_refused_gives_closed_with_status)
{
    rtr_channel_t ch = 0;
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                                  RTR_NO_PEVTNUM, RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    cr_assert_not_null(expect_router(RTR__ENVELOPE__BODY_CHANNEL_OPEN));
    tstp_channel_status(&P, P.router, ch, RTR_STS_NOACCESS, NULL, true);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_closed);
    cr_assert_eq(sd.status, RTR_STS_NOACCESS);
    /* the channel is gone once the application took rtr_mt_closed */
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_INVCHANNEL);
}

Test(rtr_client, send_accept_reply_then_accepted)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t msg[4] = { 42, 1, 2, 3 };
    char buf[128];
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    rtr_tid_t tid;
    uint8_t tidb[16];
    Rtr__Envelope *env;
    int handle = 7;

    cr_assert_eq(rtr_set_user_handle(ch, &handle), RTR_STS_OK);
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, msg, sizeof msg, RTR_NO_MSGFMT), RTR_STS_OK);
    env = expect_router(RTR__ENVELOPE__BODY_TX_MSG);
    cr_assert_eq(env->tx_msg->index, 0);
    cr_assert_eq(env->tx_msg->channel, ch);
    cr_assert_eq(env->tx_msg->body.len, sizeof msg);
    cr_assert_eq(memcmp(env->tx_msg->body.data, msg, sizeof msg), 0);
    cr_assert_eq(env->tx_msg->tid.len, 16);
    memcpy(tidb, env->tx_msg->tid.data, 16);
    cr_assert_eq(rtr_get_tid(ch, RTR_NO_FLAGS, &tid), RTR_STS_OK);
    cr_assert_eq(memcmp(tid.tid_bytes, tidb, 16), 0);
    /* TID = (this process's incarnation, counter 1), the incarnation in the client id */
    cmn_tid_t t;
    cmn_tid_unpack(tidb, &t);
    cr_assert_eq(t.incarnation, P.client_inc);
    cr_assert_eq(t.counter, 1);

    cr_assert_eq(rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_OK);
    env = expect_router(RTR__ENVELOPE__BODY_TX_VOTE);
    cr_assert(env->tx_vote->accept);
    cr_assert_eq(env->tx_vote->nmsgs, 1);
    cr_assert_eq(memcmp(env->tx_vote->tid.data, tidb, 16), 0);

    tstp_tx_reply(&P, tidb, 0, ch, "pong");
    tstp_tx_outcome(&P, tidb, ch, true, RTR_STS_OK, 0);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_reply);
    cr_assert_eq(sb.msglen, 4);
    cr_assert_eq(memcmp(buf, "pong", 4), 0);
    cr_assert_eq(sb.usrhdl, &handle);
    cr_assert_eq(memcmp(sb.tid.tid_bytes, tidb, 16), 0);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_accepted);
    cr_assert_eq(sd.status, RTR_STS_OK);
    /* a duplicate outcome is dropped */
    tstp_tx_outcome(&P, tidb, ch, true, RTR_STS_OK, 0);
    cr_assert_eq(rtr_receive_message(&ch, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 200, &sb),
                 RTR_STS_TIMOUT);
}

Test(rtr_client, sen_accept_and_start_tx_timeout)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t key = 7;
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    Rtr__Envelope *env;
    uint8_t tidb[16];

    cr_assert_eq(rtr_start_tx(ch, RTR_NO_FLAGS, 1234, RTR_NO_JOINCHAN), RTR_STS_OK);
    cr_assert_eq(rtr_start_tx(ch, RTR_NO_FLAGS, 1234, RTR_NO_JOINCHAN), RTR_STS_BUSY);
    cr_assert_eq(rtr_send_to_server(ch, RTR_F_SEN_ACCEPT, &key, sizeof key, RTR_NO_MSGFMT),
                 RTR_STS_OK);
    env = expect_router(RTR__ENVELOPE__BODY_TX_MSG);
    cr_assert(env->tx_msg->has_timeout_ms);
    cr_assert_eq(env->tx_msg->timeout_ms, 1234);
    cr_assert_eq(env->tx_msg->flags & RTR_F_SEN_ACCEPT, RTR_F_SEN_ACCEPT);
    cr_assert_eq(env->tx_msg->watermark, 1);
    memcpy(tidb, env->tx_msg->tid.data, 16);
    /* no more messages once accepted */
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, sizeof key, RTR_NO_MSGFMT),
                 RTR_STS_BUSY);
    cr_assert_eq(rtr_reject_tx(ch, RTR_NO_FLAGS, 3), RTR_STS_BUSY);
    tstp_tx_outcome(&P, tidb, ch, false, RTR_STS_TIMOUT, 0);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
    cr_assert_eq(sd.status, RTR_STS_TIMOUT);
    /* the next send starts a new transaction with the next counter */
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, sizeof key, RTR_NO_MSGFMT), RTR_STS_OK);
    env = expect_router(RTR__ENVELOPE__BODY_TX_MSG);
    cr_assert_eq(env->tx_msg->index, 0);
    cr_assert_eq(memcmp(env->tx_msg->tid.data, tidb, 16) != 0, 1);
    cr_assert_eq(env->tx_msg->has_timeout_ms, 0);
}

Test(rtr_client, nack_resends_from_index)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t m[3] = { 10, 11, 12 };
    uint8_t tidb[16];
    Rtr__Envelope *env;

    for (int i = 0; i < 3; i++)
        cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &m[i], 4, RTR_NO_MSGFMT), RTR_STS_OK);
    for (uint32_t i = 0; i < 3; i++) {
        env = expect_router(RTR__ENVELOPE__BODY_TX_MSG);
        cr_assert_eq(env->tx_msg->index, i);
        cr_assert_not(env->tx_msg->has_resent && env->tx_msg->resent, "a first send");
        memcpy(tidb, env->tx_msg->tid.data, 16);
    }
    tstp_nack(&P, P.router, tidb, 1, ch);
    for (uint32_t i = 1; i < 3; i++) {
        env = expect_router(RTR__ENVELOPE__BODY_TX_MSG);
        cr_assert_eq(env->tx_msg->index, i);
        cr_assert_eq(*(uint32_t *)env->tx_msg->body.data, m[i]);
        cr_assert(env->tx_msg->has_resent && env->tx_msg->resent, "a resend says so");
    }
}

Test(rtr_client, reply_gap_is_nacked_and_duplicate_dropped)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t key = 1;
    uint8_t tidb[16];
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    memcpy(tidb, expect_router(RTR__ENVELOPE__BODY_TX_MSG)->tx_msg->tid.data, 16);
    tstp_tx_reply(&P, tidb, 0, ch, "r0");
    tstp_tx_reply(&P, tidb, 0, ch, "r0");
    tstp_tx_reply(&P, tidb, 2, ch, "r2");
    env = expect_router(RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(env->tx_nack->from_index, 1);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_reply);
    cr_assert_eq(rtr_receive_message(&ch, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 100, &sb),
                 RTR_STS_TIMOUT);
}

Test(rtr_client, vote_resent_until_outcome)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t key = 1;

    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    cr_assert_eq(rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_OK);
    cr_assert_eq(rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_OK); /* idempotent */
    cr_assert_not_null(expect_router(RTR__ENVELOPE__BODY_TX_VOTE));
    cr_assert_not_null(expect_router(RTR__ENVELOPE__BODY_TX_VOTE)); /* the resend */
}

Test(rtr_client, reject_sends_negative_vote)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t key = 1;
    uint8_t tidb[16];
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    Rtr__Envelope *env;

    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    memcpy(tidb, expect_router(RTR__ENVELOPE__BODY_TX_MSG)->tx_msg->tid.data, 16);
    cr_assert_eq(rtr_reject_tx(ch, RTR_NO_FLAGS, 99), RTR_STS_OK);
    env = expect_router(RTR__ENVELOPE__BODY_TX_VOTE);
    cr_assert_eq(env->tx_vote->accept, 0);
    cr_assert_eq(env->tx_vote->reason, 99);
    tstp_tx_outcome(&P, tidb, ch, false, RTR_STS_OK, 99);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
    cr_assert_eq(sd.reason, 99);
}

Test(rtr_client, buffer_too_small_keeps_message)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t key = 1;
    uint8_t tidb[16];
    char buf[64];
    rtr_msgsb_t sb;

    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    memcpy(tidb, expect_router(RTR__ENVELOPE__BODY_TX_MSG)->tx_msg->tid.data, 16);
    tstp_tx_reply(&P, tidb, 0, ch, "a long reply");
    cr_assert_eq(tstp_recv(ch, buf, 3, &sb), RTR_STS_BUFTOOSMALL);
    cr_assert_eq(sb.msglen, 12);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_reply);
    cr_assert_eq(memcmp(buf, "a long reply", 12), 0);
}

Test(rtr_client, pollable_fd_readable_while_queued)
{
    rtr_channel_t ch = 0;
    int fd = -1;
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    cr_assert_eq(rtrx_get_fd(&fd), RTR_STS_INVCHANNEL); /* no context yet */
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                                  RTR_NO_PEVTNUM, RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    cr_assert_eq(rtrx_get_fd(&fd), RTR_STS_OK);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    cr_assert_eq(poll(&pfd, 1, 0), 0);
    cr_assert_not_null(expect_router(RTR__ENVELOPE__BODY_CHANNEL_OPEN));
    tstp_channel_status(&P, P.router, ch, RTR_STS_OK, NULL, false);
    cr_assert_eq(poll(&pfd, 1, TSTP_WAIT_MS), 1);
    cr_assert(pfd.revents & POLLIN);
    cr_assert_eq(rtr_receive_message(&ch, RTR_NO_FLAGS, RTR_ANYCHAN, &sd, sizeof sd, 0, &sb),
                 RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_opened);
    cr_assert_eq(poll(&pfd, 1, 0), 0);
}

Test(rtr_client_loss, router_lost_rejects_unvoted_with_norouter)
{
    rtr_channel_t ch;
    uint32_t key = 1;
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    ch = tstp_open_client(&P);
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    cr_assert_not_null(expect_router(RTR__ENVELOPE__BODY_TX_MSG));
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
    cr_assert_eq(sd.status, RTR_STS_NOROUTER);
}

Test(rtr_client_loss, router_lost_after_vote_resolved_by_query)
{
    rtr_channel_t ch;
    uint32_t key = 1;
    uint8_t tidb[16];
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    ch = tstp_open_client(&P);
    cr_assert_eq(rtr_send_to_server(ch, RTR_F_SEN_ACCEPT, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    memcpy(tidb, expect_router(RTR__ENVELOPE__BODY_TX_MSG)->tx_msg->tid.data, 16);
    /* silence: the client moves to the next router (the same one here) and asks by TID */
    Rtr__Envelope *env = expect_router(RTR__ENVELOPE__BODY_TX_QUERY);
    cr_assert_eq(memcmp(env->tx_query->tid.data, tidb, 16), 0);
    /* the channel is announced again on the new connection */
    tstp_query_reply(&P, env->tx_query->request_id, tidb, RTR__TX_STATE__TX_COMMIT, true, true,
                     RTR_STS_OK);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_accepted);
    cr_assert_eq(sd.status, RTR_STS_OK);
}

Test(rtr_client_loss, router_lost_after_vote_never_reached_a_backend_is_norouter)
{
    rtr_channel_t ch;
    uint32_t key = 1;
    uint8_t tidb[16];
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    ch = tstp_open_client(&P);
    cr_assert_eq(rtr_send_to_server(ch, RTR_F_SEN_ACCEPT, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    memcpy(tidb, expect_router(RTR__ENVELOPE__BODY_TX_MSG)->tx_msg->tid.data, 16);
    Rtr__Envelope *env = expect_router(RTR__ENVELOPE__BODY_TX_QUERY);
    /* every backend: not here (and fenced): the transaction can never commit */
    tstp_query_status(&P, env->tx_query->request_id, tidb, RTR_STS_NOTFOUND);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
    cr_assert_eq(sd.status, RTR_STS_NOROUTER);
}

Test(rtr_client_loss, router_lost_after_vote_outcome_unknown)
{
    rtr_channel_t ch;
    uint32_t key = 1;
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    ch = tstp_open_client(&P);
    cr_assert_eq(rtr_send_to_server(ch, RTR_F_SEN_ACCEPT, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
    cr_assert_eq(sd.status, RTR_STS_OUTCOMEUNKNOWN);
}

typedef struct {
    rtr_tid_t tid;
    rtrx_outcome_t oc;
    rtr_status_data_t sd;
    rtr_status_t sts;
} query_arg_t;

static void *
query_thread(void *arg)
{
    query_arg_t *q = arg;
    q->sts = rtrx_query_outcome(&q->tid, TSTP_WAIT_MS, &q->oc, &q->sd);
    return NULL;
}

Test(rtr_client, query_outcome_by_tid)
{
    query_arg_t q = { .oc = rtrx_outcome_inprogress };
    uint8_t tidb[16];
    Rtr__Envelope *env;
    pthread_t th;
    rtr_channel_t ch = tstp_open_client(&P); /* the router link and its peer id */

    (void)ch;
    tstp_tid(5, tidb);
    memcpy(q.tid.tid_bytes, tidb, 16);
    cr_assert_eq(rtrx_query_outcome(&q.tid, 0, &q.oc, &q.sd), RTR_STS_TIMOUT);
    cr_assert_eq(pthread_create(&th, NULL, query_thread, &q), 0);
    do { /* skip the query of the first call (id 1) */
        env = expect_router(RTR__ENVELOPE__BODY_TX_QUERY);
    } while (env->tx_query->request_id == 1);
    cr_assert_eq(memcmp(env->tx_query->tid.data, tidb, 16), 0);
    tstp_query_reply(&P, env->tx_query->request_id, tidb, RTR__TX_STATE__TX_ABORT, true, false,
                     RTR_STS_NODSTFND);
    pthread_join(th, NULL);
    cr_assert_eq(q.sts, RTR_STS_OK);
    cr_assert_eq(q.oc, rtrx_outcome_rejected);
    cr_assert_eq(q.sd.status, RTR_STS_NODSTFND);
}

Test(rtr_client, query_outcome_in_progress)
{
    query_arg_t q = { .oc = rtrx_outcome_inprogress };
    uint8_t tidb[16];
    Rtr__Envelope *env;
    pthread_t th;

    (void)tstp_open_client(&P);
    tstp_tid(6, tidb);
    memcpy(q.tid.tid_bytes, tidb, 16);
    cr_assert_eq(pthread_create(&th, NULL, query_thread, &q), 0);
    env = expect_router(RTR__ENVELOPE__BODY_TX_QUERY);
    /* state 0, no outcome: known to be in progress (or unknown) */
    tstp_query_reply(&P, env->tx_query->request_id, tidb, 0, false, false, 0);
    pthread_join(th, NULL);
    cr_assert_eq(q.sts, RTR_STS_OK);
    cr_assert_eq(q.oc, rtrx_outcome_inprogress);
}

/* Two threads, each with its own channel, against the fake router run by the main thread. */
#define MT_TX 20

static void *
mt_client(void *arg)
{
    rtr_channel_t ch = *(rtr_channel_t *)arg;
    uintptr_t ok = 0;
    for (int i = 0; i < MT_TX; i++) {
        uint32_t key = (uint32_t)i;
        rtr_msgsb_t sb;
        rtr_status_data_t sd;
        rtr_channel_t got;
        rtr_channel_t list[] = { ch, RTR_CHAN_ENDLIST };
        if (rtr_send_to_server(ch, RTR_F_SEN_ACCEPT, &key, 4, RTR_NO_MSGFMT) != RTR_STS_OK)
            break;
        if (rtr_receive_message(&got, RTR_NO_FLAGS, list, &sd, sizeof sd, TSTP_WAIT_MS, &sb) !=
                RTR_STS_OK ||
            got != ch || sb.msgtype != rtr_mt_accepted)
            break;
        ok++;
    }
    return (void *)ok;
}

Test(rtr_client, two_threads_two_channels)
{
    rtr_channel_t ch[2] = { tstp_open_client(&P), tstp_open_client(&P) };
    pthread_t th[2];
    void *ok[2];
    int n = 0;

    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, mt_client, &ch[i]), 0);
    while (n < 2 * MT_TX) {
        Rtr__Envelope *env = expect_router(RTR__ENVELOPE__BODY_TX_MSG);
        uint8_t tidb[16];
        memcpy(tidb, env->tx_msg->tid.data, 16);
        tstp_tx_outcome(&P, tidb, env->tx_msg->channel, true, RTR_STS_OK, 0);
        n++;
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], &ok[i]);
        cr_assert_eq((uintptr_t)ok[i], MT_TX);
    }
}

Test(rtr_client, wrong_role_frames_are_ignored)
{
    rtr_channel_t ch = tstp_open_client(&P);
    uint32_t key = 1;
    uint8_t tidb[16];
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxOutcome m = RTR__TX_OUTCOME__INIT;

    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    memcpy(tidb, expect_router(RTR__ENVELOPE__BODY_TX_MSG)->tx_msg->tid.data, 16);
    /* an outcome claiming to come from a backend on the router link: dropped */
    wire_envelope_init(&env, "evil", 0, 1, RTR__ROLE__ROLE_BACKEND);
    m.tid = (ProtobufCBinaryData){ .len = 16, .data = tidb };
    m.channel = ch;
    m.accepted = 1;
    env.body_case = RTR__ENVELOPE__BODY_TX_OUTCOME;
    env.tx_outcome = &m;
    cr_assert_eq(wire_zmq_send(P.router, &P.client_id, &env, 0), RTR_STS_OK);
    cr_assert_eq(rtr_receive_message(&ch, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 200, &sb),
                 RTR_STS_TIMOUT);
    /* the real outcome still works */
    tstp_tx_outcome(&P, tidb, ch, true, RTR_STS_OK, 0);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_accepted);
}

static int wakeups;

static void
count_wakeup(void)
{
    __atomic_add_fetch(&wakeups, 1, __ATOMIC_SEQ_CST);
}

Test(rtr_client, wakeup_routine_called)
{
    rtr_channel_t ch;
    cr_assert_eq(rtr_set_wakeup(count_wakeup), RTR_STS_OK);
    ch = tstp_open_client(&P); /* rtr_mt_opened was queued */
    (void)ch;
    uint64_t end = cmn_now_mono_ns() + 5000000000u;
    while (__atomic_load_n(&wakeups, __ATOMIC_SEQ_CST) == 0 && cmn_now_mono_ns() < end)
        sched_yield();
    cr_assert_geq(__atomic_load_n(&wakeups, __ATOMIC_SEQ_CST), 1);
}
