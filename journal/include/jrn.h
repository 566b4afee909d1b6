/*
 * jrn.h - the Berkeley DB journal of a backend (DESIGN §7).
 *
 * A journal is one directory holding one transactional BDB environment with three databases:
 *   records  key: partition id (u32 BE) + CSN n (u64 BE)   value: JournalRecord (protobuf)
 *   by_tid   key: TID (16) + partition id + n (u64 BE)     value: empty
 *   meta     key: "p:" + partition name                   value: JournalMeta (protobuf)
 *            key: "journal"                               value: JournalInfo (protobuf)
 *
 * Writes are batches. jrn_submit queues a batch and returns a ticket at once; a writer thread
 * takes every batch queued since its last flush, writes them all in one BDB transaction
 * (DB_TXN_WRITE_NOSYNC) and then flushes the log once (one fsync): group commit. Tickets are
 * hardened in submission order, so "hardened up to ticket T" is one number. The owner learns it
 * either by blocking (jrn_wait) or from a pollable fd (jrn_fd + jrn_poll) it can put in a
 * zmq_poll set next to its sockets.
 *
 * Failure is sticky: after any failed write or fsync the journal refuses all further work with
 * RTR_STS_JNLFAILED, even if the disk recovers. The backend must fail over; it never retries.
 *
 * One process owns a journal directory (an exclusive lock file); a second writer gets
 * RTR_STS_BUSY. Any number of read-only openers (rtrcli dump journal) may look at it, live or
 * stopped, without writing anything to the directory.
 *
 * Thread rule: all functions may be called from any thread, except jrn_close, which must not
 * race with any other call on the same journal. Borrowed pointers handed to a scan callback
 * are valid only during that callback.
 */
#ifndef JRN_H
#define JRN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtr.pb-c.h"
#include "rtr_status.h"

typedef struct jrn jrn_t;
typedef struct jrn_batch jrn_batch_t;

#define JRN_ALL_PARTITIONS UINT32_MAX
#define JRN_FORMAT         1u

typedef struct {
    const char *dir;        /* journal directory; created (with parents' existence required)
                               unless readonly */
    const char *node;       /* owning backend's name, recorded at creation; may be NULL */
    bool readonly;          /* inspection only: never writes to dir (see jrn_open) */
    uint64_t max_bytes;     /* limit on live record bytes; 0 = unlimited */
    uint64_t reserve_bytes; /* of max_bytes, kept for state updates, deletes and meta of
                               admitted transactions; new records see max - reserve */
    uint32_t cache_mb;      /* BDB cache; 0 = 32 MiB */
    uint32_t checkpoint_mb; /* checkpoint (and remove old logs) after this much log; 0 = 16 */
} jrn_options_t;

typedef struct {
    uint64_t live_records;  /* records currently held */
    uint64_t live_bytes;    /* their encoded size */
    uint64_t max_bytes;     /* from the options (0 = unlimited) */
    uint64_t submitted;     /* last ticket handed out */
    uint64_t hardened;      /* last ticket hardened */
    uint64_t flushes;       /* log flushes (fsyncs) done by the writer */
    uint64_t batches;       /* batches written */
    uint64_t ops;           /* operations written */
    uint64_t full_refusals; /* submissions refused with RTR_STS_JNLFULL */
    uint64_t checkpoints;   /* checkpoints taken */
    rtr_status_t failure;   /* RTR_STS_OK or the sticky failure */
} jrn_stats_t;

/* A record seen by a scan. Everything is borrowed and valid only during the callback. */
typedef struct {
    uint32_t part;                 /* partition id */
    const char *part_name;         /* partition name */
    const Rtr__JournalRecord *rec; /* decoded record */
    size_t bytes;                  /* encoded size in the journal */
} jrn_entry_t;

/* Return 0 to go on, non-zero to stop the scan (jrn_scan then returns RTR_STS_OK). */
typedef int jrn_scan_fn(void *arg, const jrn_entry_t *e);

/* ---- open and close ------------------------------------------------------------------ */

