/*
 * config.c - the facility file (DESIGN §4): read with libconfig, validated by one table.
 *
 * Design note. Every daemon, librtr and `rtrcli check facility` load the file through
 * cmn_facility_load, so they agree on what a valid facility is. Loading runs in four steps and
 * stops at the first error, which is reported as "FILE:LINE: message":
 *   1. read the file and scan it lexically (cmn_cfg_lex) for what libconfig 1.5 gets wrong or
 *      loses: it silently wraps integers that overflow 32 bits (3000000000 becomes negative),
 *      it reports a duplicate key without its name, and it would read @include files;
 *   2. parse it with libconfig (syntax errors and their lines);
 *   3. walk the settings against the option table cmn_cfg_table (unknown keys, types, required
 *      keys, defaults, bounds, name and endpoint syntax); every key of the file has one row
 *      there, and docs/config-reference.md is written from those rows;
 *   4. check what no single key can: unique names and endpoints, journal and state
 *      directories, pair members, key bounds against the key segments, overlapping ranges,
 *      settings against each other (after computing the defaults the table marks
 *      CMN_CFG_DERIVED, which follow other settings), a state directory on every router when
 *      a partition is shadowed.
 * Of the lexical scan and libconfig, the problem on the earlier line is reported, so the first
 * error in the file always wins. Nothing here has state outside the call; nothing on disk is
 * created or changed.
 *
 * The loader is three files around config_impl.h. This one holds the option table and the
 * public descriptors, the diagnostics, the endpoint and directory syntax, step 3 (the table
 * walk, cmn_cfg_group), the load entry points and the lookups. config_lex.c does steps 1 and 2
 * (cmn_cfg_parse); config_check.c does step 4 (cmn_cfg_build). Each of those two exports one
 * entry point and uses only what config_impl.h declares from here.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>

#include "cmn.h"
#include "cmn_config.h"
#include "config_impl.h"

/* ---- the option table ----------------------------------------------------------------- */

typedef struct {
    cmn_config_opt_t o;
    size_t off; /* where the value goes in the section's raw struct */
} cmn_cfg_desc_t;

#define CMN_OPT(sec, name, type, flags, def, min, max, choices, sub, what, st, field, doc)        \
    {                                                                                             \
        { (sec), (name), (type), (flags), (def), (min), (max), (choices), (sub), (what), (doc) }, \
            offsetof(st, field)                                                                   \
    }

#define CMN_REQ    CMN_CFG_REQUIRED
#define CMN_DER    CMN_CFG_DERIVED
#define CMN_NOSUB  CMN_CFG_SEC__COUNT
#define CMN_LEVELS "emerg|alert|crit|err|warning|notice|info|debug"

