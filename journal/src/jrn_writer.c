/*
 * jrn_writer.c - write batches, the writer thread, group commit.
 *
 * Producers build a batch (records are encoded in the producer's thread), then jrn_submit
 * appends it to the queue under j->lock and hands out the next ticket. The writer thread:
 *
 *   1. takes every batch queued so far (the whole list, one lock round-trip);
 *   2. writes them in BDB transactions of about JRN_TXN_OPS operations, each committed with
 *      DB_TXN_WRITE_NOSYNC (a batch never spans two transactions, so a batch is atomic), and
 *      publishes `written` = the group's last ticket;
 * and a flusher thread, pipelined behind it:
 *   3. flushes the log ONCE (one fsync covers every group written since the last flush);
 *   4. only then publishes hardened = the `written` it saw before the flush, wakes the
 *      jrn_wait callers of those tickets and signals the eventfd.
 * The order 2 → 3 → 4 is the durability promise: nobody learns that a ticket is hardened before
 * the fsync that covers it returned. While one group's fsync runs, the writer already writes
 * the next group (CPU overlaps I/O), and new batches queue up behind both, so groups grow with
 * the load and latency stays near one fsync.
 *
 * Failure is sticky (DESIGN §7): the first failed write, commit or flush sets st.failure to
 * RTR_STS_JNLFAILED; every later submit, wait and poll returns it, and no further write is
 * tried. Retrying an fsync after it failed can report success for data the kernel dropped.
 * The only retry is for BDB's deadlock resolution (a reader chose the same pages): that
 * transaction was aborted before anything reached the log, so it is simply run again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jrn_impl.h"

/* ---- batches ------------------------------------------------------------------------- */

jrn_batch_t *
jrn_batch_new(void)
{
    return calloc(1, sizeof(jrn_batch_t));
}

void
jrn_batch_free(jrn_batch_t **bp)
{
    jrn_batch_t *b;

    if (bp == NULL || (b = *bp) == NULL)
        return;
    for (size_t i = 0; i < b->nops; i++) {
        free(b->ops[i].data);
        free(b->ops[i].name);
    }
    free(b->ops);
    free(b);
    *bp = NULL;
}

size_t
jrn_batch_ops(const jrn_batch_t *b)
{
    return b ? b->nops : 0;
}

static jrn_op_t *
jrn_batch_grow(jrn_batch_t *b)
{
    if (b->nops == JRN_MAX_BATCH_OPS)
        return NULL;
    if (b->nops == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        jrn_op_t *ops = realloc(b->ops, cap * sizeof *ops);
        if (ops == NULL)
            return NULL;
        b->ops = ops;
        b->cap = cap;
    }
    memset(&b->ops[b->nops], 0, sizeof b->ops[0]);
    return &b->ops[b->nops];
}

rtr_status_t
jrn_batch_put(jrn_batch_t *b, uint32_t part, const Rtr__JournalRecord *rec)
{
    jrn_op_t *op;
    size_t len;

    if (b == NULL || rec == NULL || part == JRN_ALL_PARTITIONS || rec->tid.len != 16)
        return RTR_STS_INVARG;
    if ((op = jrn_batch_grow(b)) == NULL)
        return b->nops == JRN_MAX_BATCH_OPS ? RTR_STS_INVARG : RTR_STS_NOMEM;
    len = protobuf_c_message_get_packed_size(&rec->base);
    if ((op->data = malloc(len ? len : 1)) == NULL)
        return RTR_STS_NOMEM;
    op->len = protobuf_c_message_pack(&rec->base, op->data);
    op->kind = JRN_OP_PUT;
    op->part = part;
    op->n = rec->n;
    memcpy(op->tid, rec->tid.data, 16);
    b->new_bytes += op->len;
    b->nops++;
    return RTR_STS_OK;
}

rtr_status_t
jrn_batch_set_state(jrn_batch_t *b, uint32_t part, uint64_t n, Rtr__TxState state,
                    uint64_t moved_to)
{
    jrn_op_t *op;

    if (b == NULL || part == JRN_ALL_PARTITIONS || state < RTR__TX_STATE__TX_VOTED ||
        state > RTR__TX_STATE__TX_MOVED)
        return RTR_STS_INVARG;
    if ((op = jrn_batch_grow(b)) == NULL)
        return b->nops == JRN_MAX_BATCH_OPS ? RTR_STS_INVARG : RTR_STS_NOMEM;
    op->kind = JRN_OP_STATE;
    op->part = part;
    op->n = n;
    op->state = state;
    op->moved_to = moved_to;
    b->nops++;
    return RTR_STS_OK;
}

