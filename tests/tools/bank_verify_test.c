/*
 * bank_verify_test.c - bank_verify (examples/bank) on databases and client logs built here
 * with the bank server's own database code: a consistent run passes; each way a run can be
 * wrong is caught with exit 1 - an accepted transfer that is not applied, a rejected one that
 * is, money moved twice under one TID record, money created, a TID applied in two databases.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bank.h"
#include "tool_run.h"
#include "tst.h"

static char *tdir;

static void
setup(void)
{
    tdir = tst_tmpdir("bankv");
}

static void
teardown(void)
{
    tst_rmtree(tdir);
    free(tdir);
}

TestSuite(bank_verify, .init = setup, .fini = teardown, .timeout = 60);

static rtr_tid_t
tid_of(unsigned n)
{
    rtr_tid_t t;
    memset(&t, 0, sizeof t);
    t.tid_bytes[7] = 0x42;
    t.tid_bytes[15] = (uint8_t)n;
    return t;
}

/* make_db - dir/NAME with accounts 0..9 of 1000 and the transfers (from, to, amount) applied
 * as the server applies them, TIDs tid_of(tids[i]). extra_move: move that much more from
 * account 0 to 1 without a record; extra_money: add that much to account 2. */
static char *
make_db(const char *name, const unsigned *tids, const uint32_t (*tr)[3], size_t n,
        int64_t extra_move, int64_t extra_money)
{
    bank_db_t db;
    bank_meta_t want = { 0, 10, 1000 }, meta;
    DB_TXN *txn;
    char *dir;

    cr_assert_geq(asprintf(&dir, "%s/%s", tdir, name), 0);
    cr_assert_eq(bank_db_open(&db, "test", dir, false), 0);
    cr_assert_eq(bank_db_setup(&db, "test", &want, &meta), 0);
    for (size_t i = 0; i < n; i++) {
        int64_t fb, tb;
        rtr_tid_t tid = tid_of(tids[i]);
        cr_assert_eq(db.env->txn_begin(db.env, NULL, &txn, 0), 0);
        cr_assert_eq(bank_db_balance_get(&db, txn, tr[i][0], &fb, DB_RMW), 0);
        cr_assert_eq(bank_db_balance_get(&db, txn, tr[i][1], &tb, DB_RMW), 0);
        bank_applied_t a = { tr[i][0], tr[i][1], tr[i][2], fb - tr[i][2], tb + tr[i][2] };
        cr_assert_eq(bank_db_balance_put(&db, txn, a.from, a.from_balance), 0);
        cr_assert_eq(bank_db_balance_put(&db, txn, a.to, a.to_balance), 0);
        cr_assert_eq(bank_db_applied_put(&db, txn, &tid, &a), 0);
        cr_assert_eq(bank_db_applied_put(&db, txn, &tid, &a), DB_KEYEXIST, "TIDs are unique");
        cr_assert_eq(txn->commit(txn, 0), 0);
    }
    if (extra_move != 0 || extra_money != 0) {
        int64_t b0, b1, b2;
        cr_assert_eq(db.env->txn_begin(db.env, NULL, &txn, 0), 0);
        cr_assert_eq(bank_db_balance_get(&db, txn, 0, &b0, 0), 0);
        cr_assert_eq(bank_db_balance_get(&db, txn, 1, &b1, 0), 0);
        cr_assert_eq(bank_db_balance_get(&db, txn, 2, &b2, 0), 0);
        cr_assert_eq(bank_db_balance_put(&db, txn, 0, b0 - extra_move), 0);
        cr_assert_eq(bank_db_balance_put(&db, txn, 1, b1 + extra_move), 0);
        cr_assert_eq(bank_db_balance_put(&db, txn, 2, b2 + extra_money), 0);
        cr_assert_eq(txn->commit(txn, 0), 0);
    }
    bank_db_close(&db);
    return dir;
}

/* make_log - a client log: one line per (tid, outcome letter). */
static char *
make_log(const char *name, const unsigned *tids, const char *outcomes, size_t n)
{
    char *path, hex[33];
    FILE *fp;

    cr_assert_geq(asprintf(&path, "%s/%s", tdir, name), 0);
    cr_assert_not_null(fp = fopen(path, "w"));
    for (size_t i = 0; i < n; i++) {
        rtr_tid_t t = tid_of(tids[i]);
        const char *o = outcomes[i] == 'A'   ? "ACCEPTED"
                        : outcomes[i] == 'R' ? "REJECTED"
                                             : "UNKNOWN";
        fprintf(fp, "%s %s %s 0 0 1 5\n", bank_tid_hex(&t, hex), o,
                outcomes[i] == 'A' ? "OK" : "TIMOUT");
    }
    fclose(fp);
    return path;
}

/* verify - run bank_verify --json over one or two dbs and a log; *out gets the JSON. */
static int
verify(const char *db1, const char *db2, const char *log, json_t **out, char **err)
{
    char *argv[12] = { BANK_VERIFY_PATH, "--json", "--db", (char *)(uintptr_t)db1 };
    size_t n = 4;
    tool_run_t r;

    if (db2 != NULL) {
        argv[n++] = "--db";
        argv[n++] = (char *)(uintptr_t)db2;
    }
    if (log != NULL) {
        argv[n++] = "--log";
        argv[n++] = (char *)(uintptr_t)log;
    }
    argv[n] = NULL;
    tool_run(tdir, argv, NULL, &r);
    *out = json_loads(r.out, 0, NULL);
    cr_assert_not_null(*out, "not JSON: %s (stderr %s)", r.out, r.err);
    *err = r.err;
    r.err = NULL;
    tool_run_free(&r);
    return r.status;
}

