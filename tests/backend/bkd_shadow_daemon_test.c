/*
 * bkd_shadow_daemon_test.c - the real rtr-backend binary (node be1) in a shadow pair whose other
 * member, be2, is played by the test: a ROUTER bound on be2's `shadow` endpoint receives what
 * be1's shadow DEALER sends, and a DEALER with routing id "be2" connected to be1's `shadow`
 * endpoint sends what be2 would. The test also plays the router (a ROUTER on its `peers`
 * endpoint), a server application (a DEALER on be1's `servers`) and rtrcli (a DEALER on
 * `admin`). Two suites: be1 primary of P (shadow_primary) and be1 secondary of P
 * (shadow_member). Every wait polls a socket or the admin state with a deadline; the backend is
 * killed by its PID at the end, whatever happens.
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
#include "tst.h"
#include "wire_zmq.h"

#define DEADLINE_MS 10000
#define SRV_ID      "s-00000000000000aa"
#define SRV_INC     0xaaull
#define RTR_INC     0xbbull
#define CLI_INC     0xc1ull
#define BE2_INC     0xb2b2ull

typedef struct {
    char *dir;
    char conf[512], log[512], journal[512];
    char peers[64], sh1[64], sh2[64], srv_ep[128], adm_ep[128];
    pid_t pid;
    void *ctx, *router, *server, *admin;
    void *be2_in;  /* ROUTER on be2's shadow endpoint: what be1 sends its partner */
    void *be2_out; /* DEALER "be2" to be1's shadow endpoint */
    /* the facility register as the fake router r1 plays it (docs/shadow-protocol.md §5):
     * partition P, its primary and epoch; both members in sync */
    const char *reg_primary;
    uint64_t reg_epoch;
    Rtr__Envelope *stash[64]; /* frames from be1 to r1 that no recv_body wanted yet */
    size_t nstash;
    uint64_t be2_alive_inc; /* != 0: recv_body keeps the fake partner be2 alive meanwhile */
} sfx_t;

static sfx_t F;

static uint64_t
now_ms(void)
{
    return cmn_now_mono_ns() / 1000000u;
}

/* write_config - be1 (the daemon) and be2 (the test) share partition P; be1 is its primary
 * when be1_primary, else its secondary. */
static void
write_config(int base, bool be1_primary)
{
    FILE *fp;
    int pid = (int)getpid();

    snprintf(F.peers, sizeof(F.peers), "tcp://127.0.0.1:%d", base);
    snprintf(F.sh1, sizeof(F.sh1), "tcp://127.0.0.1:%d", base + 2);
    snprintf(F.sh2, sizeof(F.sh2), "tcp://127.0.0.1:%d", base + 3);
    snprintf(F.srv_ep, sizeof(F.srv_ep), "ipc:///tmp/rtr-bksh-%d.srv", pid);
    snprintf(F.adm_ep, sizeof(F.adm_ep), "ipc:///tmp/rtr-bksh-%d.adm", pid);
    snprintf(F.conf, sizeof(F.conf), "%s/facility.conf", F.dir);
    snprintf(F.log, sizeof(F.log), "%s/backend.log", F.dir);
    snprintf(F.journal, sizeof(F.journal), "%s/j1", F.dir);
    fp = fopen(F.conf, "w");
    cr_assert_not_null(fp);
    fprintf(
        fp,
        "facility = \"T\";\n"
        "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
        "routers = ( { name = \"r1\"; clients = \"tcp://127.0.0.1:%d\"; peers = \"%s\";\n"
        "              admin = \"ipc:///tmp/rtr-bksh-%d.radm\"; state = \"%s/r1\"; } );\n"
        "backends = ( { name = \"be1\"; shadow = \"%s\"; servers = \"%s\";\n"
        "               admin = \"%s\"; journal = \"%s\"; },\n"
        "             { name = \"be2\"; shadow = \"%s\"; servers = \"ipc:///tmp/rtr-bksh-%d.s2\";\n"
        "               admin = \"ipc:///tmp/rtr-bksh-%d.a2\"; journal = \"%s/j2\"; } );\n"
        "partitions = ( { name = \"P\"; low = [ 0 ]; high = [ 4294967295L ];\n"
        "                 primary = \"%s\"; secondary = \"%s\"; } );\n"
        "settings = { heartbeat_ms = 50; failure_timeout_ms = 500; };\n",
        base + 1, F.peers, pid, F.dir, F.sh1, F.srv_ep, F.adm_ep, F.journal, F.sh2, pid, pid, F.dir,
        be1_primary ? "be1" : "be2", be1_primary ? "be2" : "be1");
    fclose(fp);
}

