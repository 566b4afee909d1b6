/*
 * wire_corpus_test.c - replays every file of tests/proto/corpus/ (written by gen_corpus.py,
 * plus anything the fuzzer found and was checked in) through every decoder of rtr.proto.
 *
 * For every file and every message type: no crash, wire_check agrees with wire_decode, exactly
 * one counter moves, and an accepted message re-encodes stably. Then the file's name is the
 * expectation for its own type:
 *     good-<type>-<what>          accepted
 *     bad-<type>-<status>-<what>  rejected with exactly RTR_STS_WIRE_<STATUS>
 * Other names (fuzzer finds) need only pass the generic checks.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tst.h"
#include "wire.h"

typedef struct {
    const char *name; /* <type> in a corpus file name */
    const ProtobufCMessageDescriptor *desc;
} wct_type_t;

static const wct_type_t wct_types[] = {
    { "env", &rtr__envelope__descriptor },       { "rec", &rtr__journal_record__descriptor },
    { "meta", &rtr__journal_meta__descriptor },  { "info", &rtr__journal_info__descriptor },
    { "epoch", &rtr__epoch_start__descriptor },  { "hb", &rtr__heartbeat__descriptor },
    { "batch", &rtr__record_batch__descriptor }, { "txmsg", &rtr__tx_message__descriptor },
};
#define WCT_NTYPES (sizeof wct_types / sizeof wct_types[0])

static const struct {
    const char *token;
    rtr_status_t sts;
} wct_statuses[] = {
    { "malformed", RTR_STS_WIRE_MALFORMED }, { "tag0", RTR_STS_WIRE_TAG0 },
    { "unknown", RTR_STS_WIRE_UNKNOWN },     { "missing", RTR_STS_WIRE_MISSING },
    { "version", RTR_STS_WIRE_VERSION },     { "nobody", RTR_STS_WIRE_NOBODY },
    { "oversize", RTR_STS_WIRE_OVERSIZE },
};

/* wct_token - copy the '-'-separated token starting at s into out; returns the rest. */
static const char *
wct_token(const char *s, char *out, size_t cap)
{
    size_t n = strcspn(s, "-.");
    cr_assert_lt(n, cap, "corpus name token too long: %s", s);
    memcpy(out, s, n);
    out[n] = '\0';
    return s[n] == '-' ? s + n + 1 : s + n;
}

/* wct_expect - from a file name: the descriptor and status it must give; false for a name
 * without an expectation. */
static bool
wct_expect(const char *file, const ProtobufCMessageDescriptor **desc, rtr_status_t *sts)
{
    char kind[8], type[8], status[16];
    const char *rest = wct_token(file, kind, sizeof kind);
    bool good = strcmp(kind, "good") == 0;

    if (!good && strcmp(kind, "bad") != 0)
        return false;
    rest = wct_token(rest, type, sizeof type);
    *desc = NULL;
    for (size_t i = 0; i < WCT_NTYPES; i++)
        if (strcmp(type, wct_types[i].name) == 0)
            *desc = wct_types[i].desc;
    cr_assert_not_null(*desc, "%s: unknown message type '%s'", file, type);
    *sts = RTR_STS_OK;
    if (good)
        return true;
    wct_token(rest, status, sizeof status);
    *sts = RTR_STS__COUNT;
    for (size_t i = 0; i < sizeof wct_statuses / sizeof wct_statuses[0]; i++)
        if (strcmp(status, wct_statuses[i].token) == 0)
            *sts = wct_statuses[i].sts;
    cr_assert_neq(*sts, RTR_STS__COUNT, "%s: unknown status '%s'", file, status);
    return true;
}

/* wct_stable - an accepted message re-encodes, re-decodes and re-encodes to the same bytes. */
static void
wct_stable(const char *file, const ProtobufCMessage *msg)
{
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    ProtobufCMessage *again = NULL;

    cr_assert_eq(wire_encode(msg, 0, &b1, &n1), RTR_STS_OK, "%s", file);
    cr_assert_eq(wire_decode(msg->descriptor, b1, n1, 0, NULL, &again), RTR_STS_OK,
                 "%s: re-decoding as %s failed", file, msg->descriptor->name);
    cr_assert_eq(wire_encode(again, 0, &b2, &n2), RTR_STS_OK, "%s", file);
    cr_assert(n1 == n2 && memcmp(b1, b2, n1) == 0, "%s: unstable round trip", file);
    free(b1);
    free(b2);
    wire_free(&again);
}

/* wct_decode - one file through one decoder, with the generic checks. */
static rtr_status_t
wct_decode(const char *file, const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
    wire_counters_t ctr = { 0 };
    ProtobufCMessage *msg = NULL;
    rtr_status_t sts;

    if (desc == &rtr__envelope__descriptor)
        sts = wire_envelope_decode(buf, len, 0, &ctr, (Rtr__Envelope **)&msg);
    else
        sts = wire_decode(desc, buf, len, 0, &ctr, &msg);
    cr_assert_eq(wire_check(desc, buf, len, 0), sts, "%s as %s: wire_check disagrees", file,
                 desc->name);
    cr_assert_eq(ctr.decoded + wire_counters_total_rejected(&ctr), 1, "%s: counters", file);
    cr_assert_eq(sts == RTR_STS_OK, ctr.decoded == 1, "%s: counters", file);
    cr_assert_eq(msg != NULL, sts == RTR_STS_OK, "%s", file);
    if (msg != NULL)
        wct_stable(file, msg);
    wire_free(&msg);
    return sts;
}

/* wct_replay - every decoder on one file, then the file name's own expectation. Returns
 * whether the name carried one. */
static bool
wct_replay(const char *dir, const char *file)
{
    char *path = NULL;
    size_t len = 0;
    const ProtobufCMessageDescriptor *want_desc = NULL;
    rtr_status_t want = RTR_STS_OK, got = RTR_STS__COUNT;

    cr_assert_geq(asprintf(&path, "%s/%s", dir, file), 0);
    uint8_t *buf = (uint8_t *)tst_read_file(path, &len);
    cr_assert_not_null(buf, "cannot read %s", path);
    free(path);
    bool named = wct_expect(file, &want_desc, &want);
    for (size_t i = 0; i < WCT_NTYPES; i++) {
        rtr_status_t sts = wct_decode(file, wct_types[i].desc, buf, len);
        if (named && wct_types[i].desc == want_desc)
            got = sts;
    }
    if (named)
        cr_assert_eq(got, want, "%s: got %s, want %s", file, rtr_status_name(got),
                     rtr_status_name(want));
    free(buf);
    return named;
}

Test(wire_corpus, every_file_decodes_as_its_name_says)
{
    char dir[4096];
    struct dirent *de;
    size_t files = 0, named = 0, good = 0;

    snprintf(dir, sizeof dir, "%s/tests/proto/corpus", tst_source_dir());
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        files++;
        if (wct_replay(dir, de->d_name)) {
            named++;
            good += strncmp(de->d_name, "good-", 5) == 0;
        }
    }
    closedir(d);
    /* The checked-in corpus has at least 40 named frames, both kinds. */
    cr_assert_geq(named, 40, "only %zu named corpus files in %s", named, dir);
    cr_assert_geq(good, 10, "only %zu good-* files", good);
    cr_assert_geq(named - good, 30, "only %zu bad-* files", named - good);
    cr_log_info("replayed %zu corpus files (%zu named, %zu good)", files, named, good);
}
