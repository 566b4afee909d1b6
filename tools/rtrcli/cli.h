/*
 * cli.h - rtrcli's command table. Each command lives in its own cli_<noun>.c and is listed in
 * main.c. A command gets argv after its words ("dump journal DIR ..." gets "DIR ...").
 *
 * Thread rule: single-threaded.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    bool json; /* --json given anywhere on the command line */
} cli_opts_t;

/* Returns a TOOL_EXIT_* code. Prints results to stdout, errors to stderr. */
typedef int cli_cmd_fn(const cli_opts_t *opts, int argc, char **argv);

typedef struct {
    const char *verb;  /* "dump" */
    const char *noun;  /* "journal" */
    const char *usage; /* "DIR [--partition P] [--tid T] [--state S] [--json]" */
    const char *help;  /* one line */
    cli_cmd_fn *fn;
} cli_cmd_t;

int cli_check_facility(const cli_opts_t *opts, int argc, char **argv);
int cli_dump_journal(const cli_opts_t *opts, int argc, char **argv);

#endif /* CLI_H */
