/*
 * bank_db.c - the bank server's Berkeley DB database, and the helpers the bank programs share
 * (bank.h).
 *
 * The environment is fully transactional (locking, logging, recovery): a transfer's two
 * balances and its TID record are one DB transaction, durable at commit (DB_TXN_SYNC, the
 * default). DB_REGISTER lets a restarted server know whether a previous one died inside the
 * environment, and DB_RECOVER then rolls back what that one had not committed: exactly the
 * state the backend's replay (rtr_mt_msg1_uncertain) expects to find.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bank.h"
#include "cmn.h"

#define BANK_APPLIED_LEN     36 /* from, to (4 + 4), amount, from_balance, to_balance (3 x 8) */
#define BANK_META_LEN        16
#define BANK_META_KEY        "setup"
#define BANK_LOCK_TIMEOUT_US 2000000 /* longest lock wait of a server (2 s) */

const char *
bank_result_name(uint32_t result)
{
    static const char *const names[] = {
        "OK", "NSF", "NOACCOUNT", "OTHERPART", "BADMSG", "DBERROR"
    };
    return result < sizeof names / sizeof names[0] ? names[result] : "?";
}

static DBT
bank_dbt(void *data, size_t len)
{
    DBT d;
    memset(&d, 0, sizeof d);
    d.data = data;
    d.size = (u_int32_t)len;
    d.ulen = (u_int32_t)len;
    d.flags = DB_DBT_USERMEM;
    return d;
}

/* bank_db_open_one - one database of the environment. applied.db is a hash: TIDs of one client
 * incarnation only grow, so in a btree every insert would write-lock the same last leaf page
 * until its transaction ends, serializing all transfers of the partition behind one page. */
static int
bank_db_open_one(bank_db_t *db, DB **out, const char *file, DBTYPE type, bool readonly)
{
    DB *d;
    int ret = db_create(&d, db->env, 0);

    if (ret != 0)
        return ret;
    ret = d->open(d, NULL, file, NULL, type, DB_AUTO_COMMIT | (readonly ? DB_RDONLY : DB_CREATE),
                  0600);
    if (ret != 0) {
        d->close(d, 0);
        return ret;
    }
    *out = d;
    return 0;
}

int
bank_db_open(bank_db_t *db, const char *prog, const char *dir, bool readonly)
{
    u_int32_t flags = DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN |
                      DB_REGISTER | (readonly ? 0 : DB_RECOVER);
    struct stat st;
    int ret;

    memset(db, 0, sizeof *db);
    if (!readonly && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s: cannot create: %s\n", prog, dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s: no such directory\n", prog, dir);
        return -1;
    }
    if ((ret = db_env_create(&db->env, 0)) != 0)
        goto fail;
    /* deadlocks are resolved at once (the default victim), never waited out */
    db->env->set_lk_detect(db->env, DB_LOCK_DEFAULT);
    if ((ret = db->env->open(db->env, dir, flags, 0600)) != 0)
        goto fail;
    /* Concurrent servers share the environment: a lock wait ends after BANK_LOCK_TIMEOUT_US
     * (DB_LOCK_NOTGRANTED) instead of lasting forever behind a killed server's locks. */
    if (!readonly &&
        (ret = db->env->set_timeout(db->env, BANK_LOCK_TIMEOUT_US, DB_SET_LOCK_TIMEOUT)) != 0)
        goto fail;
    if ((ret = bank_db_open_one(db, &db->accounts, "accounts.db", DB_BTREE, readonly)) != 0 ||
        (ret = bank_db_open_one(db, &db->applied, "applied.db", DB_HASH, readonly)) != 0 ||
        (ret = bank_db_open_one(db, &db->meta, "meta.db", DB_BTREE, readonly)) != 0)
        goto fail;
    return 0;
