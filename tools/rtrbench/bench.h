/*
 * bench.h - rtrbench's command table. Each benchmark lives in its own bench_<name>.c and is
 * one row of bench_cmds in main.c; `rtrbench --help` is generated from that table.
 *
 * Thread rule: a command is called on the main thread; it may start and join its own threads.
 */
#ifndef BENCH_H
#define BENCH_H

/* Returns a TOOL_EXIT_* code; gets argv after the command name. Prints its report to stdout,
 * progress and errors to stderr. */
typedef int bench_cmd_fn(int argc, char **argv);

typedef struct {
    const char *name;  /* "journal" */
    const char *usage; /* "--producers N --records M --size B [--dir D] [--keep] [--json]" */
    const char *help;  /* one line */
    bench_cmd_fn *fn;
} bench_cmd_t;

int bench_journal(int argc, char **argv);
int bench_tx(int argc, char **argv); /* links librtr */

#endif /* BENCH_H */
