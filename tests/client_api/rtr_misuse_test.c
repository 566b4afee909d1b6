/*
 * rtr_misuse_test.c - API misuse: every call in the wrong state or with bad arguments returns
 * its exact status and changes nothing (RTR-API.md "Semantics to keep").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cmn.h"
#include "rtr_tst_peer.h"
#include "tst.h"

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

TestSuite(rtr_misuse, .init = setup, .fini = teardown, .timeout = 60);

static rtr_status_t
open_client(rtr_channel_t *ch)
{
    return rtr_open_channel(ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM, RTR_NO_PEVTNUM,
                            RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG);
}

static rtr_status_t
open_server(rtr_channel_t *ch, rtr_ope_flag_t flags, rtr_numseg_t n, rtr_keyseg_t *ks)
{
    return rtr_open_channel(ch, RTR_F_OPE_SERVER | flags, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                            RTR_NO_PEVTNUM, RTR_NO_ACCESS, n, ks);
}

Test(rtr_misuse, calls_before_any_channel)
{
    rtr_channel_t ch = 0;
    rtr_msgsb_t sb;
    char buf[8];
    int fd;
    rtr_tid_t tid;

    cr_assert_eq(rtr_send_to_server(1, RTR_NO_FLAGS, buf, 1, RTR_NO_MSGFMT), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_receive_message(&ch, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 0, &sb),
                 RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_close_channel(1, RTR_NO_FLAGS), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_get_tid(1, RTR_NO_FLAGS, &tid), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtrx_get_fd(&fd), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtrx_get_fd(NULL), RTR_STS_INVARG);
}

Test(rtr_misuse, open_bad_arguments)
{
    rtr_channel_t ch = 0;
    uint32_t lo = 0, hi = 10;
    rtr_keyseg_t ks = { rtr_keyseg_unsigned, 4, 0, &lo, &hi };
    rtr_evtnum_t bad_ev[] = { 251, RTR_EVTNUM_ENDLIST };

    cr_assert_eq(open_client(NULL), RTR_STS_INVARG);
    cr_assert_eq(rtr_open_channel(&ch, 0, NULL, NULL, NULL, NULL, 0, NULL), RTR_STS_INVFLAGS);
    cr_assert_eq(
        rtr_open_channel(&ch, RTR_F_OPE_CLIENT | RTR_F_OPE_SERVER, NULL, NULL, NULL, NULL, 1, &ks),
        RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT | RTR_F_OPE_EXPLICIT_ACCEPT, NULL, NULL,
                                  NULL, NULL, 0, NULL),
                 RTR_STS_INVFLAGS);
    cr_assert_eq(
        rtr_open_channel(&ch, RTR_F_OPE_CLIENT | 0x80000000u, NULL, NULL, NULL, NULL, 0, NULL),
        RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, NULL,
                                  "a-recipient-name-longer-than-31-chars", NULL, NULL, 0, NULL),
                 RTR_STS_INVRCPNAM);
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, NULL, NULL, bad_ev, NULL, 0, NULL),
                 RTR_STS_INVEVTNUM);
    cr_assert_eq(open_server(&ch, 0, 0, &ks), RTR_STS_INVNUMSEG);
    cr_assert_eq(open_server(&ch, 0, RTR_MAX_NUMSEG + 1, &ks), RTR_STS_INVNUMSEG);
    cr_assert_eq(open_server(&ch, 0, 1, NULL), RTR_STS_INVPKEYSEG);
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, "OTHER", NULL, NULL, NULL, 0, NULL),
                 RTR_STS_INVFACNAM);
}

Test(rtr_misuse, server_key_segments_must_match_facility)
{
    rtr_channel_t ch = 0;
    uint32_t lo = 0, hi = 10;
    uint16_t lo16 = 0, hi16 = 1;
    rtr_keyseg_t wrong_len = { rtr_keyseg_unsigned, 2, 0, &lo16, &hi16 };
    rtr_keyseg_t wrong_type = { rtr_keyseg_signed, 4, 0, &lo, &hi };
    rtr_keyseg_t wrong_off = { rtr_keyseg_unsigned, 4, 4, &lo, &hi };
    rtr_keyseg_t no_bound = { rtr_keyseg_unsigned, 4, 0, NULL, &hi };
    rtr_keyseg_t empty = { rtr_keyseg_unsigned, 4, 0, &hi, &lo };
    rtr_keyseg_t two[2] = { { rtr_keyseg_unsigned, 4, 0, &lo, &hi },
                            { rtr_keyseg_unsigned, 4, 4, &lo, &hi } };

    cr_assert_eq(open_server(&ch, 0, 1, &wrong_len), RTR_STS_INVPKEYSEG);
    cr_assert_eq(open_server(&ch, 0, 1, &wrong_type), RTR_STS_INVPKEYSEG);
    cr_assert_eq(open_server(&ch, 0, 1, &wrong_off), RTR_STS_INVPKEYSEG);
    cr_assert_eq(open_server(&ch, 0, 1, &no_bound), RTR_STS_INVPKEYSEG);
    cr_assert_eq(open_server(&ch, 0, 1, &empty), RTR_STS_INVPKEYSEG);
    cr_assert_eq(open_server(&ch, 0, 2, two), RTR_STS_INVNUMSEG);
    /* nothing was sent for the refused opens */
    cr_assert(tstp_quiet(&P, P.backend, RTR__ENVELOPE__BODY_CHANNEL_OPEN, 100));
}