fail:
    if (ret == DB_RUNRECOVERY)
        fprintf(stderr, "%s: %s: the database needs recovery: start its bank_server once\n", prog,
                dir);
    else if (readonly && ret == ENOENT)
        fprintf(stderr, "%s: %s: not a bank database (no accounts.db)\n", prog, dir);
    else
        fprintf(stderr, "%s: %s: %s\n", prog, dir, db_strerror(ret));
    bank_db_close(db);
    return -1;
}

void
bank_db_close(bank_db_t *db)
{
    if (db->accounts != NULL)
        db->accounts->close(db->accounts, 0);
    if (db->applied != NULL)
        db->applied->close(db->applied, 0);
    if (db->meta != NULL)
        db->meta->close(db->meta, 0);
    if (db->env != NULL)
        db->env->close(db->env, 0);
    memset(db, 0, sizeof *db);
}

int
bank_db_meta(bank_db_t *db, DB_TXN *txn, bank_meta_t *meta)
{
    uint8_t buf[BANK_META_LEN];
    DBT k = bank_dbt(BANK_META_KEY, strlen(BANK_META_KEY)), v = bank_dbt(buf, sizeof buf);
    int ret = db->meta->get(db->meta, txn, &k, &v, 0);

    if (ret != 0)
        return ret;
    if (v.size != BANK_META_LEN)
        return DB_NOTFOUND;
    meta->first = cmn_get_be32(buf);
    meta->count = cmn_get_be32(buf + 4);
    meta->initial = (int64_t)cmn_get_be64(buf + 8);
    return 0;
}

int
bank_db_balance_get(bank_db_t *db, DB_TXN *txn, uint32_t account, int64_t *balance, uint32_t flags)
{
    uint8_t kb[4], vb[8];
    DBT k = bank_dbt(kb, sizeof kb), v = bank_dbt(vb, sizeof vb);
    int ret;

    cmn_put_be32(kb, account);
    if ((ret = db->accounts->get(db->accounts, txn, &k, &v, flags)) != 0)
        return ret;
    *balance = (int64_t)cmn_get_be64(vb);
    return 0;
}

int
bank_db_balance_put(bank_db_t *db, DB_TXN *txn, uint32_t account, int64_t balance)
{
    uint8_t kb[4], vb[8];
    DBT k = bank_dbt(kb, sizeof kb), v = bank_dbt(vb, sizeof vb);

    cmn_put_be32(kb, account);
    cmn_put_be64(vb, (uint64_t)balance);
    return db->accounts->put(db->accounts, txn, &k, &v, 0);
}

int
bank_applied_decode(const void *data, size_t len, bank_applied_t *a)
{
    const uint8_t *p = data;

    if (len != BANK_APPLIED_LEN)
        return -1;
    a->from = cmn_get_be32(p);
    a->to = cmn_get_be32(p + 4);
    a->amount = (int64_t)cmn_get_be64(p + 8);
    a->from_balance = (int64_t)cmn_get_be64(p + 16);
    a->to_balance = (int64_t)cmn_get_be64(p + 24);
    return 0;
}

int
bank_db_applied_get(bank_db_t *db, DB_TXN *txn, const rtr_tid_t *tid, bank_applied_t *a)
{
    uint8_t vb[BANK_APPLIED_LEN];
    DBT k = bank_dbt((void *)(uintptr_t)tid->tid_bytes, 16), v = bank_dbt(vb, sizeof vb);
    int ret = db->applied->get(db->applied, txn, &k, &v, 0);

    if (ret != 0)
        return ret;
    return bank_applied_decode(vb, v.size, a) == 0 ? 0 : DB_NOTFOUND;
}

int
bank_db_applied_put(bank_db_t *db, DB_TXN *txn, const rtr_tid_t *tid, const bank_applied_t *a)
{
    uint8_t vb[BANK_APPLIED_LEN];
    DBT k = bank_dbt((void *)(uintptr_t)tid->tid_bytes, 16), v = bank_dbt(vb, sizeof vb);

    cmn_put_be32(vb, a->from);
    cmn_put_be32(vb + 4, a->to);
    cmn_put_be64(vb + 8, (uint64_t)a->amount);
    cmn_put_be64(vb + 16, (uint64_t)a->from_balance);
    cmn_put_be64(vb + 24, (uint64_t)a->to_balance);
    return db->applied->put(db->applied, txn, &k, &v, DB_NOOVERWRITE);
}

