/*
 * rtd_reg_daemon_test.c - the facility register in real rtr-router processes
 * ($RTD_ROUTER_BIN): three routers with a shadowed partition, their acceptor stores in a temp
 * directory, `rtrcli bootstrap facility` ($RTD_RTRCLI_BIN) against fake backend admin endpoints
 * served by this process (canned "show meta" answers), and fake backends (DEALERs "be1" and
 * "be2" built with wire_zmq) sending RegChange and LeaseRequest.
 *
 * Ports come from a base derived from getpid() (each Criterion test runs in its own worker
 * process), outside the ephemeral range. Nothing sleeps: every wait polls "show register" (or
 * a socket) with a deadline. Every router is stopped by PID: SIGTERM at the end, and a router
 * stopped that way must exit 0 (under ASan a leak makes it exit non-zero); kill -9 where the
 * test says so. RTD_TEST_VERBOSE=1 copies the routers' logs to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <zmq.h>

#include "cmn.h"
#include "tool_admin.h"
#include "tst.h"
#include "wire_zmq.h"

#define NR      3
#define WAIT_MS 15000

typedef struct {
    char *dir;
    char conf[512];
    char state[NR][512];
    char log[NR][512];
    char admin_ep[NR][256];
    char peers_ep[NR][64];
    char be_admin[2][256];
    pid_t pid[NR];
    void *zctx;
    void *meta[2];   /* fake backend admin endpoints (ROUTER), NULL = not served */
    void *be[2][NR]; /* fake backends' DEALERs to each router's peers endpoint */
    const char *meta_json[2];
    uint64_t req_id;
    uint64_t learned; /* highest RegLearn version a fake backend received */
} rtd_rt_t;

static rtd_rt_t T;
static const char *const be_name[2] = { "be1", "be2" };

static uint64_t
now_ms(void)
{
    return cmn_now_mono_ns() / 1000000u;
}

static void
write_config(int base)
{
    char routers[3072] = "", text[6144];
    size_t len = 0;
    int n;

    for (int i = 0; i < NR; i++) {
        snprintf(T.peers_ep[i], sizeof T.peers_ep[i], "tcp://127.0.0.1:%d", base + 2 * i + 1);
        snprintf(T.admin_ep[i], sizeof T.admin_ep[i], "ipc://%s/r%d.adm", T.dir, i + 1);
        snprintf(T.state[i], sizeof T.state[i], "%s/st/r%d", T.dir, i + 1);
        snprintf(T.log[i], sizeof T.log[i], "%s/r%d.log", T.dir, i + 1);
        len += (size_t)snprintf(routers + len, sizeof routers - len,
                                "%s{ name = \"r%d\"; clients = \"tcp://127.0.0.1:%d\"; peers = "
                                "\"%s\";\n  admin = \"%s\"; state = \"%s\"; }\n",
                                i ? "," : "", i + 1, base + 2 * i, T.peers_ep[i], T.admin_ep[i],
                                T.state[i]);
    }
    for (int b = 0; b < 2; b++)
        snprintf(T.be_admin[b], sizeof T.be_admin[b], "ipc://%s/%s.adm", T.dir, be_name[b]);
    n = snprintf(text, sizeof text,
                 "facility = \"REGT\";\n"
                 "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
                 "routers = (\n%s);\n"
                 "backends = (\n"
                 " { name = \"be1\"; shadow = \"tcp://127.0.0.1:%d\"; servers = "
                 "\"ipc://%s/be1.srv\";\n   admin = \"%s\"; journal = \"%s/be1\"; },\n"
                 " { name = \"be2\"; shadow = \"tcp://127.0.0.1:%d\"; servers = "
                 "\"ipc://%s/be2.srv\";\n   admin = \"%s\"; journal = \"%s/be2\"; } );\n"
                 "partitions = (\n"
                 " { name = \"P\"; low = [ 0 ]; high = [ 499 ]; primary = \"be1\"; secondary = "
                 "\"be2\"; },\n"
                 " { name = \"U\"; low = [ 500 ]; high = [ 999 ]; primary = \"be2\"; } );\n"
                 "settings = { heartbeat_ms = 50; failure_timeout_ms = 1000; "
                 "register_timeout_ms = 300; };\n",
                 routers, base + 6, T.dir, T.be_admin[0], T.dir, base + 7, T.dir, T.be_admin[1],
                 T.dir);
    cr_assert(n > 0 && (size_t)n < sizeof text);
    snprintf(T.conf, sizeof T.conf, "%s/facility.conf", T.dir);
    cr_assert_eq(tst_write_file(T.conf, text, (size_t)n), 0);
}

