/*
 * bkd_admin.c - rtr-backend's admin endpoint: AdminRequest -> AdminReply with one JSON object
 * {"title", "columns", "rows", plus scalar fields} built with jansson (the brief's convention,
 * rendered by rtrcli). Commands: show backend | partition | server | transaction [TID] |
 * counters | meta. Only ROLE_ADMIN envelopes carrying an AdminRequest are answered; anything
 * else is counted and never applied.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

#include "bkd_daemon_impl.h"

static json_t *
bkd_table(const char *title, const char *const *cols)
{
    json_t *o = json_object(), *c = json_array();
    for (size_t i = 0; cols[i] != NULL; i++)
        json_array_append_new(c, json_string(cols[i]));
    json_object_set_new(o, "title", json_string(title));
    json_object_set_new(o, "columns", c);
    json_object_set_new(o, "rows", json_array());
    return o;
}

static void
bkd_row(json_t *o, json_t *row)
{
    json_array_append_new(json_object_get(o, "rows"), row);
}

static json_t *
bkd_show_backend(bkd_backend_t *b)
{
    static const char *const cols[] = { "router", "endpoint", "state", "incarnation", NULL };
    json_t *o = bkd_table("backend", cols);
    char inc[24];
    jrn_stats_t js;

    snprintf(inc, sizeof(inc), "%016" PRIx64, b->incarnation);
    json_object_set_new(o, "node", json_string(b->me->name));
    json_object_set_new(o, "incarnation", json_string(inc));
    json_object_set_new(o, "state", json_string("active"));
    json_object_set_new(o, "journal", json_string(b->me->journal));
    json_object_set_new(o, "servers", json_integer(bkd_core_server_count(b->core)));
    json_object_set_new(o, "uptime_ms",
                        json_integer((json_int_t)(cmn_now_wall_ms() - b->started_ms)));
    jrn_stats(b->jrn, &js);
    json_object_set_new(o, "journal_records", json_integer((json_int_t)js.live_records));
    json_object_set_new(o, "journal_bytes", json_integer((json_int_t)js.live_bytes));
    for (size_t i = 0; i < b->nrouters; i++) {
        const bkd_rlink_t *r = &b->routers[i];
        snprintf(inc, sizeof(inc), "%016" PRIx64, r->incarnation);
        bkd_row(o, json_pack("[s s s s]", r->cfg->name, r->cfg->peers, r->up ? "up" : "down", inc));
    }
    return o;
}

/* bkd_part_row - the columns of show partition: the first eight as before shadow pairs (tests
 * and tools read them by position), then the shadow pair's (docs/shadow-protocol.md §9.1). */
static void
bkd_part_row(void *arg, const bkd_part_info_t *pi)
{
    bkd_row(arg, json_pack("[s s I I I i i i s s b I I I I I s s b b I I I I I I I I]", pi->name,
                           pi->state != NULL ? pi->state : "active", (json_int_t)pi->epoch,
                           (json_int_t)pi->next_n, (json_int_t)pi->hardened_n, (int)pi->servers,
                           (int)pi->queued, (int)pi->active, bkd_role_name(pi->role),
                           pi->partner != NULL ? pi->partner : "", (int)pi->partner_up,
                           (json_int_t)pi->applied_n, (json_int_t)pi->partner_hardened,
                           (json_int_t)pi->partner_applied, (json_int_t)pi->lag_records,
                           (json_int_t)pi->lag_bytes, pi->out_reason != NULL ? pi->out_reason : "",
                           pi->reason != NULL ? pi->reason : "", (int)pi->serving,
                           (int)pi->lease_held, (json_int_t)pi->reg_version,
                           (json_int_t)pi->single_copy_commits, (json_int_t)pi->single_copy_from,
                           (json_int_t)pi->stalled_ms, (json_int_t)pi->mitt, (json_int_t)pi->behind,
                           (json_int_t)pi->catchup_rate, (json_int_t)pi->eta_ms));
}

