/*
 * bkd_daemon_test.c - the real rtr-backend binary on a generated facility and a temporary
 * journal directory. The test process plays the router (a ROUTER bound on the router's
 * `peers` endpoint), a server application (a DEALER "s-..." on the backend's `servers`
 * endpoint) and rtrcli (a DEALER on `admin`). Every wait polls a socket with a deadline; the
 * backend is stopped with SIGTERM and, whatever happens, killed by its PID at the end.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
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
#include "jrn.h"
#include "tst.h"
#include "wire_zmq.h"

#define DEADLINE_MS 10000
#define SRV_INC     0xaaull
#define RTR_INC     0xbbull
#define CLI_INC     0xc1ull

typedef struct {
    char *dir;
    char conf[512], log[512], journal[512];
    char peers[64], srv_ep[128], adm_ep[128];
    pid_t pid;
    uint64_t srv_inc; /* the fake server's incarnation */
    void *ctx, *router, *server, *admin;
} dfx_t;

static dfx_t F;

static uint64_t
now_ms(void)
{
    return cmn_now_mono_ns() / 1000000u;
}

static void
write_config(dfx_t *f, int base)
{
    FILE *fp;

    snprintf(f->peers, sizeof(f->peers), "tcp://127.0.0.1:%d", base);
    snprintf(f->srv_ep, sizeof(f->srv_ep), "ipc:///tmp/rtr-bkdt-%d.srv", (int)getpid());
    snprintf(f->adm_ep, sizeof(f->adm_ep), "ipc:///tmp/rtr-bkdt-%d.adm", (int)getpid());
    snprintf(f->conf, sizeof(f->conf), "%s/facility.conf", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/backend.log", f->dir);
    /* missing parents: the backend creates them (0700) */
    snprintf(f->journal, sizeof(f->journal), "%s/var/lib/be1", f->dir);
    fp = fopen(f->conf, "w");
    cr_assert_not_null(fp);
    fprintf(fp,
            "facility = \"T\";\n"
            "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
            "routers = ( { name = \"r1\"; clients = \"tcp://127.0.0.1:%d\"; peers = \"%s\";\n"
            "              admin = \"ipc:///tmp/rtr-bkdt-%d.radm\"; } );\n"
            "backends = ( { name = \"be1\"; shadow = \"tcp://127.0.0.1:%d\"; servers = \"%s\";\n"
            "               admin = \"%s\"; journal = \"%s\"; } );\n"
            "partitions = ( { name = \"P1\"; low = [ 0 ]; high = [ 4294967295L ];\n"
            "                 primary = \"be1\"; } );\n"
            "settings = { heartbeat_ms = 50; failure_timeout_ms = 2000; replay_limit = 1; };\n",
            base + 1, f->peers, (int)getpid(), base + 2, f->srv_ep, f->adm_ep, f->journal);
    fclose(fp);
}

static void *
dealer(void *ctx, const char *id, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    cr_assert_not_null(s);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    cr_assert_eq(zmq_connect(s, ep), 0);
    return s;
}

/* start_backend - fork and exec rtr-backend on the fixture's facility. */
static void
start_backend(void)
{
    F.pid = fork();
    cr_assert_geq(F.pid, 0);
    if (F.pid == 0) {
        execl(BKD_BINARY, BKD_BINARY, "--config", F.conf, "--node", "be1", "--log", F.log,
              "--log-level", "info", (char *)NULL);
        _exit(127);
    }
}

static void
setup(void)
{
    int linger = 0;

    memset(&F, 0, sizeof(F));
    F.dir = tst_tmpdir("bkd");
    F.srv_inc = SRV_INC;
    F.ctx = zmq_ctx_new();
    F.router = zmq_socket(F.ctx, ZMQ_ROUTER);
    zmq_setsockopt(F.router, ZMQ_LINGER, &linger, sizeof(linger));
    /* ports from a per-process base (peers, clients, shadow); the next triple if the peers
     * port is taken by a test running in parallel */
    for (int k = 0;; k++) {
        write_config(&F, 10000 + (int)((getpid() + k * 7919) % 1000) * 3); /* < 32768 */
        if (zmq_bind(F.router, F.peers) == 0)
            break;
        cr_assert_lt(k, 50, "bind %s: %s", F.peers, zmq_strerror(errno));
    }
    start_backend();
    F.server = dealer(F.ctx, "s-00000000000000aa", F.srv_ep);
    F.admin = dealer(F.ctx, "a-1", F.adm_ep);
}

static void
teardown(void)
{
    if (F.pid > 0) { /* still running: kill it by its PID */
        kill(F.pid, SIGKILL);
        waitpid(F.pid, NULL, 0);
    }
    zmq_close(F.router);
    zmq_close(F.server);
    zmq_close(F.admin);
    zmq_ctx_term(F.ctx);
    if (getenv("BKD_TEST_KEEP") == NULL)
        tst_rmtree(F.dir);
    free(F.dir);
}

/* ---- frames ------------------------------------------------------------------------------ */

static void
send_env(void *sock, const char *to, Rtr__Envelope *env, const char *sender, uint64_t inc,
         Rtr__Role role)
{
    Rtr__Envelope saved = *env;
    wire_zmq_id_t id;

    wire_envelope_init(env, sender, 0, inc, role);
    env->body_case = saved.body_case;
    env->heartbeat = saved.heartbeat;
    if (to != NULL)
        wire_zmq_id_set(&id, to);
    cr_assert_eq(wire_zmq_send(sock, to ? &id : NULL, env, 0), RTR_STS_OK);
}

/* recv_body - wait (deadline) for an envelope with body `want` on sock, skipping heartbeats
 * and hellos. Caller frees. */
static Rtr__Envelope *
recv_body(void *sock, bool is_router, Rtr__Envelope__BodyCase want)
{
    uint64_t end = now_ms() + DEADLINE_MS;

    for (;;) {
        zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
        uint64_t t = now_ms();
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;

        cr_assert_lt(t, end, "timed out waiting for body %d", want);
        if (zmq_poll(&it, 1, (long)(end - t)) <= 0)
            continue;
        if (wire_zmq_recv(sock, is_router ? &from : NULL, NULL, &env) != RTR_STS_OK)
            continue;
        cr_assert_eq(env->role, RTR__ROLE__ROLE_BACKEND);
        cr_assert_str_eq(env->sender, "be1");
        if (env->body_case == want)
            return env;
        wire_free((ProtobufCMessage **)&env);
    }
}

static void
free_env(Rtr__Envelope **e)
{
    wire_free((ProtobufCMessage **)e);
}

/* admin_cmd2 - one admin request with up to two arguments; returns the parsed JSON (caller
 * json_decref) and checks the status. */
static json_t *
admin_cmd2(const char *cmd, const char *arg, const char *arg2, rtr_status_t want)
{
    static uint64_t rid = 100;
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *rep;
    Rtr__AdminRequest rq = RTR__ADMIN_REQUEST__INIT;
    char *args[2] = { (char *)(uintptr_t)arg, (char *)(uintptr_t)arg2 };
    json_t *j = NULL;

    rq.request_id = ++rid;
    rq.command = (char *)(uintptr_t)cmd;
    rq.n_args = arg ? (arg2 ? 2 : 1) : 0;
    rq.args = args;
    env.body_case = RTR__ENVELOPE__BODY_ADMIN_REQUEST;
    env.admin_request = &rq;
    send_env(F.admin, NULL, &env, "a-1", 1, RTR__ROLE__ROLE_ADMIN);
    rep = recv_body(F.admin, false, RTR__ENVELOPE__BODY_ADMIN_REPLY);
    cr_assert_eq(rep->admin_reply->request_id, rid);
    cr_assert_eq(rep->admin_reply->status, want, "%s: status %s", cmd,
                 rtr_status_name(rep->admin_reply->status));
    if (want == RTR_STS_OK) {
        j = json_loads(rep->admin_reply->json, 0, NULL);
        cr_assert_not_null(j);
        cr_assert(json_is_array(json_object_get(j, "columns")));
        cr_assert(json_is_array(json_object_get(j, "rows")));
        cr_assert(json_is_string(json_object_get(j, "title")));
    }
    free_env(&rep);
    return j;
}

/* admin_cmd - admin_cmd2 with at most one argument. */
static json_t *
admin_cmd(const char *cmd, const char *arg, rtr_status_t want)
{
    return admin_cmd2(cmd, arg, NULL, want);
}

/* counter - value of column `col` in the row of socket `sock` of "show counters". */
static json_int_t
counter(json_t *j, const char *sock, const char *col)
{
    json_t *cols = json_object_get(j, "columns"), *rows = json_object_get(j, "rows");
    size_t ci = SIZE_MAX, i;
    json_t *v, *row;

    json_array_foreach(cols, i, v) if (strcmp(json_string_value(v), col) == 0) ci = i;
    cr_assert_neq(ci, SIZE_MAX, "no column %s", col);
    json_array_foreach(rows, i, row) if (strcmp(json_string_value(json_array_get(row, 0)), sock) ==
                                         0) return json_integer_value(json_array_get(row, ci));
    cr_assert_fail("no row %s", sock);
    return -1;
}

static void
tid_of(uint64_t counter_, uint8_t out[16])
{
    cmn_tid_t t = { CLI_INC, counter_ };
    cmn_tid_pack(&t, out);
}

/* ---- one transaction ------------------------------------------------------------------- */

static void
open_server_channel(void)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *r;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;
    static uint8_t lo[4] = { 0, 0, 0, 0 }, hi[4] = { 0xff, 0xff, 0xff, 0xff };

    o.channel = 1;
    o.has_key_low = o.has_key_high = 1;
    o.key_low.data = lo;
    o.key_low.len = 4;
    o.key_high.data = hi;
    o.key_high.len = 4;
    env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
    env.channel_open = &o;
    send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_SERVER);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_CHANNEL_STATUS);
    cr_assert_eq(r->channel_status->status, RTR_STS_OK);
    cr_assert_str_eq(r->channel_status->partition, "P1");
    free_env(&r);
}

