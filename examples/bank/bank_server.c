/*
 * bank_server.c - the bank's server application: keeps accounts in its own Berkeley DB
 * environment and applies transfers delivered by RTR, each exactly once.
 *
 *   bank_server --db DIR (--partition NAME | --low N --high N) [--config FILE] [--node NAME]
 *               [--accounts N] [--initial CENTS] [--nosync] [--quiet]
 *
 * The server contract (docs/api.md) in practice:
 *   - One DB transaction per RTR transaction, begun at rtr_mt_msg1 / rtr_mt_msg1_uncertain,
 *     holding its locks (DB_RMW on both accounts) until the outcome: committed at
 *     rtr_mt_accepted, aborted at rtr_mt_rejected. So conflicting transfers are serialized in
 *     the order RTR decides them (serializable).
 *   - The TID is written to applied.db in that same DB transaction, under a unique key. Before
 *     applying anything the server looks the TID up: a replay of a transfer it already
 *     committed (rtr_mt_msg1_uncertain after a crash between its commit and RTR learning of
 *     it) is accepted with RTRX_F_ACC_ALREADY_APPLIED and applied no second time.
 *   - Nothing node-specific is stored: a standby or shadow server with a copy of the database
 *     would make the same decisions.
 *   - The reply (new balances) goes to the client before the vote; the client learns whether
 *     the transfer happened only from the outcome.
 *   - A transfer that cannot be applied (insufficient funds, unknown account, an account of
 *     another partition, a bad message) is rejected with rtr_reject_tx, reason = BANK_*.
 *   - If committing an accepted transaction fails, the server exits at once (status 2) without
 *     ServerDone: the backend replays the transaction to the restarted server as
 *     rtr_mt_msg1_uncertain, and BDB recovery has rolled back whatever was half done.
 *   - Concurrent servers of a partition share its database environment (--db the same DIR):
 *     each DB transaction is serializable across processes (BDB locking). A deadlock victim or
 *     a lock wait longer than BANK_LOCK_TIMEOUT_US (a sibling killed while holding locks) is
 *     retried from the start, BANK_TRIES times, before the transfer is rejected (BANK_DBERROR).
 *     When a killed sibling is restarted, its open runs recovery (DB_REGISTER), which panics
 *     the environment for the processes still in it: a server that meets DB_RUNRECOVERY closes
 *     its environment handle and exits at once with status 3, without ServerDone, so that it
 *     is restarted (it joins the recovered environment) and the backend replays what it held.
 *     A server blocked inside BDB behind the dead sibling's locks never sees that error (no
 *     one wakes it in the old environment), so a watchdog thread reads the environment's
 *     registry (__db.register) every BANK_WATCH_MS: recovery blanks every process slot, and a
 *     server whose own slot is gone exits the same way (bank_watch).
 * SIGTERM / SIGINT: an open DB transaction is aborted (it was not decided, or RTR replays it),
 * the channel closed, the database closed; exit 0.
 *
 * Test builds only (BANK_TEST_FAULTS defined: the target bank_server_fault of
 * tests/integration, never installed): --fault-diverge-nth N makes the Nth transfer this process
 * applies credit one cent too much (and reply so), a deliberately non-deterministic server for
 * the shadow pair's divergence test (docs/shadow-protocol.md §4.6, §9.2 scenario 7). The
 * shipped bank_server has no such option.
 *
 * The key range: --low/--high, or --partition NAME (the range of that partition in the
 * facility file: --config, else $RTR_CONFIG). --node sets RTR_NODE (the backend whose servers
 * endpoint librtr uses). At first start accounts low .. low + accounts - 1 (capped at high) are
 * created with --initial cents each; later starts keep the database as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bank.h"

#define BANK_PROG           "bank_server"
#define BANK_RECV_TIMEOUTMS 200 /* how soon a SIGTERM is noticed between messages */
#define BANK_TRIES          5   /* a transfer's attempts after deadlocks or lock timeouts */
#define BANK_EXIT_RECOVER   3   /* exit status: the environment was recovered, restart me */
#define BANK_WATCH_MS       250 /* how often the watchdog reads the environment's registry */