/* spawn - fork and exec argv with stdout and stderr appended to `out`. */
static pid_t
spawn(char *const argv[], const char *out)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        if (fd < 0 || devnull < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || dup2(devnull, 0) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static pid_t
start_router_as(int i, const char *out)
{
    const char *bin = getenv("RTD_ROUTER_BIN");
    char node[16];

    cr_assert_not_null(bin, "RTD_ROUTER_BIN is not set");
    snprintf(node, sizeof node, "r%d", i + 1);
    char *const argv[] = { (char *)(uintptr_t)bin, "--config", T.conf, "--node", node,
                           "--log-level",          "info",     NULL };
    return spawn(argv, out);
}

static void
start_router(int i)
{
    T.pid[i] = start_router_as(i, T.log[i]);
}

/* wait_exit - wait up to WAIT_MS for pid to exit (pidfd); its wait status, or -1 if killed. */
static int
wait_exit(pid_t pid)
{
    uint64_t end = now_ms() + WAIT_MS;
    struct pollfd pfd = { (int)syscall(SYS_pidfd_open, pid, 0), POLLIN, 0 };
    int st = 0;

    while (pfd.fd >= 0 && now_ms() < end && poll(&pfd, 1, (int)(end - now_ms())) == 0)
        ;
    if (pfd.fd >= 0)
        close(pfd.fd);
    if (waitpid(pid, &st, WNOHANG) != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    return st;
}

/* stop_router - SIGTERM (or SIGKILL) router i and reap it; the wait status. */
static int
stop_router(int i, int sig)
{
    int st;

    if (T.pid[i] <= 0)
        return 0;
    kill(T.pid[i], sig);
    st = wait_exit(T.pid[i]);
    T.pid[i] = -1;
    return st;
}

static void *
sock_new(int type, const char *id)
{
    void *s = zmq_socket(T.zctx, type);
    int zero = 0;

    cr_assert_not_null(s);
    if (id != NULL)
        cr_assert_eq(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)), 0);
    cr_assert_eq(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    return s;
}

static void
setup(void)
{
    int base = 24000 + (int)(getpid() % 1000) * 8; /* < 32768: not ephemeral */

    memset(&T, 0, sizeof T);
    for (int i = 0; i < NR; i++)
        T.pid[i] = -1;
    T.dir = tst_tmpdir("rtdreg");
    write_config(base);
    T.zctx = zmq_ctx_new();
    cr_assert_not_null(T.zctx);
}

static void
dump_logs(void)
{
    for (int i = 0; i < NR; i++) {
        size_t len = 0;
        char *text = tst_read_file(T.log[i], &len);
        if (text != NULL) {
            fprintf(stderr, "---- r%d log ----\n%s---- end of r%d log ----\n", i + 1, text, i + 1);
            free(text);
        }
    }
}

/* finish - the end of every test: each running router stops cleanly on SIGTERM (exit 0; under
 * ASan a leak or a bad free at exit makes it non-zero). */
static void
finish(void)
{
    for (int i = 0; i < NR; i++) {
        if (T.pid[i] <= 0)
            continue;
        int st = stop_router(i, SIGTERM);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            dump_logs();
            cr_assert_fail("router r%d did not stop cleanly (status 0x%x)", i + 1, st);
        }
    }
}

static void
teardown(void)
{
    int st[NR];

    for (int b = 0; b < 2; b++) {
        if (T.meta[b] != NULL)
            zmq_close(T.meta[b]);
        for (int i = 0; i < NR; i++)
            if (T.be[b][i] != NULL)
                zmq_close(T.be[b][i]);
    }
    if (T.zctx != NULL)
        zmq_ctx_term(T.zctx);
    for (int i = 0; i < NR; i++)
        st[i] = stop_router(i, SIGTERM);
    if (getenv("RTD_TEST_VERBOSE") != NULL)
        dump_logs();
    tst_rmtree(T.dir);
    free(T.dir);
    (void)st; /* a test that got this far with routers running has already failed */
}