static json_t *
bkd_show_partition(bkd_backend_t *b)
{
    static const char *const cols[] = { "partition",
                                        "state",
                                        "epoch",
                                        "next_csn",
                                        "hardened_csn",
                                        "servers",
                                        "queued",
                                        "in_progress",
                                        "role",
                                        "partner",
                                        "partner_up",
                                        "applied_n",
                                        "partner_hardened",
                                        "partner_applied",
                                        "lag_records",
                                        "lag_bytes",
                                        "out_reason",
                                        "reason",
                                        "serving",
                                        "lease_held",
                                        "register_version",
                                        "single_copy_commits",
                                        "single_copy_from",
                                        "stalled_ms",
                                        "mitt",
                                        "behind",
                                        "catchup_rate",
                                        "eta_ms",
                                        NULL };
    json_t *o = bkd_table("partitions", cols);
    json_object_set_new(o, "node", json_string(b->me->name));
    bkd_core_each_part(b->core, bkd_part_row, o);
    return o;
}

static void
bkd_server_row(void *arg, const bkd_server_info_t *si)
{
    bkd_row(arg, json_pack("[s i s i s s]", si->id, (int)si->channel, si->partition, (int)si->flags,
                           si->busy ? "busy" : "free", si->tid));
}

static json_t *
bkd_show_server(bkd_backend_t *b)
{
    static const char *const cols[] = { "server", "channel", "partition", "flags",
                                        "state",  "tid",     NULL };
    json_t *o = bkd_table("servers", cols);
    json_object_set_new(o, "node", json_string(b->me->name));
    bkd_core_each_server(b->core, bkd_server_row, o);
    return o;
}

static void
bkd_tx_row(void *arg, const bkd_tx_info_t *ti)
{
    bkd_row(arg,
            json_pack("[s s s s i s i i i I I i]", ti->tid, ti->partition,
                      bkd_tx_state_name(ti->state), ti->router, (int)ti->channel,
                      ti->server ? ti->server : "", (int)ti->nmsgs, (int)ti->vote_nmsgs,
                      ti->server_vote, (json_int_t)ti->epoch, (json_int_t)ti->n, (int)ti->replays));
}

static json_t *
bkd_show_transaction(bkd_backend_t *b, const Rtr__AdminRequest *rq, char **err)
{
    static const char *const cols[] = { "tid",         "partition", "state", "router",
                                        "channel",     "server",    "msgs",  "vote_nmsgs",
                                        "server_vote", "epoch",     "csn",   "replays",
                                        NULL };
    json_t *o = bkd_table("transactions", cols);
    cmn_tid_t t;
    bkd_tx_info_t ti;

    if (rq->n_args == 0) {
        bkd_core_each_tx(b->core, bkd_tx_row, o);
        return o;
    }
    if (cmn_tid_parse(rq->args[0], &t) != RTR_STS_OK) {
        json_decref(o);
        *err = "bad TID: want <incarnation hex>.<counter>";
        return NULL;
    }
    if (bkd_core_tx_info(b->core, &t, &ti) != RTR_STS_OK) {
        json_decref(o);
        *err = "no such transaction";
        return NULL;
    }
    bkd_tx_row(o, &ti);
    return o;
}

/* bkd_set_transaction - "set transaction" TID retry|done: settle a transaction in EXCEPTION;
 * the answer is the transaction as it is now. */
static json_t *
bkd_set_transaction(bkd_backend_t *b, const Rtr__AdminRequest *rq, rtr_status_t *sts, char **err)
{
    cmn_tid_t t;

    if (rq->n_args != 2 || cmn_tid_parse(rq->args[0], &t) != RTR_STS_OK ||
        (strcmp(rq->args[1], "retry") != 0 && strcmp(rq->args[1], "done") != 0)) {
        *err = "usage: set transaction TID retry|done";
        return NULL;
    }
    *sts = bkd_core_tx_settle(b->core, &t, strcmp(rq->args[1], "retry") == 0);
    if (*sts == RTR_STS_NOTFOUND) {
        *err = "no such transaction";
        return NULL;
    }
    if (*sts != RTR_STS_OK) {
        *err = "the transaction is not in EXCEPTION";
        return NULL;
    }
    return bkd_show_transaction(b, rq, err);
}

