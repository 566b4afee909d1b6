/*
 * tool.h - what rtrcli and rtrbench share: aligned text tables and exit codes.
 * JSON output always goes through jansson (never hand-built).
 *
 * Thread rule: single-threaded use (command-line tools).
 */
#ifndef TOOL_H
#define TOOL_H

#include <stdbool.h>
#include <stddef.h>
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

/* tool_table_add - append a row of ncols cells, formatted with printf-like fmt per cell:
 * the cells are given as strings (copied). */
int tool_table_add(tool_table_t *t, const char *const *cells);

/* tool_table_print - print the header and rows aligned, then free nothing. */
void tool_table_print(const tool_table_t *t, FILE *out);

/* tool_table_free - free and NULL the caller's pointer; accepts NULL. */
void tool_table_free(tool_table_t **t);

/* tool_json_print - print a JSON value (indented) and a newline to out. Steals nothing. */
void tool_json_print(const json_t *v, FILE *out);

#endif /* TOOL_H */
