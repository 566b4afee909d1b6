/*
 * cli_show.c - `rtrcli show facility|router|backend|partition|server|transaction
 * [TID]|counters|register
 * [--config FILE] [--node NAME] [--timeout MS] [--json]`: ask the daemons over their admin
 * endpoints (AdminRequest "show NOUN") and print their answers. Also `rtrcli set transaction
 * TID retry|done` (AdminRequest "set transaction" [TID, ACTION]) for a transaction in
 * EXCEPTION: every backend is asked, the one holding the TID acts.
 *
 * Which daemons are asked: the one named by --node, or every daemon that has the command:
 * routers for `show facility`, `show router` and `show register`, backends for `show backend`,
 * `show partition`, `show server` and `show meta`, both for `show transaction` and `show
 * counters`. (`show partition --node ROUTER` asks a router for its routing view.) All requests go
 * out at once and share one deadline (--timeout, default 2 s); a daemon that does not answer in
 * time is named on stderr, "rtrcli: node be2: no answer from ipc:///tmp/rtr-be2.adm within 2 s",
 * and the command exits 1 after printing what the others answered.
 *
 * Output (the admin JSON convention, docs/protocol.md): every answer is one object
 * {"title", "columns", "rows", other top-level fields}. Text: one answer prints its title, the
 * other fields as "key: value" lines and the aligned table; answers of several daemons with
 * the same columns are merged into one table with a NODE column in front (unless the first
 * column already is NODE), the title kept only if all titles are equal, and their other fields
 * printed as "NODE: key: value"; answers with
 * different columns print one after the other. --json: the answer object itself when one
 * daemon was asked, otherwise an array of them; each object gets a "node" field (the daemon's
 * name) if it has none.
 *
 * Exit status: 0 every daemon answered OK; 1 a daemon did not answer or answered an error, or
 * the facility could not be loaded; 2 a bad command line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cmn.h"
#include "tool.h"
#include "tool_admin.h"

#define CLI_SHOW_ROUTERS  0x1u
#define CLI_SHOW_BACKENDS 0x2u

/* One admin command: what it asks and who answers it. */
typedef struct {
    const char *verb; /* "show", "set" */
    const char *noun;
    unsigned who_default; /* CLI_SHOW_*: asked when --node is not given */
    unsigned who_allowed; /* CLI_SHOW_*: kinds of node --node may name */
    bool tid_arg;         /* takes a TID (optional for show, required for set) */
    const char *action;   /* set: "retry|done", the required word after the TID; else NULL */
} cli_show_cmd_t;

static const cli_show_cmd_t cli_show_cmds[] = {
    { "show", "facility", CLI_SHOW_ROUTERS, CLI_SHOW_ROUTERS, false, NULL },
    { "show", "router", CLI_SHOW_ROUTERS, CLI_SHOW_ROUTERS, false, NULL },
    { "show", "backend", CLI_SHOW_BACKENDS, CLI_SHOW_BACKENDS, false, NULL },
    { "show", "partition", CLI_SHOW_BACKENDS, CLI_SHOW_ROUTERS | CLI_SHOW_BACKENDS, false, NULL },
    { "show", "server", CLI_SHOW_BACKENDS, CLI_SHOW_BACKENDS, false, NULL },
    { "show", "transaction", CLI_SHOW_ROUTERS | CLI_SHOW_BACKENDS,
      CLI_SHOW_ROUTERS | CLI_SHOW_BACKENDS, true, NULL },
    { "show", "counters", CLI_SHOW_ROUTERS | CLI_SHOW_BACKENDS,
      CLI_SHOW_ROUTERS | CLI_SHOW_BACKENDS, false, NULL },
    { "set", "transaction", CLI_SHOW_BACKENDS, CLI_SHOW_BACKENDS, true, "retry|done" },
    { "show", "register", CLI_SHOW_ROUTERS, CLI_SHOW_ROUTERS, false, NULL },
    { "show", "meta", CLI_SHOW_BACKENDS, CLI_SHOW_BACKENDS, false, NULL },
};

/* The parsed command line. */
typedef struct {
    const char *config;
    const char *node;
    const char *tid;
    const char *action;
    uint64_t timeout_ms;
} cli_show_args_t;