/* The watchdog thread's arguments (bank_watch). closing: set before the environment handle is
 * closed on purpose (a clean close blanks our registry slot too). */
typedef struct {
    char path[4200]; /* DIR/__db.register */
    char slot[32];   /* our slot's text: the pid as BDB writes it ("%24lu\n", 25 bytes) */
    int fd;          /* the registry, open for the process's life (never closed) */
    atomic_bool closing;
} bank_watch_t;

/* The server's state: one channel, at most one transaction in hand. */
typedef struct {
    bank_db_t db;
    bank_watch_t *watch; /* never freed: the thread reads it until the process ends */
    rtr_channel_t ch;
    uint32_t low, high;
    DB_TXN *txn; /* the DB transaction of the RTR transaction in hand; NULL between them */
    rtr_tid_t tid;
    bool quiet;
    bool nosync; /* --nosync: commits written to the OS, not flushed to the disk */
    uint64_t applied, replays, rejected, committed, aborted;
    uint64_t fault_nth; /* BANK_TEST_FAULTS: the applied transfer that goes wrong; 0: none */
} bank_server_t;

/* Set by the signal handler and read by the receive loop: a handler can share nothing else. */
static volatile sig_atomic_t bank_stop;

static void
bank_on_signal(int sig)
{
    (void)sig;
    bank_stop = 1;
}

static void
bank_usage(FILE *out)
{
    fprintf(out,
            "usage: bank_server --db DIR (--partition NAME | --low N --high N) [--config FILE]\n"
            "                   [--node NAME] [--accounts N] [--initial CENTS] [--nosync]\n"
            "                   [--quiet]\n\n"
            "The bank example's server: applies transfers (bank.h) to accounts kept in its own\n"
            "Berkeley DB environment DIR, each transfer exactly once (its TID is recorded in the\n"
            "same DB transaction).\n\n"
            "  --db DIR          the server's database directory (created if needed)\n"
            "  --partition NAME  serve this partition's key range (from the facility file)\n"
            "  --low N --high N  serve accounts N..M instead\n"
            "  --config FILE     the facility file (default $RTR_CONFIG)\n"
            "  --node NAME       the backend to attach to (default $RTR_NODE)\n"
            "  --accounts N      accounts created at first start, from the range's low end "
            "(default 100)\n"
            "  --initial CENTS   each new account's balance (default 100000)\n"
            "  --nosync          commit without flushing the log to the disk: a commit survives\n"
            "                    the server's death (kill -9), not the machine's (tests)\n"
            "  --quiet           no line per transaction on stdout\n");
#ifdef BANK_TEST_FAULTS
    fprintf(out,
            "\nTest build:\n"
            "  --fault-diverge-nth N  the Nth transfer applied by this process credits one\n"
            "                         cent too much (a server that diverges from its shadow)\n");
#endif
}

/* bank_watch_registered - does the registry file hold w->slot? -1 if it cannot be read. The
 * file stays open (w->fd): closing any descriptor of a file drops every fcntl lock the process
 * holds on it, and BDB's registration is such a lock. */
static int
bank_watch_registered(bank_watch_t *w)
{
    char buf[65536];
    size_t len = 0;
    ssize_t n;

    while (len < sizeof buf && (n = pread(w->fd, buf + len, sizeof buf - len, (off_t)len)) > 0)
        len += (size_t)n;
    for (size_t i = 0; i + 25 <= len; i += 25) /* fixed 25-byte slots */
        if (memcmp(buf + i, w->slot, 25) == 0)
            return 1;
    return 0;
}

/* bank_watch - the watchdog thread: exit for a restart (as bank_env_lost) once recovery by
 * another process has blanked our registry slot, even while the main thread is blocked
 * inside BDB. Never returns while the process runs. */
