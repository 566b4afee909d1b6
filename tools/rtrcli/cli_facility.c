/*
 * cli_facility.c - `rtrcli start facility FILE [--bin DIR] [--run DIR] [--timeout MS]` and
 * `rtrcli stop facility FILE [--run DIR] [--timeout MS]`: run every node of a LOCAL facility
 * (development, demos, tests).
 *
 * start: every router, then every backend, is started as
 *     rtr-router|rtr-backend --config FILE --node NAME --log RUN/NAME.log
 * in a session of its own (setsid: it outlives rtrcli and the terminal), stdin from /dev/null,
 * stdout and stderr appended to RUN/NAME.log too (so a daemon that dies before opening its log
 * still leaves its message there). Its pid goes to RUN/NAME.pid. The binaries are taken from
 * --bin DIR, else from the directory of rtrcli's own binary, else (build tree) from
 * ../router and ../backend beside it. RUN defaults to /tmp/rtr-run-<facility>.
 * Then rtrcli waits until each daemon answers its admin endpoint ("show router" or "show
 * backend", asked again every 200 ms until --timeout, default 10 s) and prints each as it
 * answers, and then until every router sees every backend connected ("show facility": the
 * backend's hello arrived, so its partitions are routed; a client started right after `start
 * facility` returns finds its destinations). A daemon that exits first, or a daemon or route
 * not ready in time, fails the start: every daemon this command started is stopped again and
 * the command exits 1, naming the log.
 * A node whose pid file names a live daemon of that node makes start refuse before starting
 * anything ("already running").
 * With --bootstrap, once everything is up, a facility with shadowed partitions whose register
 * is empty on every router is bootstrapped as `rtrcli bootstrap facility --yes` does
 * (cli_register.c); a register that already holds a value is left alone.
 *
 * stop: SIGTERM to each daemon named by a pid file (only if /proc/PID/cmdline shows it is the
 * daemon of that node: a recycled pid is never signalled), waits for all of them to exit
 * (pidfds, one deadline --timeout, default 5 s), SIGKILL to the ones still there, and removes
 * the pid files. Exit 0 when every recorded daemon is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cmn.h"
#include "tool.h"
#include "tool_admin.h"

#define CLI_FAC_MAXNODES 64
#define CLI_FAC_RETRY_MS 200 /* ask a starting daemon again after this long */

/* One node of the facility, as start and stop see it. */
typedef struct {
    const char *name;
    const char *admin;
    bool router;
    char pidfile[PATH_MAX];
    char log[PATH_MAX];
    pid_t pid;  /* 0 = none */
    bool child; /* started by this process (reap it with waitpid) */
    bool up;
    int pidfd;
} cli_node_t;

typedef struct {
    cmn_facility_t *fac;
    char run[PATH_MAX];
    size_t n;
    cli_node_t nodes[CLI_FAC_MAXNODES];
} cli_fac_t;

/* ---- helpers -------------------------------------------------------------------------- */

/* cli_mkdirs - mkdir -p with mode 0700 for what it creates. */
static int
cli_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* cli_fac_nodes - fill f->nodes (routers first) and the run directory. */
static int
cli_fac_nodes(cli_fac_t *f, const char *run)
{
    const cmn_facility_t *fac = f->fac;
    int n;

    if (fac->nrouters + fac->nbackends > CLI_FAC_MAXNODES)
        return -1;
    n = run != NULL ? snprintf(f->run, sizeof f->run, "%s", run)
                    : snprintf(f->run, sizeof f->run, "/tmp/rtr-run-%s", fac->name);
    if (n < 0 || (size_t)n >= sizeof f->run)
        return -1;
    for (size_t i = 0; i < fac->nrouters + fac->nbackends; i++) {
        cli_node_t *nd = &f->nodes[f->n++];
        bool router = i < fac->nrouters;
        memset(nd, 0, sizeof *nd);
        nd->router = router;
        nd->name = router ? fac->routers[i].name : fac->backends[i - fac->nrouters].name;
        nd->admin = router ? fac->routers[i].admin : fac->backends[i - fac->nrouters].admin;
        nd->pidfd = -1;
        if (snprintf(nd->pidfile, sizeof nd->pidfile, "%s/%s.pid", f->run, nd->name) >=
                (int)sizeof nd->pidfile ||
            snprintf(nd->log, sizeof nd->log, "%s/%s.log", f->run, nd->name) >= (int)sizeof nd->log)
            return -1;
    }
    return 0;
}