static void *
sock_new(int type, const char *id)
{
    void *s = zmq_socket(F.ctx, type);
    int linger = 0;
    cr_assert_not_null(s);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    if (id != NULL)
        zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    return s;
}

static void *
dealer(const char *id, const char *ep)
{
    void *s = sock_new(ZMQ_DEALER, id);
    cr_assert_eq(zmq_connect(s, ep), 0);
    return s;
}

static void
setup_common(bool be1_primary)
{
    memset(&F, 0, sizeof(F));
    F.dir = tst_tmpdir("bksh");
    F.ctx = zmq_ctx_new();
    F.router = sock_new(ZMQ_ROUTER, NULL);
    F.be2_in = sock_new(ZMQ_ROUTER, NULL);
    /* ports from a per-process base (peers, clients, shadow be1, shadow be2); the next block
     * if one is taken by a test running in parallel */
    for (int k = 0;; k++) {
        write_config(20000 + (int)((getpid() + k * 7919) % 1000) * 4, be1_primary); /* < 32768 */
        if (zmq_bind(F.router, F.peers) == 0) {
            if (zmq_bind(F.be2_in, F.sh2) == 0)
                break;
            zmq_unbind(F.router, F.peers);
        }
        cr_assert_lt(k, 50, "bind %s / %s: %s", F.peers, F.sh2, zmq_strerror(errno));
    }
    F.pid = fork();
    cr_assert_geq(F.pid, 0);
    if (F.pid == 0) {
        execl(BKD_BINARY, BKD_BINARY, "--config", F.conf, "--node", "be1", "--log", F.log,
              "--log-level", "info", (char *)NULL);
        _exit(127);
    }
    F.server = dealer(SRV_ID, F.srv_ep);
    F.admin = dealer("a-1", F.adm_ep);
    F.be2_out = dealer("be2", F.sh1);
}

static void
setup_primary(void)
{
    setup_common(true);
    F.reg_primary = "be1";
    F.reg_epoch = 1;
}

static void
setup_member(void)
{
    setup_common(false);
    F.reg_primary = "be2";
    F.reg_epoch = 1;
}

static void
teardown(void)
{
    if (F.pid > 0) { /* still running: kill it by its PID */
        kill(F.pid, SIGKILL);
        waitpid(F.pid, NULL, 0);
    }
    for (size_t i = 0; i < F.nstash; i++)
        wire_free((ProtobufCMessage **)&F.stash[i]);
    zmq_close(F.router);
    zmq_close(F.server);
    zmq_close(F.admin);
    zmq_close(F.be2_in);
    zmq_close(F.be2_out);
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
    env->heartbeat = saved.heartbeat; /* the body pointer, whatever its member */
    if (to != NULL)
        wire_zmq_id_set(&id, to);
    cr_assert_eq(wire_zmq_send(sock, to ? &id : NULL, env, 0), RTR_STS_OK);
}

