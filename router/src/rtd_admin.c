/*
 * rtd_admin.c - the router's admin commands (AdminRequest -> AdminReply with one JSON object).
 *
 * Every answer is {"title": ..., "columns": [...], "rows": [[...], ...]} plus scalar top-level
 * fields (the brief's convention; rtrcli renders the columns as a table and the scalars as
 * "key: value" lines). Commands: "show router", "show facility", "show partition",
 * "show transaction" [TID], "show counters". Read-only: no command changes the router.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rtd_impl.h"

static json_t *
rtd_json_table(const char *title, const char *const *cols)
{
    json_t *o = json_object();
    json_t *c = json_array();

    for (size_t i = 0; cols[i] != NULL; i++)
        json_array_append_new(c, json_string(cols[i]));
    json_object_set_new(o, "title", json_string(title));
    json_object_set_new(o, "columns", c);
    json_object_set_new(o, "rows", json_array());
    return o;
}

static json_t *
rtd_json_id(const rtd_id_t *id)
{
    return json_stringn((const char *)id->bytes, id->len);
}

static void
rtd_row_add(json_t *o, json_t *row)
{
    json_array_append_new(json_object_get(o, "rows"), row);
}

static json_t *
rtd_show_router(rtd_router_t *r)
{
    static const char *const cols[] = { "peer", "kind", "incarnation", "silent_ms", NULL };
    json_t *o = rtd_json_table("Router", cols);
    uint64_t now = rtd_now_ms();
    size_t voting = 0, ntx = rtd_core_tx_count(r->core, &voting);
    char inc[17];

    snprintf(inc, sizeof inc, "%016llx", (unsigned long long)r->incarnation);
    json_object_set_new(o, "node", json_string(r->self->name));
    json_object_set_new(o, "facility", json_string(r->fac->name));
    json_object_set_new(o, "incarnation", json_string(inc));
    json_object_set_new(o, "uptime_ms", json_integer((json_int_t)(now - r->started_ms)));
    json_object_set_new(o, "clients", json_integer((json_int_t)r->peers[RTD_SOCK_CLIENTS].n));
    json_object_set_new(o, "backends", json_integer((json_int_t)r->peers[RTD_SOCK_PEERS].n));
    json_object_set_new(o, "transactions", json_integer((json_int_t)ntx));
    json_object_set_new(o, "voting", json_integer((json_int_t)voting));
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < r->peers[s].n; i++) {
            const rtd_peer_t *p = &r->peers[s].v[i];
            snprintf(inc, sizeof inc, "%016llx", (unsigned long long)p->incarnation);
            rtd_row_add(o, json_pack("[o, s, s, I]", rtd_json_id(&p->id),
                                     s == RTD_SOCK_CLIENTS ? "client" : "backend", inc,
                                     (json_int_t)(now - p->last_seen_ms)));
        }
    }
    return o;
}

static json_t *
rtd_show_facility(rtd_router_t *r)
{
    static const char *const cols[] = { "node", "kind", "state", "endpoint", NULL };
    json_t *o = rtd_json_table("Facility", cols);
    const cmn_facility_t *fac = r->fac;

    json_object_set_new(o, "facility", json_string(fac->name));
    json_object_set_new(o, "config", json_string(fac->path));
    json_object_set_new(o, "key_segments", json_integer((json_int_t)fac->nseg));
    for (size_t i = 0; i < fac->nrouters; i++) {
        const cmn_router_t *rt = &fac->routers[i];
        rtd_row_add(o, json_pack("[s, s, s, s]", rt->name, "router", rt == r->self ? "this" : "-",
                                 rt->clients));
    }
    for (size_t i = 0; i < fac->nbackends; i++)
        rtd_row_add(o, json_pack("[s, s, s, s]", fac->backends[i].name, "backend",
                                 rtd_core_backend_up(r->core, i) ? "connected" : "down",
                                 fac->backends[i].servers));
    return o;
}

static json_t *
rtd_show_partition(rtd_router_t *r)
{
    static const char *const cols[] = { "partition", "low",          "high", "backend",
                                        "since_ms",  "primary_hint", NULL };
    json_t *o = rtd_json_table("Partitions (routing view)", cols);
    const cmn_facility_t *fac = r->fac;

    for (size_t i = 0; i < fac->npartitions; i++) {
        const cmn_partition_t *p = &fac->partitions[i];
        uint64_t since = 0;
        const cmn_backend_t *b = rtd_core_route(r->core, i, &since);
        rtd_row_add(o, json_pack("[s, s, s, s, I, s]", p->name, p->low_text, p->high_text,
                                 b ? b->name : "-", (json_int_t)since, p->primary->name));
    }
    return o;
}

static json_t *
rtd_tx_row(const rtd_tx_view_t *v, uint64_t now)
{
    char tid[CMN_TID_STRLEN];

    cmn_tid_format(&v->tid, tid, sizeof tid);
    return json_pack("[s, o, I, s, s, s, I, I, I]", tid, rtd_json_id(v->client),
                     (json_int_t)v->channel, v->partition->name,
                     v->backend ? v->backend->name : "-",
                     v->phase == RTD_PHASE_VOTING ? "VOTING" : "COLLECTING", (json_int_t)v->nmsgs,
                     (json_int_t)(now - v->started_ms),
                     (json_int_t)(v->deadline_ms ? (int64_t)(v->deadline_ms - now) : 0));
}

static json_t *
rtd_show_transaction(rtd_router_t *r, const Rtr__AdminRequest *req, rtr_status_t *sts)
{
    static const char *const cols[] = { "tid",   "client", "channel", "partition",     "backend",
                                        "phase", "nmsgs",  "age_ms",  "timeout_in_ms", NULL };
    json_t *o = rtd_json_table("Transactions", cols);
    uint64_t now = rtd_now_ms();
    rtd_tx_view_t v;

    if (req->n_args > 0) {
        cmn_tid_t tid;
        if (cmn_tid_parse(req->args[0], &tid) != RTR_STS_OK) {
            *sts = RTR_STS_INVARG;
            json_decref(o);
            return NULL;
        }
        if (rtd_core_tx_find(r->core, &tid, &v))
            rtd_row_add(o, rtd_tx_row(&v, now));
        else
            *sts = RTR_STS_NOTFOUND;
        return o;
    }
    for (size_t i = 0; i < rtd_core_tx_slots(r->core); i++)
        if (rtd_core_tx_slot(r->core, i, &v))
            rtd_row_add(o, rtd_tx_row(&v, now));
    return o;
}

static void
rtd_counter(json_t *o, const char *name, uint64_t v)
{
    rtd_row_add(o, json_pack("[s, I]", name, (json_int_t)v));
}

static json_t *
rtd_show_counters(rtd_router_t *r)
{
    static const char *const cols[] = { "counter", "value", NULL };
    static const char *const sn[RTD_SOCK__COUNT] = { "clients", "peers", "admin" };
    json_t *o = rtd_json_table("Counters", cols);
    const rtd_counters_t *c = rtd_core_counters(r->core);
    size_t voting = 0, ntx = rtd_core_tx_count(r->core, &voting);
    char name[64];

#define RTD_C(f) rtd_counter(o, #f, c->f)
    RTD_C(tx_started);
    RTD_C(tx_accepted);
    RTD_C(tx_rejected);
    RTD_C(tx_nodstfnd);
    RTD_C(tx_timeout);
    RTD_C(tx_multipartition);
    RTD_C(tx_backend_lost);
    RTD_C(tx_client_lost);
    RTD_C(tx_unknown);
    RTD_C(tx_deferred);
    RTD_C(msgs_routed);
    RTD_C(msgs_duplicate);
    RTD_C(nacks_sent);
    RTD_C(nacks_relayed);
    RTD_C(votes_requested);
    RTD_C(replies_relayed);
    RTD_C(outcomes_relayed);
    RTD_C(queries);
    RTD_C(query_replies);
    RTD_C(foreign_tid);
    RTD_C(unexpected_client);
    RTD_C(unexpected_backend);
    RTD_C(unknown_backend);
    RTD_C(partition_conflict);
    RTD_C(channels_opened);
    RTD_C(events_forwarded);
    RTD_C(events_dropped);
#undef RTD_C
    rtd_counter(o, "clients_with_channels", rtd_core_client_count(r->core));
    rtd_counter(o, "tx_active", ntx);
    rtd_counter(o, "tx_voting", voting);
    rtd_counter(o, "admin_requests", r->admin_requests);
    for (int s = 0; s < RTD_SOCK__COUNT; s++) {
        const wire_counters_t *w = &r->wire[s];
        const rtd_sock_counters_t *k = &r->sctr[s];
#define RTD_S(field, v)                                     \
    do {                                                    \
        snprintf(name, sizeof name, "%s.%s", sn[s], field); \
        rtd_counter(o, name, v);                            \
    } while (0)
        RTD_S("decoded", w->decoded);
        RTD_S("rejected", wire_counters_total_rejected(w));
        RTD_S("oversize", w->oversize);
        RTD_S("malformed", w->malformed);
        RTD_S("tag0", w->tag0);
        RTD_S("unknown", w->unknown);
        RTD_S("missing", w->missing);
        RTD_S("version", w->version);
        RTD_S("nobody", w->nobody);
        RTD_S("wrong_role", k->wrong_role);
        RTD_S("unexpected", k->unexpected);
        RTD_S("send_failed", k->send_failed);
        RTD_S("peers_lost", k->peers_lost);
#undef RTD_S
    }
    return o;
}

void
rtd_admin_handle(rtd_router_t *r, const Rtr__AdminRequest *req, Rtr__AdminReply *reply)
{
    rtr_status_t sts = RTR_STS_OK;
    json_t *o = NULL;

    reply->request_id = req->request_id;
    if (strcmp(req->command, "show router") == 0)
        o = rtd_show_router(r);
    else if (strcmp(req->command, "show facility") == 0)
        o = rtd_show_facility(r);
    else if (strcmp(req->command, "show partition") == 0)
        o = rtd_show_partition(r);
    else if (strcmp(req->command, "show transaction") == 0)
        o = rtd_show_transaction(r, req, &sts);
    else if (strcmp(req->command, "show counters") == 0)
        o = rtd_show_counters(r);
    else
        sts = RTR_STS_INVARG;
    reply->status = (uint32_t)sts;
    if (o != NULL) {
        reply->json = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    if (sts != RTR_STS_OK) {
        char buf[256];
        if (o == NULL && sts == RTR_STS_INVARG && strcmp(req->command, "show transaction") == 0)
            snprintf(buf, sizeof buf, "bad TID \"%s\" (expected <16 hex>.<counter>)",
                     req->n_args > 0 ? req->args[0] : "");
        else if (sts == RTR_STS_NOTFOUND)
            snprintf(buf, sizeof buf, "no transaction %s on this router", req->args[0]);
        else
            snprintf(buf, sizeof buf,
                     "unknown command \"%s\" (router: show router | show facility | show "
                     "partition | show transaction [TID] | show counters)",
                     req->command);
        reply->error = strdup(buf);
    }
}
