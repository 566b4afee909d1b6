/*
 * bkd_core_impl.h - the core's private structures and the functions its files share:
 * bkd_core.c (life, event entry points, partition and server-channel bookkeeping),
 * bkd_core_tx.c (the vote checklist, CSNs, outcomes; tables, actions, inspection) and
 * bkd_deliver.c (delivery to servers, replay and requeue). Included by no other folder except
 * the backend's tests.
 *
 * Thread rule: as bkd.h - one thread owns a core.
 */
#ifndef BKD_CORE_IMPL_H
#define BKD_CORE_IMPL_H

#include "bkd.h"

#define BKD_HASH_BUCKETS 4096u

typedef struct bkd_tx bkd_tx_t;

/* One server channel: (process identity, channel number). */
typedef struct {
    char id[BKD_ID_MAX + 1];
    uint32_t channel;
    uint32_t part;
    uint32_t flags;
    bkd_tx_t *tx; /* the transaction it holds (from Deliver msg1 to ServerDone), or NULL */
} bkd_srv_t;

/* One message of a transaction, as the client sent it. */
typedef struct {
    bool have;
    uint8_t *body; /* NULL once the transaction is finished (digest kept) */
    size_t len;
    uint32_t flags;
    uint32_t format;
    uint64_t digest; /* of the body: deduplication by (TID, index) */
} bkd_msg_t;

/* One reply of the server, kept until the outcome. */
typedef struct {
    uint32_t index;
    uint8_t *body;
    size_t len;
    uint32_t format;
} bkd_reply_t;

struct bkd_tx {
    bkd_tx_t *hnext;       /* hash chain */
    bkd_tx_t *prev, *next; /* all transactions, oldest first */
    bkd_tx_t *qnext;       /* partition queue */
    bkd_tx_t *hard_next;   /* hardening FIFO (ascending voted_ticket) */
    bool hard_listed;
    bool queued;
    bool fenced; /* a tombstone: a TxQuery found nothing here; the TID is refused from then on */
    uint8_t tid[16];
    cmn_tid_t t;
    uint32_t part;
    char router[BKD_ID_MAX + 1]; /* "" when unknown (loaded from the journal) */
    uint32_t channel;            /* client channel */
    uint64_t watermark;
    bkd_msg_t *msgs;
    uint32_t msgcap;
    uint32_t held; /* messages 0..held-1 are all held */
    bkd_srv_t *srv;
    uint32_t delivered; /* Deliver sent for 0..delivered-1 */
    bool uncertain;     /* this execution is a msg1_uncertain replay */
    bool vreq;          /* the vote request arrived */
    uint32_t vreq_n;
    bool vreq_sent; /* forwarded to the current server */
    uint64_t vreq_sent_ms;
    int vote; /* 0 none, 1 accept, -1 reject (of the current execution) */
    uint32_t vote_reason;
    bool vote_retry; /* the reject asks for another execution (RTR_F_REJ_RETRY) */
    bool already_applied;
    bkd_reply_t *replies;
    uint32_t nreplies, replycap;
    uint64_t epoch, n;     /* CSN; n = 0 before the first one */
    uint64_t voted_ticket; /* core ticket of this execution's VOTED record; 0 = none */
    uint64_t old_n;        /* re-execution: the n that becomes MOVED */
    uint64_t accepted_ms;
    uint32_t replays;
    bkd_tx_state_t state;
    bool accepted; /* the outcome, once decided */
    uint32_t out_status, out_reason;
    uint64_t outcome_sent_ms;
    /* shadow pair */
    bkd_tx_t *cover_next; /* primary: waiting for the partner's ack (ascending n) */
    bool cover_listed;
    bool shadow;              /* member: an execution of the primary's record n */
    uint8_t shadow_digest[8]; /* member: the primary's digest of replies and vote */
};

/* Primary side of a shadowed partition (bkd_pipe.c): records the partner has not acked. */
typedef struct {
    uint64_t n;
    uint8_t *buf; /* packed JournalRecord */
    size_t len;
    bool sent;
} bkd_out_t;

#define BKD_PROG_SAMPLES   32   /* catch-up progress samples kept */
#define BKD_PROG_EVERY_MS  250  /* ... at most one per this */
#define BKD_PROG_WINDOW_MS 5000 /* rates are measured over this window */

