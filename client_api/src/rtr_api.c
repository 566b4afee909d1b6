/*
 * rtr_api.c - the rtr_ functions of rtr.h: argument checks, channel and transaction state,
 * and rtr_receive_message with the server's implicit actions.
 *
 * Design note. Every call checks its plain arguments first (flags, lengths, NULL pointers:
 * nothing needs the context for those), then the channel (RTR_STS_INVCHANNEL), then the
 * channel's kind (RTR_STS_INVOP4CLI / RTR_STS_INVOP4SRV), then the transaction state. Statuses
 * of the wrong-state cases (documented in client_api/README.md):
 *   RTR_STS_NOTFOUND  no transaction on the channel (accept, reject, reply, prepare)
 *   RTR_STS_BUSY      a transaction is in a phase that forbids the call (send after accept,
 *                     start_tx while one is active, reject after accept, reply after the vote)
 *   RTR_STS_INVCHANNEL the channel is not open yet (rtr_mt_opened not received) or closed.
 * The server's implicit accept and ServerDone happen in rtr_receive_message (protocol.md §6, §8):
 * on a server channel covered by the call, ServerDone is sent once the application took the
 * outcome, and the accept vote once the application took every message of the transaction and
 * the vote is due (the vote request arrived, or the client's last message was delivered; with
 * RTR_F_OPE_EXPLICIT_PREPARE only after rtr_mt_prepare was taken).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rtr_impl.h"

#define RTRL_OPE_SERVER_FLAGS                                                             \
    (RTR_F_OPE_SERVER | RTR_F_OPE_SHADOW | RTR_F_OPE_NOSTANDBY | RTR_F_OPE_NOCONCURRENT | \
     RTR_F_OPE_EXPLICIT_PREPARE | RTR_F_OPE_EXPLICIT_ACCEPT)
#define RTRL_SEN_FLAGS \
    (RTR_F_SEN_ACCEPT | RTR_F_SEN_READONLY | RTR_F_SEN_EXPENDABLE | RTR_F_SEN_RETURN_TO_SENDER)
#define RTRL_REP_FLAGS  (RTR_F_REP_ACCEPT | RTR_F_REP_INDEPENDENT | RTR_F_REP_FORGET)
#define RTRL_ACC_FLAGS  (RTR_F_ACC_FORGET | RTR_F_ACC_INDEPENDENT | RTRX_F_ACC_ALREADY_APPLIED)
#define RTRL_REJ_FLAGS  (RTR_F_REJ_RETRY | RTR_F_REJ_FORGET)
#define RTRL_MAX_EVENTS 512 /* event numbers in one open */
#define RTRL_MAX_RCPSPC 255 /* characters of a broadcast's recipient pattern */

/* rtrl_api_chan - lock the context and find a channel; on RTR_STS_OK the lock is held. */
static rtr_status_t
rtrl_api_chan(rtr_channel_t channel, rtrl_ctx_t **pctx, rtrl_chan_t **pch)
{
    rtr_status_t sts = rtrl_ctx_get(false, pctx);

    if (sts != RTR_STS_OK)
        return sts;
    if ((*pch = rtrl_chan_find(*pctx, channel)) == NULL) {
        rtrl_ctx_put(*pctx);
        return RTR_STS_INVCHANNEL;
    }
    return RTR_STS_OK;
}

static uint8_t *
rtrl_dup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d != NULL && n != 0)
        memcpy(d, p, n);
    return d;
}

/* ---- open and close ---------------------------------------------------------------------- */

/* rtrl_evt_class - 1 for a user event number, 2 for an RTR event, 0 for neither. */
static int
rtrl_evt_class(rtr_evtnum_t e)
{
    if (e <= RTR_EVTNUM_USERMAX)
        return 1;
    return e > RTR_EVTNUM_RTRBASE && e <= RTR_EVTNUM_SRRECOVERCMPL ? 2 : 0;
}

/* rtrl_parse_events - the event numbers of a pevtnum list with its "a, RTR_EVTNUM_UP_TO, b"
 * ranges expanded: *out (malloc'd, NULL when none) holds *n numbers. RTR_STS_INVEVTNUM for an
 * unknown number, a malformed range or more than RTRL_MAX_EVENTS numbers. */
