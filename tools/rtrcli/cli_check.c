/*
 * cli_check.c - `rtrcli check facility FILE [--node NAME]`: the validation every daemon runs at
 * start-up (cmn_facility_load), without starting anything.
 *
 * Text output: "FILE: ok (facility BANK: 1 router, 2 backends, 2 partitions)" on stdout and each
 * warning on stderr as "warning: FILE:LINE: message"; or the error, exactly as the daemons
 * would log it ("FILE:LINE: message"), on stderr. With --json one object on stdout:
 *   { "file", "ok", "error" (null when ok), "line" (null when none), "warnings": [...],
 *     "facility": null | { "name", "key": [ {type, offset, length} ], "routers": [names],
 *                         "backends": [names], "partitions": [ {name, low, high, primary,
 *                         secondary, standby} ] } }
 * --node NAME checks the file as daemon NAME would on its own host: NAME must be defined, and
 * only its journal directory (if it is a backend) is checked on this machine's file system.
 * Exit: TOOL_EXIT_OK valid (warnings allowed), TOOL_EXIT_FAIL invalid or unreadable,
 * TOOL_EXIT_USAGE bad command line.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmn.h"
#include "cmn_config.h"
#include "tool.h"

#define CLI_CHECK_USAGE "usage: rtrcli check facility FILE [--node NAME] [--json]\n"

static const char *
cli_check_plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* cli_check_names - a JSON array of the names at `base`, one every `stride` bytes. */
static json_t *
cli_check_names(const void *base, size_t n, size_t stride)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++) {
        char *const *name = (char *const *)(const void *)((const char *)base + i * stride);
        if (json_array_append_new(a, json_string(*name)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* cli_check_summary - the facility part of the --json object. Caller owns; NULL on NOMEM. */
static json_t *
cli_check_summary(const cmn_facility_t *fac)
{
    static const char *const types[] = { "signed", "unsigned", "string" };
    json_t *key = json_array(), *parts = json_array();

    if (key == NULL || parts == NULL)
        goto fail;
    for (size_t i = 0; i < fac->nseg; i++) {
        json_t *s =
            json_pack("{s:s, s:I, s:I}", "type", types[fac->seg[i].type], "offset",
                      (json_int_t)fac->seg[i].offset, "length", (json_int_t)fac->seg[i].length);
        if (json_array_append_new(key, s) != 0)
            goto fail;
    }
    for (size_t i = 0; i < fac->npartitions; i++) {
        const cmn_partition_t *p = &fac->partitions[i];
        json_t *standby = json_array();
        for (size_t k = 0; standby != NULL && k < p->nstandby; k++) {
            if (json_array_append_new(standby, json_string(p->standby[k]->name)) != 0) {
                json_decref(standby);
                standby = NULL;
            }
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:o, s:b, s:s}", "name", p->name, "low",
                              p->low_text, "high", p->high_text, "primary", p->primary->name,
                              "secondary", p->secondary != NULL ? p->secondary->name : NULL,
                              "standby", standby, "concurrent", p->concurrent, "remember",
                              p->remember == CMN_REMEMBER_DENY ? "deny" : "allow");
        if (json_array_append_new(parts, o) != 0)
            goto fail;
    }
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", fac->name, "key", key, "routers",
                     cli_check_names(fac->routers, fac->nrouters, sizeof *fac->routers), "backends",
                     cli_check_names(fac->backends, fac->nbackends, sizeof *fac->backends),
                     "partitions", parts);
fail:
    json_decref(key);
    json_decref(parts);
    return NULL;
}

/* cli_check_json - print the --json object; returns false when it could not be built. */
static bool
cli_check_json(const char *file, const cmn_facility_t *fac, const cmn_diag_t *diag)
{
    json_t *warnings = json_array(), *o;

    for (size_t i = 0; warnings != NULL && diag != NULL && i < diag->nwarnings; i++) {
        if (json_array_append_new(warnings, json_string(diag->warnings[i])) != 0) {
            json_decref(warnings);
            warnings = NULL;
        }
    }
    o = json_pack("{s:s, s:b, s:s?, s:o?, s:o, s:o?}", "file", file, "ok", fac != NULL, "error",
                  diag != NULL ? diag->error : NULL, "line",
                  diag != NULL && diag->line > 0 ? json_integer(diag->line) : NULL, "warnings",
                  warnings, "facility", fac != NULL ? cli_check_summary(fac) : NULL);
    if (o == NULL)
        return false;
    tool_json_print(o, stdout);
    json_decref(o);
    return true;
}

int
cli_check_facility(const cli_opts_t *opts, int argc, char **argv)
{
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_ALL, NULL };
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;
    const char *file = NULL;
    rtr_status_t sts;
    int rc;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(
                CLI_CHECK_USAGE
                "\nValidate a facility configuration file without starting anything: syntax,\n"
                "unknown or duplicate keys, types, key ranges, node names, endpoints, journal\n"
                "directories. Errors name the file and line.\n\n"
                "  --node NAME  check only NAME's journal directory (others are on other hosts)\n"
                "  --json       one JSON object: file, ok, error, line, warnings, facility\n"
                "\nexit status: 0 valid, 1 invalid, 2 usage error.\n");
            return TOOL_EXIT_OK;
        }
        if (strcmp(argv[i], "--node") == 0 && i + 1 < argc && lo.node == NULL) {
            lo.node = argv[++i];
            lo.journal_check = CMN_JOURNAL_CHECK_NODE;
        } else if (argv[i][0] != '-' && file == NULL) {
            file = argv[i];
        } else {
            fprintf(stderr, "rtrcli: check facility: unexpected argument '%s'\n" CLI_CHECK_USAGE,
                    argv[i]);
            return TOOL_EXIT_USAGE;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "rtrcli: check facility: missing FILE\n" CLI_CHECK_USAGE);
        return TOOL_EXIT_USAGE;
    }
    sts = cmn_facility_load_ex(file, &lo, &fac, &diag);
    rc = sts == RTR_STS_OK ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
    if (diag == NULL) {
        /* out of memory: nothing more can be said */
        fprintf(stderr, "rtrcli: check facility: %s: %s\n", file, rtr_error_text(sts));
        rc = TOOL_EXIT_FAIL;
        goto done;
    }
    if (opts->json) {
        if (!cli_check_json(file, fac, diag)) {
            fprintf(stderr, "rtrcli: check facility: out of memory\n");
            rc = TOOL_EXIT_FAIL;
        }
        goto done;
    }
    for (size_t i = 0; i < diag->nwarnings; i++)
        fprintf(stderr, "warning: %s\n", diag->warnings[i]);
    if (fac == NULL) {
        fprintf(stderr, "%s\n", diag->error != NULL ? diag->error : rtr_error_text(sts));
        goto done;
    }
    printf("%s: ok (facility %s: %zu router%s, %zu backend%s, %zu partition%s)\n", file, fac->name,
           fac->nrouters, cli_check_plural(fac->nrouters), fac->nbackends,
           cli_check_plural(fac->nbackends), fac->npartitions, cli_check_plural(fac->npartitions));
done:
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    return rc;
}