/* clang-format off */
static const cmn_cfg_desc_t cmn_cfg_table[] = {
    CMN_OPT(CMN_CFG_SEC_TOP, "facility", CMN_CFG_NAME, CMN_REQ, NULL,
            1, CMN_FACILITY_NAME_MAX, NULL, CMN_NOSUB, NULL, cmn_raw_top_t, facility,
            "Name of the facility; applications name it in rtr_open_channel."),
    CMN_OPT(CMN_CFG_SEC_TOP, "key", CMN_CFG_GROUPS, CMN_REQ, NULL,
            1, CMN_MAX_KEYSEG, NULL, CMN_CFG_SEC_KEY, "key segment", cmn_raw_top_t, key,
            "The key segments: where the routing key lies in every message."),
    CMN_OPT(CMN_CFG_SEC_TOP, "routers", CMN_CFG_GROUPS, CMN_REQ, NULL,
            1, 0, NULL, CMN_CFG_SEC_ROUTER, "router", cmn_raw_top_t, routers,
            "The router nodes (an odd number: the register needs a majority)."),
    CMN_OPT(CMN_CFG_SEC_TOP, "backends", CMN_CFG_GROUPS, CMN_REQ, NULL,
            1, 0, NULL, CMN_CFG_SEC_BACKEND, "backend", cmn_raw_top_t, backends,
            "The backend nodes, where the server applications and journals run."),
    CMN_OPT(CMN_CFG_SEC_TOP, "partitions", CMN_CFG_GROUPS, CMN_REQ, NULL,
            1, 0, NULL, CMN_CFG_SEC_PARTITION, "partition", cmn_raw_top_t, partitions,
            "The key ranges and the backends that serve each."),
    CMN_OPT(CMN_CFG_SEC_TOP, "settings", CMN_CFG_GROUP, 0, NULL,
            0, 0, NULL, CMN_CFG_SEC_SETTINGS, NULL, cmn_raw_top_t, settings,
            "Timing and limits; every member is optional."),

    CMN_OPT(CMN_CFG_SEC_KEY, "type", CMN_CFG_ENUM, CMN_REQ, NULL,
            0, 0, "signed|unsigned|string", CMN_NOSUB, NULL, cmn_raw_seg_t, type,
            "How the field is read: an integer in native byte order, or fixed-length bytes."),
    CMN_OPT(CMN_CFG_SEC_KEY, "offset", CMN_CFG_INT, CMN_REQ, NULL,
            0, CMN_KEY_MSG_MAXLEN - 1, NULL, CMN_NOSUB, NULL, cmn_raw_seg_t, offset,
            "Byte offset of the field in every message."),
    CMN_OPT(CMN_CFG_SEC_KEY, "length", CMN_CFG_INT, CMN_REQ, NULL,
            1, CMN_KEYSEG_MAXSTR, NULL, CMN_NOSUB, NULL, cmn_raw_seg_t, length,
            "Bytes: 1, 2, 4 or 8 for signed and unsigned, 1..255 for string."),

    CMN_OPT(CMN_CFG_SEC_ROUTER, "name", CMN_CFG_NAME, CMN_REQ | CMN_CFG_HYPHEN, NULL,
            1, CMN_NODE_NAME_MAX, NULL, CMN_NOSUB, NULL, cmn_router_t, name,
            "Node name (`--node`), unique among routers and backends."),
    CMN_OPT(CMN_CFG_SEC_ROUTER, "clients", CMN_CFG_ENDPOINT, CMN_REQ | CMN_CFG_TCP, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_router_t, clients,
            "Where client applications (librtr) connect."),
    CMN_OPT(CMN_CFG_SEC_ROUTER, "peers", CMN_CFG_ENDPOINT, CMN_REQ | CMN_CFG_TCP, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_router_t, peers,
            "Where backends and the other routers connect."),
    CMN_OPT(CMN_CFG_SEC_ROUTER, "admin", CMN_CFG_ENDPOINT,
            CMN_REQ | CMN_CFG_TCP | CMN_CFG_IPC, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_router_t, admin,
            "Where rtrcli connects."),
    CMN_OPT(CMN_CFG_SEC_ROUTER, "state", CMN_CFG_DIR, 0, NULL,
            1, CMN_CFG_DIR_MAX, NULL, CMN_NOSUB, NULL, cmn_router_t, state,
            "Directory of the router's acceptor store (the facility register); required when "
            "a partition is shadowed."),

    CMN_OPT(CMN_CFG_SEC_BACKEND, "name", CMN_CFG_NAME, CMN_REQ | CMN_CFG_HYPHEN, NULL,
            1, CMN_NODE_NAME_MAX, NULL, CMN_NOSUB, NULL, cmn_backend_t, name,
            "Node name (`--node`), unique among routers and backends."),
    CMN_OPT(CMN_CFG_SEC_BACKEND, "shadow", CMN_CFG_ENDPOINT, CMN_REQ | CMN_CFG_TCP, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_backend_t, shadow,
            "Where the shadow partner connects."),
    CMN_OPT(CMN_CFG_SEC_BACKEND, "servers", CMN_CFG_ENDPOINT,
            CMN_REQ | CMN_CFG_TCP | CMN_CFG_IPC, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_backend_t, servers,
            "Where the local server applications connect."),
    CMN_OPT(CMN_CFG_SEC_BACKEND, "admin", CMN_CFG_ENDPOINT,
            CMN_REQ | CMN_CFG_TCP | CMN_CFG_IPC, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_backend_t, admin,
            "Where rtrcli connects."),
    CMN_OPT(CMN_CFG_SEC_BACKEND, "journal", CMN_CFG_DIR, CMN_REQ, NULL,
            1, CMN_CFG_DIR_MAX, NULL, CMN_NOSUB, NULL, cmn_backend_t, journal,
            "Directory of the backend's journal (Berkeley DB environment)."),

    CMN_OPT(CMN_CFG_SEC_PARTITION, "name", CMN_CFG_NAME, CMN_REQ | CMN_CFG_HYPHEN, NULL,
            1, CMN_PARTITION_NAME_MAX, NULL, CMN_NOSUB, NULL, cmn_raw_part_t, name,
            "Partition name, unique in the facility; the partition's identity."),
    CMN_OPT(CMN_CFG_SEC_PARTITION, "low", CMN_CFG_BOUND, CMN_REQ, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_raw_part_t, low,
            "Lowest key of the range (inclusive), one value per key segment."),
    CMN_OPT(CMN_CFG_SEC_PARTITION, "high", CMN_CFG_BOUND, CMN_REQ, NULL,
            0, 0, NULL, CMN_NOSUB, NULL, cmn_raw_part_t, high,
            "Highest key of the range (inclusive), one value per key segment."),
    CMN_OPT(CMN_CFG_SEC_PARTITION, "primary", CMN_CFG_NAME, CMN_REQ | CMN_CFG_HYPHEN, NULL,
            1, CMN_NODE_NAME_MAX, NULL, CMN_NOSUB, NULL, cmn_raw_part_t, primary,
            "Backend that is primary at first boot (later the register decides)."),
    CMN_OPT(CMN_CFG_SEC_PARTITION, "secondary", CMN_CFG_NAME, CMN_CFG_HYPHEN, NULL,
            1, CMN_NODE_NAME_MAX, NULL, CMN_NOSUB, NULL, cmn_raw_part_t, secondary,
            "Backend that shadows the primary; absent: the partition is not shadowed."),
    CMN_OPT(CMN_CFG_SEC_PARTITION, "standby", CMN_CFG_NAMES, 0, "[ ]",
            0, 0, NULL, CMN_NOSUB, NULL, cmn_raw_part_t, standby,
            "Spare backends that may replace a member lost for too long."),
    CMN_OPT(CMN_CFG_SEC_PARTITION, "concurrent", CMN_CFG_BOOL, 0, "true",
            0, 0, NULL, CMN_NOSUB, NULL, cmn_raw_part_t, concurrent,
            "Several server applications may serve the partition at once."),
    CMN_OPT(CMN_CFG_SEC_PARTITION, "remember", CMN_CFG_ENUM, 0, "allow",
            0, 0, "allow|deny", CMN_NOSUB, NULL, cmn_raw_part_t, remember,
            "May the primary commit alone when its secondary is lost (REMEMBER)?"),

    CMN_OPT(CMN_CFG_SEC_SETTINGS, "heartbeat_ms", CMN_CFG_INT, 0, "250",
            10, 60000, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, heartbeat_ms,
            "Heartbeat period on every link, milliseconds."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "failure_timeout_ms", CMN_CFG_INT, 0, "1000",
            50, 600000, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, failure_timeout_ms,
            "A peer silent this long is lost; at least twice heartbeat_ms."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "max_frame_bytes", CMN_CFG_INT, 0, "1048576",
            131072, 268435456, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, max_frame_bytes,
            "Largest frame accepted on any socket; larger ones are refused and counted."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "journal_max_mb", CMN_CFG_INT, 0, "0",
            0, 16777216, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, journal_max_mb,
            "Journal size limit in MiB (0: unlimited); when full, new work gets JNLFULL."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "replay_limit", CMN_CFG_INT, 0, "3",
            1, 1000, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, replay_limit,
            "Replays of one transaction to a new server before it goes to EXCEPTION."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "log_level", CMN_CFG_ENUM, 0, "notice",
            0, 0, CMN_LEVELS, CMN_NOSUB, NULL, cmn_raw_settings_t, log_level,
            "Daemons' log threshold unless --log-level says otherwise."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "lease_ms", CMN_CFG_INT, CMN_DER, "2 * failure_timeout_ms",
            20, CMN_CFG_LEASE_MAX, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, lease_ms,
            "A shadowed primary's lease: how long a majority's grant lets it decide."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "lease_margin_ms", CMN_CFG_INT, CMN_DER, "lease_ms / 10",
            1, CMN_CFG_LEASE_MAX / 2 - 1, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t,
            lease_margin_ms,
            "Clock-rate drift allowance: a lease ends this much early and a forced change "
            "waits this much longer."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "shadow_lag_ms", CMN_CFG_INT, CMN_DER, "failure_timeout_ms",
            10, 600000, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, shadow_lag_ms,
            "A partner whose oldest unacked record is this old is dropped from in_sync."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "catchup_lag_ms", CMN_CFG_INT, CMN_DER, "shadow_lag_ms",
            10, 600000, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, catchup_lag_ms,
            "A catching-up member this far behind the live stream is dropped."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "shadow_window_bytes", CMN_CFG_INT, CMN_DER,
            CMN_CFG_STR(CMN_CFG_SHADOW_WINDOW), 131072, CMN_CFG_WINDOW_MAX, NULL, CMN_NOSUB,
            NULL, cmn_raw_settings_t, shadow_window_bytes,
            "Unacked live bytes per member the primary keeps in memory for resending."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "catchup_window_bytes", CMN_CFG_INT, CMN_DER,
            CMN_CFG_STR(CMN_CFG_CATCHUP_WINDOW), 131072, CMN_CFG_WINDOW_MAX, NULL, CMN_NOSUB,
            NULL, cmn_raw_settings_t, catchup_window_bytes,
            "Unacked backfill bytes per catching-up member in flight at once."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "register_timeout_ms", CMN_CFG_INT, 0, "500",
            10, 60000, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t, register_timeout_ms,
            "A register round (or a backend's register request) that takes longer is retried."),
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "deny_reject_ms", CMN_CFG_INT, CMN_DER,
            "2 * failure_timeout_ms", 50, 1200000, NULL, CMN_NOSUB, NULL, cmn_raw_settings_t,
            deny_reject_ms,
            "A remember = deny primary stalled this long refuses new transactions (NOSHADOW)."),
};
/* clang-format on */

