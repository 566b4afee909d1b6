/*
 * cli_register.c - `rtrcli bootstrap facility [--config FILE] [--timeout MS] [--yes] [--json]`:
 * write the first value of the facility register (docs/shadow-protocol.md §5.7).
 *
 * Order of work, and why:
 *   1. every router is asked "show register": each must answer (a router that is down could
 *      hold a value we would overwrite in its absence) and none may hold state (has_state, or a
 *      learned version): a register is bootstrapped once, never again.
 *   2. every backend that is primary or secondary of a shadowed partition is asked "show meta"
 *      (its journal's epochs and extent); one that does not answer stops the bootstrap, named:
 *      without its history the primary could be chosen wrong.
 *   3. per shadowed partition: epoch = 1 + the highest epoch any member has seen (meta epoch,
 *      highest_epoch_seen, epoch history); primary = the member whose journal is ahead (epoch of
 *      its last record, then its last CSN), the config's primary on a tie; in_sync = the primary
 *      plus the other member only if their journals are identical in extent (same last CSN with
 *      the same epoch there; both fresh counts); partner = the other member. facility_uuid: 16
 *      bytes from /dev/urandom.
 *   4. the value is printed and, unless --yes, confirmed ("Proceed? [y/N]").
 *   5. RegChange{BOOTSTRAP} goes to the routers in config order until one answers: OK is the
 *      committed value; EXISTS carrying our own uuid means an earlier attempt (timed out here)
 *      committed it; EXISTS with another uuid means somebody else bootstrapped meanwhile.
 *
 * Exit status: 0 committed, 1 refused / cancelled / no router could commit it, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmn.h"
#include "tool.h"
#include "tool_admin.h"

#define CLI_BOOT_PROG "rtrcli: bootstrap facility"

/* ---- the value -------------------------------------------------------------------------- */

/* cli_value_free - free a value built by cli_value_build (malloc'ed like protobuf-c's). */
static void
cli_value_free(Rtr__RegisterValue **vp)
{
    if (vp != NULL && *vp != NULL) {
        rtr__register_value__free_unpacked(*vp, NULL);
        *vp = NULL;
    }
}

static char *
cli_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* cli_value_json - a register value as JSON (new reference). */
static json_t *
cli_value_json(const Rtr__RegisterValue *v)
{
    json_t *o = json_object(), *parts = json_array();
    char uuid[33];

    for (size_t i = 0; i < v->facility_uuid.len && i < 16; i++)
        snprintf(uuid + 2 * i, 3, "%02x", v->facility_uuid.data[i]);
    uuid[2 * (v->facility_uuid.len < 16 ? v->facility_uuid.len : 16)] = '\0';
    json_object_set_new(o, "version", json_integer((json_int_t)v->version));
    json_object_set_new(o, "facility", json_string(v->facility));
    json_object_set_new(o, "facility_uuid", json_string(uuid));
    for (size_t i = 0; i < v->n_partitions; i++) {
        const Rtr__PartitionRole *pr = v->partitions[i];
        json_t *in_sync = json_array();
        for (size_t k = 0; k < pr->n_in_sync; k++)
            json_array_append_new(in_sync, json_string(pr->in_sync[k]));
        json_array_append_new(
            parts,
            json_pack("{s:s, s:I, s:s, s:o, s:s?, s:I, s:I, s:s?}", "partition", pr->partition,
                      "epoch", (json_int_t)pr->epoch, "primary", pr->primary, "in_sync", in_sync,
                      "partner", pr->partner, "single_copy_from", (json_int_t)pr->single_copy_from,
                      "flags", (json_int_t)pr->flags, "changed_by", pr->changed_by));
    }
    json_object_set_new(o, "partitions", parts);
    return o;
}