static json_t *
bkd_ctr_row(const char *sock, const bkd_sockstat_t *st)
{
    const wire_counters_t *w = &st->wire;
    return json_pack("[s I I I I I I I I I I I I I]", sock, (json_int_t)w->decoded,
                     (json_int_t)w->oversize, (json_int_t)w->malformed, (json_int_t)w->tag0,
                     (json_int_t)w->unknown, (json_int_t)w->missing, (json_int_t)w->version,
                     (json_int_t)w->nobody, (json_int_t)st->wrong_role, (json_int_t)st->unexpected,
                     (json_int_t)st->sent, (json_int_t)st->send_failed,
                     (json_int_t)st->unknown_peer);
}

static json_t *
bkd_show_counters(bkd_backend_t *b)
{
    static const char *const cols[] = { "socket",      "decoded",      "oversize",   "malformed",
                                        "tag0",        "unknown",      "missing",    "version",
                                        "nobody",      "wrong_role",   "unexpected", "sent",
                                        "send_failed", "unknown_peer", NULL };
    json_t *o = bkd_table("counters", cols);
    bkd_core_counters_t k;
    jrn_stats_t js;

    bkd_row(o, bkd_ctr_row("servers", &b->servers_st));
    bkd_row(o, bkd_ctr_row("admin", &b->admin_st));
    for (size_t i = 0; i < b->nrouters; i++) {
        char name[64];
        snprintf(name, sizeof(name), "router:%s", b->routers[i].cfg->name);
        bkd_row(o, bkd_ctr_row(name, &b->routers[i].st));
    }
    /* the shadow ROUTER (what arrives) and one DEALER per partner (what is sent) */
    if (b->shadow != NULL)
        bkd_row(o, bkd_ctr_row("shadow", &b->shadow_st));
    for (size_t i = 0; i < b->npartners; i++) {
        char name[300];
        const bkd_plink_t *l = &b->partners[i];
        snprintf(name, sizeof(name), "shadow:%s", l->cfg->name);
        bkd_row(o, bkd_ctr_row(name, &l->st));
    }
    bkd_core_counters(b->core, &k);
#define BKD_K(f) json_object_set_new(o, #f, json_integer((json_int_t)k.f))
    BKD_K(tx_started);
    BKD_K(tx_committed);
    BKD_K(tx_aborted);
    BKD_K(tx_exception);
    BKD_K(tx_reused);
    BKD_K(tx_forgotten);
    BKD_K(replays);
    BKD_K(moved);
    BKD_K(duplicates);
    BKD_K(nacks_sent);
    BKD_K(resends);
    BKD_K(unexpected);
    BKD_K(jnlfull);
    BKD_K(queries);
    BKD_K(tx_noserver);
    BKD_K(tx_fenced);
    BKD_K(retries);
    BKD_K(events_forwarded);
    BKD_K(events_dropped);
    BKD_K(shadow_batches);
    BKD_K(shadow_records_sent);
    BKD_K(shadow_resent);
    BKD_K(shadow_acks);
    BKD_K(shadow_nacks_recv);
    BKD_K(shadow_records_recv);
    BKD_K(shadow_dups);
    BKD_K(shadow_gaps);
    BKD_K(shadow_executed);
    BKD_K(shadow_divergence);
    BKD_K(shadow_unexpected);
    BKD_K(shadow_partner_lost);
    BKD_K(reg_requests);
    BKD_K(reg_timeouts);
    BKD_K(reg_learned);
    BKD_K(reg_unexpected);
    BKD_K(reg_behind);
    BKD_K(catchup_dropped);
    BKD_K(leases_requested);
    BKD_K(leases_granted);
    BKD_K(leases_refused);
    BKD_K(fenced);
    BKD_K(single_copy_commits);
    BKD_K(role_events);
    BKD_K(tx_noshadow);
    BKD_K(shadow_hellos);
    BKD_K(shadow_truncations);
    BKD_K(backfill_reads);
    BKD_K(backfill_records);
    BKD_K(window_dropped);
    BKD_K(fenced_frames);
    BKD_K(unmoved);
#undef BKD_K
    jrn_stats(b->jrn, &js);
    json_object_set_new(o, "journal_flushes", json_integer((json_int_t)js.flushes));
    json_object_set_new(o, "journal_full_refusals", json_integer((json_int_t)js.full_refusals));
    json_object_set_new(o, "admin_requests", json_integer((json_int_t)b->admin_requests));
    return o;
}