/* A record state change other than VOTED -> decided, for the partner's next batch. */
typedef struct {
    uint64_t n;
    Rtr__TxState state;
    uint64_t moved_to;
} bkd_chg_t;

typedef struct {
    bkd_out_t *out; /* ring, ascending n: appended, not yet acked */
    size_t head, count, cap;
    uint64_t out_bytes;
    bkd_chg_t *chg; /* kept until the partner's applied point passes them, sent in every batch */
    size_t nchg, chgcap;
    bool chg_dirty; /* a change not sent yet */
    uint64_t acked; /* the partner's contiguous hardened_upto */
    uint64_t partner_applied;
    uint64_t last_progress_ms; /* the ack last moved, or a resend (the resend clock) */
    uint64_t unacked_since_ms; /* the ack last moved, or the first unacked record came (T11's
                                * lag clock: resends do not move it) */
    uint64_t sent_applied;     /* applied_n last sent */
    uint64_t sent_hardened;    /* hardened_n last sent */
    uint64_t armed_ms;         /* resend timer last asked for */
    bkd_tx_t *cover_head, *cover_tail;
    bool diverged;
    char out_reason[128];
    bool streaming;           /* the partner handshook: records go to it (register mode) */
    uint64_t mitt;            /* the first CSN assigned after its stream started (0: none) */
    uint64_t bf_next, bf_end; /* backfill from the journal: next n to read .. last (none when
                               * bf_next > bf_end) */
    bool bf_reading;
    uint64_t unsent_from; /* no record below this n is unsent (flush starts there) */
    uint64_t add_from;    /* an ADD is in flight (or may still commit): records from this n on
                           * wait for the partner's ack, whatever the stream does meanwhile */
    uint64_t add_epoch;   /* ... sent in this epoch: a value of a newer one ends it */
    /* catch-up progress (show partition): the ack and the last CSN, sampled as acks move */
    uint64_t prog_ms[BKD_PROG_SAMPLES], prog_acked[BKD_PROG_SAMPLES], prog_last[BKD_PROG_SAMPLES];
    unsigned prog_n, prog_i;
} bkd_pipe_t;

/* bkd_pipe_progress - the partner's ack rate and this primary's new-record rate (records/s)
 * over the last BKD_PROG_WINDOW_MS. */
void bkd_pipe_progress(const bkd_core_t *c, uint32_t part, uint64_t *ack_rate, uint64_t *new_rate);

/* Member side (bkd_shadow.c): one record received from the primary, not yet executed. */
typedef struct {
    uint64_t n;
    uint64_t ticket;         /* core journal ticket of its append */
    Rtr__JournalRecord *rec; /* owned */
    Rtr__TxState state;      /* VOTED, or what a StateChange said */
    uint64_t moved_to;
} bkd_srec_t;

typedef struct {
    bkd_srec_t *r; /* ring, ascending n: exec_next .. expect - 1 */
    size_t head, count, cap;
    uint64_t expect;    /* next n of the live stream */
    uint64_t hardened;  /* contiguous hardened here */
    uint64_t p_applied; /* the primary's applied_upto */
    uint64_t p_hardened;
    uint64_t epoch;         /* the primary's epoch, from its batches */
    bool executing;         /* one execution at a time (exec_after = n - 1, milestone M3) */
    uint64_t sent_hardened; /* last ack sent */
    uint64_t sent_applied;
    uint64_t last_nack_ms;
    uint64_t refuse_epoch; /* records of this epoch or older are refused (T14) */
    bool started;          /* the primary answered the handshake: its stream is taken */
    unsigned reloading;    /* reads of its own records back into the ring in flight (a
                            * demoted primary's unapplied records, a move undone) */
    uint64_t last_ack_ms;  /* the last ShadowAck sent */
    uint64_t hello_ms;     /* last ShadowHello sent (0: none) */
    bool out;
    char out_reason[128];
} bkd_shd_t;

#define BKD_LEASE_RING 16

