/*
 * wire_zmq.c - Envelopes over ZeroMQ sockets (see wire_zmq.h).
 *
 * Receiving always drains a whole multipart message, even when it is rejected, so that a bad
 * peer can never leave half a message in the socket to be misread as the next one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "cmn.h"
#include "wire_zmq.h"

void
wire_zmq_id_set(wire_zmq_id_t *id, const char *s)
{
    size_t n = strlen(s);
    id->len = n < WIRE_ZMQ_IDMAX ? n : WIRE_ZMQ_IDMAX;
    memcpy(id->bytes, s, id->len);
}

static rtr_status_t
wire_zmq_errno(const char *what)
{
    int e = zmq_errno();
    if (e == EAGAIN || e == EHOSTUNREACH)
        return RTR_STS_BUSY;
    RTR_LOG(CMN_LOG_ERR, "WIRE-ZMQ", "op=%s errno=%d err=\"%s\"", what, e, zmq_strerror(e));
    return RTR_STS_IOERR;
}

rtr_status_t
wire_zmq_send(void *sock, const wire_zmq_id_t *to, const Rtr__Envelope *env, int flags)
{
    return wire_zmq_send_max(sock, to, env, flags, 0);
}

rtr_status_t
wire_zmq_send_max(void *sock, const wire_zmq_id_t *to, const Rtr__Envelope *env, int flags,
                  size_t max)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rtr_status_t sts = wire_encode(&env->base, max, &buf, &len);

    if (sts != RTR_STS_OK)
        return sts;
    if (to != NULL && zmq_send(sock, to->bytes, to->len, flags | ZMQ_SNDMORE) < 0)
        sts = wire_zmq_errno("send_id");
    else if (zmq_send(sock, buf, len, flags) < 0)
        sts = wire_zmq_errno("send");
    free(buf);
    return sts;
}

/* wire_zmq_drain - discard the rest of a multipart message. */
static void
wire_zmq_drain(void *sock, zmq_msg_t *m)
{
    while (zmq_msg_more(m)) {
        zmq_msg_close(m);
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0)
            break;
    }
}

rtr_status_t
wire_zmq_recv(void *sock, wire_zmq_id_t *from, wire_counters_t *ctr, Rtr__Envelope **out)
{
    return wire_zmq_recv_max(sock, from, ctr, 0, out);
}

rtr_status_t
wire_zmq_limit(void *sock, size_t max, bool accepting)
{
    int64_t cap = -1; /* libzmq: no limit */

    if (accepting)
        cap = (int64_t)(max != 0 ? max : WIRE_MAX_FRAME_DEFAULT) * WIRE_ZMQ_CAP_FACTOR;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &cap, sizeof cap) != 0)
        return wire_zmq_errno("setsockopt");
    return RTR_STS_OK;
}

rtr_status_t
wire_zmq_recv_max(void *sock, wire_zmq_id_t *from, wire_counters_t *ctr, size_t max,
                  Rtr__Envelope **out)
{
    zmq_msg_t m;
    rtr_status_t sts;

    *out = NULL;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return wire_zmq_errno("recv");
    }
    if (from != NULL) { /* ROUTER: the first frame is the sender's id */
        size_t n = zmq_msg_size(&m);
        from->len = n < WIRE_ZMQ_IDMAX ? n : WIRE_ZMQ_IDMAX;
        memcpy(from->bytes, zmq_msg_data(&m), from->len);
        if (!zmq_msg_more(&m) || zmq_msg_close(&m) != 0 || zmq_msg_init(&m) != 0 ||
            zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (ctr)
                ctr->malformed++;
            return RTR_STS_WIRE_MALFORMED;
        }
    }
    if (zmq_msg_more(&m)) { /* more frames than one envelope: refuse the whole message */
        wire_zmq_drain(sock, &m);
        zmq_msg_close(&m);
        if (ctr)
            ctr->malformed++;
        return RTR_STS_WIRE_MALFORMED;
    }
    sts = wire_envelope_decode(zmq_msg_data(&m), zmq_msg_size(&m), max, ctr, out);
    zmq_msg_close(&m);
    return sts;
}

void
wire_zmq_ipc_unlink(const char *endpoint)
{
    if (endpoint != NULL && strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '\0' &&
        endpoint[6] != '@') /* "@": Linux abstract namespace, no file */
        unlink(endpoint + 6);
}
