/*
 * cmn_key_test.c - key segments: validation statuses, extraction in native byte order, the
 * normalized form's order (memcmp order must be the numeric order for every type and width),
 * bounds with range checks and padding, and the text form.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn.h"
#include "cmn_key.h"

static cmn_keyseg_t
seg(cmn_keyseg_type_t type, uint32_t offset, uint32_t length)
{
    cmn_keyseg_t s = { type, offset, length };
    return s;
}

/* ---- validation ----------------------------------------------------------------------- */

Test(cmn_key, validate_counts_segments)
{
    cmn_keyseg_t s[CMN_MAX_KEYSEG + 1];

    for (int i = 0; i <= CMN_MAX_KEYSEG; i++)
        s[i] = seg(CMN_KEYSEG_UNSIGNED, (uint32_t)i * 4, 4);
    cr_expect_eq(cmn_keyseg_validate(s, 0), RTR_STS_INVNUMSEG);
    cr_expect_eq(cmn_keyseg_validate(s, 1), RTR_STS_OK);
    cr_expect_eq(cmn_keyseg_validate(s, CMN_MAX_KEYSEG), RTR_STS_OK);
    cr_expect_eq(cmn_keyseg_validate(s, CMN_MAX_KEYSEG + 1), RTR_STS_INVNUMSEG);
    cr_expect_eq(cmn_keyseg_validate(NULL, 0), RTR_STS_INVNUMSEG);
    cr_expect_eq(cmn_keyseg_validate(NULL, 1), RTR_STS_INVPKEYSEG);
}

Test(cmn_key, validate_checks_each_segment)
{
    static const struct {
        int type;
        uint32_t offset, length;
        rtr_status_t sts;
    } cases[] = {
        { CMN_KEYSEG_UNSIGNED, 0, 1, RTR_STS_OK },
        { CMN_KEYSEG_UNSIGNED, 0, 2, RTR_STS_OK },
        { CMN_KEYSEG_SIGNED, 0, 4, RTR_STS_OK },
        { CMN_KEYSEG_SIGNED, 0, 8, RTR_STS_OK },
        { CMN_KEYSEG_UNSIGNED, 0, 0, RTR_STS_INVPKEYSEG },
        { CMN_KEYSEG_UNSIGNED, 0, 3, RTR_STS_INVPKEYSEG },
        { CMN_KEYSEG_SIGNED, 0, 16, RTR_STS_INVPKEYSEG },
        { CMN_KEYSEG_STRING, 0, 1, RTR_STS_OK },
        { CMN_KEYSEG_STRING, 0, 3, RTR_STS_OK },
        { CMN_KEYSEG_STRING, 0, 255, RTR_STS_OK },
        { CMN_KEYSEG_STRING, 0, 0, RTR_STS_INVPKEYSEG },
        { CMN_KEYSEG_STRING, 0, 256, RTR_STS_INVPKEYSEG },
        { 3, 0, 4, RTR_STS_INVPKEYSEG },                       /* unknown type */
        { CMN_KEYSEG_UNSIGNED, 63996, 4, RTR_STS_OK },         /* ends at 64000 */
        { CMN_KEYSEG_UNSIGNED, 63997, 4, RTR_STS_INVPKEYSEG }, /* ends past it */
        { CMN_KEYSEG_STRING, 63745, 255, RTR_STS_OK },
        { CMN_KEYSEG_STRING, 63746, 255, RTR_STS_INVPKEYSEG },
        { CMN_KEYSEG_UNSIGNED, UINT32_MAX, 4, RTR_STS_INVPKEYSEG }, /* no overflow */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cmn_keyseg_t s[2] = { seg(CMN_KEYSEG_UNSIGNED, 0, 4) };
        s[1] = seg((cmn_keyseg_type_t)cases[i].type, cases[i].offset, cases[i].length);
        cr_expect_eq(cmn_keyseg_validate(s, 2), cases[i].sts, "case %zu", i);
    }
}