static int64_t
num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "no %s", key);
    return json_integer_value(v);
}

static const uint32_t tr3[][3] = { { 0, 1, 100 }, { 1, 2, 50 }, { 3, 0, 999 } };
static const unsigned tids3[] = { 1, 2, 3 };

Test(bank_verify, consistent_run_passes)
{
    const unsigned ltids[] = { 1, 2, 3, 9 };
    char *db = make_db("db", tids3, tr3, 3, 0, 0), *log = make_log("c.log", ltids, "AAUR", 4);
    char *err;
    json_t *o;

    cr_expect_eq(verify(db, NULL, log, &o, &err), 0, "stderr: %s", err);
    cr_expect(json_is_true(json_object_get(o, "ok")));
    cr_expect_eq(num(o, "total"), 10000);
    cr_expect_eq(num(o, "expected"), 10000);
    cr_expect_eq(num(o, "applied"), 3);
    cr_expect_eq(num(o, "accepted"), 2);
    cr_expect_eq(num(o, "rejected"), 1);
    cr_expect_eq(num(o, "unknown"), 1);
    cr_expect_eq(num(o, "unknown_applied"), 1);
    cr_expect_eq(num(o, "applied_unlogged"), 0);
    cr_expect_str_eq(err, "");
    json_decref(o);
    free(err);
    free(db);
    free(log);

    /* the text report */
    tool_run_t r;
    char *dbp = NULL;
    cr_assert_geq(asprintf(&dbp, "%s/db", tdir), 0);
    char *argv[] = { BANK_VERIFY_PATH, "--db", dbp, NULL };
    tool_run(tdir, argv, NULL, &r);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "money               10000 (expected 10000)\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "OK: 0 failed checks\n") != NULL, "%s", r.out);
    tool_run_free(&r);
    free(dbp);
}

Test(bank_verify, accepted_not_applied_and_rejected_applied)
{
    const unsigned ltids[] = { 1, 2, 3, 7 };
    char *db = make_db("db", tids3, tr3, 3, 0, 0), *log = make_log("c.log", ltids, "ARAA", 4);
    char *err;
    json_t *o;

    cr_expect_eq(verify(db, NULL, log, &o, &err), 1);
    cr_expect_eq(num(o, "accepted_missing"), 1);
    cr_expect_eq(num(o, "rejected_applied"), 1);
    cr_expect_eq(num(o, "failures"), 2);
    cr_expect(strstr(err, "was ACCEPTED") != NULL && strstr(err, "but is not applied") != NULL,
              "%s", err);
    cr_expect(strstr(err, "was REJECTED") != NULL, "%s", err);
    json_decref(o);
    free(err);
    free(db);
    free(log);
}

Test(bank_verify, money_moved_twice_under_one_record)
{
    char *db = make_db("db", tids3, tr3, 3, 100, 0), *err;
    json_t *o;

    cr_expect_eq(verify(db, NULL, NULL, &o, &err), 1);
    cr_expect_eq(num(o, "total"), num(o, "expected"), "the total alone cannot see it");
    cr_expect(strstr(err, "FAIL: ") != NULL && strstr(err, ": account 0 holds ") != NULL, "%s",
              err);
    json_decref(o);
    free(err);
    free(db);
}

Test(bank_verify, money_created)
{
    char *db = make_db("db", tids3, tr3, 3, 0, 5), *err;
    json_t *o;

    cr_expect_eq(verify(db, NULL, NULL, &o, &err), 1);
    cr_expect_eq(num(o, "total"), 10005);
    cr_expect(strstr(err, "money not conserved: 10005 in all, expected 10000") != NULL, "%s", err);
    json_decref(o);
    free(err);
    free(db);
}

Test(bank_verify, tid_in_two_databases)
{
    const unsigned other[] = { 3 };
    const uint32_t tr1[][3] = { { 5, 6, 1 } };
    char *db1 = make_db("db1", tids3, tr3, 3, 0, 0), *db2 = make_db("db2", other, tr1, 1, 0, 0);
    char *err;
    json_t *o;

    cr_expect_eq(verify(db1, db2, NULL, &o, &err), 1);
    cr_expect_eq(num(o, "duplicates"), 1);
    cr_expect_eq(num(o, "applied"), 4);
    cr_expect(strstr(err, "is applied in two databases") != NULL, "%s", err);
    json_decref(o);
    free(err);
    free(db1);
    free(db2);
}

Test(bank_verify, usage_and_missing_database)
{
    tool_run_t r;
    char *argv1[] = { BANK_VERIFY_PATH, NULL };
    char *argv2[] = { BANK_VERIFY_PATH, "--db", "/nonexistent-bank-db", NULL };

    tool_run(tdir, argv1, NULL, &r);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "give at least one --db DIR") != NULL, "%s", r.err);
    tool_run_free(&r);
    tool_run(tdir, argv2, NULL, &r);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "/nonexistent-bank-db: no such directory") != NULL, "%s", r.err);
    tool_run_free(&r);
}