/* bkd_meta_row - one partition the backend is a configured member of, as its journal holds it
 * (read-only: a partition the journal does not know yet is shown fresh, never created). */
static json_t *
bkd_meta_row(bkd_backend_t *b, const cmn_partition_t *p, const char *role)
{
    uint32_t id = UINT32_MAX, n = jrn_partition_count(b->jrn);
    uint64_t epoch = 0, highest = 0, last_n = 0, last_epoch = 0;
    Rtr__JournalMeta *m = NULL;
    json_t *hist = json_array();

    for (uint32_t i = 0; i < n && id == UINT32_MAX; i++) {
        const char *name = jrn_partition_name(b->jrn, i);
        if (name != NULL && strcmp(name, p->name) == 0)
            id = i;
    }
    if (id != UINT32_MAX && jrn_meta_get(b->jrn, id, &m) == RTR_STS_OK) {
        epoch = m->has_epoch ? m->epoch : 0;
        highest = m->has_highest_epoch_seen ? m->highest_epoch_seen : 0;
        (void)jrn_last_n(b->jrn, id, &last_n);
        for (size_t k = 0; k < m->n_history; k++) {
            json_array_append_new(hist, json_pack("[I I]", (json_int_t)m->history[k]->epoch,
                                                  (json_int_t)m->history[k]->first_n));
            /* the epoch of the record at last_n: the last entry starting at or below it */
            if (last_n != 0 && m->history[k]->first_n <= last_n)
                last_epoch = m->history[k]->epoch;
        }
        wire_free((ProtobufCMessage **)&m);
    }
    return json_pack("[s s I I I I o]", p->name, role, (json_int_t)epoch, (json_int_t)highest,
                     (json_int_t)last_n, (json_int_t)last_epoch, hist);
}

/* bkd_show_meta - "show meta": per partition this backend is a member of (primary, secondary
 * or standby in the config), the journal's meta epoch, highest_epoch_seen, last CSN held, the
 * epoch of that record and the epoch history. rtrcli bootstrap facility builds the first
 * register value from it (docs/shadow-protocol.md §5.7). Read-only. */
static json_t *
bkd_show_meta(bkd_backend_t *b)
{
    static const char *const cols[] = { "partition", "member",     "epoch",   "highest_epoch_seen",
                                        "last_n",    "last_epoch", "history", NULL };
    json_t *o = bkd_table("journal meta", cols);

    json_object_set_new(o, "node", json_string(b->me->name));
    for (size_t i = 0; i < b->fac->npartitions; i++) {
        const cmn_partition_t *p = &b->fac->partitions[i];
        const char *role = p->primary == b->me     ? "primary"
                           : p->secondary == b->me ? "secondary"
                                                   : NULL;
        for (size_t k = 0; role == NULL && k < p->nstandby; k++)
            if (p->standby[k] == b->me)
                role = "standby";
        if (role != NULL)
            bkd_row(o, bkd_meta_row(b, p, role));
    }
    return o;
}

