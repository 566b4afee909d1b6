/*
 * rtr.h - the RTR application API (librtr): the classic Reliable Transaction Router C API.
 *
 * An application written against RTR's documented names and signatures compiles against this
 * header and behaves as RTR's manuals describe. Numeric values of constants are ours.
 * Everything returns rtr_status_t (rtr_status.h); RTR_STS_OK is success and
 * rtr_error_text(sts) gives the text. Extensions beyond RTR are kept apart with the rtrx_
 * prefix.
 *
 * Thread rule: the library is thread-safe (RTR's -lrtr_r): channels may be used from several
 * threads. The library never prints; install a log hook with rtrx_set_log_hook.
 *
 * Link with -lrtr (pkg-config --libs rtr).
 */
#ifndef RTR_H
#define RTR_H

#include <stddef.h>
#include <stdint.h>

#include "rtr_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- fixed-width types ------------------------------------------------------------------ */

typedef uint8_t rtr_uns_8_t;
typedef uint16_t rtr_uns_16_t;
typedef uint32_t rtr_uns_32_t;
typedef uint64_t rtr_uns_64_t;
typedef int8_t rtr_sgn_8_t;
typedef int16_t rtr_sgn_16_t;
typedef int32_t rtr_sgn_32_t;
typedef int64_t rtr_sgn_64_t;

/* ---- API types -------------------------------------------------------------------------- */

typedef rtr_uns_32_t rtr_channel_t;
typedef void *rtr_msgbuf_t;
typedef rtr_uns_32_t rtr_msglen_t;
typedef rtr_sgn_32_t rtr_timout_t; /* milliseconds; RTR_NO_TIMOUTMS = wait forever */
typedef rtr_uns_32_t rtr_reason_t;
typedef rtr_uns_32_t rtr_evtnum_t;
typedef const char *rtr_facnam_t;
typedef const char *rtr_rcpnam_t;
typedef const char *rtr_rcpspc_t;
typedef const char *rtr_access_t;
typedef rtr_uns_32_t rtr_numseg_t;
typedef const char *rtr_msgfmt_t;
typedef void *rtr_usrhdl_t;
typedef void *rtr_usrctx_t;

typedef rtr_uns_32_t rtr_ope_flag_t;
typedef rtr_uns_32_t rtr_clo_flag_t;
typedef rtr_uns_32_t rtr_sta_flag_t;
typedef rtr_uns_32_t rtr_sen_flag_t;
typedef rtr_uns_32_t rtr_rep_flag_t;
typedef rtr_uns_32_t rtr_rcv_flag_t;
typedef rtr_uns_32_t rtr_acc_flag_t;
typedef rtr_uns_32_t rtr_rej_flag_t;
typedef rtr_uns_32_t rtr_pre_flag_t;
typedef rtr_uns_32_t rtr_bro_flag_t;
typedef rtr_uns_32_t rtr_tid_flag_t;
typedef rtr_uns_32_t rtr_req_flag_t;

typedef const char *rtr_infoclass_t;
typedef const char *rtr_itemcode_t;
typedef const char *rtr_selval_t;

/* A transaction id: opaque, 16 bytes (the client incarnation and a counter). */
typedef struct {
    rtr_uns_8_t tid_bytes[16];
} rtr_tid_t;

typedef enum { rtr_keyseg_signed, rtr_keyseg_unsigned, rtr_keyseg_string } rtr_keyseg_type_t;

typedef struct {
    rtr_keyseg_type_t ks_type;
    rtr_uns_32_t ks_length; /* 1, 2, 4, 8 for numeric keys; 1..255 for strings */
    rtr_uns_32_t ks_offset; /* offset of the key in every message */
    void *ks_lo_bound;      /* servers: the range they serve; clients: unused */
    void *ks_hi_bound;
} rtr_keyseg_t;

