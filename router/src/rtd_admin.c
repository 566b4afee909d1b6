/*
 * rtd_admin.c - the router's admin commands (AdminRequest -> AdminReply with one JSON object).
 *
 * Every answer is {"title": ..., "columns": [...], "rows": [[...], ...]} plus scalar top-level
 * fields (the brief's convention; rtrcli renders the columns as a table and the scalars as
 * "key: value" lines). Commands: "show router", "show facility", "show partition",
 * "show transaction" [TID], "show counters", "show register". Read-only: no command changes
 * the router.
 */
#include <errno.h>
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

static json_t *rtd_reg_counters_json(rtd_router_t *r);

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
    RTD_C(ring_nomem);
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
    if (r->reg != NULL) {
        json_t *rc = rtd_reg_counters_json(r);
        const char *key;
        json_t *val;
        json_object_foreach(rc, key, val)
        {
            snprintf(name, sizeof name, "register.%s", key);
            rtd_counter(o, name, (uint64_t)json_integer_value(val));
        }
        json_decref(rc);
    }
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

/* rtd_ballot - "counter.router" text of a ballot ("-" for none). */
static json_t *
rtd_ballot(bool has, uint64_t c, uint32_t node)
{
    char b[48];

    if (!has || (c == 0 && node == 0))
        return json_string("-");
    snprintf(b, sizeof b, "%llu.%u", (unsigned long long)c, node);
    return json_string(b);
}

static json_t *
rtd_hex(const uint8_t *p, size_t n)
{
    char b[2 * 32 + 1];

    if (n > 32)
        n = 32;
    for (size_t i = 0; i < n; i++)
        snprintf(b + 2 * i, 3, "%02x", p[i]);
    b[2 * n] = '\0';
    return json_string(b);
}

/* rtd_reg_links - {"r2": "up", "r3": "down", "r1": "this"}: the router links by liveness. */
static json_t *
rtd_reg_links(rtd_router_t *r, uint64_t now)
{
    json_t *o = json_object();

    for (size_t i = 0; i < r->fac->nrouters; i++) {
        const rtd_rlink_t *l = &r->links[i];
        const char *st = i == r->self_idx ? "this"
                         : l->last_seen_ms != 0 && now - l->last_seen_ms <
                                                       (uint64_t)r->fac->settings.failure_timeout_ms
                             ? "up"
                             : "down";
        json_object_set_new(o, l->cfg->name, json_string(st));
    }
    return o;
}

/* rtd_reg_counters_json - the register counters (core and shell) as one object. */
static json_t *
rtd_reg_counters_json(rtd_router_t *r)
{
    const rtd_reg_counters_t *c = rtd_reg_counters(r->reg);
    json_t *o = json_object();

#define RTD_RC(f) json_object_set_new(o, #f, json_integer((json_int_t)c->f))
    RTD_RC(requests);
    RTD_RC(duplicates);
    RTD_RC(rounds);
    RTD_RC(round_retries);
    RTD_RC(commits);
    RTD_RC(changes);
    RTD_RC(refused);
    RTD_RC(promises);
    RTD_RC(accepts);
    RTD_RC(nacks);
    RTD_RC(not_voting);
    RTD_RC(foreign_uuid);
    RTD_RC(invalid);
    RTD_RC(queue_full);
    RTD_RC(leases_granted);
    RTD_RC(leases_refused);
    RTD_RC(learned);
#undef RTD_RC
    json_object_set_new(o, "store_writes", json_integer((json_int_t)r->store_writes));
    json_object_set_new(o, "requests_in", json_integer((json_int_t)r->reg_requests_in));
    json_object_set_new(o, "router_frames_in", json_integer((json_int_t)r->reg_router_in));
    json_object_set_new(o, "learn_sent", json_integer((json_int_t)r->reg_learn_sent));
    json_object_set_new(o, "router_unknown", json_integer((json_int_t)r->router_bad));
    return o;
}

/* rtd_reg_row - one shadowed partition: its role in v (NULL: not in the value) and the last
 * lease grant of this router. */