void
cli_value_print(const cli_opts_t *opts, const char *what, const Rtr__RegisterValue *v)
{
    static const char *const h[] = { "PARTITION", ">EPOCH", "PRIMARY", "IN_SYNC", "PARTNER" };
    json_t *j = cli_value_json(v);
    tool_table_t *t;

    if (opts->json) {
        json_t *o = json_pack("{s:s, s:o}", "value", what, "register", j);
        tool_json_print(o, stdout);
        json_decref(o);
        return;
    }
    printf("%s register value: facility %s, version %llu, uuid %s\n", what, v->facility,
           (unsigned long long)v->version, json_string_value(json_object_get(j, "facility_uuid")));
    json_decref(j);
    t = tool_table_new(5, h);
    for (size_t i = 0; t != NULL && i < v->n_partitions; i++) {
        const Rtr__PartitionRole *pr = v->partitions[i];
        char epoch[24], in_sync[256] = "";
        snprintf(epoch, sizeof epoch, "%llu", (unsigned long long)pr->epoch);
        for (size_t k = 0; k < pr->n_in_sync; k++) {
            size_t len = strlen(in_sync);
            snprintf(in_sync + len, sizeof in_sync - len, "%s%s", k ? "," : "", pr->in_sync[k]);
        }
        const char *cells[5] = { pr->partition, epoch, pr->primary, in_sync,
                                 pr->partner ? pr->partner : "-" };
        tool_table_add(t, cells);
    }
    if (t != NULL)
        tool_table_print(t, stdout);
    tool_table_free(&t);
}

/* cli_member_read - fill m from the "show meta" answer of its node for partition `name`. */
void
cli_member_read(cli_member_t *m, const json_t *answer, const char *name)
{
    json_t *rows = json_object_get(answer, "rows"), *row;
    size_t i;

    json_array_foreach(rows, i, row)
    {
        const char *p = json_string_value(json_array_get(row, 0));
        if (p == NULL || strcmp(p, name) != 0)
            continue;
        uint64_t epoch = (uint64_t)json_integer_value(json_array_get(row, 2));
        uint64_t seen = (uint64_t)json_integer_value(json_array_get(row, 3));
        json_t *hist = json_array_get(row, 6), *h;
        size_t k;
        m->found = true;
        m->last_n = (uint64_t)json_integer_value(json_array_get(row, 4));
        m->last_epoch = (uint64_t)json_integer_value(json_array_get(row, 5));
        m->epoch_seen = epoch > seen ? epoch : seen;
        json_array_foreach(hist, k, h)
        {
            uint64_t e = (uint64_t)json_integer_value(json_array_get(h, 0));
            if (e > m->epoch_seen)
                m->epoch_seen = e;
        }
    }
}

/* cli_ahead - is member a's journal ahead of b's (epoch of the last record, then last CSN)? */
static bool
cli_ahead(const cli_member_t *a, const cli_member_t *b)
{
    if (a->last_epoch != b->last_epoch)
        return a->last_epoch > b->last_epoch;
    return a->last_n > b->last_n;
}

/* cli_role_build - the first role of shadowed partition p from its two members' journals. */
static Rtr__PartitionRole *
cli_role_build(const cmn_partition_t *p, const cli_member_t *pri, const cli_member_t *sec)
{
    Rtr__PartitionRole *pr = calloc(1, sizeof *pr);
    const cli_member_t *first, *other;
    bool identical;

    if (pr == NULL)
        return NULL;
    rtr__partition_role__init(pr);
    /* the config's primary wins a tie */
    first = cli_ahead(sec, pri) ? sec : pri;
    other = first == pri ? sec : pri;
    identical = first->last_n == other->last_n &&
                (first->last_n == 0 || first->last_epoch == other->last_epoch);
    pr->partition = cli_strdup(p->name);
    pr->epoch = 1 + (pri->epoch_seen > sec->epoch_seen ? pri->epoch_seen : sec->epoch_seen);
    pr->primary = cli_strdup(first->node);
    pr->partner = cli_strdup(other->node);
    pr->changed_by = cli_strdup("rtrcli BOOTSTRAP");
    pr->in_sync = calloc(2, sizeof *pr->in_sync);
    if (pr->in_sync != NULL) {
        pr->in_sync[pr->n_in_sync++] = cli_strdup(first->node);
        if (identical)
            pr->in_sync[pr->n_in_sync++] = cli_strdup(other->node);
    }
    pr->has_single_copy_from = true;
    pr->single_copy_from = 0;
    if (pr->partition == NULL || pr->primary == NULL || pr->partner == NULL ||
        pr->changed_by == NULL || pr->in_sync == NULL || pr->in_sync[0] == NULL ||
        (identical && pr->in_sync[1] == NULL)) {
        rtr__partition_role__free_unpacked(pr, NULL);
        return NULL;
    }
    return pr;
}

