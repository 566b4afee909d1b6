/*
 * sim_req.c - the register world's fake requesters (docs/shadow-protocol.md §8.1, M1):
 * rtrcli (bootstrap; a second bootstrap with another uuid; FORCE of a partner), backends be1
 * and be2 behaving like the plan's members (the primary asks for a lease every heartbeat and now
 * and then SHRINKs, ADDs or RESUMEs; an in-sync secondary PROMOTEs), and the probe that reads
 * through every router at quiesce. Every requester talks to one router at a time, sends its
 * change with expected_epoch from the last value it learned, and after a timeout moves to the
 * next router with a READ: never the change again (DESIGN §6).
 *
 * Design note: a requester keeps the request in flight (kind, partition, expected epoch, node)
 * so its OK reply can be checked against it (invariant 9).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_reg_impl.h"

const char *const sim_req_names[SIM_NREQ] = { "rtrcli", "be1", "be2", "probe" };

size_t
sim_req_by_id(const rtd_id_t *id)
{
    for (size_t k = 0; k < SIM_NREQ; k++)
        if (id->len == strlen(sim_req_names[k]) &&
            memcmp(id->bytes, sim_req_names[k], id->len) == 0)
            return k;
    return SIM_NREQ;
}

/* ---- values ---------------------------------------------------------------------------- */

static Rtr__RegisterValue *
sim_value_copy(const Rtr__RegisterValue *v)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ProtobufCMessage *m = NULL;

    if (wire_encode(&v->base, 0, &buf, &len) != RTR_STS_OK)
        return NULL;
    if (wire_decode(&rtr__register_value__descriptor, buf, len, 0, NULL, &m) != RTR_STS_OK)
        m = NULL;
    free(buf);
    return (Rtr__RegisterValue *)m;
}

static void
sim_req_adopt(sim_world_t *w, sim_req_t *q, const Rtr__RegisterValue *v)
{
    if (v == NULL || (q->cur != NULL && q->cur->version >= v->version))
        return;
    Rtr__RegisterValue *c = sim_value_copy(v);
    if (c == NULL) {
        sim_check_fail(w->check, "sim", "%s: cannot copy a value", q->name);
        return;
    }
    wire_free((ProtobufCMessage **)&q->cur);
    q->cur = c;
}

/* ---- requesters -------------------------------------------------------------------------- */

/* sim_req_env - an envelope header from requester q (the body is set afterwards). */
static void
sim_req_env(sim_req_t *q, Rtr__Envelope *env, uint64_t epoch)
{
    wire_envelope_init(env, q->name, epoch, q->inc, q->role);
}

/* sim_req_change - send a RegChange as request `++req_id` to the requester's router and arm
 * its timeout. */
static void
sim_req_change(sim_world_t *w, sim_req_t *q, Rtr__RegChange *m, uint64_t epoch)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    char d[200];

    m->req_id = ++q->req_id;
    q->kind = m->kind;
    snprintf(q->part, sizeof q->part, "%s", m->partition ? m->partition : "");
    q->expected = m->expected_epoch;
    snprintf(q->node_arg, sizeof q->node_arg, "%s", m->node ? m->node : "");
    sim_req_env(q, &env, epoch);
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
    env.reg_change = m;
    TRACE(w, "%s REQ>%s %s", q->name, sim_node_name(w, q->router),
          sim_trace_env(d, sizeof d, &env));
    sim_send(w, q->node, q->router, &env, false);
    q->busy = true;
    sim_schedule(w, sim_now(w) + (uint64_t)w->fac->settings.register_timeout_ms * 1000,
                 SIM_EV_TIMEOUT, (uint32_t)(q - w->q), 0, q->req_id, NULL, 0);
}

static void
sim_req_read(sim_world_t *w, sim_req_t *q)
{
    Rtr__RegChange m = RTR__REG_CHANGE__INIT;
    const Rtr__PartitionRole *p = q->cur && q->cur->n_partitions ? q->cur->partitions[0] : NULL;

    m.kind = RTR__REG_KIND__REG_READ;
    m.partition = w->fac->partitions[0].name;
    m.has_expected_epoch = true;
    m.expected_epoch = p ? p->epoch : 0;
    sim_req_change(w, q, &m, m.expected_epoch);
}