static void *
bank_watch(void *arg)
{
    static const char msg[] = BANK_PROG ": the database environment was recovered by another "
                                        "server; exiting for a restart\n";
    bank_watch_t *w = arg;
    struct timespec ts = { 0, BANK_WATCH_MS * 1000000L };

    for (;;) {
        nanosleep(&ts, NULL);
        if (!atomic_load(&w->closing) && bank_watch_registered(w) == 0 &&
            !atomic_load(&w->closing)) {
            if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) { /* nothing else to do */
            }
            _exit(BANK_EXIT_RECOVER); /* as a kill: the backend replays what we held */
        }
    }
    return NULL;
}

/* bank_watch_start - start the watchdog for the environment in dir, if our slot is found in
 * its registry (else say why there is no watchdog). Returns its state (heap, never freed: the
 * thread may read it until the process has ended), or NULL. */
static bank_watch_t *
bank_watch_start(const char *dir)
{
    bank_watch_t *w = calloc(1, sizeof *w);
    pthread_t th;

    if (w == NULL)
        return NULL;
    snprintf(w->path, sizeof w->path, "%s/__db.register", dir);
    snprintf(w->slot, sizeof w->slot, "%24lu\n", (unsigned long)getpid());
    atomic_init(&w->closing, false);
    if ((w->fd = open(w->path, O_RDONLY | O_CLOEXEC)) < 0 || bank_watch_registered(w) != 1) {
        fprintf(stderr, BANK_PROG ": %s: our process is not registered: no watchdog\n", w->path);
        free(w); /* the fd stays open on purpose (see bank_watch_registered) */
        return NULL;
    }
    if (pthread_create(&th, NULL, bank_watch, w) != 0) {
        fprintf(stderr, BANK_PROG ": cannot start the watchdog thread\n");
        free(w);
        return NULL;
    }
    pthread_detach(th);
    return w;
}

/* bank_watch_closing - the environment handle is about to be closed on purpose. */
static void
bank_watch_closing(bank_watch_t *w)
{
    if (w != NULL)
        atomic_store(&w->closing, true);
}

/* bank_env_lost - the database environment was recovered by another process (DB_RUNRECOVERY):
 * nothing more can be done in it. Close the handle (so that the restart does not run recovery
 * again and panic the siblings) and exit without ServerDone: the backend replays whatever this
 * server held. Does not return. */
static void
bank_env_lost(bank_server_t *s, const char *what)
{
    fprintf(stderr,
            BANK_PROG ": %s: the database environment must be recovered (another server "
                      "recovered it); exiting for a restart\n",
            what);
    if (s->txn != NULL)
        s->txn->abort(s->txn); /* fails on a panicked environment; frees the handle */
    s->txn = NULL;
    bank_watch_closing(s->watch);
    bank_db_close(&s->db);
    fflush(NULL);
    _exit(BANK_EXIT_RECOVER);
}

/* bank_begin - begin the DB transaction of a new RTR transaction. */
static int
bank_begin(bank_server_t *s, const rtr_tid_t *tid)
{
    if (s->txn != NULL) { /* a transaction without outcome: RTR would not do that; be safe */
        fprintf(stderr,
                BANK_PROG ": new transaction before the outcome of the last; aborting it\n");
        s->txn->abort(s->txn);
        s->txn = NULL;
    }
    s->tid = *tid;
    return s->db.env->txn_begin(s->db.env, NULL, &s->txn, 0);
}

/* bank_reject - reply with the result and vote reject (the outcome aborts the DB txn). */
static void
bank_reject(bank_server_t *s, uint32_t result, int64_t from_bal, int64_t to_bal)
{
    bank_reply_t rep = { result, 0, from_bal, to_bal };

    rtr_reply_to_client(s->ch, RTR_NO_FLAGS, &rep, sizeof rep, RTR_NO_MSGFMT);
    rtr_reject_tx(s->ch, RTR_NO_FLAGS, result);
}

