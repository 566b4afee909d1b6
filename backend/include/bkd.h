/*
 * bkd.h - the pure core of rtr-backend (bkd_): partitions this backend serves, its server
 * channels, the transaction table, server assignment, the vote checklist, CSN assignment and
 * replay decisions (docs/protocol.md, DESIGN §5).
 *
 * The core has no sockets, no clock and no Berkeley DB. The daemon (backend/src/bkd_main.c)
 * or a test feeds it events (a decoded frame from a router or a server, a peer lost, the
 * journal hardened up to a ticket, the time) and drains the actions it queues:
 *   BKD_ACT_SEND               send `env` to identity `to` on socket `sock`
 *   BKD_ACT_JOURNAL_APPEND     append `rec` to partition `part`; this is core ticket `ticket`
 *   BKD_ACT_JOURNAL_SET_STATE  set record (part, n) to `state` (moved_to for TX_MOVED);
 *                              core ticket `ticket`
 *   BKD_ACT_JOURNAL_META       store `meta` as partition `part`'s JournalMeta (the shell sets its
 *                              journal id); core ticket `ticket`. Queued before any record of
 *                              a new epoch, so the journal hardens it first.
 *   BKD_ACT_JOURNAL_TRUNCATE   delete partition `part`'s records above `n` and store `meta` (its
 *                              history cut there) in the same journal batch; core ticket
 *                              `ticket` (a member rejoining its primary, shadow-protocol §6)
 *   BKD_ACT_JOURNAL_READ       read partition `part`'s records n .. to_n (ascending, at most
 *                              about max_bytes of them) and give them to
 *                              bkd_core_records_read (a catching-up member's backfill)
 *   BKD_ACT_ARM_TIMER          call bkd_core_timer at `deadline_ms` (monotonic) or earlier
 * Core tickets number the journal actions 1, 2, 3, ... in the order they are queued. The
 * shell submits journal actions in that order and reports bkd_core_journal_hardened(t) once
 * every journal action with ticket <= t is hardened (the journal hardens in submission order,
 * so the shell maps its own jrn tickets to core tickets with a FIFO).
 *
 * User events (Broadcast, best effort, never journaled): a server's Broadcast is sent once to
 * every router the shell reported up (bkd_core_router_up, until bkd_core_router_lost); a
 * router's Broadcast is sent once to every server process with at least one open channel
 * (librtr filters by event number and recipient name). Event numbers above 250 or bodies over
 * 64,000 bytes are refused (RTR_STS_INVARG); refused ones and ones with nobody to go to count
 * in events_dropped, copies sent in events_forwarded.
 *
 * Single backend per partition (RTR's plain `active` state, BKD_ROLE_SOLE): a COMMIT needs
 * only the local journal. A shadowed partition (docs/shadow-protocol.md) adds step 6 to
 * bkd_vote_checklist (bkd_core_tx.c): the primary decides only once its partner acked the
 * record (bkd_pipe.c); the member hardens the primary's records and executes them after the
 * primary applied them, in CSN order, comparing digests (bkd_shadow.c). The shell calls
 * bkd_core_flush at the end of every poll round (batches and acks go out then).
 *
 * Ownership: bkd_core_new returns a core the caller frees with bkd_core_free. Envelopes given
 * to event functions are borrowed for the call. An action taken with bkd_core_next_action is
 * owned by the caller until bkd_action_clear. Names in bkd_core_cfg_t are copied.
 *
 * Thread rule: a core belongs to one thread; nothing in it blocks.
 */
#ifndef BKD_H
#define BKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmn.h"
#include "rtr.pb-c.h"
#include "rtr_status.h"

/* Channel-open flags the backend reads (the values of rtr.h's RTR_F_OPE_*). */
#define BKD_OPE_NOCONCURRENT     0x0010u
#define BKD_OPE_EXPLICIT_PREPARE 0x0020u
/* TxMsg flag: the last message, and the client accepts (rtr.h RTR_F_SEN_ACCEPT). */
#define BKD_SEN_ACCEPT 0x0001u

#define BKD_REPLAY_LIMIT_DEFAULT 3u    /* settings.replay_limit's default */
#define BKD_RESEND_MS_DEFAULT    500u  /* VoteRequest / ServerOutcome resend period */
#define BKD_ID_MAX               255u  /* identities: ZeroMQ routing ids */
#define BKD_MAX_MSGS             4096u /* messages in one transaction */
#define BKD_EVTNUM_USERMAX       250u  /* rtr.h RTR_EVTNUM_USERMAX: highest user event number */

