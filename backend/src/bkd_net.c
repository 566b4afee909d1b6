/*
 * bkd_net.c - rtr-backend's sockets and the execution of the core's actions.
 *
 * Design note: every frame goes through wire_zmq_recv (strict decode, counted per socket);
 * then the role is checked against the socket (servers: ROLE_SERVER only; router DEALERs:
 * ROLE_ROUTER only). Liveness (Heartbeat, incarnations, timeouts) is handled here, not in the
 * core: the core only hears "server lost" / "router lost". Journal actions are submitted in
 * the order the core queued them, and a FIFO maps jrn tickets back to core tickets, so that
 * "hardened up to jrn ticket T" becomes "hardened up to core ticket t".
 *
 * A failed journal (RTR_STS_JNLFAILED) stops the daemon with a non-zero exit: a backend whose
 * journal failed must fail over, never carry on (DESIGN §7).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bkd_daemon_impl.h"

static uint64_t
bkd_now_ms(void)
{
    return cmn_now_mono_ns() / 1000000u;
}

void
bkd_sock_reject(bkd_sockstat_t *st, const char *sock, const char *what, rtr_status_t sts,
                uint64_t now_ms)
{
    /* at most one line per second per socket; the counters hold the full story */
    if (now_ms < st->last_log_ms + 1000) {
        st->suppressed++;
        return;
    }
    RTR_LOG(CMN_LOG_WARNING, "BKD-REJECT", "socket=%s what=%s sts=%s suppressed=%" PRIu64, sock,
            what, rtr_status_name(sts), st->suppressed);
    st->last_log_ms = now_ms;
    st->suppressed = 0;
}

/* ---- open and close -------------------------------------------------------------------- */

/* bkd_sock_setup - linger 0 and the frame limit: `accepting` for the bound ROUTERs (servers,
 * admin), not for the DEALERs this backend connects to the routers (wire_zmq_limit). */
static rtr_status_t
bkd_sock_setup(bkd_backend_t *b, void *s, bool accepting)
{
    int linger = 0;

    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        wire_zmq_limit(s, bkd_max_frame(b), accepting) != RTR_STS_OK)
        return RTR_STS_IOERR;
    return RTR_STS_OK;
}

static rtr_status_t
bkd_bind(bkd_backend_t *b, void **out, const char *ep, const char *what)
{
    int one = 1;
    void *s = zmq_socket(b->zctx, ZMQ_ROUTER);

    *out = s;
    if (s == NULL || bkd_sock_setup(b, s, true) != RTR_STS_OK ||
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) != 0)
        return RTR_STS_IOERR;
    if (zmq_bind(s, ep) != 0) {
        int e = zmq_errno();
        RTR_LOG(CMN_LOG_CRIT, "BKD-BIND", "socket=%s endpoint=%s err=\"%s\"", what, ep,
                zmq_strerror(e));
        return e == EADDRINUSE ? RTR_STS_BUSY : RTR_STS_IOERR;
    }
    b->nbound++; /* servers, then admin: bkd_net_close unlinks the ipc files of these */
    return RTR_STS_OK;
}

