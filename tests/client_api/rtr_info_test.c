/*
 * rtr_info_test.c - rtr_request_info: every information class, selection with wildcards, the
 * item list, the pseudo-channel's life, and the refusals.
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

TestSuite(rtr_info, .init = setup, .fini = teardown, .timeout = 60);

/* info_next - the next message of pseudo-channel ch must be rtr_mt_request_info with `text`. */
static void
info_next(rtr_channel_t ch, const char *text)
{
    char buf[2048];
    rtr_msgsb_t sb;

    memset(buf, 0x7f, sizeof buf);
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_request_info, "msgtype %d", sb.msgtype);
    cr_assert_eq(sb.msglen, strlen(text) + 1, "msglen %u for \"%s\"", sb.msglen, buf);
    cr_assert_str_eq(buf, text);
}

/* info_end - the pseudo-channel ends with rtr_mt_closed{OK} and is gone afterwards. */
static void
info_end(rtr_channel_t ch)
{
    rtr_status_data_t sd;
    rtr_msgsb_t sb;

    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_closed, "msgtype %d", sb.msgtype);
    cr_assert_eq(sd.status, RTR_STS_OK);
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_INVCHANNEL);
}

static rtr_channel_t
ask(const char *cla, const char *selitm, const char *selval, const char *getitms)
{
    rtr_channel_t ch = 0;
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, cla, selitm, selval, getitms), RTR_STS_OK);
    cr_assert_neq(ch, 0);
    return ch;
}

Test(rtr_info, facility_before_any_channel)
{
    rtr_channel_t ch = ask("facility", NULL, NULL, "*");
    info_next(ch, "name=TST\nrouters=1\nbackends=1\npartitions=2");
    info_end(ch);
}

Test(rtr_info, partitions_selected_by_wildcard_with_chosen_items)
{
    rtr_channel_t ch = ask("partition", "name", "P%", "name, low,high ,primary");
    info_next(ch, "name=P1\nlow=[0]\nhigh=[499]\nprimary=be1");
    info_next(ch, "name=P2\nlow=[500]\nhigh=[999]\nprimary=be1");
    info_end(ch);
    ch = ask("PARTITION", "Name", "p2", "high,name"); /* names are case-insensitive */
    info_next(ch, "high=[999]\nname=P2");
    info_end(ch);
    ch = ask("partition", "low", "[5*", "name");
    info_next(ch, "name=P2");
    info_end(ch);
    ch = ask("partition", "name", "Q*", NULL); /* nothing selected: only the end */
    info_end(ch);
}

Test(rtr_info, router_connected_once_it_answered)
{
    char buf[2048];
    rtr_msgsb_t sb;
    rtr_channel_t ch = ask("router", NULL, NULL, "name,connected");

    info_next(ch, "name=r1\nconnected=no");
    info_end(ch);
    tstp_open_client(&P); /* the fake router answered the client link */
    ch = ask("router", "connected", "yes", "*");
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_request_info);
    cr_assert_eq(strncmp(buf, "name=r1\nclients=tcp://127.0.0.1:", 32), 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "\nconnected=yes"), "%s", buf);
    cr_assert_eq(sb.msglen, strlen(buf) + 1);
    info_end(ch);
}

Test(rtr_info, backend_servers_endpoint)
{
    char want[256];
    rtr_channel_t ch = ask("backend", "name", "*", "*");

    snprintf(want, sizeof want, "name=be1\nservers=ipc://%s", P.ipc);
    info_next(ch, want);
    info_end(ch);
}

Test(rtr_info, channels_of_this_process)
{
    rtr_channel_t c = tstp_open_client(&P), s = tstp_open_server(&P, 0, 0, 499), ch, pend = 0;
    char want[256];

    cr_assert_eq(rtr_open_channel(&pend, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, "PEND",
                                  RTR_NO_PEVTNUM, RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    ch = ask("channel", NULL, NULL, NULL);
    snprintf(want, sizeof want, "id=%u\nkind=client\nstate=open\nrcpnam=\npartition=", c);
    info_next(ch, want);
    snprintf(want, sizeof want, "id=%u\nkind=server\nstate=open\nrcpnam=\npartition=P1", s);
    info_next(ch, want);
    snprintf(want, sizeof want, "id=%u\nkind=client\nstate=opening\nrcpnam=PEND\npartition=", pend);
    info_next(ch, want);
    info_end(ch);
    ch = ask("channel", "kind", "SERV*", "id,partition");
    snprintf(want, sizeof want, "id=%u\npartition=P1", s);
    info_next(ch, want);
    info_end(ch);
}

Test(rtr_info, pseudo_channel_rules)
{
    rtr_channel_t ch = ask("facility", NULL, NULL, "name"), got = 0;
    char buf[64];
    rtr_msgsb_t sb;

    /* it is no client nor server channel: every other call refuses it */
    cr_assert_eq(rtr_send_to_server(ch, RTR_NO_FLAGS, "x", 1, RTR_NO_MSGFMT), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_broadcast_event(ch, RTR_NO_FLAGS, "x", 1, 1, NULL, NULL), RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON), RTR_STS_INVCHANNEL);
    /* too small a buffer keeps the answer queued */
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, 4, TSTP_WAIT_MS, &sb),
                 RTR_STS_BUFTOOSMALL);
    cr_assert_eq(sb.msglen, strlen("name=TST") + 1);
    info_next(ch, "name=TST");
    info_end(ch);
    /* closing it early drops what is left */
    ch = ask("partition", NULL, NULL, "name");
    cr_assert_eq(rtr_close_channel(ch, RTR_NO_FLAGS), RTR_STS_OK);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, 0, &sb),
                 RTR_STS_INVCHANNEL); /* no channel left at all */
}

Test(rtr_info, refusals)
{
    rtr_channel_t ch = 0;

    cr_assert_eq(rtr_request_info(NULL, RTR_NO_FLAGS, "facility", NULL, NULL, NULL),
                 RTR_STS_INVARG);
    cr_assert_eq(rtr_request_info(&ch, 1, "facility", NULL, NULL, NULL), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, NULL, NULL, NULL, NULL), RTR_STS_INVARG);
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, "rtr", "name", "x", "y"), RTR_STS_INVARG);
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, "facility", "color", "*", NULL),
                 RTR_STS_INVARG); /* unknown selection item */
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, "facility", NULL, NULL, "name,color"),
                 RTR_STS_INVARG); /* unknown item to return */
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, "facility", NULL, NULL, "name,,routers"),
                 RTR_STS_INVARG); /* empty item */
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, "partition", "servers", "*", NULL),
                 RTR_STS_INVARG); /* an item of another class */
    cr_assert_eq(ch, 0);          /* nothing was opened */
}

Test(rtr_info, bad_facility_file_is_config)
{
    rtr_channel_t ch = 0;
    setenv("RTR_CONFIG", "/nonexistent/facility.conf", 1);
    cr_assert_eq(rtr_request_info(&ch, RTR_NO_FLAGS, "facility", NULL, NULL, NULL), RTR_STS_CONFIG);
}
