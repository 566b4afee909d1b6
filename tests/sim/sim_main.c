/*
 * sim_main.c - the simulator's command line (docs/shadow-protocol.md §8.3):
 *
 *   rtr-sim [--seeds N] [--from S] [--jobs J] [--seed X] [--trace] [--scenario register|pair]
 *           [--broken RULE] [--expect-fail] [--fault-ms MS] [--quiesce-ms MS] [--help]
 *
 * Runs seeds S .. S+N-1 (or the one seed X, in this process) of a scenario in J forked worker
 * processes (--jobs, default 1) that take every J-th seed; a worker that dies (a core's
 * RTR_ASSERT, a sanitizer) is reported with the seed it was running. A violation prints the
 * invariant, the seed, the last events of the trace and the replay line; the exit status is 0 when
 * every seed passed, 1 when one failed (with --expect-fail the other way round: 0 only if some seed
 * failed), 2 on bad usage.
 *
 * Design note: workers write their reports to their own temporary files, which the parent
 * copies to stdout in worker order once all have exited, so reports never interleave. Every
 * worker stops at its first violation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#ifndef SIM_GIT_HASH
#define SIM_GIT_HASH "unknown"
#endif

#define SIM_MAX_JOBS 64

typedef struct {
    uint64_t seeds, from, one_seed;
    bool has_seed;
    unsigned jobs;
    bool trace;
    const char *scenario;
    const char *broken;
    bool expect_fail;
    bool keep_going; /* --keep-going: report every violation (no traces), do not stop */
    uint64_t fault_ms, quiesce_ms;
    uint64_t fault_default, quiesce_default; /* the scenario's (replay lines omit them) */
    bool pair;                               /* --scenario pair */
} sim_args_t;

/* What a worker tells its parent (through a pipe). */
typedef struct {
    uint64_t seeds_run;
    uint64_t failures;
    uint64_t first_fail_seed;
    uint64_t events, commits_max, crashes, wipes, learner_joins;
    uint64_t kinds[5];
    uint64_t accepted, decisions, bcrashes, bpauses;
    char invariant[64];
} sim_summary_t;

static void
sim_usage(FILE *f)
{
    fprintf(
        f,
        "usage: rtr-sim [--seeds N] [--from S] [--jobs J] [--seed X] [--trace]\n"
        "               [--scenario register|pair] [--broken RULE] [--expect-fail] [--keep-going]\n"
        "               [--fault-ms MS] [--quiesce-ms MS] [--help]\n"
        "The deterministic simulator (docs/shadow-protocol.md section 8): real protocol cores,\n"
        "simulated network, stores, clocks and faults. The same seed always gives the same run.\n"
        "  --seeds N        run N seeds (default 100)\n"
        "  --from S         first seed (default 1)\n"
        "  --jobs J         worker processes over the seeds (default 1; each is forked)\n"
        "  --seed X         run only seed X, in this process (with --trace: every event)\n"
        "  --trace          print every event of every seed run as it happens\n"
        "  --scenario NAME  register (default; milestone M1: the facility register alone) or\n"
        "                   pair (M4: the shadow pair's backend cores, journals, servers and\n"
        "                   clients under the register)\n"
        "  --broken RULE    break a rule on purpose so the checker must find it:\n"
        "                   register: amnesia (an acceptor store that loses acknowledged\n"
        "                   writes in a crash); pair: vote_before_ack (the primary decides\n"
        "                   without its partner's ack)\n"
        "  --expect-fail    succeed only if some seed violates an invariant\n"
        "  --keep-going     go on after a violation: one report per violating seed (no trace;\n"
        "                   replay it), for long runs\n"
        "  --fault-ms MS    length of the fault phase in virtual ms (default: register\n"
        "                   20000, pair 8000)\n"
        "  --quiesce-ms MS  liveness deadline after the faults, virtual ms (default: register\n"
        "                   20000, pair 30000)\n"
        "Exit: 0 all seeds passed (--expect-fail: a violation was found), 1 otherwise,\n"
        "2 bad usage. Built from %s.\n",
        SIM_GIT_HASH);
}