static rtr_status_t
rtrl_parse_events(const rtr_evtnum_t *p, uint32_t **out, size_t *n)
{
    uint32_t *v = NULL;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if (p == RTR_NO_PEVTNUM || p[0] == RTR_EVTNUM_ENDLIST)
        return RTR_STS_OK;
    if ((v = malloc(RTRL_MAX_EVENTS * sizeof *v)) == NULL)
        return RTR_STS_NOMEM;
    for (size_t i = 0; p[i] != RTR_EVTNUM_ENDLIST; i++) {
        if (p[i] == RTR_EVTNUM_UP_TO) { /* the range from the previous number to the next */
            rtr_evtnum_t lo = i > 0 ? p[i - 1] : RTR_EVTNUM_UP_TO, hi = p[i + 1];
            if (i == 0 || p[i - 1] == RTR_EVTNUM_UP_TO || rtrl_evt_class(hi) == 0 ||
                rtrl_evt_class(hi) != rtrl_evt_class(lo) || hi < lo)
                goto bad;
            for (rtr_evtnum_t e = lo + 1; e <= hi; e++) {
                if (k == RTRL_MAX_EVENTS)
                    goto bad;
                v[k++] = e;
            }
            i++; /* hi is in */
            continue;
        }
        if (rtrl_evt_class(p[i]) == 0 || k == RTRL_MAX_EVENTS)
            goto bad;
        v[k++] = p[i];
    }
    *out = v;
    *n = k;
    return RTR_STS_OK;
bad:
    free(v);
    return RTR_STS_INVEVTNUM;
}

/* rtrl_server_range - check a server's key segments against the facility's and normalize its
 * bounds into ch->key_low / key_high. */
static rtr_status_t
rtrl_server_range(const cmn_facility_t *fac, rtr_numseg_t numseg, const rtr_keyseg_t *ks,
                  rtrl_chan_t *ch)
{
    size_t off = 0;

    if (numseg != fac->nseg)
        return RTR_STS_INVNUMSEG;
    ch->key_low = calloc(1, fac->keylen);
    ch->key_high = calloc(1, fac->keylen);
    if (ch->key_low == NULL || ch->key_high == NULL)
        return RTR_STS_NOMEM;
    for (size_t i = 0; i < numseg; i++) {
        const cmn_keyseg_t *seg = &fac->seg[i];
        rtr_status_t s1, s2;
        if ((int)ks[i].ks_type != (int)seg->type || ks[i].ks_length != seg->length ||
            ks[i].ks_offset != seg->offset || ks[i].ks_lo_bound == NULL ||
            ks[i].ks_hi_bound == NULL)
            return RTR_STS_INVPKEYSEG;
        if (seg->type == CMN_KEYSEG_STRING) {
            const char *lo = ks[i].ks_lo_bound, *hi = ks[i].ks_hi_bound;
            s1 = cmn_key_bound_str(seg, lo, strnlen(lo, seg->length), CMN_KEY_LOW,
                                   ch->key_low + off);
            s2 = cmn_key_bound_str(seg, hi, strnlen(hi, seg->length), CMN_KEY_HIGH,
                                   ch->key_high + off);
        } else {
            s1 = cmn_keyseg_normalize(seg, ks[i].ks_lo_bound, ch->key_low + off);
            s2 = cmn_keyseg_normalize(seg, ks[i].ks_hi_bound, ch->key_high + off);
        }
        if (s1 != RTR_STS_OK || s2 != RTR_STS_OK)
            return RTR_STS_INVPKEYSEG;
        off += seg->length;
    }
    if (memcmp(ch->key_low, ch->key_high, fac->keylen) > 0)
        return RTR_STS_INVPKEYSEG; /* empty range */
    return RTR_STS_OK;
}

rtrl_chan_t *
rtrl_chan_alloc(rtrl_ctx_t *ctx)
{
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        rtrl_chan_t *ch = &ctx->chans[i];
        if (ch->state != RTRL_CH_FREE)
            continue;
        memset(ch, 0, sizeof *ch);
        do { /* never 0 nor one of the reserved values */
            ch->id = ctx->next_chan_id++;
        } while (ch->id == 0 || ch->id >= RTR_CHAN_ENDLIST);
        ch->state = RTRL_CH_OPENING;
        return ch;
    }
    return NULL;
}

