/*
 * rtd_reg_test.c - the register core (rtd_reg.h) driven by events: three routers wired to each
 * other through an in-test network that round-trips every frame through the wire format, a
 * store that persists when the test says so, and requesters that check exact replies.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_config.h"
#include "rtd_reg.h"
#include "tst.h"

static const char reg_tst_conf[] =
    "facility = \"TST\";\n"
    "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
    "routers = (\n"
    "  { name = \"r1\"; clients = \"tcp://127.0.0.1:7301\"; peers = \"tcp://127.0.0.1:7311\";\n"
    "    admin = \"ipc:///tmp/rtd-reg-t1.adm\"; state = \"/tmp/rtd-reg-t/r1\"; },\n"
    "  { name = \"r2\"; clients = \"tcp://127.0.0.1:7302\"; peers = \"tcp://127.0.0.1:7312\";\n"
    "    admin = \"ipc:///tmp/rtd-reg-t2.adm\"; state = \"/tmp/rtd-reg-t/r2\"; },\n"
    "  { name = \"r3\"; clients = \"tcp://127.0.0.1:7303\"; peers = \"tcp://127.0.0.1:7313\";\n"
    "    admin = \"ipc:///tmp/rtd-reg-t3.adm\"; state = \"/tmp/rtd-reg-t/r3\"; } );\n"
    "backends = (\n"
    "  { name = \"be1\"; shadow = \"tcp://127.0.0.1:7401\"; servers = "
    "\"ipc:///tmp/rtd-reg-b1.srv\";\n"
    "    admin = \"ipc:///tmp/rtd-reg-b1.adm\"; journal = \"/tmp/rtd-reg-t/be1\"; },\n"
    "  { name = \"be2\"; shadow = \"tcp://127.0.0.1:7402\"; servers = "
    "\"ipc:///tmp/rtd-reg-b2.srv\";\n"
    "    admin = \"ipc:///tmp/rtd-reg-b2.adm\"; journal = \"/tmp/rtd-reg-t/be2\"; } );\n"
    "partitions = (\n"
    "  { name = \"P\"; low = [ 0 ]; high = [ 499 ]; primary = \"be1\"; secondary = \"be2\"; },\n"
    "  { name = \"D\"; low = [ 500 ]; high = [ 999 ]; primary = \"be1\"; secondary = \"be2\";\n"
    "    remember = \"deny\"; },\n"
    "  { name = \"U\"; low = [ 1000 ]; high = [ 1999 ]; primary = \"be2\"; } );\n";

#define NR     3
#define QMAX   4096
#define PEERMX 256

typedef struct {
    size_t from, to;
    uint8_t *buf;
    size_t len;
} reg_msg_t;

static struct {
    cmn_facility_t *fac;
    char *dir;
    rtd_reg_cfg_t cfg;
    rtd_reg_t *r[NR];
    bool down[NR];
    bool hold[NR];          /* keep PERSIST tickets pending */
    uint64_t pend[NR][256]; /* tickets issued, not yet persisted */
    size_t npend[NR];
    Rtr__AcceptorState *stored[NR];  /* last durable state (owned) */
    Rtr__AcceptorState *written[NR]; /* last state handed to the store, not yet durable */
    reg_msg_t q[QMAX];
    size_t nq;
    Rtr__Envelope *peer[PEERMX]; /* SEND_PEER actions, decoded (owned) */
    rtd_id_t peer_to[PEERMX];
    size_t npeer;
    uint64_t learned[NR]; /* version of the last LEARNED */
    size_t nlearned[NR];
    uint64_t timer[NR];
    uint64_t now;
    uint64_t req_id;
} W;

static Rtr__AcceptorState *
state_copy(const Rtr__AcceptorState *s)
{
    size_t len = rtr__acceptor_state__get_packed_size(s);
    uint8_t *buf = malloc(len + 1);
    cr_assert_not_null(buf);
    rtr__acceptor_state__pack(s, buf);
    Rtr__AcceptorState *out = rtr__acceptor_state__unpack(NULL, len, buf);
    free(buf);
    cr_assert_not_null(out);
    return out;
}

static void persisted(size_t i);

/* drain - take router i's actions: queue its sends (round-tripped through the wire encoder),
 * keep its replies, persist (at once unless held). */
