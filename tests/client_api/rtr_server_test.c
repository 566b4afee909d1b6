/*
 * rtr_server_test.c - librtr server channels against a fake backend (rtr_tst_peer.h).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "cmn.h"
#include "rtr_tst_peer.h"

static tstp_t P;

static void
setup(void)
{
    tstp_start(&P, 50, 5000);
}

static void
teardown(void)
{
    tstp_stop(&P);
}

TestSuite(rtr_server, .init = setup, .fini = teardown, .timeout = 60);

static Rtr__Envelope *
expect_backend(Rtr__Envelope__BodyCase body)
{
    Rtr__Envelope *env = tstp_expect(&P, P.backend, body, TSTP_WAIT_MS);
    cr_assert_not_null(env, "backend expected body %d", (int)body);
    return env;
}

/* poll_receive - a receive that returns at once (TIMOUT): runs the implicit actions. */
static void
poll_receive(rtr_channel_t ch)
{
    rtr_channel_t list[] = { ch, RTR_CHAN_ENDLIST }, got;
    rtr_msgsb_t sb;
    char buf[16];
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, list, buf, sizeof buf, 0, &sb),
                 RTR_STS_TIMOUT);
}

Test(rtr_server, open_sends_normalized_range)
{
    rtr_channel_t ch = 0;
    uint32_t lo = 10, hi = 300;
    rtr_keyseg_t ks = { rtr_keyseg_unsigned, 4, 0, &lo, &hi };
    rtr_evtnum_t ev[] = { RTR_EVTNUM_USERBASE, 7, RTR_EVTNUM_ENDLIST };
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    Rtr__Envelope *env;
    const uint8_t want_lo[4] = { 0, 0, 0, 10 }, want_hi[4] = { 0, 0, 1, 44 };

    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_SERVER, "tst", "rcp1", ev, RTR_NO_ACCESS, 1, &ks),
                 RTR_STS_OK);
    env = expect_backend(RTR__ENVELOPE__BODY_CHANNEL_OPEN);
    cr_assert_eq(env->channel_open->channel, ch);
    cr_assert_eq(env->channel_open->flags, RTR_F_OPE_SERVER);
    cr_assert_eq(env->channel_open->key_low.len, 4);
    cr_assert_eq(memcmp(env->channel_open->key_low.data, want_lo, 4), 0);
    cr_assert_eq(memcmp(env->channel_open->key_high.data, want_hi, 4), 0);
    cr_assert_str_eq(env->channel_open->rcpnam, "rcp1");
    cr_assert_eq(env->channel_open->n_events, 2);
    cr_assert_eq(env->channel_open->events[1], 7);
    tstp_channel_status(&P, P.backend, ch, RTR_STS_OK, "P1", false);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_opened);
    cr_assert_eq(sd.status, RTR_STS_OK);
}

Test(rtr_server, open_refused_range_gives_closed)
{
    rtr_channel_t ch = 0;
    uint32_t lo = 400, hi = 600;
    rtr_keyseg_t ks = { rtr_keyseg_unsigned, 4, 0, &lo, &hi };
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_SERVER, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                                  RTR_NO_PEVTNUM, RTR_NO_ACCESS, 1, &ks),
                 RTR_STS_OK);
    cr_assert_not_null(expect_backend(RTR__ENVELOPE__BODY_CHANNEL_OPEN));
    tstp_channel_status(&P, P.backend, ch, RTR_STS_INVPKEYSEG, NULL, true);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_closed);
    cr_assert_eq(sd.status, RTR_STS_INVPKEYSEG);
}

