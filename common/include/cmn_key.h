/*
 * cmn_key.h - key segments and normalized keys (cmn_).
 *
 * A facility routes a message by its key: up to CMN_MAX_KEYSEG segments, each a signed or
 * unsigned integer of 1, 2, 4 or 8 bytes or a fixed-length string of 1..255 bytes, found at a
 * fixed offset of every message. As in RTR, the key is a field of a C struct inside the message,
 * so integers are read in the NATIVE byte order of the machine that built the message.
 *
 * Every key is turned into one order-preserving byte string, its *normalized* form, so that
 * comparing two keys is memcmp and a partition lookup is a binary search over byte strings:
 *   unsigned -> big-endian;
 *   signed   -> big-endian with the sign bit flipped (INT_MIN sorts first);
 *   string   -> the raw bytes of the fixed-length field.
 * The normalized key is the concatenation of its segments in order; its length is the sum of
 * the segment lengths. Partition bounds from the facility file are normalized the same way.
 *
 * String bounds shorter than their segment are padded: a low bound with 0x00 bytes, a high bound
 * with 0xFF bytes, so that high = ["M"] covers every key that starts with "M". Keys in messages
 * are compared as raw bytes: applications should zero-fill string key fields.
 *
 * Thread rule: every function here is pure (no state) and thread-safe.
 */
#ifndef CMN_KEY_H
#define CMN_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "rtr_status.h"

#define CMN_MAX_KEYSEG     20    /* segments in a key (RTR_MAX_NUMSEG) */
#define CMN_KEYSEG_MAXSTR  255   /* longest string segment, bytes */
#define CMN_KEY_MSG_MAXLEN 64000 /* largest message: a segment must lie inside it */
#define CMN_KEY_MAXLEN     (CMN_MAX_KEYSEG * CMN_KEYSEG_MAXSTR) /* longest normalized key */

/* Segment types, in the order of RTR's rtr_keyseg_type_t. */
typedef enum {
    CMN_KEYSEG_SIGNED = 0,
    CMN_KEYSEG_UNSIGNED = 1,
    CMN_KEYSEG_STRING = 2,
} cmn_keyseg_type_t;

/* One key segment: where the field is in the message and how to read it. */
typedef struct {
    cmn_keyseg_type_t type;
    uint32_t offset; /* byte offset of the field in every message */
    uint32_t length; /* 1, 2, 4 or 8 for integers; 1..CMN_KEYSEG_MAXSTR for strings */
} cmn_keyseg_t;

/* A normalized key: `len` meaningful bytes. A plain value: copy it, compare with cmn_key_cmp. */
typedef struct {
    size_t len;
    uint8_t bytes[CMN_KEY_MAXLEN];
} cmn_key_t;

/* Which end of a range a string bound is padded for (see the top of this header). */
typedef enum {
    CMN_KEY_LOW = 0,  /* pad with 0x00 */
    CMN_KEY_HIGH = 1, /* pad with 0xFF */
} cmn_key_side_t;

/* cmn_keyseg_validate - check a segment list: nseg must be 1..CMN_MAX_KEYSEG
 * (RTR_STS_INVNUMSEG); segs must be non-NULL, every type known, integer lengths 1, 2, 4 or 8,
 * string lengths 1..CMN_KEYSEG_MAXSTR, and every segment must end within CMN_KEY_MSG_MAXLEN
 * bytes (RTR_STS_INVPKEYSEG). Segments may overlap. */
rtr_status_t cmn_keyseg_validate(const cmn_keyseg_t *segs, size_t nseg);

/* cmn_key_length - the length of the normalized key of a validated segment list (the sum of
 * the segment lengths). */
size_t cmn_key_length(const cmn_keyseg_t *segs, size_t nseg);

/* cmn_keyseg_int_range - the values an integer segment can hold: *min..*max (for an unsigned
 * segment *min is 0; for a signed one *max is below INT64_MAX + 1). RTR_STS_INVPKEYSEG for a
 * string segment or a bad length. */
rtr_status_t cmn_keyseg_int_range(const cmn_keyseg_t *seg, int64_t *min, uint64_t *max);

/* cmn_keyseg_normalize - normalize one native field value: reads seg->length bytes at `value`
 * (native byte order for integers) and writes seg->length bytes to `out`. For server channels
 * whose bounds are given as native values. RTR_STS_INVPKEYSEG on a bad segment. */
rtr_status_t cmn_keyseg_normalize(const cmn_keyseg_t *seg, const void *value, uint8_t *out);

/* cmn_key_extract - the normalized key of a message: every segment read at its offset.
 * RTR_STS_INVMSGLEN if the message (msglen bytes at msg; msg may be NULL when msglen is 0) is too
 * short for a segment; RTR_STS_INVNUMSEG / RTR_STS_INVPKEYSEG for a bad segment list. `out` is
 * written only on success. No allocation: safe on the routing hot path. */
rtr_status_t cmn_key_extract(const cmn_keyseg_t *segs, size_t nseg, const void *msg, size_t msglen,
                             cmn_key_t *out);

/* cmn_key_cmp - memcmp order of two normalized keys; a key that is a prefix of the other sorts
 * first (never happens within one facility, where all keys have the same length).
 * Returns <0, 0, >0. */
int cmn_key_cmp(const cmn_key_t *a, const cmn_key_t *b);

/* cmn_key_bound_int / cmn_key_bound_uint - normalize an integer bound for an integer segment:
 * writes seg->length bytes to `out`. RTR_STS_INVARG if the value is out of the segment's range
 * (an unsigned 1-byte segment takes 0..255, a signed one -128..127) or the segment is a string;
 * RTR_STS_INVPKEYSEG on a bad segment. */
rtr_status_t cmn_key_bound_int(const cmn_keyseg_t *seg, int64_t v, uint8_t *out);
rtr_status_t cmn_key_bound_uint(const cmn_keyseg_t *seg, uint64_t v, uint8_t *out);

/* cmn_key_bound_str - normalize a string bound of `len` bytes for a string segment: writes
 * seg->length bytes to `out`, padded for `side`. RTR_STS_INVARG if len exceeds the segment's
 * length or the segment is an integer; RTR_STS_INVPKEYSEG on a bad segment. */
rtr_status_t cmn_key_bound_str(const cmn_keyseg_t *seg, const char *s, size_t len,
                               cmn_key_side_t side, uint8_t *out);

/* cmn_key_format - a normalized key as text for messages and rtrcli: "[42, -7, \"abc\"]".
 * Strings are quoted, trailing NUL bytes are dropped, '"' and '\' are escaped and other bytes
 * outside printable ASCII are written \xNN. A key whose length does not match the segments is
 * written "[?]". Writes at most `len` bytes including the NUL (truncating, like snprintf) and
 * returns the length the whole text needs, without the NUL. */
size_t cmn_key_format(const cmn_keyseg_t *segs, size_t nseg, const cmn_key_t *key, char *buf,
                      size_t len);

#endif /* CMN_KEY_H */