/* This backend's part in a partition. */
typedef enum {
    BKD_ROLE_SOLE = 0,    /* not shadowed: the backend alone serves it (RTR's plain `active`) */
    BKD_ROLE_PRIMARY = 1, /* shadowed, primary: decides, replicates to the partner */
    BKD_ROLE_MEMBER = 2,  /* shadowed, secondary: hardens the primary's records, executes them
                           * after the primary applied them, serves no client */
} bkd_role_t;

/* One partition the backend serves (from the facility: those whose primary is this node, and
 * the shadowed ones it is the secondary of). */
typedef struct {
    const char *name;
    const uint8_t *low; /* normalized bounds, keylen bytes each */
    const uint8_t *high;
    bool concurrent; /* several servers may share the partition's queue */
    uint64_t epoch;  /* from the journal's meta; 0 means 1 (first start) */
    uint64_t last_n; /* highest hardened CSN of the partition (0 if none) */
    bkd_role_t role;
    const char *partner;          /* shadowed: the other member's node name */
    bool remember_deny;           /* remember = deny: never commit with one copy */
    const Rtr__JournalMeta *meta; /* shadowed: the journal's meta for it (borrowed; NULL when
                                   * the journal has none yet) - epoch history, fencing */
} bkd_part_cfg_t;

typedef struct {
    const char *node;     /* this backend's name (Envelope.sender) */
    uint64_t incarnation; /* this process's incarnation */
    size_t keylen;        /* length of every normalized key of the facility */
    size_t nparts;
    const bkd_part_cfg_t *parts;
    uint32_t replay_limit; /* 0 = BKD_REPLAY_LIMIT_DEFAULT */
    uint32_t resend_ms;    /* 0 = BKD_RESEND_MS_DEFAULT */
    size_t max_frame;      /* largest frame to build (RecordBatch); 0 = WIRE_MAX_FRAME_DEFAULT */
    /* the facility register (shadowed partitions only; docs/shadow-protocol.md §5) */
    size_t nrouters;
    const char *const *routers;    /* router names in config order (copied) */
    uint32_t heartbeat_ms;         /* lease requests; 0 = 500 */
    uint32_t failure_timeout_ms;   /* a silent partner is lost; 0 = 2000 */
    uint32_t lease_ms;             /* 0 = 2 x failure_timeout_ms */
    uint32_t lease_margin_ms;      /* 0 = lease_ms / 10 */
    uint32_t shadow_lag_ms;        /* oldest unacked record older than this: shrink; 0 = failure */
    uint32_t catchup_lag_ms;       /* ... of a catching-up partner: its stream is dropped (it
                                    * handshakes again); 0 = shadow_lag_ms */
    uint32_t register_timeout_ms;  /* 0 = 500 */
    uint64_t shadow_window_bytes;  /* unacked records kept in memory for an absent partner;
                                    * above it the oldest are read back from the journal when
                                    * it returns; 0 = 8 MiB */
    uint64_t catchup_window_bytes; /* one journal read of a backfill; 0 = 4 MiB */
    uint32_t deny_reject_ms;       /* remember = deny, stalled this long: new transactions are
                                    * refused RTR_STS_NOSHADOW; 0 = 2 x failure_timeout_ms */
#ifdef RTR_SIM
    bool test_broken_commit_rule; /* the simulator's switch: step 6 skips the partner's ack */
#endif
} bkd_core_cfg_t;

typedef struct bkd_core bkd_core_t;

typedef enum {
    BKD_SOCK_SERVERS = 0, /* the servers ROUTER: `to` is a server process identity */
    BKD_SOCK_ROUTER = 1,  /* the DEALER connected to router `to` */
    BKD_SOCK_SHADOW = 2,  /* the DEALER connected to shadow partner `to` */
} bkd_sock_t;

typedef enum {
    BKD_ACT_SEND = 1,
    BKD_ACT_JOURNAL_APPEND,
    BKD_ACT_JOURNAL_SET_STATE,
    BKD_ACT_ARM_TIMER,
    BKD_ACT_JOURNAL_META,
    BKD_ACT_JOURNAL_TRUNCATE,
    BKD_ACT_JOURNAL_READ,
} bkd_action_kind_t;