Test(rtr_server, implicit_accept_outcome_and_done)
{
    rtr_channel_t ch = tstp_open_server(&P, 0, 0, 499);
    uint8_t tidb[16];
    uint32_t body[2] = { 42, 9 };
    char buf[64];
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    Rtr__Envelope *env;

    tstp_tid(1, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, body, sizeof body, true);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1);
    cr_assert_eq(sb.msglen, sizeof body);
    cr_assert_eq(memcmp(buf, body, sizeof body), 0);
    cr_assert_eq(memcmp(sb.tid.tid_bytes, tidb, 16), 0);
    cr_assert_eq(rtr_reply_to_client(ch, RTR_NO_FLAGS, "ok", 2, RTR_NO_MSGFMT), RTR_STS_OK);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_REPLY);
    cr_assert_eq(env->server_reply->index, 0);
    cr_assert_eq(env->server_reply->body.len, 2);
    cr_assert(tstp_quiet(&P, P.backend, RTR__ENVELOPE__BODY_SERVER_VOTE, 100));
    poll_receive(ch); /* the next receive is the implicit accept */
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE);
    cr_assert(env->server_vote->accept);
    cr_assert_eq(env->server_vote->channel, ch);
    cr_assert_eq(memcmp(env->server_vote->tid.data, tidb, 16), 0);
    /* a duplicate vote request gets the same vote again */
    tstp_vote_request(&P, tidb, 1);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE);
    cr_assert(env->server_vote->accept);
    tstp_server_outcome(&P, tidb, ch, true, RTR_STS_OK);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_accepted);
    cr_assert_eq(sd.status, RTR_STS_OK);
    cr_assert(tstp_quiet(&P, P.backend, RTR__ENVELOPE__BODY_SERVER_DONE, 100));
    poll_receive(ch); /* the receive after the outcome sends ServerDone */
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_DONE);
    cr_assert_eq(memcmp(env->server_done->tid.data, tidb, 16), 0);
    cr_assert_eq(rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_NOTFOUND);
}

Test(rtr_server, msgn_and_vote_request_wake_a_blocked_receiver)
{
    rtr_channel_t ch = tstp_open_server(&P, 0, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    tstp_tid(2, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, false);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSGN, 1, &body, 4, false);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msgn);
    poll_receive(ch); /* not voted: the client has not accepted yet */
    cr_assert(tstp_quiet(&P, P.backend, RTR__ENVELOPE__BODY_SERVER_VOTE, 100));
    tstp_vote_request(&P, tidb, 2);
    /* the vote request arrives while the server is (or will be) in receive */
    rtr_channel_t list[] = { ch, RTR_CHAN_ENDLIST }, got;
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, list, buf, sizeof buf, 300, &sb),
                 RTR_STS_TIMOUT);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE);
    cr_assert(env->server_vote->accept);
}

Test(rtr_server, explicit_prepare_then_accept)
{
    rtr_channel_t ch = tstp_open_server(&P, RTR_F_OPE_EXPLICIT_PREPARE, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    tstp_tid(3, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, true);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1);
    poll_receive(ch);
    cr_assert(tstp_quiet(&P, P.backend, RTR__ENVELOPE__BODY_SERVER_VOTE, 100));
    tstp_vote_request(&P, tidb, 1);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_prepare);
    cr_assert_eq(memcmp(sb.tid.tid_bytes, tidb, 16), 0);
    cr_assert_eq(rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_OK);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE);
    cr_assert(env->server_vote->accept);
    cr_assert_eq(env->server_vote->already_applied, 0);
}

Test(rtr_server, explicit_accept_never_votes_implicitly)
{
    rtr_channel_t ch = tstp_open_server(&P, RTR_F_OPE_EXPLICIT_ACCEPT, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    tstp_tid(4, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, true);
    tstp_vote_request(&P, tidb, 1);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    poll_receive(ch);
    cr_assert(tstp_quiet(&P, P.backend, RTR__ENVELOPE__BODY_SERVER_VOTE, 150));
    cr_assert_eq(rtr_reject_tx(ch, RTR_NO_FLAGS, 77), RTR_STS_OK);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE);
    cr_assert_eq(env->server_vote->accept, 0);
    cr_assert_eq(env->server_vote->reason, 77);
    cr_assert_not(env->server_vote->has_retry && env->server_vote->retry);
    cr_assert_eq(rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_BUSY);
    tstp_server_outcome(&P, tidb, ch, false, RTR_STS_OK);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
}

Test(rtr_server, reject_with_retry_asks_to_be_delivered_again)
{
    rtr_channel_t ch = tstp_open_server(&P, RTR_F_OPE_EXPLICIT_ACCEPT, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    tstp_tid(5, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, true);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    /* e.g. a deadlock in the server's database: roll back, and let RTR deliver it again */
    cr_assert_eq(rtr_reject_tx(ch, RTR_F_REJ_RETRY, 12), RTR_STS_OK);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE);
    cr_assert_eq(env->server_vote->accept, 0);
    cr_assert_eq(env->server_vote->reason, 12);
    cr_assert(env->server_vote->has_retry && env->server_vote->retry);
    tstp_server_outcome(&P, tidb, ch, false, RTR_STS_OK); /* this execution is over */
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
    poll_receive(ch);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_DONE);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, true);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1, "the same TID again, a new execution");
    cr_assert_eq(memcmp(sb.tid.tid_bytes, tidb, 16), 0);
}

