/*
 * frames_daemon_test.c - bad frames sent to every socket of a real rtr-router and rtr-backend.
 *
 * Each test starts a facility of its own (rtr-router r1 and rtr-backend be1, spawned by PID with
 * --config/--node; router r2 and backend be2 are declared but never started), opens a librtr
 * server channel (on be1) and client channel (through r1) in this process, and then sends to ONE
 * socket, batch after batch:
 *   corpus      every file of tests/proto/corpus
 *   wrong-role  a valid envelope with every role the socket does not serve (and no role)
 *   unexpected  valid envelopes of the right role with bodies the socket does not take
 *   empty       a zero-byte frame
 *   multipart   messages with extra frames after the envelope
 *   version     valid envelopes with version 2 and 0
 *   stranger    (router peers only) a valid envelope from an identity that is no backend
 *   oversize    one frame of settings.max_frame_bytes + 1 bytes
 * After each batch the socket's counters in "show counters" must have moved by exactly what
 * the batch should cause (the expectation of a corpus file is what the same strict decoder,
 * wire_envelope_decode, says of it in this process, then the socket's role and body rule); both
 * daemons must be alive and answer admin requests, and a real transaction must commit. At the
 * end the daemons are stopped with SIGTERM and must exit 0, and the rate-limited reject lines
 * in their logs must stay bounded (one per second per socket).
 *
 * The sockets: router clients (CLIENT), peers (BACKEND), admin (ADMIN); backend servers
 * (SERVER), admin (ADMIN), and the backend's DEALER toward router r2 (ROUTER): a fake router, a
 * ROUTER bound on r2's peers endpoint, receives the backend's connection and sends from there.
 *
 * Ports come from getpid() (each Criterion test runs in its own worker process) and are probed
 * before use; ipc paths live in a fresh directory under /tmp. Nothing sleeps: every wait polls
 * a socket or the admin interface with a deadline. Every batch prints one "FRAMES" line on
 * stderr (socket, kind, frames sent, expected and observed deltas).
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <zmq.h>

#include "cmn.h"
#include "rtr.h"
#include "tst.h"
#include "wire_zmq.h"

#define FR_WAIT_MS      15000  /* any expected event */
#define FR_OVERSIZE_MS  3000   /* a counter that may never move (see the oversize batch) */
#define FR_MAX_FRAME    131072 /* settings.max_frame_bytes of the generated facility */
#define FR_JUNK_INC     0xf1f1ull
#define FR_KEY          42u /* a key of partition P1 (be1) */
#define FR_NPORTS       6
#define FR_MAX_BODIES   6
#define FR_MAX_ACCEPTED 3

/* ---- counters ---------------------------------------------------------------------------- */

typedef enum {
    FR_DECODED,
    FR_OVERSIZE,
    FR_MALFORMED,
    FR_TAG0,
    FR_UNKNOWN,
    FR_MISSING,
    FR_VERSION,
    FR_NOBODY,
    FR_WRONG_ROLE,
    FR_UNEXPECTED,
    FR_NCTR
} fr_ctr_id_t;

/* the names are the same in both daemons' "show counters" (router: "<socket>.<name>" rows,
 * backend: columns of the socket's row) */
static const char *const fr_ctr_names[FR_NCTR] = { "decoded",    "oversize",  "malformed", "tag0",
                                                   "unknown",    "missing",   "version",   "nobody",
                                                   "wrong_role", "unexpected" };

typedef struct {
    long long v[FR_NCTR];
} fr_ctr_t;

/* ---- the sockets under test -------------------------------------------------------------- */

typedef enum { FR_ROUTER, FR_BACKEND } fr_daemon_t;

typedef enum {
    FR_EP_R1_CLIENTS,
    FR_EP_R1_PEERS,
    FR_EP_R1_ADMIN,
    FR_EP_BE1_SERVERS,
    FR_EP_BE1_ADMIN,
    FR_EP_FAKE_ROUTER
} fr_ep_t;

typedef struct {
    const char *name;    /* for messages: "router clients" */
    fr_daemon_t daemon;  /* whose "show counters" */
    const char *sock;    /* router: row prefix; backend: the row's socket name */
    const char *logsock; /* "socket=<this> " in the daemon's reject lines */
    fr_ep_t ep;
    Rtr__Role role;       /* the role the socket serves */
    const char *id;       /* our routing id toward it */
    const char *stranger; /* a routing id the socket must refuse (NULL = no such batch) */
    Rtr__Envelope__BodyCase accepted[FR_MAX_ACCEPTED]; /* bodies it takes, 0-terminated */
    Rtr__Envelope__BodyCase unexpected[FR_MAX_BODIES]; /* bodies it must refuse, 0-terminated */
} fr_target_t;

static const fr_target_t fr_router_clients = {
    .name = "router clients",
    .daemon = FR_ROUTER,
    .sock = "clients",
    .logsock = "clients",
    .ep = FR_EP_R1_CLIENTS,
    .role = RTR__ROLE__ROLE_CLIENT,
    .id = "c-000000000000f1f1",
    .stranger = NULL,
    .accepted = { RTR__ENVELOPE__BODY_HEARTBEAT },
    .unexpected = { RTR__ENVELOPE__BODY_SERVER_VOTE, RTR__ENVELOPE__BODY_DELIVER,
                    RTR__ENVELOPE__BODY_ADMIN_REQUEST, RTR__ENVELOPE__BODY_BACKEND_HELLO,
                    RTR__ENVELOPE__BODY_TX_OUTCOME },
};

/* be2 is declared in the facility but never started: its identity is free on the peers
 * socket (a second connection under be1's would be refused by ZeroMQ itself) */
static const fr_target_t fr_router_peers = {
    .name = "router peers",
    .daemon = FR_ROUTER,
    .sock = "peers",
    .logsock = "peers",
    .ep = FR_EP_R1_PEERS,
    .role = RTR__ROLE__ROLE_BACKEND,
    .id = "be2",
    .stranger = "stranger",
    .accepted = { RTR__ENVELOPE__BODY_HEARTBEAT, RTR__ENVELOPE__BODY_BACKEND_HELLO },
    .unexpected = { RTR__ENVELOPE__BODY_TX_MSG, RTR__ENVELOPE__BODY_TX_VOTE,
                    RTR__ENVELOPE__BODY_SERVER_VOTE, RTR__ENVELOPE__BODY_ADMIN_REQUEST,
                    RTR__ENVELOPE__BODY_CHANNEL_OPEN },
};

static const fr_target_t fr_router_admin = {
    .name = "router admin",
    .daemon = FR_ROUTER,
    .sock = "admin",
    .logsock = "admin",
    .ep = FR_EP_R1_ADMIN,
    .role = RTR__ROLE__ROLE_ADMIN,
    .id = "a-f1f1",
    .stranger = NULL,
    .accepted = { RTR__ENVELOPE__BODY_ADMIN_REQUEST },
    .unexpected = { RTR__ENVELOPE__BODY_HEARTBEAT, RTR__ENVELOPE__BODY_TX_MSG,
                    RTR__ENVELOPE__BODY_ADMIN_REPLY },
};