Test(rtr_misuse, bad_config_fails_open)
{
    rtr_channel_t ch = 0;
    setenv("RTR_CONFIG", "/nonexistent/facility.conf", 1);
    cr_assert_eq(open_client(&ch), RTR_STS_CONFIG);
    setenv("RTR_CONFIG", P.conf, 1); /* fixed: the next open works */
    cr_assert_eq(open_client(&ch), RTR_STS_OK);
}

Test(rtr_misuse, too_many_channels)
{
    rtr_channel_t ch = 0;
    for (unsigned i = 0; i < RTR_MAX_CHANNELS; i++)
        cr_assert_eq(open_client(&ch), RTR_STS_OK);
    cr_assert_eq(open_client(&ch), RTR_STS_TOOMANYCHA);
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_OK);
    cr_assert_eq(open_client(&ch), RTR_STS_OK);
}

Test(rtr_misuse, client_calls_on_server_channel)
{
    rtr_channel_t ch = tstp_open_server(&P, 0, 0, 499);
    char buf[8] = { 0 };
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, buf, 4, RTR_NO_MSGFMT), RTR_STS_INVOP4SRV);
    cr_assert_eq(rtr_start_tx(ch, RTR_NO_FLAGS, RTR_NO_TIMOUTMS, RTR_NO_JOINCHAN),
                 RTR_STS_INVOP4SRV);
}

Test(rtr_misuse, server_calls_on_client_channel)
{
    rtr_channel_t ch = tstp_open_client(&P);
    char buf[8] = { 0 };
    cr_assert_eq(rtr_reply_to_client(ch, RTR_NO_FLAGS, buf, 4, RTR_NO_MSGFMT), RTR_STS_INVOP4CLI);
    cr_assert_eq(rtr_prepare_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON, NULL, 0), RTR_STS_INVOP4CLI);
    cr_assert_eq(rtr_accept_tx(ch, RTRX_F_ACC_ALREADY_APPLIED, RTR_NO_REASON), RTR_STS_INVFLAGS);
}

