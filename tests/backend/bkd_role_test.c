/*
 * bkd_role_test.c - a shadow pair under the facility register, pure cores only: two backend
 * cores (be1, be2: a pair for partition P) and three router register cores (rtd_reg), wired
 * by an in-test network that carries every frame encoded, a virtual clock, journals that
 * harden at once and server models that answer by themselves. Crashes are a core that stops
 * receiving events (frames to it are lost); pauses are a core whose clock stops.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkd.h"
#include "cmn_config.h"
#include "rtd_reg.h"
#include "tst.h"
#include "wire.h"

#define INC   0x6262626262626262ull
#define QMAX  8192
#define NR    3
#define JMAX  2048  /* CSNs the journal model holds */
#define FAILT 1000u /* failure_timeout_ms */
#define HB    250u  /* heartbeat_ms */

static const char conf[] =
    "facility = \"TST\";\n"
    "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
    "routers = (\n"
    "  { name = \"r1\"; clients = \"tcp://127.0.0.1:7501\"; peers = \"tcp://127.0.0.1:7511\";\n"
    "    admin = \"ipc:///tmp/bkd-role-r1.adm\"; state = \"/tmp/bkd-role-t/r1\"; },\n"
    "  { name = \"r2\"; clients = \"tcp://127.0.0.1:7502\"; peers = \"tcp://127.0.0.1:7512\";\n"
    "    admin = \"ipc:///tmp/bkd-role-r2.adm\"; state = \"/tmp/bkd-role-t/r2\"; },\n"
    "  { name = \"r3\"; clients = \"tcp://127.0.0.1:7503\"; peers = \"tcp://127.0.0.1:7513\";\n"
    "    admin = \"ipc:///tmp/bkd-role-r3.adm\"; state = \"/tmp/bkd-role-t/r3\"; } );\n"
    "backends = (\n"
    "  { name = \"be1\"; shadow = \"tcp://127.0.0.1:7601\"; servers = "
    "\"ipc:///tmp/bkd-role-1.srv\";\n"
    "    admin = \"ipc:///tmp/bkd-role-1.adm\"; journal = \"/tmp/bkd-role-t/be1\"; },\n"
    "  { name = \"be2\"; shadow = \"tcp://127.0.0.1:7602\"; servers = "
    "\"ipc:///tmp/bkd-role-2.srv\";\n"
    "    admin = \"ipc:///tmp/bkd-role-2.adm\"; journal = \"/tmp/bkd-role-t/be2\"; } );\n"
    "partitions = (\n"
    "  { name = \"P\"; low = [ 0 ]; high = [ 4294967295L ]; primary = \"be1\"; secondary = "
    "\"be2\"; "
    "} );\n";

static bool deny_mode;
static uint64_t window_bytes; /* the cores' shadow_window_bytes (0: the default) */

static const uint8_t LOW[4] = { 0, 0, 0, 0 };
static const uint8_t HIGH[4] = { 0xff, 0xff, 0xff, 0xff };

/* nodes: 0, 1 = be1, be2; 2, 3, 4 = r1, r2, r3 */
#define NN 5
typedef struct {
    int from, to;
    uint8_t *buf;
    size_t len;
} fr_t;

typedef struct {
    bkd_core_t *c;
    uint64_t last_ticket;
    uint64_t hist_epoch[16]; /* the epoch history of the last META action */
    uint64_t hist_first[16];
    size_t nhist;
    uint8_t chan_tid[8][16];
    uint32_t delivered, done;
    uint32_t evt[8]; /* role events received, by number - 1000 */
    /* the journal model: hardens at once, survives a restart */
    Rtr__JournalRecord *jr[JMAX]; /* by n */
    Rtr__JournalMeta *jmeta;
    uint64_t inc;
    uint32_t reads; /* JOURNAL_READ actions served */
    /* the server's database: how many times each TID counter was committed (survives the
     * backend's restarts: it is the server's) */
    uint8_t db[4096];
    bool chan_uncertain[8];
    bool vote_applied[4096]; /* by TID counter: its last vote said "already applied" */
    bool hold_outcomes;      /* the server drops ServerOutcomes (its link is about to break) */
    uint64_t diverge_at;     /* the server replies otherwise to this TID counter (0: never) */
} be_t;

static struct {
    cmn_facility_t *fac;
    char *dir;
    be_t be[2];
    rtd_reg_t *r[NR];
    Rtr__AcceptorState *stored[NR];
    bool down[NN];
    bool paused[NN]; /* its clock stands still and it gets no events */
    fr_t q[QMAX];
    size_t nq;
    uint64_t now;
    uint32_t accepted, rejected_fenced, outcomes;
    uint64_t last_csn;
    uint64_t acc_csn[4096]; /* the CSN each TID counter was accepted with (0: not accepted) */
    bool link_cut;          /* the pair's shadow link is broken */
    bool drop_learn[2];     /* RegLearn frames to this backend are lost */
    bool drop_acks;         /* ShadowAck frames are lost (a member whose journal is stuck) */
} W;

static const char *const names[NN] = { "be1", "be2", "r1", "r2", "r3" };
static const char *const routers[NR] = { "r1", "r2", "r3" };

