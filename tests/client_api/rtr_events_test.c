/*
 * rtr_events_test.c - user events through librtr against the fake peers: subscriptions by event
 * number (ranges included) and recipient name patterns, rtr_mt_user_event delivery, what
 * rtr_broadcast_event sends, and its argument checks.
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

TestSuite(rtr_events, .init = setup, .fini = teardown, .timeout = 60);

/* opened - complete an open through the fake peer on sock. */
static void
opened(void *sock, rtr_channel_t ch, const char *partition)
{
    Rtr__Envelope *env = tstp_expect(&P, sock, RTR__ENVELOPE__BODY_CHANNEL_OPEN, TSTP_WAIT_MS);
    rtr_msgsb_t sb;
    rtr_status_data_t sd;

    cr_assert_not_null(env);
    cr_assert_eq(env->channel_open->channel, ch);
    tstp_channel_status(&P, sock, ch, RTR_STS_OK, partition, false);
    cr_assert_eq(tstp_recv(ch, &sd, sizeof sd, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_opened);
}

static rtr_channel_t
open_client(const char *rcpnam, rtr_evtnum_t *events)
{
    rtr_channel_t ch = 0;
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, rcpnam, events,
                                  RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    opened(P.router, ch, NULL);
    return ch;
}

static rtr_channel_t
open_server(const char *rcpnam, rtr_evtnum_t *events)
{
    rtr_channel_t ch = 0;
    uint32_t lo = 0, hi = 499;
    rtr_keyseg_t ks = { rtr_keyseg_unsigned, 4, 0, &lo, &hi };
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_SERVER, RTR_DEFAULT_FACNAM, rcpnam, events,
                                  RTR_NO_ACCESS, 1, &ks),
                 RTR_STS_OK);
    opened(P.backend, ch, "P1");
    return ch;
}

/* next_event - the next message on any channel must be user event evtnum with body `text` on
 * channel ch. */
static void
next_event(rtr_channel_t ch, rtr_evtnum_t evtnum, const char *text)
{
    char buf[256];
    rtr_msgsb_t sb;
    rtr_channel_t got = 0;

    memset(buf, 0, sizeof buf);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf - 1,
                                     TSTP_WAIT_MS, &sb),
                 RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_user_event, "msgtype %d", sb.msgtype);
    cr_assert_eq(got, ch, "event %u on channel %u, expected %u", sb.evtnum, got, ch);
    cr_assert_eq(sb.evtnum, evtnum);
    cr_assert_eq(sb.msglen, strlen(text));
    cr_assert_str_eq(buf, text);
}

static void
bcast(void *sock, uint32_t evtnum, const char *text, const char *rcpspc)
{
    tstp_broadcast(&P, sock, evtnum, text, strlen(text), rcpspc);
}

Test(rtr_events, delivered_by_event_number_and_recipient_pattern)
{
    rtr_evtnum_t ea[] = { 1, 5, RTR_EVTNUM_UP_TO, 7, RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t eb[] = { 5, 250, RTR_EVTNUM_ENDLIST };
    rtr_channel_t a = open_client("BRANCH1", ea), b = open_client("HQ", eb);
    rtr_channel_t c = open_client(RTR_NO_RCPNAM, eb);
    rtr_channel_t d = open_client("BRANCH2", RTR_NO_PEVTNUM); /* subscribes to nothing */

    (void)d;
    bcast(P.router, 6, "six", NULL); /* inside a's range only */
    next_event(a, 6, "six");
    bcast(P.router, 5, "five-br", "BR%NCH*"); /* a matches; b, c and d do not */
    next_event(a, 5, "five-br");
    bcast(P.router, 5, "five-all", "*"); /* every channel subscribed to 5, in channel order */
    next_event(a, 5, "five-all");
    next_event(b, 5, "five-all");
    next_event(c, 5, "five-all");
    bcast(P.router, 2, "nobody", NULL);    /* nobody subscribed to 2 */
    bcast(P.router, 250, "no-name", "");   /* "" matches only channels without a name */
    bcast(P.router, 250, "hq-case", "hq"); /* patterns are case-sensitive: nobody */
    bcast(P.router, 250, "h-any", "H%");   /* b */
    bcast(P.router, 7, "range-top", "*1"); /* a */
    next_event(c, 250, "no-name");         /* ordered per sender: 2 and "hq" went nowhere */
    next_event(b, 250, "h-any");
    next_event(a, 7, "range-top");
    cr_assert_eq(
        rtr_receive_message(&a, RTR_NO_FLAGS, RTR_ANYCHAN, NULL, 0, 0, &(rtr_msgsb_t){ 0 }),
        RTR_STS_TIMOUT);
}

Test(rtr_events, user_event_message_and_small_buffer)
{
    rtr_evtnum_t ev[] = { 0, RTR_EVTNUM_UP_TO, 250, RTR_EVTNUM_ENDLIST };
    rtr_channel_t ch = open_client("X", ev), got = 0;
    static char body[RTR_MAX_MSGLEN], buf[RTR_MAX_MSGLEN];
    rtr_msgsb_t sb;

    memset(body, 'q', sizeof body);
    cr_assert_eq(rtr_set_user_handle(ch, (rtr_usrhdl_t)0x55), RTR_STS_OK);
    tstp_broadcast(&P, P.router, 0, body, sizeof body, NULL);
    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, 10, TSTP_WAIT_MS, &sb),
                 RTR_STS_BUFTOOSMALL);
    cr_assert_eq(sb.msglen, RTR_MAX_MSGLEN);
    cr_assert_eq(
        rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf, TSTP_WAIT_MS, &sb),
        RTR_STS_OK);
    cr_assert_eq(got, ch);
    cr_assert_eq(sb.msgtype, rtr_mt_user_event);
    cr_assert_eq(sb.evtnum, 0);
    cr_assert_eq(sb.usrhdl, (rtr_usrhdl_t)0x55);
    cr_assert_eq(sb.msglen, RTR_MAX_MSGLEN);
    cr_assert_eq(memcmp(buf, body, sizeof body), 0);
    tstp_broadcast(&P, P.router, 9, NULL, 0, NULL); /* zero-length events are fine */
    cr_assert_eq(tstp_recv(ch, buf, sizeof buf, &sb), RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_user_event);
    cr_assert_eq(sb.evtnum, 9);
    cr_assert_eq(sb.msglen, 0);
}

