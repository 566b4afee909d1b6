/*
 * tool_fake_daemon.c - a stand-in for rtr-router and rtr-backend in the `rtrcli start/stop
 * facility` tests, so that they do not depend on the real daemons.
 *
 *   tool_fake_daemon --config FILE --node NAME [--log FILE]
 *
 * Loads the facility, binds the node's admin endpoint (ROUTER) and answers every AdminRequest
 * from an ADMIN sender with status OK and {"title": "fake NAME", "node": NAME, "command": CMD,
 * "pid": PID, "columns": ["NODE", "PID"], "rows": [[NAME, PID]]}. SIGTERM or SIGINT: exit 0.
 * Test hooks (environment): FAKE_EXIT_NODE=NAME makes node NAME exit 3 at once, before
 * binding; FAKE_IGNORE_TERM_NODE=NAME makes it ignore SIGTERM (only SIGKILL stops it);
 * FAKE_BACKEND_DOWN=NAME makes every fake answer "show facility" with a row saying backend NAME
 * is "down" (a router that never gets that backend's hello).
 * Exit 1 on a bad command line, a bad config or an endpoint it cannot bind.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "cmn.h"
#include "wire_zmq.h"

static void
fake_answer(void *sock, const wire_zmq_id_t *from, const char *node, const Rtr__Envelope *in)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__AdminReply rep = RTR__ADMIN_REPLY__INIT;
    const char *down = getenv("FAKE_BACKEND_DOWN");
    json_t *o;

    if (down != NULL && strcmp(in->admin_request->command, "show facility") == 0)
        o = json_pack("{s:s+, s:[s,s,s,s], s:[[s,s,s,s]]}", "title", "fake ", node, "columns",
                      "node", "kind", "state", "endpoint", "rows", down, "backend", "down", "-");
    else
        o = json_pack("{s:s+, s:s, s:s, s:i, s:[s,s], s:[[s,i]]}", "title", "fake ", node, "node",
                      node, "command", in->admin_request->command, "pid", (int)getpid(), "columns",
                      "NODE", "PID", "rows", node, (int)getpid());
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    wire_envelope_init(&env, node, 0, 1, RTR__ROLE__ROLE_BACKEND);
    rep.request_id = in->admin_request->request_id;
    rep.status = text != NULL ? RTR_STS_OK : RTR_STS_NOMEM;
    rep.json = text;
    env.body_case = RTR__ENVELOPE__BODY_ADMIN_REPLY;
    env.admin_reply = &rep;
    wire_zmq_send(sock, from, &env, ZMQ_DONTWAIT);
    free(text);
    json_decref(o);
}

int
main(int argc, char **argv)
{
    const char *config = NULL, *node = NULL, *admin = NULL, *hook;
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_facility_t *fac = NULL;
    sigset_t mask;
    void *ctx = NULL, *sock = NULL;
    int rc = 1, linger = 0, sfd = -1;
    bool stop = false;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
        else if (strcmp(argv[i], "--node") == 0)
            node = argv[i + 1];
        else if (strcmp(argv[i], "--log") != 0) {
            fprintf(stderr, "tool_fake_daemon: unknown option %s\n", argv[i]);
            return 1;
        }
    }
    if (config == NULL || node == NULL) {
        fprintf(stderr, "usage: tool_fake_daemon --config FILE --node NAME [--log FILE]\n");
        return 1;
    }
    if ((hook = getenv("FAKE_EXIT_NODE")) != NULL && strcmp(hook, node) == 0) {
        fprintf(stderr, "tool_fake_daemon: %s: exiting at once (FAKE_EXIT_NODE)\n", node);
        return 3;
    }
    /* SIGTERM and SIGINT arrive on a signalfd polled with the socket: no lost wakeup between
     * a flag test and the poll. Blocked before ZeroMQ starts its threads, which inherit it. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    if ((hook = getenv("FAKE_IGNORE_TERM_NODE")) != NULL && strcmp(hook, node) == 0)
        signal(SIGTERM, SIG_IGN);
    else
        sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 || (sfd = signalfd(-1, &mask, 0)) < 0) {
        fprintf(stderr, "tool_fake_daemon: signalfd failed\n");
        return 1;
    }
    if (cmn_facility_load_ex(config, &lo, &fac, NULL) != RTR_STS_OK) {
        fprintf(stderr, "tool_fake_daemon: %s: bad config\n", config);
        return 1;
    }
    if (cmn_facility_router(fac, node) != NULL)
        admin = cmn_facility_router(fac, node)->admin;
    else if (cmn_facility_backend(fac, node) != NULL)
        admin = cmn_facility_backend(fac, node)->admin;
    ctx = zmq_ctx_new();
    sock = ctx != NULL ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
    if (admin == NULL || sock == NULL ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(sock, admin) != 0) {
        fprintf(stderr, "tool_fake_daemon: %s: cannot bind %s: %s\n", node,
                admin != NULL ? admin : "(no such node)", zmq_strerror(zmq_errno()));
        goto done;
    }
    fprintf(stderr, "tool_fake_daemon: %s: serving %s\n", node, admin);
    while (!stop) {
        zmq_pollitem_t it[2] = { { sock, -1, ZMQ_POLLIN, 0 }, { NULL, sfd, ZMQ_POLLIN, 0 } };
        if (zmq_poll(it, 2, -1) < 0)
            continue;
        if (it[1].revents & ZMQ_POLLIN)
            stop = true;
        for (;;) {
            wire_zmq_id_t from;
            Rtr__Envelope *env = NULL;
            rtr_status_t sts = wire_zmq_recv(sock, &from, NULL, &env);
            if (sts == RTR_STS_BUSY || sts == RTR_STS_IOERR)
                break;
            if (sts == RTR_STS_OK && env->role == RTR__ROLE__ROLE_ADMIN &&
                env->body_case == RTR__ENVELOPE__BODY_ADMIN_REQUEST)
                fake_answer(sock, &from, node, env);
            wire_free((ProtobufCMessage **)&env);
        }
    }
    rc = 0;
done:
    if (sock != NULL)
        zmq_close(sock);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    cmn_facility_free(&fac);
    close(sfd);
    return rc;
}
