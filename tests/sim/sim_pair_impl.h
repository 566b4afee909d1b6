/*
 * sim_pair_impl.h - the pair world's internals (milestone M4, docs/shadow-protocol.md §8),
 * shared by sim_pair.c (routers, backends, faults, the loop), sim_pair_jrn.c (the journal
 * model), sim_pair_model.c (server and client models) and sim_pair_check.c (the invariants of
 * §8.2). Included by no other file.
 *
 * Nodes on the simulated net: 0..2 the routers r1..r3, 3 be1, 4 be2. Server processes sit
 * beside their backend (ipc: a FIFO with its own small delays, no loss); clients sit beside
 * their router (a client's frames travel router -> backend on the net).
 *
 * Thread rule: a world is one thread.
 */
#ifndef SIM_PAIR_IMPL_H
#define SIM_PAIR_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "bkd.h"
#include "rtd_reg.h"
#include "sim.h"
#include "sim_net.h"
#include "sim_sched.h"

#define SP_NR         3 /* routers */
#define SP_NB         2 /* backends */
#define SP_NODES      (SP_NR + SP_NB)
#define SP_NCLI       4     /* client models */
#define SP_TXMAX      512   /* transfers one client starts at most */
#define SP_ACCTS      8     /* bank accounts */
#define SP_CHANS      2     /* server channels per backend's server process */
#define SP_FT         1000u /* failure_timeout_ms */
#define SP_HB         250u  /* heartbeat_ms */
#define SP_LEASE      (2u * SP_FT)
#define SP_MARGIN     (SP_LEASE / 10u)
#define SP_LEASES     64 /* lease requests remembered per backend incarnation */
#define SP_MAX_EVENTS 4000000u

enum {
    SP_EV_DELIVER = 1, /* a frame arrives (sim_net): a = from, b = to */
    SP_EV_R_PERSIST,   /* a = router, gen = incarnation, x = ticket, data = state */
    SP_EV_R_TIMER,     /* a = router, gen = timer generation */
    SP_EV_R_RESTART,   /* a = router */
    SP_EV_B_TIMER,     /* a = backend, gen = timer generation */
    SP_EV_B_FLUSH,     /* a = backend, gen = incarnation: the journal's group commit */
    SP_EV_B_HB,        /* a = backend, gen = incarnation: the shell's heartbeat */
    SP_EV_B_RESTART,   /* a = backend */
    SP_EV_B_SRV,       /* a = backend, gen = incarnation, data = a server's frame */
    SP_EV_B_RLOST,     /* a = backend, x = router, gen = router incarnation: timeout */
    SP_EV_FAULT,
    SP_EV_UNPAUSE, /* a = backend, gen = pause generation */
    SP_EV_QUIESCE,
    SP_EV_END,
    SP_EV_CLI,     /* a = client: the next transfer */
    SP_EV_CLI_TMO, /* a = client, x = transfer index: no outcome yet */
    SP_EV_BOOT,    /* rtrcli bootstraps the facility (until a value is committed) */
    SP_EV_R_HB,    /* a = router, gen = incarnation: the shell's heartbeat to the backends */
};

/* ---- journal model ------------------------------------------------------------------- */

typedef struct {
    Rtr__JournalRecord **rec; /* by n (owned) */
    uint64_t cap;
    uint64_t top; /* highest n held */
    Rtr__JournalMeta *meta;
} sp_jstate_t;

typedef struct {
    bkd_action_kind_t kind; /* APPEND, SET_STATE, META, TRUNCATE */
    uint64_t ticket;
    Rtr__JournalRecord *rec; /* APPEND (owned) */
    Rtr__JournalMeta *meta;  /* META, TRUNCATE (owned) */
    uint64_t n;
    Rtr__TxState state;
    uint64_t moved_to;
} sp_jop_t;

typedef struct {
    sp_jstate_t cur;  /* everything submitted (what a read sees) */
    sp_jstate_t hard; /* what survives a crash for sure */
    sp_jop_t *ops;    /* submitted, not hardened, in ticket order */
    size_t nops, capops;
    bool flush_armed;
    uint64_t flushes, lost_ops, kept_ops;
} sp_jrn_t;

/* ---- server model (a bank) ------------------------------------------------------------- */

typedef struct {
    bool used;
    uint8_t tid[16];
    bool uncertain; /* delivered as msg1_uncertain */
    bool skip;      /* voted already_applied: the outcome changes nothing */
    uint32_t from, to, amount;
} sp_chan_t;

typedef struct {
    sp_chan_t ch[SP_CHANS];
    int64_t bal[SP_ACCTS];
    uint8_t applied[SP_NCLI * SP_TXMAX]; /* times each transfer was applied */
    uint32_t *log;                       /* transfer indices in apply order */
    size_t nlog, caplog;
    uint64_t due; /* its frames reach the backend in order */
} sp_srv_t;

/* ---- backend ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t epoch, seq, sent_ms; /* LeaseRequest sent at sent_ms on the backend's clock */
    uint32_t granted;             /* bit per router whose grant arrived */
} sp_lease_t;