Test(rtr_events, events_reach_only_channels_of_the_other_side)
{
    rtr_evtnum_t ev[] = { 3, RTR_EVTNUM_ENDLIST };
    rtr_channel_t s = open_server("SRV", ev), c = open_client("CLI", ev);

    bcast(P.backend, 3, "to-servers", NULL); /* a client's event, relayed by the backend */
    next_event(s, 3, "to-servers");
    bcast(P.router, 3, "to-clients", NULL); /* a server's event, relayed by the router */
    next_event(c, 3, "to-clients");
    bcast(P.backend, 3, "srv-only", "S*");
    next_event(s, 3, "srv-only");
}

Test(rtr_events, broadcast_sends_on_the_channel_link)
{
    rtr_channel_t c = open_client("A", RTR_NO_PEVTNUM), s = open_server("B", RTR_NO_PEVTNUM);
    Rtr__Envelope *env;

    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, "hello", 5, 42, "SRV*", RTR_NO_MSGFMT),
                 RTR_STS_OK);
    env = tstp_expect(&P, P.router, RTR__ENVELOPE__BODY_BROADCAST, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cr_assert_eq(env->broadcast->evtnum, 42);
    cr_assert_eq(env->broadcast->body.len, 5);
    cr_assert_eq(memcmp(env->broadcast->body.data, "hello", 5), 0);
    cr_assert_str_eq(env->broadcast->rcpspc, "SRV*");
    cr_assert_eq(rtr_broadcast_event(s, RTR_NO_FLAGS, NULL, 0, RTR_EVTNUM_USERMAX, RTR_NO_RCPSPC,
                                     RTR_NO_MSGFMT),
                 RTR_STS_OK);
    env = tstp_expect(&P, P.backend, RTR__ENVELOPE__BODY_BROADCAST, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cr_assert_eq(env->broadcast->evtnum, 250);
    cr_assert_eq(env->broadcast->body.len, 0);
    cr_assert_null(env->broadcast->rcpspc);
    /* a broadcast is no transaction */
    rtr_tid_t tid;
    cr_assert_eq(rtr_get_tid(c, RTR_NO_FLAGS, &tid), RTR_STS_NOTFOUND);
}

Test(rtr_events, broadcast_argument_checks)
{
    static char big[RTR_MAX_MSGLEN + 1];
    char pat[300];
    rtr_channel_t c = open_client("A", RTR_NO_PEVTNUM), pending = 0;

    memset(pat, 'x', sizeof pat - 1);
    pat[sizeof pat - 1] = '\0';
    cr_assert_eq(rtr_broadcast_event(c, 1, "x", 1, 1, NULL, NULL), RTR_STS_INVFLAGS);
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, big, RTR_MAX_MSGLEN + 1, 1, NULL, NULL),
                 RTR_STS_INVMSGLEN);
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, NULL, 1, 1, NULL, NULL), RTR_STS_INVARG);
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, "x", 1, RTR_EVTNUM_USERMAX + 1, NULL, NULL),
                 RTR_STS_INVEVTNUM);
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, "x", 1, RTR_EVTNUM_SRPRIMARY, NULL, NULL),
                 RTR_STS_INVEVTNUM); /* RTR events are RTR's to send */
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, "x", 1, 1, pat, NULL), RTR_STS_INVRCPNAM);
    cr_assert_eq(rtr_broadcast_event(c + 1000, RTR_NO_FLAGS, "x", 1, 1, NULL, NULL),
                 RTR_STS_INVCHANNEL);
    cr_assert_eq(rtr_open_channel(&pending, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                                  RTR_NO_PEVTNUM, RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    cr_assert_eq(rtr_broadcast_event(pending, RTR_NO_FLAGS, "x", 1, 1, NULL, NULL),
                 RTR_STS_INVCHANNEL); /* not opened yet */
    cr_assert_eq(rtr_broadcast_event(c, RTR_NO_FLAGS, big, RTR_MAX_MSGLEN, 1, NULL, NULL),
                 RTR_STS_OK);
    cr_assert(tstp_quiet(&P, P.router, RTR__ENVELOPE__BODY_TX_MSG, 200)); /* nothing else */
}

Test(rtr_events, subscription_lists_are_checked_and_expanded)
{
    rtr_evtnum_t bad1[] = { RTR_EVTNUM_UP_TO, 5, RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t bad2[] = { 9, RTR_EVTNUM_UP_TO, 5, RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t bad3[] = { 200, RTR_EVTNUM_UP_TO, RTR_EVTNUM_SRPRIMARY, RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t bad4[] = { 251, RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t bad5[] = { 1, RTR_EVTNUM_UP_TO, RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t all[] = { RTR_EVTNUM_USERBASE,  RTR_EVTNUM_UP_TO, RTR_EVTNUM_USERMAX,
                           RTR_EVTNUM_SRPRIMARY, RTR_EVTNUM_UP_TO, RTR_EVTNUM_SRRECOVERCMPL,
                           RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t *bad[] = { bad1, bad2, bad3, bad4, bad5 };
    rtr_channel_t ch = 0;
    Rtr__Envelope *env;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                                      bad[i], RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                     RTR_STS_INVEVTNUM, "list %zu", i);
    cr_assert_eq(rtr_open_channel(&ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM, all,
                                  RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    env = tstp_expect(&P, P.router, RTR__ENVELOPE__BODY_CHANNEL_OPEN, TSTP_WAIT_MS);
    cr_assert_not_null(env);
    cr_assert_eq(env->channel_open->n_events, 251 + 6);
    cr_assert_eq(env->channel_open->events[0], 0);
    cr_assert_eq(env->channel_open->events[250], 250);
    cr_assert_eq(env->channel_open->events[251], RTR_EVTNUM_SRPRIMARY);
    cr_assert_eq(env->channel_open->events[256], RTR_EVTNUM_SRRECOVERCMPL);
}

Test(rtr_events, closed_channel_gets_no_more_events)
{
    rtr_evtnum_t ev[] = { 4, RTR_EVTNUM_ENDLIST };
    rtr_channel_t a = open_client("A", ev), b = open_client("B", ev);

    bcast(P.router, 4, "first", NULL);
    next_event(a, 4, "first");
    next_event(b, 4, "first");
    bcast(P.router, 4, "queued", NULL);
    cr_assert_eq(rtr_close_channel(a, RTR_NO_FLAGS), RTR_STS_OK); /* drops a's copy, if any */
    next_event(b, 4, "queued");
    bcast(P.router, 4, "second", NULL);
    next_event(b, 4, "second");
}

static void
server_event(uint32_t evtnum, const char *partition)
{
    tstp_server_event(&P, evtnum, partition);
}

Test(rtr_events, role_events_reach_subscribed_server_channels_of_the_partition)
{
    rtr_evtnum_t roles[] = { RTR_EVTNUM_SRPRIMARY, RTR_EVTNUM_SRSHADOWLOST, RTR_EVTNUM_ENDLIST };
    rtr_evtnum_t user[] = { 5, RTR_EVTNUM_ENDLIST };
    rtr_channel_t a = open_server("A", roles), b = open_server("B", user);
    char buf[64];
    rtr_msgsb_t sb;
    rtr_channel_t got = 0;

    (void)b;
    server_event(RTR_EVTNUM_SRSECONDARY, "P1"); /* nobody subscribed */
    server_event(RTR_EVTNUM_SRPRIMARY, "P2");   /* another partition */
    server_event(RTR_EVTNUM_SRPRIMARY, "P1");
    server_event(999, "P1"); /* not an RTR event number: refused */
    server_event(RTR_EVTNUM_SRSHADOWLOST, "P1");
    for (rtr_evtnum_t want = RTR_EVTNUM_SRPRIMARY; want <= RTR_EVTNUM_SRSHADOWLOST;
         want += RTR_EVTNUM_SRSHADOWLOST - RTR_EVTNUM_SRPRIMARY) {
        memset(buf, 0, sizeof buf);
        cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, buf, sizeof buf - 1,
                                         TSTP_WAIT_MS, &sb),
                     RTR_STS_OK);
        cr_assert_eq(sb.msgtype, rtr_mt_rtr_event, "msgtype %d", sb.msgtype);
        cr_assert_eq(got, a);
        cr_assert_eq(sb.evtnum, want);
        cr_assert_str_eq(buf, "P1");
    }
    cr_assert_eq(
        rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, NULL, 0, 0, &(rtr_msgsb_t){ 0 }),
        RTR_STS_TIMOUT);
}
