/*
 * bank.h - the bank example's shared definitions: the transfer message and the server's reply
 * (what travels through RTR), the server's Berkeley DB layout (what bank_verify reads), and the
 * facility lookups the three programs share.
 *
 * Messages are C structs in the native byte order of the machine, as in RTR: the routing key
 * (from_account) is the first field, so the facility's key is { unsigned, offset 0, length 4 }.
 * The database stores integers big-endian, so a cursor walks accounts in numeric order.
 *
 * Thread rule: bank_db_* calls on one bank_db_t from one thread at a time (the server is
 * single-threaded; bank_verify too).
 */
#ifndef BANK_H
#define BANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <db.h>

#include "rtr.h"

/* ---- messages -------------------------------------------------------------------------- */

/* A transfer: move `amount` cents from one account to another of the SAME partition (this
 * capability has no multi-partition transactions; the client picks both accounts in one
 * partition and the server rejects anything else with BANK_OTHERPART). */
typedef struct {
    rtr_uns_32_t from_account; /* offset 0: the routing key */
    rtr_uns_32_t to_account;
    rtr_sgn_64_t amount;     /* cents, > 0 */
    rtr_uns_64_t client_seq; /* the client's own number for the transfer (its log) */
} bank_transfer_t;

/* Results, in the reply and as the reason of a server reject. */
enum {
    BANK_OK = 0,
    BANK_NSF = 1,       /* insufficient funds */
    BANK_NOACCOUNT = 2, /* an account that does not exist */
    BANK_OTHERPART = 3, /* to_account is outside this server's key range */
    BANK_BADMSG = 4,    /* not a bank_transfer_t, amount <= 0, from == to */
    BANK_DBERROR = 5,   /* the server's database failed (logged by the server) */
};

/* The server's reply to a transfer (sent before the outcome: the client learns whether the
 * transfer happened only from rtr_mt_accepted / rtr_mt_rejected). */
typedef struct {
    rtr_uns_32_t result;  /* BANK_* */
    rtr_uns_32_t already; /* 1: a replay of a transfer the server had already applied */
    rtr_sgn_64_t from_balance;
    rtr_sgn_64_t to_balance;
} bank_reply_t;

/* bank_result_name - "OK", "NSF", ...; "?" if unknown. Static. */
const char *bank_result_name(uint32_t result);

/* ---- the server's database ------------------------------------------------------------- */

/* One transactional Berkeley DB environment per server, in its own directory, with three
 * databases:
 *   accounts.db  key: account (u32 BE)   value: balance in cents (i64 BE)
 *   applied.db   key: TID (16 bytes)     value: bank_applied_t, encoded BE (36 bytes)
 *   meta.db      key: "setup"            value: first account (u32), count (u32), initial
 *                                               balance (i64), all BE
 * applied.db is the exactly-once record: a transfer's TID is written in the same DB
 * transaction as its two balances, under a unique key. */
typedef struct {
    uint32_t from, to;
    int64_t amount;
    int64_t from_balance, to_balance; /* after the transfer */
} bank_applied_t;

typedef struct {
    uint32_t first; /* accounts first .. first + count - 1 */
    uint32_t count;
    int64_t initial; /* every account's balance at creation */
} bank_meta_t;

typedef struct {
    DB_ENV *env;
    DB *accounts;
    DB *applied;
    DB *meta;
} bank_db_t;

/* bank_db_open - open (server: create if needed, and run recovery) the environment in dir.
 * readonly (bank_verify): join it without recovery and open the databases DB_RDONLY.
 * Returns 0, or -1 after printing "PROG: DIR: reason" to stderr; on -1 *db is closed. */
int bank_db_open(bank_db_t *db, const char *prog, const char *dir, bool readonly);

/* bank_db_close - close everything; accepts a closed or half-open db. */
void bank_db_close(bank_db_t *db);

/* bank_db_setup - in one DB transaction: if meta exists, read it into *meta (the accounts are
 * kept as they are); else create accounts want->first .. + want->count - 1 with
 * want->initial each and record want as the meta. Returns 0 or a BDB error (printed). */
int bank_db_setup(bank_db_t *db, const char *prog, const bank_meta_t *want, bank_meta_t *meta);

/* bank_db_meta - read the meta. 0, DB_NOTFOUND, or a BDB error. */
int bank_db_meta(bank_db_t *db, DB_TXN *txn, bank_meta_t *meta);

/* bank_db_balance_get / _put - one account. get: 0, DB_NOTFOUND or a BDB error (flags: 0 or
 * DB_RMW, which takes the write lock at once). */
int bank_db_balance_get(bank_db_t *db, DB_TXN *txn, uint32_t account, int64_t *balance,
                        uint32_t flags);
int bank_db_balance_put(bank_db_t *db, DB_TXN *txn, uint32_t account, int64_t balance);

/* bank_db_applied_get / _put - the record of a TID. put uses DB_NOOVERWRITE: DB_KEYEXIST if
 * the TID is already there. */
int bank_db_applied_get(bank_db_t *db, DB_TXN *txn, const rtr_tid_t *tid, bank_applied_t *a);
int bank_db_applied_put(bank_db_t *db, DB_TXN *txn, const rtr_tid_t *tid, const bank_applied_t *a);

/* bank_applied_decode - decode an applied.db value (36 bytes). Returns 0 or -1. */
int bank_applied_decode(const void *data, size_t len, bank_applied_t *a);

/* ---- the facility (read with RTR's own config reader, so the example agrees with the
 * daemons about partitions) ------------------------------------------------------------- */

/* A partition's accounts: the key range and the accounts a server creates in it. */
typedef struct {
    char name[64];
    uint32_t low, high; /* the partition's key range (inclusive) */
} bank_partition_t;

/* bank_partitions - the facility's partitions (at most max) from `config` (NULL: $RTR_CONFIG,
 * else /etc/rtr/facility.conf). The facility key must be one unsigned 4-byte segment at
 * offset 0 (bank_transfer_t). Returns how many, or -1 after printing why to stderr. */
int bank_partitions(const char *prog, const char *config, bank_partition_t *out, size_t max);

/* bank_tid_hex - a TID as 32 hex digits (buf: at least 33 bytes); returns buf. */
char *bank_tid_hex(const rtr_tid_t *tid, char *buf);

/* bank_tid_parse - 32 hex digits to a TID. Returns 0 or -1. */
int bank_tid_parse(const char *s, rtr_tid_t *tid);

#endif /* BANK_H */
