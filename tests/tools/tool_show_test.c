/*
 * tool_show_test.c - `rtrcli show ...` against fake daemons: admin ROUTER sockets served by a
 * thread of this test process, answering with canned JSON. Checks the request rtrcli sends
 * (role ADMIN, identity a-<pid>, command, TID argument), the text rendering (title, key: value
 * lines, aligned table with numeric columns right-aligned, several daemons merged under a NODE
 * column), --json pass-through (one object, or an array), and every error path: a daemon that
 * does not answer (named with its endpoint and the deadline, exit 1), a daemon's error status,
 * an answer that is not JSON, an unknown node, a node of the wrong kind, a bad TID.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "cmn.h"
#include "tool_run.h"
#include "tst.h"
#include "wire_zmq.h"

#define FAKE_MAX 4

/* One fake daemon's admin socket: what it answers, and what it was asked. */
typedef struct {
    char *endpoint;
    const char *json; /* the answer's json field (NULL: none) */
    rtr_status_t status;
    const char *error;
    /* filled by the server thread (read after it stopped) */
    int requests;
    char command[64];
    char arg0[64];
    char arg1[64];
    size_t nargs;
    bool role_ok;   /* every request had role ADMIN */
    bool sender_ok; /* routing id == Envelope.sender == "a-<digits>" */
} fake_t;

typedef struct {
    void *ctx;
    void *ctl; /* main side of the inproc control pair */
    pthread_t thread;
    size_t n;
    fake_t f[FAKE_MAX];
} fakes_t;

static void
fake_serve(void *sock, fake_t *f)
{
    for (;;) {
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;
        rtr_status_t sts = wire_zmq_recv(sock, &from, NULL, &env);
        if (sts != RTR_STS_OK) {
            if (sts == RTR_STS_BUSY)
                return;
            continue;
        }
        if (env->body_case == RTR__ENVELOPE__BODY_ADMIN_REQUEST) {
            Rtr__AdminRequest *rq = env->admin_request;
            Rtr__Envelope out = RTR__ENVELOPE__INIT;
            Rtr__AdminReply rep = RTR__ADMIN_REPLY__INIT;
            f->requests++;
            snprintf(f->command, sizeof f->command, "%s", rq->command);
            f->nargs = rq->n_args;
            snprintf(f->arg0, sizeof f->arg0, "%s", rq->n_args > 0 ? rq->args[0] : "");
            snprintf(f->arg1, sizeof f->arg1, "%s", rq->n_args > 1 ? rq->args[1] : "");
            f->role_ok = env->role == RTR__ROLE__ROLE_ADMIN && (f->requests == 1 || f->role_ok);
            f->sender_ok = from.len == strlen(env->sender) &&
                           memcmp(from.bytes, env->sender, from.len) == 0 &&
                           strncmp(env->sender, "a-", 2) == 0 &&
                           strspn(env->sender + 2, "0123456789") == strlen(env->sender + 2);
            wire_envelope_init(&out, "fake", 0, 1, RTR__ROLE__ROLE_BACKEND);
            rep.request_id = rq->request_id;
            rep.status = f->status;
            rep.json = (char *)(uintptr_t)f->json;
            rep.error = (char *)(uintptr_t)f->error;
            out.body_case = RTR__ENVELOPE__BODY_ADMIN_REPLY;
            out.admin_reply = &rep;
            wire_zmq_send(sock, &from, &out, 0);
        }
        wire_free((ProtobufCMessage **)&env);
    }
}