static void
wait_hello(void)
{
    Rtr__Envelope *h = recv_body(F.router, true, RTR__ENVELOPE__BODY_BACKEND_HELLO);
    cr_assert_eq(h->backend_hello->n_partitions, 1);
    cr_assert_str_eq(h->backend_hello->partitions[0], "P1");
    free_env(&h);
}

static void
router_send(Rtr__Envelope *env)
{
    send_env(F.router, "be1", env, "r1", RTR_INC, RTR__ROLE__ROLE_ROUTER);
}

static void
run_tx(uint64_t counter_, uint64_t want_csn, bool send_done)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *r;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    Rtr__VoteRequest vr = RTR__VOTE_REQUEST__INIT;
    Rtr__ServerReply sr = RTR__SERVER_REPLY__INIT;
    Rtr__ServerVote sv = RTR__SERVER_VOTE__INIT;
    Rtr__ServerDone sd = RTR__SERVER_DONE__INIT;
    uint8_t tid[16];

    tid_of(counter_, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.channel = 5;
    m.body.data = (uint8_t *)"acct";
    m.body.len = 4;
    m.has_watermark = 1;
    m.watermark = counter_;
    m.partition = "P1";
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    router_send(&env);

    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_DELIVER);
    cr_assert_eq(r->deliver->kind, RTR__DELIVER_KIND__DELIVER_MSG1);
    cr_assert_eq(r->deliver->channel, 1);
    cr_assert_eq(memcmp(r->deliver->tid.data, tid, 16), 0);
    cr_assert_eq(memcmp(r->deliver->body.data, "acct", 4), 0);
    free_env(&r);

    sr.tid.data = tid;
    sr.tid.len = 16;
    sr.channel = 1;
    sr.body.data = (uint8_t *)"ok";
    sr.body.len = 2;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_REPLY;
    env.server_reply = &sr;
    send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_SERVER);
    r = recv_body(F.router, true, RTR__ENVELOPE__BODY_TX_REPLY);
    cr_assert_eq(r->tx_reply->channel, 5);
    cr_assert_eq(memcmp(r->tx_reply->body.data, "ok", 2), 0);
    free_env(&r);

    vr.tid.data = tid;
    vr.tid.len = 16;
    vr.nmsgs = 1;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &vr;
    router_send(&env);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_VOTE_REQUEST);
    cr_assert_eq(r->vote_request->nmsgs, 1);
    free_env(&r);

    sv.tid.data = tid;
    sv.tid.len = 16;
    sv.channel = 1;
    sv.accept = 1;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
    env.server_vote = &sv;
    send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_SERVER);

    r = recv_body(F.router, true, RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert(r->tx_outcome->accepted);
    cr_assert_eq(r->tx_outcome->status, RTR_STS_OK);
    cr_assert_eq(r->tx_outcome->csn, want_csn);
    cr_assert_eq(r->tx_outcome->channel, 5);
    free_env(&r);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_SERVER_OUTCOME);
    cr_assert(r->server_outcome->accepted);
    free_env(&r);

    if (!send_done)
        return;
    sd.tid.data = tid;
    sd.tid.len = 16;
    sd.channel = 1;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_DONE;
    env.server_done = &sd;
    send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_SERVER);
}

