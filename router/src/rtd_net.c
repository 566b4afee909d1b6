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
 * anything else of it is applied. Nothing here touches the disk.
 */
#include <errno.h>
#include <signal.h>
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
    return RTR_STS_OK;
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
}

/* ---- receiving ----------------------------------------------------------------------- */

static const Rtr__Role rtd_sock_role[RTD_SOCK__COUNT] = {
    RTR__ROLE__ROLE_CLIENT,
    RTR__ROLE__ROLE_BACKEND,
    RTR__ROLE__ROLE_ADMIN,
};

static void
rtd_admin(rtd_router_t *r, const rtd_id_t *from, const Rtr__Envelope *in)
{
    Rtr__Envelope env;
    Rtr__AdminReply rep = RTR__ADMIN_REPLY__INIT;

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

/* rtd_dispatch - one valid envelope from socket s. */
static void
rtd_dispatch(rtd_router_t *r, rtd_sock_t s, const rtd_id_t *from, const Rtr__Envelope *env)
{
    uint64_t now = rtd_now_ms();
    rtr_status_t sts;

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
        bool known = false;
        for (size_t b = 0; b < r->fac->nbackends && !known; b++)
            known = rtd_id_eq_str(from, r->fac->backends[b].name);
        if (!known) {
            r->sctr[s].unexpected++;
            rtd_warn(r, s, "unknown_backend", from, RTR_STS_NOTFOUND);
            return;
        }
    }
    if (!rtd_peer_seen(r, s, from, env->has_incarnation ? env->incarnation : 0, now))
        return;
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
        if (now >= r->next_hb_ms) {
            rtd_heartbeat(r, now);
            r->next_hb_ms = now + (uint64_t)r->fac->settings.heartbeat_ms;
        }
    }
    return RTR_STS_OK;
}