rtr_status_t
bkd_net_open(bkd_backend_t *b)
{
    rtr_status_t sts;
    int one = 1;

    b->zctx = zmq_ctx_new();
    if (b->zctx == NULL)
        return RTR_STS_IOERR;
    sts = bkd_bind(b, &b->servers, b->me->servers, "servers");
    /* A server process that restarts under the same identity takes its routing over at once
     * (its new incarnation then drops the old one's state in bkd_speer_note). */
    if (sts == RTR_STS_OK &&
        zmq_setsockopt(b->servers, ZMQ_ROUTER_HANDOVER, &one, sizeof(one)) != 0)
        sts = RTR_STS_IOERR;
    if (sts == RTR_STS_OK)
        sts = bkd_bind(b, &b->admin, b->me->admin, "admin");
    if (sts != RTR_STS_OK)
        return sts;
    b->nrouters = b->fac->nrouters;
    b->routers = calloc(b->nrouters ? b->nrouters : 1, sizeof(*b->routers));
    if (b->routers == NULL)
        return RTR_STS_NOMEM;
    for (size_t i = 0; i < b->nrouters; i++) {
        bkd_rlink_t *r = &b->routers[i];
        const char *id = b->me->name;
        r->cfg = &b->fac->routers[i];
        r->sock = zmq_socket(b->zctx, ZMQ_DEALER);
        if (r->sock == NULL || bkd_sock_setup(b, r->sock, false) != RTR_STS_OK ||
            zmq_setsockopt(r->sock, ZMQ_ROUTING_ID, id, strlen(id)) != 0 ||
            /* queue only on a live connection: nothing stale piles up for a down router
             * (what it misses is covered by resends and TxQuery) */
            zmq_setsockopt(r->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
            zmq_connect(r->sock, r->cfg->peers) != 0) {
            RTR_LOG(CMN_LOG_CRIT, "BKD-CONNECT", "router=%s endpoint=%s err=\"%s\"", r->cfg->name,
                    r->cfg->peers, zmq_strerror(zmq_errno()));
            return RTR_STS_IOERR;
        }
    }
    return RTR_STS_OK;
}

void
bkd_net_close(bkd_backend_t *b)
{
    for (size_t i = 0; b->routers != NULL && i < b->nrouters; i++)
        if (b->routers[i].sock != NULL)
            zmq_close(b->routers[i].sock);
    free(b->routers);
    b->routers = NULL;
    if (b->servers != NULL)
        zmq_close(b->servers);
    if (b->admin != NULL)
        zmq_close(b->admin);
    b->servers = b->admin = NULL;
    if (b->nbound >= 1)
        wire_zmq_ipc_unlink(b->me->servers);
    if (b->nbound >= 2)
        wire_zmq_ipc_unlink(b->me->admin);
    b->nbound = 0;
    if (b->zctx != NULL)
        zmq_ctx_term(b->zctx);
    b->zctx = NULL;
}

/* ---- sending ----------------------------------------------------------------------------- */

static void
bkd_send_env(bkd_backend_t *b, bkd_sock_t sock, const char *to, const Rtr__Envelope *env)
{
    wire_zmq_id_t id;
    rtr_status_t sts = RTR_STS_NOTFOUND;
    bkd_sockstat_t *st = NULL;

    if (sock == BKD_SOCK_SERVERS) {
        wire_zmq_id_set(&id, to);
        st = &b->servers_st;
        sts = wire_zmq_send_max(b->servers, &id, env, ZMQ_DONTWAIT, bkd_max_frame(b));
    } else {
        for (size_t i = 0; i < b->nrouters; i++) {
            if (strcmp(b->routers[i].cfg->name, to) == 0) {
                st = &b->routers[i].st;
                sts = wire_zmq_send_max(b->routers[i].sock, NULL, env, ZMQ_DONTWAIT,
                                        bkd_max_frame(b));
                break;
            }
        }
    }
    if (st == NULL)
        return;
    if (sts == RTR_STS_OK) {
        st->sent++;
    } else {
        /* The peer is gone or its queue is full: its resend or our timer covers it. */
        st->send_failed++;
        RTR_LOG(CMN_LOG_DEBUG, "BKD-SENDFAIL", "to=%s sts=%s", to, rtr_status_name(sts));
    }
}

static void
bkd_fail_journal(bkd_backend_t *b, rtr_status_t sts, const char *op)
{
    RTR_LOG(CMN_LOG_CRIT, "BKD-JNLFAILED",
            "op=%s sts=%s journal=%s: stopping; this backend must fail over", op,
            rtr_status_name(sts), b->me->journal);
    b->stop = true;
    b->exit_code = 3;
}

static void
bkd_pend_push(bkd_backend_t *b, uint64_t core_ticket, uint64_t jrn_ticket)
{
    if (b->pend_count == b->pend_cap) {
        size_t cap = b->pend_cap ? b->pend_cap * 2 : 256;
        bkd_pending_t *n = malloc(cap * sizeof(*n));
        RTR_ASSERT(n != NULL);
        for (size_t i = 0; i < b->pend_count; i++)
            n[i] = b->pend[(b->pend_head + i) % b->pend_cap];
        free(b->pend);
        b->pend = n;
        b->pend_cap = cap;
        b->pend_head = 0;
    }
    b->pend[(b->pend_head + b->pend_count) % b->pend_cap] =
        (bkd_pending_t){ core_ticket, jrn_ticket };
    b->pend_count++;
}

static void
bkd_run_journal(bkd_backend_t *b, bkd_action_t *a)
{
    uint64_t jt = 0;
    rtr_status_t sts;

    if (a->kind == BKD_ACT_JOURNAL_APPEND) {
        sts = jrn_append(b->jrn, b->part_ids[a->part], a->rec, &jt);
    } else {
        jrn_batch_t *bt = jrn_batch_new();
        sts = bt == NULL
                  ? RTR_STS_NOMEM
                  : jrn_batch_set_state(bt, b->part_ids[a->part], a->n, a->state, a->moved_to);
        if (sts == RTR_STS_OK)
            sts = jrn_submit(b->jrn, &bt, &jt);
        jrn_batch_free(&bt);
    }
    if (sts == RTR_STS_OK) {
        bkd_pend_push(b, a->ticket, jt);
    } else if (sts == RTR_STS_JNLFULL && a->kind == BKD_ACT_JOURNAL_APPEND) {
        RTR_LOG(CMN_LOG_WARNING, "BKD-JNLFULL", "partition=%s csn=%" PRIu64,
                b->parts[a->part]->name, a->rec->n);
        bkd_core_journal_full(b->core, a->ticket);
    } else {
        bkd_fail_journal(b, sts, a->kind == BKD_ACT_JOURNAL_APPEND ? "append" : "set_state");
    }
}

void
bkd_net_run_actions(bkd_backend_t *b)
{
    bkd_action_t a;

    while (bkd_core_next_action(b->core, &a)) {
        switch (a.kind) {
        case BKD_ACT_SEND:
            bkd_send_env(b, a.sock, a.to, a.env);
            break;
        case BKD_ACT_JOURNAL_APPEND:
        case BKD_ACT_JOURNAL_SET_STATE:
            if (!b->stop)
                bkd_run_journal(b, &a);
            break;
        case BKD_ACT_ARM_TIMER:
            if (a.deadline_ms < b->core_deadline_ms)
                b->core_deadline_ms = a.deadline_ms;
            break;
        }
        bkd_action_clear(&a);
    }
}

void
bkd_net_journal_in(bkd_backend_t *b)
{
    uint64_t hardened = 0, core_t = 0;
    rtr_status_t sts = jrn_poll(b->jrn, &hardened);

    if (sts != RTR_STS_OK) {
        bkd_fail_journal(b, sts, "poll");
        return;
    }
    while (b->pend_count > 0 && b->pend[b->pend_head].jrn_ticket <= hardened) {
        core_t = b->pend[b->pend_head].core_ticket;
        b->pend_head = (b->pend_head + 1) % b->pend_cap;
        b->pend_count--;
    }
    if (core_t != 0)
        bkd_core_journal_hardened(b->core, core_t);
}

/* ---- server peers ------------------------------------------------------------------------ */

static bkd_speer_t *
bkd_speer_find(bkd_backend_t *b, const char *id)
{
    for (size_t i = 0; i < b->npeers; i++)
        if (strcmp(b->peers[i].id, id) == 0)
            return &b->peers[i];
    return NULL;
}

static void
bkd_speer_drop(bkd_backend_t *b, size_t i, const char *why)
{
    char id[BKD_ID_MAX + 1];

    snprintf(id, sizeof(id), "%s", b->peers[i].id);
    RTR_LOG(CMN_LOG_NOTICE, "BKD-SRVLOST", "server=%s why=%s", id, why);
    b->peers[i] = b->peers[--b->npeers];
    bkd_core_server_lost(b->core, id);
}

/* bkd_speer_note - a valid frame from server `id` (incarnation inc): a new incarnation means it
 * restarted, so everything of the old one is dropped first. */
static void
bkd_speer_note(bkd_backend_t *b, const char *id, uint64_t inc, uint64_t now)
{
    bkd_speer_t *p = bkd_speer_find(b, id);

    if (p != NULL && p->incarnation != inc) {
        bkd_speer_drop(b, (size_t)(p - b->peers), "new_incarnation");
        p = NULL;
    }
    if (p == NULL) {
        if (b->npeers == b->peercap) {
            size_t cap = b->peercap ? b->peercap * 2 : 16;
            bkd_speer_t *n = realloc(b->peers, cap * sizeof(*n));
            RTR_ASSERT(n != NULL);
            b->peers = n;
            b->peercap = cap;
        }
        p = &b->peers[b->npeers++];
        memset(p, 0, sizeof(*p));
        snprintf(p->id, sizeof(p->id), "%s", id);
        p->incarnation = inc;
        RTR_LOG(CMN_LOG_INFO, "BKD-SRVSEEN", "server=%s incarnation=%016" PRIx64, id, inc);
    }
    p->last_seen_ms = now;
}

/* bkd_id_string - a routing id as a C string; false if it holds a NUL or is empty. */
static bool
bkd_id_string(const wire_zmq_id_t *id, char *out, size_t len)
{
    if (id->len == 0 || id->len >= len || memchr(id->bytes, 0, id->len) != NULL)
        return false;
    memcpy(out, id->bytes, id->len);
    out[id->len] = '\0';
    return true;
}

void
bkd_net_servers_in(bkd_backend_t *b)
{
    for (int k = 0; k < 256; k++) { /* bounded: other sockets get their turn */
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;
        char id[BKD_ID_MAX + 1];
        uint64_t now = bkd_now_ms();
        rtr_status_t sts =
            wire_zmq_recv_max(b->servers, &from, &b->servers_st.wire, bkd_max_frame(b), &env);

        if (sts == RTR_STS_BUSY)
            return;
        if (sts == RTR_STS_IOERR)
            return;
        if (sts != RTR_STS_OK) {
            bkd_sock_reject(&b->servers_st, "servers", "decode", sts, now);
            continue;
        }
        if (!env->has_role || env->role != RTR__ROLE__ROLE_SERVER ||
            !bkd_id_string(&from, id, sizeof(id))) {
            b->servers_st.wrong_role++;
            bkd_sock_reject(&b->servers_st, "servers", "wrong_role", RTR_STS_NOACCESS, now);
        } else {
            bkd_speer_note(b, id, env->has_incarnation ? env->incarnation : 0, now);
            if (env->body_case != RTR__ENVELOPE__BODY_HEARTBEAT &&
                bkd_core_server_msg(b->core, id, env) != RTR_STS_OK) {
                b->servers_st.unexpected++;
                bkd_sock_reject(&b->servers_st, "servers", "unexpected", RTR_STS_INVARG, now);
            }
        }
        wire_free((ProtobufCMessage **)&env);
        bkd_net_run_actions(b);
    }
}

static void
bkd_rlink_lost(bkd_backend_t *b, bkd_rlink_t *r, const char *why)
{
    RTR_LOG(CMN_LOG_NOTICE, "BKD-RTRLOST", "router=%s why=%s", r->cfg->name, why);
    r->up = false;
    bkd_core_router_lost(b->core, r->cfg->name);
}

void
bkd_net_router_in(bkd_backend_t *b, bkd_rlink_t *r)
{
    for (int k = 0; k < 256; k++) {
        Rtr__Envelope *env = NULL;
        uint64_t now = bkd_now_ms();
        rtr_status_t sts = wire_zmq_recv_max(r->sock, NULL, &r->st.wire, bkd_max_frame(b), &env);

        if (sts == RTR_STS_BUSY || sts == RTR_STS_IOERR)
            return;
        if (sts != RTR_STS_OK) {
            bkd_sock_reject(&r->st, r->cfg->name, "decode", sts, now);
            continue;
        }
        if (!env->has_role || env->role != RTR__ROLE__ROLE_ROUTER) {
            r->st.wrong_role++;
            bkd_sock_reject(&r->st, r->cfg->name, "wrong_role", RTR_STS_NOACCESS, now);
        } else {
            uint64_t inc = env->has_incarnation ? env->incarnation : 0;
            if (r->up && r->incarnation != inc)
                bkd_rlink_lost(b, r, "new_incarnation");
            if (!r->up) {
                RTR_LOG(CMN_LOG_NOTICE, "BKD-RTRUP", "router=%s incarnation=%016" PRIx64,
                        r->cfg->name, inc);
                bkd_core_router_up(b->core, r->cfg->name); /* user events go to it */
            }
            r->up = true;
            r->incarnation = inc;
            r->last_seen_ms = now;
            if (env->body_case != RTR__ENVELOPE__BODY_HEARTBEAT &&
                bkd_core_router_msg(b->core, r->cfg->name, env) != RTR_STS_OK) {
                r->st.unexpected++;
                bkd_sock_reject(&r->st, r->cfg->name, "unexpected", RTR_STS_INVARG, now);
            }
        }
        wire_free((ProtobufCMessage **)&env);
        bkd_net_run_actions(b);
    }
}

/* ---- heartbeats and liveness --------------------------------------------------------------- */

void
bkd_net_heartbeat(bkd_backend_t *b, uint64_t now_ms)
{
    Rtr__Envelope env;
    Rtr__BackendHello hello = RTR__BACKEND_HELLO__INIT;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    char **names = calloc(b->nparts ? b->nparts : 1, sizeof(*names));
    uint64_t timeout = (uint64_t)b->fac->settings.failure_timeout_ms;
    size_t i = 0;

    RTR_ASSERT(names != NULL);
    for (size_t p = 0; p < b->nparts; p++)
        names[p] = b->parts[p]->name;
    hello.n_partitions = b->nparts;
    hello.partitions = names;
    hello.has_servers = 1;
    hello.servers = bkd_core_server_count(b->core);
    b->hb_seq++;
    for (size_t r = 0; r < b->nrouters; r++) {
        bkd_rlink_t *rl = &b->routers[r];
        wire_envelope_init(&env, b->me->name, 0, b->incarnation, RTR__ROLE__ROLE_BACKEND);
        env.body_case = RTR__ENVELOPE__BODY_BACKEND_HELLO;
        env.backend_hello = &hello;
        bkd_send_env(b, BKD_SOCK_ROUTER, rl->cfg->name, &env);
        if (rl->up && now_ms > rl->last_seen_ms + timeout)
            bkd_rlink_lost(b, rl, "timeout");
    }
    free(names);
    hb.seq = b->hb_seq;
    hb.has_sent_mono_ns = 1;
    hb.sent_mono_ns = cmn_now_mono_ns();
    while (i < b->npeers) {
        if (now_ms > b->peers[i].last_seen_ms + timeout) {
            bkd_speer_drop(b, i, "timeout"); /* moves the last peer into slot i */
            continue;
        }
        wire_envelope_init(&env, b->me->name, 0, b->incarnation, RTR__ROLE__ROLE_BACKEND);
        env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        bkd_send_env(b, BKD_SOCK_SERVERS, b->peers[i].id, &env);
        i++;
    }
    bkd_net_run_actions(b);
}