static void *
fake_thread(void *arg)
{
    fakes_t *fs = arg;
    void *socks[FAKE_MAX];
    void *ctl = zmq_socket(fs->ctx, ZMQ_PAIR);
    zmq_pollitem_t items[FAKE_MAX + 1];
    int linger = 0;

    zmq_connect(ctl, "inproc://fake-ctl");
    for (size_t i = 0; i < fs->n; i++) {
        socks[i] = zmq_socket(fs->ctx, ZMQ_ROUTER);
        zmq_setsockopt(socks[i], ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(socks[i], fs->f[i].endpoint) != 0)
            fprintf(stderr, "fake: bind %s: %s\n", fs->f[i].endpoint, zmq_strerror(zmq_errno()));
    }
    zmq_send(ctl, "ready", 5, 0);
    for (;;) {
        for (size_t i = 0; i < fs->n; i++)
            items[i] = (zmq_pollitem_t){ socks[i], -1, ZMQ_POLLIN, 0 };
        items[fs->n] = (zmq_pollitem_t){ ctl, -1, ZMQ_POLLIN, 0 };
        if (zmq_poll(items, (int)fs->n + 1, -1) < 0)
            continue;
        if (items[fs->n].revents & ZMQ_POLLIN)
            break;
        for (size_t i = 0; i < fs->n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                fake_serve(socks[i], &fs->f[i]);
    }
    for (size_t i = 0; i < fs->n; i++)
        zmq_close(socks[i]);
    zmq_close(ctl);
    return NULL;
}

/* fakes_start - serve the fakes set up in fs->f[0..n) and wait until they are bound. */
static void
fakes_start(fakes_t *fs)
{
    char buf[8];
    fs->ctx = zmq_ctx_new();
    fs->ctl = zmq_socket(fs->ctx, ZMQ_PAIR);
    cr_assert_eq(zmq_bind(fs->ctl, "inproc://fake-ctl"), 0);
    cr_assert_eq(pthread_create(&fs->thread, NULL, fake_thread, fs), 0);
    cr_assert_eq(zmq_recv(fs->ctl, buf, sizeof buf, 0), 5, "the fakes did not start");
}

static void
fakes_stop(fakes_t *fs)
{
    zmq_send(fs->ctl, "stop", 4, 0);
    pthread_join(fs->thread, NULL);
    zmq_close(fs->ctl);
    zmq_ctx_term(fs->ctx);
    for (size_t i = 0; i < fs->n; i++)
        free(fs->f[i].endpoint);
}

/* ---- fixture ------------------------------------------------------------------------- */

static char *tdir, *conf;

static void
setup(void)
{
    tdir = tst_tmpdir("show");
    conf = tool_facility_write(tdir, "s", NULL);
}

static void
teardown(void)
{
    tst_rmtree(tdir);
    free(tdir);
    free(conf);
}

static fake_t *
fake_add(fakes_t *fs, const char *node, const char *json)
{
    fake_t *f = &fs->f[fs->n++];
    memset(f, 0, sizeof *f);
    f->endpoint = tool_admin_endpoint("s", node);
    f->json = json;
    f->status = RTR_STS_OK;
    return f;
}

/* rtrcli - run rtrcli with up to 8 arguments after the command words. */
static void
rtrcli(tool_run_t *r, const char *const *args)
{
    char *argv[16] = { RTRCLI_PATH };
    size_t n = 1;
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = (char *)(uintptr_t)args[i];
    argv[n] = NULL;
    tool_run(tdir, argv, NULL, r);
}

#define BE1_JSON                                                                       \
    "{\"title\": \"Backend be1\", \"journal\": \"/j1\", \"columns\": [\"PARTITION\", " \
    "\"STATE\", \"CSN\"], \"rows\": [[\"P1\", \"active\", 42], [\"P10\", \"active\", 7]]}"
#define BE2_JSON                                                                       \
    "{\"title\": \"Backend be2\", \"journal\": \"/j2\", \"columns\": [\"PARTITION\", " \
    "\"STATE\", \"CSN\"], \"rows\": [[\"P2\", \"active\", 1234]]}"

/* ---- tests ----------------------------------------------------------------------------- */

TestSuite(tool_show, .init = setup, .fini = teardown, .timeout = 60);

Test(tool_show, one_node_table)
{
    fakes_t fs = { 0 };
    tool_run_t r;
    fake_t *f = fake_add(&fs, "be1", BE1_JSON);

    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "show", "backend", "--config", conf, "--node", "be1", NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
    cr_expect_str_eq(r.out, "Backend be1\n"
                            "journal: /j1\n"
                            "PARTITION  STATE   CSN\n"
                            "P1         active   42\n"
                            "P10        active    7\n");
    cr_expect_str_eq(r.err, "");
    cr_expect_eq(f->requests, 1);
    cr_expect_str_eq(f->command, "show backend");
    cr_expect_eq(f->nargs, 0);
    cr_expect(f->role_ok, "the request's role is not ROLE_ADMIN");
    cr_expect(f->sender_ok, "identity/sender is not a-<pid>");
    tool_run_free(&r);
}

Test(tool_show, prefix_of_the_noun_and_rtr_config)
{
    fakes_t fs = { 0 };
    tool_run_t r;
    char *env[2], *argv[] = { RTRCLI_PATH, "show", "part", "--node", "be1", NULL };
    fake_t *f = fake_add(&fs, "be1", BE1_JSON);

    cr_assert_geq(asprintf(&env[0], "RTR_CONFIG=%s", conf), 0);
    env[1] = NULL;
    fakes_start(&fs);
    tool_run(tdir, argv, env, &r);
    fakes_stop(&fs);
    cr_expect_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
    cr_expect_str_eq(f->command, "show partition");
    cr_expect(strstr(r.out, "P10        active    7\n") != NULL, "%s", r.out);
    tool_run_free(&r);
    free(env[0]);
}

Test(tool_show, two_backends_merged_under_node)
{
    fakes_t fs = { 0 };
    tool_run_t r;

    fake_add(&fs, "be1", BE1_JSON);
    fake_add(&fs, "be2", BE2_JSON);
    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "show", "backend", "--config", conf, NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
    /* different titles: none printed; the NODE column says who answered */
    cr_expect_str_eq(r.out, "be1: journal: /j1\n"
                            "be2: journal: /j2\n"
                            "NODE  PARTITION  STATE    CSN\n"
                            "be1   P1         active    42\n"
                            "be1   P10        active     7\n"
                            "be2   P2         active  1234\n");
    tool_run_free(&r);
}

Test(tool_show, json_one_object_or_an_array)
{
    fakes_t fs = { 0 };
    tool_run_t r;
    json_error_t e;
    json_t *got, *want;

    fake_add(&fs, "be1", BE1_JSON);
    fake_add(&fs, "be2", BE2_JSON);
    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "--json", "show", "backend", "--config", conf, "--node", "be2",
                                 NULL });
    cr_expect_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
    got = json_loads(r.out, 0, &e);
    cr_assert_not_null(got, "not JSON: %s (%s)", r.out, e.text);
    want = json_loads(BE2_JSON, 0, &e);
    json_object_set_new(want, "node", json_string("be2"));
    cr_expect(json_equal(got, want), "got %s", r.out);
    json_decref(got);
    json_decref(want);
    tool_run_free(&r);

    rtrcli(&r, (const char *[]){ "show", "backend", "--json", "--config", conf, NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
    got = json_loads(r.out, 0, &e);
    cr_assert(json_is_array(got), "not a JSON array: %s", r.out);
    cr_expect_eq(json_array_size(got), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "node")), "be1");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(got, 1), "node")), "be2");
    cr_expect_eq(json_integer_value(json_array_get(
                     json_array_get(json_object_get(json_array_get(got, 1), "rows"), 0), 2)),
                 1234);
    json_decref(got);
    tool_run_free(&r);
}