/* bank_already - the TID is in applied.db: answer as the first time, keep the old commit. */
static void
bank_already(bank_server_t *s, const bank_applied_t *a)
{
    bank_reply_t rep = { BANK_OK, 1, a->from_balance, a->to_balance };
    rtr_status_t sts;

    s->replays++;
    rtr_reply_to_client(s->ch, RTR_NO_FLAGS, &rep, sizeof rep, RTR_NO_MSGFMT);
#ifdef RTRX_F_ACC_ALREADY_APPLIED
    sts = rtr_accept_tx(s->ch, RTRX_F_ACC_ALREADY_APPLIED, RTR_NO_REASON);
#else
    /* FALLBACK (librtr without the rtrx_ "already applied" flag): accept plainly. The backend
     * then treats the replay as re-executed (new CSN, the old record MOVED), but this server
     * still applies nothing a second time: the TID check above is what guarantees that. */
    sts = rtr_accept_tx(s->ch, RTR_NO_FLAGS, RTR_NO_REASON);
#endif
    if (sts != RTR_STS_OK)
        fprintf(stderr, BANK_PROG ": accept: %s\n", rtr_error_text(sts));
}

/* bank_attempt - one attempt at a transfer in a new s->txn. Returns 0 when it replied and voted
 * (accept or reject), or the BDB error that stopped it before it replied (s->txn still open). */
static int
bank_attempt(bank_server_t *s, const rtr_msgsb_t *sb, const void *buf)
{
    bank_transfer_t t;
    bank_applied_t a;
    int64_t fb = 0, tb = 0;
    int ret;

    if ((ret = bank_begin(s, &sb->tid)) != 0)
        return ret;
    /* Exactly once: look for the TID first, for msg1 as well as msg1_uncertain. */
    ret = bank_db_applied_get(&s->db, s->txn, &sb->tid, &a);
    if (ret == 0) {
        bank_already(s, &a);
        return 0;
    }
    if (ret != DB_NOTFOUND)
        return ret;
    if (sb->msglen != sizeof t) {
        bank_reject(s, BANK_BADMSG, 0, 0);
        return 0;
    }
    memcpy(&t, buf, sizeof t);
    if (t.amount <= 0 || t.from_account == t.to_account) {
        bank_reject(s, BANK_BADMSG, 0, 0);
        return 0;
    }
    if (t.to_account < s->low || t.to_account > s->high) {
        bank_reject(s, BANK_OTHERPART, 0, 0);
        return 0;
    }
    /* DB_RMW: the write locks now, held until the outcome (serializable) */
    if ((ret = bank_db_balance_get(&s->db, s->txn, t.from_account, &fb, DB_RMW)) == 0)
        ret = bank_db_balance_get(&s->db, s->txn, t.to_account, &tb, DB_RMW);
    if (ret == DB_NOTFOUND) {
        bank_reject(s, BANK_NOACCOUNT, fb, tb);
        return 0;
    }
    if (ret != 0)
        return ret;
    if (fb < t.amount) {
        bank_reject(s, BANK_NSF, fb, tb);
        return 0;
    }
    a = (bank_applied_t){ t.from_account, t.to_account, t.amount, fb - t.amount, tb + t.amount };
#ifdef BANK_TEST_FAULTS
    if (s->fault_nth != 0 && s->applied + 1 == s->fault_nth) {
        char hex[33];
        a.to_balance++; /* the injected fault: a different result for this one transfer */
        fprintf(stderr, BANK_PROG ": FAULT: transfer %s credits one cent too much\n",
                bank_tid_hex(&sb->tid, hex));
    }
#endif
    if ((ret = bank_db_balance_put(&s->db, s->txn, t.from_account, a.from_balance)) != 0 ||
        (ret = bank_db_balance_put(&s->db, s->txn, t.to_account, a.to_balance)) != 0 ||
        (ret = bank_db_applied_put(&s->db, s->txn, &sb->tid, &a)) != 0)
        return ret;
    s->applied++;
    bank_reply_t rep = { BANK_OK, 0, a.from_balance, a.to_balance };
    rtr_reply_to_client(s->ch, RTR_NO_FLAGS, &rep, sizeof rep, RTR_NO_MSGFMT);
    rtr_accept_tx(s->ch, RTR_NO_FLAGS, RTR_NO_REASON);
    return 0;
}