/* ---- admin ------------------------------------------------------------------------------ */

/* show_register_try - "show register" of router i (NULL if it does not answer within 500 ms).
 * Caller json_decref. */
static json_t *
show_register_try(int i)
{
    tool_admin_t *a = tool_admin_new();
    json_t *j = NULL;
    char node[16];

    cr_assert_not_null(a);
    snprintf(node, sizeof node, "r%d", i + 1);
    cr_assert_geq(tool_admin_add(a, node, T.admin_ep[i]), 0);
    if (tool_admin_query(a, "show register", NULL, 0, 500) == RTR_STS_OK) {
        const tool_admin_target_t *t = tool_admin_target(a, 0);
        cr_assert_eq(t->status, RTR_STS_OK, "show register on r%d: %s", i + 1,
                     t->error ? t->error : "?");
        j = json_incref(t->json);
    }
    tool_admin_free(&a);
    return j;
}

/* show_register - "show register" of a router that is up: asked again until WAIT_MS. */
static json_t *
show_register(int i)
{
    uint64_t end = now_ms() + WAIT_MS;
    json_t *j;

    while ((j = show_register_try(i)) == NULL)
        cr_assert_lt(now_ms(), end, "r%d does not answer show register", i + 1);
    return j;
}

static const char *
jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* reg_version - the version router i has learned (0 = none, -1 = no answer). */
static long long
reg_version(const json_t *j)
{
    json_t *v = json_object_get(j, "version");
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* wait_mode - until router i's mode is `mode` and its learned version is `version` (-1: any). */
static void
wait_mode(int i, const char *mode, long long version)
{
    uint64_t end = now_ms() + WAIT_MS;
    char last[64] = "no answer";

    for (;;) {
        json_t *j = show_register_try(i);
        if (j != NULL) {
            bool ok =
                strcmp(jstr(j, "mode"), mode) == 0 && (version < 0 || reg_version(j) == version);
            snprintf(last, sizeof last, "%s version %lld", jstr(j, "mode"), reg_version(j));
            json_decref(j);
            if (ok)
                return;
        }
        if (now_ms() >= end) {
            dump_logs();
            cr_assert_fail("r%d never reached mode %s version %lld (last: %s)", i + 1, mode,
                           version, last);
        }
        poll(NULL, 0, 20);
    }
}

/* ---- rtrcli with fake backend admin endpoints ------------------------------------------- */

/* serve_meta - answer every AdminRequest waiting on fake backend b's admin socket. */
static void
serve_meta(int b)
{
    for (;;) {
        wire_zmq_id_t from;
        Rtr__Envelope *in = NULL, out;
        Rtr__AdminReply rep = RTR__ADMIN_REPLY__INIT;
        rtr_status_t sts = wire_zmq_recv(T.meta[b], &from, NULL, &in);
        if (sts == RTR_STS_BUSY)
            return;
        if (sts != RTR_STS_OK)
            continue;
        cr_assert_eq(in->body_case, RTR__ENVELOPE__BODY_ADMIN_REQUEST);
        cr_assert_str_eq(in->admin_request->command, "show meta");
        rep.request_id = in->admin_request->request_id;
        rep.status = RTR_STS_OK;
        rep.json = (char *)(uintptr_t)T.meta_json[b];
        wire_envelope_init(&out, be_name[b], 0, 7, RTR__ROLE__ROLE_BACKEND);
        out.body_case = RTR__ENVELOPE__BODY_ADMIN_REPLY;
        out.admin_reply = &rep;
        cr_assert_eq(wire_zmq_send(T.meta[b], &from, &out, 0), RTR_STS_OK);
        wire_free((ProtobufCMessage **)&in);
    }
}

/* meta_serve - serve "show meta" for backend b with rows (a JSON array of rows). */
static void
meta_serve(int b, const char *json)
{
    T.meta_json[b] = json;
    if (T.meta[b] == NULL) {
        T.meta[b] = sock_new(ZMQ_ROUTER, NULL);
        cr_assert_eq(zmq_bind(T.meta[b], T.be_admin[b] + 0), 0, "bind %s", T.be_admin[b]);
    }
}

/* rtrcli - run rtrcli with args (NULL-terminated) while serving the fake backends' admin
 * endpoints; returns its exit status, *out its stdout and stderr (caller frees). */
static int
rtrcli(char **out, ...)
{
    const char *bin = getenv("RTD_RTRCLI_BIN");
    char *argv[32], path[600];
    va_list ap;
    int n = 0, st = 0;
    pid_t pid;

    cr_assert_not_null(bin, "RTD_RTRCLI_BIN is not set");
    argv[n++] = (char *)(uintptr_t)bin;
    va_start(ap, out);
    for (char *a; n < 31 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    snprintf(path, sizeof path, "%s/rtrcli.out", T.dir);
    unlink(path);
    pid = spawn(argv, path);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    cr_assert_geq(pfd, 0);
    uint64_t end = now_ms() + 3 * WAIT_MS;
    for (;;) {
        zmq_pollitem_t it[3];
        int k = 0;
        for (int b = 0; b < 2; b++)
            if (T.meta[b] != NULL)
                it[k++] = (zmq_pollitem_t){ T.meta[b], -1, ZMQ_POLLIN, 0 };
        it[k++] = (zmq_pollitem_t){ NULL, pfd, ZMQ_POLLIN, 0 };
        cr_assert_lt(now_ms(), end, "rtrcli did not finish");
        cr_assert_geq(zmq_poll(it, k, 200), 0);
        for (int b = 0; b < 2; b++)
            if (T.meta[b] != NULL)
                serve_meta(b);
        if (it[k - 1].revents & ZMQ_POLLIN)
            break;
    }
    close(pfd);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    size_t len = 0;
    *out = tst_read_file(path, &len);
    cr_assert_not_null(*out);
    cr_assert(WIFEXITED(st), "rtrcli died: 0x%x", st);
    return WEXITSTATUS(st);
}

/* Canned "show meta" answers: columns partition, member, epoch, highest_epoch_seen, last_n,
 * last_epoch, history. */
static const char meta_be1_ahead[] =
    "{\"title\":\"journal meta\",\"node\":\"be1\",\"columns\":[],\"rows\":"
    "[[\"P\",\"primary\",1,1,5,1,[[1,1]]]]}";
static const char meta_be2_fresh[] =
    "{\"title\":\"journal meta\",\"node\":\"be2\",\"columns\":[],\"rows\":"
    "[[\"P\",\"secondary\",0,0,0,0,[]],[\"U\",\"primary\",1,1,0,0,[[1,1]]]]}";
static const char meta_be1_fresh[] =
    "{\"title\":\"journal meta\",\"node\":\"be1\",\"columns\":[],\"rows\":"
    "[[\"P\",\"primary\",1,1,0,0,[[1,1]]]]}";
static const char meta_be2_ahead[] =
    "{\"title\":\"journal meta\",\"node\":\"be2\",\"columns\":[],\"rows\":"
    "[[\"P\",\"secondary\",4,6,9,4,[[1,1],[4,7]]]]}";

static void
start_all_voting(void)
{
    for (int i = 0; i < NR; i++)
        start_router(i);
    for (int i = 0; i < NR; i++)
        wait_mode(i, "voting", 0);
}

/* bootstrap - rtrcli bootstrap facility --yes with be1 ahead and be2 fresh; must succeed. */
static void
bootstrap(void)
{
    char *out = NULL;

    meta_serve(0, meta_be1_ahead);
    meta_serve(1, meta_be2_fresh);
    int rc = rtrcli(&out, "bootstrap", "facility", "--config", T.conf, "--yes", NULL);
    cr_assert_eq(rc, 0, "rtrcli bootstrap failed:\n%s", out);
    free(out);
    for (int i = 0; i < NR; i++)
        if (T.pid[i] > 0)
            wait_mode(i, "voting", 1);
}

/* row_p - the row of partition P in a show register answer (borrowed). */
static json_t *
row_p(const json_t *j)
{
    json_t *rows = json_object_get(j, "rows"), *row;
    size_t i;

    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_array_get(row, 0)), "P") == 0)
            return row;
    }
    cr_assert_fail("no row for P");
    return NULL;
}

