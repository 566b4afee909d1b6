/*
 * jrn_open.c - opening and closing a journal directory.
 *
 * Ownership of a directory. The writer holds an exclusive flock on DIR/LOCK for as long as the
 * journal is open and writes its PID into it. A second writer fails at once with RTR_STS_BUSY
 * and the owner's PID in the log; two writers on one journal would interleave CSNs.
 *
 * The read-only view (rtrcli dump journal) must never change a journal it inspects:
 *   - owner alive (LOCK held): join the owner's environment (DB_REGISTER, no DB_RECOVER) and
 *     read with DB_READ_UNCOMMITTED cursors, which take no read locks, so the reader never
 *     blocks or deadlocks the owner's writer;
 *   - owner not running: an environment may need recovery, and recovery writes. So copy the
 *     databases and the logs to a private temporary directory (holding LOCK shared meanwhile,
 *     so no writer starts mid-copy) and recover the copy there. The original is untouched.
 *
 * Environment: DB_INIT_TXN|LOG|LOCK|MPOOL, DB_RECOVER|DB_REGISTER for the writer, DB_CHKSUM on
 * every database, DB_TXN_WRITE_NOSYNC (the writer flushes the log once per group itself), and
 * DB_LOG_AUTO_REMOVE so that checkpoints let BDB delete log files no longer needed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jrn_impl.h"

#define JRN_ENV_FLAGS (DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL | DB_THREAD)

static const char *const jrn_db_files[] = { "records.db", "by_tid.db", "meta.db" };

rtr_status_t
jrn_map_db_error(const jrn_t *j, int ret, const char *what)
{
    rtr_status_t sts;

    switch (ret) {
    case 0:
        return RTR_STS_OK;
    case ENOENT:
        sts = RTR_STS_NOTFOUND;
        break;
    case ENOMEM:
        sts = RTR_STS_NOMEM;
        break;
    case EINVAL:
    case DB_VERIFY_BAD:
    case DB_OLD_VERSION:
    case DB_RUNRECOVERY:
        sts = RTR_STS_JNLCORRUPT;
        break;
    default:
        sts = RTR_STS_IOERR;
        break;
    }
    RTR_LOG(CMN_LOG_ERR, "JRN-DB", "dir=%s op=%s bdb_ret=%d bdb_err=\"%s\" sts=%s",
            j ? j->dir : "?", what, ret, db_strerror(ret), rtr_status_name(sts));
    return sts;
}

/* jrn_bdb_errcall - BDB's own messages, rate-limited: a damaged file can make BDB repeat
 * one message per page. The first JRN_BDB_LOG_BURST are logged, then every 1000th. */
#define JRN_BDB_LOG_BURST 10
static void
jrn_bdb_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
    jrn_t *j = env->app_private;
    uint64_t n = j ? __atomic_add_fetch(&j->bdb_messages, 1, __ATOMIC_RELAXED) : 1;

    if (n <= JRN_BDB_LOG_BURST || n % 1000 == 0)
        RTR_LOG(CMN_LOG_WARNING, "JRN-BDB", "dir=%s seen=%" PRIu64 " bdb=\"%s\"", pfx ? pfx : "?",
                n, msg);
}

/* jrn_lock_owner - take DIR/LOCK exclusively (writer) and record our PID. */
static rtr_status_t
jrn_lock_owner(jrn_t *j)
{
    char path[4096], pid[32] = "";
    ssize_t n;

    snprintf(path, sizeof path, "%s/%s", j->dir, JRN_LOCK_FILE);
    j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->lock_fd < 0) {
        RTR_LOG(CMN_LOG_ERR, "JRN-LOCK", "dir=%s msg=\"cannot open lock file\" errno=%d err=\"%s\"",
                j->dir, errno, strerror(errno));
        return RTR_STS_IOERR;
    }
    if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        n = pread(j->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        RTR_LOG(CMN_LOG_ERR, "JRN-BUSY",
                "dir=%s owner_pid=%s msg=\"journal is in use by another process\"", j->dir,
                pid[0] ? pid : "?");
        return RTR_STS_BUSY;
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(j->lock_fd, 0) != 0 || pwrite(j->lock_fd, pid, (size_t)n, 0) != n)
        RTR_LOG(CMN_LOG_WARNING, "JRN-LOCK", "dir=%s msg=\"cannot record pid\" errno=%d", j->dir,
                errno);
    return RTR_STS_OK;
}