void
sim_cli_bootstrap(sim_world_t *w, sim_req_t *q)
{
    Rtr__RegChange m = RTR__REG_CHANGE__INIT;
    Rtr__RegisterValue v = RTR__REGISTER_VALUE__INIT;
    Rtr__PartitionRole roles[2], *rp[2];
    char *in_sync[2] = { (char *)(uintptr_t) "be1", (char *)(uintptr_t) "be2" };

    v.version = 1;
    v.facility = w->fac->name;
    v.facility_uuid.data = q->uuid;
    v.facility_uuid.len = sizeof q->uuid;
    for (size_t i = 0; i < w->fac->npartitions && i < 2; i++) {
        rtr__partition_role__init(&roles[i]);
        roles[i].partition = w->fac->partitions[i].name;
        roles[i].epoch = 1;
        roles[i].primary = in_sync[0];
        roles[i].n_in_sync = 2;
        roles[i].in_sync = in_sync;
        roles[i].partner = in_sync[1];
        rp[i] = &roles[i];
    }
    v.n_partitions = w->fac->npartitions < 2 ? w->fac->npartitions : 2;
    v.partitions = rp;
    m.kind = RTR__REG_KIND__REG_BOOTSTRAP;
    m.bootstrap = &v;
    sim_req_change(w, q, &m, 0);
}

bool
sim_in_sync(const Rtr__PartitionRole *p, const char *node)
{
    for (size_t i = 0; i < p->n_in_sync; i++)
        if (strcmp(p->in_sync[i], node) == 0)
            return true;
    return false;
}

/* sim_be_change - a backend decides whether to ask for a change now, as the plan's members
 * would: the primary SHRINKs its partner, ADDs it back or RESUMEs; an in-sync secondary
 * PROMOTEs (planned now and then, so the lease veto is waived). Always with expected_epoch
 * from the last value it learned. */
static void
sim_be_change(sim_world_t *w, sim_req_t *q)
{
    Rtr__RegChange m = RTR__REG_CHANGE__INIT;
    const char *partner = strcmp(q->name, "be1") == 0 ? "be2" : "be1";
    const Rtr__PartitionRole *p;

    if (q->cur == NULL || q->cur->n_partitions == 0)
        return;
    p = q->cur->partitions[sim_rng_below(&w->rreq, q->cur->n_partitions)];
    m.partition = p->partition;
    m.has_expected_epoch = true;
    m.expected_epoch = p->epoch;
    if (strcmp(p->primary, q->name) == 0) {
        uint64_t c = sim_rng_below(&w->rreq, 3);
        if (c == 0) {
            m.kind = RTR__REG_KIND__REG_RESUME;
        } else if (sim_in_sync(p, partner)) {
            m.kind = RTR__REG_KIND__REG_SHRINK;
            m.node = (char *)(uintptr_t)partner;
            m.has_single_copy_from = true;
            m.single_copy_from = 1 + sim_rng_below(&w->rreq, 1000);
        } else {
            m.kind = RTR__REG_KIND__REG_ADD;
            m.node = (char *)(uintptr_t)partner;
        }
    } else if (sim_in_sync(p, q->name)) {
        m.kind = RTR__REG_KIND__REG_PROMOTE;
        m.has_single_copy_from = true;
        m.single_copy_from = 1 + sim_rng_below(&w->rreq, 1000);
        if (sim_rng_below(&w->rreq, 4) == 0) {
            m.has_planned = true;
            m.planned = true;
        }
    } else {
        return; /* outside the in-sync set: waits (T6) */
    }
    sim_req_change(w, q, &m, p->epoch);
}

/* sim_cli_force - the operator forces the partner of a partition to be its primary
 * (`set partition P /primary=NODE /force --yes`), from the last value rtrcli saw (it may be
 * stale: then the answer is EXISTS). */
void
sim_cli_force(sim_world_t *w, sim_req_t *q)
{
    Rtr__RegChange m = RTR__REG_CHANGE__INIT;
    const Rtr__PartitionRole *p;

    if (!q->done || q->busy || q->cur == NULL || q->cur->n_partitions == 0)
        return;
    p = q->cur->partitions[sim_rng_below(&w->rreq, q->cur->n_partitions)];
    if (p->partner == NULL)
        return;
    TRACE(w, "rtrcli FORCE %s to %s", p->partition, p->partner);
    m.kind = RTR__REG_KIND__REG_FORCE;
    m.partition = p->partition;
    m.has_expected_epoch = true;
    m.expected_epoch = p->epoch;
    m.node = p->partner;
    m.has_single_copy_from = true;
    m.single_copy_from = 1 + sim_rng_below(&w->rreq, 1000);
    sim_req_change(w, q, &m, p->epoch);
}