rtr_status_t
jrn_batch_delete(jrn_batch_t *b, uint32_t part, uint64_t n)
{
    jrn_op_t *op;

    if (b == NULL || part == JRN_ALL_PARTITIONS)
        return RTR_STS_INVARG;
    if ((op = jrn_batch_grow(b)) == NULL)
        return b->nops == JRN_MAX_BATCH_OPS ? RTR_STS_INVARG : RTR_STS_NOMEM;
    op->kind = JRN_OP_DELETE;
    op->part = part;
    op->n = n;
    b->nops++;
    return RTR_STS_OK;
}

rtr_status_t
jrn_batch_truncate(jrn_batch_t *b, uint32_t part, uint64_t above_n)
{
    jrn_op_t *op;

    if (b == NULL || part == JRN_ALL_PARTITIONS)
        return RTR_STS_INVARG;
    if ((op = jrn_batch_grow(b)) == NULL)
        return b->nops == JRN_MAX_BATCH_OPS ? RTR_STS_INVARG : RTR_STS_NOMEM;
    op->kind = JRN_OP_TRUNCATE;
    op->part = part;
    op->n = above_n;
    b->nops++;
    return RTR_STS_OK;
}

rtr_status_t
jrn_batch_put_meta(jrn_batch_t *b, const Rtr__JournalMeta *meta)
{
    jrn_op_t *op;
    size_t len;

    if (b == NULL || meta == NULL || meta->partition == NULL || meta->partition[0] == '\0' ||
        strlen(meta->partition) > JRN_NAME_MAX)
        return RTR_STS_INVARG;
    if ((op = jrn_batch_grow(b)) == NULL)
        return b->nops == JRN_MAX_BATCH_OPS ? RTR_STS_INVARG : RTR_STS_NOMEM;
    len = protobuf_c_message_get_packed_size(&meta->base);
    op->data = malloc(len ? len : 1);
    op->name = strdup(meta->partition);
    if (op->data == NULL || op->name == NULL) {
        free(op->data);
        free(op->name);
        return RTR_STS_NOMEM;
    }
    op->len = protobuf_c_message_pack(&meta->base, op->data);
    op->kind = JRN_OP_META;
    op->part = meta->id;
    b->nops++;
    return RTR_STS_OK;
}

/* ---- submit and completion ----------------------------------------------------------- */

/* jrn_admit - the size limit: may a batch with `new_bytes` of new records be queued?
 * Outcome updates carry no new bytes and are always admitted: the reserve is kept for them. */
static bool
jrn_admit(const jrn_t *j, uint64_t new_bytes)
{
    if (j->max_bytes == 0 || new_bytes == 0)
        return true;
    return j->st.live_bytes + j->q_new_bytes + new_bytes <= j->max_bytes - j->reserve_bytes;
}

/* jrn_ops_invalid - false if the batch's partition-level operations are sound, else true with
 * the log id and reason: every meta operation must name an existing partition by its own id
 * and name (a mismatch would leave two ids for one name, or one id for two, in the partition
 * table, and the journal would no longer open), and every truncation an existing partition
 * (checked here because the writer cannot refuse one operation: any error there fails the
 * whole journal). */
static bool
jrn_ops_invalid(jrn_t *j, const jrn_batch_t *b, const char **msgid, const char **why)
{
    pthread_mutex_lock(&j->part_lock);
    for (size_t i = 0; *why == NULL && i < b->nops; i++) {
        const jrn_op_t *op = &b->ops[i];
        if (op->kind == JRN_OP_META &&
            (op->part >= j->nparts || strcmp(j->part_names[op->part], op->name) != 0)) {
            *msgid = "JRN-BADMETA";
            *why = "meta names a partition by another id or name: refused";
        } else if (op->kind == JRN_OP_TRUNCATE && op->part >= j->nparts) {
            *msgid = "JRN-BADTRUNC";
            *why = "truncation of an unknown partition: refused";
        }
    }
    pthread_mutex_unlock(&j->part_lock);
    return *why != NULL;
}

