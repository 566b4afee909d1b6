/* api_server.c - the smallest complete RTR server (docs/api.md): deposits into a Berkeley DB,
 * each TID applied exactly once. Usage: RTR_CONFIG=facility.conf RTR_NODE=be1 api_server DBDIR
 * LOW HIGH */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <db.h>

#include "rtr.h"

typedef struct {
    rtr_uns_32_t account; /* offset 0: the routing key of the facility */
    rtr_sgn_64_t amount;
} deposit_t;

static DBT
dbt(void *data, size_t len)
{
    DBT d;
    memset(&d, 0, sizeof d);
    d.data = data;
    d.size = d.ulen = (u_int32_t)len;
    d.flags = DB_DBT_USERMEM;
    return d;
}

/* apply - in txn: skip a TID already recorded, else add the amount and record the TID.
 * Returns 1 if already applied, 0 if applied now, or a BDB error. */
static int
apply(DB *accounts, DB *applied, DB_TXN *txn, const rtr_tid_t *tid, const deposit_t *d)
{
    rtr_sgn_64_t balance = 0;
    rtr_uns_32_t key = d->account;
    rtr_tid_t tidkey = *tid;
    DBT t = dbt(tidkey.tid_bytes, 16), none = dbt(NULL, 0);
    DBT k = dbt(&key, sizeof key), v = dbt(&balance, sizeof balance);
    int ret = applied->get(applied, txn, &t, &none, 0); /* the TID first: exactly once */

    if (ret == 0)
        return 1;
    if (ret != DB_NOTFOUND)
        return ret;
    /* DB_RMW: the write lock now, held until the outcome */
    ret = accounts->get(accounts, txn, &k, &v, DB_RMW);
    if (ret != 0 && ret != DB_NOTFOUND)
        return ret;
    balance += d->amount;
    if ((ret = accounts->put(accounts, txn, &k, &v, 0)) != 0)
        return ret;
    /* the TID, in the same DB transaction, under a unique key */
    return applied->put(applied, txn, &t, &none, DB_NOOVERWRITE);
}

int
main(int argc, char **argv)
{
    DB_ENV *env;
    DB *accounts, *applied;
    DB_TXN *txn = NULL;
    rtr_channel_t ch, got;
    rtr_msgsb_t sb;
    union {
        deposit_t d;
        rtr_status_data_t sd;
        char raw[RTR_MAX_MSGLEN];
    } buf;

    if (argc != 4)
        return 2;
    rtr_uns_32_t low = (rtr_uns_32_t)strtoul(argv[2], NULL, 10);
    rtr_uns_32_t high = (rtr_uns_32_t)strtoul(argv[3], NULL, 10);
    rtr_keyseg_t seg = { rtr_keyseg_unsigned, 4, 0, &low, &high };

    if (db_env_create(&env, 0) != 0 ||
        env->open(env, argv[1],
                  DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_RECOVER,
                  0600) != 0 ||
        db_create(&accounts, env, 0) != 0 ||
        accounts->open(accounts, NULL, "accounts.db", NULL, DB_BTREE, DB_CREATE | DB_AUTO_COMMIT,
                       0600) != 0 ||
        db_create(&applied, env, 0) != 0 ||
        applied->open(applied, NULL, "applied.db", NULL, DB_BTREE, DB_CREATE | DB_AUTO_COMMIT,
                      0600) != 0) {
        fprintf(stderr, "cannot open the database in %s\n", argv[1]);
        return 1;
    }
    if (rtr_open_channel(&ch, RTR_F_OPE_SERVER, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM, RTR_NO_PEVTNUM,
                         RTR_NO_ACCESS, 1, &seg) != RTR_STS_OK)
        return 1;
    for (;;) {
        rtr_status_t sts = rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf,
                                               RTR_NO_TIMOUTMS, &sb);
        if (sts != RTR_STS_OK)
            break;
        switch (sb.msgtype) {
        case rtr_mt_opened:
            printf("serving %u..%u\n", low, high);
            break;
        case rtr_mt_msg1:
        case rtr_mt_msg1_uncertain: { /* one message per transaction: it is also the last */
            int ret = env->txn_begin(env, NULL, &txn, 0);
            if (ret == 0 && sb.msglen == sizeof(deposit_t))
                ret = apply(accounts, applied, txn, &sb.tid, &buf.d);
            if (ret == 1) /* a replay of a deposit already committed: do not apply it again */
                rtr_accept_tx(ch, RTRX_F_ACC_ALREADY_APPLIED, RTR_NO_REASON);
            else if (ret == 0 && sb.msglen == sizeof(deposit_t))
                rtr_accept_tx(ch, RTR_NO_FLAGS, RTR_NO_REASON);
            else
                rtr_reject_tx(ch, RTR_NO_FLAGS, 1);
            break;
        }
        case rtr_mt_accepted: /* RTR decided COMMIT: commit the DB transaction */
            if (txn != NULL && txn->commit(txn, 0) != 0)
                return 2; /* exit without ServerDone: the backend replays it (uncertain) */
            txn = NULL;
            break;
        case rtr_mt_rejected: /* rolled back everywhere: so here */
            if (txn != NULL)
                txn->abort(txn);
            txn = NULL;
            break;
        case rtr_mt_closed:
            fprintf(stderr, "channel closed: %s\n", rtr_error_text(buf.sd.status));
            return 1;
        default:
            break;
        }
    }
    return 1;
}
