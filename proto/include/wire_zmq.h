/*
 * wire_zmq.h - one Envelope per ZeroMQ message, over DEALER and ROUTER sockets.
 *
 * A ROUTER socket's messages carry the peer's routing id as the first frame; a DEALER's carry
 * only the envelope. These helpers hide that difference and run every received frame through
 * the strict decoder (wire.h), so no caller ever sees an unchecked frame.
 *
 * Thread rule: a ZeroMQ socket belongs to one thread; call these only from that thread.
 */
#ifndef WIRE_ZMQ_H
#define WIRE_ZMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define WIRE_ZMQ_IDMAX 255 /* ZeroMQ routing ids are at most 255 bytes */

/* A routing id (ROUTER sockets). len 0 = none (DEALER). */
typedef struct {
    uint8_t bytes[WIRE_ZMQ_IDMAX];
    size_t len;
} wire_zmq_id_t;

/* wire_zmq_send - encode env and send it; on a ROUTER socket give the peer's id (else NULL).
 * flags: ZMQ_DONTWAIT or 0. RTR_STS_OK, RTR_STS_BUSY (would block / peer unknown with
 * ZMQ_ROUTER_MANDATORY), RTR_STS_WIRE_OVERSIZE, RTR_STS_IOERR (logged with zmq_strerror). */
rtr_status_t wire_zmq_send(void *sock, const wire_zmq_id_t *to, const Rtr__Envelope *env,
                           int flags);

/* wire_zmq_recv - receive one message without blocking (call it when zmq_poll says POLLIN).
 * If `from` is not NULL the socket is a ROUTER and *from gets the sender's id. On RTR_STS_OK
 * *out is a decoded envelope the caller frees with wire_free. RTR_STS_BUSY when nothing is
 * waiting; a rejected frame returns its wire status (counted in ctr) and is consumed whole;
 * RTR_STS_WIRE_MALFORMED also for a message with the wrong number of frames. */
rtr_status_t wire_zmq_recv(void *sock, wire_zmq_id_t *from, wire_counters_t *ctr,
                           Rtr__Envelope **out);

/* wire_zmq_send_max / wire_zmq_recv_max - the same with the facility's frame limit `max`
 * (settings.max_frame_bytes; 0 = WIRE_MAX_FRAME_DEFAULT): a larger frame is refused as
 * RTR_STS_WIRE_OVERSIZE (counted in ctr on receive). The plain functions use the default. */
rtr_status_t wire_zmq_send_max(void *sock, const wire_zmq_id_t *to, const Rtr__Envelope *env,
                               int flags, size_t max);
rtr_status_t wire_zmq_recv_max(void *sock, wire_zmq_id_t *from, wire_counters_t *ctr, size_t max,
                               Rtr__Envelope **out);

/* wire_zmq_limit - set the socket's ZMQ_MAXMSGSIZE for a frame limit `max` (0 = default), so
 * that an oversize frame reaches wire_zmq_recv_max and is counted instead of vanishing inside
 * libzmq (which drops the connection on a frame above ZMQ_MAXMSGSIZE, uncounted, and never
 * reconnects a connecting socket after that protocol error):
 *   accepting (a bound ROUTER anyone may connect to): a hard cap of WIRE_ZMQ_CAP_FACTOR * max,
 *     which bounds the memory an unknown peer can make us allocate; frames in (max, cap] are
 *     counted as oversize, larger ones cost the sender its connection (and are not counted);
 *   connecting (a DEALER to a facility member named in the facility file): no libzmq limit,
 *     so the link survives any frame and the decoder counts the oversize ones.
 * RTR_STS_OK or RTR_STS_IOERR. */
#define WIRE_ZMQ_CAP_FACTOR 4
rtr_status_t wire_zmq_limit(void *sock, size_t max, bool accepting);

/* wire_zmq_id_set - make an id from a string (truncated to WIRE_ZMQ_IDMAX). */
void wire_zmq_id_set(wire_zmq_id_t *id, const char *s);

/* wire_zmq_ipc_unlink - remove the socket file of an "ipc://PATH" endpoint this process bound
 * (libzmq 4.3 leaves it behind when the socket closes); other endpoints are left alone. Call it
 * only for an endpoint whose bind succeeded: binding an ipc path replaces another process's
 * file, and unlinking after a failed bind would remove a live daemon's. */
void wire_zmq_ipc_unlink(const char *endpoint);

#endif /* WIRE_ZMQ_H */