/* reg_answer - r1's register answers be1's RegChange or LeaseRequest (true when env was one). */
static bool
reg_answer(const Rtr__Envelope *in)
{
    static uint8_t uuid[16] = { 0x5a };
    char *insync[2] = { (char *)(uintptr_t)F.reg_primary,
                        strcmp(F.reg_primary, "be1") == 0 ? "be2" : "be1" };
    Rtr__PartitionRole pr = RTR__PARTITION_ROLE__INIT, *prs[1] = { &pr };
    Rtr__RegisterValue v = RTR__REGISTER_VALUE__INIT;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;

    if (in->body_case == RTR__ENVELOPE__BODY_LEASE_REQUEST) {
        Rtr__LeaseGrant g = RTR__LEASE_GRANT__INIT;
        g.partition = in->lease_request->partition;
        g.epoch = in->lease_request->epoch;
        g.seq = in->lease_request->seq;
        g.granted = in->lease_request->epoch == F.reg_epoch && strcmp(F.reg_primary, "be1") == 0;
        g.has_register_version = 1;
        g.register_version = F.reg_epoch;
        env.body_case = RTR__ENVELOPE__BODY_LEASE_GRANT;
        env.lease_grant = &g;
        send_env(F.router, "be1", &env, "r1", RTR_INC, RTR__ROLE__ROLE_ROUTER);
        return true;
    }
    if (in->body_case != RTR__ENVELOPE__BODY_REG_CHANGE)
        return false;
    Rtr__RegChangeReply r = RTR__REG_CHANGE_REPLY__INIT;
    r.req_id = in->reg_change->req_id;
    r.status = RTR_STS_OK;
    if (in->reg_change->kind == RTR__REG_KIND__REG_RESUME && strcmp(F.reg_primary, "be1") == 0 &&
        in->reg_change->expected_epoch == F.reg_epoch)
        F.reg_epoch++;
    else if (in->reg_change->kind != RTR__REG_KIND__REG_READ)
        r.status = RTR_STS_EXISTS;
    pr.partition = "P";
    pr.epoch = F.reg_epoch;
    pr.primary = (char *)(uintptr_t)F.reg_primary;
    pr.in_sync = insync;
    pr.n_in_sync = 2;
    pr.partner = insync[1];
    v.version = F.reg_epoch;
    v.facility = "T";
    v.facility_uuid.data = uuid;
    v.facility_uuid.len = 16;
    v.partitions = prs;
    v.n_partitions = 1;
    r.value = &v;
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE_REPLY;
    env.reg_change_reply = &r;
    send_env(F.router, "be1", &env, "r1", RTR_INC, RTR__ROLE__ROLE_ROUTER);
    return true;
}

/* serve_router - take what be1 sent r1: register traffic is answered, the rest kept for
 * recv_body (so be1's register requests and leases are served whatever the test waits for). */
static void
serve_router(void)
{
    for (;;) {
        zmq_pollitem_t it = { F.router, 0, ZMQ_POLLIN, 0 };
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;
        if (zmq_poll(&it, 1, 0) <= 0)
            return;
        if (wire_zmq_recv(F.router, &from, NULL, &env) != RTR_STS_OK)
            continue;
        if (reg_answer(env) || F.nstash == 64) {
            wire_free((ProtobufCMessage **)&env);
            continue;
        }
        F.stash[F.nstash++] = env;
    }
}

/* recv_body - wait (deadline) for an envelope from be1 with body `want` on sock, skipping the
 * others. Caller frees. */
static void be2_heartbeat(uint64_t inc);