/* cli_pid_read - the pid in a pid file; 0 if there is none or it is not a pid. */
static pid_t
cli_pid_read(const char *path)
{
    FILE *fp = fopen(path, "r");
    long v = 0;
    char extra;

    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%ld%c", &v, &extra) < 1 || v <= 1 || v > INT_MAX)
        v = 0;
    fclose(fp);
    return (pid_t)v;
}

/* cli_pid_write - write the pid file atomically (temp file + rename). */
static int
cli_pid_write(const char *path, pid_t pid)
{
    char tmp[PATH_MAX + 8];
    FILE *fp;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if ((fp = fopen(tmp, "w")) == NULL)
        return -1;
    fprintf(fp, "%ld\n", (long)pid);
    if (fclose(fp) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* cli_pid_is_node - is pid a live process started as the daemon of `node` (its command line
 * has "--node NODE")? A zombie counts as gone. */
static bool
cli_pid_is_node(pid_t pid, const char *node)
{
    char path[64], buf[4096];
    size_t len;
    FILE *fp;
    bool found = false;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return false;
    len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    const char *close = strrchr(buf, ')');
    if (close == NULL || close[1] != ' ' || close[2] == 'Z' || close[2] == 'X')
        return false;
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return false;
    len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    for (size_t i = 0; i < len && !found;) {
        const char *arg = buf + i;
        size_t alen = strlen(arg);
        if (strcmp(arg, "--node") == 0 && i + alen + 1 < len)
            found = strcmp(arg + alen + 1, node) == 0;
        i += alen + 1;
    }
    return found;
}

/* cli_pidfd - a pollable handle on a process (readable once it has exited), or -1. */
static int
cli_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* cli_node_gone - has the node's process exited? Reaps it if it is our child. */
static bool
cli_node_gone(cli_node_t *nd)
{
    if (nd->pid == 0)
        return true;
    if (nd->child) {
        int st;
        pid_t r = waitpid(nd->pid, &st, WNOHANG);
        return r == nd->pid || (r < 0 && errno == ECHILD);
    }
    return !cli_pid_is_node(nd->pid, nd->name);
}

/* cli_wait_gone - wait until every node with a pid has exited or the deadline passes.
 * Returns the number still running. */
static size_t
cli_wait_gone(cli_fac_t *f, uint64_t deadline_ns)
{
    for (;;) {
        struct pollfd pfd[CLI_FAC_MAXNODES];
        size_t alive = 0, npfd = 0;
        uint64_t now = cmn_now_mono_ns();

        for (size_t i = 0; i < f->n; i++) {
            cli_node_t *nd = &f->nodes[i];
            if (nd->pid == 0)
                continue;
            if (cli_node_gone(nd)) {
                if (nd->pidfd >= 0)
                    close(nd->pidfd);
                nd->pidfd = -1;
                nd->pid = 0;
                continue;
            }
            alive++;
            if (nd->pidfd < 0)
                nd->pidfd = cli_pidfd(nd->pid);
            if (nd->pidfd >= 0)
                pfd[npfd++] = (struct pollfd){ .fd = nd->pidfd, .events = POLLIN };
        }
        if (alive == 0 || now >= deadline_ns)
            return alive;
        /* Without pidfds (old kernels) look again every 50 ms: there is nothing to wait on. */
        int wait_ms = npfd == alive ? (int)((deadline_ns - now + 999999u) / 1000000u) : 50;
        if (wait_ms > (int)((deadline_ns - now + 999999u) / 1000000u))
            wait_ms = (int)((deadline_ns - now + 999999u) / 1000000u);
        if (npfd > 0)
            poll(pfd, npfd, wait_ms);
        else
            poll(NULL, 0, wait_ms);
    }
}

/* cli_stop_nodes - SIGTERM every node with a pid, wait until timeout_ms, SIGKILL the rest and
 * wait 2 s more. Prints one line per node. Returns the number that could not be stopped. */
static size_t
cli_stop_nodes(cli_fac_t *f, uint64_t timeout_ms)
{
    pid_t pids[CLI_FAC_MAXNODES] = { 0 };
    size_t left;
    char t[32];

    for (size_t i = 0; i < f->n; i++) {
        cli_node_t *nd = &f->nodes[i];
        pids[i] = nd->pid;
        if (nd->pid == 0)
            continue;
        nd->pidfd = cli_pidfd(nd->pid); /* before the signal: the pid stays this process's */
        if (kill(nd->pid, SIGTERM) != 0 && errno != ESRCH)
            fprintf(stderr, "rtrcli: %s (pid %ld): cannot signal it: %s\n", nd->name, (long)nd->pid,
                    strerror(errno));
    }
    left = cli_wait_gone(f, cmn_now_mono_ns() + timeout_ms * 1000000u);
    cli_fmt_ms(timeout_ms, t, sizeof t);
    for (size_t i = 0; left > 0 && i < f->n; i++) {
        cli_node_t *nd = &f->nodes[i];
        if (nd->pid != 0) {
            printf("%s (pid %ld) still running after %s: SIGKILL\n", nd->name, (long)nd->pid, t);
            kill(nd->pid, SIGKILL);
        }
    }
    if (left > 0)
        left = cli_wait_gone(f, cmn_now_mono_ns() + 2000u * 1000000u);
    for (size_t i = 0; i < f->n; i++) {
        cli_node_t *nd = &f->nodes[i];
        if (pids[i] == 0)
            continue;
        if (nd->pid == 0) {
            printf("stopped %s (pid %ld)\n", nd->name, (long)pids[i]);
            unlink(nd->pidfile);
        } else {
            fprintf(stderr, "rtrcli: %s (pid %ld) could not be stopped\n", nd->name, (long)nd->pid);
        }
    }
    fflush(stdout);
    return left;
}

/* cli_fac_shadowed - does the facility have a shadowed partition (a register)? */
static bool
cli_fac_shadowed(const cmn_facility_t *fac)
{
    for (size_t i = 0; i < fac->npartitions; i++)
        if (fac->partitions[i].secondary != NULL)
            return true;
    return false;
}

static void
cli_fac_close(cli_fac_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->nodes[i].pidfd >= 0)
            close(f->nodes[i].pidfd);
    cmn_facility_free(&f->fac);
}

/* ---- start ---------------------------------------------------------------------------- */

/* cli_find_bin - the daemon binary `name`: in `bin` if given, else beside rtrcli, else in
 * ../SUBDIR beside rtrcli (the build tree). Writes it to out; returns 0 or -1. */
static int
cli_find_bin(const char *bin, const char *name, const char *subdir, char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n;
    int w;

    if (bin != NULL) {
        w = snprintf(out, len, "%s/%s", bin, name);
        return w > 0 && (size_t)w < len ? access(out, X_OK) : -1;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    w = snprintf(out, len, "%s/%s", self, name);
    if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
        return 0;
    w = snprintf(out, len, "%s/../%s/%s", self, subdir, name);
    return w > 0 && (size_t)w < len ? access(out, X_OK) : -1;
}

/* cli_spawn - start one daemon; the child never returns. */
static pid_t
cli_spawn(const char *path, const char *config, cli_node_t *nd)
{
    char *const argv[] = { (char *)(uintptr_t)path,
                           "--config",
                           (char *)(uintptr_t)config,
                           "--node",
                           (char *)(uintptr_t)nd->name,
                           "--log",
                           nd->log,
                           NULL };
    int logfd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t pid;

    if (logfd < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        setsid();
        if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(logfd, STDOUT_FILENO) < 0 ||
            dup2(logfd, STDERR_FILENO) < 0)
            _exit(127);
        close_range(3, ~0u, 0); /* nothing of rtrcli's (or its caller's) leaks into a daemon */
        execv(path, argv);
        fprintf(stderr, "rtrcli: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(logfd);
    return pid;
}

/* cli_start_check - refuse to start over a running node; remove stale pid files. */
static int
cli_start_check(cli_fac_t *f)
{
    int rc = 0;

    for (size_t i = 0; i < f->n; i++) {
        cli_node_t *nd = &f->nodes[i];
        pid_t pid = cli_pid_read(nd->pidfile);
        if (pid == 0)
            continue;
        if (cli_pid_is_node(pid, nd->name)) {
            fprintf(stderr,
                    "rtrcli: start facility: %s is already running (pid %ld, %s); "
                    "stop the facility first\n",
                    nd->name, (long)pid, nd->pidfile);
            rc = -1;
        } else {
            unlink(nd->pidfile); /* stale: its process is gone */
        }
    }
    return rc;
}

/* cli_routes_missing - ask every router for "show facility"; the number of (router, backend)
 * pairs not yet "connected" (a router that does not answer counts once). With `say`, name
 * each on stderr. */
static size_t
cli_routes_missing(tool_admin_t *ar, bool say)
{
    size_t missing = 0;

    tool_admin_reset(ar);
    tool_admin_query(ar, "show facility", NULL, 0, CLI_FAC_RETRY_MS);
    for (size_t i = 0; i < tool_admin_count(ar); i++) {
        const tool_admin_target_t *t = tool_admin_target(ar, i);
        json_t *rows = t->json != NULL ? json_object_get(t->json, "rows") : NULL, *row;
        size_t k;

        if (!t->answered || t->status != RTR_STS_OK || !json_is_array(rows)) {
            if (say)
                fprintf(stderr, "rtrcli: node %s: no answer to show facility\n", t->node);
            missing++;
            continue;
        }
        json_array_foreach(rows, k, row)
        {
            const char *kind = json_string_value(json_array_get(row, 1));
            const char *state = json_string_value(json_array_get(row, 2));
            if (kind == NULL || strcmp(kind, "backend") != 0 ||
                (state != NULL && strcmp(state, "connected") == 0))
                continue;
            if (say)
                fprintf(stderr, "rtrcli: router %s does not see backend %s connected\n", t->node,
                        json_string_value(json_array_get(row, 0)));
            missing++;
        }
    }
    return missing;
}

/* cli_start_wait - wait until every started daemon answers its admin endpoint, then until
 * every router sees every backend. Returns 0, or -1 after saying what was not ready. */
static int
cli_start_wait(cli_fac_t *f, uint64_t timeout_ms)
{
    tool_admin_t *ar = tool_admin_new(), *ab = tool_admin_new();
    uint64_t start = cmn_now_mono_ns(), deadline = start + timeout_ms * 1000000u;
    int idx[CLI_FAC_MAXNODES];
    size_t up = 0;
    int rc = -1;

    if (ar == NULL || ab == NULL)
        goto done;
    for (size_t i = 0; i < f->n; i++) {
        idx[i] = tool_admin_add(f->nodes[i].router ? ar : ab, f->nodes[i].name, f->nodes[i].admin);
        if (idx[i] < 0) {
            fprintf(stderr, "rtrcli: start facility: %s: bad admin endpoint %s\n", f->nodes[i].name,
                    f->nodes[i].admin);
            goto done;
        }
    }
    while (up < f->n) {
        tool_admin_query(ar, "show router", NULL, 0, CLI_FAC_RETRY_MS);
        tool_admin_query(ab, "show backend", NULL, 0, CLI_FAC_RETRY_MS);
        for (size_t i = 0; i < f->n; i++) {
            cli_node_t *nd = &f->nodes[i];
            const tool_admin_target_t *t = tool_admin_target(nd->router ? ar : ab, (size_t)idx[i]);
            if (nd->up)
                continue;
            if (t->answered) {
                nd->up = true;
                up++;
                printf("%s answers on %s (%.2f s)\n", nd->name, nd->admin,
                       (double)(cmn_now_mono_ns() - start) / 1e9);
                fflush(stdout);
                continue;
            }
            int st = 0;
            if (waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
                fprintf(stderr,
                        "rtrcli: start facility: %s exited (%s %d) before answering; "
                        "see %s\n",
                        nd->name, WIFEXITED(st) ? "status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), nd->log);
                nd->pid = 0;
                goto done;
            }
        }
        if (up < f->n && cmn_now_mono_ns() >= deadline) {
            char t[32];
            cli_fmt_ms(timeout_ms, t, sizeof t);
            for (size_t i = 0; i < f->n; i++)
                if (!f->nodes[i].up)
                    fprintf(stderr, "rtrcli: node %s: no answer from %s within %s; see %s\n",
                            f->nodes[i].name, f->nodes[i].admin, t, f->nodes[i].log);
            goto done;
        }
    }
    while (cli_routes_missing(ar, false) > 0) {
        if (cmn_now_mono_ns() >= deadline) {
            char t[32];
            cli_fmt_ms(timeout_ms, t, sizeof t);
            cli_routes_missing(ar, true);
            fprintf(stderr, "rtrcli: start facility: routes not complete within %s\n", t);
            goto done;
        }
        /* a short pause between polls: the query itself returns as soon as all answered */
        poll(NULL, 0, 20);
    }
    printf("every router sees every backend (%.2f s)\n", (double)(cmn_now_mono_ns() - start) / 1e9);
    rc = 0;
done:
    tool_admin_free(&ar);
    tool_admin_free(&ab);
    return rc;
}

static void
cli_start_usage(const tool_opt_t *o, size_t no, FILE *out)
{
    fprintf(out, "usage: rtrcli start facility FILE [--bin DIR] [--run DIR] [--timeout MS] "
                 "[--bootstrap]\n\n"
                 "Start every router and backend of a facility whose nodes all run on this "
                 "machine,\neach as `rtr-router|rtr-backend --config FILE --node NAME --log "
                 "RUN/NAME.log`,\nrecord their pids in RUN/NAME.pid and wait until each answers "
                 "its admin endpoint.\nWith --bootstrap, a facility with shadowed partitions whose "
                 "register is empty is then\nbootstrapped as by `rtrcli bootstrap facility --yes`."
                 "\nStop them with `rtrcli stop facility FILE`.\n\noptions:\n");
    tool_opts_usage(o, no, out);
    fprintf(out, "\nexit status: 0 every daemon answers (and, with --bootstrap, the register holds "
                 "a value),\n1 a daemon could not be started (those started are stopped again) "
                 "or the bootstrap failed\n(the daemons stay up), 2 usage error.\n");
}

int
cli_start_facility(const cli_opts_t *opts, int argc, char **argv)
{
    const char *bin = NULL, *run = NULL;
    uint64_t timeout_ms = 0;
    bool bootstrap = false;
    const tool_opt_t o[] = {
        { "bin", TOOL_OPT_STR, "DIR",
          "where rtr-router and rtr-backend are (default: beside rtrcli)", 0, 0, 0, &bin },
        { "run", TOOL_OPT_STR, "DIR", "pid and log files (default /tmp/rtr-run-FACILITY)", 0, 0, 0,
          &run },
        { "timeout", TOOL_OPT_U64, "MS", "how long to wait for every daemon to answer", 10000, 100,
          600000, &timeout_ms },
        { "bootstrap", TOOL_OPT_FLAG, NULL,
          "then bootstrap the facility register if it is empty (shadowed partitions)", 0, 0, 0,
          &bootstrap },
    };
    const size_t no = sizeof o / sizeof o[0];
    char *pos[1], router_bin[PATH_MAX], backend_bin[PATH_MAX], config[PATH_MAX];
    int npos = 0, rc;
    cli_fac_t f = { 0 };

    rc = tool_opts_parse("rtrcli: start facility", o, no, argc, argv, pos, 1, &npos);
    if (rc == TOOL_OPTS_HELP) {
        cli_start_usage(o, no, stdout);
        return TOOL_EXIT_OK;
    }
    if (rc != 0 || npos != 1) {
        if (rc == 0)
            fprintf(stderr, "rtrcli: start facility: missing FILE\n");
        cli_start_usage(o, no, stderr);
        return TOOL_EXIT_USAGE;
    }
    /* The daemons run in other directories' sessions: give them an absolute path. */
    if (realpath(pos[0], config) == NULL) {
        fprintf(stderr, "rtrcli: start facility: %s: %s\n", pos[0], strerror(errno));
        return TOOL_EXIT_FAIL;
    }
    if ((f.fac = cli_facility_load("start facility", config, CMN_JOURNAL_CHECK_ALL)) == NULL)
        return TOOL_EXIT_FAIL;
    rc = TOOL_EXIT_FAIL;
    if (cli_fac_nodes(&f, run) != 0) {
        fprintf(stderr, "rtrcli: start facility: too many nodes or too long a --run path\n");
        goto done;
    }
    if (cli_find_bin(bin, "rtr-router", "router", router_bin, sizeof router_bin) != 0 ||
        cli_find_bin(bin, "rtr-backend", "backend", backend_bin, sizeof backend_bin) != 0) {
        fprintf(stderr, "rtrcli: start facility: %s not found or not executable%s\n",
                access(router_bin, X_OK) != 0 ? "rtr-router" : "rtr-backend",
                bin != NULL ? "" : " beside rtrcli (give --bin DIR)");
        goto done;
    }
    if (cli_mkdirs(f.run) != 0) {
        fprintf(stderr, "rtrcli: start facility: cannot create %s: %s\n", f.run, strerror(errno));
        goto done;
    }
    if (cli_start_check(&f) != 0)
        goto done;
    for (size_t i = 0; i < f.n; i++) {
        cli_node_t *nd = &f.nodes[i];
        nd->pid = cli_spawn(nd->router ? router_bin : backend_bin, config, nd);
        if (nd->pid < 0) {
            nd->pid = 0;
            fprintf(stderr, "rtrcli: start facility: cannot start %s: %s\n", nd->name,
                    strerror(errno));
            goto undo;
        }
        nd->child = true;
        if (cli_pid_write(nd->pidfile, nd->pid) != 0) {
            fprintf(stderr, "rtrcli: start facility: cannot write %s: %s\n", nd->pidfile,
                    strerror(errno));
            goto undo;
        }
        printf("started %s %s (pid %ld), log %s\n", nd->router ? "router" : "backend", nd->name,
               (long)nd->pid, nd->log);
    }
    fflush(stdout);
    if (cli_start_wait(&f, timeout_ms) != 0)
        goto undo;
    printf("facility %s is up: %zu router%s, %zu backend%s (pid and log files in %s)\n",
           f.fac->name, f.fac->nrouters, f.fac->nrouters == 1 ? "" : "s", f.fac->nbackends,
           f.fac->nbackends == 1 ? "" : "s", f.run);
    rc = TOOL_EXIT_OK;
    /* the daemons stay up whatever the bootstrap says: the operator can retry it alone */
    if (bootstrap && cli_fac_shadowed(f.fac))
        rc = cli_bootstrap_run(opts, f.fac, timeout_ms, true, true);
    goto done;
undo:
    fprintf(stderr, "rtrcli: start facility: stopping what was started\n");
    cli_stop_nodes(&f, 2000);
    for (size_t i = 0; i < f.n; i++)
        if (f.nodes[i].child)
            unlink(f.nodes[i].pidfile);
done:
    cli_fac_close(&f);
    return rc;
}

/* ---- stop ----------------------------------------------------------------------------- */

static void
cli_stop_usage(const tool_opt_t *o, size_t no, FILE *out)
{
    fprintf(out, "usage: rtrcli stop facility FILE [--run DIR] [--timeout MS]\n\n"
                 "Stop the daemons `rtrcli start facility FILE` started: SIGTERM to each pid "
                 "recorded in\nRUN/NAME.pid, SIGKILL to any still running after the timeout; "
                 "the pid files are removed.\n\noptions:\n");
    tool_opts_usage(o, no, out);
    fprintf(out, "\nexit status: 0 every recorded daemon is gone, 1 some could not be stopped "
                 "or the facility file is bad, 2 usage error.\n");
}

int
cli_stop_facility(const cli_opts_t *opts, int argc, char **argv)
{
    const char *run = NULL;
    uint64_t timeout_ms = 0;
    const tool_opt_t o[] = {
        { "run", TOOL_OPT_STR, "DIR", "pid files (default /tmp/rtr-run-FACILITY)", 0, 0, 0, &run },
        { "timeout", TOOL_OPT_U64, "MS", "how long SIGTERM may take before SIGKILL", 5000, 1,
          600000, &timeout_ms },
    };
    const size_t no = sizeof o / sizeof o[0];
    char *pos[1];
    int npos = 0, rc;
    size_t running = 0;
    cli_fac_t f = { 0 };

    (void)opts;
    rc = tool_opts_parse("rtrcli: stop facility", o, no, argc, argv, pos, 1, &npos);
    if (rc == TOOL_OPTS_HELP) {
        cli_stop_usage(o, no, stdout);
        return TOOL_EXIT_OK;
    }
    if (rc != 0 || npos != 1) {
        if (rc == 0)
            fprintf(stderr, "rtrcli: stop facility: missing FILE\n");
        cli_stop_usage(o, no, stderr);
        return TOOL_EXIT_USAGE;
    }
    if ((f.fac = cli_facility_load("stop facility", pos[0], CMN_JOURNAL_CHECK_NONE)) == NULL)
        return TOOL_EXIT_FAIL;
    rc = TOOL_EXIT_FAIL;
    if (cli_fac_nodes(&f, run) != 0) {
        fprintf(stderr, "rtrcli: stop facility: too many nodes or too long a --run path\n");
        goto done;
    }
    for (size_t i = 0; i < f.n; i++) {
        cli_node_t *nd = &f.nodes[i];
        pid_t pid = cli_pid_read(nd->pidfile);
        if (pid == 0)
            continue;
        if (!cli_pid_is_node(pid, nd->name)) {
            printf("%s: not running (stale pid file %s removed)\n", nd->name, nd->pidfile);
            unlink(nd->pidfile);
            continue;
        }
        nd->pid = pid;
        running++;
    }
    if (running == 0) {
        printf("facility %s: nothing running (no live pid file in %s)\n", f.fac->name, f.run);
        rc = TOOL_EXIT_OK;
        goto done;
    }
    rc = cli_stop_nodes(&f, timeout_ms) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
done:
    cli_fac_close(&f);
    return rc;
}