typedef struct {
    bkd_core_t *c;
    bool up;
    bool paused;
    uint64_t life;        /* incarnations started */
    uint64_t incarnation; /* this process's id */
    uint64_t timer_gen, pause_gen;
    int64_t rate_ppm;
    uint64_t off_ms;
    sim_event_t *inbox; /* events held while paused */
    size_t ninbox, capinbox;
    sp_jrn_t j;
    /* the shell's view of its links */
    bool partner_up;
    uint64_t partner_inc, partner_seen_ms;
    bool router_up[SP_NR];
    uint64_t router_inc[SP_NR];
    sp_srv_t srv;
    uint64_t n_of[SP_NCLI * SP_TXMAX]; /* the newest CSN each transfer was appended at */
    sp_lease_t lease[SP_LEASES];
    size_t nlease;
    uint64_t lease_epoch[8], lease_until[8]; /* majority-granted leases: until (local ms) */
    bool had_read;
} sp_be_t;

/* ---- router ----------------------------------------------------------------------------- */

typedef struct {
    rtd_reg_t *reg;
    bool up;
    uint64_t inc;
    uint64_t timer_gen;
    sim_store_t store;
    int64_t rate_ppm;
    uint64_t off_ms;
    uint64_t last_ticket;
    uint8_t **lb; /* loopback frames (FIFO) */
    size_t *lblen;
    size_t nlb, caplb;
    int route; /* backend index the partition's route points at, -1 none */
    uint64_t route_epoch;
} sp_router_t;

/* ---- clients ---------------------------------------------------------------------------- */

enum { SP_TX_NONE = 0, SP_TX_PENDING, SP_TX_ACCEPTED, SP_TX_REJECTED, SP_TX_UNKNOWN };

typedef struct {
    uint64_t inc;
    uint32_t next; /* transfers started */
    uint8_t st[SP_TXMAX];
    uint8_t queries[SP_TXMAX];
    uint8_t router[SP_TXMAX];  /* the router that last sent it ... */
    uint8_t backend[SP_TXMAX]; /* ... and to which backend (its entry relays only that one's) */
    uint8_t resends[SP_TXMAX];
    uint64_t csn[SP_TXMAX];
    uint8_t body[SP_TXMAX][12];
} sp_cli_t;

/* ---- the world -------------------------------------------------------------------------- */

typedef struct {
    uint8_t tid[16];
    uint64_t epoch; /* of the record, as the decider held it */
    int by;         /* backend that first reported it */
    bool set;
} sp_decided_t;

typedef struct {
    const sim_opts_t *o;
    const cmn_facility_t *fac;
    sim_result_t *res;
    rtd_reg_cfg_t rcfg;
    sim_sched_t *sched;
    sim_net_t *net;
    sim_trace_t *trace;
    sim_check_t *check;
    sim_rng_t rfault, rreq, rclock, rcore, rstore;
    sp_router_t r[SP_NR];
    sp_be_t b[SP_NB];
    sp_cli_t cli[SP_NCLI];
    bool broken; /* --broken vote_before_ack */
    bool quiesce, done, booted;
    bool stress;
    uint64_t fault_gap_lo, fault_gap_hi;
    uint64_t tx_gap_lo, tx_gap_hi;
    Rtr__RegisterValue *newest; /* newest committed value seen (owned) */
    sp_decided_t *decided;      /* by n */
    uint64_t ndecided;
    uint64_t *en_key; /* (epoch, n) -> transfer index + 1 of every hardened record */
    uint32_t *en_val;
    size_t en_cap, en_used;
    uint64_t accepted, decisions, queries;
    uint64_t bcrash, bpause, rcrash;
} sp_world_t;

static inline uint64_t
sp_now(const sp_world_t *w)
{
    return sim_sched_now(w->sched);
}

#define SP_TRACE(w, ...) sim_trace_add((w)->trace, sp_now(w), __VA_ARGS__)

extern const char *const sp_names[SP_NODES]; /* "r1" "r2" "r3" "be1" "be2" */

/* ---- sim_pair.c ------------------------------------------------------------------------ */

/* sp_schedule - an event of `kind` at `at` µs; data (malloc'd or NULL) consumed. */
void sp_schedule(sp_world_t *w, uint64_t at, int kind, uint32_t a, uint64_t gen, uint64_t x,
                 uint8_t *data, size_t len);

/* sp_send - encode env and send it from -> to on the net. */
void sp_send(sp_world_t *w, size_t from, size_t to, const Rtr__Envelope *env);

/* sp_be_local_ms - backend b's monotonic clock now. */
uint64_t sp_be_local_ms(const sp_world_t *w, size_t b);

/* sp_info - backend b's partition view (b up). */
bkd_part_info_t sp_info(const sp_world_t *w, size_t b);

/* sp_tx_index / sp_tid - transfer index (client * SP_TXMAX + k) of a TID, SIZE_MAX if not a
 * client's; the TID of an index. */
size_t sp_tx_index(const sp_world_t *w, const uint8_t *tid);
void sp_tid(const sp_world_t *w, size_t idx, uint8_t out[16]);