static int
node_of(const char *name)
{
    for (int i = 0; i < NN; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    cr_assert_fail("unknown node %s", name);
    return -1;
}

static void
enqueue(int from, int to, const ProtobufCMessage *env, uint8_t *frame, size_t framelen)
{
    uint8_t *buf = frame;
    size_t len = framelen;
    if (buf == NULL)
        cr_assert_eq(wire_encode(env, 0, &buf, &len), RTR_STS_OK);
    cr_assert_lt(W.nq, QMAX);
    W.q[W.nq++] = (fr_t){ from, to, buf, len };
}

/* traced - RTR_PAIR_TRACE_TID=COUNTER prints what happens to that TID (to read a failing seed). */
static bool
traced(uint64_t counter)
{
    const char *t = getenv("RTR_PAIR_TRACE_TID");
    return t != NULL && strtoull(t, NULL, 10) == counter;
}

/* ---- server models ------------------------------------------------------------------------ */

static uint32_t
chan_of(int b, const uint8_t *tid)
{
    for (uint32_t k = 0; k < 8; k++)
        if (memcmp(W.be[b].chan_tid[k], tid, 16) == 0)
            return k + 1;
    return 1;
}

static void
srv_send(int b, Rtr__Envelope *env)
{
    Rtr__Envelope saved = *env;
    char id[16];
    snprintf(id, sizeof(id), "s-%d", b);
    wire_envelope_init(env, id, 0, 7, RTR__ROLE__ROLE_SERVER);
    env->body_case = saved.body_case;
    env->heartbeat = saved.heartbeat;
    rtr_status_t sts = bkd_core_server_msg(W.be[b].c, id, env);
    cr_assert_eq(sts, RTR_STS_OK, "be%d refused server message %d: %s", b + 1, (int)env->body_case,
                 rtr_status_name(sts));
}

static void
server(int b, const Rtr__Envelope *env)
{
    Rtr__Envelope out = RTR__ENVELOPE__INIT;
    switch (env->body_case) {
    case RTR__ENVELOPE__BODY_DELIVER: {
        const Rtr__Deliver *d = env->deliver;
        Rtr__ServerReply r = RTR__SERVER_REPLY__INIT;
        W.be[b].delivered++;
        {
            cmn_tid_t t;
            cmn_tid_unpack(d->tid.data, &t);
            if (traced(t.counter))
                fprintf(stderr, "TRACE t=%llu be%d deliver ch=%u kind=%d hold=%d\n",
                        (unsigned long long)W.now, b + 1, d->channel, (int)d->kind,
                        W.be[b].hold_outcomes);
        }
        if (d->channel >= 1 && d->channel <= 8) {
            for (uint32_t k = 0; k < 8; k++) /* a replay moves a TID to another channel */
                if (memcmp(W.be[b].chan_tid[k], d->tid.data, 16) == 0)
                    memset(W.be[b].chan_tid[k], 0, 16);
            memcpy(W.be[b].chan_tid[d->channel - 1], d->tid.data, 16);
            W.be[b].chan_uncertain[d->channel - 1] =
                d->kind == RTR__DELIVER_KIND__DELIVER_MSG1_UNCERTAIN;
        }
        r.tid = d->tid;
        r.channel = d->channel;
        r.index = d->index;
        r.body = d->body;
        cmn_tid_t dt;
        cmn_tid_unpack(d->tid.data, &dt);
        if (W.be[b].diverge_at != 0 && dt.counter == W.be[b].diverge_at) {
            r.body.data = (uint8_t *)"other"; /* a test-only fault: another result */
            r.body.len = 5;
        }
        out.body_case = RTR__ENVELOPE__BODY_SERVER_REPLY;
        out.server_reply = &r;
        srv_send(b, &out);
        break;
    }
    case RTR__ENVELOPE__BODY_VOTE_REQUEST: {
        Rtr__ServerVote v = RTR__SERVER_VOTE__INIT;
        v.tid = env->vote_request->tid;
        v.channel = chan_of(b, v.tid.data);
        v.accept = true;
        {
            /* the server contract: a msg1_uncertain TID already in the database is not
             * applied again */
            cmn_tid_t t;
            cmn_tid_unpack(v.tid.data, &t);
            bool applied = W.be[b].chan_uncertain[v.channel - 1] && t.counter < 4096 &&
                           W.be[b].db[t.counter] > 0;
            if (t.counter < 4096)
                W.be[b].vote_applied[t.counter] = applied;
            v.has_already_applied = applied;
            v.already_applied = applied;
        }
        out.body_case = RTR__ENVELOPE__BODY_SERVER_VOTE;
        out.server_vote = &v;
        srv_send(b, &out);
        break;
    }
    case RTR__ENVELOPE__BODY_SERVER_OUTCOME: {
        Rtr__ServerDone d = RTR__SERVER_DONE__INIT;
        if (W.be[b].hold_outcomes)
            break;
        W.be[b].done++;
        if (env->server_outcome->accepted) {
            /* the outcome of the TID's last execution here: committed unless its vote said
             * "already applied" (keyed by TID: a replay may run on another channel) */
            cmn_tid_t t;
            cmn_tid_unpack(env->server_outcome->tid.data, &t);
            if (t.counter < 4096 && !W.be[b].vote_applied[t.counter] && W.be[b].db[t.counter] < 255)
                W.be[b].db[t.counter]++;
            if (traced(t.counter))
                fprintf(stderr, "TRACE t=%llu be%d outcome accepted applied_vote=%d db=%d\n",
                        (unsigned long long)W.now, b + 1, W.be[b].vote_applied[t.counter],
                        W.be[b].db[t.counter]);
        } else {
            cmn_tid_t t;
            cmn_tid_unpack(env->server_outcome->tid.data, &t);
            if (traced(t.counter))
                fprintf(stderr, "TRACE t=%llu be%d outcome rejected\n", (unsigned long long)W.now,
                        b + 1);
        }
        d.tid = env->server_outcome->tid;
        d.channel = env->server_outcome->channel;
        out.body_case = RTR__ENVELOPE__BODY_SERVER_DONE;
        out.server_done = &d;
        srv_send(b, &out);
        break;
    }
    case RTR__ENVELOPE__BODY_SERVER_EVENT:
        cr_assert_eq(env->server_event->evtnum / 1000, 1);
        W.be[b].evt[env->server_event->evtnum % 1000]++;
        break;
    default:
        break;
    }
}

/* ---- draining the cores ------------------------------------------------------------------- */

static size_t
be_drain(int b)
{
    bkd_action_t a;
    size_t k = 0;
    while (bkd_core_next_action(W.be[b].c, &a)) {
        switch (a.kind) {
        case BKD_ACT_SEND:
            k++;
            if (a.sock == BKD_SOCK_SERVERS) {
                server(b, a.env);
            } else if (a.sock == BKD_SOCK_SHADOW) {
                enqueue(b, node_of(a.to), a.env ? &a.env->base : NULL, a.frame, a.framelen);
                a.frame = NULL;
            } else if (strncmp(a.to, "r", 1) == 0 &&
                       a.env->body_case != RTR__ENVELOPE__BODY_TX_OUTCOME &&
                       a.env->body_case != RTR__ENVELOPE__BODY_TX_REPLY) {
                enqueue(b, node_of(a.to), &a.env->base, NULL, 0);
            } else if (a.env->body_case == RTR__ENVELOPE__BODY_TX_OUTCOME) {
                W.outcomes++;
                if (a.env->tx_outcome->accepted) {
                    cmn_tid_t t;
                    cmn_tid_unpack(a.env->tx_outcome->tid.data, &t);
                    W.accepted++;
                    W.last_csn = a.env->tx_outcome->csn;
                    if (t.counter < 4096)
                        W.acc_csn[t.counter] = a.env->tx_outcome->csn;
                }
            }
            break;
        case BKD_ACT_JOURNAL_TRUNCATE:
            for (size_t n = a.n + 1; n < JMAX; n++)
                wire_free((ProtobufCMessage **)&W.be[b].jr[n]);
            __attribute__((fallthrough)); /* the cut meta */
        case BKD_ACT_JOURNAL_META:
            wire_free((ProtobufCMessage **)&W.be[b].jmeta);
            W.be[b].jmeta = a.meta;
            a.meta = NULL;
            W.be[b].nhist = W.be[b].jmeta->n_history < 16 ? W.be[b].jmeta->n_history : 16;
            for (size_t h = 0; h < W.be[b].nhist; h++) {
                W.be[b].hist_epoch[h] = W.be[b].jmeta->history[h]->epoch;
                W.be[b].hist_first[h] = W.be[b].jmeta->history[h]->first_n;
            }
            k++;
            W.be[b].last_ticket = a.ticket;
            break;
        case BKD_ACT_JOURNAL_READ: {
            uint64_t ns[JMAX];
            uint8_t *bufs[JMAX];
            size_t lens[JMAX], n = 0, bytes = 0;
            for (uint64_t x = a.n; x <= a.to_n && x < JMAX && bytes < a.max_bytes; x++) {
                if (W.be[b].jr[x] == NULL)
                    break;
                cr_assert_eq(wire_encode(&W.be[b].jr[x]->base, 0, &bufs[n], &lens[n]), RTR_STS_OK);
                ns[n] = x;
                bytes += lens[n++];
            }
            W.be[b].reads++;
            bkd_core_records_read(W.be[b].c, a.part, RTR_STS_OK, n, ns, bufs, lens);
            for (size_t x = 0; x < n; x++)
                free(bufs[x]);
            k++;
            break;
        }
        case BKD_ACT_JOURNAL_APPEND: {
            cmn_tid_t t;
            cmn_tid_unpack(a.rec->tid.data, &t);
            if (traced(t.counter))
                fprintf(stderr, "TRACE t=%llu be%d append n=%llu state=%d\n",
                        (unsigned long long)W.now, b + 1, (unsigned long long)a.rec->n,
                        (int)a.rec->state);
        }
            cr_assert_lt(a.rec->n, JMAX);
            wire_free((ProtobufCMessage **)&W.be[b].jr[a.rec->n]);
            W.be[b].jr[a.rec->n] = a.rec;
            a.rec = NULL;
            k++;
            W.be[b].last_ticket = a.ticket;
            break;
        case BKD_ACT_JOURNAL_SET_STATE:
            if (a.n < JMAX && W.be[b].jr[a.n] != NULL) {
                cmn_tid_t t;
                cmn_tid_unpack(W.be[b].jr[a.n]->tid.data, &t);
                if (traced(t.counter))
                    fprintf(stderr, "TRACE t=%llu be%d set_state n=%llu state=%d\n",
                            (unsigned long long)W.now, b + 1, (unsigned long long)a.n,
                            (int)a.state);
            }
            if (a.n < JMAX && W.be[b].jr[a.n] != NULL) {
                W.be[b].jr[a.n]->state = a.state;
                W.be[b].jr[a.n]->has_moved_to = a.moved_to != 0;
                W.be[b].jr[a.n]->moved_to = a.moved_to;
            }
            k++;
            W.be[b].last_ticket = a.ticket;
            break;
        default:
            break;
        }
        bkd_action_clear(&a);
    }
    return k;
}

static void learned_to_backends(int i, const Rtr__RegisterValue *v);

static uint64_t pend[NR][256];
static size_t npend[NR];
static bool persisting[NR];

static size_t
r_drain(int i)
{
    size_t n = 0;
    rtd_reg_action_t *a = rtd_reg_actions(W.r[i], &n);
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        switch (a[j].kind) {
        case RTD_REG_SEND_ROUTER:
            enqueue(2 + i, 2 + (int)a[j].router, &a[j].env->base, NULL, 0);
            k++;
            break;
        case RTD_REG_SEND_PEER: {
            char to[64];
            snprintf(to, sizeof(to), "%.*s", (int)a[j].to.len, (const char *)a[j].to.bytes);
            if (strcmp(to, "be1") == 0 || strcmp(to, "be2") == 0)
                enqueue(2 + i, node_of(to), &a[j].env->base, NULL, 0);
            k++;
            break;
        }
        case RTD_REG_PERSIST: {
            if (W.stored[i] != NULL)
                rtr__acceptor_state__free_unpacked(W.stored[i], NULL);
            size_t len = rtr__acceptor_state__get_packed_size(a[j].state);
            uint8_t *buf = malloc(len + 1);
            rtr__acceptor_state__pack(a[j].state, buf);
            W.stored[i] = rtr__acceptor_state__unpack(NULL, len, buf);
            free(buf);
            cr_assert_lt(npend[i], 256);
            pend[i][npend[i]++] = a[j].ticket;
            break;
        }
        case RTD_REG_LEARNED:
            learned_to_backends(i, a[j].value);
            break;
        default:
            break;
        }
    }
    /* the store completes writes in ticket order, after the action list */
    if (!persisting[i]) {
        persisting[i] = true;
        while (npend[i] > 0) {
            uint64_t t = pend[i][0];
            memmove(pend[i], pend[i] + 1, (npend[i] - 1) * sizeof(pend[i][0]));
            npend[i]--;
            rtd_reg_on_persisted(W.r[i], W.now, t);
            k += r_drain(i);
        }
        persisting[i] = false;
    }
    return k;
}