/* The register client of one shadowed partition (bkd_role.c). */
typedef struct {
    bkd_ms_t ms;
    char reason[96];
    bool deny; /* remember = deny */
    /* the value last learned */
    uint64_t version;
    uint64_t epoch;      /* the partition's epoch in it */
    bool bootstrapped;   /* a value is known (false: not_bootstrapped) */
    bool primary_me;     /* it names this backend primary */
    bool insync_me;      /* ... has this backend in in_sync */
    bool insync_partner; /* ... has the partner in in_sync */
    uint64_t single_copy_from;
    uint64_t highest_epoch_seen;
    /* the one request in flight */
    int req_kind; /* Rtr__RegKind; 0 = none */
    uint64_t req_id;
    uint64_t req_sent_ms;
    size_t req_router;
    uint64_t next_read_ms;  /* when to READ again while waiting */
    uint64_t resumed_epoch; /* the epoch this process took as primary (RESUME, PROMOTE) */
    /* lease: one request per heartbeat to every router */
    uint64_t lease_seq;
    uint64_t lease_sent[BKD_LEASE_RING]; /* by seq % ring */
    uint64_t lease_seqs[BKD_LEASE_RING];
    uint64_t lease_grants[BKD_LEASE_RING]; /* router bitmask */
    uint64_t lease_until;
    uint64_t next_lease_ms;
    uint64_t partner_lost_ms; /* 0: up; else when its silence counts as lost (T4, T11, T14) */
    bool promoting_backlog;   /* a promoted member applying what it hardened before serving */
    uint64_t single_copy_commits;
    uint64_t next_promote_ms; /* PROMOTE attempts are at least failure_timeout_ms apart */
    uint64_t wait_until;      /* a forced takeover waits out the old primary's lease */
    bool after_force;         /* the value naming this node primary came from a FORCE */
    uint64_t own_change_from; /* the epoch this process's last SHRINK/ADD expected */
    bool was_deciding;        /* bkd_role_deciding at the last timer */
    uint64_t stalled_since;   /* remember = deny and the partner cannot ack (0: not stalled) */
} bkd_reg_t;

/* A record this journal marks MOVED (re-executed under `to`) while the partner may not know
 * it: a partner promoted before the MOVED mark reached it commits the record at `from`, and
 * the truncation of this journal to the agreed point then cuts `to` - the move is undone
 * (bkd_catchup.c). */
typedef struct {
    uint64_t from, to;
    bool undone; /* cut by a truncation: `from` is read back and executed as a member */
} bkd_move_t;

typedef struct {
    char *name;
    uint8_t *low, *high;
    bool concurrent;
    bkd_role_t role;
    bool shadowed;
    bkd_reg_t reg;
    Rtr__JournalMeta *meta; /* shadowed: what the journal holds (owned), history included */
    char *partner;
    bkd_pipe_t *pipe;   /* primary of a shadowed partition */
    bkd_shd_t *shd;     /* member of a shadowed partition */
    uint64_t applied_n; /* contiguous CSNs applied (DONE, MOVED) here */
    uint64_t *done;     /* applied CSNs above applied_n + 1, ascending */
    bool partner_up;
    uint64_t partner_inc; /* the partner's incarnation last seen up */
    size_t ndone, donecap;
    uint64_t epoch;
    uint64_t next_n;     /* next CSN to assign: dense */
    uint64_t hardened_n; /* highest CSN whose VOTED record is hardened */
    bkd_tx_t *qhead, *qtail;
    uint32_t rr;       /* round-robin start among servers */
    bkd_move_t *moves; /* shadowed: moves the partner may not know (bkd_move_note) */
    size_t nmoves, movecap;
} bkd_part_t;

/* Actions queue (FIFO ring grown on demand). */
typedef struct {
    bkd_action_t *a;
    size_t head, count, cap;
} bkd_actq_t;

typedef struct {
    uint64_t incarnation;
    uint64_t watermark;
} bkd_wm_t;

struct bkd_core {
    char *node;
    uint64_t incarnation;
    size_t keylen;
    uint32_t replay_limit;
    uint32_t resend_ms;
    size_t nparts;
    bkd_part_t *parts;
    bkd_srv_t **srv;
    size_t nsrv, srvcap;
    bkd_tx_t *hash[BKD_HASH_BUCKETS];
    bkd_tx_t *first, *last;
    bkd_tx_t *hard_head, *hard_tail; /* VOTED records appended, not yet hardened */
    size_t ntx;
    bkd_wm_t *wm;
    size_t nwm, wmcap;
    char (*routers)[BKD_ID_MAX + 1]; /* routers up (bkd_core_router_up), for user events */
    size_t nrouters, routercap;
    bkd_actq_t q;
    uint64_t next_ticket; /* last core ticket handed out */
    uint64_t hardened;    /* highest hardened core ticket */
    uint64_t now_ms, wall_ms;
    uint64_t jnlfull_until;
    size_t max_frame;
    uint64_t shadow_window_bytes, catchup_window_bytes;
    char **routers_reg; /* the facility's routers (register requests, leases) */
    size_t nrouters_reg;
    uint32_t heartbeat_ms, failure_timeout_ms, lease_ms, lease_margin_ms, shadow_lag_ms,
        catchup_lag_ms, register_timeout_ms, deny_reject_ms;
    uint64_t reg_req_ids;
    bool started;
#ifdef RTR_SIM
    bool broken_commit_rule;
#endif
    bkd_core_counters_t ctr;
};