static bool
sim_parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;

    if (s == NULL || *s == '\0' || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* sim_parse - 0 go on, 1 --help printed, 2 bad usage (message printed). */
static int
sim_parse(int argc, char **argv, sim_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->seeds = 100;
    a->from = 1;
    a->jobs = 1;
    a->scenario = "register";
    a->fault_ms = 0;
    a->quiesce_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            sim_usage(stdout);
            return 1;
        } else if (strcmp(o, "--trace") == 0) {
            a->trace = true;
        } else if (strcmp(o, "--expect-fail") == 0) {
            a->expect_fail = true;
        } else if (strcmp(o, "--keep-going") == 0) {
            a->keep_going = true;
        } else if (strcmp(o, "--scenario") == 0 && v != NULL) {
            a->scenario = v;
            i++;
        } else if (strcmp(o, "--broken") == 0 && v != NULL) {
            a->broken = v;
            i++;
        } else if ((strcmp(o, "--seeds") == 0 || strcmp(o, "--from") == 0 ||
                    strcmp(o, "--jobs") == 0 || strcmp(o, "--seed") == 0 ||
                    strcmp(o, "--fault-ms") == 0 || strcmp(o, "--quiesce-ms") == 0) &&
                   v != NULL) {
            if (!sim_parse_u64(v, &n)) {
                fprintf(stderr, "rtr-sim: %s: \"%s\" is not a non-negative integer\n", o, v);
                return 2;
            }
            if (strcmp(o, "--seeds") == 0)
                a->seeds = n;
            else if (strcmp(o, "--from") == 0)
                a->from = n;
            else if (strcmp(o, "--seed") == 0) {
                a->one_seed = n;
                a->has_seed = true;
            } else if (strcmp(o, "--fault-ms") == 0)
                a->fault_ms = n;
            else if (strcmp(o, "--quiesce-ms") == 0)
                a->quiesce_ms = n;
            else if (n < 1 || n > SIM_MAX_JOBS) {
                fprintf(stderr, "rtr-sim: --jobs: 1..%d\n", SIM_MAX_JOBS);
                return 2;
            } else
                a->jobs = (unsigned)n;
            i++;
        } else {
            fprintf(stderr, "rtr-sim: unknown option or missing value: %s\n", o);
            sim_usage(stderr);
            return 2;
        }
    }
    if (strcmp(a->scenario, "register") != 0 && strcmp(a->scenario, "pair") != 0) {
        fprintf(stderr, "rtr-sim: unknown scenario \"%s\" (there are: register, pair)\n",
                a->scenario);
        return 2;
    }
    a->pair = strcmp(a->scenario, "pair") == 0;
    a->fault_default = a->pair ? 8000 : 20000;
    a->quiesce_default = a->pair ? 30000 : 20000;
    if (a->fault_ms == 0)
        a->fault_ms = a->fault_default;
    if (a->quiesce_ms == 0)
        a->quiesce_ms = a->quiesce_default;
    if (a->broken != NULL &&
        !(a->pair ? sim_pair_broken_known(a->broken) : sim_broken_known(a->broken))) {
        fprintf(stderr,
                "rtr-sim: unknown --broken rule \"%s\" (register: amnesia; pair: "
                "vote_before_ack)\n",
                a->broken);
        return 2;
    }
    if (a->quiesce_ms < 1000 || a->fault_ms > 3600000) {
        fprintf(stderr, "rtr-sim: --quiesce-ms must be >= 1000 and --fault-ms <= 3600000\n");
        return 2;
    }
    if (a->has_seed) {
        a->from = a->one_seed;
        a->seeds = 1;
        a->jobs = 1;
    }
    return 0;
}

static void
sim_replay_line(FILE *f, const sim_args_t *a, uint64_t seed)
{
    fprintf(f, "replay: tests/sim/run --seed %" PRIu64 " --trace --scenario %s", seed, a->scenario);
    if (a->broken)
        fprintf(f, " --broken %s", a->broken);
    if (a->fault_ms != a->fault_default)
        fprintf(f, " --fault-ms %" PRIu64, a->fault_ms);
    if (a->quiesce_ms != a->quiesce_default)
        fprintf(f, " --quiesce-ms %" PRIu64, a->quiesce_ms);
    fprintf(f, "   (built from %s)\n", SIM_GIT_HASH);
}