#define CMN_CFG_NOPTS (sizeof cmn_cfg_table / sizeof cmn_cfg_table[0])

const cmn_config_opt_t *
cmn_config_opt(size_t i)
{
    return i < CMN_CFG_NOPTS ? &cmn_cfg_table[i].o : NULL;
}

const char *
cmn_config_section_path(cmn_config_section_t sec)
{
    static const char *const paths[] = { "",           "key[]",        "routers[]",
                                         "backends[]", "partitions[]", "settings" };
    return (unsigned)sec < CMN_CFG_SEC__COUNT ? paths[sec] : "?";
}

const char *
cmn_config_type_name(cmn_config_type_t type)
{
    static const char *const names[] = { "name",    "enum",  "endpoint", "directory", "integer",
                                         "boolean", "bound", "names",    "list",      "group" };
    return (unsigned)type <= CMN_CFG_GROUP ? names[type] : "?";
}

/* ---- load context and diagnostics ----------------------------------------------------- */

rtr_status_t
cmn_cfg_fail(cmn_cfg_t *c, int line, const char *fmt, ...)
{
    cmn_diag_t *d = c->diag;
    va_list ap;
    int r;

    if (d->error != NULL)
        return RTR_STS_CONFIG;
    va_start(ap, fmt);
    r = vasprintf(&d->message, fmt, ap);
    va_end(ap);
    if (r < 0) {
        d->message = NULL;
        c->nomem = true;
        return RTR_STS_NOMEM;
    }
    d->file = strdup(c->path);
    d->line = line;
    if (line > 0)
        r = asprintf(&d->error, "%s:%d: %s", c->path, line, d->message);
    else
        r = asprintf(&d->error, "%s: %s", c->path, d->message);
    if (r < 0 || d->file == NULL) {
        if (r < 0)
            d->error = NULL;
        c->nomem = true;
        return RTR_STS_NOMEM;
    }
    return RTR_STS_CONFIG;
}