typedef enum {
    JRN_OWNER_NONE,  /* no writer: read a private copy */
    JRN_OWNER_OTHER, /* a writer in another process: join its environment */
    JRN_OWNER_SELF,  /* the writer is this very process: refuse (see jrn_open_home) */
} jrn_owner_t;

/* jrn_owner - read-only opener: who holds DIR/LOCK? For JRN_OWNER_NONE, *held_fd keeps a
 * shared lock (so no writer starts while we copy); the caller closes it. */
static jrn_owner_t
jrn_owner(const jrn_t *j, int *held_fd)
{
    char path[4096], pid[32] = "";
    ssize_t n;
    int fd;

    *held_fd = -1;
    snprintf(path, sizeof path, "%s/%s", j->dir, JRN_LOCK_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return JRN_OWNER_NONE;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        *held_fd = fd;
        return JRN_OWNER_NONE;
    }
    n = pread(fd, pid, sizeof pid - 1, 0);
    close(fd);
    pid[n > 0 ? n : 0] = '\0';
    return strtol(pid, NULL, 10) == (long)getpid() ? JRN_OWNER_SELF : JRN_OWNER_OTHER;
}

static rtr_status_t
jrn_copy_file(const char *from, const char *to)
{
    char buf[65536];
    rtr_status_t sts = RTR_STS_OK;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t r;

    if (in < 0 || out < 0) {
        sts = RTR_STS_IOERR;
        goto done;
    }
    while ((r = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, (size_t)r) != r) {
            sts = RTR_STS_IOERR;
            goto done;
        }
    }
    if (r < 0)
        sts = RTR_STS_IOERR;
done:
    if (sts != RTR_STS_OK)
        RTR_LOG(CMN_LOG_ERR, "JRN-COPY", "from=%s to=%s errno=%d err=\"%s\"", from, to, errno,
                strerror(errno));
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return sts;
}

static void jrn_remove_dir(const char *path);

/* jrn_tmp_base - where private copies go: $TMPDIR or /tmp. */
static const char *
jrn_tmp_base(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* jrn_reap_stale_copies - remove view copies left by readers that were killed (the PID in
 * the name is no longer running), so that killed `rtrcli dump` runs do not fill /tmp. */
static void
jrn_reap_stale_copies(void)
{
    char path[4096];
    struct dirent *de;
    DIR *d = opendir(jrn_tmp_base());
    long pid;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (sscanf(de->d_name, "rtr-jrn-view-%ld-", &pid) != 1 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof path, "%s/%s", jrn_tmp_base(), de->d_name);
        jrn_remove_dir(path);
    }
    closedir(d);
}

/* jrn_make_private_copy - copy the databases and logs of j->dir into a new temp dir. */
static rtr_status_t
jrn_make_private_copy(jrn_t *j)
{
    char tmpl[4096];
    char from[4096], to[4096];
    struct dirent *de;
    rtr_status_t sts = RTR_STS_OK;
    DIR *d;

    jrn_reap_stale_copies();
    snprintf(tmpl, sizeof tmpl, "%s/rtr-jrn-view-%ld-XXXXXX", jrn_tmp_base(), (long)getpid());
    if (mkdtemp(tmpl) == NULL || (j->home = strdup(tmpl)) == NULL)
        return RTR_STS_IOERR;
    j->private_copy = true;
    if ((d = opendir(j->dir)) == NULL)
        return RTR_STS_IOERR;
    /* Databases first, then the logs (BDB's hot-backup order): whatever the pages hold, the
     * logs copied after them cover it, so recovery of the copy is always possible. */
    for (int pass = 0; pass < 2 && sts == RTR_STS_OK; pass++) {
        rewinddir(d);
        while (sts == RTR_STS_OK && (de = readdir(d)) != NULL) {
            bool is_log = strncmp(de->d_name, "log.", 4) == 0, is_db = false;
            for (size_t i = 0; i < sizeof jrn_db_files / sizeof *jrn_db_files; i++)
                is_db = is_db || strcmp(de->d_name, jrn_db_files[i]) == 0;
            if (pass == 0 ? !is_db : !is_log)
                continue;
            snprintf(from, sizeof from, "%s/%s", j->dir, de->d_name);
            snprintf(to, sizeof to, "%s/%s", j->home, de->d_name);
            sts = jrn_copy_file(from, to);
        }
    }
    closedir(d);
    return sts;
}

