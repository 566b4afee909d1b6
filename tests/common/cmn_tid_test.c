/*
 * cmn_tid_test.c - TIDs: the printed form round-trips, every malformed form is refused with
 * RTR_STS_INVARG, and the packed 16-byte form sorts like cmn_tid_cmp.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn.h"

static void
roundtrip(uint64_t inc, uint64_t ctr, const char *expect)
{
    cmn_tid_t t = { inc, ctr }, back = { 0, 0 };
    char buf[CMN_TID_STRLEN];

    cmn_tid_format(&t, buf, sizeof buf);
    cr_expect_str_eq(buf, expect);
    cr_assert_eq(cmn_tid_parse(buf, &back), RTR_STS_OK, "parse %s", buf);
    cr_expect_eq(back.incarnation, inc);
    cr_expect_eq(back.counter, ctr);
    cr_expect_eq(cmn_tid_cmp(&t, &back), 0);
}

Test(cmn_tid, format_parse_roundtrip)
{
    roundtrip(0, 0, "0000000000000000.0");
    roundtrip(1, 42, "0000000000000001.42");
    roundtrip(0x0123456789abcdefULL, 7, "0123456789abcdef.7");
    roundtrip(UINT64_MAX, UINT64_MAX, "ffffffffffffffff.18446744073709551615");
}

Test(cmn_tid, longest_form_fits_strlen)
{
    cmn_tid_t t = { UINT64_MAX, UINT64_MAX };
    char buf[CMN_TID_STRLEN];

    cmn_tid_format(&t, buf, sizeof buf);
    cr_expect_eq(strlen(buf) + 1, (size_t)CMN_TID_STRLEN);
}

Test(cmn_tid, format_truncates_safely)
{
    cmn_tid_t t = { 1, 123456 };
    char buf[8];

    memset(buf, 'x', sizeof buf);
    cmn_tid_format(&t, buf, sizeof buf);
    cr_expect_eq(buf[7], '\0');
    cr_expect_str_eq(buf, "0000000");
}

Test(cmn_tid, parse_accepts_short_and_uppercase_hex)
{
    cmn_tid_t t;

    cr_assert_eq(cmn_tid_parse("1.2", &t), RTR_STS_OK);
    cr_expect_eq(t.incarnation, 1);
    cr_expect_eq(t.counter, 2);
    cr_assert_eq(cmn_tid_parse("ABCdef.0", &t), RTR_STS_OK);
    cr_expect_eq(t.incarnation, 0xabcdef);
    cr_expect_eq(t.counter, 0);
}

Test(cmn_tid, parse_refuses_every_bad_form)
{
    static const char *const bad[] = {
        "",                                       /* empty */
        ".",                                      /* neither part */
        "1",                                      /* no dot */
        "1.",                                     /* no counter */
        ".1",                                     /* no incarnation */
        "0123456789abcdef0.1",                    /* 17 hex digits */
        "g.1",                                    /* not hex */
        "0x1.1",                                  /* prefix */
        "1.x",                                    /* counter not decimal */
        "1.1x",                                   /* trailing text */
        "1.1 ",                                   /* trailing space */
        " 1.1",                                   /* leading space */
        "1..1",                                   /* two dots */
        "1.2.3",                                  /* three parts */
        "1.-1",                                   /* sign */
        "1.+1",                                   /* sign */
        "-1.1",                                   /* sign */
        "1.18446744073709551616",                 /* counter overflows 64 bits */
        "1.99999999999999999999999",              /* counter overflows 64 bits */
        "ffffffffffffffff.184467440737095516150", /* one digit too many */
    };
    cmn_tid_t t = { 77, 88 };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(cmn_tid_parse(bad[i], &t), RTR_STS_INVARG, "\"%s\" was accepted", bad[i]);
    cr_expect_eq(cmn_tid_parse(NULL, &t), RTR_STS_INVARG);
    cr_expect_eq(t.incarnation, 77, "a refused parse wrote the output");
    cr_expect_eq(t.counter, 88);
}

Test(cmn_tid, pack_is_big_endian)
{
    cmn_tid_t t = { 0x0102030405060708ULL, 0x1112131415161718ULL }, back;
    uint8_t b[16];
    static const uint8_t expect[16] = { 1,    2,    3,    4,    5,    6,    7,    8,
                                        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18 };

    cmn_tid_pack(&t, b);
    cr_expect_arr_eq(b, expect, 16);
    cmn_tid_unpack(b, &back);
    cr_expect_eq(back.incarnation, t.incarnation);
    cr_expect_eq(back.counter, t.counter);
}

/* The packed form is a journal and wire key: memcmp order must be cmn_tid_cmp order. */
Test(cmn_tid, pack_order_is_cmp_order)
{
    static const uint64_t vals[] = {
        0, 1, 255, 256, 0x7fffffffffffffffULL, 0x8000000000000000ULL, UINT64_MAX - 1, UINT64_MAX
    };
    const size_t n = sizeof vals / sizeof vals[0];

    for (size_t a = 0; a < n * n; a++) {
        for (size_t b = 0; b < n * n; b++) {
            cmn_tid_t x = { vals[a / n], vals[a % n] }, y = { vals[b / n], vals[b % n] };
            uint8_t px[16], py[16];
            int c = cmn_tid_cmp(&x, &y), m;

            cmn_tid_pack(&x, px);
            cmn_tid_pack(&y, py);
            m = memcmp(px, py, 16);
            cr_assert_eq(c < 0, m < 0, "order differs at %zu/%zu", a, b);
            cr_assert_eq(c == 0, m == 0, "equality differs at %zu/%zu", a, b);
        }
    }
}

Test(cmn_tid, cmp_orders_by_incarnation_then_counter)
{
    cmn_tid_t a = { 1, 100 }, b = { 2, 0 }, c = { 2, 1 };

    cr_expect_lt(cmn_tid_cmp(&a, &b), 0);
    cr_expect_gt(cmn_tid_cmp(&b, &a), 0);
    cr_expect_lt(cmn_tid_cmp(&b, &c), 0);
    cr_expect_eq(cmn_tid_cmp(&c, &c), 0);
}

Test(cmn_tid, incarnations_are_random_and_nonzero)
{
    uint64_t a = 0, b = 0;

    cr_assert_eq(cmn_incarnation_new(&a), RTR_STS_OK);
    cr_assert_eq(cmn_incarnation_new(&b), RTR_STS_OK);
    cr_expect_neq(a, 0);
    cr_expect_neq(b, 0);
    cr_expect_neq(a, b); /* 2^-64 chance of a false failure */
}

Test(cmn_time, clocks_move_forward)
{
    uint64_t m1 = cmn_now_mono_ns(), w = cmn_now_wall_ms(), m2 = cmn_now_mono_ns();

    cr_expect_geq(m2, m1);
    cr_expect_gt(w, 1600000000000ULL, "wall clock before 2020: %llu", (unsigned long long)w);
}
