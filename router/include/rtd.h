/*
 * rtd.h - the router's pure protocol core (rtd_): routing by key, the transaction table and the
 * last-agent commit coordination (docs/protocol.md). No sockets, no clock, no disk: the daemon
 * shell (rtd_main.c) turns socket traffic and the clock into events, calls one rtd_core_on_*
 * function per event, then executes the actions it returns in order.
 *
 * Events in:
 *   rtd_core_on_client   a decoded Envelope from the clients socket (role already checked)
 *   rtd_core_on_backend  a decoded Envelope from the peers socket (role already checked)
 *   rtd_core_on_lost     a peer went silent or restarted (new incarnation)
 *   rtd_core_on_timer    the clock reached the time of the last RTD_ACT_ARM_TIMER
 * Actions out (rtd_core_actions):
 *   RTD_ACT_SEND         send `env` to identity `to` on socket `sock`
 *   RTD_ACT_ARM_TIMER    call rtd_core_on_timer when the clock reaches `at_ms` (replaces any
 *                        earlier arming; at_ms 0 = no timer needed)
 *
 * Rules the core implements (statuses the client sees in TxOutcome):
 *   - a TxMsg is routed by its key (facility key segments, cmn_key_extract) to the partition's
 *     backend as learnt from BackendHello (a shadowed partition's claim carries the epoch its
 *     primary took: a claim in a newer epoch moves the route, an older or equal one from another
 *     backend is a conflict and changes nothing); no backend or no partition -> NODSTFND; a body
 * too short for the key -> INVMSGLEN; a later message whose key maps to another partition ->
 *     INVOP4CLI (multi-partition transactions are not supported yet) and TxAbort to the backend.
 *   - duplicates (index below the next expected one) are dropped; a gap -> TxNack{from} to the
 *     client; nothing is forwarded out of order.
 *   - the client's accept (TxVote{accept} or RTR_F_SEN_ACCEPT on a TxMsg) -> VoteRequest to the
 *     backend and phase VOTING: from then on the router never aborts (the backend is the last
 *     agent) and the transaction's timeout no longer applies. A duplicate TxVote in VOTING
 *     resends the VoteRequest (to the partition's current backend).
 *   - before VOTING: timeout -> TxAbort{TIMOUT} + TxOutcome{rejected, TIMOUT}; client reject ->
 *     TxAbort + TxOutcome{rejected, CLIABORT, the client's reason} (ChannelClose too).
 *   - backend lost: its transactions not in VOTING -> TxOutcome{rejected, SRVDIED} (the backend
 *     held their undecided messages and they are gone with it); VOTING ones are kept, the client
 *     resolves them (TxVote resend or TxQuery).
 *   - client lost: its transactions not in VOTING -> TxAbort{NOROUTER} to the backend (the same
 *     link loss librtr reports as NOROUTER on its side); VOTING ones are forgotten here.
 *   - an unknown TID on a TxMsg with index > 0 -> TxOutcome{rejected, NOTFOUND} (the router
 *     restarted or the transaction already ended before its vote; it cannot have committed),
 *     except while warming up or for a resend (TxMsg.resent): TxNack{from 0} then.
 *   - an unknown TID on a TxVote{accept} -> TxNack{from 0}: the client resends every message
 *     (a lost outcome, or a first message dropped while warming up); the backend answers a
 *     decided one with its recorded outcome.
 *   - warming up (until every backend of the facility said hello, or failure_timeout_ms after
 *     the first event): a first message for a partition without a backend is dropped (counted
 *     in tx_deferred) instead of NODSTFND; so is a resent one at any time, since it may have
 *     been decided before and "no destination" would be a lie.
 *   - TxReply, TxNack, TxOutcome from the backend are relayed to the transaction's client
 *     (only from the backend that serves it; others are dropped and counted in foreign_tid);
 *     TxOutcome ends the table entry. A backend TxNack{from} rewinds the next index to `from`
 *     so the client's resends are forwarded again, in VOTING too (the backend lacks messages
 *     at the vote request): once it has them all again the VoteRequest is repeated.
 *   - TxQuery: sent to the transaction's backend, or, when the router does not know the TID
 *     (router failover), to every connected backend; the first definitive answer (a state, an
 *     outcome or a status) is relayed, else the last "unknown" one once every backend answered.
 *   - ChannelOpen from a client -> ChannelStatus{OK} (INVFACNAM if it names another facility);
 *     ChannelClose -> the channel's transactions not in VOTING are aborted as if rejected.
 *   - user events (Broadcast, best effort, never journaled): the core keeps the set of client
 *     identities with at least one open channel (added by an accepted ChannelOpen, removed by
 *     the ChannelClose of its last channel or the client's loss). A Broadcast from a backend
 *     goes to every such client, one copy per process (librtr filters by event number and
 *     recipient name); a Broadcast from a client goes to every connected backend. A Broadcast
 *     with an event number above 250 or a body over 64,000 bytes is refused (RTR_STS_INVARG),
 *     one with nobody to go to is dropped; both count in events_dropped.
 *
 * Ownership: the core borrows the facility and the router entry given to rtd_core_new (they
 * must outlive it). The envelopes passed to events are borrowed for the call only; the actions
 * returned by rtd_core_actions, and every pointer inside their envelopes, are valid until the
 * next event call on the core (they may point into the event's envelope, which the caller must
 * therefore keep alive until it has executed the actions).
 *
 * Thread rule: a core belongs to one thread. No allocation per message: the transaction table
 * and the action list grow by doubling and never shrink.
 */