typedef struct {
    bkd_action_kind_t kind;
    bkd_sock_t sock;         /* SEND */
    char to[BKD_ID_MAX + 1]; /* SEND: identity (NUL-terminated) */
    Rtr__Envelope *env;      /* SEND: owned by the action; NULL when `frame` is set */
    uint8_t *frame;          /* SEND: an encoded Envelope to send as is (owned; RecordBatch) */
    size_t framelen;
    uint32_t part;           /* JOURNAL_*: index into cfg.parts */
    uint64_t ticket;         /* JOURNAL_*: core ticket */
    Rtr__JournalRecord *rec; /* APPEND: owned by the action */
    Rtr__JournalMeta *meta;  /* META: owned by the action */
    uint64_t n;              /* SET_STATE */
    Rtr__TxState state;      /* SET_STATE */
    uint64_t moved_to;       /* SET_STATE, TX_MOVED */
    uint64_t deadline_ms;    /* ARM_TIMER */
    uint64_t to_n;           /* JOURNAL_READ: last n wanted */
    uint64_t max_bytes;      /* JOURNAL_READ: stop after about this many bytes */
} bkd_action_t;

/* The life of a transaction in the core. */
typedef enum {
    BKD_TX_QUEUED = 0, /* waiting for a free server of its partition */
    BKD_TX_ACTIVE,     /* delivered to a server, undecided */
    BKD_TX_HARDENING,  /* VOTED record appended, not yet hardened */
    BKD_TX_COMMITTED,  /* decided COMMIT, waiting for ServerDone */
    BKD_TX_ABORTED,    /* decided ABORT, waiting for ServerDone (if a server had it) */
    BKD_TX_DONE,       /* finished; kept for deduplication and TxQuery */
    BKD_TX_EXCEPTION,  /* replay limit exceeded: waits for the operator */
    BKD_TX_RETRYING,   /* its server rejected with RTR_F_REJ_RETRY: waits for its ServerDone,
                        * then is queued again */
    BKD_TX__COUNT
} bkd_tx_state_t;

/* Counters of the core (show counters). */
typedef struct {
    uint64_t tx_started, tx_committed, tx_aborted, tx_exception, tx_reused, tx_forgotten;
    uint64_t replays, moved, duplicates, nacks_sent, resends, unexpected, jnlfull;
    uint64_t queries;
    uint64_t tx_noserver; /* new transactions rejected NODSTFND: no server for the partition */
    uint64_t tx_fenced;   /* TIDs a TxQuery did not find: refused from then on (tombstones) */
    uint64_t retries; /* server rejects with RTR_F_REJ_RETRY that queued the transaction again */
    uint64_t events_forwarded, events_dropped; /* Broadcast copies sent / refused or unsent */
    /* shadow pair (docs/shadow-protocol.md): primary side */
    uint64_t shadow_batches, shadow_records_sent, shadow_resent, shadow_acks, shadow_nacks_recv;
    /* member side */
    uint64_t shadow_records_recv, shadow_dups, shadow_gaps, shadow_executed, shadow_divergence;
    uint64_t shadow_unexpected;   /* shadow frames for a partition/role that does not take them */
    uint64_t shadow_partner_lost; /* bkd_core_partner_lost calls */
    /* register client */
    uint64_t reg_requests, reg_timeouts, reg_learned, reg_unexpected;
    uint64_t reg_behind;      /* READs because a router's heartbeat showed a newer register value */
    uint64_t catchup_dropped; /* catching-up partners whose acks stopped (T17) */
    uint64_t leases_requested, leases_granted, leases_refused;
    uint64_t fenced;              /* times a partition was fenced (a newer epoch took over) */
    uint64_t single_copy_commits; /* decided while the partner was out of the in-sync set */
    uint64_t role_events;         /* ServerEvent copies sent to server processes */
    uint64_t tx_noshadow;         /* new transactions refused: remember = deny, stalled */
    uint64_t shadow_hellos;       /* handshakes a member started */
    uint64_t shadow_truncations;  /* member journals cut back to the agreed point */
    uint64_t backfill_reads, backfill_records; /* journal reads for a catching-up member */
    uint64_t window_dropped; /* records dropped from memory for an absent partner */
    uint64_t fenced_frames;  /* batches of an older epoch from a partner that was primary */
    uint64_t unmoved; /* MOVED records executed again as members: the partner never saw the move */
} bkd_core_counters_t;