rtr_status_t
rtr_open_channel(rtr_channel_t *pchannel, rtr_ope_flag_t flags, rtr_facnam_t facnam,
                 rtr_rcpnam_t rcpnam, rtr_evtnum_t *pevtnum, rtr_access_t access,
                 rtr_numseg_t numseg, rtr_keyseg_t *pkeyseg)
{
    bool server = (flags & RTR_F_OPE_SERVER) != 0;
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    uint32_t *events = NULL;
    size_t nevents;
    rtr_status_t sts;

    (void)access; /* access control lists are not implemented: any name is accepted */
    if (pchannel == NULL)
        return RTR_STS_INVARG;
    if (((flags & RTR_F_OPE_CLIENT) != 0) == server ||
        (flags & ~(server ? RTRL_OPE_SERVER_FLAGS : RTR_F_OPE_CLIENT)) != 0)
        return RTR_STS_INVFLAGS;
    if (rcpnam != RTR_NO_RCPNAM && strnlen(rcpnam, RTR_MAX_RCPNAM_LEN + 1) > RTR_MAX_RCPNAM_LEN)
        return RTR_STS_INVRCPNAM;
    if (server && (numseg == 0 || numseg > RTR_MAX_NUMSEG))
        return RTR_STS_INVNUMSEG;
    if (server && pkeyseg == RTR_NO_PKEYSEG)
        return RTR_STS_INVPKEYSEG;
    if ((sts = rtrl_parse_events(pevtnum, &events, &nevents)) != RTR_STS_OK)
        return sts;
    if ((sts = rtrl_ctx_get(true, &ctx)) != RTR_STS_OK) {
        free(events);
        return sts;
    }
    if (facnam != RTR_DEFAULT_FACNAM && strcasecmp(facnam, ctx->fac->name) != 0) {
        sts = RTR_STS_INVFACNAM;
        goto out;
    }
    if (server && ctx->backend == NULL) {
        RTR_LOG(CMN_LOG_ERR, "RTR-NODE", "no backend for server channels: set RTR_NODE");
        sts = RTR_STS_CONFIG;
        goto out;
    }
    if ((ch = rtrl_chan_alloc(ctx)) == NULL) {
        sts = RTR_STS_TOOMANYCHA;
        goto out;
    }
    ch->server = server;
    ch->flags = flags;
    if (rcpnam != RTR_NO_RCPNAM)
        strcpy(ch->rcpnam, rcpnam); /* length checked above */
    ch->events = events;            /* the channel owns them now */
    ch->nevents = nevents;
    events = NULL;
    if (server && (sts = rtrl_server_range(ctx->fac, numseg, pkeyseg, ch)) != RTR_STS_OK)
        goto fail;
    ctx->want[server ? RTRL_LINK_BACKEND : RTRL_LINK_ROUTER] = true;
    if ((sts = rtrl_send_channel_open(ctx, ch)) != RTR_STS_OK)
        goto fail;
    *pchannel = ch->id;
    goto out;
fail:
    rtrl_chan_release(ctx, ch);
out:
    rtrl_ctx_put(ctx);
    free(events);
    return sts;
}