/* bkd_admin_exec - run one command; the JSON (caller frees) or NULL with *sts and *err. */
static char *
bkd_admin_exec(bkd_backend_t *b, const Rtr__AdminRequest *rq, rtr_status_t *sts, const char **err)
{
    json_t *o = NULL;
    char *e = NULL, *out;

    *sts = RTR_STS_OK;
    if (strcmp(rq->command, "show backend") == 0)
        o = bkd_show_backend(b);
    else if (strcmp(rq->command, "show partition") == 0)
        o = bkd_show_partition(b);
    else if (strcmp(rq->command, "show server") == 0)
        o = bkd_show_server(b);
    else if (strcmp(rq->command, "show transaction") == 0)
        o = bkd_show_transaction(b, rq, &e);
    else if (strcmp(rq->command, "show counters") == 0)
        o = bkd_show_counters(b);
    else if (strcmp(rq->command, "set transaction") == 0)
        o = bkd_set_transaction(b, rq, sts, &e);
    else if (strcmp(rq->command, "show meta") == 0)
        o = bkd_show_meta(b);
    else
        e = "unknown command (backend: show backend|partition|server|transaction [TID]|counters"
            "|meta, set transaction TID retry|done)";
    if (o == NULL) {
        if (*sts == RTR_STS_OK)
            *sts = strcmp(e, "no such transaction") == 0 ? RTR_STS_NOTFOUND : RTR_STS_INVARG;
        *err = e;
        return NULL;
    }
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (out == NULL) {
        *sts = RTR_STS_NOMEM;
        *err = "out of memory";
    }
    return out;
}

void
bkd_admin_in(bkd_backend_t *b)
{
    for (int k = 0; k < 64; k++) {
        wire_zmq_id_t from;
        Rtr__Envelope *env = NULL, out;
        Rtr__AdminReply rep = RTR__ADMIN_REPLY__INIT;
        uint64_t now = cmn_now_mono_ns() / 1000000u;
        rtr_status_t sts =
            wire_zmq_recv_max(b->admin, &from, &b->admin_st.wire, bkd_max_frame(b), &env);
        const char *err = NULL;
        char *json;

        if (sts == RTR_STS_BUSY || sts == RTR_STS_IOERR)
            return;
        if (sts != RTR_STS_OK) {
            bkd_sock_reject(&b->admin_st, "admin", "decode", sts, now);
            continue;
        }
        if (!env->has_role || env->role != RTR__ROLE__ROLE_ADMIN) {
            b->admin_st.wrong_role++;
            bkd_sock_reject(&b->admin_st, "admin", "wrong_role", RTR_STS_NOACCESS, now);
            wire_free((ProtobufCMessage **)&env);
            continue;
        }
        if (env->body_case != RTR__ENVELOPE__BODY_ADMIN_REQUEST) {
            b->admin_st.unexpected++;
            bkd_sock_reject(&b->admin_st, "admin", "unexpected", RTR_STS_INVARG, now);
            wire_free((ProtobufCMessage **)&env);
            continue;
        }
        b->admin_requests++;
        json = bkd_admin_exec(b, env->admin_request, &sts, &err);
        rep.request_id = env->admin_request->request_id;
        rep.status = sts;
        rep.json = json;
        rep.error = (char *)(uintptr_t)err;
        wire_envelope_init(&out, b->me->name, 0, b->incarnation, RTR__ROLE__ROLE_BACKEND);
        out.body_case = RTR__ENVELOPE__BODY_ADMIN_REPLY;
        out.admin_reply = &rep;
        if (wire_zmq_send_max(b->admin, &from, &out, ZMQ_DONTWAIT, bkd_max_frame(b)) == RTR_STS_OK)
            b->admin_st.sent++;
        else
            b->admin_st.send_failed++;
        free(json);
        wire_free((ProtobufCMessage **)&env);
    }
}