/* ---- bkd_core_tx.c: tables ---------------------------------------------------------- */

/* bkd_tx_find - the transaction with this packed TID, or NULL. */
bkd_tx_t *bkd_tx_find(bkd_core_t *c, const uint8_t tid[16]);

/* bkd_tx_find_tid - the transaction with this TID (packed here), or NULL: for the calls of
 * bkd.h that name a transaction by cmn_tid_t. */
bkd_tx_t *bkd_tx_find_tid(bkd_core_t *c, const cmn_tid_t *tid);

/* bkd_tx_create - a new QUEUED-less transaction (state QUEUED, not in a queue), linked into
 * the tables. NULL on out of memory. */
bkd_tx_t *bkd_tx_create(bkd_core_t *c, const uint8_t tid[16], uint32_t part);

/* bkd_tx_destroy - unlink and free a transaction (it must hold no server). */
void bkd_tx_destroy(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_tx_put_msg - store message `index` (copied). RTR_STS_NOMEM, RTR_STS_INVARG past
 * BKD_MAX_MSGS. Advances tx->held over contiguous messages. */
rtr_status_t bkd_tx_put_msg(bkd_tx_t *tx, uint32_t index, const uint8_t *body, size_t len,
                            uint32_t flags, uint32_t format);

/* bkd_tx_put_reply - keep a server reply (copied). */
rtr_status_t bkd_tx_put_reply(bkd_tx_t *tx, uint32_t index, const uint8_t *body, size_t len,
                              uint32_t format);

/* bkd_tx_drop_replies / bkd_tx_drop_bodies - release replies / message bodies (digests kept). */
void bkd_tx_drop_replies(bkd_tx_t *tx);
void bkd_tx_drop_bodies(bkd_tx_t *tx);

/* bkd_digest - FNV-1a 64 over data, continuing from h (start with BKD_DIGEST_INIT). */
#define BKD_DIGEST_INIT 0xcbf29ce484222325ull
uint64_t bkd_digest(uint64_t h, const void *data, size_t len);

/* bkd_queue_push / bkd_queue_remove / bkd_queue_pop - a partition's FIFO of transactions
 * waiting for a server; replays go to the front (front = true). */
void bkd_queue_push(bkd_core_t *c, bkd_tx_t *tx, bool front);
void bkd_queue_remove(bkd_core_t *c, bkd_tx_t *tx);
bkd_tx_t *bkd_queue_pop(bkd_core_t *c, uint32_t part);

/* bkd_wm_get / bkd_wm_note - the highest watermark seen for a client incarnation. */
uint64_t bkd_wm_get(const bkd_core_t *c, uint64_t incarnation);
void bkd_wm_note(bkd_core_t *c, uint64_t incarnation, uint64_t watermark);

/* bkd_srv_find - the server channel (id, channel), or NULL. */
bkd_srv_t *bkd_srv_find(bkd_core_t *c, const char *id, uint32_t channel);

/* bkd_srv_remove - unlink and free a server channel (its tx must have been detached). */
void bkd_srv_remove(bkd_core_t *c, bkd_srv_t *s);

/* bkd_hard_push / bkd_hard_remove - the FIFO of transactions whose VOTED record is in the
 * journal's pipeline; appends take ascending tickets, so hardening pops from the head. */
void bkd_hard_push(bkd_core_t *c, bkd_tx_t *tx);
void bkd_hard_remove(bkd_core_t *c, bkd_tx_t *tx);

/* ---- bkd_core_tx.c: actions --------------------------------------------------------- */

/* bkd_push_action - append an action (consumed; its owned pointers move into the queue). */
void bkd_push_action(bkd_core_t *c, bkd_action_t *a);

/* bkd_emit_send - stamp env's header (this backend) and queue a copy of it to `to`. env and
 * its body are borrowed. */
void bkd_emit_send(bkd_core_t *c, bkd_sock_t sock, const char *to, Rtr__Envelope *env);

/* bkd_emit_timer - ask to be called at deadline_ms. */
void bkd_emit_timer(bkd_core_t *c, uint64_t deadline_ms);

/* ---- bkd_core.c: sending to routers ------------------------------------------------- */

/* bkd_send_tx_outcome - TxOutcome for tx's TID to client channel `channel` behind `router`
 * (csn is sent only with accepted). Nothing when router is NULL or "": a transaction loaded
 * from the journal, whose client asks with TxQuery. tx is borrowed. */
void bkd_send_tx_outcome(bkd_core_t *c, const bkd_tx_t *tx, const char *router, uint32_t channel,
                         bool accepted, uint32_t status, uint32_t reason, uint64_t csn);

/* ---- bkd_core_tx.c: decisions ------------------------------------------------------- */

/* bkd_emit_set_state - queue a JOURNAL_SET_STATE of record n of partition `part` (moved_to:
 * the new n of a MOVED record, else 0). Returns its core ticket. */
uint64_t bkd_emit_set_state(bkd_core_t *c, uint32_t part, uint64_t n, Rtr__TxState state,
                            uint64_t moved_to);

/* bkd_vote_checklist - THE VOTE CHECKLIST: decide tx once every box is ticked (the boxes are
 * listed above its definition; the shadow pair's step 6 goes there). Call it whenever one of
 * its inputs may have changed; it does nothing unless tx is ACTIVE or HARDENING. */
void bkd_vote_checklist(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_finish - a transaction is over: free its server channel, keep it for dedup/TxQuery. */
void bkd_finish(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_decide_abort - decide ABORT with status and reason (TxOutcome to the client when
 * tell_router). A transaction on a server goes ABORTED and its server is told (resent until
 * ServerDone); one without a server is finished at once. */
void bkd_decide_abort(bkd_core_t *c, bkd_tx_t *tx, uint32_t status, uint32_t reason,
                      bool tell_router);

/* ---- bkd_deliver.c: delivery to servers, replay ------------------------------------- */

/* bkd_send_server_outcome - ServerOutcome (tx->accepted, out_status, out_reason) to the server
 * holding tx, nothing when none does; arms the resend timer (bkd_core_timer resends it until
 * ServerDone). */
void bkd_send_server_outcome(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_send_vote_request - VoteRequest{vreq_n} to the server holding tx (tx->srv must be set);
 * arms the resend timer (bkd_core_timer resends it until a vote). */
void bkd_send_vote_request(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_pump - hand the partition's queued transactions, front first, to its free server
 * channels while there are any (one transaction at a time when the partition is exclusive),
 * and start their delivery. */
void bkd_pump(bkd_core_t *c, uint32_t part);

/* bkd_deliver_pending - send what the server lacks: held messages not yet delivered, then
 * the vote request once it has them all. */
void bkd_deliver_pending(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_replay - the transaction's server is gone (or refused a committed replay): deliver it
 * again to a free server, msg1_uncertain if it was decided COMMIT; EXCEPTION or SRVDIED after
 * replay_limit replays. */
void bkd_replay(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_retry - the server rejected this execution with RTR_F_REJ_RETRY (RTR's "deliver it
 * again", e.g. after a deadlock in its database): nothing is decided. The server is told the
 * execution is over (ServerOutcome{rejected}: it has rolled back) and, once it says done, the
 * transaction is queued again at the front, for any server. Each retry counts as a replay: at
 * replay_limit the next reject is final (SRVREJECT with the server's reason). */
void bkd_retry(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_requeue - deliver the transaction again (a replay, a retry, the operator's retry): it
 * leaves its server channel, if any, and goes to the front of its partition's queue. */
void bkd_requeue(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_srv_detach - a server channel goes away: what it held is replayed or settled. The
 * channel leaves the table first, so a replay can never be handed straight back to it. */
void bkd_srv_detach(bkd_core_t *c, bkd_srv_t *s);

/* ---- bkd_pipe.c: the primary's side of a shadow pair -------------------------------------- */

/* bkd_pipe_new / bkd_pipe_free - the pipe of a primary partition. */
bkd_pipe_t *bkd_pipe_new(void);
void bkd_pipe_free(bkd_pipe_t **pp);

/* bkd_pipe_add - the VOTED record n (packed, buf owned by the pipe from now on) was queued for
 * the local journal: it goes to the partner at the next flush. */
void bkd_pipe_add(bkd_core_t *c, uint32_t part, uint64_t n, uint8_t *buf, size_t len);

/* bkd_pipe_drop - the local journal refused record n (JNLFULL): it never goes out. */
void bkd_pipe_drop(bkd_core_t *c, uint32_t part, uint64_t n);

/* bkd_pipe_change - a state change of record n (MOVED, EXCEPTION, DONE settled) for the
 * partner's next batch. */
void bkd_pipe_change(bkd_core_t *c, uint32_t part, uint64_t n, Rtr__TxState state,
                     uint64_t moved_to);

/* bkd_pipe_covered - step 6 of the vote checklist: does every copy the pair requires hold
 * record n? When not, tx waits (listed) and the checklist runs again when the ack comes. */
bool bkd_pipe_covered(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_pipe_unlist - tx no longer waits for coverage (decided some other way, or destroyed). */
void bkd_pipe_unlist(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_pipe_msg - ShadowAck / ShadowDiverged from the partner. */
rtr_status_t bkd_pipe_msg(bkd_core_t *c, uint32_t part, const Rtr__Envelope *env);

/* bkd_pipe_flush / bkd_pipe_timer - send what is due; resend after resend_ms without progress. */
void bkd_pipe_flush(bkd_core_t *c, uint32_t part);
void bkd_pipe_timer(bkd_core_t *c, uint32_t part);

/* bkd_frame_batch - an encoded Envelope{RecordBatch} with header fields from `hdr` (its
 * records must be empty) and the packed records appended as they are: the records are never
 * decoded and encoded again on the way out. *out is malloc'ed. */
rtr_status_t bkd_frame_batch(bkd_core_t *c, const Rtr__RecordBatch *hdr,
                             const bkd_out_t *const *recs, size_t nrecs, uint8_t **out,
                             size_t *outlen);

/* ---- bkd_shadow.c: the member's side ---------------------------------------------------- */

bkd_shd_t *bkd_shd_new(uint64_t last_n);
void bkd_shd_free(bkd_shd_t **sp);

/* bkd_shd_load - at start-up: a hardened record of the primary's that this member has not
 * executed yet (loaded in ascending n). */
rtr_status_t bkd_shd_load(bkd_core_t *c, uint32_t part, const Rtr__JournalRecord *rec);

/* bkd_shd_adopt - a record of this journal read back (rec owned by the ring from now on;
 * ticket: its journal ticket, 0 if hardened) joins the member's ring at its place in CSN
 * order; a CSN the ring already holds is dropped. */
void bkd_shd_adopt(bkd_core_t *c, uint32_t part, Rtr__JournalRecord *rec, uint64_t ticket);

/* bkd_shd_read_back - read records from..to of this journal back into the member's ring (a
 * demoted primary's unapplied records, an undone move); the answer is bkd_shd_reloaded. */
void bkd_shd_read_back(bkd_core_t *c, uint32_t part, uint64_t from, uint64_t to);

/* bkd_shd_reloaded - the answer to a bkd_shd_read_back (records packed, borrowed). */
void bkd_shd_reloaded(bkd_core_t *c, uint32_t part, size_t n, uint8_t *const *bufs,
                      const size_t *lens);

/* bkd_shd_batch - a RecordBatch from the primary. */
rtr_status_t bkd_shd_batch(bkd_core_t *c, uint32_t part, const Rtr__RecordBatch *b);

/* bkd_shd_hardened - journal tickets up to c->hardened are hardened: advance the member's
 * contiguous hardened point and start executions that became possible. */
void bkd_shd_hardened(bkd_core_t *c, uint32_t part);

/* bkd_shd_voted - the checklist's branch for a member's execution: its server voted; compare
 * with the primary's digest and commit (no new record: the CSN is the primary's) or diverge. */
void bkd_shd_voted(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_shd_done - a member's execution finished (ServerDone): the next one may start. */
void bkd_shd_done(bkd_core_t *c, bkd_tx_t *tx);

/* bkd_shd_flush - send the cumulative ack when something moved. */
void bkd_shd_flush(bkd_core_t *c, uint32_t part);

/* ---- bkd_role.c: the register client -------------------------------------------------- */

/* bkd_role_start - the first timer: every shadowed partition READs the register. */
void bkd_role_start(bkd_core_t *c);

/* bkd_role_timer - requests that timed out, lease renewals, lost partners, lagging acks. */
void bkd_role_timer(bkd_core_t *c);

/* bkd_role_deciding - step 6's authority check: this backend is the register's primary of the
 * partition in the epoch it took, and holds a lease for it now. */
bool bkd_role_deciding(const bkd_core_t *c, uint32_t part);

/* bkd_role_needs_partner - must the partner's ack cover a decision (it is in in_sync, or the
 * partition is remember = deny)? */
bool bkd_role_needs_partner(const bkd_core_t *c, uint32_t part);

/* bkd_role_may_run - may partition i's queued transactions go to its servers? A shadowed
 * primary holds them until it took its epoch (a restart's loaded records included: running
 * one could take a CSN in an epoch that is not its own). */
bool bkd_role_may_run(const bkd_core_t *c, uint32_t i);

/* bkd_role_partner - the partner's link changed (up = false: lost). */
void bkd_role_partner(bkd_core_t *c, uint32_t part, bool up);

/* bkd_role_channel_opened - a server channel opened on a shadowed partition: it gets the
 * partition's current role event (SRPRIMARY or SRSECONDARY). */
void bkd_role_channel_opened(bkd_core_t *c, const bkd_srv_t *s);

/* bkd_role_backlog_done - a promoted member applied everything it had hardened. */
void bkd_role_backlog_done(bkd_core_t *c, uint32_t part);

/* bkd_role_set - set partition i's member state and reason (logs changes, sends the servers'
 * role events). */
void bkd_role_set(bkd_core_t *c, uint32_t i, bkd_ms_t ms, const char *reason);

/* ---- bkd_catchup.c: joining the primary's stream (shadow-protocol §6) -------------------- */

/* bkd_catchup_member - a member whose primary is reachable: handshake (again after
 * resend_ms), or, once started, SECONDARY / CATCHUP. */
void bkd_catchup_member(bkd_core_t *c, uint32_t i);

/* bkd_catchup_msg - ShadowHello (primary), ShadowTruncate and ShadowStart (member). */
rtr_status_t bkd_catchup_msg(bkd_core_t *c, uint32_t i, const Rtr__Envelope *env);

/* bkd_catchup_not_streaming - a member acked although this primary is not streaming to it:
 * tell it to handshake again (ShadowTruncate{FENCED}). */
void bkd_catchup_not_streaming(bkd_core_t *c, uint32_t i);

/* bkd_catchup_ready - a REMEMBER primary's catching-up partner holds everything before the
 * mitt: ADD may run. */
bool bkd_catchup_ready(const bkd_core_t *c, uint32_t i);

/* bkd_move_note - partition `part`'s record `from` is MOVED to `to` (a re-execution, or a
 * MOVED record loaded at start): remembered until the partner is known to hold `to`. */
void bkd_move_note(bkd_core_t *c, uint32_t part, uint64_t from, uint64_t to);

/* bkd_demote - the register names another primary: undecided work is rolled back, the
 * partition becomes a member's (it rejoins through the handshake). */
void bkd_demote(bkd_core_t *c, uint32_t i);

/* bkd_pipe_restart - the partner's stream starts again after n: forget what it holds, send the
 * rest again. */
void bkd_pipe_restart(bkd_core_t *c, uint32_t part, uint64_t n);

/* bkd_pipe_recheck - run the checklist of every transaction waiting for coverage (the lease or
 * the in-sync set changed). */
void bkd_pipe_recheck(bkd_core_t *c, uint32_t part);

/* bkd_epoch_start - partition `part` holds records of `epoch` from n = first_n on: note it in
 * the epoch history (and highest_epoch_seen) and queue the meta for the journal. Nothing when
 * the history already ends with that epoch. */
void bkd_epoch_start(bkd_core_t *c, uint32_t part, uint64_t epoch, uint64_t first_n);

/* ---- applied points (bkd_pipe.c) ------------------------------------------------------- */

/* bkd_applied_note - record n of partition `part` is applied here (DONE or MOVED): advance the
 * contiguous applied point. */
void bkd_applied_note(bkd_core_t *c, uint32_t part, uint64_t n);

/* bkd_digest_be - the 8-byte digest of tx's replies and vote (JournalRecord.digest). */
void bkd_digest_be(const bkd_tx_t *tx, uint8_t out[8]);

#endif /* BKD_CORE_IMPL_H */
