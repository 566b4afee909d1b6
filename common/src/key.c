/*
 * key.c - key segments and the order-preserving normalized key.
 *
 * Design note. Routing must compare keys of mixed types (signed, unsigned, strings) without a
 * type switch per comparison, so every key is normalized once into bytes whose memcmp order is
 * the key order: integers become big-endian (signed ones with the sign bit flipped, which maps
 * INT_MIN..INT_MAX monotonically onto 0..UINT_MAX), strings stay raw bytes. The normalized form
 * has a fixed length per facility, so a concatenation of segments compares segment by segment.
 * Message fields are read with memcpy (messages are unaligned byte buffers) in native byte
 * order, as RTR reads the key field of the application's C struct.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmn_key.h"

/* cmn_keyseg_check - one segment's shape; the status cmn_keyseg_validate reports. */
static rtr_status_t
cmn_keyseg_check(const cmn_keyseg_t *seg)
{
    switch (seg->type) {
    case CMN_KEYSEG_SIGNED:
    case CMN_KEYSEG_UNSIGNED:
        if (seg->length != 1 && seg->length != 2 && seg->length != 4 && seg->length != 8)
            return RTR_STS_INVPKEYSEG;
        break;
    case CMN_KEYSEG_STRING:
        if (seg->length < 1 || seg->length > CMN_KEYSEG_MAXSTR)
            return RTR_STS_INVPKEYSEG;
        break;
    default:
        return RTR_STS_INVPKEYSEG;
    }
    if ((uint64_t)seg->offset + seg->length > CMN_KEY_MSG_MAXLEN)
        return RTR_STS_INVPKEYSEG;
    return RTR_STS_OK;
}

rtr_status_t
cmn_keyseg_validate(const cmn_keyseg_t *segs, size_t nseg)
{
    if (nseg < 1 || nseg > CMN_MAX_KEYSEG)
        return RTR_STS_INVNUMSEG;
    if (segs == NULL)
        return RTR_STS_INVPKEYSEG;
    for (size_t i = 0; i < nseg; i++) {
        rtr_status_t sts = cmn_keyseg_check(&segs[i]);
        if (sts != RTR_STS_OK)
            return sts;
    }
    return RTR_STS_OK;
}

size_t
cmn_key_length(const cmn_keyseg_t *segs, size_t nseg)
{
    size_t n = 0;
    for (size_t i = 0; i < nseg; i++)
        n += segs[i].length;
    return n;
}

rtr_status_t
cmn_keyseg_int_range(const cmn_keyseg_t *seg, int64_t *min, uint64_t *max)
{
    unsigned bits;

    if (seg == NULL || seg->type == CMN_KEYSEG_STRING || cmn_keyseg_check(seg) != RTR_STS_OK)
        return RTR_STS_INVPKEYSEG;
    bits = 8u * seg->length;
    if (seg->type == CMN_KEYSEG_UNSIGNED) {
        *min = 0;
        *max = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    } else {
        *max = (UINT64_C(1) << (bits - 1)) - 1;
        *min = -(int64_t)*max - 1;
    }
    return RTR_STS_OK;
}

/* cmn_key_put_be - write the low `len` bytes of v big-endian. */
static void
cmn_key_put_be(uint8_t *out, uint64_t v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[len - 1 - i] = (uint8_t)(v >> (8 * i));
}

/* cmn_key_get_be - read `len` bytes big-endian. */
static uint64_t
cmn_key_get_be(const uint8_t *in, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = (v << 8) | in[i];
    return v;
}

/* cmn_key_native - an integer field of 1, 2, 4 or 8 bytes in native byte order, widened to
 * 64 bits (sign-extended for signed fields, so that the bit pattern of the low bytes is kept). */
static uint64_t
cmn_key_native(const void *p, uint32_t length, cmn_keyseg_type_t type)
{
    int sgn = type == CMN_KEYSEG_SIGNED;

    switch (length) {
    case 1: {
        uint8_t u;
        memcpy(&u, p, 1);
        return sgn ? (uint64_t)(int64_t)(int8_t)u : u;
    }
    case 2: {
        uint16_t u;
        memcpy(&u, p, 2);
        return sgn ? (uint64_t)(int64_t)(int16_t)u : u;
    }
    case 4: {
        uint32_t u;
        memcpy(&u, p, 4);
        return sgn ? (uint64_t)(int64_t)(int32_t)u : u;
    }
    default: {
        uint64_t u;
        memcpy(&u, p, 8);
        return u;
    }
    }
}

/* cmn_key_put_int - normalize a 64-bit value (two's complement bit pattern) for a checked
 * integer segment: big-endian, sign bit of the segment's width flipped for signed ones. */
static void
cmn_key_put_int(const cmn_keyseg_t *seg, uint64_t v, uint8_t *out)
{
    cmn_key_put_be(out, v, seg->length);
    if (seg->type == CMN_KEYSEG_SIGNED)
        out[0] ^= 0x80;
}

rtr_status_t
cmn_keyseg_normalize(const cmn_keyseg_t *seg, const void *value, uint8_t *out)
{
    if (seg == NULL || value == NULL || out == NULL || cmn_keyseg_check(seg) != RTR_STS_OK)
        return RTR_STS_INVPKEYSEG;
    if (seg->type == CMN_KEYSEG_STRING)
        memcpy(out, value, seg->length);
    else
        cmn_key_put_int(seg, cmn_key_native(value, seg->length, seg->type), out);
    return RTR_STS_OK;
}