static const fr_target_t fr_backend_servers = {
    .name = "backend servers",
    .daemon = FR_BACKEND,
    .sock = "servers",
    .logsock = "servers",
    .ep = FR_EP_BE1_SERVERS,
    .role = RTR__ROLE__ROLE_SERVER,
    .id = "s-000000000000f1f1",
    .stranger = NULL,
    .accepted = { RTR__ENVELOPE__BODY_HEARTBEAT },
    .unexpected = { RTR__ENVELOPE__BODY_TX_MSG, RTR__ENVELOPE__BODY_TX_VOTE,
                    RTR__ENVELOPE__BODY_VOTE_REQUEST, RTR__ENVELOPE__BODY_ADMIN_REQUEST,
                    RTR__ENVELOPE__BODY_BACKEND_HELLO },
};

static const fr_target_t fr_backend_admin = {
    .name = "backend admin",
    .daemon = FR_BACKEND,
    .sock = "admin",
    .logsock = "admin",
    .ep = FR_EP_BE1_ADMIN,
    .role = RTR__ROLE__ROLE_ADMIN,
    .id = "a-f1f1",
    .stranger = NULL,
    .accepted = { RTR__ENVELOPE__BODY_ADMIN_REQUEST },
    .unexpected = { RTR__ENVELOPE__BODY_HEARTBEAT, RTR__ENVELOPE__BODY_TX_MSG,
                    RTR__ENVELOPE__BODY_ADMIN_REPLY },
};

/* the backend's DEALER toward router r2: we are r2 (a ROUTER on r2's peers endpoint) */
static const fr_target_t fr_backend_router = {
    .name = "backend router link",
    .daemon = FR_BACKEND,
    .sock = "router:r2",
    .logsock = "r2",
    .ep = FR_EP_FAKE_ROUTER,
    .role = RTR__ROLE__ROLE_ROUTER,
    .id = "r2",
    .stranger = NULL,
    .accepted = { RTR__ENVELOPE__BODY_HEARTBEAT },
    .unexpected = { RTR__ENVELOPE__BODY_SERVER_VOTE, RTR__ENVELOPE__BODY_DELIVER,
                    RTR__ENVELOPE__BODY_ADMIN_REQUEST, RTR__ENVELOPE__BODY_BACKEND_HELLO,
                    RTR__ENVELOPE__BODY_CHANNEL_OPEN },
};

/* ---- the facility -------------------------------------------------------------------------- */

typedef struct {
    char *dir;
    char conf[512];
    int ports[FR_NPORTS]; /* r1 clients, r1 peers, r2 clients, r2 peers, be1 shadow, be2 shadow */
    char ep[FR_EP_FAKE_ROUTER + 1][300];
    char r2_admin[300];
    char rlog[512], blog[512], rerr[512], berr[512];
    pid_t rpid, bpid;
    void *zctx;
    void *radm, *badm; /* our admin DEALERs (queries) */
    void *junk;        /* the DEALER (or fake ROUTER) bad frames are sent from */
    uint64_t req;
    rtr_channel_t cch, sch;
    bool copen, sopen, rtr_used;
    long long ntx; /* transactions committed by this test */
    uint64_t first_junk_ms, stopped_ms;
} fr_fac_t;

static fr_fac_t F;

static uint64_t
fr_now_ms(void)
{
    return cmn_now_mono_ns() / 1000000u;
}

/* fr_pause - the interval of a polling loop that has its own deadline (the admin interface
 * has nothing to block on); not a stand-in for synchronization. */
static void
fr_pause(void)
{
    poll(NULL, 0, 20);
}

/* fr_port_free - nothing listens on 127.0.0.1:port (a probe; the daemon binds right after). */
static bool
fr_port_free(int port)
{
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    cr_assert_geq(s, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

/* fr_pick_ports - FR_NPORTS free consecutive ports from a base derived from getpid(). */
static void
fr_pick_ports(void)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int base = 27000 + (int)(((unsigned)getpid() * 7u + (unsigned)attempt * 131u) % 600u) * 8;
        bool ok = true;
        for (int i = 0; i < FR_NPORTS && ok; i++)
            ok = fr_port_free(base + i);
        if (ok) {
            for (int i = 0; i < FR_NPORTS; i++)
                F.ports[i] = base + i;
            return;
        }
    }
    cr_assert_fail("no free port range found");
}

static void
fr_write_config(void)
{
    char text[4096];
    int n;

    fr_pick_ports();
    snprintf(F.ep[FR_EP_R1_CLIENTS], sizeof F.ep[0], "tcp://127.0.0.1:%d", F.ports[0]);
    snprintf(F.ep[FR_EP_R1_PEERS], sizeof F.ep[0], "tcp://127.0.0.1:%d", F.ports[1]);
    snprintf(F.ep[FR_EP_FAKE_ROUTER], sizeof F.ep[0], "tcp://127.0.0.1:%d", F.ports[3]);
    snprintf(F.ep[FR_EP_R1_ADMIN], sizeof F.ep[0], "ipc://%s/r1.adm", F.dir);
    snprintf(F.r2_admin, sizeof F.r2_admin, "ipc://%s/r2.adm", F.dir);
    snprintf(F.ep[FR_EP_BE1_SERVERS], sizeof F.ep[0], "ipc://%s/be1.srv", F.dir);
    snprintf(F.ep[FR_EP_BE1_ADMIN], sizeof F.ep[0], "ipc://%s/be1.adm", F.dir);
    n = snprintf(
        text, sizeof text,
        "facility = \"FRAMES\";\n"
        "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
        "routers = (\n"
        "  { name = \"r1\"; clients = \"%s\"; peers = \"%s\"; admin = \"%s\"; },\n"
        "  { name = \"r2\"; clients = \"tcp://127.0.0.1:%d\"; peers = \"%s\"; admin = \"%s\"; } "
        ");\n"
        "backends = (\n"
        "  { name = \"be1\"; shadow = \"tcp://127.0.0.1:%d\"; servers = \"%s\"; admin = \"%s\";\n"
        "    journal = \"%s/be1\"; },\n"
        "  { name = \"be2\"; shadow = \"tcp://127.0.0.1:%d\"; servers = \"ipc://%s/be2.srv\";\n"
        "    admin = \"ipc://%s/be2.adm\"; journal = \"%s/be2\"; } );\n"
        "partitions = (\n"
        "  { name = \"P1\"; low = [ 0 ]; high = [ 999 ]; primary = \"be1\"; },\n"
        "  { name = \"P2\"; low = [ 1000 ]; high = [ 1999 ]; primary = \"be2\"; } );\n"
        "settings = { heartbeat_ms = 100; failure_timeout_ms = 3000; max_frame_bytes = %d; };\n",
        F.ep[FR_EP_R1_CLIENTS], F.ep[FR_EP_R1_PEERS], F.ep[FR_EP_R1_ADMIN], F.ports[2],
        F.ep[FR_EP_FAKE_ROUTER], F.r2_admin, F.ports[4], F.ep[FR_EP_BE1_SERVERS],
        F.ep[FR_EP_BE1_ADMIN], F.dir, F.ports[5], F.dir, F.dir, F.dir, FR_MAX_FRAME);
    cr_assert(n > 0 && (size_t)n < sizeof text);
    snprintf(F.conf, sizeof F.conf, "%s/facility.conf", F.dir);
    cr_assert_eq(tst_write_file(F.conf, text, (size_t)n), 0);
}

/* fr_spawn - start a daemon; its log goes to `log`, its stderr (sanitizer reports) to `err`. */
static pid_t
fr_spawn(const char *bin, const char *node, const char *log, const char *err)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (freopen(err, "w", stderr) == NULL)
            _exit(126);
        execl(bin, bin, "--config", F.conf, "--node", node, "--log", log, "--log-level", "info",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* fr_alive - the daemon has not exited (a crash is reported with its wait status). */
static bool
fr_alive(pid_t pid, const char *what)
{
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);

    if (r == 0)
        return true;
    cr_log_error("%s (pid %d) is gone: %s %d", what, (int)pid,
                 WIFSIGNALED(st) ? "signal" : "exit status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    if (r == pid) {
        if (pid == F.rpid)
            F.rpid = -1;
        if (pid == F.bpid)
            F.bpid = -1;
    }
    return false;
}