/* ---- life ----------------------------------------------------------------------------- */

/* bkd_core_new - a core for cfg (copied). RTR_STS_INVARG for a bad cfg, RTR_STS_NOMEM. */
rtr_status_t bkd_core_new(const bkd_core_cfg_t *cfg, bkd_core_t **out);

/* bkd_core_free - free the core (and every queued action) and NULL *cp; accepts NULL. */
void bkd_core_free(bkd_core_t **cp);

/* ---- events --------------------------------------------------------------------------- */

/* bkd_core_router_msg - a decoded envelope received from router `router` (its node name).
 * Handles tx_msg, vote_request, tx_abort, tx_query, broadcast. Any other body is counted as
 * unexpected and returns RTR_STS_INVARG (never applied). */
rtr_status_t bkd_core_router_msg(bkd_core_t *c, const char *router, const Rtr__Envelope *env);

/* bkd_core_server_msg - a decoded envelope received from server process `id`. Handles
 * channel_open, channel_close, server_reply, server_vote, server_done, tx_nack, broadcast. Any
 * other body,
 * or a message for a channel or transaction the server does not hold, is counted as
 * unexpected and returns RTR_STS_INVARG. */
rtr_status_t bkd_core_server_msg(bkd_core_t *c, const char *id, const Rtr__Envelope *env);

/* bkd_core_server_lost - server process `id` is gone (timeout, new incarnation, or its
 * link dropped): its channels close and its transactions are replayed (see bkd_deliver.c). */
void bkd_core_server_lost(bkd_core_t *c, const char *id);

/* bkd_core_router_up - router `router` is connected (its first frame, or the first of a new
 * incarnation): user events of the servers go to it from now on. Idempotent. */
void bkd_core_router_up(bkd_core_t *c, const char *router);

/* bkd_core_register_version - a router's heartbeat says the facility register is at `version`:
 * a shadowed partition that learned an older value READs it (a RegLearn can be lost). */
void bkd_core_register_version(bkd_core_t *c, uint64_t version);

/* bkd_core_router_lost - router `router` is gone: its transactions not yet in VOTING are
 * aborted; decided ones keep their outcome for TxQuery. */
void bkd_core_router_lost(bkd_core_t *c, const char *router);

/* bkd_core_journal_hardened - every journal action with core ticket <= ticket is hardened. */
void bkd_core_journal_hardened(bkd_core_t *c, uint64_t ticket);

/* bkd_core_journal_full - the journal refused the append of core ticket `ticket` with
 * RTR_STS_JNLFULL: the transaction is rejected with RTR_STS_JNLFULL (no CSN is used). */
void bkd_core_journal_full(bkd_core_t *c, uint64_t ticket);

/* bkd_core_timer - the time now (monotonic ms) and the wall clock (for records only):
 * resends what is due and forgets finished transactions below their watermark. */
void bkd_core_timer(bkd_core_t *c, uint64_t now_ms, uint64_t wall_ms);

/* bkd_core_clock - tell the core the time without running its timers (cheap: call it before
 * each batch of events so the stamps it keeps for resends are fresh). */
void bkd_core_clock(bkd_core_t *c, uint64_t now_ms, uint64_t wall_ms);

/* bkd_core_load_record - at start-up, before any other event: a record found in the journal.
 * VOTED/COMMIT records are decided COMMIT and wait for a server to replay them as
 * msg1_uncertain; EXCEPTION ones wait; DONE/ABORT/MOVED ones are kept for deduplication. */
rtr_status_t bkd_core_load_record(bkd_core_t *c, uint32_t part, const Rtr__JournalRecord *rec);

/* bkd_core_tx_settle - the operator settles a transaction in EXCEPTION (`rtrcli set
 * transaction TID retry|done`). retry: its journal record goes back to VOTED and it is replayed
 * (msg1_uncertain) with a fresh replay count; !retry: the operator applied it by other means,
 * its record becomes DONE and it finishes. RTR_STS_NOTFOUND if the core does not know the TID,
 * RTR_STS_INVARG if it is not in EXCEPTION (nothing changes). */
rtr_status_t bkd_core_tx_settle(bkd_core_t *c, const cmn_tid_t *tid, bool retry);