void
cmn_cfg_warn(cmn_cfg_t *c, int line, const char *fmt, ...)
{
    cmn_diag_t *d = c->diag;
    char *msg = NULL, *w = NULL;
    char **v;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0)
        goto fail;
    if (asprintf(&w, "%s:%d: %s", c->path, line, msg) < 0) {
        w = NULL;
        goto fail;
    }
    v = realloc(d->warnings, (d->nwarnings + 1) * sizeof *v);
    if (v == NULL)
        goto fail;
    d->warnings = v;
    d->warnings[d->nwarnings++] = w;
    free(msg);
    return;
fail:
    free(msg);
    free(w);
    c->nomem = true;
}

rtr_status_t
cmn_cfg_nomem(cmn_cfg_t *c)
{
    c->nomem = true;
    return RTR_STS_NOMEM;
}

void
cmn_diag_free(cmn_diag_t **diag)
{
    cmn_diag_t *d;

    if (diag == NULL || *diag == NULL)
        return;
    d = *diag;
    free(d->error);
    free(d->file);
    free(d->message);
    for (size_t i = 0; i < d->nwarnings; i++)
        free(d->warnings[i]);
    free(d->warnings);
    free(d);
    *diag = NULL;
}

int
cmn_cfg_line(const config_setting_t *s)
{
    return s != NULL ? (int)config_setting_source_line(s) : 0;
}

/* cmn_cfg_member_line - the line of g's member `name`, or of g itself if it has none. */
int
cmn_cfg_member_line(const config_setting_t *g, const char *name)
{
    const config_setting_t *m = g != NULL ? config_setting_get_member(g, name) : NULL;
    return cmn_cfg_line(m != NULL ? m : g);
}

const char *
cmn_cfg_kind(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
        return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a floating-point number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ... ]";
    case CONFIG_TYPE_LIST:
        return "a list ( ... )";
    default:
        return "nothing";
    }
}

bool
cmn_cfg_is_int(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* cmn_cfg_num - an integer setting's value. Hex literals are bit patterns, so they are read as
 * unsigned (0xFFFFFFFF is 4294967295, 0xFFFFFFFFFFFFFFFFL is UINT64_MAX). Returns true and sets
 * *neg for a negative value, false and sets *pos otherwise. */
bool
cmn_cfg_num(const config_setting_t *s, int64_t *neg, uint64_t *pos)
{
    if (config_setting_get_format(s) == CONFIG_FORMAT_HEX) {
        if (config_setting_type(s) == CONFIG_TYPE_INT)
            *pos = (uint32_t)config_setting_get_int(s);
        else
            *pos = (uint64_t)config_setting_get_int64(s);
        return false;
    }
    int64_t v = config_setting_get_int64(s);
    if (v < 0) {
        *neg = v;
        return true;
    }
    *pos = (uint64_t)v;
    return false;
}

/* ---- endpoint and directory syntax ------------------------------------------------ */

static bool
cmn_cfg_host_ok(const char *h, size_t n, char *why, size_t len)
{
    bool numeric = true;
    size_t label = 0;

    if (n == 0)
        return snprintf(why, len, "missing host"), false;
    if (h[0] == '[') {
        snprintf(why, len, "IPv6 addresses are not supported; use a host name or an IPv4 address");
        return false;
    }
    if ((n == 1 && h[0] == '*') || (n == 7 && strncmp(h, "0.0.0.0", 7) == 0)) {
        snprintf(why, len, "\"%.*s\" is not an address other nodes can connect to", (int)n, h);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!cmn_cfg_isdigit(h[i]) && h[i] != '.')
            numeric = false;
    if (numeric) {
        unsigned parts = 0, v = 0, digits = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i == n || h[i] == '.') {
                if (digits == 0 || digits > 3 || v > 255)
                    break;
                parts++;
                v = digits = 0;
            } else {
                v = v * 10 + (unsigned)(h[i] - '0');
                digits++;
            }
        }
        if (parts != 4 || (n > 0 && h[n - 1] == '.')) {
            snprintf(why, len, "\"%.*s\" is not a valid IPv4 address", (int)n, h);
            return false;
        }
        return true;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i == n || h[i] == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-' || n > 253)
                goto bad;
            label = 0;
        } else if ((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
                   cmn_cfg_isdigit(h[i]) || h[i] == '-') {
            label++;
        } else {
            goto bad;
        }
    }
    return true;
bad:
    snprintf(why, len, "\"%.*s\" is not a valid host name", (int)n, h);
    return false;
}

/* cmn_cfg_endpoint_why - why `ep` is not an endpoint of the kinds `flags` allows (the reason is
 * written into why, which is returned), or NULL when it is a valid one. */