rtr_status_t
jrn_submit(jrn_t *j, jrn_batch_t **bp, uint64_t *ticket)
{
    jrn_batch_t *b = bp ? *bp : NULL;
    const char *msgid = NULL, *why = NULL;

    if (j == NULL || b == NULL || b->nops == 0)
        return RTR_STS_INVARG;
    if (j->readonly)
        return RTR_STS_JNLRDONLY;
    if (jrn_ops_invalid(j, b, &msgid, &why)) {
        RTR_LOG(CMN_LOG_ERR, msgid, "dir=%s msg=\"%s\"", j->dir, why);
        return RTR_STS_INVARG;
    }
    return jrn_queue(j, bp, ticket);
}

rtr_status_t
jrn_queue(jrn_t *j, jrn_batch_t **bp, uint64_t *ticket)
{
    jrn_batch_t *b = *bp;
    rtr_status_t sts = RTR_STS_OK;

    pthread_mutex_lock(&j->lock);
    if (j->st.failure != RTR_STS_OK) {
        sts = j->st.failure;
    } else if (j->stopping) {
        sts = RTR_STS_JNLCLOSED;
    } else if (!jrn_admit(j, b->new_bytes)) {
        j->st.full_refusals++;
        sts = RTR_STS_JNLFULL;
    } else {
        b->ticket = ++j->st.submitted;
        j->q_new_bytes += b->new_bytes;
        if (j->q_tail)
            j->q_tail->next = b;
        else
            j->q_head = b;
        j->q_tail = b;
        if (ticket)
            *ticket = b->ticket;
        *bp = NULL;
        pthread_cond_signal(&j->work_cv);
    }
    uint64_t refusals = j->st.full_refusals;
    pthread_mutex_unlock(&j->lock);
    if (sts == RTR_STS_JNLFULL && (refusals & (refusals - 1)) == 0) /* rate limit: 1,2,4,8.. */
        RTR_LOG(CMN_LOG_WARNING, "JRN-FULL",
                "dir=%s max_bytes=%" PRIu64 " reserve_bytes=%" PRIu64 " refusals=%" PRIu64
                " msg=\"journal full: new transactions refused\"",
                j->dir, j->max_bytes, j->reserve_bytes, refusals);
    return sts;
}

rtr_status_t
jrn_append(jrn_t *j, uint32_t part, const Rtr__JournalRecord *rec, uint64_t *ticket)
{
    jrn_batch_t *b = jrn_batch_new();
    rtr_status_t sts;

    if (b == NULL)
        return RTR_STS_NOMEM;
    sts = jrn_batch_put(b, part, rec);
    if (sts == RTR_STS_OK)
        sts = jrn_submit(j, &b, ticket);
    jrn_batch_free(&b);
    return sts;
}

rtr_status_t
jrn_wait(jrn_t *j, uint64_t ticket)
{
    rtr_status_t sts;

    pthread_mutex_lock(&j->lock);
    while (j->st.hardened < ticket && j->st.failure == RTR_STS_OK && j->flusher_running)
        pthread_cond_wait(&j->done_cv[ticket % JRN_WAIT_SLOTS], &j->lock);
    if (j->st.hardened >= ticket)
        sts = RTR_STS_OK;
    else if (j->st.failure != RTR_STS_OK)
        sts = j->st.failure;
    else
        sts = RTR_STS_JNLCLOSED;
    pthread_mutex_unlock(&j->lock);
    return sts;
}

int
jrn_fd(jrn_t *j)
{
    return j->efd;
}

rtr_status_t
jrn_poll(jrn_t *j, uint64_t *hardened)
{
    uint64_t v;
    rtr_status_t sts;

    if (read(j->efd, &v, sizeof v) < 0 && errno != EAGAIN)
        RTR_LOG(CMN_LOG_WARNING, "JRN-EVENTFD", "dir=%s errno=%d", j->dir, errno);
    pthread_mutex_lock(&j->lock);
    if (hardened)
        *hardened = j->st.hardened;
    sts = j->st.failure;
    pthread_mutex_unlock(&j->lock);
    return sts;
}

/* jrn_notify - wake the waiters of tickets (from, to], or every waiter if `all` (failure,
 * stop), and signal the eventfd. Called with j->lock held. */
