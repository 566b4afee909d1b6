/*
 * bkd_main.c - rtr-backend: start-up, the event loop, clean stop.
 *
 *   rtr-backend --config FILE --node NAME [--log FILE] [--log-level L]
 *
 * Start-up order matters: the facility is validated first (exit 1 with the file:line message),
 * then the journal is opened (a journal held by another process -> exit 1: two backends on one
 * journal would assign the same CSNs), the served partitions' epochs and last CSNs are read and
 * their records loaded into the core, and only then are the endpoints bound, so no frame is
 * taken before the core knows what it already decided.
 *
 * The loop is one thread: zmq_poll over the servers ROUTER, one DEALER per router, the admin
 * ROUTER, the shadow ROUTER (when this backend has a shadow partner), the journal's eventfd and
 * a signalfd (SIGTERM/SIGINT = clean stop). After every event the core's queued actions are
 * executed at once (bkd_net_run_actions); once per round, after every event of the round and
 * before zmq_poll blocks again, bkd_net_flush sends what the round gave the shadow pipes (one
 * RecordBatch per partner with the records the journal admitted, the member's acks): the local
 * fsync and the partner's run in parallel, and batching needs no timer (shadow-protocol §3.1).
 *
 * Roles: a backend serves every partition whose config primary it is (BKD_ROLE_PRIMARY when
 * the partition has a secondary, else BKD_ROLE_SOLE) and every partition whose config
 * secondary it is (BKD_ROLE_MEMBER). The roles are static from the config for now: the
 * facility register on the routers drives them in a later milestone (shadow-protocol §5).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "bkd_daemon_impl.h"

/* What --help says after the usage line. */
static const char bkd_about[] =
    "The RTR backend: serves the partitions whose primary is NODE, and shadows those whose\n"
    "secondary is NODE. Delivers transactions to the local server applications, hardens commit\n"
    "decisions in its journal (and its shadow partner's), replays the transactions of a server\n"
    "that died. SIGTERM or SIGINT stops it cleanly. Admin: rtrcli on\n"
    "its admin endpoint. Exit status: 0 clean stop, 1 bad command line, bad config or busy\n"
    "journal/endpoint, 3 journal failure (fail over).";

/* bkd_mkdir_parents - create the missing parents of dir with mode 0700 (the journal itself is
 * created by jrn_open). */
static rtr_status_t
bkd_mkdir_parents(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);

    if (n >= sizeof(path))
        return RTR_STS_INVARG;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            RTR_LOG(CMN_LOG_CRIT, "BKD-MKDIR", "dir=%s err=\"%s\"", path, strerror(errno));
            return RTR_STS_IOERR;
        }
        *p = '/';
    }
    return RTR_STS_OK;
}

typedef struct {
    bkd_core_t *core;
    uint32_t core_part;
    rtr_status_t sts;
    uint64_t loaded;
} bkd_load_t;

static int
bkd_load_one(void *arg, const jrn_entry_t *e)
{
    bkd_load_t *l = arg;
    l->sts = bkd_core_load_record(l->core, l->core_part, e->rec);
    l->loaded++;
    return l->sts != RTR_STS_OK;
}

/* bkd_epoch - the partition's epoch from the journal's meta; written as 1 at first start, with
 * the first entry of the epoch history (epoch 1 from CSN 1). */