#ifndef RTD_H
#define RTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmn.h"
#include "wire.h"

#define RTD_IDMAX          255     /* ZeroMQ routing ids are at most 255 bytes */
#define RTD_SEN_ACCEPT     0x0001u /* RTR_F_SEN_ACCEPT (rtr.h): last message, the client accepts */
#define RTD_QUERY_MAX      256     /* TxQuery requests in flight at once */
#define RTD_EVTNUM_USERMAX 250u    /* RTR_EVTNUM_USERMAX (rtr.h): highest user event number */

typedef struct rtd_core rtd_core_t;

/* A peer's routing id on a ROUTER socket. */
typedef struct {
    uint8_t bytes[RTD_IDMAX];
    size_t len;
} rtd_id_t;

/* The router's sockets. */
typedef enum {
    RTD_SOCK_CLIENTS = 0, /* frontends (librtr client processes) */
    RTD_SOCK_PEERS = 1,   /* backends */
    RTD_SOCK_ADMIN = 2,   /* rtrcli */
    RTD_SOCK__COUNT
} rtd_sock_t;

/* Phases of a transaction in the router. */
typedef enum {
    RTD_PHASE_COLLECTING = 0, /* messages flowing; the router may still abort */
    RTD_PHASE_VOTING = 1,     /* vote request sent: the backend decides, no timeout */
} rtd_phase_t;

typedef enum {
    RTD_ACT_SEND = 0,
    RTD_ACT_ARM_TIMER = 1,
} rtd_action_kind_t;

/* One action. For RTD_ACT_SEND, `env` is complete (header and body); the body structs below
 * are its storage and are not to be used directly. */
typedef struct {
    rtd_action_kind_t kind;
    rtd_sock_t sock;
    rtd_id_t to;
    uint64_t at_ms; /* RTD_ACT_ARM_TIMER */
    Rtr__Envelope env;
    uint8_t tid[16];
    union {
        Rtr__TxMsg tx_msg;
        Rtr__TxVote tx_vote;
        Rtr__VoteRequest vote_request;
        Rtr__TxAbort tx_abort;
        Rtr__TxReply tx_reply;
        Rtr__TxOutcome tx_outcome;
        Rtr__TxNack tx_nack;
        Rtr__TxQuery tx_query;
        Rtr__TxQueryReply tx_query_reply;
        Rtr__ChannelStatus channel_status;
        Rtr__Broadcast broadcast;
    } body;
} rtd_action_t;