/* cli_uuid - 16 random bytes from /dev/urandom; 0 or -1. */
static int
cli_uuid(uint8_t out[16])
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, out, 16) : -1;

    if (fd >= 0)
        close(fd);
    return n == 16 ? 0 : -1;
}

/* cli_value_build - the bootstrap value from the backends' "show meta" answers (ab). */
static Rtr__RegisterValue *
cli_value_build(const cmn_facility_t *fac, const tool_admin_t *ab)
{
    Rtr__RegisterValue *v = calloc(1, sizeof *v);

    if (v == NULL)
        return NULL;
    rtr__register_value__init(v);
    v->version = 1;
    v->facility = cli_strdup(fac->name);
    v->facility_uuid.data = malloc(16);
    v->partitions = calloc(fac->npartitions, sizeof *v->partitions);
    if (v->facility == NULL || v->facility_uuid.data == NULL || v->partitions == NULL ||
        cli_uuid(v->facility_uuid.data) != 0)
        goto fail;
    v->facility_uuid.len = 16;
    for (size_t i = 0; i < fac->npartitions; i++) {
        const cmn_partition_t *p = &fac->partitions[i];
        cli_member_t m[2] = { { p->primary->name, false, 0, 0, 0 },
                              { p->secondary ? p->secondary->name : NULL, false, 0, 0, 0 } };
        if (p->secondary == NULL)
            continue;
        for (size_t k = 0; k < tool_admin_count(ab); k++) {
            const tool_admin_target_t *t = tool_admin_target(ab, k);
            for (int w = 0; w < 2; w++)
                if (strcmp(t->node, m[w].node) == 0)
                    cli_member_read(&m[w], t->json, p->name);
        }
        v->partitions[v->n_partitions] = cli_role_build(p, &m[0], &m[1]);
        if (v->partitions[v->n_partitions] == NULL)
            goto fail;
        v->n_partitions++;
    }
    return v;
fail:
    cli_value_free(&v);
    return NULL;
}

/* ---- asking the daemons ------------------------------------------------------------------ */

static const char *
cli_json_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* cli_boot_settled - ask every router "show register" until none is still fetching (a router
 * that just started asks the others whether a register exists before it votes) or timeout_ms
 * passed. The answers stay in ar. */
static void
cli_boot_settled(tool_admin_t *ar, uint64_t timeout_ms)
{
    uint64_t deadline = cmn_now_mono_ns() + timeout_ms * 1000000u;

    for (;;) {
        uint64_t now = cmn_now_mono_ns();
        bool fetching = false;
        tool_admin_reset(ar);
        (void)tool_admin_query(ar, "show register", NULL, 0,
                               (int)((deadline > now ? deadline - now : 0) / 1000000u) + 1);
        for (size_t i = 0; i < tool_admin_count(ar); i++) {
            const tool_admin_target_t *t = tool_admin_target(ar, i);
            fetching = fetching || (t->answered && t->json != NULL &&
                                    strcmp(cli_json_str(t->json, "mode"), "fetching") == 0);
        }
        if (!fetching || cmn_now_mono_ns() >= deadline)
            return;
        poll(NULL, 0, 50);
    }
}

/* cli_boot_routers - every router answers "show register" and holds nothing: 0; a router
 * holds state: 1 (said on stderr unless `quiet`); a router does not answer: -1 (said). */
