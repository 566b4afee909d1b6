/*
 * rtd_daemon_test.c - the real rtr-router binary ($RTD_ROUTER_BIN) on a generated facility,
 * driven by a fake backend (DEALER "be1") and a fake client (DEALER "c-...") in this process.
 *
 * Ports come from a per-test base derived from getpid() (each Criterion test runs in its own
 * worker process); the admin endpoint is an ipc path under /tmp. Nothing sleeps: every wait
 * polls a socket with a deadline. The router is stopped by PID with SIGTERM in .fini (also
 * when an assertion failed) and must exit 0 (a leak under ASan makes it exit non-zero); its
 * log is copied to this test's stderr so that ctest sees any sanitizer report in it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <zmq.h>

#include "cmn.h"
#include "tst.h"
#include "wire_zmq.h"

#define CLIENT_ID  "c-00000000000000aa"
#define CLIENT_INC 0xaaull
#define BE_INC     0xbe1ull
#define WAIT_MS    10000

typedef struct {
    char *dir;
    char conf[512];
    char log[512];
    char admin_ep[256];
    char clients_ep[64];
    char peers_ep[64];
    pid_t pid;
    void *zctx;
    void *client, *backend, *admin;
    uint64_t admin_req;
    uint64_t be_inc; /* the fake backend's current incarnation */
} rtd_dt_t;

static rtd_dt_t D;

static uint64_t
now_ms(void)
{
    return cmn_now_mono_ns() / 1000000u;
}

static void
write_config(int base)
{
    char text[4096];
    int n;

    snprintf(D.clients_ep, sizeof D.clients_ep, "tcp://127.0.0.1:%d", base);
    snprintf(D.peers_ep, sizeof D.peers_ep, "tcp://127.0.0.1:%d", base + 1);
    snprintf(D.admin_ep, sizeof D.admin_ep, "ipc://%s/r1.adm", D.dir);
    n = snprintf(
        text, sizeof text,
        "facility = \"DTEST\";\n"
        "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
        "routers = ( { name = \"r1\"; clients = \"%s\"; peers = \"%s\"; admin = \"%s\"; } );\n"
        "backends = ( { name = \"be1\"; shadow = \"tcp://127.0.0.1:%d\";\n"
        "   servers = \"ipc://%s/be1.srv\"; admin = \"ipc://%s/be1.adm\";\n"
        "   journal = \"%s/be1\"; } );\n"
        "partitions = ( { name = \"P1\"; low = [ 0 ]; high = [ 999 ]; primary = \"be1\"; } );\n"
        "settings = { heartbeat_ms = 50; failure_timeout_ms = 2000; };\n",
        D.clients_ep, D.peers_ep, D.admin_ep, base + 2, D.dir, D.dir, D.dir);
    cr_assert(n > 0 && (size_t)n < sizeof text);
    snprintf(D.conf, sizeof D.conf, "%s/facility.conf", D.dir);
    cr_assert_eq(tst_write_file(D.conf, text, (size_t)n), 0);
}

static void
start_router(void)
{
    const char *bin = getenv("RTD_ROUTER_BIN");

    cr_assert_not_null(bin, "RTD_ROUTER_BIN is not set");
    snprintf(D.log, sizeof D.log, "%s/router.log", D.dir);
    D.pid = fork();
    cr_assert_geq(D.pid, 0);
    if (D.pid == 0) {
        FILE *f = freopen(D.log, "a", stderr);
        (void)f;
        execl(bin, bin, "--config", D.conf, "--node", "r1", "--log-level", "info", (char *)NULL);
        _exit(127);
    }
}

static void *
dealer(const char *id, const char *endpoint)
{
    void *s = zmq_socket(D.zctx, ZMQ_DEALER);
    int zero = 0;

    cr_assert_not_null(s);
    cr_assert_eq(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)), 0);
    cr_assert_eq(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    return s;
}

static void
setup(void)
{
    int base = 21000 + (int)(getpid() % 1000) * 3 + 1; /* < 32768: not ephemeral */

    memset(&D, 0, sizeof D);
    D.pid = -1;
    D.dir = tst_tmpdir("rtdd");
    write_config(base);
    start_router();
    D.zctx = zmq_ctx_new();
    D.admin = dealer("a-test", D.admin_ep);
    D.client = dealer(CLIENT_ID, D.clients_ep);
    D.backend = dealer("be1", D.peers_ep);
}

