/*
 * rtr_info.c - rtr_request_info: what this process knows about the facility, served locally.
 *
 * Design note. Nothing goes on the wire: the answer comes from the facility file librtr loaded,
 * its own channels and its router link. The call checks the class and every item name first,
 * then allocates a pseudo-channel (rtrl_chan_t.info, state CLOSED from the start so that no
 * other call accepts it), queues one rtr_mt_request_info per selected object (a NUL-terminated
 * "item=value\n..." text in getitms order) and then rtr_mt_closed{OK}; taking that closed event
 * frees the channel like any channel the facility closed. The answer is a snapshot taken under
 * the library lock at the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rtr_impl.h"

#define RTRL_INFO_MAXITEMS 8   /* items of the largest class */
#define RTRL_INFO_VALLEN   512 /* one value's text (endpoints, key bounds) */

typedef struct rtrl_info_class rtrl_info_class_t;

/* rtrl_info_fill_fn - the values of object i of a class (vals[k] for items[k]). */
typedef void rtrl_info_fill_fn(rtrl_ctx_t *ctx, size_t i, char vals[][RTRL_INFO_VALLEN]);

struct rtrl_info_class {
    const char *name;
    const char *items[RTRL_INFO_MAXITEMS]; /* NULL-terminated */
    size_t (*count)(rtrl_ctx_t *ctx);
    rtrl_info_fill_fn *fill;
};

#define RTRL_SETV(k, ...) snprintf(vals[k], RTRL_INFO_VALLEN, __VA_ARGS__)

static size_t
rtrl_info_one(rtrl_ctx_t *ctx)
{
    (void)ctx;
    return 1;
}

static void
rtrl_info_facility(rtrl_ctx_t *ctx, size_t i, char vals[][RTRL_INFO_VALLEN])
{
    (void)i;
    RTRL_SETV(0, "%s", ctx->fac->name);
    RTRL_SETV(1, "%zu", ctx->fac->nrouters);
    RTRL_SETV(2, "%zu", ctx->fac->nbackends);
    RTRL_SETV(3, "%zu", ctx->fac->npartitions);
}

static size_t
rtrl_info_npart(rtrl_ctx_t *ctx)
{
    return ctx->fac->npartitions;
}

static void
rtrl_info_partition(rtrl_ctx_t *ctx, size_t i, char vals[][RTRL_INFO_VALLEN])
{
    const cmn_partition_t *p = &ctx->fac->partitions[i];
    RTRL_SETV(0, "%s", p->name);
    RTRL_SETV(1, "%s", p->low_text);
    RTRL_SETV(2, "%s", p->high_text);
    RTRL_SETV(3, "%s", p->primary->name);
}

static size_t
rtrl_info_nrouter(rtrl_ctx_t *ctx)
{
    return ctx->fac->nrouters;
}

static void
rtrl_info_router(rtrl_ctx_t *ctx, size_t i, char vals[][RTRL_INFO_VALLEN])
{
    const cmn_router_t *r = &ctx->fac->routers[i];
    /* connected: the router the client link uses, and it has answered on that connection */
    bool up = i == ctx->router_idx % ctx->fac->nrouters && ctx->sock[RTRL_LINK_ROUTER] != NULL &&
              ctx->peer_inc[RTRL_LINK_ROUTER] != 0;
    RTRL_SETV(0, "%s", r->name);
    RTRL_SETV(1, "%s", r->clients);
    RTRL_SETV(2, "%s", up ? "yes" : "no");
}

static size_t
rtrl_info_nbackend(rtrl_ctx_t *ctx)
{
    return ctx->fac->nbackends;
}

static void
rtrl_info_backend(rtrl_ctx_t *ctx, size_t i, char vals[][RTRL_INFO_VALLEN])
{
    const cmn_backend_t *b = &ctx->fac->backends[i];
    RTRL_SETV(0, "%s", b->name);
    RTRL_SETV(1, "%s", b->servers);
}

/* rtrl_info_chan - the i-th channel of the application (pseudo-channels excluded). */
static rtrl_chan_t *
rtrl_info_chan(rtrl_ctx_t *ctx, size_t i)
{
    for (size_t k = 0; k < RTR_MAX_CHANNELS; k++) {
        rtrl_chan_t *ch = &ctx->chans[k];
        if (ch->state == RTRL_CH_FREE || ch->info)
            continue;
        if (i-- == 0)
            return ch;
    }
    return NULL;
}

static size_t
rtrl_info_nchan(rtrl_ctx_t *ctx)
{
    size_t n = 0;
    while (rtrl_info_chan(ctx, n) != NULL)
        n++;
    return n;
}

static void
rtrl_info_channel(rtrl_ctx_t *ctx, size_t i, char vals[][RTRL_INFO_VALLEN])
{
    static const char *const states[] = { "free", "opening", "open", "closed" };
    const rtrl_chan_t *ch = rtrl_info_chan(ctx, i);

    RTR_ASSERT(ch != NULL);
    RTRL_SETV(0, "%u", ch->id);
    RTRL_SETV(1, "%s", ch->server ? "server" : "client");
    RTRL_SETV(2, "%s", states[ch->state]);
    RTRL_SETV(3, "%s", ch->rcpnam);
    RTRL_SETV(4, "%s", ch->partition != NULL ? ch->partition : "");
}