/* Counters of the core (shown by "show counters"). */
typedef struct {
    uint64_t tx_started;         /* first messages routed */
    uint64_t tx_accepted;        /* TxOutcome{accepted} relayed */
    uint64_t tx_rejected;        /* TxOutcome{rejected} sent or relayed */
    uint64_t tx_nodstfnd;        /* rejected: no partition / backend for the key */
    uint64_t tx_timeout;         /* rejected: timeout before VOTING */
    uint64_t tx_multipartition;  /* rejected: a later message for another partition */
    uint64_t tx_backend_lost;    /* rejected: backend lost before VOTING */
    uint64_t tx_client_lost;     /* aborted: client lost before VOTING */
    uint64_t tx_unknown;         /* messages for a TID the router does not know */
    uint64_t tx_deferred;        /* first messages dropped, not rejected: warming up, or a
                                  * resend for a partition without a backend (rtd_warming) */
    uint64_t msgs_routed;        /* TxMsg forwarded */
    uint64_t msgs_duplicate;     /* TxMsg dropped as duplicates */
    uint64_t nacks_sent;         /* TxNack sent to clients for a gap */
    uint64_t nacks_relayed;      /* TxNack relayed backend -> client */
    uint64_t votes_requested;    /* VoteRequest sent (resends included) */
    uint64_t replies_relayed;    /* TxReply relayed */
    uint64_t outcomes_relayed;   /* TxOutcome relayed backend -> client */
    uint64_t queries;            /* TxQuery received */
    uint64_t query_replies;      /* TxQueryReply relayed */
    uint64_t foreign_tid;        /* a TID used by another client identity: dropped */
    uint64_t unexpected_client;  /* bodies a client may not send */
    uint64_t unexpected_backend; /* bodies a backend may not send */
    uint64_t unknown_backend;    /* BackendHello from an identity not in the facility */
    uint64_t partition_conflict; /* a partition claimed by a second backend (same epoch) */
    uint64_t partition_moved;    /* ... in a newer epoch: the route moved to it */
    uint64_t channels_opened;
    uint64_t events_forwarded; /* Broadcast copies sent (one per recipient process) */
    uint64_t events_dropped;   /* Broadcasts refused or with no recipient */
    uint64_t ring_nomem;       /* outcome ring growths refused (out of memory) */
} rtd_counters_t;

/* A read-only view of one transaction (admin). */
typedef struct {
    cmn_tid_t tid;
    const rtd_id_t *client;
    uint32_t channel;
    const cmn_partition_t *partition;
    const cmn_backend_t *backend; /* NULL: its backend was lost (VOTING only) */
    rtd_phase_t phase;
    uint32_t nmsgs;       /* messages forwarded (= next expected index) */
    uint64_t started_ms;  /* time of its first message */
    uint64_t deadline_ms; /* 0 = none (or VOTING) */
} rtd_tx_view_t;

/* rtd_core_new - a core for router `self` of facility `fac` (both borrowed, must outlive the
 * core); `incarnation` goes into every envelope it builds. query_timeout_ms: how long a fanned
 * out TxQuery waits for its answers. RTR_STS_NOMEM, RTR_STS_INVARG. *out owned by the caller
 * (rtd_core_free). */
rtr_status_t rtd_core_new(const cmn_facility_t *fac, const cmn_router_t *self, uint64_t incarnation,
                          uint64_t query_timeout_ms, rtd_core_t **out);

/* rtd_core_free - free a core and NULL the caller's pointer; accepts NULL and &NULL. */
void rtd_core_free(rtd_core_t **core);

/* rtd_core_on_client - an envelope from the clients socket, sent by `from`.
 * RTR_STS_OK when applied (including counted drops of duplicates); RTR_STS_INVARG for a body a
 * client may not send (counted in unexpected_client, nothing applied; the caller logs it);
 * RTR_STS_NOMEM if the table could not grow (the message is dropped, nothing else changes). */
rtr_status_t rtd_core_on_client(rtd_core_t *core, uint64_t now_ms, const rtd_id_t *from,
                                const Rtr__Envelope *env);

/* rtd_core_on_backend - an envelope from the peers socket (a backend), sent by `from`.
 * RTR_STS_OK; RTR_STS_INVARG for a body a backend may not send (unexpected_backend) and
 * RTR_STS_NOTFOUND for a BackendHello from an identity that is no backend of the facility
 * (unknown_backend); nothing is applied in those cases. Heartbeats are accepted and ignored
 * (liveness is the shell's business). */