static json_t *
rtd_reg_row(rtd_router_t *r, size_t i, const Rtr__PartitionRole *pr, uint64_t now)
{
    uint64_t gepoch = 0, grant = rtd_reg_last_grant(r->reg, i, &gepoch);
    json_t *in_sync = json_array();
    json_t *age = grant != 0 ? json_integer((json_int_t)(now - grant)) : json_null();
    json_t *ge = grant != 0 ? json_integer((json_int_t)gepoch) : json_null();

    if (pr == NULL) {
        json_decref(in_sync);
        return json_pack("[s, n, n, n, n, n, n, n, o, o]", r->fac->partitions[i].name, age, ge);
    }
    for (size_t k = 0; k < pr->n_in_sync; k++)
        json_array_append_new(in_sync, json_string(pr->in_sync[k]));
    return json_pack("[s, I, s, o, s, I, I, s, o, o]", pr->partition, (json_int_t)pr->epoch,
                     pr->primary, in_sync, pr->partner != NULL ? pr->partner : "-",
                     (json_int_t)(pr->has_single_copy_from ? pr->single_copy_from : 0),
                     (json_int_t)(pr->has_flags ? pr->flags : 0),
                     pr->changed_by != NULL ? pr->changed_by : "-", age, ge);
}

/* rtd_show_register - "show register": this router's part in the facility register. */
static json_t *
rtd_show_register(rtd_router_t *r, rtr_status_t *sts)
{
    static const char *const cols[] = { "partition",   "epoch",      "primary",
                                        "in_sync",     "partner",    "single_copy_from",
                                        "flags",       "changed_by", "lease_age_ms",
                                        "lease_epoch", NULL };
    json_t *o;
    uint64_t now = rtd_now_ms();

    if (r->reg == NULL) {
        *sts = RTR_STS_NOTFOUND;
        return NULL;
    }
    o = rtd_json_table("Facility register", cols);
    const Rtr__RegisterValue *v = rtd_reg_value(r->reg);
    const Rtr__AcceptorState *a = rtd_reg_accepted(r->reg);
    bool has_state =
        a != NULL && ((a->has_facility_uuid && a->facility_uuid.len > 0) || a->value != NULL);
    json_object_set_new(o, "node", json_string(r->self->name));
    json_object_set_new(o, "mode", json_string(rtd_reg_mode_name(rtd_reg_mode(r->reg))));
    json_object_set_new(o, "has_state", json_boolean(has_state));
    json_object_set_new(o, "state", json_string(rtd_store_dir(r->store)));
    json_object_set_new(o, "version",
                        v != NULL ? json_integer((json_int_t)v->version) : json_null());
    json_object_set_new(o, "facility_uuid",
                        v != NULL ? rtd_hex(v->facility_uuid.data, v->facility_uuid.len)
                                  : json_null());
    json_object_set_new(o, "promised",
                        a != NULL ? rtd_ballot(a->has_promised, a->promised, a->promised_node)
                                  : json_string("-"));
    json_object_set_new(
        o, "accepted",
        a != NULL ? rtd_ballot(a->has_accepted && a->value != NULL, a->accepted, a->accepted_node)
                  : json_string("-"));
    json_object_set_new(o, "accepted_version",
                        a != NULL && a->value != NULL ? json_integer((json_int_t)a->value->version)
                                                      : json_null());
    json_object_set_new(o, "routers", rtd_reg_links(r, now));
    json_object_set_new(o, "forced", json_integer(v != NULL ? (json_int_t)v->n_forced : 0));
    json_object_set_new(o, "counters", rtd_reg_counters_json(r));
    for (size_t i = 0; i < r->fac->npartitions; i++)
        if (r->fac->partitions[i].secondary != NULL)
            rtd_row_add(o, rtd_reg_row(r, i, rtd_reg_role(v, r->fac->partitions[i].name), now));
    return o;
}