static void
drain(size_t i)
{
    size_t n = 0;
    rtd_reg_action_t *a = rtd_reg_actions(W.r[i], &n);
    bool persist = false;
    for (size_t k = 0; k < n; k++) {
        switch (a[k].kind) {
        case RTD_REG_SEND_ROUTER: {
            uint8_t *buf = NULL;
            size_t len = 0;
            cr_assert_eq(wire_encode(&a[k].env->base, 0, &buf, &len), RTR_STS_OK);
            cr_assert_lt(W.nq, QMAX);
            W.q[W.nq++] = (reg_msg_t){ i, a[k].router, buf, len };
            break;
        }
        case RTD_REG_SEND_PEER: {
            uint8_t *buf = NULL;
            size_t len = 0;
            cr_assert_eq(wire_encode(&a[k].env->base, 0, &buf, &len), RTR_STS_OK);
            cr_assert_lt(W.npeer, PEERMX);
            W.peer[W.npeer] = rtr__envelope__unpack(NULL, len, buf);
            cr_assert_not_null(W.peer[W.npeer]);
            W.peer_to[W.npeer++] = a[k].to;
            free(buf);
            break;
        }
        case RTD_REG_PERSIST:
            cr_assert_lt(W.npend[i], 256);
            W.pend[i][W.npend[i]++] = a[k].ticket;
            if (W.written[i] != NULL)
                rtr__acceptor_state__free_unpacked(W.written[i], NULL);
            W.written[i] = state_copy(a[k].state);
            persist = true;
            break;
        case RTD_REG_LEARNED:
            cr_assert_gt(a[k].value->version, W.learned[i]);
            W.learned[i] = a[k].value->version;
            W.nlearned[i]++;
            break;
        case RTD_REG_ARM_TIMER:
            W.timer[i] = a[k].at_ms;
            break;
        }
    }
    if (persist && !W.hold[i])
        persisted(i);
}

/* persisted - the store of router i completes every pending write. */
static void
persisted(size_t i)
{
    while (W.npend[i] > 0) {
        uint64_t t = W.pend[i][0];
        memmove(W.pend[i], W.pend[i] + 1, (W.npend[i] - 1) * sizeof W.pend[i][0]);
        W.npend[i]--;
        if (W.npend[i] == 0 && W.written[i] != NULL) {
            if (W.stored[i] != NULL)
                rtr__acceptor_state__free_unpacked(W.stored[i], NULL);
            W.stored[i] = W.written[i];
            W.written[i] = NULL;
        }
        rtd_reg_on_persisted(W.r[i], W.now, t);
        drain(i);
    }
}

/* pump - deliver queued frames in order until none is left (frames to or from a down router
 * are lost). */
static void
pump(void)
{
    size_t guard = 0;
    while (W.nq > 0) {
        cr_assert_lt(guard++, 100000, "the register does not settle");
        reg_msg_t m = W.q[0];
        memmove(W.q, W.q + 1, (W.nq - 1) * sizeof W.q[0]);
        W.nq--;
        if (!W.down[m.to] && !W.down[m.from]) {
            Rtr__Envelope *env = NULL;
            cr_assert_eq(wire_envelope_decode(m.buf, m.len, 0, NULL, &env), RTR_STS_OK);
            cr_assert_eq(rtd_reg_on_router(W.r[m.to], W.now, m.from, env), RTR_STS_OK);
            wire_free((ProtobufCMessage **)&env);
            drain(m.to);
        }
        free(m.buf);
    }
}

/* tick - advance the clock to `to` ms, firing every timer due (several rounds). */
static void
tick(uint64_t to)
{
    while (W.now < to) {
        uint64_t next = to;
        for (size_t i = 0; i < NR; i++)
            if (!W.down[i] && W.timer[i] != 0 && W.timer[i] > W.now && W.timer[i] < next)
                next = W.timer[i];
        W.now = next;
        for (size_t i = 0; i < NR; i++) {
            if (!W.down[i] && W.timer[i] != 0 && W.timer[i] <= W.now) {
                W.timer[i] = 0;
                rtd_reg_on_timer(W.r[i], W.now);
                drain(i);
            }
        }
        pump();
    }
}

static void
start(size_t i, const Rtr__AcceptorState *stored)
{
    cr_assert_eq(rtd_reg_new(W.fac, &W.fac->routers[i], 0x100 + i, &W.cfg, stored, &W.r[i]),
                 RTR_STS_OK);
    W.down[i] = false;
    W.learned[i] = 0;
    rtd_reg_start(W.r[i], W.now);
    drain(i);
}