static const char *
cmn_cfg_endpoint_why(const char *ep, unsigned flags, char *why, size_t len)
{
    const char *expect = (flags & CMN_CFG_IPC) ? "expected tcp://HOST:PORT or ipc:///PATH"
                                               : "expected tcp://HOST:PORT";

    if (strncmp(ep, "ipc://", 6) == 0) {
        const char *p = ep + 6;
        if (*p != '/') {
            snprintf(why, len, "the ipc path must be absolute (ipc:///PATH)");
            return why;
        }
        if (p[strlen(p) - 1] == '/') {
            snprintf(why, len, "the ipc path names a directory");
            return why;
        }
        return NULL;
    }
    if (strncmp(ep, "tcp://", 6) != 0) {
        snprintf(why, len, "%s", expect);
        return why;
    }
    const char *hp = ep + 6, *colon = strrchr(hp, ':');
    if (colon == NULL) {
        snprintf(why, len, "missing :PORT (%s)", expect);
        return why;
    }
    if (!cmn_cfg_host_ok(hp, (size_t)(colon - hp), why, len))
        return why;
    const char *port = colon + 1;
    unsigned long v = 0;
    size_t nd = strlen(port);
    bool ok = nd >= 1 && nd <= 5;
    for (size_t i = 0; ok && i < nd; i++) {
        ok = cmn_cfg_isdigit(port[i]);
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    if (!ok || v < 1 || v > 65535) {
        snprintf(why, len, "port \"%s\" is not a number from 1 to 65535", port);
        return why;
    }
    return NULL;
}

/* cmn_cfg_dir_normalize - make `path` an absolute path without "//" or a trailing "/", in
 * place; returns a static reason when the path is refused, NULL when it is fine. */
static const char *
cmn_cfg_dir_normalize(char *path)
{
    char *w = path;

    if (path[0] != '/')
        return "must be an absolute path";
    for (const char *r = path; *r != '\0'; r++) {
        if (*r == '/' && r[1] == '/')
            continue;
        *w++ = *r;
    }
    *w = '\0';
    if (w - path > 1 && w[-1] == '/')
        w[-1] = '\0';
    for (const char *p = path; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        if ((p[1] == '.' && (p[2] == '/' || p[2] == '\0')) ||
            (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
            return "must not contain \".\" or \"..\" components";
    }
    return NULL;
}

/* ---- step 3: the table walk ----------------------------------------------------------- */

static const cmn_cfg_desc_t *
cmn_cfg_find(cmn_config_section_t sec, const char *name)
{
    for (size_t i = 0; i < CMN_CFG_NOPTS; i++) {
        if (cmn_cfg_table[i].o.section == sec && strcmp(cmn_cfg_table[i].o.name, name) == 0)
            return &cmn_cfg_table[i];
    }
    return NULL;
}

/* cmn_cfg_keys - "a, b, c": the keys of a section, for "expected one of". */
static void
cmn_cfg_keys(cmn_config_section_t sec, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < CMN_CFG_NOPTS && n < len; i++) {
        if (cmn_cfg_table[i].o.section != sec)
            continue;
        int r = snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "", cmn_cfg_table[i].o.name);
        if (r < 0)
            break;
        n += (size_t)r;
    }
}

/* cmn_cfg_choice - index of s in "a|b|c", or -1. */
static int
cmn_cfg_choice(const char *choices, const char *s)
{
    size_t sl = strlen(s);
    int idx = 0;

    for (const char *p = choices;; idx++) {
        const char *bar = strchr(p, '|');
        size_t l = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (l == sl && strncmp(p, s, l) == 0)
            return idx;
        if (bar == NULL)
            return -1;
        p = bar + 1;
    }
}

/* cmn_cfg_name_ok - a name of 1..max characters from [A-Za-z0-9_] (and '-' after the first
 * character when hyphen is set). */
static bool
cmn_cfg_name_ok(const char *s, int64_t max, bool hyphen)
{
    size_t n = strlen(s);

    if (n < 1 || (int64_t)n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || (hyphen && ch == '-' && i > 0);
        if (!ok)
            return false;
    }
    return true;
}

static bool
cmn_cfg_dupstr(cmn_cfg_t *c, char **dst, const char *s)
{
    *dst = strdup(s);
    if (*dst == NULL)
        c->nomem = true;
    return *dst != NULL;
}

/* cmn_cfg_name - a NAME value: length and characters. */
static rtr_status_t
cmn_cfg_name(cmn_cfg_t *c, const cmn_config_opt_t *o, const char *s, const char *path, int line,
             char **field)
{
    bool hyphen = (o->flags & CMN_CFG_HYPHEN) != 0;

    if (!cmn_cfg_name_ok(s, o->max, hyphen))
        return cmn_cfg_fail(c, line,
                            "%s: \"%s\" is not a valid name (1 to %" PRId64
                            " characters: letters, digits, '_'%s)",
                            path, s, o->max, hyphen ? " and '-', not starting with '-'" : "");
    return cmn_cfg_dupstr(c, field, s) ? RTR_STS_OK : RTR_STS_NOMEM;
}

/* cmn_cfg_enum - an ENUM value: its index among the choices. */
static rtr_status_t
cmn_cfg_enum(cmn_cfg_t *c, const cmn_config_opt_t *o, const char *s, const char *path, int line,
             int *field)
{
    char list[256];
    size_t n = 0;
    int idx = cmn_cfg_choice(o->choices, s);

    if (idx >= 0) {
        *field = idx;
        return RTR_STS_OK;
    }
    for (const char *p = o->choices; *p != '\0' && n + 3 < sizeof list; p++) {
        if (*p == '|') {
            list[n++] = ',';
            list[n++] = ' ';
        } else {
            list[n++] = *p;
        }
    }
    list[n] = '\0';
    return cmn_cfg_fail(c, line, "%s: \"%s\" is not one of: %s", path, s, list);
}

/* cmn_cfg_endpoint - an ENDPOINT value: the kinds this key allows, the ipc path limit, syntax. */
static rtr_status_t
cmn_cfg_endpoint(cmn_cfg_t *c, const cmn_config_opt_t *o, const char *s, const char *path, int line,
                 char **field)
{
    char why[256];
    bool ipc = strncmp(s, "ipc://", 6) == 0;

    if (ipc && !(o->flags & CMN_CFG_IPC))
        return cmn_cfg_fail(c, line,
                            "%s: \"%s\": ipc endpoints are not allowed here; %s must be "
                            "tcp://HOST:PORT (other nodes connect to it)",
                            path, s, o->name);
    if (ipc && strlen(s + 6) > CMN_IPC_PATH_MAX)
        return cmn_cfg_fail(c, line, "%s: the ipc path is %zu characters long; the limit is %d",
                            path, strlen(s + 6), CMN_IPC_PATH_MAX);
    if (cmn_cfg_endpoint_why(s, o->flags, why, sizeof why) != NULL)
        return cmn_cfg_fail(c, line, "%s: \"%s\" is not a valid endpoint: %s", path, s, why);
    return cmn_cfg_dupstr(c, field, s) ? RTR_STS_OK : RTR_STS_NOMEM;
}

/* cmn_cfg_dir - a DIR value, stored normalized. The file system is checked later, and only
 * for the directories the load options ask for (cmn_cfg_journals). */
static rtr_status_t
cmn_cfg_dir(cmn_cfg_t *c, const cmn_config_opt_t *o, const char *s, const char *path, int line,
            char **field)
{
    char *norm;
    const char *bad;

    if (*s == '\0' || (int64_t)strlen(s) > o->max)
        return cmn_cfg_fail(c, line, "%s: the path must be 1 to %" PRId64 " characters long", path,
                            o->max);
    norm = strdup(s);
    if (norm == NULL)
        return cmn_cfg_nomem(c);
    bad = cmn_cfg_dir_normalize(norm);
    if (bad != NULL) {
        free(norm);
        return cmn_cfg_fail(c, line, "%s: \"%s\" %s", path, s, bad);
    }
    *field = norm;
    return RTR_STS_OK;
}

/* cmn_cfg_int - an INT value within the option's bounds. */
static rtr_status_t
cmn_cfg_int(cmn_cfg_t *c, const cmn_config_opt_t *o, const config_setting_t *m, const char *path,
            int64_t *field)
{
    int64_t neg = 0;
    uint64_t pos = 0;
    int line = cmn_cfg_line(m);

    if (!cmn_cfg_is_int(m))
        return cmn_cfg_fail(c, line, "%s: expected an integer, found %s", path, cmn_cfg_kind(m));
    if (cmn_cfg_num(m, &neg, &pos)) {
        if (neg < o->min)
            return cmn_cfg_fail(c, line,
                                "%s: %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")", path,
                                neg, o->min, o->max);
        *field = neg;
        return RTR_STS_OK;
    }
    if (pos > (uint64_t)o->max || (int64_t)pos < o->min)
        return cmn_cfg_fail(c, line, "%s: %" PRIu64 " is out of range (%" PRId64 "..%" PRId64 ")",
                            path, pos, o->min, o->max);
    *field = (int64_t)pos;
    return RTR_STS_OK;
}

