/*
 * wire_decode_test.c - the strict codec (proto/include/wire.h): one test per rejection status
 * with hand-crafted frames, asserting the exact status, the one counter it increments, and
 * that wire_check agrees with wire_decode; then round trips of every message in rtr.proto,
 * and the generic walk (packed, fixed-width, nesting limit) on the test-only wire_test.proto.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_test.pb-c.h"

/* ---- a tiny frame builder ---------------------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

typedef struct {
    uint8_t b[2048];
    size_t n;
} wt_buf_t;

static void
wt_raw(wt_buf_t *t, const void *p, size_t n)
{
    cr_assert(t->n + n <= sizeof t->b, "test frame too large");
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void
wt_varint(wt_buf_t *t, uint64_t v)
{
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v != 0)
            byte |= 0x80;
        wt_raw(t, &byte, 1);
    } while (v != 0);
}

static void
wt_key(wt_buf_t *t, uint32_t field, unsigned wt)
{
    wt_varint(t, ((uint64_t)field << 3) | wt);
}

static void
wt_u(wt_buf_t *t, uint32_t field, uint64_t v)
{
    wt_key(t, field, WT_VARINT);
    wt_varint(t, v);
}

static void
wt_bytes(wt_buf_t *t, uint32_t field, const void *p, size_t n)
{
    wt_key(t, field, WT_LEN);
    wt_varint(t, n);
    wt_raw(t, p, n);
}

static void
wt_str(wt_buf_t *t, uint32_t field, const char *s)
{
    wt_bytes(t, field, s, strlen(s));
}

static void
wt_sub(wt_buf_t *t, uint32_t field, const wt_buf_t *sub)
{
    wt_bytes(t, field, sub->b, sub->n);
}

#define WT_HEX(t, ...)                                    \
    do {                                                  \
        static const uint8_t wt_hex_[] = { __VA_ARGS__ }; \
        wt_raw((t), wt_hex_, sizeof wt_hex_);             \
    } while (0)

/* Envelope header: version 1, sender "r1", epoch 7. */
static void
wt_env_header(wt_buf_t *t)
{
    wt_u(t, 1, WIRE_VERSION);
    wt_str(t, 2, "r1");
    wt_u(t, 3, 7);
}

/* A complete JournalRecord (epoch 1, n, 16-byte tid, state TX_VOTED), without the fields whose
 * bit is set in `omit` (1 << field number). */
static void
wt_record(wt_buf_t *t, uint64_t n, unsigned omit)
{
    static const uint8_t tid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    if (!(omit & 1u << 1))
        wt_u(t, 1, 1);
    if (!(omit & 1u << 2))
        wt_u(t, 2, n);
    if (!(omit & 1u << 3))
        wt_bytes(t, 3, tid, sizeof tid);
    if (!(omit & 1u << 4))
        wt_u(t, 4, RTR__TX_STATE__TX_VOTED);
}

/* An Envelope whose body is a RecordBatch of partition "P1" holding one record. */
static void
wt_env_batch(wt_buf_t *t, const wt_buf_t *record)
{
    wt_buf_t batch = { .n = 0 };
    wt_str(&batch, 1, "P1");
    wt_sub(&batch, 2, record);
    wt_env_header(t);
    wt_sub(t, 17, &batch);
}

/* A valid Envelope with a heartbeat body holding `hb` (seq 1 if hb is NULL). */
static void
wt_env_heartbeat(wt_buf_t *t, const wt_buf_t *hb)
{
    wt_buf_t def = { .n = 0 };
    wt_u(&def, 1, 1);
    wt_env_header(t);
    wt_sub(t, 16, hb != NULL ? hb : &def);
}

/* ---- expectations ------------------------------------------------------------------------ */

static uint64_t
wt_ctr_of(const wire_counters_t *c, rtr_status_t sts)
{
    switch (sts) {
    case RTR_STS_OK:
        return c->decoded;
    case RTR_STS_WIRE_OVERSIZE:
        return c->oversize;
    case RTR_STS_WIRE_MALFORMED:
        return c->malformed;
    case RTR_STS_WIRE_TAG0:
        return c->tag0;
    case RTR_STS_WIRE_UNKNOWN:
        return c->unknown;
    case RTR_STS_WIRE_MISSING:
        return c->missing;
    case RTR_STS_WIRE_VERSION:
        return c->version;
    case RTR_STS_WIRE_NOBODY:
        return c->nobody;
    default:
        cr_assert_fail("no counter for %s", rtr_status_name(sts));
        return 0;
    }
}

/* wt_roundtrip - encode msg, decode it again, encode that: both encodings must be equal. */
static void
wt_roundtrip(const ProtobufCMessage *msg)
{
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    ProtobufCMessage *again = NULL;

    cr_assert_eq(wire_encode(msg, 0, &b1, &n1), RTR_STS_OK);
    cr_assert_eq(wire_decode(msg->descriptor, b1, n1, 0, NULL, &again), RTR_STS_OK,
                 "re-decoding %s failed", msg->descriptor->name);
    cr_assert_eq(wire_encode(again, 0, &b2, &n2), RTR_STS_OK);
    cr_assert_eq(n1, n2);
    cr_assert(memcmp(b1, b2, n1) == 0, "%s: round trip changed the encoding",
              msg->descriptor->name);
    free(b1);
    free(b2);
    wire_free(&again);
}

/* wt_decode - decode through the typed entry point (wire_envelope_decode for an Envelope),
 * asserting exactly one counter moved and that wire_check agrees. Returns the message on
 * success (caller frees). */