/* crash - router i loses everything but its durable state. */
static void
crash(size_t i)
{
    rtd_reg_free(&W.r[i]);
    W.down[i] = true;
    W.npend[i] = 0;
    W.timer[i] = 0;
    if (W.written[i] != NULL)
        rtr__acceptor_state__free_unpacked(W.written[i], NULL);
    W.written[i] = NULL;
}

static void
peers_clear(void)
{
    for (size_t i = 0; i < W.npeer; i++)
        rtr__envelope__free_unpacked(W.peer[i], NULL);
    W.npeer = 0;
}

static void
reg_setup(void)
{
    char path[512];
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_diag_t *diag = NULL;

    memset(&W, 0, sizeof W);
    W.dir = tst_tmpdir("rtdreg");
    snprintf(path, sizeof path, "%s/facility.conf", W.dir);
    cr_assert_eq(tst_write_file(path, reg_tst_conf, strlen(reg_tst_conf)), 0);
    cr_assert_eq(cmn_facility_load_ex(path, &lo, &W.fac, &diag), RTR_STS_OK, "%s",
                 diag && diag->error ? diag->error : "?");
    cmn_diag_free(&diag);
    W.cfg = (rtd_reg_cfg_t){ .register_timeout_ms = 500,
                             .failure_timeout_ms = 1000,
                             .lease_ms = 2000,
                             .lease_margin_ms = 200,
                             .seed = 42 };
    W.now = 1000;
}

static void
reg_teardown(void)
{
    for (size_t i = 0; i < NR; i++) {
        rtd_reg_free(&W.r[i]);
        if (W.stored[i] != NULL)
            rtr__acceptor_state__free_unpacked(W.stored[i], NULL);
        if (W.written[i] != NULL)
            rtr__acceptor_state__free_unpacked(W.written[i], NULL);
    }
    for (size_t i = 0; i < W.nq; i++)
        free(W.q[i].buf);
    peers_clear();
    cmn_facility_free(&W.fac);
    tst_rmtree(W.dir);
    free(W.dir);
}

TestSuite(rtd_reg, .init = reg_setup, .fini = reg_teardown);

/* ---- requests ------------------------------------------------------------------------------ */

static uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* request - send a RegChange to router i from `node` (NULL: rtrcli) and return its reply (or
 * NULL when none came). m's req_id is set here. */
static uint64_t req_inc = 1; /* the requester's process incarnation */

static const Rtr__RegChangeReply *
request(size_t i, const char *node, Rtr__RegChange *m)
{
    Rtr__Envelope env;
    rtd_id_t id;
    rtr__envelope__init(&env);
    wire_envelope_init(&env, node != NULL ? node : "a-1", 0, req_inc,
                       node != NULL ? RTR__ROLE__ROLE_BACKEND : RTR__ROLE__ROLE_ADMIN);
    if (m->req_id == 0)
        m->req_id = ++W.req_id;
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
    env.reg_change = m;
    rtd_id_from_str(&id, node != NULL ? node : "a-1");
    peers_clear();
    cr_assert_eq(rtd_reg_on_request(W.r[i], W.now, node != NULL ? RTD_SOCK_PEERS : RTD_SOCK_ADMIN,
                                    &id, node, &env),
                 RTR_STS_OK);
    drain(i);
    pump();
    for (size_t k = 0; k < W.npeer; k++)
        if (W.peer[k]->body_case == RTR__ENVELOPE__BODY_REG_CHANGE_REPLY &&
            W.peer[k]->reg_change_reply->req_id == m->req_id)
            return W.peer[k]->reg_change_reply;
    return NULL;
}

static Rtr__PartitionRole role_p, role_d;
static char *insync[2] = { "be1", "be2" };
static Rtr__PartitionRole *roles[2] = { &role_p, &role_d };

static const Rtr__RegChangeReply *
bootstrap(size_t i)
{
    static Rtr__RegisterValue v;
    rtr__register_value__init(&v);
    v.version = 1;
    v.facility = "TST";
    v.facility_uuid.data = uuid;
    v.facility_uuid.len = 16;
    rtr__partition_role__init(&role_p);
    role_p.partition = "P";
    role_p.epoch = 1;
    role_p.primary = "be1";
    role_p.in_sync = insync;
    role_p.n_in_sync = 2;
    role_p.partner = "be2";
    role_d = role_p;
    role_d.partition = "D";
    v.partitions = roles;
    v.n_partitions = 2;
    Rtr__RegChange m;
    rtr__reg_change__init(&m);
    m.kind = RTR__REG_KIND__REG_BOOTSTRAP;
    m.bootstrap = &v;
    return request(i, NULL, &m);
}

