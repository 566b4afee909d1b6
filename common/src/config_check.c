/*
 * config_check.c - step 4 of loading a facility file (config.c): what no single key can check.
 *
 * Design note. Step 3 (cmn_cfg_group, config.c) has checked every key on its own: its type,
 * bounds and syntax. This file turns the checked raw values into the cmn_facility_t and checks
 * them against each other; the first failed check is the report:
 *   - key segments: lengths that fit their type, segments that fit the largest message;
 *   - routers and backends: node names unique among all nodes, endpoints unique in the
 *     facility (compared in a canonical form: host lowered, port as a number, "//" collapsed);
 *   - store directories (backends' journals, routers' state): distinct, not nested, and, as
 *     the load options ask, usable here (this is the only place the loader looks at the file
 *     system after reading the file; it creates and changes nothing);
 *   - partitions: unique names; primary, secondary and standby are distinct backends, and
 *     remember = "deny" has a secondary; bounds normalized against the key segments, low <=
 *     high, no two ranges overlapping;
 *   - settings: failure_timeout_ms at least twice heartbeat_ms; the shadow-pair settings get
 *     their derived defaults and are checked against heartbeat_ms, failure_timeout_ms,
 *     max_frame_bytes and each other;
 *   - a shadowed partition needs the register: every router has a state directory (last, so
 *     that any other problem of a shadowed file is reported first);
 *   - the node named in the load options exists; an even number of routers is a warning.
 * The only entry point is cmn_cfg_build (config_impl.h); everything else here is file-static.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "cmn.h"
#include "cmn_config.h"
#include "config_impl.h"

static const char *
cmn_plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* ---- endpoint identity and journal directories ------------------------------------- */

/* cmn_cfg_endpoint_key - a canonical form for "the same endpoint": host lowered, port as a
 * number, ipc paths with "//" collapsed. Caller frees; NULL when out of memory. */
static char *
cmn_cfg_endpoint_key(const char *ep)
{
    char *k = NULL;

    if (strncmp(ep, "tcp://", 6) == 0) {
        const char *colon = strrchr(ep, ':');
        if (asprintf(&k, "tcp://%.*s:%ld", (int)(colon - ep - 6), ep + 6,
                     strtol(colon + 1, NULL, 10)) < 0)
            return NULL;
        for (char *p = k + 6; *p != ':'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        return k;
    }
    k = strdup(ep);
    if (k != NULL) {
        char *w = k + 6;
        for (const char *r = k + 6; *r != '\0'; r++)
            if (!(*r == '/' && r[1] == '/'))
                *w++ = *r;
        *w = '\0';
    }
    return k;
}

/* cmn_cfg_dir_usable - may the node use (or create) store directory `dir` (a backend's journal,
 * a router's state)? It must be a writable directory, or not exist yet with its nearest
 * existing ancestor a writable directory (the node creates the missing ones). Writes the
 * reason into why when not. */
static bool
cmn_cfg_dir_usable(const char *dir, char *why, size_t len)
{
    char p[CMN_CFG_DIR_MAX + 1];
    struct stat st;

    snprintf(p, sizeof p, "%s", dir);
    for (;;) {
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                if (strcmp(p, dir) == 0)
                    snprintf(why, len, "it exists and is not a directory");
                else
                    snprintf(why, len, "%s is not a directory", p);
                return false;
            }
            if (access(p, W_OK | X_OK) != 0) {
                snprintf(why, len, "%s is not writable (%s)", p, strerror(errno));
                return false;
            }
            return true;
        }
        if (errno != ENOENT && errno != ENOTDIR) {
            snprintf(why, len, "%s: %s", p, strerror(errno));
            return false;
        }
        char *slash = strrchr(p, '/');
        if (slash == p)
            p[1] = '\0'; /* up to "/" */
        else
            *slash = '\0';
    }
}

/* ---- step 4: the whole facility ------------------------------------------------------- */

static void
cmn_cfg_free_parts(cmn_raw_part_t *parts, size_t n)
{
    for (size_t i = 0; parts != NULL && i < n; i++) {
        free(parts[i].name);
        free(parts[i].primary);
        free(parts[i].secondary);
    }
    free(parts);
}

