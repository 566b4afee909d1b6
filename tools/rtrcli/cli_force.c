/*
 * cli_force.c - `rtrcli set partition P /primary=NODE /force [--yes] [--config FILE]
 * [--timeout MS] [--json]`: make NODE the primary of shadowed partition P although it is not
 * in the in-sync set - the operator's answer when the primary is gone for good and its partner
 * waits (wt_quorum, "waiting_for ..."). Such a member may lack commits the missing primary made
 * alone (REMEMBER), so before anything changes the command prints the loss list
 * (docs/shadow-protocol.md §5.7) and asks for the partition's name as confirmation.
 *
 * Order of work, and why:
 *   1. the register value is READ through the first router that answers: P's epoch, primary,
 *      in_sync and single_copy_from S (the first CSN the partner may lack). NODE must be P's
 *      partner and outside the in-sync set (an in-sync member is promoted without an operator).
 *   2. NODE is asked "show meta": the extent of its journal (last CSN and its epoch). It holds
 *      the primary's records up to its last CSN only if that record is of the current epoch or
 *      newer (it caught up from the REMEMBER primary); otherwise nothing from S on counts as held
 *      (conservative: the list may only be too long, never too short).
 *   3. every router is asked "show outcomes P FROM": its ring of the accepted outcomes it
 *      relayed (CSN, TID) and the highest CSN it relayed (decided_upto). A router that does not
 *      answer, or whose ring starts after FROM or dropped entries from FROM on, is named as
 *      incomplete.
 *   4. the loss list: CSNs FROM..D, with FROM = the first CSN NODE does not hold (at least S) and
 *      D = the highest decided_upto; the TIDs of the outcomes relayed in that range; and the
 *      warning that the missing primary may have decided more within its last lease.
 *   5. unless --yes: "Proceed? type the partition name"; anything else changes nothing.
 *   6. RegChange{FORCE} with the list (range, count, the first 256 TIDs) and a token (FNV-1a of
 *      the printed list) goes to the routers in order until one commits it; the audit entry in
 *      the register keeps what was confirmed. The new primary waits out the old one's lease
 *      (wait_ms) before it serves.
 *
 * Exit status: 0 committed, 1 refused / not confirmed / not committed, 2 usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmn.h"
#include "tool.h"
#include "tool_admin.h"

#define CLI_FORCE_PROG "rtrcli: set partition"

/* The loss list being built. */
typedef struct {
    uint64_t from, to; /* CSN range; to < from: empty */
    char **tids;       /* printed TIDs, unique, sorted */
    size_t ntids, cap;
    size_t incomplete; /* routers whose ring may miss some */
} cli_loss_t;

static int
cli_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
cli_loss_free(cli_loss_t *l)
{
    for (size_t i = 0; i < l->ntids; i++)
        free(l->tids[i]);
    free(l->tids);
    memset(l, 0, sizeof *l);
}

static bool
cli_loss_add(cli_loss_t *l, const char *tid)
{
    for (size_t i = 0; i < l->ntids; i++)
        if (strcmp(l->tids[i], tid) == 0)
            return true;
    if (l->ntids == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->tids, cap * sizeof *v);
        if (v == NULL)
            return false;
        l->tids = v;
        l->cap = cap;
    }
    if ((l->tids[l->ntids] = strdup(tid)) == NULL)
        return false;
    l->ntids++;
    return true;
}

