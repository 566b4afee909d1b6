/*
 * rtd_store.c - the router's acceptor store (docs/shadow-protocol.md §5.5, "Persistence"): the
 * durable half of the facility register core (rtd_reg.h).
 *
 * One small Berkeley DB environment in routers[].state, one btree database "acceptor" holding
 * one record, key "acceptor", value the packed Rtr__AcceptorState. Every write is its own
 * transaction committed with DB_TXN_SYNC: when rtd_store_write returns OK the state is on disk,
 * and only then does the shell tell the core (rtd_reg_on_persisted), which only then lets the
 * promise or accept that depends on it leave. Register traffic is a handful of writes per role
 * change, so one fsync each costs nothing; the router's transaction path never comes here.
 *
 * Ownership of the directory: like a journal (jrn_open.c), the store holds an exclusive flock
 * on STATE/LOCK with its PID in it for as long as it is open. A second router process on the
 * same directory fails at once with RTR_STS_BUSY and the owner's PID: two acceptors sharing one
 * durable state would break the majority arithmetic. Because of the lock the environment is
 * always opened with DB_RECOVER (nobody else can be using it).
 *
 * A store that fails a write is failed for good (RTR_STS_IOERR from then on): the caller stops
 * the router rather than vote on a state it could not make durable.
 */
#define _DEFAULT_SOURCE /* db.h under -std=c11 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <db.h>

#include "rtd_impl.h"

#define RTD_STORE_LOCK       "LOCK"
#define RTD_STORE_KEY        "acceptor"
#define RTD_STORE_CHECKPOINT 64 /* writes between checkpoints (old log files removed) */

struct rtd_store {
    char *dir;
    int lock_fd;
    DB_ENV *env;
    DB *db;
    uint64_t writes;
    bool failed;
};

/* rtd_store_db_error - log a BDB failure and map it to a status. */
static rtr_status_t
rtd_store_db_error(const rtd_store_t *s, int ret, const char *what)
{
    rtr_status_t sts = ret == ENOMEM ? RTR_STS_NOMEM : RTR_STS_IOERR;

    RTR_LOG(CMN_LOG_ERR, "RTD-STORE-DB", "dir=%s op=%s bdb_ret=%d bdb_err=\"%s\"",
            s != NULL ? s->dir : "?", what, ret, db_strerror(ret));
    return sts;
}

static void
rtd_store_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
    (void)env;
    RTR_LOG(CMN_LOG_WARNING, "RTD-STORE-BDB", "dir=%s bdb=\"%s\"", pfx != NULL ? pfx : "?", msg);
}

/* rtd_store_mkdirs - mkdir -p, mode 0700 for what it creates. */
static rtr_status_t
rtd_store_mkdirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof buf)
        return RTR_STS_INVARG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        goto fail;
    return RTR_STS_OK;
fail:
    fprintf(stderr, "rtr-router: cannot create the state directory %s: %s\n", buf, strerror(errno));
    RTR_LOG(CMN_LOG_ERR, "RTD-STORE-MKDIR", "dir=%s errno=%d err=\"%s\"", buf, errno,
            strerror(errno));
    return RTR_STS_IOERR;
}

/* rtd_store_lock - take STATE/LOCK exclusively and record our PID. */
static rtr_status_t
rtd_store_lock(rtd_store_t *s)
{
    char path[4200], pid[32] = "";
    ssize_t n;

    snprintf(path, sizeof path, "%s/%s", s->dir, RTD_STORE_LOCK);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        fprintf(stderr, "rtr-router: cannot open %s: %s\n", path, strerror(errno));
        RTR_LOG(CMN_LOG_ERR, "RTD-STORE-LOCK", "dir=%s errno=%d err=\"%s\"", s->dir, errno,
                strerror(errno));
        return RTR_STS_IOERR;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        n = pread(s->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr,
                "rtr-router: state directory %s is in use by another process (pid %s): one "
                "router per state directory\n",
                s->dir, pid[0] ? pid : "?");
        RTR_LOG(CMN_LOG_ERR, "RTD-STORE-BUSY",
                "dir=%s owner_pid=%s msg=\"state directory in use by another process\"", s->dir,
                pid[0] ? pid : "?");
        return RTR_STS_BUSY;
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
        RTR_LOG(CMN_LOG_WARNING, "RTD-STORE-LOCK", "dir=%s msg=\"cannot record pid\" errno=%d",
                s->dir, errno);
    return RTR_STS_OK;
}

static rtr_status_t
rtd_store_env_open(rtd_store_t *s)
{
    uint32_t flags =
        DB_CREATE | DB_RECOVER | DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL;
    int ret;

    if ((ret = db_env_create(&s->env, 0)) != 0)
        return rtd_store_db_error(s, ret, "db_env_create");
    s->env->set_errcall(s->env, rtd_store_errcall);
    s->env->set_errpfx(s->env, s->dir);
    s->env->set_cachesize(s->env, 0, 1024u * 1024u, 1);
    s->env->set_lg_max(s->env, 1024u * 1024u);
    s->env->log_set_config(s->env, DB_LOG_AUTO_REMOVE, 1);
    if ((ret = s->env->open(s->env, s->dir, flags, 0600)) != 0)
        return rtd_store_db_error(s, ret, "env_open");
    if ((ret = db_create(&s->db, s->env, 0)) != 0)
        return rtd_store_db_error(s, ret, "db_create");
    s->db->set_flags(s->db, DB_CHKSUM);
    ret = s->db->open(s->db, NULL, "acceptor.db", "acceptor", DB_BTREE, DB_CREATE | DB_AUTO_COMMIT,
                      0600);
    if (ret != 0)
        return rtd_store_db_error(s, ret, "db_open");
    return RTR_STS_OK;
}

