/*
 * stats.c - latency percentiles and duration text for the tools' reports.
 *
 * Percentiles use the nearest-rank method on the full sorted sample (no histogram buckets), so
 * p99.9 of 100,000 samples is an observed latency, not an interpolation.
 */
#include <stdlib.h>

#include "tool.h"

static int
tool_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void
tool_sort_u64(uint64_t *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, tool_u64_cmp);
}

uint64_t
tool_percentile(const uint64_t *sorted, size_t n, double p)
{
    /* In integer parts per million, so that p99.9 of 1,000 samples is rank 999 exactly
     * (99.9 / 100 * 1000 in doubles is 999.0000000000001, and ceil would give 1000). */
    uint64_t ppm = p <= 0.0 ? 0 : p >= 100.0 ? 1000000u : (uint64_t)(p * 10000.0 + 0.5);
    uint64_t rank;

    if (n == 0)
        return 0;
    rank = (ppm * (uint64_t)n + 999999u) / 1000000u; /* ceil(p% of n) */
    if (rank == 0)
        rank = 1;
    return sorted[rank <= n ? rank - 1 : n - 1];
}

char *
tool_fmt_ns(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000)
        snprintf(buf, len, "%u ns", (unsigned)ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", (double)ns / 1e9);
    return buf;
}
