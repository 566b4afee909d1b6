/*
 * cmn_config.h - the facility configuration (DESIGN §4): one libconfig file, loaded and validated
 * by this one module for every program (daemons, librtr, rtrcli check facility).
 *
 * One table of option descriptors (cmn_config_opt) drives parsing, defaults, validation and the
 * reference in docs/config-reference.md. Loading refuses the whole file on the first problem and
 * says where: "FILE:LINE: message" (just "FILE: message" when no line applies). The messages
 * are stable: tests and operators' scripts match them.
 *
 * Names of nodes and partitions are unique regardless of case and looked up regardless of case
 * ("acct_low" finds ACCT_LOW), as RTR's operator commands were.
 *
 * Ownership: cmn_facility_load returns a facility the caller owns and frees with
 * cmn_facility_free; every pointer inside it (names, endpoints, partition members) lives as long
 * as the facility. The structs below are public for reading; never modify them.
 *
 * Thread rule: loading is reentrant (no globals, libconfig is used per call); a loaded facility
 * is immutable and may be read from any number of threads.
 */
#ifndef CMN_CONFIG_H
#define CMN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmn.h"
#include "cmn_key.h"

/* ---- the loaded facility -------------------------------------------------------------- */

#define CMN_FACILITY_NAME_MAX  30  /* facility name: 1..30 of [A-Za-z0-9_] */
#define CMN_NODE_NAME_MAX      31  /* router and backend names: 1..31 of [A-Za-z0-9_-] */
#define CMN_PARTITION_NAME_MAX 63  /* partition names: 1..63 of [A-Za-z0-9_-] */
#define CMN_IPC_PATH_MAX       100 /* ipc:// paths (sockaddr_un with a margin) */

/* A router node. Endpoints are the strings of the file ("tcp://127.0.0.1:7101"). */
typedef struct {
    char *name;
    char *clients; /* tcp: frontends (librtr clients) connect here */
    char *peers;   /* tcp: backends and the other routers connect here */
    char *admin;   /* tcp or ipc: rtrcli connects here */
    char *state;   /* absolute directory of the router's acceptor store (the facility
                    * register, docs/shadow-protocol.md §5.5), normalized like
                    * cmn_backend_t.journal; NULL when absent, which the loader allows only
                    * when no partition is shadowed. It may not exist yet: the router creates
                    * it, and any missing parents, at first start. */
    int line;      /* line of the router's { ... } in the file */
} cmn_router_t;

/* A backend node. */
typedef struct {
    char *name;
    char *shadow;  /* tcp: the shadow partner connects here */
    char *servers; /* ipc or tcp: local server applications connect here */
    char *admin;   /* ipc or tcp: rtrcli connects here */
    char *journal; /* absolute directory of the BDB journal, normalized (no "//", no trailing
                    * "/"). It may not exist yet: the backend creates it, and any missing
                    * parents, with mode 0700 at first start. */
    int line;
} cmn_backend_t;

/* remember = allow | deny: may the partition commit with a single copy (REMEMBER state)? */
typedef enum {
    CMN_REMEMBER_ALLOW = 0,
    CMN_REMEMBER_DENY = 1,
} cmn_remember_t;

/* A partition: a key range and the backends that serve it. `low` and `high` are inclusive,
 * normalized (cmn_key.h: string bounds padded with 0x00 for low and 0xFF for high). The
 * partition's identity is its name; its index in fac->partitions is only its position in the
 * file and may change when the file is edited. */
typedef struct {
    char *name;
    cmn_key_t low;
    cmn_key_t high;
    char *low_text; /* the bounds as written, for display: "[0]", "[1, \"M\"]" */
    char *high_text;
    const cmn_backend_t *primary;   /* first-boot hint only (DESIGN §6); never NULL */
    const cmn_backend_t *secondary; /* NULL: the partition is not shadowed */
    size_t nstandby;
    const cmn_backend_t **standby; /* spares, in file order (nstandby entries) */
    bool concurrent;               /* several servers may share the partition's queue */
    cmn_remember_t remember;
    int line;
} cmn_partition_t;

/* Timing and limits: the optional `settings` group (defaults in the option table; the ones
 * marked "derived" follow other settings when absent, and the loaded values are always the
 * effective ones). The shadow-pair settings (docs/shadow-protocol.md) are loaded, checked and
 * defaulted for every facility, shadowed or not. */