static void
jrn_notify(jrn_t *j, uint64_t from, uint64_t to, bool all)
{
    uint64_t one = 1;

    if (all || to - from >= JRN_WAIT_SLOTS) {
        for (int i = 0; i < JRN_WAIT_SLOTS; i++)
            pthread_cond_broadcast(&j->done_cv[i]);
    } else {
        for (uint64_t t = from + 1; t <= to; t++)
            pthread_cond_broadcast(&j->done_cv[t % JRN_WAIT_SLOTS]);
    }
    if (write(j->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        RTR_LOG(CMN_LOG_WARNING, "JRN-EVENTFD", "dir=%s errno=%d", j->dir, errno);
}

/* jrn_fail - make the failure sticky and wake everyone. Called with j->lock held. */
static void
jrn_fail(jrn_t *j)
{
    j->st.failure = RTR_STS_JNLFAILED;
    jrn_notify(j, 0, 0, true);
}

static void
jrn_log_failure(jrn_t *j, int ret, const char *what)
{
    jrn_map_db_error(j, ret, what);
    RTR_LOG(CMN_LOG_CRIT, "JRN-FAILED",
            "dir=%s step=%s msg=\"journal failed; it refuses all further work\"", j->dir, what);
}

/* ---- applying operations (writer thread only) ---------------------------------------- */

/* Running totals of one transaction, folded into st only after its commit. */
typedef struct {
    int64_t records;
    int64_t bytes;
    uint64_t skipped;
} jrn_delta_t;

static int
jrn_get_rmw(jrn_t *j, DB_TXN *txn, uint32_t part, uint64_t n, DBT *val)
{
    uint8_t k[JRN_RECORD_KEY_LEN];
    DBT key = { .data = k, .size = sizeof k };

    jrn_record_key(k, part, n);
    memset(val, 0, sizeof *val);
    val->flags = DB_DBT_MALLOC;
    return j->records->get(j->records, txn, &key, val, DB_RMW);
}

static int
jrn_put_tid(jrn_t *j, DB_TXN *txn, const uint8_t tid[16], uint32_t part, uint64_t n, bool del)
{
    uint8_t k[JRN_TID_KEY_LEN];
    DBT key = { .data = k, .size = sizeof k };
    DBT val = { .size = 0 };
    int ret;

    jrn_tid_key(k, tid, part, n);
    if (!del)
        return j->by_tid->put(j->by_tid, txn, &key, &val, 0);
    ret = j->by_tid->del(j->by_tid, txn, &key, 0);
    return ret == DB_NOTFOUND ? 0 : ret;
}

static int
jrn_apply_put(jrn_t *j, DB_TXN *txn, const jrn_op_t *op, jrn_delta_t *d)
{
    uint8_t k[JRN_RECORD_KEY_LEN];
    DBT key = { .data = k, .size = sizeof k };
    DBT val = { .data = op->data, .size = (uint32_t)op->len };
    DBT old;
    int ret;

    jrn_record_key(k, op->part, op->n);
    ret = j->records->put(j->records, txn, &key, &val, DB_NOOVERWRITE);
    if (ret == DB_KEYEXIST) {
        /* A replacement: undo the old record's size and TID index entry. */
        Rtr__JournalRecord *rec = NULL;
        if ((ret = jrn_get_rmw(j, txn, op->part, op->n, &old)) != 0)
            return ret;
        if (jrn_decode_record(old.data, old.size, &rec) == RTR_STS_OK && rec->tid.len == 16)
            ret = jrn_put_tid(j, txn, rec->tid.data, op->part, op->n, true);
        d->bytes -= old.size;
        d->records--;
        free(old.data);
        wire_free((ProtobufCMessage **)&rec);
        if (ret == 0)
            ret = j->records->put(j->records, txn, &key, &val, 0);
    }
    if (ret != 0)
        return ret;
    d->bytes += (int64_t)op->len;
    d->records++;
    return jrn_put_tid(j, txn, op->tid, op->part, op->n, false);
}

static int
jrn_apply_state(jrn_t *j, DB_TXN *txn, const jrn_op_t *op, jrn_delta_t *d)
{
    uint8_t k[JRN_RECORD_KEY_LEN];
    DBT key = { .data = k, .size = sizeof k };
    DBT old, val = { 0 };
    Rtr__JournalRecord *rec = NULL;
    int ret = jrn_get_rmw(j, txn, op->part, op->n, &old);

    if (ret == DB_NOTFOUND) {
        RTR_LOG(CMN_LOG_WARNING, "JRN-NOREC",
                "dir=%s part=%" PRIu32 " csn=%" PRIu64 " msg=\"state change for absent record\"",
                j->dir, op->part, op->n);
        d->skipped++;
        return 0;
    }
    if (ret != 0)
        return ret;
    if (jrn_decode_record(old.data, old.size, &rec) != RTR_STS_OK) {
        free(old.data);
        return DB_VERIFY_BAD;
    }
    rec->state = op->state;
    rec->has_moved_to = op->state == RTR__TX_STATE__TX_MOVED;
    rec->moved_to = rec->has_moved_to ? op->moved_to : 0;
    val.size = (uint32_t)protobuf_c_message_get_packed_size(&rec->base);
    val.data = malloc(val.size ? val.size : 1);
    if (val.data == NULL) {
        ret = ENOMEM;
    } else {
        protobuf_c_message_pack(&rec->base, val.data);
        jrn_record_key(k, op->part, op->n);
        ret = j->records->put(j->records, txn, &key, &val, 0);
        d->bytes += (int64_t)val.size - (int64_t)old.size;
    }
    free(val.data);
    free(old.data);
    wire_free((ProtobufCMessage **)&rec);
    return ret;
}

static int
jrn_apply_delete(jrn_t *j, DB_TXN *txn, const jrn_op_t *op, jrn_delta_t *d)
{
    uint8_t k[JRN_RECORD_KEY_LEN];
    DBT key = { .data = k, .size = sizeof k };
    DBT old;
    Rtr__JournalRecord *rec = NULL;
    int ret = jrn_get_rmw(j, txn, op->part, op->n, &old);

    if (ret == DB_NOTFOUND) {
        d->skipped++;
        return 0;
    }
    if (ret != 0)
        return ret;
    if (jrn_decode_record(old.data, old.size, &rec) == RTR_STS_OK && rec->tid.len == 16)
        ret = jrn_put_tid(j, txn, rec->tid.data, op->part, op->n, true);
    jrn_record_key(k, op->part, op->n);
    if (ret == 0)
        ret = j->records->del(j->records, txn, &key, 0);
    d->bytes -= old.size;
    d->records--;
    free(old.data);
    wire_free((ProtobufCMessage **)&rec);
    return ret;
}

/* jrn_apply_truncate - delete every record of op->part above op->n, each with its TID index
 * entry: one write-locking cursor walk from (part, n + 1) to the partition's end, inside the
 * batch's transaction, so an abort or crash before the commit leaves all of them. A record
 * that does not decode is deleted all the same (logged by the decoder); its TID index entry
 * cannot be found and stays, as with jrn_apply_delete. */
static int
jrn_apply_truncate(jrn_t *j, DB_TXN *txn, const jrn_op_t *op, jrn_delta_t *d)
{
    DBT key = { .flags = DB_DBT_REALLOC, .size = JRN_RECORD_KEY_LEN };
    DBT val = { .flags = DB_DBT_REALLOC };
    uint64_t deleted = 0, bytes = 0;
    DBC *c = NULL;
    int ret;

    if (op->n == UINT64_MAX)
        return 0; /* nothing can lie above */
    if ((key.data = malloc(JRN_RECORD_KEY_LEN)) == NULL)
        return ENOMEM;
    jrn_record_key(key.data, op->part, op->n + 1);
    if ((ret = j->records->cursor(j->records, txn, &c, 0)) != 0)
        goto done;
    for (ret = c->get(c, &key, &val, DB_SET_RANGE | DB_RMW); ret == 0;
         ret = c->get(c, &key, &val, DB_NEXT | DB_RMW)) {
        Rtr__JournalRecord *rec = NULL;
        if (key.size != JRN_RECORD_KEY_LEN) {
            ret = DB_VERIFY_BAD; /* not a records key: damaged, and it must not stop us early */
            break;
        }
        if (cmn_get_be32(key.data) != op->part)
            break;
        uint64_t n = cmn_get_be64((const uint8_t *)key.data + 4);
        if (jrn_decode_record(val.data, val.size, &rec) == RTR_STS_OK && rec->tid.len == 16)
            ret = jrn_put_tid(j, txn, rec->tid.data, op->part, n, true);
        wire_free((ProtobufCMessage **)&rec);
        if (ret == 0)
            ret = c->del(c, 0);
        if (ret != 0)
            break;
        deleted++;
        bytes += val.size;
    }
    if (ret == DB_NOTFOUND)
        ret = 0;
    d->records -= (int64_t)deleted;
    d->bytes -= (int64_t)bytes;
    if (ret == 0)
        RTR_LOG(CMN_LOG_NOTICE, "JRN-TRUNCATE",
                "dir=%s part=%" PRIu32 " above_n=%" PRIu64 " records=%" PRIu64 " bytes=%" PRIu64
                " msg=\"records above the point deleted (commits with its batch)\"",
                j->dir, op->part, op->n, deleted, bytes);
done:
    if (c != NULL) {
        int cret = c->close(c);
        if (ret == 0)
            ret = cret;
    }
    free(key.data);
    free(val.data);
    return ret;
}

static int
jrn_apply_meta(jrn_t *j, DB_TXN *txn, const jrn_op_t *op)
{
    char k[JRN_NAME_MAX + 8];
    DBT key = { .data = k };
    DBT val = { .data = op->data, .size = (uint32_t)op->len };

    key.size = (uint32_t)snprintf(k, sizeof k, "%s%s", JRN_META_PREFIX, op->name);
    return j->meta->put(j->meta, txn, &key, &val, 0);
}

static int
jrn_apply(jrn_t *j, DB_TXN *txn, const jrn_op_t *op, jrn_delta_t *d)
{
    switch (op->kind) {
    case JRN_OP_PUT:
        return jrn_apply_put(j, txn, op, d);
    case JRN_OP_STATE:
        return jrn_apply_state(j, txn, op, d);
    case JRN_OP_DELETE:
        return jrn_apply_delete(j, txn, op, d);
    case JRN_OP_META:
        return jrn_apply_meta(j, txn, op);
    case JRN_OP_TRUNCATE:
        return jrn_apply_truncate(j, txn, op, d);
    }
    return EINVAL;
}

/* jrn_write_txn - write batches [first, stop) in one BDB transaction, retrying only when BDB
 * picked this transaction as a deadlock victim (nothing of it reached the log). */
static int
jrn_write_txn(jrn_t *j, jrn_batch_t *first, jrn_batch_t *stop, jrn_delta_t *out)
{
    int ret = 0;

    for (int attempt = 0; attempt < JRN_DEADLOCK_RETRIES; attempt++) {
        jrn_delta_t d = { 0 };
        DB_TXN *txn = NULL;
        if ((ret = j->env->txn_begin(j->env, NULL, &txn, 0)) != 0)
            return ret;
        for (jrn_batch_t *b = first; ret == 0 && b != stop; b = b->next)
            for (size_t i = 0; ret == 0 && i < b->nops; i++)
                ret = jrn_apply(j, txn, &b->ops[i], &d);
        if (ret == 0)
            ret = txn->commit(txn, 0);
        else
            txn->abort(txn);
        if (ret == 0) {
            out->records += d.records;
            out->bytes += d.bytes;
            out->skipped += d.skipped;
            return 0;
        }
        if (ret != DB_LOCK_DEADLOCK && ret != DB_LOCK_NOTGRANTED)
            return ret;
    }
    return ret;
}

/* jrn_write_group - step 2: the group's batches in transactions of about JRN_TXN_OPS
 * operations, a batch never split across two. */
static int
jrn_write_group(jrn_t *j, jrn_batch_t *list, jrn_delta_t *d, uint64_t *ops)
{
    jrn_batch_t *first = list;
    int ret = 0;

    while (ret == 0 && first != NULL) {
        jrn_batch_t *stop = first;
        size_t n = 0;
        while (stop != NULL && (n == 0 || n + stop->nops <= JRN_TXN_OPS)) {
            n += stop->nops;
            stop = stop->next;
        }
        ret = jrn_write_txn(j, first, stop, d);
        *ops += n;
        first = stop;
    }
    return ret;
}

static void
jrn_free_list(jrn_batch_t *list)
{
    while (list != NULL) {
        jrn_batch_t *next = list->next;
        jrn_batch_free(&list);
        list = next;
    }
}

/* jrn_checkpointer_main - checkpoints off the commit path (a failed one is sticky). A checkpoint
 * writes the cache's dirty pages (a long burst of I/O); on the writer thread it stalled every
 * commit behind it for ~100 ms. Here it runs beside the writer. BDB itself decides from the real
 * log volume (txn_checkpoint's kbyte argument) whether one is due; the writer only kicks this
 * thread early under load, and an idle journal is looked at once a second so that old log files are
 * removed (DB_LOG_AUTO_REMOVE) even without traffic. */
static void *
jrn_checkpointer_main(void *arg)
{
    jrn_t *j = arg;
    DB_LSN last = { 0, 0 };
    struct timespec ts;

    pthread_mutex_lock(&j->lock);
    while (!j->ckpt_stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&j->ckpt_cv, &j->lock, &ts);
        if (j->ckpt_stop || j->st.failure != RTR_STS_OK)
            continue;
        pthread_mutex_unlock(&j->lock);
        DB_TXN_STAT *ts_stat = NULL;
        int ret = j->env->txn_checkpoint(j->env, (uint32_t)(j->checkpoint_bytes >> 10), 0, 0);
        bool done = false;
        if (ret != 0) {
            /* A checkpoint writes and fsyncs the databases: after a failed fsync the kernel
             * may have dropped those pages, and a later "successful" checkpoint would let BDB
             * remove the log that still holds them. So this fails the journal too. */
            pthread_mutex_lock(&j->lock);
            if (j->st.failure == RTR_STS_OK)
                jrn_fail(j);
            pthread_mutex_unlock(&j->lock);
            jrn_log_failure(j, ret, "checkpoint");
        } else if (j->env->txn_stat(j->env, &ts_stat, 0) == 0) {
            done = log_compare(&ts_stat->st_last_ckp, &last) != 0;
            last = ts_stat->st_last_ckp;
            free(ts_stat);
        }
        pthread_mutex_lock(&j->lock);
        if (done)
            j->st.checkpoints++;
    }
    j->ckpt_running = false;
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* jrn_kick_checkpointer - the writer wrote `bytes` of records: wake the checkpointer after a
 * quarter of the checkpoint interval (it asks BDB, which counts the real log). Lock held. */
static void
jrn_kick_checkpointer(jrn_t *j, uint64_t bytes)
{
    j->since_kick += bytes;
    if (j->since_kick >= j->checkpoint_bytes / 4) {
        j->since_kick = 0;
        pthread_cond_signal(&j->ckpt_cv);
    }
}

/* jrn_flush_to - steps 3 and 4: one log flush covers everything written before it began,
 * so `target` (a ticket already written) is hardened once it returns, and only then is it
 * published. The writer (inline) and the flusher may both call this; publishing is
 * monotonic. Called without j->lock. Returns false if the journal failed. */
static bool
jrn_flush_to(jrn_t *j, uint64_t target)
{
    int ret = j->env->log_flush(j->env, NULL);
    bool ok;

    pthread_mutex_lock(&j->lock);
    if (ret != 0 && j->st.failure == RTR_STS_OK)
        jrn_fail(j);
    ok = j->st.failure == RTR_STS_OK;
    if (ok && target > j->st.hardened) {
        uint64_t before = j->st.hardened;
        j->st.hardened = target;
        j->st.flushes++;
        jrn_notify(j, before, target, false);
    }
    pthread_mutex_unlock(&j->lock);
    if (ret != 0)
        jrn_log_failure(j, ret, "log_flush");
    return ok;
}

/* jrn_writer_main - steps 1 and 2: take the queue, write it (no fsync), publish `written`
 * for the flusher, and go straight on with the next group while the flusher's fsync runs. */
static void *
jrn_writer_main(void *arg)
{
    jrn_t *j = arg;

    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (j->q_head == NULL && !j->stopping)
            pthread_cond_wait(&j->work_cv, &j->lock);
        if (j->q_head == NULL)
            break; /* stopping, and the queue is drained */
        jrn_batch_t *list = j->q_head, *last = j->q_tail;
        uint64_t new_bytes = 0, ops = 0, batches = 0;
        jrn_delta_t d = { 0 };
        int ret = 0;
        j->q_head = j->q_tail = NULL;
        bool failed = j->st.failure != RTR_STS_OK;
        pthread_mutex_unlock(&j->lock);

        for (jrn_batch_t *b = list; b != NULL; b = b->next, batches++)
            new_bytes += b->new_bytes;
        if (!failed) /* after a failure, queued tickets never harden: drop them */
            ret = jrn_write_group(j, list, &d, &ops);

        pthread_mutex_lock(&j->lock);
        j->q_new_bytes -= new_bytes;
        bool inline_flush = false;
        if (!failed && ret == 0) {
            j->written = last->ticket;
            j->st.ops += ops;
            j->st.batches += batches;
            j->st.live_records = (uint64_t)((int64_t)j->st.live_records + d.records);
            j->st.live_bytes = (uint64_t)((int64_t)j->st.live_bytes + d.bytes);
            /* Nothing else queued: flush here, saving the hand-off to the flusher (a thread
             * wake-up on the single-producer latency path). Under load, hand off and go on. */
            inline_flush = j->q_head == NULL;
            if (!inline_flush)
                pthread_cond_signal(&j->flush_cv);
            jrn_kick_checkpointer(j, new_bytes);
        } else if (!failed) {
            jrn_fail(j);
        }
        pthread_mutex_unlock(&j->lock);
        if (!failed && ret != 0)
            jrn_log_failure(j, ret, "write");
        if (inline_flush)
            jrn_flush_to(j, last->ticket);
        jrn_free_list(list);
        pthread_mutex_lock(&j->lock);
    }
    j->writer_running = false;
    pthread_cond_signal(&j->flush_cv);
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* jrn_flusher_main - steps 3 and 4 under load: flush whatever the writer has written. */
static void *
jrn_flusher_main(void *arg)
{
    jrn_t *j = arg;

    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (j->written == j->st.hardened && j->writer_running && j->st.failure == RTR_STS_OK)
            pthread_cond_wait(&j->flush_cv, &j->lock);
        if (j->st.failure != RTR_STS_OK || j->written == j->st.hardened)
            break; /* failed, or the writer is gone and everything is flushed */
        uint64_t target = j->written;
        pthread_mutex_unlock(&j->lock);
        bool ok = jrn_flush_to(j, target);
        pthread_mutex_lock(&j->lock);
        if (!ok)
            break;
    }
    j->flusher_running = false;
    jrn_notify(j, 0, 0, true); /* waiters must not sleep on a flusher that is gone */
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* jrn_thread_start - create one of the journal's threads; logs on failure. */
static bool
jrn_thread_start(jrn_t *j, pthread_t *t, void *(*fn)(void *), const char *what)
{
    int err = pthread_create(t, NULL, fn, j);
    if (err != 0)
        RTR_LOG(CMN_LOG_ERR, "JRN-THREAD", "dir=%s thread=%s err=%d msg=\"cannot start\"", j->dir,
                what, err);
    return err == 0;
}

rtr_status_t
jrn_writer_start(jrn_t *j)
{
    j->writer_running = j->flusher_running = j->ckpt_running = true;
    if (!jrn_thread_start(j, &j->checkpointer, jrn_checkpointer_main, "checkpointer")) {
        j->writer_running = j->flusher_running = j->ckpt_running = false;
        return RTR_STS_NOMEM;
    }
    if (!jrn_thread_start(j, &j->flusher, jrn_flusher_main, "flusher")) {
        j->writer_running = j->flusher_running = false;
        goto fail_ckpt;
    }
    if (!jrn_thread_start(j, &j->writer, jrn_writer_main, "writer")) {
        pthread_mutex_lock(&j->lock);
        j->writer_running = false;
        pthread_cond_signal(&j->flush_cv);
        pthread_mutex_unlock(&j->lock);
        pthread_join(j->flusher, NULL);
        goto fail_ckpt;
    }
    j->threads_started = true;
    return RTR_STS_OK;
fail_ckpt:
    pthread_mutex_lock(&j->lock);
    j->ckpt_stop = true;
    pthread_cond_signal(&j->ckpt_cv);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->checkpointer, NULL);
    return RTR_STS_NOMEM;
}

void
jrn_writer_stop(jrn_t *j)
{
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_signal(&j->work_cv);
    pthread_mutex_unlock(&j->lock);
    if (!j->threads_started)
        return;
    pthread_join(j->writer, NULL);
    pthread_join(j->flusher, NULL);
    pthread_mutex_lock(&j->lock);
    j->ckpt_stop = true;
    pthread_cond_signal(&j->ckpt_cv);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->checkpointer, NULL);
    j->threads_started = false;
}
