/*
 * jrn_tst.c - helpers of the journal tests (see jrn_tst.h).
 *
 * Records are a pure function of (seed, n), so a test (or a parent whose child was killed)
 * can recompute exactly what was written and compare bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmn.h"
#include "jrn_tst.h"

uint64_t
jtst_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void
jtst_tid(uint64_t seed, uint64_t n, uint8_t out[16])
{
    cmn_tid_t tid = { .incarnation = seed, .counter = n };
    cmn_tid_pack(&tid, out);
}

static void
jtst_fill(uint8_t *p, size_t len, uint64_t state)
{
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            state = jtst_mix(state);
        p[i] = (uint8_t)(state >> (8 * (i % 8)));
    }
}

static void
jtst_rec_base(jtst_rec_t *r, uint64_t seed, uint64_t n)
{
    memset(r, 0, sizeof *r);
    rtr__journal_record__init(&r->rec);
    rtr__tx_message__init(&r->msg[0]);
    rtr__tx_message__init(&r->msg[1]);
    jtst_tid(seed, n, r->tid);
    r->rec.epoch = 1 + seed % 5;
    r->rec.n = n;
    r->rec.tid.data = r->tid;
    r->rec.tid.len = 16;
    r->rec.state = RTR__TX_STATE__TX_VOTED;
    r->msgp[0] = &r->msg[0];
    r->msgp[1] = &r->msg[1];
    r->rec.messages = r->msgp;
    r->rec.n_messages = 1;
    r->msg[0].index = 0;
    r->msg[0].body.data = r->body;
    r->msg[1].index = 1;
    r->msg[1].body.data = r->body2;
}

void
jtst_rec_sized(jtst_rec_t *r, uint64_t seed, uint64_t n, size_t len)
{
    jtst_rec_base(r, seed, n);
    if (len > JTST_BODY_MAX)
        len = JTST_BODY_MAX;
    jtst_fill(r->body, len, jtst_mix(seed ^ jtst_mix(n)));
    r->msg[0].body.len = len;
}

void
jtst_rec_make(jtst_rec_t *r, uint64_t seed, uint64_t n, size_t maxbody)
{
    uint64_t h = jtst_mix(jtst_mix(seed) ^ n);

    if (maxbody > JTST_BODY_MAX)
        maxbody = JTST_BODY_MAX;
    jtst_rec_base(r, seed, n);
    r->msg[0].body.len = (size_t)(h % (maxbody + 1));
    jtst_fill(r->body, r->msg[0].body.len, h ^ 0x1111);
    if (h & (1u << 20)) {
        r->rec.n_messages = 2;
        r->msg[1].body.len = (size_t)((h >> 24) % (JTST_BODY2_MAX + 1));
        jtst_fill(r->body2, r->msg[1].body.len, h ^ 0x2222);
        r->msg[1].has_flags = 1;
        r->msg[1].flags = (uint32_t)(h >> 40) & 0xf;
    }
    if (h & (1u << 21)) {
        snprintf(r->part_a, sizeof r->part_a, "P");
        snprintf(r->part_b, sizeof r->part_b, "Q%u", (unsigned)(h >> 50) % 10);
        snprintf(r->coord, sizeof r->coord, "P");
        r->partp[0] = r->part_a;
        r->partp[1] = r->part_b;
        r->rec.participants = r->partp;
        r->rec.n_participants = 2;
        r->rec.coordinator = r->coord;
    }
    if (h & (1u << 22)) {
        jtst_fill(r->digest, sizeof r->digest, h ^ 0x3333);
        r->rec.has_digest = 1;
        r->rec.digest.data = r->digest;
        r->rec.digest.len = sizeof r->digest;
    }
    if (h & (1u << 23)) {
        r->rec.has_watermark = 1;
        r->rec.watermark = n / 2;
        r->rec.has_accepted_ms = 1;
        r->rec.accepted_ms = 1700000000000ull + n;
        r->rec.has_replays = 1;
        r->rec.replays = (uint32_t)(h >> 56) % 3;
    }
}

uint8_t *
jtst_pack(const ProtobufCMessage *m, size_t *len)
{
    size_t sz = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(sz ? sz : 1);

    if (buf == NULL)
        abort();
    *len = protobuf_c_message_pack(m, buf);
    return buf;
}

bool
jtst_same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la, lb;
    uint8_t *pa = jtst_pack(a, &la), *pb = jtst_pack(b, &lb);
    bool same = la == lb && memcmp(pa, pb, la) == 0;

    free(pa);
    free(pb);
    return same;
}

rtr_status_t
jtst_append_wait(jrn_t *j, uint32_t part, const Rtr__JournalRecord *rec, uint64_t *ticket)
{
    uint64_t t = 0;
    rtr_status_t sts = jrn_append(j, part, rec, &t);

    if (sts == RTR_STS_OK)
        sts = jrn_wait(j, t);
    if (ticket)
        *ticket = t;
    return sts;
}

jrn_options_t
jtst_opts(const char *dir, bool readonly)
{
    jrn_options_t o;

    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.node = "jtst";
    o.readonly = readonly;
    o.cache_mb = 4;
    return o;
}

/* ---- scans --------------------------------------------------------------------------- */