static ProtobufCMessage *
wt_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t max,
          rtr_status_t want)
{
    wire_counters_t ctr = { 0 };
    ProtobufCMessage *msg = (ProtobufCMessage *)&ctr; /* poison: must come back NULL or new */
    rtr_status_t sts;

    if (desc == &rtr__envelope__descriptor) {
        Rtr__Envelope *env = NULL;
        sts = wire_envelope_decode(buf, len, max, &ctr, &env);
        msg = env != NULL ? &env->base : NULL;
    } else {
        sts = wire_decode(desc, buf, len, max, &ctr, &msg);
    }
    cr_assert_eq(sts, want, "%s: got %s, want %s", desc->name, rtr_status_name(sts),
                 rtr_status_name(want));
    cr_assert_eq(wt_ctr_of(&ctr, want), 1, "counter for %s not incremented", rtr_status_name(want));
    cr_assert_eq(ctr.decoded + wire_counters_total_rejected(&ctr), 1, "more than one counter");
    cr_assert_eq(wire_check(desc, buf, len, max), want, "wire_check disagrees");
    cr_assert_eq(msg != NULL, want == RTR_STS_OK);
    return msg;
}

/* wt_expect - as wt_decode; a decoded message is round-tripped and freed. */
static void
wt_expect(const ProtobufCMessageDescriptor *desc, const wt_buf_t *t, rtr_status_t want)
{
    ProtobufCMessage *msg = wt_decode(desc, t->b, t->n, 0, want);

    if (msg != NULL)
        wt_roundtrip(msg);
    wire_free(&msg);
}

#define ENV  (&rtr__envelope__descriptor)
#define REC  (&rtr__journal_record__descriptor)
#define META (&rtr__journal_meta__descriptor)
#define PRB  (&wtest__probe__descriptor)

/* ---- WIRE_TAG0 --------------------------------------------------------------------------- */

Test(wire_decode, tag0_overlong_frame)
{
    wt_buf_t t = { .n = 0 };
    WT_HEX(&t, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00);
    wt_expect(ENV, &t, RTR_STS_WIRE_TAG0);
    wt_expect(REC, &t, RTR_STS_WIRE_TAG0);
    wt_expect(META, &t, RTR_STS_WIRE_TAG0);
}

Test(wire_decode, tag0_plain)
{
    wt_buf_t t = { .n = 0 };
    WT_HEX(&t, 0x00, 0x00);
    wt_expect(ENV, &t, RTR_STS_WIRE_TAG0);
}