static Rtr__Envelope *
recv_body(void *sock, bool is_router, Rtr__Envelope__BodyCase want)
{
    uint64_t end = now_ms() + DEADLINE_MS, hb_at = 0;

    for (;;) {
        zmq_pollitem_t it[2] = { { sock, 0, ZMQ_POLLIN, 0 }, { F.router, 0, ZMQ_POLLIN, 0 } };
        uint64_t t = now_ms();
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;

        serve_router();
        if (F.be2_alive_inc != 0 && t >= hb_at) {
            /* a partner that heartbeats while the test waits: be1 must not take it for lost
             * when it is slow to learn the register (a loaded ASan run took > 500 ms) */
            be2_heartbeat(F.be2_alive_inc);
            hb_at = t + 50;
        }
        if (sock == F.router) {
            for (size_t i = 0; i < F.nstash; i++) {
                if (F.stash[i]->body_case != want)
                    continue;
                env = F.stash[i];
                memmove(F.stash + i, F.stash + i + 1, (F.nstash - i - 1) * sizeof(F.stash[0]));
                F.nstash--;
                return env;
            }
            for (size_t i = 0; i < F.nstash; i++) /* what nobody wanted is skipped, as before */
                wire_free((ProtobufCMessage **)&F.stash[i]);
            F.nstash = 0;
        }
        cr_assert_lt(t, end, "timed out waiting for body %d", want);
        long wait = (long)(end - t) < 20 ? (long)(end - t) : 20;
        if (zmq_poll(it, sock == F.router ? 1 : 2, wait) <= 0 || !(it[0].revents & ZMQ_POLLIN))
            continue;
        if (wire_zmq_recv(sock, is_router ? &from : NULL, NULL, &env) != RTR_STS_OK)
            continue;
        if (sock == F.router && reg_answer(env)) {
            wire_free((ProtobufCMessage **)&env);
            continue;
        }
        cr_assert_eq(env->role, RTR__ROLE__ROLE_BACKEND);
        cr_assert_str_eq(env->sender, "be1");
        if (is_router)
            cr_assert(from.len == 3 && memcmp(from.bytes, "be1", 3) == 0,
                      "routing id is not the node name");
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

/* be2_send - env from the fake partner be2 (role BACKEND, incarnation inc) on its DEALER. */
static void
be2_send(Rtr__Envelope *env, uint64_t inc)
{
    send_env(F.be2_out, NULL, env, "be2", inc, RTR__ROLE__ROLE_BACKEND);
}

static void
be2_heartbeat(uint64_t inc)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    hb.seq = 1;
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    be2_send(&env, inc);
}

static json_t *
admin_cmd(const char *cmd, const char *arg)
{
    static uint64_t rid = 100;
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *rep;
    Rtr__AdminRequest rq = RTR__ADMIN_REQUEST__INIT;
    char *args[1] = { (char *)(uintptr_t)arg };
    json_t *j;

    rq.request_id = ++rid;
    rq.command = (char *)(uintptr_t)cmd;
    rq.n_args = arg ? 1 : 0;
    rq.args = args;
    env.body_case = RTR__ENVELOPE__BODY_ADMIN_REQUEST;
    env.admin_request = &rq;
    send_env(F.admin, NULL, &env, "a-1", 1, RTR__ROLE__ROLE_ADMIN);
    rep = recv_body(F.admin, false, RTR__ENVELOPE__BODY_ADMIN_REPLY);
    cr_assert_eq(rep->admin_reply->request_id, rid);
    cr_assert_eq(rep->admin_reply->status, RTR_STS_OK, "%s: %s", cmd,
                 rep->admin_reply->error ? rep->admin_reply->error : "");
    j = json_loads(rep->admin_reply->json, 0, NULL);
    cr_assert_not_null(j);
    free_env(&rep);
    return j;
}

/* col - the value of column `name` in row `row` of an admin table. */
static json_t *
col(json_t *j, size_t row, const char *name)
{
    json_t *v, *r = json_array_get(json_object_get(j, "rows"), row);
    size_t i;

    cr_assert_not_null(r, "no row %zu", row);
    json_array_foreach(json_object_get(j, "columns"), i,
                       v) if (strcmp(json_string_value(v), name) == 0) return json_array_get(r, i);
    cr_assert_fail("no column %s", name);
    return NULL;
}

/* row_of - the index of the row whose first column is `first`. */
static size_t
row_of(json_t *j, const char *first)
{
    json_t *r;
    size_t i;

    json_array_foreach(json_object_get(j, "rows"), i,
                       r) if (strcmp(json_string_value(json_array_get(r, 0)), first) == 0) return i;
    cr_assert_fail("no row %s", first);
    return 0;
}

typedef struct {
    json_int_t malformed, oversize, wrong_role, unknown_peer, unexpected, decoded;
    json_int_t shadow_unexpected, shadow_partner_lost;
} sctr_t;

/* shadow_counters - the shadow ROUTER's row and the core's shadow counters. */
static sctr_t
shadow_counters(void)
{
    json_t *j = admin_cmd("show counters", NULL);
    size_t r = row_of(j, "shadow");
    sctr_t c;

    c.malformed = json_integer_value(col(j, r, "malformed"));
    c.oversize = json_integer_value(col(j, r, "oversize"));
    c.wrong_role = json_integer_value(col(j, r, "wrong_role"));
    c.unknown_peer = json_integer_value(col(j, r, "unknown_peer"));
    c.unexpected = json_integer_value(col(j, r, "unexpected"));
    c.decoded = json_integer_value(col(j, r, "decoded"));
    c.shadow_unexpected = json_integer_value(json_object_get(j, "shadow_unexpected"));
    c.shadow_partner_lost = json_integer_value(json_object_get(j, "shadow_partner_lost"));
    cr_assert_geq(json_integer_value(col(j, row_of(j, "shadow:be2"), "sent")), 0);
    json_decref(j);
    return c;
}

/* wait_counters - poll until pred(counters) holds (frames are handled asynchronously). */
static sctr_t
wait_counters(bool (*pred)(const sctr_t *c, const sctr_t *before), const sctr_t *before,
              const char *what)
{
    uint64_t end = now_ms() + DEADLINE_MS;
    for (;;) {
        sctr_t c = shadow_counters();
        if (pred(&c, before))
            return c;
        cr_assert_lt(now_ms(), end, "counters never showed %s", what);
    }
}

/* partner_up - show partition's partner_up for P (the only partition). */
static bool
partner_up(void)
{
    json_t *j = admin_cmd("show partition", NULL);
    bool up = json_is_true(col(j, 0, "partner_up"));
    json_decref(j);
    return up;
}

static void
wait_partner_up(bool want)
{
    uint64_t end = now_ms() + DEADLINE_MS;
    while (partner_up() != want)
        cr_assert_lt(now_ms(), end, "partner_up never became %d", want);
}

/* be2_join - the fake partner be2 (empty journal) handshakes with the primary be1 until be1
 * starts its stream (be1 answers once it took its epoch and holds its lease). */
static void
be2_join(void)
{
    uint64_t end = now_ms() + DEADLINE_MS;
    be2_heartbeat(BE2_INC);
    wait_partner_up(true);
    for (;;) {
        Rtr__Envelope env = RTR__ENVELOPE__INIT;
        Rtr__ShadowHello h = RTR__SHADOW_HELLO__INIT;
        h.partition = "P";
        env.body_case = RTR__ENVELOPE__BODY_SHADOW_HELLO;
        env.shadow_hello = &h;
        be2_send(&env, BE2_INC);
        uint64_t until = now_ms() + 200;
        while (now_ms() < until) {
            zmq_pollitem_t it = { F.be2_in, 0, ZMQ_POLLIN, 0 };
            wire_zmq_id_t from;
            Rtr__Envelope *r = NULL;
            serve_router();
            if (zmq_poll(&it, 1, 20) <= 0)
                continue;
            if (wire_zmq_recv(F.be2_in, &from, NULL, &r) != RTR_STS_OK)
                continue;
            bool started = r->body_case == RTR__ENVELOPE__BODY_SHADOW_START;
            if (started)
                cr_assert_eq(r->shadow_start->mitt, 1);
            wire_free((ProtobufCMessage **)&r);
            if (started)
                return;
        }
        cr_assert_lt(now_ms(), end, "be1 never started be2's stream");
    }
}

/* wait_state - poll show partition until P's state is `want`. */
static void
wait_state(const char *want)
{
    uint64_t end = now_ms() + DEADLINE_MS;
    for (;;) {
        json_t *j = admin_cmd("show partition", NULL);
        bool ok = strcmp(json_string_value(col(j, 0, "state")), want) == 0;
        json_decref(j);
        if (ok)
            return;
        cr_assert_lt(now_ms(), end, "state never became %s", want);
    }
}

static void
tid_of(uint64_t counter_, uint8_t out[16])
{
    cmn_tid_t t = { CLI_INC, counter_ };
    cmn_tid_pack(&t, out);
}

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
    send_env(F.server, NULL, &env, SRV_ID, SRV_INC, RTR__ROLE__ROLE_SERVER);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_CHANNEL_STATUS);
    cr_assert_eq(r->channel_status->status, RTR_STS_OK);
    cr_assert_str_eq(r->channel_status->partition, "P");
    free_env(&r);
}

