/*
 * tool_run.c - helpers of the rtrcli tests (tool_run.h).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool_run.h"
#include "tst.h"

void
tool_run(const char *dir, char *const *argv, char *const *env, tool_run_t *r)
{
    char *outp, *errp;
    size_t len;
    int st;
    pid_t pid;

    cr_assert_geq(asprintf(&outp, "%s/run.out", dir), 0);
    cr_assert_geq(asprintf(&errp, "%s/run.err", dir), 0);
    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int n = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || n < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || dup2(n, 0) < 0)
            _exit(126);
        close_range(3, ~0u, 0); /* the test runner's own descriptors stay with it */
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv(env[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = tst_read_file(outp, &len);
    r->err = tst_read_file(errp, &len);
    cr_assert_not_null(r->out);
    cr_assert_not_null(r->err);
    free(outp);
    free(errp);
}

void
tool_run_free(tool_run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

char *
tool_admin_endpoint(const char *tag, const char *node)
{
    char *ep;
    cr_assert_geq(asprintf(&ep, "ipc:///tmp/rtrt-%ld-%s-%s.adm", (long)getpid(), tag, node), 0);
    return ep;
}

char *
tool_facility_write(const char *dir, const char *tag, char **admin_fmt_out)
{
    /* tcp ports are never bound by these tests, but a per-process base keeps them apart from
     * the other suites running in parallel all the same */
    int base = 24000 + (int)(getpid() % 300) * 10; /* < 32768: not ephemeral */
    long pid = (long)getpid();
    char *path, *text;

    cr_assert_geq(
        asprintf(
            &text,
            "facility = \"FAC\";\n"
            "key = ( { type = \"unsigned\"; offset = 0; length = 4; } );\n"
            "routers = ( { name = \"r1\"; clients = \"tcp://127.0.0.1:%d\";\n"
            "  peers = \"tcp://127.0.0.1:%d\"; admin = \"ipc:///tmp/rtrt-%ld-%s-r1.adm\"; } );\n"
            "backends = (\n"
            "  { name = \"be1\"; shadow = \"tcp://127.0.0.1:%d\";\n"
            "    servers = \"ipc:///tmp/rtrt-%ld-%s-be1.srv\";\n"
            "    admin = \"ipc:///tmp/rtrt-%ld-%s-be1.adm\"; journal = \"%s/j1\"; },\n"
            "  { name = \"be2\"; shadow = \"tcp://127.0.0.1:%d\";\n"
            "    servers = \"ipc:///tmp/rtrt-%ld-%s-be2.srv\";\n"
            "    admin = \"ipc:///tmp/rtrt-%ld-%s-be2.adm\"; journal = \"%s/j2\"; } );\n"
            "partitions = (\n"
            "  { name = \"P1\"; low = [ 0 ]; high = [ 499 ]; primary = \"be1\"; },\n"
            "  { name = \"P2\"; low = [ 500 ]; high = [ 999 ]; primary = \"be2\"; } );\n",
            base, base + 1, pid, tag, base + 2, pid, tag, pid, tag, dir, base + 3, pid, tag, pid,
            tag, dir),
        0);
    cr_assert_geq(asprintf(&path, "%s/facility.conf", dir), 0);
    cr_assert_eq(tst_write_file(path, text, strlen(text)), 0);
    free(text);
    if (admin_fmt_out != NULL)
        cr_assert_geq(asprintf(admin_fmt_out, "ipc:///tmp/rtrt-%ld-%s-%%s.adm", pid, tag), 0);
    return path;
}
