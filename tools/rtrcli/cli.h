/*
 * cli.h - rtrcli's command table. Each command lives in its own cli_<noun>.c and is listed in
 * main.c. A command gets argv after its words ("dump journal DIR ..." gets "DIR ...").
 *
 * Thread rule: single-threaded.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cmn.h"

/* Where the facility file is when neither --config nor RTR_CONFIG says. */
#define CLI_DEFAULT_CONFIG "/etc/rtr/facility.conf"

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

/* cli_show.c: ask the daemons over their admin endpoints */
int cli_show_facility(const cli_opts_t *opts, int argc, char **argv);
int cli_show_router(const cli_opts_t *opts, int argc, char **argv);
int cli_show_backend(const cli_opts_t *opts, int argc, char **argv);
int cli_show_partition(const cli_opts_t *opts, int argc, char **argv);
int cli_show_server(const cli_opts_t *opts, int argc, char **argv);
int cli_show_transaction(const cli_opts_t *opts, int argc, char **argv);
int cli_show_counters(const cli_opts_t *opts, int argc, char **argv);
int cli_set_transaction(const cli_opts_t *opts, int argc, char **argv);
int cli_show_register(const cli_opts_t *opts, int argc, char **argv);
int cli_show_meta(const cli_opts_t *opts, int argc, char **argv);

/* cli_register.c: the facility register (shadow pairs) */
int cli_bootstrap_facility(const cli_opts_t *opts, int argc, char **argv);

/* cli_bootstrap_run - the bootstrap itself on a loaded facility (also `start facility
 * --bootstrap`): ask, build, confirm unless `yes`, commit. With `if_empty` a register that
 * already holds state is not an error: it says so and returns TOOL_EXIT_OK. Returns a
 * TOOL_EXIT_* code, having said why on stderr when it is not TOOL_EXIT_OK. */
int cli_bootstrap_run(const cli_opts_t *opts, const cmn_facility_t *fac, uint64_t timeout_ms,
                      bool yes, bool if_empty);

/* cli_value_print - a register value as a table (text) or JSON, labelled `what` ("proposed",
 * "committed"). */
struct Rtr__RegisterValue;
void cli_value_print(const cli_opts_t *opts, const char *what, const struct Rtr__RegisterValue *v);

/* What a member's journal says about one partition (a "show meta" row). */
typedef struct {
    const char *node;
    bool found;
    uint64_t epoch_seen; /* highest of meta epoch, highest_epoch_seen, history epochs */
    uint64_t last_n;
    uint64_t last_epoch; /* epoch of the record at last_n (0 if none) */
} cli_member_t;

/* cli_member_read - fill *m from backend `answer` ("show meta" JSON) for partition `name`. */
struct json_t;
void cli_member_read(cli_member_t *m, const struct json_t *answer, const char *name);

/* cli_force.c: `set partition P /primary=NODE /force` */
int cli_set_partition(const cli_opts_t *opts, int argc, char **argv);

/* cli_facility.c: start and stop every daemon of a local facility */
int cli_start_facility(const cli_opts_t *opts, int argc, char **argv);
int cli_stop_facility(const cli_opts_t *opts, int argc, char **argv);

/* ---- helpers shared by the commands (cli_show.c) ---------------------------------------- */

/* cli_config_path - the facility file: `given` (--config) if not NULL, else $RTR_CONFIG if set
 * and not empty, else CLI_DEFAULT_CONFIG. Static or borrowed; never NULL. */
const char *cli_config_path(const char *given);

/* cli_facility_load - load a facility; on failure print "rtrcli: PROG: FILE:LINE: message" to
 * stderr and return NULL. Caller owns the result (cmn_facility_free). */
cmn_facility_t *cli_facility_load(const char *prog, const char *path, cmn_journal_check_t check);

/* cli_fmt_ms - a deadline as text: "2 s", "1.5 s", "250 ms". */
void cli_fmt_ms(uint64_t ms, char *buf, size_t len);

#endif /* CLI_H */
