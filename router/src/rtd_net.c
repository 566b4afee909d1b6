/*
 * rtd_net.c - the router's shell: ZeroMQ sockets, peers, heartbeats, the timer, the loop.
 *
 * Design note. One thread polls four things: the clients ROUTER (frontends), the peers ROUTER
 * (backends), the admin ROUTER (rtrcli) and a signalfd (SIGTERM/SIGINT). Every received frame
 * goes through wire_zmq_recv (strict decoding, counted per socket); then the role is checked
 * against the socket (clients: CLIENT, peers: BACKEND, admin: ADMIN) before anything is
 * applied. Valid envelopes become core events; the core's actions are executed right away, in
 * order, while the received envelope is still alive (forwarded bodies point into it).
 *
 * Liveness: every known peer gets a Heartbeat each heartbeat_ms; a peer silent for
 * failure_timeout_ms, or one that shows a new incarnation, is reported lost to the core before
 * anything else of it is applied. Nothing on the transaction path touches the disk.
 *
 * The facility register (only with shadowed partitions; rtd_reg.h). Every other router gets a
 * DEALER link (identity = our name, ZMQ_IMMEDIATE: a frame for a router that is not connected
 * fails at once and counts as lost, which CASPaxos tolerates) to its peers endpoint; what the
 * others send us arrives on the peers socket with role ROUTER, accepted only from configured
 * router names. Links carry Heartbeats too (liveness for `show register`). Register messages
 * from routers, RegChange/LeaseRequest from backends (peers) and RegChange from rtrcli (admin)
 * become register core events. Its actions run in order; a PERSIST is written to the acceptor
 * store (DB_TXN_SYNC) after the list, and only then is its ticket reported
 * (rtd_reg_on_persisted), so no promise or accept leaves before it is durable. Tickets and the
 * router's messages to itself (loopback, re-encoded and decoded like any frame) are follow-up
 * events run one by one, in order, after the list that produced them: never inline.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <zmq.h>

#include "rtd_impl.h"

#define RTD_BATCH 256 /* messages taken from one socket per loop turn (fairness) */

static const char *const rtd_sock_names[RTD_SOCK__COUNT] = { "clients", "peers", "admin" };

uint64_t
rtd_now_ms(void)
{
    return cmn_now_mono_ns() / 1000000u;
}

/* rtd_id_text - an id for a log line: printable ASCII kept, other bytes as '?'. */
static const char *
rtd_id_text(const rtd_id_t *id, char *buf, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; id != NULL && i < id->len && n + 1 < len; i++)
        buf[n++] = id->bytes[i] >= 0x21 && id->bytes[i] < 0x7f && id->bytes[i] != '"'
                       ? (char)id->bytes[i]
                       : '?';
    buf[n] = '\0';
    return buf;
}

/* rtd_warn - a rate-limited warning about socket `s` (one line per second per socket). */
static void
rtd_warn(rtd_router_t *r, rtd_sock_t s, const char *what, const rtd_id_t *from, rtr_status_t sts)
{
    uint64_t now = rtd_now_ms();
    rtd_ratelimit_t *rl = &r->rl[s];
    char idtext[2 * RTD_IDMAX + 1];

    if (rl->last_ms != 0 && now - rl->last_ms < 1000) {
        rl->suppressed++;
        return;
    }
    RTR_LOG(CMN_LOG_WARNING, "RTD-REJECT", "socket=%s what=%s from=\"%s\" sts=%s suppressed=%llu",
            rtd_sock_names[s], what, rtd_id_text(from, idtext, sizeof idtext), rtr_status_name(sts),
            (unsigned long long)rl->suppressed);
    rl->last_ms = now;
    rl->suppressed = 0;
}

/* ---- sockets ------------------------------------------------------------------------- */