rtr_status_t rtd_core_on_backend(rtd_core_t *core, uint64_t now_ms, const rtd_id_t *from,
                                 const Rtr__Envelope *env);

/* rtd_core_on_lost - peer `who` on socket `sock` is lost (silent, or restarted with a new
 * incarnation: the shell calls this before passing the new incarnation's first message). */
void rtd_core_on_lost(rtd_core_t *core, uint64_t now_ms, rtd_sock_t sock, const rtd_id_t *who);

/* rtd_core_on_timer - the clock is now_ms: reject the transactions whose deadline passed
 * (before VOTING only) and expire TxQuery requests; re-arms for the next deadline. */
void rtd_core_on_timer(rtd_core_t *core, uint64_t now_ms);

/* rtd_core_actions - the actions of the last event, in execution order; *n gets their number.
 * Valid until the next event call (see Ownership above). */
rtd_action_t *rtd_core_actions(rtd_core_t *core, size_t *n);

/* ---- read-only views (admin) ------------------------------------------------------------ */

/* rtd_core_counters - the counters (pointer into the core, valid for its life). */
const rtd_counters_t *rtd_core_counters(const rtd_core_t *core);

/* rtd_core_route - the backend currently serving partition index i of the facility (NULL if
 * none); *since_ms (if not NULL) gets the time it claimed it. */
const cmn_backend_t *rtd_core_route(const rtd_core_t *core, size_t i, uint64_t *since_ms);

/* rtd_core_backend_up - is backend index i of the facility connected (has sent a hello)? */
bool rtd_core_backend_up(const rtd_core_t *core, size_t i);

/* rtd_core_client_count - client identities with at least one open channel. */
size_t rtd_core_client_count(const rtd_core_t *core);

/* rtd_core_tx_count - transactions in the table; *voting (if not NULL) gets those in VOTING. */
size_t rtd_core_tx_count(const rtd_core_t *core, size_t *voting);

/* rtd_core_tx_slots / rtd_core_tx_slot - walk the transaction table: slot i < tx_slots holds a
 * live transaction when tx_slot returns true (then *out is its view). rtd_core_tx_find - the view
 * of the transaction with TID `tid`; false if the router does not know it. Views are valid until
 * the next event. */
size_t rtd_core_tx_slots(const rtd_core_t *core);
bool rtd_core_tx_slot(const rtd_core_t *core, size_t i, rtd_tx_view_t *out);
bool rtd_core_tx_find(const rtd_core_t *core, const cmn_tid_t *tid, rtd_tx_view_t *out);

/* The outcome ring of a shadowed partition: the accepted outcomes (CSN, TID) this router
 * relayed, the last RTD_OUTCOME_RING of them (memory grows with use). An operator's FORCE
 * (`rtrcli set partition /force`) lists from every router's ring the transactions that may
 * exist only on the missing member (docs/shadow-protocol.md §5.7). */
#define RTD_OUTCOME_RING (1u << 20)

typedef struct {
    uint64_t decided_upto; /* highest CSN of an accepted outcome relayed (0: none) */
    uint64_t oldest;       /* lowest CSN still in the ring (0: empty) */
    uint64_t dropped_upto; /* highest CSN the ring overwrote (0: none: it holds all it saw) */
    uint64_t count;        /* entries in the ring */
} rtd_outcomes_info_t;

/* rtd_core_outcomes - partition i's outcome ring: *info, and fn(arg, csn, tid) for each entry
 * with CSN >= from, oldest first. False if i is not a shadowed partition. */
bool rtd_core_outcomes(const rtd_core_t *core, size_t i, uint64_t from, rtd_outcomes_info_t *info,
                       void (*fn)(void *arg, uint64_t csn, const uint8_t tid[16]), void *arg);

/* rtd_id_from_str - an id from a string (truncated to RTD_IDMAX). */
void rtd_id_from_str(rtd_id_t *id, const char *s);

/* rtd_id_eq_str - does the id equal the string? */
bool rtd_id_eq_str(const rtd_id_t *id, const char *s);

#endif /* RTD_H */
