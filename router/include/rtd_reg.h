/*
 * rtd_reg.h - the facility register: the routers' second pure core (docs/shadow-protocol.md
 * §5). One value for the whole facility (RegisterValue: per shadowed partition its epoch,
 * primary, in-sync set, partner and single-copy point), changed only by compare-and-set made
 * durable on a majority of the configured routers. CASPaxos: every router is an acceptor and a
 * proposer for the requests it receives; a change is a function of the current value applied by
 * the proposer between its prepare and accept phases. No sockets, no clock, no disk: the shell
 * (rtr-router, or tests/sim) feeds events and executes the actions, exactly like rtd_core.
 *
 * Events in:
 *   rtd_reg_start        once, before any other event: an empty store starts the fetch
 *   rtd_reg_on_router    a RegPrepare/RegPromise/RegAccept/RegAccepted/RegLearn from router
 *                        index `from` (the router's own loopback messages included)
 *   rtd_reg_on_request   a RegChange (backend or rtrcli) or a LeaseRequest (backend)
 *   rtd_reg_on_persisted the store has durably written the state of PERSIST `ticket`
 *   rtd_reg_on_timer     the clock reached the last RTD_REG_ARM_TIMER
 * Actions out (rtd_reg_actions), to execute in order:
 *   RTD_REG_SEND_ROUTER  send `env` to router index `router`. When `router` is this router the
 *                        shell loops it back: after executing the whole list it calls
 *                        rtd_reg_on_router(from = self) with a decoded copy (never inline).
 *   RTD_REG_SEND_PEER    send `env` to `to` on socket `sock` (a reply to a requester)
 *   RTD_REG_PERSIST      write `state` durably (a router's `state` directory, DB_TXN_SYNC),
 *                        then call rtd_reg_on_persisted(ticket). Tickets are issued in
 *                        increasing order and must be reported in that order. Every reply
 *                        that depends on a write is held by the core until it is persisted.
 *   RTD_REG_LEARNED      `value` is a newer committed value than any reported before: hand it
 *                        to rtd_core (routing) and send RegLearn to the connected backends.
 *   RTD_REG_ARM_TIMER    call rtd_reg_on_timer when the clock reaches `at_ms` (replaces any
 *                        earlier arming; 0 = none)
 *
 * Acceptor rules (the router's durable state, Rtr__AcceptorState):
 *   - RegPrepare(b): b > promised -> persist promised = b, then RegPromise{ok, accepted ballot,
 *     value}; else RegPromise{ok = false, promised}. RegAccept(b, v): b >= promised -> persist
 *     promised = accepted = b, value = v, then RegAccepted{ok}; else {ok = false, promised}.
 *   - A router whose store was empty at start (fresh, or its disk was replaced) must not vote
 *     before it knows it lost nothing: it asks every other router (RegPrepare{fetch}). If any
 *     answers with a facility uuid it is a LEARNER: it runs a READ through a majority of the
 *     configured routers not counting itself, persists the result and then votes. If every
 *     other router answers that it has no state, the facility was never bootstrapped and it
 *     votes at once (with no value). Until then prepares and accepts get {ok = false, learner}.
 *   - A value for another facility uuid is refused (counted in foreign_uuid).
 *
 * Proposer rules (one round at a time; requests queue, at most RTD_REG_QUEUE):
 *   - ballot = (counter, this router's index), compared lexicographically; the counter exceeds
 *     every promise seen. Prepare to every router; with promises from a majority of the
 *     configured routers take the value of the highest accepted ballot, apply the change (below),
 *     accept the result on every router; a majority of accepts commits it: RegChangeReply to the
 *     requester, RegLearn to every router, RTD_REG_LEARNED here. A refusal or
 *     register_timeout_ms without a majority restarts the round after a seeded back-off of
 *     50..150 ms with a higher counter. A failed precondition still completes the round with the
 *     value unchanged (so the reply always carries a committed value) and answers EXISTS.
 *   - No value anywhere (never bootstrapped): everything but BOOTSTRAP answers NOTFOUND without
 *     an accept phase; BOOTSTRAP on an existing value answers EXISTS.
 *   - Duplicate requests (same requester, process incarnation and req_id) get the same reply
 *     again (the last RTD_REG_REPLAYS replies are kept); one still in progress is not queued
 *     twice. A restarted requester's req_id 1 is a new request.
 *
 * Change functions (precondition: partition P exists, is shadowed, and its epoch in the value
 * equals expected_epoch; every success sets epoch + 1 and version + 1):
 *   READ      none; RESUME: requester is P's primary; SHRINK{node}: requester is the primary,
 *   node in in_sync, node != primary, P remember = allow -> in_sync -= node, single_copy_from;
 *   ADD{node}: requester is the primary, node is P's partner, not in in_sync -> in_sync += node,
 *   single_copy_from = 0; PROMOTE: requester in in_sync, not the primary, and (unless planned)
 *   this router granted the primary no lease within failure_timeout_ms -> primary = requester,
 *   in_sync = {requester}, partner = old primary; FORCE{node} (rtrcli only): node is P's partner
 *   -> primary = node, in_sync = {node}, flags |= FORCED, audit entry, reply wait_ms = lease_ms
 *   + lease_margin_ms; BOOTSTRAP (rtrcli only): the given value, version 1.
 *   A refused precondition answers EXISTS (the value moved on: decide again from it), INVARG
 *   (a request that can never succeed: unknown partition or node, wrong requester kind).
 *
 * Leases (shadow-protocol §5.6): LeaseRequest{P, epoch, seq} from backend B is granted iff this
 * router votes, and the newest value it knows (accepted or learned) has P.epoch == epoch and
 * P.primary == B. Grants are not persisted; the last grant time per partition feeds the
 * PROMOTE veto.
 *
 * Ownership: the facility and the router entry are borrowed (must outlive the core). Envelopes
 * passed in are borrowed for the call. Actions and every pointer in them are valid until the
 * next event call.
 *
 * Determinism: given the same seed and the same events the core produces the same actions
 * (the simulator depends on it): no clock, no rand(), no pointer-ordered iteration.
 */