rtr_status_t
cmn_key_extract(const cmn_keyseg_t *segs, size_t nseg, const void *msg, size_t msglen,
                cmn_key_t *out)
{
    const uint8_t *m = msg;
    size_t pos = 0;
    rtr_status_t sts = cmn_keyseg_validate(segs, nseg);

    if (sts != RTR_STS_OK)
        return sts;
    if (out == NULL)
        return RTR_STS_INVARG;
    /* Check every segment before writing, so a short message leaves `out` untouched. */
    for (size_t i = 0; i < nseg; i++) {
        if (m == NULL || (uint64_t)segs[i].offset + segs[i].length > msglen)
            return RTR_STS_INVMSGLEN;
    }
    for (size_t i = 0; i < nseg; i++) {
        sts = cmn_keyseg_normalize(&segs[i], m + segs[i].offset, out->bytes + pos);
        if (sts != RTR_STS_OK)
            return sts;
        pos += segs[i].length;
    }
    out->len = pos;
    return RTR_STS_OK;
}

int
cmn_key_cmp(const cmn_key_t *a, const cmn_key_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);

    if (c != 0)
        return c < 0 ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return 0;
}

rtr_status_t
cmn_key_bound_int(const cmn_keyseg_t *seg, int64_t v, uint8_t *out)
{
    int64_t min;
    uint64_t max;

    if (seg == NULL || out == NULL || cmn_keyseg_check(seg) != RTR_STS_OK)
        return RTR_STS_INVPKEYSEG;
    if (cmn_keyseg_int_range(seg, &min, &max) != RTR_STS_OK)
        return RTR_STS_INVARG; /* a string segment */
    if (v < min || (v > 0 && (uint64_t)v > max))
        return RTR_STS_INVARG;
    cmn_key_put_int(seg, (uint64_t)v, out);
    return RTR_STS_OK;
}

rtr_status_t
cmn_key_bound_uint(const cmn_keyseg_t *seg, uint64_t v, uint8_t *out)
{
    int64_t min;
    uint64_t max;

    if (seg == NULL || out == NULL || cmn_keyseg_check(seg) != RTR_STS_OK)
        return RTR_STS_INVPKEYSEG;
    if (cmn_keyseg_int_range(seg, &min, &max) != RTR_STS_OK)
        return RTR_STS_INVARG;
    if (v > max)
        return RTR_STS_INVARG;
    cmn_key_put_int(seg, v, out);
    return RTR_STS_OK;
}

rtr_status_t
cmn_key_bound_str(const cmn_keyseg_t *seg, const char *s, size_t len, cmn_key_side_t side,
                  uint8_t *out)
{
    if (seg == NULL || out == NULL || cmn_keyseg_check(seg) != RTR_STS_OK)
        return RTR_STS_INVPKEYSEG;
    if (seg->type != CMN_KEYSEG_STRING || len > seg->length || (s == NULL && len > 0))
        return RTR_STS_INVARG;
    if (len > 0)
        memcpy(out, s, len);
    memset(out + len, side == CMN_KEY_HIGH ? 0xFF : 0x00, seg->length - len);
    return RTR_STS_OK;
}

/* cmn_key_out - a bounded appender with snprintf's "length it would need" semantics. */
typedef struct {
    char *buf;
    size_t len;
    size_t n;
} cmn_key_out_t;

static void
cmn_key_puts(cmn_key_out_t *o, const char *s)
{
    for (; *s != '\0'; s++, o->n++) {
        if (o->n + 1 < o->len)
            o->buf[o->n] = *s;
    }
}

static void
cmn_key_put_string(cmn_key_out_t *o, const uint8_t *p, size_t len)
{
    char esc[8];

    while (len > 0 && p[len - 1] == 0)
        len--;
    cmn_key_puts(o, "\"");
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)p[i];
            esc[2] = '\0';
        } else if (p[i] < 0x20 || p[i] > 0x7e) {
            snprintf(esc, sizeof esc, "\\x%02x", p[i]);
        } else {
            esc[0] = (char)p[i];
            esc[1] = '\0';
        }
        cmn_key_puts(o, esc);
    }
    cmn_key_puts(o, "\"");
}

size_t
cmn_key_format(const cmn_keyseg_t *segs, size_t nseg, const cmn_key_t *key, char *buf, size_t len)
{
    cmn_key_out_t o = { .buf = buf, .len = len, .n = 0 };
    char num[32];
    size_t pos = 0;

    if (key == NULL || cmn_keyseg_validate(segs, nseg) != RTR_STS_OK ||
        cmn_key_length(segs, nseg) != key->len) {
        cmn_key_puts(&o, "[?]");
        goto done;
    }
    cmn_key_puts(&o, "[");
    for (size_t i = 0; i < nseg; i++) {
        const cmn_keyseg_t *seg = &segs[i];
        const uint8_t *p = key->bytes + pos;

        if (i > 0)
            cmn_key_puts(&o, ", ");
        if (seg->type == CMN_KEYSEG_STRING) {
            cmn_key_put_string(&o, p, seg->length);
        } else if (seg->type == CMN_KEYSEG_UNSIGNED) {
            snprintf(num, sizeof num, "%" PRIu64, cmn_key_get_be(p, seg->length));
            cmn_key_puts(&o, num);
        } else {
            unsigned bits = 8u * seg->length;
            uint64_t u = cmn_key_get_be(p, seg->length) ^ (UINT64_C(1) << (bits - 1));
            /* sign-extend the segment's width to 64 bits */
            if (bits < 64 && (u >> (bits - 1)) != 0)
                u |= ~UINT64_C(0) << bits;
            snprintf(num, sizeof num, "%" PRId64, (int64_t)u);
            cmn_key_puts(&o, num);
        }
        pos += seg->length;
    }
    cmn_key_puts(&o, "]");
done:
    if (len > 0)
        buf[o.n < len ? o.n : len - 1] = '\0';
    return o.n;
}