Test(wire_decode, tag0_after_valid_fields_and_every_wire_type)
{
    static const uint8_t keys[][10] = {
        { 0x01 }, /* field 0, 64-bit */
        { 0x02 }, /* field 0, length-delimited */
        { 0x05 }, /* field 0, 32-bit */
        { 0x07 }, /* field 0, wire type 7 */
        { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, /* 10 bytes */
    };
    static const size_t klen[] = { 1, 1, 1, 1, 10 };

    for (size_t i = 0; i < sizeof klen / sizeof klen[0]; i++) {
        wt_buf_t t = { .n = 0 };
        wt_env_heartbeat(&t, NULL);
        wt_raw(&t, keys[i], klen[i]);
        WT_HEX(&t, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
        wt_expect(ENV, &t, RTR_STS_WIRE_TAG0);
    }
}

Test(wire_decode, tag0_nested)
{
    wt_buf_t hb = { .n = 0 }, t = { .n = 0 };
    wt_u(&hb, 1, 5);
    WT_HEX(&hb, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00);
    wt_env_heartbeat(&t, &hb);
    wt_expect(ENV, &t, RTR_STS_WIRE_TAG0);
}

/* ---- WIRE_UNKNOWN ------------------------------------------------------------------------ */

Test(wire_decode, unknown_field_top_level)
{
    wt_buf_t t = { .n = 0 };
    wt_env_heartbeat(&t, NULL);
    wt_u(&t, 6, 1); /* Envelope has no field 6 */
    wt_expect(ENV, &t, RTR_STS_WIRE_UNKNOWN);

    wt_buf_t big = { .n = 0 };
    wt_env_heartbeat(&big, NULL);
    wt_u(&big, 536870911, 1); /* the largest legal field number */
    wt_expect(ENV, &big, RTR_STS_WIRE_UNKNOWN);
}

Test(wire_decode, unknown_field_nested)
{
    wt_buf_t hb = { .n = 0 }, t = { .n = 0 };
    wt_u(&hb, 1, 5);
    wt_str(&hb, 3, "x"); /* Heartbeat has no field 3 */
    wt_env_heartbeat(&t, &hb);
    wt_expect(ENV, &t, RTR_STS_WIRE_UNKNOWN);
}

Test(wire_decode, unknown_field_deep_in_repeated_message)
{
    wt_buf_t msg = { .n = 0 }, rec = { .n = 0 }, t = { .n = 0 };
    wt_u(&msg, 1, 0);
    wt_str(&msg, 2, "body");
    wt_u(&msg, 9, 1); /* TxMessage has no field 9 */
    wt_record(&rec, 1, 0);
    wt_sub(&rec, 5, &msg);
    wt_env_batch(&t, &rec);
    wt_expect(ENV, &t, RTR_STS_WIRE_UNKNOWN);
}

Test(wire_decode, unknown_wrong_wire_type)
{
    wt_buf_t a = { .n = 0 }, b = { .n = 0 }, c = { .n = 0 }, d = { .n = 0 };

    wt_key(&a, 1, WT_I64); /* version as fixed64 */
    WT_HEX(&a, 1, 0, 0, 0, 0, 0, 0, 0);
    wt_expect(ENV, &a, RTR_STS_WIRE_UNKNOWN);

    wt_u(&b, 1, 1);
    wt_u(&b, 2, 1); /* sender as a varint */
    wt_expect(ENV, &b, RTR_STS_WIRE_UNKNOWN);

    wt_env_header(&c);
    wt_u(&c, 16, 1); /* heartbeat as a varint */
    wt_expect(ENV, &c, RTR_STS_WIRE_UNKNOWN);

    /* Length-delimited (packed form) for a scalar that is not repeated. */
    WT_HEX(&d, 0x0a, 0x01, 0x01);
    wt_expect(ENV, &d, RTR_STS_WIRE_UNKNOWN);
}

Test(wire_decode, unknown_groups)
{
    wt_buf_t a = { .n = 0 }, b = { .n = 0 };

    wt_env_heartbeat(&a, NULL);
    wt_key(&a, 30, WT_SGROUP); /* an unknown group */
    wt_key(&a, 30, WT_EGROUP);
    wt_expect(ENV, &a, RTR_STS_WIRE_UNKNOWN);

    wt_key(&b, 1, WT_SGROUP); /* a known field sent as a group */
    wt_key(&b, 1, WT_EGROUP);
    wt_expect(ENV, &b, RTR_STS_WIRE_UNKNOWN);
}

Test(wire_decode, unknown_enum_value)
{
    wt_buf_t a = { .n = 0 }, rec = { .n = 0 }, b = { .n = 0 };

    wt_env_heartbeat(&a, NULL);
    wt_u(&a, 5, 9); /* Role 9 */
    wt_expect(ENV, &a, RTR_STS_WIRE_UNKNOWN);

    wt_record(&rec, 1, 1u << 4);
    wt_u(&rec, 4, 99); /* TxState 99, nested in a batch */
    wt_env_batch(&b, &rec);
    wt_expect(ENV, &b, RTR_STS_WIRE_UNKNOWN);
    wt_expect(REC, &rec, RTR_STS_WIRE_UNKNOWN);

    wt_buf_t neg = { .n = 0 };
    wt_record(&neg, 1, 1u << 4);
    wt_u(&neg, 4, (uint64_t)-1); /* TxState -1: a valid int32, not a TxState */
    wt_expect(REC, &neg, RTR_STS_WIRE_UNKNOWN);
}

/* ---- WIRE_MALFORMED ---------------------------------------------------------------------- */

Test(wire_decode, malformed_truncated_varint)
{
    wt_buf_t a = { .n = 0 }, b = { .n = 0 }, c = { .n = 0 };

    WT_HEX(&a, 0x08); /* version: key, no value */
    wt_expect(ENV, &a, RTR_STS_WIRE_MALFORMED);

    WT_HEX(&b, 0x08, 0x81, 0x80); /* value with its continuation bit still set */
    wt_expect(ENV, &b, RTR_STS_WIRE_MALFORMED);

    wt_env_header(&c);
    WT_HEX(&c, 0x80); /* a key cut short */
    wt_expect(ENV, &c, RTR_STS_WIRE_MALFORMED);
}

Test(wire_decode, malformed_truncated_length)
{
    wt_buf_t a = { .n = 0 }, b = { .n = 0 }, c = { .n = 0 };

    wt_u(&a, 1, 1);
    WT_HEX(&a, 0x12, 0x0a, 'r', '1', 'x'); /* sender: 10 bytes announced, 3 present */
    wt_expect(ENV, &a, RTR_STS_WIRE_MALFORMED);

    wt_u(&b, 1, 1);
    WT_HEX(&b, 0x12, 0x80); /* the length itself cut short */
    wt_expect(ENV, &b, RTR_STS_WIRE_MALFORMED);

    /* A record whose length runs past the end of its batch (but not of the frame). */
    wt_buf_t batch = { .n = 0 }, rec = { .n = 0 };
    wt_record(&rec, 1, 0);
    wt_str(&batch, 1, "P1");
    wt_key(&batch, 2, WT_LEN);
    wt_varint(&batch, rec.n + 4);
    wt_raw(&batch, rec.b, rec.n);
    wt_env_header(&c);
    wt_sub(&c, 17, &batch);
    WT_HEX(&c, 0x20, 0x01, 0x20, 0x01); /* 4 bytes after the batch */
    wt_expect(ENV, &c, RTR_STS_WIRE_MALFORMED);
}

Test(wire_decode, malformed_varint_overflow)
{
    wt_buf_t a = { .n = 0 }, b = { .n = 0 };

    wt_env_heartbeat(&a, NULL);
    WT_HEX(&a, 0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02); /* 65 bits */
    wt_expect(ENV, &a, RTR_STS_WIRE_MALFORMED);

    wt_env_heartbeat(&b, NULL);
    WT_HEX(&b, 0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00); /* 11 */
    wt_expect(ENV, &b, RTR_STS_WIRE_MALFORMED);
}

Test(wire_decode, malformed_value_too_big_for_type)
{
    wt_buf_t a = { .n = 0 }, hb = { .n = 0 }, ok = { .n = 0 };

    wt_u(&hb, 1, 1);
    wt_u(&a, 1, ((uint64_t)1 << 32) + 1); /* version: protobuf-c alone would read 1 */
    wt_str(&a, 2, "r1");
    wt_u(&a, 3, 7);
    wt_sub(&a, 16, &hb);
    wt_expect(ENV, &a, RTR_STS_WIRE_MALFORMED);

    /* The same value in a 64-bit field is fine. */
    wt_u(&ok, 1, 1);
    wt_str(&ok, 2, "r1");
    wt_u(&ok, 3, ((uint64_t)1 << 32) + 1);
    wt_sub(&ok, 16, &hb);
    wt_expect(ENV, &ok, RTR_STS_OK);

    wt_buf_t rec = { .n = 0 };
    wt_record(&rec, 1, 1u << 4);
    wt_u(&rec, 4, ((uint64_t)1 << 32) + 1); /* enum: low 32 bits would be TX_VOTED */
    wt_expect(REC, &rec, RTR_STS_WIRE_MALFORMED);
}

Test(wire_decode, malformed_wire_types_6_and_7)
{
    for (unsigned wt = 6; wt <= 7; wt++) {
        wt_buf_t t = { .n = 0 };
        wt_env_heartbeat(&t, NULL);
        wt_key(&t, 4, wt);
        WT_HEX(&t, 0x00);
        wt_expect(ENV, &t, RTR_STS_WIRE_MALFORMED);
    }
}

Test(wire_decode, malformed_long_tag_and_length_prefix)
{
    wt_buf_t a = { .n = 0 }, b = { .n = 0 }, c = { .n = 0 }, ok = { .n = 0 };

    /* Field 1 in a 6-byte key: protobuf-c reads at most 5. */
    WT_HEX(&a, 0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01);
    wt_expect(ENV, &a, RTR_STS_WIRE_MALFORMED);

    /* A key above 32 bits. */
    WT_HEX(&b, 0x88, 0x80, 0x80, 0x80, 0x10, 0x01);
    wt_expect(ENV, &b, RTR_STS_WIRE_MALFORMED);

    /* Sender's length in 6 bytes. */
    wt_u(&c, 1, 1);
    WT_HEX(&c, 0x12, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00, 'r', '1');
    wt_expect(ENV, &c, RTR_STS_WIRE_MALFORMED);

    /* The 5-byte overlong key of field 1 and a 5-byte length are legal protobuf. */
    WT_HEX(&ok, 0x88, 0x80, 0x80, 0x80, 0x00, 0x01);
    WT_HEX(&ok, 0x12, 0x82, 0x80, 0x80, 0x80, 0x00, 'r', '1');
    wt_u(&ok, 3, 0);
    wt_buf_t hb = { .n = 0 };
    wt_u(&hb, 1, 1);
    wt_sub(&ok, 16, &hb);
    wt_expect(ENV, &ok, RTR_STS_OK);
}

Test(wire_decode, malformed_strings)
{
    static const char *const bad[] = {
        "\xc3\x28",         /* bad continuation */
        "\xc0\x80",         /* overlong NUL */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xe2\x82",         /* cut short */
        "\xff",             /* never UTF-8 */
        "be1\0evil",        /* embedded NUL: protobuf-c would hand out "be1" */
    };
    static const size_t len[] = { 2, 2, 3, 4, 2, 1, 8 };

    for (size_t i = 0; i < sizeof len / sizeof len[0]; i++) {
        wt_buf_t t = { .n = 0 };
        wt_u(&t, 1, 1);
        wt_bytes(&t, 2, bad[i], len[i]);
        wt_u(&t, 3, 0);
        wt_buf_t hb = { .n = 0 };
        wt_u(&hb, 1, 1);
        wt_sub(&t, 16, &hb);
        wt_expect(ENV, &t, RTR_STS_WIRE_MALFORMED);
    }
}

Test(wire_decode, utf8_strings_accepted)
{
    wt_buf_t t = { .n = 0 }, hb = { .n = 0 };
    const char *sender = "b\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"; /* é € 😀 max */
    Rtr__Envelope *env = NULL;

    wt_u(&t, 1, 1);
    wt_str(&t, 2, sender);
    wt_u(&t, 3, 0);
    wt_u(&hb, 1, 1);
    wt_sub(&t, 16, &hb);
    cr_assert_eq(wire_envelope_decode(t.b, t.n, 0, NULL, &env), RTR_STS_OK);
    cr_assert_str_eq(env->sender, sender);
    wt_roundtrip(&env->base);
    wire_free((ProtobufCMessage **)&env);
}

/* ---- WIRE_MISSING ------------------------------------------------------------------------ */

Test(wire_decode, missing_top_level)
{
    for (unsigned skip = 1; skip <= 3; skip++) {
        wt_buf_t t = { .n = 0 }, hb = { .n = 0 };
        if (skip != 1)
            wt_u(&t, 1, 1);
        if (skip != 2)
            wt_str(&t, 2, "r1");
        if (skip != 3)
            wt_u(&t, 3, 0);
        wt_u(&hb, 1, 1);
        wt_sub(&t, 16, &hb);
        wt_expect(ENV, &t, RTR_STS_WIRE_MISSING);
    }
}

Test(wire_decode, missing_nested)
{
    wt_buf_t empty_hb = { .n = 0 }, a = { .n = 0 };
    wt_env_heartbeat(&a, &empty_hb); /* Heartbeat without seq */
    wt_expect(ENV, &a, RTR_STS_WIRE_MISSING);

    for (unsigned field = 1; field <= 4; field++) { /* a record without epoch, n, tid, state */
        wt_buf_t rec = { .n = 0 }, t = { .n = 0 };
        wt_record(&rec, 1, 1u << field);
        wt_env_batch(&t, &rec);
        wt_expect(ENV, &t, RTR_STS_WIRE_MISSING);
        wt_expect(REC, &rec, RTR_STS_WIRE_MISSING);
    }
}

Test(wire_decode, missing_deep_and_in_each_occurrence)
{
    wt_buf_t msg = { .n = 0 }, rec = { .n = 0 }, t = { .n = 0 };
    wt_u(&msg, 1, 0); /* TxMessage without body */
    wt_record(&rec, 1, 0);
    wt_sub(&rec, 5, &msg);
    wt_env_batch(&t, &rec);
    wt_expect(ENV, &t, RTR_STS_WIRE_MISSING);

    /* Two occurrences of the batch's records: the first complete, the second lacking tid. */
    wt_buf_t r1 = { .n = 0 }, r2 = { .n = 0 }, batch = { .n = 0 }, u = { .n = 0 };
    wt_record(&r1, 1, 0);
    wt_record(&r2, 2, 1u << 3);
    wt_str(&batch, 1, "P1");
    wt_sub(&batch, 2, &r1);
    wt_sub(&batch, 2, &r2);
    wt_env_header(&u);
    wt_sub(&u, 17, &batch);
    wt_expect(ENV, &u, RTR_STS_WIRE_MISSING);

    /* JournalMeta: history entry without first_n. */
    wt_buf_t es = { .n = 0 }, meta = { .n = 0 };
    wt_u(&es, 1, 3);
    wt_str(&meta, 1, "P1");
    wt_u(&meta, 2, 1);
    wt_sub(&meta, 11, &es);
    wt_expect(META, &meta, RTR_STS_WIRE_MISSING);
}

Test(wire_decode, missing_empty_buffer)
{
    wt_buf_t t = { .n = 0 };
    wt_expect(ENV, &t, RTR_STS_WIRE_MISSING);
    wt_expect(REC, &t, RTR_STS_WIRE_MISSING);
    wt_expect(META, &t, RTR_STS_WIRE_MISSING);
    /* A NULL buffer of length 0 is the same empty frame. */
    cr_assert_null(wt_decode(ENV, NULL, 0, 0, RTR_STS_WIRE_MISSING));
}

/* ---- WIRE_VERSION, WIRE_NOBODY, WIRE_OVERSIZE --------------------------------------------- */

Test(wire_decode, bad_version)
{
    static const uint64_t versions[] = { 0, 2, 0xffffffffu };

    for (size_t i = 0; i < 3; i++) {
        wt_buf_t t = { .n = 0 }, hb = { .n = 0 };
        wt_u(&t, 1, versions[i]);
        wt_str(&t, 2, "r1");
        wt_u(&t, 3, 0);
        wt_u(&hb, 1, 1);
        wt_sub(&t, 16, &hb);
        wt_expect(ENV, &t, RTR_STS_WIRE_VERSION);
    }
}

Test(wire_decode, version_checked_before_body)
{
    wt_buf_t t = { .n = 0 };
    wt_u(&t, 1, 2);
    wt_str(&t, 2, "r1");
    wt_u(&t, 3, 0);
    wt_expect(ENV, &t, RTR_STS_WIRE_VERSION);
}

Test(wire_decode, no_body)
{
    wt_buf_t t = { .n = 0 };
    wt_env_header(&t);
    wt_u(&t, 4, 42);
    wt_u(&t, 5, RTR__ROLE__ROLE_ROUTER);
    wt_expect(ENV, &t, RTR_STS_WIRE_NOBODY);
}

Test(wire_decode, generic_entry_point_applies_envelope_rules)
{
    wt_buf_t t = { .n = 0 };
    wire_counters_t ctr = { 0 };
    ProtobufCMessage *msg = NULL;

    wt_env_header(&t);
    cr_assert_eq(wire_decode(ENV, t.b, t.n, 0, &ctr, &msg), RTR_STS_WIRE_NOBODY);
    cr_assert_null(msg);
    cr_assert_eq(ctr.nobody, 1);
}

Test(wire_decode, oversize)
{
    wt_buf_t t = { .n = 0 };
    wt_env_heartbeat(&t, NULL);
    cr_assert_null(wt_decode(ENV, t.b, t.n, t.n - 1, RTR_STS_WIRE_OVERSIZE));
    ProtobufCMessage *msg = wt_decode(ENV, t.b, t.n, t.n, RTR_STS_OK); /* len == max is fine */
    wire_free(&msg);

    /* The default limit (max 0) is WIRE_MAX_FRAME_DEFAULT; oversize is checked first, even on
     * a frame that is nothing but field-0 garbage. */
    size_t n = WIRE_MAX_FRAME_DEFAULT + 1;
    uint8_t *big = calloc(1, n);
    cr_assert_not_null(big);
    cr_assert_null(wt_decode(ENV, big, n, 0, RTR_STS_WIRE_OVERSIZE));
    cr_assert_null(wt_decode(ENV, big, n - 1, 0, RTR_STS_WIRE_TAG0));
    free(big);
}

/* ---- acceptance and round trips ---------------------------------------------------------- */

Test(wire_decode, required_field_repeated_last_wins)
{
    wt_buf_t a = { .n = 0 }, hb = { .n = 0 };
    Rtr__Envelope *env = NULL;

    wt_u(&hb, 1, 3);
    wt_u(&hb, 1, 4); /* seq twice */
    wt_u(&a, 1, 7);
    wt_env_header(&a); /* version 7, then 1; sender and epoch once */
    wt_str(&a, 2, "r2");
    wt_sub(&a, 16, &hb);
    cr_assert_eq(wire_envelope_decode(a.b, a.n, 0, NULL, &env), RTR_STS_OK);
    cr_assert_eq(env->version, WIRE_VERSION);
    cr_assert_str_eq(env->sender, "r2");
    cr_assert_eq(env->heartbeat->seq, 4);
    wire_free((ProtobufCMessage **)&env);

    wt_buf_t b = { .n = 0 };
    wt_env_heartbeat(&b, NULL);
    wt_u(&b, 1, 7); /* the last version is 7 */
    wt_expect(ENV, &b, RTR_STS_WIRE_VERSION);
}

Test(wire_decode, oneof_last_member_wins)
{
    wt_buf_t t = { .n = 0 }, rec = { .n = 0 };
    Rtr__Envelope *env = NULL;

    wt_record(&rec, 9, 0);
    wt_env_heartbeat(&t, NULL);
    wt_buf_t batch = { .n = 0 };
    wt_str(&batch, 1, "P9");
    wt_sub(&batch, 2, &rec);
    wt_sub(&t, 17, &batch);
    cr_assert_eq(wire_envelope_decode(t.b, t.n, 0, NULL, &env), RTR_STS_OK);
    cr_assert_eq(env->body_case, RTR__ENVELOPE__BODY_RECORDS);
    cr_assert_str_eq(env->records->partition, "P9");
    cr_assert_eq(env->records->n_records, 1);
    cr_assert_eq(env->records->records[0]->n, 9);
    wire_free((ProtobufCMessage **)&env);
}

static Rtr__JournalRecord *
wt_make_record(Rtr__JournalRecord *r, Rtr__TxMessage *m, Rtr__TxMessage **mp, char **parts)
{
    static uint8_t tid[16] = { 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    static uint8_t body[] = "debit 100";
    static uint8_t digest[] = { 0xde, 0xad, 0xbe, 0xef };

    rtr__tx_message__init(m);
    m->index = 0;
    m->body = (ProtobufCBinaryData){ sizeof body - 1, body };
    m->has_flags = m->has_format = 1;
    m->flags = 3;
    m->format = 77;
    mp[0] = m;
    rtr__journal_record__init(r);
    r->epoch = 4;
    r->n = 1234567890123ull;
    r->tid = (ProtobufCBinaryData){ sizeof tid, tid };
    r->state = RTR__TX_STATE__TX_MOVED;
    r->n_messages = 1;
    r->messages = mp;
    r->coordinator = parts[0];
    r->n_participants = 2;
    r->participants = parts;
    r->has_digest = r->has_watermark = r->has_moved_to = r->has_accepted_ms = 1;
    r->has_replays = 1;
    r->digest = (ProtobufCBinaryData){ sizeof digest, digest };
    r->watermark = 17;
    r->moved_to = UINT64_MAX;
    r->accepted_ms = 1700000000000ull;
    r->replays = 2;
    return r;
}

Test(wire_decode, roundtrip_every_message_type)
{
    char p1[] = "ACCT_LOW", p2[] = "ACCT_HIGH", *parts[] = { p1, p2 };
    char node[] = "be1";
    Rtr__TxMessage m, *mp[1];
    Rtr__JournalRecord r, *rp[1] = { wt_make_record(&r, &m, mp, parts) };
    Rtr__RecordBatch batch = RTR__RECORD_BATCH__INIT;
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    Rtr__EpochStart es1 = RTR__EPOCH_START__INIT, es2 = RTR__EPOCH_START__INIT;
    Rtr__EpochStart *esp[] = { &es1, &es2 };
    Rtr__JournalMeta meta = RTR__JOURNAL_META__INIT;
    Rtr__JournalInfo info = RTR__JOURNAL_INFO__INIT;
    Rtr__Envelope e1, e2;

    batch.partition = p1;
    batch.n_records = 1;
    batch.records = rp;
    hb.seq = 99;
    hb.has_sent_mono_ns = 1;
    hb.sent_mono_ns = 123456789;
    es1.epoch = 1;
    es2.epoch = 2;
    es2.first_n = 500;
    meta.partition = p2;
    meta.id = 3;
    meta.has_epoch = meta.has_hardened_n = meta.has_highest_epoch_seen = 1;
    meta.epoch = 2;
    meta.hardened_n = 499;
    meta.highest_epoch_seen = 2;
    meta.n_history = 2;
    meta.history = esp;
    info.format = 1;
    info.node = node;
    info.has_created_ms = 1;
    info.created_ms = 42;
    wire_envelope_init(&e1, "r1", 5, 0x1122334455667788ull, RTR__ROLE__ROLE_ROUTER);
    e1.body_case = RTR__ENVELOPE__BODY_HEARTBEAT;
    e1.heartbeat = &hb;
    wire_envelope_init(&e2, "be1", 6, 1, RTR__ROLE__ROLE_BACKEND);
    e2.body_case = RTR__ENVELOPE__BODY_RECORDS;
    e2.records = &batch;

    const ProtobufCMessage *all[] = { &m.base,  &r.base,     &es1.base, &meta.base, &info.base,
                                      &hb.base, &batch.base, &e1.base,  &e2.base };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        uint8_t *buf = NULL;
        size_t n = 0;
        cr_assert_eq(wire_encode(all[i], 0, &buf, &n), RTR_STS_OK);
        ProtobufCMessage *got = wt_decode(all[i]->descriptor, buf, n, 0, RTR_STS_OK);
        wt_roundtrip(got);
        wire_free(&got);
        free(buf);
    }
}

Test(wire_decode, roundtrip_preserves_values)
{
    char p1[] = "ACCT_LOW", p2[] = "ACCT_HIGH", *parts[] = { p1, p2 };
    Rtr__TxMessage m, *mp[1];
    Rtr__JournalRecord r;
    Rtr__JournalRecord *got = NULL;
    uint8_t *buf = NULL;
    size_t n = 0;

    wt_make_record(&r, &m, mp, parts);
    cr_assert_eq(wire_encode(&r.base, 0, &buf, &n), RTR_STS_OK);
    cr_assert_eq(wire_decode(REC, buf, n, 0, NULL, (ProtobufCMessage **)&got), RTR_STS_OK);
    cr_assert_eq(got->epoch, 4);
    cr_assert_eq(got->n, 1234567890123ull);
    cr_assert_eq(got->tid.len, 16);
    cr_assert(memcmp(got->tid.data, r.tid.data, 16) == 0);
    cr_assert_eq(got->state, RTR__TX_STATE__TX_MOVED);
    cr_assert_eq(got->n_messages, 1);
    cr_assert_eq(got->messages[0]->body.len, 9);
    cr_assert(memcmp(got->messages[0]->body.data, "debit 100", 9) == 0);
    cr_assert_eq(got->messages[0]->format, 77);
    cr_assert_str_eq(got->coordinator, "ACCT_LOW");
    cr_assert_eq(got->n_participants, 2);
    cr_assert_str_eq(got->participants[1], "ACCT_HIGH");
    cr_assert_eq(got->moved_to, UINT64_MAX);
    cr_assert_eq(got->replays, 2);
    free(buf);
    wire_free((ProtobufCMessage **)&got);
}

Test(wire_decode, counters_accumulate)
{
    wt_buf_t good = { .n = 0 }, tag0 = { .n = 0 }, nobody = { .n = 0 };
    wire_counters_t ctr = { 0 };
    Rtr__Envelope *env = NULL;

    wt_env_heartbeat(&good, NULL);
    WT_HEX(&tag0, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00);
    wt_env_header(&nobody);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(wire_envelope_decode(good.b, good.n, 0, &ctr, &env), RTR_STS_OK);
        wire_free((ProtobufCMessage **)&env);
        cr_assert_eq(wire_envelope_decode(tag0.b, tag0.n, 0, &ctr, &env), RTR_STS_WIRE_TAG0);
    }
    cr_assert_eq(wire_envelope_decode(nobody.b, nobody.n, 0, &ctr, &env), RTR_STS_WIRE_NOBODY);
    cr_assert_eq(wire_envelope_decode(good.b, good.n, good.n - 1, &ctr, &env),
                 RTR_STS_WIRE_OVERSIZE);
    cr_assert_null(env);
    cr_assert_eq(ctr.decoded, 3);
    cr_assert_eq(ctr.tag0, 3);
    cr_assert_eq(ctr.nobody, 1);
    cr_assert_eq(ctr.oversize, 1);
    cr_assert_eq(wire_counters_total_rejected(&ctr), 5);
    cr_assert_eq(wire_counters_total_rejected(NULL), 0);
}

Test(wire_decode, encode_oversize_and_free)
{
    Rtr__Heartbeat hb = RTR__HEARTBEAT__INIT;
    uint8_t *buf = (uint8_t *)&hb;
    size_t n = 99;

    hb.seq = 300; /* 2-byte varint: 3 bytes packed */
    cr_assert_eq(wire_encode(&hb.base, 2, &buf, &n), RTR_STS_WIRE_OVERSIZE);
    cr_assert_null(buf);
    cr_assert_eq(n, 0);
    cr_assert_eq(wire_encode(&hb.base, 3, &buf, &n), RTR_STS_OK);
    cr_assert_eq(n, 3);
    free(buf);

    ProtobufCMessage *none = NULL;
    wire_free(&none);
    wire_free(NULL);
}

Test(wire_decode, envelope_init)
{
    Rtr__Envelope env;
    wire_envelope_init(&env, "r7", 11, 22, RTR__ROLE__ROLE_ADMIN);
    cr_assert_eq(env.version, WIRE_VERSION);
    cr_assert_str_eq(env.sender, "r7");
    cr_assert_eq(env.epoch, 11);
    cr_assert(env.has_incarnation && env.incarnation == 22);
    cr_assert(env.has_role && env.role == RTR__ROLE__ROLE_ADMIN);
    cr_assert_eq(env.body_case, RTR__ENVELOPE__BODY__NOT_SET);
}

/* ---- the generic walk on wire_test.proto -------------------------------------------------- */

Test(wire_walk, packed_and_unpacked_repeated_scalars)
{
    wt_buf_t t = { .n = 0 }, packed = { .n = 0 }, f32 = { .n = 0 };
    Wtest__Probe *p = NULL;

    wt_u(&t, 2, 1); /* nums unpacked ... */
    wt_varint(&packed, 2);
    wt_varint(&packed, 300);
    wt_varint(&packed, UINT64_MAX);
    wt_sub(&t, 2, &packed); /* ... then packed, though not declared packed */
    wt_u(&t, 3, 5);         /* packed_nums unpacked, though declared packed */
    WT_HEX(&f32, 1, 0, 0, 0, 2, 0, 0, 0);
    wt_sub(&t, 4, &f32);
    wt_bytes(&t, 8, "\x01\x02", 2);  /* packed enum */
    wt_bytes(&t, 17, "\x00\x01", 2); /* packed bool */
    wt_bytes(&t, 5, "", 0);          /* an empty packed run */
    p = (Wtest__Probe *)wt_decode(PRB, t.b, t.n, 0, RTR_STS_OK);
    cr_assert_eq(p->n_nums, 4);
    cr_assert_eq(p->nums[3], UINT64_MAX);
    cr_assert_eq(p->n_packed_nums, 1);
    cr_assert_eq(p->n_f32, 2);
    cr_assert_eq(p->f32[1], 2);
    cr_assert_eq(p->n_colors, 2);
    cr_assert_eq(p->n_flags, 2);
    wt_roundtrip(&p->base);
    wire_free((ProtobufCMessage **)&p);
}

Test(wire_walk, packed_rejections)
{
    wt_buf_t a = { .n = 0 }, b = { .n = 0 }, c = { .n = 0 }, d = { .n = 0 }, e = { .n = 0 };

    wt_bytes(&a, 4, "\x01\x00\x00\x00\x02\x00", 6); /* fixed32 run not a multiple of 4 */
    wt_expect(PRB, &a, RTR_STS_WIRE_MALFORMED);
    wt_bytes(&b, 2, "\x01\x80", 2); /* last varint of the run cut short */
    wt_expect(PRB, &b, RTR_STS_WIRE_MALFORMED);
    wt_bytes(&c, 8, "\x01\x07", 2); /* undefined enum value in a packed run */
    wt_expect(PRB, &c, RTR_STS_WIRE_UNKNOWN);
    wt_bytes(&d, 9, "\x01", 1); /* packed form for an optional (not repeated) enum */
    wt_expect(PRB, &d, RTR_STS_WIRE_UNKNOWN);
    wt_bytes(&e, 17, "\x02", 1); /* bool 2 */
    wt_expect(PRB, &e, RTR_STS_WIRE_MALFORMED);
}

Test(wire_walk, fixed_width_fields)
{
    wt_buf_t ok = { .n = 0 }, a = { .n = 0 }, b = { .n = 0 }, c = { .n = 0 };

    wt_key(&ok, 6, WT_I32);
    WT_HEX(&ok, 0xff, 0xff, 0xff, 0xff);
    wt_key(&ok, 7, WT_I64);
    WT_HEX(&ok, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f); /* 1.0 */
    wt_key(&ok, 5, WT_I64);
    WT_HEX(&ok, 1, 2, 3, 4, 5, 6, 7, 8);
    wt_expect(PRB, &ok, RTR_STS_OK);

    wt_key(&a, 7, WT_I64);
    WT_HEX(&a, 0, 0, 0, 0, 0, 0, 0xf0); /* 7 of 8 bytes */
    wt_expect(PRB, &a, RTR_STS_WIRE_MALFORMED);
    wt_key(&b, 6, WT_I32);
    WT_HEX(&b, 1, 2, 3); /* 3 of 4 bytes */
    wt_expect(PRB, &b, RTR_STS_WIRE_MALFORMED);
    wt_key(&c, 6, WT_I64); /* sfixed32 sent as 64-bit */
    WT_HEX(&c, 1, 2, 3, 4, 5, 6, 7, 8);
    wt_expect(PRB, &c, RTR_STS_WIRE_UNKNOWN);
}

Test(wire_walk, signed_values_and_negative_enum)
{
    wt_buf_t t = { .n = 0 }, bad = { .n = 0 };
    Wtest__Probe *p = NULL;

    wt_u(&t, 9, (uint64_t)-3); /* COLOR_NEG, sign-extended to 10 bytes */
    wt_u(&t, 16, (uint64_t)INT32_MIN);
    wt_u(&t, 12, 3); /* sint64 zigzag 3 = -2 */
    p = (Wtest__Probe *)wt_decode(PRB, t.b, t.n, 0, RTR_STS_OK);
    cr_assert_eq(p->color, WTEST__COLOR__COLOR_NEG);
    cr_assert_eq(p->i32, INT32_MIN);
    cr_assert_eq(p->z, -2);
    wt_roundtrip(&p->base);
    wire_free((ProtobufCMessage **)&p);

    wt_u(&bad, 16, (uint64_t)INT32_MIN - 1); /* below int32 */
    wt_expect(PRB, &bad, RTR_STS_WIRE_MALFORMED);
}

/* wt_nest - a Probe nested `levels` deep through `child` (levels 1 = the top alone), with
 * `inner` as the innermost body. */
static void
wt_nest(wt_buf_t *t, unsigned levels, const wt_buf_t *inner)
{
    wt_buf_t cur = *inner;
    for (unsigned i = 1; i < levels; i++) {
        wt_buf_t outer = { .n = 0 };
        wt_sub(&outer, 1, &cur);
        cur = outer;
    }
    *t = cur;
}

Test(wire_walk, nesting_limit)
{
    wt_buf_t inner = { .n = 0 }, deep = { .n = 0 }, too_deep = { .n = 0 };

    wt_u(&inner, 11, 1);
    wt_nest(&deep, 32, &inner);
    wt_expect(PRB, &deep, RTR_STS_OK);
    wt_nest(&too_deep, 33, &inner);
    wt_expect(PRB, &too_deep, RTR_STS_WIRE_MALFORMED);
}

Test(wire_walk, oneof_and_repeated_messages)
{
    wt_buf_t leaf = { .n = 0 }, a = { .n = 0 }, good = { .n = 0 }, bad = { .n = 0 };
    wt_buf_t b = { .n = 0 }, c = { .n = 0 };
    Wtest__Probe *p = NULL;

    wt_u(&leaf, 1, 1); /* Leaf without b */
    wt_sub(&a, 14, &leaf);
    wt_expect(PRB, &a, RTR_STS_WIRE_MISSING);

    wt_u(&good, 11, 1);
    wt_u(&bad, 11, 1);
    wt_u(&bad, 99, 1); /* unknown field in the second of the repeated kids */
    wt_sub(&b, 13, &good);
    wt_sub(&b, 13, &bad);
    wt_expect(PRB, &b, RTR_STS_WIRE_UNKNOWN);

    wt_u(&leaf, 2, 2); /* now complete */
    wt_sub(&c, 14, &leaf);
    wt_u(&c, 15, 8); /* the scalar member replaces it */
    wt_sub(&c, 13, &good);
    wt_sub(&c, 13, &good);
    p = (Wtest__Probe *)wt_decode(PRB, c.b, c.n, 0, RTR_STS_OK);
    cr_assert_eq(p->pick_case, WTEST__PROBE__PICK_PICK_NUM);
    cr_assert_eq(p->pick_num, 8);
    cr_assert_eq(p->n_kids, 2);
    wt_roundtrip(&p->base);
    wire_free((ProtobufCMessage **)&p);
}

Test(wire_walk, no_required_fields_accepts_empty)
{
    wt_buf_t t = { .n = 0 };
    wt_expect(PRB, &t, RTR_STS_OK);
}