static void
cli_show_usage(const cli_show_cmd_t *c, const tool_opt_t *o, size_t no, FILE *out)
{
    if (c->action != NULL) {
        fprintf(out,
                "usage: rtrcli set transaction TID retry|done [--config FILE] [--node NAME]\n"
                "                                  [--timeout MS] [--json]\n\n"
                "Settle a transaction the backend put in EXCEPTION (its replays to servers failed\n"
                "settings.replay_limit times; it is committed and waits for the operator):\n"
                "  retry  deliver it again (rtr_mt_msg1_uncertain) with a fresh replay count,\n"
                "         once the server application is fixed;\n"
                "  done   the operator applied it by other means: the record becomes DONE and\n"
                "         the backend forgets it.\n"
                "Asked without --node: every backend; the one that holds the TID acts, the others\n"
                "answer that they do not know it.\n"
                "The facility file is --config, else $RTR_CONFIG, else " CLI_DEFAULT_CONFIG ".\n\n"
                "options:\n");
        tool_opts_usage(o, no, out);
        fprintf(out, "  --json     the answer object of the backend that acted\n"
                     "\nexit status: 0 one backend settled it, 1 none did (unknown TID, not in\n"
                     "EXCEPTION, no answer), 2 usage error.\n");
        return;
    }
    fprintf(out,
            "usage: rtrcli show %s%s [--config FILE] [--node NAME] [--timeout MS] [--json]\n\n"
            "Ask the daemons of the facility (over their admin endpoints) and print the answer.\n"
            "Asked without --node: %s.\n"
            "The facility file is --config, else $RTR_CONFIG, else " CLI_DEFAULT_CONFIG ".\n\n"
            "options:\n",
            c->noun, c->tid_arg ? " [TID]" : "",
            c->who_default == CLI_SHOW_ROUTERS    ? "every router"
            : c->who_default == CLI_SHOW_BACKENDS ? "every backend"
                                                  : "every router and every backend");
    tool_opts_usage(o, no, out);
    fprintf(out, "  --json     the answer object (one daemon) or an array of them\n"
                 "\nexit status: 0 ok, 1 a daemon did not answer or reported an error, "
                 "2 usage error.\n");
}

const char *
cli_config_path(const char *given)
{
    const char *env = getenv("RTR_CONFIG");

    if (given != NULL)
        return given;
    return env != NULL && *env != '\0' ? env : CLI_DEFAULT_CONFIG;
}

cmn_facility_t *
cli_facility_load(const char *prog, const char *path, cmn_journal_check_t check)
{
    cmn_load_opts_t lo = { check, NULL };
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;
    rtr_status_t sts = cmn_facility_load_ex(path, &lo, &fac, &diag);

    if (sts != RTR_STS_OK)
        fprintf(stderr, "rtrcli: %s: %s\n", prog,
                diag != NULL && diag->error != NULL ? diag->error : rtr_error_text(sts));
    cmn_diag_free(&diag);
    return fac;
}

void
cli_fmt_ms(uint64_t ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%llu s", (unsigned long long)(ms / 1000));
    else if (ms > 1000)
        snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
    else
        snprintf(buf, len, "%llu ms", (unsigned long long)ms);
}

/* cli_show_targets - add the daemons to ask. Returns TOOL_EXIT_OK or a usage/fail code. */
static int
cli_show_targets(const cli_show_cmd_t *c, const cmn_facility_t *fac, const char *node,
                 tool_admin_t *a)
{
    unsigned who = c->who_default;
    int rc = 0;

    if (node != NULL) {
        const cmn_router_t *r = cmn_facility_router(fac, node);
        const cmn_backend_t *b = cmn_facility_backend(fac, node);
        if (r == NULL && b == NULL) {
            fprintf(stderr, "rtrcli: %s %s: facility %s has no node '%s'\n", c->verb, c->noun,
                    fac->name, node);
            return TOOL_EXIT_FAIL;
        }
        if ((r != NULL && !(c->who_allowed & CLI_SHOW_ROUTERS)) ||
            (b != NULL && !(c->who_allowed & CLI_SHOW_BACKENDS))) {
            fprintf(stderr, "rtrcli: %s %s: node %s is a %s; `%s %s` is answered by %s\n", c->verb,
                    c->noun, node, r != NULL ? "router" : "backend", c->verb, c->noun,
                    r != NULL ? "backends" : "routers");
            return TOOL_EXIT_USAGE;
        }
        rc =
            r != NULL ? tool_admin_add(a, r->name, r->admin) : tool_admin_add(a, b->name, b->admin);
        return rc < 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
    }
    for (size_t i = 0; rc >= 0 && (who & CLI_SHOW_ROUTERS) && i < fac->nrouters; i++)
        rc = tool_admin_add(a, fac->routers[i].name, fac->routers[i].admin);
    for (size_t i = 0; rc >= 0 && (who & CLI_SHOW_BACKENDS) && i < fac->nbackends; i++)
        rc = tool_admin_add(a, fac->backends[i].name, fac->backends[i].admin);
    if (rc < 0) {
        fprintf(stderr, "rtrcli: %s %s: cannot connect to the admin endpoints\n", c->verb, c->noun);
        return TOOL_EXIT_FAIL;
    }
    return TOOL_EXIT_OK;
}

