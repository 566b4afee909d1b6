/*
 * cli_dump.c - `rtrcli dump journal DIR [--partition P] [--tid T] [--state S] [--limit N]`:
 * the records of a backend journal, read-only (DESIGN §7, "Read-only inspection").
 *
 * The journal is opened with readonly = true, so the command never writes to DIR and may look
 * at a live backend's journal. Records are listed in (partition, CSN) order; the filters
 * (partition, TID, state) select which records count, --limit only shortens the listing: the
 * per-state counts and the total always cover every selected record, so `--limit 20` on a big
 * journal still tells the operator how many transactions wait in each state.
 *
 * Output: an aligned table, the per-state counts and a total line, then the meta of each
 * selected partition (epoch, hardened/applied CSNs, epoch history). With --json the same data
 * as one jansson object {dir, partitions, records, counts, total, shown}.
 *
 * Exit status: 0 ok; 1 the journal could not be read (missing, not a journal, damaged, I/O
 * error) or an unknown partition; 2 a bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "cmn.h"
#include "jrn.h"
#include "tool.h"
#include "wire.h"

#define CLI_NSTATES 7 /* TX_VOTED (1) .. TX_MOVED (7) */

static const char *const cli_state_names[CLI_NSTATES + 1] = {
    "?", "VOTED", "COMMIT", "ABORT", "EXCEPTION", "PRI_DONE", "DONE", "MOVED",
};

static const char *const cli_dump_headers[] = {
    "PARTITION", ">CSN", ">EPOCH", "TID", "STATE", ">MSGS", ">BYTES",
};
#define CLI_DUMP_NCOLS (sizeof cli_dump_headers / sizeof cli_dump_headers[0])

/* The parsed command line. */
typedef struct {
    const char *dir;
    const char *partition; /* NULL: all partitions */
    const char *tid_text;  /* NULL: no TID filter */
    const char *state_text;
    cmn_tid_t tid;
    int state; /* 0: any state, else an Rtr__TxState value */
    uint64_t limit;
    bool json;
} cli_dump_args_t;

/* One dump in progress: the selection, and the listing being built. */
typedef struct {
    const cli_dump_args_t *a;
    jrn_t *j;
    tool_table_t *table; /* text mode */
    json_t *records;     /* --json */
    uint64_t counts[CLI_NSTATES + 1];
    uint64_t total; /* selected records */
    uint64_t shown; /* listed (total capped by --limit) */
    bool nomem;
} cli_dump_t;

static const char *
cli_state_name(int state)
{
    return state >= 1 && state <= CLI_NSTATES ? cli_state_names[state] : "?";
}

/* cli_state_parse - a state name (case-insensitive, "TX_" prefix allowed) to its value, 0 if
 * unknown. */
static int
cli_state_parse(const char *s)
{
    if (strncasecmp(s, "TX_", 3) == 0)
        s += 3;
    for (int i = 1; i <= CLI_NSTATES; i++)
        if (strcasecmp(s, cli_state_names[i]) == 0)
            return i;
    return 0;
}

/* cli_tid_text - the printed TID of a record; a malformed one is shown as such. */
static const char *
cli_tid_text(const Rtr__JournalRecord *rec, char *buf, size_t len)
{
    cmn_tid_t tid;

    if (rec->tid.len != 16) {
        snprintf(buf, len, "(bad tid: %zu bytes)", rec->tid.len);
        return buf;
    }
    cmn_tid_unpack(rec->tid.data, &tid);
    return cmn_tid_format(&tid, buf, len);
}

static void
cli_dump_usage(FILE *out, const tool_opt_t *opts, size_t nopts)
{
    fprintf(out, "usage: rtrcli dump journal DIR [--partition P] [--tid T] [--state S] "
                 "[--limit N] [--json]\n\n"
                 "Print the records of a backend journal, read-only (the journal may be live).\n"
                 "Filters select the records that are listed and counted; --limit shortens the "
                 "listing only.\n\noptions:\n");
    tool_opts_usage(opts, nopts, out);
    fprintf(out, "  --json             one JSON object: dir, partitions, records, counts, total\n"
                 "\nstates: VOTED COMMIT ABORT EXCEPTION PRI_DONE DONE MOVED\n"
                 "exit status: 0 ok, 1 the journal cannot be read or P is unknown, 2 usage "
                 "error.\n");
}

/* cli_dump_check - parse the --tid and --state values. Returns -1 if both are valid, else
 * TOOL_EXIT_USAGE (printed). */