static const rtrl_info_class_t rtrl_info_classes[] = {
    { "facility",
      { "name", "routers", "backends", "partitions", NULL },
      rtrl_info_one,
      rtrl_info_facility },
    { "partition",
      { "name", "low", "high", "primary", NULL },
      rtrl_info_npart,
      rtrl_info_partition },
    { "router", { "name", "clients", "connected", NULL }, rtrl_info_nrouter, rtrl_info_router },
    { "backend", { "name", "servers", NULL }, rtrl_info_nbackend, rtrl_info_backend },
    { "channel",
      { "id", "kind", "state", "rcpnam", "partition", NULL },
      rtrl_info_nchan,
      rtrl_info_channel },
};

/* rtrl_info_item - the index of item `name` (length len) in class c, or -1. */
static int
rtrl_info_item(const rtrl_info_class_t *c, const char *name, size_t len)
{
    for (int k = 0; c->items[k] != NULL; k++)
        if (strlen(c->items[k]) == len && strncasecmp(c->items[k], name, len) == 0)
            return k;
    return -1;
}

/* rtrl_info_items - parse getitms into item indexes; RTR_STS_INVARG for an unknown or empty
 * name. NULL or "*" = every item of the class. */
static rtr_status_t
rtrl_info_items(const rtrl_info_class_t *c, const char *getitms, int *idx, size_t *n)
{
    size_t k = 0;

    if (getitms == NULL || strcmp(getitms, "*") == 0) {
        while (c->items[k] != NULL) {
            idx[k] = (int)k;
            k++;
        }
        *n = k;
        return RTR_STS_OK;
    }
    for (const char *p = getitms;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        while (len > 0 && (*q == ' ' || *q == '\t')) {
            q++;
            len--;
        }
        while (len > 0 && (q[len - 1] == ' ' || q[len - 1] == '\t'))
            len--;
        int it = len > 0 ? rtrl_info_item(c, q, len) : -1;
        if (it < 0 || k == RTRL_INFO_MAXITEMS * 4)
            return RTR_STS_INVARG;
        idx[k++] = it;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *n = k;
    return RTR_STS_OK;
}

/* rtrl_info_text - "item=value\n..." of the chosen items, NUL-terminated (malloc'd). */
static uint8_t *
rtrl_info_text(const rtrl_info_class_t *c, char vals[][RTRL_INFO_VALLEN], const int *idx, size_t n,
               uint32_t *len)
{
    size_t total = 1;
    char *t, *p;

    for (size_t k = 0; k < n; k++)
        total += strlen(c->items[idx[k]]) + 1 + strlen(vals[idx[k]]) + 1;
    if ((t = malloc(total)) == NULL)
        return NULL;
    p = t;
    for (size_t k = 0; k < n; k++)
        p += sprintf(p, "%s%s=%s", k > 0 ? "\n" : "", c->items[idx[k]], vals[idx[k]]);
    *len = (uint32_t)(p - t) + 1; /* with the NUL */
    return (uint8_t *)t;
}

rtr_status_t
rtr_request_info(rtr_channel_t *pchannel, rtr_req_flag_t flags, rtr_infoclass_t infcla,
                 rtr_itemcode_t selitm, rtr_selval_t selval, rtr_itemcode_t getitms)
{
    const rtrl_info_class_t *c = NULL;
    int idx[RTRL_INFO_MAXITEMS * 4], sel = -1;
    size_t nidx = 0, nobj;
    char vals[RTRL_INFO_MAXITEMS][RTRL_INFO_VALLEN];
    rtrl_ctx_t *ctx;
    rtrl_chan_t *ch;
    rtr_status_t sts;

    if (flags != RTR_NO_FLAGS)
        return RTR_STS_INVFLAGS;
    if (pchannel == NULL || infcla == NULL)
        return RTR_STS_INVARG;
    for (size_t i = 0; i < sizeof rtrl_info_classes / sizeof rtrl_info_classes[0]; i++)
        if (strcasecmp(infcla, rtrl_info_classes[i].name) == 0)
            c = &rtrl_info_classes[i];
    if (c == NULL)
        return RTR_STS_INVARG;
    if (selitm != NULL && (sel = rtrl_info_item(c, selitm, strlen(selitm))) < 0)
        return RTR_STS_INVARG;
    if ((sts = rtrl_info_items(c, getitms, idx, &nidx)) != RTR_STS_OK)
        return sts;
    if (selval == NULL)
        selval = "*";
    if ((sts = rtrl_ctx_get(true, &ctx)) != RTR_STS_OK)
        return sts;
    if ((ch = rtrl_chan_alloc(ctx)) == NULL) {
        rtrl_ctx_put(ctx);
        return RTR_STS_TOOMANYCHA;
    }
    ch->info = true;
    ch->state = RTRL_CH_CLOSED; /* no call but receive and close accepts it */
    nobj = c->count(ctx);
    for (size_t i = 0; i < nobj; i++) {
        uint8_t *text;
        uint32_t len = 0;
        memset(vals, 0, sizeof vals);
        c->fill(ctx, i, vals);
        if (sel >= 0 && !rtrl_match(selval, vals[sel], true))
            continue;
        if ((text = rtrl_info_text(c, vals, idx, nidx, &len)) == NULL) {
            rtrl_chan_release(ctx, ch);
            rtrl_ctx_put(ctx);
            return RTR_STS_NOMEM;
        }
        rtrl_evt_push(ctx, ch->id, rtr_mt_request_info, NULL, text, len, RTR_STS_OK, 0);
    }
    rtrl_evt_push(ctx, ch->id, rtr_mt_closed, NULL, NULL, 0, RTR_STS_OK, 0);
    *pchannel = ch->id;
    rtrl_ctx_put(ctx);
    return RTR_STS_OK;
}
