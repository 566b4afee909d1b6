/*
 * wire_fuzz.c - libFuzzer target for the strict codec (wire.h). `make fuzz` builds it with
 * clang, -fsanitize=fuzzer and AddressSanitizer + UndefinedBehaviorSanitizer, and starts from
 * tests/proto/corpus/.
 *
 * Each input goes through wire_envelope_decode (and the generic wire_decode with the Envelope
 * descriptor) and through wire_decode for every other message of rtr.proto, JournalRecord and
 * JournalMeta first among them. Besides the sanitizers, these invariants abort:
 *   - the status is OK or one of the RTR_STS_WIRE_* rejections, and exactly the counter for it
 *     moved by one; *out is set exactly on success;
 *   - wire_check gives the same status as wire_decode (the pre-walk alone decides);
 *   - an accepted message re-encodes within the input's own size, the encoding decodes again,
 *     and encoding that gives the very same bytes (the round trip is stable).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WIRE_FUZZ_ASSERT(cond, desc, what)                                            \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "wire_fuzz: %s: %s (%s)\n", (desc)->name, (what), #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static const ProtobufCMessageDescriptor *const wire_fuzz_descs[] = {
    &rtr__journal_record__descriptor, &rtr__journal_meta__descriptor,
    &rtr__journal_info__descriptor,   &rtr__epoch_start__descriptor,
    &rtr__tx_message__descriptor,     &rtr__heartbeat__descriptor,
    &rtr__record_batch__descriptor,
};

static uint64_t
wire_fuzz_counter(const wire_counters_t *c, rtr_status_t sts)
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
        return UINT64_MAX; /* not a status wire_decode may return */
    }
}

/* wire_fuzz_roundtrip - msg (decoded from size bytes) re-encodes stably. */
static void
wire_fuzz_roundtrip(const ProtobufCMessage *msg, size_t size)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    ProtobufCMessage *again = NULL;

    WIRE_FUZZ_ASSERT(wire_encode(msg, size, &b1, &n1) == RTR_STS_OK, desc, "re-encode");
    WIRE_FUZZ_ASSERT(wire_decode(desc, b1, n1, size, NULL, &again) == RTR_STS_OK, desc,
                     "re-decode of own encoding");
    WIRE_FUZZ_ASSERT(wire_encode(again, size, &b2, &n2) == RTR_STS_OK, desc, "second encode");
    WIRE_FUZZ_ASSERT(n1 == n2 && memcmp(b1, b2, n1) == 0, desc, "unstable round trip");
    free(b1);
    free(b2);
    wire_free(&again);
}

/* wire_fuzz_one - one decoder on the input, with every invariant; returns the status. */
static rtr_status_t
wire_fuzz_one(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    wire_counters_t ctr = { 0 };
    ProtobufCMessage *msg = NULL;
    rtr_status_t sts;

    if (desc == &rtr__envelope__descriptor)
        sts = wire_envelope_decode(data, size, 0, &ctr, (Rtr__Envelope **)&msg);
    else
        sts = wire_decode(desc, data, size, 0, &ctr, &msg);
    WIRE_FUZZ_ASSERT(wire_fuzz_counter(&ctr, sts) == 1, desc, "status without its counter");
    WIRE_FUZZ_ASSERT(ctr.decoded + wire_counters_total_rejected(&ctr) == 1, desc,
                     "more than one counter moved");
    WIRE_FUZZ_ASSERT((msg != NULL) == (sts == RTR_STS_OK), desc, "*out and status disagree");
    WIRE_FUZZ_ASSERT(wire_check(desc, data, size, 0) == sts, desc, "wire_check disagrees");
    if (msg != NULL)
        wire_fuzz_roundtrip(msg, size);
    wire_free(&msg);
    return sts;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *env = &rtr__envelope__descriptor;
    ProtobufCMessage *msg = NULL;
    rtr_status_t sts = wire_fuzz_one(env, data, size);

    /* The generic entry point applies the same Envelope rules. */
    WIRE_FUZZ_ASSERT(wire_decode(env, data, size, 0, NULL, &msg) == sts, env,
                     "wire_decode and wire_envelope_decode disagree");
    wire_free(&msg);
    for (size_t i = 0; i < sizeof wire_fuzz_descs / sizeof wire_fuzz_descs[0]; i++)
        wire_fuzz_one(wire_fuzz_descs[i], data, size);
    return 0;
}