/* cmn_cfg_key - the key segments. */
static rtr_status_t
cmn_cfg_key(cmn_cfg_t *c, cmn_facility_t *f, const config_setting_t *key)
{
    char where[48];
    rtr_status_t sts;

    f->nseg = (size_t)config_setting_length(key);
    for (size_t i = 0; i < f->nseg; i++) {
        const config_setting_t *g = config_setting_get_elem(key, (unsigned)i);
        cmn_raw_seg_t raw = { 0 };
        cmn_keyseg_t *s = &f->seg[i];

        snprintf(where, sizeof where, "key[%zu]", i);
        sts = cmn_cfg_group(c, g, CMN_CFG_SEC_KEY, where, &raw);
        if (sts != RTR_STS_OK)
            return sts;
        s->type = (cmn_keyseg_type_t)raw.type;
        s->offset = (uint32_t)raw.offset;
        s->length = (uint32_t)raw.length;
        if (s->type != CMN_KEYSEG_STRING && s->length != 1 && s->length != 2 && s->length != 4 &&
            s->length != 8)
            return cmn_cfg_fail(
                c, cmn_cfg_member_line(g, "length"),
                "%s.length: %u is not a valid length for a%s segment (1, 2, 4 or 8)", where,
                s->length, s->type == CMN_KEYSEG_SIGNED ? " signed" : "n unsigned");
        if ((uint64_t)s->offset + s->length > CMN_KEY_MSG_MAXLEN)
            return cmn_cfg_fail(c, cmn_cfg_line(g),
                                "%s: the segment ends at byte %" PRIu64
                                ", beyond the largest message (%d bytes)",
                                where, (uint64_t)s->offset + s->length, CMN_KEY_MSG_MAXLEN);
    }
    /* The checks above are the ones cmn_keyseg_validate makes, with a message each. */
    RTR_ASSERT(cmn_keyseg_validate(f->seg, f->nseg) == RTR_STS_OK);
    f->keylen = cmn_key_length(f->seg, f->nseg);
    return RTR_STS_OK;
}

/* A node or an endpoint already seen, for the uniqueness checks. */
typedef struct {
    char *key;
    const char *kind, *node, *field;
    int line;
} cmn_cfg_seen_t;

typedef struct {
    cmn_cfg_seen_t *v;
    size_t n, cap;
} cmn_cfg_seenset_t;

/* cmn_cfg_seen_add - remember key (consumed) unless an equal one is there; returns the earlier
 * entry, or NULL when it was added. Out of memory marks the context and returns NULL. */
static const cmn_cfg_seen_t *
cmn_cfg_seen_add(cmn_cfg_t *c, cmn_cfg_seenset_t *set, char *key, const char *kind,
                 const char *node, const char *field, int line)
{
    if (key == NULL) {
        c->nomem = true;
        return NULL;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (strcasecmp(set->v[i].key, key) == 0) {
            free(key);
            return &set->v[i];
        }
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        cmn_cfg_seen_t *v = realloc(set->v, cap * sizeof *v);
        if (v == NULL) {
            free(key);
            c->nomem = true;
            return NULL;
        }
        set->v = v;
        set->cap = cap;
    }
    set->v[set->n++] = (cmn_cfg_seen_t){ key, kind, node, field, line };
    return NULL;
}

static void
cmn_cfg_seen_free(cmn_cfg_seenset_t *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->v[i].key);
    free(set->v);
}

/* cmn_cfg_endpoints - every endpoint of node `name` must be new to the facility. */
static rtr_status_t
cmn_cfg_endpoints(cmn_cfg_t *c, cmn_cfg_seenset_t *eps, const config_setting_t *g,
                  const char *where, const char *kind, const char *name, const char *const *fields,
                  const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int line = cmn_cfg_member_line(g, fields[i]);
        const cmn_cfg_seen_t *old =
            cmn_cfg_seen_add(c, eps, cmn_cfg_endpoint_key(values[i]), kind, name, fields[i], line);
        if (c->nomem)
            return RTR_STS_NOMEM;
        if (old != NULL)
            return cmn_cfg_fail(
                c, line, "%s.%s: endpoint \"%s\" is already used by %s \"%s\" (%s, line %d)", where,
                fields[i], values[i], old->kind, old->node, old->field, old->line);
    }
    return RTR_STS_OK;
}

/* cmn_cfg_node_name - a router or backend name must be new among all nodes. */
static rtr_status_t
cmn_cfg_node_name(cmn_cfg_t *c, cmn_cfg_seenset_t *nodes, const config_setting_t *g,
                  const char *where, const char *kind, const char *name)
{
    int line = cmn_cfg_member_line(g, "name");
    const cmn_cfg_seen_t *old = cmn_cfg_seen_add(c, nodes, strdup(name), kind, name, "name", line);

    if (c->nomem)
        return RTR_STS_NOMEM;
    if (old != NULL)
        return cmn_cfg_fail(c, line,
                            "%s.name: node \"%s\" is already defined as %s \"%s\" at line %d",
                            where, name, old->kind, old->node, old->line);
    return RTR_STS_OK;
}