static int
cli_dump_check(cli_dump_args_t *a)
{
    const char *prog = "rtrcli dump journal";

    if (a->tid_text != NULL && cmn_tid_parse(a->tid_text, &a->tid) != RTR_STS_OK) {
        fprintf(stderr,
                "%s: --tid: '%s' is not a TID (want <incarnation, up to 16 hex "
                "digits>.<counter in decimal>, e.g. 00c0ffee00000001.42)\n",
                prog, a->tid_text);
        return TOOL_EXIT_USAGE;
    }
    if (a->state_text != NULL && (a->state = cli_state_parse(a->state_text)) == 0) {
        fprintf(stderr,
                "%s: --state: unknown state '%s' (valid: VOTED, COMMIT, ABORT, "
                "EXCEPTION, PRI_DONE, DONE, MOVED)\n",
                prog, a->state_text);
        return TOOL_EXIT_USAGE;
    }
    return -1;
}

/* cli_dump_parse - fill *a from argv. Returns -1 when parsed, else the exit code to return. */
static int
cli_dump_parse(cli_dump_args_t *a, int argc, char **argv)
{
    const char *prog = "rtrcli dump journal";
    const tool_opt_t opts[] = {
        { "partition", TOOL_OPT_STR, "P", "only partition P", 0, 0, 0, &a->partition },
        { "tid", TOOL_OPT_STR, "T", "only the record of TID T (<16 hex>.<counter>)", 0, 0, 0,
          &a->tid_text },
        { "state", TOOL_OPT_STR, "S", "only records in state S (case-insensitive)", 0, 0, 0,
          &a->state_text },
        { "limit", TOOL_OPT_U64, "N", "list at most N records (0 = all)", 0, 0, UINT64_MAX,
          &a->limit },
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    char *pos[1];
    int npos;
    int rc = tool_opts_parse(prog, opts, nopts, argc, argv, pos, 1, &npos);

    if (rc == TOOL_OPTS_HELP) {
        cli_dump_usage(stdout, opts, nopts);
        return TOOL_EXIT_OK;
    }
    if (rc != 0)
        return TOOL_EXIT_USAGE;
    if (npos != 1) {
        fprintf(stderr,
                "%s: missing the journal directory (usage: rtrcli dump journal DIR "
                "[options]; see --help)\n",
                prog);
        return TOOL_EXIT_USAGE;
    }
    a->dir = pos[0];
    return cli_dump_check(a);
}

/* cli_dump_open - open a->dir read-only; on failure print why (naming the directory) and
 * return NULL. */
static jrn_t *
cli_dump_open(const cli_dump_args_t *a)
{
    jrn_options_t jo = { .dir = a->dir, .readonly = true };
    jrn_t *j = NULL;
    struct stat st;
    rtr_status_t sts;
    const char *why;

    if (stat(a->dir, &st) != 0) {
        fprintf(stderr, "rtrcli: cannot read journal %s: %s\n", a->dir,
                errno == ENOENT ? "no such directory" : strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "rtrcli: cannot read journal %s: not a directory\n", a->dir);
        return NULL;
    }
    sts = jrn_open(&jo, &j);
    switch (sts) {
    case RTR_STS_OK:
        return j;
    case RTR_STS_NOTFOUND:
        why = "not a journal directory (no RTR journal databases in it)";
        break;
    case RTR_STS_JNLCORRUPT:
        why = "the journal is damaged (its databases or logs do not read back; see the log "
              "line above)";
        break;
    case RTR_STS_IOERR:
        why = "I/O error while opening the journal (see the log line above)";
        break;
    case RTR_STS_BUSY:
        why = "the journal is locked by another process";
        break;
    default:
        why = rtr_strerror(sts);
        break;
    }
    fprintf(stderr, "rtrcli: cannot read journal %s: %s [%s]\n", a->dir, why, rtr_status_name(sts));
    return NULL;
}

/* cli_dump_row_json - one record as a JSON object (new reference, or NULL). */
static json_t *
cli_dump_row_json(const jrn_entry_t *e, const char *tid)
{
    const Rtr__JournalRecord *r = e->rec;
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I}", "partition",
                          e->part_name ? e->part_name : "?", "partition_id", (json_int_t)e->part,
                          "csn", (json_int_t)r->n, "epoch", (json_int_t)r->epoch, "tid", tid,
                          "state", cli_state_name((int)r->state), "msgs", (json_int_t)r->n_messages,
                          "bytes", (json_int_t)e->bytes);

    if (o != NULL && r->has_moved_to)
        json_object_set_new(o, "moved_to", json_integer((json_int_t)r->moved_to));
    if (o != NULL && r->has_replays)
        json_object_set_new(o, "replays", json_integer((json_int_t)r->replays));
    if (o != NULL && r->has_accepted_ms)
        json_object_set_new(o, "accepted_ms", json_integer((json_int_t)r->accepted_ms));
    if (o != NULL && r->coordinator != NULL)
        json_object_set_new(o, "coordinator", json_string(r->coordinator));
    return o;
}