/* ---- fake backends ----------------------------------------------------------------------- */

static void *
backend_link(int b, int i)
{
    if (T.be[b][i] == NULL) {
        T.be[b][i] = sock_new(ZMQ_DEALER, be_name[b]);
        cr_assert_eq(zmq_connect(T.be[b][i], T.peers_ep[i]), 0);
    }
    return T.be[b][i];
}

/* recv_body - wait for an envelope with body `bc` on DEALER s (heartbeats and RegLearn are
 * skipped; the highest RegLearn version is noted in T.learned). Caller wire_frees it. */
static Rtr__Envelope *
recv_body(void *s, Rtr__Envelope__BodyCase bc)
{
    uint64_t end = now_ms() + WAIT_MS;

    for (;;) {
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        Rtr__Envelope *env = NULL;
        cr_assert_lt(now_ms(), end, "no message with body %d", bc);
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        if (wire_zmq_recv(s, NULL, NULL, &env) != RTR_STS_OK)
            continue;
        if (env->body_case == bc)
            return env;
        if (env->body_case == RTR__ENVELOPE__BODY_REG_LEARN &&
            env->reg_learn->value->version > T.learned)
            T.learned = env->reg_learn->value->version;
        wire_free((ProtobufCMessage **)&env);
    }
}

/* wait_learned - until a fake backend's link s has received RegLearn of `version`. */
static void
wait_learned(void *s, uint64_t version)
{
    uint64_t end = now_ms() + WAIT_MS;

    while (T.learned < version) {
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        Rtr__Envelope *env = NULL;
        cr_assert_lt(now_ms(), end, "no RegLearn of version %llu (last %llu)",
                     (unsigned long long)version, (unsigned long long)T.learned);
        if (zmq_poll(&it, 1, 100) <= 0 || wire_zmq_recv(s, NULL, NULL, &env) != RTR_STS_OK)
            continue;
        cr_assert_eq(env->role, RTR__ROLE__ROLE_ROUTER);
        if (env->body_case == RTR__ENVELOPE__BODY_REG_LEARN &&
            env->reg_learn->value->version > T.learned)
            T.learned = env->reg_learn->value->version;
        wire_free((ProtobufCMessage **)&env);
    }
}