/* server_send - env from the fake server application. */
static void
server_send(Rtr__Envelope *env)
{
    send_env(F.server, NULL, env, SRV_ID, SRV_INC, RTR__ROLE__ROLE_SERVER);
}

/* server_reply_and_vote - the fake server takes the delivery of tid, replies "ok" and votes
 * accept when asked. */
static void
server_reply_and_vote(const uint8_t *tid)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *r;
    Rtr__ServerReply sr = RTR__SERVER_REPLY__INIT;
    Rtr__ServerVote sv = RTR__SERVER_VOTE__INIT;

    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_DELIVER);
    cr_assert_eq(memcmp(r->deliver->tid.data, tid, 16), 0);
    cr_assert_eq(memcmp(r->deliver->body.data, "acct", 4), 0);
    free_env(&r);
    sr.tid.data = (uint8_t *)(uintptr_t)tid;
    sr.tid.len = 16;
    sr.channel = 1;
    sr.body.data = (uint8_t *)"ok";
    sr.body.len = 2;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_REPLY;
    env.server_reply = &sr;
    server_send(&env);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_VOTE_REQUEST);
    free_env(&r);
    sv.tid.data = (uint8_t *)(uintptr_t)tid;
    sv.tid.len = 16;
    sv.channel = 1;
    sv.accept = 1;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
    env.server_vote = &sv;
    server_send(&env);
}

