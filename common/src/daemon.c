/*
 * daemon.c - the command line the RTR daemons share (see cmn.h, cmn_daemon_args).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmn.h"

static void
cmn_daemon_usage(const char *prog, const char *about, FILE *f)
{
    fprintf(f,
            "usage: %s --config FILE --node NAME [--log FILE] [--log-level LEVEL]\n"
            "\n%s\n\n"
            "  --config FILE      the facility configuration (see docs/config-reference.md)\n"
            "  --node NAME        this daemon's name in the facility\n"
            "  --log FILE         append log lines to FILE (default: stderr; \"-\" = stderr)\n"
            "  --log-level LEVEL  emerg|alert|crit|err|warning|notice|info|debug\n"
            "                     (default: the facility's settings.log_level)\n"
            "  --help             this text\n",
            prog, about);
}

cmn_daemon_args_rc_t
cmn_daemon_args(const char *prog, const char *about, int argc, char **argv, cmn_daemon_args_t *a)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "node", required_argument, NULL, 'n' },
        { "log", required_argument, NULL, 'l' },    { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    int c;

    memset(a, 0, sizeof *a);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'n':
            a->node = optarg;
            break;
        case 'l':
            a->log = optarg;
            break;
        case 'L':
            a->level = optarg;
            break;
        case 'h':
            cmn_daemon_usage(prog, about, stdout);
            return CMN_DAEMON_ARGS_HELP;
        default: /* getopt_long said what was wrong */
            cmn_daemon_usage(prog, about, stderr);
            return CMN_DAEMON_ARGS_BAD;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\" (see --help)\n", prog, argv[optind]);
        return CMN_DAEMON_ARGS_BAD;
    }
    if (a->config == NULL || a->node == NULL) {
        fprintf(stderr, "%s: --config and --node are required (see --help)\n", prog);
        return CMN_DAEMON_ARGS_BAD;
    }
    return CMN_DAEMON_ARGS_RUN;
}
