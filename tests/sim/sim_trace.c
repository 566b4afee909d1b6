/*
 * sim_trace.c - the trace ring and envelope summaries.
 *
 * Design note: lines are fixed-size slots in a ring (no allocation per event); the hash runs
 * over every line ever added, so two runs of one seed can be compared without keeping their
 * whole traces.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct sim_trace {
    char *lines; /* cap * SIM_TRACE_LINE */
    size_t cap;
    uint64_t count;
    uint64_t hash;
    FILE *live;
};

rtr_status_t
sim_trace_new(size_t cap, FILE *live, sim_trace_t **out)
{
    sim_trace_t *t = calloc(1, sizeof *t);

    *out = NULL;
    if (t == NULL)
        return RTR_STS_NOMEM;
    t->cap = cap ? cap : 1;
    t->lines = calloc(t->cap, SIM_TRACE_LINE);
    if (t->lines == NULL) {
        free(t);
        return RTR_STS_NOMEM;
    }
    t->hash = 0xcbf29ce484222325ull;
    t->live = live;
    *out = t;
    return RTR_STS_OK;
}

void
sim_trace_free(sim_trace_t **tp)
{
    if (tp == NULL || *tp == NULL)
        return;
    free((*tp)->lines);
    free(*tp);
    *tp = NULL;
}

void
sim_trace_add(sim_trace_t *t, uint64_t t_us, const char *fmt, ...)
{
    char *slot = t->lines + (size_t)(t->count % t->cap) * SIM_TRACE_LINE;
    int k = snprintf(slot, SIM_TRACE_LINE, "t=%" PRIu64 ".%06" PRIu64 " ", t_us / 1000000,
                     t_us % 1000000);
    va_list ap;

    if (k > 0 && (size_t)k < SIM_TRACE_LINE) {
        va_start(ap, fmt);
        vsnprintf(slot + k, SIM_TRACE_LINE - (size_t)k, fmt, ap);
        va_end(ap);
    }
    for (const char *p = slot; *p; p++) {
        t->hash ^= (uint8_t)*p;
        t->hash *= 0x100000001b3ull;
    }
    t->count++;
    if (t->live != NULL)
        fprintf(t->live, "%s\n", slot);
}

void
sim_trace_dump(const sim_trace_t *t, FILE *f)
{
    uint64_t first = t->count > t->cap ? t->count - t->cap : 0;

    for (uint64_t i = first; i < t->count; i++)
        fprintf(f, "%s\n", t->lines + (size_t)(i % t->cap) * SIM_TRACE_LINE);
}

uint64_t
sim_trace_hash(const sim_trace_t *t)
{
    return t->hash;
}

uint64_t
sim_trace_count(const sim_trace_t *t)
{
    return t->count;
}

static const char *
sim_kind_name(uint32_t k)
{
    switch (k) {
    case RTR__REG_KIND__REG_READ:
        return "READ";
    case RTR__REG_KIND__REG_RESUME:
        return "RESUME";
    case RTR__REG_KIND__REG_SHRINK:
        return "SHRINK";
    case RTR__REG_KIND__REG_ADD:
        return "ADD";
    case RTR__REG_KIND__REG_PROMOTE:
        return "PROMOTE";
    case RTR__REG_KIND__REG_FORCE:
        return "FORCE";
    case RTR__REG_KIND__REG_BOOTSTRAP:
        return "BOOTSTRAP";
    default:
        return "?";
    }
}

