/*
 * tool_facility_test.c - `rtrcli start facility` and `rtrcli stop facility` with stand-in
 * daemons (tool_fake_daemon, linked as rtr-router and rtr-backend in a --bin directory): the
 * daemons are started with their pid files, answer `show` over their admin endpoints, a second
 * start refuses, stop ends them and removes the pid files; a daemon that dies at once fails the
 * start and the others are stopped again; one that ignores SIGTERM is killed after the
 * timeout; a stale pid file never gets its (recycled) pid signalled.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "tool_run.h"
#include "tst.h"

static char *tdir, *conf, *bin, *run;

static void
setup(void)
{
    char *p;

    tdir = tst_tmpdir("fac");
    conf = tool_facility_write(tdir, "f", NULL);
    cr_assert_geq(asprintf(&bin, "%s/bin", tdir), 0);
    cr_assert_geq(asprintf(&run, "%s/run", tdir), 0);
    cr_assert_eq(mkdir(bin, 0700), 0);
    cr_assert_geq(asprintf(&p, "%s/rtr-router", bin), 0);
    cr_assert_eq(symlink(FAKE_DAEMON_PATH, p), 0);
    free(p);
    cr_assert_geq(asprintf(&p, "%s/rtr-backend", bin), 0);
    cr_assert_eq(symlink(FAKE_DAEMON_PATH, p), 0);
    free(p);
}

static void
teardown(void)
{
    /* whatever a failed test left running: stop it by the recorded pids */
    const char *nodes[] = { "r1", "be1", "be2" };
    for (size_t i = 0; i < 3; i++) {
        char *p;
        size_t len;
        cr_assert_geq(asprintf(&p, "%s/%s.pid", run, nodes[i]), 0);
        char *text = tst_read_file(p, &len);
        if (text != NULL && atoi(text) > 1)
            kill((pid_t)atoi(text), SIGKILL);
        free(text);
        free(p);
    }
    tst_rmtree(tdir);
    free(tdir);
    free(conf);
    free(bin);
    free(run);
}

TestSuite(tool_facility, .init = setup, .fini = teardown, .timeout = 60);

static void
rtrcli(tool_run_t *r, char *const *env, const char *const *args)
{
    char *argv[16] = { RTRCLI_PATH };
    size_t n = 1;
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = (char *)(uintptr_t)args[i];
    argv[n] = NULL;
    tool_run(tdir, argv, env, r);
}

/* alive - is pid a running (not zombie) process? */
static bool
alive(pid_t pid)
{
    char path[64], buf[512];
    FILE *fp;
    size_t len;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return false;
    len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    const char *close = strrchr(buf, ')');
    return close != NULL && close[1] == ' ' && close[2] != 'Z' && close[2] != 'X';
}

/* pid_in_output - the pid of "started KIND NODE (pid N)" in out; 0 if absent. */
static pid_t
pid_in_output(const char *out, const char *kind, const char *node)
{
    char *needle;
    long pid = 0;
    cr_assert_geq(asprintf(&needle, "started %s %s (pid ", kind, node), 0);
    const char *p = strstr(out, needle);
    if (p != NULL)
        pid = strtol(p + strlen(needle), NULL, 10);
    free(needle);
    return (pid_t)pid;
}

/* pid_file - the pid in RUN/NODE.pid; 0 if there is no such file. */
static pid_t
pid_file(const char *node)
{
    char *p, *text;
    size_t len;
    pid_t pid = 0;
    cr_assert_geq(asprintf(&p, "%s/%s.pid", run, node), 0);
    if ((text = tst_read_file(p, &len)) != NULL)
        pid = (pid_t)atoi(text);
    free(text);
    free(p);
    return pid;
}

