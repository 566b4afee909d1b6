/*
 * rtr_ctx.c - librtr's process-wide context: creation, the I/O thread, the outbox, the
 * application queue, TIDs, and the rtrx_ process-level extensions.
 *
 * Design note. The RTR API has no context argument, so the context is the one justified
 * process global (rtrl_g): pthread_once makes the mutex and condition variable, and the context
 * itself is created under the mutex at the first rtr_open_channel, so that a bad facility file
 * fails that call (and a later call may succeed once the file is fixed). One mutex protects
 * everything; the I/O thread holds it while it handles frames and timers, and releases it only
 * in zmq_poll. The sockets belong to the I/O thread: API threads put encoded envelopes in the
 * outbox and write the wake eventfd. Messages for the application go to one queue; app_fd (an
 * eventfd) is readable exactly while that queue is non-empty.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "rtr_impl.h"

static struct {
    pthread_once_t once;
    pthread_mutex_t lock; /* creation and the settings below; ctx->lock is the same mutex */
    rtrl_ctx_t *ctx;
    bool dead; /* after rtrx_shutdown */
    uint64_t incarnation;
    char *counter_file;
    rtrx_log_fn *hook;
    void *hook_arg;
    pthread_cond_t cond;
} rtrl_g = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- logging: never print ---------------------------------------------------------------- */

static void
rtrl_log_sink(void *arg, cmn_log_level_t level, const char *line)
{
    (void)arg;
    rtrx_log_fn *fn = __atomic_load_n(&rtrl_g.hook, __ATOMIC_ACQUIRE);
    if (fn != NULL)
        fn(__atomic_load_n(&rtrl_g.hook_arg, __ATOMIC_ACQUIRE), (int)level, line);
}

static void
rtrl_once(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rtrl_g.cond, &ca);
    pthread_condattr_destroy(&ca);
    /* The library never prints: every line of common/proto goes to the hook or nowhere. */
    cmn_log_set_hook(rtrl_log_sink, NULL);
    cmn_log_set_level(CMN_LOG_ERR);
}

void
rtrx_set_log_hook(rtrx_log_fn *fn, void *arg, int level)
{
    pthread_once(&rtrl_g.once, rtrl_once);
    __atomic_store_n(&rtrl_g.hook_arg, arg, __ATOMIC_RELEASE);
    __atomic_store_n(&rtrl_g.hook, fn, __ATOMIC_RELEASE);
    if (level < CMN_LOG_EMERG)
        level = CMN_LOG_EMERG;
    if (level > CMN_LOG_DEBUG)
        level = CMN_LOG_DEBUG;
    cmn_log_set_level((cmn_log_level_t)level);
}

/* ---- TIDs and the incarnation ------------------------------------------------------------ */

/* rtrl_counter_reserve - write the end of the next counter block to the counter file and fsync
 * it before any TID of the block is used (so a restart never reuses one). */
static rtr_status_t
rtrl_counter_reserve(const char *path, uint64_t end)
{
    char tmp[4096], text[32];
    int fd, n;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return RTR_STS_INVARG;
    n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)end);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return RTR_STS_IOERR;
    if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        close(fd);
        return RTR_STS_IOERR;
    }
    close(fd);
    if (rename(tmp, path) != 0)
        return RTR_STS_IOERR;
    return RTR_STS_OK;
}

rtr_status_t
rtrl_tid_next(rtrl_ctx_t *ctx, cmn_tid_t *tid)
{
    if (ctx->counter_file != NULL && ctx->counter >= ctx->counter_end) {
        rtr_status_t sts =
            rtrl_counter_reserve(ctx->counter_file, ctx->counter_end + RTRL_COUNTER_BLOCK);
        if (sts != RTR_STS_OK) {
            RTR_LOG(CMN_LOG_ERR, "RTR-COUNTER", "file=%s sts=%s", ctx->counter_file,
                    rtr_status_name(sts));
            return sts;
        }
        ctx->counter_end += RTRL_COUNTER_BLOCK;
    }
    tid->incarnation = ctx->incarnation;
    tid->counter = ctx->counter++;
    return RTR_STS_OK;
}

