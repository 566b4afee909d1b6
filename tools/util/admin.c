/*
 * admin.c - AdminRequest / AdminReply over DEALER sockets with a deadline (tool_admin.h).
 *
 * Sockets are created with ZMQ_LINGER 0 so that closing them never waits for a daemon that is
 * not there, and requests are sent ZMQ_DONTWAIT: connect() creates the outgoing pipe at once
 * (ZMQ_IMMEDIATE off), so a request to an endpoint nobody has bound yet is queued and delivered
 * when the daemon binds; the deadline is what bounds the wait, never the send.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "cmn.h"
#include "tool_admin.h"
#include "wire_zmq.h"

#define TOOL_ADMIN_MAX 64 /* daemons in one set */

typedef struct {
    tool_admin_target_t t;
    void *sock;
    uint64_t request_id; /* of the latest request; 0 = none sent */
} tool_admin_peer_t;

struct tool_admin {
    void *ctx;
    char identity[32]; /* "a-<pid><8 random decimal digits>" */
    uint64_t incarnation;
    uint64_t next_id;
    size_t n;
    tool_admin_peer_t peers[TOOL_ADMIN_MAX];
};

tool_admin_t *
tool_admin_new(void)
{
    tool_admin_t *a = calloc(1, sizeof *a);

    if (a == NULL)
        return NULL;
    a->ctx = zmq_ctx_new();
    if (a->ctx == NULL || cmn_incarnation_new(&a->incarnation) != RTR_STS_OK) {
        tool_admin_free(&a);
        return NULL;
    }
    /* unique per set, not just per process: a daemon's ROUTER socket refuses a new connection
     * whose identity it still holds for a closed one (a set freed a moment ago by the same
     * process, e.g. `start facility --bootstrap`), and its answers would go nowhere */
    snprintf(a->identity, sizeof a->identity, "a-%ld%08u", (long)getpid(),
             (unsigned)(a->incarnation % 100000000u));
    a->next_id = 1;
    return a;
}

int
tool_admin_add(tool_admin_t *a, const char *node, const char *endpoint)
{
    int linger = 0, reconnect_ms = 20;
    tool_admin_peer_t *p;

    if (a->n == TOOL_ADMIN_MAX)
        return -1;
    p = &a->peers[a->n];
    memset(p, 0, sizeof *p);
    p->t.node = node;
    p->t.endpoint = endpoint;
    p->sock = zmq_socket(a->ctx, ZMQ_DEALER);
    if (p->sock == NULL)
        return -1;
    /* a daemon still starting binds soon: try its endpoint again every 20 ms, not 100 */
    if (zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL, &reconnect_ms, sizeof reconnect_ms) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_ROUTING_ID, a->identity, strlen(a->identity)) != 0 ||
        zmq_connect(p->sock, endpoint) != 0) {
        zmq_close(p->sock);
        p->sock = NULL;
        return -1;
    }
    return (int)a->n++;
}

size_t
tool_admin_count(const tool_admin_t *a)
{
    return a->n;
}

const tool_admin_target_t *
tool_admin_target(const tool_admin_t *a, size_t i)
{
    return i < a->n ? &a->peers[i].t : NULL;
}

static void
tool_admin_clear(tool_admin_peer_t *p)
{
    json_decref(p->t.json);
    p->t.json = NULL;
    free(p->t.error);
    p->t.error = NULL;
    p->t.answered = false;
    p->t.status = RTR_STS_OK;
}

void
tool_admin_reset(tool_admin_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        tool_admin_clear(&a->peers[i]);
}

/* tool_admin_send - a new request to one daemon. */
static rtr_status_t
tool_admin_send(tool_admin_t *a, tool_admin_peer_t *p, const char *command, const char *const *args,
                size_t nargs)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__AdminRequest req = RTR__ADMIN_REQUEST__INIT;
    rtr_status_t sts;

    wire_envelope_init(&env, a->identity, 0, a->incarnation, RTR__ROLE__ROLE_ADMIN);
    req.request_id = a->next_id++;
    req.command = (char *)(uintptr_t)command;
    req.n_args = nargs;
    req.args = (char **)(uintptr_t)args;
    env.body_case = RTR__ENVELOPE__BODY_ADMIN_REQUEST;
    env.admin_request = &req;
    sts = wire_zmq_send(p->sock, NULL, &env, ZMQ_DONTWAIT);
    p->request_id = req.request_id;
    return sts;
}

/* tool_admin_take - keep an answer: parse its JSON (it must be one object when present). */
static void
tool_admin_take(tool_admin_peer_t *p, const Rtr__AdminReply *r)
{
    json_error_t jerr;

    tool_admin_clear(p);
    p->t.answered = true;
    p->t.status = (rtr_status_t)r->status;
    if (r->error != NULL)
        p->t.error = strdup(r->error);
    if (r->json == NULL)
        return;
    p->t.json = json_loads(r->json, 0, &jerr);
    if (p->t.json == NULL || !json_is_object(p->t.json)) {
        json_decref(p->t.json);
        p->t.json = NULL;
        free(p->t.error);
        if (asprintf(&p->t.error, "the answer is not a JSON object (%s)", jerr.text) < 0)
            p->t.error = NULL;
        p->t.status = RTR_STS_WIRE_MALFORMED;
    }
}