static void
learned_to_backends(int i, const Rtr__RegisterValue *v)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__RegLearn l = RTR__REG_LEARN__INIT;
    wire_envelope_init(&env, routers[i], 0, 1, RTR__ROLE__ROLE_ROUTER);
    l.value = (Rtr__RegisterValue *)(uintptr_t)v;
    env.body_case = RTR__ENVELOPE__BODY_REG_LEARN;
    env.reg_learn = &l;
    for (int b = 0; b < 2; b++)
        enqueue(2 + i, b, &env.base, NULL, 0);
}

static void
deliver(fr_t f)
{
    Rtr__Envelope *env = NULL;
    if (W.down[f.to] || W.down[f.from] || W.paused[f.to] || (f.to < 2 && W.be[f.to].c == NULL) ||
        (f.to < 2 && f.from < 2 && W.link_cut)) {
        free(f.buf);
        return;
    }
    cr_assert_eq(wire_envelope_decode(f.buf, f.len, 0, NULL, &env), RTR_STS_OK);
    free(f.buf);
    if ((f.to < 2 && W.drop_learn[f.to] && env->body_case == RTR__ENVELOPE__BODY_REG_LEARN) ||
        (W.drop_acks && env->body_case == RTR__ENVELOPE__BODY_SHADOW_ACK)) {
        wire_free((ProtobufCMessage **)&env);
        return;
    }
    if (f.to < 2) {
        bkd_core_t *c = W.be[f.to].c;
        if (f.from < 2)
            (void)bkd_core_shadow_msg(c, names[f.from], env);
        else
            (void)bkd_core_router_msg(c, names[f.from], env);
        be_drain(f.to);
    } else if (f.from >= 2) {
        cr_assert_eq(rtd_reg_on_router(W.r[f.to - 2], W.now, (size_t)(f.from - 2), env),
                     RTR_STS_OK);
        r_drain(f.to - 2);
    } else {
        rtd_id_t id;
        rtd_id_from_str(&id, names[f.from]);
        (void)rtd_reg_on_request(W.r[f.to - 2], W.now, RTD_SOCK_PEERS, &id, names[f.from], env);
        r_drain(f.to - 2);
    }
    wire_free((ProtobufCMessage **)&env);
}

/* settle - deliver frames, harden journals, flush, until quiet (no time passes). */
static void
settle(void)
{
    for (int guard = 0; guard < 200000; guard++) {
        size_t moved = 0;
        for (int b = 0; b < 2; b++) {
            if (W.down[b] || W.paused[b] || W.be[b].c == NULL)
                continue;
            moved += be_drain(b);
            bkd_core_journal_hardened(W.be[b].c, W.be[b].last_ticket);
            moved += be_drain(b);
            bkd_core_flush(W.be[b].c);
            moved += be_drain(b);
        }
        if (W.nq > 0) {
            fr_t f = W.q[0];
            memmove(W.q, W.q + 1, (W.nq - 1) * sizeof(W.q[0]));
            W.nq--;
            deliver(f);
            moved++;
        }
        if (moved == 0)
            return;
    }
    cr_assert_fail("does not settle");
}

/* advance - let `ms` of virtual time pass in steps of 10 ms, firing every timer. */
static void
advance(uint64_t ms)
{
    uint64_t end = W.now + ms;
    while (W.now < end) {
        W.now += 10;
        for (int b = 0; b < 2; b++)
            if (!W.down[b] && !W.paused[b]) {
                bkd_core_timer(W.be[b].c, W.now, W.now + 1000000);
                be_drain(b);
            }
        for (int i = 0; i < NR; i++)
            if (!W.down[2 + i]) {
                rtd_reg_on_timer(W.r[i], W.now);
                r_drain(i);
            }
        settle();
    }
}

/* link - the shadow link: both see each other up (or lost). */
static void
link_state(bool up)
{
    if (!W.down[0] && !W.paused[0]) {
        if (up && !W.down[1])
            bkd_core_partner_up(W.be[0].c, "be2", W.be[1].inc * 10 + 1);
        else
            bkd_core_partner_lost(W.be[0].c, "be2");
    }
    if (!W.down[1] && !W.paused[1]) {
        if (up && !W.down[0])
            bkd_core_partner_up(W.be[1].c, "be1", W.be[0].inc * 10);
        else
            bkd_core_partner_lost(W.be[1].c, "be1");
    }
}

static void open_channels(int b);