/* cmn_cfg_nodes - routers and backends: table walk, unique names, unique endpoints. */
static rtr_status_t
cmn_cfg_nodes(cmn_cfg_t *c, cmn_facility_t *f, const cmn_raw_top_t *top)
{
    cmn_cfg_seenset_t nodes = { 0 }, eps = { 0 };
    char where[48];
    rtr_status_t sts = RTR_STS_OK;

    f->nrouters = (size_t)config_setting_length(top->routers);
    f->nbackends = (size_t)config_setting_length(top->backends);
    f->routers = calloc(f->nrouters, sizeof *f->routers);
    f->backends = calloc(f->nbackends, sizeof *f->backends);
    if (f->routers == NULL || f->backends == NULL) {
        sts = RTR_STS_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < f->nrouters; i++) {
        const config_setting_t *g = config_setting_get_elem(top->routers, (unsigned)i);
        cmn_router_t *r = &f->routers[i];
        static const char *const fields[] = { "clients", "peers", "admin" };

        snprintf(where, sizeof where, "routers[%zu]", i);
        r->line = cmn_cfg_line(g);
        if ((sts = cmn_cfg_group(c, g, CMN_CFG_SEC_ROUTER, where, r)) != RTR_STS_OK ||
            (sts = cmn_cfg_node_name(c, &nodes, g, where, "router", r->name)) != RTR_STS_OK)
            goto done;
        const char *const values[] = { r->clients, r->peers, r->admin };
        sts = cmn_cfg_endpoints(c, &eps, g, where, "router", r->name, fields, values, 3);
        if (sts != RTR_STS_OK)
            goto done;
    }
    for (size_t i = 0; i < f->nbackends; i++) {
        const config_setting_t *g = config_setting_get_elem(top->backends, (unsigned)i);
        cmn_backend_t *b = &f->backends[i];
        static const char *const fields[] = { "shadow", "servers", "admin" };

        snprintf(where, sizeof where, "backends[%zu]", i);
        b->line = cmn_cfg_line(g);
        if ((sts = cmn_cfg_group(c, g, CMN_CFG_SEC_BACKEND, where, b)) != RTR_STS_OK ||
            (sts = cmn_cfg_node_name(c, &nodes, g, where, "backend", b->name)) != RTR_STS_OK)
            goto done;
        const char *const values[] = { b->shadow, b->servers, b->admin };
        sts = cmn_cfg_endpoints(c, &eps, g, where, "backend", b->name, fields, values, 3);
        if (sts != RTR_STS_OK)
            goto done;
    }
done:
    cmn_cfg_seen_free(&nodes);
    cmn_cfg_seen_free(&eps);
    return sts;
}

/* A store directory: a backend's journal or a router's state. */
typedef struct {
    const char *kind;  /* "backend", "router" */
    const char *list;  /* "backends", "routers" */
    const char *field; /* "journal", "state" */
    size_t idx;        /* index in its list */
    const char *node;  /* the node's name */
    const char *dir;   /* normalized */
    int node_line;     /* the node's { ... } */
    int line;          /* the directory's key */
} cmn_cfg_store_t;

/* cmn_cfg_nested - does one of a and b lie inside the other? */
static bool
cmn_cfg_nested(const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);

    return (al > bl && strncmp(a, b, bl) == 0 && (a[bl] == '/' || bl == 1)) ||
           (bl > al && strncmp(b, a, al) == 0 && (b[al] == '/' || al == 1));
}

/* cmn_cfg_store_check - store v[i] against v[0..i-1]: distinct, not nested, and (per opts)
 * usable here. */
static rtr_status_t
cmn_cfg_store_check(cmn_cfg_t *c, const cmn_cfg_store_t *v, size_t i, const cmn_load_opts_t *opts)
{
    const cmn_cfg_store_t *s = &v[i];
    char why[CMN_CFG_DIR_MAX + 128];

    for (size_t k = 0; k < i; k++) {
        const cmn_cfg_store_t *o = &v[k];
        if (strcmp(o->dir, s->dir) == 0)
            return cmn_cfg_fail(c, s->line,
                                "%s[%zu].%s: \"%s\" is already the %s directory of %s \"%s\" "
                                "(line %d)",
                                s->list, s->idx, s->field, s->dir, o->field, o->kind, o->node,
                                o->node_line);
        if (cmn_cfg_nested(o->dir, s->dir))
            return cmn_cfg_fail(c, s->line,
                                "%s[%zu].%s: \"%s\" and the %s directory \"%s\" of %s \"%s\" "
                                "(line %d) are nested",
                                s->list, s->idx, s->field, s->dir, o->field, o->dir, o->kind,
                                o->node, o->node_line);
    }
    if (opts->journal_check == CMN_JOURNAL_CHECK_NONE)
        return RTR_STS_OK;
    if (opts->journal_check == CMN_JOURNAL_CHECK_NODE && strcasecmp(s->node, opts->node) != 0)
        return RTR_STS_OK;
    if (!cmn_cfg_dir_usable(s->dir, why, sizeof why))
        return cmn_cfg_fail(c, s->line, "%s[%zu].%s: \"%s\" is not usable: %s", s->list, s->idx,
                            s->field, s->dir, why);
    return RTR_STS_OK;
}

