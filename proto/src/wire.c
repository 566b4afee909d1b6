/*
 * wire.c - strict encoding and decoding of RTR's protobuf frames (contract in wire.h).
 *
 * Design note: why the raw pre-walk exists.
 * protobuf-c 1.4.1 is a lenient parser, and each of its leniencies would let a frame we do not
 * understand be applied (DESIGN §1 promise 5, §3 "decoding is strict"). Measured on 1.4.1:
 *   - it keeps fields it does not know as "unknown fields", so a frame from a newer or hostile
 *     peer unpacks without complaint;
 *   - it accepts the overlong encoding of field number 0 (80 80 80 80 00) as such an unknown
 *     field, which it then cannot decode again;
 *   - it stores enum values the enum does not define (JournalRecord.state = 99);
 *   - it does not check UTF-8 in proto2 strings, and silently cuts a string at an embedded NUL
 *     ("be1\0x" arrives as "be1");
 *   - it drops the bits of a 10-byte varint beyond 64, and the bits of a uint32 or enum varint
 *     beyond 32 (version 2^32 + 1 arrives as 1).
 * The unpacked C struct cannot show most of this afterwards. So before protobuf_c_message_unpack
 * wire_walk_message reads the raw bytes once against the message descriptor, recursively into
 * every sub-message (repeated ones and oneof members included), and rejects the frame with a
 * distinct status. The walk never allocates and every read goes through a wire_cursor_t that
 * checks the bytes left first, so it never reads outside the caller's buffer. It accepts exactly
 * what protobuf-c accepts minus the leniencies above; hence wire_check (walk only) and
 * wire_decode (walk, then unpack) agree on every input, which the fuzzer asserts.
 * After the walk, protobuf-c's own checks stay as belt and braces: an unpack failure (after a
 * clean walk only possible when out of memory) is WIRE_MALFORMED, and the unpacked tree is
 * searched once more for unknown fields.
 *
 * Rules the header leaves open (docs/wire-protocol.md repeats them):
 *   - Order: WIRE_OVERSIZE before anything else; then the first violation in byte order wins;
 *     a missing required field is found at the end of the message occurrence that lacks it;
 *     the Envelope's version is checked before its body. Each occurrence of a sub-message must
 *     be complete on its own (protobuf-c unpacks occurrences separately before merging them).
 *     A required field may occur more than once (the last one wins, as in protobuf).
 *   - Field number 0 in any encoding and with any wire type → WIRE_TAG0.
 *   - Groups (wire types 3 and 4) → WIRE_UNKNOWN: valid protobuf that rtr.proto never defines
 *     (and protobuf-c cannot parse). Wire types 6 and 7 do not exist → WIRE_MALFORMED.
 *   - An enum value the enum does not define → WIRE_UNKNOWN, because proto2 itself treats such
 *     a value as an unknown field.
 *   - A varint too large for its field's type (above 32 bits for uint32/sint32, outside a
 *     sign-extended int32 for int32 and enums, above 1 for bool) → WIRE_MALFORMED: protobuf-c
 *     would keep the low bits, so version 2^32 + 1 would arrive as 1.
 *   - Strings: UTF-8 per RFC 3629 (no overlong forms, no surrogates, nothing above U+10FFFF)
 *     and no NUL byte (protobuf-c hands out C strings); otherwise WIRE_MALFORMED.
 *   - Varints: at most 10 bytes and no bits beyond 64; tags and length prefixes at most 5 bytes
 *     (all protobuf-c reads); a tag above 32 bits → WIRE_MALFORMED.
 *   - Packed (length-delimited) encoding is accepted for every repeated numeric field, declared
 *     packed or not, as protobuf requires; for any other field it is a wrong wire type.
 *   - More than WIRE_MAX_DEPTH nested messages (the top level counts as one) → WIRE_MALFORMED.
 *   - wire_decode and wire_check apply the Envelope rules (version, body) whenever desc is the
 *     Envelope descriptor, so no caller can skip them by using the generic entry point.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cmn.h"
#include "wire.h"

#define WIRE_MAX_DEPTH     32   /* nested message levels, the top-level message included */
#define WIRE_MAX_FIELDS    1024 /* fields per descriptor the walk can track (rtr.proto: 12) */
#define WIRE_VARINT_MAXLEN 10
#define WIRE_TAG_MAXLEN    5 /* protobuf-c reads at most 5 bytes of a tag ... */
#define WIRE_LENPFX_MAXLEN 5 /* ... and of a length prefix */

