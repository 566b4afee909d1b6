/*
 * jrn_tst.h - helpers of the journal tests (jtst_): deterministic records, scan collectors,
 * u64 messages over pipes with poll deadlines, and directory snapshots.
 *
 * Nothing here uses Criterion: forked children (which must not touch Criterion) use these too.
 * Thread rule: every function is reentrant; a jtst_rec_t or jtst_scan_t belongs to its caller.
 */
#ifndef JRN_TST_H
#define JRN_TST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jrn.h"

#define JTST_BODY_MAX  2000 /* largest first-message body jtst_rec_make produces */
#define JTST_BODY2_MAX 64   /* largest second-message body */

/* A record with all its storage inline: rec points into the struct, so do not copy it. */
typedef struct {
    Rtr__JournalRecord rec;
    Rtr__TxMessage msg[2];
    Rtr__TxMessage *msgp[2];
    char *partp[2];
    char part_a[8];
    char part_b[8];
    char coord[8];
    uint8_t tid[16];
    uint8_t digest[8];
    uint8_t body[JTST_BODY_MAX];
    uint8_t body2[JTST_BODY2_MAX];
} jtst_rec_t;

/* jtst_mix - splitmix64 of x: the tests' only source of pseudo-randomness. */
uint64_t jtst_mix(uint64_t x);

/* jtst_tid - the packed TID (incarnation seed, counter n). */
void jtst_tid(uint64_t seed, uint64_t n, uint8_t out[16]);

/* jtst_rec_make - the record number n of stream `seed`, everything derived from (seed, n):
 * TID (seed, n), state TX_VOTED, a first message of 0..maxbody (<= JTST_BODY_MAX) pseudo-random
 * bytes, and, depending on bits of the hash, a second message and the optional fields. */
void jtst_rec_make(jtst_rec_t *r, uint64_t seed, uint64_t n, size_t maxbody);

/* jtst_rec_sized - a minimal record (TID (seed, n), TX_VOTED) with one message of exactly
 * `len` (<= JTST_BODY_MAX) bytes. */
void jtst_rec_sized(jtst_rec_t *r, uint64_t seed, uint64_t n, size_t len);

/* jtst_pack - the protobuf encoding of a message (caller frees). */
uint8_t *jtst_pack(const ProtobufCMessage *m, size_t *len);

/* jtst_same - true if both messages encode to the same bytes. */
bool jtst_same(const ProtobufCMessage *a, const ProtobufCMessage *b);

/* jtst_append_wait - jrn_append then jrn_wait; the first failing status. */
rtr_status_t jtst_append_wait(jrn_t *j, uint32_t part, const Rtr__JournalRecord *rec,
                              uint64_t *ticket);

/* jtst_opts - options for dir with everything else at its default. */
jrn_options_t jtst_opts(const char *dir, bool readonly);

/* ---- scans --------------------------------------------------------------------------- */

typedef struct {
    uint32_t part;
    uint64_t n;
    size_t bytes;
    Rtr__TxState state;
    bool has_moved_to;
    uint64_t moved_to;
    char part_name[64];
    uint8_t *packed; /* the record re-encoded (owned) */
    size_t packed_len;
} jtst_seen_t;

typedef struct {
    jtst_seen_t *v;
    size_t len;
    size_t cap;
    size_t stop_after; /* return non-zero after this many calls (0 = never) */
    bool oom;
} jtst_scan_t;

/* jtst_collect - a jrn_scan_fn appending every entry to a jtst_scan_t. */
int jtst_collect(void *arg, const jrn_entry_t *e);

/* jtst_scan_free - free what jtst_collect gathered and reset the collector. */
void jtst_scan_free(jtst_scan_t *s);

/* jtst_check_run - does the scan hold exactly records 1..len of part, each identical to
 * jtst_rec_make(seed, n, maxbody)? 0 if so, else the first bad n (or len + 1 if only the
 * count is off) with a description in why. */
uint64_t jtst_check_run(const jtst_scan_t *s, uint32_t part, uint64_t seed, size_t maxbody,
                        char *why, size_t whylen);

/* ---- pipes --------------------------------------------------------------------------- */

/* jtst_write_u64 - one 8-byte message (atomic on a pipe). 0 or -1. */
int jtst_write_u64(int fd, uint64_t v);

typedef struct {
    int fd;
    uint8_t buf[8];
    size_t have;
    bool eof;
} jtst_reader_t;

/* jtst_read_u64 - the next message, waiting at most until `deadline` (jtst_deadline).
 * 1 = got one, 0 = deadline passed, -1 = end of file or error. Uses poll: no busy wait. */
int jtst_read_u64(jtst_reader_t *r, uint64_t *v, const struct timespec *deadline);

/* jtst_deadline - now (CLOCK_MONOTONIC) + ms. */
struct timespec jtst_deadline(int64_t ms);

/* jtst_ms_left - milliseconds until deadline (0 if passed). */
int jtst_ms_left(const struct timespec *deadline);

/* ---- directory snapshots ------------------------------------------------------------- */

typedef struct {
    char name[256];
    long long size;
    long long mtime_ns;
    long long ctime_ns;
    uint64_t hash; /* FNV-1a of the content */
} jtst_file_t;

typedef struct {
    jtst_file_t *v;
    size_t len;
} jtst_dirsnap_t;

/* jtst_dirsnap - every entry of dir (not recursive), sorted by name. 0 or -1. */
int jtst_dirsnap(const char *dir, jtst_dirsnap_t *out);

/* jtst_dirsnap_diff - NULL if equal, else a description of the first difference (in buf). */
const char *jtst_dirsnap_diff(const jtst_dirsnap_t *a, const jtst_dirsnap_t *b, char *buf,
                              size_t len);

void jtst_dirsnap_free(jtst_dirsnap_t *s);

#endif /* JRN_TST_H */