/* cli_dump_row_text - one record as a table row. Returns 0 or -1 (out of memory). */
static int
cli_dump_row_text(tool_table_t *t, const jrn_entry_t *e, const char *tid)
{
    char csn[24], epoch[24], msgs[24], bytes[24];
    const char *cells[CLI_DUMP_NCOLS];

    snprintf(csn, sizeof csn, "%" PRIu64, e->rec->n);
    snprintf(epoch, sizeof epoch, "%" PRIu64, e->rec->epoch);
    snprintf(msgs, sizeof msgs, "%zu", e->rec->n_messages);
    snprintf(bytes, sizeof bytes, "%zu", e->bytes);
    cells[0] = e->part_name ? e->part_name : "?";
    cells[1] = csn;
    cells[2] = epoch;
    cells[3] = tid;
    cells[4] = cli_state_name((int)e->rec->state);
    cells[5] = msgs;
    cells[6] = bytes;
    return tool_table_add(t, cells);
}

/* cli_dump_visit - jrn_scan callback: count a selected record, list it within --limit. */
static int
cli_dump_visit(void *arg, const jrn_entry_t *e)
{
    cli_dump_t *d = arg;
    char tid[CMN_TID_STRLEN + 16];
    int state = (int)e->rec->state;

    if (d->a->state != 0 && state != d->a->state)
        return 0;
    d->counts[state >= 1 && state <= CLI_NSTATES ? state : 0]++;
    d->total++;
    if (d->a->limit != 0 && d->shown >= d->a->limit)
        return 0;
    cli_tid_text(e->rec, tid, sizeof tid);
    if (d->records != NULL) {
        json_t *o = cli_dump_row_json(e, tid);
        if (o == NULL || json_array_append_new(d->records, o) != 0)
            d->nomem = true;
    } else if (cli_dump_row_text(d->table, e, tid) != 0) {
        d->nomem = true;
    }
    d->shown++;
    return d->nomem ? 1 : 0;
}

/* cli_dump_tid - the --tid selection: the TID's newest record in partitions [first, end). */
static rtr_status_t
cli_dump_tid(cli_dump_t *d, uint32_t first, uint32_t end)
{
    uint8_t key[16];

    cmn_tid_pack(&d->a->tid, key);
    for (uint32_t p = first; p < end && !d->nomem; p++) {
        Rtr__JournalRecord *rec = NULL;
        uint64_t n;
        rtr_status_t sts = jrn_lookup_tid(d->j, key, p, &n);
        if (sts == RTR_STS_NOTFOUND)
            continue;
        if (sts == RTR_STS_OK)
            sts = jrn_get(d->j, p, n, &rec);
        if (sts == RTR_STS_NOTFOUND) /* deleted between the two reads (live journal) */
            continue;
        if (sts != RTR_STS_OK)
            return sts;
        /* bytes: jrn_get gives no stored size; the encoding is deterministic, so re-measure */
        jrn_entry_t e = { .part = p, .part_name = jrn_partition_name(d->j, p), .rec = rec };
        e.bytes = protobuf_c_message_get_packed_size(&rec->base);
        cli_dump_visit(d, &e);
        wire_free((ProtobufCMessage **)&rec);
    }
    return RTR_STS_OK;
}

/* cli_dump_select - resolve --partition to the partition ids [*first, *end); NOTFOUND
 * (printed) if the partition is unknown. */
static rtr_status_t
cli_dump_select(const cli_dump_t *d, uint32_t *first, uint32_t *end)
{
    uint32_t id, count = jrn_partition_count(d->j);

    if (d->a->partition == NULL) {
        *first = 0;
        *end = count;
        return RTR_STS_OK;
    }
    if (jrn_partition(d->j, d->a->partition, &id) != RTR_STS_OK) {
        fprintf(stderr, "rtrcli: journal %s has no partition '%s' (partitions:", d->a->dir,
                d->a->partition);
        for (uint32_t p = 0; p < count; p++)
            fprintf(stderr, " %s", jrn_partition_name(d->j, p));
        fprintf(stderr, "%s)\n", count == 0 ? " none" : "");
        return RTR_STS_NOTFOUND;
    }
    *first = id;
    *end = id + 1;
    return RTR_STS_OK;
}