rtr_status_t
rtd_store_open(const char *dir, rtd_store_t **out)
{
    rtd_store_t *s = calloc(1, sizeof *s);
    rtr_status_t sts;

    *out = NULL;
    if (s == NULL)
        return RTR_STS_NOMEM;
    s->lock_fd = -1;
    if ((s->dir = strdup(dir)) == NULL) {
        sts = RTR_STS_NOMEM;
        goto fail;
    }
    if ((sts = rtd_store_mkdirs(dir)) != RTR_STS_OK || (sts = rtd_store_lock(s)) != RTR_STS_OK)
        goto fail;
    if ((sts = rtd_store_env_open(s)) != RTR_STS_OK) {
        fprintf(stderr, "rtr-router: cannot open the acceptor store in %s (see the log)\n", dir);
        goto fail;
    }
    *out = s;
    return RTR_STS_OK;
fail:
    rtd_store_close(&s);
    return sts;
}

rtr_status_t
rtd_store_load(rtd_store_t *s, Rtr__AcceptorState **out)
{
    char keybuf[] = RTD_STORE_KEY;
    DBT key = { .data = keybuf, .size = sizeof keybuf - 1 };
    DBT val = { .flags = DB_DBT_MALLOC };
    rtr_status_t sts;
    int ret;

    *out = NULL;
    ret = s->db->get(s->db, NULL, &key, &val, 0);
    if (ret == DB_NOTFOUND)
        return RTR_STS_OK;
    if (ret != 0)
        return rtd_store_db_error(s, ret, "get");
    sts = wire_decode(&rtr__acceptor_state__descriptor, val.data, val.size, 0, NULL,
                      (ProtobufCMessage **)out);
    free(val.data);
    if (sts != RTR_STS_OK) {
        RTR_LOG(CMN_LOG_ERR, "RTD-STORE-CORRUPT",
                "dir=%s sts=%s msg=\"stored state does not decode\"", s->dir, rtr_status_name(sts));
        return RTR_STS_JNLCORRUPT;
    }
    return RTR_STS_OK;
}

rtr_status_t
rtd_store_write(rtd_store_t *s, const Rtr__AcceptorState *st)
{
    char keybuf[] = RTD_STORE_KEY;
    DBT key = { .data = keybuf, .size = sizeof keybuf - 1 };
    DBT val = { 0 };
    DB_TXN *txn = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    rtr_status_t sts;
    int ret;

    if (s->failed)
        return RTR_STS_IOERR;
    if ((sts = wire_encode(&st->base, 0, &buf, &len)) != RTR_STS_OK)
        return sts;
    val.data = buf;
    val.size = (uint32_t)len;
    /* durable before it returns: the caller reports the ticket to the core only after this */
    if ((ret = s->env->txn_begin(s->env, NULL, &txn, DB_TXN_SYNC)) != 0) {
        sts = rtd_store_db_error(s, ret, "txn_begin");
        goto fail;
    }
    if ((ret = s->db->put(s->db, txn, &key, &val, 0)) != 0) {
        sts = rtd_store_db_error(s, ret, "put");
        txn->abort(txn);
        goto fail;
    }
    if ((ret = txn->commit(txn, DB_TXN_SYNC)) != 0) {
        sts = rtd_store_db_error(s, ret, "commit");
        goto fail;
    }
    free(buf);
    if (++s->writes % RTD_STORE_CHECKPOINT == 0 &&
        (ret = s->env->txn_checkpoint(s->env, 0, 0, 0)) != 0)
        RTR_LOG(CMN_LOG_WARNING, "RTD-STORE-DB", "dir=%s op=checkpoint bdb_ret=%d", s->dir, ret);
    return RTR_STS_OK;
fail:
    free(buf);
    s->failed = true; /* sticky: never vote on a state that may not be on disk */
    return sts == RTR_STS_NOMEM ? RTR_STS_NOMEM : RTR_STS_IOERR;
}

const char *
rtd_store_dir(const rtd_store_t *s)
{
    return s->dir;
}

void
rtd_store_close(rtd_store_t **sp)
{
    rtd_store_t *s;

    if (sp == NULL || *sp == NULL)
        return;
    s = *sp;
    if (s->db != NULL)
        s->db->close(s->db, 0);
    if (s->env != NULL) {
        if (!s->failed && s->db != NULL)
            s->env->txn_checkpoint(s->env, 0, 0, 0);
        s->env->close(s->env, 0);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s->dir);
    free(s);
    *sp = NULL;
}