rtr_status_t
rtrx_set_incarnation(rtr_uns_64_t incarnation, const char *counter_file)
{
    rtr_status_t sts = RTR_STS_OK;

    if (incarnation == 0)
        return RTR_STS_INVARG;
    pthread_once(&rtrl_g.once, rtrl_once);
    pthread_mutex_lock(&rtrl_g.lock);
    if (rtrl_g.ctx != NULL || rtrl_g.dead) {
        sts = RTR_STS_BUSY;
        goto out;
    }
    free(rtrl_g.counter_file);
    rtrl_g.counter_file = NULL;
    if (counter_file != NULL && (rtrl_g.counter_file = strdup(counter_file)) == NULL) {
        sts = RTR_STS_NOMEM;
        goto out;
    }
    rtrl_g.incarnation = incarnation;
out:
    pthread_mutex_unlock(&rtrl_g.lock);
    return sts;
}

/* rtrl_counter_load - the first counter of this run: after the last reserved block. */
static rtr_status_t
rtrl_counter_load(rtrl_ctx_t *ctx)
{
    FILE *f = fopen(ctx->counter_file, "re");
    unsigned long long v = 0;

    if (f == NULL)
        ctx->counter = 1;
    else {
        int ok = fscanf(f, "%llu", &v);
        fclose(f);
        if (ok != 1)
            return RTR_STS_IOERR;
        ctx->counter = v;
    }
    ctx->counter_end = ctx->counter; /* the first TID reserves a block */
    return RTR_STS_OK;
}

uint64_t
rtrl_watermark(rtrl_ctx_t *ctx)
{
    uint64_t w = ctx->counter;
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++) {
        const rtrl_chan_t *ch = &ctx->chans[i];
        if (ch->state != RTRL_CH_FREE && ch->tx != NULL && ch->tx->tid.counter < w)
            w = ch->tx->tid.counter;
    }
    return w;
}

/* ---- channels ---------------------------------------------------------------------------- */

rtrl_chan_t *
rtrl_chan_find(rtrl_ctx_t *ctx, rtr_channel_t id)
{
    if (id == 0 || id == RTR_CHAN_ENDLIST || id == RTR_NO_JOINCHAN)
        return NULL;
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++)
        if (ctx->chans[i].state != RTRL_CH_FREE && ctx->chans[i].id == id)
            return &ctx->chans[i];
    return NULL;
}

void
rtrl_ctx_tx_free(rtrl_ctx_tx_t *tx)
{
    if (tx == NULL)
        return;
    for (uint32_t i = 0; i < tx->nmsgs; i++)
        free(tx->msgs[i].body);
    free(tx->msgs);
    free(tx);
}

void
rtrl_stx_free(rtrl_stx_t *stx)
{
    if (stx == NULL)
        return;
    for (uint32_t i = 0; i < stx->nreplies; i++)
        free(stx->replies[i].body);
    free(stx->replies);
    free(stx);
}

void
rtrl_chan_release(rtrl_ctx_t *ctx, rtrl_chan_t *ch)
{
    rtrl_evt_drop_channel(ctx, ch->id);
    rtrl_ctx_tx_free(ch->tx);
    rtrl_stx_free(ch->stx);
    free(ch->events);
    free(ch->key_low);
    free(ch->key_high);
    free(ch->partition);
    memset(ch, 0, sizeof *ch);
}

/* ---- the application queue --------------------------------------------------------------- */

static void
rtrl_fd_set(int fd, bool readable)
{
    uint64_t v = 1;
    ssize_t r;
    if (readable)
        r = write(fd, &v, sizeof v);
    else
        r = read(fd, &v, sizeof v);
    (void)r; /* EAGAIN: already in the wanted state */
}