/* reg_change - RegChange{kind, P, expected_epoch} from backend b to router i; the reply. */
static Rtr__Envelope *
reg_change(int b, int i, Rtr__RegKind kind, uint64_t expected_epoch)
{
    Rtr__Envelope env;
    Rtr__RegChange rc = RTR__REG_CHANGE__INIT;
    void *s = backend_link(b, i);

    wire_envelope_init(&env, be_name[b], 0, 0xb0 + (uint64_t)b, RTR__ROLE__ROLE_BACKEND);
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
    env.reg_change = &rc;
    rc.req_id = ++T.req_id;
    rc.kind = kind;
    rc.partition = "P";
    rc.has_expected_epoch = true;
    rc.expected_epoch = expected_epoch;
    cr_assert_eq(wire_zmq_send(s, NULL, &env, 0), RTR_STS_OK);
    for (;;) {
        Rtr__Envelope *in = recv_body(s, RTR__ENVELOPE__BODY_REG_CHANGE_REPLY);
        if (in->reg_change_reply->req_id == rc.req_id)
            return in;
        wire_free((ProtobufCMessage **)&in);
    }
}

/* lease - LeaseRequest{P, epoch, seq} from backend b to router i; the grant. */
static Rtr__Envelope *
lease(int b, int i, uint64_t epoch, uint64_t seq)
{
    Rtr__Envelope env;
    Rtr__LeaseRequest lr = RTR__LEASE_REQUEST__INIT;
    void *s = backend_link(b, i);

    wire_envelope_init(&env, be_name[b], 0, 0xb0 + (uint64_t)b, RTR__ROLE__ROLE_BACKEND);
    env.body_case = RTR__ENVELOPE__BODY_LEASE_REQUEST;
    env.lease_request = &lr;
    lr.partition = "P";
    lr.epoch = epoch;
    lr.seq = seq;
    cr_assert_eq(wire_zmq_send(s, NULL, &env, 0), RTR_STS_OK);
    for (;;) {
        Rtr__Envelope *in = recv_body(s, RTR__ENVELOPE__BODY_LEASE_GRANT);
        if (in->lease_grant->seq == seq)
            return in;
        wire_free((ProtobufCMessage **)&in);
    }
}

