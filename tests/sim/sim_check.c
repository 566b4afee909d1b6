/*
 * sim_check.c - the register's invariants over every value reported committed
 * (docs/shadow-protocol.md §8.2, the M1 subset; the world checks the per-message ones).
 *
 *   1. one value per version: every report of version v carries the same encoded bytes;
 *   2. one chain: the value of version v+1 is the value of version v changed by exactly one
 *      change function on one partition (epoch + 1; RESUME, SHRINK, ADD, PROMOTE or FORCE);
 *      version 1 is a bootstrap value (every partition at epoch 1, primary first in in_sync);
 *   3. one primary per (partition, epoch) across all committed values.
 *
 * Design note: values are kept encoded (the comparison of invariant 1 is on bytes, which is
 * exact because protobuf-c packs a given message one way) and decoded (for the chain). Versions
 * are dense small integers, so they index an array.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

typedef struct {
    uint8_t *bytes; /* NULL: no report of this version yet */
    size_t len;
    Rtr__RegisterValue *v; /* decoded copy (owned) */
    char who[32];          /* the first reporter */
} sim_committed_t;

typedef struct {
    char part[CMN_PARTITION_NAME_MAX + 1];
    uint64_t epoch;
    char primary[CMN_NODE_NAME_MAX + 1];
} sim_epoch_t;

struct sim_check {
    sim_committed_t *c; /* by version */
    size_t cap;
    uint64_t max_version;
    sim_epoch_t *ep;
    size_t nep, capep;
    uint64_t kinds[5];
    bool failed;
    char inv[64];
    char detail[1024];
};

rtr_status_t
sim_check_new(sim_check_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? RTR_STS_OK : RTR_STS_NOMEM;
}

void
sim_check_free(sim_check_t **cp)
{
    if (cp == NULL || *cp == NULL)
        return;
    sim_check_t *c = *cp;
    for (size_t i = 0; i < c->cap; i++) {
        free(c->c[i].bytes);
        wire_free((ProtobufCMessage **)&c->c[i].v);
    }
    free(c->c);
    free(c->ep);
    free(c);
    *cp = NULL;
}

void
sim_check_fail(sim_check_t *c, const char *invariant, const char *fmt, ...)
{
    va_list ap;

    if (c->failed)
        return;
    c->failed = true;
    snprintf(c->inv, sizeof c->inv, "%s", invariant);
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
}

bool
sim_check_failed(const sim_check_t *c)
{
    return c->failed;
}

const char *
sim_check_invariant(const sim_check_t *c)
{
    return c->inv;
}

const char *
sim_check_detail(const sim_check_t *c)
{
    return c->detail;
}

uint64_t
sim_check_max_version(const sim_check_t *c)
{
    return c->max_version;
}

void
sim_check_kinds(const sim_check_t *c, uint64_t out[5])
{
    memcpy(out, c->kinds, sizeof c->kinds);
}

const char *
sim_check_primary(const sim_check_t *c, const char *part, uint64_t epoch)
{
    for (size_t i = 0; i < c->nep; i++)
        if (c->ep[i].epoch == epoch && strcmp(c->ep[i].part, part) == 0)
            return c->ep[i].primary;
    return NULL;
}

static const Rtr__PartitionRole *
sim_role(const Rtr__RegisterValue *v, const char *name)
{
    for (size_t i = 0; i < v->n_partitions; i++)
        if (strcmp(v->partitions[i]->partition, name) == 0)
            return v->partitions[i];
    return NULL;
}

static bool
sim_in(const Rtr__PartitionRole *p, const char *node)
{
    for (size_t i = 0; i < p->n_in_sync; i++)
        if (strcmp(p->in_sync[i], node) == 0)
            return true;
    return false;
}

/* sim_subset - every member of a's in_sync is in b's */
static bool
sim_subset(const Rtr__PartitionRole *a, const Rtr__PartitionRole *b)
{
    for (size_t i = 0; i < a->n_in_sync; i++)
        if (!sim_in(b, a->in_sync[i]))
            return false;
    return true;
}