typedef enum {
    rtr_mt_opened = 1,
    rtr_mt_closed,
    rtr_mt_msg1,
    rtr_mt_msg1_uncertain,
    rtr_mt_msgn,
    rtr_mt_prepare,
    rtr_mt_reply,
    rtr_mt_rettosend,
    rtr_mt_accepted,
    rtr_mt_rejected,
    rtr_mt_user_event,
    rtr_mt_rtr_event,
    rtr_mt_request_info,
} rtr_msg_type_t;

typedef struct { /* filled by rtr_receive_message */
    rtr_msg_type_t msgtype;
    rtr_usrhdl_t usrhdl; /* from rtr_set_user_handle */
    rtr_msglen_t msglen; /* bytes placed in the buffer */
    rtr_tid_t tid;
    rtr_evtnum_t evtnum; /* for event messages */
} rtr_msgsb_t;

typedef struct { /* body of opened / closed / accepted / rejected */
    rtr_status_t status;
    rtr_reason_t reason;
} rtr_status_data_t;

/* ---- limits and null arguments ---------------------------------------------------------- */

#define RTR_MAX_MSGLEN     64000u
#define RTR_MAX_CHANNELS   256u
#define RTR_MAX_NUMSEG     20u
#define RTR_MAX_RCPNAM_LEN 31u

#define RTR_NO_FLAGS       0u
#define RTR_NO_REASON      0u
#define RTR_NO_TIMOUTMS    ((rtr_timout_t)-1)
#define RTR_NO_JOINCHAN    ((rtr_channel_t)0xFFFFFFFFu)
#define RTR_NO_MSGFMT      ((rtr_msgfmt_t)0)
#define RTR_NO_PEVTNUM     ((rtr_evtnum_t *)0)
#define RTR_NO_RCPNAM      ((rtr_rcpnam_t)0)
#define RTR_NO_RCPSPC      ((rtr_rcpspc_t)0) /* rtr_broadcast_event: every recipient */
#define RTR_NO_ACCESS      ((rtr_access_t)0)
#define RTR_NO_NUMSEG      0u
#define RTR_NO_PKEYSEG     ((rtr_keyseg_t *)0)
#define RTR_ANYCHAN        ((rtr_channel_t *)0)
#define RTR_CHAN_ENDLIST   ((rtr_channel_t)0xFFFFFFFEu)
#define RTR_DEFAULT_FACNAM ((rtr_facnam_t)0) /* the facility of RTR_CONFIG */

/* ---- flags ------------------------------------------------------------------------------ */

/* rtr_open_channel */
#define RTR_F_OPE_CLIENT           0x0001u
#define RTR_F_OPE_SERVER           0x0002u
#define RTR_F_OPE_SHADOW           0x0004u
#define RTR_F_OPE_NOSTANDBY        0x0008u
#define RTR_F_OPE_NOCONCURRENT     0x0010u
#define RTR_F_OPE_EXPLICIT_PREPARE 0x0020u
#define RTR_F_OPE_EXPLICIT_ACCEPT  0x0040u
#define RTR_F_OPE_BE_CALL_OUT      0x0080u
#define RTR_F_OPE_TR_CALL_OUT      0x0100u
/* rtr_close_channel */
#define RTR_F_CLO_IMMEDIATE 0x0001u
/* rtr_send_to_server */
#define RTR_F_SEN_ACCEPT           0x0001u /* last message, and the client accepts */
#define RTR_F_SEN_READONLY         0x0002u
#define RTR_F_SEN_EXPENDABLE       0x0004u
#define RTR_F_SEN_RETURN_TO_SENDER 0x0008u
/* rtr_reply_to_client */
#define RTR_F_REP_ACCEPT      0x0001u
#define RTR_F_REP_INDEPENDENT 0x0002u
#define RTR_F_REP_FORGET      0x0004u
/* rtr_accept_tx */
#define RTR_F_ACC_FORGET      0x0001u
#define RTR_F_ACC_INDEPENDENT 0x0002u
/* rtr_reject_tx */
#define RTR_F_REJ_RETRY  0x0001u
#define RTR_F_REJ_FORGET 0x0002u