/* Wire types (protobuf-c's enum leaves out the two group types). */
enum {
    WIRE_WT_VARINT = 0,
    WIRE_WT_64BIT = 1,
    WIRE_WT_LEN = 2,
    WIRE_WT_GROUP_START = 3,
    WIRE_WT_GROUP_END = 4,
    WIRE_WT_32BIT = 5,
};

/* A read position inside one message's bytes. Index based, so that an empty buffer may be
 * NULL; every read checks pos against len first. */
typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t pos;
} wire_cursor_t;

static rtr_status_t wire_walk_message(const ProtobufCMessageDescriptor *desc, wire_cursor_t *c,
                                      unsigned depth);
static bool wire_has_unknown(const ProtobufCMessage *msg);

/* ---- raw reads ----------------------------------------------------------------------- */

/* wire_read_varint - one varint: at most 10 bytes, no bits beyond 64. *nbytes (if not NULL)
 * gets its encoded length. */
static rtr_status_t
wire_read_varint(wire_cursor_t *c, uint64_t *val, unsigned *nbytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < WIRE_VARINT_MAXLEN; i++) {
        if (c->pos >= c->len)
            return RTR_STS_WIRE_MALFORMED; /* truncated */
        uint8_t b = c->buf[c->pos++];
        if (i == WIRE_VARINT_MAXLEN - 1 && b > 1)
            return RTR_STS_WIRE_MALFORMED; /* bits beyond 64, or an 11th byte follows */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *val = v;
            if (nbytes != NULL)
                *nbytes = i + 1;
            return RTR_STS_OK;
        }
    }
    return RTR_STS_WIRE_MALFORMED; /* not reached: the 10th byte is 0 or 1 */
}

/* wire_read_tag - a field key. Field number 0 in any encoding is WIRE_TAG0. */
static rtr_status_t
wire_read_tag(wire_cursor_t *c, uint32_t *field, unsigned *wt)
{
    uint64_t v;
    unsigned n;
    rtr_status_t sts = wire_read_varint(c, &v, &n);

    if (sts != RTR_STS_OK)
        return sts;
    if ((v >> 3) == 0)
        return RTR_STS_WIRE_TAG0;
    if (v > UINT32_MAX || n > WIRE_TAG_MAXLEN)
        return RTR_STS_WIRE_MALFORMED;
    *field = (uint32_t)(v >> 3);
    *wt = (unsigned)(v & 7);
    return RTR_STS_OK;
}

/* wire_read_len - a length prefix that fits in what is left of the message. */
static rtr_status_t
wire_read_len(wire_cursor_t *c, size_t *out)
{
    uint64_t v;
    unsigned n;
    rtr_status_t sts = wire_read_varint(c, &v, &n);

    if (sts != RTR_STS_OK)
        return sts;
    if (n > WIRE_LENPFX_MAXLEN || v > INT_MAX || v > c->len - c->pos)
        return RTR_STS_WIRE_MALFORMED;
    *out = (size_t)v;
    return RTR_STS_OK;
}

static rtr_status_t
wire_skip(wire_cursor_t *c, size_t n)
{
    if (c->len - c->pos < n)
        return RTR_STS_WIRE_MALFORMED; /* truncated fixed32/fixed64 */
    c->pos += n;
    return RTR_STS_OK;
}

/* wire_take - the next n bytes (already checked by wire_read_len) as a cursor of their own. */
static wire_cursor_t
wire_take(wire_cursor_t *c, size_t n)
{
    wire_cursor_t sub = { c->buf + c->pos, n, 0 };

    c->pos += n;
    return sub;
}

/* ---- values -------------------------------------------------------------------------- */