Test(tool_facility, start_show_stop)
{
    tool_run_t r;
    pid_t pr, p1, p2;

    rtrcli(&r, NULL,
           (const char *[]){ "start", "facility", conf, "--bin", bin, "--run", run, NULL });
    cr_assert_eq(r.status, 0, "exit %d\nstdout: %s\nstderr: %s", r.status, r.out, r.err);
    pr = pid_in_output(r.out, "router", "r1");
    p1 = pid_in_output(r.out, "backend", "be1");
    p2 = pid_in_output(r.out, "backend", "be2");
    cr_assert(pr > 0 && p1 > 0 && p2 > 0, "%s", r.out);
    cr_expect_eq(pid_file("r1"), pr);
    cr_expect_eq(pid_file("be1"), p1);
    cr_expect_eq(pid_file("be2"), p2);
    cr_expect(alive(pr) && alive(p1) && alive(p2));
    cr_expect(strstr(r.out, "r1 answers on ipc:///tmp/rtrt-") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "be2 answers on ipc:///tmp/rtrt-") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "facility FAC is up: 1 router, 2 backends") != NULL, "%s", r.out);
    tool_run_free(&r);

    /* the started daemons answer rtrcli show: the stand-in reports its pid */
    rtrcli(&r, NULL, (const char *[]){ "--json", "show", "backend", "--config", conf, NULL });
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    json_t *a = json_loads(r.out, 0, NULL);
    cr_assert(json_is_array(a), "%s", r.out);
    cr_expect_eq(json_array_size(a), 2);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(a, 0), "pid")), p1);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(a, 1), "pid")), p2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "command")),
                     "show backend");
    json_decref(a);
    tool_run_free(&r);

    /* a second start refuses and starts nothing */
    rtrcli(&r, NULL,
           (const char *[]){ "start", "facility", conf, "--bin", bin, "--run", run, NULL });
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "r1 is already running (pid ") != NULL, "%s", r.err);
    cr_expect_str_eq(r.out, "");
    cr_expect(alive(pr) && alive(p1) && alive(p2), "a refused start touched the daemons");
    tool_run_free(&r);

    rtrcli(&r, NULL, (const char *[]){ "stop", "facility", conf, "--run", run, NULL });
    cr_expect_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
    cr_expect(strstr(r.out, "stopped r1 (pid ") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "stopped be1 (pid ") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "stopped be2 (pid ") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "SIGKILL") == NULL, "SIGTERM should have been enough: %s", r.out);
    cr_expect(!alive(pr) && !alive(p1) && !alive(p2), "a daemon survived stop");
    cr_expect_eq(pid_file("r1") + pid_file("be1") + pid_file("be2"), 0, "pid files left");
    tool_run_free(&r);

    rtrcli(&r, NULL, (const char *[]){ "stop", "facility", conf, "--run", run, NULL });
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "facility FAC: nothing running") != NULL, "%s", r.out);
    tool_run_free(&r);
}

Test(tool_facility, daemon_dying_at_start_undoes_the_start)
{
    tool_run_t r;
    char *env[] = { "FAKE_EXIT_NODE=be2", NULL }, *want, *log, *text;
    size_t len;

    rtrcli(&r, env,
           (const char *[]){ "start", "facility", conf, "--bin", bin, "--run", run, NULL });
    cr_expect_eq(r.status, 1, "stdout: %s\nstderr: %s", r.out, r.err);
    cr_assert_geq(asprintf(&want, "be2 exited (status 3) before answering; see %s/be2.log", run),
                  0);
    cr_expect(strstr(r.err, want) != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "stopping what was started") != NULL, "%s", r.err);
    pid_t pr = pid_in_output(r.out, "router", "r1"), p1 = pid_in_output(r.out, "backend", "be1");
    cr_assert(pr > 0 && p1 > 0, "%s", r.out);
    cr_expect(!alive(pr) && !alive(p1), "the daemons that did start were not stopped");
    cr_expect_eq(pid_file("r1") + pid_file("be1") + pid_file("be2"), 0, "pid files left");
    /* the dead daemon's own words are in its log */
    cr_assert_geq(asprintf(&log, "%s/be2.log", run), 0);
    text = tst_read_file(log, &len);
    cr_assert_not_null(text);
    cr_expect(strstr(text, "exiting at once") != NULL, "%s", text);
    free(text);
    free(log);
    free(want);
    tool_run_free(&r);
}

