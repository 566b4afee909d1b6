/*
 * bkd_net.c - rtr-backend's sockets and the execution of the core's actions.
 *
 * Design note: every frame goes through wire_zmq_recv (strict decode, counted per socket);
 * then the role is checked against the socket (servers: ROLE_SERVER only; router DEALERs:
 * ROLE_ROUTER only; shadow ROUTER: ROLE_BACKEND from a configured shadow partner only).
 * Liveness (Heartbeat, incarnations, timeouts) is handled here, not in the core: the core only
 * hears "server lost" / "router lost" / "partner up" / "partner lost".
 *
 * Shadow links (docs/shadow-protocol.md §4.1): frames to a partner leave on our DEALER to its
 * `shadow` endpoint (routing id = our node name, like the router links); its frames arrive on
 * our shadow ROUTER. A RecordBatch comes from the core already encoded (BKD_ACT_SEND with
 * `frame`): it is sent as those bytes, never decoded and encoded again. Journal actions are
 * submitted in the order the core queued them, and a FIFO maps jrn tickets back to core tickets, so
 * that "hardened up to jrn ticket T" becomes "hardened up to core ticket t".
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
    b->nbound++; /* servers, admin, shadow: bkd_net_close unlinks the ipc files of these */
    return RTR_STS_OK;
}

/* bkd_partner_of - the partner backend of served partition k, or NULL when it is sole. */
static const cmn_backend_t *
bkd_partner_of(const bkd_backend_t *b, size_t k)
{
    switch (b->roles[k]) {
    case BKD_ROLE_PRIMARY:
        return b->parts[k]->secondary;
    case BKD_ROLE_MEMBER:
        return b->parts[k]->primary;
    default:
        return NULL;
    }
}

static bkd_plink_t *
bkd_plink_find(bkd_backend_t *b, const char *name)
{
    for (size_t i = 0; i < b->npartners; i++)
        if (strcmp(b->partners[i].cfg->name, name) == 0)
            return &b->partners[i];
    return NULL;
}

/* bkd_shadow_open - the shadow links: one DEALER per distinct partner, connected to its
 * `shadow` endpoint, and our shadow ROUTER bound, when this backend has any partner. */
