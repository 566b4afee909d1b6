/*
 * opts.c - the tools' option parser: one table of option descriptors drives parsing,
 * validation and the --help list (STYLE §16), so a bound or a default is written once.
 *
 * Errors are the caller's usage errors: one line on stderr naming the program, the option and
 * what was wrong, so that a script calling a tool sees why it exited 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

int
tool_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || *s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* tool_opt_find - the descriptor named by word ("--name" or "--name=value"), or NULL. */
static const tool_opt_t *
tool_opt_find(const tool_opt_t *opts, size_t nopts, const char *word)
{
    const char *name = word + 2;
    size_t len = strcspn(name, "=");

    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

/* tool_opt_store - validate value for o and store it. Returns 0 or -1 (message printed). */
static int
tool_opt_store(const char *prog, const tool_opt_t *o, const char *value)
{
    uint64_t v;

    switch (o->type) {
    case TOOL_OPT_FLAG:
        if (value != NULL) {
            fprintf(stderr, "%s: --%s takes no value\n", prog, o->name);
            return -1;
        }
        *(bool *)o->dst = true;
        return 0;
    case TOOL_OPT_STR:
        *(const char **)o->dst = value;
        return 0;
    case TOOL_OPT_U64:
        if (tool_parse_u64(value, &v) != 0) {
            fprintf(stderr, "%s: --%s: '%s' is not a number (want %s, a decimal integer)\n", prog,
                    o->name, value, o->metavar ? o->metavar : "N");
            return -1;
        }
        if (v < o->min || v > o->max) {
            fprintf(stderr, "%s: --%s: %" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")\n",
                    prog, o->name, v, o->min, o->max);
            return -1;
        }
        *(uint64_t *)o->dst = v;
        return 0;
    }
    return -1;
}

/* tool_opt_one - handle the option word argv[*i] (which starts with '-'), consuming its value
 * from argv[*i + 1] if it needs one. Returns 0, TOOL_OPTS_HELP or -1. */
static int
tool_opt_one(const char *prog, const tool_opt_t *opts, size_t nopts, int argc, char **argv, int *i)
{
    const char *word = argv[*i];
    const char *eq = strchr(word, '=');
    const tool_opt_t *o;

    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0)
        return TOOL_OPTS_HELP;
    o = strncmp(word, "--", 2) == 0 ? tool_opt_find(opts, nopts, word) : NULL;
    if (o == NULL) {
        fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, word);
        return -1;
    }
    if (eq != NULL || o->type == TOOL_OPT_FLAG)
        return tool_opt_store(prog, o, eq != NULL ? eq + 1 : NULL);
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: --%s needs a value (%s)\n", prog, o->name,
                o->metavar ? o->metavar : "VALUE");
        return -1;
    }
    *i += 1;
    return tool_opt_store(prog, o, argv[*i]);
}

int
tool_opts_parse(const char *prog, const tool_opt_t *opts, size_t nopts, int argc, char **argv,
                char **pos, int maxpos, int *npos)
{
    bool only_pos = false;

    *npos = 0;
    for (size_t k = 0; k < nopts; k++)
        if (opts[k].type == TOOL_OPT_U64)
            *(uint64_t *)opts[k].dst = opts[k].def;
    for (int i = 0; i < argc; i++) {
        if (!only_pos && strcmp(argv[i], "--") == 0) {
            only_pos = true;
        } else if (!only_pos && argv[i][0] == '-' && argv[i][1] != '\0') {
            int rc = tool_opt_one(prog, opts, nopts, argc, argv, &i);
            if (rc != 0)
                return rc;
        } else if (*npos < maxpos) {
            pos[(*npos)++] = argv[i];
        } else {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, argv[i]);
            return -1;
        }
    }
    return 0;
}

void
tool_opts_usage(const tool_opt_t *opts, size_t nopts, FILE *out)
{
    int width = (int)strlen("--help");
    char left[128];

    for (size_t i = 0; i < nopts; i++) {
        int w = snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                         opts[i].metavar ? opts[i].metavar : "");
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < nopts; i++) {
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        fprintf(out, "  %-*s  %s", width, left, opts[i].help);
        if (opts[i].type == TOOL_OPT_U64)
            fprintf(out, " (default %" PRIu64 ", %" PRIu64 "..%" PRIu64 ")", opts[i].def,
                    opts[i].min, opts[i].max);
        fputc('\n', out);
    }
    fprintf(out, "  %-*s  this text\n", width, "--help");
}
