/*
 * tool_util_test.c - the shared tool_ helpers: option parsing (every error path exits the
 * tools with 2, so each is asserted here), nearest-rank percentiles, duration text, rmtree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "tool.h"
#include "tst.h"

typedef struct {
    uint64_t n;
    const char *dir;
    bool keep;
} tool_test_args_t;

#define TOOL_TEST_OPTS(a)                                                   \
    {                                                                       \
        { "n", TOOL_OPT_U64, "N", "a number", 7, 1, 100, &(a).n },          \
            { "dir", TOOL_OPT_STR, "D", "a directory", 0, 0, 0, &(a).dir }, \
            { "keep", TOOL_OPT_FLAG, NULL, "keep it", 0, 0, 0, &(a).keep }, \
    }

static int
tool_test_parse(tool_test_args_t *a, int argc, char **argv, char **pos, int *npos)
{
    const tool_opt_t opts[] = TOOL_TEST_OPTS(*a);
    return tool_opts_parse("t", opts, 3, argc, argv, pos, 2, npos);
}

Test(tool_opts, defaults_values_and_positionals)
{
    tool_test_args_t a = { 0 };
    char *argv[] = { "x", "--n=42", "--dir", "/d", "--keep", "y", NULL };
    char *pos[2];
    int npos;

    cr_assert_eq(tool_test_parse(&a, 6, argv, pos, &npos), 0);
    cr_assert_eq(a.n, 42);
    cr_assert_str_eq(a.dir, "/d");
    cr_assert(a.keep);
    cr_assert_eq(npos, 2);
    cr_assert_str_eq(pos[0], "x");
    cr_assert_str_eq(pos[1], "y");

    tool_test_args_t b = { 0 };
    cr_assert_eq(tool_test_parse(&b, 0, argv, pos, &npos), 0);
    cr_assert_eq(b.n, 7, "the default is applied");
    cr_assert_null(b.dir);
    cr_assert_eq(npos, 0);
}

Test(tool_opts, rejects_bad_input, .init = cr_redirect_stderr)
{
    char *cases[][3] = {
        { "--n", "0", NULL },                       /* below min */
        { "--n", "101", NULL },                     /* above max */
        { "--n", "-1", NULL },                      /* sign */
        { "--n", "12x", NULL },                     /* trailing text */
        { "--n", "99999999999999999999999", NULL }, /* overflow */
        { "--n=", NULL, NULL },                     /* empty */
        { "--n", NULL, NULL },                      /* missing value */
        { "--keep=1", NULL, NULL },                 /* flag with a value */
        { "--bogus", NULL, NULL },                  /* unknown */
        { "-x", NULL, NULL },                       /* unknown short */
        { "a", "b", "c" },                          /* too many positionals */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tool_test_args_t a = { 0 };
        char *pos[2];
        int npos, argc = 0;
        while (argc < 3 && cases[i][argc] != NULL)
            argc++;
        cr_assert_eq(tool_test_parse(&a, argc, cases[i], pos, &npos), -1, "case %zu", i);
    }
}

Test(tool_opts, help_and_double_dash)
{
    tool_test_args_t a = { 0 };
    char *h[] = { "--n", "5", "-h", "--bogus" };
    char *dd[] = { "--", "--keep" };
    char *pos[2];
    int npos;

    cr_assert_eq(tool_test_parse(&a, 4, h, pos, &npos), TOOL_OPTS_HELP);
    cr_assert_eq(tool_test_parse(&a, 2, dd, pos, &npos), 0);
    cr_assert_eq(npos, 1);
    cr_assert_str_eq(pos[0], "--keep");
    cr_assert_not(a.keep);
}

Test(tool_opts, parse_u64_strict)
{
    uint64_t v;
    cr_assert_eq(tool_parse_u64("18446744073709551615", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(tool_parse_u64("18446744073709551616", &v), -1);
    cr_assert_eq(tool_parse_u64("", &v), -1);
    cr_assert_eq(tool_parse_u64(" 1", &v), -1);
    cr_assert_eq(tool_parse_u64("+1", &v), -1);
}

Test(tool_stats, nearest_rank_percentiles)
{
    uint64_t v[1000];
    for (size_t i = 0; i < 1000; i++)
        v[i] = 1000 - i; /* 1000 .. 1, unsorted */
    tool_sort_u64(v, 1000);
    cr_assert_eq(v[0], 1);
    cr_assert_eq(tool_percentile(v, 1000, 50), 500);
    cr_assert_eq(tool_percentile(v, 1000, 99), 990);
    cr_assert_eq(tool_percentile(v, 1000, 99.9), 999, "no rounding up past rank 999");
    cr_assert_eq(tool_percentile(v, 1000, 100), 1000);
    cr_assert_eq(tool_percentile(v, 1, 99.9), 1);
    cr_assert_eq(tool_percentile(v, 0, 50), 0);

    uint64_t two[] = { 10, 20 };
    cr_assert_eq(tool_percentile(two, 2, 50), 10);
    cr_assert_eq(tool_percentile(two, 2, 50.1), 20);
}

Test(tool_stats, durations)
{
    char b[32];
    cr_assert_str_eq(tool_fmt_ns(850, b, sizeof b), "850 ns");
    cr_assert_str_eq(tool_fmt_ns(412345, b, sizeof b), "412.3 us");
    cr_assert_str_eq(tool_fmt_ns(1930000, b, sizeof b), "1.93 ms");
    cr_assert_str_eq(tool_fmt_ns(2050000000ull, b, sizeof b), "2.05 s");
}

Test(tool_fs, rmtree_and_empty)
{
    char *d = tst_tmpdir("toolfs");
    char *outside = tst_tmpdir("toolfs-outside");
    char p[512], keep[512];

    cr_assert_eq(tool_dir_is_empty(d), 1);
    snprintf(p, sizeof p, "%s/sub", d);
    cr_assert_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/sub/f", d);
    cr_assert_eq(tst_write_file(p, "x", 1), 0);
    snprintf(keep, sizeof keep, "%s/must-survive", outside);
    cr_assert_eq(tst_write_file(keep, "y", 1), 0);
    snprintf(p, sizeof p, "%s/link", d);
    cr_assert_eq(symlink(outside, p), 0);
    cr_assert_eq(tool_dir_is_empty(d), 0);

    cr_assert_eq(tool_rmtree(d, true), 0);
    cr_assert_eq(tool_dir_is_empty(d), 1, "keep_top empties but keeps the directory");
    cr_assert_eq(access(keep, F_OK), 0, "a symlink is removed, not followed");
    cr_assert_eq(tool_rmtree(d, false), 0);
    cr_assert_eq(tool_dir_is_empty(d), -1);
    cr_assert_eq(tool_rmtree(d, false), 0, "a missing path is not an error");
    tst_rmtree(outside);
    free(outside);
    free(d);
}