/* wire_type_of - the wire type a field of this type uses when not packed. */
static unsigned
wire_type_of(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return WIRE_WT_32BIT;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return WIRE_WT_64BIT;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return WIRE_WT_LEN;
    default:
        return WIRE_WT_VARINT;
    }
}

/* wire_varint_fits - a varint value fits the field's declared type: 32-bit unsigned types
 * take at most 32 bits, int32 and enums a sign-extended int32 (as encoders write negative
 * values), bool 0 or 1. protobuf-c would silently keep the low bits instead. */
static bool
wire_varint_fits(ProtobufCType type, uint64_t v)
{
    switch (type) {
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_SINT32:
        return v <= UINT32_MAX;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_ENUM:
        return v <= INT32_MAX || v >= (uint64_t)INT32_MIN;
    case PROTOBUF_C_TYPE_BOOL:
        return v <= 1;
    default:
        return true;
    }
}

/* wire_check_enum - v (which fits an int32) must be a value the enum defines. */
static rtr_status_t
wire_check_enum(const ProtobufCFieldDescriptor *f, uint64_t v)
{
    int value = v <= INT32_MAX ? (int)v : -(int)(UINT64_MAX - v) - 1;

    if (protobuf_c_enum_descriptor_get_value(f->descriptor, value) == NULL)
        return RTR_STS_WIRE_UNKNOWN;
    return RTR_STS_OK;
}

/* wire_walk_scalar - one numeric value of field f, encoded with wire type wt (already known
 * to be the field's own). */
static rtr_status_t
wire_walk_scalar(const ProtobufCFieldDescriptor *f, unsigned wt, wire_cursor_t *c)
{
    uint64_t v;
    rtr_status_t sts;

    if (wt == WIRE_WT_32BIT)
        return wire_skip(c, 4);
    if (wt == WIRE_WT_64BIT)
        return wire_skip(c, 8);
    sts = wire_read_varint(c, &v, NULL);
    if (sts == RTR_STS_OK && !wire_varint_fits(f->type, v))
        sts = RTR_STS_WIRE_MALFORMED;
    if (sts == RTR_STS_OK && f->type == PROTOBUF_C_TYPE_ENUM)
        sts = wire_check_enum(f, v);
    return sts;
}

/* wire_walk_packed - the payload of a packed repeated numeric field: whole values only. */
static rtr_status_t
wire_walk_packed(const ProtobufCFieldDescriptor *f, wire_cursor_t *c)
{
    unsigned wt = wire_type_of(f->type);

    while (c->pos < c->len) {
        rtr_status_t sts = wire_walk_scalar(f, wt, c);
        if (sts != RTR_STS_OK)
            return sts;
    }
    return RTR_STS_OK;
}

/* wire_utf8_lead - for a lead byte b of a multi-byte sequence: how many continuation bytes
 * follow and the range of the first one (which excludes overlong forms, surrogates and values
 * above U+10FFFF, RFC 3629 §4). false if b cannot start a sequence. */
static bool
wire_utf8_lead(uint8_t b, size_t *need, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        *need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
        *need = 2;
        *lo = b == 0xe0 ? 0xa0 : 0x80;
        *hi = b == 0xed ? 0x9f : 0xbf;
    } else if (b >= 0xf0 && b <= 0xf4) {
        *need = 3;
        *lo = b == 0xf0 ? 0x90 : 0x80;
        *hi = b == 0xf4 ? 0x8f : 0xbf;
    } else {
        return false;
    }
    return true;
}