/* sim_worker - run seeds from + k*jobs + j; reports to `rep`, the summary into *sum. */
static void
sim_worker(const sim_args_t *a, const cmn_facility_t *f1, const cmn_facility_t *f2, unsigned j,
           FILE *rep, sim_summary_t *sum, volatile uint64_t *current)
{
    sim_opts_t o;

    memset(sum, 0, sizeof *sum);
    memset(&o, 0, sizeof o);
    o.fac1 = f1;
    o.fac2 = f2;
    o.broken = a->broken;
    o.live = a->trace ? stdout : NULL;
    o.fault_ms = a->fault_ms;
    o.quiesce_ms = a->quiesce_ms;
    for (uint64_t k = j; k < a->seeds; k += a->jobs) {
        sim_result_t res;
        o.seed = a->from + k;
        if (current != NULL)
            *current = o.seed; /* the parent names it if this worker dies (a core's assert) */
        /* in --expect-fail mode the trace is not wanted: only whether a violation happens */
        FILE *r = a->expect_fail || a->keep_going ? NULL : rep;
        rtr_status_t st = a->pair ? sim_pair_run(&o, &res, r) : sim_register_run(&o, &res, r);
        if (st != RTR_STS_OK) {
            fprintf(rep, "rtr-sim: seed %" PRIu64 ": the world could not be built: %s\n", o.seed,
                    rtr_error_text(st));
            sum->failures++;
            sum->first_fail_seed = o.seed;
            snprintf(sum->invariant, sizeof sum->invariant, "setup");
            return;
        }
        sum->seeds_run++;
        sum->events += res.events;
        sum->crashes += res.crashes;
        sum->wipes += res.wipes;
        sum->learner_joins += res.learner_joins;
        sum->accepted += res.accepted;
        sum->decisions += res.decisions;
        sum->bcrashes += res.bcrashes;
        sum->bpauses += res.bpauses;
        for (int i = 0; i < 5; i++)
            sum->kinds[i] += res.kinds[i];
        if (res.max_version > sum->commits_max)
            sum->commits_max = res.max_version;
        if (a->has_seed && a->pair)
            fprintf(rep,
                    "seed %" PRIu64 ": %s, %" PRIu64 " events, %" PRIu64
                    " trace lines, trace hash %016" PRIx64 ", version %" PRIu64 ", %" PRIu64
                    " transfers accepted, %" PRIu64 " decided, %" PRIu64
                    " backend crashes, %" PRIu64 " pauses, %" PRIu64 " router crashes, %" PRIu64
                    " partitions, end t=%.3f s\n",
                    o.seed, res.failed ? "VIOLATION" : "ok", res.events, res.trace_lines,
                    res.trace_hash, res.max_version, res.accepted, res.decisions, res.bcrashes,
                    res.bpauses, res.crashes, res.partitions, (double)res.end_us / 1e6);
        else if (a->has_seed)
            fprintf(rep,
                    "seed %" PRIu64 ": %s, %" PRIu64 " events, %" PRIu64
                    " trace lines, trace hash %016" PRIx64 ", version %" PRIu64 ", %" PRIu64
                    " crashes, %" PRIu64 " wipes, %" PRIu64 " partitions, %" PRIu64
                    " changes ok, %" PRIu64 " leases, end t=%.3f s\n",
                    o.seed, res.failed ? "VIOLATION" : "ok", res.events, res.trace_lines,
                    res.trace_hash, res.max_version, res.crashes, res.wipes, res.partitions,
                    res.changes_ok, res.leases, (double)res.end_us / 1e6);
        if (res.failed) {
            fprintf(rep, "VIOLATION seed=%" PRIu64 " invariant=%s\n  %s\n", o.seed, res.invariant,
                    res.detail);
            sim_replay_line(rep, a, o.seed);
            if (sum->failures++ == 0) {
                sum->first_fail_seed = o.seed;
                snprintf(sum->invariant, sizeof sum->invariant, "%s", res.invariant);
            }
            if (!a->keep_going)
                return;
            fflush(rep);
        }
    }
}

/* sim_log_drop - the cores' log lines carry wall-clock time: kept out of the trace and the
 * output so runs stay comparable (a violation's trace says what happened). */
static void
sim_log_drop(void *arg, cmn_log_level_t level, const char *line)
{
    (void)arg;
    (void)level;
    (void)line;
}

