/*
 * jrn.c - reading a journal: records by CSN range, by TID, meta, partitions, statistics.
 *
 * Reads use cursors with DB_READ_UNCOMMITTED and no transaction: they take no read locks, so
 * a reader (the owner's own threads, or rtrcli in another process) never blocks or deadlocks
 * the writer thread. The price is that a read may see a group the writer has written but not
 * yet flushed; every such record is either hardened moments later or the journal fails.
 *
 * Partitions get dense ids 0, 1, ... in creation order; the id is stored in the partition's
 * JournalMeta and is the high part of every records key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jrn_impl.h"

void
jrn_record_key(uint8_t out[JRN_RECORD_KEY_LEN], uint32_t part, uint64_t n)
{
    cmn_put_be32(out, part);
    cmn_put_be64(out + 4, n);
}

void
jrn_tid_key(uint8_t out[JRN_TID_KEY_LEN], const uint8_t tid[16], uint32_t part, uint64_t n)
{
    memcpy(out, tid, 16);
    cmn_put_be32(out + 16, part);
    cmn_put_be64(out + 20, n);
}

rtr_status_t
jrn_decode_record(const void *data, size_t len, Rtr__JournalRecord **out)
{
    rtr_status_t sts = wire_decode(&rtr__journal_record__descriptor, data, len,
                                   JRN_MAX_RECORD_BYTES, NULL, (ProtobufCMessage **)out);
    if (sts != RTR_STS_OK) {
        RTR_LOG(CMN_LOG_ERR, "JRN-CORRUPT", "bytes=%zu decode=%s msg=\"stored record is damaged\"",
                len, rtr_status_name(sts));
        return RTR_STS_JNLCORRUPT;
    }
    return RTR_STS_OK;
}

/* ---- partitions ---------------------------------------------------------------------- */

static rtr_status_t
jrn_part_add(jrn_t *j, uint32_t id, const char *name)
{
    if (id >= j->nparts) {
        char **names = realloc(j->part_names, (id + 1) * sizeof *names);
        if (names == NULL)
            return RTR_STS_NOMEM;
        memset(names + j->nparts, 0, (id + 1 - j->nparts) * sizeof *names);
        j->part_names = names;
        j->nparts = id + 1;
    }
    if (j->part_names[id] != NULL)
        return RTR_STS_JNLCORRUPT; /* two partitions with one id */
    j->part_names[id] = strdup(name);
    return j->part_names[id] ? RTR_STS_OK : RTR_STS_NOMEM;
}

rtr_status_t
jrn_load_partitions(jrn_t *j)
{
    DBC *c = NULL;
    DBT key = { .flags = DB_DBT_REALLOC }, val = { .flags = DB_DBT_REALLOC };
    rtr_status_t sts = RTR_STS_OK;
    int ret;

    if ((ret = j->meta->cursor(j->meta, NULL, &c, DB_READ_UNCOMMITTED)) != 0)
        return jrn_map_db_error(j, ret, "meta_cursor");
    while (sts == RTR_STS_OK && (ret = c->get(c, &key, &val, DB_NEXT)) == 0) {
        Rtr__JournalMeta *m = NULL;
        if (key.size < 2 || memcmp(key.data, JRN_META_PREFIX, 2) != 0)
            continue;
        sts = wire_decode(&rtr__journal_meta__descriptor, val.data, val.size, 0, NULL,
                          (ProtobufCMessage **)&m);
        if (sts == RTR_STS_OK)
            sts = jrn_part_add(j, m->id, m->partition);
        else
            sts = RTR_STS_JNLCORRUPT;
        wire_free((ProtobufCMessage **)&m);
    }
    c->close(c);
    free(key.data);
    free(val.data);
    if (sts == RTR_STS_OK && ret != DB_NOTFOUND)
        sts = jrn_map_db_error(j, ret, "meta_scan");
    for (uint32_t i = 0; sts == RTR_STS_OK && i < j->nparts; i++)
        if (j->part_names[i] == NULL)
            sts = RTR_STS_JNLCORRUPT;
    if (sts == RTR_STS_JNLCORRUPT)
        RTR_LOG(CMN_LOG_ERR, "JRN-CORRUPT", "dir=%s msg=\"partition table is damaged\"", j->dir);
    return sts;
}

static bool
jrn_part_find(const jrn_t *j, const char *name, uint32_t *id)
{
    for (uint32_t i = 0; i < j->nparts; i++) {
        if (strcmp(j->part_names[i], name) == 0) {
            *id = i;
            return true;
        }
    }
    return false;
}

