/*
 * rtr_events_e2e_test.c - user events end to end with the real daemons: rtr-router and
 * rtr-backend on a generated facility, and librtr in the test process with one client channel
 * and one server channel. A client's broadcast travels client -> router -> backend -> server
 * process; a server's travels server -> backend -> router -> client process. The daemons are
 * stopped with SIGTERM and, whatever happens, killed by their PIDs at the end. Every wait is a
 * poll with a deadline.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cmn.h"
#include "rtr.h"
#include "tst.h"
#include "wire_zmq.h"

#define DEADLINE_MS 15000
#define TRY_MS      200 /* how long one broadcast attempt waits for its delivery */

typedef struct {
    char *dir;
    char conf[512];
    char radm[128], badm[128];
    pid_t router, backend;
} efx_t;

static efx_t E;

static pid_t
spawn(const char *bin, const char *node, const char *log)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl(bin, bin, "--config", E.conf, "--node", node, "--log", log, "--log-level", "info",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void
setup(void)
{
    char rlog[600], blog[600];
    int base = 13000 + (int)(getpid() % 500) * 4; /* clients, peers, shadow; < 32768 */
    FILE *fp;

    memset(&E, 0, sizeof E);
    E.dir = tst_tmpdir("evte2e");
    snprintf(E.conf, sizeof E.conf, "%s/facility.conf", E.dir);
    snprintf(E.radm, sizeof E.radm, "ipc:///tmp/rtr-evt-%d.radm", (int)getpid());
    snprintf(E.badm, sizeof E.badm, "ipc:///tmp/rtr-evt-%d.badm", (int)getpid());
    fp = fopen(E.conf, "w");
    cr_assert_not_null(fp);
    fprintf(fp,
            "facility = \"EVT\";\n"
            "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
            "routers = ( { name = \"r1\"; clients = \"tcp://127.0.0.1:%d\";\n"
            "              peers = \"tcp://127.0.0.1:%d\"; admin = \"%s\"; } );\n"
            "backends = ( { name = \"be1\"; shadow = \"tcp://127.0.0.1:%d\";\n"
            "               servers = \"ipc:///tmp/rtr-evt-%d.srv\"; admin = \"%s\";\n"
            "               journal = \"%s/journal\"; } );\n"
            "partitions = ( { name = \"P1\"; low = [ 0 ]; high = [ 999 ]; primary = \"be1\"; } );\n"
            "settings = { heartbeat_ms = 50; failure_timeout_ms = 3000; };\n",
            base, base + 1, E.radm, base + 2, (int)getpid(), E.badm, E.dir);
    fclose(fp);
    snprintf(rlog, sizeof rlog, "%s/router.log", E.dir);
    snprintf(blog, sizeof blog, "%s/backend.log", E.dir);
    E.router = spawn(RTR_ROUTER_BIN, "r1", rlog);
    E.backend = spawn(RTR_BACKEND_BIN, "be1", blog);
    setenv("RTR_CONFIG", E.conf, 1);
    setenv("RTR_NODE", "be1", 1);
}

/* stop - SIGTERM, wait up to the deadline for a clean exit, else SIGKILL (always by PID). */
static void
stop(pid_t *pid)
{
    uint64_t end = cmn_now_mono_ns() + 5000ull * 1000000u;
    int st;

    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    while (waitpid(*pid, &st, WNOHANG) == 0) {
        if (cmn_now_mono_ns() >= end) {
            kill(*pid, SIGKILL);
            waitpid(*pid, &st, 0);
            break;
        }
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL); /* pacing of the exit poll, not a synchronization */
    }
    *pid = 0;
}

static void
teardown(void)
{
    char path[128];

    rtrx_shutdown();
    stop(&E.router);
    stop(&E.backend);
    snprintf(path, sizeof path, "/tmp/rtr-evt-%d.srv", (int)getpid());
    unlink(path);
    unlink(E.radm + 6);
    unlink(E.badm + 6);
    if (getenv("RTR_TEST_KEEP") == NULL)
        tst_rmtree(E.dir);
    free(E.dir);
}