/* rtrl_evt_push_ex - queue an event for the application (takes ownership of body). */
static void
rtrl_evt_push_ex(rtrl_ctx_t *ctx, uint32_t channel, rtr_msg_type_t type, const uint8_t *tidb,
                 uint8_t *body, uint32_t len, rtr_status_t sts, rtr_reason_t reason,
                 rtr_evtnum_t evtnum)
{
    rtrl_evt_t *ev = calloc(1, sizeof *ev);
    if (ev == NULL) {
        free(body);
        RTR_LOG(CMN_LOG_CRIT, "RTR-NOMEM", "what=event channel=%u", channel);
        return;
    }
    ev->channel = channel;
    ev->type = type;
    if (tidb != NULL)
        memcpy(ev->tidb, tidb, 16);
    ev->body = body;
    ev->len = len;
    ev->sd.status = sts;
    ev->sd.reason = reason;
    ev->evtnum = evtnum;
    if (ctx->qtail != NULL)
        ctx->qtail->next = ev;
    else
        ctx->qhead = ev;
    ctx->qtail = ev;
    if (ctx->qlen++ == 0)
        rtrl_fd_set(ctx->app_fd, true);
    ctx->pushed = true;
    pthread_cond_broadcast(ctx->cond);
}

void
rtrl_evt_push(rtrl_ctx_t *ctx, uint32_t channel, rtr_msg_type_t type, const uint8_t *tidb,
              uint8_t *body, uint32_t len, rtr_status_t sts, rtr_reason_t reason)
{
    rtrl_evt_push_ex(ctx, channel, type, tidb, body, len, sts, reason, 0);
}

void
rtrl_evt_push_event(rtrl_ctx_t *ctx, uint32_t channel, rtr_evtnum_t evtnum, uint8_t *body,
                    uint32_t len)
{
    rtrl_evt_push_ex(ctx, channel, rtr_mt_user_event, NULL, body, len, RTR_STS_OK, 0, evtnum);
}

void
rtrl_evt_push_rtr_event(rtrl_ctx_t *ctx, uint32_t channel, rtr_evtnum_t evtnum, uint8_t *body,
                        uint32_t len)
{
    rtrl_evt_push_ex(ctx, channel, rtr_mt_rtr_event, NULL, body, len, RTR_STS_OK, 0, evtnum);
}