/* ---- shadow pair (docs/shadow-protocol.md §3, §4) -------------------------------------- */

/* bkd_core_shadow_msg - a decoded envelope from shadow partner `partner` (the shell checked
 * the role BACKEND). Handles RecordBatch (member), ShadowAck and ShadowDiverged (primary).
 * RTR_STS_INVARG for another body, a partition this backend does not share with `partner`, or
 * a frame its role does not take (counted in shadow_unexpected, nothing applied). */
rtr_status_t bkd_core_shadow_msg(bkd_core_t *c, const char *partner, const Rtr__Envelope *env);

/* bkd_core_records_read - the answer to BKD_ACT_JOURNAL_READ: n records of partition `part`
 * in ascending CSN order, each packed (bufs[i], lens[i]) with its CSN ns[i]; all borrowed for
 * the call. n = 0 or sts != RTR_STS_OK: none could be read (logged; the backfill is tried
 * again at the next resend period). */
void bkd_core_records_read(bkd_core_t *c, uint32_t part, rtr_status_t sts, size_t n,
                           const uint64_t *ns, uint8_t *const *bufs, const size_t *lens);

/* bkd_core_partner_up - shadow partner `partner` is connected with process `incarnation` (its
 * first frame, or the first of a new incarnation). A new incarnation restarted: the primary
 * sends every record it has not acked again (the member drops what it holds). Idempotent. */
void bkd_core_partner_up(bkd_core_t *c, const char *partner, uint64_t incarnation);

/* bkd_core_partner_lost - shadow partner `partner` went silent (failure_timeout_ms) or its link
 * dropped. Until the register's transitions (SHRINK, PROMOTE) a primary keeps waiting for the
 * partner's acks: nothing is decided with one copy (counted in shadow_partner_lost). */
void bkd_core_partner_lost(bkd_core_t *c, const char *partner);

/* Member states of a shadowed partition (docs/shadow-protocol.md §2). */
typedef enum {
    BKD_MS_NONE = 0, /* not shadowed */
    BKD_MS_WT_QUORUM,
    BKD_MS_LCL_REC,
    BKD_MS_CATCHUP,
    BKD_MS_SECONDARY,
    BKD_MS_ACTIVE,
    BKD_MS_REMEMBER,
    BKD_MS_OUT,
} bkd_ms_t;

/* bkd_ms_name - RTR's names: "wt_quorum", "lcl_rec", "shd_rec", "sec_act", "pri_act",
 * "remember", "shd_out" ("active" for BKD_MS_NONE). Static. */
const char *bkd_ms_name(bkd_ms_t ms);

/* bkd_agreed_point - the largest n <= min(last_p, contig_m) at which the primary's epoch
 * history hp and the member's hm name the same epoch (0 when none): the point up to which the
 * two journals are equal (shadow-protocol §6). Pure; exposed for tests. */
uint64_t bkd_agreed_point(Rtr__EpochStart *const *hp, size_t nhp, uint64_t last_p,
                          Rtr__EpochStart *const *hm, size_t nhm, uint64_t contig_m);

/* bkd_core_register_msg - RegChangeReply, RegLearn or LeaseGrant from router `router` (the
 * register's answers to this backend). RTR_STS_INVARG for another body or one naming a
 * partition this backend does not serve (counted in reg_unexpected). */
rtr_status_t bkd_core_register_msg(bkd_core_t *c, const char *router, const Rtr__Envelope *env);

/* bkd_core_flush - the end of a poll round: the primary sends each partner one RecordBatch
 * (or a few, each under max_frame) with the records the local journal admitted this round, and
 * a member acks what hardened. Cheap when there is nothing to send. */
void bkd_core_flush(bkd_core_t *c);

/* ---- actions -------------------------------------------------------------------------- */

/* bkd_core_next_action - move the oldest queued action into *out (caller owns it until
 * bkd_action_clear). false when none is queued. */
bool bkd_core_next_action(bkd_core_t *c, bkd_action_t *out);

/* bkd_action_clear - free what an action owns. */
void bkd_action_clear(bkd_action_t *a);

/* ---- inspection (admin) --------------------------------------------------------------- */