static void
run_one_transaction(uint64_t counter_, uint64_t want_csn)
{
    run_tx(counter_, want_csn, true);
}

/* wait_tx_state - poll "show transaction TID" until its state column says `want`. */
static void
wait_tx_state(uint64_t counter_, const char *want)
{
    cmn_tid_t t = { CLI_INC, counter_ };
    char tid[CMN_TID_STRLEN];
    uint64_t end = now_ms() + DEADLINE_MS;

    cmn_tid_format(&t, tid, sizeof(tid));
    for (;;) {
        json_t *j = admin_cmd("show transaction", tid, RTR_STS_OK);
        json_t *row = json_array_get(json_object_get(j, "rows"), 0);
        bool ok = row && strcmp(json_string_value(json_array_get(row, 2)), want) == 0;
        json_decref(j);
        if (ok)
            return;
        cr_assert_lt(now_ms(), end, "transaction never reached %s", want);
    }
}

static void
stop_backend(void)
{
    int st = 0;
    uint64_t end = now_ms() + DEADLINE_MS;
    pid_t w;

    cr_assert_eq(kill(F.pid, SIGTERM), 0);
    while ((w = waitpid(F.pid, &st, WNOHANG)) == 0) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        cr_assert_lt(now_ms(), end, "backend did not stop on SIGTERM");
        nanosleep(&ts, NULL); /* polling the child's exit with a deadline */
    }
    cr_assert_eq(w, F.pid);
    F.pid = 0;
    cr_assert(WIFEXITED(st));
    cr_assert_eq(WEXITSTATUS(st), 0);
}