/* stop_router - SIGTERM, then wait up to WAIT_MS for a clean exit (SIGKILL after that).
 * Returns the wait status, or -1 if it had to be killed. */
static int
stop_router(void)
{
    int st = 0;
    uint64_t end = now_ms() + WAIT_MS;
    struct pollfd pfd;

    if (D.pid <= 0)
        return 0;
    kill(D.pid, SIGTERM);
    pfd.fd = (int)syscall(SYS_pidfd_open, D.pid, 0);
    pfd.events = POLLIN;
    /* wait for the exit on a pidfd (poll with a deadline), then reap it */
    while (pfd.fd >= 0 && now_ms() < end && poll(&pfd, 1, (int)(end - now_ms())) == 0)
        ;
    if (pfd.fd >= 0)
        close(pfd.fd);
    if (waitpid(D.pid, &st, WNOHANG) != D.pid) {
        kill(D.pid, SIGKILL);
        waitpid(D.pid, &st, 0);
        D.pid = -1;
        return -1;
    }
    D.pid = -1;
    return st;
}

static void
dump_log(void)
{
    size_t len = 0;
    char *text = tst_read_file(D.log, &len);
    if (text != NULL) {
        fprintf(stderr, "---- router log ----\n%s---- end of router log ----\n", text);
        free(text);
    }
}

static void
teardown(void)
{
    void **s[] = { &D.client, &D.backend, &D.admin };
    for (size_t i = 0; i < 3; i++)
        if (*s[i] != NULL)
            zmq_close(*s[i]);
    if (D.zctx != NULL)
        zmq_ctx_term(D.zctx);
    stop_router();
    if (getenv("RTD_TEST_VERBOSE") != NULL)
        dump_log();
    tst_rmtree(D.dir);
    free(D.dir);
}

/* ---- envelopes ------------------------------------------------------------------------- */

static void
send_env(void *s, Rtr__Envelope *env)
{
    cr_assert_eq(wire_zmq_send(s, NULL, env, 0), RTR_STS_OK);
}

/* recv_body - wait up to WAIT_MS for an envelope with body `bc` on DEALER s, skipping
 * heartbeats. Returns it (caller frees with wire_free) or fails the test. */
static Rtr__Envelope *
recv_body(void *s, Rtr__Envelope__BodyCase bc)
{
    uint64_t end = now_ms() + WAIT_MS;

    for (;;) {
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        uint64_t now = now_ms();
        Rtr__Envelope *env = NULL;
        cr_assert_lt(now, end, "no message with body %d within %d ms", bc, WAIT_MS);
        if (zmq_poll(&it, 1, (long)(end - now)) <= 0)
            continue;
        if (wire_zmq_recv(s, NULL, NULL, &env) != RTR_STS_OK)
            continue;
        cr_assert_eq(env->role, RTR__ROLE__ROLE_ROUTER);
        if (env->body_case == bc)
            return env;
        cr_assert_eq(env->body_case, RTR__ENVELOPE__BODY_HEARTBEAT, "unexpected body %d",
                     env->body_case);
        wire_free((ProtobufCMessage **)&env);
    }
}

/* admin_args - one admin command with an optional argument; returns the parsed JSON of the
 * reply (caller json_decref). Resends every 200 ms until the deadline (the router may still
 * be starting). */