typedef struct {
    int64_t heartbeat_ms;         /* heartbeat period of every link */
    int64_t failure_timeout_ms;   /* a peer silent this long is lost (>= 2 heartbeats) */
    int64_t max_frame_bytes;      /* largest frame accepted on any socket (ZMQ_MAXMSGSIZE) */
    int64_t journal_max_mb;       /* journal size limit in MiB; 0 = unlimited */
    int64_t replay_limit;         /* replays of a transaction before EXCEPTION (1..1000) */
    cmn_log_level_t log_level;    /* daemons' default log threshold */
    int64_t lease_ms;             /* primary's lease (§5.6); derived: min(2 x failure timeout,
                                   * 600000); >= 2 heartbeats */
    int64_t lease_margin_ms;      /* drift margin of a lease; derived: lease_ms / 10;
                                   * 1 <= margin and 2 x margin < lease_ms */
    int64_t shadow_lag_ms;        /* oldest unacked record older than this: T11 (§2.1);
                                   * derived: failure_timeout_ms; >= heartbeat_ms */
    int64_t catchup_lag_ms;       /* a catching-up member this far behind is dropped (§6);
                                   * derived: shadow_lag_ms; >= heartbeat_ms */
    int64_t shadow_window_bytes;  /* unacked live bytes kept in memory per member (§4.3);
                                   * derived: max(8 MiB, max_frame_bytes) */
    int64_t catchup_window_bytes; /* unacked backfill bytes in flight per member (§4.3, §6);
                                   * derived: max(4 MiB, max_frame_bytes) */
    int64_t register_timeout_ms;  /* a register round or request times out (§5.5) */
    int64_t deny_reject_ms;       /* a stalled remember=deny primary refuses new transactions
                                   * after this (§3.2); derived: 2 x failure_timeout_ms */
} cmn_settings_t;

/* A loaded, valid facility. */
typedef struct {
    char *path; /* the file it was loaded from */
    char *name; /* facility name */
    size_t nseg;
    cmn_keyseg_t seg[CMN_MAX_KEYSEG];
    size_t keylen; /* length of every normalized key: cmn_key_length(seg, nseg) */
    size_t nrouters;
    cmn_router_t *routers; /* file order */
    size_t nbackends;
    cmn_backend_t *backends; /* file order */
    size_t npartitions;
    cmn_partition_t *partitions;    /* file order */
    const cmn_partition_t **by_key; /* the same partitions sorted by low bound */
    cmn_settings_t settings;
} cmn_facility_t;

/* ---- diagnostics ---------------------------------------------------------------------- */

/* The outcome of a load: the first error (if any) and every warning. */
typedef struct {
    char *error;   /* "FILE:LINE: message" or "FILE: message"; NULL when the file is valid */
    char *file;    /* the file of the error; NULL when no error */
    int line;      /* its line; 0 when no line applies */
    char *message; /* the error without "FILE:LINE: " */
    size_t nwarnings;
    char **warnings; /* each "FILE:LINE: message"; the file is valid despite them */
} cmn_diag_t;

/* cmn_diag_free - free a diagnostic and NULL the caller's pointer; accepts NULL and &NULL. */
void cmn_diag_free(cmn_diag_t **diag);

/* ---- loading -------------------------------------------------------------------------- */

/* Which journal directories a load checks on this machine's file system. */
/* Which store directories (backends' journals, routers' state) a load checks on this machine's
 * file system. The name says "journal" for history: the router state directories follow the
 * same mode. */
typedef enum {
    CMN_JOURNAL_CHECK_ALL = 0, /* every node's (rtrcli check facility, one-host facilities) */
    CMN_JOURNAL_CHECK_NODE,    /* only opts->node's: its journal if it is a backend, its state
                                * directory if it is a router (a daemon's --node) */
    CMN_JOURNAL_CHECK_NONE,    /* none (librtr, tools on hosts that run no daemon) */
} cmn_journal_check_t;

typedef struct {
    cmn_journal_check_t journal_check;
    const char *node; /* NULL, or a node that must be defined in the facility */
} cmn_load_opts_t;

/* cmn_facility_load - read and validate a facility file, checking every journal directory.
 * The same as cmn_facility_load_ex(path, NULL, out, diag). */
rtr_status_t cmn_facility_load(const char *path, cmn_facility_t **out, cmn_diag_t **diag);

/* cmn_facility_load_ex - read and validate a facility file.
 * opts NULL means { CMN_JOURNAL_CHECK_ALL, NULL }.
 * On success returns RTR_STS_OK and *out is a facility the caller owns (cmn_facility_free).
 * Otherwise *out is NULL and the status says why: RTR_STS_CONFIG (the file is invalid),
 * RTR_STS_IOERR (it cannot be read), RTR_STS_NOMEM, RTR_STS_INVARG (path or out NULL).
 * If diag is not NULL, *diag receives a diagnostic the caller owns (cmn_diag_free) in every
 * case but RTR_STS_NOMEM and RTR_STS_INVARG: the error text and every warning. Blocks on file
 * I/O; touches nothing on disk (journal and state directories are checked, never created). */