static const Rtr__RegChangeReply *
change(size_t i, const char *from, Rtr__RegKind kind, const char *part, uint64_t epoch,
       const char *node)
{
    Rtr__RegChange m;
    rtr__reg_change__init(&m);
    m.kind = kind;
    m.partition = (char *)(uintptr_t)part;
    m.has_expected_epoch = true;
    m.expected_epoch = epoch;
    m.node = (char *)(uintptr_t)node;
    return request(i, from, &m);
}

/* all_start - three fresh routers that found out nobody holds a facility. */
static void
all_start(void)
{
    for (size_t i = 0; i < NR; i++)
        start(i, NULL);
    pump();
    for (size_t i = 0; i < NR; i++)
        cr_assert_eq(rtd_reg_mode(W.r[i]), RTD_REG_VOTING, "r%zu is %s", i + 1,
                     rtd_reg_mode_name(rtd_reg_mode(W.r[i])));
}

static const Rtr__PartitionRole *
role(size_t i, const char *part)
{
    const Rtr__PartitionRole *pr = rtd_reg_role(rtd_reg_value(W.r[i]), part);
    cr_assert_not_null(pr, "r%zu knows no role for %s", i + 1, part);
    return pr;
}

/* lease - LeaseRequest from `node` to router i; returns granted. */
static bool
lease(size_t i, const char *node, const char *part, uint64_t epoch)
{
    Rtr__Envelope env;
    Rtr__LeaseRequest m;
    rtd_id_t id;
    rtr__envelope__init(&env);
    rtr__lease_request__init(&m);
    wire_envelope_init(&env, node, epoch, 1, RTR__ROLE__ROLE_BACKEND);
    m.partition = (char *)(uintptr_t)part;
    m.epoch = epoch;
    m.seq = 7;
    env.body_case = RTR__ENVELOPE__BODY_LEASE_REQUEST;
    env.lease_request = &m;
    rtd_id_from_str(&id, node);
    peers_clear();
    cr_assert_eq(rtd_reg_on_request(W.r[i], W.now, RTD_SOCK_PEERS, &id, node, &env), RTR_STS_OK);
    drain(i);
    cr_assert_eq(W.npeer, 1);
    cr_assert_eq(W.peer[0]->body_case, RTR__ENVELOPE__BODY_LEASE_GRANT);
    cr_assert_eq(W.peer[0]->lease_grant->seq, 7);
    return W.peer[0]->lease_grant->granted;
}

/* ---- tests ---------------------------------------------------------------------------------- */

Test(rtd_reg, fresh_routers_vote_and_bootstrap_commits_everywhere)
{
    all_start();
    const Rtr__RegChangeReply *rep = bootstrap(0);
    cr_assert_not_null(rep);
    cr_assert_eq(rep->status, RTR_STS_OK, "%s", rtr_status_name(rep->status));
    cr_assert_eq(rep->value->version, 1);
    for (size_t i = 0; i < NR; i++) {
        cr_assert_eq(W.learned[i], 1, "r%zu learned %llu", i + 1, (unsigned long long)W.learned[i]);
        cr_assert_str_eq(role(i, "P")->primary, "be1");
        cr_assert_not_null(W.stored[i]->value, "r%zu stored no value", i + 1);
    }
    /* a second bootstrap finds the value */
    rep = bootstrap(1);
    cr_assert_eq(rep->status, RTR_STS_EXISTS);
    cr_assert_eq(rep->value->version, 1);
}

Test(rtd_reg, not_bootstrapped_answers_notfound)
{
    all_start();
    const Rtr__RegChangeReply *rep = change(0, "be1", RTR__REG_KIND__REG_READ, NULL, 0, NULL);
    cr_assert_not_null(rep);
    cr_assert_eq(rep->status, RTR_STS_NOTFOUND);
    cr_assert_str_eq(rep->reason, "not_bootstrapped");
    cr_assert_null(rep->value);
}