/* cmn_cfg_stores - the backends' journals, then the routers' state directories (a clash is
 * reported on the router's key): distinct, not nested in one another, and (per opts) usable
 * here. */
static rtr_status_t
cmn_cfg_stores(cmn_cfg_t *c, const cmn_facility_t *f, const cmn_raw_top_t *top,
               const cmn_load_opts_t *opts)
{
    cmn_cfg_store_t *v = calloc(f->nbackends + f->nrouters, sizeof *v);
    size_t n = 0;
    rtr_status_t sts = RTR_STS_OK;

    if (v == NULL)
        return cmn_cfg_nomem(c);
    for (size_t i = 0; i < f->nbackends; i++) {
        const cmn_backend_t *b = &f->backends[i];
        const config_setting_t *g = config_setting_get_elem(top->backends, (unsigned)i);
        v[n++] = (cmn_cfg_store_t){ .kind = "backend",
                                    .list = "backends",
                                    .field = "journal",
                                    .idx = i,
                                    .node = b->name,
                                    .dir = b->journal,
                                    .node_line = b->line,
                                    .line = cmn_cfg_member_line(g, "journal") };
    }
    for (size_t i = 0; i < f->nrouters; i++) {
        const cmn_router_t *r = &f->routers[i];
        const config_setting_t *g = config_setting_get_elem(top->routers, (unsigned)i);
        if (r->state == NULL)
            continue; /* required or not: cmn_cfg_register, once the partitions are known */
        v[n++] = (cmn_cfg_store_t){ .kind = "router",
                                    .list = "routers",
                                    .field = "state",
                                    .idx = i,
                                    .node = r->name,
                                    .dir = r->state,
                                    .node_line = r->line,
                                    .line = cmn_cfg_member_line(g, "state") };
    }
    for (size_t i = 0; i < n && sts == RTR_STS_OK; i++)
        sts = cmn_cfg_store_check(c, v, i, opts);
    free(v);
    return sts;
}

/* cmn_cfg_member - a partition member named in `field` (element `idx` of a list if >= 0) must
 * be a backend; *out gets it. */
static rtr_status_t
cmn_cfg_member(cmn_cfg_t *c, const cmn_facility_t *f, const char *where, const char *field, int idx,
               const char *name, int line, const cmn_backend_t **out)
{
    char path[96];

    if (idx >= 0)
        snprintf(path, sizeof path, "%s.%s[%d]", where, field, idx);
    else
        snprintf(path, sizeof path, "%s.%s", where, field);
    *out = cmn_facility_backend(f, name);
    if (*out != NULL)
        return RTR_STS_OK;
    if (cmn_facility_router(f, name) != NULL)
        return cmn_cfg_fail(c, line, "%s: \"%s\" is a router, not a backend", path, name);
    return cmn_cfg_fail(c, line, "%s: unknown backend \"%s\"", path, name);
}

/* cmn_cfg_members - primary, secondary and standby of one partition. */
static rtr_status_t
cmn_cfg_members(cmn_cfg_t *c, const cmn_facility_t *f, const config_setting_t *g, const char *where,
                const cmn_raw_part_t *raw, cmn_partition_t *p)
{
    rtr_status_t sts;
    int line;

    sts = cmn_cfg_member(c, f, where, "primary", -1, raw->primary,
                         cmn_cfg_member_line(g, "primary"), &p->primary);
    if (sts != RTR_STS_OK)
        return sts;
    if (raw->secondary != NULL) {
        line = cmn_cfg_member_line(g, "secondary");
        sts = cmn_cfg_member(c, f, where, "secondary", -1, raw->secondary, line, &p->secondary);
        if (sts != RTR_STS_OK)
            return sts;
        if (p->secondary == p->primary)
            return cmn_cfg_fail(c, line,
                                "%s.secondary: \"%s\" is also the primary; a pair needs two "
                                "different backends",
                                where, raw->secondary);
    }
    if (raw->remember == CMN_REMEMBER_DENY && p->secondary == NULL)
        return cmn_cfg_fail(c, cmn_cfg_member_line(g, "remember"),
                            "%s.remember: \"deny\" needs a secondary (a partition without one "
                            "always commits with a single copy)",
                            where);
    p->nstandby = raw->standby != NULL ? (size_t)config_setting_length(raw->standby) : 0;
    if (p->nstandby == 0)
        return RTR_STS_OK;
    p->standby = calloc(p->nstandby, sizeof *p->standby);
    if (p->standby == NULL)
        return cmn_cfg_nomem(c);
    for (size_t k = 0; k < p->nstandby; k++) {
        const config_setting_t *e = config_setting_get_elem(raw->standby, (unsigned)k);
        const cmn_backend_t *b;
        line = cmn_cfg_line(e);
        sts =
            cmn_cfg_member(c, f, where, "standby", (int)k, config_setting_get_string(e), line, &b);
        if (sts != RTR_STS_OK)
            return sts;
        if (b == p->primary || b == p->secondary)
            return cmn_cfg_fail(c, line, "%s.standby[%zu]: \"%s\" is already the partition's %s",
                                where, k, b->name, b == p->primary ? "primary" : "secondary");
        for (size_t j = 0; j < k; j++)
            if (p->standby[j] == b)
                return cmn_cfg_fail(c, line, "%s.standby[%zu]: \"%s\" is listed twice", where, k,
                                    b->name);
        p->standby[k] = b;
    }
    return RTR_STS_OK;
}