TestSuite(rtr_events_e2e, .init = setup, .fini = teardown, .timeout = 90);

/* wait_opened - the next message of ch must be rtr_mt_opened{OK}. */
static void
wait_opened(rtr_channel_t ch)
{
    rtr_channel_t list[] = { ch, RTR_CHAN_ENDLIST }, got = 0;
    rtr_status_data_t sd;
    rtr_msgsb_t sb;

    cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, list, &sd, sizeof sd, DEADLINE_MS, &sb),
                 RTR_STS_OK);
    cr_assert_eq(sb.msgtype, rtr_mt_opened);
    cr_assert_eq(sd.status, RTR_STS_OK);
}

/* deliver - broadcast on `from` until `to` receives the event (the daemons learn each other
 * from their first heartbeats: until then a best-effort event may go nowhere). Returns the
 * number of attempts. */
static int
deliver(rtr_channel_t from, rtr_channel_t to, rtr_evtnum_t evtnum, const char *rcpspc)
{
    uint64_t end = cmn_now_mono_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    rtr_channel_t list[] = { to, RTR_CHAN_ENDLIST }, got = 0;

    for (int attempt = 1; cmn_now_mono_ns() < end; attempt++) {
        char body[32], buf[64];
        rtr_msgsb_t sb;
        rtr_status_t sts;

        snprintf(body, sizeof body, "event-%d", attempt);
        cr_assert_eq(rtr_broadcast_event(from, RTR_NO_FLAGS, body, (rtr_msglen_t)strlen(body) + 1,
                                         evtnum, rcpspc, RTR_NO_MSGFMT),
                     RTR_STS_OK);
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, list, buf, sizeof buf, TRY_MS, &sb);
        if (sts == RTR_STS_TIMOUT)
            continue;
        cr_assert_eq(sts, RTR_STS_OK);
        cr_assert_eq(sb.msgtype, rtr_mt_user_event);
        cr_assert_eq(sb.evtnum, evtnum);
        cr_assert_eq(strncmp(buf, "event-", 6), 0);
        return attempt;
    }
    cr_assert_fail("event %u never reached channel %u", evtnum, to);
    return 0;
}

/* next_msg - the next message on ch, skipping late copies of deliver()'s probes. */
static void
next_msg(rtr_channel_t ch, char *buf, size_t len, rtr_msgsb_t *sb)
{
    rtr_channel_t list[] = { ch, RTR_CHAN_ENDLIST }, got = 0;

    do {
        memset(buf, 0, len);
        cr_assert_eq(rtr_receive_message(&got, RTR_NO_FLAGS, list, buf, (rtr_msglen_t)len - 1,
                                         DEADLINE_MS, sb),
                     RTR_STS_OK);
    } while (sb->msgtype == rtr_mt_user_event && strncmp(buf, "event-", 6) == 0);
}

/* counter - a counter of a daemon's "show counters" (router: a row; backend: a field). */
static long long
counter(const char *ep, const char *name)
{
    void *z = zmq_ctx_new(), *s = zmq_socket(z, ZMQ_DEALER);
    Rtr__Envelope env, *rep = NULL;
    Rtr__AdminRequest rq = RTR__ADMIN_REQUEST__INIT;
    zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
    json_t *j, *v = NULL;
    long long val = -1;
    int zero = 0;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(zmq_connect(s, ep), 0);
    rq.request_id = 1;
    rq.command = "show counters";
    wire_envelope_init(&env, "a-test", 0, 1, RTR__ROLE__ROLE_ADMIN);
    env.body_case = RTR__ENVELOPE__BODY_ADMIN_REQUEST;
    env.admin_request = &rq;
    cr_assert_eq(wire_zmq_send(s, NULL, &env, 0), RTR_STS_OK);
    cr_assert_eq(zmq_poll(&it, 1, DEADLINE_MS), 1, "no admin answer from %s", ep);
    cr_assert_eq(wire_zmq_recv(s, NULL, NULL, &rep), RTR_STS_OK);
    cr_assert_eq(rep->body_case, RTR__ENVELOPE__BODY_ADMIN_REPLY);
    j = json_loads(rep->admin_reply->json, 0, NULL);
    cr_assert_not_null(j);
    if ((v = json_object_get(j, name)) != NULL) {
        val = json_integer_value(v);
    } else {
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(j, "rows"), i, row)
        {
            if (strcmp(json_string_value(json_array_get(row, 0)), name) == 0)
                val = json_integer_value(json_array_get(row, 1));
        }
    }
    json_decref(j);
    wire_free((ProtobufCMessage **)&rep);
    zmq_close(s);
    zmq_ctx_term(z);
    return val;
}