#ifndef RTD_REG_H
#define RTD_REG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmn.h"
#include "rtd.h"
#include "wire.h"

#define RTD_REG_QUEUE       64  /* requests queued at one proposer */
#define RTD_REG_REPLAYS     64  /* replies kept for duplicate requests */
#define RTD_REG_FORCED      32  /* forced-change audit entries kept in the value */
#define RTD_REG_FORCED_TIDS 256 /* TIDs of a loss list kept in its audit entry */
#define RTD_REG_FLAG_FORCED 1u

typedef struct rtd_reg rtd_reg_t;

/* Timing of the register (from the facility's settings; tests and the sim pass their own). */
typedef struct {
    uint64_t register_timeout_ms; /* a round without a majority restarts */
    uint64_t failure_timeout_ms;  /* PROMOTE veto window after a lease grant */
    uint64_t lease_ms;            /* FORCE: the new primary waits lease_ms + lease_margin_ms */
    uint64_t lease_margin_ms;
    uint64_t seed; /* back-off jitter */
} rtd_reg_cfg_t;

/* Where this router stands as an acceptor. */
typedef enum {
    RTD_REG_FETCHING = 0, /* empty store: asking the others whether a facility exists */
    RTD_REG_LEARNER = 1,  /* a facility exists: reading it before voting */
    RTD_REG_VOTING = 2,   /* a full acceptor */
} rtd_reg_mode_t;

typedef enum {
    RTD_REG_SEND_ROUTER = 0,
    RTD_REG_SEND_PEER = 1,
    RTD_REG_PERSIST = 2,
    RTD_REG_LEARNED = 3,
    RTD_REG_ARM_TIMER = 4,
} rtd_reg_act_kind_t;

typedef struct {
    rtd_reg_act_kind_t kind;
    size_t router;                   /* SEND_ROUTER */
    rtd_sock_t sock;                 /* SEND_PEER */
    rtd_id_t to;                     /* SEND_PEER */
    const Rtr__Envelope *env;        /* SEND_ROUTER, SEND_PEER */
    uint64_t ticket;                 /* PERSIST */
    const Rtr__AcceptorState *state; /* PERSIST */
    const Rtr__RegisterValue *value; /* LEARNED */
    uint64_t at_ms;                  /* ARM_TIMER */
} rtd_reg_action_t;

typedef struct {
    uint64_t requests;      /* RegChange received (duplicates included) */
    uint64_t duplicates;    /* answered from the reply cache, or already in progress */
    uint64_t rounds;        /* prepare phases started */
    uint64_t round_retries; /* rounds restarted after a refusal or a timeout */
    uint64_t commits;       /* values committed by this proposer (READs included) */
    uint64_t changes;       /* ... of which changed the value */
    uint64_t refused;       /* requests answered with a status other than OK */
    uint64_t promises;      /* RegPromise{ok} sent */
    uint64_t accepts;       /* RegAccepted{ok} sent */
    uint64_t nacks;         /* prepares/accepts refused (lower ballot) */
    uint64_t not_voting;    /* prepares/accepts refused: fetching or learner */
    uint64_t foreign_uuid;  /* a value or answer of another facility */
    uint64_t invalid;       /* malformed register messages (names not in the facility ...) */
    uint64_t queue_full;    /* requests refused: RTD_REG_QUEUE pending */
    uint64_t leases_granted;
    uint64_t leases_refused;
    uint64_t learned; /* newer committed values learned (any source) */
} rtd_reg_counters_t;