static rtr_status_t
bkd_epoch(jrn_t *j, uint32_t id, uint64_t *epoch)
{
    Rtr__JournalMeta *m = NULL;
    rtr_status_t sts = jrn_meta_get(j, id, (Rtr__JournalMeta **)&m);
    jrn_batch_t *bt = NULL;
    uint64_t ticket;

    if (sts != RTR_STS_OK)
        return sts;
    if (m->has_epoch && m->epoch != 0) {
        *epoch = m->epoch;
        goto out;
    }
    m->has_epoch = 1;
    m->epoch = 1;
    *epoch = 1;
    if (m->n_history == 0) { /* the epoch history starts here: epoch 1 from CSN 1 (DESIGN §6) */
        Rtr__EpochStart *es = malloc(sizeof(*es));
        Rtr__EpochStart **h = malloc(sizeof(*h));
        if (es == NULL || h == NULL) { /* freed with m by protobuf-c's default allocator */
            free(es);
            free(h);
            sts = RTR_STS_NOMEM;
            goto out;
        }
        rtr__epoch_start__init(es);
        es->epoch = 1;
        es->first_n = 1;
        h[0] = es;
        free(m->history);
        m->history = h;
        m->n_history = 1;
    }
    bt = jrn_batch_new();
    sts = bt == NULL ? RTR_STS_NOMEM : jrn_batch_put_meta(bt, m);
    if (sts == RTR_STS_OK)
        sts = jrn_submit(j, &bt, &ticket);
    if (sts == RTR_STS_OK)
        sts = jrn_wait(j, ticket);
out:
    jrn_batch_free(&bt);
    wire_free((ProtobufCMessage **)&m);
    return sts;
}

/* bkd_part_role - this backend's role in partition p and its partner (NULL when sole), or
 * false when it serves no part of p. Static from the config: the facility register drives the
 * roles in a later milestone. */
static bool
bkd_part_role(const bkd_backend_t *b, const cmn_partition_t *p, bkd_role_t *role,
              const cmn_backend_t **partner)
{
    if (p->primary == b->me) {
        *role = p->secondary != NULL ? BKD_ROLE_PRIMARY : BKD_ROLE_SOLE;
        *partner = p->secondary;
        return true;
    }
    if (p->secondary == b->me) {
        *role = BKD_ROLE_MEMBER;
        *partner = p->primary;
        return true;
    }
    return false;
}