/* fr_stop - SIGTERM and wait up to FR_WAIT_MS (then SIGKILL). The wait status, -1 if killed. */
static int
fr_stop(pid_t *pid)
{
    int st = 0;
    uint64_t end = fr_now_ms() + FR_WAIT_MS;
    struct pollfd pfd;

    if (*pid <= 0)
        return 0;
    kill(*pid, SIGTERM);
    pfd.fd = (int)syscall(SYS_pidfd_open, *pid, 0);
    pfd.events = POLLIN;
    while (pfd.fd >= 0 && fr_now_ms() < end && poll(&pfd, 1, (int)(end - fr_now_ms())) == 0)
        ;
    if (pfd.fd >= 0)
        close(pfd.fd);
    if (waitpid(*pid, &st, WNOHANG) != *pid) {
        kill(*pid, SIGKILL);
        waitpid(*pid, &st, 0);
        st = -1;
    }
    *pid = -1;
    return st;
}

static void *
fr_dealer(const char *id, const char *endpoint)
{
    void *s = zmq_socket(F.zctx, ZMQ_DEALER);
    int zero = 0;

    cr_assert_not_null(s);
    cr_assert_eq(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)), 0);
    cr_assert_eq(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    return s;
}

/* fr_dump - a file on stderr (the daemons' stderr carries any sanitizer report to ctest). */
static void
fr_dump(const char *what, const char *path)
{
    size_t len = 0;
    char *text = tst_read_file(path, &len);

    if (text != NULL && len > 0)
        fprintf(stderr, "---- %s (%s) ----\n%s---- end of %s ----\n", what, path, text, what);
    free(text);
}

/* ---- admin --------------------------------------------------------------------------------- */

/* fr_admin - one admin command on our admin DEALER `s`; the parsed JSON of the reply (caller
 * json_decref). Resent every 250 ms until FR_WAIT_MS (the daemon may still be starting). */
static json_t *
fr_admin(void *s, const char *command)
{
    uint64_t end = fr_now_ms() + FR_WAIT_MS;

    for (;;) {
        Rtr__Envelope env, *in = NULL;
        Rtr__AdminRequest req = RTR__ADMIN_REQUEST__INIT;
        uint64_t rid = ++F.req;
        uint64_t turn = fr_now_ms() + 250;

        cr_assert_lt(fr_now_ms(), end, "no admin reply to \"%s\" within %d ms", command,
                     FR_WAIT_MS);
        wire_envelope_init(&env, "a-frames", 0, 1, RTR__ROLE__ROLE_ADMIN);
        req.request_id = rid;
        req.command = (char *)(uintptr_t)command;
        env.body_case = RTR__ENVELOPE__BODY_ADMIN_REQUEST;
        env.admin_request = &req;
        cr_assert_eq(wire_zmq_send(s, NULL, &env, 0), RTR_STS_OK);
        while (fr_now_ms() < turn) {
            zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll(&it, 1, (long)(turn - fr_now_ms())) <= 0)
                continue;
            if (wire_zmq_recv(s, NULL, NULL, &in) != RTR_STS_OK)
                continue;
            if (in->body_case == RTR__ENVELOPE__BODY_ADMIN_REPLY &&
                in->admin_reply->request_id == rid) {
                json_t *j = NULL;
                cr_assert_eq(in->admin_reply->status, RTR_STS_OK, "\"%s\": %s", command,
                             in->admin_reply->error ? in->admin_reply->error : "?");
                if (in->admin_reply->json != NULL)
                    j = json_loads(in->admin_reply->json, 0, NULL);
                wire_free((ProtobufCMessage **)&in);
                cr_assert_not_null(j, "\"%s\": no JSON object in the reply", command);
                return j;
            }
            wire_free((ProtobufCMessage **)&in);
        }
    }
}

/* fr_router_row - the value of router counter row `name`, -1 if absent. */
static long long
fr_router_row(json_t *j, const char *name)
{
    json_t *row;
    size_t i;

    json_array_foreach(json_object_get(j, "rows"), i, row)
    {
        const char *n = json_string_value(json_array_get(row, 0));
        if (n != NULL && strcmp(n, name) == 0)
            return json_integer_value(json_array_get(row, 1));
    }
    return -1;
}

/* fr_counters - the socket's counters of target t (and the daemon's tx_started). */
static void
fr_counters(const fr_target_t *t, fr_ctr_t *c, long long *tx_started)
{
    json_t *j = fr_admin(t->daemon == FR_ROUTER ? F.radm : F.badm, "show counters");
    char name[96];

    if (t->daemon == FR_ROUTER) {
        for (int k = 0; k < FR_NCTR; k++) {
            snprintf(name, sizeof name, "%s.%s", t->sock, fr_ctr_names[k]);
            c->v[k] = fr_router_row(j, name);
            cr_assert_geq(c->v[k], 0, "router show counters has no row %s", name);
        }
        if (tx_started != NULL)
            *tx_started = fr_router_row(j, "tx_started");
    } else {
        json_t *cols = json_object_get(j, "columns"), *row, *mine = NULL;
        size_t i;
        json_array_foreach(json_object_get(j, "rows"), i, row)
        {
            const char *n = json_string_value(json_array_get(row, 0));
            if (n != NULL && strcmp(n, t->sock) == 0)
                mine = row;
        }
        cr_assert_not_null(mine, "backend show counters has no row \"%s\"", t->sock);
        for (int k = 0; k < FR_NCTR; k++) {
            json_t *col;
            c->v[k] = -1;
            json_array_foreach(cols, i, col)
            {
                if (strcmp(json_string_value(col), fr_ctr_names[k]) == 0)
                    c->v[k] = json_integer_value(json_array_get(mine, i));
            }
            cr_assert_geq(c->v[k], 0, "backend show counters has no column %s", fr_ctr_names[k]);
        }
        if (tx_started != NULL)
            *tx_started = json_integer_value(json_object_get(j, "tx_started"));
    }
    json_decref(j);
}

/* fr_tx_started - the daemon's tx_started counter. */
static long long
fr_tx_started(fr_daemon_t d)
{
    fr_target_t t = fr_router_clients;
    fr_ctr_t c;
    long long v = -1;

    if (d == FR_BACKEND)
        t = fr_backend_admin;
    fr_counters(&t, &c, &v);
    return v;
}

/* ---- librtr: a real transaction ------------------------------------------------------------ */

typedef union {
    rtr_status_data_t sd;
    char raw[RTR_MAX_MSGLEN];
} fr_buf_t;

/* fr_opened - wait for rtr_mt_opened on channel ch. */
static void
fr_opened(rtr_channel_t ch, const char *what)
{
    static fr_buf_t buf;
    uint64_t end = fr_now_ms() + FR_WAIT_MS;

    for (;;) {
        rtr_channel_t got = 0;
        rtr_msgsb_t sb;
        rtr_status_t sts;

        cr_assert_lt(fr_now_ms(), end, "%s channel not opened within %d ms", what, FR_WAIT_MS);
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf, 200, &sb);
        if (sts == RTR_STS_TIMOUT)
            continue;
        cr_assert_eq(sts, RTR_STS_OK, "%s: rtr_receive_message: %s", what, rtr_error_text(sts));
        if (got == ch && sb.msgtype == rtr_mt_opened) {
            cr_assert_eq(buf.sd.status, RTR_STS_OK, "%s channel: %s", what,
                         rtr_error_text(buf.sd.status));
            return;
        }
    }
}