TestSuite(bkd_daemon, .init = setup, .fini = teardown, .timeout = 60);

Test(bkd_daemon, commits_one_transaction_and_hardens_it)
{
    jrn_options_t jo = { 0 };
    jrn_t *j = NULL;
    uint32_t part = 0;
    Rtr__JournalRecord *rec = NULL;
    uint8_t tid[16];
    json_t *js;

    wait_hello();
    open_server_channel();
    run_one_transaction(1, 1);
    wait_tx_state(1, "DONE");
    run_one_transaction(2, 2);
    wait_tx_state(2, "DONE");

    js = admin_cmd("show partition", NULL, RTR_STS_OK);
    cr_assert_eq(
        json_integer_value(json_array_get(json_array_get(json_object_get(js, "rows"), 0), 3)), 3,
        "next CSN");
    json_decref(js);
    js = admin_cmd("show server", NULL, RTR_STS_OK);
    cr_assert_eq(json_array_size(json_object_get(js, "rows")), 1);
    json_decref(js);
    js = admin_cmd("show backend", NULL, RTR_STS_OK);
    cr_assert_str_eq(json_string_value(json_object_get(js, "node")), "be1");
    json_decref(js);
    json_decref(admin_cmd("show transaction", "zz", RTR_STS_INVARG));
    json_decref(admin_cmd("no such command", NULL, RTR_STS_INVARG));

    stop_backend();
    jo.dir = F.journal;
    jo.readonly = true;
    cr_assert_eq(jrn_open(&jo, &j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(j, "P1", &part), RTR_STS_OK);
    cr_assert_eq(jrn_get(j, part, 1, &rec), RTR_STS_OK);
    tid_of(1, tid);
    cr_assert_eq(rec->tid.len, 16);
    cr_assert_eq(memcmp(rec->tid.data, tid, 16), 0);
    cr_assert_eq(rec->state, RTR__TX_STATE__TX_DONE);
    cr_assert_eq(rec->epoch, 1);
    cr_assert_eq(rec->n_messages, 1);
    cr_assert_eq(memcmp(rec->messages[0]->body.data, "acct", 4), 0);
    cr_assert(rec->has_digest);
    wire_free((ProtobufCMessage **)&rec);
    cr_assert_eq(jrn_get(j, part, 2, &rec), RTR_STS_OK);
    cr_assert_eq(rec->state, RTR__TX_STATE__TX_DONE);
    wire_free((ProtobufCMessage **)&rec);
    cr_assert_eq(jrn_get(j, part, 3, &rec), RTR_STS_NOTFOUND);
    jrn_close(&j);
}

Test(bkd_daemon, malformed_frames_are_counted_and_it_keeps_serving)
{
    static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    static const uint8_t tag0[] = { 0x80, 0x80, 0x80, 0x80, 0x00, 0x00 };
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    json_t *js;

    wait_hello();
    open_server_channel();
    cr_assert_eq(zmq_send(F.server, garbage, sizeof(garbage), 0), (int)sizeof(garbage));
    cr_assert_eq(zmq_send(F.server, tag0, sizeof(tag0), 0), (int)sizeof(tag0));
    cr_assert_eq(zmq_send(F.admin, garbage, sizeof(garbage), 0), (int)sizeof(garbage));
    /* a well-formed frame from the wrong role on each socket */
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_CLIENT);
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_env(F.admin, NULL, &env, "a-1", 1, RTR__ROLE__ROLE_SERVER);
    /* a body the servers socket does not take (a router's VoteRequest) */
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    {
        Rtr__VoteRequest vr = RTR__VOTE_REQUEST__INIT;
        uint8_t tid[16] = { 0 };
        vr.tid.data = tid;
        vr.tid.len = 16;
        vr.nmsgs = 1;
        env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
        env.vote_request = &vr;
        send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_SERVER);
    }

    /* The frames went to two sockets, which the backend drains in its own order: poll the
     * counters until every frame above was handled (deadline), then check them exactly. */
    {
        uint64_t end = now_ms() + DEADLINE_MS;
        for (;;) {
            js = admin_cmd("show counters", NULL, RTR_STS_OK);
            if (counter(js, "servers", "malformed") + counter(js, "servers", "tag0") +
                        counter(js, "servers", "wrong_role") +
                        counter(js, "servers", "unexpected") >=
                    4 &&
                counter(js, "admin", "malformed") + counter(js, "admin", "wrong_role") >= 2)
                break;
            json_decref(js);
            cr_assert_lt(now_ms(), end, "the bad frames were not all counted in time");
        }
    }
    cr_assert_eq(counter(js, "servers", "malformed") + counter(js, "servers", "tag0"), 2);
    cr_assert_eq(counter(js, "servers", "tag0"), 1);
    cr_assert_eq(counter(js, "servers", "wrong_role"), 1);
    cr_assert_eq(counter(js, "servers", "unexpected"), 1);
    cr_assert_eq(counter(js, "admin", "malformed"), 1);
    cr_assert_eq(counter(js, "admin", "wrong_role"), 1);
    cr_assert_eq(json_integer_value(json_object_get(js, "tx_started")), 0);
    json_decref(js);

    /* still serving: a whole transaction goes through */
    run_one_transaction(1, 1);
    wait_tx_state(1, "DONE");
    stop_backend();
}