rtr_status_t
rtr_close_channel(rtr_channel_t channel, rtr_clo_flag_t flags)
{
    Rtr__Envelope env = RTR__ENVELOPE__INIT;
    Rtr__ChannelClose m = RTR__CHANNEL_CLOSE__INIT;
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if ((flags & ~RTR_F_CLO_IMMEDIATE) != 0)
        return RTR_STS_INVFLAGS;
    if ((sts = rtrl_api_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    if (ch->state != RTRL_CH_CLOSED) {
        m.channel = ch->id;
        env.body_case = RTR__ENVELOPE__BODY_CHANNEL_CLOSE;
        env.channel_close = &m;
        (void)rtrl_post(ctx, ch->server ? RTRL_LINK_BACKEND : RTRL_LINK_ROUTER, &env);
    }
    rtrl_chan_release(ctx, ch);
    pthread_cond_broadcast(ctx->cond); /* receivers waiting on it return INVCHANNEL */
    rtrl_ctx_put(ctx);
    return RTR_STS_OK;
}

/* ---- client transactions ----------------------------------------------------------------- */

static rtr_status_t
rtrl_tx_new(rtrl_ctx_t *ctx, rtrl_chan_t *ch, rtr_timout_t timoutms)
{
    rtrl_ctx_tx_t *tx = calloc(1, sizeof *tx);
    rtr_status_t sts;

    if (tx == NULL)
        return RTR_STS_NOMEM;
    if ((sts = rtrl_tid_next(ctx, &tx->tid)) != RTR_STS_OK) {
        free(tx);
        return sts;
    }
    cmn_tid_pack(&tx->tid, tx->tidb);
    tx->state = RTRL_CTX_ACTIVE;
    if (timoutms > 0) {
        tx->timeout_ms = (uint32_t)timoutms;
        tx->deadline_ns = cmn_now_mono_ns() + (uint64_t)timoutms * 1000000u;
    }
    memcpy(ch->last_tid, tx->tidb, 16);
    ch->has_tid = true;
    ch->tx = tx;
    return RTR_STS_OK;
}

/* rtrl_client_chan - common checks of the client calls; lock held on RTR_STS_OK. */
static rtr_status_t
rtrl_client_chan(rtr_channel_t channel, rtrl_ctx_t **pctx, rtrl_chan_t **pch)
{
    rtr_status_t sts = rtrl_api_chan(channel, pctx, pch);

    if (sts != RTR_STS_OK)
        return sts;
    if ((*pch)->server)
        sts = RTR_STS_INVOP4SRV;
    else if ((*pch)->state != RTRL_CH_OPEN)
        sts = RTR_STS_INVCHANNEL;
    if (sts != RTR_STS_OK)
        rtrl_ctx_put(*pctx);
    return sts;
}

rtr_status_t
rtr_start_tx(rtr_channel_t channel, rtr_sta_flag_t flags, rtr_timout_t timoutms,
             rtr_channel_t joinchan)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if (flags != RTR_NO_FLAGS)
        return RTR_STS_INVFLAGS;
    if (timoutms < RTR_NO_TIMOUTMS)
        return RTR_STS_INVARG;
    if (joinchan != RTR_NO_JOINCHAN)
        return RTR_STS_INVCHANNEL; /* joining another channel's transaction: not supported */
    if ((sts = rtrl_client_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    if (ch->tx != NULL)
        sts = RTR_STS_BUSY;
    else
        sts = rtrl_tx_new(ctx, ch, timoutms);
    rtrl_ctx_put(ctx);
    return sts;
}

/* rtrl_msgs_append - append a copy of (pmsg, msglen, flags) to a message list that grows by
 * doubling: a client transaction's messages or a server transaction's replies, kept until the
 * outcome for resending. RTR_STS_NOMEM leaves the list as it was. */
static rtr_status_t
rtrl_msgs_append(rtrl_msg_t **msgs, uint32_t *n, uint32_t *cap, const void *pmsg,
                 rtr_msglen_t msglen, uint32_t flags)
{
    rtrl_msg_t *m;

    if (*n == *cap) {
        uint32_t ncap = *cap ? 2 * *cap : 4;
        if ((m = realloc(*msgs, ncap * sizeof *m)) == NULL)
            return RTR_STS_NOMEM;
        *msgs = m;
        *cap = ncap;
    }
    m = &(*msgs)[*n];
    if ((m->body = rtrl_dup(pmsg, msglen)) == NULL)
        return RTR_STS_NOMEM;
    m->len = msglen;
    m->flags = flags;
    m->sent = false;
    (*n)++;
    return RTR_STS_OK;
}

rtr_status_t
rtr_send_to_server(rtr_channel_t channel, rtr_sen_flag_t flags, rtr_msgbuf_t pmsg,
                   rtr_msglen_t msglen, rtr_msgfmt_t msgfmt)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtrl_ctx_tx_t *tx;
    rtr_status_t sts;

    (void)msgfmt; /* formats are opaque to RTR and not converted */
    if ((flags & ~RTRL_SEN_FLAGS) != 0)
        return RTR_STS_INVFLAGS;
    if (msglen > RTR_MAX_MSGLEN)
        return RTR_STS_INVMSGLEN;
    if (pmsg == NULL && msglen > 0)
        return RTR_STS_INVARG;
    if ((sts = rtrl_client_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    if (ch->tx == NULL && (sts = rtrl_tx_new(ctx, ch, RTR_NO_TIMOUTMS)) != RTR_STS_OK)
        goto out; /* the first message starts a transaction implicitly */
    tx = ch->tx;
    if (tx->state != RTRL_CTX_ACTIVE) {
        sts = RTR_STS_BUSY;
        goto out;
    }
    if ((sts = rtrl_msgs_append(&tx->msgs, &tx->nmsgs, &tx->cap, pmsg, msglen, flags)) !=
        RTR_STS_OK)
        goto out;
    if ((sts = rtrl_send_tx_msg(ctx, ch, tx->nmsgs - 1)) != RTR_STS_OK)
        goto out;
    if (flags & RTR_F_SEN_ACCEPT) {
        tx->state = RTRL_CTX_VOTED;
        tx->last_send_ns = cmn_now_mono_ns();
    }
out:
    rtrl_ctx_put(ctx);
    return sts;
}

static rtr_status_t
rtrl_client_vote(rtrl_ctx_t *ctx, rtrl_chan_t *ch, bool accept, rtr_reason_t reason)
{
    rtrl_ctx_tx_t *tx = ch->tx;

    if (tx == NULL)
        return RTR_STS_NOTFOUND;
    if (tx->state != RTRL_CTX_ACTIVE) {
        bool same = accept ? tx->state != RTRL_CTX_REJECTING : tx->state == RTRL_CTX_REJECTING;
        return same ? RTR_STS_OK : RTR_STS_BUSY;
    }
    if (tx->nmsgs == 0) { /* nothing reached the facility: decide here */
        rtrl_client_outcome(ctx, ch, accept, RTR_STS_OK, reason);
        return RTR_STS_OK;
    }
    tx->state = accept ? RTRL_CTX_VOTED : RTRL_CTX_REJECTING;
    tx->last_send_ns = cmn_now_mono_ns();
    return rtrl_send_tx_vote(ctx, ch, accept, reason);
}

/* ---- server transactions ----------------------------------------------------------------- */

static rtr_status_t
rtrl_server_chan_get(rtr_channel_t channel, rtrl_ctx_t **pctx, rtrl_chan_t **pch)
{
    rtr_status_t sts = rtrl_api_chan(channel, pctx, pch);

    if (sts != RTR_STS_OK)
        return sts;
    if (!(*pch)->server)
        sts = RTR_STS_INVOP4CLI;
    else if ((*pch)->state != RTRL_CH_OPEN)
        sts = RTR_STS_INVCHANNEL;
    if (sts != RTR_STS_OK)
        rtrl_ctx_put(*pctx);
    return sts;
}

/* rtrl_server_vote - the server's vote (1 accept, -1 reject) on its transaction in hand;
 * `applied`: an uncertain replay found already committed; `retry`: a reject asking RTR to
 * deliver the transaction again (RTR_F_REJ_RETRY). The same vote again is OK, the opposite
 * BUSY, no transaction in hand NOTFOUND. */
static rtr_status_t
rtrl_server_vote(rtrl_ctx_t *ctx, rtrl_chan_t *ch, int vote, rtr_reason_t reason, bool applied,
                 bool retry)
{
    rtrl_stx_t *stx = ch->stx;

    if (stx == NULL || stx->outcome)
        return RTR_STS_NOTFOUND;
    if (stx->vote != 0)
        return stx->vote == vote ? RTR_STS_OK : RTR_STS_BUSY;
    stx->vote = vote;
    stx->reason = reason;
    stx->already_applied = applied;
    stx->retry = retry;
    /* The backend keeps an early vote until its vote request arrives (protocol.md §6). */
    return rtrl_send_server_vote(ctx, ch);
}

rtr_status_t
rtr_reply_to_client(rtr_channel_t channel, rtr_rep_flag_t flags, rtr_msgbuf_t pmsg,
                    rtr_msglen_t msglen, rtr_msgfmt_t msgfmt)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtrl_stx_t *stx;
    rtr_status_t sts;

    (void)msgfmt;
    if ((flags & ~RTRL_REP_FLAGS) != 0)
        return RTR_STS_INVFLAGS;
    if (msglen > RTR_MAX_MSGLEN)
        return RTR_STS_INVMSGLEN;
    if (pmsg == NULL && msglen > 0)
        return RTR_STS_INVARG;
    if ((sts = rtrl_server_chan_get(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    stx = ch->stx;
    if (stx == NULL || stx->outcome) {
        sts = RTR_STS_NOTFOUND;
        goto out;
    }
    if (stx->vote != 0) {
        sts = RTR_STS_BUSY;
        goto out;
    }
    if ((sts = rtrl_msgs_append(&stx->replies, &stx->nreplies, &stx->cap, pmsg, msglen, flags)) !=
        RTR_STS_OK)
        goto out;
    if ((sts = rtrl_send_server_reply(ctx, ch, stx->nreplies - 1)) != RTR_STS_OK)
        goto out;
    if (flags & RTR_F_REP_ACCEPT)
        sts = rtrl_server_vote(ctx, ch, 1, RTR_NO_REASON, false, false);
out:
    rtrl_ctx_put(ctx);
    return sts;
}

rtr_status_t
rtr_accept_tx(rtr_channel_t channel, rtr_acc_flag_t flags, rtr_reason_t reason)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if ((flags & ~RTRL_ACC_FLAGS) != 0)
        return RTR_STS_INVFLAGS;
    if ((sts = rtrl_api_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    if (ch->state != RTRL_CH_OPEN)
        sts = RTR_STS_INVCHANNEL;
    else if (!ch->server && (flags & RTRX_F_ACC_ALREADY_APPLIED))
        sts = RTR_STS_INVFLAGS;
    else if (ch->server)
        sts =
            rtrl_server_vote(ctx, ch, 1, reason, (flags & RTRX_F_ACC_ALREADY_APPLIED) != 0, false);
    else
        sts = rtrl_client_vote(ctx, ch, true, reason);
    rtrl_ctx_put(ctx);
    return sts;
}

rtr_status_t
rtr_reject_tx(rtr_channel_t channel, rtr_rej_flag_t flags, rtr_reason_t reason)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if ((flags & ~RTRL_REJ_FLAGS) != 0)
        return RTR_STS_INVFLAGS;
    if ((sts = rtrl_api_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    if (ch->state != RTRL_CH_OPEN)
        sts = RTR_STS_INVCHANNEL;
    else if (ch->server)
        sts = rtrl_server_vote(ctx, ch, -1, reason, false, (flags & RTR_F_REJ_RETRY) != 0);
    else if (flags & RTR_F_REJ_RETRY)
        sts = RTR_STS_INVFLAGS; /* a retry is the server's request: RTR delivers it again */
    else
        sts = rtrl_client_vote(ctx, ch, false, reason);
    rtrl_ctx_put(ctx);
    return sts;
}

rtr_status_t
rtr_prepare_tx(rtr_channel_t channel, rtr_pre_flag_t flags, rtr_reason_t reason, rtr_msgbuf_t pmsg,
               rtr_msglen_t msglen)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if (flags != RTR_NO_FLAGS)
        return RTR_STS_INVFLAGS;
    if (msglen > RTR_MAX_MSGLEN)
        return RTR_STS_INVMSGLEN;
    if (pmsg == NULL && msglen > 0)
        return RTR_STS_INVARG;
    if ((sts = rtrl_server_chan_get(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    /* A server's prepare is its vote to commit (the prepare data is not kept). */
    sts = rtrl_server_vote(ctx, ch, 1, reason, false, false);
    rtrl_ctx_put(ctx);
    return sts;
}

/* ---- receiving --------------------------------------------------------------------------- */

/* rtrl_implicit - the server actions a receive performs on a channel it covers. */
static void
rtrl_implicit(rtrl_ctx_t *ctx, rtrl_chan_t *ch)
{
    rtrl_stx_t *stx = ch->stx;
    bool due;

    if (!ch->server || ch->state != RTRL_CH_OPEN || stx == NULL)
        return;
    if (stx->done_pending) {
        if (!stx->orphan)
            (void)rtrl_send_server_done(ctx, ch);
        rtrl_stx_free(stx);
        ch->stx = NULL;
        return;
    }
    if (stx->vote != 0 || stx->outcome || (ch->flags & RTR_F_OPE_EXPLICIT_ACCEPT) ||
        stx->consumed != stx->queued)
        return;
    due = (ch->flags & RTR_F_OPE_EXPLICIT_PREPARE) ? stx->prepare_queued
                                                   : (stx->vote_requested || stx->last_seen);
    if (due)
        (void)rtrl_server_vote(ctx, ch, 1, RTR_NO_REASON, false, false);
}

static bool
rtrl_in_list(const rtr_channel_t *list, size_t n, uint32_t id)
{
    if (list == RTR_ANYCHAN)
        return true;
    for (size_t i = 0; i < n; i++)
        if (list[i] == id)
            return true;
    return false;
}

/* rtrl_list_check - every listed channel exists (and, for ANYCHAN, at least one does). */
static bool
rtrl_list_check(rtrl_ctx_t *ctx, const rtr_channel_t *list, size_t n)
{
    if (list == RTR_ANYCHAN) {
        for (size_t i = 0; i < RTR_MAX_CHANNELS; i++)
            if (ctx->chans[i].state != RTRL_CH_FREE)
                return true;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (rtrl_chan_find(ctx, list[i]) == NULL)
            return false;
    return true;
}

/* rtrl_take - hand the first matching event to the application; false if none waits. */
static bool
rtrl_take(rtrl_ctx_t *ctx, const rtr_channel_t *list, size_t n, rtr_channel_t *pchannel,
          rtr_msgbuf_t pmsg, rtr_msglen_t maxlen, rtr_msgsb_t *pmsgsb, rtr_status_t *sts)
{
    rtrl_evt_t **pp = &ctx->qhead, *prev = NULL, *ev;
    rtrl_chan_t *ch;
    bool status_body;
    uint32_t need;

    while (*pp != NULL && !rtrl_in_list(list, n, (*pp)->channel)) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if ((ev = *pp) == NULL)
        return false;
    ch = rtrl_chan_find(ctx, ev->channel);
    status_body = ev->type == rtr_mt_opened || ev->type == rtr_mt_closed ||
                  ev->type == rtr_mt_accepted || ev->type == rtr_mt_rejected;
    need = status_body ? (uint32_t)sizeof(rtr_status_data_t) : ev->len;
    memset(pmsgsb, 0, sizeof *pmsgsb);
    pmsgsb->msgtype = ev->type;
    pmsgsb->usrhdl = ch != NULL ? ch->usrhdl : NULL;
    pmsgsb->msglen = need;
    memcpy(pmsgsb->tid.tid_bytes, ev->tidb, 16);
    pmsgsb->evtnum = ev->evtnum;
    *pchannel = ev->channel;
    if (need > maxlen) { /* the message stays queued: call again with a larger buffer */
        *sts = RTR_STS_BUFTOOSMALL;
        return true;
    }
    if (status_body)
        memcpy(pmsg, &ev->sd, sizeof ev->sd);
    else if (ev->len > 0)
        memcpy(pmsg, ev->body, ev->len);
    *pp = ev->next;
    if (ctx->qtail == ev)
        ctx->qtail = prev;
    rtrl_evt_taken(ctx, ev);
    free(ev->body);
    free(ev);
    *sts = RTR_STS_OK;
    return true;
}

rtr_status_t
rtr_receive_message(rtr_channel_t *pchannel, rtr_rcv_flag_t flags, rtr_channel_t *prcvchan,
                    rtr_msgbuf_t pmsg, rtr_msglen_t maxlen, rtr_timout_t timoutms,
                    rtr_msgsb_t *pmsgsb)
{
    rtrl_ctx_t *ctx;
    size_t n = 0;
    struct timespec dl;
    rtr_status_t sts;

    if (flags != RTR_NO_FLAGS)
        return RTR_STS_INVFLAGS;
    if (pchannel == NULL || pmsgsb == NULL || (pmsg == NULL && maxlen > 0) ||
        timoutms < RTR_NO_TIMOUTMS)
        return RTR_STS_INVARG;
    if (prcvchan != RTR_ANYCHAN) {
        while (n <= RTR_MAX_CHANNELS && prcvchan[n] != RTR_CHAN_ENDLIST)
            n++;
        if (n == 0 || n > RTR_MAX_CHANNELS)
            return RTR_STS_INVCHANNEL;
    }
    if ((sts = rtrl_ctx_get(false, &ctx)) != RTR_STS_OK)
        return sts;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timoutms > 0) {
        dl.tv_sec += timoutms / 1000;
        dl.tv_nsec += (long)(timoutms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    for (;;) {
        if (!rtrl_list_check(ctx, prcvchan, n)) {
            sts = RTR_STS_INVCHANNEL;
            break;
        }
        for (size_t i = 0; i < RTR_MAX_CHANNELS; i++)
            if (ctx->chans[i].state != RTRL_CH_FREE && rtrl_in_list(prcvchan, n, ctx->chans[i].id))
                rtrl_implicit(ctx, &ctx->chans[i]);
        if (rtrl_take(ctx, prcvchan, n, pchannel, pmsg, maxlen, pmsgsb, &sts))
            break;
        if (timoutms == 0) {
            sts = RTR_STS_TIMOUT;
            break;
        }
        if (timoutms == RTR_NO_TIMOUTMS)
            pthread_cond_wait(ctx->cond, ctx->lock);
        else if (pthread_cond_timedwait(ctx->cond, ctx->lock, &dl) != 0) {
            if (!rtrl_take(ctx, prcvchan, n, pchannel, pmsg, maxlen, pmsgsb, &sts))
                sts = RTR_STS_TIMOUT;
            break;
        }
    }
    rtrl_ctx_put(ctx);
    return sts;
}

/* ---- small calls ------------------------------------------------------------------------- */

rtr_status_t
rtr_get_tid(rtr_channel_t channel, rtr_tid_flag_t flags, rtr_tid_t *ptid)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if (flags != RTR_NO_FLAGS)
        return RTR_STS_INVFLAGS;
    if (ptid == NULL)
        return RTR_STS_INVARG;
    if ((sts = rtrl_api_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    if (ch->has_tid) /* the current transaction's, else the channel's last one */
        memcpy(ptid->tid_bytes, ch->last_tid, 16);
    else
        sts = RTR_STS_NOTFOUND;
    rtrl_ctx_put(ctx);
    return sts;
}

rtr_status_t
rtr_set_user_handle(rtr_channel_t channel, rtr_usrhdl_t usrhdl)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts = rtrl_api_chan(channel, &ctx, &ch);

    if (sts != RTR_STS_OK)
        return sts;
    ch->usrhdl = usrhdl;
    rtrl_ctx_put(ctx);
    return RTR_STS_OK;
}

rtr_status_t
rtr_set_user_context(rtr_channel_t channel, rtr_usrctx_t usrctx)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts = rtrl_api_chan(channel, &ctx, &ch);

    if (sts != RTR_STS_OK)
        return sts;
    ch->usrctx = usrctx;
    rtrl_ctx_put(ctx);
    return RTR_STS_OK;
}

rtr_status_t
rtr_get_user_context(rtr_channel_t channel, rtr_usrctx_t *pusrctx)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if (pusrctx == NULL)
        return RTR_STS_INVARG;
    if ((sts = rtrl_api_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    *pusrctx = ch->usrctx;
    rtrl_ctx_put(ctx);
    return RTR_STS_OK;
}

rtr_status_t
rtr_broadcast_event(rtr_channel_t channel, rtr_bro_flag_t flags, rtr_msgbuf_t pmsg,
                    rtr_msglen_t msglen, rtr_evtnum_t evtnum, rtr_rcpspc_t rcpspc,
                    rtr_msgfmt_t msgfmt)
{
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    (void)msgfmt; /* formats are opaque to RTR and not converted */
    if (flags != RTR_NO_FLAGS)
        return RTR_STS_INVFLAGS;
    if (msglen > RTR_MAX_MSGLEN)
        return RTR_STS_INVMSGLEN;
    if (pmsg == NULL && msglen > 0)
        return RTR_STS_INVARG;
    if (evtnum > RTR_EVTNUM_USERMAX)
        return RTR_STS_INVEVTNUM; /* only user events may be broadcast */
    if (rcpspc != RTR_NO_RCPSPC && strnlen(rcpspc, RTRL_MAX_RCPSPC + 1) > RTRL_MAX_RCPSPC)
        return RTR_STS_INVRCPNAM;
    if ((sts = rtrl_api_chan(channel, &ctx, &ch)) != RTR_STS_OK)
        return sts;
    if (ch->state != RTRL_CH_OPEN)
        sts = RTR_STS_INVCHANNEL;
    else
        sts = rtrl_send_broadcast(ctx, ch, evtnum, pmsg, msglen, rcpspc);
    rtrl_ctx_put(ctx);
    return sts;
}

rtr_status_t
rtrx_query_outcome(const rtr_tid_t *ptid, rtr_timout_t timoutms, rtrx_outcome_t *poutcome,
                   rtr_status_data_t *pstatus)
{
    rtrl_ctx_t *ctx;
    rtrl_query_t q, **pp;
    struct timespec dl;
    rtr_status_t sts;

    if (ptid == NULL || poutcome == NULL || timoutms < RTR_NO_TIMOUTMS)
        return RTR_STS_INVARG;
    if ((sts = rtrl_ctx_get(true, &ctx)) != RTR_STS_OK)
        return sts;
    memset(&q, 0, sizeof q);
    q.id = ctx->next_query_id++;
    memcpy(q.tidb, ptid->tid_bytes, 16);
    q.next = ctx->queries;
    ctx->queries = &q;
    ctx->want[RTRL_LINK_ROUTER] = true;
    (void)rtrl_send_tx_query(ctx, q.tidb, q.id);
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timoutms / 1000;
    dl.tv_nsec += (long)(timoutms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (!q.done) {
        if (timoutms == RTR_NO_TIMOUTMS)
            pthread_cond_wait(ctx->cond, ctx->lock);
        else if (timoutms == 0 || pthread_cond_timedwait(ctx->cond, ctx->lock, &dl) != 0)
            break;
    }
    for (pp = &ctx->queries; *pp != NULL; pp = &(*pp)->next)
        if (*pp == &q) {
            *pp = q.next;
            break;
        }
    if (!q.done)
        sts = RTR_STS_TIMOUT;
    else {
        sts = q.sts;
        *poutcome = q.outcome;
        if (pstatus != NULL)
            *pstatus = q.sd;
    }
    rtrl_ctx_put(ctx);
    return sts;
}