/* sim_trace_value - "v=5[P1 e3 be1 {be1,be2}; P2 ...]" */
static void
sim_trace_value(char *buf, size_t n, const Rtr__RegisterValue *v)
{
    size_t k;

    if (v == NULL) {
        snprintf(buf, n, "v=-");
        return;
    }
    k = (size_t)snprintf(buf, n, "v=%" PRIu64 "[", v->version);
    for (size_t i = 0; i < v->n_partitions && k < n; i++) {
        const Rtr__PartitionRole *p = v->partitions[i];
        k += (size_t)snprintf(buf + k, n - k, "%s%s e%" PRIu64 " %s {", i ? "; " : "", p->partition,
                              p->epoch, p->primary);
        for (size_t j = 0; j < p->n_in_sync && k < n; j++)
            k += (size_t)snprintf(buf + k, n - k, "%s%s", j ? "," : "", p->in_sync[j]);
        if (k < n)
            k += (size_t)snprintf(buf + k, n - k, "}");
    }
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

char *
sim_trace_env(char *buf, size_t n, const Rtr__Envelope *env)
{
    char v[120];

    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_REG_CHANGE: {
        const Rtr__RegChange *m = env->reg_change;
        snprintf(buf, n, "RegChange{req=%" PRIu64 " %s %s e=%" PRIu64 "%s%s%s}", m->req_id,
                 sim_kind_name(m->kind), m->partition ? m->partition : "-", m->expected_epoch,
                 m->node ? " node=" : "", m->node ? m->node : "", m->planned ? " planned" : "");
        break;
    }
    case RTR__ENVELOPE__BODY_REG_CHANGE_REPLY: {
        const Rtr__RegChangeReply *m = env->reg_change_reply;
        sim_trace_value(v, sizeof v, m->value);
        snprintf(buf, n, "RegChangeReply{req=%" PRIu64 " %s %s}", m->req_id,
                 rtr_status_name((rtr_status_t)m->status), v);
        break;
    }
    case RTR__ENVELOPE__BODY_REG_PREPARE: {
        const Rtr__RegPrepare *m = env->reg_prepare;
        snprintf(buf, n, "RegPrepare{req=%" PRIu64 " b=%" PRIu64 ".%u%s}", m->req_id, m->ballot,
                 m->ballot_node, m->fetch ? " fetch" : "");
        break;
    }
    case RTR__ENVELOPE__BODY_REG_PROMISE: {
        const Rtr__RegPromise *m = env->reg_promise;
        sim_trace_value(v, sizeof v, m->value);
        snprintf(
            buf, n, "RegPromise{req=%" PRIu64 " %s acc=%" PRIu64 ".%u prom=%" PRIu64 ".%u%s%s %s}",
            m->req_id, m->ok ? "ok" : "no", m->accepted_ballot, m->accepted_node, m->promised,
            m->promised_node, m->learner ? " learner" : "", m->has_facility_uuid ? " uuid" : "", v);
        break;
    }
    case RTR__ENVELOPE__BODY_REG_ACCEPT: {
        const Rtr__RegAccept *m = env->reg_accept;
        sim_trace_value(v, sizeof v, m->value);
        snprintf(buf, n, "RegAccept{req=%" PRIu64 " b=%" PRIu64 ".%u %s}", m->req_id, m->ballot,
                 m->ballot_node, v);
        break;
    }
    case RTR__ENVELOPE__BODY_REG_ACCEPTED: {
        const Rtr__RegAccepted *m = env->reg_accepted;
        snprintf(buf, n, "RegAccepted{req=%" PRIu64 " %s prom=%" PRIu64 ".%u}", m->req_id,
                 m->ok ? "ok" : "no", m->promised, m->promised_node);
        break;
    }
    case RTR__ENVELOPE__BODY_REG_LEARN:
        sim_trace_value(v, sizeof v, env->reg_learn->value);
        snprintf(buf, n, "RegLearn{%s}", v);
        break;
    case RTR__ENVELOPE__BODY_LEASE_REQUEST: {
        const Rtr__LeaseRequest *m = env->lease_request;
        snprintf(buf, n, "LeaseRequest{%s e=%" PRIu64 " seq=%" PRIu64 "}", m->partition, m->epoch,
                 m->seq);
        break;
    }
    case RTR__ENVELOPE__BODY_LEASE_GRANT: {
        const Rtr__LeaseGrant *m = env->lease_grant;
        snprintf(buf, n, "LeaseGrant{%s e=%" PRIu64 " seq=%" PRIu64 " %s rv=%" PRIu64 "}",
                 m->partition, m->epoch, m->seq, m->granted ? "ok" : "no", m->register_version);
        break;
    }
    default:
        snprintf(buf, n, "body%d", (int)env->body_case);
        break;
    }
    return buf;
}