static void
be_new(int b)
{
    uint64_t last = 0;
    for (uint64_t n = 1; n < JMAX; n++)
        if (W.be[b].jr[n] != NULL)
            last = n;
    bkd_part_cfg_t part = { .name = "P",
                            .low = LOW,
                            .high = HIGH,
                            .concurrent = true,
                            .epoch = 1,
                            .last_n = last,
                            .meta = W.be[b].jmeta,
                            .role = b == 0 ? BKD_ROLE_PRIMARY : BKD_ROLE_MEMBER,
                            .partner = b == 0 ? "be2" : "be1",
                            .remember_deny = deny_mode };
    bkd_core_cfg_t cfg = { .node = names[b],
                           .incarnation = ++W.be[b].inc * 10 + (uint64_t)b,
                           .keylen = 4,
                           .nparts = 1,
                           .parts = &part,
                           .resend_ms = 100,
                           .nrouters = NR,
                           .routers = routers,
                           .heartbeat_ms = HB,
                           .failure_timeout_ms = FAILT,
                           .register_timeout_ms = 300,
                           .shadow_window_bytes = window_bytes,
                           .catchup_window_bytes = 200 };
    cr_assert_eq(bkd_core_new(&cfg, &W.be[b].c), RTR_STS_OK);
    W.be[b].last_ticket = 0;
    for (uint64_t n = 1; n <= last; n++)
        if (W.be[b].jr[n] != NULL)
            cr_assert_eq(bkd_core_load_record(W.be[b].c, 0, W.be[b].jr[n]), RTR_STS_OK);
    open_channels(b);
}

/* open_channels - the server process of backend b announces its channels 1 and 2 (again, as
 * librtr does after it lost its link to the backend). */
static void
open_channels(int b)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelOpen o = RTR__CHANNEL_OPEN__INIT;
    for (uint32_t ch = 1; ch <= 2; ch++) {
        o.channel = ch;
        o.has_key_low = o.has_key_high = true;
        o.key_low.data = (uint8_t *)(uintptr_t)LOW;
        o.key_low.len = 4;
        o.key_high.data = (uint8_t *)(uintptr_t)HIGH;
        o.key_high.len = 4;
        env.body_case = RTR__ENVELOPE__BODY_CHANNEL_OPEN;
        env.channel_open = &o;
        srv_send(b, &env);
        be_drain(b); /* one announce at a time, as librtr's link delivers them */
    }
}

static void
setup(void)
{
    char path[512];
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_diag_t *diag = NULL;
    memset(&W, 0, sizeof(W));
    memset(npend, 0, sizeof(npend));
    window_bytes = 0;
    W.dir = tst_tmpdir("bkdrole");
    snprintf(path, sizeof(path), "%s/facility.conf", W.dir);
    /* the deny suite: the same facility with remember = deny on P */
    char text[sizeof(conf) + 64];
    snprintf(text, sizeof(text), "%s", conf);
    if (deny_mode) {
        char *end = strstr(text, "secondary = \"be2\"; ");
        cr_assert_not_null(end);
        end += strlen("secondary = \"be2\"; ");
        snprintf(end, sizeof(text) - (size_t)(end - text), "remember = \"deny\"; } );\n");
    }
    cr_assert_eq(tst_write_file(path, text, strlen(text)), 0);
    cr_assert_eq(cmn_facility_load_ex(path, &lo, &W.fac, &diag), RTR_STS_OK, "%s",
                 diag && diag->error ? diag->error : "?");
    cmn_diag_free(&diag);
    W.now = 1000;
    rtd_reg_cfg_t rc = { .register_timeout_ms = 300,
                         .failure_timeout_ms = FAILT,
                         .lease_ms = 2 * FAILT,
                         .lease_margin_ms = FAILT / 5,
                         .seed = 5 };
    for (int i = 0; i < NR; i++) {
        cr_assert_eq(rtd_reg_new(W.fac, &W.fac->routers[i], 100 + (uint64_t)i, &rc, NULL, &W.r[i]),
                     RTR_STS_OK);
        rtd_reg_start(W.r[i], W.now);
        r_drain(i);
    }
    settle();
    for (int b = 0; b < 2; b++)
        be_new(b);
    link_state(true);
}

static void
teardown(void)
{
    for (int b = 0; b < 2; b++) {
        if (W.be[b].c != NULL)
            be_drain(b);
        bkd_core_free(&W.be[b].c);
        for (size_t n = 0; n < JMAX; n++)
            wire_free((ProtobufCMessage **)&W.be[b].jr[n]);
        wire_free((ProtobufCMessage **)&W.be[b].jmeta);
    }
    for (int i = 0; i < NR; i++) {
        rtd_reg_free(&W.r[i]);
        if (W.stored[i] != NULL)
            rtr__acceptor_state__free_unpacked(W.stored[i], NULL);
    }
    for (size_t i = 0; i < W.nq; i++)
        free(W.q[i].buf);
    cmn_facility_free(&W.fac);
    tst_rmtree(W.dir);
    free(W.dir);
}

TestSuite(bkd_role, .init = setup, .fini = teardown);

static void
setup_deny(void)
{
    deny_mode = true;
    setup();
}

/* ---- helpers ------------------------------------------------------------------------------- */

static void
bootstrap(void)
{
    static uint8_t uuid[16] = { 7 };
    static char *insync[2] = { "be1", "be2" };
    Rtr__PartitionRole pr = RTR__PARTITION_ROLE__INIT;
    Rtr__PartitionRole *prs[1] = { &pr };
    Rtr__RegisterValue v = RTR__REGISTER_VALUE__INIT;
    Rtr__RegChange m = RTR__REG_CHANGE__INIT;
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    rtd_id_t id;
    pr.partition = "P";
    pr.epoch = 1;
    pr.primary = "be1";
    pr.in_sync = insync;
    pr.n_in_sync = 2;
    pr.partner = "be2";
    v.version = 1;
    v.facility = "TST";
    v.facility_uuid.data = uuid;
    v.facility_uuid.len = 16;
    v.partitions = prs;
    v.n_partitions = 1;
    m.req_id = 1;
    m.kind = RTR__REG_KIND__REG_BOOTSTRAP;
    m.bootstrap = &v;
    wire_envelope_init(&env, "a-1", 0, 1, RTR__ROLE__ROLE_ADMIN);
    env.body_case = RTR__ENVELOPE__BODY_REG_CHANGE;
    env.reg_change = &m;
    rtd_id_from_str(&id, "a-1");
    cr_assert_eq(rtd_reg_on_request(W.r[0], W.now, RTD_SOCK_ADMIN, &id, NULL, &env), RTR_STS_OK);
    r_drain(0);
    settle();
}

static bkd_part_info_t info_out;
static void
info_fn(void *arg, const bkd_part_info_t *pi)
{
    (void)arg;
    info_out = *pi;
}

static bkd_part_info_t
info(int b)
{
    bkd_core_each_part(W.be[b].c, info_fn, NULL);
    return info_out;
}

static void
tx(int b, uint64_t counter)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__TxMsg m = RTR__TX_MSG__INIT;
    Rtr__VoteRequest v = RTR__VOTE_REQUEST__INIT;
    uint8_t tid[16];
    cmn_tid_t t = { INC, counter };
    cmn_tid_pack(&t, tid);
    m.tid.data = tid;
    m.tid.len = 16;
    m.channel = 9;
    m.body.data = (uint8_t *)"x";
    m.body.len = 1;
    m.has_flags = true;
    m.flags = BKD_SEN_ACCEPT;
    m.partition = "P";
    wire_envelope_init(&env, "r1", 0, 1, RTR__ROLE__ROLE_ROUTER);
    env.body_case = RTR__ENVELOPE__BODY_TX_MSG;
    env.tx_msg = &m;
    cr_assert_eq(bkd_core_router_msg(W.be[b].c, "r1", &env), RTR_STS_OK);
    v.tid = m.tid;
    v.nmsgs = 1;
    env.body_case = RTR__ENVELOPE__BODY_VOTE_REQUEST;
    env.vote_request = &v;
    cr_assert_eq(bkd_core_router_msg(W.be[b].c, "r1", &env), RTR_STS_OK);
    be_drain(b);
}