/* cli_show_report - name every daemon that did not answer, or answered an error, on stderr.
 * Returns the number of them. */
static size_t
cli_show_report(const tool_admin_t *a, uint64_t timeout_ms)
{
    size_t bad = 0;
    char within[32];

    cli_fmt_ms(timeout_ms, within, sizeof within);
    for (size_t i = 0; i < tool_admin_count(a); i++) {
        const tool_admin_target_t *t = tool_admin_target(a, i);
        if (!t->answered) {
            fprintf(stderr, "rtrcli: node %s: no answer from %s within %s\n", t->node, t->endpoint,
                    within);
            bad++;
        } else if (t->status != RTR_STS_OK) {
            fprintf(stderr, "rtrcli: node %s: %s [%s]\n", t->node,
                    t->error != NULL ? t->error : rtr_error_text(t->status),
                    rtr_status_name(t->status));
            bad++;
        }
    }
    return bad;
}

/* cli_show_answers - the usable answers, each with a "node" field. New reference. */
static json_t *
cli_show_answers(const tool_admin_t *a)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < tool_admin_count(a); i++) {
        const tool_admin_target_t *t = tool_admin_target(a, i);
        if (!t->answered || t->status != RTR_STS_OK || t->json == NULL)
            continue;
        /* "node" right after the title (if the daemon did not say it itself) */
        json_t *o = json_object(), *title = json_object_get(t->json, "title");
        if (o == NULL || (title != NULL && json_object_set(o, "title", title) != 0) ||
            (json_object_get(t->json, "node") == NULL &&
             json_object_set_new(o, "node", json_string(t->node)) != 0) ||
            json_object_update(o, t->json) != 0) {
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
        if (json_array_append_new(arr, o) != 0) { /* steals o even when it fails */
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* cli_show_same_columns - do all answers have equal "columns"? */
static bool
cli_show_same_columns(const json_t *answers)
{
    const json_t *first = json_object_get(json_array_get(answers, 0), "columns");
    size_t i;
    json_t *o;

    if (!json_is_array(first))
        return false;
    json_array_foreach(answers, i, o)
    {
        if (!json_equal(json_object_get(o, "columns"), (json_t *)(uintptr_t)first))
            return false;
    }
    return true;
}

/* cli_show_merged - several answers with equal columns as one table with a NODE column. */
static int
cli_show_merged(const json_t *answers, FILE *out)
{
    const json_t *cols = json_object_get(json_array_get(answers, 0), "columns");
    const json_t *c0 = json_array_get(cols, 0);
    bool has_node = json_is_string(c0) && strcasecmp(json_string_value(c0), "NODE") == 0;
    json_t *mcols = has_node ? json_deep_copy(cols) : json_array();
    json_t *mrows = json_array(), *o;
    const json_t *title = json_object_get(json_array_get(answers, 0), "title");
    size_t i;
    int rc = -1;

    if (mcols == NULL || mrows == NULL ||
        (!has_node && (json_array_append_new(mcols, json_string("NODE")) != 0 ||
                       json_array_extend(mcols, (json_t *)(uintptr_t)cols) != 0)))
        goto done;
    json_array_foreach(answers, i, o)
    {
        if (!json_equal(json_object_get(o, "title"), (json_t *)(uintptr_t)title))
            title = NULL; /* per-node titles: the NODE column says it */
    }
    if (json_is_string(title))
        fprintf(out, "%s\n", json_string_value(title));
    json_array_foreach(answers, i, o)
    {
        const char *node = json_string_value(json_object_get(o, "node"));
        char prefix[64];
        size_t k;
        json_t *row, *rows = json_object_get(o, "rows");
        json_t *copy = json_deep_copy(o);

        /* the per-node fields: title and node are said by the NODE column */
        if (copy == NULL)
            goto done;
        json_object_del(copy, "node");
        snprintf(prefix, sizeof prefix, "%s: ", node != NULL ? node : "?");
        if (tool_json_scalars_print(copy, prefix, out) != 0) {
            json_decref(copy);
            goto done;
        }
        json_decref(copy);
        json_array_foreach(rows, k, row)
        {
            json_t *r = has_node ? json_deep_copy(row) : json_array();
            if (r == NULL ||
                (!has_node && (json_array_append_new(r, json_string(node)) != 0 ||
                               json_array_extend(r, row) != 0)) ||
                json_array_append_new(mrows, r) != 0)
                goto done;
        }
    }
    rc = tool_json_rows_print(mcols, mrows, out);
done:
    json_decref(mcols);
    json_decref(mrows);
    return rc;
}

/* cli_show_print - print the answers as text or JSON. Returns 0, or -1 on out of memory. */
static int
cli_show_print(const cli_opts_t *opts, const json_t *answers, size_t nasked)
{
    size_t n = json_array_size(answers), i;
    json_t *o;

    if (opts->json) {
        if (nasked == 1 && n == 1)
            tool_json_print(json_array_get(answers, 0), stdout);
        else
            tool_json_print(answers, stdout);
        return 0;
    }
    if (n == 1) {
        json_t *copy = json_deep_copy(json_array_get(answers, 0));
        int rc = -1;
        if (copy != NULL) {
            if (nasked == 1)
                json_object_del(copy, "node"); /* the operator named it (or there is one) */
            rc = tool_json_table_print(copy, stdout);
        }
        json_decref(copy);
        return rc;
    }
    if (n > 1 && cli_show_same_columns(answers))
        return cli_show_merged(answers, stdout);
    json_array_foreach(answers, i, o)
    {
        if (i > 0)
            fputc('\n', stdout);
        if (tool_json_table_print(o, stdout) != 0)
            return -1;
    }
    return 0;
}

/* cli_set_report - the outcome of a set command sent to several backends: exactly one must
 * have acted (answered OK); the ones that do not know the TID stay silent unless none acted. */
static int
cli_set_report(const cli_opts_t *opts, const char *prog, const tool_admin_t *a, const char *tid,
               uint64_t timeout_ms)
{
    size_t acted = 0, silent = 0;
    char within[32];

    cli_fmt_ms(timeout_ms, within, sizeof within);
    for (size_t i = 0; i < tool_admin_count(a); i++) {
        const tool_admin_target_t *t = tool_admin_target(a, i);
        if (t->answered && t->status == RTR_STS_OK) {
            acted++;
            if (opts->json && t->json != NULL)
                tool_json_print(t->json, stdout);
            else if (t->json != NULL)
                tool_json_table_print(t->json, stdout);
        } else if (t->answered && t->status == RTR_STS_NOTFOUND) {
            silent++;
        } else if (!t->answered) {
            fprintf(stderr, "rtrcli: node %s: no answer from %s within %s\n", t->node, t->endpoint,
                    within);
        } else {
            fprintf(stderr, "rtrcli: node %s: %s [%s]\n", t->node,
                    t->error != NULL ? t->error : rtr_error_text(t->status),
                    rtr_status_name(t->status));
        }
    }
    fflush(stdout);
    if (acted == 0 && silent == tool_admin_count(a))
        fprintf(stderr, "%s: no backend knows transaction %s\n", prog, tid);
    return acted == 1 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

/* cli_show_run - the body of every show and set command. */
static int
cli_show_run(const cli_show_cmd_t *c, const cli_opts_t *opts, int argc, char **argv)
{
    cli_show_args_t sa = { 0 };
    const tool_opt_t o[] = {
        { "config", TOOL_OPT_STR, "FILE", "the facility file", 0, 0, 0, &sa.config },
        { "node", TOOL_OPT_STR, "NAME", "ask only this router or backend", 0, 0, 0, &sa.node },
        { "timeout", TOOL_OPT_U64, "MS", "how long to wait for each daemon's answer", 2000, 1,
          600000, &sa.timeout_ms },
    };
    const size_t no = sizeof o / sizeof o[0];
    char prog[64], *pos[2], cmd[64];
    const char *args[2];
    size_t nargs = 0;
    int npos = 0, rc;
    cmn_facility_t *fac = NULL;
    tool_admin_t *a = NULL;
    json_t *answers = NULL;

    snprintf(prog, sizeof prog, "rtrcli: %s %s", c->verb, c->noun);
    rc = tool_opts_parse(prog, o, no, argc, argv, pos,
                         c->action != NULL ? 2
                         : c->tid_arg      ? 1
                                           : 0,
                         &npos);
    if (rc == TOOL_OPTS_HELP) {
        cli_show_usage(c, o, no, stdout);
        return TOOL_EXIT_OK;
    }
    if (rc != 0) {
        cli_show_usage(c, o, no, stderr);
        return TOOL_EXIT_USAGE;
    }
    if (c->action != NULL) {
        if (npos != 2 || (strcmp(pos[1], "retry") != 0 && strcmp(pos[1], "done") != 0)) {
            fprintf(stderr, "%s: want TID and one of %s\n", prog, c->action);
            cli_show_usage(c, o, no, stderr);
            return TOOL_EXIT_USAGE;
        }
        sa.action = pos[1];
    }
    if (npos >= 1) {
        cmn_tid_t tid;
        if (cmn_tid_parse(pos[0], &tid) != RTR_STS_OK) {
            fprintf(stderr,
                    "%s: '%s' is not a TID (INCARNATION.COUNTER, e.g. "
                    "0123456789abcdef.42)\n",
                    prog, pos[0]);
            return TOOL_EXIT_USAGE;
        }
        sa.tid = pos[0];
    }
    fac = cli_facility_load(prog + strlen("rtrcli: "), cli_config_path(sa.config),
                            CMN_JOURNAL_CHECK_NONE);
    if (fac == NULL)
        return TOOL_EXIT_FAIL;
    rc = TOOL_EXIT_FAIL;
    if ((a = tool_admin_new()) == NULL) {
        fprintf(stderr, "%s: cannot create the admin sockets\n", prog);
        goto done;
    }
    if ((rc = cli_show_targets(c, fac, sa.node, a)) != TOOL_EXIT_OK)
        goto done;
    rc = TOOL_EXIT_FAIL;
    snprintf(cmd, sizeof cmd, "%s %s", c->verb, c->noun);
    if (sa.tid != NULL)
        args[nargs++] = sa.tid;
    if (sa.action != NULL)
        args[nargs++] = sa.action;
    rtr_status_t sts = tool_admin_query(a, cmd, args, nargs, (int)sa.timeout_ms);
    if (sts != RTR_STS_OK && sts != RTR_STS_TIMOUT) {
        fprintf(stderr, "%s: %s\n", prog, rtr_error_text(sts));
        goto done;
    }
    if (c->action != NULL) {
        rc = cli_set_report(opts, prog, a, sa.tid, sa.timeout_ms);
        goto done;
    }
    answers = cli_show_answers(a);
    if (answers == NULL || cli_show_print(opts, answers, tool_admin_count(a)) != 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto done;
    }
    fflush(stdout);
    rc = cli_show_report(a, sa.timeout_ms) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
done:
    json_decref(answers);
    tool_admin_free(&a);
    cmn_facility_free(&fac);
    return rc;
}

int
cli_show_facility(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[0], opts, argc, argv);
}

int
cli_show_router(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[1], opts, argc, argv);
}

int
cli_show_backend(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[2], opts, argc, argv);
}

int
cli_show_partition(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[3], opts, argc, argv);
}

int
cli_show_server(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[4], opts, argc, argv);
}

int
cli_show_transaction(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[5], opts, argc, argv);
}

int
cli_show_counters(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[6], opts, argc, argv);
}

int
cli_set_transaction(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[7], opts, argc, argv);
}

int
cli_show_register(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[8], opts, argc, argv);
}

int
cli_show_meta(const cli_opts_t *opts, int argc, char **argv)
{
    return cli_show_run(&cli_show_cmds[9], opts, argc, argv);
}