static void
fr_open_channels(void)
{
    static rtr_uns_32_t low = 0, high = 999;
    rtr_keyseg_t seg = { rtr_keyseg_unsigned, 4, 0, &low, &high };
    rtr_status_t sts;

    cr_assert_eq(setenv("RTR_CONFIG", F.conf, 1), 0);
    cr_assert_eq(setenv("RTR_NODE", "be1", 1), 0);
    F.rtr_used = true;
    sts = rtr_open_channel(&F.sch, RTR_F_OPE_SERVER, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                           RTR_NO_PEVTNUM, RTR_NO_ACCESS, 1, &seg);
    cr_assert_eq(sts, RTR_STS_OK, "server channel: %s", rtr_error_text(sts));
    F.sopen = true;
    fr_opened(F.sch, "server");
    sts = rtr_open_channel(&F.cch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                           RTR_NO_PEVTNUM, RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG);
    cr_assert_eq(sts, RTR_STS_OK, "client channel: %s", rtr_error_text(sts));
    F.copen = true;
    fr_opened(F.cch, "client");
}

/* fr_transaction - one transaction from our client channel to our server channel: the server
 * accepts msg1, the client must see rtr_mt_accepted (and the server its outcome). */
static void
fr_transaction(const char *after)
{
    static fr_buf_t buf;
    struct {
        rtr_uns_32_t key;
        rtr_uns_32_t n;
    } msg = { FR_KEY, (rtr_uns_32_t)F.ntx };
    uint64_t end = fr_now_ms() + FR_WAIT_MS;
    bool cli = false, srv = false;
    rtr_status_t sts = rtr_start_tx(F.cch, RTR_NO_FLAGS, 10000, RTR_NO_JOINCHAN);

    cr_assert_eq(sts, RTR_STS_OK, "after %s: rtr_start_tx: %s", after, rtr_error_text(sts));
    sts = rtr_send_to_server(F.cch, RTR_F_SEN_ACCEPT, &msg, sizeof msg, RTR_NO_MSGFMT);
    cr_assert_eq(sts, RTR_STS_OK, "after %s: rtr_send_to_server: %s", after, rtr_error_text(sts));
    while (!cli || !srv) {
        rtr_channel_t got = 0;
        rtr_msgsb_t sb;

        cr_assert_lt(fr_now_ms(), end, "after %s: no outcome within %d ms (client %d server %d)",
                     after, FR_WAIT_MS, cli, srv);
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf, 200, &sb);
        if (sts == RTR_STS_TIMOUT)
            continue;
        cr_assert_eq(sts, RTR_STS_OK, "after %s: rtr_receive_message: %s", after,
                     rtr_error_text(sts));
        if (got == F.sch && (sb.msgtype == rtr_mt_msg1 || sb.msgtype == rtr_mt_msg1_uncertain)) {
            sts = rtr_accept_tx(F.sch, RTR_NO_FLAGS, RTR_NO_REASON);
            cr_assert_eq(sts, RTR_STS_OK, "after %s: rtr_accept_tx: %s", after,
                         rtr_error_text(sts));
        } else if (sb.msgtype == rtr_mt_accepted) {
            if (got == F.cch)
                cli = true;
            else
                srv = true;
        } else if (sb.msgtype == rtr_mt_rejected) {
            cr_assert_fail("after %s: transaction rejected on the %s channel: %s (reason %u)",
                           after, got == F.cch ? "client" : "server", rtr_error_text(buf.sd.status),
                           buf.sd.reason);
        }
    }
    F.ntx++;
}

/* ---- set-up and tear-down ------------------------------------------------------------------ */

static void
fr_setup(void)
{
    memset(&F, 0, sizeof F);
    F.rpid = F.bpid = -1;
    F.dir = tst_tmpdir("frames");
    fr_write_config();
    snprintf(F.rlog, sizeof F.rlog, "%s/r1.log", F.dir);
    snprintf(F.blog, sizeof F.blog, "%s/be1.log", F.dir);
    snprintf(F.rerr, sizeof F.rerr, "%s/r1.err", F.dir);
    snprintf(F.berr, sizeof F.berr, "%s/be1.err", F.dir);
    F.bpid = fr_spawn(FR_BACKEND_BIN, "be1", F.blog, F.berr);
    F.rpid = fr_spawn(FR_ROUTER_BIN, "r1", F.rlog, F.rerr);
    F.zctx = zmq_ctx_new();
    cr_assert_not_null(F.zctx);
    F.radm = fr_dealer("a-frames-r", F.ep[FR_EP_R1_ADMIN]);
    F.badm = fr_dealer("a-frames-b", F.ep[FR_EP_BE1_ADMIN]);
}

static void
fr_teardown(void)
{
    if (F.copen)
        rtr_close_channel(F.cch, RTR_NO_FLAGS);
    if (F.sopen)
        rtr_close_channel(F.sch, RTR_NO_FLAGS);
    if (F.rtr_used)
        rtrx_shutdown();
    if (F.junk != NULL)
        zmq_close(F.junk);
    if (F.radm != NULL)
        zmq_close(F.radm);
    if (F.badm != NULL)
        zmq_close(F.badm);
    if (F.zctx != NULL)
        zmq_ctx_term(F.zctx);
    fr_stop(&F.rpid);
    fr_stop(&F.bpid);
    if (getenv("FRAMES_TEST_VERBOSE") != NULL) {
        fr_dump("router log", F.rlog);
        fr_dump("backend log", F.blog);
    }
    if (getenv("RTR_KEEP_TEST_DIR") == NULL)
        tst_rmtree(F.dir);
    free(F.dir);
}

/* fr_wait_ready - both daemons answer, the router routes P1 to be1, librtr channels open and
 * a first transaction commits (the facility works before any bad frame). */
static void
fr_wait_ready(void)
{
    uint64_t end = fr_now_ms() + FR_WAIT_MS;

    json_decref(fr_admin(F.badm, "show backend"));
    for (;;) {
        json_t *j = fr_admin(F.radm, "show partition");
        json_t *row = json_array_get(json_object_get(j, "rows"), 0);
        const char *b = json_string_value(json_array_get(row, 3));
        bool up = b != NULL && strcmp(b, "be1") == 0;
        json_decref(j);
        if (up)
            break;
        cr_assert(fr_alive(F.rpid, "rtr-router") && fr_alive(F.bpid, "rtr-backend"));
        cr_assert_lt(fr_now_ms(), end, "the router never routed P1 to be1");
        fr_pause();
    }
    fr_open_channels();
    fr_transaction("start-up");
}

/* ---- frames -------------------------------------------------------------------------------- */

/* Bodies with every required field set (valid for the decoder, wrong for the socket). */
typedef struct {
    uint8_t tid[16];
    char *parts[1];
    Rtr__Heartbeat hb;
    Rtr__TxMsg txmsg;
    Rtr__TxVote txvote;
    Rtr__VoteRequest vreq;
    Rtr__TxOutcome txout;
    Rtr__ChannelOpen copen;
    Rtr__Deliver deliver;
    Rtr__ServerVote svote;
    Rtr__BackendHello hello;
    Rtr__AdminRequest areq;
    Rtr__AdminReply arep;
} fr_bodies_t;