/* cmn_cfg_seg_desc - "unsigned, 4 bytes" for messages. */
static void
cmn_cfg_seg_desc(const cmn_keyseg_t *s, char *buf, size_t len)
{
    static const char *const types[] = { "signed", "unsigned", "string" };
    snprintf(buf, len, "%s, %u byte%s", types[s->type], s->length, cmn_plural(s->length));
}

/* cmn_cfg_bound - normalize a low or high bound (array/list `b`) into key. */
static rtr_status_t
cmn_cfg_bound(cmn_cfg_t *c, const cmn_facility_t *f, const config_setting_t *b, const char *path,
              cmn_key_side_t side, cmn_key_t *key)
{
    size_t n = (size_t)config_setting_length(b), pos = 0;
    char desc[48];

    if (n != f->nseg)
        return cmn_cfg_fail(c, cmn_cfg_line(b), "%s: %zu value%s for a key of %zu segment%s", path,
                            n, cmn_plural(n), f->nseg, cmn_plural(f->nseg));
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(b, (unsigned)i);
        const cmn_keyseg_t *s = &f->seg[i];
        int line = cmn_cfg_line(e);
        rtr_status_t sts;

        cmn_cfg_seg_desc(s, desc, sizeof desc);
        if (s->type == CMN_KEYSEG_STRING) {
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                return cmn_cfg_fail(c, line,
                                    "%s[%zu]: expected a string for key[%zu] (%s), found %s", path,
                                    i, i, desc, cmn_cfg_kind(e));
            const char *str = config_setting_get_string(e);
            size_t sl = strlen(str);
            if (sl > s->length)
                return cmn_cfg_fail(c, line,
                                    "%s[%zu]: \"%s\" is %zu bytes long; key[%zu] holds at most %u",
                                    path, i, str, sl, i, s->length);
            sts = cmn_key_bound_str(s, str, sl, side, key->bytes + pos);
        } else {
            int64_t neg = 0, min;
            uint64_t upos = 0, max;
            bool isneg;
            char val[32];
            if (!cmn_cfg_is_int(e))
                return cmn_cfg_fail(c, line,
                                    "%s[%zu]: expected an integer for key[%zu] (%s), found %s",
                                    path, i, i, desc, cmn_cfg_kind(e));
            isneg = cmn_cfg_num(e, &neg, &upos);
            sts = isneg ? cmn_key_bound_int(s, neg, key->bytes + pos)
                        : cmn_key_bound_uint(s, upos, key->bytes + pos);
            if (sts == RTR_STS_INVARG) {
                RTR_ASSERT(cmn_keyseg_int_range(s, &min, &max) == RTR_STS_OK);
                if (isneg)
                    snprintf(val, sizeof val, "%" PRId64, neg);
                else
                    snprintf(val, sizeof val, "%" PRIu64, upos);
                return cmn_cfg_fail(c, line,
                                    "%s[%zu]: %s is out of range for key[%zu] (%s: %" PRId64
                                    "..%" PRIu64 ")",
                                    path, i, val, i, desc, min, max);
            }
        }
        RTR_ASSERT(sts == RTR_STS_OK);
        pos += s->length;
    }
    key->len = pos;
    return RTR_STS_OK;
}

/* cmn_cfg_key_text - a malloc'ed cmn_key_format of key. */
static char *
cmn_cfg_key_text(cmn_cfg_t *c, const cmn_facility_t *f, const cmn_key_t *key)
{
    size_t n = cmn_key_format(f->seg, f->nseg, key, NULL, 0);
    char *s = malloc(n + 1);

    if (s == NULL)
        c->nomem = true;
    else
        cmn_key_format(f->seg, f->nseg, key, s, n + 1);
    return s;
}