/* cmn_cfg_aggregate - a BOUND, NAMES, GROUPS or GROUP value: the setting itself is kept (it
 * lives as long as the config_t) and read by step 4; here only its shape is checked. */
static rtr_status_t
cmn_cfg_aggregate(cmn_cfg_t *c, const cmn_config_opt_t *o, const config_setting_t *m,
                  const char *path, const config_setting_t **field)
{
    int type = config_setting_type(m), line = cmn_cfg_line(m), n = config_setting_length(m);
    int want = o->type == CMN_CFG_NAMES ? CONFIG_TYPE_STRING : CONFIG_TYPE_GROUP;

    if (o->type == CMN_CFG_GROUP && type != CONFIG_TYPE_GROUP)
        return cmn_cfg_fail(c, line, "%s: expected a group { ... }, found %s", path,
                            cmn_cfg_kind(m));
    if ((o->type == CMN_CFG_BOUND || o->type == CMN_CFG_NAMES) && type != CONFIG_TYPE_ARRAY &&
        type != CONFIG_TYPE_LIST)
        return cmn_cfg_fail(c, line, "%s: expected an array [ ... ] or a list ( ... ), found %s",
                            path, cmn_cfg_kind(m));
    if (o->type == CMN_CFG_GROUPS) {
        /* An empty [ ] is an empty list too: libconfig cannot tell them apart when empty. */
        if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY && n == 0))
            return cmn_cfg_fail(c, line, "%s: expected a list ( { ... }, ... ), found %s", path,
                                cmn_cfg_kind(m));
        if (n < o->min)
            return cmn_cfg_fail(c, line, "%s: no %s is defined; at least %" PRId64 " is required",
                                path, o->what, o->min);
        if (o->max > 0 && n > o->max)
            return cmn_cfg_fail(c, line, "%s: %d %ss are defined; at most %" PRId64 " are allowed",
                                path, n, o->what, o->max);
    }
    for (int k = 0; (o->type == CMN_CFG_NAMES || o->type == CMN_CFG_GROUPS) && k < n; k++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)k);
        if (config_setting_type(e) != want)
            return cmn_cfg_fail(c, cmn_cfg_line(e), "%s[%d]: expected %s, found %s", path, k,
                                want == CONFIG_TYPE_STRING ? "a string" : "a group { ... }",
                                cmn_cfg_kind(e));
    }
    *field = m;
    return RTR_STS_OK;
}