/* cli_loss_token - FNV-1a 64 of the list as printed (range and TIDs): what was confirmed. */
static uint64_t
cli_loss_token(const char *partition, const char *node, const cli_loss_t *l)
{
    uint64_t h = 0xcbf29ce484222325ull;
    char head[256];
    snprintf(head, sizeof head, "%s %s %llu %llu", partition, node, (unsigned long long)l->from,
             (unsigned long long)l->to);
    for (const char *p = head; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    for (size_t i = 0; i < l->ntids; i++)
        for (const char *p = l->tids[i]; *p; p++)
            h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return h;
}

/* cli_force_read - the register value through the first router that answers (owned env). */
static const Rtr__RegisterValue *
cli_force_read(tool_admin_t *ar, uint64_t timeout_ms, Rtr__Envelope **envp)
{
    Rtr__RegChange rc = RTR__REG_CHANGE__INIT;

    rc.req_id = cmn_now_mono_ns();
    rc.kind = RTR__REG_KIND__REG_READ;
    for (size_t i = 0; i < tool_admin_count(ar); i++) {
        const tool_admin_target_t *t = tool_admin_target(ar, i);
        Rtr__Envelope *env = NULL;
        rtr_status_t sts = tool_admin_reg_change(ar, i, &rc, (int)timeout_ms, &env);
        if (sts != RTR_STS_OK) {
            fprintf(stderr, "%s: router %s: %s; trying the next router\n", CLI_FORCE_PROG, t->node,
                    rtr_error_text(sts));
            continue;
        }
        const Rtr__RegChangeReply *rep = env->reg_change_reply;
        if (rep->status == RTR_STS_OK && rep->value != NULL) {
            *envp = env;
            return rep->value;
        }
        fprintf(stderr, "%s: router %s could not read the register: %s [%s]\n", CLI_FORCE_PROG,
                t->node, rep->reason != NULL ? rep->reason : rtr_error_text(rep->status),
                rtr_status_name(rep->status));
        wire_free((ProtobufCMessage **)&env);
    }
    return NULL;
}

/* cli_force_outcomes - every router's ring from `from` on into l; D into *decided. */
static void
cli_force_outcomes(tool_admin_t *ar, const char *part, uint64_t from, uint64_t timeout_ms,
                   cli_loss_t *l, uint64_t *decided, json_t *routers)
{
    char fromtxt[24];
    const char *args[2] = { part, fromtxt };

    snprintf(fromtxt, sizeof fromtxt, "%llu", (unsigned long long)from);
    tool_admin_reset(ar);
    (void)tool_admin_query(ar, "show outcomes", args, 2, (int)timeout_ms);
    for (size_t i = 0; i < tool_admin_count(ar); i++) {
        const tool_admin_target_t *t = tool_admin_target(ar, i);
        const char *why = NULL;
        if (!t->answered) {
            why = "did not answer";
        } else if (t->status != RTR_STS_OK || t->json == NULL) {
            why = t->error != NULL ? t->error : rtr_error_text(t->status);
        } else {
            uint64_t d = (uint64_t)json_integer_value(json_object_get(t->json, "decided_upto"));
            uint64_t oldest = (uint64_t)json_integer_value(json_object_get(t->json, "oldest"));
            uint64_t dropped =
                (uint64_t)json_integer_value(json_object_get(t->json, "dropped_upto"));
            json_t *rows = json_object_get(t->json, "outcomes"), *row;
            size_t k;
            if (d > *decided)
                *decided = d;
            json_array_foreach(rows, k, row)
            {
                const char *tid = json_string_value(json_array_get(row, 1));
                if (tid != NULL && !cli_loss_add(l, tid))
                    why = "out of memory";
            }
            if (dropped >= from)
                why = "its ring overwrote outcomes in the range";
            else if (oldest > from || oldest == 0)
                why = "its ring starts after the range (restarted, or relayed none of it)";
        }
        if (why != NULL)
            l->incomplete++;
        json_array_append_new(routers, json_pack("{s:s, s:b, s:s?}", "router", t->node, "complete",
                                                 why == NULL, "why", why));
    }
}

static void
cli_force_usage(const tool_opt_t *o, size_t no, FILE *out)
{
    fprintf(out,
            "usage: rtrcli set partition P /primary=NODE /force [--yes] [--config FILE]\n"
            "                            [--timeout MS] [--json]\n\n"
            "Make NODE the primary of shadowed partition P although it is not in the in-sync\n"
            "set: for a primary that is gone for good while its partner waits (wt_quorum).\n"
            "NODE may lack commits the missing primary made alone; the command prints them\n"
            "first (the loss list: CSN range and TIDs, from the routers' outcome rings) and\n"
            "asks for the partition's name as confirmation (--yes: no question, for scripts).\n"
            "The new primary serves once the old primary's lease has run out. When the old\n"
            "primary returns, records it holds beyond the agreed point are cut; if it had\n"
            "applied them it stays out (applied_truncated) until it is re-seeded.\n\n"
            "options:\n");
    tool_opts_usage(o, no, out);
    fprintf(out, "  --json     the loss list and the committed value as JSON\n"
                 "\nexit status: 0 committed, 1 refused, not confirmed or not committed, "
                 "2 usage error.\n");
}

/* cli_force_run - steps 1-6 above for partition `part`, new primary `node`. */
static int
cli_force_run(const cli_opts_t *opts, const cmn_facility_t *fac, const char *part, const char *node,
              uint64_t timeout_ms, bool yes)
{
    tool_admin_t *ar = tool_admin_new(), *ab = tool_admin_new();
    Rtr__Envelope *renv = NULL, *cenv = NULL;
    cli_loss_t loss = { 0 };
    json_t *routers = json_array();
    int rc = TOOL_EXIT_FAIL;
    const Rtr__PartitionRole *pr = NULL;
    const cmn_backend_t *nb = NULL;

    if (ar == NULL || ab == NULL || routers == NULL) {
        fprintf(stderr, "%s: out of memory\n", CLI_FORCE_PROG);
        goto done;
    }
    for (size_t i = 0; i < fac->nbackends; i++)
        if (strcmp(fac->backends[i].name, node) == 0)
            nb = &fac->backends[i];
    for (size_t i = 0; i < fac->nrouters; i++)
        if (tool_admin_add(ar, fac->routers[i].name, fac->routers[i].admin) < 0) {
            fprintf(stderr, "%s: router %s: bad admin endpoint\n", CLI_FORCE_PROG,
                    fac->routers[i].name);
            goto done;
        }
    /* 1. the value */
    const Rtr__RegisterValue *v = cli_force_read(ar, timeout_ms, &renv);
    if (v == NULL) {
        fprintf(stderr, "%s: no router could read the register: nothing changed\n", CLI_FORCE_PROG);
        goto done;
    }
    for (size_t i = 0; i < v->n_partitions; i++)
        if (strcmp(v->partitions[i]->partition, part) == 0)
            pr = v->partitions[i];
    if (pr == NULL) {
        fprintf(stderr, "%s: partition %s is not in the register (not shadowed?)\n", CLI_FORCE_PROG,
                part);
        goto done;
    }
    if (strcmp(pr->primary, node) == 0) {
        fprintf(stderr, "%s: %s is already the primary of %s (epoch %llu): nothing to do\n",
                CLI_FORCE_PROG, node, part, (unsigned long long)pr->epoch);
        goto done;
    }
    if (pr->partner == NULL || strcmp(pr->partner, node) != 0 || nb == NULL) {
        fprintf(stderr, "%s: %s is not a member of %s (primary %s, partner %s)\n", CLI_FORCE_PROG,
                node, part, pr->primary, pr->partner != NULL ? pr->partner : "-");
        goto done;
    }
    for (size_t k = 0; k < pr->n_in_sync; k++)
        if (strcmp(pr->in_sync[k], node) == 0) {
            fprintf(stderr,
                    "%s: %s is in the in-sync set of %s: it holds every commit and is promoted "
                    "without an operator when %s is lost; /force is for a member outside it\n",
                    CLI_FORCE_PROG, node, part, pr->primary);
            goto done;
        }
    /* 2. what NODE holds */
    cli_member_t m = { .node = node };
    if (tool_admin_add(ab, nb->name, nb->admin) < 0) {
        fprintf(stderr, "%s: backend %s: bad admin endpoint\n", CLI_FORCE_PROG, node);
        goto done;
    }
    (void)tool_admin_query(ab, "show meta", NULL, 0, (int)timeout_ms);
    const tool_admin_target_t *bt = tool_admin_target(ab, 0);
    if (!bt->answered || bt->status != RTR_STS_OK || bt->json == NULL) {
        fprintf(stderr,
                "%s: backend %s does not answer \"show meta\": start it first (it must take "
                "the role, and its journal decides what is lost)\n",
                CLI_FORCE_PROG, node);
        goto done;
    }
    cli_member_read(&m, bt->json, part);
    uint64_t s = pr->single_copy_from != 0 ? pr->single_copy_from : m.last_n + 1;
    uint64_t held = m.last_epoch >= pr->epoch ? m.last_n : 0;
    loss.from = held + 1 > s ? held + 1 : s;
    /* 3. what the routers relayed */
    uint64_t decided = 0;
    cli_force_outcomes(ar, part, loss.from, timeout_ms, &loss, &decided, routers);
    loss.to = decided;
    if (loss.ntids > 1)
        qsort(loss.tids, loss.ntids, sizeof *loss.tids, cli_str_cmp);
    uint64_t token = cli_loss_token(part, node, &loss);
    /* 4. the loss list */
    if (opts->json) {
        json_t *tids = json_array();
        for (size_t i = 0; i < loss.ntids; i++)
            json_array_append_new(tids, json_string(loss.tids[i]));
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:O, s:I, s:b}", "partition", part,
                      "new_primary", node, "missing", pr->primary, "epoch", (json_int_t)pr->epoch,
                      "node_last_csn", (json_int_t)m.last_n, "loss_from", (json_int_t)loss.from,
                      "loss_to", (json_int_t)loss.to, "loss_tids", tids, "routers", routers,
                      "token", (json_int_t)(token >> 1), "lease_caveat", true);
        tool_json_print(o, stdout);
        json_decref(o);
    } else {
        printf("FORCE %s: %s becomes primary without %s (epoch %llu, single-copy from CSN "
               "%llu)\n",
               part, node, pr->primary, (unsigned long long)pr->epoch,
               (unsigned long long)pr->single_copy_from);
        printf("%s's journal ends at CSN %llu (epoch %llu)\n", node, (unsigned long long)m.last_n,
               (unsigned long long)m.last_epoch);
        if (loss.to >= loss.from)
            printf("LOSS LIST: CSNs %llu..%llu (%llu) may exist only on %s; %zu accepted "
                   "transaction(s) the routers relayed in that range:\n",
                   (unsigned long long)loss.from, (unsigned long long)loss.to,
                   (unsigned long long)(loss.to - loss.from + 1), pr->primary, loss.ntids);
        else
            printf("LOSS LIST: no commit above CSN %llu was relayed by a router\n",
                   (unsigned long long)(loss.from - 1));
        for (size_t i = 0; i < loss.ntids; i++)
            printf("  %s\n", loss.tids[i]);
        size_t k;
        json_t *r;
        json_array_foreach(routers, k, r)
        {
            if (!json_is_true(json_object_get(r, "complete")))
                printf("WARNING: router %s: %s - transactions it relayed may be missing from "
                       "the list\n",
                       json_string_value(json_object_get(r, "router")),
                       json_string_value(json_object_get(r, "why")));
        }
        printf("WARNING: %s may also have decided transactions within its last lease that no "
               "router relayed (their clients saw no outcome)\n",
               pr->primary);
    }
    /* 5. confirmation */
    if (!yes) {
        char line[256];
        printf("Proceed? type the partition name (%s) to force, anything else to cancel: ", part);
        fflush(stdout);
        if (fgets(line, sizeof line, stdin) == NULL ||
            (line[strcspn(line, "\r\n")] = '\0', strcmp(line, part) != 0)) {
            fprintf(stderr, "%s: not confirmed; nothing changed\n", CLI_FORCE_PROG);
            goto done;
        }
    }
    /* 6. FORCE */
    Rtr__RegChange rq = RTR__REG_CHANGE__INIT;
    uint8_t tok[8];
    ProtobufCBinaryData *bin = calloc(loss.ntids < 256 ? loss.ntids + 1 : 256, sizeof *bin);
    uint8_t(*raw)[16] = calloc(loss.ntids < 256 ? loss.ntids + 1 : 256, 16);
    if (bin == NULL || raw == NULL) {
        free(bin);
        free(raw);
        fprintf(stderr, "%s: out of memory\n", CLI_FORCE_PROG);
        goto done;
    }
    for (size_t i = 0; i < loss.ntids && rq.n_loss_tids < 256; i++) {
        cmn_tid_t t;
        if (cmn_tid_parse(loss.tids[i], &t) != RTR_STS_OK)
            continue;
        cmn_tid_pack(&t, raw[rq.n_loss_tids]);
        bin[rq.n_loss_tids].data = raw[rq.n_loss_tids];
        bin[rq.n_loss_tids].len = 16;
        rq.n_loss_tids++;
    }
    cmn_put_be64(tok, token);
    rq.req_id = cmn_now_mono_ns();
    rq.kind = RTR__REG_KIND__REG_FORCE;
    rq.partition = (char *)(uintptr_t)part;
    rq.node = (char *)(uintptr_t)node;
    rq.has_expected_epoch = true;
    rq.expected_epoch = pr->epoch;
    rq.has_single_copy_from = true;
    rq.single_copy_from = loss.from;
    rq.has_loss_to = true;
    rq.loss_to = loss.to;
    rq.loss_tids = bin;
    rq.has_loss_tid_count = true;
    rq.loss_tid_count = loss.ntids;
    rq.has_confirm = true;
    rq.confirm.data = tok;
    rq.confirm.len = 8;
    for (size_t i = 0; i < tool_admin_count(ar) && rc != TOOL_EXIT_OK; i++) {
        const tool_admin_target_t *t = tool_admin_target(ar, i);
        rtr_status_t sts = tool_admin_reg_change(ar, i, &rq, (int)timeout_ms, &cenv);
        if (sts != RTR_STS_OK) {
            fprintf(stderr, "%s: router %s: %s; trying the next router\n", CLI_FORCE_PROG, t->node,
                    rtr_error_text(sts));
            continue;
        }
        const Rtr__RegChangeReply *rep = cenv->reg_change_reply;
        if (rep->status == RTR_STS_OK) {
            if (!opts->json)
                printf("\n");
            cli_value_print(opts, "committed", rep->value != NULL ? rep->value : v);
            if (!opts->json)
                printf("%s is primary of %s; it serves once %s's lease has run out (%llu ms)\n",
                       node, part, pr->primary,
                       (unsigned long long)(rep->has_wait_ms ? rep->wait_ms : 0));
            rc = TOOL_EXIT_OK;
        } else {
            fprintf(stderr, "%s: router %s refused: %s [%s]\n", CLI_FORCE_PROG, t->node,
                    rep->reason != NULL ? rep->reason : rtr_error_text(rep->status),
                    rtr_status_name(rep->status));
            if (rep->status != RTR_STS_NOQUORUM && rep->status != RTR_STS_TIMOUT) {
                wire_free((ProtobufCMessage **)&cenv);
                break; /* a refusal, not a failure of this router */
            }
        }
        wire_free((ProtobufCMessage **)&cenv);
    }
    free(bin);
    free(raw);