static json_t *
admin_args(const char *command, const char *arg, uint32_t *status)
{
    uint64_t end = now_ms() + WAIT_MS;

    for (;;) {
        Rtr__Envelope env, *in = NULL;
        Rtr__AdminRequest req = RTR__ADMIN_REQUEST__INIT;
        uint64_t rid = ++D.admin_req;
        uint64_t turn = now_ms() + 200;

        cr_assert_lt(now_ms(), end, "no admin reply to \"%s\"", command);
        wire_envelope_init(&env, "a-test", 0, 1, RTR__ROLE__ROLE_ADMIN);
        req.request_id = rid;
        req.command = (char *)(uintptr_t)command;
        char *args[1] = { (char *)(uintptr_t)arg };
        req.n_args = arg != NULL;
        req.args = args;
        env.body_case = RTR__ENVELOPE__BODY_ADMIN_REQUEST;
        env.admin_request = &req;
        send_env(D.admin, &env);
        while (now_ms() < turn) {
            zmq_pollitem_t it = { D.admin, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll(&it, 1, (long)(turn - now_ms())) <= 0)
                continue;
            if (wire_zmq_recv(D.admin, NULL, NULL, &in) != RTR_STS_OK)
                continue;
            if (in->body_case == RTR__ENVELOPE__BODY_ADMIN_REPLY &&
                in->admin_reply->request_id == rid) {
                json_t *j = NULL;
                *status = in->admin_reply->status;
                if (in->admin_reply->json != NULL)
                    j = json_loads(in->admin_reply->json, 0, NULL);
                wire_free((ProtobufCMessage **)&in);
                return j;
            }
            wire_free((ProtobufCMessage **)&in);
        }
    }
}

static json_t *
admin(const char *command, uint32_t *status)
{
    return admin_args(command, NULL, status);
}

/* counter - the value of one row of "show counters". */
static long long
counter(const char *name)
{
    uint32_t st = 0;
    json_t *j = admin("show counters", &st);
    json_t *rows, *row;
    size_t i;
    long long v = -1;

    cr_assert_eq(st, RTR_STS_OK);
    rows = json_object_get(j, "rows");
    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_array_get(row, 0)), name) == 0)
            v = json_integer_value(json_array_get(row, 1));
    }
    json_decref(j);
    cr_assert_neq(v, -1, "no counter %s", name);
    return v;
}

/* wait_counter - poll "show counters" until `name` == want (frames on other sockets may be
 * processed after an admin request sent later). */
static void
wait_counter(const char *name, long long want)
{
    uint64_t end = now_ms() + WAIT_MS;
    long long v;
    while ((v = counter(name)) != want) {
        cr_assert_lt(now_ms(), end, "counter %s is %lld, expected %lld", name, v, want);
    }
}

static void
backend_hello_inc(uint64_t inc)
{
    Rtr__Envelope env;
    Rtr__BackendHello h = RTR__BACKEND_HELLO__INIT;
    char *parts[] = { "P1" };
    uint64_t end = now_ms() + WAIT_MS;

    D.be_inc = inc;
    wire_envelope_init(&env, "be1", 0, inc, RTR__ROLE__ROLE_BACKEND);
    h.n_partitions = 1;
    h.partitions = parts;
    env.body_case = RTR__ENVELOPE__BODY_BACKEND_HELLO;
    env.backend_hello = &h;
    /* resend until the routing view shows be1 (the connection may not be up yet) */
    for (;;) {
        uint32_t st = 0;
        json_t *j;
        const char *b;
        bool up;
        send_env(D.backend, &env);
        j = admin("show partition", &st);
        cr_assert_eq(st, RTR_STS_OK);
        b = json_string_value(json_array_get(json_array_get(json_object_get(j, "rows"), 0), 3));
        up = b != NULL && strcmp(b, "be1") == 0;
        json_decref(j);
        if (up)
            return;
        cr_assert_lt(now_ms(), end, "be1 never appeared in show partition");
    }
}

static void
backend_hello(void)
{
    backend_hello_inc(BE_INC);
}

static void
client_env(Rtr__Envelope *env)
{
    wire_envelope_init(env, CLIENT_ID, 0, CLIENT_INC, RTR__ROLE__ROLE_CLIENT);
}

static void
send_txmsg(uint64_t counter, uint32_t index, uint32_t key, uint32_t flags)
{
    Rtr__Envelope env;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    cmn_tid_t t = { CLIENT_INC, counter };
    uint8_t tid[16], body[16] = { 0 };

    cmn_tid_pack(&t, tid);
    memcpy(body, &key, 4);
    memcpy(body + 4, "payload", 7);
    client_env(&env);
    m.tid.len = 16;
    m.tid.data = tid;
    m.index = index;
    m.channel = 1;
    m.body.len = sizeof body;
    m.body.data = body;
    m.has_flags = flags != 0;
    m.flags = flags;
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    send_env(D.client, &env);
}