rtr_status_t cmn_facility_load_ex(const char *path, const cmn_load_opts_t *opts,
                                  cmn_facility_t **out, cmn_diag_t **diag);

/* cmn_facility_free - free a facility and NULL the caller's pointer; accepts NULL and &NULL.
 * Every pointer obtained from the facility dies with it. */
void cmn_facility_free(cmn_facility_t **fac);

/* ---- lookups (pointers into fac, valid until cmn_facility_free) ----------------------- */

/* cmn_facility_router / _backend / _partition - by name, regardless of case; NULL if none. */
const cmn_router_t *cmn_facility_router(const cmn_facility_t *fac, const char *name);
const cmn_backend_t *cmn_facility_backend(const cmn_facility_t *fac, const char *name);
const cmn_partition_t *cmn_facility_partition(const cmn_facility_t *fac, const char *name);

/* cmn_facility_partition_for_key - the partition whose range holds a normalized key (binary
 * search over fac->by_key); NULL if no range holds it (RTR_STS_NODSTFND for the caller) or the
 * key's length is not fac->keylen. */
const cmn_partition_t *cmn_facility_partition_for_key(const cmn_facility_t *fac,
                                                      const cmn_key_t *key);

/* ---- the option table (read-only; drives parsing, validation and the docs) ------------- */

/* Where a key lives in the file. */
typedef enum {
    CMN_CFG_SEC_TOP = 0,   /* the top level */
    CMN_CFG_SEC_KEY,       /* each group of the `key` list */
    CMN_CFG_SEC_ROUTER,    /* each group of the `routers` list */
    CMN_CFG_SEC_BACKEND,   /* each group of the `backends` list */
    CMN_CFG_SEC_PARTITION, /* each group of the `partitions` list */
    CMN_CFG_SEC_SETTINGS,  /* the `settings` group */
    CMN_CFG_SEC__COUNT
} cmn_config_section_t;

/* Value types. */
typedef enum {
    CMN_CFG_NAME,     /* string: a name (length min..max; letters, digits, '_' [and '-']) */
    CMN_CFG_ENUM,     /* string: one of `choices` */
    CMN_CFG_ENDPOINT, /* string: tcp://HOST:PORT and/or ipc:///PATH, see the flags */
    CMN_CFG_DIR,      /* string: absolute directory path (length min..max) */
    CMN_CFG_INT,      /* integer min..max */
    CMN_CFG_BOOL,     /* true | false */
    CMN_CFG_BOUND,    /* array or list: one value per key segment */
    CMN_CFG_NAMES,    /* array or list of node names */
    CMN_CFG_GROUPS,   /* list of groups of section `sub` (min..max elements) */
    CMN_CFG_GROUP,    /* a group of section `sub` */
} cmn_config_type_t;

#define CMN_CFG_REQUIRED 0x01u /* the key must be present */
#define CMN_CFG_TCP      0x02u /* ENDPOINT: tcp://HOST:PORT allowed */
#define CMN_CFG_IPC      0x04u /* ENDPOINT: ipc:///PATH allowed */
#define CMN_CFG_HYPHEN   0x08u /* NAME: '-' allowed after the first character */
#define CMN_CFG_DERIVED                                                  \
    0x10u /* INT: the default follows other settings; `def` says how for \
           * the docs ("2 * failure_timeout_ms") and the loader computes \
           * it after the whole section is read */

typedef struct {
    cmn_config_section_t section;
    const char *name;
    cmn_config_type_t type;
    unsigned flags;           /* CMN_CFG_* */
    const char *def;          /* the default as the docs show it; NULL if none (or required) */
    int64_t min, max;         /* INT: values; NAME, DIR: length; GROUPS: number of elements */
    const char *choices;      /* ENUM: "allow|deny" */
    cmn_config_section_t sub; /* GROUPS, GROUP: the section of the members */
    const char *what;         /* GROUPS: what one element is ("router") */
    const char *doc;          /* one sentence */
} cmn_config_opt_t;

/* cmn_config_opt - the i-th option of the table (0-based), or NULL past the end. Static. */
const cmn_config_opt_t *cmn_config_opt(size_t i);

/* cmn_config_section_path - how a section's keys are written in the docs: "" (top level),
 * "key[]", "routers[]", "backends[]", "partitions[]", "settings". Static; "?" if unknown. */
const char *cmn_config_section_path(cmn_config_section_t sec);

/* cmn_config_type_name - "name", "enum", "endpoint", "directory", "integer", "boolean",
 * "bound", "names", "list", "group"; "?" if unknown. Static. */
const char *cmn_config_type_name(cmn_config_type_t type);

#endif /* CMN_CONFIG_H */
