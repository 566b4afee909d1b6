/*
 * cmn_status_test.c - rtr_status_t texts and names: every status has its own, unknown values
 * get fixed fallbacks, and the numeric values of RTR's classic names stay where they are.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "cmn.h"

Test(cmn_status, known_texts)
{
    cr_expect_str_eq(rtr_error_text(RTR_STS_OK), "normal successful completion");
    cr_expect_str_eq(rtr_error_text(RTR_STS_TIMOUT), "timeout expired");
    cr_expect_str_eq(rtr_error_text(RTR_STS_JNLFULL), "journal is full");
    cr_expect_str_eq(rtr_error_text(RTR_STS_CONFIG), "invalid facility configuration");
    cr_expect_str_eq(rtr_error_text(RTR_STS_INVNUMSEG), "invalid number of key segments");
    cr_expect_str_eq(rtr_error_text(RTR_STS_INVPKEYSEG), "invalid key segment argument");
}

Test(cmn_status, known_names)
{
    cr_expect_str_eq(rtr_status_name(RTR_STS_OK), "OK");
    cr_expect_str_eq(rtr_status_name(RTR_STS_JNLFULL), "JNLFULL");
    cr_expect_str_eq(rtr_status_name(RTR_STS_INVMSGLEN), "INVMSGLEN");
    cr_expect_str_eq(rtr_status_name(RTR_STS_WIRE_TAG0), "WIRE_TAG0");
    cr_expect_str_eq(rtr_status_name(RTR_STS_INTERNAL), "INTERNAL");
}

Test(cmn_status, classic_values_are_fixed)
{
    /* Append-only list: the first values never move. */
    cr_expect_eq(RTR_STS_OK, 0);
    cr_expect_eq(RTR_STS_TIMOUT, 1);
    cr_expect_eq(RTR_STS_INVCHANNEL, 2);
    cr_expect_eq(RTR_STS_INVMSGLEN, 3);
    cr_expect_eq(RTR_STS_INVNUMSEG, 4);
    cr_expect_eq(RTR_STS_INVPKEYSEG, 5);
}

Test(cmn_status, every_status_has_a_distinct_text_and_name)
{
    for (int i = 0; i < RTR_STS__COUNT; i++) {
        const char *t = rtr_error_text((rtr_status_t)i);
        const char *n = rtr_status_name((rtr_status_t)i);

        cr_assert_not_null(t);
        cr_assert_not_null(n);
        cr_expect_gt(strlen(t), 5, "status %d: text too short", i);
        cr_expect_str_neq(t, "unknown status", "status %d", i);
        cr_expect_str_neq(n, "?", "status %d", i);
        for (const char *p = n; *p != '\0'; p++)
            cr_expect(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_',
                      "status %d: name %s is not an upper-case identifier", i, n);
        cr_expect_eq(rtr_strerror((rtr_status_t)i), t, "rtr_strerror differs for %d", i);
        for (int k = 0; k < i; k++) {
            cr_expect_str_neq(t, rtr_error_text((rtr_status_t)k), "statuses %d and %d", k, i);
            cr_expect_str_neq(n, rtr_status_name((rtr_status_t)k), "statuses %d and %d", k, i);
        }
    }
}

Test(cmn_status, unknown_values)
{
    const int bad[] = { RTR_STS__COUNT, RTR_STS__COUNT + 1, -1, 9999, -2147483647 - 1 };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_str_eq(rtr_error_text((rtr_status_t)bad[i]), "unknown status", "value %d",
                         bad[i]);
        cr_expect_str_eq(rtr_strerror((rtr_status_t)bad[i]), "unknown status", "value %d", bad[i]);
        cr_expect_str_eq(rtr_status_name((rtr_status_t)bad[i]), "?", "value %d", bad[i]);
    }
}