/* ---- events ----------------------------------------------------------------------------- */

#define RTR_EVTNUM_USERBASE      0u
#define RTR_EVTNUM_USERMAX       250u
#define RTR_EVTNUM_RTRBASE       1000u
#define RTR_EVTNUM_SRPRIMARY     1001u
#define RTR_EVTNUM_SRSTANDBY     1002u
#define RTR_EVTNUM_SRSECONDARY   1003u
#define RTR_EVTNUM_SRSHADOWLOST  1004u
#define RTR_EVTNUM_SRSHADOWGAIN  1005u
#define RTR_EVTNUM_SRRECOVERCMPL 1006u
#define RTR_EVTNUM_UP_TO         0xFFFFFFFDu /* in a pevtnum list: "a, RTR_EVTNUM_UP_TO, b" = a..b */
#define RTR_EVTNUM_ENDLIST       0xFFFFFFFFu

/* ---- the API ----------------------------------------------------------------------------
 *
 * Every call checks its plain arguments first (flags: RTR_STS_INVFLAGS; lengths above
 * RTR_MAX_MSGLEN: RTR_STS_INVMSGLEN; a NULL pointer where one is needed, or a NULL buffer with
 * a non-zero length: RTR_STS_INVARG), then the channel (unknown, closed, or not opened yet:
 * RTR_STS_INVCHANNEL), then its kind (a server call on a client channel: RTR_STS_INVOP4CLI; a
 * client call on a server channel: RTR_STS_INVOP4SRV), then the transaction state:
 * RTR_STS_NOTFOUND when the channel has no transaction, RTR_STS_BUSY when its transaction is in
 * a phase that forbids the call. Nothing changes when a call fails. Before the first
 * rtr_open_channel (no library context) every channel call returns RTR_STS_INVCHANNEL. */

/* rtr_open_channel - open a client (RTR_F_OPE_CLIENT) or server (RTR_F_OPE_SERVER) channel of
 * the facility of RTR_CONFIG (default /etc/rtr/facility.conf); facnam NULL or that facility's
 * name (RTR_STS_INVFACNAM otherwise). Completes asynchronously: rtr_receive_message later gives
 * rtr_mt_opened, or rtr_mt_closed with the refusal in rtr_status_data_t.status. Servers give
 * numseg key segments matching the facility's (type, length, offset: RTR_STS_INVNUMSEG,
 * RTR_STS_INVPKEYSEG) whose bounds (native values; strings padded) are the range they serve,
 * and connect to the backend named by RTR_NODE (optional when the facility has one backend).
 * pevtnum: the events the channel subscribes to (rtr_broadcast_event): RTR_NO_PEVTNUM (none)
 * or a list ended by RTR_EVTNUM_ENDLIST of user event numbers (0..250) and RTR events
 * (RTR_EVTNUM_SRPRIMARY ...), where "a, RTR_EVTNUM_UP_TO, b" stands for a..b (a <= b, both user
 * or both RTR events); at most 512 numbers after expansion; RTR_STS_INVARG otherwise.
 * rcpnam: the channel's recipient name, matched by the rcpspc of broadcasts. The first
 * call creates the library context: RTR_STS_CONFIG if the facility cannot be loaded (or
 * RTR_NODE names no backend, for a server). RTR_STS_TOOMANYCHA beyond RTR_MAX_CHANNELS open
 * channels; RTR_STS_INVRCPNAM for a name over 31 characters. access is accepted and ignored. */
rtr_status_t rtr_open_channel(rtr_channel_t *pchannel, rtr_ope_flag_t flags, rtr_facnam_t facnam,
                              rtr_rcpnam_t rcpnam, rtr_evtnum_t *pevtnum, rtr_access_t access,
                              rtr_numseg_t numseg, rtr_keyseg_t *pkeyseg);

/* rtr_close_channel - close a channel at once; its queued messages and any transaction in
 * hand are dropped (the facility resolves them). The id is invalid afterwards. */
