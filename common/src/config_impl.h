/*
 * config_impl.h - internals of the facility loader, shared by config.c (the option table, the
 * diagnostics, step 3: the table walk, the load entry points and the lookups), config_lex.c
 * (steps 1 and 2: read, lexical scan, libconfig) and config_check.c (step 4: the checks across
 * keys). Included by no other folder except tests/common.
 *
 * All of it lives for one cmn_facility_load_ex call: the load context cmn_cfg_t is on its
 * stack, and the config_setting_t pointers below belong to its config_t. Single-threaded, no
 * state outside the call.
 */
#ifndef CMN_CONFIG_IMPL_H
#define CMN_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "cmn.h"
#include "cmn_config.h"

#define CMN_CFG_DIR_MAX 1024 /* longest journal or state directory path */

/* What an absent CMN_CFG_DERIVED key holds after the table walk, until step 4 computes its
 * default; every derived key has a minimum >= 1, so no written value can look like it. */
#define CMN_CFG_UNSET (-1)

/* Bounds and defaults shared by the option table and the checks of step 4. */
#define CMN_CFG_LEASE_MAX      600000     /* settings.lease_ms; also caps its default */
#define CMN_CFG_WINDOW_MAX     1073741824 /* settings.*_window_bytes: 1 GiB */
#define CMN_CFG_SHADOW_WINDOW  8388608    /* settings.shadow_window_bytes: 8 MiB ... */
#define CMN_CFG_CATCHUP_WINDOW 4194304    /* settings.catchup_window_bytes: 4 MiB ... */
                                          /* ... or max_frame_bytes when that is larger */
#define CMN_CFG_STR_(x) #x
#define CMN_CFG_STR(x)  CMN_CFG_STR_(x)

/* ---- raw values, filled by the table walk (step 3), read by step 4 ------------------------ */

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
    int64_t heartbeat_ms, failure_timeout_ms, max_frame_bytes, journal_max_mb, replay_limit;
    int log_level;
    /* the shadow pairs (docs/shadow-protocol.md); CMN_CFG_UNSET when derived and absent */
    int64_t lease_ms, lease_margin_ms, shadow_lag_ms, catchup_lag_ms, shadow_window_bytes,
        catchup_window_bytes, register_timeout_ms, deny_reject_ms;
} cmn_raw_settings_t;

/* ---- load context and diagnostics (config.c) ---------------------------------------------- */

typedef struct {
    const char *path;
    cmn_diag_t *diag;
    bool nomem;
} cmn_cfg_t;

/* cmn_cfg_fail - record the first error ("FILE:LINE: message"; "FILE: message" when line is 0)
 * and return RTR_STS_CONFIG (RTR_STS_NOMEM if even that fails). Later errors are dropped: the
 * first one is the report. */
rtr_status_t cmn_cfg_fail(cmn_cfg_t *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cmn_cfg_warn - add a warning ("FILE:LINE: message"); a failed allocation only marks the
 * context (c->nomem). */
void cmn_cfg_warn(cmn_cfg_t *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cmn_cfg_nomem - mark the context out of memory and return RTR_STS_NOMEM. */
rtr_status_t cmn_cfg_nomem(cmn_cfg_t *c);

/* ---- reading libconfig settings (config.c) ------------------------------------------------ */

/* cmn_cfg_line - the source line of s, 0 when s is NULL. */
int cmn_cfg_line(const config_setting_t *s);

/* cmn_cfg_member_line - the line of g's member `name`, or of g itself if it has none. */
int cmn_cfg_member_line(const config_setting_t *g, const char *name);

/* cmn_cfg_kind - what s is, for "expected X, found Y" messages ("an integer", "a string"...);
 * a static string. */
const char *cmn_cfg_kind(const config_setting_t *s);

/* cmn_cfg_is_int - is s a 32- or 64-bit integer setting? */
bool cmn_cfg_is_int(const config_setting_t *s);

/* cmn_cfg_num - an integer setting's value. Hex literals are bit patterns, so they are read as
 * unsigned (0xFFFFFFFF is 4294967295, 0xFFFFFFFFFFFFFFFFL is UINT64_MAX). Returns true and sets
 * *neg for a negative value, false and sets *pos otherwise. */
bool cmn_cfg_num(const config_setting_t *s, int64_t *neg, uint64_t *pos);

/* cmn_cfg_isdigit - an ASCII digit, whatever the locale. */
static inline bool
cmn_cfg_isdigit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* ---- the steps ---------------------------------------------------------------------------- */

/* cmn_cfg_parse - steps 1 and 2 (config_lex.c): read c->path, scan it, parse it into cf (which
 * the caller has initialized and destroys). Of the lexical scan and libconfig, the problem on
 * the earlier line is reported through cmn_cfg_fail. Returns RTR_STS_OK, RTR_STS_CONFIG,
 * RTR_STS_IOERR (the file cannot be read) or RTR_STS_NOMEM. */
rtr_status_t cmn_cfg_parse(cmn_cfg_t *c, config_t *cf);

/* cmn_cfg_group - step 3 (config.c): walk group g (NULL: absent, defaults only) of section sec
 * against the option table, filling raw, the section's raw struct (cmn_raw_*_t, or
 * cmn_router_t / cmn_backend_t); strings stored in it are malloc'ed and owned by the caller,
 * settings are borrowed from g's config_t. `where` names g in messages ("" for the top level,
 * "routers[0]"). Unknown keys, missing required keys and bad values fail. */
rtr_status_t cmn_cfg_group(cmn_cfg_t *c, const config_setting_t *g, cmn_config_section_t sec,
                           const char *where, void *raw);

/* cmn_cfg_build - steps 3 and 4 (config_check.c) over the parsed file cf: fill f (allocated and
 * zeroed by the caller, who frees it with cmn_facility_free whatever the result) and check the
 * facility as a whole. Returns RTR_STS_OK, RTR_STS_CONFIG or RTR_STS_NOMEM. */
rtr_status_t cmn_cfg_build(cmn_cfg_t *c, const config_t *cf, const cmn_load_opts_t *opts,
                           cmn_facility_t *f);

#endif /* CMN_CONFIG_IMPL_H */