void
sim_be_tick(sim_world_t *w, sim_req_t *q)
{
    uint64_t now = sim_now(w);

    if (now >= q->paused_until) {
        for (size_t i = 0; q->cur != NULL && i < q->cur->n_partitions; i++) {
            const Rtr__PartitionRole *p = q->cur->partitions[i];
            if (strcmp(p->primary, q->name) != 0)
                continue;
            Rtr__LeaseRequest lr = RTR__LEASE_REQUEST__INIT;
            Rtr__Envelope env = RTR__ENVELOPE__INIT;
            lr.partition = p->partition;
            lr.epoch = p->epoch;
            lr.seq = ++q->lease_seq;
            sim_req_env(q, &env, p->epoch);
            env.body_case = RTR__ENVELOPE__BODY_LEASE_REQUEST;
            env.lease_request = &lr;
            for (size_t j = 0; j < SIM_NROUTERS; j++)
                sim_send(w, q->node, j, &env, false);
        }
        if (!q->busy) {
            if (q->cur == NULL) {
                sim_req_read(w, q);
            } else if (!w->quiesce && now >= q->next_change_at) {
                sim_be_change(w, q);
                q->next_change_at =
                    now + sim_rng_range(&w->rreq, w->change_lo, w->change_hi) * 1000;
            }
        }
    }
    sim_schedule(w, now + (uint64_t)w->fac->settings.heartbeat_ms * 1000, SIM_EV_TICK,
                 (uint32_t)(q - w->q), 0, 0, NULL, 0);
}

void
sim_probe_next(sim_world_t *w)
{
    sim_req_t *q = &w->q[SIM_RQ_PROBE];

    for (size_t j = 0; j < SIM_NROUTERS; j++) {
        if (!w->probe_ok[j]) {
            q->router = j;
            sim_req_read(w, q);
            return;
        }
    }
    q->busy = false;
}

void
sim_req_timeout(sim_world_t *w, sim_req_t *q, uint64_t req_id)
{
    if (!q->busy || req_id != q->req_id)
        return;
    TRACE(w, "%s TIMEOUT req=%" PRIu64 " at %s", q->name, req_id, sim_node_name(w, q->router));
    if (q - w->q == SIM_RQ_PROBE) {
        sim_req_read(w, q); /* the probe reads through each router in turn: same router */
        return;
    }
    q->router = (q->router + 1) % SIM_NROUTERS;
    if (q - w->q == SIM_RQ_CLI && q->kind == RTR__REG_KIND__REG_BOOTSTRAP)
        sim_cli_bootstrap(w, q); /* a bootstrap is conditional: safe to send again */
    else
        sim_req_read(w, q); /* never the change again: READ and decide from the value */
}

/* sim_check_reply - invariant 9: an OK reply answers the request it claims to (same requester
 * incarnation's req_id): its value is the change applied, at expected_epoch + 1. */
static void
sim_check_reply(sim_world_t *w, const sim_req_t *q, size_t from, const Rtr__RegChangeReply *m)
{
    const Rtr__RegisterValue *v = m->value;
    const Rtr__PartitionRole *p;
    const char *why = NULL;

    if (m->status != RTR_STS_OK || q->kind == RTR__REG_KIND__REG_READ)
        return;
    if (v == NULL) {
        why = "no value";
    } else if (q->kind == RTR__REG_KIND__REG_BOOTSTRAP) {
        if (v->version != 1 || v->facility_uuid.len != sizeof q->uuid ||
            memcmp(v->facility_uuid.data, q->uuid, sizeof q->uuid) != 0)
            why = "not the bootstrap value sent";
    } else if ((p = rtd_reg_role(v, q->part)) == NULL) {
        why = "the partition is missing";
    } else if (p->epoch != q->expected + 1) {
        why = "the epoch is not expected_epoch + 1";
    } else if ((q->kind == RTR__REG_KIND__REG_RESUME || q->kind == RTR__REG_KIND__REG_PROMOTE) &&
               strcmp(p->primary, q->name) != 0) {
        why = "the requester is not the primary";
    } else if (q->kind == RTR__REG_KIND__REG_SHRINK && sim_in_sync(p, q->node_arg)) {
        why = "the member is still in sync";
    } else if (q->kind == RTR__REG_KIND__REG_ADD && !sim_in_sync(p, q->node_arg)) {
        why = "the member is not in sync";
    } else if (q->kind == RTR__REG_KIND__REG_FORCE &&
               (strcmp(p->primary, q->node_arg) != 0 || !(p->flags & RTD_REG_FLAG_FORCED))) {
        why = "the forced node is not the primary, or FORCED is not set";
    } else if (q->kind == RTR__REG_KIND__REG_FORCE &&
               m->wait_ms != w->cfg.lease_ms + w->cfg.lease_margin_ms) {
        why = "a FORCE must wait lease_ms + lease_margin_ms (shadow-protocol 5.6)";
    } else if (q->kind != RTR__REG_KIND__REG_FORCE && m->wait_ms != 0) {
        why = "only a FORCE waits (shadow-protocol 5.6)";
    }
    if (why != NULL)
        sim_check_fail(w->check, "9-reply-matches-request",
                       "%s answered OK to %s's request %" PRIu64 " (kind %d, %s, expected epoch "
                       "%" PRIu64 "): %s",
                       sim_node_name(w, from), q->name, q->req_id, (int)q->kind, q->part,
                       q->expected, why);
}

