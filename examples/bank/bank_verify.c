/*
 * bank_verify.c - check the bank after a run: money conserved, every transfer applied exactly
 * once, every rejected one not at all.
 *
 *   bank_verify --db DIR [--db DIR ...] [--log FILE ...] [--json]
 *
 * Reads each server's database read-only (one DB transaction per database: a consistent view
 * even while its server runs) and the clients' TID logs, then checks:
 *   1. conservation: per database, the sum of the balances equals accounts x initial balance
 *      (transfers never leave a partition in this capability, so each database balances alone);
 *   2. replay: starting from the initial balances and applying every record of applied.db once
 *      gives exactly the stored balances - so each recorded transfer moved its money once and
 *      nothing else moved any (a transfer applied twice, or applied without its TID record,
 *      breaks this);
 *   3. no TID is recorded in two databases;
 *   4. every TID a client saw ACCEPTED is recorded (applied) - exactly once by 2 and 3;
 *   5. no TID a client saw REJECTED is recorded;
 *   6. a TID logged twice has the same outcome both times.
 * UNKNOWN outcomes may be either way and are only counted; recorded TIDs no client log
 * mentions (a client killed before it logged) are counted and shown, not failed.
 * Prints the figures (or one JSON object with --json). Exit 0 all checks pass, 1 a check
 * failed or a file could not be read, 2 bad command line.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank.h"

#define BANK_PROG  "bank_verify"
#define BANK_MAXDB 64

/* One recorded (applied) TID, and what the client logs said of it. */
typedef struct {
    rtr_tid_t tid;
    int db;      /* index of the database that records it */
    char logged; /* 0 none, 'A' accepted, 'R' rejected, 'U' unknown */
} bank_rec_t;

typedef struct {
    bank_rec_t *recs;
    size_t n, cap;
    uint64_t failures;
    /* figures */
    uint64_t accounts, transfers, dup_db, acc_logged, acc_missing, rej_logged, rej_applied;
    uint64_t unk_logged, unk_applied, unlogged, conflicts, bad_lines;
    int64_t total, expected;
} bank_verify_t;

static int
bank_rec_cmp(const void *a, const void *b)
{
    return memcmp(((const bank_rec_t *)a)->tid.tid_bytes, ((const bank_rec_t *)b)->tid.tid_bytes,
                  16);
}