Test(tool_show, unreachable_node_named_exit_1)
{
    fakes_t fs = { 0 };
    tool_run_t r;
    char *ep2 = tool_admin_endpoint("s", "be2"), *want;

    fake_add(&fs, "be1", BE1_JSON);
    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "show", "backend", "--config", conf, "--timeout", "300", NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 1);
    cr_assert_geq(asprintf(&want, "rtrcli: node be2: no answer from %s within 300 ms\n", ep2), 0);
    cr_expect_str_eq(r.err, want);
    /* what be1 answered is still printed */
    cr_expect(strstr(r.out, "P10        active    7\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "node: be1\n") != NULL, "%s", r.out);
    tool_run_free(&r);
    free(want);

    /* the default deadline is 2 s, and says so */
    rtrcli(&r, (const char *[]){ "show", "server", "--config", conf, "--node", "be2", NULL });
    cr_expect_eq(r.status, 1);
    cr_assert_geq(asprintf(&want, "rtrcli: node be2: no answer from %s within 2 s\n", ep2), 0);
    cr_expect_str_eq(r.err, want);
    cr_expect_str_eq(r.out, "");
    tool_run_free(&r);
    free(want);
    free(ep2);
}

Test(tool_show, transaction_tid_and_daemon_error)
{
    fakes_t fs = { 0 };
    tool_run_t r;
    fake_t *f = fake_add(&fs, "be1", NULL);

    f->status = RTR_STS_NOTFOUND;
    f->error = "no transaction 0123456789abcdef.42";
    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "show", "transaction", "0123456789abcdef.42", "--config", conf,
                                 "--node", "be1", NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(f->command, "show transaction");
    cr_expect_eq(f->nargs, 1);
    cr_expect_str_eq(f->arg0, "0123456789abcdef.42");
    cr_expect_str_eq(r.err, "rtrcli: node be1: no transaction 0123456789abcdef.42 [NOTFOUND]\n");
    tool_run_free(&r);
}

Test(tool_show, set_transaction_the_backend_holding_it_acts)
{
    fakes_t fs = { 0 };
    tool_run_t r;
    fake_t *b1 = fake_add(&fs, "be1", NULL);
    fake_t *b2 = fake_add(&fs, "be2",
                          "{\"title\": \"transactions\", \"columns\": [\"tid\", \"state\"], "
                          "\"rows\": [[\"0123456789abcdef.42\", \"QUEUED\"]]}");

    b1->status = RTR_STS_NOTFOUND;
    b1->error = "no such transaction";
    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "set", "transaction", "0123456789abcdef.42", "retry", "--config",
                                 conf, NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(b2->command, "set transaction");
    cr_expect_eq(b2->nargs, 2);
    cr_expect_str_eq(b2->arg0, "0123456789abcdef.42");
    cr_expect_str_eq(b2->arg1, "retry");
    cr_expect_eq(b1->requests, 1, "every backend is asked");
    cr_expect_str_eq(r.err, "", "a backend that does not know the TID stays silent");
    cr_expect(strstr(r.out, "QUEUED") != NULL, "%s", r.out);
    tool_run_free(&r);
}

Test(tool_show, set_transaction_nobody_or_not_in_exception)
{
    fakes_t fs = { 0 };
    tool_run_t r;
    fake_t *b1 = fake_add(&fs, "be1", NULL), *b2 = fake_add(&fs, "be2", NULL);

    b1->status = b2->status = RTR_STS_NOTFOUND;
    b1->error = b2->error = "no such transaction";
    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "set", "transaction", "0123456789abcdef.42", "done", "--config",
                                 conf, NULL });
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err,
                     "rtrcli: set transaction: no backend knows transaction 0123456789abcdef.42\n");
    tool_run_free(&r);
    b2->status = RTR_STS_INVARG;
    b2->error = "the transaction is not in EXCEPTION";
    rtrcli(&r, (const char *[]){ "set", "transaction", "0123456789abcdef.42", "done", "--config",
                                 conf, NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "rtrcli: node be2: the transaction is not in EXCEPTION [INVARG]\n");
    tool_run_free(&r);

    rtrcli(&r,
           (const char *[]){ "set", "transaction", "0123456789abcdef.42", "--config", conf, NULL });
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "want TID and one of retry|done") != NULL, "%s", r.err);
    tool_run_free(&r);
    rtrcli(&r, (const char *[]){ "set", "transaction", "0123456789abcdef.42", "retry", "--node",
                                 "r1", "--config", conf, NULL });
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "node r1 is a router") != NULL, "%s", r.err);
    tool_run_free(&r);
}