int
bank_db_setup(bank_db_t *db, const char *prog, const bank_meta_t *want, bank_meta_t *meta)
{
    DB_TXN *txn = NULL;
    uint8_t mb[BANK_META_LEN];
    DBT k = bank_dbt(BANK_META_KEY, strlen(BANK_META_KEY)), v = bank_dbt(mb, sizeof mb);
    int ret;

    if ((ret = db->env->txn_begin(db->env, NULL, &txn, 0)) != 0)
        goto fail;
    ret = bank_db_meta(db, txn, meta);
    if (ret == 0) /* set up by an earlier run: keep its accounts */
        return txn->commit(txn, 0);
    if (ret != DB_NOTFOUND)
        goto fail;
    for (uint32_t i = 0; i < want->count; i++)
        if ((ret = bank_db_balance_put(db, txn, want->first + i, want->initial)) != 0)
            goto fail;
    cmn_put_be32(mb, want->first);
    cmn_put_be32(mb + 4, want->count);
    cmn_put_be64(mb + 8, (uint64_t)want->initial);
    if ((ret = db->meta->put(db->meta, txn, &k, &v, 0)) != 0)
        goto fail;
    *meta = *want;
    ret = txn->commit(txn, 0);
    txn = NULL;
    if (ret != 0)
        goto fail;
    return 0;
fail:
    if (txn != NULL)
        txn->abort(txn);
    fprintf(stderr, "%s: setting up the accounts: %s\n", prog, db_strerror(ret));
    return ret;
}

/* ---- facility and TIDs ------------------------------------------------------------------ */

int
bank_partitions(const char *prog, const char *config, bank_partition_t *out, size_t max)
{
    cmn_load_opts_t lo = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;
    const char *path = config;
    int n = -1;

    if (path == NULL)
        path = getenv("RTR_CONFIG");
    if (path == NULL || *path == '\0')
        path = "/etc/rtr/facility.conf";
    if (cmn_facility_load_ex(path, &lo, &fac, &diag) != RTR_STS_OK) {
        fprintf(stderr, "%s: %s\n", prog,
                diag != NULL && diag->error != NULL ? diag->error : "cannot load the facility");
        goto done;
    }
    if (fac->nseg != 1 || fac->seg[0].type != CMN_KEYSEG_UNSIGNED || fac->seg[0].offset != 0 ||
        fac->seg[0].length != 4) {
        fprintf(stderr,
                "%s: %s: the bank needs the key { type = \"unsigned\"; offset = 0; "
                "length = 4; }\n",
                prog, path);
        goto done;
    }
    n = 0;
    for (size_t i = 0; i < fac->npartitions && (size_t)n < max; i++, n++) {
        const cmn_partition_t *p = &fac->partitions[i];
        snprintf(out[n].name, sizeof out[n].name, "%s", p->name);
        out[n].low = cmn_get_be32(p->low.bytes); /* unsigned keys normalize to big-endian */
        out[n].high = cmn_get_be32(p->high.bytes);
    }
done:
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    return n;
}

char *
bank_tid_hex(const rtr_tid_t *tid, char *buf)
{
    for (size_t i = 0; i < 16; i++)
        snprintf(buf + 2 * i, 3, "%02x", tid->tid_bytes[i]);
    return buf;
}

int
bank_tid_parse(const char *s, rtr_tid_t *tid)
{
    for (size_t i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1 || strspn(s + 2 * i, "0123456789abcdef") < 2)
            return -1;
        tid->tid_bytes[i] = (uint8_t)v;
    }
    return s[32] == '\0' || s[32] == ' ' ? 0 : -1;
}
