/*
 * bank_dump.c - a test helper of the shadow-pair integration test (bank_shadow.sh): prints one
 * bank database as sorted text, so that two databases can be compared with cmp.
 *
 *   bank_dump --db DIR
 *
 * Output (read in one DB transaction, read-only, so a running server does not disturb it):
 *   meta FIRST COUNT INITIAL
 *   account N BALANCE                      (one per account, ascending)
 *   applied TID FROM TO AMOUNT FROM_BAL TO_BAL   (one per applied transfer, ascending TID)
 * Exit 0, 1 when the database cannot be read, 2 bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank.h"

#define BANK_PROG "bank_dump"

typedef struct {
    uint8_t tid[16];
    bank_applied_t a;
} bank_dump_rec_t;

static int
bank_dump_cmp(const void *x, const void *y)
{
    return memcmp(((const bank_dump_rec_t *)x)->tid, ((const bank_dump_rec_t *)y)->tid, 16);
}

/* bank_dump_applied - read applied.db (a hash: unordered) into *out, sorted by TID. */
static int
bank_dump_applied(bank_db_t *db, DB_TXN *txn, bank_dump_rec_t **out, size_t *n)
{
    DBC *cur = NULL;
    DBT k, d;
    size_t cap = 0;
    int ret;

    *out = NULL;
    *n = 0;
    if ((ret = db->applied->cursor(db->applied, txn, &cur, 0)) != 0)
        return ret;
    memset(&k, 0, sizeof k);
    memset(&d, 0, sizeof d);
    while ((ret = cur->get(cur, &k, &d, DB_NEXT)) == 0) {
        bank_dump_rec_t *r;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            r = realloc(*out, cap * sizeof(*r));
            if (r == NULL) {
                ret = ENOMEM;
                break;
            }
            *out = r;
        }
        r = &(*out)[*n];
        if (k.size != 16 || bank_applied_decode(d.data, d.size, &r->a) != 0) {
            fprintf(stderr, BANK_PROG ": a damaged applied.db record\n");
            ret = EINVAL;
            break;
        }
        memcpy(r->tid, k.data, 16);
        (*n)++;
    }
    cur->close(cur);
    if (ret != DB_NOTFOUND)
        return ret;
    qsort(*out, *n, sizeof(**out), bank_dump_cmp);
    return 0;
}

static int
bank_dump(const char *dir)
{
    bank_db_t db;
    bank_meta_t meta;
    DB_TXN *txn = NULL;
    bank_dump_rec_t *recs = NULL;
    size_t n = 0;
    int ret, rc = 1;

    if (bank_db_open(&db, BANK_PROG, dir, true) != 0)
        return 1;
    if ((ret = db.env->txn_begin(db.env, NULL, &txn, 0)) != 0 ||
        (ret = bank_db_meta(&db, txn, &meta)) != 0)
        goto dberr;
    printf("meta %" PRIu32 " %" PRIu32 " %" PRId64 "\n", meta.first, meta.count, meta.initial);
    for (uint32_t i = 0; i < meta.count; i++) {
        int64_t bal;
        if ((ret = bank_db_balance_get(&db, txn, meta.first + i, &bal, 0)) != 0)
            goto dberr;
        printf("account %" PRIu32 " %" PRId64 "\n", meta.first + i, bal);
    }
    if ((ret = bank_dump_applied(&db, txn, &recs, &n)) != 0)
        goto dberr;
    for (size_t i = 0; i < n; i++) {
        char hex[40];
        rtr_tid_t t;
        memcpy(t.tid_bytes, recs[i].tid, 16);
        printf("applied %s %" PRIu32 " %" PRIu32 " %" PRId64 " %" PRId64 " %" PRId64 "\n",
               bank_tid_hex(&t, hex), recs[i].a.from, recs[i].a.to, recs[i].a.amount,
               recs[i].a.from_balance, recs[i].a.to_balance);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto done;
dberr:
    fprintf(stderr, BANK_PROG ": %s: %s\n", dir, db_strerror(ret));
done:
    if (txn != NULL)
        txn->abort(txn); /* read-only: nothing to keep */
    free(recs);
    bank_db_close(&db);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--db") != 0) {
        fprintf(stderr, "usage: bank_dump --db DIR\n");
        return 2;
    }
    return bank_dump(argv[2]);
}