static int
cli_boot_routers(const cmn_facility_t *fac, tool_admin_t *ar, uint64_t timeout_ms, bool quiet)
{
    char within[32];
    int rc = 0;

    for (size_t i = 0; i < fac->nrouters; i++)
        if (tool_admin_add(ar, fac->routers[i].name, fac->routers[i].admin) < 0) {
            fprintf(stderr, "%s: router %s: bad admin endpoint %s\n", CLI_BOOT_PROG,
                    fac->routers[i].name, fac->routers[i].admin);
            return -1;
        }
    cli_boot_settled(ar, timeout_ms);
    cli_fmt_ms(timeout_ms, within, sizeof within);
    for (size_t i = 0; i < tool_admin_count(ar); i++) {
        const tool_admin_target_t *t = tool_admin_target(ar, i);
        if (t->answered && t->json != NULL &&
            strcmp(cli_json_str(t->json, "mode"), "fetching") == 0) {
            fprintf(stderr,
                    "%s: router %s is still asking the other routers whether a register exists "
                    "(mode fetching) after %s: are all routers up and connected?\n",
                    CLI_BOOT_PROG, t->node, within);
            rc = -1;
            continue;
        }
        json_t *ver = t->json != NULL ? json_object_get(t->json, "version") : NULL;
        if (!t->answered) {
            fprintf(stderr,
                    "%s: router %s does not answer on %s within %s: every router must be up "
                    "to bootstrap\n",
                    CLI_BOOT_PROG, t->node, t->endpoint, within);
            rc = -1;
            continue;
        } else if (t->status != RTR_STS_OK || t->json == NULL) {
            fprintf(stderr, "%s: router %s: %s [%s]\n", CLI_BOOT_PROG, t->node,
                    t->error != NULL ? t->error : rtr_error_text(t->status),
                    rtr_status_name(t->status));
            rc = -1;
        } else if (json_is_true(json_object_get(t->json, "has_state")) || json_is_integer(ver)) {
            char vtext[48] = "";
            if (json_is_integer(ver))
                snprintf(vtext, sizeof vtext, " (version %lld)",
                         (long long)json_integer_value(ver));
            if (!quiet)
                fprintf(stderr,
                        "%s: router %s already holds register state%s: the facility was "
                        "bootstrapped before; refusing\n",
                        CLI_BOOT_PROG, t->node, vtext);
            if (rc == 0)
                rc = 1;
        }
    }
    return rc;
}

/* cli_boot_backends - every member (primary, secondary) of a shadowed partition answers
 * "show meta". 0 or -1 (said). */
static int
cli_boot_backends(const cmn_facility_t *fac, tool_admin_t *ab, uint64_t timeout_ms)
{
    char within[32];
    int rc = 0;

    for (size_t i = 0; i < fac->nbackends; i++) {
        const cmn_backend_t *b = &fac->backends[i];
        bool member = false;
        for (size_t k = 0; k < fac->npartitions && !member; k++)
            member = fac->partitions[k].secondary != NULL &&
                     (fac->partitions[k].primary == b || fac->partitions[k].secondary == b);
        if (member && tool_admin_add(ab, b->name, b->admin) < 0) {
            fprintf(stderr, "%s: backend %s: bad admin endpoint %s\n", CLI_BOOT_PROG, b->name,
                    b->admin);
            return -1;
        }
    }
    (void)tool_admin_query(ab, "show meta", NULL, 0, (int)timeout_ms);
    cli_fmt_ms(timeout_ms, within, sizeof within);
    for (size_t i = 0; i < tool_admin_count(ab); i++) {
        const tool_admin_target_t *t = tool_admin_target(ab, i);
        if (!t->answered) {
            fprintf(stderr,
                    "%s: backend %s does not answer on %s within %s: without its journal the "
                    "primary cannot be chosen; start it and try again\n",
                    CLI_BOOT_PROG, t->node, t->endpoint, within);
            rc = -1;
        } else if (t->status != RTR_STS_OK || t->json == NULL) {
            fprintf(stderr, "%s: backend %s: %s [%s]\n", CLI_BOOT_PROG, t->node,
                    t->error != NULL ? t->error : rtr_error_text(t->status),
                    rtr_status_name(t->status));
            rc = -1;
        }
    }
    return rc;
}

