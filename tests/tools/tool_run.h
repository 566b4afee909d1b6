/*
 * tool_run.h - helpers of the rtrcli tests (tests/tools): run a program with its output in
 * files, and write a small facility whose ipc endpoints are unique to the test process.
 * Thread rule: call from the test's own thread.
 */
#ifndef TOOL_RUN_H
#define TOOL_RUN_H

#include <stddef.h>

/* The result of one run: exit status (128 + signal if killed) and its whole output. */
typedef struct {
    int status;
    char *out; /* stdout, NUL-terminated; caller frees with tool_run_free */
    char *err; /* stderr */
} tool_run_t;

/* tool_run - run argv[0] (a path) with argv, extra environment entries env ("NAME=VALUE",
 * NULL-terminated; may be NULL), stdout and stderr captured in files under dir. Waits for it
 * to exit. Aborts the test on a local failure. */
void tool_run(const char *dir, char *const *argv, char *const *env, tool_run_t *r);

/* tool_run_free - free the captured output. */
void tool_run_free(tool_run_t *r);

/* tool_facility_write - write dir/facility.conf: facility FAC, routers r1, backends be1 and be2
 * (partitions P1 = [0..499], P2 = [500..999]), admin endpoints
 * ipc:///tmp/rtrt-<pid>-<tag>-<node>.adm, tcp ports from a per-process base. Returns the path
 * (caller frees). *admin_fmt_out (if not NULL) gets the endpoint format with one %s for the
 * node (caller frees). */
char *tool_facility_write(const char *dir, const char *tag, char **admin_fmt_out);

/* tool_admin_endpoint - the admin endpoint of `node` in a facility written by
 * tool_facility_write with `tag`. Caller frees. */
char *tool_admin_endpoint(const char *tag, const char *node);

#endif /* TOOL_RUN_H */