/* commit_one - transaction `counter_` through be1 (primary): the record goes to be2 as a
 * RecordBatch and is decided (TxOutcome{accepted, csn}) only after be2's ack. */
static void
commit_one(uint64_t counter_, uint64_t csn)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *r;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    Rtr__VoteRequest vr = RTR__VOTE_REQUEST__INIT;
    Rtr__ShadowAck ack = RTR__SHADOW_ACK__INIT;
    uint8_t tid[16];
    json_t *j;

    tid_of(counter_, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.channel = 5;
    m.body.data = (uint8_t *)"acct";
    m.body.len = 4;
    m.partition = "P";
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    send_env(F.router, "be1", &env, "r1", RTR_INC, RTR__ROLE__ROLE_ROUTER);
    vr.tid = m.tid;
    vr.nmsgs = 1;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &vr;
    send_env(F.router, "be1", &env, "r1", RTR_INC, RTR__ROLE__ROLE_ROUTER);
    server_reply_and_vote(tid);

    /* the record goes to the partner as a RecordBatch (the core's own bytes, sent as is) */
    r = recv_body(F.be2_in, true, RTR__ENVELOPE__BODY_RECORDS);
    cr_assert_str_eq(r->records->partition, "P");
    cr_assert_eq(r->records->n_records, 1);
    cr_assert_eq(r->records->records[0]->n, csn);
    cr_assert_eq(memcmp(r->records->records[0]->tid.data, tid, 16), 0);
    free_env(&r);
    /* not decided before the ack: the partition shows the record unacked */
    j = admin_cmd("show partition", NULL);
    cr_assert_str_eq(json_string_value(col(j, 0, "role")), "primary");
    cr_assert_str_eq(json_string_value(col(j, 0, "partner")), "be2");
    cr_assert_eq(json_integer_value(col(j, 0, "partner_hardened")), (json_int_t)csn - 1);
    cr_assert_eq(json_integer_value(col(j, 0, "lag_records")), 1);
    json_decref(j);

    ack.partition = "P";
    ack.epoch = 1;
    ack.hardened_upto = csn;
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_SHADOW_ACK;
    env.shadow_ack = &ack;
    be2_send(&env, BE2_INC);
    r = recv_body(F.router, true, RTR__ENVELOPE__BODY_TX_OUTCOME);
    cr_assert(r->tx_outcome->accepted);
    cr_assert_eq(r->tx_outcome->csn, csn);
    free_env(&r);
    j = admin_cmd("show partition", NULL);
    cr_assert_eq(json_integer_value(col(j, 0, "partner_hardened")), (json_int_t)csn);
    cr_assert_eq(json_integer_value(col(j, 0, "lag_records")), 0);
    json_decref(j);
}

/* ---- be1 primary ---------------------------------------------------------------------------- */

TestSuite(shadow_primary, .init = setup_primary, .fini = teardown);

static bool
p_malformed(const sctr_t *c, const sctr_t *b)
{
    return c->malformed == b->malformed + 1;
}
static bool
p_oversize(const sctr_t *c, const sctr_t *b)
{
    return c->oversize == b->oversize + 1;
}
static bool
p_wrong_role(const sctr_t *c, const sctr_t *b)
{
    return c->wrong_role == b->wrong_role + 1;
}
static bool
p_unknown(const sctr_t *c, const sctr_t *b)
{
    return c->unknown_peer == b->unknown_peer + 1;
}
static bool
p_unexpected(const sctr_t *c, const sctr_t *b)
{
    return c->unexpected == b->unexpected + 1;
}
static bool
p_lost(const sctr_t *c, const sctr_t *b)
{
    return c->shadow_partner_lost == b->shadow_partner_lost + 1;
}

