/*
 * tool_admin.h - the tools' side of the admin protocol: AdminRequest to one or more daemons'
 * admin endpoints, AdminReply back, with a deadline (docs/protocol.md, "Admin").
 *
 * One DEALER socket per daemon, identity "a-<pid><8 random digits>" (unique per set), role
 * ROLE_ADMIN, every frame an Envelope through wire_zmq (strict decoding). Requests to several
 * daemons go out together and are awaited together, so N unreachable daemons cost one deadline, not
 * N. A daemon's answer is matched by request_id: a late answer to an earlier request is dropped, so
 * a caller may repeat a query (tool_admin_query again) until a daemon that is still starting
 * answers.
 *
 * Ownership: a tool_admin_t owns its ZeroMQ context, sockets and every answer; node and
 * endpoint strings given to tool_admin_add are borrowed and must outlive it.
 * Thread rule: one thread (ZeroMQ sockets belong to one thread).
 */
#ifndef TOOL_ADMIN_H
#define TOOL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "rtr_status.h"
#include "wire.h"

typedef struct tool_admin tool_admin_t;

/* What is known of one daemon after tool_admin_query. */
typedef struct {
    const char *node;     /* borrowed */
    const char *endpoint; /* borrowed */
    bool answered;        /* an AdminReply to the latest request arrived */
    rtr_status_t status;  /* the daemon's status (answered), else the local failure if any */
    json_t *json;         /* the answer's JSON object (answered, parsed); owned by the set */
    char *error;          /* the daemon's error text, or why its answer was unusable; owned */
} tool_admin_target_t;

/* tool_admin_new - an empty set of daemons. NULL on out of memory or a ZeroMQ failure. */
tool_admin_t *tool_admin_new(void);

/* tool_admin_add - add a daemon (connects its socket; the connection is made in the
 * background). Returns its index (0, 1, ...), or -1 on failure (bad endpoint, NOMEM). */
int tool_admin_add(tool_admin_t *a, const char *node, const char *endpoint);

/* tool_admin_count - the number of daemons added. */
size_t tool_admin_count(const tool_admin_t *a);

/* tool_admin_target - daemon i (valid until tool_admin_free or the next query). */
const tool_admin_target_t *tool_admin_target(const tool_admin_t *a, size_t i);

/* tool_admin_query - send AdminRequest{command, args} to every daemon that has not answered
 * yet (all of them on the first call; each gets a new request id), then wait until they all
 * have answered or timeout_ms has passed. Blocks at most timeout_ms. Returns RTR_STS_OK when
 * every daemon answered (whatever its status), RTR_STS_TIMOUT when some did not,
 * RTR_STS_NOMEM / RTR_STS_IOERR on a local failure. */
rtr_status_t tool_admin_query(tool_admin_t *a, const char *command, const char *const *args,
                              size_t nargs, int timeout_ms);

/* tool_admin_reg_change - send RegChange `req` (borrowed) to daemon i (a router) over its
 * admin endpoint and wait up to timeout_ms for the RegChangeReply with the same req_id (the
 * router's register answers there; shadow-protocol §5.5). RTR_STS_OK with *out the reply's
 * envelope (body reg_change_reply; the caller frees it with wire_free), RTR_STS_TIMOUT when
 * none came, RTR_STS_NOMEM / RTR_STS_IOERR / RTR_STS_INVARG (no daemon i) on a local failure.
 * Anything else arriving meanwhile (late admin answers) is dropped. */
rtr_status_t tool_admin_reg_change(tool_admin_t *a, size_t i, const Rtr__RegChange *req,
                                   int timeout_ms, Rtr__Envelope **out);

/* tool_admin_reset - forget every answer (the next query goes to every daemon again). */
void tool_admin_reset(tool_admin_t *a);

/* tool_admin_free - close everything and NULL the caller's pointer; accepts NULL. */
void tool_admin_free(tool_admin_t **a);

#endif /* TOOL_ADMIN_H */