Test(rtr_misuse, no_transaction)
{
    rtr_channel_t c = tstp_open_client(&P), s = tstp_open_server(&P, 0, 0, 499);
    rtr_tid_t tid;
    cr_assert_eq(rtr_accept_tx(c, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_NOTFOUND);
    cr_assert_eq(rtr_reject_tx(c, RTR_NO_FLAGS, 1), RTR_STS_NOTFOUND);
    cr_assert_eq(rtr_accept_tx(s, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_NOTFOUND);
    cr_assert_eq(rtr_reject_tx(s, RTR_NO_FLAGS, 1), RTR_STS_NOTFOUND);
    cr_assert_eq(rtr_reply_to_client(s, RTR_NO_FLAGS, "x", 1, RTR_NO_MSGFMT), RTR_STS_NOTFOUND);
    cr_assert_eq(rtr_prepare_tx(s, RTR_NO_FLAGS, RTR_NO_REASON, NULL, 0), RTR_STS_NOTFOUND);
    cr_assert_eq(rtr_get_tid(c, RTR_NO_FLAGS, &tid), RTR_STS_NOTFOUND);
}

Test(rtr_misuse, message_length_and_buffers)
{
    rtr_channel_t c = tstp_open_client(&P), s = tstp_open_server(&P, 0, 0, 499);
    static char big[RTR_MAX_MSGLEN + 1];
    cr_assert_eq(rtr_send_to_server(c, RTR_NO_FLAGS, big, RTR_MAX_MSGLEN + 1, RTR_NO_MSGFMT),
                 RTR_STS_INVMSGLEN);
    cr_assert_eq(rtr_reply_to_client(s, RTR_NO_FLAGS, big, RTR_MAX_MSGLEN + 1, RTR_NO_MSGFMT),
                 RTR_STS_INVMSGLEN);
    cr_assert_eq(rtr_send_to_server(c, RTR_NO_FLAGS, NULL, 4, RTR_NO_MSGFMT), RTR_STS_INVARG);
    cr_assert_eq(rtr_reply_to_client(s, RTR_NO_FLAGS, NULL, 4, RTR_NO_MSGFMT), RTR_STS_INVARG);
    /* the largest message and an empty one are fine */
    cr_assert_eq(rtr_send_to_server(c, RTR_NO_FLAGS, big, RTR_MAX_MSGLEN, RTR_NO_MSGFMT),
                 RTR_STS_OK);
    cr_assert_eq(rtr_send_to_server(c, RTR_NO_FLAGS, NULL, 0, RTR_NO_MSGFMT), RTR_STS_OK);
    Rtr__Envelope *env = tstp_expect(&P, P.router, RTR__ENVELOPE__BODY_TX_MSG, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cr_assert_eq(env->tx_msg->body.len, RTR_MAX_MSGLEN);
}

Test(rtr_misuse, bad_flags)
{
    rtr_channel_t c = tstp_open_client(&P);
    char buf[8] = { 0 };
    rtr_msgsb_t sb;
    rtr_tid_t tid;
    cr_assert_eq(rtr_send_to_server(c, 0x100, buf, 1, RTR_NO_MSGFMT), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_reply_to_client(c, 0x100, buf, 1, RTR_NO_MSGFMT), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_accept_tx(c, 0x100, RTR_NO_REASON), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_reject_tx(c, 0x100, RTR_NO_REASON), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_reject_tx(c, RTR_F_REJ_RETRY, RTR_NO_REASON), RTR_STS_INVFLAGS,
                 "a retry is a server's request");
    cr_assert_eq(rtr_start_tx(c, 1, RTR_NO_TIMOUTMS, RTR_NO_JOINCHAN), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_close_channel(c, 0x100), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_get_tid(c, 1, &tid), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_receive_message(&c, 1, RTR_ANYCHAN, buf, sizeof buf, 0, &sb),
                 RTR_STS_INVFLAGS);
}

Test(rtr_misuse, receive_arguments)
{
    rtr_channel_t c = tstp_open_client(&P), got;
    rtr_channel_t empty[] = { RTR_CHAN_ENDLIST };
    rtr_channel_t bad[] = { c, 9999, RTR_CHAN_ENDLIST };
    char buf[8];
    rtr_msgsb_t sb;
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, empty, buf, sizeof buf, 0, &sb),
                 RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, bad, buf, sizeof buf, 0, &sb),
                 RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_receive_message(NULL, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 0, &sb),
                 RTR_STS_INVARG);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 0, NULL),
                 RTR_STS_INVARG);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, NULL, 8, 0, &sb),
                 RTR_STS_INVARG);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, -2, &sb),
                 RTR_STS_INVARG);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 0, &sb),
                 RTR_STS_TIMOUT);
}

Test(rtr_misuse, status_message_needs_room)
{
    rtr_channel_t ch = 0, got;
    rtr_msgsb_t sb;
    rtr_status_data_t sd;
    cr_assert_eq(open_client(&ch), RTR_STS_OK);
    cr_assert_not_null(tstp_expect(&P, P.router, RTR__ENVELOPE__BODY_CHANNEL_OPEN, TSTP_WAIT_MS));
    tstp_channel_status(&P, P.router, ch, RTR_STS_OK, NULL, false);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, NULL, 0, TSTP_WAIT_MS, &sb),
                 RTR_STS_BUFTOOSMALL);
    cr_assert_eq(sb.msglen, sizeof(rtr_status_data_t));
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &sd, sizeof sd, 0, &sb),
                 RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_opened);
}