/* cmn_cfg_range - bounds of one partition: normalized, displayable, low <= high. */
static rtr_status_t
cmn_cfg_range(cmn_cfg_t *c, const cmn_facility_t *f, const config_setting_t *g, const char *where,
              const cmn_raw_part_t *raw, cmn_partition_t *p)
{
    char path[96];
    cmn_key_t *shown = malloc(sizeof *shown); /* high padded as a low bound, for display */
    rtr_status_t sts;

    if (shown == NULL)
        return cmn_cfg_nomem(c);
    snprintf(path, sizeof path, "%s.low", where);
    sts = cmn_cfg_bound(c, f, raw->low, path, CMN_KEY_LOW, &p->low);
    if (sts != RTR_STS_OK)
        goto done;
    snprintf(path, sizeof path, "%s.high", where);
    sts = cmn_cfg_bound(c, f, raw->high, path, CMN_KEY_HIGH, &p->high);
    if (sts != RTR_STS_OK)
        goto done;
    sts = cmn_cfg_bound(c, f, raw->high, path, CMN_KEY_LOW, shown);
    RTR_ASSERT(sts == RTR_STS_OK);
    p->low_text = cmn_cfg_key_text(c, f, &p->low);
    p->high_text = cmn_cfg_key_text(c, f, shown);
    if (c->nomem) {
        sts = RTR_STS_NOMEM;
        goto done;
    }
    if (cmn_key_cmp(&p->low, &p->high) > 0)
        sts = cmn_cfg_fail(c, cmn_cfg_line(g), "%s: low bound %s is above high bound %s", where,
                           p->low_text, p->high_text);
done:
    free(shown);
    return sts;
}

static int
cmn_cfg_by_low(const void *a, const void *b)
{
    const cmn_partition_t *pa = *(const cmn_partition_t *const *)a;
    const cmn_partition_t *pb = *(const cmn_partition_t *const *)b;
    int r = cmn_key_cmp(&pa->low, &pb->low);

    if (r != 0)
        return r;
    return pa < pb ? -1 : pa > pb; /* file order */
}

/* cmn_cfg_overlaps - sort by low bound; adjacent ranges must not overlap. Reported on the line
 * of whichever of the two partitions comes later in the file. */
static rtr_status_t
cmn_cfg_overlaps(cmn_cfg_t *c, cmn_facility_t *f)
{
    f->by_key = malloc(f->npartitions * sizeof *f->by_key);
    if (f->by_key == NULL)
        return cmn_cfg_nomem(c);
    for (size_t i = 0; i < f->npartitions; i++)
        f->by_key[i] = &f->partitions[i];
    qsort(f->by_key, f->npartitions, sizeof *f->by_key, cmn_cfg_by_low);
    for (size_t i = 1; i < f->npartitions; i++) {
        const cmn_partition_t *a = f->by_key[i - 1], *b = f->by_key[i];
        if (cmn_key_cmp(&b->low, &a->high) > 0)
            continue;
        if (a > b) {
            const cmn_partition_t *t = a;
            a = b;
            b = t;
        }
        return cmn_cfg_fail(c, b->line,
                            "partitions[%td]: key range %s .. %s of partition \"%s\" overlaps "
                            "partition \"%s\" %s .. %s (line %d)",
                            b - f->partitions, b->low_text, b->high_text, b->name, a->name,
                            a->low_text, a->high_text, a->line);
    }
    return RTR_STS_OK;
}

/* cmn_cfg_partitions - table walk, unique names, members, bounds, overlaps. */
static rtr_status_t
cmn_cfg_partitions(cmn_cfg_t *c, cmn_facility_t *f, const config_setting_t *list)
{
    size_t n = (size_t)config_setting_length(list);
    cmn_raw_part_t *raw = calloc(n, sizeof *raw);
    char where[48];
    rtr_status_t sts = RTR_STS_OK;

    f->partitions = calloc(n, sizeof *f->partitions);
    if (raw == NULL || f->partitions == NULL) {
        sts = RTR_STS_NOMEM;
        goto done;
    }
    f->npartitions = n;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        cmn_partition_t *p = &f->partitions[i];

        snprintf(where, sizeof where, "partitions[%zu]", i);
        p->line = cmn_cfg_line(g);
        sts = cmn_cfg_group(c, g, CMN_CFG_SEC_PARTITION, where, &raw[i]);
        if (sts != RTR_STS_OK)
            goto done;
        p->name = raw[i].name;
        raw[i].name = NULL;
        p->concurrent = raw[i].concurrent;
        p->remember = (cmn_remember_t)raw[i].remember;
        for (size_t k = 0; k < i; k++) {
            if (strcasecmp(f->partitions[k].name, p->name) == 0) {
                sts = cmn_cfg_fail(c, cmn_cfg_member_line(g, "name"),
                                   "%s.name: partition \"%s\" is already defined at line %d", where,
                                   p->name, f->partitions[k].line);
                goto done;
            }
        }
        if ((sts = cmn_cfg_members(c, f, g, where, &raw[i], p)) != RTR_STS_OK ||
            (sts = cmn_cfg_range(c, f, g, where, &raw[i], p)) != RTR_STS_OK)
            goto done;
    }
    sts = cmn_cfg_overlaps(c, f);