Test(shadow_primary, refuses_bad_frames_and_keeps_serving)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *h;
    Rtr__RecordBatch rb = RTR__RECORD_BATCH__INIT;
    void *stranger;
    sctr_t c0, c;
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02 };
    size_t big = 1048576 + 100; /* above max_frame_bytes (default 1 MiB), below the cap */
    char *bigbuf;

    /* be1's shadow DEALER reaches be2 with its node name as routing id and heartbeats */
    h = recv_body(F.be2_in, true, RTR__ENVELOPE__BODY_HEARTBEAT);
    free_env(&h);
    /* and only the primary claims the route, once it took its epoch (RESUME: 2) */
    for (;;) {
        h = recv_body(F.router, true, RTR__ENVELOPE__BODY_BACKEND_HELLO);
        bool claimed = h->backend_hello->n_partitions == 1;
        if (claimed) {
            cr_assert_str_eq(h->backend_hello->partitions[0], "P");
            cr_assert_eq(h->backend_hello->n_epochs, 1);
            cr_assert_eq(h->backend_hello->epochs[0], 2);
        }
        free_env(&h);
        if (claimed)
            break;
    }
    be2_join();
    c0 = shadow_counters();
    cr_assert_eq(c0.malformed + c0.wrong_role + c0.unknown_peer + c0.unexpected, 0);

    /* not an Envelope */
    cr_assert_eq(zmq_send(F.be2_out, junk, sizeof(junk), 0), (int)sizeof(junk));
    c = wait_counters(p_malformed, &c0, "malformed + 1");
    /* larger than max_frame_bytes: counted, the link survives */
    bigbuf = calloc(1, big);
    cr_assert_not_null(bigbuf);
    cr_assert_eq(zmq_send(F.be2_out, bigbuf, big, 0), (int)big);
    free(bigbuf);
    c = wait_counters(p_oversize, &c, "oversize + 1");
    /* a valid frame in a router's role */
    rb.partition = "P";
    env.body_case = RTR__ENVELOPE__BODY_RECORDS;
    env.records = &rb;
    send_env(F.be2_out, NULL, &env, "be2", BE2_INC, RTR__ROLE__ROLE_ROUTER);
    c = wait_counters(p_wrong_role, &c, "wrong_role + 1");
    /* a stranger's RecordBatch (a backend no partition pairs with be1) */
    stranger = dealer("be9", F.sh1);
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_RECORDS;
    env.records = &rb;
    send_env(stranger, NULL, &env, "be9", 9, RTR__ROLE__ROLE_BACKEND);
    c = wait_counters(p_unknown, &c, "unknown_peer + 1");
    zmq_close(stranger);
    /* a RecordBatch from the partner to the primary: the wrong way round */
    env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    env.body_case = RTR__ENVELOPE__BODY_RECORDS;
    env.records = &rb;
    be2_send(&env, BE2_INC);
    c = wait_counters(p_unexpected, &c, "unexpected + 1");
    cr_assert_eq(c.shadow_unexpected, c0.shadow_unexpected + 1);
    /* a partner frame without an incarnation */
    {
        Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
        wire_envelope_init(&env, "be2", 0, 0, RTR__ROLE__ROLE_BACKEND);
        env.has_incarnation = 0;
        env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        cr_assert_eq(wire_zmq_send(F.be2_out, NULL, &env, 0), RTR_STS_OK);
    }
    c = wait_counters(p_unexpected, &c, "unexpected + 1 (no incarnation)");
    cr_assert_gt(c.decoded, c0.decoded); /* the decoded ones (and be2's heartbeats) */

    cr_assert_eq(c.wrong_role, c0.wrong_role + 1);
    cr_assert_eq(c.unknown_peer, c0.unknown_peer + 1);
    cr_assert_eq(c.malformed, c0.malformed + 1);
    cr_assert_eq(c.oversize, c0.oversize + 1);

    /* still serving: the link is up and a transaction commits once the partner acked it */
    h = recv_body(F.be2_in, true, RTR__ENVELOPE__BODY_HEARTBEAT);
    free_env(&h);
    cr_assert(partner_up());
    open_server_channel();
    commit_one(1, 1);
}

Test(shadow_primary, commits_only_after_the_partner_acked)
{
    be2_join();
    open_server_channel();
    commit_one(1, 1);
}

Test(shadow_primary, a_silent_partner_is_lost_and_comes_back)
{
    sctr_t c0;

    be2_heartbeat(BE2_INC);
    wait_partner_up(true);
    c0 = shadow_counters();
    /* be2 says nothing for failure_timeout_ms (500) */
    wait_counters(p_lost, &c0, "shadow_partner_lost + 1");
    cr_assert(!partner_up());
    be2_heartbeat(BE2_INC + 1); /* restarted */
    wait_partner_up(true);
}