Test(bkd_daemon, second_backend_on_a_busy_journal_exits_1)
{
    pid_t p2;
    int st = 0;
    uint64_t end = now_ms() + DEADLINE_MS;

    wait_hello(); /* the first one holds the journal */
    p2 = fork();
    cr_assert_geq(p2, 0);
    if (p2 == 0) {
        execl(BKD_BINARY, BKD_BINARY, "--config", F.conf, "--node", "be1", "--log", "/dev/null",
              (char *)NULL);
        _exit(127);
    }
    while (waitpid(p2, &st, WNOHANG) == 0) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        if (now_ms() >= end) {
            kill(p2, SIGKILL);
            waitpid(p2, NULL, 0);
            cr_assert_fail("second backend kept running");
        }
        nanosleep(&ts, NULL);
    }
    cr_assert(WIFEXITED(st), "status 0x%x", st);
    cr_assert_eq(WEXITSTATUS(st), 1, "exit %d", WEXITSTATUS(st));
    stop_backend();
}

/* new_server_process - the server application restarts: a new DEALER, same identity, new
 * incarnation. */
static void
new_server_process(void)
{
    zmq_close(F.server);
    F.server = dealer(F.ctx, "s-00000000000000aa", F.srv_ep);
    F.srv_inc++;
}

Test(bkd_daemon, restarted_server_gets_msg1_again)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *r;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    uint8_t tid[16];

    wait_hello();
    open_server_channel();
    tid_of(1, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.channel = 5;
    m.body.data = (uint8_t *)"acct";
    m.body.len = 4;
    m.partition = "P1";
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    router_send(&env);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_DELIVER);
    cr_assert_eq(r->deliver->kind, RTR__DELIVER_KIND__DELIVER_MSG1);
    free_env(&r);

    /* the server dies before voting; its new incarnation opens the channel again */
    new_server_process();
    open_server_channel();
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_DELIVER);
    cr_assert_eq(r->deliver->kind, RTR__DELIVER_KIND__DELIVER_MSG1);
    cr_assert_eq(memcmp(r->deliver->tid.data, tid, 16), 0);
    free_env(&r);
    stop_backend();
}