/* cmn_cfg_value - parse one present member `m` for descriptor d into raw. */
static rtr_status_t
cmn_cfg_value(cmn_cfg_t *c, const cmn_cfg_desc_t *d, const config_setting_t *m, const char *path,
              void *raw)
{
    const cmn_config_opt_t *o = &d->o;
    void *field = (char *)raw + d->off;
    int line = cmn_cfg_line(m);
    const char *s = NULL;

    switch (o->type) {
    case CMN_CFG_NAME:
    case CMN_CFG_ENUM:
    case CMN_CFG_ENDPOINT:
    case CMN_CFG_DIR:
        if (config_setting_type(m) != CONFIG_TYPE_STRING)
            return cmn_cfg_fail(c, line, "%s: expected a string, found %s", path, cmn_cfg_kind(m));
        s = config_setting_get_string(m);
        if (o->type == CMN_CFG_NAME)
            return cmn_cfg_name(c, o, s, path, line, field);
        if (o->type == CMN_CFG_ENUM)
            return cmn_cfg_enum(c, o, s, path, line, field);
        if (o->type == CMN_CFG_ENDPOINT)
            return cmn_cfg_endpoint(c, o, s, path, line, field);
        return cmn_cfg_dir(c, o, s, path, line, field);
    case CMN_CFG_INT:
        return cmn_cfg_int(c, o, m, path, field);
    case CMN_CFG_BOOL:
        if (config_setting_type(m) != CONFIG_TYPE_BOOL)
            return cmn_cfg_fail(c, line, "%s: expected true or false, found %s", path,
                                cmn_cfg_kind(m));
        *(bool *)field = config_setting_get_bool(m) != 0;
        return RTR_STS_OK;
    case CMN_CFG_BOUND:
    case CMN_CFG_NAMES:
    case CMN_CFG_GROUPS:
    case CMN_CFG_GROUP:
        return cmn_cfg_aggregate(c, o, m, path, field);
    }
    return cmn_cfg_fail(c, line, "%s: internal error: unknown option type", path);
}

/* cmn_cfg_default - store descriptor d's default (or nothing) into raw for an absent key. */
static void
cmn_cfg_default(const cmn_cfg_desc_t *d, void *raw)
{
    void *field = (char *)raw + d->off;

    if (d->o.def == NULL)
        return; /* raw was zeroed: NULL strings and settings */
    switch (d->o.type) {
    case CMN_CFG_INT:
        /* a derived default is computed by step 4 (cmn_cfg_settings) */
        *(int64_t *)field =
            (d->o.flags & CMN_CFG_DERIVED) ? CMN_CFG_UNSET : strtoll(d->o.def, NULL, 10);
        break;
    case CMN_CFG_BOOL:
        *(bool *)field = strcmp(d->o.def, "true") == 0;
        break;
    case CMN_CFG_ENUM:
        *(int *)field = cmn_cfg_choice(d->o.choices, d->o.def);
        break;
    default:
        break; /* NAMES "[ ]": a NULL setting is the empty list */
    }
}

/* cmn_cfg_group - walk group g (NULL: absent, defaults only) of section sec against the table,
 * filling raw. `where` names g in messages ("" for the top level, "routers[0]"). */
rtr_status_t
cmn_cfg_group(cmn_cfg_t *c, const config_setting_t *g, cmn_config_section_t sec, const char *where,
              void *raw)
{
    char path[160], keys[512];
    rtr_status_t sts;

    for (int k = 0; g != NULL && k < config_setting_length(g); k++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)k);
        const char *name = config_setting_name(m);
        if (cmn_cfg_find(sec, name) != NULL)
            continue;
        cmn_cfg_keys(sec, keys, sizeof keys);
        if (*where == '\0')
            return cmn_cfg_fail(c, cmn_cfg_line(m),
                                "unknown key \"%s\" at the top level (expected one of: %s)", name,
                                keys);
        return cmn_cfg_fail(c, cmn_cfg_line(m), "unknown key \"%s\" in %s (expected one of: %s)",
                            name, where, keys);
    }
    for (size_t i = 0; i < CMN_CFG_NOPTS; i++) {
        const cmn_cfg_desc_t *d = &cmn_cfg_table[i];
        const config_setting_t *m;

        if (d->o.section != sec)
            continue;
        m = g != NULL ? config_setting_get_member(g, d->o.name) : NULL;
        if (m == NULL) {
            if (!(d->o.flags & CMN_CFG_REQUIRED)) {
                cmn_cfg_default(d, raw);
                continue;
            }
            if (*where == '\0')
                return cmn_cfg_fail(c, 0, "missing required key \"%s\"", d->o.name);
            return cmn_cfg_fail(c, cmn_cfg_line(g), "%s: missing required key \"%s\"", where,
                                d->o.name);
        }
        snprintf(path, sizeof path, "%s%s%s", where, *where ? "." : "", d->o.name);
        sts = cmn_cfg_value(c, d, m, path, raw);
        if (sts != RTR_STS_OK)
            return sts;
    }
    return RTR_STS_OK;
}

