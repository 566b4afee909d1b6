/*
 * rtrbench - RTR's load generator.
 *
 *   rtrbench COMMAND [OPTIONS]     run one benchmark and print its report (--json: as JSON)
 *
 * Each benchmark is one row of bench_cmds below and lives in bench_<name>.c: `journal` measures
 * the journal's group commit against the raw fsync latency of the same disk; `tx` measures
 * committed bank transfers per second and their latency through a running facility.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "tool.h"

static const bench_cmd_t bench_cmds[] = {
    { "journal", "[--producers N] [--records M] [--size B] [--dir D] [--keep] [--json]",
      "N threads append M records of B bytes to a fresh journal and wait for each to harden: "
      "records/s, latency percentiles, records per fsync, and the disk's own fsync latency",
      bench_journal },
    { "tx",
      "[--channels N] [--duration S] [--warmup S] [--accounts A] [--config FILE] [--threads] "
      "[--quiet] [--json]",
      "N client channels run bank transfers closed-loop against a running facility (servers: "
      "bank_server): committed tx/s, rejections, errors, latency p50/p95/p99/p99.9/max",
      bench_tx },
};
#define BENCH_NCMDS (sizeof bench_cmds / sizeof bench_cmds[0])

static void
bench_usage(FILE *out)
{
    fprintf(out, "usage: rtrbench COMMAND [OPTIONS]\n\n"
                 "Load generator of RTR, the transactional router.\n\ncommands:\n");
    for (size_t i = 0; i < BENCH_NCMDS; i++)
        fprintf(out, "  %s %s\n      %s\n", bench_cmds[i].name, bench_cmds[i].usage,
                bench_cmds[i].help);
    fprintf(out, "\noptions:\n  --help     this text; `rtrbench COMMAND --help` for one command\n"
                 "\nexit status: 0 ok, 1 the benchmark failed, 2 usage error.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        bench_usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        bench_usage(stdout);
        return TOOL_EXIT_OK;
    }
    for (size_t i = 0; i < BENCH_NCMDS; i++)
        if (strcmp(argv[1], bench_cmds[i].name) == 0)
            return bench_cmds[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "rtrbench: unknown command '%s' (try `rtrbench --help`)\n", argv[1]);
    return TOOL_EXIT_USAGE;
}