/* wire_utf8_valid - s[0..n) is UTF-8 without a NUL byte. */
static bool
wire_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0, need;
    uint8_t lo, hi;

    while (i < n) {
        if (s[i] == 0)
            return false;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (!wire_utf8_lead(s[i], &need, &lo, &hi) || n - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

/* wire_walk_len - a length-delimited value of field f: a string, bytes, a sub-message (walked
 * at depth + 1), or a packed run of a repeated numeric field. */
static rtr_status_t
wire_walk_len(const ProtobufCFieldDescriptor *f, wire_cursor_t *c, unsigned depth)
{
    size_t n;
    wire_cursor_t sub;
    rtr_status_t sts = wire_read_len(c, &n);

    if (sts != RTR_STS_OK)
        return sts;
    sub = wire_take(c, n);
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return wire_utf8_valid(sub.buf, n) ? RTR_STS_OK : RTR_STS_WIRE_MALFORMED;
    case PROTOBUF_C_TYPE_BYTES:
        return RTR_STS_OK;
    case PROTOBUF_C_TYPE_MESSAGE:
        if (depth >= WIRE_MAX_DEPTH)
            return RTR_STS_WIRE_MALFORMED;
        return wire_walk_message(f->descriptor, &sub, depth + 1);
    default:
        return wire_walk_packed(f, &sub);
    }
}

/* wire_walk_field - the value of known field f sent with wire type wt. A wire type that is not
 * the field's own is WIRE_UNKNOWN, except the packed form of a repeated numeric field. */
static rtr_status_t
wire_walk_field(const ProtobufCFieldDescriptor *f, unsigned wt, wire_cursor_t *c, unsigned depth)
{
    unsigned own = wire_type_of(f->type);
    bool packed = wt == WIRE_WT_LEN && own != WIRE_WT_LEN && f->label == PROTOBUF_C_LABEL_REPEATED;

    if (wt != own && !packed)
        return RTR_STS_WIRE_UNKNOWN; /* includes groups (3, 4): rtr.proto defines none */
    if (wt == WIRE_WT_LEN)
        return wire_walk_len(f, c, depth);
    return wire_walk_scalar(f, wt, c);
}

/* ---- messages ------------------------------------------------------------------------ */

static void
wire_seen_set(uint64_t *seen, size_t i)
{
    seen[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool
wire_seen_get(const uint64_t *seen, size_t i)
{
    return (seen[i / 64] >> (i % 64)) & 1;
}

/* wire_required_seen - every required field of desc occurred at least once. */
static rtr_status_t
wire_required_seen(const ProtobufCMessageDescriptor *desc, const uint64_t *seen)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED && !wire_seen_get(seen, i))
            return RTR_STS_WIRE_MISSING;
    return RTR_STS_OK;
}

/* wire_walk_message - every field of one message occurrence c (at nesting level depth, the top
 * level being 1), then its required fields. */
static rtr_status_t
wire_walk_message(const ProtobufCMessageDescriptor *desc, wire_cursor_t *c, unsigned depth)
{
    uint64_t seen[WIRE_MAX_FIELDS / 64] = { 0 }; /* by index in desc->fields */

    RTR_ASSERT(desc->n_fields <= WIRE_MAX_FIELDS);
    while (c->pos < c->len) {
        const ProtobufCFieldDescriptor *f;
        uint32_t id;
        unsigned wt;
        rtr_status_t sts = wire_read_tag(c, &id, &wt);

        if (sts != RTR_STS_OK)
            return sts;
        if (wt > WIRE_WT_32BIT)
            return RTR_STS_WIRE_MALFORMED; /* wire types 6 and 7 do not exist */
        f = protobuf_c_message_descriptor_get_field(desc, id);
        if (f == NULL)
            return RTR_STS_WIRE_UNKNOWN;
        sts = wire_walk_field(f, wt, c, depth);
        if (sts != RTR_STS_OK)
            return sts;
        wire_seen_set(seen, (size_t)(f - desc->fields));
    }
    return wire_required_seen(desc, seen);
}

/* wire_field_has_unknown - whether the sub-message(s) of message field f in msg carry unknown
 * fields. Reads the generated struct through the descriptor's offsets. */
static bool
wire_field_has_unknown(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)msg;
    ProtobufCMessage *sub, **arr;
    size_t n;
    uint32_t which;

    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        memcpy(&n, base + f->quantifier_offset, sizeof n);
        memcpy(&arr, base + f->offset, sizeof arr);
        for (size_t i = 0; i < n; i++)
            if (arr[i] != NULL && wire_has_unknown(arr[i]))
                return true;
        return false;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        memcpy(&which, base + f->quantifier_offset, sizeof which);
        if (which != f->id)
            return false; /* another member of the oneof is set */
    }
    memcpy(&sub, base + f->offset, sizeof sub);
    return sub != NULL && sub != f->default_value && wire_has_unknown(sub);
}