Test(bkd_daemon, committed_without_done_is_replayed_uncertain_after_a_backend_restart)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *r;
    Rtr__ServerVote sv = RTR__SERVER_VOTE__INIT;
    Rtr__ServerDone sd = RTR__SERVER_DONE__INIT;
    jrn_options_t jo = { 0 };
    jrn_t *j = NULL;
    uint32_t part = 0;
    Rtr__JournalRecord *rec = NULL;
    uint8_t tid[16];

    wait_hello();
    open_server_channel();
    run_tx(1, 1, false); /* COMMIT reported; the server never says ServerDone */
    stop_backend();

    start_backend();
    wait_hello();
    new_server_process();
    open_server_channel();
    tid_of(1, tid);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_DELIVER);
    cr_assert_eq(r->deliver->kind, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN);
    cr_assert_eq(memcmp(r->deliver->tid.data, tid, 16), 0);
    free_env(&r);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_VOTE_REQUEST);
    free_env(&r);

    sv.tid.data = tid;
    sv.tid.len = 16;
    sv.channel = 1;
    sv.accept = 1;
    sv.has_already_applied = 1;
    sv.already_applied = 1; /* the TID is in its database: the old CSN stands */
    env.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
    env.server_vote = &sv;
    send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_SERVER);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_SERVER_OUTCOME);
    cr_assert(r->server_outcome->accepted);
    free_env(&r);
    sd.tid.data = tid;
    sd.tid.len = 16;
    sd.channel = 1;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_DONE;
    env.server_done = &sd;
    send_env(F.server, NULL, &env, "s-00000000000000aa", F.srv_inc, RTR__ROLE__ROLE_SERVER);
    wait_tx_state(1, "DONE");
    /* the next transaction continues the CSN sequence */
    run_one_transaction(2, 2);
    wait_tx_state(2, "DONE");
    stop_backend();

    jo.dir = F.journal;
    jo.readonly = true;
    cr_assert_eq(jrn_open(&jo, &j), RTR_STS_OK);
    cr_assert_eq(jrn_partition(j, "P1", &part), RTR_STS_OK);
    cr_assert_eq(jrn_get(j, part, 1, &rec), RTR_STS_OK);
    cr_assert_eq(rec->state, RTR__TX_STATE__TX_DONE);
    wire_free((ProtobufCMessage **)&rec);
    cr_assert_eq(jrn_get(j, part, 2, &rec), RTR_STS_OK);
    cr_assert_eq(rec->state, RTR__TX_STATE__TX_DONE);
    wire_free((ProtobufCMessage **)&rec);
    jrn_close(&j);
}

/* expect_uncertain_replay - the (new) server process gets TID counter_ again as
 * msg1_uncertain, then the vote request. */
static void
expect_uncertain_replay(uint64_t counter_)
{
    Rtr__Envelope *r;
    uint8_t tid[16];

    tid_of(counter_, tid);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_DELIVER);
    cr_assert_eq(r->deliver->kind, RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN);
    cr_assert_eq(memcmp(r->deliver->tid.data, tid, 16), 0);
    free_env(&r);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_VOTE_REQUEST);
    free_env(&r);
}

Test(bkd_daemon, exception_after_the_replay_limit_settled_by_the_operator)
{
    cmn_tid_t t = { CLI_INC, 1 };
    char tid[CMN_TID_STRLEN];
    json_t *j;

    cmn_tid_format(&t, tid, sizeof(tid));
    wait_hello();
    open_server_channel();
    run_tx(1, 1, false); /* committed; the server dies before ServerDone */
    new_server_process();
    open_server_channel();
    expect_uncertain_replay(1); /* replay 1 of replay_limit = 1 */
    new_server_process();       /* dies again: EXCEPTION, nothing delivered */
    open_server_channel();
    wait_tx_state(1, "EXCEPTION");
    j = admin_cmd("show counters", NULL, RTR_STS_OK);
    cr_assert_eq(json_integer_value(json_object_get(j, "tx_exception")), 1);
    json_decref(j);

    admin_cmd2("set transaction", tid, "bogus", RTR_STS_INVARG);
    admin_cmd2("set transaction", "0000000000000099.1", "retry", RTR_STS_NOTFOUND);
    j = admin_cmd2("set transaction", tid, "retry", RTR_STS_OK);
    json_decref(j);
    expect_uncertain_replay(1); /* delivered again, to the server attached now */
    admin_cmd2("set transaction", tid, "done", RTR_STS_INVARG); /* no longer in EXCEPTION */
    stop_backend();
}