Test(rtr_events_e2e, events_cross_the_real_router_and_backend)
{
    rtr_evtnum_t sev[] = { 10, RTR_EVTNUM_ENDLIST }, cev[] = { 20, RTR_EVTNUM_ENDLIST };
    rtr_channel_t srv = 0, cli = 0, info = 0;
    uint32_t lo = 0, hi = 999;
    rtr_keyseg_t ks = { rtr_keyseg_unsigned, 4, 0, &lo, &hi };
    char buf[512];
    rtr_msgsb_t sb;

    cr_assert_eq(
        rtr_open_channel(&srv, RTR_F_OPE_SERVER, "EVT", "SRV1", sev, RTR_NO_ACCESS, 1, &ks),
        RTR_STS_OK);
    wait_opened(srv);
    cr_assert_eq(rtr_open_channel(&cli, RTR_F_OPE_CLIENT, "EVT", "CLI1", cev, RTR_NO_ACCESS,
                                  RTR_NO_NUMSEG, RTR_NO_PKEYSEG),
                 RTR_STS_OK);
    wait_opened(cli);
    /* client -> router -> backend -> server process */
    cr_assert_geq(deliver(cli, srv, 10, "SRV*"), 1);
    /* server -> backend -> router -> client process */
    cr_assert_geq(deliver(srv, cli, 20, "CLI%"), 1);
    /* a pattern that matches nobody: nothing arrives, then a matching one does (ordered) */
    cr_assert_eq(rtr_broadcast_event(srv, RTR_NO_FLAGS, "x", 2, 20, "OTHER", RTR_NO_MSGFMT),
                 RTR_STS_OK);
    cr_assert_eq(
        rtr_broadcast_event(srv, RTR_NO_FLAGS, "last", 5, 20, RTR_NO_RCPSPC, RTR_NO_MSGFMT),
        RTR_STS_OK);
    next_msg(cli, buf, sizeof buf, &sb);
    cr_assert_eq(sb.msgtype, rtr_mt_user_event);
    cr_assert_eq(sb.evtnum, 20);
    cr_assert_str_eq(buf, "last"); /* not "x" */
    /* the daemons counted what they forwarded */
    cr_assert_geq(counter(E.radm, "events_forwarded"), 3);
    cr_assert_geq(counter(E.badm, "events_forwarded"), 3);
    cr_assert_eq(counter(E.radm, "clients_with_channels"), 1);
    /* what librtr knows: the router it uses answered */
    cr_assert_eq(rtr_request_info(&info, RTR_NO_FLAGS, "router", "name", "r1", "name,connected"),
                 RTR_STS_OK);
    next_msg(info, buf, sizeof buf, &sb);
    cr_assert_eq(sb.msgtype, rtr_mt_request_info);
    cr_assert_str_eq(buf, "name=r1\nconnected=yes");
    /* closing the last client channel takes the process out of the router's event set */
    cr_assert_eq(rtr_close_channel(cli, RTR_NO_FLAGS), RTR_STS_OK);
    uint64_t end = cmn_now_mono_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    while (counter(E.radm, "clients_with_channels") != 0)
        cr_assert_lt(cmn_now_mono_ns(), end, "the router still lists the client");
}