bool
rtrl_match(const char *pat, const char *s, bool nocase)
{
    const char *star = NULL, *resume = NULL;

    while (*s != '\0') {
        if (*pat == '*') { /* remember where to retry with one more character eaten */
            star = pat++;
            resume = s;
        } else if (*pat != '\0' &&
                   (*pat == '%' || *pat == *s ||
                    (nocase && tolower((unsigned char)*pat) == tolower((unsigned char)*s)))) {
            pat++;
            s++;
        } else if (star != NULL) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* rtrl_evt_drop - drop the queued events of a channel (of one transaction if tidb != NULL). */
static void
rtrl_evt_drop(rtrl_ctx_t *ctx, uint32_t channel, const uint8_t *tidb)
{
    rtrl_evt_t **pp = &ctx->qhead, *last = NULL;
    while (*pp != NULL) {
        rtrl_evt_t *ev = *pp;
        if (ev->channel == channel && (tidb == NULL || memcmp(ev->tidb, tidb, 16) == 0)) {
            *pp = ev->next;
            free(ev->body);
            free(ev);
            if (--ctx->qlen == 0)
                rtrl_fd_set(ctx->app_fd, false);
        } else {
            last = ev;
            pp = &ev->next;
        }
    }
    ctx->qtail = last;
}

void
rtrl_evt_drop_channel(rtrl_ctx_t *ctx, uint32_t channel)
{
    rtrl_evt_drop(ctx, channel, NULL);
}

void
rtrl_evt_drop_tx(rtrl_ctx_t *ctx, uint32_t channel, const uint8_t *tidb)
{
    rtrl_evt_drop(ctx, channel, tidb);
}

void
rtrl_evt_taken(rtrl_ctx_t *ctx, rtrl_evt_t *ev)
{
    rtrl_chan_t *ch = rtrl_chan_find(ctx, ev->channel);

    if (--ctx->qlen == 0)
        rtrl_fd_set(ctx->app_fd, false);
    if (ch == NULL)
        return;
    if (ch->server && ch->stx != NULL && memcmp(ch->stx->tidb, ev->tidb, 16) == 0) {
        ch->stx->consumed++;
        if (ev->type == rtr_mt_accepted || ev->type == rtr_mt_rejected)
            ch->stx->done_pending = true; /* ServerDone on the next receive */
    }
    if (ev->type == rtr_mt_closed)
        rtrl_chan_release(ctx, ch);
}

/* ---- the outbox -------------------------------------------------------------------------- */

rtr_status_t
rtrl_post(rtrl_ctx_t *ctx, int link, Rtr__Envelope *env)
{
    rtrl_out_t *o = calloc(1, sizeof *o);
    rtr_status_t sts;
    uint64_t one = 1;

    Rtr__Envelope__BodyCase body_case = env->body_case;
    Rtr__Heartbeat *body = env->heartbeat; /* the body union: all members are pointers */

    if (o == NULL)
        return RTR_STS_NOMEM;
    /* wire_envelope_init resets the whole envelope: put the body back afterwards. */
    wire_envelope_init(env, ctx->id[link], 0, ctx->incarnation,
                       link == RTRL_LINK_ROUTER ? RTR__ROLE__ROLE_CLIENT : RTR__ROLE__ROLE_SERVER);
    env->body_case = body_case;
    env->heartbeat = body;
    sts = wire_encode(&env->base, (size_t)ctx->fac->settings.max_frame_bytes, &o->buf, &o->len);
    if (sts != RTR_STS_OK) {
        free(o);
        return sts;
    }
    o->link = link;
    if (ctx->otail != NULL)
        ctx->otail->next = o;
    else
        ctx->ohead = o;
    ctx->otail = o;
    if (write(ctx->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        RTR_LOG(CMN_LOG_ERR, "RTR-WAKE", "errno=%d", errno);
    return RTR_STS_OK;
}

/* rtrl_link_open - (re)create a link's DEALER and connect it (I/O thread). */
static void
rtrl_link_open(rtrl_ctx_t *ctx, int link, uint64_t now)
{
    const char *ep;
    int zero = 0;

    if (ctx->sock[link] != NULL) {
        zmq_close(ctx->sock[link]);
        ctx->sock[link] = NULL;
    }
    if (link == RTRL_LINK_ROUTER)
        ep = ctx->fac->routers[ctx->router_idx % ctx->fac->nrouters].clients;
    else
        ep = ctx->backend->servers;
    ctx->sock[link] = zmq_socket(ctx->zctx, ZMQ_DEALER);
    if (ctx->sock[link] == NULL) {
        RTR_LOG(CMN_LOG_ERR, "RTR-SOCKET", "errno=%d", zmq_errno());
        return;
    }
    zmq_setsockopt(ctx->sock[link], ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(ctx->sock[link], ZMQ_ROUTING_ID, ctx->id[link], strlen(ctx->id[link]));
    /* a connecting DEALER: no libzmq limit (one oversize frame would end the link for good);
     * the decoder refuses and counts frames above max_frame_bytes */
    wire_zmq_limit(ctx->sock[link], (size_t)ctx->fac->settings.max_frame_bytes, false);
    if (zmq_connect(ctx->sock[link], ep) != 0)
        RTR_LOG(CMN_LOG_ERR, "RTR-CONNECT", "endpoint=%s errno=%d", ep, zmq_errno());
    ctx->last_rx_ns[link] = now; /* the peer gets one failure timeout to answer */
    ctx->peer_inc[link] = 0;
    RTR_LOG(CMN_LOG_INFO, "RTR-LINK", "link=%s endpoint=%s",
            link == RTRL_LINK_ROUTER ? "router" : "backend", ep);
}

/* rtrl_flush - send the outbox (I/O thread). A frame that cannot be sent now is dropped:
 * every stream is resent by its source on NACK or timeout (docs/protocol.md). */
static void
rtrl_flush(rtrl_ctx_t *ctx, uint64_t now)
{
    rtrl_out_t *o;
    while ((o = ctx->ohead) != NULL) {
        ctx->ohead = o->next;
        if (ctx->ohead == NULL)
            ctx->otail = NULL;
        if (ctx->sock[o->link] == NULL && ctx->want[o->link])
            rtrl_link_open(ctx, o->link, now);
        if (ctx->sock[o->link] != NULL &&
            zmq_send(ctx->sock[o->link], o->buf, o->len, ZMQ_DONTWAIT) < 0)
            RTR_LOG(CMN_LOG_WARNING, "RTR-SEND", "link=%d errno=%d", o->link, zmq_errno());
        free(o->buf);
        free(o);
    }
}

/* ---- the I/O thread ---------------------------------------------------------------------- */

static void
rtrl_drain(rtrl_ctx_t *ctx, int link)
{
    for (int n = 0; n < 1000 && ctx->sock[link] != NULL; n++) {
        Rtr__Envelope *env = NULL;
        rtr_status_t sts = wire_zmq_recv_max(ctx->sock[link], NULL, &ctx->ctr[link],
                                             (size_t)ctx->fac->settings.max_frame_bytes, &env);
        if (sts == RTR_STS_BUSY)
            break;
        if (sts != RTR_STS_OK) {
            RTR_LOG(CMN_LOG_WARNING, "RTR-BADFRAME", "link=%d sts=%s", link, rtr_status_name(sts));
            continue;
        }
        rtrl_handle(ctx, link, env);
        wire_free((ProtobufCMessage **)&env);
    }
}

static void *
rtrl_io_main(void *arg)
{
    rtrl_ctx_t *ctx = arg;
    uint64_t v;

    pthread_mutex_lock(ctx->lock);
    while (!ctx->stop) {
        zmq_pollitem_t it[3];
        int n = 0, tick = (int)(ctx->heartbeat_ns / 1000000u);
        void (*wakeup)(void) = NULL;

        if (tick > 50)
            tick = 50;
        it[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = ctx->wake_fd, .events = ZMQ_POLLIN };
        for (int l = 0; l < RTRL_NLINKS; l++)
            if (ctx->sock[l] != NULL)
                it[n++] = (zmq_pollitem_t){ .socket = ctx->sock[l], .events = ZMQ_POLLIN };
        if (ctx->pushed) {
            ctx->pushed = false;
            wakeup = ctx->wakeup;
        }
        pthread_mutex_unlock(ctx->lock);
        if (wakeup != NULL)
            wakeup(); /* RTR's wakeup routine, called without the lock */
        zmq_poll(it, n, tick);
        if (read(ctx->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            RTR_LOG(CMN_LOG_ERR, "RTR-WAKE", "errno=%d", errno);
        pthread_mutex_lock(ctx->lock);
        if (ctx->stop)
            break;
        uint64_t now = cmn_now_mono_ns();
        for (int l = 0; l < RTRL_NLINKS; l++) {
            if (ctx->want[l] && ctx->sock[l] == NULL)
                rtrl_link_open(ctx, l, now);
            rtrl_drain(ctx, l);
        }
        rtrl_timers(ctx, cmn_now_mono_ns());
        rtrl_flush(ctx, now);
    }
    pthread_mutex_unlock(ctx->lock);
    return NULL;
}

/* ---- creation ------------------------------------------------------------------------------ */

static void
rtrl_ctx_free(rtrl_ctx_t *ctx)
{
    if (ctx == NULL)
        return;
    for (size_t i = 0; i < RTR_MAX_CHANNELS; i++)
        if (ctx->chans[i].state != RTRL_CH_FREE)
            rtrl_chan_release(ctx, &ctx->chans[i]);
    while (ctx->qhead != NULL) {
        rtrl_evt_t *ev = ctx->qhead;
        ctx->qhead = ev->next;
        free(ev->body);
        free(ev);
    }
    while (ctx->ohead != NULL) {
        rtrl_out_t *o = ctx->ohead;
        ctx->ohead = o->next;
        free(o->buf);
        free(o);
    }
    for (int l = 0; l < RTRL_NLINKS; l++)
        if (ctx->sock[l] != NULL)
            zmq_close(ctx->sock[l]);
    if (ctx->zctx != NULL)
        zmq_ctx_term(ctx->zctx);
    if (ctx->wake_fd >= 0)
        close(ctx->wake_fd);
    if (ctx->app_fd >= 0)
        close(ctx->app_fd);
    cmn_facility_free(&ctx->fac);
    free(ctx->counter_file);
    free(ctx);
}

static rtr_status_t
rtrl_ctx_create(rtrl_ctx_t **out)
{
    rtrl_ctx_t *ctx = calloc(1, sizeof *ctx);
    const char *path = getenv("RTR_CONFIG"), *node = getenv("RTR_NODE");
    cmn_load_opts_t opts = { .journal_check = CMN_JOURNAL_CHECK_NONE, .node = NULL };
    cmn_diag_t *diag = NULL;
    rtr_status_t sts;

    if (ctx == NULL)
        return RTR_STS_NOMEM;
    ctx->wake_fd = ctx->app_fd = -1;
    if (path == NULL || *path == '\0')
        path = "/etc/rtr/facility.conf";
    sts = cmn_facility_load_ex(path, &opts, &ctx->fac, &diag);
    if (sts != RTR_STS_OK) {
        RTR_LOG(CMN_LOG_ERR, "RTR-CONFIG", "file=%s error=\"%s\"", path,
                diag != NULL && diag->error != NULL ? diag->error : rtr_error_text(sts));
        cmn_diag_free(&diag);
        sts = sts == RTR_STS_NOMEM ? sts : RTR_STS_CONFIG;
        goto fail;
    }
    cmn_diag_free(&diag);
    if (node != NULL && *node != '\0')
        ctx->backend = cmn_facility_backend(ctx->fac, node);
    else if (ctx->fac->nbackends == 1)
        ctx->backend = &ctx->fac->backends[0];
    ctx->heartbeat_ns = (uint64_t)ctx->fac->settings.heartbeat_ms * 1000000u;
    ctx->failure_ns = (uint64_t)ctx->fac->settings.failure_timeout_ms * 1000000u;
    ctx->resend_ns = 2 * ctx->heartbeat_ns; /* resend interval of TxVote / TxQuery */
    if (rtrl_g.incarnation != 0) {
        ctx->incarnation = rtrl_g.incarnation;
        ctx->counter_file = rtrl_g.counter_file;
        rtrl_g.counter_file = NULL;
        ctx->counter = 1;
        if (ctx->counter_file != NULL && (sts = rtrl_counter_load(ctx)) != RTR_STS_OK)
            goto fail;
    } else {
        if ((sts = cmn_incarnation_new(&ctx->incarnation)) != RTR_STS_OK)
            goto fail;
        ctx->counter = 1;
    }
    snprintf(ctx->id[RTRL_LINK_ROUTER], sizeof ctx->id[0], "c-%016llx",
             (unsigned long long)ctx->incarnation);
    snprintf(ctx->id[RTRL_LINK_BACKEND], sizeof ctx->id[0], "s-%016llx",
             (unsigned long long)ctx->incarnation);
    ctx->next_chan_id = 1;
    ctx->next_query_id = 1;
    ctx->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ctx->app_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ctx->zctx = zmq_ctx_new();
    if (ctx->wake_fd < 0 || ctx->app_fd < 0 || ctx->zctx == NULL) {
        sts = RTR_STS_IOERR;
        goto fail;
    }
    zmq_ctx_set(ctx->zctx, ZMQ_IO_THREADS, 1);
    *out = ctx;
    return RTR_STS_OK;
fail:
    rtrl_ctx_free(ctx);
    return sts;
}

rtr_status_t
rtrl_ctx_get(bool create, rtrl_ctx_t **out)
{
    rtr_status_t sts;

    pthread_once(&rtrl_g.once, rtrl_once);
    pthread_mutex_lock(&rtrl_g.lock);
    if (rtrl_g.ctx == NULL) {
        rtrl_ctx_t *ctx = NULL;
        if (!create || rtrl_g.dead) {
            pthread_mutex_unlock(&rtrl_g.lock);
            return RTR_STS_INVCHANNEL;
        }
        if ((sts = rtrl_ctx_create(&ctx)) != RTR_STS_OK) {
            pthread_mutex_unlock(&rtrl_g.lock);
            return sts;
        }
        ctx->lock = &rtrl_g.lock; /* one mutex in all */
        ctx->cond = &rtrl_g.cond;
        rtrl_g.ctx = ctx;
        if (pthread_create(&ctx->thread, NULL, rtrl_io_main, ctx) != 0) {
            rtrl_g.ctx = NULL;
            pthread_mutex_unlock(&rtrl_g.lock);
            rtrl_ctx_free(ctx);
            return RTR_STS_IOERR;
        }
        ctx->thread_started = true;
    }
    *out = rtrl_g.ctx;
    return RTR_STS_OK;
}

void
rtrl_ctx_put(rtrl_ctx_t *ctx)
{
    (void)ctx;
    pthread_mutex_unlock(&rtrl_g.lock);
}

rtr_status_t
rtrx_get_fd(int *pfd)
{
    rtrl_ctx_t *ctx;
    rtr_status_t sts;

    if (pfd == NULL)
        return RTR_STS_INVARG;
    if ((sts = rtrl_ctx_get(false, &ctx)) != RTR_STS_OK)
        return sts;
    *pfd = ctx->app_fd;
    rtrl_ctx_put(ctx);
    return RTR_STS_OK;
}

rtr_status_t
rtr_set_wakeup(void (*wu_rtn)(void))
{
    rtrl_ctx_t *ctx;
    rtr_status_t sts = rtrl_ctx_get(true, &ctx);

    if (sts != RTR_STS_OK)
        return sts;
    ctx->wakeup = wu_rtn;
    rtrl_ctx_put(ctx);
    return RTR_STS_OK;
}

void
rtrx_shutdown(void)
{
    rtrl_ctx_t *ctx;

    pthread_once(&rtrl_g.once, rtrl_once);
    pthread_mutex_lock(&rtrl_g.lock);
    ctx = rtrl_g.ctx;
    rtrl_g.ctx = NULL;
    rtrl_g.dead = true;
    if (ctx != NULL)
        ctx->stop = true;
    pthread_mutex_unlock(&rtrl_g.lock);
    if (ctx == NULL)
        return;
    if (ctx->thread_started) {
        uint64_t one = 1;
        if (write(ctx->wake_fd, &one, sizeof one) < 0)
            RTR_LOG(CMN_LOG_ERR, "RTR-WAKE", "errno=%d", errno);
        pthread_join(ctx->thread, NULL);
    }
    for (rtrl_query_t *q = ctx->queries; q != NULL; q = q->next)
        q->done = true; /* nobody may be waiting (contract), but never leave one hanging */
    rtrl_ctx_free(ctx);
    free(rtrl_g.counter_file);
    rtrl_g.counter_file = NULL;
}