typedef struct {
    char tid[CMN_TID_STRLEN];
    const char *partition;
    const char *router;
    uint32_t channel;
    bkd_tx_state_t state;
    const char *server; /* identity, or NULL */
    uint32_t server_channel;
    uint32_t nmsgs; /* messages held (contiguous from 0) */
    uint32_t delivered;
    int32_t vote_nmsgs; /* -1 before the vote request */
    int server_vote;    /* 0 none, 1 accept, -1 reject */
    uint32_t nreplies;
    uint64_t epoch, n; /* CSN; n = 0 before one is assigned */
    uint32_t replays;
} bkd_tx_info_t;

typedef struct {
    const char *id;
    uint32_t channel;
    const char *partition;
    uint32_t flags;
    bool busy;
    char tid[CMN_TID_STRLEN]; /* the transaction it holds, "" when free */
} bkd_server_info_t;

typedef struct {
    const char *name;
    uint64_t epoch, next_n, hardened_n;
    uint32_t servers, queued, active;
    bkd_role_t role;
    const char *partner;       /* NULL when not shadowed */
    const char *state;         /* "active" (sole), "pri_act", "sec_act", "shd_out" */
    uint64_t applied_n;        /* contiguous CSNs applied here */
    uint64_t partner_hardened; /* primary: the partner's ack; member: the primary's hardened */
    uint64_t partner_applied;  /* primary: the partner's applied; member: the primary's */
    uint64_t lag_records;      /* primary: records not yet acked; member: hardened, unexecuted */
    uint64_t lag_bytes;        /* primary: bytes not yet acked */
    bool partner_up;           /* the shadow link is up (bkd_core_partner_up/lost) */
    bkd_ms_t ms;               /* member state (BKD_MS_NONE: not shadowed) */
    const char *reason;        /* why it waits (wt_quorum), or "" */
    bool serving;              /* claims the partition's route (BackendHello) */
    bool lease_held;
    uint64_t lease_left_ms;
    uint64_t reg_version; /* register value last learned */
    uint64_t single_copy_commits;
    uint64_t single_copy_from;
    const char *out_reason; /* shd_out: why */
    uint64_t stalled_ms;    /* remember = deny with no partner to ack: stalled for this long */
    /* primary: the partner's catch-up (docs/shadow-protocol.md §6 step 8) */
    uint64_t mitt;         /* the first CSN of its live stream (0: in sync or none) */
    uint64_t behind;       /* records the partner has not acked (hardened here) */
    uint64_t catchup_rate; /* records/s it acked over the last 5 s */
    int64_t eta_ms;        /* until it has everything at these rates; -1: never (not gaining) */
} bkd_part_info_t;

/* bkd_role_name - "sole", "primary", "member". Static. */
const char *bkd_role_name(bkd_role_t r);

/* bkd_tx_state_name - "QUEUED", "ACTIVE", ... Static. */
const char *bkd_tx_state_name(bkd_tx_state_t s);

/* Iteration for the admin commands: call fn for each; borrowed pointers are valid only
 * during the callback. */
typedef void bkd_tx_info_fn(void *arg, const bkd_tx_info_t *ti);
typedef void bkd_server_info_fn(void *arg, const bkd_server_info_t *si);
typedef void bkd_part_info_fn(void *arg, const bkd_part_info_t *pi);
void bkd_core_each_tx(bkd_core_t *c, bkd_tx_info_fn *fn, void *arg);
void bkd_core_each_server(bkd_core_t *c, bkd_server_info_fn *fn, void *arg);
void bkd_core_each_part(bkd_core_t *c, bkd_part_info_fn *fn, void *arg);

/* bkd_core_tx_info - one transaction by TID; RTR_STS_NOTFOUND. */
rtr_status_t bkd_core_tx_info(bkd_core_t *c, const cmn_tid_t *tid, bkd_tx_info_t *out);

/* bkd_core_claim - does this backend serve partition index i now (BackendHello claims it)?
 * *epoch (may be NULL) gets the epoch it serves it in, 0 for a partition without a pair.
 * Cheap: the heartbeat calls it for every partition. */
bool bkd_core_claim(const bkd_core_t *c, uint32_t i, uint64_t *epoch);

/* bkd_core_counters - a snapshot. */
void bkd_core_counters(const bkd_core_t *c, bkd_core_counters_t *out);

/* bkd_core_server_count - server channels attached. */
uint32_t bkd_core_server_count(const bkd_core_t *c);

#endif /* BKD_H */
