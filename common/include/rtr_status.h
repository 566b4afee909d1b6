/*
 * rtr_status.h - the one status enum of RTR.
 *
 * Every function of every component returns an rtr_status_t. RTR_STS_OK is success. The names
 * of the classic RTR API are kept where RTR had them (RTR_STS_TIMOUT, RTR_STS_JNLFULL, ...);
 * the numeric values are ours. errno, Berkeley DB and ZeroMQ errors are mapped to these where
 * they occur and the original is logged; they are never returned raw.
 *
 * This header is installed with rtr.h and is safe to include from C and C++.
 */
#ifndef RTR_STATUS_H
#define RTR_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: name, text. The order fixes the numeric values: append only. */
#define RTR_STATUS_LIST(X)                                                         \
    X(OK, "normal successful completion")                                          \
    X(TIMOUT, "timeout expired")                                                   \
    X(INVCHANNEL, "invalid channel argument")                                      \
    X(INVMSGLEN, "invalid message length")                                         \
    X(INVNUMSEG, "invalid number of key segments")                                 \
    X(INVPKEYSEG, "invalid key segment argument")                                  \
    X(INVRCPNAM, "invalid recipient name")                                         \
    X(INVREASON, "invalid reason argument")                                        \
    X(INVOP4CLI, "operation not allowed on a client channel")                      \
    X(INVOP4SRV, "operation not allowed on a server channel")                      \
    X(INVFLAGS, "invalid flags argument")                                          \
    X(INVFACNAM, "invalid facility name")                                          \
    X(NODSTFND, "no destination found for the key")                                \
    X(JNLFULL, "journal is full")                                                  \
    X(DLKTXRES, "transaction rejected to resolve a deadlock")                      \
    X(SRVDIED, "server died while processing the transaction")                     \
    X(NOACCESS, "access denied")                                                   \
    X(TOOMANYCHA, "too many channels")                                             \
    X(BUFTOOSMALL, "buffer too small for the message")                             \
    X(INVARG, "invalid argument")                                                  \
    X(NOMEM, "out of memory")                                                      \
    X(IOERR, "input/output error")                                                 \
    X(NOTFOUND, "not found")                                                       \
    X(EXISTS, "already exists")                                                    \
    X(BUSY, "resource is in use by another process")                               \
    X(CONFIG, "invalid facility configuration")                                    \
    X(JNLFAILED, "journal failed earlier and refuses all further work")            \
    X(JNLCORRUPT, "journal is damaged")                                            \
    X(JNLRDONLY, "journal is open read-only")                                      \
    X(JNLCLOSED, "journal is closed")                                              \
    X(WIRE_OVERSIZE, "frame larger than the maximum frame size")                   \
    X(WIRE_MALFORMED, "frame is not a valid protocol buffer")                      \
    X(WIRE_TAG0, "frame uses field number 0")                                      \
    X(WIRE_UNKNOWN, "frame carries an unknown field")                              \
    X(WIRE_MISSING, "frame lacks a required field")                                \
    X(WIRE_VERSION, "frame has an unsupported protocol version")                   \
    X(WIRE_NOBODY, "frame has no body")                                            \
    X(FORGOTTEN, "transaction is below the client's watermark and was forgotten")  \
    X(TIDREUSED, "transaction id reused with different messages")                  \
    X(INTERNAL, "internal error")                                                  \
    X(NOROUTER, "no router reachable: transaction rejected before its vote")       \
    X(OUTCOMEUNKNOWN, "router lost after the vote request: outcome not yet known") \
    X(INVEVTNUM, "invalid event number")                                           \
    X(CLIABORT, "transaction aborted by the client")                               \
    X(SRVREJECT, "transaction rejected by the server (see the reason)")            \
    X(FENCED, "a newer epoch of the partition exists: the sender was fenced")      \
    X(NOQUORUM, "no majority of the routers answered (facility register)")         \
    X(NOSHADOW, "remember = deny and no shadow partner can harden the commit")     \
    X(RESEED, "the partner no longer has the records needed: re-seed the member")  \
    X(DIVERGED, "the shadow server's result differs from the primary's")

typedef enum {
#define RTR_STATUS_ENUM_(name, text) RTR_STS_##name,
    RTR_STATUS_LIST(RTR_STATUS_ENUM_)
#undef RTR_STATUS_ENUM_
        RTR_STS__COUNT
} rtr_status_t;

/* rtr_error_text - the text for a status; never NULL. For an unknown value a fixed
 * "unknown status" text. The string is static: do not free it. Thread-safe. */
const char *rtr_error_text(rtr_status_t sts);

/* rtr_strerror - the same as rtr_error_text (the name the internals use). */
const char *rtr_strerror(rtr_status_t sts);

/* rtr_status_name - the symbolic name without prefix ("JNLFULL"), or "?" if unknown. */
const char *rtr_status_name(rtr_status_t sts);

#ifdef __cplusplus
}
#endif
#endif /* RTR_STATUS_H */