void
sim_req_deliver(sim_world_t *w, size_t k, size_t from, const uint8_t *buf, size_t len)
{
    sim_req_t *q = &w->q[k];
    Rtr__Envelope *env = NULL;
    char d[200];
    rtr_status_t st = wire_envelope_decode(buf, len, 0, NULL, &env);

    if (st != RTR_STS_OK) {
        sim_check_fail(w->check, "wire", "%s>%s: a frame the strict decoder refuses: %s",
                       sim_node_name(w, from), q->name, rtr_status_name(st));
        return;
    }
    TRACE(w, "%s>%s %s", sim_node_name(w, from), q->name, sim_trace_env(d, sizeof d, env));
    if (env->body_case == RTR__ENVELOPE__BODY_REG_LEARN) {
        sim_req_adopt(w, q, env->reg_learn->value);
    } else if (env->body_case == RTR__ENVELOPE__BODY_REG_CHANGE_REPLY) {
        const Rtr__RegChangeReply *m = env->reg_change_reply;
        bool final = m->status == RTR_STS_OK || m->status == RTR_STS_EXISTS;
        if (final)
            sim_req_adopt(w, q, m->value);
        if (m->req_id == q->req_id && q->busy) {
            sim_check_reply(w, q, from, m);
            if (m->status == RTR_STS_OK)
                w->res->changes_ok++;
            else
                w->res->changes_refused++;
            if (k == SIM_RQ_CLI && q->kind == RTR__REG_KIND__REG_BOOTSTRAP) {
                if (final) {
                    q->busy = false;
                    q->done = true;
                } /* otherwise its timeout sends the bootstrap again */
            } else if (k == SIM_RQ_CLI) {
                q->busy = false;
                /* the operator looks at the newer value and forces again, now and then */
                if (q->kind == RTR__REG_KIND__REG_FORCE && m->status == RTR_STS_EXISTS &&
                    !w->quiesce && sim_rng_below(&w->rreq, 2) == 0)
                    sim_cli_force(w, q);
            } else if (k == SIM_RQ_PROBE) {
                if (final) {
                    w->probe_ok[from] = true;
                    sim_probe_next(w);
                }
            } else {
                q->busy = false;
            }
        }
    }
    wire_free((ProtobufCMessage **)&env);
}

/* sim_req_restart - a backend process restarts: it forgets the value it learned and starts
 * again with a READ in a new incarnation. Its connections die with it (frames in flight to and
 * from the old process are dropped), and it numbers its requests from (incarnation << 32) as
 * bkd_core does: a late reply to the old life's request N, which a router may still send to the
 * same routing id, must not be taken for the new life's request N (invariant 9 caught the sim
 * doing that when it numbered from 1 again). */
void
sim_req_restart(sim_world_t *w, sim_req_t *q)
{
    TRACE(w, "%s RESTART", q->name);
    wire_free((ProtobufCMessage **)&q->cur);
    q->inc++;
    q->req_id = (q->inc & 0xffffffffull) << 32;
    sim_net_reset_node(w->net, q->node);
    q->busy = false;
    q->lease_seq = 0;
    q->paused_until = 0;
    q->router = (size_t)sim_rng_below(&w->rfault, SIM_NROUTERS);
}