static rtr_status_t
bkd_shadow_open(bkd_backend_t *b)
{
    int one = 1;
    rtr_status_t sts;

    b->partners = calloc(b->nparts ? b->nparts : 1, sizeof(*b->partners));
    if (b->partners == NULL)
        return RTR_STS_NOMEM;
    for (size_t k = 0; k < b->nparts; k++) {
        const cmn_backend_t *pb = bkd_partner_of(b, k);
        if (pb != NULL && bkd_plink_find(b, pb->name) == NULL)
            b->partners[b->npartners++].cfg = pb;
    }
    if (b->npartners == 0)
        return RTR_STS_OK;
    sts = bkd_bind(b, &b->shadow, b->me->shadow, "shadow");
    /* a partner that restarts takes its routing id over at once (its new incarnation then
     * tells the core, bkd_plink_note) */
    if (sts == RTR_STS_OK && zmq_setsockopt(b->shadow, ZMQ_ROUTER_HANDOVER, &one, sizeof(one)) != 0)
        sts = RTR_STS_IOERR;
    for (size_t i = 0; sts == RTR_STS_OK && i < b->npartners; i++) {
        bkd_plink_t *l = &b->partners[i];
        const char *id = b->me->name;
        l->sock = zmq_socket(b->zctx, ZMQ_DEALER);
        if (l->sock == NULL || bkd_sock_setup(b, l->sock, false) != RTR_STS_OK ||
            zmq_setsockopt(l->sock, ZMQ_ROUTING_ID, id, strlen(id)) != 0 ||
            /* queue only on a live connection, like the router links: what a down partner
             * misses is resent by the core (resend timer, partner up) */
            zmq_setsockopt(l->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
            zmq_connect(l->sock, l->cfg->shadow) != 0) {
            RTR_LOG(CMN_LOG_CRIT, "BKD-CONNECT", "partner=%s endpoint=%s err=\"%s\"", l->cfg->name,
                    l->cfg->shadow, zmq_strerror(zmq_errno()));
            sts = RTR_STS_IOERR;
        }
    }
    return sts;
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
    if (sts == RTR_STS_OK)
        sts = bkd_shadow_open(b);
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
    for (size_t i = 0; b->partners != NULL && i < b->npartners; i++)
        if (b->partners[i].sock != NULL)
            zmq_close(b->partners[i].sock);
    free(b->partners);
    b->partners = NULL;
    b->npartners = 0;
    if (b->servers != NULL)
        zmq_close(b->servers);
    if (b->admin != NULL)
        zmq_close(b->admin);
    if (b->shadow != NULL)
        zmq_close(b->shadow);
    b->servers = b->admin = b->shadow = NULL;
    if (b->nbound >= 1)
        wire_zmq_ipc_unlink(b->me->servers);
    if (b->nbound >= 2)
        wire_zmq_ipc_unlink(b->me->admin);
    if (b->nbound >= 3)
        wire_zmq_ipc_unlink(b->me->shadow);
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
    } else if (sock == BKD_SOCK_SHADOW) {
        bkd_plink_t *l = bkd_plink_find(b, to);
        if (l != NULL) {
            st = &l->st;
            sts = wire_zmq_send_max(l->sock, NULL, env, ZMQ_DONTWAIT, bkd_max_frame(b));
        }
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

/* bkd_send_frame - an Envelope the core encoded itself (a RecordBatch) to shadow partner `to`,
 * as those bytes. The core keeps its frames under max_frame; one above it would be refused by
 * the partner's decoder, so it is counted as a failed send instead (the core resends it). */
static void
bkd_send_frame(bkd_backend_t *b, const char *to, const uint8_t *frame, size_t len)
{
    bkd_plink_t *l = bkd_plink_find(b, to);

    if (l == NULL) {
        RTR_LOG(CMN_LOG_ERR, "BKD-SENDFAIL", "to=%s what=frame sts=NOTFOUND: not a partner", to);
        return;
    }
    if (len > bkd_max_frame(b)) {
        l->st.send_failed++;
        RTR_LOG(CMN_LOG_ERR, "BKD-SENDFAIL", "to=%s what=frame bytes=%zu sts=WIRE_OVERSIZE", to,
                len);
        return;
    }
    if (zmq_send(l->sock, frame, len, ZMQ_DONTWAIT) == (int)len) {
        l->st.sent++;
    } else {
        /* no live connection (ZMQ_IMMEDIATE) or its queue is full: the core resends */
        l->st.send_failed++;
        RTR_LOG(CMN_LOG_DEBUG, "BKD-SENDFAIL", "to=%s what=frame err=\"%s\"", to,
                zmq_strerror(zmq_errno()));
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
    } else if (a->kind == BKD_ACT_JOURNAL_META || a->kind == BKD_ACT_JOURNAL_TRUNCATE) {
        jrn_batch_t *bt = jrn_batch_new();
        sts = bt == NULL ? RTR_STS_NOMEM : RTR_STS_OK;
        if (sts == RTR_STS_OK && a->kind == BKD_ACT_JOURNAL_TRUNCATE)
            sts = jrn_batch_truncate(bt, b->part_ids[a->part], a->n);
        if (sts == RTR_STS_OK && a->meta != NULL) {
            a->meta->id = b->part_ids[a->part];
            sts = jrn_batch_put_meta(bt, a->meta);
        }
        if (sts == RTR_STS_OK)
            sts = jrn_submit(b->jrn, &bt, &jt);
        jrn_batch_free(&bt);
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
        bkd_fail_journal(b, sts,
                         a->kind == BKD_ACT_JOURNAL_APPEND     ? "append"
                         : a->kind == BKD_ACT_JOURNAL_META     ? "meta"
                         : a->kind == BKD_ACT_JOURNAL_TRUNCATE ? "truncate"
                                                               : "set_state");
    }
}

/* bkd_read_ctx_t - the records one BKD_ACT_JOURNAL_READ collects (packed copies). */
typedef struct {
    uint64_t max_bytes, bytes;
    size_t n, cap;
    uint64_t *ns;
    uint8_t **bufs;
    size_t *lens;
    rtr_status_t sts;
} bkd_read_ctx_t;

static int
bkd_read_one(void *arg, const jrn_entry_t *e)
{
    bkd_read_ctx_t *r = arg;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        uint64_t *ns = realloc(r->ns, cap * sizeof(*ns));
        if (ns != NULL)
            r->ns = ns;
        uint8_t **bufs = realloc(r->bufs, cap * sizeof(*bufs));
        if (bufs != NULL)
            r->bufs = bufs;
        size_t *lens = realloc(r->lens, cap * sizeof(*lens));
        if (lens != NULL)
            r->lens = lens;
        if (ns == NULL || bufs == NULL || lens == NULL) {
            r->sts = RTR_STS_NOMEM;
            return 1;
        }
        r->cap = cap;
    }
    if (wire_encode(&e->rec->base, 0, &buf, &len) != RTR_STS_OK) {
        r->sts = RTR_STS_NOMEM;
        return 1;
    }
    r->ns[r->n] = e->rec->n;
    r->bufs[r->n] = buf;
    r->lens[r->n] = len;
    r->n++;
    r->bytes += len;
    return r->bytes >= r->max_bytes;
}

/* bkd_run_read - a catching-up member's backfill: read, hand to the core, free. */
static void
bkd_run_read(bkd_backend_t *b, const bkd_action_t *a)
{
    bkd_read_ctx_t r = { .max_bytes = a->max_bytes ? a->max_bytes : 1, .sts = RTR_STS_OK };
    rtr_status_t sts = jrn_scan(b->jrn, b->part_ids[a->part], a->n, a->to_n, bkd_read_one, &r);

    if (sts == RTR_STS_OK)
        sts = r.sts;
    bkd_core_records_read(b->core, a->part, sts, r.n, r.ns, r.bufs, r.lens);
    for (size_t i = 0; i < r.n; i++)
        free(r.bufs[i]);
    free(r.ns);
    free(r.bufs);
    free(r.lens);
}

void
bkd_net_run_actions(bkd_backend_t *b)
{
    bkd_action_t a;

    while (bkd_core_next_action(b->core, &a)) {
        switch (a.kind) {
        case BKD_ACT_SEND:
            if (a.frame != NULL)
                bkd_send_frame(b, a.to, a.frame, a.framelen);
            else
                bkd_send_env(b, a.sock, a.to, a.env);
            break;
        case BKD_ACT_JOURNAL_APPEND:
        case BKD_ACT_JOURNAL_SET_STATE:
        case BKD_ACT_JOURNAL_META:
        case BKD_ACT_JOURNAL_TRUNCATE:
            if (!b->stop)
                bkd_run_journal(b, &a);
            break;
        case BKD_ACT_JOURNAL_READ:
            if (!b->stop)
                bkd_run_read(b, &a);
            break;
        case BKD_ACT_ARM_TIMER:
            if (a.deadline_ms < b->core_deadline_ms)
                b->core_deadline_ms = a.deadline_ms;
            break;
        }
        bkd_action_clear(&a); /* frees env, rec and frame */
    }
}

void
bkd_net_flush(bkd_backend_t *b)
{
    bkd_core_flush(b->core);
    bkd_net_run_actions(b);
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
            if (env->body_case == RTR__ENVELOPE__BODY_HEARTBEAT &&
                env->heartbeat->has_register_version)
                bkd_core_register_version(b->core, env->heartbeat->register_version);
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

/* ---- shadow partners ------------------------------------------------------------------------ */

/* bkd_plink_note - a valid frame from partner l with incarnation inc: its first frame, the first
 * after a silence, or the first of a new incarnation (it restarted: the core resets what it
 * kept for the old one) tells the core the partner is up. */
static void
bkd_plink_note(bkd_backend_t *b, bkd_plink_t *l, uint64_t inc, uint64_t now)
{
    if (!l->up || l->incarnation != inc) {
        RTR_LOG(CMN_LOG_NOTICE, "BKD-PARTNER-UP", "partner=%s incarnation=%016" PRIx64 "%s",
                l->cfg->name, inc,
                l->incarnation != 0 && l->incarnation != inc ? " restarted=1" : "");
        l->up = true;
        l->incarnation = inc;
        l->ups++;
        bkd_core_partner_up(b->core, l->cfg->name, inc);
    }
    l->last_seen_ms = now;
}

static void
bkd_plink_lost(bkd_backend_t *b, bkd_plink_t *l, const char *why)
{
    RTR_LOG(CMN_LOG_WARNING, "BKD-PARTNER-SILENT", "partner=%s why=%s", l->cfg->name, why);
    l->up = false;
    l->losts++;
    bkd_core_partner_lost(b->core, l->cfg->name);
}

/* bkd_shadow_one - one decoded frame from routing id `from` on the shadow ROUTER. */
static void
bkd_shadow_one(bkd_backend_t *b, const wire_zmq_id_t *from, const Rtr__Envelope *env, uint64_t now)
{
    char id[BKD_ID_MAX + 1];
    bkd_plink_t *l;

    if (!env->has_role || env->role != RTR__ROLE__ROLE_BACKEND) {
        b->shadow_st.wrong_role++;
        bkd_sock_reject(&b->shadow_st, "shadow", "wrong_role", RTR_STS_NOACCESS, now);
        return;
    }
    /* only the partners of the partitions this backend shares with them; the core checks
     * that the partition named in the body is one it shares with this very partner */
    l = bkd_id_string(from, id, sizeof(id)) ? bkd_plink_find(b, id) : NULL;
    if (l == NULL) {
        b->shadow_st.unknown_peer++;
        bkd_sock_reject(&b->shadow_st, "shadow", "unknown_peer", RTR_STS_NOACCESS, now);
        return;
    }
    if (!env->has_incarnation || env->incarnation == 0) {
        /* without it a restart could not be told from a silence */
        b->shadow_st.unexpected++;
        bkd_sock_reject(&b->shadow_st, "shadow", "no_incarnation", RTR_STS_INVARG, now);
        return;
    }
    bkd_plink_note(b, l, env->incarnation, now);
    if (env->body_case == RTR__ENVELOPE__BODY_HEARTBEAT)
        return;
    if (bkd_core_shadow_msg(b->core, l->cfg->name, env) != RTR_STS_OK) {
        b->shadow_st.unexpected++;
        bkd_sock_reject(&b->shadow_st, "shadow", "unexpected", RTR_STS_INVARG, now);
    }
}

void
bkd_net_shadow_in(bkd_backend_t *b)
{
    for (int k = 0; k < 256; k++) { /* bounded: other sockets get their turn */
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL;
        uint64_t now = bkd_now_ms();
        rtr_status_t sts =
            wire_zmq_recv_max(b->shadow, &from, &b->shadow_st.wire, bkd_max_frame(b), &env);

        if (sts == RTR_STS_BUSY || sts == RTR_STS_IOERR)
            return;
        if (sts != RTR_STS_OK) {
            bkd_sock_reject(&b->shadow_st, "shadow", "decode", sts, now);
            continue;
        }
        bkd_shadow_one(b, &from, env, now);
        wire_free((ProtobufCMessage **)&env);
        bkd_net_run_actions(b);
    }
}

/* bkd_listening - did the loop read its sockets within the last heartbeat interval? */
static bool
bkd_listening(const bkd_backend_t *b, uint64_t now_ms)
{
    return b->polled_ms == 0 || now_ms <= b->polled_ms + (uint64_t)b->fac->settings.heartbeat_ms;
}

/* bkd_shadow_heartbeat - a Heartbeat to every partner on its DEALER; loses partners silent for
 * failure_timeout_ms. */
static void
bkd_shadow_heartbeat(bkd_backend_t *b, const Rtr__Heartbeat *hb, uint64_t now_ms)
{
    uint64_t timeout =
        bkd_listening(b, now_ms) ? (uint64_t)b->fac->settings.failure_timeout_ms : UINT64_MAX / 2;

    for (size_t i = 0; i < b->npartners; i++) {
        bkd_plink_t *l = &b->partners[i];
        Rtr__Envelope env;
        wire_envelope_init(&env, b->me->name, 0, b->incarnation, RTR__ROLE__ROLE_BACKEND);
        env.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = (Rtr__Heartbeat *)(uintptr_t)hb;
        bkd_send_env(b, BKD_SOCK_SHADOW, l->cfg->name, &env);
        if (l->up && now_ms > l->last_seen_ms + timeout)
            bkd_plink_lost(b, l, "timeout");
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
    uint64_t *epochs = calloc(b->nparts ? b->nparts : 1, sizeof(*epochs));
    size_t n = 0;
    uint64_t timeout = (uint64_t)b->fac->settings.failure_timeout_ms;
    size_t i = 0;
    /* a loop that was busy (a long batch) has not read what its peers sent meanwhile: their
     * silence is judged only once it has listened again (else a catch-up's first batches made
     * the routers and servers look lost) */
    if (!bkd_listening(b, now_ms))
        timeout = UINT64_MAX / 2;

    RTR_ASSERT(names != NULL && epochs != NULL);
    /* only the partitions it serves now: a member, or a shadowed primary before it took its
     * epoch, claims no route; a shadowed claim carries its epoch (a newer one moves the route) */
    for (size_t p = 0; p < b->nparts; p++)
        if (bkd_core_claim(b->core, (uint32_t)p, &epochs[n]))
            names[n++] = (char *)(uintptr_t)b->parts[p]->name;
    hello.n_partitions = n;
    hello.partitions = names;
    hello.n_epochs = n;
    hello.epochs = epochs;
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
    free(epochs);
    hb.seq = b->hb_seq;
    hb.has_sent_mono_ns = 1;
    hb.sent_mono_ns = cmn_now_mono_ns();
    bkd_shadow_heartbeat(b, &hb, now_ms);
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