/* one_transaction - TxMsg routed, TxVote -> VoteRequest at the backend, TxReply and TxOutcome
 * relayed to the client. */
static void
one_transaction(uint64_t counter)
{
    Rtr__Envelope env, *in;
    Rtr__TxVote v = RTR__TX_VOTE__INIT;
    Rtr__TxReply r = RTR__TX_REPLY__INIT;
    Rtr__TxOutcome o = RTR__TX_OUTCOME__INIT;
    cmn_tid_t t = { CLIENT_INC, counter };
    uint8_t tid[16];

    cmn_tid_pack(&t, tid);
    send_txmsg(counter, 0, 42, 0);
    in = recv_body(D.backend, RTR__ENVELOPE__BODY_TX_MSG);
    cr_assert_eq(memcmp(in->tx_msg->tid.data, tid, 16), 0);
    cr_assert_str_eq(in->tx_msg->partition, "P1");
    cr_assert_eq(memcmp(in->tx_msg->body.data + 4, "payload", 7), 0);
    cr_assert_str_eq(in->sender, "r1");
    wire_free((ProtobufCMessage **)&in);
    {
        char text[CMN_TID_STRLEN], command[64];
        uint32_t st = 0;
        json_t *j, *row;
        cmn_tid_format(&t, text, sizeof text);
        snprintf(command, sizeof command, "show transaction");
        j = admin_args(command, text, &st);
        cr_assert_eq(st, RTR_STS_OK);
        row = json_array_get(json_object_get(j, "rows"), 0);
        cr_assert_str_eq(json_string_value(json_array_get(row, 0)), text);
        cr_assert_str_eq(json_string_value(json_array_get(row, 5)), "COLLECTING");
        json_decref(j);
    }

    wire_envelope_init(&env, "be1", 0, D.be_inc, RTR__ROLE__ROLE_BACKEND);
    r.tid.len = 16;
    r.tid.data = tid;
    r.channel = 1;
    r.body.len = 3;
    r.body.data = (uint8_t *)"ok!";
    env.body_case = RTR__ENVELOPE__BODY_TX_REPLY;
    env.tx_reply = &r;
    send_env(D.backend, &env);
    in = recv_body(D.client, RTR__ENVELOPE__BODY_TX_REPLY);
    cr_assert_eq(memcmp(in->tx_reply->body.data, "ok!", 3), 0);
    wire_free((ProtobufCMessage **)&in);

    client_env(&env);
    v.tid.len = 16;
    v.tid.data = tid;
    v.channel = 1;
    v.accept = 1;
    v.has_nmsgs = 1;
    v.nmsgs = 1;
    env.body_case = RTR__ENVELOPE__BODY_TX_VOTE;
    env.tx_vote = &v;
    send_env(D.client, &env);
    in = recv_body(D.backend, RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(in->vote_request->nmsgs, 1);
    cr_assert_eq(memcmp(in->vote_request->tid.data, tid, 16), 0);
    wire_free((ProtobufCMessage **)&in);

    wire_envelope_init(&env, "be1", 0, D.be_inc, RTR__ROLE__ROLE_BACKEND);
    o.tid.len = 16;
    o.tid.data = tid;
    o.channel = 1;
    o.accepted = 1;
    o.status = RTR_STS_OK;
    o.has_csn = 1;
    o.csn = counter;
    env.body_case = RTR__ENVELOPE__BODY_TX_OUTCOME;
    env.tx_outcome = &o;
    send_env(D.backend, &env);
    in = recv_body(D.client, RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert_eq(in->tx_outcome->accepted, 1);
    cr_assert_eq(in->tx_outcome->csn, counter);
    cr_assert_eq(memcmp(in->tx_outcome->tid.data, tid, 16), 0);
    wire_free((ProtobufCMessage **)&in);
}

TestSuite(rtd_daemon, .init = setup, .fini = teardown, .timeout = 120);

Test(rtd_daemon, routes_votes_and_relays_a_transaction)
{
    Rtr__Envelope *in;
    uint32_t st = 0;
    json_t *j;

    backend_hello();
    one_transaction(1);
    wait_counter("tx_accepted", 1);
    cr_assert_eq(counter("tx_active"), 0);

    /* no backend for the key: NODSTFND at once */
    send_txmsg(2, 0, 5000, 0);
    in = recv_body(D.client, RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert_eq(in->tx_outcome->accepted, 0);
    cr_assert_eq(in->tx_outcome->status, RTR_STS_NODSTFND);
    wire_free((ProtobufCMessage **)&in);

    j = admin("show router", &st);
    cr_assert_eq(st, RTR_STS_OK);
    cr_assert_str_eq(json_string_value(json_object_get(j, "node")), "r1");
    cr_assert_not_null(json_object_get(j, "columns"));
    json_decref(j);
    j = admin("show nonsense", &st);
    cr_assert_eq(st, RTR_STS_INVARG);
    json_decref(j);
    cr_assert_eq(stop_router(), 0, "router did not exit cleanly (0)");
}

/* send_raw - one raw frame on a DEALER (the router sees its routing id + these bytes). */
static void
send_raw(void *s, const void *bytes, size_t len)
{
    cr_assert_eq(zmq_send(s, bytes, len, 0), (int)len);
}

static void
send_wrong_role(void *s, Rtr__Role role)
{
    Rtr__Envelope env;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;

    wire_envelope_init(&env, "liar", 0, 5, role);
    hb.seq = 1;
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_env(s, &env);
}

Test(rtd_daemon, malformed_frames_are_counted_and_routing_goes_on)
{
    static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x07, 0x01 };
    static const uint8_t tag0[] = { 0x80, 0x80, 0x80, 0x80, 0x00, 0x00 };
    void *sock[3];
    const char *names[3] = { "clients", "peers", "admin" };
    Rtr__Role wrong[3] = { RTR__ROLE__ROLE_BACKEND, RTR__ROLE__ROLE_CLIENT,
                           RTR__ROLE__ROLE_CLIENT };
    char name[64];

    backend_hello();
    one_transaction(1);
    /* bad frames on every socket, each from the socket's legitimate peer */
    sock[0] = D.client;
    sock[1] = D.backend;
    sock[2] = D.admin;
    for (int i = 0; i < 3; i++) {
        send_raw(sock[i], garbage, sizeof garbage);
        send_raw(sock[i], tag0, sizeof tag0);
        send_wrong_role(sock[i], wrong[i]);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s.wrong_role", names[i]);
        wait_counter(name, 1);
        snprintf(name, sizeof name, "%s.tag0", names[i]);
        wait_counter(name, 1);
        snprintf(name, sizeof name, "%s.rejected", names[i]);
        wait_counter(name, 2);
    }
    /* a two-frame message and an unexpected body on the clients socket */
    {
        Rtr__Envelope env;
        Rtr__VoteRequest vr = RTR__VOTE_REQUEST__INIT;
        uint8_t tid[16] = { 0 };
        cr_assert_eq(zmq_send(D.client, "x", 1, ZMQ_SNDMORE), 1);
        send_raw(D.client, "y", 1);
        wait_counter("clients.rejected", 3);
        client_env(&env);
        vr.tid.len = 16;
        vr.tid.data = tid;
        env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
        env.vote_request = &vr;
        send_env(D.client, &env);
        wait_counter("clients.unexpected", 1);
    }
    /* nothing was applied: still exactly one transaction, and the router keeps routing */
    cr_assert_eq(counter("tx_started"), 1);
    one_transaction(2);
    wait_counter("tx_accepted", 2);
    cr_assert_eq(stop_router(), 0, "router did not exit cleanly (0)");
}

Test(rtd_daemon, help_and_bad_config_exit_codes)
{
    const char *bin = getenv("RTD_ROUTER_BIN");
    char cmd[2048];
    uint32_t st = 0;

    json_decref(admin("show router", &st)); /* up (its signal handling too) before the stop */
    cr_assert_eq(st, RTR_STS_OK);
    cr_assert_eq(stop_router(), 0);
    snprintf(cmd, sizeof cmd, "%s --help >/dev/null", bin);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s --config %s --node nosuch 2>/dev/null", bin, D.conf);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s --config %s/missing.conf --node r1 2>/dev/null", bin, D.dir);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s --node r1 2>/dev/null", bin);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
}

Test(rtd_daemon, busy_endpoint_exits_1)
{
    char cmd[2048];

    backend_hello(); /* the first router is up and holds the endpoints */
    snprintf(cmd, sizeof cmd, "%s --config %s --node r1 2>/dev/null", getenv("RTD_ROUTER_BIN"),
             D.conf);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
}

Test(rtd_daemon, ipc_file_kept_by_a_busy_start_removed_by_a_clean_stop)
{
    char cmd[2048];
    const char *path = D.admin_ep + strlen("ipc://");
    uint32_t status = 0;
    json_t *o;

    backend_hello();
    cr_assert_eq(access(path, F_OK), 0, "the admin endpoint's file %s", path);
    snprintf(cmd, sizeof cmd, "%s --config %s --node r1 2>/dev/null", getenv("RTD_ROUTER_BIN"),
             D.conf);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
    cr_assert_eq(access(path, F_OK), 0, "a refused second router removed the live one's file");
    o = admin_args("show router", NULL, &status);
    cr_assert_eq(status, RTR_STS_OK, "the first router still answers on its admin endpoint");
    json_decref(o);
    cr_assert_eq(stop_router(), 0, "a clean exit");
    cr_assert_neq(access(path, F_OK), 0, "%s left behind after a clean stop", path);
}

/* wait_outcome_alive - wait for a TxOutcome at the client while the client keeps
 * heartbeating (so that only the backend goes silent). */
static Rtr__Envelope *
wait_outcome_alive(void)
{
    uint64_t end = now_ms() + WAIT_MS;
    uint64_t seq = 0;

    for (;;) {
        Rtr__Envelope env, *in = NULL;
        Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
        zmq_pollitem_t it = { D.client, 0, ZMQ_POLLIN, 0 };

        cr_assert_lt(now_ms(), end, "no TxOutcome within %d ms", WAIT_MS);
        client_env(&env);
        hb.seq = ++seq;
        env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        send_env(D.client, &env);
        if (zmq_poll(&it, 1, 100) <= 0)
            continue; /* 100 ms: the client's heartbeat period while it waits */
        while (wire_zmq_recv(D.client, NULL, NULL, &in) == RTR_STS_OK) {
            if (in->body_case == RTR__ENVELOPE__BODY_TX_OUTCOME)
                return in;
            wire_free((ProtobufCMessage **)&in);
        }
    }
}

static void
expect_backend_loss_rejects(void)
{
    Rtr__Envelope *in;

    in = wait_outcome_alive();
    cr_assert_eq(in->tx_outcome->accepted, 0);
    cr_assert_eq(in->tx_outcome->status, RTR_STS_SRVDIED, "status %s",
                 rtr_status_name((rtr_status_t)in->tx_outcome->status));
    wire_free((ProtobufCMessage **)&in);
    wait_counter("peers.peers_lost", 1);
    wait_counter("tx_backend_lost", 1);
}

Test(rtd_daemon, backend_restart_rejects_its_open_transaction)
{
    Rtr__Envelope *in;

    backend_hello();
    send_txmsg(5, 0, 42, 0);
    in = recv_body(D.backend, RTR__ENVELOPE__BODY_TX_MSG);
    wire_free((ProtobufCMessage **)&in);
    backend_hello_inc(BE_INC + 1); /* the same backend, restarted */
    expect_backend_loss_rejects();
    one_transaction(6); /* routed to the new incarnation */
    cr_assert_eq(stop_router(), 0, "router did not exit cleanly (0)");
}

Test(rtd_daemon, silent_backend_is_lost_and_its_open_transaction_rejected)
{
    Rtr__Envelope *in;

    backend_hello();
    send_txmsg(7, 0, 42, 0);
    in = recv_body(D.backend, RTR__ENVELOPE__BODY_TX_MSG);
    wire_free((ProtobufCMessage **)&in);
    /* the backend says nothing more: failure_timeout_ms (2 s) later it is lost */
    expect_backend_loss_rejects();
    cr_assert_eq(stop_router(), 0, "router did not exit cleanly (0)");
}