rtr_status_t rtr_close_channel(rtr_channel_t channel, rtr_clo_flag_t flags);

/* rtr_start_tx - start a transaction on a client channel with a timeout in ms (RTR_NO_TIMOUTMS
 * = none): a transaction not voted by then is rejected with RTR_STS_TIMOUT. Optional: the first
 * rtr_send_to_server starts one. RTR_STS_BUSY if one is in progress; joinchan must be
 * RTR_NO_JOINCHAN (joining another channel's transaction is not supported yet:
 * RTR_STS_INVCHANNEL). */
rtr_status_t rtr_start_tx(rtr_channel_t channel, rtr_sta_flag_t flags, rtr_timout_t timoutms,
                          rtr_channel_t joinchan);

/* rtr_send_to_server - send one message (0..RTR_MAX_MSGLEN bytes, copied) of the channel's
 * transaction, starting one if needed. RTR_F_SEN_ACCEPT marks the last message and accepts.
 * RTR_STS_BUSY after the transaction was accepted or rejected. msgfmt is not used. */
rtr_status_t rtr_send_to_server(rtr_channel_t channel, rtr_sen_flag_t flags, rtr_msgbuf_t pmsg,
                                rtr_msglen_t msglen, rtr_msgfmt_t msgfmt);

/* rtr_reply_to_client - a server's reply in its current transaction (copied, kept until the
 * outcome). RTR_F_REP_ACCEPT also votes accept. RTR_STS_BUSY after the server voted. */
rtr_status_t rtr_reply_to_client(rtr_channel_t channel, rtr_rep_flag_t flags, rtr_msgbuf_t pmsg,
                                 rtr_msglen_t msglen, rtr_msgfmt_t msgfmt);

/* rtr_receive_message - the next message for the channels of prcvchan (a list ended by
 * RTR_CHAN_ENDLIST, or RTR_ANYCHAN), waiting up to timoutms (0 = poll, RTR_NO_TIMOUTMS =
 * forever; RTR_STS_TIMOUT when nothing came). *pchannel = the channel, *pmsgsb describes the
 * message; rtr_mt_opened / closed / accepted / rejected carry an rtr_status_data_t in the
 * buffer. RTR_STS_BUFTOOSMALL if maxlen is too small: the message stays queued and
 * pmsgsb->msglen says how many bytes it needs. An empty list or an unknown channel in it:
 * RTR_STS_INVCHANNEL. On server channels it covers, the call is also the server's implicit
 * accept (unless RTR_F_OPE_EXPLICIT_ACCEPT) of a transaction whose messages it has all taken
 * and whose vote is due, and it reports that the previous outcome was processed. */
rtr_status_t rtr_receive_message(rtr_channel_t *pchannel, rtr_rcv_flag_t flags,
                                 rtr_channel_t *prcvchan, rtr_msgbuf_t pmsg, rtr_msglen_t maxlen,
                                 rtr_timout_t timoutms, rtr_msgsb_t *pmsgsb);

/* rtr_accept_tx / rtr_reject_tx - vote on the channel's transaction (client or server). The
 * client learns the outcome only from rtr_mt_accepted / rtr_mt_rejected. Voting the same way
 * twice is RTR_STS_OK; the other way, RTR_STS_BUSY. RTRX_F_ACC_ALREADY_APPLIED: servers only. */
rtr_status_t rtr_accept_tx(rtr_channel_t channel, rtr_acc_flag_t flags, rtr_reason_t reason);
rtr_status_t rtr_reject_tx(rtr_channel_t channel, rtr_rej_flag_t flags, rtr_reason_t reason);

/* rtr_prepare_tx - a server's vote to commit (as rtr_accept_tx; the data is not kept). */
rtr_status_t rtr_prepare_tx(rtr_channel_t channel, rtr_pre_flag_t flags, rtr_reason_t reason,
                            rtr_msgbuf_t pmsg, rtr_msglen_t msglen);

