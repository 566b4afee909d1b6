/*
 * sim.h - the deterministic simulator (sim_): the world, its invariant checker, its trace and
 * its acceptor store model (docs/shadow-protocol.md §8). The scheduler and the network have
 * their own headers (sim_sched.h, sim_net.h) because the unit tests use them alone.
 *
 * Milestone M1 runs the register only: three routers each with a real rtd_reg core, an acceptor
 * store model per router, fake requesters (rtrcli's bootstrap, two backends' role changes and
 * lease requests), network faults, crashes and one wipe per seed. A run is one seed: the same
 * seed always gives the same trace (sim_result_t.trace_hash).
 *
 * Thread rule: a world is one thread; separate worlds share nothing but the facility (read
 * only), so worker processes may run seeds side by side.
 */
#ifndef SIM_H
#define SIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cmn.h"
#include "wire.h"

/* ---- trace --------------------------------------------------------------------------- */

#define SIM_TRACE_CAP  4000 /* events kept for a violation report */
#define SIM_TRACE_LINE 200  /* longest line kept (longer ones are cut) */

typedef struct sim_trace sim_trace_t;

/* sim_trace_new - a ring of the last `cap` lines; every line also goes to `live` when not NULL
 * (--trace). RTR_STS_NOMEM. *out owned by the caller (sim_trace_free). */
rtr_status_t sim_trace_new(size_t cap, FILE *live, sim_trace_t **out);

/* sim_trace_free - free and NULL the pointer; accepts NULL and &NULL. */
void sim_trace_free(sim_trace_t **t);