Test(rtd_reg, shrink_add_resume_move_the_epoch)
{
    all_start();
    bootstrap(0);
    const Rtr__RegChangeReply *rep = change(1, "be1", RTR__REG_KIND__REG_SHRINK, "P", 1, "be2");
    cr_assert_eq(rep->status, RTR_STS_OK, "%s %s", rtr_status_name(rep->status), rep->reason);
    const Rtr__PartitionRole *pr = rtd_reg_role(rep->value, "P");
    cr_assert_eq(pr->epoch, 2);
    cr_assert_eq(pr->n_in_sync, 1);
    cr_assert_str_eq(pr->changed_by, "be1 SHRINK");
    cr_assert_eq(rep->value->version, 2);
    /* D untouched */
    cr_assert_eq(rtd_reg_role(rep->value, "D")->epoch, 1);

    /* stale expected epoch: EXISTS with the current value */
    rep = change(2, "be1", RTR__REG_KIND__REG_ADD, "P", 1, "be2");
    cr_assert_eq(rep->status, RTR_STS_EXISTS);
    cr_assert_eq(rtd_reg_role(rep->value, "P")->epoch, 2);

    rep = change(2, "be1", RTR__REG_KIND__REG_ADD, "P", 2, "be2");
    cr_assert_eq(rep->status, RTR_STS_OK);
    pr = rtd_reg_role(rep->value, "P");
    cr_assert_eq(pr->epoch, 3);
    cr_assert_eq(pr->n_in_sync, 2);
    cr_assert_str_eq(pr->in_sync[1], "be2");

    rep = change(0, "be1", RTR__REG_KIND__REG_RESUME, "P", 3, NULL);
    cr_assert_eq(rep->status, RTR_STS_OK);
    cr_assert_eq(rtd_reg_role(rep->value, "P")->epoch, 4);
    for (size_t i = 0; i < NR; i++)
        cr_assert_eq(role(i, "P")->epoch, 4);
}

Test(rtd_reg, only_the_primary_shrinks_and_deny_refuses)
{
    all_start();
    bootstrap(0);
    const Rtr__RegChangeReply *rep = change(0, "be2", RTR__REG_KIND__REG_SHRINK, "P", 1, "be1");
    cr_assert_eq(rep->status, RTR_STS_EXISTS);
    cr_assert_eq(rep->value->version, 1);
    rep = change(0, "be1", RTR__REG_KIND__REG_SHRINK, "D", 1, "be2");
    cr_assert_eq(rep->status, RTR_STS_NOSHADOW);
    rep = change(0, "be1", RTR__REG_KIND__REG_RESUME, "U", 1, NULL);
    cr_assert_eq(rep->status, RTR_STS_INVARG);
    rep = change(0, "be1", RTR__REG_KIND__REG_FORCE, "P", 1, "be2");
    cr_assert_eq(rep->status, RTR_STS_INVARG);
    cr_assert_eq(rtd_reg_counters(W.r[0])->changes, 1); /* the bootstrap only */
}

Test(rtd_reg, promote_is_vetoed_while_the_primary_renews_its_lease)
{
    all_start();
    bootstrap(0);
    cr_assert(lease(0, "be1", "P", 1));
    cr_assert_not(lease(0, "be2", "P", 1), "the secondary got a lease");
    cr_assert_not(lease(0, "be1", "P", 2), "a lease for an epoch that does not exist");
    const Rtr__RegChangeReply *rep = change(0, "be2", RTR__REG_KIND__REG_PROMOTE, "P", 1, NULL);
    cr_assert_eq(rep->status, RTR_STS_BUSY);
    cr_assert_str_eq(rep->reason, "primary_alive");
    /* router 2 granted nothing: no veto there */
    rep = change(1, "be2", RTR__REG_KIND__REG_PROMOTE, "P", 1, NULL);
    cr_assert_eq(rep->status, RTR_STS_OK, "%s", rtr_status_name(rep->status));
    const Rtr__PartitionRole *pr = rtd_reg_role(rep->value, "P");
    cr_assert_str_eq(pr->primary, "be2");
    cr_assert_str_eq(pr->partner, "be1");
    cr_assert_eq(pr->n_in_sync, 1);
    /* the old primary's lease is refused everywhere from now on */
    for (size_t i = 0; i < NR; i++) {
        cr_assert_not(lease(i, "be1", "P", 1));
        cr_assert(lease(i, "be2", "P", 2));
    }
}

Test(rtd_reg, promote_after_the_failure_timeout)
{
    all_start();
    bootstrap(0);
    cr_assert(lease(0, "be1", "P", 1));
    tick(W.now + W.cfg.failure_timeout_ms);
    const Rtr__RegChangeReply *rep = change(0, "be2", RTR__REG_KIND__REG_PROMOTE, "P", 1, NULL);
    cr_assert_eq(rep->status, RTR_STS_OK, "%s", rtr_status_name(rep->status));
}

