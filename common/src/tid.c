/*
 * tid.c - time and transaction ids.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cmn.h"

uint64_t
cmn_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
cmn_now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

rtr_status_t
cmn_incarnation_new(uint64_t *out)
{
    uint64_t v = 0;
    while (v == 0) {
        ssize_t n = getrandom(&v, sizeof v, 0);
        if (n != (ssize_t)sizeof v) {
            if (n < 0 && errno == EINTR)
                continue;
            RTR_LOG(CMN_LOG_ERR, "CMN-RANDOM", "msg=\"getrandom failed\" errno=%d", errno);
            return RTR_STS_IOERR;
        }
    }
    *out = v;
    return RTR_STS_OK;
}

int
cmn_tid_cmp(const cmn_tid_t *a, const cmn_tid_t *b)
{
    if (a->incarnation != b->incarnation)
        return a->incarnation < b->incarnation ? -1 : 1;
    if (a->counter != b->counter)
        return a->counter < b->counter ? -1 : 1;
    return 0;
}

char *
cmn_tid_format(const cmn_tid_t *tid, char *buf, size_t len)
{
    snprintf(buf, len, "%016" PRIx64 ".%" PRIu64, tid->incarnation, tid->counter);
    return buf;
}

static int
cmn_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

rtr_status_t
cmn_tid_parse(const char *s, cmn_tid_t *out)
{
    uint64_t inc = 0, ctr = 0;
    int i = 0;

    if (s == NULL)
        return RTR_STS_INVARG;
    for (; s[i] != '.'; i++) {
        int v = cmn_hexval(s[i]);
        if (v < 0 || i >= 16)
            return RTR_STS_INVARG;
        inc = (inc << 4) | (uint64_t)v;
    }
    if (i == 0)
        return RTR_STS_INVARG;
    s += i + 1;
    if (*s == '\0')
        return RTR_STS_INVARG;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return RTR_STS_INVARG;
        uint64_t d = (uint64_t)(*s - '0');
        if (ctr > (UINT64_MAX - d) / 10)
            return RTR_STS_INVARG;
        ctr = ctr * 10 + d;
    }
    out->incarnation = inc;
    out->counter = ctr;
    return RTR_STS_OK;
}

void
cmn_tid_pack(const cmn_tid_t *tid, uint8_t out[16])
{
    cmn_put_be64(out, tid->incarnation);
    cmn_put_be64(out + 8, tid->counter);
}

void
cmn_tid_unpack(const uint8_t in[16], cmn_tid_t *out)
{
    out->incarnation = cmn_get_be64(in);
    out->counter = cmn_get_be64(in + 8);
}