/* sim_trace_add - one line "t=SECONDS.MICROS text". Every line feeds the trace hash. */
void sim_trace_add(sim_trace_t *t, uint64_t t_us, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sim_trace_dump - the kept lines, oldest first, to f. */
void sim_trace_dump(const sim_trace_t *t, FILE *f);

/* sim_trace_hash / sim_trace_count - FNV-1a of every line ever added / their number. */
uint64_t sim_trace_hash(const sim_trace_t *t);
uint64_t sim_trace_count(const sim_trace_t *t);

/* sim_trace_env - a short description of an envelope's body into buf ("RegPrepare{req=3
 * b=7.2}"); returns buf. */
char *sim_trace_env(char *buf, size_t n, const Rtr__Envelope *env);

/* ---- invariant checker --------------------------------------------------------------- */

typedef struct sim_check sim_check_t;

/* sim_check_new - an empty checker. RTR_STS_NOMEM. */
rtr_status_t sim_check_new(sim_check_t **out);

/* sim_check_free - free and NULL the pointer; accepts NULL and &NULL. */
void sim_check_free(sim_check_t **c);

/* sim_check_committed - `who` reported `v` committed (RTD_REG_LEARNED, or a RegChangeReply
 * carrying a value). Checks invariants 1 (one value per version), 2 (one chain of versions) and
 * 3 (one primary per partition and epoch). `v` is borrowed for the call. */
void sim_check_committed(sim_check_t *c, const char *who, const Rtr__RegisterValue *v);

/* sim_check_fail - record a violation (only the first one is kept). */
void sim_check_fail(sim_check_t *c, const char *invariant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

bool sim_check_failed(const sim_check_t *c);
const char *sim_check_invariant(const sim_check_t *c); /* "" while none */
const char *sim_check_detail(const sim_check_t *c);

/* sim_check_max_version - the highest committed version reported so far (0 = none). */
uint64_t sim_check_max_version(const sim_check_t *c);

/* sim_check_kinds - how many links of the chain each change function explains (RESUME,
 * SHRINK, ADD, PROMOTE, FORCE), for the run summary. */
void sim_check_kinds(const sim_check_t *c, uint64_t out[5]);

/* sim_check_primary - the primary of partition `part` in epoch `epoch` according to the
 * committed values seen (NULL if no committed value had that epoch); valid while c lives. */
const char *sim_check_primary(const sim_check_t *c, const char *part, uint64_t epoch);

/* ---- acceptor store model (sim_store.c) ---------------------------------------------- */

#define SIM_STORE_HISTORY 4 /* durable states kept for the amnesia fault */

typedef struct {
    uint8_t *durable; /* the encoded AcceptorState on "disk"; NULL = empty store */
    size_t len;
    uint8_t *hist[SIM_STORE_HISTORY]; /* previous durable states, newest first */
    size_t hlen[SIM_STORE_HISTORY];
    uint64_t last_due; /* writes become durable in ticket order */
    uint64_t writes;   /* writes made durable */
    bool voter;        /* the durable state would vote at a restart (not empty, not learner) */
    uint64_t version;  /* version of the durable state's accepted value (0 = none) */
    uint64_t lost;     /* writes lost in crashes (never durable) */
} sim_store_t;

/* sim_store_due - when a write issued now with a drawn latency becomes durable: strictly
 * after the previous write (tickets are reported in order). */
uint64_t sim_store_due(sim_store_t *s, uint64_t now_us, uint64_t delay_us);

/* sim_store_durable - a write is durable: `data` (owned, malloc'd) replaces the state. */
void sim_store_durable(sim_store_t *s, uint8_t *data, size_t len);

/* sim_store_crash - the process died: pending writes are lost (the world drops their events). */
void sim_store_crash(sim_store_t *s);

/* sim_store_wipe - the disk was replaced: empty store. */
void sim_store_wipe(sim_store_t *s);

/* sim_store_amnesia - BROKEN store (--broken amnesia): it lies about durability and a crash
 * rolls it back `k` acknowledged writes (k >= 1; past the history: empty). */
void sim_store_amnesia(sim_store_t *s, size_t k);

/* sim_store_refresh - recompute `voter` and `version` from the durable bytes (called by every
 * function above that changes them). */
void sim_store_refresh(sim_store_t *s);

/* sim_store_load - decode the durable state (*out NULL when empty; owned: wire_free).
 * RTR_STS_OK or the decoder's status. */
rtr_status_t sim_store_load(const sim_store_t *s, Rtr__AcceptorState **out);

/* sim_store_clear - free everything (end of a run). */
void sim_store_clear(sim_store_t *s);

/* ---- the world ----------------------------------------------------------------------- */

typedef struct {
    uint64_t seed;
    const cmn_facility_t *fac1; /* one shadowed partition */
    const cmn_facility_t *fac2; /* two shadowed partitions */
    const char *broken;         /* NULL, or a rule the sim breaks on purpose ("amnesia") */
    FILE *live;                 /* --trace: every trace line as it happens; NULL otherwise */
    uint64_t fault_ms;          /* fault phase length (virtual) */
    uint64_t quiesce_ms;        /* liveness deadline after the fault phase */
    bool skip_durable_check;    /* tests only: leave invariant 7 out, to show that 1-3 catch
                                 * a broken store on their own */
} sim_opts_t;

typedef struct {
    bool failed;
    char invariant[64];
    char detail[1024];
    uint64_t events;      /* scheduler events processed */
    uint64_t trace_lines; /* trace lines written */
    uint64_t trace_hash;  /* FNV-1a of the whole trace: same seed, same hash */
    uint64_t max_version; /* highest committed version */
    uint64_t crashes, wipes, partitions, changes_ok, changes_refused, leases, end_us;
    uint64_t kinds[5];      /* committed changes: RESUME, SHRINK, ADD, PROMOTE, FORCE */
    uint64_t learner_joins; /* routers that started empty and voted after learning */
    /* the pair scenario */
    bool small_window;  /* the cores kept little in memory for an absent partner */
    uint64_t accepted;  /* transfers the clients saw accepted */
    uint64_t decisions; /* CSNs decided COMMIT (first reports) */
    uint64_t bcrashes, bpauses;
} sim_result_t;

/* sim_register_facilities - the register scenario's facilities (three routers r1..r3, backends
 * be1/be2; `one` with one shadowed partition P1, `two` with P1 and P2), written to a private
 * temporary directory, loaded (no directory checks) and removed again. Both owned by the
 * caller (cmn_facility_free). RTR_STS_OK, or the loader's status (the reason on stderr). */
rtr_status_t sim_register_facilities(cmn_facility_t **one, cmn_facility_t **two);

/* sim_broken_known - is `rule` a --broken rule of the register scenario? */
bool sim_broken_known(const char *rule);

/* sim_register_run - run one seed of the register scenario. On a violation res->failed is set,
 * and when `report` is not NULL the trace ring is dumped there before the world is freed.
 * RTR_STS_OK when the run happened (violated or not); RTR_STS_NOMEM, RTR_STS_INVARG. */
rtr_status_t sim_register_run(const sim_opts_t *opts, sim_result_t *res, FILE *report);

/* ---- the pair scenario (milestone M4, sim_pair*.c) ------------------------------------ */

/* sim_pair_broken_known - is `rule` a --broken rule of the pair scenario (vote_before_ack)? */
bool sim_pair_broken_known(const char *rule);

/* sim_pair_run - run one seed of the pair scenario: three routers (rtd_reg), the shadow pair
 * be1/be2 (the backend cores built with RTR_SIM), journals, servers, clients, faults, quiesce
 * (opts->fac1: one shadowed partition). Same contract as sim_register_run. */
rtr_status_t sim_pair_run(const sim_opts_t *opts, sim_result_t *res, FILE *report);

#endif /* SIM_H */