/* cli_meta_json - the meta of one partition as a JSON object (new reference, or NULL). */
static json_t *
cli_meta_json(const char *name, uint32_t id, const Rtr__JournalMeta *m)
{
    json_t *o = json_pack("{s:s, s:I}", "name", name ? name : "?", "id", (json_int_t)id);
    json_t *h = json_array();

    if (o == NULL || h == NULL || m == NULL) {
        json_decref(h);
        return o;
    }
#define CLI_META_OPT(field) \
    if (m->has_##field)     \
        json_object_set_new(o, #field, json_integer((json_int_t)m->field));
    CLI_META_OPT(epoch)
    CLI_META_OPT(role)
    CLI_META_OPT(hardened_n)
    CLI_META_OPT(applied_n)
    CLI_META_OPT(partner_hardened_n)
    CLI_META_OPT(partner_applied_n)
    CLI_META_OPT(single_copy_from)
    CLI_META_OPT(single_copy_to)
    CLI_META_OPT(highest_epoch_seen)
#undef CLI_META_OPT
    for (size_t i = 0; i < m->n_history; i++)
        json_array_append_new(h, json_pack("{s:I, s:I}", "epoch", (json_int_t)m->history[i]->epoch,
                                           "first_n", (json_int_t)m->history[i]->first_n));
    json_object_set_new(o, "history", h);
    return o;
}

/* cli_meta_text - the meta of one partition as a few lines of text. */
static void
cli_meta_text(const char *name, uint32_t id, const Rtr__JournalMeta *m, FILE *out)
{
    fprintf(out, "partition %s (id %" PRIu32 "):", name ? name : "?", id);
    if (m == NULL) {
        fprintf(out, " no meta stored\n");
        return;
    }
    if (m->has_epoch)
        fprintf(out, " epoch %" PRIu64, m->epoch);
    else
        fprintf(out, " epoch unset");
    if (m->has_role)
        fprintf(out, ", role %" PRIu32, m->role);
    if (m->has_hardened_n)
        fprintf(out, ", hardened n %" PRIu64, m->hardened_n);
    if (m->has_applied_n)
        fprintf(out, ", applied n %" PRIu64, m->applied_n);
    if (m->has_partner_hardened_n)
        fprintf(out, ", partner hardened n %" PRIu64, m->partner_hardened_n);
    if (m->has_partner_applied_n)
        fprintf(out, ", partner applied n %" PRIu64, m->partner_applied_n);
    if (m->has_single_copy_from)
        fprintf(out, ", single-copy %" PRIu64 "..%" PRIu64, m->single_copy_from,
                m->has_single_copy_to ? m->single_copy_to : 0);
    if (m->has_highest_epoch_seen)
        fprintf(out, ", highest epoch seen %" PRIu64, m->highest_epoch_seen);
    fprintf(out, "\n  epoch history:");
    for (size_t i = 0; i < m->n_history; i++)
        fprintf(out, " %" PRIu64 "@n=%" PRIu64, m->history[i]->epoch, m->history[i]->first_n);
    fprintf(out, "%s\n", m->n_history == 0 ? " (none)" : "");
}

/* cli_dump_meta - the meta of partitions [first, end): appended to parts (JSON) or printed. */
static rtr_status_t
cli_dump_meta(cli_dump_t *d, uint32_t first, uint32_t end, json_t *parts)
{
    for (uint32_t p = first; p < end; p++) {
        Rtr__JournalMeta *m = NULL;
        const char *name = jrn_partition_name(d->j, p);
        rtr_status_t sts = jrn_meta_get(d->j, p, &m);
        if (sts != RTR_STS_OK && sts != RTR_STS_NOTFOUND)
            return sts;
        if (parts != NULL) {
            json_t *o = cli_meta_json(name, p, m);
            if (o == NULL || json_array_append_new(parts, o) != 0)
                d->nomem = true;
        } else {
            cli_meta_text(name, p, m, stdout);
        }
        wire_free((ProtobufCMessage **)&m);
    }
    return RTR_STS_OK;
}

/* cli_dump_counts_text - the per-state counts and the total line. */
static void
cli_dump_counts_text(const cli_dump_t *d)
{
    static const char *const hdr[] = { "STATE", ">COUNT" };
    tool_table_t *t = tool_table_new(2, hdr);
    char num[24];

    for (int s = 1; s <= CLI_NSTATES && t != NULL; s++) {
        const char *cells[2] = { cli_state_names[s], num };
        snprintf(num, sizeof num, "%" PRIu64, d->counts[s]);
        tool_table_add(t, cells);
    }
    if (t != NULL && d->counts[0] != 0) {
        const char *cells[2] = { "(unknown)", num };
        snprintf(num, sizeof num, "%" PRIu64, d->counts[0]);
        tool_table_add(t, cells);
    }
    if (t != NULL)
        tool_table_print(t, stdout);
    tool_table_free(&t);
    printf("total: %" PRIu64 " record%s", d->total, d->total == 1 ? "" : "s");
    if (d->shown < d->total)
        printf(" (%" PRIu64 " listed; --limit 0 lists all)", d->shown);
    printf("\n");
}

/* cli_dump_json_out - assemble and print the --json object. Consumes parts. */
static int
cli_dump_json_out(cli_dump_t *d, json_t *parts)
{
    json_t *counts = json_object();
    json_t *o;

    for (int s = 1; s <= CLI_NSTATES && counts != NULL; s++)
        json_object_set_new(counts, cli_state_names[s], json_integer((json_int_t)d->counts[s]));
    o = json_pack("{s:s, s:o, s:O, s:o, s:I, s:I}", "dir", d->a->dir, "partitions", parts,
                  "records", d->records, "counts", counts, "total", (json_int_t)d->total, "shown",
                  (json_int_t)d->shown);
    if (o == NULL) {
        fprintf(stderr, "rtrcli: out of memory\n");
        return TOOL_EXIT_FAIL;
    }
    tool_json_print(o, stdout);
    json_decref(o);
    return TOOL_EXIT_OK;
}

/* cli_dump_text_out - the listing, the counts and the total line (text mode). */
static void
cli_dump_text_out(const cli_dump_t *d)
{
    printf("journal %s: %" PRIu32 " partition%s\n\n", d->a->dir, jrn_partition_count(d->j),
           jrn_partition_count(d->j) == 1 ? "" : "s");
    if (d->shown > 0)
        tool_table_print(d->table, stdout);
    else
        printf("(no records selected)\n");
    printf("\n");
    cli_dump_counts_text(d);
    printf("\n");
}

/* cli_dump_run - list, count and describe the selection of an open journal. */
static int
cli_dump_run(cli_dump_t *d)
{
    uint32_t first, end;
    json_t *parts = NULL;
    rtr_status_t sts;

    if (cli_dump_select(d, &first, &end) != RTR_STS_OK)
        return TOOL_EXIT_FAIL;
    if (d->a->tid_text != NULL)
        sts = cli_dump_tid(d, first, end);
    else
        sts = jrn_scan(d->j, d->a->partition ? first : JRN_ALL_PARTITIONS, 0, UINT64_MAX,
                       cli_dump_visit, d);
    if (sts == RTR_STS_OK && d->records != NULL && (parts = json_array()) == NULL)
        sts = RTR_STS_NOMEM;
    if (sts == RTR_STS_OK && !d->nomem && d->records == NULL)
        cli_dump_text_out(d);
    if (sts == RTR_STS_OK)
        sts = cli_dump_meta(d, first, end, parts);
    if (sts == RTR_STS_OK && d->nomem)
        sts = RTR_STS_NOMEM;
    if (sts != RTR_STS_OK) {
        fprintf(stderr, "rtrcli: reading journal %s failed: %s [%s]\n", d->a->dir,
                rtr_strerror(sts), rtr_status_name(sts));
        json_decref(parts);
        return TOOL_EXIT_FAIL;
    }
    return d->records != NULL ? cli_dump_json_out(d, parts) : TOOL_EXIT_OK;
}

int
cli_dump_journal(const cli_opts_t *opts, int argc, char **argv)
{
    cli_dump_args_t a = { .json = opts->json };
    cli_dump_t d = { .a = &a };
    int rc = cli_dump_parse(&a, argc, argv);

    if (rc >= 0)
        return rc;
    /* The journal logs its own errors (with errno and BDB's text) to stderr; notices about
     * a normal read-only open would only clutter the listing. */
    cmn_log_open(NULL, CMN_LOG_WARNING, "rtrcli", NULL);
    if ((d.j = cli_dump_open(&a)) == NULL)
        return TOOL_EXIT_FAIL;
    if (a.json)
        d.records = json_array();
    else
        d.table = tool_table_new(CLI_DUMP_NCOLS, cli_dump_headers);
    if (d.records == NULL && d.table == NULL) {
        fprintf(stderr, "rtrcli: out of memory\n");
        rc = TOOL_EXIT_FAIL;
    } else {
        rc = cli_dump_run(&d);
    }
    json_decref(d.records);
    tool_table_free(&d.table);
    jrn_close(&d.j);
    return rc;
}