static void
up_and_running(void)
{
    bootstrap();
    advance(600);
    bkd_part_info_t p0 = info(0), p1 = info(1);
    cr_assert_str_eq(p0.state, "pri_act", "be1 is %s (%s)", p0.state, p0.reason);
    cr_assert_str_eq(p1.state, "sec_act", "be2 is %s (%s)", p1.state, p1.reason);
    cr_assert(p0.lease_held);
    cr_assert(p0.serving);
    cr_assert_not(p1.serving);
    cr_assert_eq(p0.epoch, 2, "be1 did not take a new epoch at start");
    /* role events: SRRECOVERCMPL (6) and SRPRIMARY (1) on be1, SRSECONDARY (3) on be2; one copy
     * per server process */
    cr_assert_eq(W.be[0].evt[6], 1);
    cr_assert_eq(W.be[0].evt[1], 1);
    cr_assert_eq(W.be[1].evt[3], 1);
    cr_assert_eq(W.be[1].evt[1], 0);
}

/* ---- tests ---------------------------------------------------------------------------------- */

Test(bkd_role, waits_for_the_bootstrap_then_resumes_in_a_new_epoch)
{
    advance(500);
    cr_assert_str_eq(info(0).state, "wt_quorum");
    cr_assert_str_eq(info(0).reason, "not_bootstrapped");
    tx(0, 1);
    cr_assert_eq(W.outcomes, 1, "a transaction was taken while waiting");
    cr_assert_eq(W.accepted, 0);
    up_and_running();
    tx(0, 2);
    advance(100);
    cr_assert_eq(W.accepted, 1);
    cr_assert_eq(W.last_csn, 1);
    cr_assert_eq(W.be[1].delivered, 1, "the secondary did not execute it");
}

Test(bkd_role, secondary_lost_primary_shrinks_to_remember_and_commits_alone)
{
    up_and_running();
    W.down[1] = true;
    link_state(false);
    tx(0, 1);
    settle(); /* no timer yet: still ACTIVE, the partner's ack is needed */
    cr_assert_eq(W.accepted, 0, "committed with one copy before the register said so");
    cr_assert_str_eq(info(0).state, "pri_act");
    advance(1000);
    bkd_part_info_t p0 = info(0);
    cr_assert_str_eq(p0.state, "remember", "%s (%s)", p0.state, p0.reason);
    cr_assert_eq(p0.epoch, 3);
    cr_assert_eq(W.accepted, 1);
    cr_assert_eq(p0.single_copy_commits, 1);
    cr_assert_eq(p0.single_copy_from, 1);
    cr_assert_eq(W.be[0].evt[4], 1, "no SRSHADOWLOST");
    tx(0, 2);
    advance(50);
    cr_assert_eq(W.accepted, 2);
    cr_assert_eq(info(0).single_copy_commits, 2);
}

Test(bkd_role, primary_lost_secondary_is_promoted_and_applies_its_backlog)
{
    up_and_running();
    for (uint64_t k = 1; k <= 5; k++)
        tx(0, k);
    advance(100);
    cr_assert_eq(W.accepted, 5);
    W.down[0] = true;
    link_state(false);
    advance(FAILT + 2000);
    bkd_part_info_t p1 = info(1);
    cr_assert_str_eq(p1.state, "remember", "%s (%s)", p1.state, p1.reason);
    cr_assert(p1.serving);
    cr_assert_geq(p1.epoch, 3);
    cr_assert_eq(p1.applied_n, 5, "the backlog was not applied");
    cr_assert_eq(W.be[1].delivered, 5);
    cr_assert_eq(W.be[1].evt[1], 1, "no SRPRIMARY after the promotion");
    cr_assert_eq(W.be[1].evt[4], 1, "no SRSHADOWLOST after the promotion");
    tx(1, 6);
    advance(100);
    cr_assert_eq(W.accepted, 6);
    cr_assert_eq(W.last_csn, 6, "a CSN was reused or skipped");
    /* epoch histories: be1 took epoch 2 at n = 1; be2 hardened epoch 2 from n = 1, then took
     * its own epoch from n = 6 */
    cr_assert_eq(W.be[0].nhist, 1);
    cr_assert_eq(W.be[0].hist_epoch[0], 2);
    cr_assert_eq(W.be[0].hist_first[0], 1);
    cr_assert_eq(W.be[1].nhist, 2);
    cr_assert_eq(W.be[1].hist_epoch[0], 2);
    cr_assert_eq(W.be[1].hist_first[0], 1);
    cr_assert_eq(W.be[1].hist_epoch[1], p1.epoch);
    cr_assert_eq(W.be[1].hist_first[1], 6);
}

Test(bkd_role, no_promotion_while_the_routers_see_the_primary)
{
    up_and_running();
    /* only the pair's link breaks: the primary keeps its lease, shrinks; no failover */
    link_state(false);
    advance(3000);
    cr_assert_str_eq(info(0).state, "remember", "%s (%s)", info(0).state, info(0).reason);
    cr_assert_str_neq(info(1).state, "remember");
    cr_assert_not(info(1).serving);
}

