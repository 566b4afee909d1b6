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
#define RTR_EVTNUM_ENDLIST       0xFFFFFFFFu

/* ---- the API ---------------------------------------------------------------------------- */

rtr_status_t rtr_open_channel(rtr_channel_t *pchannel, rtr_ope_flag_t flags, rtr_facnam_t facnam,
                              rtr_rcpnam_t rcpnam, rtr_evtnum_t *pevtnum, rtr_access_t access,
                              rtr_numseg_t numseg, rtr_keyseg_t *pkeyseg);
rtr_status_t rtr_close_channel(rtr_channel_t channel, rtr_clo_flag_t flags);
rtr_status_t rtr_start_tx(rtr_channel_t channel, rtr_sta_flag_t flags, rtr_timout_t timoutms,
                          rtr_channel_t joinchan);
rtr_status_t rtr_send_to_server(rtr_channel_t channel, rtr_sen_flag_t flags, rtr_msgbuf_t pmsg,
                                rtr_msglen_t msglen, rtr_msgfmt_t msgfmt);
rtr_status_t rtr_reply_to_client(rtr_channel_t channel, rtr_rep_flag_t flags, rtr_msgbuf_t pmsg,
                                 rtr_msglen_t msglen, rtr_msgfmt_t msgfmt);
rtr_status_t rtr_receive_message(rtr_channel_t *pchannel, rtr_rcv_flag_t flags,
                                 rtr_channel_t *prcvchan, rtr_msgbuf_t pmsg, rtr_msglen_t maxlen,
                                 rtr_timout_t timoutms, rtr_msgsb_t *pmsgsb);
rtr_status_t rtr_accept_tx(rtr_channel_t channel, rtr_acc_flag_t flags, rtr_reason_t reason);
rtr_status_t rtr_reject_tx(rtr_channel_t channel, rtr_rej_flag_t flags, rtr_reason_t reason);
rtr_status_t rtr_prepare_tx(rtr_channel_t channel, rtr_pre_flag_t flags, rtr_reason_t reason,
                            rtr_msgbuf_t pmsg, rtr_msglen_t msglen);
rtr_status_t rtr_broadcast_event(rtr_channel_t channel, rtr_bro_flag_t flags, rtr_msgbuf_t pmsg,
                                 rtr_msglen_t msglen, rtr_evtnum_t evtnum, rtr_rcpspc_t rcpspc,
                                 rtr_msgfmt_t msgfmt);
rtr_status_t rtr_get_tid(rtr_channel_t channel, rtr_tid_flag_t flags, rtr_tid_t *ptid);
rtr_status_t rtr_set_user_handle(rtr_channel_t channel, rtr_usrhdl_t usrhdl);
rtr_status_t rtr_set_user_context(rtr_channel_t channel, rtr_usrctx_t usrctx);
rtr_status_t rtr_get_user_context(rtr_channel_t channel, rtr_usrctx_t *pusrctx);
rtr_status_t rtr_request_info(rtr_channel_t *pchannel, rtr_req_flag_t flags, rtr_infoclass_t infcla,
                              rtr_itemcode_t selitm, rtr_selval_t selval, rtr_itemcode_t getitms);
rtr_status_t rtr_set_wakeup(void (*wu_rtn)(void));

#ifdef __cplusplus
}
#endif
#endif /* RTR_H */