Test(cmn_key, length_is_sum_of_segments)
{
    cmn_keyseg_t s[3] = { seg(CMN_KEYSEG_UNSIGNED, 0, 4), seg(CMN_KEYSEG_STRING, 4, 10),
                          seg(CMN_KEYSEG_SIGNED, 20, 2) };
    cr_expect_eq(cmn_key_length(s, 3), 16);
    cr_expect_eq(CMN_KEY_MAXLEN, 20 * 255);
}

Test(cmn_key, int_range_per_type_and_width)
{
    int64_t min;
    uint64_t max;
    cmn_keyseg_t s;

    s = seg(CMN_KEYSEG_UNSIGNED, 0, 1);
    cr_assert_eq(cmn_keyseg_int_range(&s, &min, &max), RTR_STS_OK);
    cr_expect(min == 0 && max == 255);
    s = seg(CMN_KEYSEG_UNSIGNED, 0, 8);
    cr_assert_eq(cmn_keyseg_int_range(&s, &min, &max), RTR_STS_OK);
    cr_expect(min == 0 && max == UINT64_MAX);
    s = seg(CMN_KEYSEG_SIGNED, 0, 2);
    cr_assert_eq(cmn_keyseg_int_range(&s, &min, &max), RTR_STS_OK);
    cr_expect(min == -32768 && max == 32767);
    s = seg(CMN_KEYSEG_SIGNED, 0, 8);
    cr_assert_eq(cmn_keyseg_int_range(&s, &min, &max), RTR_STS_OK);
    cr_expect(min == INT64_MIN && max == (uint64_t)INT64_MAX);
    s = seg(CMN_KEYSEG_STRING, 0, 8);
    cr_expect_eq(cmn_keyseg_int_range(&s, &min, &max), RTR_STS_INVPKEYSEG);
}

/* ---- extraction ----------------------------------------------------------------------- */

Test(cmn_key, extract_reads_native_order_and_normalizes_big_endian)
{
    struct __attribute__((packed)) {
        char pad[3];
        uint32_t acct;
        int16_t branch;
        char name[5];
    } msg;
    cmn_keyseg_t s[3] = { seg(CMN_KEYSEG_UNSIGNED, 3, 4), seg(CMN_KEYSEG_SIGNED, 7, 2),
                          seg(CMN_KEYSEG_STRING, 9, 5) };
    cmn_key_t k;
    static const uint8_t expect[] = { 0x01, 0x02, 0x03, 0x04, /* 0x01020304 big-endian */
                                      0x7f, 0xff,             /* -1 with the sign bit flipped */
                                      'A',  'B',  'C',  0,    0 };

    memset(&msg, 0, sizeof msg);
    msg.acct = 0x01020304u;
    msg.branch = -1;
    memcpy(msg.name, "ABC", 3);
    cr_assert_eq(cmn_key_extract(s, 3, &msg, sizeof msg, &k), RTR_STS_OK);
    cr_expect_eq(k.len, sizeof expect);
    cr_expect_arr_eq(k.bytes, expect, sizeof expect);
}

Test(cmn_key, extract_refuses_short_messages_without_writing)
{
    uint8_t msg[8] = { 0 };
    cmn_keyseg_t s[2] = { seg(CMN_KEYSEG_UNSIGNED, 0, 4), seg(CMN_KEYSEG_UNSIGNED, 4, 4) };
    cmn_key_t k;

    k.len = 12345;
    cr_expect_eq(cmn_key_extract(s, 2, msg, 7, &k), RTR_STS_INVMSGLEN);
    cr_expect_eq(k.len, 12345);
    cr_expect_eq(cmn_key_extract(s, 2, msg, 0, &k), RTR_STS_INVMSGLEN);
    cr_expect_eq(cmn_key_extract(s, 2, NULL, 0, &k), RTR_STS_INVMSGLEN);
    cr_expect_eq(cmn_key_extract(s, 2, msg, 8, &k), RTR_STS_OK);
    cr_expect_eq(k.len, 8);
    cr_expect_eq(cmn_key_extract(s, 0, msg, 8, &k), RTR_STS_INVNUMSEG);
    cr_expect_eq(cmn_key_extract(s, 21, msg, 8, &k), RTR_STS_INVNUMSEG);
    s[1].length = 3;
    cr_expect_eq(cmn_key_extract(s, 2, msg, 8, &k), RTR_STS_INVPKEYSEG);
}

