/*
 * cmn.h - what every RTR component shares: logging, assertions, time, TIDs, key segments.
 * The facility configuration has its own header, cmn_config.h.
 *
 * Thread rule: everything here is thread-safe unless a function says otherwise. The log sink
 * is process-wide (like syslog) and set once at start-up by a daemon or tool; librtr never
 * prints and routes its log lines to an application hook instead.
 */
#ifndef CMN_H
#define CMN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtr_status.h"

/* ---- logging ------------------------------------------------------------------------- */

/* Syslog levels. */
typedef enum {
    CMN_LOG_EMERG = 0,
    CMN_LOG_ALERT,
    CMN_LOG_CRIT,
    CMN_LOG_ERR,
    CMN_LOG_WARNING,
    CMN_LOG_NOTICE,
    CMN_LOG_INFO,
    CMN_LOG_DEBUG,
} cmn_log_level_t;

/* A log sink for embedders (librtr's hook). Receives one finished line without newline. */
typedef void cmn_log_fn(void *arg, cmn_log_level_t level, const char *line);

/* cmn_log_open - route log lines to a file (appended; NULL or "-" = stderr), keep those at
 * `level` or more severe, and name the process role ("router", "backend", "rtrcli") and node
 * in every line. Returns RTR_STS_IOERR if the file cannot be opened (stderr is kept). */
rtr_status_t cmn_log_open(const char *path, cmn_log_level_t level, const char *role,
                          const char *node);

/* cmn_log_set_hook - send lines to fn instead of a file (fn NULL = back to stderr). */
void cmn_log_set_hook(cmn_log_fn *fn, void *arg);

/* cmn_log_set_level / cmn_log_get_level - the threshold. */
void cmn_log_set_level(cmn_log_level_t level);
cmn_log_level_t cmn_log_get_level(void);

/* cmn_log_level_parse - "err", "warning", "info", "debug", ... to a level. */
rtr_status_t cmn_log_level_parse(const char *s, cmn_log_level_t *out);

/* cmn_log - one line: time, level, role, node, the stable message id, then the formatted text,
 * which should be key=value fields ("partition=P1 csn=7 sts=JNLFULL"). Use RTR_LOG. */
void cmn_log(cmn_log_level_t level, const char *msgid, const char *file, int line, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));

#define RTR_LOG(level, msgid, ...)                                      \
    do {                                                                \
        if ((level) <= cmn_log_get_level())                             \
            cmn_log((level), (msgid), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

/* RTR_ASSERT - a broken invariant (a bug, not a failure): log file:line and abort.
 * Stays on in release builds. */
#define RTR_ASSERT(cond)                                \
    do {                                                \
        if (!(cond))                                    \
            cmn_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)
void cmn_assert_fail(const char *cond, const char *file, int line) __attribute__((noreturn));

/* ---- daemons -------------------------------------------------------------------------- */

/* The command line of every RTR daemon (rtr-router, rtr-backend). Pointers are borrowed from
 * argv; NULL when an option was not given. */
typedef struct {
    const char *config, *node, *log, *level;
} cmn_daemon_args_t;

typedef enum {
    CMN_DAEMON_ARGS_RUN = 0, /* parsed: go on */
    CMN_DAEMON_ARGS_HELP,    /* --help printed on stdout: exit 0 */
    CMN_DAEMON_ARGS_BAD,     /* a clear message (and the usage) on stderr: exit 1 */
} cmn_daemon_args_rc_t;

/* cmn_daemon_args - parse "PROG --config FILE --node NAME [--log FILE] [--log-level LEVEL]
 * [--help]"; `about` (the daemon's own description) is printed by --help between the usage
 * line and the options. --config and --node are required; extra arguments are refused. */
cmn_daemon_args_rc_t cmn_daemon_args(const char *prog, const char *about, int argc, char **argv,
                                     cmn_daemon_args_t *a);

/* ---- time ---------------------------------------------------------------------------- */

/* cmn_now_mono_ns - monotonic clock in nanoseconds (CLOCK_MONOTONIC). Only daemons and tools
 * read the clock; the protocol cores are handed the time in their events. */
uint64_t cmn_now_mono_ns(void);

/* cmn_now_wall_ms - wall-clock milliseconds since the epoch (for logs and records only). */
uint64_t cmn_now_wall_ms(void);

/* ---- transaction ids ----------------------------------------------------------------- */

/* A TID: the frontend incarnation's 64-bit id and a 64-bit counter (DESIGN §5). Compared and
 * hashed as a value. Printed "<incarnation as 16 hex digits>.<counter in decimal>". */
typedef struct {
    uint64_t incarnation;
    uint64_t counter;
} cmn_tid_t;

#define CMN_TID_STRLEN 38 /* 16 hex + '.' + up to 20 digits + NUL */

/* cmn_incarnation_new - a random, non-zero 64-bit incarnation id (getrandom). */
rtr_status_t cmn_incarnation_new(uint64_t *out);

/* cmn_tid_cmp - total order: by incarnation, then counter. Returns <0, 0, >0. */
int cmn_tid_cmp(const cmn_tid_t *a, const cmn_tid_t *b);

/* cmn_tid_format - writes the printed form into buf (at least CMN_TID_STRLEN bytes); returns buf.
 */
char *cmn_tid_format(const cmn_tid_t *tid, char *buf, size_t len);

/* cmn_tid_parse - parses the printed form. RTR_STS_INVARG on anything else (trailing text,
 * missing parts, more than 16 hex digits, counter overflow). */
rtr_status_t cmn_tid_parse(const char *s, cmn_tid_t *out);

/* cmn_tid_pack / cmn_tid_unpack - the 16-byte big-endian wire and journal form (so that byte
 * order equals cmn_tid_cmp order). */
void cmn_tid_pack(const cmn_tid_t *tid, uint8_t out[16]);
void cmn_tid_unpack(const uint8_t in[16], cmn_tid_t *out);

/* ---- big-endian helpers -------------------------------------------------------------- */

static inline void
cmn_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void
cmn_put_be64(uint8_t *p, uint64_t v)
{
    cmn_put_be32(p, (uint32_t)(v >> 32));
    cmn_put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t
cmn_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t
cmn_get_be64(const uint8_t *p)
{
    return ((uint64_t)cmn_get_be32(p) << 32) | cmn_get_be32(p + 4);
}

/* Key segments and the facility configuration have their own headers; including cmn.h gives
 * the whole common component. */
#include "cmn_key.h"    /* IWYU pragma: export */
#include "cmn_config.h" /* IWYU pragma: export */
#endif                  /* CMN_H */