Test(rtr_misuse, channel_not_open_yet_and_closed)
{
    rtr_channel_t ch = 0;
    char buf[4] = { 0 };
    cr_assert_eq(open_client(&ch), RTR_STS_OK);
    /* rtr_mt_opened not received yet */
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, buf, 4, RTR_NO_MSGFMT), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_OK);
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, buf, 4, RTR_NO_MSGFMT), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_set_user_handle(ch, NULL), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_set_user_context(ch, NULL), RTR_STS_INVCHANNEL);
}

Test(rtr_misuse, user_context_and_nulls)
{
    rtr_channel_t ch = 0;
    int x;
    rtr_usrctx_t got = NULL;
    cr_assert_eq(open_client(&ch), RTR_STS_OK);
    cr_assert_eq(rtr_get_user_context(ch, NULL), RTR_STS_INVARG);
    cr_assert_eq(rtr_set_user_context(ch, &x), RTR_STS_OK);
    cr_assert_eq(rtr_get_user_context(ch, &got), RTR_STS_OK);
    cr_assert_eq(got, &x);
    cr_assert_eq(rtr_get_tid(ch, RTR_NO_FLAGS, NULL), RTR_STS_INVARG);
}

Test(rtr_misuse, start_tx_arguments)
{
    rtr_channel_t c = tstp_open_client(&P);
    cr_assert_eq(rtr_start_tx(c, RTR_NO_FLAGS, -5, RTR_NO_JOINCHAN), RTR_STS_INVARG);
    cr_assert_eq(rtr_start_tx(c, RTR_NO_FLAGS, 100, c), RTR_STS_INVCHANNEL); /* join: no */
    cr_assert_eq(rtr_start_tx(c + 1000, RTR_NO_FLAGS, 100, RTR_NO_JOINCHAN), RTR_STS_INVCHANNEL);
}

/* Events and information requests (rtr_events_test.c / rtr_info_test.c cover them fully):
 * their misuse statuses. */
Test(rtr_misuse, events_and_info_misuse)
{
    rtr_channel_t c = 0, s = 0;
    char buf[8] = { 0 };

    cr_assert_eq(rtr_broadcast_event(12345, RTR_NO_FLAGS, NULL, 0, 1, NULL, NULL),
                 RTR_STS_INVCHANNEL); /* before any channel: no context */
    cr_assert_eq(rtr_request_info(&c, RTR_NO_FLAGS, "rtr", "name", "x", "y"), RTR_STS_INVARG);
    cr_assert_eq(rtr_request_info(&c, RTR_NO_FLAGS, "facility", "name", "*", "bogus"),
                 RTR_STS_INVARG);
    c = tstp_open_client(&P);
    s = tstp_open_server(&P, 0, 0, 499);
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, buf, 1, 251, NULL, NULL), RTR_STS_INVEVTNUM);
    cr_assert_eq(rtr_broadcast_event(s, RTR_NO_FLAGS, buf, RTR_MAX_MSGLEN + 1, 1, NULL, NULL),
                 RTR_STS_INVMSGLEN);
    cr_assert_eq(rtr_broadcast_event(s, 0x10, buf, 1, 1, NULL, NULL), RTR_STS_INVFLAGS);
    /* both kinds of channel may broadcast */
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, buf, 1, 1, NULL, NULL), RTR_STS_OK);
    cr_assert_eq(rtr_broadcast_event(s, RTR_NO_FLAGS, buf, 1, 1, "*", NULL), RTR_STS_OK);
}

