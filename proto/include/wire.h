/*
 * wire.h - strict encoding and decoding of RTR's protobuf frames (rtr.proto).
 *
 * Every frame received from a socket, and every record read from a journal, goes through
 * wire_decode. protobuf-c alone is too lenient for a protocol that must never apply a bad
 * frame: it keeps unknown fields (and accepts the overlong field-0 encoding 80 80 80 80 00 00
 * as one), so wire_decode first walks the raw bytes against the message descriptor, recursively,
 * and rejects with a distinct status:
 *   RTR_STS_WIRE_OVERSIZE   frame longer than the caller's limit
 *   RTR_STS_WIRE_TAG0       a field number 0, in any encoding
 *   RTR_STS_WIRE_UNKNOWN    a field number the descriptor does not define, or a known field
 *                           with the wrong wire type
 *   RTR_STS_WIRE_MISSING    a required field absent (at any depth)
 *   RTR_STS_WIRE_MALFORMED  truncated varint or length, bad UTF-8 in a string, anything else
 *                           protobuf-c refuses
 * and, for an Envelope only:
 *   RTR_STS_WIRE_VERSION    version != WIRE_VERSION
 *   RTR_STS_WIRE_NOBODY     no body set
 * Each rejection increments the matching counter in the caller's wire_counters_t (if given).
 *
 * Thread rule: all functions are reentrant; a wire_counters_t belongs to its caller (one per
 * socket owner thread), so counting needs no atomics.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "rtr.pb-c.h"
#include "rtr_status.h"

#define WIRE_VERSION           1u
#define WIRE_MAX_FRAME_DEFAULT (1024u * 1024u) /* ZMQ_MAXMSGSIZE default, DESIGN §3 */
#define WIRE_MAX_MSGLEN        64000u          /* RTR_MAX_MSGLEN: one application message */

typedef struct {
    uint64_t decoded; /* frames accepted */
    uint64_t oversize;
    uint64_t malformed;
    uint64_t tag0;
    uint64_t unknown;
    uint64_t missing;
    uint64_t version;
    uint64_t nobody;
} wire_counters_t;

/* wire_decode - strictly decode one message of type `desc` from buf[0..len).
 * On RTR_STS_OK *out is a new message the caller owns (free with wire_free). On any other
 * status *out is NULL and the counter for that status (if ctr != NULL) was incremented.
 * max = largest acceptable len (0 = WIRE_MAX_FRAME_DEFAULT). Never reads outside buf. */
rtr_status_t wire_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                         size_t max, wire_counters_t *ctr, ProtobufCMessage **out);

/* wire_check - the same checks as wire_decode without building a message (for a fast reject
 * before unpacking). */
rtr_status_t wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                        size_t max);

/* wire_envelope_decode - wire_decode for an Envelope, plus the version and body checks. */
rtr_status_t wire_envelope_decode(const uint8_t *buf, size_t len, size_t max, wire_counters_t *ctr,
                                  Rtr__Envelope **out);

/* wire_encode - pack msg into a new buffer (*out, caller frees with free()), *outlen bytes.
 * RTR_STS_NOMEM on allocation failure, RTR_STS_WIRE_OVERSIZE if the packed size exceeds max
 * (0 = WIRE_MAX_FRAME_DEFAULT). */
rtr_status_t wire_encode(const ProtobufCMessage *msg, size_t max, uint8_t **out, size_t *outlen);

/* wire_free - free a message returned by wire_decode and NULL the caller's pointer.
 * Accepts NULL and a pointer to NULL. */
void wire_free(ProtobufCMessage **msg);

/* wire_envelope_init - fill the common header of an outgoing envelope (version, sender, epoch,
 * incarnation, role). sender is borrowed: it must outlive the envelope. */
void wire_envelope_init(Rtr__Envelope *env, const char *sender, uint64_t epoch,
                        uint64_t incarnation, Rtr__Role role);

/* wire_counters_total_rejected - sum of all rejection counters. */
uint64_t wire_counters_total_rejected(const wire_counters_t *ctr);

#endif /* WIRE_H */