/* bkd_open_journal - open the journal, find the served partitions, build and load the core. */
static rtr_status_t
bkd_open_journal(bkd_backend_t *b)
{
    jrn_options_t jo;
    bkd_part_cfg_t *pc = NULL;
    Rtr__JournalMeta **metas = NULL;
    const char **rnames = NULL;
    bkd_core_cfg_t cc;
    rtr_status_t sts;
    bool shadowed = false;

    if (bkd_mkdir_parents(b->me->journal) != RTR_STS_OK)
        return RTR_STS_IOERR;
    memset(&jo, 0, sizeof(jo));
    jo.dir = b->me->journal;
    jo.node = b->me->name;
    jo.max_bytes = (uint64_t)b->fac->settings.journal_max_mb << 20;
    jo.reserve_bytes = jo.max_bytes / 10;
    sts = jrn_open(&jo, &b->jrn);
    if (sts != RTR_STS_OK)
        return sts;
    b->parts = calloc(b->fac->npartitions ? b->fac->npartitions : 1, sizeof(*b->parts));
    b->part_ids = calloc(b->fac->npartitions ? b->fac->npartitions : 1, sizeof(*b->part_ids));
    b->roles = calloc(b->fac->npartitions ? b->fac->npartitions : 1, sizeof(*b->roles));
    pc = calloc(b->fac->npartitions ? b->fac->npartitions : 1, sizeof(*pc));
    metas = calloc(b->fac->npartitions ? b->fac->npartitions : 1, sizeof(*metas));
    rnames = calloc(b->fac->nrouters ? b->fac->nrouters : 1, sizeof(*rnames));
    if (b->parts == NULL || b->part_ids == NULL || b->roles == NULL || pc == NULL ||
        metas == NULL || rnames == NULL) {
        sts = RTR_STS_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < b->fac->npartitions; i++) {
        const cmn_partition_t *p = &b->fac->partitions[i];
        const cmn_backend_t *partner = NULL;
        size_t k = b->nparts;
        if (!bkd_part_role(b, p, &b->roles[k], &partner))
            continue;
        b->parts[k] = p;
        pc[k].role = b->roles[k];
        pc[k].partner = partner != NULL ? partner->name : NULL;
        sts = jrn_partition(b->jrn, p->name, &b->part_ids[k]);
        if (sts == RTR_STS_OK)
            sts = bkd_epoch(b->jrn, b->part_ids[k], &pc[k].epoch);
        if (sts == RTR_STS_OK)
            sts = jrn_last_n(b->jrn, b->part_ids[k], &pc[k].last_n);
        if (sts != RTR_STS_OK)
            goto fail;
        if (b->roles[k] != BKD_ROLE_SOLE) {
            /* the epoch history and fencing state the core keeps for a shadowed partition */
            shadowed = true;
            sts = jrn_meta_get(b->jrn, b->part_ids[k], &metas[k]);
            if (sts != RTR_STS_OK)
                goto fail;
            pc[k].meta = metas[k];
            pc[k].remember_deny = p->remember == CMN_REMEMBER_DENY;
        }
        pc[k].name = p->name;
        pc[k].low = p->low.bytes;
        pc[k].high = p->high.bytes;
        pc[k].concurrent = p->concurrent;
        b->nparts++;
    }
    if (b->nparts == 0) {
        fprintf(stderr, "rtr-backend: node %s is the primary or secondary of no partition in %s\n",
                b->me->name, b->fac->path);
        sts = RTR_STS_CONFIG;
        goto fail;
    }
    memset(&cc, 0, sizeof(cc));
    cc.node = b->me->name;
    cc.incarnation = b->incarnation;
    cc.keylen = b->fac->keylen;
    cc.nparts = b->nparts;
    cc.parts = pc;
    cc.replay_limit = (uint32_t)b->fac->settings.replay_limit;
    cc.resend_ms = (uint32_t)(b->fac->settings.heartbeat_ms * 2);
    cc.max_frame = bkd_max_frame(b); /* RecordBatch frames stay under every socket's limit */
    if (shadowed) {
        /* the facility register on the routers drives the roles (docs/shadow-protocol.md §5) */
        const cmn_settings_t *st = &b->fac->settings;
        for (size_t r = 0; r < b->fac->nrouters; r++)
            rnames[r] = b->fac->routers[r].name;
        cc.nrouters = b->fac->nrouters;
        cc.routers = rnames;
        cc.heartbeat_ms = (uint32_t)st->heartbeat_ms;
        cc.failure_timeout_ms = (uint32_t)st->failure_timeout_ms;
        cc.lease_ms = (uint32_t)st->lease_ms;
        cc.lease_margin_ms = (uint32_t)st->lease_margin_ms;
        cc.shadow_lag_ms = (uint32_t)st->shadow_lag_ms;
        cc.catchup_lag_ms = (uint32_t)st->catchup_lag_ms;
        cc.register_timeout_ms = (uint32_t)st->register_timeout_ms;
        cc.deny_reject_ms = (uint32_t)st->deny_reject_ms;
        cc.shadow_window_bytes = (uint64_t)st->shadow_window_bytes;
        cc.catchup_window_bytes = (uint64_t)st->catchup_window_bytes;
    }
    sts = bkd_core_new(&cc, &b->core);
    bkd_core_timer(b->core, cmn_now_mono_ns() / 1000000u, cmn_now_wall_ms());
    for (size_t k = 0; sts == RTR_STS_OK && k < b->nparts; k++) {
        bkd_load_t l = { b->core, (uint32_t)k, RTR_STS_OK, 0 };
        sts = jrn_scan(b->jrn, b->part_ids[k], 1, UINT64_MAX, bkd_load_one, &l);
        if (sts == RTR_STS_OK)
            sts = l.sts;
        RTR_LOG(CMN_LOG_NOTICE, "BKD-PARTITION",
                "partition=%s role=%s partner=%s epoch=%" PRIu64 " last_csn=%" PRIu64
                " records=%" PRIu64,
                pc[k].name, bkd_role_name(pc[k].role), pc[k].partner ? pc[k].partner : "-",
                pc[k].epoch ? pc[k].epoch : 1, pc[k].last_n, l.loaded);
    }
fail:
    for (size_t k = 0; metas != NULL && k < b->fac->npartitions; k++)
        wire_free((ProtobufCMessage **)&metas[k]);
    free(metas);
    free(rnames);
    free(pc);
    return sts;
}