/* ---- sim_pair_jrn.c: the journal model ------------------------------------------------ */

/* sp_rec_dup / sp_meta_dup - deep copies (NULL in, NULL out; a failure is a violation). */
Rtr__JournalRecord *sp_rec_dup(sp_world_t *w, const Rtr__JournalRecord *r);
Rtr__JournalMeta *sp_meta_dup(sp_world_t *w, const Rtr__JournalMeta *r);

/* sp_jstate_clear / sp_jop_clear - free what a state / a queued action owns. */
void sp_jstate_clear(sp_jstate_t *s);
void sp_jop_clear(sp_jop_t *op);

/* sp_jstate_apply - apply one action to a state; `own`: its pointers move in (else copies). */
void sp_jstate_apply(sp_world_t *w, sp_jstate_t *s, sp_jop_t *op, bool own);

/* sp_jrn_submit - backend b's journal action a (its rec/meta taken): applied to `cur`, queued,
 * a group commit armed. */
void sp_jrn_submit(sp_world_t *w, size_t b, bkd_action_t *a);

/* sp_jrn_harden - the first k queued actions harden, the rest are dropped (a crash keeps a
 * prefix); true if one was a truncation. */
bool sp_jrn_harden(sp_world_t *w, size_t b, size_t k);

/* sp_jrn_crash - backend b died: `hard` plus a random prefix of the queue survives. */
void sp_jrn_crash(sp_world_t *w, size_t b);

/* sp_jrn_read - answer a JOURNAL_READ from `cur` (bkd_core_records_read). */
void sp_jrn_read(sp_world_t *w, size_t b, const bkd_action_t *a);

/* ---- sim_pair_model.c -------------------------------------------------------------------- */

/* sp_srv_from_backend - the server process of backend b receives env from its backend. */
void sp_srv_from_backend(sp_world_t *w, size_t b, const Rtr__Envelope *env);

/* sp_srv_attach - backend b (re)started: its server process announces its channels again. */
void sp_srv_attach(sp_world_t *w, size_t b);

/* sp_cli_next - client k starts its next transfer (fault phase) and re-arms itself. */
void sp_cli_next(sp_world_t *w, size_t k);

/* sp_cli_timeout - transfer x of client k has no outcome yet: TxQuery. */
void sp_cli_timeout(sp_world_t *w, size_t k, uint64_t x);

/* sp_cli_nack - backend b asks router r to resend a transfer (its TxMsg came after its
 * VoteRequest, or was lost with a reset): the client sends both again, marked resent. */
void sp_cli_nack(sp_world_t *w, size_t r, size_t b, const Rtr__TxNack *n);

/* sp_open_tx - transactions not DONE in backend b's core; *first gets one's text. */
size_t sp_open_tx(sp_world_t *w, size_t b, char *first, size_t n);

/* sp_cli_outcome - router r relays backend b's TxOutcome (or a TxQueryReply's) to its client.
 * As rtd_core does, a rejection is relayed only from the backend the router's entry for the
 * transfer points at (the last one it sent the transfer to); a commit is news from anyone. */
void sp_cli_outcome(sp_world_t *w, size_t r, size_t b, const Rtr__TxOutcome *o);

/* ---- sim_pair_check.c -------------------------------------------------------------------- */

/* sp_check_decision - backend b reported the commit of TID at csn (TxOutcome accepted);
 * `first`: its first report of that decision (invariants 4, 5, 7). */
void sp_check_decision(sp_world_t *w, size_t b, const uint8_t *tid, uint64_t csn);

/* sp_check_hardened_record - record rec became hardened in b's journal (invariant 5). */
void sp_check_hardened_record(sp_world_t *w, size_t b, const Rtr__JournalRecord *rec);

/* sp_check_accepted_all - invariant 1 over every accepted transfer. */
void sp_check_accepted_all(sp_world_t *w);

/* sp_check_accepted_one - invariant 1 for transfer idx (accepted with csn). */
void sp_check_accepted_one(sp_world_t *w, size_t idx, uint64_t csn);

/* sp_check_value - a newer committed register value: invariants 1, 6, 7. */
void sp_check_value(sp_world_t *w, const Rtr__RegisterValue *v);

/* sp_check_apply - b's server applies transfer idx (invariant 2). */
void sp_check_apply(sp_world_t *w, size_t b, size_t idx);

/* sp_lease_sent / sp_lease_granted - lease bookkeeping for invariant 4. */
void sp_lease_sent(sp_world_t *w, size_t b, const Rtr__LeaseRequest *m);
void sp_lease_granted(sp_world_t *w, size_t b, size_t router, const Rtr__LeaseGrant *g);

/* sp_converged - quiesce: the pair is pri_act/sec_act with equal applied points, nothing
 * undecided; sp_check_final - invariants 3, 6 and 9 at that point. */
bool sp_converged(sp_world_t *w);
void sp_check_final(sp_world_t *w);

/* sp_check_free - the checker's tables. */
void sp_check_clear(sp_world_t *w);

#endif /* SIM_PAIR_IMPL_H */