/* jrn_open - open (or create) the journal in opt->dir.
 * Writer: takes the directory's lock (RTR_STS_BUSY, naming the owner's PID in the log, if
 * another process holds it), runs BDB recovery, counts live records, starts the writer thread.
 * Read-only: if the owner (another process) is alive it joins the environment and reads
 * (joining writes only BDB's shared region files); if no owner is running it never writes to
 * dir: it copies the databases and logs to a private temporary directory and recovers there.
 * A read-only open in the owner's own process is refused with RTR_STS_BUSY (read through the
 * writer's handle: a second BDB handle in that process would unregister the owner).
 * RTR_STS_NOTFOUND if dir holds no journal, RTR_STS_JNLCORRUPT if it is damaged, RTR_STS_IOERR for
 * other I/O errors (logged with errno). On success *out is a new handle the caller owns (free with
 * jrn_close). */
rtr_status_t jrn_open(const jrn_options_t *opt, jrn_t **out);

/* jrn_close - write everything already submitted (each batch is hardened or fails), stop the
 * writer, checkpoint, close the environment, release the lock, free, and NULL *jp.
 * Accepts NULL and a pointer to NULL. */
void jrn_close(jrn_t **jp);

/* ---- partitions and meta ------------------------------------------------------------- */

/* jrn_partition - the journal's id for a partition name, creating it (durably, before it
 * returns) if absent and the journal is writable. RTR_STS_NOTFOUND if absent and read-only,
 * RTR_STS_INVARG for an empty name or one over 63 bytes. */
rtr_status_t jrn_partition(jrn_t *j, const char *name, uint32_t *id);

/* jrn_partition_name - name of a partition id, or NULL if unknown. Borrowed: valid until
 * jrn_close. */
const char *jrn_partition_name(jrn_t *j, uint32_t id);

/* jrn_partition_count - number of partitions; ids run 0 .. count-1. */
uint32_t jrn_partition_count(jrn_t *j);

/* jrn_meta_get - the stored meta of a partition; *out is a new message the caller frees with
 * wire_free. RTR_STS_NOTFOUND if the partition is unknown. */
rtr_status_t jrn_meta_get(jrn_t *j, uint32_t part, Rtr__JournalMeta **out);

/* ---- writing: batches and tickets ---------------------------------------------------- */

/* jrn_batch_new - an empty batch, owned by the caller until jrn_submit consumes it.
 * NULL on out of memory. */
jrn_batch_t *jrn_batch_new(void);

/* jrn_batch_free - free an unsubmitted batch and NULL *bp; accepts NULL. */
void jrn_batch_free(jrn_batch_t **bp);

/* jrn_batch_put - add a record (encoded now; rec is not kept). Its key is (part, rec->n); the
 * TID index is updated too. A put over an existing record replaces it. */
rtr_status_t jrn_batch_put(jrn_batch_t *b, uint32_t part, const Rtr__JournalRecord *rec);

/* jrn_batch_set_state - change the state of record (part, n); moved_to is stored for
 * TX_MOVED (ignored otherwise). A record that no longer exists is skipped and logged. */
rtr_status_t jrn_batch_set_state(jrn_batch_t *b, uint32_t part, uint64_t n, Rtr__TxState state,
                                 uint64_t moved_to);

/* jrn_batch_delete - remove record (part, n) and its TID index entry (retention). */
rtr_status_t jrn_batch_delete(jrn_batch_t *b, uint32_t part, uint64_t n);

/* jrn_batch_truncate - delete every record of partition `part` with n > above_n, and each
 * one's TID index entry (a shadow member cutting its journal back to the agreed point,
 * docs/shadow-protocol.md §6 step 2). It is one operation of the batch: the writer runs it
 * inside the batch's BDB transaction, in batch order (a put of n > above_n placed before it in
 * the same batch is deleted, one placed after it survives), so it commits atomically with the
 * batch's other operations. The caller cuts the epoch history itself (entries with
 * first_n > above_n dropped; retention never does this, truncation must) and adds the
 * partition's new JournalMeta to the same batch with jrn_batch_put_meta. Afterwards
 * jrn_last_n, jrn_scan, jrn_get and jrn_lookup_tid no longer see the truncated records, and
 * any truncated n may be put again (with another TID). above_n = 0 empties the partition;
 * nothing above above_n is a no-op. Like jrn_batch_delete it adds no new bytes (admitted from
 * the reserve). RTR_STS_INVARG for a NULL batch, JRN_ALL_PARTITIONS or a full batch;
 * jrn_submit refuses (RTR_STS_INVARG, logged) a batch truncating a partition the journal does
 * not know. A failure while it runs fails the journal (sticky) like any other write.
 * The whole truncation is one BDB transaction on the writer thread, and batches submitted
 * after it wait for it: 10-50 us per record by size (100,000 records of 2 KB took ~5 s). */