static void
rtd_outcome_row(void *arg, uint64_t csn, const uint8_t tid[16])
{
    cmn_tid_t t;
    char buf[64];
    cmn_tid_unpack(tid, &t);
    cmn_tid_format(&t, buf, sizeof buf);
    json_array_append_new(arg, json_pack("[Is]", (json_int_t)csn, buf));
}

/* "show outcomes P [FROM]": partition P's outcome ring (rtd_core_outcomes), the entries with
 * CSN >= FROM, for rtrcli's FORCE loss list. */
static json_t *
rtd_show_outcomes(rtd_router_t *r, const Rtr__AdminRequest *req, rtr_status_t *sts, char *err,
                  size_t errlen)
{
    rtd_outcomes_info_t info;
    uint64_t from = 0;
    size_t i = 0;
    char *end = NULL;

    if (req->n_args < 1 || req->n_args > 2) {
        *sts = RTR_STS_INVARG;
        snprintf(err, errlen, "usage: show outcomes PARTITION [FROM_CSN]");
        return NULL;
    }
    if (req->n_args == 2) {
        errno = 0;
        from = strtoull(req->args[1], &end, 10);
        if (errno != 0 || end == req->args[1] || *end != '\0') {
            *sts = RTR_STS_INVARG;
            snprintf(err, errlen, "bad CSN \"%s\"", req->args[1]);
            return NULL;
        }
    }
    while (i < r->fac->npartitions && strcmp(r->fac->partitions[i].name, req->args[0]) != 0)
        i++;
    json_t *rows = json_array();
    if (i == r->fac->npartitions ||
        !rtd_core_outcomes(r->core, i, from, &info, rtd_outcome_row, rows)) {
        json_decref(rows);
        *sts = RTR_STS_NOTFOUND;
        snprintf(err, errlen, "no shadowed partition \"%s\" in facility %s", req->args[0],
                 r->fac->name);
        return NULL;
    }
    return json_pack("{ss ss sI sI sI sI sI sI so}", "router", r->self->name, "partition",
                     req->args[0], "incarnation", (json_int_t)r->incarnation, "from",
                     (json_int_t)from, "decided_upto", (json_int_t)info.decided_upto, "oldest",
                     (json_int_t)info.oldest, "dropped_upto", (json_int_t)info.dropped_upto,
                     "count", (json_int_t)info.count, "outcomes", rows);
}

void
rtd_admin_handle(rtd_router_t *r, const Rtr__AdminRequest *req, Rtr__AdminReply *reply)
{
    rtr_status_t sts = RTR_STS_OK;
    json_t *o = NULL;
    char err[256] = "";

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
    else if (strcmp(req->command, "show register") == 0)
        o = rtd_show_register(r, &sts);
    else if (strcmp(req->command, "show outcomes") == 0)
        o = rtd_show_outcomes(r, req, &sts, err, sizeof err);
    else
        sts = RTR_STS_INVARG;
    reply->status = (uint32_t)sts;
    if (o != NULL) {
        reply->json = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    if (sts != RTR_STS_OK) {
        char buf[256];
        if (err[0] != '\0')
            snprintf(buf, sizeof buf, "%s", err);
        else if (o == NULL && sts == RTR_STS_INVARG &&
                 strcmp(req->command, "show transaction") == 0)
            snprintf(buf, sizeof buf, "bad TID \"%s\" (expected <16 hex>.<counter>)",
                     req->n_args > 0 ? req->args[0] : "");
        else if (sts == RTR_STS_NOTFOUND && strcmp(req->command, "show register") == 0)
            snprintf(buf, sizeof buf,
                     "facility %s has no shadowed partition: its routers run no register",
                     r->fac->name);
        else if (sts == RTR_STS_NOTFOUND)
            snprintf(buf, sizeof buf, "no transaction %s on this router", req->args[0]);
        else
            snprintf(buf, sizeof buf,
                     "unknown command \"%s\" (router: show router | show facility | show "
                     "partition | show transaction [TID] | show counters | show register | show "
                     "outcomes P [FROM])",
                     req->command);
        reply->error = strdup(buf);
    }
}