/* rtr_broadcast_event - send user event `evtnum` (RTR_EVTNUM_USERBASE..RTR_EVTNUM_USERMAX, else
 * RTR_STS_INVARG) with a message of 0..RTR_MAX_MSGLEN bytes (copied; RTR_STS_INVMSGLEN). A
 * server channel's event goes to every client channel of the facility, a client channel's to
 * every server channel, that subscribed to evtnum at rtr_open_channel and whose recipient name
 * matches rcpspc: RTR_NO_RCPSPC (NULL) or "*" = every channel; otherwise a pattern (at most 255
 * characters, RTR_STS_INVRCPNAM) where `*` matches any string and `%` one character, case
 * sensitive ("" matches only channels opened with RTR_NO_RCPNAM). The receiver gets
 * rtr_mt_user_event with msgsb.evtnum set and the message in its buffer. Best effort and not
 * transactional: delivered to the processes connected at that moment, in the order each sender
 * broadcast them; nothing is kept for a process that connects later. flags: RTR_NO_FLAGS.
 * The channel must be open (RTR_STS_INVCHANNEL). msgfmt is not used. */
rtr_status_t rtr_broadcast_event(rtr_channel_t channel, rtr_bro_flag_t flags, rtr_msgbuf_t pmsg,
                                 rtr_msglen_t msglen, rtr_evtnum_t evtnum, rtr_rcpspc_t rcpspc,
                                 rtr_msgfmt_t msgfmt);

/* rtr_get_tid - the TID of the channel's current transaction, else of its last one
 * (RTR_STS_NOTFOUND if it never had one). */
rtr_status_t rtr_get_tid(rtr_channel_t channel, rtr_tid_flag_t flags, rtr_tid_t *ptid);

/* rtr_set_user_handle - a value returned in rtr_msgsb_t.usrhdl of the channel's messages.
 * rtr_set_user_context / rtr_get_user_context - a value kept with the channel. */
rtr_status_t rtr_set_user_handle(rtr_channel_t channel, rtr_usrhdl_t usrhdl);
rtr_status_t rtr_set_user_context(rtr_channel_t channel, rtr_usrctx_t usrctx);
rtr_status_t rtr_get_user_context(rtr_channel_t channel, rtr_usrctx_t *pusrctx);

/* rtr_request_info - what this process knows about the facility, answered locally (no network
 * round trip): opens a pseudo-channel *pchannel on which rtr_receive_message then gives one
 * rtr_mt_request_info message per selected object, its body a NUL-terminated text of
 * "item=value" lines separated by '\n' in getitms order, and finally rtr_mt_closed with status
 * RTR_STS_OK, after which the channel id is invalid (rtr_close_channel drops it earlier).
 * Classes (infcla) and their items:
 *   "facility"  name, routers, backends, partitions (the counts)
 *   "partition" name, low, high (the bounds as text: "[0]"), primary
 *   "router"    name, clients (endpoint), connected ("yes" for the router librtr's client link
 *               uses and has heard from, else "no")
 *   "backend"   name, servers (endpoint)
 *   "channel"   id, kind ("client"/"server"), state ("opening"/"open"/"closed"), rcpnam,
 *               partition (servers: the partition the backend gave; else empty)
 * selitm/selval select the objects whose item selitm matches the pattern selval (`*` any
 * string, `%` one character, case-insensitive); selitm NULL selects every object, selval NULL
 * means "*". getitms: a comma-separated list of items, or NULL / "*" for all. Class and item
 * names are case-insensitive. RTR_STS_INVARG for pchannel NULL, an unknown class or an unknown
 * item in selitm or getitms; RTR_STS_INVFLAGS unless RTR_NO_FLAGS; RTR_STS_TOOMANYCHA when
 * RTR_MAX_CHANNELS are in use. Creates the library context if needed (RTR_STS_CONFIG). */
rtr_status_t rtr_request_info(rtr_channel_t *pchannel, rtr_req_flag_t flags, rtr_infoclass_t infcla,
                              rtr_itemcode_t selitm, rtr_selval_t selval, rtr_itemcode_t getitms);