rtr_status_t jrn_batch_truncate(jrn_batch_t *b, uint32_t part, uint64_t above_n);

/* jrn_batch_put_meta - store meta for partition meta->id. Its name must be that partition's
 * name: jrn_submit refuses a batch with a mismatch with RTR_STS_INVARG. */
rtr_status_t jrn_batch_put_meta(jrn_batch_t *b, const Rtr__JournalMeta *meta);

/* jrn_batch_ops - number of operations in the batch. */
size_t jrn_batch_ops(const jrn_batch_t *b);

/* jrn_submit - queue a batch for the writer; returns at once. On RTR_STS_OK *bp is consumed
 * (set to NULL) and *ticket is its ticket (tickets start at 1 and increase by 1). Otherwise *bp
 * is untouched: RTR_STS_JNLFULL (new records would pass max_bytes - reserve_bytes),
 * RTR_STS_JNLFAILED (sticky failure), RTR_STS_JNLRDONLY, RTR_STS_INVARG (empty batch, a meta
 * whose id and name do not match, a truncation of an unknown partition; logged). */
rtr_status_t jrn_submit(jrn_t *j, jrn_batch_t **bp, uint64_t *ticket);

/* jrn_append - one-record convenience: a batch with one put, submitted. */
rtr_status_t jrn_append(jrn_t *j, uint32_t part, const Rtr__JournalRecord *rec, uint64_t *ticket);

/* jrn_wait - block until `ticket` is hardened (RTR_STS_OK) or the journal has failed
 * (RTR_STS_JNLFAILED). Never busy-waits. */
rtr_status_t jrn_wait(jrn_t *j, uint64_t ticket);

/* jrn_fd - a file descriptor that becomes readable when the hardened ticket advances or the
 * journal fails. For poll/zmq_poll; do not read or close it: call jrn_poll. */
int jrn_fd(jrn_t *j);

/* jrn_poll - reset jrn_fd's readiness and return the current state: *hardened = highest
 * hardened ticket. Returns RTR_STS_OK or the sticky failure. Never blocks. */
rtr_status_t jrn_poll(jrn_t *j, uint64_t *hardened);

/* ---- reading ------------------------------------------------------------------------- */

/* jrn_scan - call fn for each record of partition `part` (or JRN_ALL_PARTITIONS) with
 * from_n <= n <= to_n, in (part, n) order. Sees every write of a batch the writer has written
 * (hardened or about to be). RTR_STS_JNLCORRUPT if a stored record does not decode. */
rtr_status_t jrn_scan(jrn_t *j, uint32_t part, uint64_t from_n, uint64_t to_n, jrn_scan_fn *fn,
                      void *arg);

/* jrn_get - one record; *out is a new message the caller frees with wire_free.
 * RTR_STS_NOTFOUND if absent. */
rtr_status_t jrn_get(jrn_t *j, uint32_t part, uint64_t n, Rtr__JournalRecord **out);

/* jrn_lookup_tid - CSN n of a TID's newest record in partition part. RTR_STS_NOTFOUND. */
rtr_status_t jrn_lookup_tid(jrn_t *j, const uint8_t tid[16], uint32_t part, uint64_t *n);

/* jrn_last_n - highest n held for the partition (0 if none). */
rtr_status_t jrn_last_n(jrn_t *j, uint32_t part, uint64_t *n);

/* jrn_stats - counters and sizes (a snapshot). */
void jrn_stats(jrn_t *j, jrn_stats_t *out);

/* jrn_dir - the directory given at open. Borrowed: valid until jrn_close. */
const char *jrn_dir(const jrn_t *j);

#endif /* JRN_H */