Test(rtr_server, uncertain_already_applied)
{
    rtr_channel_t ch = tstp_open_server(&P, RTR_F_OPE_EXPLICIT_ACCEPT, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    tstp_tid(5, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN, 0, &body, 4, true);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1_uncertain);
    cr_assert_eq(rtr_accept_tx(ch, RTRX_F_ACC_ALREADY_APPLIED, RTR_NO_REASON), RTR_STS_OK);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE);
    cr_assert(env->server_vote->accept);
    cr_assert(env->server_vote->has_already_applied);
    cr_assert(env->server_vote->already_applied);
}

/* A backend restarted within the failure timeout (a new incarnation before librtr noticed any
 * silence): the channel is announced to it again on the same connection, and what it held is
 * rolled back (the backend replays it). */
Test(rtr_server, a_restarted_backend_gets_the_channel_again)
{
    rtr_channel_t ch = tstp_open_server(&P, 0, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    tstp_tid(9, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, false);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1);
    P.backend_restarts = 1;
    tstp_channel_status(&P, P.backend, ch, RTR_STS_OK, "P1", false); /* any frame of it */
    Rtr__Envelope *env = expect_backend(RTR__ENVELOPE__BODY_CHANNEL_OPEN);
    cr_assert_eq(env->channel_open->channel, ch);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
}

Test(rtr_server, deliver_gap_is_nacked)
{
    rtr_channel_t ch = tstp_open_server(&P, 0, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    tstp_tid(6, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, false);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, false); /* dup */
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSGN, 2, &body, 4, false); /* gap */
    env = expect_backend(RTR__ENVELOPE__BODY_TX_NACK);
    cr_assert_eq(env->tx_nack->from_index, 1);
    cr_assert_eq(memcmp(env->tx_nack->tid.data, tidb, 16), 0);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1);
    rtr_channel_t got;
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 100, &sb),
                 RTR_STS_TIMOUT);
}

Test(rtr_server, nack_resends_replies_and_vote)
{
    rtr_channel_t ch = tstp_open_server(&P, 0, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    Rtr__Envelope *env;

    tstp_tid(7, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, false);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(rtr_reply_to_client(ch, RTR_NO_FLAGS, "r0", 2, RTR_NO_MSGFMT), RTR_STS_OK);
    cr_assert_eq(rtr_reply_to_client(ch, RTR_F_REP_ACCEPT, "r1", 2, RTR_NO_MSGFMT), RTR_STS_OK);
    cr_assert_eq(rtr_reply_to_client(ch, RTR_NO_FLAGS, "r2", 2, RTR_NO_MSGFMT), RTR_STS_BUSY);
    cr_assert_eq(expect_backend(RTR__ENVELOPE__BODY_SERVER_REPLY)->server_reply->index, 0);
    cr_assert_eq(expect_backend(RTR__ENVELOPE__BODY_SERVER_REPLY)->server_reply->index, 1);
    tstp_nack(&P, P.backend, tidb, 1, ch);
    env = expect_backend(RTR__ENVELOPE__BODY_SERVER_REPLY);
    cr_assert_eq(env->server_reply->index, 1);
    cr_assert_eq(memcmp(env->server_reply->body.data, "r1", 2), 0);
    cr_assert(expect_backend(RTR__ENVELOPE__BODY_SERVER_VOTE)->server_vote->accept);
}

static void
setup_short(void)
{
    tstp_start(&P, 50, 500); /* the fake backend never heartbeats: lost after 500 ms */
}

TestSuite(rtr_server_loss, .init = setup_short, .fini = teardown, .timeout = 60);

Test(rtr_server_loss, backend_lost_rolls_back_and_reopens)
{
    rtr_channel_t ch = tstp_open_server(&P, 0, 0, 499);
    uint8_t tidb[16];
    uint32_t body = 5;
    char buf[64];
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    Rtr__Envelope *env;

    tstp_tid(8, tidb);
    tstp_deliver(&P, tidb, ch, RTR__DELIVER_KIND__DELIVER_MSG1, 0, &body, 4, false);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_msg1);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_rejected);
    cr_assert_eq(sd.status, RTR_STS_NOROUTER);
    env = expect_backend(RTR__ENVELOPE__BODY_CHANNEL_OPEN); /* announced again */
    cr_assert_eq(env->channel_open->channel, ch);
    poll_receive(ch); /* no ServerDone for a transaction of the lost link */
    cr_assert(tstp_quiet(&P, P.backend, RTR__ENVELOPE__BODY_SERVER_DONE, 100));
}