/* ---- tests -------------------------------------------------------------------------------- */

TestSuite(rtd_reg_daemon, .init = setup, .fini = teardown);

Test(rtd_reg_daemon, fresh_routers_vote_then_bootstrap_once)
{
    char *out = NULL;

    start_all_voting();
    for (int i = 0; i < NR; i++) {
        json_t *j = show_register(i);
        cr_assert_not_null(j);
        cr_assert(json_is_false(json_object_get(j, "has_state")));
        cr_assert(json_is_null(json_object_get(j, "version")));
        json_decref(j);
    }
    bootstrap();
    for (int i = 0; i < NR; i++) {
        json_t *j = show_register(i);
        json_t *row = row_p(j);
        cr_assert(json_is_true(json_object_get(j, "has_state")));
        cr_assert_eq(json_integer_value(json_object_get(j, "accepted_version")), 1);
        /* epoch 1 + highest seen (1); be1 is ahead; be2 holds less: not in sync */
        cr_assert_eq(json_integer_value(json_array_get(row, 1)), 2);
        cr_assert_str_eq(json_string_value(json_array_get(row, 2)), "be1");
        cr_assert_eq(json_array_size(json_array_get(row, 3)), 1);
        cr_assert_str_eq(json_string_value(json_array_get(row, 4)), "be2");
        cr_assert_str_eq(json_string_value(json_array_get(row, 7)), "rtrcli BOOTSTRAP");
        json_decref(j);
    }
    /* a second bootstrap is refused: every router holds state */
    int rc = rtrcli(&out, "bootstrap", "facility", "--config", T.conf, "--yes", NULL);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "router r1 already holds register state (version 1)") != NULL, "%s", out);
    free(out);
    finish();
}

Test(rtd_reg_daemon, bootstrap_picks_the_member_ahead)
{
    char *out = NULL;

    start_all_voting();
    meta_serve(0, meta_be1_fresh);
    meta_serve(1, meta_be2_ahead);
    int rc = rtrcli(&out, "--json", "bootstrap", "facility", "--config", T.conf, "--yes", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    wait_mode(2, "voting", 1);
    json_t *j = show_register(2);
    json_t *row = row_p(j);
    cr_assert_eq(json_integer_value(json_array_get(row, 1)), 7); /* 1 + highest seen (6) */
    cr_assert_str_eq(json_string_value(json_array_get(row, 2)), "be2");
    cr_assert_eq(json_array_size(json_array_get(row, 3)), 1);
    cr_assert_str_eq(json_string_value(json_array_get(row, 4)), "be1");
    json_decref(j);
    finish();
}

Test(rtd_reg_daemon, bootstrap_tie_keeps_config_primary_both_in_sync)
{
    char *out = NULL;
    static const char be2_fresh_p[] =
        "{\"title\":\"m\",\"columns\":[],\"rows\":[[\"P\",\"secondary\",0,0,0,0,[]]]}";

    start_all_voting();
    meta_serve(0, meta_be1_fresh);
    meta_serve(1, be2_fresh_p);
    int rc = rtrcli(&out, "bootstrap", "facility", "--config", T.conf, "--yes", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "committed register value") != NULL, "%s", out);
    free(out);
    wait_mode(0, "voting", 1);
    json_t *j = show_register(0);
    json_t *row = row_p(j);
    cr_assert_str_eq(json_string_value(json_array_get(row, 2)), "be1");
    cr_assert_eq(json_array_size(json_array_get(row, 3)), 2);
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(row, 3), 1)), "be2");
    json_decref(j);
    finish();
}

