/*
 * rtrcli - RTR's operator command line.
 *
 *   rtrcli [--json] VERB NOUN [ARGS]     run one command and exit
 *   rtrcli                               interactive prompt (RTR>) with line editing
 *
 * Commands use RTR's vocabulary (show, set, dump, check, ...). Each lives in cli_<noun>.c and
 * is one row of cli_cmds below; `help` is generated from that table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"
#include "tool.h"

static const cli_cmd_t cli_cmds[] = {
    { "check", "facility", "FILE [--node NAME] [--json]",
      "validate a facility configuration file without starting anything", cli_check_facility },
    { "dump", "journal", "DIR [--partition P] [--tid T] [--state S] [--limit N] [--json]",
      "print the records of a backend journal (read-only; live or stopped)", cli_dump_journal },
#define CLI_SHOW_OPTS "[--config FILE] [--node NAME] [--timeout MS] [--json]"
    { "show", "facility", CLI_SHOW_OPTS, "the routers' view of the facility", cli_show_facility },
    { "show", "router", CLI_SHOW_OPTS, "each router: links, clients, transactions in flight",
      cli_show_router },
    { "show", "backend", CLI_SHOW_OPTS, "each backend: partitions, servers, journal",
      cli_show_backend },
    { "show", "partition", CLI_SHOW_OPTS,
      "each partition (backends; --node ROUTER: that router's routing view)", cli_show_partition },
    { "show", "server", CLI_SHOW_OPTS, "the server channels attached to each backend",
      cli_show_server },
    { "show", "transaction", "[TID] " CLI_SHOW_OPTS,
      "transactions in flight (routers and backends), or one by TID", cli_show_transaction },
    { "show", "counters", CLI_SHOW_OPTS,
      "message, transaction and rejected-frame counters of every daemon", cli_show_counters },
    { "show", "register", CLI_SHOW_OPTS,
      "the facility register on each router: roles, epochs, ballots, leases, links",
      cli_show_register },
    { "show", "meta", CLI_SHOW_OPTS,
      "each backend's journal epochs and extent per partition (what bootstrap reads)",
      cli_show_meta },
    { "set", "transaction", "TID retry|done " CLI_SHOW_OPTS,
      "settle a transaction in EXCEPTION: replay it again, or mark it done", cli_set_transaction },
    { "set", "partition", "P /primary=NODE /force [--yes] [--config FILE] [--timeout MS] [--json]",
      "make NODE primary of P without its partner (prints what may be lost, asks first)",
      cli_set_partition },
    { "bootstrap", "facility", "[--config FILE] [--timeout MS] [--yes] [--json]",
      "write the first register value of a facility with shadowed partitions",
      cli_bootstrap_facility },
    { "start", "facility", "FILE [--bin DIR] [--run DIR] [--timeout MS] [--bootstrap]",
      "start every router and backend of a local facility and wait until they answer",
      cli_start_facility },
    { "stop", "facility", "FILE [--run DIR] [--timeout MS]",
      "stop the daemons `start facility` started (SIGTERM, then SIGKILL after the timeout)",
      cli_stop_facility },
};
#define CLI_NCMDS (sizeof cli_cmds / sizeof cli_cmds[0])

static void
cli_usage(FILE *out)
{
    fprintf(out, "usage: rtrcli [--json] COMMAND [ARGS]\n"
                 "       rtrcli               (interactive: RTR> prompt, same commands)\n\n"
                 "Operator interface of RTR, the transactional router.\n\ncommands:\n");
    for (size_t i = 0; i < CLI_NCMDS; i++)
        fprintf(out, "  %s %s %s\n      %s\n", cli_cmds[i].verb, cli_cmds[i].noun,
                cli_cmds[i].usage, cli_cmds[i].help);
    fprintf(out,
            "\noptions:\n  --json     machine-readable output (JSON) where a command prints data\n"
            "  --help     this text; `rtrcli VERB NOUN --help` for one command\n"
            "\nexit status: 0 ok, 1 the command found a problem, 2 usage error.\n");
}

/* cli_run - dispatch one command line (argv without the program name). */
static int
cli_run(int argc, char **argv)
{
    cli_opts_t opts = { .json = false };
    char *args[256];
    int n = 0;

    for (int i = 0; i < argc && n < 255; i++) {
        if (strcmp(argv[i], "--json") == 0)
            opts.json = true;
        else
            args[n++] = argv[i];
    }
    args[n] = NULL;
    if (n == 0 || strcmp(args[0], "help") == 0 || strcmp(args[0], "--help") == 0 ||
        strcmp(args[0], "-h") == 0) {
        cli_usage(stdout);
        return n == 0 ? TOOL_EXIT_USAGE : TOOL_EXIT_OK;
    }
    for (size_t i = 0; i < CLI_NCMDS; i++) {
        const cli_cmd_t *c = &cli_cmds[i];
        if (strcmp(args[0], c->verb) != 0 || n < 2 ||
            strncmp(args[1], c->noun, strlen(args[1])) != 0)
            continue;
        /* Each command answers --help itself (it knows its options in detail). */
        return c->fn(&opts, n - 2, args + 2);
    }
    fprintf(stderr, "rtrcli: unknown command '%s%s%s' (try `rtrcli help`)\n", args[0],
            n > 1 ? " " : "", n > 1 ? args[1] : "");
    return TOOL_EXIT_USAGE;
}

/* cli_split - split a line into words in place; "double quotes" group words. */
static int
cli_split(char *line, char **argv, int max)
{
    int n = 0;
    char *p = line;
    while (*p != '\0' && n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (*p == '"') {
            argv[n++] = ++p;
            while (*p != '\0' && *p != '"')
                p++;
        } else {
            argv[n++] = p;
            while (*p != '\0' && *p != ' ' && *p != '\t')
                p++;
        }
        if (*p != '\0')
            *p++ = '\0';
    }
    return n;
}

static int
cli_interactive(void)
{
    char *line;
    int last = TOOL_EXIT_OK;

    if (isatty(STDIN_FILENO))
        printf("RTR operator interface. `help` lists the commands, `exit` leaves.\n");
    while ((line = readline(isatty(STDIN_FILENO) ? "RTR> " : "")) != NULL) {
        char *argv[64];
        int argc;
        if (*line != '\0')
            add_history(line);
        argc = cli_split(line, argv, 63);
        if (argc > 0 && (strcmp(argv[0], "exit") == 0 || strcmp(argv[0], "quit") == 0)) {
            free(line);
            break;
        }
        if (argc > 0)
            last = cli_run(argc, argv);
        fflush(stdout);
        free(line);
    }
    return last;
}

int
main(int argc, char **argv)
{
    if (argc == 1)
        return cli_interactive();
    return cli_run(argc - 1, argv + 1);
}