/* wire_has_unknown - belt and braces after unpacking: any unknown field anywhere in the tree. */
static bool
wire_has_unknown(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;

    if (msg->n_unknown_fields != 0)
        return true;
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (desc->fields[i].type == PROTOBUF_C_TYPE_MESSAGE &&
            wire_field_has_unknown(msg, &desc->fields[i]))
            return true;
    return false;
}

/* ---- the envelope -------------------------------------------------------------------- */

static rtr_status_t
wire_envelope_rules(uint32_t version, bool has_body)
{
    if (version != WIRE_VERSION)
        return RTR_STS_WIRE_VERSION;
    if (!has_body)
        return RTR_STS_WIRE_NOBODY;
    return RTR_STS_OK;
}

/* wire_skip_value - past one value of wire type wt (0, 1, 2 or 5). */
static rtr_status_t
wire_skip_value(wire_cursor_t *c, unsigned wt, uint64_t *varint)
{
    size_t n;
    rtr_status_t sts;

    if (wt == WIRE_WT_VARINT)
        return wire_read_varint(c, varint, NULL);
    if (wt != WIRE_WT_LEN)
        return wire_skip(c, wt == WIRE_WT_32BIT ? 4 : 8);
    sts = wire_read_len(c, &n);
    if (sts == RTR_STS_OK)
        c->pos += n;
    return sts;
}

/* wire_envelope_scan - for wire_check, on an Envelope the walk accepted: the version that
 * protobuf-c would store (the last occurrence, low 32 bits) and whether a body member occurs,
 * then the envelope rules. The walk already validated every read made here. */
static rtr_status_t
wire_envelope_scan(const uint8_t *buf, size_t len)
{
    const ProtobufCMessageDescriptor *desc = &rtr__envelope__descriptor;
    const ProtobufCFieldDescriptor *vf, *f;
    wire_cursor_t c = { buf, len, 0 };
    uint32_t version = 0, id;
    bool body = false;
    unsigned wt;
    uint64_t v = 0;
    rtr_status_t sts;

    vf = protobuf_c_message_descriptor_get_field_by_name(desc, "version");
    RTR_ASSERT(vf != NULL);
    while (c.pos < c.len) {
        sts = wire_read_tag(&c, &id, &wt);
        RTR_ASSERT(sts == RTR_STS_OK);
        f = protobuf_c_message_descriptor_get_field(desc, id);
        RTR_ASSERT(f != NULL);
        body = body || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
        sts = wire_skip_value(&c, wt, &v);
        RTR_ASSERT(sts == RTR_STS_OK);
        if (f == vf)
            version = (uint32_t)v;
    }
    return wire_envelope_rules(version, body);
}

/* ---- public -------------------------------------------------------------------------- */

static void
wire_count(wire_counters_t *ctr, rtr_status_t sts)
{
    if (ctr == NULL)
        return;
    switch (sts) {
    case RTR_STS_OK:
        ctr->decoded++;
        break;
    case RTR_STS_WIRE_OVERSIZE:
        ctr->oversize++;
        break;
    case RTR_STS_WIRE_TAG0:
        ctr->tag0++;
        break;
    case RTR_STS_WIRE_UNKNOWN:
        ctr->unknown++;
        break;
    case RTR_STS_WIRE_MISSING:
        ctr->missing++;
        break;
    case RTR_STS_WIRE_VERSION:
        ctr->version++;
        break;
    case RTR_STS_WIRE_NOBODY:
        ctr->nobody++;
        break;
    default:
        ctr->malformed++;
        break;
    }
}

/* wire_walk - the size limit, then the walk of the top-level message. */
static rtr_status_t
wire_walk(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t max)
{
    wire_cursor_t c = { buf, len, 0 };

    RTR_ASSERT(desc != NULL && (buf != NULL || len == 0));
    if (len > (max == 0 ? WIRE_MAX_FRAME_DEFAULT : max))
        return RTR_STS_WIRE_OVERSIZE;
    return wire_walk_message(desc, &c, 1);
}