Test(rtd_reg, force_names_the_partner_and_waits_the_lease)
{
    all_start();
    bootstrap(0);
    change(0, "be1", RTR__REG_KIND__REG_SHRINK, "P", 1, "be2");
    const Rtr__RegChangeReply *rep = change(1, NULL, RTR__REG_KIND__REG_FORCE, "P", 2, "be2");
    cr_assert_eq(rep->status, RTR_STS_OK, "%s", rtr_status_name(rep->status));
    cr_assert_eq(rep->wait_ms, W.cfg.lease_ms + W.cfg.lease_margin_ms);
    const Rtr__PartitionRole *pr = rtd_reg_role(rep->value, "P");
    cr_assert_str_eq(pr->primary, "be2");
    cr_assert_eq(pr->flags & RTD_REG_FLAG_FORCED, RTD_REG_FLAG_FORCED);
    cr_assert_eq(rep->value->n_forced, 1);
    cr_assert_str_eq(rep->value->forced[0]->primary, "be2");
    /* forcing the primary itself is refused */
    rep = change(1, NULL, RTR__REG_KIND__REG_FORCE, "P", 3, "be2");
    cr_assert_eq(rep->status, RTR_STS_EXISTS);
}

Test(rtd_reg, a_force_keeps_the_confirmed_loss_list_in_its_audit_entry)
{
    all_start();
    bootstrap(0);
    change(0, "be1", RTR__REG_KIND__REG_SHRINK, "P", 1, "be2");
    Rtr__RegChange m;
    ProtobufCBinaryData tids[300];
    uint8_t raw[300][16], tok[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    rtr__reg_change__init(&m);
    m.req_id = 1;
    m.kind = RTR__REG_KIND__REG_FORCE;
    m.partition = "P";
    m.has_expected_epoch = true;
    m.expected_epoch = 2;
    m.node = "be2";
    m.has_single_copy_from = true;
    m.single_copy_from = 40;
    m.has_loss_to = true;
    m.loss_to = 90;
    for (size_t k = 0; k < 300; k++) {
        memset(raw[k], (int)k, 16);
        tids[k].data = raw[k];
        tids[k].len = 16;
    }
    m.loss_tids = tids;
    m.n_loss_tids = 300;
    m.has_loss_tid_count = true;
    m.loss_tid_count = 300;
    m.has_confirm = true;
    m.confirm.data = tok;
    m.confirm.len = 8;
    /* a TID of the wrong size is refused */
    tids[7].len = 15;
    const Rtr__RegChangeReply *rep = request(1, NULL, &m);
    cr_assert_eq(rep->status, RTR_STS_INVARG, "%s", rtr_status_name(rep->status));
    tids[7].len = 16;
    m.req_id = 2; /* a new request, not the refused one again (answered from the reply cache) */
    rep = request(1, NULL, &m);
    cr_assert_eq(rep->status, RTR_STS_OK, "%s", rtr_status_name(rep->status));
    cr_assert_eq(rep->value->n_forced, 1);
    const Rtr__ForcedChange *f = rep->value->forced[0];
    cr_assert_eq(f->loss_from, 40);
    cr_assert_eq(f->loss_to, 90);
    cr_assert_eq(f->loss_tid_count, 300);
    cr_assert_eq(f->n_loss_tids, RTD_REG_FORCED_TIDS, "the audit keeps the first 256 TIDs");
    cr_assert_eq(memcmp(f->loss_tids[255].data, raw[255], 16), 0);
    cr_assert_eq(f->confirm.len, 8);
    cr_assert_eq(memcmp(f->confirm.data, tok, 8), 0);
    /* every router holds the same audit entry */
    for (size_t i = 0; i < NR; i++)
        cr_assert_eq(rtd_reg_value(W.r[i])->forced[0]->loss_to, 90, "r%zu", i + 1);
}

Test(rtd_reg, one_router_down_still_commits)
{
    all_start();
    bootstrap(0);
    crash(2);
    const Rtr__RegChangeReply *rep = change(0, "be1", RTR__REG_KIND__REG_SHRINK, "P", 1, "be2");
    cr_assert_eq(rep->status, RTR_STS_OK);
    /* it comes back with its durable state and learns the value through a READ */
    Rtr__AcceptorState *st = state_copy(W.stored[2]);
    start(2, st);
    rtr__acceptor_state__free_unpacked(st, NULL);
    pump();
    cr_assert_eq(W.learned[2], 2);
}

Test(rtd_reg, two_routers_down_no_quorum)
{
    all_start();
    bootstrap(0);
    crash(1);
    crash(2);
    const Rtr__RegChangeReply *rep = change(0, "be1", RTR__REG_KIND__REG_SHRINK, "P", 1, "be2");
    cr_assert_null(rep, "a change committed without a majority");
    tick(W.now + 4 * W.cfg.register_timeout_ms + 1000);
    rep = NULL;
    for (size_t k = 0; k < W.npeer; k++)
        if (W.peer[k]->body_case == RTR__ENVELOPE__BODY_REG_CHANGE_REPLY)
            rep = W.peer[k]->reg_change_reply;
    cr_assert_not_null(rep);
    cr_assert_eq(rep->status, RTR_STS_NOQUORUM);
    cr_assert_gt(rtd_reg_counters(W.r[0])->round_retries, 0);
}

Test(rtd_reg, a_wiped_router_learns_before_it_votes)
{
    all_start();
    bootstrap(0);
    change(0, "be1", RTR__REG_KIND__REG_SHRINK, "P", 1, "be2");
    crash(2);
    start(2, NULL); /* empty disk */
    pump();
    cr_assert_eq(rtd_reg_mode(W.r[2]), RTD_REG_VOTING);
    cr_assert_eq(W.learned[2], 2);
    cr_assert_eq(rtd_reg_counters(W.r[2])->promises + rtd_reg_counters(W.r[2])->accepts, 0);
    cr_assert_not_null(W.stored[2]->value);
    cr_assert_eq(W.stored[2]->value->version, 2);
    /* r1 and r3 alone now form a majority that holds the value */
    crash(1);
    const Rtr__RegChangeReply *rep = change(0, "be1", RTR__REG_KIND__REG_ADD, "P", 2, "be2");
    cr_assert_eq(rep->status, RTR_STS_OK);
    cr_assert_eq(rep->value->version, 3);
}

Test(rtd_reg, a_learner_waits_for_the_others)
{
    all_start();
    bootstrap(0);
    crash(2);
    crash(1);
    start(2, NULL);
    pump();
    cr_assert_eq(rtd_reg_mode(W.r[2]), RTD_REG_LEARNER);
    /* it refuses to vote meanwhile */
    const Rtr__RegChangeReply *rep = change(2, "be1", RTR__REG_KIND__REG_READ, NULL, 0, NULL);
    cr_assert_eq(rep->status, RTR_STS_NOQUORUM);
    Rtr__AcceptorState *st = state_copy(W.stored[1]);
    start(1, st);
    rtr__acceptor_state__free_unpacked(st, NULL);
    tick(W.now + 2000);
    cr_assert_eq(rtd_reg_mode(W.r[2]), RTD_REG_VOTING);
    cr_assert_eq(W.learned[2], 1);
}

Test(rtd_reg, replies_wait_for_the_store)
{
    all_start();
    bootstrap(0);
    W.hold[1] = W.hold[2] = true;
    const Rtr__RegChangeReply *rep = change(0, "be1", RTR__REG_KIND__REG_SHRINK, "P", 1, "be2");
    cr_assert_null(rep, "committed before two stores persisted");
    persisted(1);
    pump(); /* r2's promise; its accept is now pending in its store */
    cr_assert_eq(W.npend[1], 1);
    persisted(1);
    pump();
    rep = NULL;
    for (size_t k = 0; k < W.npeer; k++)
        if (W.peer[k]->body_case == RTR__ENVELOPE__BODY_REG_CHANGE_REPLY)
            rep = W.peer[k]->reg_change_reply;
    cr_assert_not_null(rep);
    cr_assert_eq(rep->status, RTR_STS_OK);
    W.hold[1] = W.hold[2] = false;
    persisted(2);
    pump();
}

Test(rtd_reg, duplicate_requests_get_the_same_reply)
{
    all_start();
    bootstrap(0);
    Rtr__RegChange m;
    rtr__reg_change__init(&m);
    m.kind = RTR__REG_KIND__REG_SHRINK;
    m.partition = "P";
    m.has_expected_epoch = true;
    m.expected_epoch = 1;
    m.node = "be2";
    const Rtr__RegChangeReply *rep = request(0, "be1", &m);
    cr_assert_eq(rep->status, RTR_STS_OK);
    rep = request(0, "be1", &m); /* same req_id */
    cr_assert_eq(rep->status, RTR_STS_OK, "the duplicate was applied again: %s",
                 rtr_status_name(rep->status));
    cr_assert_eq(rep->value->version, 2);
    cr_assert_eq(rtd_reg_counters(W.r[0])->duplicates, 1);
    /* the same req_id from a restarted requester is a new request */
    req_inc = 2;
    m.kind = RTR__REG_KIND__REG_ADD;
    m.expected_epoch = 2;
    rep = request(0, "be1", &m);
    req_inc = 1;
    cr_assert_eq(rep->status, RTR_STS_OK, "%s", rtr_status_name(rep->status));
    cr_assert_eq(rep->value->version, 3);
    cr_assert_eq(rtd_reg_counters(W.r[0])->duplicates, 1);
}

Test(rtd_reg, restart_never_reuses_a_ballot)
{
    all_start();
    bootstrap(0);
    uint64_t b1 = W.stored[0]->ballot_reserved;
    cr_assert_gt(b1, 0);
    crash(0);
    Rtr__AcceptorState *st = state_copy(W.stored[0]);
    start(0, st);
    rtr__acceptor_state__free_unpacked(st, NULL);
    pump();
    /* the restart's READ used a ballot above everything reserved before */
    cr_assert_gt(W.stored[0]->ballot_reserved, b1);
    cr_assert_gt(W.stored[0]->promised, b1);
}

Test(rtd_reg, competing_proposers_agree)
{
    all_start();
    bootstrap(0);
    /* two changes of the same epoch at two routers at once: one wins, the other sees EXISTS */
    Rtr__Envelope env[2];
    Rtr__RegChange m[2];
    rtd_id_t id;
    rtd_id_from_str(&id, "be1");
    for (int k = 0; k < 2; k++) {
        rtr__envelope__init(&env[k]);
        rtr__reg_change__init(&m[k]);
        wire_envelope_init(&env[k], "be1", 0, 1, RTR__ROLE__ROLE_BACKEND);
        m[k].req_id = 100 + (uint64_t)k;
        m[k].kind = k == 0 ? RTR__REG_KIND__REG_SHRINK : RTR__REG_KIND__REG_RESUME;
        m[k].partition = "P";
        m[k].has_expected_epoch = true;
        m[k].expected_epoch = 1;
        m[k].node = "be2";
        env[k].body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
        env[k].reg_change = &m[k];
    }
    peers_clear();
    rtd_reg_on_request(W.r[0], W.now, RTD_SOCK_PEERS, &id, "be1", &env[0]);
    drain(0);
    rtd_reg_on_request(W.r[1], W.now, RTD_SOCK_PEERS, &id, "be1", &env[1]);
    drain(1);
    pump();
    tick(W.now + 3000);
    int ok = 0, exists = 0;
    for (size_t k = 0; k < W.npeer; k++) {
        if (W.peer[k]->body_case != RTR__ENVELOPE__BODY_REG_CHANGE_REPLY)
            continue;
        ok += W.peer[k]->reg_change_reply->status == RTR_STS_OK;
        exists += W.peer[k]->reg_change_reply->status == RTR_STS_EXISTS;
    }
    cr_assert_eq(ok, 1);
    cr_assert_eq(exists, 1);
    for (size_t i = 0; i < NR; i++)
        cr_assert_eq(role(i, "P")->epoch, 2);
}

Test(rtd_reg, invalid_values_are_refused)
{
    all_start();
    bootstrap(0);
    Rtr__RegisterValue v = *rtd_reg_value(W.r[0]);
    Rtr__RegLearn l;
    Rtr__Envelope env;
    rtr__reg_learn__init(&l);
    rtr__envelope__init(&env);
    wire_envelope_init(&env, "r2", 0, 1, RTR__ROLE__ROLE_ROUTER);
    uint8_t other[16] = { 9 };
    v.facility_uuid.data = other;
    v.version = 9;
    l.value = &v;
    env.body_case = RTR__ENVELOPE__BODY_REG_LEARN;
    env.reg_learn = &l;
    cr_assert_eq(rtd_reg_on_router(W.r[0], W.now, 1, &env), RTR_STS_OK);
    drain(0);
    cr_assert_eq(rtd_reg_counters(W.r[0])->foreign_uuid, 1);
    cr_assert_eq(rtd_reg_value(W.r[0])->version, 1);
    /* a body no router sends */
    env.body_case = RTR__ENVELOPE__BODY_LEASE_GRANT;
    cr_assert_eq(rtd_reg_on_router(W.r[0], W.now, 1, &env), RTR_STS_INVARG);
    cr_assert_eq(rtd_reg_on_router(W.r[0], W.now, 7, &env), RTR_STS_INVARG);
}