static void *
rtd_socket(rtd_router_t *r, rtd_sock_t s, const char *endpoint, rtr_status_t *sts)
{
    void *z = zmq_socket(r->zctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    int hb = (int)r->fac->settings.heartbeat_ms;
    int hbto = (int)r->fac->settings.failure_timeout_ms;

    if (z == NULL || zmq_setsockopt(z, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        wire_zmq_limit(z, (size_t)r->fac->settings.max_frame_bytes, true) != RTR_STS_OK ||
        zmq_setsockopt(z, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(z, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb) != 0 ||
        zmq_setsockopt(z, ZMQ_HEARTBEAT_TIMEOUT, &hbto, sizeof hbto) != 0) {
        fprintf(stderr, "rtr-router: cannot create the %s socket: %s\n", rtd_sock_names[s],
                zmq_strerror(zmq_errno()));
        *sts = RTR_STS_IOERR;
        goto fail;
    }
    if (zmq_bind(z, endpoint) != 0) {
        int e = zmq_errno();
        fprintf(stderr, "rtr-router: cannot bind the %s endpoint %s: %s\n", rtd_sock_names[s],
                endpoint, zmq_strerror(e));
        RTR_LOG(CMN_LOG_ERR, "RTD-BIND", "socket=%s endpoint=%s err=\"%s\"", rtd_sock_names[s],
                endpoint, zmq_strerror(e));
        *sts = e == EADDRINUSE ? RTR_STS_BUSY : RTR_STS_IOERR;
        goto fail;
    }
    return z;
fail:
    if (z != NULL)
        zmq_close(z);
    return NULL;
}

/* rtd_links_open - a DEALER to every other router's peers endpoint (register traffic). */
static rtr_status_t
rtd_links_open(rtd_router_t *r)
{
    const cmn_facility_t *fac = r->fac;
    int zero = 0, one = 1;
    int hb = (int)fac->settings.heartbeat_ms;
    int hbto = (int)fac->settings.failure_timeout_ms;

    r->links = calloc(fac->nrouters, sizeof *r->links);
    if (r->links == NULL)
        return RTR_STS_NOMEM;
    for (size_t i = 0; i < fac->nrouters; i++) {
        rtd_rlink_t *l = &r->links[i];
        l->cfg = &fac->routers[i];
        if (l->cfg == r->self) {
            r->self_idx = i;
            continue;
        }
        l->sock = zmq_socket(r->zctx, ZMQ_DEALER);
        if (l->sock == NULL ||
            zmq_setsockopt(l->sock, ZMQ_ROUTING_ID, r->self->name, strlen(r->self->name)) != 0 ||
            zmq_setsockopt(l->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_setsockopt(l->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
            zmq_setsockopt(l->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb) != 0 ||
            zmq_setsockopt(l->sock, ZMQ_HEARTBEAT_TIMEOUT, &hbto, sizeof hbto) != 0 ||
            wire_zmq_limit(l->sock, (size_t)fac->settings.max_frame_bytes, false) != RTR_STS_OK ||
            zmq_connect(l->sock, l->cfg->peers) != 0) {
            fprintf(stderr, "rtr-router: cannot connect to router %s at %s: %s\n", l->cfg->name,
                    l->cfg->peers, zmq_strerror(zmq_errno()));
            RTR_LOG(CMN_LOG_ERR, "RTD-LINK", "router=%s endpoint=%s err=\"%s\"", l->cfg->name,
                    l->cfg->peers, zmq_strerror(zmq_errno()));
            return RTR_STS_IOERR;
        }
    }
    return RTR_STS_OK;
}

rtr_status_t
rtd_net_open(rtd_router_t *r)
{
    const char *ep[RTD_SOCK__COUNT] = { r->self->clients, r->self->peers, r->self->admin };
    rtr_status_t sts = RTR_STS_OK;
    sigset_t set;

    /* Block the stop signals before ZeroMQ starts its threads, so they inherit the mask and
     * the signals reach only the signalfd in our poll set. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (r->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "rtr-router: signalfd: %s\n", strerror(errno));
        return RTR_STS_IOERR;
    }
    r->zctx = zmq_ctx_new();
    if (r->zctx == NULL)
        return RTR_STS_IOERR;
    for (int s = 0; s < RTD_SOCK__COUNT; s++) {
        r->sock[s] = rtd_socket(r, (rtd_sock_t)s, ep[s], &sts);
        if (r->sock[s] == NULL)
            return sts;
    }
    return r->reg != NULL ? rtd_links_open(r) : RTR_STS_OK;
}

void
rtd_net_close(rtd_router_t *r)
{
    for (int s = 0; s < RTD_SOCK__COUNT; s++) {
        if (r->sock[s] != NULL) { /* only bound sockets are kept (rtd_socket); r->self is set */
            const char *ep[RTD_SOCK__COUNT] = { r->self->clients, r->self->peers, r->self->admin };
            zmq_close(r->sock[s]);
            wire_zmq_ipc_unlink(ep[s]);
        }
        r->sock[s] = NULL;
    }
    for (size_t i = 0; r->links != NULL && i < r->fac->nrouters; i++)
        if (r->links[i].sock != NULL)
            zmq_close(r->links[i].sock);
    free(r->links);
    r->links = NULL;
    if (r->zctx != NULL)
        zmq_ctx_term(r->zctx);
    r->zctx = NULL;
    if (r->sigfd >= 0)
        close(r->sigfd);
    r->sigfd = -1;
    for (int i = 0; i < 2; i++) {
        free(r->peers[i].v);
        r->peers[i].v = NULL;
        r->peers[i].n = r->peers[i].cap = 0;
    }
    for (size_t i = r->regq_head; i < r->regq_n; i++)
        free(r->regq[i].buf);
    free(r->regq);
    r->regq = NULL;
    r->regq_head = r->regq_n = r->regq_cap = 0;
}

/* ---- sending and the core's actions ---------------------------------------------------- */

static void
rtd_send(rtd_router_t *r, rtd_sock_t s, const rtd_id_t *to, const Rtr__Envelope *env)
{
    wire_zmq_id_t id;
    rtr_status_t sts;

    id.len = to->len;
    memcpy(id.bytes, to->bytes, to->len);
    sts = wire_zmq_send_max(r->sock[s], &id, env, ZMQ_DONTWAIT,
                            (size_t)r->fac->settings.max_frame_bytes);
    if (sts != RTR_STS_OK) {
        r->sctr[s].send_failed++;
        rtd_warn(r, s, "send_failed", to, sts);
    }
}

/* rtd_execute - run the actions of the core's last event, in order. */
static void
rtd_execute(rtd_router_t *r)
{
    size_t n = 0;
    rtd_action_t *a = rtd_core_actions(r->core, &n);

    for (size_t i = 0; i < n; i++) {
        if (a[i].kind == RTD_ACT_SEND)
            rtd_send(r, a[i].sock, &a[i].to, &a[i].env);
        else
            r->timer_at_ms = a[i].at_ms;
    }
}

/* ---- the register core's actions ------------------------------------------------------- */

/* rtd_link_send - send env to router index i on its link (never to ourselves). */
static void
rtd_link_send(rtd_router_t *r, size_t i, const Rtr__Envelope *env)
{
    rtd_rlink_t *l = &r->links[i];

    if (l->sock == NULL)
        return;
    if (wire_zmq_send_max(l->sock, NULL, env, ZMQ_DONTWAIT,
                          (size_t)r->fac->settings.max_frame_bytes) == RTR_STS_OK)
        l->sent++;
    else
        l->send_failed++; /* not connected: a lost frame, the register's rounds retry */
}

/* rtd_reg_learn_to - RegLearn{v} to backend `to` on the peers socket. */
static void
rtd_reg_learn_to(rtd_router_t *r, const rtd_id_t *to, const Rtr__RegisterValue *v)
{
    Rtr__Envelope env;
    Rtr__RegLearn l = RTR__REG_LEARN__INIT;

    wire_envelope_init(&env, r->self->name, 0, r->incarnation, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_REG_LEARN;
    env.reg_learn = &l;
    l.value = (Rtr__RegisterValue *)(uintptr_t)v;
    rtd_send(r, RTD_SOCK_PEERS, to, &env);
    r->reg_learn_sent++;
}

/* rtd_regq_push - queue a follow-up event (ticket != 0, or a loopback frame taken over). */
static bool
rtd_regq_push(rtd_router_t *r, uint64_t ticket, uint8_t *buf, size_t len)
{
    if (r->regq_head == r->regq_n)
        r->regq_head = r->regq_n = 0;
    if (r->regq_n == r->regq_cap) {
        size_t cap = r->regq_cap ? r->regq_cap * 2 : 16;
        rtd_reg_next_t *v = realloc(r->regq, cap * sizeof *v);
        if (v == NULL)
            return false;
        r->regq = v;
        r->regq_cap = cap;
    }
    r->regq[r->regq_n++] = (rtd_reg_next_t){ ticket, buf, len };
    return true;
}

/* rtd_reg_fail - the store failed: the router stops (it cannot promise what it cannot keep). */
static void
rtd_reg_fail(rtd_router_t *r, rtr_status_t sts)
{
    RTR_LOG(CMN_LOG_CRIT, "RTD-STORE-FAIL",
            "state=%s sts=%s msg=\"acceptor state not durable: the router stops\"",
            rtd_store_dir(r->store), rtr_status_name(sts));
    fprintf(stderr, "rtr-router: cannot write the acceptor store in %s: %s; stopping\n",
            rtd_store_dir(r->store), rtr_error_text(sts));
    r->fatal = sts;
    r->stop = true;
    for (size_t i = r->regq_head; i < r->regq_n; i++)
        free(r->regq[i].buf);
    r->regq_head = r->regq_n = 0;
}

/* rtd_reg_actions_run - execute the register core's current action list in order; returns
 * the last state to persist (NULL if none). Tickets and loopback frames are queued. */
static const Rtr__AcceptorState *
rtd_reg_actions_run(rtd_router_t *r)
{
    size_t n = 0;
    rtd_reg_action_t *a = rtd_reg_actions(r->reg, &n);
    const Rtr__AcceptorState *st = NULL;

    for (size_t i = 0; i < n; i++) {
        switch (a[i].kind) {
        case RTD_REG_SEND_ROUTER:
            if (a[i].router == r->self_idx) {
                uint8_t *buf = NULL;
                size_t len = 0;
                if (wire_encode(&a[i].env->base, 0, &buf, &len) != RTR_STS_OK ||
                    !rtd_regq_push(r, 0, buf, len))
                    free(buf); /* out of memory: a lost message, the round retries */
            } else if (a[i].router < r->fac->nrouters) {
                rtd_link_send(r, a[i].router, a[i].env);
            }
            break;
        case RTD_REG_SEND_PEER:
            rtd_send(r, a[i].sock, &a[i].to, a[i].env);
            break;
        case RTD_REG_PERSIST:
            st = a[i].state; /* each state is complete: the last one of the list is written */
            if (!rtd_regq_push(r, a[i].ticket, NULL, 0))
                rtd_reg_fail(r, RTR_STS_NOMEM);
            break;
        case RTD_REG_LEARNED:
            RTR_LOG(CMN_LOG_NOTICE, "RTD-REG-LEARNED", "version=%llu partitions=%zu",
                    (unsigned long long)a[i].value->version, a[i].value->n_partitions);
            for (size_t k = 0; k < r->peers[RTD_SOCK_PEERS].n; k++)
                rtd_reg_learn_to(r, &r->peers[RTD_SOCK_PEERS].v[k].id, a[i].value);
            break;
        case RTD_REG_ARM_TIMER:
            r->reg_timer_at_ms = a[i].at_ms;
            break;
        }
    }
    return st;
}

/* rtd_reg_exec - run the actions of the register core's last event, then every follow-up event
 * they caused (persisted tickets, loopback frames), each after the list that queued it. */
static void
rtd_reg_exec(rtd_router_t *r)
{
    for (;;) {
        const Rtr__AcceptorState *st = rtd_reg_actions_run(r);
        if (st != NULL && r->fatal == RTR_STS_OK) {
            rtr_status_t sts = rtd_store_write(r->store, st);
            r->store_writes++;
            if (sts != RTR_STS_OK)
                rtd_reg_fail(r, sts);
        }
        /* the next follow-up event; its actions are run by the next turn */
        for (bool evented = false; !evented;) {
            if (r->fatal != RTR_STS_OK || r->regq_head == r->regq_n)
                return;
            rtd_reg_next_t nx = r->regq[r->regq_head];
            r->regq[r->regq_head++].buf = NULL; /* taken over (freed below) */
            uint64_t now = rtd_now_ms();
            if (nx.ticket != 0) {
                rtd_reg_on_persisted(r->reg, now, nx.ticket);
                evented = true;
                continue;
            }
            Rtr__Envelope *env = NULL;
            if (wire_envelope_decode(nx.buf, nx.len, 0, NULL, &env) == RTR_STS_OK) {
                r->reg_router_in++;
                (void)rtd_reg_on_router(r->reg, now, r->self_idx, env);
                wire_free((ProtobufCMessage **)&env);
                evented = true;
            }
            free(nx.buf);
        }
    }
}

void
rtd_reg_shell_start(rtd_router_t *r)
{
    if (r->reg == NULL)
        return;
    rtd_reg_start(r->reg, rtd_now_ms());
    rtd_reg_exec(r);
}

/* ---- peers --------------------------------------------------------------------------- */

static rtd_peer_t *
rtd_peer_find(rtd_peers_t *ps, const rtd_id_t *id)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].id.len == id->len && memcmp(ps->v[i].id.bytes, id->bytes, id->len) == 0)
            return &ps->v[i];
    return NULL;
}

static void
rtd_peer_lost(rtd_router_t *r, rtd_sock_t s, const rtd_id_t *id, const char *why)
{
    char t[2 * RTD_IDMAX + 1];

    RTR_LOG(CMN_LOG_NOTICE, "RTD-PEER-LOST", "socket=%s peer=\"%s\" why=%s", rtd_sock_names[s],
            rtd_id_text(id, t, sizeof t), why);
    r->sctr[s].peers_lost++;
    rtd_core_on_lost(r->core, rtd_now_ms(), s, id);
    rtd_execute(r);
}

/* rtd_peer_seen - note that `id` (incarnation inc) is alive; a new incarnation is first
 * reported as the loss of the old one. Returns false if the table could not grow. */
static bool
rtd_peer_seen(rtd_router_t *r, rtd_sock_t s, const rtd_id_t *id, uint64_t inc, uint64_t now)
{
    rtd_peers_t *ps = &r->peers[s];
    rtd_peer_t *p = rtd_peer_find(ps, id);

    if (p != NULL && p->incarnation != inc) {
        rtd_peer_lost(r, s, id, "new_incarnation");
        p = rtd_peer_find(ps, id);
    }
    if (p == NULL) {
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 16;
            rtd_peer_t *v = realloc(ps->v, cap * sizeof *v);
            if (v == NULL)
                return false;
            ps->v = v;
            ps->cap = cap;
        }
        p = &ps->v[ps->n++];
        p->id = *id;
        char t[2 * RTD_IDMAX + 1];
        RTR_LOG(CMN_LOG_INFO, "RTD-PEER-NEW", "socket=%s peer=\"%s\" incarnation=%016llx",
                rtd_sock_names[s], rtd_id_text(id, t, sizeof t), (unsigned long long)inc);
        /* a backend that (re)connects learns the current register value at once */
        if (s == RTD_SOCK_PEERS && r->reg != NULL && rtd_reg_value(r->reg) != NULL)
            rtd_reg_learn_to(r, id, rtd_reg_value(r->reg));
    }
    p->incarnation = inc;
    p->last_seen_ms = now;
    return true;
}