done:
    fflush(stdout);
    wire_free((ProtobufCMessage **)&renv);
    json_decref(routers);
    cli_loss_free(&loss);
    tool_admin_free(&ar);
    tool_admin_free(&ab);
    return rc;
}

int
cli_set_partition(const cli_opts_t *opts, int argc, char **argv)
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
    char *pos[3];
    int npos = 0, rc;
    const char *part = NULL, *node = NULL;
    bool force = false;
    cmn_facility_t *fac;

    rc = tool_opts_parse(CLI_FORCE_PROG, o, no, argc, argv, pos, 3, &npos);
    if (rc == TOOL_OPTS_HELP) {
        cli_force_usage(o, no, stdout);
        return TOOL_EXIT_OK;
    }
    for (int i = 0; rc == 0 && i < npos; i++) {
        if (strncmp(pos[i], "/primary=", 9) == 0 && pos[i][9] != '\0')
            node = pos[i] + 9;
        else if (strcmp(pos[i], "/force") == 0)
            force = true;
        else if (pos[i][0] != '/' && part == NULL)
            part = pos[i];
        else
            rc = -1;
    }
    if (rc != 0 || part == NULL || node == NULL) {
        cli_force_usage(o, no, stderr);
        return TOOL_EXIT_USAGE;
    }
    if (!force) {
        fprintf(stderr,
                "%s: a planned switch of the primary (without /force) is not built yet; an "
                "in-sync secondary is promoted by itself when the primary is lost\n",
                CLI_FORCE_PROG);
        return TOOL_EXIT_FAIL;
    }
    fac = cli_facility_load("set partition", cli_config_path(config), CMN_JOURNAL_CHECK_NONE);
    if (fac == NULL)
        return TOOL_EXIT_FAIL;
    rc = cli_force_run(opts, fac, part, node, timeout_ms, yes);
    cmn_facility_free(&fac);
    return rc;
}