static bool
sim_role_equal(const Rtr__PartitionRole *a, const Rtr__PartitionRole *b)
{
    uint8_t *x = NULL, *y = NULL;
    size_t lx = 0, ly = 0;
    bool eq = false;

    if (wire_encode(&a->base, 0, &x, &lx) == RTR_STS_OK &&
        wire_encode(&b->base, 0, &y, &ly) == RTR_STS_OK)
        eq = lx == ly && memcmp(x, y, lx) == 0;
    free(x);
    free(y);
    return eq;
}

/* sim_check_shape - what every committed value must look like on its own. */
static void
sim_check_shape(sim_check_t *c, const Rtr__RegisterValue *v)
{
    for (size_t i = 0; i < v->n_partitions; i++) {
        const Rtr__PartitionRole *p = v->partitions[i];
        if (p->n_in_sync == 0 || strcmp(p->in_sync[0], p->primary) != 0)
            sim_check_fail(c, "2-chain",
                           "version %" PRIu64 " partition %s: in_sync does not start with the "
                           "primary %s",
                           v->version, p->partition, p->primary);
        for (size_t j = 0; j < i; j++)
            if (strcmp(v->partitions[j]->partition, p->partition) == 0)
                sim_check_fail(c, "2-chain", "version %" PRIu64 " names partition %s twice",
                               v->version, p->partition);
    }
}

/* sim_check_step - invariant 2 for one link of the chain: b (version a+1) from a. */
static void
sim_check_step(sim_check_t *c, const Rtr__RegisterValue *a, const Rtr__RegisterValue *b)
{
    size_t changed = 0;

    if (strcmp(a->facility, b->facility) != 0 || a->facility_uuid.len != b->facility_uuid.len ||
        memcmp(a->facility_uuid.data, b->facility_uuid.data, a->facility_uuid.len) != 0) {
        sim_check_fail(c, "2-chain", "version %" PRIu64 " has another facility or uuid",
                       b->version);
        return;
    }
    if (a->n_partitions != b->n_partitions) {
        sim_check_fail(c, "2-chain",
                       "version %" PRIu64 " has %zu partitions, version %" PRIu64 " had %zu",
                       b->version, b->n_partitions, a->version, a->n_partitions);
        return;
    }
    for (size_t i = 0; i < b->n_partitions; i++) {
        const Rtr__PartitionRole *q = b->partitions[i];
        const Rtr__PartitionRole *p = sim_role(a, q->partition);
        if (p == NULL) {
            sim_check_fail(c, "2-chain", "version %" PRIu64 " adds partition %s", b->version,
                           q->partition);
            return;
        }
        if (sim_role_equal(p, q))
            continue;
        changed++;
        if (q->epoch != p->epoch + 1) {
            sim_check_fail(c, "2-chain",
                           "version %" PRIu64 " partition %s: epoch %" PRIu64 " after %" PRIu64
                           " (a change adds exactly 1)",
                           b->version, q->partition, q->epoch, p->epoch);
            return;
        }
        bool same_pri = strcmp(p->primary, q->primary) == 0;
        bool resume = same_pri && q->n_in_sync == p->n_in_sync && sim_subset(q, p);
        bool shrink = same_pri && q->n_in_sync + 1 == p->n_in_sync && sim_subset(q, p);
        bool add = same_pri && q->n_in_sync == p->n_in_sync + 1 && sim_subset(p, q) &&
                   q->single_copy_from == 0;
        bool promote = !same_pri && sim_in(p, q->primary) && q->n_in_sync == 1 &&
                       q->partner != NULL && strcmp(q->partner, p->primary) == 0;
        bool force = !same_pri && (q->flags & 1u) && q->n_in_sync == 1;
        c->kinds[resume ? 0 : shrink ? 1 : add ? 2 : promote ? 3 : 4]++;
        if (!(resume || shrink || add || promote || force))
            sim_check_fail(c, "2-chain",
                           "version %" PRIu64 " partition %s: no change function turns "
                           "primary %s (%zu in sync) into primary %s (%zu in sync)",
                           b->version, q->partition, p->primary, p->n_in_sync, q->primary,
                           q->n_in_sync);
    }
    if (changed != 1)
        sim_check_fail(c, "2-chain",
                       "version %" PRIu64 " changes %zu partitions (a change is exactly one)",
                       b->version, changed);
}