/* Normalized order must equal numeric order: check every pair of a spread of values. */
static void
check_order(cmn_keyseg_type_t type, uint32_t length, const int64_t *v, size_t n)
{
    cmn_keyseg_t s = seg(type, 0, length);

    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++) {
            uint8_t ma[8], mb[8];
            cmn_key_t ka, kb;
            /* the native representation of the value at the field's width */
            uint64_t ua = (uint64_t)v[a], ub = (uint64_t)v[b];
            uint8_t a1 = (uint8_t)ua, b1 = (uint8_t)ub;
            uint16_t a2 = (uint16_t)ua, b2 = (uint16_t)ub;
            uint32_t a4 = (uint32_t)ua, b4 = (uint32_t)ub;
            switch (length) {
            case 1:
                memcpy(ma, &a1, 1), memcpy(mb, &b1, 1);
                break;
            case 2:
                memcpy(ma, &a2, 2), memcpy(mb, &b2, 2);
                break;
            case 4:
                memcpy(ma, &a4, 4), memcpy(mb, &b4, 4);
                break;
            default:
                memcpy(ma, &ua, 8), memcpy(mb, &ub, 8);
            }
            cr_assert_eq(cmn_key_extract(&s, 1, ma, length, &ka), RTR_STS_OK);
            cr_assert_eq(cmn_key_extract(&s, 1, mb, length, &kb), RTR_STS_OK);
            int want;
            if (type == CMN_KEYSEG_SIGNED)
                want = v[a] < v[b] ? -1 : v[a] > v[b];
            else
                want = (uint64_t)v[a] < (uint64_t)v[b] ? -1 : (uint64_t)v[a] > (uint64_t)v[b];
            cr_assert_eq(cmn_key_cmp(&ka, &kb), want, "type %d len %u: %lld vs %lld", type, length,
                         (long long)v[a], (long long)v[b]);
        }
    }
}

Test(cmn_key, normalized_order_is_numeric_order)
{
    static const int64_t s1[] = { -128, -127, -2, -1, 0, 1, 2, 126, 127 };
    static const int64_t u1[] = { 0, 1, 2, 127, 128, 254, 255 };
    static const int64_t s2[] = { -32768, -256, -255, -1, 0, 1, 255, 256, 32767 };
    static const int64_t u2[] = { 0, 1, 255, 256, 32767, 32768, 65535 };
    static const int64_t s4[] = { INT32_MIN, -65536, -1, 0, 1, 65536, INT32_MAX };
    static const int64_t u4[] = { 0, 1, 255, 65536, 0x7fffffff, 0x80000000LL, 0xffffffffLL };
    static const int64_t s8[] = { INT64_MIN, INT64_MIN + 1, -4294967296LL, -1, 0,
                                  1,         4294967296LL,  INT64_MAX };
    /* unsigned 8 bytes: values above INT64_MAX written as their bit pattern */
    static const int64_t u8[] = { 0, 1, 4294967296LL, INT64_MAX, INT64_MIN, -2, -1 };

    check_order(CMN_KEYSEG_SIGNED, 1, s1, sizeof s1 / sizeof s1[0]);
    check_order(CMN_KEYSEG_UNSIGNED, 1, u1, sizeof u1 / sizeof u1[0]);
    check_order(CMN_KEYSEG_SIGNED, 2, s2, sizeof s2 / sizeof s2[0]);
    check_order(CMN_KEYSEG_UNSIGNED, 2, u2, sizeof u2 / sizeof u2[0]);
    check_order(CMN_KEYSEG_SIGNED, 4, s4, sizeof s4 / sizeof s4[0]);
    check_order(CMN_KEYSEG_UNSIGNED, 4, u4, sizeof u4 / sizeof u4[0]);
    check_order(CMN_KEYSEG_SIGNED, 8, s8, sizeof s8 / sizeof s8[0]);
    check_order(CMN_KEYSEG_UNSIGNED, 8, u8, sizeof u8 / sizeof u8[0]);
}