Test(rtd_reg_daemon, bootstrap_refused_without_a_member_or_a_router)
{
    char *out = NULL;

    start_all_voting();
    /* be2 does not answer show meta */
    meta_serve(0, meta_be1_fresh);
    int rc = rtrcli(&out, "bootstrap", "facility", "--config", T.conf, "--yes", "--timeout", "300",
                    NULL);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "backend be2 does not answer") != NULL, "%s", out);
    free(out);
    /* a router down */
    meta_serve(1, meta_be2_fresh);
    cr_assert_eq(stop_router(1, SIGKILL) & 0x7f, SIGKILL);
    rc = rtrcli(&out, "bootstrap", "facility", "--config", T.conf, "--yes", "--timeout", "300",
                NULL);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "router r2 does not answer") != NULL, "%s", out);
    free(out);
    /* nothing was written anywhere */
    for (int i = 0; i < NR; i += 2) {
        json_t *j = show_register(i);
        cr_assert(json_is_false(json_object_get(j, "has_state")));
        json_decref(j);
    }
    /* without --yes, an answer other than y cancels (stdin is /dev/null here) */
    start_router(1);
    wait_mode(1, "voting", 0);
    rc = rtrcli(&out, "bootstrap", "facility", "--config", T.conf, NULL);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "Proceed? [y/N]") != NULL, "%s", out);
    cr_assert(strstr(out, "cancelled; nothing was written") != NULL, "%s", out);
    free(out);
    finish();
}

Test(rtd_reg_daemon, change_commits_with_one_router_down_and_it_learns_on_restart)
{
    start_all_voting();
    bootstrap();
    cr_assert_eq(stop_router(2, SIGKILL) & 0x7f, SIGKILL);
    /* be1 (the primary) resumes in a new epoch through r1: r1 + r2 are a majority */
    Rtr__Envelope *rep = reg_change(0, 0, RTR__REG_KIND__REG_RESUME, 2);
    cr_assert_eq(rep->reg_change_reply->status, RTR_STS_OK, "status %u reason %s",
                 rep->reg_change_reply->status,
                 rep->reg_change_reply->reason ? rep->reg_change_reply->reason : "-");
    cr_assert_not_null(rep->reg_change_reply->value);
    cr_assert_eq(rep->reg_change_reply->value->version, 2);
    cr_assert_eq(rep->reg_change_reply->value->partitions[0]->epoch, 3);
    wire_free((ProtobufCMessage **)&rep);
    /* the proposer tells every connected backend the committed value (after the reply) */
    wait_learned(backend_link(0, 0), 2);
    /* a stale expectation is refused with the current value */
    rep = reg_change(0, 1, RTR__REG_KIND__REG_RESUME, 2);
    cr_assert_eq(rep->reg_change_reply->status, RTR_STS_EXISTS);
    cr_assert_eq(rep->reg_change_reply->value->version, 2);
    wire_free((ProtobufCMessage **)&rep);
    wait_mode(0, "voting", 2);
    wait_mode(1, "voting", 2);
    /* r3 comes back with its state (version 1 accepted) and learns version 2 */
    start_router(2);
    wait_mode(2, "voting", 2);
    json_t *j = show_register(2);
    cr_assert_eq(json_integer_value(json_array_get(row_p(j), 1)), 3);
    json_decref(j);
    finish();
}

Test(rtd_reg_daemon, wiped_router_rejoins_as_learner)
{
    start_all_voting();
    bootstrap();
    cr_assert_eq(stop_router(1, SIGKILL) & 0x7f, SIGKILL);
    cr_assert_eq(stop_router(2, SIGKILL) & 0x7f, SIGKILL);
    tst_rmtree(T.state[1]);
    /* r2 starts empty, finds r1 holding a facility: learner; its READ needs a majority of
     * the others (r1 and r3), so it stays a learner until r3 is back */
    start_router(1);
    wait_mode(1, "learner", 0);
    start_router(2);
    wait_mode(1, "voting", 1);
    json_t *j = show_register(1);
    cr_assert(json_is_true(json_object_get(j, "has_state")));
    cr_assert_eq(json_integer_value(json_object_get(j, "accepted_version")), 1);
    cr_assert_str_eq(json_string_value(json_array_get(row_p(j), 2)), "be1");
    json_decref(j);
    /* and it votes: a change with r3 down again commits through r1 + r2 */
    cr_assert_eq(stop_router(2, SIGKILL) & 0x7f, SIGKILL);
    Rtr__Envelope *rep = reg_change(0, 1, RTR__REG_KIND__REG_RESUME, 2);
    cr_assert_eq(rep->reg_change_reply->status, RTR_STS_OK);
    cr_assert_eq(rep->reg_change_reply->value->version, 2);
    wire_free((ProtobufCMessage **)&rep);
    finish();
}