/* bank_transfer - a transfer message (msg1 or msg1_uncertain): apply it in s->txn. A deadlock
 * victim or a lock timeout starts again (nothing was replied yet); a panicked environment ends
 * the process (bank_env_lost); any other database error rejects the transfer. */
static void
bank_transfer(bank_server_t *s, const rtr_msgsb_t *sb, const void *buf)
{
    int ret = 0;

    for (int i = 0; i < BANK_TRIES; i++) {
        if ((ret = bank_attempt(s, sb, buf)) == 0)
            return;
        if (ret == DB_RUNRECOVERY)
            bank_env_lost(s, "transfer");
        if (s->txn != NULL && s->txn->abort(s->txn) == DB_RUNRECOVERY) {
            s->txn = NULL;
            bank_env_lost(s, "transfer");
        }
        s->txn = NULL;
        if (ret != DB_LOCK_DEADLOCK && ret != DB_LOCK_NOTGRANTED)
            break;
    }
    /* a failing database, or a transfer that kept losing its locks: reject; the client may
     * try again */
    fprintf(stderr, BANK_PROG ": database: %s\n", db_strerror(ret));
    bank_reject(s, BANK_DBERROR, 0, 0); /* no DB transaction is open: the outcome finds none */
}

/* bank_outcome - rtr_mt_accepted / rtr_mt_rejected: finish the DB transaction. */
static int
bank_outcome(bank_server_t *s, bool accepted, const rtr_msgsb_t *sb)
{
    char hex[33];
    int ret = 0;

    if (s->txn == NULL)
        return 0; /* an outcome for a transaction whose DB work we never began */
    if (accepted) {
        /* RTR has decided COMMIT: this commit must happen. If it fails, exit without
         * ServerDone so that the backend replays the transaction (msg1_uncertain). */
        ret = s->txn->commit(s->txn, 0);
        s->committed++;
    } else {
        s->txn->abort(s->txn);
        s->aborted++;
    }
    s->txn = NULL;
    if (ret != 0) {
        fprintf(stderr, BANK_PROG ": COMMIT FAILED for %s: %s; exiting for replay\n",
                bank_tid_hex(&sb->tid, hex), db_strerror(ret));
        if (ret == DB_RUNRECOVERY)
            bank_env_lost(s, "commit");
        bank_watch_closing(s->watch);
        bank_db_close(&s->db); /* a clean close: the restart need not run recovery */
        return -1;
    }
    if (!s->quiet)
        printf("%s %s\n", bank_tid_hex(&sb->tid, hex), accepted ? "committed" : "rolled back");
    return 0;
}

/* bank_open - open the server channel for [low, high]. It is open when rtr_mt_opened arrives
 * (bank_loop); a restarted server may be handed replays right behind it. */
static int
bank_open(bank_server_t *s)
{
    rtr_uns_32_t lo = s->low, hi = s->high;
    rtr_keyseg_t seg = { rtr_keyseg_unsigned, sizeof(rtr_uns_32_t), 0, &lo, &hi };
    rtr_status_t sts;

    sts = rtr_open_channel(&s->ch, RTR_F_OPE_SERVER, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM,
                           RTR_NO_PEVTNUM, RTR_NO_ACCESS, 1, &seg);
    if (sts != RTR_STS_OK) {
        fprintf(stderr, BANK_PROG ": rtr_open_channel: %s\n", rtr_error_text(sts));
        return -1;
    }
    return 0;
}