Test(bkd_role, a_paused_primary_is_fenced_when_it_wakes)
{
    up_and_running();
    W.paused[0] = true; /* SIGSTOP: no events, its clock stands still */
    link_state(false);
    advance(FAILT + 3000);
    cr_assert_str_eq(info(1).state, "remember", "%s (%s)", info(1).state, info(1).reason);
    /* SIGCONT with a transaction arriving at once: its lease ran out, it must not decide */
    W.paused[0] = false;
    link_state(true); /* the shadow link carries frames again: both see each other */
    tx(0, 1);
    bkd_core_timer(W.be[0].c, W.now, W.now + 1000000);
    be_drain(0);
    settle();
    cr_assert_eq(W.accepted, 0, "the old primary decided after the new one took over");
    advance(200);
    bkd_part_info_t p0 = info(0);
    cr_assert_not(p0.serving);
    cr_assert_eq(W.accepted, 0);
    bkd_core_counters_t ctr;
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_eq(ctr.fenced, 1);
    /* it rejoins as a member: handshake, its undecided record above the agreed point is cut,
     * it catches up, ADD puts it back in the in-sync set */
    advance(2000);
    p0 = info(0);
    bkd_part_info_t p1 = info(1);
    cr_assert_str_eq(p0.state, "sec_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_str_eq(p1.state, "pri_act", "%s (%s)", p1.state, p1.reason);
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_eq(ctr.shadow_truncations, 1);
    tx(1, 2);
    advance(100);
    cr_assert_eq(W.accepted, 1);
    cr_assert_eq(W.be[0].delivered, 2, "the old primary did not execute the new commit");
}

/* The SIGSTOP case of scenario 4 with a decided transaction whose server had not finished it:
 * woken, the old primary replays it; its server had rolled it back, so it runs again under a
 * new CSN (the old record MOVED) - a move the promoted partner never saw: the partner
 * committed the record at its old CSN. On rejoining, the truncation to the agreed point cuts
 * the new record, so the move is undone and the member executes the transaction at its old
 * CSN, as the partner did. (Found by bank_shadow phase 4: the databases differed by one
 * transfer.) */
Test(bkd_role, a_move_the_promoted_partner_never_saw_is_undone_when_the_old_primary_rejoins)
{
    up_and_running();
    W.be[0].hold_outcomes = true; /* be1's server will not finish what it is told */
    tx(0, 1);
    settle();
    cr_assert_eq(W.accepted, 1);
    cr_assert_eq(W.be[0].db[1], 0);
    W.be[0].hold_outcomes = false;
    W.paused[0] = true;
    link_state(false);
    advance(FAILT + 3000);
    cr_assert_str_eq(info(1).state, "remember", "%s (%s)", info(1).state, info(1).reason);
    cr_assert_eq(W.be[1].db[1], 1, "the promoted partner did not commit the backlog");
    /* SIGCONT: the server's librtr, which lost its link meanwhile, announces its channels
     * again and rolled back what they held */
    W.paused[0] = false;
    open_channels(0);
    be_drain(0);
    bkd_core_counters_t ctr;
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_eq(ctr.moved, 1, "the replay did not run under a new CSN");
    cr_assert_not_null(W.be[0].jr[1]);
    cr_assert_eq(W.be[0].jr[1]->state, RTR__TX_STATE__TX_MOVED);
    link_state(true);
    advance(3000);
    bkd_part_info_t p0 = info(0);
    cr_assert_str_eq(p0.state, "sec_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_eq(W.be[0].db[1], 1, "the old primary's database lacks the committed transfer");
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_eq(ctr.unmoved, 1);
    cr_assert_eq(W.be[0].jr[1]->state, RTR__TX_STATE__TX_DONE, "record 1 is %d",
                 W.be[0].jr[1]->state);
    cr_assert_eq(W.accepted, 1);
    tx(1, 2);
    advance(100);
    cr_assert_eq(W.accepted, 2);
    cr_assert_eq(W.be[0].db[2], 1);
    cr_assert_eq(W.be[1].db[2], 1);
}

static void restart(int b);

/* A RegLearn can be lost; the routers' heartbeats carry the register version, and a backend
 * that sees a newer one READs the value. */
Test(bkd_role, a_backend_that_missed_a_learn_reads_when_a_heartbeat_shows_a_newer_version)
{
    up_and_running();
    W.drop_learn[1] = true;
    restart(0); /* be1 resumes in a new epoch: a change be2 takes no part in */
    link_state(true);
    advance(2000);
    cr_assert_str_eq(info(0).state, "pri_act", "%s (%s)", info(0).state, info(0).reason);
    uint64_t v = rtd_reg_value(W.r[0])->version;
    cr_assert_lt(info(1).reg_version, v, "be2 learned the change although its learns were lost");
    bkd_core_counters_t ctr;
    bkd_core_counters(W.be[1].c, &ctr);
    uint64_t behind0 = ctr.reg_behind;
    bkd_core_register_version(W.be[1].c, v); /* a router's heartbeat */
    be_drain(1);
    settle();
    cr_assert_eq(info(1).reg_version, v);
    bkd_core_counters(W.be[1].c, &ctr);
    cr_assert_eq(ctr.reg_behind, behind0 + 1);
    /* the same version again: nothing to read */
    bkd_core_register_version(W.be[1].c, v);
    be_drain(1);
    bkd_core_counters(W.be[1].c, &ctr);
    cr_assert_eq(ctr.reg_behind, behind0 + 1);
}

/* T11 for a partner that is up but does not ack (its journal stuck): after shadow_lag_ms the
 * primary shrinks it out and commits alone; the waiting transaction is decided then. (The
 * member, still up, then handshakes again: its hello says what it hardened, so it may be
 * added back at once.) */
Test(bkd_role, a_secondary_whose_acks_lag_is_shrunk_out)
{
    up_and_running();
    uint64_t e0 = info(0).epoch;
    W.drop_acks = true;
    tx(0, 1);
    advance(FAILT / 2);
    cr_assert_eq(W.accepted, 0, "decided without the partner's ack");
    cr_assert_str_eq(info(0).state, "pri_act");
    cr_assert(info(0).partner_up, "the partner looks lost: this tests lag, not loss");
    advance(FAILT + 500);
    bkd_part_info_t p0 = info(0);
    cr_assert(p0.partner_up);
    cr_assert_eq(W.accepted, 1, "the lagging partner was not shrunk out");
    bkd_core_counters_t ctr;
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_eq(ctr.single_copy_commits, 1, "not decided alone after a SHRINK");
    cr_assert_gt(p0.epoch, e0);
}

/* T17: a catching-up partner whose acks stop is dropped after catchup_lag_ms (its stream ends,
 * nothing waits for it); once it acks again it is told to handshake again, catches up and is
 * added. */
Test(bkd_role, a_catching_up_partner_whose_acks_stop_is_dropped_then_starts_over)
{
    up_and_running();
    W.down[1] = true;
    link_state(false);
    advance(1500);
    cr_assert_str_eq(info(0).state, "remember");
    for (uint64_t k = 1; k <= 5; k++)
        tx(0, k);
    advance(100);
    W.drop_acks = true;
    restart(1);
    link_state(true);
    advance(FAILT + 1000);
    bkd_core_counters_t ctr;
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_eq(ctr.catchup_dropped, 1, "dropped %llu times",
                 (unsigned long long)ctr.catchup_dropped);
    cr_assert_str_eq(info(0).state, "remember");
    tx(0, 6);
    advance(100);
    cr_assert_eq(W.accepted, 6, "the primary waited for the dropped partner");
    W.drop_acks = false;
    advance(3000);
    bkd_part_info_t p0 = info(0), p1 = info(1);
    cr_assert_str_eq(p0.state, "pri_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_str_eq(p1.state, "sec_act", "%s (%s)", p1.state, p1.reason);
    cr_assert_eq(p1.applied_n, 6);
}

/* A secondary whose server computes another result diverges (digest mismatch): it goes OUT,
 * the primary shrinks it out and commits alone - and does not take it back while its database
 * differs (it did so every heartbeat once: found by scenario 7). */
Test(bkd_role, a_diverged_secondary_stays_out)
{
    up_and_running();
    W.be[1].diverge_at = 2;
    for (uint64_t k = 1; k <= 3; k++)
        tx(0, k);
    advance(FAILT + 1000);
    bkd_part_info_t p0 = info(0), p1 = info(1);
    cr_assert_str_eq(p1.state, "shd_out", "%s (%s)", p1.state, p1.reason);
    cr_assert_str_eq(p0.state, "remember", "%s (%s)", p0.state, p0.reason);
    uint64_t e = p0.epoch;
    tx(0, 4);
    advance(3000);
    p0 = info(0);
    cr_assert_str_eq(p0.state, "remember", "the diverged member was taken back: %s", p0.state);
    cr_assert_eq(p0.epoch, e, "epoch %llu -> %llu: the register churns", (unsigned long long)e,
                 (unsigned long long)p0.epoch);
    cr_assert_eq(W.accepted, 4);
    cr_assert_eq(W.be[1].db[2], 0, "the diverged execution was committed on the member");
}

/* A member that learns a newer epoch persists it as the highest epoch seen, before any record
 * of that epoch reaches it. */
Test(bkd_role, a_learned_epoch_is_persisted_as_the_highest_seen)
{
    up_and_running();
    restart(0); /* be1 resumes in a new epoch */
    link_state(true);
    advance(2000);
    bkd_part_info_t p0 = info(0);
    cr_assert_str_eq(p0.state, "pri_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_gt(p0.epoch, 2);
    cr_assert_not_null(W.be[1].jmeta);
    cr_assert(W.be[1].jmeta->has_highest_epoch_seen);
    cr_assert_geq(W.be[1].jmeta->highest_epoch_seen, p0.epoch,
                  "be2 persisted %llu as the highest epoch seen, the register names %llu",
                  (unsigned long long)W.be[1].jmeta->highest_epoch_seen,
                  (unsigned long long)p0.epoch);
}

Test(bkd_role_deny, a_deny_partition_stalls_then_refuses_new_work, .init = setup_deny,
     .fini = teardown)
{
    up_and_running();
    W.down[1] = true;
    link_state(false);
    tx(0, 1);
    advance(1500);
    bkd_part_info_t p0 = info(0);
    cr_assert_str_eq(p0.state, "pri_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_str_eq(p0.reason, "stalled: remember = deny");
    cr_assert_eq(W.accepted, 0, "remember = deny committed with one copy");
    cr_assert_eq(W.outcomes, 0);
    advance(2 * FAILT); /* deny_reject_ms: 2 x failure_timeout_ms */
    tx(0, 2);
    cr_assert_eq(W.outcomes, 1, "a new transaction was taken while stalled");
    cr_assert_eq(W.accepted, 0);
    bkd_core_counters_t ctr;
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_eq(ctr.tx_noshadow, 1);
    cr_assert_eq(ctr.single_copy_commits, 0);
}

/* restart - backend b comes back from its journal (a new process, a new incarnation). */
static void
restart(int b)
{
    if (getenv("RTR_PAIR_TRACE_TID"))
        fprintf(stderr, "TRACE t=%llu be%d restart\n", (unsigned long long)W.now, b + 1);
    bkd_core_free(&W.be[b].c);
    W.down[b] = false;
    W.paused[b] = false;
    be_new(b);
}

Test(bkd_role, a_lost_secondary_comes_back_catches_up_and_is_added)
{
    up_and_running();
    for (uint64_t k = 1; k <= 3; k++)
        tx(0, k);
    advance(100);
    cr_assert_eq(W.accepted, 3);
    W.down[1] = true;
    link_state(false);
    advance(1500);
    cr_assert_str_eq(info(0).state, "remember");
    for (uint64_t k = 4; k <= 8; k++)
        tx(0, k);
    advance(100);
    cr_assert_eq(W.accepted, 8);
    cr_assert_eq(info(0).single_copy_commits, 5);
    restart(1);
    link_state(true);
    advance(2000);
    bkd_part_info_t p0 = info(0), p1 = info(1);
    cr_assert_str_eq(p0.state, "pri_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_str_eq(p1.state, "sec_act", "%s (%s)", p1.state, p1.reason);
    cr_assert_eq(p1.applied_n, 8);
    cr_assert_eq(W.be[1].delivered, 8, "executed %u times", W.be[1].delivered);
    cr_assert_eq(W.be[0].evt[5], 1, "no SRSHADOWGAIN");
    tx(0, 9);
    advance(100);
    cr_assert_eq(W.accepted, 9);
    cr_assert_eq(W.last_csn, 9);
    cr_assert_eq(info(1).applied_n, 9);
}

Test(bkd_role, a_primary_restarted_within_the_timeout_resumes_in_a_new_epoch)
{
    up_and_running();
    for (uint64_t k = 1; k <= 3; k++)
        tx(0, k);
    advance(100);
    cr_assert_eq(W.accepted, 3);
    uint64_t e0 = info(0).epoch;
    restart(0); /* kill -9 and back at once: be2 never noticed */
    link_state(true);
    advance(2000);
    bkd_part_info_t p0 = info(0), p1 = info(1);
    cr_assert_str_eq(p0.state, "pri_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_str_eq(p1.state, "sec_act", "%s (%s)", p1.state, p1.reason);
    cr_assert_gt(p0.epoch, e0);
    tx(0, 4);
    advance(100);
    cr_assert_eq(W.accepted, 4);
    cr_assert_eq(W.last_csn, 4, "a CSN was reused or skipped");
    cr_assert_eq(info(1).applied_n, 4);
}

Test(bkd_role, a_returning_secondary_is_backfilled_from_the_journal)
{
    up_and_running();
    window_bytes = 1; /* restarted cores keep almost nothing in memory for an absent partner */
    restart(0);       /* be1 with the small window (a quick restart: it resumes) */
    link_state(true);
    advance(2000);
    cr_assert_str_eq(info(0).state, "pri_act", "%s (%s)", info(0).state, info(0).reason);
    W.down[1] = true;
    link_state(false);
    advance(1500);
    cr_assert_str_eq(info(0).state, "remember");
    for (uint64_t k = 1; k <= 12; k++)
        tx(0, k);
    advance(200);
    cr_assert_eq(W.accepted, 12);
    bkd_core_counters_t ctr;
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_gt(ctr.window_dropped, 0, "the window kept everything");
    /* show partition's progress while the partner is away: behind, not gaining */
    bkd_part_info_t p0 = info(0);
    cr_assert_geq(p0.behind, 12);
    cr_assert_eq(p0.catchup_rate, 0);
    cr_assert_eq(p0.eta_ms, -1);
    restart(1);
    link_state(true);
    advance(3000);
    p0 = info(0);
    bkd_part_info_t p1 = info(1);
    cr_assert_eq(p0.behind, 0);
    cr_assert_eq(p0.eta_ms, 0);
    cr_assert_gt(p0.catchup_rate, 0, "the catch-up's acks left no rate");
    cr_assert_str_eq(p0.state, "pri_act", "%s (%s)", p0.state, p0.reason);
    cr_assert_str_eq(p1.state, "sec_act", "%s (%s)", p1.state, p1.reason);
    cr_assert_eq(p1.applied_n, 12);
    bkd_core_counters(W.be[0].c, &ctr);
    cr_assert_gt(ctr.backfill_records, 0);
    cr_assert_gt(W.be[0].reads, 1, "one read was enough: catchup_window_bytes not honoured");
    tx(0, 13);
    advance(100);
    cr_assert_eq(W.accepted, 13);
    cr_assert_eq(info(1).applied_n, 13);
}

/* ---- seeded fault schedules (a first step towards tests/sim with backends) ------------------ */

static uint64_t fz_rng;

static uint64_t
fz_rand(void)
{
    uint64_t z = (fz_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool
fz_chance(uint32_t per_million)
{
    return fz_rand() % 1000000 < per_million;
}

static void
r_restart(int i)
{
    rtd_reg_cfg_t rc = { .register_timeout_ms = 300,
                         .failure_timeout_ms = FAILT,
                         .lease_ms = 2 * FAILT,
                         .lease_margin_ms = FAILT / 5,
                         .seed = 5 + (uint64_t)i };
    rtd_reg_free(&W.r[i]);
    npend[i] = 0;
    cr_assert_eq(
        rtd_reg_new(W.fac, &W.fac->routers[i], 200 + fz_rand() % 1000, &rc, W.stored[i], &W.r[i]),
        RTR_STS_OK);
    W.down[2 + i] = false;
    rtd_reg_start(W.r[i], W.now);
    r_drain(i);
}

/* fz_links - tell both backends what the shadow link looks like now. */
static void
fz_links(void)
{
    bool up = !W.link_cut && !W.down[0] && !W.down[1] && !W.paused[0] && !W.paused[1];
    link_state(up);
}

/* fz_check - the promises, checked after the run (and what can be checked on the way). */
static void
fz_check(uint64_t seed, bool quiesced)
{
    static uint64_t csn_owner[JMAX];
    memset(csn_owner, 0, sizeof(csn_owner));
    for (uint64_t k = 1; k < 4096; k++) {
        for (int b = 0; b < 2; b++)
            cr_assert_leq(W.be[b].db[k], 1, "seed %llu: TID %llu applied %u times on be%d",
                          (unsigned long long)seed, (unsigned long long)k, W.be[b].db[k], b + 1);
        uint64_t csn = W.acc_csn[k];
        if (csn == 0 || csn >= JMAX)
            continue;
        cr_assert(csn_owner[csn] == 0 || csn_owner[csn] == k,
                  "seed %llu: CSN %llu accepted for TIDs %llu and %llu", (unsigned long long)seed,
                  (unsigned long long)csn, (unsigned long long)csn_owner[csn],
                  (unsigned long long)k);
        csn_owner[csn] = k;
    }
    if (!quiesced)
        return;
    if (getenv("RTR_PAIR_DUMP") != NULL) /* both journals, to read a failing seed */
        for (uint64_t n = 1; n < JMAX; n++)
            for (int b = 0; b < 2; b++)
                if (W.be[b].jr[n] != NULL) {
                    cmn_tid_t t;
                    cmn_tid_unpack(W.be[b].jr[n]->tid.data, &t);
                    fprintf(stderr, "be%d n=%llu e=%llu tid=%llu state=%d moved_to=%llu\n", b + 1,
                            (unsigned long long)n, (unsigned long long)W.be[b].jr[n]->epoch,
                            (unsigned long long)t.counter, (int)W.be[b].jr[n]->state,
                            (unsigned long long)W.be[b].jr[n]->moved_to);
                }
    bkd_part_info_t p0 = info(0), p1 = info(1);
    int pri = p0.serving ? 0 : 1;
    bkd_part_info_t pp = pri == 0 ? p0 : p1, ps = pri == 0 ? p1 : p0;
    cr_assert(pp.serving && !ps.serving, "seed %llu: no single serving primary (%s/%s, %s/%s)",
              (unsigned long long)seed, p0.state, p0.reason, p1.state, p1.reason);
    cr_assert_str_eq(pp.state, "pri_act", "seed %llu: primary be%d %s (%s)",
                     (unsigned long long)seed, pri + 1, pp.state, pp.reason);
    cr_assert_str_eq(ps.state, "sec_act", "seed %llu: secondary be%d %s (%s)",
                     (unsigned long long)seed, 2 - pri, ps.state, ps.reason);
    cr_assert_eq(pp.applied_n, ps.applied_n, "seed %llu: applied %llu vs %llu",
                 (unsigned long long)seed, (unsigned long long)pp.applied_n,
                 (unsigned long long)ps.applied_n);
    for (uint64_t k = 1; k < 4096; k++) {
        /* every accepted transfer is in both databases once; both databases are equal */
        if (W.acc_csn[k] != 0)
            cr_assert(W.be[0].db[k] == 1 && W.be[1].db[k] == 1,
                      "seed %llu: accepted TID %llu applied %u/%u times", (unsigned long long)seed,
                      (unsigned long long)k, W.be[0].db[k], W.be[1].db[k]);
        cr_assert_eq(W.be[0].db[k], W.be[1].db[k], "seed %llu: TID %llu in one database only",
                     (unsigned long long)seed, (unsigned long long)k);
    }
    /* both journals hold the same record at every CSN both applied */
    for (uint64_t n = 1; n <= pp.applied_n && n < JMAX; n++) {
        const Rtr__JournalRecord *a = W.be[0].jr[n], *b = W.be[1].jr[n];
        cr_assert(a != NULL && b != NULL, "seed %llu: CSN %llu missing", (unsigned long long)seed,
                  (unsigned long long)n);
        cr_assert(a->epoch == b->epoch && memcmp(a->tid.data, b->tid.data, 16) == 0,
                  "seed %llu: CSN %llu differs between the journals", (unsigned long long)seed,
                  (unsigned long long)n);
    }
}

static void
fz_run(uint64_t seed)
{
    uint64_t restart_at[NN] = { 0 }, unpause_at[2] = { 0 }, relink_at = 0, reconnect_at[2] = { 0 };
    uint64_t counter = 0;

    fz_rng = seed * 0x2545F4914F6CDD1Dull + 1;
    up_and_running();
    uint64_t end = W.now + 12000;
    while (W.now < end) {
        /* faults: one backend and one router at most down at a time */
        if (fz_chance(1500) && !W.down[0] && !W.down[1] && !W.paused[0] && !W.paused[1]) {
            int b = (int)(fz_rand() % 2);
            W.down[b] = true;
            restart_at[b] = W.now + 10 + fz_rand() % 3000;
            fz_links();
        }
        if (fz_chance(1000) && !W.down[0] && !W.down[1] && !W.paused[0] && !W.paused[1]) {
            int b = (int)(fz_rand() % 2);
            W.paused[b] = true;
            unpause_at[b] = W.now + 500 + fz_rand() % 3000;
            fz_links();
        }
        if (fz_chance(1500)) {
            /* a server's link to its backend breaks: what it is told is lost until librtr
             * announces its channels again (and rolls back what they held) */
            int b = (int)(fz_rand() % 2);
            if (!W.be[b].hold_outcomes) {
                W.be[b].hold_outcomes = true;
                reconnect_at[b] = W.now + 50 + fz_rand() % 1500;
            }
        }
        for (int b = 0; b < 2; b++)
            if (W.be[b].hold_outcomes && W.now >= reconnect_at[b] && !W.down[b] && !W.paused[b]) {
                if (getenv("RTR_PAIR_TRACE_TID"))
                    fprintf(stderr, "TRACE t=%llu be%d reconnect\n", (unsigned long long)W.now,
                            b + 1);
                W.be[b].hold_outcomes = false;
                open_channels(b);
            }
        if (fz_chance(2000) && !W.link_cut) {
            W.link_cut = true;
            relink_at = W.now + 200 + fz_rand() % 3000;
            fz_links();
        }
        if (fz_chance(1000) && !W.down[2] && !W.down[3] && !W.down[4]) {
            int i = (int)(fz_rand() % NR);
            W.down[2 + i] = true;
            restart_at[2 + i] = W.now + 200 + fz_rand() % 2000;
        }
        for (int b = 0; b < 2; b++) {
            if (W.down[b] && W.now >= restart_at[b]) {
                restart(b);
                fz_links();
            }
            if (W.paused[b] && W.now >= unpause_at[b]) {
                W.paused[b] = false;
                fz_links();
            }
        }
        for (int i = 0; i < NR; i++)
            if (W.down[2 + i] && W.now >= restart_at[2 + i])
                r_restart(i);
        if (W.link_cut && W.now >= relink_at) {
            W.link_cut = false;
            fz_links();
        }
        /* load: a transaction now and then at whichever backend serves */
        if (fz_chance(300000) && counter < 4000) {
            for (int b = 0; b < 2; b++) {
                if (W.down[b] || W.paused[b])
                    continue;
                if (info(b).serving) {
                    tx(b, ++counter);
                    break;
                }
            }
        }
        advance(10);
        fz_check(seed, false);
    }
    /* quiesce: heal everything, restart what is down, let the pair settle */
    for (int b = 0; b < 2; b++) {
        if (W.down[b])
            restart(b);
        W.paused[b] = false;
        if (W.be[b].hold_outcomes) {
            W.be[b].hold_outcomes = false;
            open_channels(b);
        }
    }
    for (int i = 0; i < NR; i++)
        if (W.down[2 + i])
            r_restart(i);
    W.link_cut = false;
    fz_links();
    advance(10000);
    fz_check(seed, true);
}

Test(bkd_role, seeded_fault_schedules)
{
    const char *env = getenv("RTR_PAIR_SEEDS");
    const char *from = getenv("RTR_PAIR_FROM");
    uint64_t n = env != NULL ? strtoull(env, NULL, 10) : 30;
    uint64_t s0 = from != NULL ? strtoull(from, NULL, 10) : 1;
    for (uint64_t seed = s0; seed < s0 + n; seed++) {
        if (seed != s0) {
            teardown();
            setup();
        }
        fz_run(seed);
    }
}