Test(cmn_key, earlier_segment_dominates)
{
    cmn_keyseg_t s[2] = { seg(CMN_KEYSEG_SIGNED, 0, 4), seg(CMN_KEYSEG_STRING, 4, 4) };
    uint8_t a[8], b[8];
    int32_t va = -5, vb = 3;
    cmn_key_t ka, kb;

    memcpy(a, &va, 4);
    memcpy(a + 4, "ZZZZ", 4);
    memcpy(b, &vb, 4);
    memcpy(b + 4, "AAAA", 4);
    cr_assert_eq(cmn_key_extract(s, 2, a, 8, &ka), RTR_STS_OK);
    cr_assert_eq(cmn_key_extract(s, 2, b, 8, &kb), RTR_STS_OK);
    cr_expect_lt(cmn_key_cmp(&ka, &kb), 0);
    cr_expect_gt(cmn_key_cmp(&kb, &ka), 0);
    cr_expect_eq(cmn_key_cmp(&ka, &ka), 0);
}

Test(cmn_key, cmp_shorter_prefix_first)
{
    cmn_key_t a = { .len = 2, .bytes = { 1, 2 } }, b = { .len = 3, .bytes = { 1, 2, 0 } };
    cr_expect_lt(cmn_key_cmp(&a, &b), 0);
    cr_expect_gt(cmn_key_cmp(&b, &a), 0);
}

/* ---- bounds ----------------------------------------------------------------------------- */