rtr_status_t
jrn_partition(jrn_t *j, const char *name, uint32_t *id)
{
    Rtr__JournalMeta m = RTR__JOURNAL_META__INIT;
    char namebuf[JRN_NAME_MAX + 1];
    jrn_batch_t *b = NULL;
    rtr_status_t sts;
    uint64_t ticket;

    if (name == NULL || name[0] == '\0' || strlen(name) > JRN_NAME_MAX)
        return RTR_STS_INVARG;
    pthread_mutex_lock(&j->part_lock);
    if (jrn_part_find(j, name, id)) {
        pthread_mutex_unlock(&j->part_lock);
        return RTR_STS_OK;
    }
    if (j->readonly) {
        pthread_mutex_unlock(&j->part_lock);
        return RTR_STS_NOTFOUND;
    }
    /* Durable before the id is used: a record keyed by an id the journal cannot name after a
     * crash would be an orphan. part_lock serialises concurrent creators. */
    snprintf(namebuf, sizeof namebuf, "%s", name);
    m.partition = namebuf;
    m.id = j->nparts;
    if ((b = jrn_batch_new()) == NULL)
        sts = RTR_STS_NOMEM;
    else if ((sts = jrn_batch_put_meta(b, &m)) == RTR_STS_OK &&
             (sts = jrn_queue(j, &b, &ticket)) == RTR_STS_OK &&
             (sts = jrn_wait(j, ticket)) == RTR_STS_OK)
        sts = jrn_part_add(j, m.id, name);
    if (sts == RTR_STS_OK)
        *id = m.id;
    pthread_mutex_unlock(&j->part_lock);
    jrn_batch_free(&b);
    return sts;
}

const char *
jrn_partition_name(jrn_t *j, uint32_t id)
{
    const char *name = NULL;

    pthread_mutex_lock(&j->part_lock);
    if (id < j->nparts)
        name = j->part_names[id];
    pthread_mutex_unlock(&j->part_lock);
    return name;
}

uint32_t
jrn_partition_count(jrn_t *j)
{
    uint32_t n;

    pthread_mutex_lock(&j->part_lock);
    n = j->nparts;
    pthread_mutex_unlock(&j->part_lock);
    return n;
}

rtr_status_t
jrn_meta_get(jrn_t *j, uint32_t part, Rtr__JournalMeta **out)
{
    const char *name = jrn_partition_name(j, part);
    char k[JRN_NAME_MAX + 8];
    DBT key = { .data = k }, val = { .flags = DB_DBT_MALLOC };
    rtr_status_t sts;
    int ret;

    *out = NULL;
    if (name == NULL)
        return RTR_STS_NOTFOUND;
    key.size = (uint32_t)snprintf(k, sizeof k, "%s%s", JRN_META_PREFIX, name);
    ret = j->meta->get(j->meta, NULL, &key, &val, DB_READ_UNCOMMITTED);
    if (ret == DB_NOTFOUND)
        return RTR_STS_NOTFOUND;
    if (ret != 0)
        return jrn_map_db_error(j, ret, "meta_get");
    sts = wire_decode(&rtr__journal_meta__descriptor, val.data, val.size, 0, NULL,
                      (ProtobufCMessage **)out);
    free(val.data);
    return sts == RTR_STS_OK ? RTR_STS_OK : RTR_STS_JNLCORRUPT;
}

/* ---- records ------------------------------------------------------------------------- */

rtr_status_t
jrn_scan(jrn_t *j, uint32_t part, uint64_t from_n, uint64_t to_n, jrn_scan_fn *fn, void *arg)
{
    uint8_t k[JRN_RECORD_KEY_LEN];
    DBT key = { .flags = DB_DBT_REALLOC }, val = { .flags = DB_DBT_REALLOC };
    rtr_status_t sts = RTR_STS_OK;
    DBC *c = NULL;
    int ret;

    if ((ret = j->records->cursor(j->records, NULL, &c, DB_READ_UNCOMMITTED)) != 0)
        return jrn_map_db_error(j, ret, "records_cursor");
    jrn_record_key(k, part == JRN_ALL_PARTITIONS ? 0 : part,
                   part == JRN_ALL_PARTITIONS ? 0 : from_n);
    key.data = malloc(sizeof k);
    if (key.data == NULL) {
        c->close(c);
        return RTR_STS_NOMEM;
    }
    memcpy(key.data, k, sizeof k);
    key.size = sizeof k;
    for (ret = c->get(c, &key, &val, DB_SET_RANGE); ret == 0;
         ret = c->get(c, &key, &val, DB_NEXT)) {
        Rtr__JournalRecord *rec = NULL;
        uint32_t p = cmn_get_be32(key.data);
        uint64_t n = cmn_get_be64((const uint8_t *)key.data + 4);
        if (key.size != JRN_RECORD_KEY_LEN) {
            sts = RTR_STS_JNLCORRUPT;
            break;
        }
        if (part != JRN_ALL_PARTITIONS && (p != part || n > to_n))
            break;
        if (n < from_n || n > to_n)
            continue;
        if ((sts = jrn_decode_record(val.data, val.size, &rec)) != RTR_STS_OK)
            break;
        jrn_entry_t e = {
            .part = p, .part_name = jrn_partition_name(j, p), .rec = rec, .bytes = val.size
        };
        int stop = fn(arg, &e);
        wire_free((ProtobufCMessage **)&rec);
        if (stop)
            break;
    }
    if (sts == RTR_STS_OK && ret != 0 && ret != DB_NOTFOUND)
        sts = jrn_map_db_error(j, ret, "records_scan");
    c->close(c);
    free(key.data);
    free(val.data);
    return sts;
}