/* bank_loop - receive and handle messages until SIGTERM or a fatal error. */
static int
bank_loop(bank_server_t *s)
{
    union {
        bank_transfer_t t;
        rtr_status_data_t sd;
        char raw[RTR_MAX_MSGLEN];
    } buf;
    rtr_msgsb_t sb;
    rtr_channel_t ch;

    while (!bank_stop) {
        rtr_status_t sts = rtr_receive_message(&ch, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf,
                                               BANK_RECV_TIMEOUTMS, &sb);
        if (sts == RTR_STS_TIMOUT)
            continue;
        if (sts != RTR_STS_OK) {
            fprintf(stderr, BANK_PROG ": rtr_receive_message: %s\n", rtr_error_text(sts));
            return -1;
        }
        switch (sb.msgtype) {
        case rtr_mt_msg1:
        case rtr_mt_msg1_uncertain:
            bank_transfer(s, &sb, &buf);
            break;
        case rtr_mt_msgn: /* a transfer is one message: nothing more is expected */
            fprintf(stderr, BANK_PROG ": unexpected second message of a transaction\n");
            break;
        case rtr_mt_prepare: /* not asked for (no RTR_F_OPE_EXPLICIT_PREPARE): vote again */
            rtr_accept_tx(s->ch, RTR_NO_FLAGS, RTR_NO_REASON);
            break;
        case rtr_mt_accepted:
        case rtr_mt_rejected:
            if (bank_outcome(s, sb.msgtype == rtr_mt_accepted, &sb) != 0)
                exit(2); /* on purpose: no ServerDone, the backend replays it */
            if (sb.msgtype == rtr_mt_rejected)
                s->rejected++;
            break;
        case rtr_mt_opened:
            if (buf.sd.status != RTR_STS_OK)
                goto closed;
            printf("serving accounts %" PRIu32 "..%" PRIu32 "\n", s->low, s->high);
            break;
        case rtr_mt_closed:
        closed:
            fprintf(stderr,
                    BANK_PROG ": server channel for [%" PRIu32 ", %" PRIu32 "] closed: %s\n",
                    s->low, s->high, rtr_error_text(buf.sd.status));
            return -1;
        default: /* events: nothing to do for a bank */
            break;
        }
        fflush(stdout);
    }
    return 0;
}

/* bank_args - parse the command line. Returns 0, 1 (--help) or -1. */
static int
bank_args(int argc, char **argv, const char **dir, const char **part, const char **config,
          long long *low, long long *high, long long *accounts, long long *initial, bool *quiet,
          bool *nosync, uint64_t *fault_nth)
{
    (void)fault_nth; /* set only by the test build's fault options */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "--nosync") == 0) {
            *(a[2] == 'q' ? quiet : nosync) = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, BANK_PROG ": %s needs a value (or is unknown)\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--db") == 0)
            *dir = v;
        else if (strcmp(a, "--partition") == 0)
            *part = v;
        else if (strcmp(a, "--config") == 0)
            *config = v;
        else if (strcmp(a, "--node") == 0)
            setenv("RTR_NODE", v, 1);
        else if (strcmp(a, "--low") == 0 || strcmp(a, "--high") == 0 ||
                 strcmp(a, "--accounts") == 0 || strcmp(a, "--initial") == 0) {
            long long n = strtoll(v, &end, 10);
            if (*v == '\0' || *end != '\0' || n < 0 || n > UINT32_MAX) {
                fprintf(stderr, BANK_PROG ": %s: '%s' is not a number in 0..4294967295\n", a, v);
                return -1;
            }
            *(a[2] == 'l' ? low : a[2] == 'h' ? high : a[2] == 'a' ? accounts : initial) = n;
#ifdef BANK_TEST_FAULTS
        } else if (strcmp(a, "--fault-diverge-nth") == 0) {
            unsigned long long n;
            errno = 0;
            n = strtoull(v, &end, 10);
            if (*v < '1' || *v > '9' || *end != '\0' || errno == ERANGE) {
                fprintf(stderr, BANK_PROG ": %s: '%s' is not a number from 1\n", a, v);
                return -1;
            }
            *fault_nth = n;
#endif
        } else {
            fprintf(stderr, BANK_PROG ": unknown option '%s'\n", a);
            return -1;
        }
    }
    return 0;
}