static int
sim_run_all(const sim_args_t *a, const cmn_facility_t *f1, const cmn_facility_t *f2)
{
    FILE *rep[SIM_MAX_JOBS] = { NULL };
    int fds[SIM_MAX_JOBS][2];
    pid_t pid[SIM_MAX_JOBS];
    sim_summary_t total, s;
    int rc = 0;
    volatile uint64_t *current = NULL;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(&total, 0, sizeof total);
    if (a->has_seed) {
        /* one seed in this process: its trace and report straight to stdout */
        sim_worker(a, f1, f2, 0, stdout, &total, NULL);
    } else {
        void *shm = mmap(NULL, SIM_MAX_JOBS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED) {
            fprintf(stderr, "rtr-sim: mmap: %s\n", strerror(errno));
            return 1;
        }
        current = shm;
        fflush(stdout);
        for (unsigned j = 0; j < a->jobs; j++) {
            rep[j] = tmpfile();
            if (rep[j] == NULL || pipe(fds[j]) != 0) {
                fprintf(stderr, "rtr-sim: tmpfile/pipe: %s\n", strerror(errno));
                return 1;
            }
            pid[j] = fork();
            if (pid[j] < 0) {
                fprintf(stderr, "rtr-sim: fork: %s\n", strerror(errno));
                return 1;
            }
            if (pid[j] == 0) {
                close(fds[j][0]);
                sim_worker(a, f1, f2, j, rep[j], &s, &current[j]);
                fflush(rep[j]);
                fflush(stdout); /* --trace lines of this worker */
                ssize_t w = write(fds[j][1], &s, sizeof s);
                /* exit, not _exit: LeakSanitizer checks the worker too */
                exit(w == (ssize_t)sizeof s ? 0 : 3);
            }
            close(fds[j][1]);
        }
        for (unsigned j = 0; j < a->jobs; j++) {
            int status = 0;
            ssize_t r = read(fds[j][0], &s, sizeof s);
            close(fds[j][0]);
            waitpid(pid[j], &status, 0);
            if (r != (ssize_t)sizeof s || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* not a violation the checker found: a crash (a core's RTR_ASSERT, a
                 * sanitizer); never counts as the failure --expect-fail wants */
                printf("rtr-sim: worker %u died (status 0x%x) running seed %" PRIu64 "\n", j,
                       status, current[j]);
                sim_replay_line(stdout, a, current[j]);
                memset(&s, 0, sizeof s);
                rc = 1;
            }
            rewind(rep[j]);
            char buf[8192];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, rep[j])) > 0)
                fwrite(buf, 1, n, stdout);
            fclose(rep[j]);
            total.seeds_run += s.seeds_run;
            total.events += s.events;
            total.crashes += s.crashes;
            total.wipes += s.wipes;
            total.learner_joins += s.learner_joins;
            total.accepted += s.accepted;
            total.decisions += s.decisions;
            total.bcrashes += s.bcrashes;
            total.bpauses += s.bpauses;
            for (int i = 0; i < 5; i++)
                total.kinds[i] += s.kinds[i];
            if (s.commits_max > total.commits_max)
                total.commits_max = s.commits_max;
            if (s.failures && !total.failures) {
                total.first_fail_seed = s.first_fail_seed;
                memcpy(total.invariant, s.invariant, sizeof total.invariant);
            }
            total.failures += s.failures;
        }
        munmap(shm, SIM_MAX_JOBS * sizeof(uint64_t));
    }
    printf("rtr-sim: scenario %s%s%s: %" PRIu64 " seeds run from %" PRIu64 ", %" PRIu64
           " violations, %" PRIu64 " events, %" PRIu64 " router crashes, %" PRIu64
           " wipes, highest version %" PRIu64 " (built from %s)\n",
           a->scenario, a->broken ? " --broken " : "", a->broken ? a->broken : "", total.seeds_run,
           a->from, total.failures, total.events, total.crashes, total.wipes, total.commits_max,
           SIM_GIT_HASH);
    printf("rtr-sim: committed changes: %" PRIu64 " RESUME, %" PRIu64 " SHRINK, %" PRIu64
           " ADD, %" PRIu64 " PROMOTE, %" PRIu64 " FORCE; %" PRIu64
           " learners voted after their copy\n",
           total.kinds[0], total.kinds[1], total.kinds[2], total.kinds[3], total.kinds[4],
           total.learner_joins);
    if (a->pair)
        printf("rtr-sim: pair: %" PRIu64 " transfers accepted, %" PRIu64 " CSNs decided, %" PRIu64
               " backend crashes, %" PRIu64 " backend pauses\n",
               total.accepted, total.decisions, total.bcrashes, total.bpauses);
    if (!a->has_seed) {
        /* wall time: only in multi-seed runs (a --seed run prints the same bytes every time) */
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("rtr-sim: %.1f s wall, %.1f seeds/s on %u workers\n", secs,
               secs > 0 ? (double)total.seeds_run / secs : 0.0, a->jobs);
    }
    if (a->expect_fail) {
        if (total.failures > 0) {
            printf("rtr-sim: expected failure found: seed %" PRIu64 " violates %s\n",
                   total.first_fail_seed, total.invariant);
            return rc;
        }
        printf("rtr-sim: FAIL: --expect-fail and no seed violated an invariant\n");
        return 1;
    }
    return total.failures > 0 || rc != 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
    sim_args_t a;
    cmn_facility_t *f1 = NULL, *f2 = NULL;
    int rc = sim_parse(argc, argv, &a);

    if (rc != 0)
        return rc == 1 ? 0 : 2;
    cmn_log_set_hook(sim_log_drop, NULL);
    cmn_log_set_level(CMN_LOG_CRIT);
    if (sim_register_facilities(&f1, &f2) != RTR_STS_OK) {
        rc = 1;
        goto out;
    }
    rc = sim_run_all(&a, f1, f2);
out:
    cmn_facility_free(&f1);
    cmn_facility_free(&f2);
    return rc;
}