Test(cmn_key, bound_ranges_unsigned_one_byte)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_UNSIGNED, 0, 1);
    uint8_t out[1];

    cr_expect_eq(cmn_key_bound_int(&s, 0, out), RTR_STS_OK);
    cr_expect_eq(cmn_key_bound_int(&s, 255, out), RTR_STS_OK);
    cr_expect_eq(out[0], 255);
    cr_expect_eq(cmn_key_bound_int(&s, 256, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_int(&s, -1, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_uint(&s, 255, out), RTR_STS_OK);
    cr_expect_eq(cmn_key_bound_uint(&s, 256, out), RTR_STS_INVARG);
}

Test(cmn_key, bound_ranges_signed)
{
    cmn_keyseg_t s1 = seg(CMN_KEYSEG_SIGNED, 0, 1), s8 = seg(CMN_KEYSEG_SIGNED, 0, 8);
    uint8_t out[8];
    static const uint8_t min8[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t max8[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    cr_expect_eq(cmn_key_bound_int(&s1, -128, out), RTR_STS_OK);
    cr_expect_eq(out[0], 0x00);
    cr_expect_eq(cmn_key_bound_int(&s1, 127, out), RTR_STS_OK);
    cr_expect_eq(out[0], 0xff);
    cr_expect_eq(cmn_key_bound_int(&s1, 0, out), RTR_STS_OK);
    cr_expect_eq(out[0], 0x80);
    cr_expect_eq(cmn_key_bound_int(&s1, -129, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_int(&s1, 128, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_uint(&s1, 128, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_int(&s8, INT64_MIN, out), RTR_STS_OK);
    cr_expect_arr_eq(out, min8, 8);
    cr_expect_eq(cmn_key_bound_int(&s8, INT64_MAX, out), RTR_STS_OK);
    cr_expect_arr_eq(out, max8, 8);
    cr_expect_eq(cmn_key_bound_uint(&s8, (uint64_t)INT64_MAX, out), RTR_STS_OK);
    cr_expect_eq(cmn_key_bound_uint(&s8, (uint64_t)INT64_MAX + 1, out), RTR_STS_INVARG);
}

Test(cmn_key, bound_unsigned_eight_bytes_full_range)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_UNSIGNED, 0, 8);
    uint8_t out[8];
    static const uint8_t max8[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    cr_expect_eq(cmn_key_bound_uint(&s, UINT64_MAX, out), RTR_STS_OK);
    cr_expect_arr_eq(out, max8, 8);
    cr_expect_eq(cmn_key_bound_int(&s, -1, out), RTR_STS_INVARG);
}

Test(cmn_key, bound_equals_extracted_value)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_SIGNED, 0, 4);
    int32_t v = -123456;
    uint8_t b[4];
    cmn_key_t k;

    cr_assert_eq(cmn_key_extract(&s, 1, &v, 4, &k), RTR_STS_OK);
    cr_assert_eq(cmn_key_bound_int(&s, v, b), RTR_STS_OK);
    cr_expect_arr_eq(k.bytes, b, 4);
    cr_assert_eq(cmn_keyseg_normalize(&s, &v, b), RTR_STS_OK);
    cr_expect_arr_eq(k.bytes, b, 4);
}

Test(cmn_key, bound_string_pads_per_side)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_STRING, 0, 4);
    uint8_t lo[4], hi[4];
    static const uint8_t elo[4] = { 'M', 0, 0, 0 }, ehi[4] = { 'M', 0xff, 0xff, 0xff };

    cr_expect_eq(cmn_key_bound_str(&s, "M", 1, CMN_KEY_LOW, lo), RTR_STS_OK);
    cr_expect_arr_eq(lo, elo, 4);
    cr_expect_eq(cmn_key_bound_str(&s, "M", 1, CMN_KEY_HIGH, hi), RTR_STS_OK);
    cr_expect_arr_eq(hi, ehi, 4);
    cr_expect_eq(cmn_key_bound_str(&s, "WXYZ", 4, CMN_KEY_HIGH, hi), RTR_STS_OK);
    cr_expect_arr_eq(hi, "WXYZ", 4);
    cr_expect_eq(cmn_key_bound_str(&s, "", 0, CMN_KEY_LOW, lo), RTR_STS_OK);
    cr_expect_eq(cmn_key_bound_str(&s, "VWXYZ", 5, CMN_KEY_LOW, lo), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_str(&s, NULL, 1, CMN_KEY_LOW, lo), RTR_STS_INVARG);
}

Test(cmn_key, high_prefix_bound_covers_longer_keys)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_STRING, 0, 8);
    cmn_key_t hi = { .len = 8 }, key;

    cr_assert_eq(cmn_key_bound_str(&s, "M", 1, CMN_KEY_HIGH, hi.bytes), RTR_STS_OK);
    cr_assert_eq(cmn_key_extract(&s, 1, "MILLER\0\0", 8, &key), RTR_STS_OK);
    cr_expect_leq(cmn_key_cmp(&key, &hi), 0);
    cr_assert_eq(cmn_key_extract(&s, 1, "N\0\0\0\0\0\0\0", 8, &key), RTR_STS_OK);
    cr_expect_gt(cmn_key_cmp(&key, &hi), 0);
}