/* bank_range - the key range: --low/--high or the partition's. */
static int
bank_range(bank_server_t *s, const char *part, const char *config, long long low, long long high)
{
    bank_partition_t parts[64];
    int n;

    if (part == NULL) {
        if (low < 0 || high < low) {
            fprintf(stderr, BANK_PROG ": give --partition NAME, or --low N --high M (N <= M)\n");
            return -1;
        }
        s->low = (uint32_t)low;
        s->high = (uint32_t)high;
        return 0;
    }
    if ((n = bank_partitions(BANK_PROG, config, parts, 64)) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (strcasecmp(parts[i].name, part) == 0) {
            s->low = parts[i].low;
            s->high = parts[i].high;
            return 0;
        }
    }
    fprintf(stderr, BANK_PROG ": the facility has no partition '%s'\n", part);
    return -1;
}

int
main(int argc, char **argv)
{
    const char *dir = NULL, *part = NULL, *config = NULL;
    long long low = -1, high = -1, accounts = 100, initial = 100000;
    bank_server_t s = { 0 };
    bank_meta_t want, meta;
    struct sigaction sa;
    int rc = 1, r;

    r = bank_args(argc, argv, &dir, &part, &config, &low, &high, &accounts, &initial, &s.quiet,
                  &s.nosync, &s.fault_nth);
    if (r != 0 || dir == NULL) {
        if (r == 0)
            fprintf(stderr, BANK_PROG ": --db DIR is required\n");
        bank_usage(r == 1 ? stdout : stderr);
        return r == 1 ? 0 : 2;
    }
    if (config != NULL)
        setenv("RTR_CONFIG", config, 1); /* librtr reads the same file */
    if (bank_range(&s, part, config, low, high) != 0)
        return 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bank_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (bank_db_open(&s.db, BANK_PROG, dir, false) != 0)
        return 1;
    s.watch = bank_watch_start(dir);
    if (s.nosync && (r = s.db.env->set_flags(s.db.env, DB_TXN_WRITE_NOSYNC, 1)) != 0) {
        fprintf(stderr, BANK_PROG ": --nosync: %s\n", db_strerror(r));
        goto done;
    }
    want.first = s.low;
    want.count = (uint32_t)((uint64_t)accounts < (uint64_t)s.high - s.low + 1
                                ? (uint64_t)accounts
                                : (uint64_t)s.high - s.low + 1);
    want.initial = initial;
    if (bank_db_setup(&s.db, BANK_PROG, &want, &meta) != 0)
        goto done;
    printf("database %s: accounts %" PRIu32 "..%" PRIu32 ", initial balance %" PRId64 "\n", dir,
           meta.first, meta.first + meta.count - 1, meta.initial);
    if (bank_open(&s) != 0)
        goto done;
    rc = bank_loop(&s) == 0 ? 0 : 1;
    printf("stopping: %" PRIu64 " applied, %" PRIu64 " replays already applied, %" PRIu64
           " committed, %" PRIu64 " rolled back\n",
           s.applied, s.replays, s.committed, s.aborted);
done:
    if (s.txn != NULL) /* undecided, or RTR replays it: never commit on the way out */
        s.txn->abort(s.txn);
    rtr_close_channel(s.ch, RTR_NO_FLAGS);
    rtrx_shutdown();
    bank_watch_closing(s.watch);
    bank_db_close(&s.db);
    return rc;
}