static void
sim_check_epochs(sim_check_t *c, const char *who, const Rtr__RegisterValue *v)
{
    for (size_t i = 0; i < v->n_partitions; i++) {
        const Rtr__PartitionRole *p = v->partitions[i];
        const char *pri = sim_check_primary(c, p->partition, p->epoch);
        if (pri != NULL) {
            if (strcmp(pri, p->primary) != 0)
                sim_check_fail(c, "3-one-primary-per-epoch",
                               "partition %s epoch %" PRIu64 ": primary %s, and %s in version "
                               "%" PRIu64 " reported by %s",
                               p->partition, p->epoch, pri, p->primary, v->version, who);
            continue;
        }
        if (c->nep == c->capep) {
            size_t cap = c->capep ? c->capep * 2 : 16;
            sim_epoch_t *e = realloc(c->ep, cap * sizeof *e);
            if (e == NULL)
                return;
            c->ep = e;
            c->capep = cap;
        }
        sim_epoch_t *e = &c->ep[c->nep++];
        snprintf(e->part, sizeof e->part, "%s", p->partition);
        snprintf(e->primary, sizeof e->primary, "%s", p->primary);
        e->epoch = p->epoch;
    }
}

void
sim_check_committed(sim_check_t *c, const char *who, const Rtr__RegisterValue *v)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    ProtobufCMessage *copy = NULL;

    if (v->version == 0) {
        sim_check_fail(c, "1-one-value-per-version", "%s reported a committed version 0", who);
        return;
    }
    if (wire_encode(&v->base, 0, &bytes, &len) != RTR_STS_OK)
        return;
    if (v->version >= c->cap) {
        size_t cap = c->cap ? c->cap : 16;
        while (cap <= v->version)
            cap *= 2;
        sim_committed_t *n = realloc(c->c, cap * sizeof *n);
        if (n == NULL) {
            free(bytes);
            return;
        }
        memset(n + c->cap, 0, (cap - c->cap) * sizeof *n);
        c->c = n;
        c->cap = cap;
    }
    sim_committed_t *e = &c->c[v->version];
    if (e->bytes != NULL) {
        if (e->len != len || memcmp(e->bytes, bytes, len) != 0)
            sim_check_fail(c, "1-one-value-per-version",
                           "version %" PRIu64 ": %s reported a value that differs from the one "
                           "%s reported",
                           v->version, who, e->who);
        free(bytes);
        return;
    }
    if (wire_decode(&rtr__register_value__descriptor, bytes, len, 0, NULL, &copy) != RTR_STS_OK) {
        sim_check_fail(c, "1-one-value-per-version", "version %" PRIu64 " from %s does not decode",
                       v->version, who);
        free(bytes);
        return;
    }
    e->bytes = bytes;
    e->len = len;
    e->v = (Rtr__RegisterValue *)copy;
    snprintf(e->who, sizeof e->who, "%s", who);
    if (v->version > c->max_version)
        c->max_version = v->version;

    sim_check_shape(c, e->v);
    if (v->version == 1)
        for (size_t i = 0; i < e->v->n_partitions; i++)
            if (e->v->partitions[i]->epoch != 1)
                sim_check_fail(c, "2-chain", "version 1 (bootstrap) has %s at epoch %" PRIu64,
                               e->v->partitions[i]->partition, e->v->partitions[i]->epoch);
    if (v->version > 1 && c->c[v->version - 1].v != NULL)
        sim_check_step(c, c->c[v->version - 1].v, e->v);
    if (v->version + 1 < c->cap && c->c[v->version + 1].v != NULL)
        sim_check_step(c, e->v, c->c[v->version + 1].v);
    sim_check_epochs(c, who, e->v);
}