int
jtst_collect(void *arg, const jrn_entry_t *e)
{
    jtst_scan_t *s = arg;
    jtst_seen_t *x;

    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        jtst_seen_t *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            s->oom = true;
            return 1;
        }
        s->v = v;
        s->cap = cap;
    }
    x = &s->v[s->len++];
    memset(x, 0, sizeof *x);
    x->part = e->part;
    x->n = e->rec->n;
    x->bytes = e->bytes;
    x->state = e->rec->state;
    x->has_moved_to = e->rec->has_moved_to;
    x->moved_to = e->rec->moved_to;
    snprintf(x->part_name, sizeof x->part_name, "%s", e->part_name ? e->part_name : "(null)");
    x->packed = jtst_pack(&e->rec->base, &x->packed_len);
    return s->stop_after != 0 && s->len >= s->stop_after;
}

void
jtst_scan_free(jtst_scan_t *s)
{
    for (size_t i = 0; i < s->len; i++)
        free(s->v[i].packed);
    free(s->v);
    memset(s, 0, sizeof *s);
}

uint64_t
jtst_check_run(const jtst_scan_t *s, uint32_t part, uint64_t seed, size_t maxbody, char *why,
               size_t whylen)
{
    jtst_rec_t *r = malloc(sizeof *r);

    if (r == NULL)
        abort();
    for (size_t i = 0; i < s->len; i++) {
        const jtst_seen_t *x = &s->v[i];
        uint64_t want = i + 1;
        size_t len;
        uint8_t *p;
        bool same;

        if (x->part != part || x->n != want) {
            snprintf(why, whylen, "position %zu holds (part %u, n %llu), expected (%u, %llu)", i,
                     x->part, (unsigned long long)x->n, part, (unsigned long long)want);
            free(r);
            return want;
        }
        jtst_rec_make(r, seed, want, maxbody);
        p = jtst_pack(&r->rec.base, &len);
        same = len == x->packed_len && memcmp(p, x->packed, len) == 0 && x->bytes == len;
        free(p);
        if (!same) {
            snprintf(why, whylen,
                     "record n=%llu differs from what was written (%zu bytes stored, %zu "
                     "re-encoded, %zu expected)",
                     (unsigned long long)want, x->bytes, x->packed_len, len);
            free(r);
            return want;
        }
    }
    free(r);
    if (whylen)
        why[0] = '\0';
    return 0;
}

/* ---- pipes --------------------------------------------------------------------------- */

int
jtst_write_u64(int fd, uint64_t v)
{
    uint8_t b[8];
    ssize_t w;

    cmn_put_be64(b, v);
    do {
        w = write(fd, b, sizeof b);
    } while (w < 0 && errno == EINTR);
    return w == (ssize_t)sizeof b ? 0 : -1;
}