static void
fr_bodies_init(fr_bodies_t *b)
{
    static uint8_t payload[8] = { FR_KEY, 0, 0, 0, 'j', 'u', 'n', 'k' };
    cmn_tid_t t = { FR_JUNK_INC, 7 };

    memset(b, 0, sizeof *b);
    cmn_tid_pack(&t, b->tid);
    b->parts[0] = "P1";
    rtr__heartbeat__init(&b->hb);
    b->hb.seq = 1;
    rtr__tx_msg__init(&b->txmsg);
    b->txmsg.tid = (ProtobufCBinaryData){ 16, b->tid };
    b->txmsg.body = (ProtobufCBinaryData){ sizeof payload, payload };
    b->txmsg.channel = 1;
    rtr__tx_vote__init(&b->txvote);
    b->txvote.tid = b->txmsg.tid;
    b->txvote.channel = 1;
    b->txvote.accept = 1;
    rtr__vote_request__init(&b->vreq);
    b->vreq.tid = b->txmsg.tid;
    b->vreq.nmsgs = 1;
    rtr__tx_outcome__init(&b->txout);
    b->txout.tid = b->txmsg.tid;
    b->txout.channel = 1;
    b->txout.accepted = 1;
    rtr__channel_open__init(&b->copen);
    b->copen.channel = 9;
    b->copen.flags = RTR_F_OPE_CLIENT;
    rtr__deliver__init(&b->deliver);
    b->deliver.tid = b->txmsg.tid;
    b->deliver.channel = 1;
    b->deliver.kind = RTR__DELIVER_KIND__DELIVER_MSG1;
    b->deliver.body = b->txmsg.body;
    rtr__server_vote__init(&b->svote);
    b->svote.tid = b->txmsg.tid;
    b->svote.channel = 1;
    b->svote.accept = 1;
    rtr__backend_hello__init(&b->hello);
    b->hello.n_partitions = 1;
    b->hello.partitions = b->parts;
    rtr__admin_request__init(&b->areq);
    b->areq.request_id = 0xf1;
    b->areq.command = "show counters";
    rtr__admin_reply__init(&b->arep);
    b->arep.request_id = 0xf1;
}

/* fr_set_body - point env's oneof at body bc from the store. */
static void
fr_set_body(Rtr__Envelope *env, fr_bodies_t *b, Rtr__Envelope__BodyCase bc)
{
    env->body_case = bc;
    switch (bc) {
    case RTR__ENVELOPE__BODY_HEARTBEAT:
        env->heartbeat = &b->hb;
        break;
    case RTR__ENVELOPE__BODY_TX_MSG:
        env->tx_msg = &b->txmsg;
        break;
    case RTR__ENVELOPE__BODY_TX_VOTE:
        env->tx_vote = &b->txvote;
        break;
    case RTR__ENVELOPE__BODY_VOTE_REQUEST:
        env->vote_request = &b->vreq;
        break;
    case RTR__ENVELOPE__BODY_TX_OUTCOME:
        env->tx_outcome = &b->txout;
        break;
    case RTR__ENVELOPE__BODY_CHANNEL_OPEN:
        env->channel_open = &b->copen;
        break;
    case RTR__ENVELOPE__BODY_DELIVER:
        env->deliver = &b->deliver;
        break;
    case RTR__ENVELOPE__BODY_SERVER_VOTE:
        env->server_vote = &b->svote;
        break;
    case RTR__ENVELOPE__BODY_BACKEND_HELLO:
        env->backend_hello = &b->hello;
        break;
    case RTR__ENVELOPE__BODY_ADMIN_REQUEST:
        env->admin_request = &b->areq;
        break;
    case RTR__ENVELOPE__BODY_ADMIN_REPLY:
        env->admin_reply = &b->arep;
        break;
    default:
        cr_assert_fail("no test body for body case %d", (int)bc);
    }
}

static const char *
fr_body_name(Rtr__Envelope__BodyCase bc)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&rtr__envelope__descriptor, (unsigned)bc);
    return f != NULL ? f->name : "?";
}

/* fr_encode - a frame: env with sender t->id, the given role (has_role 0 = none), version and
 * body. *len bytes, caller frees. */
static uint8_t *
fr_encode(const fr_target_t *t, bool has_role, Rtr__Role role, uint32_t version,
          Rtr__Envelope__BodyCase bc, size_t *len)
{
    Rtr__Envelope env;
    fr_bodies_t b;
    uint8_t *buf = NULL;

    fr_bodies_init(&b);
    wire_envelope_init(&env, t->id, 0, FR_JUNK_INC, role);
    env.has_role = has_role;
    env.version = version;
    fr_set_body(&env, &b, bc);
    cr_assert_eq(wire_encode(&env.base, 0, &buf, len), RTR_STS_OK);
    return buf;
}

static uint8_t *
fr_valid(const fr_target_t *t, size_t *len)
{
    return fr_encode(t, true, t->role, WIRE_VERSION, t->accepted[0], len);
}

/* fr_send - one message of n frames to the socket under test (the fake router addresses the
 * backend's connection by its routing id first). */
static void
fr_send(const fr_target_t *t, void *s, const void *const *parts, const size_t *lens, int n)
{
    if (F.first_junk_ms == 0)
        F.first_junk_ms = fr_now_ms();
    if (t->ep == FR_EP_FAKE_ROUTER)
        cr_assert_eq(zmq_send(s, "be1", 3, ZMQ_SNDMORE), 3, "send to be1: %s",
                     zmq_strerror(zmq_errno()));
    for (int i = 0; i < n; i++)
        cr_assert_eq(zmq_send(s, lens[i] ? parts[i] : "", lens[i], i + 1 < n ? ZMQ_SNDMORE : 0),
                     (int)lens[i], "send: %s", zmq_strerror(zmq_errno()));
}

static void
fr_send1(const fr_target_t *t, void *s, const void *buf, size_t len)
{
    fr_send(t, s, &buf, &len, 1);
}

/* fr_accepts - does socket t take body bc (with its role)? */
static bool
fr_accepts(const fr_target_t *t, Rtr__Envelope__BodyCase bc)
{
    for (int i = 0; i < FR_MAX_ACCEPTED && t->accepted[i] != 0; i++)
        if (t->accepted[i] == bc)
            return true;
    return false;
}

/* fr_expect - add to *want what socket t must count for frame buf: the strict decoder's own
 * verdict (run here), then the socket's role rule, then its body rule. Returns false if the
 * frame is one the socket takes (nothing but `decoded` moves). */
static bool
fr_expect(const fr_target_t *t, const uint8_t *buf, size_t len, fr_ctr_t *want)
{
    wire_counters_t w;
    Rtr__Envelope *env = NULL;
    rtr_status_t sts;
    bool rejected = true;

    memset(&w, 0, sizeof w);
    sts = wire_envelope_decode(buf, len, 0, &w, &env);
    want->v[FR_DECODED] += (long long)w.decoded;
    want->v[FR_OVERSIZE] += (long long)w.oversize;
    want->v[FR_MALFORMED] += (long long)w.malformed;
    want->v[FR_TAG0] += (long long)w.tag0;
    want->v[FR_UNKNOWN] += (long long)w.unknown;
    want->v[FR_MISSING] += (long long)w.missing;
    want->v[FR_VERSION] += (long long)w.version;
    want->v[FR_NOBODY] += (long long)w.nobody;
    if (sts == RTR_STS_OK) {
        if (!env->has_role || env->role != t->role)
            want->v[FR_WRONG_ROLE]++;
        else if (!fr_accepts(t, env->body_case))
            want->v[FR_UNEXPECTED]++;
        else
            rejected = false;
        wire_free((ProtobufCMessage **)&env);
    }
    return rejected;
}