static void
bkd_loop(bkd_backend_t *b)
{
    size_t ir = b->shadow != NULL ? 4 : 3; /* the routers' items start here */
    size_t n = ir + b->nrouters;
    zmq_pollitem_t *it = calloc(n, sizeof(*it));
    int64_t hb = b->fac->settings.heartbeat_ms;

    RTR_ASSERT(it != NULL);
    it[0] = (zmq_pollitem_t){ b->servers, 0, ZMQ_POLLIN, 0 };
    it[1] = (zmq_pollitem_t){ b->admin, 0, ZMQ_POLLIN, 0 };
    it[2] = (zmq_pollitem_t){ NULL, jrn_fd(b->jrn), ZMQ_POLLIN, 0 };
    if (b->shadow != NULL)
        it[3] = (zmq_pollitem_t){ b->shadow, 0, ZMQ_POLLIN, 0 };
    for (size_t i = 0; i < b->nrouters; i++)
        it[ir + i] = (zmq_pollitem_t){ b->routers[i].sock, 0, ZMQ_POLLIN, 0 };
    b->core_deadline_ms = UINT64_MAX;
    b->next_hb_ms = 0; /* BackendHello at once, on connect */
    while (!b->stop) {
        uint64_t now = cmn_now_mono_ns() / 1000000u;
        uint64_t wake = b->next_hb_ms < b->core_deadline_ms ? b->next_hb_ms : b->core_deadline_ms;
        long timeout = wake <= now ? 0 : (long)(wake - now);
        struct signalfd_siginfo si;
        zmq_pollitem_t sig = { NULL, b->sigfd, ZMQ_POLLIN, 0 };
        int rc;

        if (now >= b->next_hb_ms) {
            b->next_hb_ms = now + (uint64_t)hb;
            bkd_net_heartbeat(b, now);
        }
        /* The core's clock is kept fresh for its resend stamps; its timers (an O(n) sweep)
         * run when it asked for them or once per heartbeat. */
        bkd_core_clock(b->core, now, cmn_now_wall_ms());
        if (now >= b->core_deadline_ms || now >= b->last_tick_ms + (uint64_t)hb) {
            b->core_deadline_ms = UINT64_MAX;
            b->last_tick_ms = now;
            bkd_core_timer(b->core, now, cmn_now_wall_ms());
            bkd_net_run_actions(b);
        }
        if (timeout > hb)
            timeout = (long)hb;
        /* the end of the round: everything the events, timers and heartbeats above queued
         * for the shadow partners goes out before we block */
        bkd_net_flush(b);
        rc = zmq_poll(it, (int)n, timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            RTR_LOG(CMN_LOG_CRIT, "BKD-POLL", "err=\"%s\"", zmq_strerror(zmq_errno()));
            b->exit_code = 2;
            break;
        }
        if (zmq_poll(&sig, 1, 0) > 0 && read(b->sigfd, &si, sizeof(si)) == sizeof(si)) {
            RTR_LOG(CMN_LOG_NOTICE, "BKD-STOP", "signal=%u", si.ssi_signo);
            b->stop = true;
            break;
        }
        b->polled_ms = cmn_now_mono_ns() / 1000000u;
        if (rc <= 0)
            continue;
        if (it[2].revents & ZMQ_POLLIN)
            bkd_net_journal_in(b);
        if (it[0].revents & ZMQ_POLLIN)
            bkd_net_servers_in(b);
        if (b->shadow != NULL && (it[3].revents & ZMQ_POLLIN))
            bkd_net_shadow_in(b);
        for (size_t i = 0; i < b->nrouters; i++)
            if (it[ir + i].revents & ZMQ_POLLIN)
                bkd_net_router_in(b, &b->routers[i]);
        if (it[1].revents & ZMQ_POLLIN)
            bkd_admin_in(b);
        bkd_net_run_actions(b);
    }
    free(it);
}

