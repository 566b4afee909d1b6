/*
 * rtd_main.c - `rtr-router --config FILE --node NAME [--log FILE] [--log-level L]`.
 *
 * Start-up order: parse the command line, load the facility (no journal checks: a router has
 * none), find our router entry, open the log (role=router node=NAME), build the pure core; when
 * a partition is shadowed also open the acceptor store in routers[].state (locked: a second
 * process on it is refused) and build the register core from what it holds; bind the sockets,
 * run the loop until SIGTERM/SIGINT. A facility without shadowed partitions has no register:
 * no store, no register core, no router links. Exit 0 on a clean stop, 1 on bad arguments, a
 * bad config, a busy endpoint or a busy or unreadable store (with one clear line on stderr), 2
 * on a runtime failure (a store write that failed included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtd_impl.h"

/* What --help says after the usage line. */
static const char rtd_about[] =
    "The RTR router: routes each transaction by its key to the backend serving the key's\n"
    "partition and coordinates its commit (last-agent protocol). Keeps no durable state.\n"
    "With shadowed partitions it is also an acceptor of the facility register, stored in its\n"
    "state directory. SIGTERM or SIGINT stops it cleanly. Admin: rtrcli on the router's admin\n"
    "endpoint (show router | facility | partition | transaction [TID] | counters | register).";

/* rtd_load - load the facility and find this router; 0 or -1 with a message on stderr. */
static int
rtd_load(rtd_router_t *r, const cmn_daemon_args_t *a)
{
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_diag_t *diag = NULL;
    rtr_status_t sts = cmn_facility_load_ex(a->config, &lo, &r->fac, &diag);

    if (sts != RTR_STS_OK) {
        fprintf(stderr, "rtr-router: %s\n",
                diag && diag->error ? diag->error : rtr_error_text(sts));
        cmn_diag_free(&diag);
        return -1;
    }
    cmn_diag_free(&diag);
    r->self = cmn_facility_router(r->fac, a->node);
    if (r->self == NULL) {
        fprintf(stderr, "rtr-router: %s: no router named \"%s\" in facility %s\n", a->config,
                a->node, r->fac->name);
        return -1;
    }
    return 0;
}

/* rtd_shadowed - does the facility have a shadowed partition (and so a register)? */
static bool
rtd_shadowed(const cmn_facility_t *fac)
{
    for (size_t i = 0; i < fac->npartitions; i++)
        if (fac->partitions[i].secondary != NULL)
            return true;
    return false;
}

/* rtd_reg_open - open the acceptor store and build the register core from it. 0, or -1 with
 * a message on stderr (the store says why it failed). */
static int
rtd_reg_open(rtd_router_t *r)
{
    const cmn_settings_t *st = &r->fac->settings;
    Rtr__AcceptorState *stored = NULL;
    rtd_reg_cfg_t cfg;
    rtr_status_t sts;

    if (r->self->state == NULL) { /* the loader requires it; never trust that twice */
        fprintf(stderr, "rtr-router: router %s has no state directory (routers[].state)\n",
                r->self->name);
        return -1;
    }
    if (rtd_store_open(r->self->state, &r->store) != RTR_STS_OK)
        return -1;
    if ((sts = rtd_store_load(r->store, &stored)) != RTR_STS_OK) {
        fprintf(stderr, "rtr-router: cannot read the acceptor store in %s: %s\n", r->self->state,
                rtr_error_text(sts));
        return -1;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.register_timeout_ms = (uint64_t)st->register_timeout_ms;
    cfg.failure_timeout_ms = (uint64_t)st->failure_timeout_ms;
    cfg.lease_ms = (uint64_t)st->lease_ms;
    cfg.lease_margin_ms = (uint64_t)st->lease_margin_ms;
    cfg.seed = r->incarnation;
    sts = rtd_reg_new(r->fac, r->self, r->incarnation, &cfg, stored, &r->reg);
    wire_free((ProtobufCMessage **)&stored);
    if (sts != RTR_STS_OK) {
        fprintf(stderr, "rtr-router: the acceptor store in %s is refused: %s (see the log)\n",
                r->self->state, rtr_error_text(sts));
        return -1;
    }
    RTR_LOG(CMN_LOG_NOTICE, "RTD-REG-OPEN", "state=%s mode=%s", r->self->state,
            rtd_reg_mode_name(rtd_reg_mode(r->reg)));
    return 0;
}

int
main(int argc, char **argv)
{
    rtd_router_t r;
    cmn_daemon_args_t a;
    cmn_log_level_t level;
    rtr_status_t sts;
    int rc = 1;

    memset(&r, 0, sizeof r);
    r.sigfd = -1;
    switch (cmn_daemon_args("rtr-router", rtd_about, argc, argv, &a)) {
    case CMN_DAEMON_ARGS_RUN:
        break;
    case CMN_DAEMON_ARGS_HELP:
        return 0;
    default:
        return 1;
    }
    if (rtd_load(&r, &a) != 0)
        goto out;
    level = r.fac->settings.log_level;
    if (a.level != NULL && cmn_log_level_parse(a.level, &level) != RTR_STS_OK) {
        fprintf(stderr, "rtr-router: bad --log-level \"%s\"\n", a.level);
        goto out;
    }
    if (cmn_log_open(a.log, level, "router", r.self->name) != RTR_STS_OK)
        goto out;
    if (cmn_incarnation_new(&r.incarnation) != RTR_STS_OK ||
        rtd_core_new(r.fac, r.self, r.incarnation, (uint64_t)r.fac->settings.failure_timeout_ms,
                     &r.core) != RTR_STS_OK) {
        fprintf(stderr, "rtr-router: cannot initialize (out of memory or no entropy)\n");
        goto out;
    }
    if (rtd_shadowed(r.fac) && rtd_reg_open(&r) != 0)
        goto out;
    sts = rtd_net_open(&r);
    if (sts != RTR_STS_OK)
        goto out;
    r.started_ms = rtd_now_ms();
    rtd_reg_shell_start(&r);
    RTR_LOG(CMN_LOG_NOTICE, "RTD-START",
            "facility=%s clients=%s peers=%s admin=%s incarnation=%016llx", r.fac->name,
            r.self->clients, r.self->peers, r.self->admin, (unsigned long long)r.incarnation);
    sts = rtd_net_run(&r);
    rc = sts == RTR_STS_OK ? 0 : 2;
    RTR_LOG(CMN_LOG_NOTICE, "RTD-EXIT", "sts=%s", rtr_status_name(sts));
out:
    rtd_net_close(&r);
    rtd_reg_free(&r.reg);
    rtd_store_close(&r.store);
    rtd_core_free(&r.core);
    cmn_facility_free(&r.fac);
    return rc;
}