static void
fr_ctr_text(const fr_ctr_t *c, char *out, size_t len)
{
    size_t n = 0;

    out[0] = '\0';
    for (int k = 0; k < FR_NCTR && n < len; k++)
        if (c->v[k] != 0)
            n += (size_t)snprintf(out + n, len - n, "%s%s+%lld", n ? "," : "", fr_ctr_names[k],
                                  c->v[k]);
    if (n == 0)
        snprintf(out, len, "none");
}

/* fr_check - wait until the socket's counters moved by `want` from `before` (deadline
 * wait_ms), then expect exactly that: every rejection counter by exactly its amount (those
 * not in want by 0), `decoded` by at least its amount (real peers also talk on some sockets).
 * Updates *before to the counters seen. */
static void
fr_check(const fr_target_t *t, const char *kind, int nsent, fr_ctr_t *before, const fr_ctr_t *want,
         int wait_ms)
{
    uint64_t end = fr_now_ms() + (uint64_t)wait_ms;
    fr_ctr_t now, delta;
    char wtext[256], gtext[256];
    bool reached;

    for (;;) {
        fr_counters(t, &now, NULL);
        reached = true;
        for (int k = 0; k < FR_NCTR; k++) {
            delta.v[k] = now.v[k] - before->v[k];
            if (delta.v[k] < want->v[k])
                reached = false;
        }
        if (reached || fr_now_ms() >= end)
            break;
        if (!fr_alive(t->daemon == FR_ROUTER ? F.rpid : F.bpid, t->name))
            break;
        fr_pause();
    }
    fr_ctr_text(want, wtext, sizeof wtext);
    fr_ctr_text(&delta, gtext, sizeof gtext);
    fprintf(stderr, "FRAMES socket=\"%s\" kind=%s sent=%d want=%s got=%s %s\n", t->name, kind,
            nsent, wtext, gtext, reached ? "ok" : "MISSING");
    for (int k = 0; k < FR_NCTR; k++) {
        if (k == FR_DECODED)
            cr_expect_geq(delta.v[k], want->v[k], "%s, %s: %s moved by %lld, expected >= %lld",
                          t->name, kind, fr_ctr_names[k], delta.v[k], want->v[k]);
        else
            cr_expect_eq(delta.v[k], want->v[k], "%s, %s: %s moved by %lld, expected %lld", t->name,
                         kind, fr_ctr_names[k], delta.v[k], want->v[k]);
    }
    *before = now;
}

/* fr_no_admin_reply - on an admin socket, nothing we sent as junk may have been answered. */
static void
fr_no_admin_reply(const fr_target_t *t, const char *kind)
{
    zmq_pollitem_t it = { F.junk, 0, ZMQ_POLLIN, 0 };

    if (t->role != RTR__ROLE__ROLE_ADMIN)
        return;
    cr_expect_eq(zmq_poll(&it, 1, 0), 0, "%s, %s: a refused frame was answered", t->name, kind);
}

/* fr_serving - after a batch: both daemons alive, both answer admin requests, and a real
 * transaction commits end to end. */
static void
fr_serving(const char *kind)
{
    cr_assert(fr_alive(F.rpid, "rtr-router"), "rtr-router died after the %s batch", kind);
    cr_assert(fr_alive(F.bpid, "rtr-backend"), "rtr-backend died after the %s batch", kind);
    json_decref(fr_admin(F.radm, "show router"));
    json_decref(fr_admin(F.badm, "show backend"));
    fr_transaction(kind);
}

/* fr_connect_fake_router - bind r2's peers endpoint and wait for be1's BackendHello there. */
static void
fr_connect_fake_router(void)
{
    int one = 1, zero = 0;
    uint64_t end = fr_now_ms() + FR_WAIT_MS;

    F.junk = zmq_socket(F.zctx, ZMQ_ROUTER);
    cr_assert_not_null(F.junk);
    cr_assert_eq(zmq_setsockopt(F.junk, ZMQ_ROUTER_MANDATORY, &one, sizeof one), 0);
    cr_assert_eq(zmq_setsockopt(F.junk, ZMQ_LINGER, &zero, sizeof zero), 0);
    cr_assert_eq(zmq_bind(F.junk, F.ep[FR_EP_FAKE_ROUTER]), 0, "bind %s: %s",
                 F.ep[FR_EP_FAKE_ROUTER], zmq_strerror(zmq_errno()));
    for (;;) {
        zmq_pollitem_t it = { F.junk, 0, ZMQ_POLLIN, 0 };
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;
        uint64_t now = fr_now_ms();

        cr_assert_lt(now, end, "be1 never connected to the fake router r2");
        if (zmq_poll(&it, 1, (long)(end - now)) <= 0)
            continue;
        if (wire_zmq_recv(F.junk, &from, NULL, &env) != RTR_STS_OK)
            continue;
        bool hello = from.len == 3 && memcmp(from.bytes, "be1", 3) == 0 &&
                     env->body_case == RTR__ENVELOPE__BODY_BACKEND_HELLO &&
                     env->role == RTR__ROLE__ROLE_BACKEND;
        wire_free((ProtobufCMessage **)&env);
        if (hello)
            return;
    }
}

/* fr_drain_fake_router - drop what be1 sent to the fake router (its BackendHellos); the number
 * of messages dropped. */
static int
fr_drain_fake_router(const fr_target_t *t)
{
    zmq_msg_t m;
    int n = 0;

    if (t->ep != FR_EP_FAKE_ROUTER)
        return 0;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, F.junk, ZMQ_DONTWAIT) >= 0)
        n += !zmq_msg_more(&m);
    zmq_msg_close(&m);
    return n;
}

/* fr_count_log - reject lines of socket t in the daemon's log. */
static int
fr_count_log(const fr_target_t *t)
{
    size_t len = 0;
    char *text = tst_read_file(t->daemon == FR_ROUTER ? F.rlog : F.blog, &len);
    const char *id = t->daemon == FR_ROUTER ? "RTD-REJECT" : "BKD-REJECT";
    char key[64];
    int n = 0;

    cr_assert_not_null(text, "no daemon log");
    snprintf(key, sizeof key, "socket=%s ", t->logsock);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strstr(line, id) != NULL && strstr(line, key) != NULL)
            n++;
    free(text);
    return n;
}

/* ---- the batches ---------------------------------------------------------------------------- */

static int
fr_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
fr_batch_corpus(const fr_target_t *t, fr_ctr_t *before)
{
    char dirpath[1024];
    DIR *d;
    struct dirent *e;
    char *names[512];
    size_t n = 0;
    int taken = 0;
    fr_ctr_t want;

    memset(&want, 0, sizeof want);
    snprintf(dirpath, sizeof dirpath, "%s/tests/proto/corpus", tst_source_dir());
    d = opendir(dirpath);
    cr_assert_not_null(d, "%s: %s", dirpath, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".bin") == NULL)
            continue;
        cr_assert_lt(n, sizeof names / sizeof names[0]);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    cr_assert_geq(n, 60, "only %zu corpus files in %s", n, dirpath);
    qsort(names, n, sizeof names[0], fr_cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[1400];
        size_t len = 0;
        char *buf;
        snprintf(path, sizeof path, "%s/%s", dirpath, names[i]);
        buf = tst_read_file(path, &len);
        cr_assert_not_null(buf, "cannot read %s", path);
        if (!fr_expect(t, (uint8_t *)buf, len, &want))
            taken++; /* a good-* file the socket serves (e.g. a BACKEND heartbeat on peers) */
        fr_send1(t, F.junk, buf, len);
        free(buf);
        free(names[i]);
    }
    fprintf(stderr, "FRAMES socket=\"%s\" corpus: %zu files, %d of them valid for it\n", t->name, n,
            taken);
    fr_check(t, "corpus", (int)n, before, &want, FR_WAIT_MS);
    fr_no_admin_reply(t, "corpus");
}

