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
 *   4. check what no single key can: unique names and endpoints, journal directories, pair
 *      members, key bounds against the key segments, overlapping ranges.
 * Of the lexical scan and libconfig, the problem on the earlier line is reported, so the first
 * error in the file always wins. Nothing here has state outside the call; nothing on disk is
 * created or changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "cmn.h"
#include "cmn_config.h"

#define CMN_CFG_FILE_MAX (16u << 20) /* a facility file larger than this is refused */
#define CMN_CFG_DIR_MAX  1024        /* longest journal directory path */

/* ---- raw values, filled by the table walk (step 3) ---------------------------------- */

typedef struct {
    char *facility;
    const config_setting_t *key, *routers, *backends, *partitions, *settings;
} cmn_raw_top_t;

typedef struct {
    int type;
    int64_t offset, length;
} cmn_raw_seg_t;

typedef struct {
    char *name;
    const config_setting_t *low, *high;
    char *primary, *secondary;
    const config_setting_t *standby;
    bool concurrent;
    int remember;
} cmn_raw_part_t;

typedef struct {
    int64_t heartbeat_ms, failure_timeout_ms, max_frame_bytes, journal_max_mb;
    int log_level;
} cmn_raw_settings_t;

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
    CMN_OPT(CMN_CFG_SEC_SETTINGS, "log_level", CMN_CFG_ENUM, 0, "notice",
            0, 0, CMN_LEVELS, CMN_NOSUB, NULL, cmn_raw_settings_t, log_level,
            "Daemons' log threshold unless --log-level says otherwise."),
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

typedef struct {
    const char *path;
    cmn_diag_t *diag;
    bool nomem;
} cmn_cfg_t;

/* cmn_cfg_fail - record the first error ("FILE:LINE: message") and return RTR_STS_CONFIG
 * (RTR_STS_NOMEM if even that fails). Later errors are dropped: the first one is the report. */