static void bank_fail(bank_verify_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* bank_fail - count a failed check; print the first 20. */
static void
bank_fail(bank_verify_t *v, const char *fmt, ...)
{
    va_list ap;

    v->failures++;
    if (v->failures > 20) /* the first ones say enough */
        return;
    fprintf(stderr, "FAIL: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* bank_scan_db - checks 1 and 2 on one database, collecting its TIDs. */
static int
bank_scan_db(bank_verify_t *v, int idx, const char *dir)
{
    bank_db_t db;
    bank_meta_t meta;
    DB_TXN *txn = NULL;
    DBC *cur = NULL;
    DBT k, d;
    int64_t *bal = NULL, sum = 0;
    int ret, rc = -1;
    char what[600];

    if (bank_db_open(&db, BANK_PROG, dir, true) != 0)
        return -1;
    if ((ret = db.env->txn_begin(db.env, NULL, &txn, 0)) != 0 ||
        (ret = bank_db_meta(&db, txn, &meta)) != 0)
        goto dberr;
    if ((bal = calloc(meta.count ? meta.count : 1, sizeof *bal)) == NULL)
        goto done;
    for (uint32_t i = 0; i < meta.count; i++)
        bal[i] = meta.initial;
    /* replay applied.db over the initial balances, and collect the TIDs */
    if ((ret = db.applied->cursor(db.applied, txn, &cur, 0)) != 0)
        goto dberr;
    memset(&k, 0, sizeof k);
    memset(&d, 0, sizeof d);
    while ((ret = cur->get(cur, &k, &d, DB_NEXT)) == 0) {
        bank_applied_t a;
        if (k.size != 16 || bank_applied_decode(d.data, d.size, &a) != 0 ||
            a.from - meta.first >= meta.count || a.to - meta.first >= meta.count) {
            bank_fail(v, "%s: a damaged applied.db record", dir);
            continue;
        }
        bal[a.from - meta.first] -= a.amount;
        bal[a.to - meta.first] += a.amount;
        if (v->n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 4096;
            bank_rec_t *r = realloc(v->recs, cap * sizeof *r);
            if (r == NULL)
                goto done;
            v->recs = r;
            v->cap = cap;
        }
        memcpy(v->recs[v->n].tid.tid_bytes, k.data, 16);
        v->recs[v->n].db = idx;
        v->recs[v->n].logged = 0;
        v->n++;
        v->transfers++;
    }
    if (ret != DB_NOTFOUND)
        goto dberr;
    cur->close(cur);
    cur = NULL;
    /* compare with the stored balances */
    for (uint32_t i = 0; i < meta.count; i++) {
        int64_t stored;
        if ((ret = bank_db_balance_get(&db, txn, meta.first + i, &stored, 0)) != 0)
            goto dberr;
        sum += stored;
        if (stored != bal[i]) {
            char acct[80];
            snprintf(acct, sizeof acct,
                     "%" PRIu32 " holds %" PRId64 ", the transfers give %" PRId64, meta.first + i,
                     stored, bal[i]);
            bank_fail(v, "%s: account %s", dir, acct);
        }
    }
    v->accounts += meta.count;
    v->total += sum;
    v->expected += (int64_t)meta.count * meta.initial;
    if (sum != (int64_t)meta.count * meta.initial) {
        snprintf(what, sizeof what, "%" PRId64 " in all, expected %" PRId64, sum,
                 (int64_t)meta.count * meta.initial);
        bank_fail(v, "%s: money not conserved: %s", dir, what);
    }
    rc = 0;
    goto done;
dberr:
    fprintf(stderr, BANK_PROG ": %s: %s\n", dir, db_strerror(ret));
done:
    if (cur != NULL)
        cur->close(cur);
    if (txn != NULL)
        txn->abort(txn); /* read-only: nothing to keep */
    free(bal);
    bank_db_close(&db);
    return rc;
}

/* bank_scan_log - checks 4 to 6 for one client log. */
static int
bank_scan_log(bank_verify_t *v, const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[512], hex[40], outcome[16];

    if (fp == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        bank_rec_t key, *r;
        if (sscanf(line, "%39s %15s", hex, outcome) != 2 || bank_tid_parse(hex, &key.tid) != 0 ||
            strchr("ARU", outcome[0]) == NULL) {
            v->bad_lines++;
            continue;
        }
        r = bsearch(&key, v->recs, v->n, sizeof *v->recs, bank_rec_cmp);
        char o = outcome[0];
        if (r != NULL && r->logged != 0 && r->logged != o) {
            v->conflicts++;
            bank_fail(v, "TID %s logged with two outcomes (%s)", hex, path);
        }
        if (o == 'A') {
            v->acc_logged++;
            if (r == NULL) {
                v->acc_missing++;
                bank_fail(v, "TID %s was ACCEPTED (%s) but is not applied", hex, path);
            }
        } else if (o == 'R') {
            v->rej_logged++;
            if (r != NULL) {
                v->rej_applied++;
                bank_fail(v, "TID %s was REJECTED (%s) but is applied", hex, path);
            }
        } else {
            v->unk_logged++;
            v->unk_applied += r != NULL;
        }
        if (r != NULL)
            r->logged = o;
    }
    fclose(fp);
    return 0;
}

/* bank_report - the figures as text. */
static void
bank_report(const bank_verify_t *v, int ndb, int nlog)
{
    printf("databases           %d (%" PRIu64 " accounts)\n", ndb, v->accounts);
    printf("money               %" PRId64 " (expected %" PRId64 ")%s\n", v->total, v->expected,
           v->total == v->expected ? "" : "  <-- NOT CONSERVED");
    printf("transfers applied   %" PRIu64 "%s\n", v->transfers,
           v->dup_db > 0 ? "  <-- SOME IN TWO DATABASES" : "");
    if (nlog > 0) {
        printf("client logs         %d\n", nlog);
        printf("accepted            %" PRIu64 " (not applied: %" PRIu64 ")\n", v->acc_logged,
               v->acc_missing);
        printf("rejected            %" PRIu64 " (applied: %" PRIu64 ")\n", v->rej_logged,
               v->rej_applied);
        printf("unknown outcome     %" PRIu64 " (applied: %" PRIu64 ")\n", v->unk_logged,
               v->unk_applied);
        printf("applied, not logged %" PRIu64 "\n", v->unlogged);
        if (v->bad_lines > 0)
            printf("unreadable lines    %" PRIu64 "\n", v->bad_lines);
    }
    printf("%s: %" PRIu64 " failed check%s\n", v->failures == 0 ? "OK" : "FAILED", v->failures,
           v->failures == 1 ? "" : "s");
}

static void
bank_usage(FILE *out)
{
    fprintf(out, "usage: bank_verify --db DIR [--db DIR ...] [--log FILE ...] [--json]\n\n"
                 "Check the bank example after a run: money conserved in every server database,\n"
                 "every transfer a client saw accepted applied exactly once, every rejected one\n"
                 "not at all. Exit 0 when every check passes, 1 otherwise.\n");
}

int
main(int argc, char **argv)
{
    const char *dbs[BANK_MAXDB], *logs[BANK_MAXDB];
    int ndb = 0, nlog = 0, rc = 1;
    bool json = false;
    bank_verify_t v = { 0 };

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bank_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc && ndb < BANK_MAXDB) {
            dbs[ndb++] = argv[++i];
        } else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc && nlog < BANK_MAXDB) {
            logs[nlog++] = argv[++i];
        } else {
            fprintf(stderr, BANK_PROG ": unexpected argument '%s'\n", argv[i]);
            bank_usage(stderr);
            return 2;
        }
    }
    if (ndb == 0) {
        fprintf(stderr, BANK_PROG ": give at least one --db DIR\n");
        bank_usage(stderr);
        return 2;
    }
    for (int i = 0; i < ndb; i++)
        if (bank_scan_db(&v, i, dbs[i]) != 0)
            goto done;
    qsort(v.recs, v.n, sizeof *v.recs, bank_rec_cmp);
    for (size_t i = 1; i < v.n; i++) {
        if (memcmp(v.recs[i].tid.tid_bytes, v.recs[i - 1].tid.tid_bytes, 16) == 0) {
            char hex[33];
            v.dup_db++;
            bank_fail(&v, "TID %s is applied in two databases (%s)",
                      bank_tid_hex(&v.recs[i].tid, hex), dbs[v.recs[i].db]);
        }
    }
    for (int i = 0; i < nlog; i++)
        if (bank_scan_log(&v, logs[i]) != 0)
            goto done;
    for (size_t i = 0; i < v.n; i++)
        v.unlogged += nlog > 0 && v.recs[i].logged == 0;
    if (json) {
        printf("{\"ok\": %s, \"failures\": %" PRIu64 ", \"databases\": %d, \"accounts\": %" PRIu64
               ", \"total\": %" PRId64 ", \"expected\": %" PRId64 ", \"applied\": %" PRIu64
               ", \"accepted\": %" PRIu64 ", \"accepted_missing\": %" PRIu64
               ", \"rejected\": %" PRIu64 ", \"rejected_applied\": %" PRIu64
               ", \"unknown\": %" PRIu64 ", \"unknown_applied\": %" PRIu64
               ", \"applied_unlogged\": %" PRIu64 ", \"duplicates\": %" PRIu64
               ", \"bad_log_lines\": %" PRIu64 "}\n",
               v.failures == 0 ? "true" : "false", v.failures, ndb, v.accounts, v.total, v.expected,
               v.transfers, v.acc_logged, v.acc_missing, v.rej_logged, v.rej_applied, v.unk_logged,
               v.unk_applied, v.unlogged, v.dup_db, v.bad_lines);
    } else {
        bank_report(&v, ndb, nlog);
    }
    rc = v.failures == 0 ? 0 : 1;
done:
    free(v.recs);
    return rc;
}