static void
fr_batch_wrong_role(const fr_target_t *t, fr_ctr_t *before)
{
    static const Rtr__Role roles[] = { RTR__ROLE__ROLE_UNKNOWN, RTR__ROLE__ROLE_ROUTER,
                                       RTR__ROLE__ROLE_BACKEND, RTR__ROLE__ROLE_CLIENT,
                                       RTR__ROLE__ROLE_SERVER,  RTR__ROLE__ROLE_ADMIN };
    fr_ctr_t want;
    int sent = 0;

    memset(&want, 0, sizeof want);
    for (int i = -1; i < (int)(sizeof roles / sizeof roles[0]); i++) {
        size_t len = 0;
        uint8_t *buf;
        if (i >= 0 && roles[i] == t->role)
            continue;
        /* i == -1: no role at all */
        buf = fr_encode(t, i >= 0, i >= 0 ? roles[i] : RTR__ROLE__ROLE_UNKNOWN, WIRE_VERSION,
                        t->accepted[0], &len);
        cr_assert(fr_expect(t, buf, len, &want));
        fr_send1(t, F.junk, buf, len);
        free(buf);
        sent++;
    }
    cr_assert_eq(want.v[FR_WRONG_ROLE], sent);
    fr_check(t, "wrong-role", sent, before, &want, FR_WAIT_MS);
    fr_no_admin_reply(t, "wrong-role");
}

static void
fr_batch_unexpected(const fr_target_t *t, fr_ctr_t *before)
{
    fr_ctr_t want;
    int sent = 0;

    memset(&want, 0, sizeof want);
    for (int i = 0; i < FR_MAX_BODIES && t->unexpected[i] != 0; i++) {
        size_t len = 0;
        uint8_t *buf = fr_encode(t, true, t->role, WIRE_VERSION, t->unexpected[i], &len);
        cr_assert(fr_expect(t, buf, len, &want), "body %s", fr_body_name(t->unexpected[i]));
        fr_send1(t, F.junk, buf, len);
        free(buf);
        sent++;
    }
    cr_assert_eq(want.v[FR_UNEXPECTED], sent);
    fr_check(t, "unexpected-body", sent, before, &want, FR_WAIT_MS);
    fr_no_admin_reply(t, "unexpected-body");
}

static void
fr_batch_empty(const fr_target_t *t, fr_ctr_t *before)
{
    fr_ctr_t want;

    memset(&want, 0, sizeof want);
    want.v[FR_MISSING] = 2; /* the decoder: an empty buffer lacks every required field */
    fr_send1(t, F.junk, "", 0);
    fr_send1(t, F.junk, "", 0);
    fr_check(t, "empty", 2, before, &want, FR_WAIT_MS);
}

static void
fr_batch_multipart(const fr_target_t *t, fr_ctr_t *before)
{
    size_t vlen = 0;
    uint8_t *valid = fr_valid(t, &vlen);
    const void *two[2] = { valid, "extra" };
    size_t twol[2] = { vlen, 5 };
    const void *three[3] = { valid, "", valid };
    size_t threel[3] = { vlen, 0, vlen };
    fr_ctr_t want;

    memset(&want, 0, sizeof want);
    want.v[FR_MALFORMED] = 2; /* wire_zmq_recv: more frames than one envelope */
    fr_send(t, F.junk, two, twol, 2);
    fr_send(t, F.junk, three, threel, 3);
    free(valid);
    fr_check(t, "multipart", 2, before, &want, FR_WAIT_MS);
}

static void
fr_batch_version(const fr_target_t *t, fr_ctr_t *before)
{
    static const uint32_t versions[] = { WIRE_VERSION + 1, 0 };
    fr_ctr_t want;

    memset(&want, 0, sizeof want);
    for (size_t i = 0; i < 2; i++) {
        size_t len = 0;
        uint8_t *buf = fr_encode(t, true, t->role, versions[i], t->accepted[0], &len);
        cr_assert(fr_expect(t, buf, len, &want));
        fr_send1(t, F.junk, buf, len);
        free(buf);
    }
    cr_assert_eq(want.v[FR_VERSION], 2);
    fr_check(t, "version", 2, before, &want, FR_WAIT_MS);
}

/* fr_batch_stranger - a valid envelope of the right role from an identity the socket must not
 * serve (router peers: a name that is no backend of the facility). */
static void
fr_batch_stranger(const fr_target_t *t, fr_ctr_t *before)
{
    void *s;
    size_t len = 0;
    uint8_t *buf;
    fr_ctr_t want;

    if (t->stranger == NULL)
        return;
    s = fr_dealer(t->stranger, F.ep[t->ep]);
    buf = fr_valid(t, &len);
    memset(&want, 0, sizeof want);
    want.v[FR_DECODED] = 1;
    want.v[FR_UNEXPECTED] = 1;
    fr_send1(t, s, buf, len);
    free(buf);
    fr_check(t, "stranger", 1, before, &want, FR_WAIT_MS);
    zmq_close(s);
}

/* fr_link_state - the backend's view of router r2 ("up"/"down"), for the report. */
static void
fr_link_state(char *out, size_t len)
{
    json_t *j = fr_admin(F.badm, "show backend"), *row;
    size_t i;

    snprintf(out, len, "?");
    json_array_foreach(json_object_get(j, "rows"), i, row)
    {
        const char *n = json_string_value(json_array_get(row, 0));
        if (n != NULL && strcmp(n, "r2") == 0)
            snprintf(out, len, "%s", json_string_value(json_array_get(row, 2)));
    }
    json_decref(j);
}

/* fr_batch_oversize - one frame of max_frame_bytes + 1 bytes. docs/config-reference.md:
 * "larger ones are refused and counted" -> oversize +1. Toward a bound socket it goes over a
 * connection of its own (ZeroMQ may cut the connection that carried it); then a valid frame
 * on the main connection must still decode. From the fake router it goes over be1's DEALER
 * connection to r2: a valid Heartbeat is then resent until be1 decodes one again (its DEALER
 * reconnected), or the deadline passes (reported). */