Test(cmn_key, bound_type_mismatch)
{
    cmn_keyseg_t str = seg(CMN_KEYSEG_STRING, 0, 4), num = seg(CMN_KEYSEG_UNSIGNED, 0, 4),
                 bad = seg(CMN_KEYSEG_UNSIGNED, 0, 3);
    uint8_t out[4];

    cr_expect_eq(cmn_key_bound_int(&str, 1, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_uint(&str, 1, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_str(&num, "a", 1, CMN_KEY_LOW, out), RTR_STS_INVARG);
    cr_expect_eq(cmn_key_bound_int(&bad, 1, out), RTR_STS_INVPKEYSEG);
    cr_expect_eq(cmn_key_bound_str(&bad, "a", 1, CMN_KEY_LOW, out), RTR_STS_INVPKEYSEG);
    cr_expect_eq(cmn_keyseg_normalize(&bad, out, out), RTR_STS_INVPKEYSEG);
}

/* ---- text ----------------------------------------------------------------------------- */

Test(cmn_key, format_mixed_key)
{
    cmn_keyseg_t s[3] = { seg(CMN_KEYSEG_UNSIGNED, 0, 4), seg(CMN_KEYSEG_STRING, 4, 5),
                          seg(CMN_KEYSEG_SIGNED, 9, 2) };
    cmn_key_t k = { .len = 11 };
    char buf[64];

    cr_assert_eq(cmn_key_bound_uint(&s[0], 42, k.bytes), RTR_STS_OK);
    cr_assert_eq(cmn_key_bound_str(&s[1], "abc", 3, CMN_KEY_LOW, k.bytes + 4), RTR_STS_OK);
    cr_assert_eq(cmn_key_bound_int(&s[2], -7, k.bytes + 9), RTR_STS_OK);
    cr_expect_eq(cmn_key_format(s, 3, &k, buf, sizeof buf), strlen("[42, \"abc\", -7]"));
    cr_expect_str_eq(buf, "[42, \"abc\", -7]");
}

Test(cmn_key, format_extremes)
{
    cmn_keyseg_t s[2] = { seg(CMN_KEYSEG_SIGNED, 0, 8), seg(CMN_KEYSEG_UNSIGNED, 8, 8) };
    cmn_key_t k = { .len = 16 };
    char buf[64];

    cr_assert_eq(cmn_key_bound_int(&s[0], INT64_MIN, k.bytes), RTR_STS_OK);
    cr_assert_eq(cmn_key_bound_uint(&s[1], UINT64_MAX, k.bytes + 8), RTR_STS_OK);
    cmn_key_format(s, 2, &k, buf, sizeof buf);
    cr_expect_str_eq(buf, "[-9223372036854775808, 18446744073709551615]");
    cr_assert_eq(cmn_key_bound_int(&s[0], -1, k.bytes), RTR_STS_OK);
    cr_assert_eq(cmn_key_bound_uint(&s[1], 0, k.bytes + 8), RTR_STS_OK);
    cmn_key_format(s, 2, &k, buf, sizeof buf);
    cr_expect_str_eq(buf, "[-1, 0]");
}

Test(cmn_key, format_escapes_strings)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_STRING, 0, 8);
    cmn_key_t k = { .len = 8, .bytes = { 'a', '"', '\\', 0x01, 0xff, 'z', 0, 0 } };
    char buf[64];

    cmn_key_format(&s, 1, &k, buf, sizeof buf);
    cr_expect_str_eq(buf, "[\"a\\\"\\\\\\x01\\xffz\"]");
}

Test(cmn_key, format_truncates_like_snprintf)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_UNSIGNED, 0, 4);
    cmn_key_t k = { .len = 4 };
    char buf[5];

    cr_assert_eq(cmn_key_bound_uint(&s, 123456, k.bytes), RTR_STS_OK);
    cr_expect_eq(cmn_key_format(&s, 1, &k, buf, sizeof buf), 8); /* "[123456]" */
    cr_expect_str_eq(buf, "[123");
    cr_expect_eq(cmn_key_format(&s, 1, &k, NULL, 0), 8);
}

Test(cmn_key, format_mismatched_key)
{
    cmn_keyseg_t s = seg(CMN_KEYSEG_UNSIGNED, 0, 4);
    cmn_key_t k = { .len = 3 };
    char buf[16];

    cmn_key_format(&s, 1, &k, buf, sizeof buf);
    cr_expect_str_eq(buf, "[?]");
    cmn_key_format(&s, 1, NULL, buf, sizeof buf);
    cr_expect_str_eq(buf, "[?]");
}