Test(tool_facility, routes_not_complete_undoes_the_start)
{
    tool_run_t r;
    char *env[] = { "FAKE_BACKEND_DOWN=be2", NULL };

    rtrcli(&r, env,
           (const char *[]){ "start", "facility", conf, "--bin", bin, "--run", run, "--timeout",
                             "600", NULL });
    cr_expect_eq(r.status, 1, "stdout: %s\nstderr: %s", r.out, r.err);
    cr_expect(strstr(r.err, "router r1 does not see backend be2 connected") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "routes not complete within 600 ms") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "stopping what was started") != NULL, "%s", r.err);
    pid_t pr = pid_in_output(r.out, "router", "r1"), p2 = pid_in_output(r.out, "backend", "be2");
    cr_assert(pr > 0 && p2 > 0, "%s", r.out);
    cr_expect(!alive(pr) && !alive(p2), "the daemons were not stopped");
    tool_run_free(&r);
}

Test(tool_facility, sigkill_after_the_timeout)
{
    tool_run_t r;
    char *env[] = { "FAKE_IGNORE_TERM_NODE=be1", NULL };

    rtrcli(&r, env,
           (const char *[]){ "start", "facility", conf, "--bin", bin, "--run", run, NULL });
    cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
    pid_t p1 = pid_in_output(r.out, "backend", "be1");
    tool_run_free(&r);

    rtrcli(&r, NULL,
           (const char *[]){ "stop", "facility", conf, "--run", run, "--timeout", "300", NULL });
    cr_expect_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
    char *want;
    cr_assert_geq(asprintf(&want, "be1 (pid %ld) still running after 300 ms: SIGKILL\n", (long)p1),
                  0);
    cr_expect(strstr(r.out, want) != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "stopped be1 (pid ") != NULL, "%s", r.out);
    cr_expect(!alive(p1));
    cr_expect_eq(pid_file("be1"), 0);
    free(want);
    tool_run_free(&r);
}

Test(tool_facility, stale_pid_file_is_never_signalled)
{
    tool_run_t r;
    char *p, *text;

    cr_assert_eq(mkdir(run, 0700), 0);
    /* a pid file naming a live process that is not r1's daemon: this test process */
    cr_assert_geq(asprintf(&p, "%s/r1.pid", run), 0);
    cr_assert_geq(asprintf(&text, "%ld\n", (long)getpid()), 0);
    cr_assert_eq(tst_write_file(p, text, strlen(text)), 0);
    rtrcli(&r, NULL, (const char *[]){ "stop", "facility", conf, "--run", run, NULL });
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "r1: not running (stale pid file") != NULL, "%s", r.out);
    cr_expect_eq(access(p, F_OK), -1, "the stale pid file is still there");
    tool_run_free(&r);
    free(text);
    free(p);
}

Test(tool_facility, usage_and_missing_binaries)
{
    tool_run_t r;
    char *empty;

    cr_assert_geq(asprintf(&empty, "%s/empty", tdir), 0);
    cr_assert_eq(mkdir(empty, 0700), 0);
    rtrcli(&r, NULL,
           (const char *[]){ "start", "facility", conf, "--bin", empty, "--run", run, NULL });
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "rtr-router not found or not executable") != NULL, "%s", r.err);
    tool_run_free(&r);
    free(empty);

    rtrcli(&r, NULL, (const char *[]){ "start", "facility", NULL });
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "missing FILE") != NULL, "%s", r.err);
    tool_run_free(&r);

    rtrcli(&r, NULL, (const char *[]){ "start", "facility", "--help", NULL });
    cr_expect_eq(r.status, 0);
    cr_expect(strncmp(r.out, "usage: rtrcli start facility FILE", 33) == 0, "%s", r.out);
    tool_run_free(&r);

    rtrcli(&r, NULL, (const char *[]){ "stop", "facility", "--help", NULL });
    cr_expect_eq(r.status, 0);
    cr_expect(strncmp(r.out, "usage: rtrcli stop facility FILE", 32) == 0, "%s", r.out);
    tool_run_free(&r);

    rtrcli(&r, NULL, (const char *[]){ "stop", "facility", conf, "--timeout", "0", NULL });
    cr_expect_eq(r.status, 2);
    tool_run_free(&r);
}
