/*
 * rtd_reg_impl.h - internals of the register core (rtd_reg.c). Included by rtd_reg.c and the
 * register tests only.
 */
#ifndef RTD_REG_IMPL_H
#define RTD_REG_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "rtd_reg.h"

/* A ballot: counter first, then the proposing router's index. (0, 0) is "none". */
typedef struct {
    uint64_t c;
    uint32_t node;
} reg_ballot_t;

/* Something an action points to, freed at the next event. */
typedef struct {
    void *p;
    void (*fn)(void *);
} reg_scratch_t;

/* A reply held until the acceptor state it depends on is persisted. */
typedef struct {
    uint64_t ticket;
    size_t to;
    uint8_t *buf; /* packed Envelope */
    size_t len;
} reg_held_t;

/* A request at the proposer (owned; msg is an unpacked copy). */
typedef struct {
    rtd_sock_t sock;
    rtd_id_t from;
    char node[CMN_NODE_NAME_MAX + 1];
    bool has_node;
    bool internal;     /* the router's own READ: no reply message */
    bool learner_read; /* the learner's READ through the others */
    uint64_t started_ms;
    uint64_t incarnation; /* the requester process's (duplicates are per incarnation) */
    Rtr__RegChange *msg;
} reg_req_t;

/* A reply kept for duplicates of its request. */
typedef struct {
    rtd_id_t from;
    uint64_t req_id;
    uint64_t incarnation;
    uint8_t *buf; /* packed Envelope; NULL = empty slot */
    size_t len;
} reg_replay_t;

typedef enum {
    REG_IDLE = 0,
    REG_RESERVING, /* waiting for the ballot reservation to be persisted */
    REG_PREPARE,
    REG_ACCEPT,
    REG_BACKOFF,
} reg_phase_t;

/* The proposer's current round. */
typedef struct {
    reg_phase_t phase;
    reg_ballot_t ballot;
    uint64_t deadline_ms;
    uint64_t started_ms;
    uint64_t wait_ticket;
    uint64_t promised;      /* router bitmask */
    uint64_t accepted_mask; /* router bitmask */
    reg_ballot_t best_ballot;
    Rtr__RegisterValue *best; /* value of the highest accepted ballot among the promises */
    Rtr__RegisterValue *next; /* the value being accepted */
    rtr_status_t status;      /* the change's status, replied once committed */
    const char *reason;       /* static text */
    uint64_t wait_ms;
} reg_round_t;

struct rtd_reg {
    const cmn_facility_t *fac;
    const cmn_router_t *self;
    size_t self_idx;
    size_t nrouters;
    uint64_t incarnation;
    rtd_reg_cfg_t cfg;
    uint64_t rng;
    rtd_reg_mode_t mode;

    /* acceptor (durable) */
    bool has_uuid;
    uint8_t uuid[16];
    reg_ballot_t promised;
    reg_ballot_t accepted;
    Rtr__RegisterValue *acc_value; /* NULL: nothing accepted */
    uint64_t reserved;             /* ballot counters reserved on disk */
    Rtr__AcceptorState *view;      /* as last persisted (rtd_reg_accepted) */

    /* persistence */
    uint64_t ticket_issued;
    uint64_t ticket_done;
    reg_held_t *held;
    size_t nheld, capheld;

    /* proposer */
    uint64_t max_seen;      /* highest ballot counter seen anywhere */
    uint64_t reserved_used; /* highest counter used by this incarnation */
    reg_req_t *cur;
    reg_req_t *queue[RTD_REG_QUEUE];
    size_t nqueue;
    reg_round_t round;
    uint64_t internal_ids;
    reg_replay_t replays[RTD_REG_REPLAYS];
    size_t nextreplay;

    /* fetching */
    uint64_t fetch_deadline_ms;
    uint64_t fetch_empty; /* routers that answered "no facility" */

    /* learner view and leases */
    Rtr__RegisterValue *learned; /* newest committed value known */
    uint64_t *grant_ms;          /* per facility partition */
    uint64_t *grant_epoch;

    rtd_reg_counters_t ctr;

    reg_scratch_t *scratch;
    size_t nscratch, capscratch;
    rtd_reg_action_t *act;
    size_t nact, capact;
};

#endif /* RTD_REG_IMPL_H */