/* ---- be1 member ----------------------------------------------------------------------------- */

TestSuite(shadow_member, .init = setup_member, .fini = teardown);

Test(shadow_member, hardens_acks_executes_and_reports_a_divergence)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT, *r;
    Rtr__RecordBatch rb = RTR__RECORD_BATCH__INIT;
    Rtr__JournalRecord rec = RTR__JOURNAL_RECORD__INIT, *recp = &rec;
    Rtr__TxMessage msg = RTR__TX_MESSAGE__INIT, *msgp = &msg;
    uint8_t tid[16], dig[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    json_t *j;

    /* a member claims no route */
    r = recv_body(F.router, true, RTR__ENVELOPE__BODY_BACKEND_HELLO);
    cr_assert_eq(r->backend_hello->n_partitions, 0);
    free_env(&r);
    be2_heartbeat(BE2_INC);
    wait_partner_up(true);
    /* be1 handshakes with its primary be2 (the test), which starts the stream */
    F.be2_alive_inc = BE2_INC;
    r = recv_body(F.be2_in, true, RTR__ENVELOPE__BODY_SHADOW_HELLO);
    cr_assert_str_eq(r->shadow_hello->partition, "P");
    cr_assert_eq(r->shadow_hello->contig_n, 0);
    free_env(&r);
    {
        Rtr__ShadowStart st = RTR__SHADOW_START__INIT;
        st.partition = "P";
        st.epoch = 1;
        st.mitt = 1;
        env.body_case = RTR__ENVELOPE__BODY_SHADOW_START;
        env.shadow_start = &st;
        be2_send(&env, BE2_INC);
        env = (Rtr__Envelope)RTR__ENVELOPE__INIT;
    }
    wait_state("sec_act");
    open_server_channel();
    j = admin_cmd("show partition", NULL);
    cr_assert_str_eq(json_string_value(col(j, 0, "role")), "member");
    json_decref(j);

    tid_of(7, tid);
    msg.index = 0;
    msg.body.data = (uint8_t *)"acct";
    msg.body.len = 4;
    rec.epoch = 1;
    rec.n = 1;
    rec.tid.data = tid;
    rec.tid.len = 16;
    rec.state = RTR__TX_STATE__TX_VOTED;
    rec.n_messages = 1;
    rec.messages = &msgp;
    rec.has_digest = 1;
    rec.digest.data = dig; /* not what the fake server's replies give: a divergence */
    rec.digest.len = 8;
    rb.partition = "P";
    rb.has_epoch = 1;
    rb.epoch = 1;
    rb.n_records = 1;
    rb.records = &recp;
    rb.has_applied_upto = 1;
    rb.applied_upto = 1;
    rb.has_primary_hardened = 1;
    rb.primary_hardened = 1;
    env.body_case = RTR__ENVELOPE__BODY_RECORDS;
    env.records = &rb;
    be2_send(&env, BE2_INC);

    /* hardened in be1's journal, acked to the primary on the shadow DEALER */
    for (;;) {
        r = recv_body(F.be2_in, true, RTR__ENVELOPE__BODY_SHADOW_ACK);
        bool done = r->shadow_ack->hardened_upto == 1;
        cr_assert_str_eq(r->shadow_ack->partition, "P");
        free_env(&r);
        if (done)
            break;
    }
    /* executed on be1's server once the primary applied it; the digest differs: rolled back,
     * the primary told, the member out */
    server_reply_and_vote(tid);
    r = recv_body(F.server, false, RTR__ENVELOPE__BODY_SERVER_OUTCOME);
    cr_assert(!r->server_outcome->accepted);
    free_env(&r);
    r = recv_body(F.be2_in, true, RTR__ENVELOPE__BODY_SHADOW_DIVERGED);
    cr_assert_eq(r->shadow_diverged->n, 1);
    free_env(&r);
    j = admin_cmd("show partition", NULL);
    cr_assert_str_eq(json_string_value(col(j, 0, "state")), "shd_out");
    cr_assert_not_null(strstr(json_string_value(col(j, 0, "out_reason")), "diverged n=1"));
    cr_assert_eq(json_integer_value(col(j, 0, "hardened_csn")), 1);
    json_decref(j);
}