struct timespec
jtst_deadline(int64_t ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int
jtst_ms_left(const struct timespec *deadline)
{
    struct timespec now;
    int64_t ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
         (deadline->tv_nsec - now.tv_nsec) / 1000000L;
    if (ms <= 0) {
        /* round a sub-millisecond remainder up, so that poll does not spin at 0 */
        if (deadline->tv_sec > now.tv_sec ||
            (deadline->tv_sec == now.tv_sec && deadline->tv_nsec > now.tv_nsec))
            return 1;
        return 0;
    }
    return ms > 3600000 ? 3600000 : (int)ms;
}

int
jtst_read_u64(jtst_reader_t *r, uint64_t *v, const struct timespec *deadline)
{
    for (;;) {
        if (r->have == sizeof r->buf) {
            *v = cmn_get_be64(r->buf);
            r->have = 0;
            return 1;
        }
        if (r->eof)
            return -1;
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        int left = jtst_ms_left(deadline);
        int rc = poll(&p, 1, left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        ssize_t got = read(r->fd, r->buf + r->have, sizeof r->buf - r->have);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0) {
            r->eof = true;
            continue;
        }
        r->have += (size_t)got;
    }
}

/* ---- directory snapshots ------------------------------------------------------------- */

static uint64_t
jtst_hash_file(const char *path)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint8_t buf[65536];
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < got; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
    close(fd);
    return h;
}

static int
jtst_file_cmp(const void *a, const void *b)
{
    return strcmp(((const jtst_file_t *)a)->name, ((const jtst_file_t *)b)->name);
}

int
jtst_dirsnap(const char *dir, jtst_dirsnap_t *out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t cap = 0;

    memset(out, 0, sizeof *out);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat sb;
        jtst_file_t *f;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &sb) != 0)
            continue;
        if (out->len == cap) {
            cap = cap ? cap * 2 : 16;
            jtst_file_t *v = realloc(out->v, cap * sizeof *v);
            if (v == NULL)
                abort();
            out->v = v;
        }
        f = &out->v[out->len++];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", de->d_name);
        f->size = (long long)sb.st_size;
        f->mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
        f->ctime_ns = (long long)sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec;
        f->hash = S_ISREG(sb.st_mode) ? jtst_hash_file(path) : 0;
    }
    closedir(d);
    if (out->len > 1)
        qsort(out->v, out->len, sizeof *out->v, jtst_file_cmp);
    return 0;
}

const char *
jtst_dirsnap_diff(const jtst_dirsnap_t *a, const jtst_dirsnap_t *b, char *buf, size_t len)
{
    size_t i = 0, k = 0;

    while (i < a->len || k < b->len) {
        int c = i == a->len ? 1 : k == b->len ? -1 : strcmp(a->v[i].name, b->v[k].name);
        if (c < 0) {
            snprintf(buf, len, "%s disappeared", a->v[i].name);
            return buf;
        }
        if (c > 0) {
            snprintf(buf, len, "%s appeared", b->v[k].name);
            return buf;
        }
        const jtst_file_t *x = &a->v[i], *y = &b->v[k];
        if (x->size != y->size || x->mtime_ns != y->mtime_ns || x->ctime_ns != y->ctime_ns ||
            x->hash != y->hash) {
            snprintf(buf, len,
                     "%s changed: size %lld -> %lld, mtime_ns %lld -> %lld, ctime_ns %lld -> "
                     "%lld, content %s",
                     x->name, x->size, y->size, x->mtime_ns, y->mtime_ns, x->ctime_ns, y->ctime_ns,
                     x->hash == y->hash ? "same" : "differs");
            return buf;
        }
        i++;
        k++;
    }
    return NULL;
}

void
jtst_dirsnap_free(jtst_dirsnap_t *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}
