/*
 * jrn_impl.h - internals of the journal, shared by jrn_open.c (open, close, the read-only
 * view), jrn_writer.c (batches, the writer thread, group commit) and jrn.c (reads, meta).
 * Included by no other folder except tests/journal.
 *
 * Locking: j->lock guards the queue, tickets, failure, and counters; j->part_lock guards the
 * partition table and serialises partition creation. BDB handles are free-threaded (DB_THREAD).
 * Only the writer thread writes to the databases (after open).
 */
#ifndef JRN_IMPL_H
#define JRN_IMPL_H

#include <pthread.h>

#include <db.h>

#include "cmn.h"
#include "jrn.h"
#include "wire.h"

#define JRN_NAME_MAX         63
#define JRN_RECORD_KEY_LEN   12 /* part u32 BE + n u64 BE */
#define JRN_TID_KEY_LEN      28 /* tid 16 + part u32 BE + n u64 BE */
#define JRN_META_PREFIX      "p:"
#define JRN_INFO_KEY         "journal"
#define JRN_MAX_BATCH_OPS    10000 /* per batch: bounds one BDB transaction */
#define JRN_TXN_OPS          4096  /* batches are grouped into txns of about this */
#define JRN_DEADLOCK_RETRIES 16
#define JRN_MAX_RECORD_BYTES (64u * 1024 * 1024) /* decoding limit for one stored record */
#define JRN_LOCK_FILE        "LOCK"
#define JRN_WAIT_SLOTS       64 /* waiters sleep on done_cv[ticket % JRN_WAIT_SLOTS] */

typedef enum {
    JRN_OP_PUT,
    JRN_OP_STATE,
    JRN_OP_DELETE,
    JRN_OP_META,
    JRN_OP_TRUNCATE, /* n = above_n: delete every record of part with a higher n */
} jrn_op_kind_t;

typedef struct {
    jrn_op_kind_t kind;
    uint32_t part;
    uint64_t n;
    Rtr__TxState state; /* JRN_OP_STATE */
    uint64_t moved_to;  /* JRN_OP_STATE, TX_MOVED */
    uint8_t tid[16];    /* JRN_OP_PUT */
    uint8_t *data;      /* JRN_OP_PUT: encoded record; JRN_OP_META: encoded meta (owned) */
    size_t len;
    char *name; /* JRN_OP_META: partition name (owned) */
} jrn_op_t;

struct jrn_batch {
    jrn_op_t *ops;
    size_t nops;
    size_t cap;
    uint64_t new_bytes; /* bytes of JRN_OP_PUT data: what the size limit counts */
    uint64_t ticket;
    struct jrn_batch *next;
};

struct jrn {
    char *dir;
    char *home; /* where the environment is opened: dir, or a private copy (read-only) */
    bool readonly;
    bool private_copy;
    int lock_fd;
    DB_ENV *env;
    DB *records;
    DB *by_tid;
    DB *meta;

    pthread_mutex_t part_lock;
    char **part_names; /* index = partition id */
    uint32_t nparts;

    pthread_mutex_t lock;
    pthread_cond_t work_cv; /* writer: work queued or stopping */
    /* Waiters for ticket t sleep on done_cv[t % JRN_WAIT_SLOTS], so a flush wakes only the
     * owners of the tickets it hardened, not every waiter (no thundering herd). */
    pthread_cond_t done_cv[JRN_WAIT_SLOTS];
    jrn_batch_t *q_head;
    jrn_batch_t *q_tail;
    uint64_t q_new_bytes; /* new_bytes of queued, unwritten batches */
    bool stopping;
    bool writer_running;  /* the writer loop has not exited */
    bool flusher_running; /* the flusher loop has not exited */
    bool threads_started; /* writer, flusher, checkpointer created: join once */
    pthread_t writer;
    pthread_t flusher;
    pthread_cond_t flush_cv; /* flusher: written advanced, writer gone, or failure */
    uint64_t written;        /* last ticket written to BDB (not yet necessarily flushed) */
    int efd;

    uint64_t max_bytes;
    uint64_t reserve_bytes;
    uint64_t checkpoint_bytes; /* log bytes between checkpoints (BDB measures the log) */
    uint64_t since_kick;       /* record bytes written since the checkpointer was kicked */
    bool ckpt_running;         /* the checkpointer loop has not exited */
    bool ckpt_stop;
    pthread_t checkpointer;
    pthread_cond_t ckpt_cv; /* checkpointer: kicked, or stopping (CLOCK_MONOTONIC) */
    uint64_t bdb_messages;  /* BDB error messages seen (rate-limited in the log) */
    jrn_stats_t st;         /* guarded by lock; st.failure is the sticky failure */
};

/* jrn_record_key - the records key of (part, n). */
void jrn_record_key(uint8_t out[JRN_RECORD_KEY_LEN], uint32_t part, uint64_t n);

/* jrn_tid_key - the by_tid key of (tid, part, n). */
void jrn_tid_key(uint8_t out[JRN_TID_KEY_LEN], const uint8_t tid[16], uint32_t part, uint64_t n);

/* jrn_decode_record - strict decode of a stored record; RTR_STS_JNLCORRUPT (logged) if bad. */
rtr_status_t jrn_decode_record(const void *data, size_t len, Rtr__JournalRecord **out);

/* jrn_map_db_error - map a BDB/errno return code met in `what` to a status, logging it. */
rtr_status_t jrn_map_db_error(const jrn_t *j, int ret, const char *what);

/* jrn_queue - jrn_submit without the meta checks (for jrn_partition, which creates the
 * partition the meta names while holding part_lock). */
rtr_status_t jrn_queue(jrn_t *j, jrn_batch_t **bp, uint64_t *ticket);

/* jrn_writer_start / jrn_writer_stop - the writer, flusher and checkpointer threads
 * (jrn_writer.c). stop drains the queue first. */
rtr_status_t jrn_writer_start(jrn_t *j);
void jrn_writer_stop(jrn_t *j);

/* jrn_load_partitions - fill the partition table from meta (at open). */
rtr_status_t jrn_load_partitions(jrn_t *j);

/* jrn_count_live - count records and bytes (at open). */
rtr_status_t jrn_count_live(jrn_t *j);

#endif /* JRN_IMPL_H */
