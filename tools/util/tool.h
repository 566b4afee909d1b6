/*
 * tool.h - what rtrcli and rtrbench share: exit codes, aligned text tables, a table-driven
 * option parser, latency percentiles and duration formatting, and a few file-system helpers.
 * JSON output always goes through jansson (never hand-built).
 *
 * Thread rule: single-threaded use (command-line tools).
 */
#ifndef TOOL_H
#define TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes of every tool. */
#define TOOL_EXIT_OK    0
#define TOOL_EXIT_FAIL  1 /* the command ran and found a problem (bad config, damaged journal) */
#define TOOL_EXIT_USAGE 2 /* the command line was wrong */

typedef struct tool_table tool_table_t;

/* tool_table_new - a table with ncols columns named by `headers` (borrowed, must outlive the
 * table). A header that starts with '>' is right-aligned (the '>' is not printed).
 * Returns NULL on out of memory. */
tool_table_t *tool_table_new(size_t ncols, const char *const *headers);

/* tool_table_add - append a row of ncols cells given as strings (copied; NULL prints as "").
 * Returns 0, or -1 on out of memory (the table is unchanged). */
int tool_table_add(tool_table_t *t, const char *const *cells);

/* tool_table_metric - append a two-column METRIC/VALUE row, the value formatted like printf
 * (at most 63 characters). Returns what tool_table_add returns. */
int tool_table_metric(tool_table_t *t, const char *metric, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tool_table_print - print the header and rows aligned; the table is unchanged. */
void tool_table_print(const tool_table_t *t, FILE *out);

/* tool_table_free - free and NULL the caller's pointer; accepts NULL. */
void tool_table_free(tool_table_t **t);

/* tool_json_print - print a JSON value (indented, keys in insertion order, reals with at most
 * 12 significant digits) and a newline to out. Steals nothing. */
void tool_json_print(const json_t *v, FILE *out);

/* ---- admin answers (JSON convention of the admin protocol) ------------------------------ */

/* tool_json_cell - a JSON value as one table cell: strings as is, numbers in decimal, true /
 * false, null as "-", arrays and objects as compact JSON. Caller frees; NULL on NOMEM. */
char *tool_json_cell(const json_t *v);

/* tool_json_scalars_print - print every top-level field of obj except title, columns and rows
 * as "PREFIXkey: value" (value as tool_json_cell), in the object's order. prefix may be NULL.
 * Returns 0, or -1 on out of memory. */
int tool_json_scalars_print(const json_t *obj, const char *prefix, FILE *out);

/* tool_json_rows_print - print `rows` (an array of arrays) as an aligned table headed by
 * `columns` (an array of names); columns whose cells are all numbers are right-aligned; an
 * empty table prints the header and "(none)". Returns 0, or -1 on out of memory. */
int tool_json_rows_print(const json_t *columns, const json_t *rows, FILE *out);

/* tool_json_table_print - render one admin answer {"title", "columns", "rows", ...}: the title
 * line, the other top-level fields as "key: value" lines, then the table. Returns 0, or -1 if
 * obj is not an object or on out of memory. */
int tool_json_table_print(const json_t *obj, FILE *out);

/* tool_jtable_free_strings - free v[0..n) and v; accepts NULL. */
void tool_jtable_free_strings(char **v, size_t n);

/* ---- options ------------------------------------------------------------------------- */

/* One command-line option. A command keeps a static-lifetime array of these: it drives
 * parsing, validation (bounds) and the option list of --help, so they cannot disagree. */
typedef enum {
    TOOL_OPT_FLAG, /* dst is bool *: set to true; takes no value */
    TOOL_OPT_STR,  /* dst is const char **: the value, borrowed from argv */
    TOOL_OPT_U64,  /* dst is uint64_t *: a decimal number within [min, max] */
} tool_opt_type_t;

typedef struct {
    const char *name; /* long name without the dashes: "producers" */
    tool_opt_type_t type;
    const char *metavar; /* "N" in the help text; NULL for flags */
    const char *help;    /* one line */
    uint64_t def;        /* TOOL_OPT_U64: stored into *dst before parsing, shown in --help */
    uint64_t min, max;   /* TOOL_OPT_U64: accepted range */
    void *dst;
} tool_opt_t;

#define TOOL_OPTS_HELP 1 /* tool_opts_parse: --help or -h was given */

/* tool_opts_parse - parse argv[0..argc) against opts[0..nopts).
 * Options are "--name VALUE" or "--name=VALUE"; "--" ends the options. Every other word is a
 * positional argument, stored (borrowed from argv) in pos[0..maxpos) and counted in *npos.
 * First sets each TOOL_OPT_U64 *dst to its def (other dsts are left as the caller set them).
 * Returns 0 on success, TOOL_OPTS_HELP if --help/-h was seen (parsing stops there), or -1
 * after printing one clear message prefixed with `prog` to stderr: unknown option, missing
 * value, not a number, out of range, a flag given a value, too many positional arguments. */
int tool_opts_parse(const char *prog, const tool_opt_t *opts, size_t nopts, int argc, char **argv,
                    char **pos, int maxpos, int *npos);

/* tool_opts_usage - print the option list, one "  --name METAVAR  help (default D)" per line,
 * aligned, followed by "  --help". */
void tool_opts_usage(const tool_opt_t *opts, size_t nopts, FILE *out);

/* tool_parse_u64 - strict decimal: digits only, no sign, no trailing text, no overflow.
 * Returns 0 and sets *out, or -1. */
int tool_parse_u64(const char *s, uint64_t *out);

/* ---- latency statistics ---------------------------------------------------------------- */

/* tool_sort_u64 - sort v[0..n) ascending in place. */
void tool_sort_u64(uint64_t *v, size_t n);

/* tool_percentile - the p-th percentile (0 < p <= 100) of sorted[0..n) by the nearest-rank
 * method: the smallest value such that at least p% of the samples are <= it. 0 if n == 0. */
uint64_t tool_percentile(const uint64_t *sorted, size_t n, double p);

/* tool_fmt_ns - a duration in nanoseconds as text with a unit chosen for 3-4 significant
 * digits ("850 ns", "412.3 us", "1.93 ms", "2.05 s") into buf; returns buf. */
char *tool_fmt_ns(uint64_t ns, char *buf, size_t len);

/* ---- files ----------------------------------------------------------------------------- */

/* tool_mkdtemp - create a fresh directory $TMPDIR/<prefix>-XXXXXX (TMPDIR unset or empty:
 * /tmp). Returns its path (caller frees), or NULL with errno set. */
char *tool_mkdtemp(const char *prefix);

/* tool_rmtree - remove path and everything under it without following symlinks (keep_top:
 * remove only what is under it). Returns 0, or -1 with errno of the first failure (it goes on
 * removing what it can). A missing path is not an error. */
int tool_rmtree(const char *path, bool keep_top);

/* tool_dir_is_empty - 1 if path is an empty directory, 0 if it is a non-empty directory,
 * -1 with errno set otherwise (ENOENT if it does not exist, ENOTDIR if it is no directory). */
int tool_dir_is_empty(const char *path);

#endif /* TOOL_H */