Test(rtd_reg_daemon, lease_granted_to_the_primary_only)
{
    start_all_voting();
    bootstrap();
    /* a backend's first frame makes it known: it is told the current value at once */
    Rtr__Envelope *g = lease(0, 0, 2, 1);
    wait_learned(backend_link(0, 0), 1);
    cr_assert(g->lease_grant->granted);
    cr_assert_eq(g->lease_grant->register_version, 1);
    wire_free((ProtobufCMessage **)&g);
    g = lease(1, 0, 2, 1);
    cr_assert_not(g->lease_grant->granted);
    wire_free((ProtobufCMessage **)&g);
    g = lease(0, 0, 1, 2); /* an old epoch */
    cr_assert_not(g->lease_grant->granted);
    wire_free((ProtobufCMessage **)&g);
    json_t *j = show_register(0);
    json_t *c = json_object_get(j, "counters");
    cr_assert_eq(json_integer_value(json_object_get(c, "leases_granted")), 1);
    cr_assert_eq(json_integer_value(json_object_get(c, "leases_refused")), 2);
    cr_assert(json_is_integer(json_array_get(row_p(j), 8))); /* lease_age_ms */
    cr_assert_eq(json_integer_value(json_array_get(row_p(j), 9)), 2);
    json_decref(j);
    finish();
}

Test(rtd_reg_daemon, locked_store_refuses_a_second_process)
{
    char path[600];
    int st;

    start_router(0);
    wait_mode(0, "fetching", 0); /* the others are not started: it keeps asking */
    snprintf(path, sizeof path, "%s/second.out", T.dir);
    pid_t pid = start_router_as(0, path);
    st = wait_exit(pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
    size_t len = 0;
    char *text = tst_read_file(path, &len);
    cr_assert_not_null(text);
    char want[700];
    snprintf(want, sizeof want, "state directory %s is in use by another process (pid %ld)",
             T.state[0], (long)T.pid[0]);
    cr_assert(strstr(text, want) != NULL, "%s", text);
    free(text);
    finish();
}

Test(rtd_reg_daemon, router_frames_only_from_configured_routers)
{
    Rtr__Envelope env;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    Rtr__RegPrepare p = RTR__REG_PREPARE__INIT;
    void *s = sock_new(ZMQ_DEALER, "r9");
    uint64_t end = now_ms() + WAIT_MS;

    start_all_voting();
    cr_assert_eq(zmq_connect(s, T.peers_ep[0]), 0);
    /* a stranger claiming role ROUTER: a heartbeat, then a prepare that must change nothing */
    wire_envelope_init(&env, "r9", 0, 9, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    hb.seq = 1;
    cr_assert_eq(wire_zmq_send(s, NULL, &env, 0), RTR_STS_OK);
    env.body_case = RTR__ENVELOPE__BODY_REG_PREPARE;
    env.reg_prepare = &p;
    p.req_id = 77;
    p.ballot = 1000;
    p.ballot_node = 0;
    cr_assert_eq(wire_zmq_send(s, NULL, &env, 0), RTR_STS_OK);
    for (;;) {
        json_t *j = show_register(0);
        json_t *c = json_object_get(j, "counters");
        long long unknown = json_integer_value(json_object_get(c, "router_unknown"));
        long long promises = json_integer_value(json_object_get(c, "promises"));
        const char *promised = jstr(j, "promised");
        bool untouched = strcmp(promised, "-") == 0 || strncmp(promised, "1000.", 5) != 0;
        json_decref(j);
        cr_assert(untouched, "a stranger's prepare was promised");
        cr_assert_eq(promises, 0);
        if (unknown == 2)
            break;
        cr_assert_lt(now_ms(), end, "router_unknown is %lld, expected 2", unknown);
        poll(NULL, 0, 20);
    }
    zmq_close(s);
    finish();
}
