/*
 * cmn_log_test.c - logging: level names, the threshold, and the line format a hook or a file
 * receives (one line, role, node, message id, fields, source location).
 * The log sink is process-wide; Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn.h"
#include "tst.h"

Test(cmn_log, level_parse_names)
{
    static const struct {
        const char *s;
        cmn_log_level_t level;
    } ok[] = {
        { "emerg", CMN_LOG_EMERG },  { "alert", CMN_LOG_ALERT },   { "crit", CMN_LOG_CRIT },
        { "err", CMN_LOG_ERR },      { "error", CMN_LOG_ERR },     { "warning", CMN_LOG_WARNING },
        { "warn", CMN_LOG_WARNING }, { "notice", CMN_LOG_NOTICE }, { "info", CMN_LOG_INFO },
        { "debug", CMN_LOG_DEBUG },  { "DEBUG", CMN_LOG_DEBUG },   { "Err", CMN_LOG_ERR },
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cmn_log_level_t l = ok[i].level == CMN_LOG_EMERG ? CMN_LOG_DEBUG : CMN_LOG_EMERG;
        cr_expect_eq(cmn_log_level_parse(ok[i].s, &l), RTR_STS_OK, "%s", ok[i].s);
        cr_expect_eq(l, ok[i].level, "%s", ok[i].s);
    }
}

Test(cmn_log, level_parse_refuses_others)
{
    static const char *const bad[] = { "", "verbose", "errr", "war", " info", "info ", "7" };
    cmn_log_level_t l = CMN_LOG_INFO;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(cmn_log_level_parse(bad[i], &l), RTR_STS_INVARG, "\"%s\"", bad[i]);
    cr_expect_eq(cmn_log_level_parse(NULL, &l), RTR_STS_INVARG);
    cr_expect_eq(l, CMN_LOG_INFO, "a refused parse wrote the output");
}

typedef struct {
    int calls;
    cmn_log_level_t level;
    char line[4096];
} hook_capture_t;

static void
hook(void *arg, cmn_log_level_t level, const char *line)
{
    hook_capture_t *c = arg;
    c->calls++;
    c->level = level;
    snprintf(c->line, sizeof c->line, "%s", line);
}

Test(cmn_log, hook_receives_one_line_with_role_node_and_id)
{
    hook_capture_t cap = { 0 };
    int line;

    cr_assert_eq(cmn_log_open(NULL, CMN_LOG_DEBUG, "backend", "be1"), RTR_STS_OK);
    cmn_log_set_hook(hook, &cap);
    line = __LINE__ + 1;
    RTR_LOG(CMN_LOG_ERR, "JRN-FSYNC", "partition=%s csn=%d", "P1", 7);
    cr_assert_eq(cap.calls, 1);
    cr_expect_eq(cap.level, CMN_LOG_ERR);
    cr_expect_null(strchr(cap.line, '\n'), "the hook got a newline: %s", cap.line);

    char expect[256];
    snprintf(expect, sizeof expect,
             " err role=backend node=be1 id=JRN-FSYNC partition=P1 csn=7 (cmn_log_test.c:%d)",
             line);
    cr_expect_not_null(strstr(cap.line, expect), "line: %s", cap.line);
    /* ISO-8601 UTC timestamp first: 2026-11-23T11:49:00.123Z */
    cr_expect_eq(cap.line[4], '-');
    cr_expect_eq(cap.line[10], 'T');
    cr_expect_eq(cap.line[23], 'Z');
}

Test(cmn_log, threshold_filters)
{
    hook_capture_t cap = { 0 };

    cmn_log_set_hook(hook, &cap);
    cmn_log_set_level(CMN_LOG_WARNING);
    cr_expect_eq(cmn_log_get_level(), CMN_LOG_WARNING);
    RTR_LOG(CMN_LOG_INFO, "T-INFO", "x=1");
    RTR_LOG(CMN_LOG_DEBUG, "T-DEBUG", "x=2");
    cr_expect_eq(cap.calls, 0);
    RTR_LOG(CMN_LOG_WARNING, "T-WARN", "x=3");
    RTR_LOG(CMN_LOG_CRIT, "T-CRIT", "x=4");
    cr_expect_eq(cap.calls, 2);
    cr_expect_not_null(strstr(cap.line, " crit "), "%s", cap.line);
    cr_expect_not_null(strstr(cap.line, "id=T-CRIT x=4"), "%s", cap.line);
}

Test(cmn_log, long_lines_are_truncated_whole)
{
    hook_capture_t cap = { 0 };
    char *big = malloc(5000);

    cr_assert_not_null(big);
    memset(big, 'a', 4999);
    big[4999] = '\0';
    cmn_log_set_hook(hook, &cap);
    cmn_log_set_level(CMN_LOG_DEBUG);
    RTR_LOG(CMN_LOG_NOTICE, "T-LONG", "v=%s", big);
    free(big);
    cr_assert_eq(cap.calls, 1);
    cr_expect_lt(strlen(cap.line), 2048);
    cr_expect_gt(strlen(cap.line), 1500);
}

Test(cmn_log, file_sink_appends_lines)
{
    char *dir = tst_tmpdir("log");
    char path[512];
    size_t len = 0;

    snprintf(path, sizeof path, "%s/rtr.log", dir);
    cr_assert_eq(cmn_log_open(path, CMN_LOG_INFO, "router", "r1"), RTR_STS_OK);
    RTR_LOG(CMN_LOG_INFO, "RTD-START", "msg=\"%s\"", "hello");
    RTR_LOG(CMN_LOG_DEBUG, "RTD-DEBUG", "hidden=1");
    RTR_LOG(CMN_LOG_NOTICE, "RTD-READY", "n=%d", 2);
    cmn_log_open(NULL, CMN_LOG_INFO, "router", "r1"); /* closes the file */

    char *text = tst_read_file(path, &len);
    cr_assert_not_null(text);
    cr_expect_not_null(strstr(text, " info role=router node=r1 id=RTD-START msg=\"hello\" ("));
    cr_expect_not_null(strstr(text, " notice role=router node=r1 id=RTD-READY n=2 ("));
    cr_expect_null(strstr(text, "RTD-DEBUG"));
    size_t lines = 0;
    for (char *p = text; *p != '\0'; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 2);
    cr_expect_eq(text[len - 1], '\n');
    free(text);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_log, unopenable_file_keeps_stderr)
{
    char *dir = tst_tmpdir("log");
    char path[512];

    /* A path below a regular file fails for root too. */
    snprintf(path, sizeof path, "%s/file", dir);
    cr_assert_eq(tst_write_file(path, "x", 1), 0);
    snprintf(path, sizeof path, "%s/file/rtr.log", dir);
    cr_expect_eq(cmn_log_open(path, CMN_LOG_INFO, "router", "r1"), RTR_STS_IOERR);
    cr_expect_eq(cmn_log_get_level(), CMN_LOG_INFO);
    tst_rmtree(dir);
    free(dir);
}