Test(rtr_misuse, incarnation_rules)
{
    rtr_channel_t ch = 0;
    cr_assert_eq(rtrx_set_incarnation(0, NULL), RTR_STS_INVARG);
    cr_assert_eq(rtrx_set_incarnation(0x77, NULL), RTR_STS_OK);
    cr_assert_eq(open_client(&ch), RTR_STS_OK);
    cr_assert_eq(rtrx_set_incarnation(0x78, NULL), RTR_STS_BUSY);
    Rtr__Envelope *env = tstp_expect(&P, P.router, RTR__ENVELOPE__BODY_CHANNEL_OPEN, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cr_assert_str_eq(env->sender, "c-0000000000000077");
    cr_assert_eq(env->incarnation, 0x77);
}

Test(rtr_misuse, counter_file_continues_after_restart)
{
    char path[600];
    rtr_channel_t ch;
    uint32_t key = 1;
    Rtr__Envelope *env;
    cmn_tid_t t;

    snprintf(path, sizeof path, "%s/counter", P.dir);
    cr_assert_eq(tst_write_file(path, "5000\n", 5), 0); /* as left by an earlier run */
    cr_assert_eq(rtrx_set_incarnation(0x99, path), RTR_STS_OK);
    ch = tstp_open_client(&P);
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    env = tstp_expect(&P, P.router, RTR__ENVELOPE__BODY_TX_MSG, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cmn_tid_unpack(env->tx_msg->tid.data, &t);
    cr_assert_eq(t.incarnation, 0x99);
    cr_assert_eq(t.counter, 5000);
    size_t len;
    char *txt = tst_read_file(path, &len);
    cr_assert_not_null(txt);
    cr_assert_eq(strtoull(txt, NULL, 10), 5000 + 1024);
    free(txt);
}

static int hook_lines;

static void
count_hook(void *arg, int level, const char *line)
{
    (void)level;
    if (strstr(line, "RTR-CONFIG") != NULL)
        (*(int *)arg)++;
}

Test(rtr_misuse, log_hook_receives_lines)
{
    rtr_channel_t ch;
    setenv("RTR_CONFIG", "/nonexistent/x.conf", 1);
    rtrx_set_log_hook(count_hook, &hook_lines, 7);
    cr_assert_eq(open_client(&ch), RTR_STS_CONFIG);
    cr_assert_eq(hook_lines, 1);
    rtrx_set_log_hook(NULL, NULL, 7); /* discard: the library never prints */
    cr_assert_eq(open_client(&ch), RTR_STS_CONFIG);
    cr_assert_eq(hook_lines, 1);
}

Test(rtr_misuse, client_vote_conflicts)
{
    rtr_channel_t c = tstp_open_client(&P);
    uint32_t key = 1;
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    cr_assert_eq(rtr_send_to_server(c, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_OK);
    cr_assert_eq(rtr_reject_tx(c, RTR_NO_FLAGS, 5), RTR_STS_OK);
    cr_assert_eq(rtr_reject_tx(c, RTR_NO_FLAGS, 5), RTR_STS_OK); /* idempotent */
    cr_assert_eq(rtr_accept_tx(c, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_BUSY);
    cr_assert_eq(rtr_send_to_server(c, RTR_NO_FLAGS, &key, 4, RTR_NO_MSGFMT), RTR_STS_BUSY);
    /* a transaction with no message is decided locally */
    rtr_channel_t c2 = tstp_open_client(&P);
    cr_assert_eq(rtr_start_tx(c2, RTR_NO_FLAGS, RTR_NO_TIMOUTMS, RTR_NO_JOINCHAN), RTR_STS_OK);
    cr_assert_eq(rtr_accept_tx(c2, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_OK);
    cr_assert_eq(tstp_recv(c2, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_accepted);
}

Test(rtr_misuse, server_needs_known_node)
{
    rtr_channel_t ch = 0;
    uint32_t lo = 0, hi = 10;
    rtr_keyseg_t ks = { rtr_keyseg_unsigned, 4, 0, &lo, &hi };
    setenv("RTR_NODE", "nosuchnode", 1);
    cr_assert_eq(open_server(&ch, 0, 1, &ks), RTR_STS_CONFIG);
    cr_assert_eq(open_client(&ch), RTR_STS_OK); /* client channels need no node */
}

Test(rtr_misuse, query_outcome_arguments)
{
    rtr_tid_t tid = { { 0 } };
    rtrx_outcome_t oc;
    cr_assert_eq(rtrx_query_outcome(NULL, 0, &oc, NULL), RTR_STS_INVARG);
    cr_assert_eq(rtrx_query_outcome(&tid, 0, NULL, NULL), RTR_STS_INVARG);
    cr_assert_eq(rtrx_query_outcome(&tid, -7, &oc, NULL), RTR_STS_INVARG);
    cr_assert_eq(rtrx_query_outcome(&tid, 0, &oc, NULL), RTR_STS_TIMOUT);
}

Test(rtr_misuse, after_shutdown_everything_is_invchannel)
{
    rtr_channel_t ch = 0;
    cr_assert_eq(open_client(&ch), RTR_STS_OK);
    rtrx_shutdown();
    cr_assert_eq(open_client(&ch), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtrx_set_incarnation(5, NULL), RTR_STS_BUSY);
}