/* tool_admin_drain - read everything waiting on one socket; keep the answer to the latest
 * request, drop anything else (late answers, other bodies, rejected frames). */
static void
tool_admin_drain(tool_admin_peer_t *p)
{
    for (;;) {
        Rtr__Envelope *env = NULL;
        rtr_status_t sts = wire_zmq_recv(p->sock, NULL, NULL, &env);
        if (sts == RTR_STS_BUSY || sts == RTR_STS_IOERR)
            return;
        if (sts != RTR_STS_OK)
            continue; /* a rejected frame was consumed whole */
        if (env->body_case == RTR__ENVELOPE__BODY_ADMIN_REPLY &&
            env->admin_reply->request_id == p->request_id && !p->t.answered)
            tool_admin_take(p, env->admin_reply);
        wire_free((ProtobufCMessage **)&env);
    }
}

rtr_status_t
tool_admin_query(tool_admin_t *a, const char *command, const char *const *args, size_t nargs,
                 int timeout_ms)
{
    zmq_pollitem_t items[TOOL_ADMIN_MAX];
    uint64_t deadline = cmn_now_mono_ns() + (uint64_t)timeout_ms * 1000000u;

    for (size_t i = 0; i < a->n; i++) {
        tool_admin_peer_t *p = &a->peers[i];
        if (p->t.answered)
            continue;
        rtr_status_t sts = tool_admin_send(a, p, command, args, nargs);
        if (sts == RTR_STS_NOMEM || sts == RTR_STS_WIRE_OVERSIZE)
            return sts;
        /* BUSY / IOERR: no answer can come; the deadline says so */
    }
    for (;;) {
        uint64_t now = cmn_now_mono_ns();
        size_t n = 0;
        for (size_t i = 0; i < a->n; i++) {
            if (a->peers[i].t.answered)
                continue;
            items[n].socket = a->peers[i].sock;
            items[n].fd = -1;
            items[n].events = ZMQ_POLLIN;
            items[n].revents = 0;
            n++;
        }
        if (n == 0)
            return RTR_STS_OK;
        if (now >= deadline)
            return RTR_STS_TIMOUT;
        long wait_ms = (long)((deadline - now + 999999u) / 1000000u);
        if (zmq_poll(items, (int)n, wait_ms) < 0 && zmq_errno() != EINTR)
            return RTR_STS_IOERR;
        for (size_t i = 0; i < a->n; i++)
            if (!a->peers[i].t.answered)
                tool_admin_drain(&a->peers[i]);
    }
}

rtr_status_t
tool_admin_reg_change(tool_admin_t *a, size_t i, const Rtr__RegChange *req, int timeout_ms,
                      Rtr__Envelope **out)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    uint64_t deadline = cmn_now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    tool_admin_peer_t *p;
    rtr_status_t sts;

    *out = NULL;
    if (i >= a->n)
        return RTR_STS_INVARG;
    p = &a->peers[i];
    wire_envelope_init(&env, a->identity, 0, a->incarnation, RTR__ROLE__ROLE_ADMIN);
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
    env.reg_change = (Rtr__RegChange *)(uintptr_t)req;
    sts = wire_zmq_send(p->sock, NULL, &env, ZMQ_DONTWAIT);
    if (sts == RTR_STS_NOMEM || sts == RTR_STS_WIRE_OVERSIZE)
        return sts;
    for (;;) {
        zmq_pollitem_t it = { p->sock, -1, ZMQ_POLLIN, 0 };
        uint64_t now = cmn_now_mono_ns();
        if (now >= deadline)
            return RTR_STS_TIMOUT;
        if (zmq_poll(&it, 1, (long)((deadline - now + 999999u) / 1000000u)) < 0 &&
            zmq_errno() != EINTR)
            return RTR_STS_IOERR;
        for (;;) {
            Rtr__Envelope *in = NULL;
            sts = wire_zmq_recv(p->sock, NULL, NULL, &in);
            if (sts == RTR_STS_BUSY || sts == RTR_STS_IOERR)
                break;
            if (sts != RTR_STS_OK)
                continue;
            if (in->body_case == RTR__ENVELOPE__BODY_REG_CHANGE_REPLY &&
                in->reg_change_reply->req_id == req->req_id) {
                *out = in;
                return RTR_STS_OK;
            }
            wire_free((ProtobufCMessage **)&in);
        }
    }
}

void
tool_admin_free(tool_admin_t **ap)
{
    tool_admin_t *a;

    if (ap == NULL || *ap == NULL)
        return;
    a = *ap;
    for (size_t i = 0; i < a->n; i++) {
        tool_admin_clear(&a->peers[i]);
        zmq_close(a->peers[i].sock);
    }
    if (a->ctx != NULL)
        zmq_ctx_term(a->ctx);
    free(a);
    *ap = NULL;
}