rtr_status_t
wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t max)
{
    rtr_status_t sts = wire_walk(desc, buf, len, max);

    if (sts == RTR_STS_OK && desc == &rtr__envelope__descriptor)
        sts = wire_envelope_scan(buf, len);
    return sts;
}

rtr_status_t
wire_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t max,
            wire_counters_t *ctr, ProtobufCMessage **out)
{
    static const uint8_t empty[1];
    ProtobufCMessage *msg = NULL;
    rtr_status_t sts;

    RTR_ASSERT(out != NULL);
    *out = NULL;
    sts = wire_walk(desc, buf, len, max);
    if (sts != RTR_STS_OK)
        goto fail;
    msg = protobuf_c_message_unpack(desc, NULL, len, len > 0 ? buf : empty);
    sts = msg == NULL ? RTR_STS_WIRE_MALFORMED : RTR_STS_OK;
    if (sts == RTR_STS_OK && wire_has_unknown(msg))
        sts = RTR_STS_WIRE_UNKNOWN;
    if (sts == RTR_STS_OK && desc == &rtr__envelope__descriptor) {
        const Rtr__Envelope *env = (const Rtr__Envelope *)msg;
        sts = wire_envelope_rules(env->version, env->body_case != RTR__ENVELOPE__BODY__NOT_SET);
    }
    if (sts != RTR_STS_OK)
        goto fail;
    wire_count(ctr, RTR_STS_OK);
    *out = msg;
    return RTR_STS_OK;

fail:
    wire_free(&msg);
    wire_count(ctr, sts);
    return sts;
}

rtr_status_t
wire_envelope_decode(const uint8_t *buf, size_t len, size_t max, wire_counters_t *ctr,
                     Rtr__Envelope **out)
{
    ProtobufCMessage *msg = NULL;
    rtr_status_t sts;

    RTR_ASSERT(out != NULL);
    sts = wire_decode(&rtr__envelope__descriptor, buf, len, max, ctr, &msg);
    *out = (Rtr__Envelope *)msg;
    return sts;
}

rtr_status_t
wire_encode(const ProtobufCMessage *msg, size_t max, uint8_t **out, size_t *outlen)
{
    uint8_t *buf;
    size_t n;

    RTR_ASSERT(msg != NULL && out != NULL && outlen != NULL);
    /* A required string or sub-message left NULL is a bug of the caller, not a failure. */
    RTR_ASSERT(protobuf_c_message_check(msg));
    *out = NULL;
    *outlen = 0;
    n = protobuf_c_message_get_packed_size(msg);
    if (n > (max == 0 ? WIRE_MAX_FRAME_DEFAULT : max))
        return RTR_STS_WIRE_OVERSIZE;
    buf = malloc(n > 0 ? n : 1);
    if (buf == NULL)
        return RTR_STS_NOMEM;
    RTR_ASSERT(protobuf_c_message_pack(msg, buf) == n);
    *out = buf;
    *outlen = n;
    return RTR_STS_OK;
}

void
wire_free(ProtobufCMessage **msg)
{
    if (msg == NULL || *msg == NULL)
        return;
    protobuf_c_message_free_unpacked(*msg, NULL);
    *msg = NULL;
}

void
wire_envelope_init(Rtr__Envelope *env, const char *sender, uint64_t epoch, uint64_t incarnation,
                   Rtr__Role role)
{
    RTR_ASSERT(env != NULL);
    rtr__envelope__init(env);
    env->version = WIRE_VERSION;
    /* protobuf-c's field is char *; the envelope only borrows sender and never writes it. */
    env->sender = (char *)(uintptr_t)sender;
    env->epoch = epoch;
    env->has_incarnation = 1;
    env->incarnation = incarnation;
    env->has_role = 1;
    env->role = role;
}

uint64_t
wire_counters_total_rejected(const wire_counters_t *ctr)
{
    if (ctr == NULL)
        return 0;
    return ctr->oversize + ctr->malformed + ctr->tag0 + ctr->unknown + ctr->missing + ctr->version +
           ctr->nobody;
}