rtr_status_t
jrn_get(jrn_t *j, uint32_t part, uint64_t n, Rtr__JournalRecord **out)
{
    uint8_t k[JRN_RECORD_KEY_LEN];
    DBT key = { .data = k, .size = sizeof k }, val = { .flags = DB_DBT_MALLOC };
    rtr_status_t sts;
    int ret;

    *out = NULL;
    jrn_record_key(k, part, n);
    ret = j->records->get(j->records, NULL, &key, &val, DB_READ_UNCOMMITTED);
    if (ret == DB_NOTFOUND)
        return RTR_STS_NOTFOUND;
    if (ret != 0)
        return jrn_map_db_error(j, ret, "records_get");
    sts = jrn_decode_record(val.data, val.size, out);
    free(val.data);
    return sts;
}

rtr_status_t
jrn_lookup_tid(jrn_t *j, const uint8_t tid[16], uint32_t part, uint64_t *n)
{
    uint8_t k[JRN_TID_KEY_LEN];
    DBT key = { .flags = DB_DBT_REALLOC }, val = { .flags = DB_DBT_REALLOC };
    rtr_status_t sts = RTR_STS_NOTFOUND;
    DBC *c = NULL;
    int ret;

    if ((ret = j->by_tid->cursor(j->by_tid, NULL, &c, DB_READ_UNCOMMITTED)) != 0)
        return jrn_map_db_error(j, ret, "tid_cursor");
    jrn_tid_key(k, tid, part, 0);
    if ((key.data = malloc(sizeof k)) == NULL) {
        c->close(c);
        return RTR_STS_NOMEM;
    }
    memcpy(key.data, k, sizeof k);
    key.size = sizeof k;
    /* Entries of one (tid, part) sort by n: the last one is the newest record. */
    for (ret = c->get(c, &key, &val, DB_SET_RANGE); ret == 0;
         ret = c->get(c, &key, &val, DB_NEXT)) {
        if (key.size != JRN_TID_KEY_LEN || memcmp(key.data, k, 20) != 0)
            break;
        *n = cmn_get_be64((const uint8_t *)key.data + 20);
        sts = RTR_STS_OK;
    }
    if (ret != 0 && ret != DB_NOTFOUND)
        sts = jrn_map_db_error(j, ret, "tid_scan");
    c->close(c);
    free(key.data);
    free(val.data);
    return sts;
}

rtr_status_t
jrn_last_n(jrn_t *j, uint32_t part, uint64_t *n)
{
    uint8_t k[JRN_RECORD_KEY_LEN];
    DBT key = { .flags = DB_DBT_REALLOC };
    DBT val = { .flags = DB_DBT_REALLOC | DB_DBT_PARTIAL, .dlen = 0 }; /* keys only */
    DBC *c = NULL;
    int ret;

    *n = 0;
    if ((ret = j->records->cursor(j->records, NULL, &c, DB_READ_UNCOMMITTED)) != 0)
        return jrn_map_db_error(j, ret, "records_cursor");
    if ((key.data = malloc(sizeof k)) == NULL) {
        c->close(c);
        return RTR_STS_NOMEM;
    }
    /* The first key above the partition's range, then one step back; or the very last key
     * when nothing follows the partition. */
    jrn_record_key(key.data, part, UINT64_MAX);
    key.size = sizeof k;
    ret = c->get(c, &key, &val, DB_SET_RANGE);
    if (ret == 0 && cmn_get_be32(key.data) != part)
        ret = c->get(c, &key, &val, DB_PREV);
    else if (ret == DB_NOTFOUND)
        ret = c->get(c, &key, &val, DB_LAST);
    if (ret == 0 && key.size == JRN_RECORD_KEY_LEN && cmn_get_be32(key.data) == part)
        *n = cmn_get_be64((const uint8_t *)key.data + 4);
    c->close(c);
    free(key.data);
    free(val.data);
    return ret == 0 || ret == DB_NOTFOUND ? RTR_STS_OK : jrn_map_db_error(j, ret, "last_n");
}

rtr_status_t
jrn_count_live(jrn_t *j)
{
    DBT key = { .flags = DB_DBT_REALLOC }, val = { .flags = DB_DBT_REALLOC };
    DBC *c = NULL;
    int ret;

    if ((ret = j->records->cursor(j->records, NULL, &c, DB_READ_UNCOMMITTED)) != 0)
        return jrn_map_db_error(j, ret, "records_cursor");
    while ((ret = c->get(c, &key, &val, DB_NEXT)) == 0) {
        j->st.live_records++;
        j->st.live_bytes += val.size;
    }
    c->close(c);
    free(key.data);
    free(val.data);
    return ret == DB_NOTFOUND ? RTR_STS_OK : jrn_map_db_error(j, ret, "count");
}

void
jrn_stats(jrn_t *j, jrn_stats_t *out)
{
    pthread_mutex_lock(&j->lock);
    *out = j->st;
    pthread_mutex_unlock(&j->lock);
}