/* jrn_remove_dir - remove a private copy: plain files one level deep, then the directory. */
static void
jrn_remove_dir(const char *dir)
{
    char path[4096];
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void
jrn_remove_private_copy(jrn_t *j)
{
    if (j->private_copy && j->home != NULL)
        jrn_remove_dir(j->home);
}

static rtr_status_t
jrn_env_open(jrn_t *j, const jrn_options_t *opt)
{
    uint32_t flags = JRN_ENV_FLAGS;
    uint32_t cache_mb = opt->cache_mb ? opt->cache_mb : 32;
    int ret;

    if ((ret = db_env_create(&j->env, 0)) != 0)
        return jrn_map_db_error(j, ret, "db_env_create");
    j->env->app_private = j;
    j->env->set_errcall(j->env, jrn_bdb_errcall);
    j->env->set_errpfx(j->env, j->dir);
    j->env->set_cachesize(j->env, 0, cache_mb * 1024u * 1024u, 1);
    /* One transaction of up to JRN_TXN_OPS operations locks at most a few pages per operation
     * (a records leaf, a random by_tid leaf, a meta page): size the lock table with a 4x
     * margin so that a full transaction can never run out (that would be a sticky failure). */
    j->env->set_lk_max_locks(j->env, 16 * JRN_TXN_OPS);
    j->env->set_lk_max_objects(j->env, 16 * JRN_TXN_OPS);
    j->env->set_lk_max_lockers(j->env, 4096);
    j->env->set_lk_detect(j->env, DB_LOCK_DEFAULT);
    j->env->set_lg_bsize(j->env, 8u * 1024 * 1024);
    j->env->set_lg_max(j->env, 32u * 1024 * 1024);
    j->env->set_flags(j->env, DB_TXN_WRITE_NOSYNC, 1);
    j->env->log_set_config(j->env, DB_LOG_AUTO_REMOVE, 1);

    if (!j->readonly)
        flags |= DB_CREATE | DB_RECOVER | DB_REGISTER;
    else if (j->private_copy) /* file-backed regions in the copy: BDB leaks a DB_PRIVATE */
        flags |= DB_CREATE | DB_RECOVER; /* environment's regions when its recovery fails */
    else
        flags |= DB_REGISTER;
    ret = j->env->open(j->env, j->home, flags, 0600);
    if (ret != 0)
        return jrn_map_db_error(j, ret, "env_open");
    return RTR_STS_OK;
}

static rtr_status_t
jrn_db_open(jrn_t *j, DB **dbp, const char *file)
{
    uint32_t flags = DB_THREAD | DB_READ_UNCOMMITTED;
    int ret;

    if ((ret = db_create(dbp, j->env, 0)) != 0)
        return jrn_map_db_error(j, ret, "db_create");
    (*dbp)->set_flags(*dbp, DB_CHKSUM);
    flags |= j->readonly ? DB_RDONLY : (DB_CREATE | DB_AUTO_COMMIT);
    ret = (*dbp)->open(*dbp, NULL, file, NULL, DB_BTREE, flags, 0600);
    if (ret != 0) {
        rtr_status_t sts = jrn_map_db_error(j, ret, file);
        (*dbp)->close(*dbp, 0);
        *dbp = NULL;
        return sts == RTR_STS_IOERR ? RTR_STS_JNLCORRUPT : sts;
    }
    return RTR_STS_OK;
}

/* jrn_check_info - the JournalInfo record: written at creation, checked at every open. */
static rtr_status_t
jrn_check_info(jrn_t *j, const char *node)
{
    char infokey[] = JRN_INFO_KEY;
    DBT key = { .data = infokey, .size = sizeof infokey - 1 };
    DBT val = { .flags = DB_DBT_MALLOC };
    Rtr__JournalInfo *info = NULL;
    rtr_status_t sts;
    int ret = j->meta->get(j->meta, NULL, &key, &val, DB_READ_UNCOMMITTED);

    if (ret == DB_NOTFOUND && !j->readonly) {
        Rtr__JournalInfo ni = RTR__JOURNAL_INFO__INIT;
        uint8_t buf[256];
        char nodebuf[128];
        snprintf(nodebuf, sizeof nodebuf, "%s", node ? node : "");
        ni.format = JRN_FORMAT;
        ni.node = nodebuf;
        ni.has_created_ms = 1;
        ni.created_ms = cmn_now_wall_ms();
        val.data = buf;
        val.flags = 0;
        val.size = (uint32_t)rtr__journal_info__pack(&ni, buf);
        ret = j->meta->put(j->meta, NULL, &key, &val, DB_AUTO_COMMIT);
        if (ret == 0)
            ret = j->env->log_flush(j->env, NULL);
        return ret == 0 ? RTR_STS_OK : jrn_map_db_error(j, ret, "create_info");
    }
    if (ret == DB_NOTFOUND) {
        RTR_LOG(CMN_LOG_ERR, "JRN-NOINFO", "dir=%s msg=\"journal has no info record\"", j->dir);
        return RTR_STS_JNLCORRUPT;
    }
    if (ret != 0)
        return jrn_map_db_error(j, ret, "read_info");
    sts = wire_decode(&rtr__journal_info__descriptor, val.data, val.size, 0, NULL,
                      (ProtobufCMessage **)&info);
    free(val.data);
    if (sts != RTR_STS_OK || info->format != JRN_FORMAT) {
        RTR_LOG(CMN_LOG_ERR, "JRN-FORMAT", "dir=%s format=%u expected=%u msg=\"bad journal info\"",
                j->dir, info ? info->format : 0, JRN_FORMAT);
        sts = RTR_STS_JNLCORRUPT;
    }
    wire_free((ProtobufCMessage **)&info);
    return sts;
}

/* jrn_prepare_dir - writer: create dir if missing; read-only: it must hold a journal. */
static rtr_status_t
jrn_prepare_dir(jrn_t *j)
{
    char path[4096];
    struct stat sb;

    if (!j->readonly) {
        if (mkdir(j->dir, 0700) != 0 && errno != EEXIST) {
            RTR_LOG(CMN_LOG_ERR, "JRN-MKDIR", "dir=%s errno=%d err=\"%s\"", j->dir, errno,
                    strerror(errno));
            return errno == ENOENT ? RTR_STS_NOTFOUND : RTR_STS_IOERR;
        }
        return RTR_STS_OK;
    }
    if (stat(j->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        RTR_LOG(CMN_LOG_ERR, "JRN-NODIR", "dir=%s msg=\"no such directory\"", j->dir);
        return RTR_STS_NOTFOUND;
    }
    snprintf(path, sizeof path, "%s/meta.db", j->dir);
    if (stat(path, &sb) != 0) {
        RTR_LOG(CMN_LOG_ERR, "JRN-NOJOURNAL", "dir=%s msg=\"directory holds no journal\"", j->dir);
        return RTR_STS_NOTFOUND;
    }
    return RTR_STS_OK;
}

/* jrn_open_home - decide where the environment lives and open it with the databases. */
static rtr_status_t
jrn_open_home(jrn_t *j, const jrn_options_t *opt)
{
    jrn_owner_t owner;
    rtr_status_t sts;
    int held = -1;

    if (!j->readonly) {
        if ((sts = jrn_lock_owner(j)) != RTR_STS_OK)
            return sts;
        if ((j->home = strdup(j->dir)) == NULL)
            return RTR_STS_NOMEM;
    } else if ((owner = jrn_owner(j, &held)) == JRN_OWNER_SELF) {
        /* BDB tracks live processes with POSIX locks on __db.register, and a POSIX lock is
         * dropped when its process closes ANY descriptor of that file: a second handle in the
         * owner's process would silently unregister the owner, and the next outside reader
         * would "recover" (panic) the owner's live environment. Use the writer's handle. */
        RTR_LOG(CMN_LOG_ERR, "JRN-SELF",
                "dir=%s msg=\"journal is open for writing in this process: read through that "
                "handle\"",
                j->dir);
        return RTR_STS_BUSY;
    } else if (owner == JRN_OWNER_OTHER) {
        if ((j->home = strdup(j->dir)) == NULL)
            return RTR_STS_NOMEM;
    } else {
        sts = jrn_make_private_copy(j);
        if (held >= 0)
            close(held); /* the copy is taken: a writer may start now */
        if (sts != RTR_STS_OK)
            return sts;
    }
    if ((sts = jrn_env_open(j, opt)) != RTR_STS_OK)
        return sts;
    if ((sts = jrn_db_open(j, &j->records, "records.db")) != RTR_STS_OK ||
        (sts = jrn_db_open(j, &j->by_tid, "by_tid.db")) != RTR_STS_OK ||
        (sts = jrn_db_open(j, &j->meta, "meta.db")) != RTR_STS_OK)
        return sts;
    return jrn_check_info(j, opt->node);
}

static void
jrn_release(jrn_t *j)
{
    DB **dbs[] = { &j->records, &j->by_tid, &j->meta };

    for (size_t i = 0; i < 3; i++) {
        if (*dbs[i] != NULL)
            (*dbs[i])->close(*dbs[i], 0);
        *dbs[i] = NULL;
    }
    if (j->env != NULL)
        j->env->close(j->env, 0);
    j->env = NULL;
    jrn_remove_private_copy(j);
    if (j->lock_fd >= 0)
        close(j->lock_fd); /* releases the flock */
    if (j->efd >= 0)
        close(j->efd);
    for (uint32_t i = 0; i < j->nparts; i++)
        free(j->part_names[i]);
    free(j->part_names);
    pthread_mutex_destroy(&j->part_lock);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->work_cv);
    pthread_cond_destroy(&j->flush_cv);
    pthread_cond_destroy(&j->ckpt_cv);
    for (int i = 0; i < JRN_WAIT_SLOTS; i++)
        pthread_cond_destroy(&j->done_cv[i]);
    free(j->home);
    free(j->dir);
    free(j);
}

rtr_status_t
jrn_open(const jrn_options_t *opt, jrn_t **out)
{
    rtr_status_t sts = RTR_STS_NOMEM;
    jrn_t *j;

    *out = NULL;
    if (opt == NULL || opt->dir == NULL || opt->dir[0] == '\0' ||
        (opt->max_bytes != 0 && opt->reserve_bytes >= opt->max_bytes))
        return RTR_STS_INVARG;
    if ((j = calloc(1, sizeof *j)) == NULL)
        return RTR_STS_NOMEM;
    j->lock_fd = -1;
    j->efd = -1;
    pthread_mutex_init(&j->part_lock, NULL);
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->work_cv, NULL);
    pthread_cond_init(&j->flush_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->ckpt_cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < JRN_WAIT_SLOTS; i++)
        pthread_cond_init(&j->done_cv[i], NULL);
    j->readonly = opt->readonly;
    j->max_bytes = opt->max_bytes;
    j->reserve_bytes = opt->reserve_bytes;
    j->st.max_bytes = opt->max_bytes;
    j->checkpoint_bytes = (uint64_t)(opt->checkpoint_mb ? opt->checkpoint_mb : 16) << 20;
    if ((j->dir = strdup(opt->dir)) == NULL)
        goto fail;
    if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        sts = RTR_STS_IOERR;
        goto fail;
    }
    if ((sts = jrn_prepare_dir(j)) != RTR_STS_OK || (sts = jrn_open_home(j, opt)) != RTR_STS_OK ||
        (sts = jrn_load_partitions(j)) != RTR_STS_OK || (sts = jrn_count_live(j)) != RTR_STS_OK)
        goto fail;
    if (!j->readonly && (sts = jrn_writer_start(j)) != RTR_STS_OK)
        goto fail;
    RTR_LOG(CMN_LOG_INFO, "JRN-OPEN",
            "dir=%s mode=%s partitions=%" PRIu32 " records=%" PRIu64 " bytes=%" PRIu64, j->dir,
            j->readonly ? (j->private_copy ? "read-only-copy" : "read-only-live") : "writer",
            j->nparts, j->st.live_records, j->st.live_bytes);
    *out = j;
    return RTR_STS_OK;
fail:
    jrn_release(j);
    return sts;
}

void
jrn_close(jrn_t **jp)
{
    jrn_t *j;

    if (jp == NULL || (j = *jp) == NULL)
        return;
    *jp = NULL;
    if (!j->readonly) {
        jrn_writer_stop(j);
        if (j->st.failure == RTR_STS_OK && j->env != NULL)
            j->env->txn_checkpoint(j->env, 0, 0, 0);
    }
    jrn_release(j);
}

const char *
jrn_dir(const jrn_t *j)
{
    return j->dir;
}