/* cli_confirm - "Proceed? [y/N]" on stdout, an answer from stdin. */
static bool
cli_confirm(void)
{
    char line[64];

    printf("Proceed? [y/N] ");
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 || strcmp(line, "yes") == 0;
}

/* cli_boot_send - RegChange{BOOTSTRAP} to the routers in order until one commits it. */
static int
cli_boot_send(const cli_opts_t *opts, tool_admin_t *ar, const Rtr__RegisterValue *v,
              uint64_t timeout_ms)
{
    Rtr__RegChange rc = RTR__REG_CHANGE__INIT;
    char within[32];

    rc.req_id = 1;
    rc.kind = RTR__REG_KIND__REG_BOOTSTRAP;
    rc.bootstrap = (Rtr__RegisterValue *)(uintptr_t)v;
    cli_fmt_ms(timeout_ms, within, sizeof within);
    for (size_t i = 0; i < tool_admin_count(ar); i++) {
        const tool_admin_target_t *t = tool_admin_target(ar, i);
        Rtr__Envelope *env = NULL;
        rtr_status_t sts = tool_admin_reg_change(ar, i, &rc, (int)timeout_ms, &env);
        if (sts == RTR_STS_TIMOUT) {
            fprintf(stderr, "%s: router %s: no answer within %s; trying the next router\n",
                    CLI_BOOT_PROG, t->node, within);
            continue;
        }
        if (sts != RTR_STS_OK) {
            fprintf(stderr, "%s: %s\n", CLI_BOOT_PROG, rtr_error_text(sts));
            return TOOL_EXIT_FAIL;
        }
        const Rtr__RegChangeReply *rep = env->reg_change_reply;
        rtr_status_t st = (rtr_status_t)rep->status;
        bool ours = rep->value != NULL && rep->value->facility_uuid.len == 16 &&
                    memcmp(rep->value->facility_uuid.data, v->facility_uuid.data, 16) == 0;
        if (st == RTR_STS_OK || (st == RTR_STS_EXISTS && ours && rep->value->version == 1)) {
            printf("%s", opts->json ? "" : "\n");
            cli_value_print(opts, "committed", rep->value != NULL ? rep->value : v);
            if (!opts->json)
                printf("bootstrapped through router %s\n", t->node);
            wire_free((ProtobufCMessage **)&env);
            return TOOL_EXIT_OK;
        }
        if (st == RTR_STS_EXISTS || st == RTR_STS_INVARG) {
            fprintf(stderr, "%s: router %s refused: %s [%s]\n", CLI_BOOT_PROG, t->node,
                    rep->reason != NULL ? rep->reason : rtr_error_text(st), rtr_status_name(st));
            wire_free((ProtobufCMessage **)&env);
            return TOOL_EXIT_FAIL;
        }
        fprintf(stderr, "%s: router %s could not commit it: %s [%s]; trying the next router\n",
                CLI_BOOT_PROG, t->node, rep->reason != NULL ? rep->reason : rtr_error_text(st),
                rtr_status_name(st));
        wire_free((ProtobufCMessage **)&env);
    }
    fprintf(stderr, "%s: no router could commit the value\n", CLI_BOOT_PROG);
    return TOOL_EXIT_FAIL;
}

