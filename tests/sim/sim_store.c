/*
 * sim_store.c - the acceptor store model (docs/shadow-protocol.md §8.1): what a router's BDB
 * `acceptor` database does under DB_TXN_SYNC, reduced to its contract. A PERSIST becomes
 * durable at a scheduled time (the world draws 0.2..3 ms); a crash before that loses it; what
 * was durable survives every crash. A wipe is a replaced disk (empty store).
 *
 * Design note: the store keeps a short history of its durable states only for the BROKEN
 * store of `--broken amnesia`, which rolls back acknowledged writes in a crash (a disk that
 * lies about fsync). The correct store never looks at the history.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

uint64_t
sim_store_due(sim_store_t *s, uint64_t now_us, uint64_t delay_us)
{
    uint64_t due = now_us + delay_us;

    if (due <= s->last_due)
        due = s->last_due + 1;
    s->last_due = due;
    return due;
}

void
sim_store_durable(sim_store_t *s, uint8_t *data, size_t len)
{
    free(s->hist[SIM_STORE_HISTORY - 1]);
    memmove(&s->hist[1], &s->hist[0], (SIM_STORE_HISTORY - 1) * sizeof s->hist[0]);
    memmove(&s->hlen[1], &s->hlen[0], (SIM_STORE_HISTORY - 1) * sizeof s->hlen[0]);
    s->hist[0] = s->durable;
    s->hlen[0] = s->len;
    s->durable = data;
    s->len = len;
    s->writes++;
    sim_store_refresh(s);
}

void
sim_store_refresh(sim_store_t *s)
{
    Rtr__AcceptorState *st = NULL;

    s->voter = false;
    s->version = 0;
    if (sim_store_load(s, &st) != RTR_STS_OK || st == NULL)
        return;
    s->voter = !st->learner;
    s->version = st->value ? st->value->version : 0;
    wire_free((ProtobufCMessage **)&st);
}

void
sim_store_crash(sim_store_t *s)
{
    s->last_due = 0;
}

static void
sim_store_forget_history(sim_store_t *s)
{
    for (size_t i = 0; i < SIM_STORE_HISTORY; i++) {
        free(s->hist[i]);
        s->hist[i] = NULL;
        s->hlen[i] = 0;
    }
}

void
sim_store_wipe(sim_store_t *s)
{
    free(s->durable);
    s->durable = NULL;
    s->len = 0;
    sim_store_forget_history(s);
    s->last_due = 0;
    sim_store_refresh(s);
}

void
sim_store_amnesia(sim_store_t *s, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        free(s->durable);
        s->durable = s->hist[0];
        s->len = s->hlen[0];
        memmove(&s->hist[0], &s->hist[1], (SIM_STORE_HISTORY - 1) * sizeof s->hist[0]);
        memmove(&s->hlen[0], &s->hlen[1], (SIM_STORE_HISTORY - 1) * sizeof s->hlen[0]);
        s->hist[SIM_STORE_HISTORY - 1] = NULL;
        s->hlen[SIM_STORE_HISTORY - 1] = 0;
    }
    sim_store_refresh(s);
}

rtr_status_t
sim_store_load(const sim_store_t *s, Rtr__AcceptorState **out)
{
    ProtobufCMessage *m = NULL;
    rtr_status_t st;

    *out = NULL;
    if (s->durable == NULL)
        return RTR_STS_OK;
    st = wire_decode(&rtr__acceptor_state__descriptor, s->durable, s->len, 0, NULL, &m);
    if (st == RTR_STS_OK)
        *out = (Rtr__AcceptorState *)m;
    return st;
}

void
sim_store_clear(sim_store_t *s)
{
    free(s->durable);
    sim_store_forget_history(s);
    memset(s, 0, sizeof *s);
}