static void
fr_batch_oversize(const fr_target_t *t, fr_ctr_t *before)
{
    size_t len = FR_MAX_FRAME + 1, vlen = 0;
    uint8_t *big = calloc(1, len), *valid = fr_valid(t, &vlen);
    void *s = F.junk;
    char id[64];
    fr_ctr_t want, now;
    uint64_t end;
    bool back = false;
    int heard = 0; /* messages be1 sent to the fake router after the oversize frame */

    cr_assert_not_null(big);
    memcpy(big, valid, vlen); /* a valid envelope, then zero bytes (field 0) to the size */
    memset(&want, 0, sizeof want);
    want.v[FR_OVERSIZE] = 1;
    if (t->ep != FR_EP_FAKE_ROUTER) {
        snprintf(id, sizeof id, "%s-big", t->id);
        s = fr_dealer(id, F.ep[t->ep]);
    } else { /* first prove the link works: be1 decodes a valid Heartbeat from r2 */
        fr_ctr_t link;
        memset(&link, 0, sizeof link);
        link.v[FR_DECODED] = 1;
        fr_send1(t, F.junk, valid, vlen);
        fr_check(t, "valid-before-oversize", 1, before, &link, FR_WAIT_MS);
        fr_drain_fake_router(t);
    }
    fr_send1(t, s, big, len);
    free(big);
    fr_check(t, "oversize", 1, before, &want, FR_OVERSIZE_MS);
    if (s != F.junk)
        zmq_close(s);
    /* the socket still decodes valid frames */
    end = fr_now_ms() + FR_WAIT_MS;
    if (t->ep != FR_EP_FAKE_ROUTER)
        fr_send1(t, F.junk, valid, vlen);
    while (!back && fr_now_ms() < end) {
        if (t->ep == FR_EP_FAKE_ROUTER) {
            heard += fr_drain_fake_router(t);
            /* ZMQ_ROUTER_MANDATORY: refused while be1 has no connection to us */
            if (zmq_send(F.junk, "be1", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 3)
                zmq_send(F.junk, valid, vlen, ZMQ_DONTWAIT);
        }
        fr_counters(t, &now, NULL);
        back = now.v[FR_DECODED] > before->v[FR_DECODED];
        if (!back)
            fr_pause();
    }
    free(valid);
    if (!back) {
        char state[32];
        fr_link_state(state, sizeof state);
        fprintf(stderr,
                "FRAMES socket=\"%s\" kind=valid-after-oversize NOT DECODED within %d ms "
                "(backend show backend: r2 %s; messages from be1 to r2 since: %d)\n",
                t->name, FR_WAIT_MS, state, heard);
        cr_expect_fail("%s: no valid frame decoded within %d ms after the oversize frame "
                       "(backend's link to r2: %s; be1 sent r2 %d messages since, it sends a "
                       "BackendHello every heartbeat_ms while connected)",
                       t->name, FR_WAIT_MS, state, heard);
        return;
    }
    for (int k = FR_OVERSIZE; k < FR_NCTR; k++)
        cr_expect_eq(now.v[k], before->v[k], "%s: a valid frame after the oversize moved %s",
                     t->name, fr_ctr_names[k]);
    fprintf(stderr, "FRAMES socket=\"%s\" kind=valid-after-oversize decoded ok\n", t->name);
    *before = now;
    if (t->role == RTR__ROLE__ROLE_ADMIN) { /* the valid AdminRequest is answered: drop it */
        zmq_pollitem_t it = { F.junk, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, FR_WAIT_MS) > 0) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, F.junk, ZMQ_DONTWAIT);
            zmq_msg_close(&m);
        }
    }
}

/* fr_run - the whole sequence against socket t: every batch but the oversize one, or (suite
 * frames_oversize) the oversize one alone, so that its known failure does not hide the rest. */
static void
fr_run(const fr_target_t *t, bool oversize)
{
    fr_ctr_t before;
    long long rtx0, btx0;
    int lines;
    int rst, bst;
    double secs;

    fr_wait_ready();
    rtx0 = fr_tx_started(FR_ROUTER);
    btx0 = fr_tx_started(FR_BACKEND);
    if (t->ep == FR_EP_FAKE_ROUTER)
        fr_connect_fake_router();
    else
        F.junk = fr_dealer(t->id, F.ep[t->ep]);
    fr_counters(t, &before, NULL);

    if (oversize) {
        fr_batch_oversize(t, &before);
        fr_serving("oversize");
    } else {
        fr_batch_corpus(t, &before);
        fr_serving("corpus");
        fr_batch_wrong_role(t, &before);
        fr_serving("wrong-role");
        fr_batch_unexpected(t, &before);
        fr_serving("unexpected-body");
        fr_batch_empty(t, &before);
        fr_serving("empty");
        fr_batch_multipart(t, &before);
        fr_serving("multipart");
        fr_batch_version(t, &before);
        fr_serving("version");
        if (t->stranger != NULL) {
            fr_batch_stranger(t, &before);
            fr_serving("stranger");
        }
    }

    /* nothing of the junk was applied: every transaction the daemons started is one of ours
     * (the start-up one is counted before rtx0/btx0) */
    cr_expect_eq(fr_tx_started(FR_ROUTER) - rtx0, F.ntx - 1, "router tx_started moved by %lld",
                 fr_tx_started(FR_ROUTER) - rtx0);
    cr_expect_eq(fr_tx_started(FR_BACKEND) - btx0, F.ntx - 1, "backend tx_started moved by %lld",
                 fr_tx_started(FR_BACKEND) - btx0);

    /* a clean stop: exit status 0 (a sanitizer report or a leak would make it non-zero) */
    if (F.copen)
        rtr_close_channel(F.cch, RTR_NO_FLAGS);
    if (F.sopen)
        rtr_close_channel(F.sch, RTR_NO_FLAGS);
    F.copen = F.sopen = false;
    rst = fr_stop(&F.rpid);
    bst = fr_stop(&F.bpid);
    F.stopped_ms = fr_now_ms();
    fr_dump("rtr-router stderr", F.rerr);
    fr_dump("rtr-backend stderr", F.berr);
    cr_expect(WIFEXITED(rst) && WEXITSTATUS(rst) == 0, "rtr-router stop: wait status %d", rst);
    cr_expect(WIFEXITED(bst) && WEXITSTATUS(bst) == 0, "rtr-backend stop: wait status %d", bst);

    /* rate-limited logging: at most one reject line per second for this socket */
    secs = (double)(F.stopped_ms - F.first_junk_ms) / 1000.0;
    lines = fr_count_log(t);
    fprintf(stderr, "FRAMES socket=\"%s\" %s log_lines=%d over %.1f s, transactions=%lld\n",
            t->name, oversize ? "oversize" : "all-but-oversize", lines, secs, F.ntx);
    if (!oversize)
        cr_expect_geq(lines, 1, "%s: no reject line in the log", t->name);
    cr_expect_leq(lines, (int)secs + 2, "%s: %d reject lines in %.1f s: not rate-limited", t->name,
                  lines, secs);
}

TestSuite(frames, .init = fr_setup, .fini = fr_teardown);
TestSuite(frames_oversize, .init = fr_setup, .fini = fr_teardown);

Test(frames, router_clients)
{
    fr_run(&fr_router_clients, false);
}

Test(frames, router_peers)
{
    fr_run(&fr_router_peers, false);
}

Test(frames, router_admin)
{
    fr_run(&fr_router_admin, false);
}

Test(frames, backend_servers)
{
    fr_run(&fr_backend_servers, false);
}

Test(frames, backend_admin)
{
    fr_run(&fr_backend_admin, false);
}

Test(frames, backend_router_link)
{
    fr_run(&fr_backend_router, false);
}

Test(frames_oversize, router_clients)
{
    fr_run(&fr_router_clients, true);
}

Test(frames_oversize, router_peers)
{
    fr_run(&fr_router_peers, true);
}

Test(frames_oversize, router_admin)
{
    fr_run(&fr_router_admin, true);
}

Test(frames_oversize, backend_servers)
{
    fr_run(&fr_backend_servers, true);
}

Test(frames_oversize, backend_admin)
{
    fr_run(&fr_backend_admin, true);
}

Test(frames_oversize, backend_router_link)
{
    fr_run(&fr_backend_router, true);
}
