/*
 * sim_pair_check.c - the invariants of docs/shadow-protocol.md §8.2 for the pair world.
 *
 * Ground truth: decided[n] (the TID and record epoch of the first COMMIT report of every CSN,
 * and who reported it), the transfers the clients saw accepted, every journal's hardened
 * contents (the journal model), the servers' databases, the register values committed (the
 * newest one seen), and per backend the leases it could hold from the grants that reached it.
 *
 * When each is checked (after the steps that can break it, so a violation stops the run at
 * the event that caused it):
 *   1 accepted not lost        a transfer is accepted; a hardened truncation; a crash (the
 *                              unhardened suffix is lost); a newer register value
 *   2 none executed twice      every database apply
 *   3 same order on both       at convergence: per account, both databases applied the same
 *                              transfers in the same order
 *   4 one decider, under lease every first COMMIT report: the reporter is the committed
 *                              primary of an epoch >= the record's, and holds a lease for it on
 *                              its own clock (majority of grants arrived, sent + lease - margin)
 *   5 no CSN assigned twice    every COMMIT report (decided[n] never changes its TID) and every
 *                              hardened append ((epoch, n) holds one TID in every journal)
 *   6 journals equal           a newer value and convergence: below the in-sync members'
 *                              contiguous hardened points, the same epoch and TID at every
 *                              decided n (an undecided record the primary lost in a crash may
 *                              sit in the member's journal until its next handshake)
 *   7 no promotion without     a newer value: its primary's hardened journal holds every
 *     the commits              decided[n]; a COMMIT report by a node that is not the newest
 *                              value's primary: that primary holds the record
 *   9 liveness and end state   at convergence: every accepted transfer applied exactly once on
 *                              both, both databases identical, money conserved
 * Invariant 8 (a FORCE's loss list) needs FORCE, which this world does not drive yet.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_pair_impl.h"

static const char *
sp_bname(size_t b)
{
    return sp_names[SP_NR + b];
}

static int
sp_bindex(const char *name)
{
    for (size_t b = 0; b < SP_NB; b++)
        if (name != NULL && strcmp(name, sp_bname(b)) == 0)
            return (int)b;
    return -1;
}

static const Rtr__JournalRecord *
sp_hard_at(const sp_world_t *w, size_t b, uint64_t n)
{
    const sp_jstate_t *s = &w->b[b].j.hard;
    return n < s->cap ? s->rec[n] : NULL;
}

/* sp_holds - does b's hardened journal hold tid at n (or MOVED from n to a record that does)? */
static bool
sp_holds(const sp_world_t *w, size_t b, uint64_t n, const uint8_t *tid)
{
    for (int hop = 0; hop < 4; hop++) {
        const Rtr__JournalRecord *r = sp_hard_at(w, b, n);
        if (r == NULL || r->tid.len != 16 || memcmp(r->tid.data, tid, 16) != 0)
            return false;
        if (r->state != RTR__TX_STATE__TX_MOVED || !r->has_moved_to)
            return true;
        n = r->moved_to;
    }
    return true;
}

static uint64_t
sp_contig(const sp_world_t *w, size_t b)
{
    uint64_t n = 1;
    while (sp_hard_at(w, b, n) != NULL)
        n++;
    return n - 1;
}

/* ---- 5: (epoch, n) -> one TID --------------------------------------------------------- */

