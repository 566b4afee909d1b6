/*
 * cmn_daemon_test.c - the daemons' shared command line (cmn_daemon_args): every option, the
 * required ones, extra arguments, unknown options and --help.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "cmn.h"

#define ARGV(...) ((char *[]){ "rtr-x", __VA_ARGS__, NULL })

static cmn_daemon_args_rc_t
parse(int argc, char **argv, cmn_daemon_args_t *a)
{
    return cmn_daemon_args("rtr-x", "About rtr-x.", argc, argv, a);
}

Test(cmn_daemon, every_option)
{
    char **v = ARGV("--config", "f.conf", "--node=be1", "--log", "x.log", "--log-level", "info");
    cmn_daemon_args_t a;

    cr_assert_eq(parse(8, v, &a), CMN_DAEMON_ARGS_RUN);
    cr_assert_str_eq(a.config, "f.conf");
    cr_assert_str_eq(a.node, "be1");
    cr_assert_str_eq(a.log, "x.log");
    cr_assert_str_eq(a.level, "info");
}

Test(cmn_daemon, required_and_extra_arguments, .init = cr_redirect_stderr)
{
    cmn_daemon_args_t a;

    cr_assert_eq(parse(3, ARGV("--config", "f.conf"), &a), CMN_DAEMON_ARGS_BAD);
    cr_assert_eq(parse(3, ARGV("--node", "r1"), &a), CMN_DAEMON_ARGS_BAD);
    cr_assert_eq(parse(6, ARGV("--config", "f", "--node", "r1", "extra"), &a), CMN_DAEMON_ARGS_BAD);
    cr_assert_eq(parse(6, ARGV("--config", "f", "--node", "r1", "--bogus"), &a),
                 CMN_DAEMON_ARGS_BAD);
    fflush(stderr);
    cr_assert_stderr_neq_str("");
}

Test(cmn_daemon, help_prints_usage_and_about, .init = cr_redirect_stdout)
{
    cmn_daemon_args_t a;

    cr_assert_eq(parse(2, ARGV("--help"), &a), CMN_DAEMON_ARGS_HELP);
    fflush(stdout);
    cr_assert_stdout_eq_str(
        "usage: rtr-x --config FILE --node NAME [--log FILE] [--log-level LEVEL]\n"
        "\nAbout rtr-x.\n\n"
        "  --config FILE      the facility configuration (see docs/config-reference.md)\n"
        "  --node NAME        this daemon's name in the facility\n"
        "  --log FILE         append log lines to FILE (default: stderr; \"-\" = stderr)\n"
        "  --log-level LEVEL  emerg|alert|crit|err|warning|notice|info|debug\n"
        "                     (default: the facility's settings.log_level)\n"
        "  --help             this text\n");
}