/* rtd_heartbeat - Heartbeat to every known peer; peers silent too long are lost. */
static void
rtd_heartbeat(rtd_router_t *r, uint64_t now)
{
    Rtr__Envelope env;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;

    wire_envelope_init(&env, r->self->name, 0, r->incarnation, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    hb.seq = ++r->hb_seq;
    hb.has_sent_mono_ns = 1;
    hb.sent_mono_ns = cmn_now_mono_ns();
    const Rtr__RegisterValue *v = r->reg != NULL ? rtd_reg_value(r->reg) : NULL;
    if (v != NULL) { /* a backend that missed a RegLearn READs the value */
        hb.has_register_version = 1;
        hb.register_version = v->version;
    }
    for (int s = 0; s < 2; s++) {
        rtd_peers_t *ps = &r->peers[s];
        for (size_t i = 0; i < ps->n;) {
            if (now - ps->v[i].last_seen_ms >= (uint64_t)r->fac->settings.failure_timeout_ms) {
                rtd_id_t id = ps->v[i].id;
                ps->v[i] = ps->v[--ps->n];
                rtd_peer_lost(r, (rtd_sock_t)s, &id, "silent");
                continue;
            }
            rtd_send(r, (rtd_sock_t)s, &ps->v[i].id, &env);
            i++;
        }
    }
    for (size_t i = 0; r->links != NULL && i < r->fac->nrouters; i++)
        rtd_link_send(r, i, &env);
}

/* ---- receiving ----------------------------------------------------------------------- */

static const Rtr__Role rtd_sock_role[RTD_SOCK__COUNT] = {
    RTR__ROLE__ROLE_CLIENT,
    RTR__ROLE__ROLE_BACKEND,
    RTR__ROLE__ROLE_ADMIN,
};

/* rtd_admin_reg_change - a RegChange from rtrcli (BOOTSTRAP, FORCE, planned PROMOTE, READ):
 * the register core answers it, later, on the admin socket. Without a register the answer is
 * NOTFOUND at once. */
static void
rtd_admin_reg_change(rtd_router_t *r, const rtd_id_t *from, const Rtr__Envelope *in)
{
    Rtr__Envelope env;
    Rtr__RegChangeReply rep = RTR__REG_CHANGE_REPLY__INIT;

    r->reg_requests_in++;
    if (r->reg != NULL) {
        (void)rtd_reg_on_request(r->reg, rtd_now_ms(), RTD_SOCK_ADMIN, from, NULL, in);
        rtd_reg_exec(r);
        return;
    }
    wire_envelope_init(&env, r->self->name, 0, r->incarnation, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE_REPLY;
    env.reg_change_reply = &rep;
    rep.req_id = in->reg_change->req_id;
    rep.status = (uint32_t)RTR_STS_NOTFOUND;
    rep.reason = (char *)(uintptr_t) "the facility has no shadowed partition: no register";
    rtd_send(r, RTD_SOCK_ADMIN, from, &env);
}

static void
rtd_admin(rtd_router_t *r, const rtd_id_t *from, const Rtr__Envelope *in)
{
    Rtr__Envelope env;
    Rtr__AdminReply rep = RTR__ADMIN_REPLY__INIT;

    if (in->body_case == RTR__ENVELOPE__BODY_REG_CHANGE) {
        rtd_admin_reg_change(r, from, in);
        return;
    }
    if (in->body_case != RTR__ENVELOPE__BODY_ADMIN_REQUEST) {
        r->sctr[RTD_SOCK_ADMIN].unexpected++;
        rtd_warn(r, RTD_SOCK_ADMIN, "unexpected_body", from, RTR_STS_INVARG);
        return;
    }
    r->admin_requests++;
    rtd_admin_handle(r, in->admin_request, &rep);
    wire_envelope_init(&env, r->self->name, 0, r->incarnation, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_ADMIN_REPLY;
    env.admin_reply = &rep;
    rtd_send(r, RTD_SOCK_ADMIN, from, &env);
    free(rep.json);
    free(rep.error);
}

/* rtd_router_in - a role ROUTER envelope on the peers socket: another router's register
 * traffic or heartbeat. Only configured routers (other than this one) are accepted. */
static void
rtd_router_in(rtd_router_t *r, const rtd_id_t *from, const Rtr__Envelope *env)
{
    size_t idx = r->fac->nrouters;
    uint64_t now = rtd_now_ms();

    for (size_t i = 0; r->links != NULL && i < r->fac->nrouters; i++)
        if (i != r->self_idx && rtd_id_eq_str(from, r->fac->routers[i].name))
            idx = i;
    if (idx == r->fac->nrouters) {
        r->sctr[RTD_SOCK_PEERS].wrong_role++;
        r->router_bad++;
        rtd_warn(r, RTD_SOCK_PEERS, r->reg != NULL ? "unknown_router" : "no_register", from,
                 RTR_STS_NOACCESS);
        return;
    }
    rtd_rlink_t *l = &r->links[idx];
    uint64_t inc = env->has_incarnation ? env->incarnation : 0;
    if (l->last_seen_ms == 0 || l->incarnation != inc ||
        now - l->last_seen_ms >= (uint64_t)r->fac->settings.failure_timeout_ms)
        RTR_LOG(CMN_LOG_INFO, "RTD-ROUTER-UP", "router=%s incarnation=%016llx", l->cfg->name,
                (unsigned long long)inc);
    l->incarnation = inc;
    l->last_seen_ms = now;
    l->received++;
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_HEARTBEAT:
        return;
    case RTR__ENVELOPE__BODY_REG_PREPARE:
    case RTR__ENVELOPE__BODY_REG_PROMISE:
    case RTR__ENVELOPE__BODY_REG_ACCEPT:
    case RTR__ENVELOPE__BODY_REG_ACCEPTED:
    case RTR__ENVELOPE__BODY_REG_LEARN:
        r->reg_router_in++;
        if (rtd_reg_on_router(r->reg, now, idx, env) != RTR_STS_OK) {
            r->sctr[RTD_SOCK_PEERS].unexpected++;
            rtd_warn(r, RTD_SOCK_PEERS, "bad_register_frame", from, RTR_STS_INVARG);
        }
        rtd_reg_exec(r);
        return;
    default:
        r->sctr[RTD_SOCK_PEERS].unexpected++;
        rtd_warn(r, RTD_SOCK_PEERS, "unexpected_body", from, RTR_STS_INVARG);
        return;
    }
}

/* rtd_backend_reg - a RegChange or LeaseRequest from backend `name`. */
static void
rtd_backend_reg(rtd_router_t *r, const rtd_id_t *from, const char *name, const Rtr__Envelope *env)
{
    uint64_t now = rtd_now_ms();

    if (r->reg == NULL) {
        r->sctr[RTD_SOCK_PEERS].unexpected++;
        rtd_warn(r, RTD_SOCK_PEERS, "no_register", from, RTR_STS_INVARG);
        return;
    }
    r->reg_requests_in++;
    (void)rtd_reg_on_request(r->reg, now, RTD_SOCK_PEERS, from, name, env);
    rtd_reg_exec(r);
}

/* rtd_dispatch - one valid envelope from socket s. */
static void
rtd_dispatch(rtd_router_t *r, rtd_sock_t s, const rtd_id_t *from, const Rtr__Envelope *env)
{
    uint64_t now = rtd_now_ms();
    const char *backend = NULL;
    rtr_status_t sts;

    if (s == RTD_SOCK_PEERS && env->has_role && env->role == RTR__ROLE__ROLE_ROUTER) {
        rtd_router_in(r, from, env);
        return;
    }
    if (!env->has_role || env->role != rtd_sock_role[s]) {
        r->sctr[s].wrong_role++;
        rtd_warn(r, s, "wrong_role", from, RTR_STS_NOACCESS);
        return;
    }
    if (s == RTD_SOCK_ADMIN) {
        rtd_admin(r, from, env);
        return;
    }
    if (s == RTD_SOCK_PEERS) {
        /* only the facility's backends are peers: a stranger is never registered */
        for (size_t b = 0; b < r->fac->nbackends && backend == NULL; b++)
            if (rtd_id_eq_str(from, r->fac->backends[b].name))
                backend = r->fac->backends[b].name;
        if (backend == NULL) {
            r->sctr[s].unexpected++;
            rtd_warn(r, s, "unknown_backend", from, RTR_STS_NOTFOUND);
            return;
        }
    }
    if (!rtd_peer_seen(r, s, from, env->has_incarnation ? env->incarnation : 0, now))
        return;
    if (s == RTD_SOCK_PEERS && (env->body_case == RTR__ENVELOPE__BODY_REG_CHANGE ||
                                env->body_case == RTR__ENVELOPE__BODY_LEASE_REQUEST)) {
        rtd_backend_reg(r, from, backend, env);
        return;
    }
    if (s == RTD_SOCK_CLIENTS)
        sts = rtd_core_on_client(r->core, now, from, env);
    else
        sts = rtd_core_on_backend(r->core, now, from, env);
    if (sts == RTR_STS_INVARG || sts == RTR_STS_NOTFOUND) {
        r->sctr[s].unexpected++;
        rtd_warn(r, s, "unexpected_body", from, sts);
    } else if (sts != RTR_STS_OK) {
        rtd_warn(r, s, "not_applied", from, sts);
    }
    rtd_execute(r);
}

static void
rtd_drain(rtd_router_t *r, rtd_sock_t s)
{
    for (int i = 0; i < RTD_BATCH; i++) {
        wire_zmq_id_t wid;
        rtd_id_t from;
        Rtr__Envelope *env = NULL;
        rtr_status_t sts;

        wid.len = 0;
        sts = wire_zmq_recv_max(r->sock[s], &wid, &r->wire[s],
                                (size_t)r->fac->settings.max_frame_bytes, &env);
        if (sts == RTR_STS_BUSY || sts == RTR_STS_IOERR)
            return; /* nothing more (an I/O error was logged by wire_zmq) */
        from.len = wid.len;
        memcpy(from.bytes, wid.bytes, wid.len);
        if (sts != RTR_STS_OK) {
            rtd_warn(r, s, "bad_frame", &from, sts);
            continue;
        }
        rtd_dispatch(r, s, &from, env);
        wire_free((ProtobufCMessage **)&env);
    }
}

static void
rtd_signal(rtd_router_t *r)
{
    struct signalfd_siginfo si;

    while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        RTR_LOG(CMN_LOG_NOTICE, "RTD-STOP", "signal=%u", si.ssi_signo);
        r->stop = true;
    }
}

rtr_status_t
rtd_net_run(rtd_router_t *r)
{
    zmq_pollitem_t items[RTD_SOCK__COUNT + 1];

    for (int s = 0; s < RTD_SOCK__COUNT; s++) {
        items[s].socket = r->sock[s];
        items[s].fd = -1;
        items[s].events = ZMQ_POLLIN;
    }
    items[RTD_SOCK__COUNT].socket = NULL;
    items[RTD_SOCK__COUNT].fd = r->sigfd;
    items[RTD_SOCK__COUNT].events = ZMQ_POLLIN;
    r->next_hb_ms = rtd_now_ms();
    while (!r->stop) {
        uint64_t now = rtd_now_ms();
        uint64_t wake = r->next_hb_ms;
        long timeout;

        if (r->timer_at_ms != 0 && r->timer_at_ms < wake)
            wake = r->timer_at_ms;
        if (r->reg_timer_at_ms != 0 && r->reg_timer_at_ms < wake)
            wake = r->reg_timer_at_ms;
        timeout = wake > now ? (long)(wake - now) : 0;
        if (zmq_poll(items, RTD_SOCK__COUNT + 1, timeout) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            RTR_LOG(CMN_LOG_ERR, "RTD-POLL", "err=\"%s\"", zmq_strerror(zmq_errno()));
            return RTR_STS_IOERR;
        }
        if (items[RTD_SOCK__COUNT].revents & ZMQ_POLLIN)
            rtd_signal(r);
        for (int s = 0; s < RTD_SOCK__COUNT; s++)
            if (items[s].revents & ZMQ_POLLIN)
                rtd_drain(r, (rtd_sock_t)s);
        now = rtd_now_ms();
        if (r->timer_at_ms != 0 && now >= r->timer_at_ms) {
            r->timer_at_ms = 0;
            rtd_core_on_timer(r->core, now);
            rtd_execute(r);
        }
        if (r->reg_timer_at_ms != 0 && now >= r->reg_timer_at_ms) {
            r->reg_timer_at_ms = 0;
            rtd_reg_on_timer(r->reg, now);
            rtd_reg_exec(r);
        }
        if (now >= r->next_hb_ms) {
            rtd_heartbeat(r, now);
            r->next_hb_ms = now + (uint64_t)r->fac->settings.heartbeat_ms;
        }
    }
    return r->fatal;
}