static bool
sp_en_grow(sp_world_t *w)
{
    size_t cap = w->en_cap ? w->en_cap * 2 : 4096;
    uint64_t *k = calloc(cap, sizeof *k);
    uint32_t *v = calloc(cap, sizeof *v);

    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        sim_check_fail(w->check, "sim", "out of memory");
        return false;
    }
    for (size_t i = 0; i < w->en_cap; i++) {
        if (w->en_key[i] == 0)
            continue;
        size_t h = (size_t)((w->en_key[i] * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
        while (k[h] != 0)
            h = (h + 1) & (cap - 1);
        k[h] = w->en_key[i];
        v[h] = w->en_val[i];
    }
    free(w->en_key);
    free(w->en_val);
    w->en_key = k;
    w->en_val = v;
    w->en_cap = cap;
    return true;
}

void
sp_check_hardened_record(sp_world_t *w, size_t b, const Rtr__JournalRecord *rec)
{
    if (rec == NULL || rec->tid.len != 16)
        return;
    size_t idx = sp_tx_index(w, rec->tid.data);
    uint64_t key = (rec->epoch << 32) ^ rec->n;
    if (key == 0)
        key = 1;
    if (w->en_used * 2 >= w->en_cap && !sp_en_grow(w))
        return;
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (w->en_cap - 1);
    while (w->en_key[h] != 0 && w->en_key[h] != key)
        h = (h + 1) & (w->en_cap - 1);
    uint32_t val = idx == SIZE_MAX ? UINT32_MAX : (uint32_t)idx + 1;
    if (w->en_key[h] == 0) {
        w->en_key[h] = key;
        w->en_val[h] = val;
        w->en_used++;
        return;
    }
    if (w->en_val[h] != val)
        sim_check_fail(w->check, "5-csn-twice",
                       "%s hardened transfer %u at (epoch %" PRIu64 ", n %" PRIu64
                       "), where another journal holds transfer %u",
                       sp_bname(b), val - 1, rec->epoch, rec->n, w->en_val[h] - 1);
}

/* ---- 4: leases ------------------------------------------------------------------------- */

void
sp_lease_sent(sp_world_t *w, size_t b, const Rtr__LeaseRequest *m)
{
    sp_be_t *be = &w->b[b];

    for (size_t k = 0; k < be->nlease && k < SP_LEASES; k++) {
        sp_lease_t *l = &be->lease[k];
        if (l->epoch == m->epoch && l->seq == m->seq)
            return;
    }
    sp_lease_t *l = &be->lease[be->nlease++ % SP_LEASES];
    l->epoch = m->epoch;
    l->seq = m->seq;
    l->sent_ms = sp_be_local_ms(w, b);
    l->granted = 0;
}

void
sp_lease_granted(sp_world_t *w, size_t b, size_t router, const Rtr__LeaseGrant *g)
{
    sp_be_t *be = &w->b[b];

    for (size_t k = 0; k < be->nlease && k < SP_LEASES; k++) {
        sp_lease_t *l = &be->lease[k];
        if (l->epoch != g->epoch || l->seq != g->seq)
            continue;
        l->granted |= 1u << router;
        if (__builtin_popcount(l->granted) < SP_NR / 2 + 1)
            return;
        uint64_t until = l->sent_ms + SP_LEASE - SP_MARGIN;
        size_t slot = 0;
        for (size_t s = 0; s < 8; s++) {
            if (be->lease_epoch[s] == g->epoch) {
                slot = s;
                break;
            }
            if (be->lease_epoch[s] < be->lease_epoch[slot])
                slot = s;
        }
        if (be->lease_epoch[slot] != g->epoch) {
            be->lease_epoch[slot] = g->epoch;
            be->lease_until[slot] = 0;
        }
        if (until > be->lease_until[slot])
            be->lease_until[slot] = until;
        return;
    }
}

/* sp_lease_ok - does b hold a lease now for an epoch whose committed primary it is? Any such
 * epoch: the core keeps a lease across the changes it makes as the same primary (SHRINK, ADD),
 * which is safe (another primary needs a value that names it, after which no router grants b
 * anything, and PROMOTE/FORCE wait out or veto b's grants); a decision after another node
 * became primary is checked by invariant 7. */
static bool
sp_lease_ok(sp_world_t *w, size_t b, uint64_t *best)
{
    const sp_be_t *be = &w->b[b];
    uint64_t now = sp_be_local_ms(w, b);
    const char *part = w->fac->partitions[0].name;

    *best = 0;
    for (size_t s = 0; s < 8; s++) {
        if (be->lease_epoch[s] == 0)
            continue;
        const char *pri = sim_check_primary(w->check, part, be->lease_epoch[s]);
        if (pri == NULL || strcmp(pri, sp_bname(b)) != 0)
            continue;
        if (be->lease_until[s] > *best)
            *best = be->lease_until[s];
        if (now <= be->lease_until[s])
            return true;
    }
    return false;
}

/* ---- decisions --------------------------------------------------------------------------- */

void
sp_check_decision(sp_world_t *w, size_t b, const uint8_t *tid, uint64_t csn)
{
    const Rtr__JournalRecord *r = sp_hard_at(w, b, csn);
    size_t idx = sp_tx_index(w, tid);

    if (r == NULL || r->tid.len != 16 || memcmp(r->tid.data, tid, 16) != 0) {
        sim_check_fail(w->check, "1-decided-unhardened",
                       "%s reported transfer %zu committed at csn %" PRIu64
                       " which its hardened journal does not hold",
                       sp_bname(b), idx, csn);
        return;
    }
    if (csn >= w->ndecided) {
        uint64_t cap = w->ndecided ? w->ndecided : 1024;
        while (cap <= csn)
            cap *= 2;
        sp_decided_t *v = realloc(w->decided, cap * sizeof *v);
        if (v == NULL) {
            sim_check_fail(w->check, "sim", "out of memory");
            return;
        }
        memset(v + w->ndecided, 0, (cap - w->ndecided) * sizeof *v);
        w->decided = v;
        w->ndecided = cap;
    }
    sp_decided_t *d = &w->decided[csn];
    /* a record already past VOTED in the reporter's journal was decided earlier (an earlier
     * life, a replay that told no client): this report repeats that decision */
    bool again = r->state != RTR__TX_STATE__TX_VOTED;
    if (d->set) {
        if (memcmp(d->tid, tid, 16) != 0)
            sim_check_fail(w->check, "5-csn-twice",
                           "csn %" PRIu64 " decided for transfer %zu by %s, and now for "
                           "transfer %zu by %s",
                           csn, sp_tx_index(w, d->tid), sp_bname((size_t)d->by), idx, sp_bname(b));
        return;
    }
    d->set = true;
    memcpy(d->tid, tid, 16);
    d->epoch = r->epoch;
    d->by = (int)b;
    w->decisions++;
    SP_TRACE(w, "%s DECIDE n=%" PRIu64 " e=%" PRIu64 " transfer %zu%s", sp_bname(b), csn, r->epoch,
             idx, again ? " (reported again: decided earlier)" : "");
    uint64_t until = 0;
    bkd_part_info_t pi = sp_info(w, b);
    /* the safe prefix of a promoted member (§5.3): records of an older epoch it holds are
     * decided at once in LCL_REC, before its first lease (the old primary can no longer
     * gather coverage); every other decision needs a lease */
    const Rtr__PartitionRole *np =
        w->newest ? rtd_reg_role(w->newest, w->fac->partitions[0].name) : NULL;
    bool inherited = pi.ms == BKD_MS_LCL_REC && np != NULL &&
                     strcmp(np->primary, sp_bname(b)) == 0 && r->epoch < pi.epoch;
    if (!again && !inherited && !sp_lease_ok(w, b, &until)) {
        bkd_tx_info_t ti;
        cmn_tid_t t;
        cmn_tid_unpack(tid, &t);
        memset(&ti, 0, sizeof ti);
        (void)bkd_core_tx_info(w->b[b].c, &t, &ti);
        SP_TRACE(w,
                 "%s holds the transaction in state %s, n=%" PRIu64 " e=%" PRIu64
                 " replays=%u server_vote=%d",
                 sp_bname(b), bkd_tx_state_name(ti.state), ti.n, ti.epoch, ti.replays,
                 ti.server_vote);
        sim_check_fail(w->check, "4-lease",
                       "%s decided csn %" PRIu64 " (record epoch %" PRIu64 ") at its clock %" PRIu64
                       " ms without a lease for an epoch it is the "
                       "committed primary of (best lease ran until %" PRIu64
                       "); its view: %s (%s) role %s epoch %" PRIu64 " lease_held=%d",
                       sp_bname(b), csn, r->epoch, sp_be_local_ms(w, b), until, pi.state, pi.reason,
                       bkd_role_name(pi.role), pi.epoch, pi.lease_held);
    }
    /* 7, the SIGCONT case: a decision by an older primary is of a record the newer holds */
    if (w->newest != NULL) {
        const Rtr__PartitionRole *p = rtd_reg_role(w->newest, w->fac->partitions[0].name);
        int nb = p ? sp_bindex(p->primary) : -1;
        if (nb >= 0 && (size_t)nb != b && !sp_holds(w, (size_t)nb, csn, tid))
            sim_check_fail(w->check, "7-promotion",
                           "%s decided csn %" PRIu64 " (transfer %zu) after %s became primary "
                           "(epoch %" PRIu64 "), whose hardened journal lacks it",
                           sp_bname(b), csn, idx, p->primary, p->epoch);
    }
}

/* ---- 1: accepted transfers ---------------------------------------------------------------- */

void
sp_check_accepted_one(sp_world_t *w, size_t idx, uint64_t csn)
{
    uint8_t tid[16];

    if (w->newest == NULL || sim_check_failed(w->check))
        return;
    const Rtr__PartitionRole *p = rtd_reg_role(w->newest, w->fac->partitions[0].name);
    if (p == NULL)
        return;
    sp_tid(w, idx, tid);
    for (size_t k = 0; k < p->n_in_sync; k++) {
        int b = sp_bindex(p->in_sync[k]);
        if (b < 0 || sp_holds(w, (size_t)b, csn, tid))
            continue;
        const Rtr__JournalRecord *r = sp_hard_at(w, (size_t)b, csn);
        sim_check_fail(
            w->check, "1-accepted-lost",
            "transfer %zu (client%zu #%zu) was accepted with csn %" PRIu64
            ", but %s, in_sync at epoch %" PRIu64 " (version %" PRIu64
            "), holds %s at that csn in its hardened journal (contiguous to %" PRIu64 ")",
            idx, idx / SP_TXMAX, idx % SP_TXMAX, csn, p->in_sync[k], p->epoch, w->newest->version,
            r == NULL ? "nothing" : "another transfer", sp_contig(w, (size_t)b));
        return;
    }
}

void
sp_check_accepted_all(sp_world_t *w)
{
    for (size_t k = 0; k < SP_NCLI && !sim_check_failed(w->check); k++)
        for (size_t x = 0; x < w->cli[k].next; x++)
            if (w->cli[k].st[x] == SP_TX_ACCEPTED)
                sp_check_accepted_one(w, k * SP_TXMAX + x, w->cli[k].csn[x]);
}

/* ---- 6: journals equal below the in-sync point --------------------------------------------- */

static void
sp_check_journals(sp_world_t *w, const Rtr__PartitionRole *p)
{
    if (p == NULL || p->n_in_sync < 2)
        return;
    int a = sp_bindex(p->in_sync[0]), c = sp_bindex(p->in_sync[1]);
    if (a < 0 || c < 0)
        return;
    uint64_t ca = sp_contig(w, (size_t)a), cc = sp_contig(w, (size_t)c);
    uint64_t upto = ca < cc ? ca : cc;
    for (uint64_t n = 1; n <= upto; n++) {
        const Rtr__JournalRecord *x = sp_hard_at(w, (size_t)a, n);
        const Rtr__JournalRecord *y = sp_hard_at(w, (size_t)c, n);
        /* only decided CSNs: a record a crashed primary lost before deciding it may still sit
         * in the member's journal (hardened there first) until the member's next handshake
         * truncates it; the primary reuses the CSN in its new epoch */
        if (n >= w->ndecided || !w->decided[n].set)
            continue;
        if (x->epoch != y->epoch || x->tid.len != y->tid.len ||
            memcmp(x->tid.data, y->tid.data, x->tid.len) != 0) {
            sim_check_fail(w->check, "6-journals-differ",
                           "at n %" PRIu64 " (both hardened, both in_sync at epoch %" PRIu64
                           "): %s holds epoch %" PRIu64 " transfer %zu, %s epoch %" PRIu64
                           " transfer %zu",
                           n, p->epoch, sp_bname((size_t)a), x->epoch, sp_tx_index(w, x->tid.data),
                           sp_bname((size_t)c), y->epoch, sp_tx_index(w, y->tid.data));
            return;
        }
    }
}

void
sp_check_value(sp_world_t *w, const Rtr__RegisterValue *v)
{
    const Rtr__PartitionRole *p = rtd_reg_role(v, w->fac->partitions[0].name);
    int pb = p ? sp_bindex(p->primary) : -1;

    if (pb >= 0) {
        for (uint64_t n = 1; n < w->ndecided && !sim_check_failed(w->check); n++) {
            const sp_decided_t *d = &w->decided[n];
            if (d->set && !sp_holds(w, (size_t)pb, n, d->tid))
                sim_check_fail(w->check, "7-promotion",
                               "version %" PRIu64 " makes %s primary at epoch %" PRIu64
                               ", but its hardened journal lacks csn %" PRIu64
                               " (transfer %zu, decided by %s in epoch %" PRIu64 ")",
                               v->version, p->primary, p->epoch, n, sp_tx_index(w, d->tid),
                               sp_bname((size_t)d->by), d->epoch);
        }
    }
    sp_check_accepted_all(w);
    if (!sim_check_failed(w->check))
        sp_check_journals(w, p);
}

/* ---- 2: databases -------------------------------------------------------------------------- */

void
sp_check_apply(sp_world_t *w, size_t b, size_t idx)
{
    if (w->b[b].srv.applied[idx] > 0)
        sim_check_fail(w->check, "2-executed-twice",
                       "%s's server applied transfer %zu (client%zu #%zu) a second time",
                       sp_bname(b), idx, idx / SP_TXMAX, idx % SP_TXMAX);
}

/* ---- quiesce -------------------------------------------------------------------------------- */

typedef struct {
    size_t count;
    char *first; /* the first open one's text (NULL: not wanted) */
    size_t n;
} sp_open_t;

static void
sp_tx_fn(void *arg, const bkd_tx_info_t *ti)
{
    sp_open_t *o = arg;
    if (ti->state == BKD_TX_DONE)
        return;
    if (o->count++ == 0 && o->first != NULL)
        snprintf(o->first, o->n, "%s %s n=%" PRIu64 " e=%" PRIu64 " server=%s vote=%d", ti->tid,
                 bkd_tx_state_name(ti->state), ti->n, ti->epoch, ti->server ? ti->server : "-",
                 ti->server_vote);
}

size_t
sp_open_tx(sp_world_t *w, size_t b, char *first, size_t n)
{
    sp_open_t o = { 0, first, n };
    if (first != NULL && n > 0)
        first[0] = '\0';
    bkd_core_each_tx(w->b[b].c, sp_tx_fn, &o);
    return o.count;
}

bool
sp_converged(sp_world_t *w)
{
    bkd_part_info_t p[SP_NB];

    for (size_t b = 0; b < SP_NB; b++) {
        if (!w->b[b].up || w->b[b].paused)
            return false;
        p[b] = sp_info(w, b);
    }
    int pri = p[0].serving ? 0 : 1;
    if (!p[pri].serving || p[1 - pri].serving || strcmp(p[pri].state, "pri_act") != 0 ||
        strcmp(p[1 - pri].state, "sec_act") != 0 || p[0].applied_n != p[1].applied_n)
        return false;
    for (size_t b = 0; b < SP_NB; b++)
        if (sp_open_tx(w, b, NULL, 0) > 0)
            return false;
    return true;
}

/* sp_account_seq - the transfers touching account a in b's apply order, into out (n kept). */
static size_t
sp_account_seq(const sp_world_t *w, size_t b, uint32_t a, uint32_t *out, size_t cap,
               const uint8_t (*body)[2])
{
    const sp_srv_t *s = &w->b[b].srv;
    size_t n = 0;

    for (size_t k = 0; k < s->nlog && n < cap; k++)
        if (body[s->log[k]][0] == a || body[s->log[k]][1] == a)
            out[n++] = s->log[k];
    return n;
}

void
sp_check_final(sp_world_t *w)
{
    const sp_srv_t *s0 = &w->b[0].srv, *s1 = &w->b[1].srv;
    int64_t sum = 0;

    for (size_t k = 0; k < SP_NCLI; k++)
        for (size_t x = 0; x < w->cli[k].next; x++) {
            size_t idx = k * SP_TXMAX + x;
            if (w->cli[k].st[x] == SP_TX_ACCEPTED &&
                (s0->applied[idx] != 1 || s1->applied[idx] != 1)) {
                const Rtr__JournalRecord *r0 = sp_hard_at(w, 0, w->cli[k].csn[x]);
                const Rtr__JournalRecord *r1 = sp_hard_at(w, 1, w->cli[k].csn[x]);
                sim_check_fail(w->check, "9-accepted-once",
                               "accepted transfer %zu (client%zu #%zu, csn %" PRIu64
                               ") applied %u times on be1 and %u on be2 (journal states %d and "
                               "%d)",
                               idx, k, x, w->cli[k].csn[x], s0->applied[idx], s1->applied[idx],
                               r0 ? (int)r0->state : -1, r1 ? (int)r1->state : -1);
                return;
            }
            if (s0->applied[idx] != s1->applied[idx]) {
                sim_check_fail(w->check, "9-databases-differ",
                               "transfer %zu (client%zu #%zu) applied %u times on be1, %u on be2",
                               idx, k, x, s0->applied[idx], s1->applied[idx]);
                return;
            }
        }
    for (size_t a = 0; a < SP_ACCTS; a++) {
        sum += s0->bal[a];
        if (s0->bal[a] != s1->bal[a]) {
            sim_check_fail(w->check, "9-databases-differ",
                           "account %zu: %" PRId64 " on be1, %" PRId64 " on be2", a, s0->bal[a],
                           s1->bal[a]);
            return;
        }
    }
    if (sum != 1000 * SP_ACCTS) {
        sim_check_fail(w->check, "9-money", "the bank holds %" PRId64 ", not %d", sum,
                       1000 * SP_ACCTS);
        return;
    }
    /* 3: per account, the same transfers in the same order on both */
    if (s0->nlog != s1->nlog) {
        sim_check_fail(w->check, "3-order", "be1 applied %zu transfers, be2 %zu", s0->nlog,
                       s1->nlog);
        return;
    }
    uint8_t(*body)[2] = calloc(SP_NCLI * SP_TXMAX, sizeof *body);
    uint32_t *q0 = calloc(s0->nlog + 1, sizeof *q0), *q1 = calloc(s1->nlog + 1, sizeof *q1);
    if (body == NULL || q0 == NULL || q1 == NULL) {
        sim_check_fail(w->check, "sim", "out of memory");
        goto out;
    }
    /* the accounts of each transfer, from its journal record */
    for (uint64_t n = 1; n < w->b[0].j.hard.cap; n++) {
        const Rtr__JournalRecord *r = w->b[0].j.hard.rec[n];
        if (r == NULL || r->tid.len != 16 || r->n_messages < 1 || r->messages[0]->body.len != 12)
            continue;
        size_t idx = sp_tx_index(w, r->tid.data);
        if (idx == SIZE_MAX)
            continue;
        body[idx][0] = r->messages[0]->body.data[3];
        body[idx][1] = r->messages[0]->body.data[7];
    }
    for (uint32_t a = 0; a < SP_ACCTS; a++) {
        size_t n0 = sp_account_seq(w, 0, a, q0, s0->nlog + 1, (const uint8_t(*)[2])body);
        size_t n1 = sp_account_seq(w, 1, a, q1, s1->nlog + 1, (const uint8_t(*)[2])body);
        if (n0 != n1 || memcmp(q0, q1, n0 * sizeof *q0) != 0) {
            size_t k = 0;
            while (k < n0 && k < n1 && q0[k] == q1[k])
                k++;
            sim_check_fail(w->check, "3-order",
                           "account %u: be1 and be2 applied different sequences (from the %zu-th "
                           "transfer on: %u vs %u)",
                           a, k + 1, k < n0 ? q0[k] : 0, k < n1 ? q1[k] : 0);
            goto out;
        }
    }
    if (!sim_check_failed(w->check) && w->newest != NULL)
        sp_check_journals(w, rtd_reg_role(w->newest, w->fac->partitions[0].name));
out:
    free(body);
    free(q0);
    free(q1);
}

void
sp_check_clear(sp_world_t *w)
{
    free(w->decided);
    free(w->en_key);
    free(w->en_val);
    w->decided = NULL;
    w->en_key = NULL;
    w->en_val = NULL;
}