Test(tool_show, answer_that_is_not_json)
{
    fakes_t fs = { 0 };
    tool_run_t r;

    fake_add(&fs, "r1", "[1, 2");
    fakes_start(&fs);
    rtrcli(&r, (const char *[]){ "show", "router", "--config", conf, NULL });
    fakes_stop(&fs);
    cr_expect_eq(r.status, 1);
    cr_expect(strncmp(r.err, "rtrcli: node r1: the answer is not a JSON object (", 50) == 0, "%s",
              r.err);
    cr_expect(strstr(r.err, "[WIRE_MALFORMED]\n") != NULL, "%s", r.err);
    tool_run_free(&r);
}

Test(tool_show, usage_errors)
{
    tool_run_t r;

    rtrcli(&r, (const char *[]){ "show", "transaction", "nota-tid", "--config", conf, NULL });
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "'nota-tid' is not a TID") != NULL, "%s", r.err);
    tool_run_free(&r);

    rtrcli(&r, (const char *[]){ "show", "server", "--config", conf, "--node", "r1", NULL });
    cr_expect_eq(r.status, 2);
    cr_expect_str_eq(r.err, "rtrcli: show server: node r1 is a router; `show server` is "
                            "answered by backends\n");
    tool_run_free(&r);

    rtrcli(&r, (const char *[]){ "show", "backend", "--config", conf, "--node", "nosuch", NULL });
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "rtrcli: show backend: facility FAC has no node 'nosuch'\n");
    tool_run_free(&r);

    rtrcli(&r, (const char *[]){ "show", "backend", "--config", "/nonexistent.conf", NULL });
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "/nonexistent.conf") != NULL, "%s", r.err);
    tool_run_free(&r);

    rtrcli(&r, (const char *[]){ "show", "router", "--bogus", NULL });
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "unknown option '--bogus'") != NULL, "%s", r.err);
    tool_run_free(&r);

    rtrcli(&r, (const char *[]){ "show", "counters", "--help", NULL });
    cr_expect_eq(r.status, 0);
    cr_expect(strncmp(r.out, "usage: rtrcli show counters [--config FILE]", 43) == 0, "%s", r.out);
    tool_run_free(&r);

    rtrcli(&r, (const char *[]){ "--help", NULL });
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "  show transaction [TID]") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "  start facility FILE") != NULL, "%s", r.out);
    tool_run_free(&r);
}