int
cli_bootstrap_run(const cli_opts_t *opts, const cmn_facility_t *fac, uint64_t timeout_ms, bool yes,
                  bool if_empty)
{
    tool_admin_t *ar = tool_admin_new(), *ab = tool_admin_new();
    Rtr__RegisterValue *v = NULL;
    int rc = TOOL_EXIT_FAIL;
    bool shadowed = false;

    for (size_t i = 0; i < fac->npartitions; i++)
        shadowed = shadowed || fac->partitions[i].secondary != NULL;
    if (!shadowed) {
        fprintf(stderr,
                "%s: facility %s has no shadowed partition (no `secondary`): it has no "
                "register to bootstrap\n",
                CLI_BOOT_PROG, fac->name);
        goto done;
    }
    if (ar == NULL || ab == NULL) {
        fprintf(stderr, "%s: cannot create the admin sockets\n", CLI_BOOT_PROG);
        goto done;
    }
    switch (cli_boot_routers(fac, ar, timeout_ms, if_empty)) {
    case 0:
        break;
    case 1:
        if (if_empty) {
            printf("facility %s: the register is already bootstrapped; nothing to do\n", fac->name);
            rc = TOOL_EXIT_OK;
        }
        goto done;
    default:
        goto done;
    }
    if (cli_boot_backends(fac, ab, timeout_ms) != 0)
        goto done;
    if ((v = cli_value_build(fac, ab)) == NULL) {
        fprintf(stderr, "%s: out of memory or no entropy for the facility uuid\n", CLI_BOOT_PROG);
        goto done;
    }
    cli_value_print(opts, "proposed", v);
    if (!yes && !cli_confirm()) {
        fprintf(stderr, "%s: cancelled; nothing was written\n", CLI_BOOT_PROG);
        goto done;
    }
    rc = cli_boot_send(opts, ar, v, timeout_ms);
done:
    fflush(stdout);
    cli_value_free(&v);
    tool_admin_free(&ar);
    tool_admin_free(&ab);
    return rc;
}

static void
cli_boot_usage(const tool_opt_t *o, size_t no, FILE *out)
{
    fprintf(out,
            "usage: rtrcli bootstrap facility [--config FILE] [--timeout MS] [--yes] [--json]\n\n"
            "Write the first value of the facility register (roles and epochs of the shadowed\n"
            "partitions). Every router must answer and hold no register state yet; every\n"
            "member of a shadowed partition must answer `show meta`. Per partition the member\n"
            "whose journal is ahead becomes primary (the config's primary on a tie), the other\n"
            "is in sync only if its journal is identical in extent. The value is printed and\n"
            "confirmed (unless --yes), then committed through the first router that can.\n"
            "The facility file is --config, else $RTR_CONFIG, else " CLI_DEFAULT_CONFIG ".\n\n"
            "options:\n");
    tool_opts_usage(o, no, out);
    fprintf(out, "  --json     the proposed and committed values as JSON\n"
                 "\nexit status: 0 committed, 1 refused, cancelled or not committed, "
                 "2 usage error.\n");
}

int
cli_bootstrap_facility(const cli_opts_t *opts, int argc, char **argv)
{
    const char *config = NULL;
    uint64_t timeout_ms = 0;
    bool yes = false;
    const tool_opt_t o[] = {
        { "config", TOOL_OPT_STR, "FILE", "the facility file", 0, 0, 0, &config },
        { "timeout", TOOL_OPT_U64, "MS", "how long to wait for each answer", 5000, 1, 600000,
          &timeout_ms },
        { "yes", TOOL_OPT_FLAG, NULL, "do not ask for confirmation", 0, 0, 0, &yes },
    };
    const size_t no = sizeof o / sizeof o[0];
    char *pos[1];
    int npos = 0, rc;
    cmn_facility_t *fac;

    rc = tool_opts_parse(CLI_BOOT_PROG, o, no, argc, argv, pos, 0, &npos);
    if (rc == TOOL_OPTS_HELP) {
        cli_boot_usage(o, no, stdout);
        return TOOL_EXIT_OK;
    }
    if (rc != 0) {
        cli_boot_usage(o, no, stderr);
        return TOOL_EXIT_USAGE;
    }
    fac = cli_facility_load("bootstrap facility", cli_config_path(config), CMN_JOURNAL_CHECK_NONE);
    if (fac == NULL)
        return TOOL_EXIT_FAIL;
    rc = cli_bootstrap_run(opts, fac, timeout_ms, yes, false);
    cmn_facility_free(&fac);
    return rc;
}
