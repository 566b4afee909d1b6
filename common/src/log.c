/*
 * log.c - one line per event, key=value fields, to stderr, a file or a hook.
 *
 * Line format (stable, grep-able):
 *   2026-11-23T11:49:00.123Z err role=backend node=be1 id=JRN-FSYNC <fields> (file.c:123)
 * The sink is process-wide, like syslog; a line is written with one write(2) so lines from
 * several threads never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmn.h"

static struct {
    pthread_mutex_t lock;
    int fd;
    cmn_log_level_t level;
    char role[32];
    char node[64];
    cmn_log_fn *hook;
    void *hook_arg;
} cmn_log_state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = 2,
    .level = CMN_LOG_NOTICE,
    .role = "rtr",
    .node = "-",
};

static const char *const cmn_log_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

rtr_status_t
cmn_log_open(const char *path, cmn_log_level_t level, const char *role, const char *node)
{
    rtr_status_t sts = RTR_STS_OK;
    int fd = 2;

    if (path != NULL && strcmp(path, "-") != 0) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            fprintf(stderr, "rtr: cannot open log file %s: %s\n", path, strerror(errno));
            fd = 2;
            sts = RTR_STS_IOERR;
        }
    }
    pthread_mutex_lock(&cmn_log_state.lock);
    if (cmn_log_state.fd > 2)
        close(cmn_log_state.fd);
    cmn_log_state.fd = fd;
    cmn_log_state.level = level;
    snprintf(cmn_log_state.role, sizeof cmn_log_state.role, "%s", role ? role : "rtr");
    snprintf(cmn_log_state.node, sizeof cmn_log_state.node, "%s", node ? node : "-");
    pthread_mutex_unlock(&cmn_log_state.lock);
    return sts;
}

void
cmn_log_set_hook(cmn_log_fn *fn, void *arg)
{
    pthread_mutex_lock(&cmn_log_state.lock);
    cmn_log_state.hook = fn;
    cmn_log_state.hook_arg = arg;
    pthread_mutex_unlock(&cmn_log_state.lock);
}

void
cmn_log_set_level(cmn_log_level_t level)
{
    __atomic_store_n(&cmn_log_state.level, level, __ATOMIC_RELAXED);
}

cmn_log_level_t
cmn_log_get_level(void)
{
    return __atomic_load_n(&cmn_log_state.level, __ATOMIC_RELAXED);
}

rtr_status_t
cmn_log_level_parse(const char *s, cmn_log_level_t *out)
{
    if (s == NULL)
        return RTR_STS_INVARG;
    for (int i = 0; i <= CMN_LOG_DEBUG; i++) {
        if (strcasecmp(s, cmn_log_names[i]) == 0) {
            *out = (cmn_log_level_t)i;
            return RTR_STS_OK;
        }
    }
    if (strcasecmp(s, "error") == 0) {
        *out = CMN_LOG_ERR;
        return RTR_STS_OK;
    }
    if (strcasecmp(s, "warn") == 0) {
        *out = CMN_LOG_WARNING;
        return RTR_STS_OK;
    }
    return RTR_STS_INVARG;
}

void
cmn_log(cmn_log_level_t level, const char *msgid, const char *file, int line, const char *fmt, ...)
{
    char buf[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;
    const char *base = strrchr(file, '/');

    if ((unsigned)level > CMN_LOG_DEBUG)
        level = CMN_LOG_DEBUG;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    pthread_mutex_lock(&cmn_log_state.lock);
    n = (size_t)snprintf(
        buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s role=%s node=%s id=%s ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000000, cmn_log_names[level], cmn_log_state.role, cmn_log_state.node, msgid);
    if (n < sizeof buf) {
        va_start(ap, fmt);
        int m = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
        va_end(ap);
        n = m < 0 ? n : n + (size_t)m;
    }
    if (n < sizeof buf)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " (%s:%d)", base ? base + 1 : file, line);
    if (n >= sizeof buf - 1)
        n = sizeof buf - 2; /* truncated: keep the line whole */
    if (cmn_log_state.hook != NULL) {
        buf[n] = '\0';
        cmn_log_state.hook(cmn_log_state.hook_arg, level, buf);
    } else {
        buf[n++] = '\n';
        ssize_t w = write(cmn_log_state.fd, buf, n);
        (void)w; /* nothing sensible to do if the log itself cannot be written */
    }
    pthread_mutex_unlock(&cmn_log_state.lock);
}

void
cmn_assert_fail(const char *cond, const char *file, int line)
{
    cmn_log(CMN_LOG_CRIT, "ASSERT", file, line, "msg=\"assertion failed: %s\"", cond);
    abort();
}