/* rtr_set_wakeup - wu_rtn is called (from the library's I/O thread, without any library lock;
 * it must not call the library) whenever messages were queued for rtr_receive_message.
 * NULL removes it. Creates the library context like rtr_open_channel. Prefer rtrx_get_fd. */
rtr_status_t rtr_set_wakeup(void (*wu_rtn)(void));

/* ---- rtrx_ extensions (beyond RTR) ------------------------------------------------------- */

/* rtr_accept_tx flag for a server handed rtr_mt_msg1_uncertain: the TID is already in its
 * database, so the backend keeps the transaction's original commit (ServerVote.already_applied).
 * Valid only on server channels. */
#define RTRX_F_ACC_ALREADY_APPLIED 0x00010000u

/* A log line of the library: syslog level (0 emerg .. 7 debug) and one finished line without
 * newline. Called from any library thread; must not call back into the library. */
typedef void rtrx_log_fn(void *arg, int level, const char *line);

/* rtrx_set_log_hook - send the library's log lines at `level` or more severe to fn (NULL =
 * discard them, the default: the library never prints). May be called at any time. */
void rtrx_set_log_hook(rtrx_log_fn *fn, void *arg, int level);

/* rtrx_get_fd - a file descriptor that is readable (poll/epoll POLLIN) while at least one
 * message waits for rtr_receive_message, for event loops. The descriptor belongs to the library:
 * never read, write or close it. RTR_STS_INVCHANNEL before the first rtr_open_channel (the
 * library context does not exist yet), RTR_STS_INVARG if pfd is NULL. */
rtr_status_t rtrx_get_fd(int *pfd);

/* What rtrx_query_outcome learned about a transaction. */
typedef enum {
    rtrx_outcome_inprogress = 0, /* known to the facility, not decided yet (or not known) */
    rtrx_outcome_accepted = 1,
    rtrx_outcome_rejected = 2,
} rtrx_outcome_t;

/* rtrx_query_outcome - ask the facility (through the current router, TxQuery) for the outcome
 * of a transaction by TID, e.g. after the application restarted mid-transaction with the same
 * incarnation (rtrx_set_incarnation). Blocks up to timoutms (RTR_NO_TIMOUTMS = forever).
 * RTR_STS_OK: *poutcome set; for accepted/rejected *pstatus (if not NULL) holds the status and
 * reason. RTR_STS_FORGOTTEN: the TID is below its incarnation's watermark and was forgotten.
 * RTR_STS_TIMOUT: no answer in time. RTR_STS_INVARG for NULL ptid/poutcome or a bad timeout.
 * Creates the library context if needed (RTR_STS_CONFIG if the facility cannot be loaded). */
rtr_status_t rtrx_query_outcome(const rtr_tid_t *ptid, rtr_timout_t timoutms,
                                rtrx_outcome_t *poutcome, rtr_status_data_t *pstatus);

/* rtrx_set_incarnation - use this process incarnation instead of a random one, so that TIDs of
 * a restarted application continue those of its previous run (exactly-once across restarts,
 * with rtrx_query_outcome for the transactions it had in flight). counter_file (may be NULL)
 * persists the TID counter: counters are reserved in blocks of 1024, the block's end written
 * and fsynced before the first TID of the block is used, so a restart continues after the last
 * reserved block (a crash skips at most one block). With counter_file NULL the caller must make
 * sure the incarnation was never used before. Call before the first rtr_open_channel:
 * RTR_STS_BUSY afterwards; RTR_STS_INVARG for incarnation 0; RTR_STS_IOERR if the file cannot
 * be read or created. */
rtr_status_t rtrx_set_incarnation(rtr_uns_64_t incarnation, const char *counter_file);

/* rtrx_shutdown - close every channel, stop the library's I/O thread and free the context
 * (for tests and leak checkers). Afterwards every call fails with RTR_STS_INVCHANNEL; the
 * library cannot be restarted in the same process. No thread may be inside the library. */
void rtrx_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif /* RTR_H */