done:
    cmn_cfg_free_parts(raw, n);
    return sts;
}

/* cmn_cfg_derive - a derived setting's value: the one written, or else `def`. */
static int64_t
cmn_cfg_derive(int64_t written, int64_t def)
{
    return written != CMN_CFG_UNSET ? written : def;
}

static int64_t
cmn_cfg_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* cmn_cfg_at_least - setting `name` (value v, written in g) must be >= times x other (value o). */
static rtr_status_t
cmn_cfg_at_least(cmn_cfg_t *c, const config_setting_t *g, const char *name, int64_t v,
                 int64_t times, const char *other, int64_t o)
{
    if (v >= times * o)
        return RTR_STS_OK;
    return cmn_cfg_fail(c, cmn_cfg_member_line(g, name),
                        "settings.%s: %" PRId64 " must be at least %ssettings.%s (%" PRId64 ")",
                        name, v, times == 2 ? "twice " : "", other, o);
}

/* cmn_cfg_shadow_settings - the shadow-pair settings (docs/shadow-protocol.md §3.2, §4.3, §5.5,
 * §5.6, §6): derived defaults, then the checks across keys. A derived default always passes
 * the checks (failure_timeout_ms >= 2 x heartbeat_ms makes sure of it), so a failed check is
 * always about a written key and is reported on its line. */
static rtr_status_t
cmn_cfg_shadow_settings(cmn_cfg_t *c, const config_setting_t *g, const cmn_raw_settings_t *raw,
                        cmn_settings_t *s)
{
    int64_t hb = raw->heartbeat_ms, ft = raw->failure_timeout_ms;
    rtr_status_t sts;

    /* 2 x failure_timeout_ms can exceed the largest lease (failure_timeout_ms may be 600000):
     * the default is capped there rather than making a valid timeout an invalid file. */
    int64_t lease = 2 * ft < CMN_CFG_LEASE_MAX ? 2 * ft : CMN_CFG_LEASE_MAX;
    s->lease_ms = cmn_cfg_derive(raw->lease_ms, lease);
    s->lease_margin_ms = cmn_cfg_derive(raw->lease_margin_ms, s->lease_ms / 10);
    s->shadow_lag_ms = cmn_cfg_derive(raw->shadow_lag_ms, ft);
    s->catchup_lag_ms = cmn_cfg_derive(raw->catchup_lag_ms, s->shadow_lag_ms);
    /* a window holds at least one frame, or a record of the largest size could never go */
    s->shadow_window_bytes = cmn_cfg_derive(
        raw->shadow_window_bytes, cmn_cfg_max(CMN_CFG_SHADOW_WINDOW, raw->max_frame_bytes));
    s->catchup_window_bytes = cmn_cfg_derive(
        raw->catchup_window_bytes, cmn_cfg_max(CMN_CFG_CATCHUP_WINDOW, raw->max_frame_bytes));
    s->register_timeout_ms = raw->register_timeout_ms;
    s->deny_reject_ms = cmn_cfg_derive(raw->deny_reject_ms, 2 * ft);

    /* a lease is renewed every heartbeat: at least one renewal may be lost within it */
    if ((sts = cmn_cfg_at_least(c, g, "lease_ms", s->lease_ms, 2, "heartbeat_ms", hb)) !=
        RTR_STS_OK)
        return sts;
    if (2 * s->lease_margin_ms >= s->lease_ms)
        return cmn_cfg_fail(c, cmn_cfg_member_line(g, "lease_margin_ms"),
                            "settings.lease_margin_ms: %" PRId64
                            " must be less than half of settings.lease_ms (%" PRId64 "%s)",
                            s->lease_margin_ms, s->lease_ms,
                            raw->lease_ms == CMN_CFG_UNSET ? ", the default: 2 * failure_timeout_ms"
                                                           : "");
    if ((sts = cmn_cfg_at_least(c, g, "shadow_lag_ms", s->shadow_lag_ms, 1, "heartbeat_ms", hb)) !=
            RTR_STS_OK ||
        (sts = cmn_cfg_at_least(c, g, "catchup_lag_ms", s->catchup_lag_ms, 1, "heartbeat_ms",
                                hb)) != RTR_STS_OK ||
        (sts = cmn_cfg_at_least(c, g, "shadow_window_bytes", s->shadow_window_bytes, 1,
                                "max_frame_bytes", raw->max_frame_bytes)) != RTR_STS_OK ||
        (sts = cmn_cfg_at_least(c, g, "catchup_window_bytes", s->catchup_window_bytes, 1,
                                "max_frame_bytes", raw->max_frame_bytes)) != RTR_STS_OK ||
        (sts = cmn_cfg_at_least(c, g, "deny_reject_ms", s->deny_reject_ms, 1, "failure_timeout_ms",
                                ft)) != RTR_STS_OK)
        return sts;
    return RTR_STS_OK;
}

