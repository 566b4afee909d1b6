/*
 * rtd_core.c - the router's pure core: routing, the transaction table, the last-agent rule.
 *
 * Design note. The router keeps no durable state and no copies of messages (docs/protocol.md,
 * "Who keeps what"): only TID -> {client, channel, partition, backend, phase, next index,
 * deadline}. Invariants:
 *   - a transaction in COLLECTING always has a connected backend (losing it rejects the
 *     transaction at once), so every forward has a destination;
 *   - the router sends messages to the backend strictly in index order (duplicates dropped, a
 *     gap answered with TxNack and nothing forwarded), so the backend sees 0..n-1 without holes
 *     unless ZeroMQ itself drops one, which the backend detects and NACKs;
 *   - once the VoteRequest is sent (VOTING) nothing here rejects or aborts the transaction: the
 *     backend is the last agent and only its TxOutcome (or the client's loss) ends the entry.
 * The table is a chained hash over a slot array that doubles when full; entries never move
 * except during a doubling, so no pointer to an entry is kept across an insert.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rtd.h"

typedef struct {
    bool used;
    int32_t next; /* hash chain, or free list when unused */
    uint8_t tid[16];
    rtd_id_t client;
    uint32_t channel;
    int32_t part;    /* index in fac->partitions */
    int32_t backend; /* index in fac->backends; -1 = lost (VOTING only) */
    rtd_phase_t phase;
    uint32_t nmsgs; /* next index to forward (messages forwarded, less any backend NACK) */
    uint32_t nvote; /* VOTING: the number of messages voted on */
    uint64_t started_ms;
    uint64_t deadline_ms; /* 0 = none */
} rtd_tx_t;

/* A client process with open channels (user events go to these). */
typedef struct {
    rtd_id_t id;
    uint32_t *chans; /* its open channel numbers */
    uint32_t nchans, cap;
} rtd_client_t;

typedef struct {
    bool used;
    uint32_t gen;
    rtd_id_t client;
    uint64_t client_req;
    uint32_t outstanding;
    uint32_t asked, notfound; /* backends asked; of them, answered NOTFOUND (fenced) */
    bool conclusive;          /* NOTFOUND from all asked means "nowhere": see rtd_client_query */
    uint64_t deadline_ms;
} rtd_query_t;

/* One partition's outcome ring (rtd_core_outcomes). */
typedef struct {
    uint64_t csn;
    uint8_t tid[16];
} rtd_outcome_t;

typedef struct {
    rtd_outcome_t *v; /* ring of cap entries, grown by doubling up to RTD_OUTCOME_RING */
    size_t cap, head, n;
    uint64_t decided_upto;
    uint64_t dropped_upto;
} rtd_oring_t;

struct rtd_core {
    const cmn_facility_t *fac;
    const cmn_router_t *self;
    uint64_t incarnation;
    uint64_t query_timeout_ms;
    int32_t *part_backend; /* per partition: backend index or -1 */
    uint64_t *part_since;
    uint64_t *part_epoch;  /* per partition: the epoch its backend claimed it in (0 = none) */
    uint64_t *claim_epoch; /* scratch for BackendHello, per partition */
    bool *claimed;         /* scratch for BackendHello, per partition */
    rtd_oring_t *oring;    /* per partition (used for shadowed ones only) */
    bool *be_up;           /* per backend */
    rtd_id_t *be_id;
    rtd_tx_t *tx;
    size_t txcap; /* slots (power of two); also the number of buckets */
    size_t ntx, nvoting;
    int32_t *buckets;
    int32_t freelist;
    rtd_client_t *cli; /* clients with open channels */
    size_t ncli, clicap;
    rtd_query_t query[RTD_QUERY_MAX];
    uint32_t qgen;
    rtd_action_t *act;
    size_t nact, actcap;
    uint64_t armed_ms;
    bool started;   /* t0_ms is set (the first event) */
    bool warm;      /* the warm-up is over (see rtd_warming) */
    uint64_t t0_ms; /* time of the first event */
    rtd_counters_t ctr;
};

static bool rtd_warming(rtd_core_t *core, uint64_t now_ms);

#define RTD_TX_INITIAL  1024u
#define RTD_ACT_INITIAL 64u

/* ---- ids ------------------------------------------------------------------------------ */

void
rtd_id_from_str(rtd_id_t *id, const char *s)
{
    size_t n = strlen(s);
    id->len = n < RTD_IDMAX ? n : RTD_IDMAX;
    memcpy(id->bytes, s, id->len);
}

bool
rtd_id_eq_str(const rtd_id_t *id, const char *s)
{
    return strlen(s) == id->len && memcmp(id->bytes, s, id->len) == 0;
}