static int
bkd_setup_signals(bkd_backend_t *b)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    b->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return b->sigfd < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
    cmn_daemon_args_t a;
    bkd_backend_t b;
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NODE, NULL };
    cmn_log_level_t level;
    rtr_status_t sts;
    int rc;

    switch (cmn_daemon_args("rtr-backend", bkd_about, argc, argv, &a)) {
    case CMN_DAEMON_ARGS_RUN:
        break;
    case CMN_DAEMON_ARGS_HELP:
        return 0;
    default:
        return 1;
    }
    memset(&b, 0, sizeof(b));
    b.sigfd = -1;
    lo.node = a.node;
    sts = cmn_facility_load_ex(a.config, &lo, &fac, &diag);
    if (sts != RTR_STS_OK) {
        fprintf(stderr, "rtr-backend: %s\n",
                diag && diag->error ? diag->error : rtr_error_text(sts));
        cmn_diag_free(&diag);
        return 1;
    }
    cmn_diag_free(&diag);
    b.fac = fac;
    b.me = cmn_facility_backend(fac, a.node);
    level = fac->settings.log_level;
    if (b.me == NULL || (a.level && cmn_log_level_parse(a.level, &level) != RTR_STS_OK)) {
        fprintf(stderr, "rtr-backend: %s\n",
                b.me == NULL ? "--node is not a backend of the facility" : "bad --log-level");
        rc = 1;
        goto out;
    }
    if (cmn_log_open(a.log, level, "backend", b.me->name) != RTR_STS_OK) {
        fprintf(stderr, "rtr-backend: cannot open log file %s\n", a.log);
        rc = 1;
        goto out;
    }
    if (cmn_incarnation_new(&b.incarnation) != RTR_STS_OK || bkd_setup_signals(&b) != 0) {
        fprintf(stderr, "rtr-backend: start-up failed (incarnation or signals)\n");
        rc = 1;
        goto out;
    }
    b.started_ms = cmn_now_wall_ms();
    sts = bkd_open_journal(&b);
    if (sts != RTR_STS_OK) {
        fprintf(stderr, "rtr-backend: journal %s: %s%s\n", b.me->journal, rtr_error_text(sts),
                sts == RTR_STS_BUSY ? " (another rtr-backend holds it)" : "");
        rc = 1;
        goto out;
    }
    sts = bkd_net_open(&b);
    if (sts != RTR_STS_OK) {
        fprintf(stderr, "rtr-backend: endpoints: %s%s\n", rtr_error_text(sts),
                sts == RTR_STS_BUSY ? " (address in use)" : "");
        rc = 1;
        goto out;
    }
    RTR_LOG(CMN_LOG_NOTICE, "BKD-START",
            "incarnation=%016" PRIx64 " partitions=%zu servers=%s admin=%s journal=%s",
            b.incarnation, b.nparts, b.me->servers, b.me->admin, b.me->journal);
    bkd_loop(&b);
    rc = b.exit_code;
    RTR_LOG(rc == 0 ? CMN_LOG_NOTICE : CMN_LOG_CRIT, "BKD-EXIT", "status=%d", rc);
out:
    bkd_net_close(&b);
    bkd_core_free(&b.core);
    jrn_close(&b.jrn);
    free(b.pend);
    free(b.peers);
    free(b.parts);
    free(b.part_ids);
    free(b.roles);
    if (b.sigfd >= 0)
        close(b.sigfd);
    cmn_facility_free(&fac);
    return rc;
}