/* ---- load and free -------------------------------------------------------------------- */

void
cmn_facility_free(cmn_facility_t **facp)
{
    cmn_facility_t *f;

    if (facp == NULL || *facp == NULL)
        return;
    f = *facp;
    for (size_t i = 0; f->routers != NULL && i < f->nrouters; i++) {
        free(f->routers[i].name);
        free(f->routers[i].clients);
        free(f->routers[i].peers);
        free(f->routers[i].admin);
        free(f->routers[i].state);
    }
    for (size_t i = 0; f->backends != NULL && i < f->nbackends; i++) {
        free(f->backends[i].name);
        free(f->backends[i].shadow);
        free(f->backends[i].servers);
        free(f->backends[i].admin);
        free(f->backends[i].journal);
    }
    for (size_t i = 0; f->partitions != NULL && i < f->npartitions; i++) {
        free(f->partitions[i].name);
        free(f->partitions[i].low_text);
        free(f->partitions[i].high_text);
        free(f->partitions[i].standby);
    }
    free(f->routers);
    free(f->backends);
    free(f->partitions);
    free(f->by_key);
    free(f->path);
    free(f->name);
    free(f);
    *facp = NULL;
}

rtr_status_t
cmn_facility_load_ex(const char *path, const cmn_load_opts_t *opts, cmn_facility_t **out,
                     cmn_diag_t **diag)
{
    static const cmn_load_opts_t defaults = { CMN_JOURNAL_CHECK_ALL, NULL };
    cmn_cfg_t c = { .path = path };
    cmn_facility_t *f = NULL;
    config_t cf;
    rtr_status_t sts;

    if (diag != NULL)
        *diag = NULL;
    if (out != NULL)
        *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (path == NULL || out == NULL ||
        (opts->journal_check == CMN_JOURNAL_CHECK_NODE && opts->node == NULL))
        return RTR_STS_INVARG;
    c.diag = calloc(1, sizeof *c.diag);
    f = calloc(1, sizeof *f);
    if (c.diag == NULL || f == NULL || (f->path = strdup(path)) == NULL) {
        cmn_diag_free(&c.diag);
        cmn_facility_free(&f);
        return RTR_STS_NOMEM;
    }
    config_init(&cf);
    sts = cmn_cfg_parse(&c, &cf);
    if (sts == RTR_STS_OK)
        sts = cmn_cfg_build(&c, &cf, opts, f);
    config_destroy(&cf);
    if (c.nomem)
        sts = RTR_STS_NOMEM;
    if (sts != RTR_STS_OK)
        cmn_facility_free(&f);
    if (sts == RTR_STS_NOMEM || diag == NULL)
        cmn_diag_free(&c.diag);
    if (diag != NULL)
        *diag = c.diag;
    *out = f;
    return sts;
}

rtr_status_t
cmn_facility_load(const char *path, cmn_facility_t **out, cmn_diag_t **diag)
{
    return cmn_facility_load_ex(path, NULL, out, diag);
}

/* ---- lookups ---------------------------------------------------------------------------- */

const cmn_router_t *
cmn_facility_router(const cmn_facility_t *fac, const char *name)
{
    for (size_t i = 0; fac != NULL && name != NULL && i < fac->nrouters; i++)
        if (fac->routers[i].name != NULL && strcasecmp(fac->routers[i].name, name) == 0)
            return &fac->routers[i];
    return NULL;
}

const cmn_backend_t *
cmn_facility_backend(const cmn_facility_t *fac, const char *name)
{
    for (size_t i = 0; fac != NULL && name != NULL && i < fac->nbackends; i++)
        if (fac->backends[i].name != NULL && strcasecmp(fac->backends[i].name, name) == 0)
            return &fac->backends[i];
    return NULL;
}

const cmn_partition_t *
cmn_facility_partition(const cmn_facility_t *fac, const char *name)
{
    for (size_t i = 0; fac != NULL && name != NULL && i < fac->npartitions; i++)
        if (fac->partitions[i].name != NULL && strcasecmp(fac->partitions[i].name, name) == 0)
            return &fac->partitions[i];
    return NULL;
}

const cmn_partition_t *
cmn_facility_partition_for_key(const cmn_facility_t *fac, const cmn_key_t *key)
{
    size_t lo = 0, hi;

    if (fac == NULL || key == NULL || key->len != fac->keylen || fac->by_key == NULL)
        return NULL;
    /* The last partition whose low bound is <= key, if its high bound is >= key. */
    hi = fac->npartitions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmn_key_cmp(&fac->by_key[mid]->low, key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const cmn_partition_t *p = fac->by_key[lo - 1];
    return cmn_key_cmp(key, &p->high) <= 0 ? p : NULL;
}