/* cmn_cfg_settings - the settings group and its cross-checks. */
static rtr_status_t
cmn_cfg_settings(cmn_cfg_t *c, cmn_facility_t *f, const config_setting_t *g)
{
    cmn_raw_settings_t raw = { 0 };
    rtr_status_t sts = cmn_cfg_group(c, g, CMN_CFG_SEC_SETTINGS, "settings", &raw);

    if (sts != RTR_STS_OK)
        return sts;
    if (raw.failure_timeout_ms < 2 * raw.heartbeat_ms)
        return cmn_cfg_fail(c, cmn_cfg_member_line(g, "failure_timeout_ms"),
                            "settings.failure_timeout_ms: %" PRId64
                            " must be at least twice settings.heartbeat_ms (%" PRId64 ")",
                            raw.failure_timeout_ms, raw.heartbeat_ms);
    f->settings.heartbeat_ms = raw.heartbeat_ms;
    f->settings.failure_timeout_ms = raw.failure_timeout_ms;
    f->settings.max_frame_bytes = raw.max_frame_bytes;
    f->settings.journal_max_mb = raw.journal_max_mb;
    f->settings.replay_limit = raw.replay_limit;
    f->settings.log_level = (cmn_log_level_t)raw.log_level;
    return cmn_cfg_shadow_settings(c, g, &raw, &f->settings);
}

/* cmn_cfg_register - a facility with a shadowed partition keeps its roles in the register on
 * the routers (docs/shadow-protocol.md §5.5, §12 item 12): every router needs a state
 * directory for its acceptor store. Checked last, after everything else about the file. */
static rtr_status_t
cmn_cfg_register(cmn_cfg_t *c, const cmn_facility_t *f)
{
    const cmn_partition_t *shadowed = NULL;

    for (size_t i = 0; i < f->npartitions && shadowed == NULL; i++)
        if (f->partitions[i].secondary != NULL)
            shadowed = &f->partitions[i];
    for (size_t i = 0; shadowed != NULL && i < f->nrouters; i++)
        if (f->routers[i].state == NULL)
            return cmn_cfg_fail(c, f->routers[i].line,
                                "routers[%zu]: missing required key \"state\": partition "
                                "\"%s\" (line %d) is shadowed, so every router keeps the "
                                "facility register",
                                i, shadowed->name, shadowed->line);
    return RTR_STS_OK;
}

/* cmn_cfg_build - steps 3 and 4 over a parsed file. */
rtr_status_t
cmn_cfg_build(cmn_cfg_t *c, const config_t *cf, const cmn_load_opts_t *opts, cmn_facility_t *f)
{
    cmn_raw_top_t top = { 0 };
    rtr_status_t sts;

    sts = cmn_cfg_group(c, config_root_setting(cf), CMN_CFG_SEC_TOP, "", &top);
    f->name = top.facility;
    if (sts != RTR_STS_OK)
        return sts;
    if ((sts = cmn_cfg_key(c, f, top.key)) != RTR_STS_OK ||
        (sts = cmn_cfg_nodes(c, f, &top)) != RTR_STS_OK ||
        (sts = cmn_cfg_stores(c, f, &top, opts)) != RTR_STS_OK ||
        (sts = cmn_cfg_partitions(c, f, top.partitions)) != RTR_STS_OK ||
        (sts = cmn_cfg_settings(c, f, top.settings)) != RTR_STS_OK ||
        (sts = cmn_cfg_register(c, f)) != RTR_STS_OK)
        return sts;
    if (opts->node != NULL && cmn_facility_router(f, opts->node) == NULL &&
        cmn_facility_backend(f, opts->node) == NULL)
        return cmn_cfg_fail(c, 0, "node \"%s\" is not defined in the facility", opts->node);
    if (f->nrouters % 2 == 0)
        cmn_cfg_warn(c, cmn_cfg_line(top.routers),
                     "routers: an even number of routers (%zu) tolerates no more router "
                     "failures than %zu would; with 2, losing either blocks failover",
                     f->nrouters, f->nrouters - 1);
    return c->nomem ? RTR_STS_NOMEM : RTR_STS_OK;
}