/* rtd_reg_new - a register core for router `self` of `fac` (borrowed). `stored` is the state
 * read from the store at start (borrowed for the call; NULL: the store was empty). `incarnation`
 * goes into every envelope. RTR_STS_NOMEM, RTR_STS_INVARG (self not a router of fac, a stored
 * state that does not decode against fac: its message is logged). *out owned by the caller. */
rtr_status_t rtd_reg_new(const cmn_facility_t *fac, const cmn_router_t *self, uint64_t incarnation,
                         const rtd_reg_cfg_t *cfg, const Rtr__AcceptorState *stored,
                         rtd_reg_t **out);

/* rtd_reg_free - free a core and NULL the pointer; accepts NULL and &NULL. */
void rtd_reg_free(rtd_reg_t **r);

/* rtd_reg_start - the first event. A core with a stored state votes at once and runs a READ of
 * its own, so it learns the committed value (RTD_REG_LEARNED) once a majority answers; an empty
 * one starts fetching (see Acceptor rules). */
void rtd_reg_start(rtd_reg_t *r, uint64_t now_ms);

/* rtd_reg_on_router - a register message from router index `from` (checked by the shell: a
 * configured router, role ROUTER). RTR_STS_OK; RTR_STS_INVARG for a body that is no
 * router-to-router register message or names what the facility lacks (counted in invalid). */
rtr_status_t rtd_reg_on_router(rtd_reg_t *r, uint64_t now_ms, size_t from,
                               const Rtr__Envelope *env);

/* rtd_reg_on_request - a RegChange or LeaseRequest from `to` on `sock`. `node` is the
 * requester's backend name when it is a backend of the facility (peers socket), NULL for
 * rtrcli (admin socket). RTR_STS_OK (the answer comes as an action, possibly later);
 * RTR_STS_INVARG for another body (nothing is answered). */
rtr_status_t rtd_reg_on_request(rtd_reg_t *r, uint64_t now_ms, rtd_sock_t sock, const rtd_id_t *to,
                                const char *node, const Rtr__Envelope *env);

/* rtd_reg_on_persisted - the store wrote the state of PERSIST `ticket` (in ticket order). */
void rtd_reg_on_persisted(rtd_reg_t *r, uint64_t now_ms, uint64_t ticket);

/* rtd_reg_on_timer - the clock is now_ms. */
void rtd_reg_on_timer(rtd_reg_t *r, uint64_t now_ms);

/* rtd_reg_actions - the actions of the last event, in order; *n gets their number. */
rtd_reg_action_t *rtd_reg_actions(rtd_reg_t *r, size_t *n);

/* ---- read-only views -------------------------------------------------------------------- */

/* rtd_reg_value - the newest value this router knows committed (NULL before any); valid until
 * the next event. */
const Rtr__RegisterValue *rtd_reg_value(const rtd_reg_t *r);

/* rtd_reg_accepted - the acceptor's durable state as last persisted; valid until the next
 * event. */
const Rtr__AcceptorState *rtd_reg_accepted(const rtd_reg_t *r);

rtd_reg_mode_t rtd_reg_mode(const rtd_reg_t *r);
const char *rtd_reg_mode_name(rtd_reg_mode_t m); /* "fetching", "learner", "voting" */
const rtd_reg_counters_t *rtd_reg_counters(const rtd_reg_t *r);

/* rtd_reg_last_grant - when this router last granted a lease for partition index i (0 = never),
 * and to which epoch (*epoch may be NULL). */
uint64_t rtd_reg_last_grant(const rtd_reg_t *r, size_t i, uint64_t *epoch);

/* rtd_reg_role - the role of partition `name` in `v` (NULL if absent). */
const Rtr__PartitionRole *rtd_reg_role(const Rtr__RegisterValue *v, const char *name);

/* ---- value helpers (the admin code, tests and the simulator use them too) ------------------- */

/* rtd_reg_value_dup - a deep copy (pack + unpack); NULL for NULL or out of memory. Free it with
 * rtd_reg_value_free. */
Rtr__RegisterValue *rtd_reg_value_dup(const Rtr__RegisterValue *v);

/* rtd_reg_value_free - free a value from rtd_reg_value_dup and NULL the pointer; accepts NULL. */
void rtd_reg_value_free(Rtr__RegisterValue **v);

/* rtd_reg_value_same - do a and b encode to the same bytes (both NULL: true)? */
bool rtd_reg_value_same(const Rtr__RegisterValue *a, const Rtr__RegisterValue *b);

/* rtd_reg_value_check - NULL when v is a well-formed value of `fac` (facility name, 16-byte
 * uuid, version >= 1, only shadowed partitions, once each, epoch >= 1, primary, in_sync (primary
 * first, no repeats) and partner all members of the partition); else a static text saying why. */
const char *rtd_reg_value_check(const cmn_facility_t *fac, const Rtr__RegisterValue *v);

#endif /* RTD_REG_H */