static rtr_status_t cmn_cfg_fail(cmn_cfg_t *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static rtr_status_t
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

/* cmn_cfg_warn - add a warning; a failed allocation only marks the context. */
static void cmn_cfg_warn(cmn_cfg_t *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
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

static int
cmn_cfg_line(const config_setting_t *s)
{
    return s != NULL ? (int)config_setting_source_line(s) : 0;
}

/* cmn_cfg_member_line - the line of g's member `name`, or of g itself if it has none. */
static int
cmn_cfg_member_line(const config_setting_t *g, const char *name)
{
    const config_setting_t *m = g != NULL ? config_setting_get_member(g, name) : NULL;
    return cmn_cfg_line(m != NULL ? m : g);
}

static const char *
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

static bool
cmn_cfg_is_int(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* cmn_cfg_num - an integer setting's value. Hex literals are bit patterns, so they are read as
 * unsigned (0xFFFFFFFF is 4294967295, 0xFFFFFFFFFFFFFFFFL is UINT64_MAX). Returns true and sets
 * *neg for a negative value, false and sets *pos otherwise. */
static bool
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

static const char *
cmn_plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* ---- step 1: the lexical scan --------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t len;
    int line;
} cmn_lex_name_t;

typedef struct {
    bool group;
    cmn_lex_name_t *names;
    size_t n, cap;
} cmn_lex_frame_t;

#define CMN_LEX_DEPTH 64 /* deeper nesting is not checked for duplicates (libconfig still is) */

typedef struct {
    const char *buf;
    size_t len, i;
    int line;
    cmn_lex_frame_t frames[CMN_LEX_DEPTH];
    size_t nesting; /* current frame; frame 0 is the top level */
    int issue_line;
    char issue[256];
    bool nomem;
} cmn_lex_t;

static void cmn_lex_issue(cmn_lex_t *lx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cmn_lex_issue(cmn_lex_t *lx, int line, const char *fmt, ...)
{
    va_list ap;

    if (lx->issue_line != 0)
        return;
    lx->issue_line = line;
    va_start(ap, fmt);
    vsnprintf(lx->issue, sizeof lx->issue, fmt, ap);
    va_end(ap);
}

static bool
cmn_lex_isname(char ch, bool first)
{
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '*')
        return true;
    return !first && ((ch >= '0' && ch <= '9') || ch == '-' || ch == '_');
}

static bool
cmn_lex_isdigit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static char
cmn_lex_at(const cmn_lex_t *lx, size_t i)
{
    return i < lx->len ? lx->buf[i] : '\0';
}

/* cmn_lex_open - enter a { group } or a ( list ) / [ array ]. */
static void
cmn_lex_open(cmn_lex_t *lx, bool group)
{
    lx->nesting++;
    if (lx->nesting < CMN_LEX_DEPTH) {
        cmn_lex_frame_t *f = &lx->frames[lx->nesting];
        f->group = group;
        f->n = 0;
    }
}

static void
cmn_lex_close(cmn_lex_t *lx)
{
    if (lx->nesting > 0)
        lx->nesting--;
}

/* cmn_lex_define - a setting name was followed by '=' or ':' in the current scope. */
static void
cmn_lex_define(cmn_lex_t *lx, const char *name, size_t len, int line)
{
    cmn_lex_frame_t *f;
    cmn_lex_name_t *v;

    if (lx->nesting >= CMN_LEX_DEPTH)
        return;
    f = &lx->frames[lx->nesting];
    if (!f->group)
        return;
    for (size_t k = 0; k < f->n; k++) {
        if (f->names[k].len == len && memcmp(f->names[k].name, name, len) == 0) {
            cmn_lex_issue(lx, line, "duplicate key \"%.*s\" (first defined at line %d)", (int)len,
                          name, f->names[k].line);
            return;
        }
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        v = realloc(f->names, cap * sizeof *v);
        if (v == NULL) {
            lx->nomem = true;
            return;
        }
        f->names = v;
        f->cap = cap;
    }
    f->names[f->n++] = (cmn_lex_name_t){ name, len, line };
}

/* cmn_lex_number - an integer or float literal at lx->i; checks that an integer fits the type
 * libconfig will give it (32 bits, or 64 with the L suffix). */
static void
cmn_lex_number(cmn_lex_t *lx)
{
    size_t start = lx->i, i = lx->i, ndig = 0;
    bool neg = false, hex = false, over = false, isfloat = false, suffix;
    uint64_t v = 0;
    char ch = cmn_lex_at(lx, i);

    if (ch == '-' || ch == '+') {
        neg = ch == '-';
        i++;
    }
    if (cmn_lex_at(lx, i) == '0' &&
        (cmn_lex_at(lx, i + 1) == 'x' || cmn_lex_at(lx, i + 1) == 'X')) {
        hex = true;
        i += 2;
        for (; strchr("0123456789abcdefABCDEF", cmn_lex_at(lx, i)) && cmn_lex_at(lx, i); i++) {
            if (ndig > 0 || cmn_lex_at(lx, i) != '0')
                ndig++;
        }
    } else {
        for (; cmn_lex_isdigit(cmn_lex_at(lx, i)); i++) {
            uint64_t d = (uint64_t)(cmn_lex_at(lx, i) - '0');
            if (v > (UINT64_MAX - d) / 10)
                over = true;
            else
                v = v * 10 + d;
        }
        ch = cmn_lex_at(lx, i);
        if (ch == '.' || ch == 'e' || ch == 'E') {
            isfloat = true;
            for (; strchr("0123456789.eE", cmn_lex_at(lx, i)) && cmn_lex_at(lx, i); i++) {
                ch = cmn_lex_at(lx, i);
                if ((ch == 'e' || ch == 'E') &&
                    (cmn_lex_at(lx, i + 1) == '-' || cmn_lex_at(lx, i + 1) == '+'))
                    i++;
            }
        }
    }
    suffix = !isfloat && cmn_lex_at(lx, i) == 'L';
    if (suffix) {
        i++;
        if (cmn_lex_at(lx, i) == 'L')
            i++;
    }
    lx->i = i;
    if (isfloat)
        return;

    int shown = (int)((i - start) > 40 ? 40 : (i - start));
    const char *text = lx->buf + start;
    bool fits32, fits64;
    if (hex) {
        fits32 = ndig <= 8;
        fits64 = ndig <= 16;
    } else {
        fits32 = !over && v <= (neg ? UINT64_C(2147483648) : UINT64_C(2147483647));
        fits64 = !over && v <= (neg ? UINT64_C(9223372036854775808) : (uint64_t)INT64_MAX);
    }
    if (suffix ? fits64 : fits32)
        return;
    if (!suffix && fits64)
        cmn_lex_issue(lx, lx->line,
                      "integer %.*s does not fit in 32 bits; write %.*sL for a 64-bit integer",
                      shown, text, shown, text);
    else
        cmn_lex_issue(lx, lx->line, "integer %.*s does not fit in 64 bits", shown, text);
}

/* cmn_lex_skip - skip a comment or string at lx->i if there is one; counts lines. */
static bool
cmn_lex_skip(cmn_lex_t *lx)
{
    char ch = cmn_lex_at(lx, lx->i), next = cmn_lex_at(lx, lx->i + 1);

    if (ch == '#' || (ch == '/' && next == '/')) {
        while (lx->i < lx->len && lx->buf[lx->i] != '\n')
            lx->i++;
        return true;
    }
    if (ch == '/' && next == '*') {
        lx->i += 2;
        while (lx->i < lx->len && !(lx->buf[lx->i] == '*' && cmn_lex_at(lx, lx->i + 1) == '/')) {
            if (lx->buf[lx->i] == '\n')
                lx->line++;
            lx->i++;
        }
        lx->i += 2;
        return true;
    }
    if (ch == '"') {
        for (lx->i++; lx->i < lx->len && lx->buf[lx->i] != '"'; lx->i++) {
            if (lx->buf[lx->i] == '\\' && lx->i + 1 < lx->len)
                lx->i++;
            if (lx->buf[lx->i] == '\n')
                lx->line++;
        }
        lx->i++;
        return true;
    }
    return false;
}

/* cmn_cfg_lex - step 1 over the whole buffer. Sets lx->issue_line (0: nothing found). */
static void
cmn_cfg_lex(cmn_lex_t *lx)
{
    const char *pending = NULL; /* a name that may be followed by '=' or ':' */
    size_t plen = 0;
    int pline = 0;

    lx->line = 1;
    lx->frames[0].group = true;
    /* libconfig stops reading at a NUL byte: scan up to it, then report it. */
    const char *nul = memchr(lx->buf, '\0', lx->len);
    if (nul != NULL)
        lx->len = (size_t)(nul - lx->buf);
    while (lx->i < lx->len && lx->issue_line == 0 && !lx->nomem) {
        char ch = lx->buf[lx->i];

        if (ch == '\n') {
            lx->line++;
            lx->i++;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
            lx->i++;
            continue;
        }
        if (cmn_lex_skip(lx))
            continue;
        if (ch == '=' || ch == ':') {
            if (pending != NULL)
                cmn_lex_define(lx, pending, plen, pline);
            pending = NULL;
            lx->i++;
            continue;
        }
        pending = NULL;
        if (cmn_lex_isname(ch, true)) {
            pending = lx->buf + lx->i;
            pline = lx->line;
            while (lx->i < lx->len && cmn_lex_isname(lx->buf[lx->i], false))
                lx->i++;
            plen = (size_t)(lx->buf + lx->i - pending);
        } else if (cmn_lex_isdigit(ch) || ((ch == '-' || ch == '+' || ch == '.') &&
                                           cmn_lex_isdigit(cmn_lex_at(lx, lx->i + 1)))) {
            cmn_lex_number(lx);
        } else if (ch == '@' && lx->len - lx->i >= 8 &&
                   memcmp(lx->buf + lx->i, "@include", 8) == 0) {
            cmn_lex_issue(lx, lx->line, "@include is not supported: a facility is one file");
        } else {
            if (ch == '{')
                cmn_lex_open(lx, true);
            else if (ch == '(' || ch == '[')
                cmn_lex_open(lx, false);
            else if (ch == '}' || ch == ')' || ch == ']')
                cmn_lex_close(lx);
            lx->i++;
        }
    }
    if (nul != NULL && lx->issue_line == 0) {
        int line = 1;
        for (const char *p = lx->buf; p < nul; p++)
            line += *p == '\n';
        cmn_lex_issue(lx, line, "the file contains a NUL byte");
    }
}

static void
cmn_lex_free(cmn_lex_t *lx)
{
    for (size_t k = 0; k < CMN_LEX_DEPTH; k++)
        free(lx->frames[k].names);
}

/* ---- steps 1 and 2: read and parse ---------------------------------------------------- */

/* cmn_cfg_read - the whole file into a NUL-terminated buffer (caller frees). */
static rtr_status_t
cmn_cfg_read(cmn_cfg_t *c, char **out, size_t *outlen)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    rtr_status_t sts;

    if (fd < 0 || fstat(fd, &st) != 0) {
        sts = cmn_cfg_fail(c, 0, "cannot read the file: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        sts = cmn_cfg_fail(c, 0, "not a regular file");
        goto fail;
    }
    if ((uint64_t)st.st_size > CMN_CFG_FILE_MAX) {
        close(fd);
        return cmn_cfg_fail(c, 0, "the file is too large (%" PRIu64 " bytes; the limit is %u MiB)",
                            (uint64_t)st.st_size, CMN_CFG_FILE_MAX >> 20);
    }
    buf = malloc((size_t)st.st_size + 2);
    if (buf == NULL) {
        sts = RTR_STS_NOMEM;
        goto fail;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sts = cmn_cfg_fail(c, 0, "cannot read the file: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break; /* shrank while reading: parse what is there */
        n += (size_t)r;
    }
    close(fd);
    /* libconfig 1.5 calls a final comment without a newline a syntax error: add the newline
     * (it moves no line number). */
    if (n == 0 || buf[n - 1] != '\n')
        buf[n++] = '\n';
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return RTR_STS_OK;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return sts == RTR_STS_CONFIG ? RTR_STS_IOERR : sts;
}

/* cmn_cfg_parse - steps 1 and 2: the lexical scan, then libconfig; the earlier problem wins. */
static rtr_status_t
cmn_cfg_parse(cmn_cfg_t *c, config_t *cf)
{
    cmn_lex_t lx;
    char *buf = NULL;
    size_t len = 0;
    rtr_status_t sts = cmn_cfg_read(c, &buf, &len);

    if (sts != RTR_STS_OK)
        return sts;
    memset(&lx, 0, sizeof lx);
    lx.buf = buf;
    lx.len = len;
    cmn_cfg_lex(&lx);
    if (lx.nomem) {
        sts = RTR_STS_NOMEM;
        goto done;
    }
    if (config_read_string(cf, buf) != CONFIG_TRUE) {
        int line = config_error_line(cf);
        const char *text = config_error_text(cf);

        /* An error inside another file can only come from an @include, which step 1 refuses. */
        if (lx.issue_line != 0 && (lx.issue_line <= line || config_error_file(cf) != NULL))
            sts = cmn_cfg_fail(c, lx.issue_line, "%s", lx.issue);
        else if (text != NULL && strcmp(text, "mismatched element type in array") == 0)
            sts = cmn_cfg_fail(c, line,
                               "mismatched element type in array: all values of an array [ ... ] "
                               "must have one type (1 and 1L differ); use a list ( ... ) for "
                               "mixed values");
        else if (text != NULL && strcmp(text, "duplicate setting name") == 0)
            sts = cmn_cfg_fail(c, line, "duplicate key");
        else
            sts = cmn_cfg_fail(c, line, "%s", text != NULL ? text : "syntax error");
        goto done;
    }
    if (lx.issue_line != 0)
        sts = cmn_cfg_fail(c, lx.issue_line, "%s", lx.issue);
done:
    cmn_lex_free(&lx);
    free(buf);
    return sts;
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

static rtr_status_t
cmn_cfg_nomem(cmn_cfg_t *c)
{
    c->nomem = true;
    return RTR_STS_NOMEM;
}

/* cmn_cfg_endpoint_why - why `ep` is not an endpoint of the kinds `flags` allows (the reason is
 * written into why, which is returned), or NULL when it is a valid one. */
static const char *cmn_cfg_endpoint_why(const char *ep, unsigned flags, char *why, size_t len);

/* cmn_cfg_dir_normalize - make `path` an absolute path without "//" or a trailing "/", in
 * place; returns a static reason when the path is refused, NULL when it is fine. */
static const char *cmn_cfg_dir_normalize(char *path);

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
        *(int64_t *)field = strtoll(d->o.def, NULL, 10);
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
static rtr_status_t
cmn_cfg_group(cmn_cfg_t *c, const config_setting_t *g, cmn_config_section_t sec, const char *where,
              void *raw)
{
    char path[160], keys[256];
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

/* ---- endpoints and directories -------------------------------------------------------- */

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
        if (!cmn_lex_isdigit(h[i]) && h[i] != '.')
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
                   cmn_lex_isdigit(h[i]) || h[i] == '-') {
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
        ok = cmn_lex_isdigit(port[i]);
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    if (!ok || v < 1 || v > 65535) {
        snprintf(why, len, "port \"%s\" is not a number from 1 to 65535", port);
        return why;
    }
    return NULL;
}

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

/* cmn_cfg_dir_usable - may the backend use (or create) journal directory `dir`? It must be a
 * writable directory, or not exist yet with its nearest existing ancestor a writable directory
 * (the backend creates the missing ones). Writes the reason into why when not. */
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

/* cmn_cfg_journals - distinct, not nested in one another, and (per opts) usable here. */
static rtr_status_t
cmn_cfg_journals(cmn_cfg_t *c, const cmn_facility_t *f, const config_setting_t *backends,
                 const cmn_load_opts_t *opts)
{
    char why[CMN_CFG_DIR_MAX + 128];

    for (size_t i = 0; i < f->nbackends; i++) {
        const cmn_backend_t *b = &f->backends[i];
        const config_setting_t *g = config_setting_get_elem(backends, (unsigned)i);
        int line = cmn_cfg_member_line(g, "journal");

        for (size_t k = 0; k < i; k++) {
            const cmn_backend_t *o = &f->backends[k];
            size_t ol = strlen(o->journal), bl = strlen(b->journal);
            if (strcmp(o->journal, b->journal) == 0)
                return cmn_cfg_fail(c, line,
                                    "backends[%zu].journal: \"%s\" is already the journal "
                                    "directory of backend \"%s\" (line %d)",
                                    i, b->journal, o->name, o->line);
            if ((bl > ol && strncmp(b->journal, o->journal, ol) == 0 &&
                 (b->journal[ol] == '/' || ol == 1)) ||
                (ol > bl && strncmp(o->journal, b->journal, bl) == 0 &&
                 (o->journal[bl] == '/' || bl == 1)))
                return cmn_cfg_fail(c, line,
                                    "backends[%zu].journal: \"%s\" and the journal directory "
                                    "\"%s\" of backend \"%s\" (line %d) are nested",
                                    i, b->journal, o->journal, o->name, o->line);
        }
        if (opts->journal_check == CMN_JOURNAL_CHECK_NONE)
            continue;
        if (opts->journal_check == CMN_JOURNAL_CHECK_NODE && strcasecmp(b->name, opts->node) != 0)
            continue;
        if (!cmn_cfg_dir_usable(b->journal, why, sizeof why))
            return cmn_cfg_fail(c, line, "backends[%zu].journal: \"%s\" is not usable: %s", i,
                                b->journal, why);
    }
    return RTR_STS_OK;
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
    f->settings.log_level = (cmn_log_level_t)raw.log_level;
    return RTR_STS_OK;
}

/* cmn_cfg_build - steps 3 and 4 over a parsed file. */
static rtr_status_t
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
        (sts = cmn_cfg_journals(c, f, top.backends, opts)) != RTR_STS_OK ||
        (sts = cmn_cfg_partitions(c, f, top.partitions)) != RTR_STS_OK ||
        (sts = cmn_cfg_settings(c, f, top.settings)) != RTR_STS_OK)
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