static bool
rtd_id_eq(const rtd_id_t *a, const rtd_id_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* ---- the transaction table ---------------------------------------------------------- */

static size_t
rtd_tid_hash(const uint8_t tid[16], size_t cap)
{
    uint64_t h = cmn_get_be64(tid) * 0x9E3779B97F4A7C15ull ^ cmn_get_be64(tid + 8);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (size_t)(h & (cap - 1));
}

static rtd_tx_t *
rtd_tx_find(const rtd_core_t *core, const uint8_t tid[16])
{
    int32_t i = core->buckets[rtd_tid_hash(tid, core->txcap)];
    while (i >= 0) {
        if (memcmp(core->tx[i].tid, tid, 16) == 0)
            return &core->tx[i];
        i = core->tx[i].next;
    }
    return NULL;
}

/* rtd_tx_grow - double the slot array and rebuild the chains (entries keep their slots). */
static rtr_status_t
rtd_tx_grow(rtd_core_t *core, size_t cap)
{
    rtd_tx_t *tx = realloc(core->tx, cap * sizeof *tx);
    int32_t *b;

    if (tx == NULL)
        return RTR_STS_NOMEM;
    core->tx = tx;
    b = realloc(core->buckets, cap * sizeof *b);
    if (b == NULL)
        return RTR_STS_NOMEM; /* tx grew but txcap did not: still consistent */
    core->buckets = b;
    for (size_t i = 0; i < cap; i++)
        b[i] = -1;
    for (size_t i = core->txcap; i < cap; i++) {
        memset(&tx[i], 0, sizeof tx[i]);
        tx[i].next = i + 1 < cap ? (int32_t)(i + 1) : core->freelist;
    }
    if (cap > core->txcap)
        core->freelist = (int32_t)core->txcap;
    for (size_t i = 0; i < core->txcap; i++) {
        if (tx[i].used) {
            size_t h = rtd_tid_hash(tx[i].tid, cap);
            tx[i].next = b[h];
            b[h] = (int32_t)i;
        }
    }
    core->txcap = cap;
    return RTR_STS_OK;
}

static rtr_status_t
rtd_tx_insert(rtd_core_t *core, const uint8_t tid[16], rtd_tx_t **out)
{
    rtd_tx_t *e;
    size_t h;

    if (core->freelist < 0) {
        rtr_status_t sts = rtd_tx_grow(core, core->txcap * 2);
        if (sts != RTR_STS_OK)
            return sts;
    }
    e = &core->tx[core->freelist];
    core->freelist = e->next;
    memset(e, 0, sizeof *e);
    e->used = true;
    memcpy(e->tid, tid, 16);
    h = rtd_tid_hash(tid, core->txcap);
    e->next = core->buckets[h];
    core->buckets[h] = (int32_t)(e - core->tx);
    core->ntx++;
    *out = e;
    return RTR_STS_OK;
}

static void
rtd_tx_remove(rtd_core_t *core, rtd_tx_t *e)
{
    int32_t slot = (int32_t)(e - core->tx);
    int32_t *p = &core->buckets[rtd_tid_hash(e->tid, core->txcap)];

    while (*p != slot) {
        RTR_ASSERT(*p >= 0);
        p = &core->tx[*p].next;
    }
    *p = e->next;
    if (e->phase == RTD_PHASE_VOTING)
        core->nvoting--;
    core->ntx--;
    e->used = false;
    e->next = core->freelist;
    core->freelist = slot;
}

/* ---- actions ------------------------------------------------------------------------- */

/* rtd_act_push - append an action. Growing a small array that never shrinks fails only when
 * the process is out of memory; the router cannot keep its promises then, so it stops. */
static rtd_action_t *
rtd_act_push(rtd_core_t *core, rtd_action_kind_t kind)
{
    rtd_action_t *a;

    if (core->nact == core->actcap) {
        size_t cap = core->actcap * 2;
        a = realloc(core->act, cap * sizeof *a);
        RTR_ASSERT(a != NULL);
        core->act = a;
        core->actcap = cap;
    }
    a = &core->act[core->nact++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

/* rtd_act_send - a send action to `to` with the router's header and body `body_case`. The
 * body struct is initialized; rtd_core_actions wires env's body pointer to it. */
static rtd_action_t *
rtd_act_send(rtd_core_t *core, rtd_sock_t sock, const rtd_id_t *to, Rtr__Envelope__BodyCase bc)
{
    rtd_action_t *a = rtd_act_push(core, RTD_ACT_SEND);

    a->sock = sock;
    a->to = *to;
    wire_envelope_init(&a->env, core->self->name, 0, core->incarnation, RTR__ROLE__ROLE_ROUTER);
    a->env.body_case = bc;
    switch (bc) {
    case RTR__ENVELOPE__BODY_TX_MSG:
        rtr__tx_msg__init(&a->body.tx_msg);
        break;
    case RTR__ENVELOPE__BODY_VOTE_REQUEST:
        rtr__vote_request__init(&a->body.vote_request);
        break;
    case RTR__ENVELOPE__BODY_TX_ABORT:
        rtr__tx_abort__init(&a->body.tx_abort);
        break;
    case RTR__ENVELOPE__BODY_TX_REPLY:
        rtr__tx_reply__init(&a->body.tx_reply);
        break;
    case RTR__ENVELOPE__BODY_TX_OUTCOME:
        rtr__tx_outcome__init(&a->body.tx_outcome);
        break;
    case RTR__ENVELOPE__BODY_TX_NACK:
        rtr__tx_nack__init(&a->body.tx_nack);
        break;
    case RTR__ENVELOPE__BODY_TX_QUERY:
        rtr__tx_query__init(&a->body.tx_query);
        break;
    case RTR__ENVELOPE__BODY_TX_QUERY_REPLY:
        rtr__tx_query_reply__init(&a->body.tx_query_reply);
        break;
    case RTR__ENVELOPE__BODY_CHANNEL_STATUS:
        rtr__channel_status__init(&a->body.channel_status);
        break;
    case RTR__ENVELOPE__BODY_BROADCAST:
        rtr__broadcast__init(&a->body.broadcast);
        break;
    default:
        RTR_ASSERT(!"rtd_act_send: body the router never sends");
    }
    return a;
}

static ProtobufCBinaryData
rtd_act_tid(rtd_action_t *a, const uint8_t tid[16])
{
    ProtobufCBinaryData d;
    memcpy(a->tid, tid, 16);
    d.len = 16;
    d.data = NULL; /* pointed at a->tid by rtd_core_actions once the array has settled */
    return d;
}

static void
rtd_arm(rtd_core_t *core, uint64_t at_ms)
{
    if (at_ms == 0 || (core->armed_ms != 0 && core->armed_ms <= at_ms))
        return;
    core->armed_ms = at_ms;
    rtd_act_push(core, RTD_ACT_ARM_TIMER)->at_ms = at_ms;
}

static void
rtd_begin(rtd_core_t *core)
{
    core->nact = 0;
}

rtd_action_t *
rtd_core_actions(rtd_core_t *core, size_t *n)
{
    /* The array may have moved while the event pushed actions: wire each envelope to its own
     * body storage and each generated TID to its own bytes now that it is stable. */
    for (size_t i = 0; i < core->nact; i++) {
        rtd_action_t *a = &core->act[i];
        ProtobufCBinaryData *tid = NULL;
        if (a->kind != RTD_ACT_SEND)
            continue;
        switch (a->env.body_case) {
        case RTR__ENVELOPE__BODY_TX_MSG:
            a->env.tx_msg = &a->body.tx_msg;
            break;
        case RTR__ENVELOPE__BODY_VOTE_REQUEST:
            a->env.vote_request = &a->body.vote_request;
            tid = &a->body.vote_request.tid;
            break;
        case RTR__ENVELOPE__BODY_TX_ABORT:
            a->env.tx_abort = &a->body.tx_abort;
            tid = &a->body.tx_abort.tid;
            break;
        case RTR__ENVELOPE__BODY_TX_REPLY:
            a->env.tx_reply = &a->body.tx_reply;
            break;
        case RTR__ENVELOPE__BODY_TX_OUTCOME:
            a->env.tx_outcome = &a->body.tx_outcome;
            tid = &a->body.tx_outcome.tid;
            break;
        case RTR__ENVELOPE__BODY_TX_NACK:
            a->env.tx_nack = &a->body.tx_nack;
            tid = &a->body.tx_nack.tid;
            break;
        case RTR__ENVELOPE__BODY_TX_QUERY:
            a->env.tx_query = &a->body.tx_query;
            break;
        case RTR__ENVELOPE__BODY_TX_QUERY_REPLY:
            a->env.tx_query_reply = &a->body.tx_query_reply;
            break;
        case RTR__ENVELOPE__BODY_CHANNEL_STATUS:
            a->env.channel_status = &a->body.channel_status;
            break;
        case RTR__ENVELOPE__BODY_BROADCAST:
            a->env.broadcast = &a->body.broadcast;
            break;
        default:
            break;
        }
        if (tid != NULL && tid->data == NULL) /* generated by the core: its bytes are a->tid */
            tid->data = a->tid;
    }
    *n = core->nact;
    return core->act;
}

/* ---- messages the router builds --------------------------------------------------------- */

static const rtd_id_t *
rtd_backend_id(const rtd_core_t *core, int32_t b)
{
    return &core->be_id[b];
}

/* rtd_send_outcome - TxOutcome{rejected, status, reason} to a client. */
static void
rtd_send_rejected(rtd_core_t *core, const rtd_id_t *client, const uint8_t tid[16], uint32_t channel,
                  rtr_status_t status, bool has_reason, uint32_t reason)
{
    rtd_action_t *a = rtd_act_send(core, RTD_SOCK_CLIENTS, client, RTR__ENVELOPE__BODY_TX_OUTCOME);
    Rtr__TxOutcome *o = &a->body.tx_outcome;

    o->tid = rtd_act_tid(a, tid);
    o->channel = channel;
    o->accepted = 0;
    o->status = (uint32_t)status;
    o->has_reason = has_reason;
    o->reason = reason;
    core->ctr.tx_rejected++;
}

static void
rtd_send_abort(rtd_core_t *core, int32_t backend, const uint8_t tid[16], rtr_status_t status,
               bool has_reason, uint32_t reason)
{
    rtd_action_t *a = rtd_act_send(core, RTD_SOCK_PEERS, rtd_backend_id(core, backend),
                                   RTR__ENVELOPE__BODY_TX_ABORT);
    a->body.tx_abort.tid = rtd_act_tid(a, tid);
    a->body.tx_abort.status = (uint32_t)status;
    a->body.tx_abort.has_reason = has_reason;
    a->body.tx_abort.reason = reason;
}

/* rtd_tx_reject - end a transaction before VOTING: TxAbort to its backend (if any) and
 * TxOutcome{rejected} to its client, then forget it. */
static void
rtd_tx_reject(rtd_core_t *core, rtd_tx_t *e, rtr_status_t status, bool has_reason, uint32_t reason)
{
    RTR_ASSERT(e->phase == RTD_PHASE_COLLECTING);
    if (e->backend >= 0)
        rtd_send_abort(core, e->backend, e->tid, status, has_reason, reason);
    rtd_send_rejected(core, &e->client, e->tid, e->channel, status, has_reason, reason);
    rtd_tx_remove(core, e);
}

/* rtd_tx_vote - every vote but the last agent's is in: ask the backend and enter VOTING. */
static void
rtd_tx_vote(rtd_core_t *core, rtd_tx_t *e)
{
    rtd_action_t *a;

    if (e->backend < 0)
        return; /* VOTING with its backend lost: the client resolves it by TxQuery */
    a = rtd_act_send(core, RTD_SOCK_PEERS, rtd_backend_id(core, e->backend),
                     RTR__ENVELOPE__BODY_VOTE_REQUEST);
    a->body.vote_request.tid = rtd_act_tid(a, e->tid);
    if (e->phase != RTD_PHASE_VOTING)
        e->nvote = e->nmsgs;
    a->body.vote_request.nmsgs = e->nvote;
    if (e->phase != RTD_PHASE_VOTING) {
        e->phase = RTD_PHASE_VOTING;
        e->deadline_ms = 0;
        core->nvoting++;
    }
    core->ctr.votes_requested++;
}

/* rtd_route - the partition of a message body: RTR_STS_OK and *part, or INVMSGLEN (too
 * short for the key) / NODSTFND (no partition holds the key). */
static rtr_status_t
rtd_route(const rtd_core_t *core, const ProtobufCBinaryData *body, int32_t *part)
{
    cmn_key_t key;
    const cmn_partition_t *p;
    rtr_status_t sts =
        cmn_key_extract(core->fac->seg, core->fac->nseg, body->data, body->len, &key);

    if (sts != RTR_STS_OK)
        return sts;
    p = cmn_facility_partition_for_key(core->fac, &key);
    if (p == NULL)
        return RTR_STS_NODSTFND;
    *part = (int32_t)(p - core->fac->partitions);
    return RTR_STS_OK;
}

static void
rtd_forward(rtd_core_t *core, rtd_tx_t *e, const Rtr__TxMsg *m)
{
    rtd_action_t *a = rtd_act_send(core, RTD_SOCK_PEERS, rtd_backend_id(core, e->backend),
                                   RTR__ENVELOPE__BODY_TX_MSG);

    a->body.tx_msg = *m; /* borrows tid and body from the event's envelope */
    a->body.tx_msg.partition = core->fac->partitions[e->part].name;
    e->nmsgs++;
    core->ctr.msgs_routed++;
}

/* rtd_send_nack - TxNack{tid, from} to client `to` (the source of TxMsg, which resends). */
static void
rtd_send_nack(rtd_core_t *core, const rtd_id_t *to, const uint8_t tid[16], uint32_t from,
              uint32_t channel)
{
    rtd_action_t *a = rtd_act_send(core, RTD_SOCK_CLIENTS, to, RTR__ENVELOPE__BODY_TX_NACK);
    a->body.tx_nack.tid = rtd_act_tid(a, tid);
    a->body.tx_nack.from_index = from;
    a->body.tx_nack.has_channel = 1;
    a->body.tx_nack.channel = channel;
    core->ctr.nacks_sent++;
}

/* rtd_nack_client - ask the client to resend from e->nmsgs. */
static void
rtd_nack_client(rtd_core_t *core, rtd_tx_t *e)
{
    rtd_send_nack(core, &e->client, e->tid, e->nmsgs, e->channel);
}

/* rtd_client_refill - a TxMsg in VOTING: only the resends of messages the backend NACKed are
 * forwarded (no key check: they were checked the first time and the backend compares their
 * digest); when the backend has them all again the vote request is repeated. */
static rtr_status_t
rtd_client_refill(rtd_core_t *core, rtd_tx_t *e, const Rtr__TxMsg *m)
{
    if (m->index < e->nmsgs || m->index >= e->nvote) {
        core->ctr.msgs_duplicate++;
        return RTR_STS_OK;
    }
    if (m->index > e->nmsgs) {
        rtd_nack_client(core, e);
        return RTR_STS_OK;
    }
    if (e->backend < 0)
        return RTR_STS_OK; /* no backend to refill: the client resolves it by TxQuery */
    rtd_forward(core, e, m);
    if (e->nmsgs == e->nvote)
        rtd_tx_vote(core, e);
    return RTR_STS_OK;
}

/* ---- client events ------------------------------------------------------------------- */

/* rtd_warming - is the router still warming up? A (re)started router learns its routes from
 * the backends' hellos, which take up to a heartbeat to come, while its clients may send at
 * once. Until every backend of the facility has said hello, or failure_timeout_ms after the
 * first event, a message for a partition without a backend is not rejected NODSTFND: it is
 * dropped, and the client's vote resend (answered with a NACK from 0) brings it back. */
static bool
rtd_warming(rtd_core_t *core, uint64_t now_ms)
{
    size_t up = 0;

    if (core->warm)
        return false;
    if (!core->started) {
        core->started = true;
        core->t0_ms = now_ms;
    }
    for (size_t b = 0; b < core->fac->nbackends; b++)
        up += core->be_up[b] ? 1 : 0;
    if (up == core->fac->nbackends ||
        now_ms >= core->t0_ms + (uint64_t)core->fac->settings.failure_timeout_ms)
        core->warm = true;
    return !core->warm;
}

/* rtd_nack_unknown - TxNack{from 0} for a TID the router does not hold: the client (the
 * source, which keeps every message until the outcome) resends them all. Safe for a
 * transaction that may have been decided: its backend deduplicates by TID and answers with
 * the recorded outcome. */
static void
rtd_nack_unknown(rtd_core_t *core, const rtd_id_t *to, const ProtobufCBinaryData *tid,
                 uint32_t channel)
{
    rtd_send_nack(core, to, tid->data, 0, channel); /* tid checked: 16 bytes (rtd_tid_ok) */
}

static rtr_status_t
rtd_client_first(rtd_core_t *core, uint64_t now_ms, const rtd_id_t *from, const Rtr__TxMsg *m)
{
    int32_t part = -1;
    rtd_tx_t *e;
    rtr_status_t sts;

    bool warming = rtd_warming(core, now_ms), resent = m->has_resent && m->resent;

    if (m->index != 0) {
        core->ctr.tx_unknown++;
        if (warming || resent) /* its first messages may have been dropped: all again */
            rtd_nack_unknown(core, from, &m->tid, m->channel);
        else /* see rtd.h: it cannot have committed */
            rtd_send_rejected(core, from, m->tid.data, m->channel, RTR_STS_NOTFOUND, false, 0);
        return RTR_STS_OK;
    }
    sts = rtd_route(core, &m->body, &part);
    if (sts == RTR_STS_OK && core->part_backend[part] < 0) {
        if (warming || resent) {
            /* Warming up: the backend's hello is on its way. A resend: the transaction may
             * have reached its backend before (a lost outcome), so "no destination" could be
             * a lie - the client keeps it until a backend serves the partition again. */
            core->ctr.tx_deferred++;
            return RTR_STS_OK;
        }
        sts = RTR_STS_NODSTFND;
    }
    if (sts != RTR_STS_OK) {
        if (sts == RTR_STS_NODSTFND)
            core->ctr.tx_nodstfnd++;
        rtd_send_rejected(core, from, m->tid.data, m->channel, sts, false, 0);
        return RTR_STS_OK;
    }
    sts = rtd_tx_insert(core, m->tid.data, &e);
    if (sts != RTR_STS_OK)
        return sts;
    e->client = *from;
    e->channel = m->channel;
    e->part = part;
    e->backend = core->part_backend[part];
    e->phase = RTD_PHASE_COLLECTING;
    e->started_ms = now_ms;
    e->deadline_ms = m->has_timeout_ms && m->timeout_ms > 0 ? now_ms + m->timeout_ms : 0;
    core->ctr.tx_started++;
    rtd_forward(core, e, m);
    if (m->has_flags && (m->flags & RTD_SEN_ACCEPT))
        rtd_tx_vote(core, e);
    else
        rtd_arm(core, e->deadline_ms);
    return RTR_STS_OK;
}

static rtr_status_t
rtd_client_msg(rtd_core_t *core, uint64_t now_ms, const rtd_id_t *from, const Rtr__TxMsg *m)
{
    rtd_tx_t *e = rtd_tx_find(core, m->tid.data);
    int32_t part = -1;
    rtr_status_t sts;

    if (e == NULL)
        return rtd_client_first(core, now_ms, from, m);
    if (!rtd_id_eq(&e->client, from)) {
        core->ctr.foreign_tid++;
        return RTR_STS_OK;
    }
    if (e->phase == RTD_PHASE_VOTING)
        return rtd_client_refill(core, e, m);
    if (m->index < e->nmsgs) {
        core->ctr.msgs_duplicate++;
        return RTR_STS_OK;
    }
    if (m->index > e->nmsgs) { /* a gap: the client (the source) resends from the hole */
        rtd_nack_client(core, e);
        return RTR_STS_OK;
    }
    sts = rtd_route(core, &m->body, &part);
    if (sts != RTR_STS_OK) {
        if (sts == RTR_STS_NODSTFND)
            core->ctr.tx_nodstfnd++;
        rtd_tx_reject(core, e, sts, false, 0);
        return RTR_STS_OK;
    }
    if (part != e->part) { /* multi-partition transactions are not supported yet */
        core->ctr.tx_multipartition++;
        rtd_tx_reject(core, e, RTR_STS_INVOP4CLI, false, 0);
        return RTR_STS_OK;
    }
    rtd_forward(core, e, m);
    if (m->has_flags && (m->flags & RTD_SEN_ACCEPT))
        rtd_tx_vote(core, e);
    return RTR_STS_OK;
}

static rtr_status_t
rtd_client_vote(rtd_core_t *core, const rtd_id_t *from, const Rtr__TxVote *v)
{
    rtd_tx_t *e = rtd_tx_find(core, v->tid.data);

    if (e == NULL) {
        /* Never answer "rejected" here: a lost TxOutcome{accepted} looks exactly like this,
         * and so does a transaction whose first message this router dropped while warming up.
         * Ask for every message again: the backend answers a decided one with its outcome. */
        core->ctr.tx_unknown++;
        if (v->accept)
            rtd_nack_unknown(core, from, &v->tid, v->channel);
        return RTR_STS_OK;
    }
    if (!rtd_id_eq(&e->client, from)) {
        core->ctr.foreign_tid++;
        return RTR_STS_OK;
    }
    if (e->phase == RTD_PHASE_VOTING) {
        /* A resend: ask again, of the partition's current backend (the backend answers a
         * duplicate vote request with the same outcome). A reject is too late: ignored. */
        if (!v->accept)
            return RTR_STS_OK;
        e->backend = core->part_backend[e->part];
        if (e->nmsgs < e->nvote)
            rtd_nack_client(core, e); /* still refilling what the backend NACKed */
        else
            rtd_tx_vote(core, e);
        return RTR_STS_OK;
    }
    if (!v->accept) {
        rtd_tx_reject(core, e, RTR_STS_CLIABORT, true, v->has_reason ? v->reason : 0);
        return RTR_STS_OK;
    }
    if (v->has_nmsgs && v->nmsgs > e->nmsgs) { /* messages missing: NACK, vote later */
        rtd_nack_client(core, e);
        return RTR_STS_OK;
    }
    if (v->has_nmsgs && v->nmsgs < e->nmsgs) {
        core->ctr.unexpected_client++;
        return RTR_STS_INVARG; /* the client claims fewer messages than it sent */
    }
    rtd_tx_vote(core, e);
    return RTR_STS_OK;
}

static int
rtd_query_alloc(rtd_core_t *core)
{
    for (int i = 0; i < RTD_QUERY_MAX; i++)
        if (!core->query[i].used)
            return i;
    return -1;
}

static void
rtd_query_reply_status(rtd_core_t *core, const rtd_id_t *to, const Rtr__TxQuery *q,
                       rtr_status_t status)
{
    rtd_action_t *a = rtd_act_send(core, RTD_SOCK_CLIENTS, to, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    a->body.tx_query_reply.request_id = q->request_id;
    a->body.tx_query_reply.tid = q->tid; /* borrowed from the event */
    a->body.tx_query_reply.state = 0;
    a->body.tx_query_reply.has_status = 1;
    a->body.tx_query_reply.status = (uint32_t)status;
}

static rtr_status_t
rtd_client_query(rtd_core_t *core, uint64_t now_ms, const rtd_id_t *from, const Rtr__TxQuery *q)
{
    rtd_tx_t *e = rtd_tx_find(core, q->tid.data);
    int32_t target = -1;
    int slot = rtd_query_alloc(core);
    rtd_query_t *pq;
    uint64_t rid;

    core->ctr.queries++;
    if (slot < 0) {
        rtd_query_reply_status(core, from, q, RTR_STS_BUSY);
        return RTR_STS_OK;
    }
    if (e != NULL)
        target = e->backend >= 0 ? e->backend : core->part_backend[e->part];
    pq = &core->query[slot];
    pq->gen = ++core->qgen;
    rid = ((uint64_t)pq->gen << 32) | (uint64_t)slot;
    pq->outstanding = 0;
    pq->notfound = 0;
    for (size_t b = 0; b < core->fac->nbackends; b++) {
        rtd_action_t *a;
        if (!core->be_up[b] || (target >= 0 && (int32_t)b != target))
            continue;
        a = rtd_act_send(core, RTD_SOCK_PEERS, &core->be_id[b], RTR__ENVELOPE__BODY_TX_QUERY);
        a->body.tx_query.tid = q->tid;
        a->body.tx_query.request_id = rid;
        pq->outstanding++;
    }
    pq->asked = pq->outstanding;
    /* "Not found" is conclusive only if every backend that could hold the transaction said so
     * (each has fenced the TID when it answered): its own backend when the router knows it,
     * else every backend of the facility - if one is not connected, the answer stays unknown. */
    pq->conclusive = target >= 0 || pq->asked == core->fac->nbackends;
    if (pq->outstanding == 0) {
        rtd_query_reply_status(core, from, q, RTR_STS_NODSTFND);
        return RTR_STS_OK;
    }
    pq->used = true;
    pq->client = *from;
    pq->client_req = q->request_id;
    pq->deadline_ms = now_ms + core->query_timeout_ms;
    rtd_arm(core, pq->deadline_ms);
    return RTR_STS_OK;
}

/* ---- clients with open channels (user events) ------------------------------------------ */

static rtd_client_t *
rtd_client_find(rtd_core_t *core, const rtd_id_t *id)
{
    for (size_t i = 0; i < core->ncli; i++)
        if (rtd_id_eq(&core->cli[i].id, id))
            return &core->cli[i];
    return NULL;
}

/* rtd_client_add - note that client `id` has channel `channel` open (idempotent: a re-open
 * after a router failover announces the same channel again). */
static rtr_status_t
rtd_client_add(rtd_core_t *core, const rtd_id_t *id, uint32_t channel)
{
    rtd_client_t *c = rtd_client_find(core, id);

    if (c == NULL) {
        if (core->ncli == core->clicap) {
            size_t cap = core->clicap ? core->clicap * 2 : 16;
            rtd_client_t *v = realloc(core->cli, cap * sizeof *v);
            if (v == NULL)
                return RTR_STS_NOMEM;
            core->cli = v;
            core->clicap = cap;
        }
        c = &core->cli[core->ncli++];
        memset(c, 0, sizeof *c);
        c->id = *id;
    }
    for (uint32_t i = 0; i < c->nchans; i++)
        if (c->chans[i] == channel)
            return RTR_STS_OK;
    if (c->nchans == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 4;
        uint32_t *v = realloc(c->chans, cap * sizeof *v);
        if (v == NULL) {
            if (c->nchans == 0) { /* do not keep a client without channels */
                free(c->chans);
                *c = core->cli[--core->ncli];
            }
            return RTR_STS_NOMEM;
        }
        c->chans = v;
        c->cap = cap;
    }
    c->chans[c->nchans++] = channel;
    return RTR_STS_OK;
}

/* rtd_client_remove - forget client c entirely (its last channel closed, or it was lost). */
static void
rtd_client_remove(rtd_core_t *core, rtd_client_t *c)
{
    free(c->chans);
    *c = core->cli[--core->ncli];
}

/* rtd_client_del - channel `channel` of client `id` closed. */
static void
rtd_client_del(rtd_core_t *core, const rtd_id_t *id, uint32_t channel)
{
    rtd_client_t *c = rtd_client_find(core, id);

    if (c == NULL)
        return;
    for (uint32_t i = 0; i < c->nchans; i++) {
        if (c->chans[i] == channel) {
            c->chans[i] = c->chans[--c->nchans];
            break;
        }
    }
    if (c->nchans == 0)
        rtd_client_remove(core, c);
}

/* rtd_broadcast_ok - the limits of a user event (rtr.h: 0..250, RTR_MAX_MSGLEN). */
static bool
rtd_broadcast_ok(rtd_core_t *core, const Rtr__Broadcast *b)
{
    if (b->evtnum <= RTD_EVTNUM_USERMAX && b->body.len <= WIRE_MAX_MSGLEN)
        return true;
    core->ctr.events_dropped++;
    return false;
}

/* rtd_client_broadcast - a client's user event: one copy to every connected backend. */
static rtr_status_t
rtd_client_broadcast(rtd_core_t *core, const Rtr__Broadcast *b)
{
    size_t sent = 0;

    if (!rtd_broadcast_ok(core, b))
        return RTR_STS_INVARG;
    for (size_t i = 0; i < core->fac->nbackends; i++) {
        rtd_action_t *a;
        if (!core->be_up[i])
            continue;
        a = rtd_act_send(core, RTD_SOCK_PEERS, &core->be_id[i], RTR__ENVELOPE__BODY_BROADCAST);
        a->body.broadcast = *b; /* borrows body and rcpspc from the event */
        sent++;
    }
    core->ctr.events_forwarded += sent;
    if (sent == 0)
        core->ctr.events_dropped++;
    return RTR_STS_OK;
}

/* rtd_backend_broadcast - a server's user event: one copy to every client with open channels. */
static rtr_status_t
rtd_backend_broadcast(rtd_core_t *core, const Rtr__Broadcast *b)
{
    if (!rtd_broadcast_ok(core, b))
        return RTR_STS_INVARG;
    for (size_t i = 0; i < core->ncli; i++) {
        rtd_action_t *a =
            rtd_act_send(core, RTD_SOCK_CLIENTS, &core->cli[i].id, RTR__ENVELOPE__BODY_BROADCAST);
        a->body.broadcast = *b;
    }
    core->ctr.events_forwarded += core->ncli;
    if (core->ncli == 0)
        core->ctr.events_dropped++;
    return RTR_STS_OK;
}

static rtr_status_t
rtd_client_channel_open(rtd_core_t *core, const rtd_id_t *from, const Rtr__ChannelOpen *o)
{
    rtd_action_t *a =
        rtd_act_send(core, RTD_SOCK_CLIENTS, from, RTR__ENVELOPE__BODY_CHANNEL_STATUS);

    a->body.channel_status.channel = o->channel;
    a->body.channel_status.status = RTR_STS_OK;
    if (o->facility != NULL && o->facility[0] != '\0' &&
        strcasecmp(o->facility, core->fac->name) != 0) {
        a->body.channel_status.status = RTR_STS_INVFACNAM;
        return RTR_STS_OK;
    }
    if (rtd_client_add(core, from, o->channel) != RTR_STS_OK) {
        a->body.channel_status.status = RTR_STS_NOMEM;
        return RTR_STS_OK;
    }
    core->ctr.channels_opened++;
    return RTR_STS_OK;
}

/* rtd_client_channel_close - closing a channel rejects its transactions not yet voting. */
static rtr_status_t
rtd_client_channel_close(rtd_core_t *core, const rtd_id_t *from, const Rtr__ChannelClose *c)
{
    for (size_t i = 0; i < core->txcap; i++) {
        rtd_tx_t *e = &core->tx[i];
        if (e->used && e->phase == RTD_PHASE_COLLECTING && e->channel == c->channel &&
            rtd_id_eq(&e->client, from))
            rtd_tx_reject(core, e, RTR_STS_CLIABORT, false, 0);
    }
    rtd_client_del(core, from, c->channel);
    return RTR_STS_OK;
}

static bool
rtd_tid_ok(const ProtobufCBinaryData *tid)
{
    return tid->len == 16 && tid->data != NULL;
}

rtr_status_t
rtd_core_on_client(rtd_core_t *core, uint64_t now_ms, const rtd_id_t *from,
                   const Rtr__Envelope *env)
{
    rtd_begin(core);
    (void)rtd_warming(core, now_ms); /* the warm-up counts from the first event */
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_HEARTBEAT:
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_TX_MSG:
        if (!rtd_tid_ok(&env->tx_msg->tid))
            break;
        return rtd_client_msg(core, now_ms, from, env->tx_msg);
    case RTR__ENVELOPE__BODY_TX_VOTE:
        if (!rtd_tid_ok(&env->tx_vote->tid))
            break;
        return rtd_client_vote(core, from, env->tx_vote);
    case RTR__ENVELOPE__BODY_TX_QUERY:
        if (!rtd_tid_ok(&env->tx_query->tid))
            break;
        return rtd_client_query(core, now_ms, from, env->tx_query);
    case RTR__ENVELOPE__BODY_CHANNEL_OPEN:
        return rtd_client_channel_open(core, from, env->channel_open);
    case RTR__ENVELOPE__BODY_CHANNEL_CLOSE:
        return rtd_client_channel_close(core, from, env->channel_close);
    case RTR__ENVELOPE__BODY_BROADCAST:
        return rtd_client_broadcast(core, env->broadcast);
    default:
        break;
    }
    core->ctr.unexpected_client++;
    return RTR_STS_INVARG;
}

/* ---- backend events ------------------------------------------------------------------ */

static int32_t
rtd_backend_index(const rtd_core_t *core, const rtd_id_t *id)
{
    for (size_t b = 0; b < core->fac->nbackends; b++)
        if (rtd_id_eq_str(id, core->fac->backends[b].name))
            return (int32_t)b;
    return -1;
}

/* rtd_backend_drop - backend b no longer serves partition `part` (-1: any partition): its
 * transactions there not yet voting are rejected with SRVDIED (their undecided messages were
 * held by the backend only); voting ones wait for their client to resolve them. */
static void
rtd_backend_drop(rtd_core_t *core, int32_t b, int32_t part)
{
    for (size_t p = 0; p < core->fac->npartitions; p++)
        if (core->part_backend[p] == b && (part < 0 || (int32_t)p == part))
            core->part_backend[p] = -1;
    for (size_t i = 0; i < core->txcap; i++) {
        rtd_tx_t *e = &core->tx[i];
        if (!e->used || e->backend != b || (part >= 0 && e->part != part))
            continue;
        if (e->phase == RTD_PHASE_VOTING) {
            e->backend = -1;
            continue;
        }
        core->ctr.tx_backend_lost++;
        e->backend = -1; /* it is gone: no TxAbort to send */
        rtd_tx_reject(core, e, RTR_STS_SRVDIED, false, 0);
    }
}

static void
rtd_backend_hello(rtd_core_t *core, uint64_t now_ms, int32_t b, const rtd_id_t *from,
                  const Rtr__BackendHello *h)
{
    const cmn_facility_t *fac = core->fac;

    core->be_up[b] = true;
    core->be_id[b] = *from;
    memset(core->claimed, 0, fac->npartitions * sizeof *core->claimed);
    for (size_t i = 0; i < h->n_partitions; i++) {
        const cmn_partition_t *p = cmn_facility_partition(fac, h->partitions[i]);
        if (p != NULL) {
            core->claimed[p - fac->partitions] = true;
            core->claim_epoch[p - fac->partitions] = i < h->n_epochs ? h->epochs[i] : 0;
        }
    }
    for (size_t p = 0; p < fac->npartitions; p++) {
        if (core->claimed[p] && core->part_backend[p] >= 0 && core->part_backend[p] != b &&
            core->claim_epoch[p] > core->part_epoch[p]) {
            /* a shadowed partition's newer epoch: the register moved it to this backend (the
             * old primary is fenced and will withdraw its claim) */
            core->ctr.partition_moved++;
            rtd_backend_drop(core, core->part_backend[p], (int32_t)p);
        }
        if (core->claimed[p] && core->part_backend[p] < 0) {
            core->part_backend[p] = b;
            core->part_since[p] = now_ms;
            core->part_epoch[p] = core->claim_epoch[p];
        } else if (core->claimed[p] && core->part_backend[p] == b) {
            core->part_epoch[p] = core->claim_epoch[p];
        } else if (core->claimed[p] && core->part_backend[p] != b) {
            core->ctr.partition_conflict++; /* the current one keeps it until it lets go */
        } else if (!core->claimed[p] && core->part_backend[p] == b) {
            rtd_backend_drop(core, b, (int32_t)p);
        }
    }
}

/* ---- the outcome rings ------------------------------------------------------------------- */

/* rtd_outcome_note - an accepted outcome relayed for partition p (shadowed partitions only). */
static void
rtd_outcome_note(rtd_core_t *core, int32_t p, uint64_t csn, const uint8_t tid[16])
{
    if (p < 0 || (size_t)p >= core->fac->npartitions ||
        core->fac->partitions[p].secondary == NULL || csn == 0)
        return;
    rtd_oring_t *r = &core->oring[p];
    if (r->n == r->cap && r->cap < RTD_OUTCOME_RING) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        rtd_outcome_t *v = malloc(cap * sizeof *v);
        if (v != NULL) {
            for (size_t i = 0; i < r->n; i++)
                v[i] = r->v[(r->head + i) % r->cap];
            free(r->v);
            r->v = v;
            r->cap = cap;
            r->head = 0;
        } else {
            core->ctr.ring_nomem++;
        }
    }
    if (r->cap == 0)
        return;
    if (r->n == r->cap) { /* full: the oldest goes */
        if (r->v[r->head].csn > r->dropped_upto)
            r->dropped_upto = r->v[r->head].csn;
        r->head = (r->head + 1) % r->cap;
        r->n--;
    }
    rtd_outcome_t *o = &r->v[(r->head + r->n) % r->cap];
    o->csn = csn;
    memcpy(o->tid, tid, 16);
    r->n++;
    if (csn > r->decided_upto)
        r->decided_upto = csn;
}

bool
rtd_core_outcomes(const rtd_core_t *core, size_t i, uint64_t from, rtd_outcomes_info_t *info,
                  void (*fn)(void *arg, uint64_t csn, const uint8_t tid[16]), void *arg)
{
    if (i >= core->fac->npartitions || core->fac->partitions[i].secondary == NULL)
        return false;
    const rtd_oring_t *r = &core->oring[i];
    memset(info, 0, sizeof *info);
    info->decided_upto = r->decided_upto;
    info->dropped_upto = r->dropped_upto;
    info->count = r->n;
    for (size_t k = 0; k < r->n; k++) {
        const rtd_outcome_t *o = &r->v[(r->head + k) % r->cap];
        if (info->oldest == 0 || o->csn < info->oldest)
            info->oldest = o->csn;
        if (o->csn >= from && fn != NULL)
            fn(arg, o->csn, o->tid);
    }
    return true;
}

/* rtd_backend_tx - the transaction a backend message is about, if that backend serves it (its
 * own backend, or the partition's current one once its own was lost); NULL otherwise
 * (counted). */
static rtd_tx_t *
rtd_backend_tx(rtd_core_t *core, int32_t b, const ProtobufCBinaryData *tid)
{
    rtd_tx_t *e = rtd_tid_ok(tid) ? rtd_tx_find(core, tid->data) : NULL;

    if (e == NULL) {
        core->ctr.tx_unknown++;
        return NULL;
    }
    if (e->backend != b && !(e->backend < 0 && core->part_backend[e->part] == b)) {
        core->ctr.foreign_tid++;
        return NULL;
    }
    return e;
}

static void
rtd_backend_query_reply(rtd_core_t *core, const Rtr__TxQueryReply *r)
{
    uint32_t slot = (uint32_t)(r->request_id & 0xFFFFFFFFu);
    rtd_query_t *pq;
    bool notfound = r->has_status && r->status == RTR_STS_NOTFOUND;
    bool definitive =
        !notfound && (r->state != 0 || r->outcome != NULL || (r->has_status && r->status != 0));
    rtd_action_t *a;

    if (slot >= RTD_QUERY_MAX)
        return;
    pq = &core->query[slot];
    if (!pq->used || pq->gen != (uint32_t)(r->request_id >> 32))
        return; /* expired or answered already */
    if (notfound)
        pq->notfound++;
    if (!definitive && --pq->outstanding > 0)
        return;
    a = rtd_act_send(core, RTD_SOCK_CLIENTS, &pq->client, RTR__ENVELOPE__BODY_TX_QUERY_REPLY);
    a->body.tx_query_reply = *r; /* borrows tid and outcome from the event */
    a->body.tx_query_reply.request_id = pq->client_req;
    if (!definitive && !(pq->conclusive && pq->notfound == pq->asked)) {
        /* some backend has it in progress, or one could not be asked: "unknown" */
        a->body.tx_query_reply.state = 0;
        a->body.tx_query_reply.outcome = NULL;
        a->body.tx_query_reply.has_status = 0;
        a->body.tx_query_reply.status = 0;
    }
    pq->used = false;
    core->ctr.query_replies++;
}

rtr_status_t
rtd_core_on_backend(rtd_core_t *core, uint64_t now_ms, const rtd_id_t *from,
                    const Rtr__Envelope *env)
{
    int32_t b = rtd_backend_index(core, from);
    rtd_tx_t *e;
    rtd_action_t *a;

    rtd_begin(core);
    (void)rtd_warming(core, now_ms); /* the warm-up counts from the first event */
    if (b < 0) {
        core->ctr.unknown_backend++;
        return RTR_STS_NOTFOUND;
    }
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_HEARTBEAT:
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_BACKEND_HELLO:
        rtd_backend_hello(core, now_ms, b, from, env->backend_hello);
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_TX_REPLY:
        if ((e = rtd_backend_tx(core, b, &env->tx_reply->tid)) == NULL)
            return RTR_STS_OK;
        a = rtd_act_send(core, RTD_SOCK_CLIENTS, &e->client, RTR__ENVELOPE__BODY_TX_REPLY);
        a->body.tx_reply = *env->tx_reply;
        core->ctr.replies_relayed++;
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_TX_NACK: /* the backend misses messages: the client resends */
        if ((e = rtd_backend_tx(core, b, &env->tx_nack->tid)) == NULL)
            return RTR_STS_OK;
        a = rtd_act_send(core, RTD_SOCK_CLIENTS, &e->client, RTR__ENVELOPE__BODY_TX_NACK);
        a->body.tx_nack = *env->tx_nack;
        a->body.tx_nack.has_channel = 1;
        a->body.tx_nack.channel = e->channel;
        if (env->tx_nack->from_index < e->nmsgs)
            e->nmsgs = env->tx_nack->from_index; /* forward the client's resends again */
        core->ctr.nacks_relayed++;
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_TX_OUTCOME:
        if ((e = rtd_backend_tx(core, b, &env->tx_outcome->tid)) == NULL)
            return RTR_STS_OK;
        a = rtd_act_send(core, RTD_SOCK_CLIENTS, &e->client, RTR__ENVELOPE__BODY_TX_OUTCOME);
        a->body.tx_outcome = *env->tx_outcome;
        a->body.tx_outcome.channel = e->channel;
        if (env->tx_outcome->accepted) {
            core->ctr.tx_accepted++;
            if (env->tx_outcome->has_csn)
                rtd_outcome_note(core, e->part, env->tx_outcome->csn, e->tid);
        } else {
            core->ctr.tx_rejected++;
        }
        core->ctr.outcomes_relayed++;
        rtd_tx_remove(core, e);
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_TX_QUERY_REPLY:
        rtd_backend_query_reply(core, env->tx_query_reply);
        return RTR_STS_OK;
    case RTR__ENVELOPE__BODY_BROADCAST:
        return rtd_backend_broadcast(core, env->broadcast);
    default:
        break;
    }
    core->ctr.unexpected_backend++;
    return RTR_STS_INVARG;
}

/* ---- loss and time ------------------------------------------------------------------- */

void
rtd_core_on_lost(rtd_core_t *core, uint64_t now_ms, rtd_sock_t sock, const rtd_id_t *who)
{
    (void)now_ms;
    rtd_begin(core);
    if (sock == RTD_SOCK_PEERS) {
        for (size_t b = 0; b < core->fac->nbackends; b++) {
            if (core->be_up[b] && rtd_id_eq(&core->be_id[b], who)) {
                core->be_up[b] = false;
                rtd_backend_drop(core, (int32_t)b, -1);
            }
        }
        return;
    }
    if (sock != RTD_SOCK_CLIENTS)
        return;
    for (size_t i = 0; i < core->txcap; i++) {
        rtd_tx_t *e = &core->tx[i];
        if (!e->used || !rtd_id_eq(&e->client, who))
            continue;
        if (e->phase == RTD_PHASE_COLLECTING && e->backend >= 0) {
            core->ctr.tx_client_lost++;
            rtd_send_abort(core, e->backend, e->tid, RTR_STS_NOROUTER, false, 0);
        }
        rtd_tx_remove(core, e); /* a VOTING one: the client asks another router by TID */
    }
    for (int q = 0; q < RTD_QUERY_MAX; q++)
        if (core->query[q].used && rtd_id_eq(&core->query[q].client, who))
            core->query[q].used = false;
    rtd_client_t *c = rtd_client_find(core, who);
    if (c != NULL)
        rtd_client_remove(core, c); /* its channels are gone with it */
}

void
rtd_core_on_timer(rtd_core_t *core, uint64_t now_ms)
{
    uint64_t next = 0;

    rtd_begin(core);
    for (size_t i = 0; i < core->txcap; i++) {
        rtd_tx_t *e = &core->tx[i];
        if (!e->used || e->phase != RTD_PHASE_COLLECTING || e->deadline_ms == 0)
            continue;
        if (e->deadline_ms <= now_ms) {
            core->ctr.tx_timeout++;
            rtd_tx_reject(core, e, RTR_STS_TIMOUT, false, 0);
        } else if (next == 0 || e->deadline_ms < next) {
            next = e->deadline_ms;
        }
    }
    for (int q = 0; q < RTD_QUERY_MAX; q++) {
        rtd_query_t *pq = &core->query[q];
        if (!pq->used)
            continue;
        if (pq->deadline_ms <= now_ms)
            pq->used = false; /* a backend did not answer: the client asks again */
        else if (next == 0 || pq->deadline_ms < next)
            next = pq->deadline_ms;
    }
    core->armed_ms = next;
    rtd_act_push(core, RTD_ACT_ARM_TIMER)->at_ms = next;
}

/* ---- life cycle and views ------------------------------------------------------------ */

rtr_status_t
rtd_core_new(const cmn_facility_t *fac, const cmn_router_t *self, uint64_t incarnation,
             uint64_t query_timeout_ms, rtd_core_t **out)
{
    rtd_core_t *core = NULL;
    size_t np, nb;

    if (fac == NULL || self == NULL || out == NULL)
        return RTR_STS_INVARG;
    *out = NULL;
    np = fac->npartitions;
    nb = fac->nbackends;
    core = calloc(1, sizeof *core);
    if (core == NULL)
        goto fail;
    core->fac = fac;
    core->self = self;
    core->incarnation = incarnation;
    core->query_timeout_ms = query_timeout_ms;
    core->freelist = -1;
    core->part_backend = malloc((np + 1) * sizeof *core->part_backend);
    core->part_since = calloc(np + 1, sizeof *core->part_since);
    core->claimed = calloc(np + 1, sizeof *core->claimed);
    core->part_epoch = calloc(np + 1, sizeof *core->part_epoch);
    core->claim_epoch = calloc(np + 1, sizeof *core->claim_epoch);
    core->be_up = calloc(nb + 1, sizeof *core->be_up);
    core->be_id = calloc(nb + 1, sizeof *core->be_id);
    core->oring = calloc(np + 1, sizeof *core->oring);
    core->act = malloc(RTD_ACT_INITIAL * sizeof *core->act);
    core->actcap = RTD_ACT_INITIAL;
    if (core->part_backend == NULL || core->part_since == NULL || core->claimed == NULL ||
        core->part_epoch == NULL || core->claim_epoch == NULL || core->be_up == NULL ||
        core->be_id == NULL || core->act == NULL || core->oring == NULL)
        goto fail;
    for (size_t p = 0; p < np; p++)
        core->part_backend[p] = -1;
    if (rtd_tx_grow(core, RTD_TX_INITIAL) != RTR_STS_OK)
        goto fail;
    *out = core;
    return RTR_STS_OK;
fail:
    rtd_core_free(&core);
    return RTR_STS_NOMEM;
}

void
rtd_core_free(rtd_core_t **core)
{
    if (core == NULL || *core == NULL)
        return;
    free((*core)->part_backend);
    free((*core)->part_since);
    free((*core)->claimed);
    free((*core)->part_epoch);
    free((*core)->claim_epoch);
    free((*core)->be_up);
    free((*core)->be_id);
    for (size_t p = 0; (*core)->oring != NULL && p < (*core)->fac->npartitions; p++)
        free((*core)->oring[p].v);
    free((*core)->oring);
    free((*core)->tx);
    free((*core)->buckets);
    free((*core)->act);
    for (size_t i = 0; i < (*core)->ncli; i++)
        free((*core)->cli[i].chans);
    free((*core)->cli);
    free(*core);
    *core = NULL;
}

const rtd_counters_t *
rtd_core_counters(const rtd_core_t *core)
{
    return &core->ctr;
}

const cmn_backend_t *
rtd_core_route(const rtd_core_t *core, size_t i, uint64_t *since_ms)
{
    int32_t b;

    if (i >= core->fac->npartitions)
        return NULL;
    b = core->part_backend[i];
    if (since_ms != NULL)
        *since_ms = b >= 0 ? core->part_since[i] : 0;
    return b >= 0 ? &core->fac->backends[b] : NULL;
}

bool
rtd_core_backend_up(const rtd_core_t *core, size_t i)
{
    return i < core->fac->nbackends && core->be_up[i];
}

size_t
rtd_core_client_count(const rtd_core_t *core)
{
    return core->ncli;
}

size_t
rtd_core_tx_count(const rtd_core_t *core, size_t *voting)
{
    if (voting != NULL)
        *voting = core->nvoting;
    return core->ntx;
}

size_t
rtd_core_tx_slots(const rtd_core_t *core)
{
    return core->txcap;
}

static void
rtd_tx_view(const rtd_core_t *core, const rtd_tx_t *e, rtd_tx_view_t *out)
{
    cmn_tid_unpack(e->tid, &out->tid);
    out->client = &e->client;
    out->channel = e->channel;
    out->partition = &core->fac->partitions[e->part];
    out->backend = e->backend >= 0 ? &core->fac->backends[e->backend] : NULL;
    out->phase = e->phase;
    out->nmsgs = e->nmsgs;
    out->started_ms = e->started_ms;
    out->deadline_ms = e->deadline_ms;
}

bool
rtd_core_tx_slot(const rtd_core_t *core, size_t i, rtd_tx_view_t *out)
{
    if (i >= core->txcap || !core->tx[i].used)
        return false;
    rtd_tx_view(core, &core->tx[i], out);
    return true;
}

bool
rtd_core_tx_find(const rtd_core_t *core, const cmn_tid_t *tid, rtd_tx_view_t *out)
{
    uint8_t b[16];
    const rtd_tx_t *e;

    cmn_tid_pack(tid, b);
    e = rtd_tx_find(core, b);
    if (e == NULL)
        return false;
    rtd_tx_view(core, e, out);
    return true;
}
