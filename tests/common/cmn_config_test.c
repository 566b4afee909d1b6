/*
 * cmn_config_test.c - the facility file: the sample configs load; every bad config in
 * tests/common/configs/bad is refused with its exact "FILE:LINE: message"; journal directories
 * are checked against a real file system (built at run time in a temp dir); lookups, key
 * routing and defaults; and docs/config-reference.md agrees with the option table.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmn.h"
#include "cmn_config.h"
#include "tst.h"

/* ---- helpers -------------------------------------------------------------------------- */

static char *
src_path(const char *rel)
{
    char *p;
    cr_assert_geq(asprintf(&p, "%s/%s", tst_source_dir(), rel), 0);
    return p;
}

/* write_conf - write text to dir/name; returns the path (caller frees). */
static char *
write_conf(const char *dir, const char *name, const char *text)
{
    char *p;
    cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
    cr_assert_eq(tst_write_file(p, text, strlen(text)), 0, "write %s", p);
    return p;
}

/* expect_error - load path and require status sts with the exact message on `line`. */
static void
expect_error(const char *path, const cmn_load_opts_t *opts, rtr_status_t sts, int line,
             const char *message)
{
    cmn_facility_t *fac = (cmn_facility_t *)&fac; /* must be set to NULL */
    cmn_diag_t *diag = NULL;
    char *want;

    if (line > 0)
        cr_assert_geq(asprintf(&want, "%s:%d: %s", path, line, message), 0);
    else
        cr_assert_geq(asprintf(&want, "%s: %s", path, message), 0);
    cr_expect_eq(cmn_facility_load_ex(path, opts, &fac, &diag), sts, "%s", path);
    cr_expect_null(fac, "%s: a facility was returned", path);
    cr_assert_not_null(diag, "%s: no diagnostic", path);
    cr_expect_str_eq(diag->error, want);
    cr_expect_eq(diag->line, line, "%s", path);
    cr_expect_str_eq(diag->message, message);
    cr_expect_str_eq(diag->file, path);
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    free(want);
}

/* load_ok - load and require success without warnings. */
static cmn_facility_t *
load_ok(const char *path)
{
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;
    rtr_status_t sts = cmn_facility_load(path, &fac, &diag);

    cr_assert_not_null(diag);
    cr_assert_eq(sts, RTR_STS_OK, "%s: %s", path, diag->error ? diag->error : "?");
    cr_expect_null(diag->error);
    cr_expect_eq(diag->nwarnings, 0, "%s: %s", path, diag->nwarnings ? diag->warnings[0] : "");
    cmn_diag_free(&diag);
    cr_assert_not_null(fac);
    return fac;
}

static const cmn_partition_t *
route_u32(const cmn_facility_t *fac, uint32_t acct)
{
    cmn_key_t k;
    cr_assert_eq(cmn_key_extract(fac->seg, fac->nseg, &acct, sizeof acct, &k), RTR_STS_OK);
    return cmn_facility_partition_for_key(fac, &k);
}

/* ---- the bad configs ------------------------------------------------------------------ */

/* Every file of tests/common/configs/bad with the line and message it must be refused with. */
static const struct {
    const char *file;
    int line;
    const char *message;
} bad_configs[] = {
    { "bad_facility_name.conf", 2,
      "facility: \"BANK-1\" is not a valid name (1 to 30 characters: letters, digits, '_')" },
    { "bad_node_name.conf", 7,
      "routers[0].name: \"r 1\" is not a valid name (1 to 31 characters: letters, digits, '_' "
      "and '-', not starting with '-')" },
    { "bound_count.conf", 25, "partitions[0].low: 2 values for a key of 1 segment" },
    { "bound_negative_unsigned.conf", 25,
      "partitions[0].low[0]: -1 is out of range for key[0] (unsigned, 4 bytes: 0..4294967295)" },
    { "bound_not_array.conf", 25,
      "partitions[0].high: expected an array [ ... ] or a list ( ... ), found an integer" },
    { "bound_out_of_range.conf", 27,
      "partitions[1].high[0]: 256 is out of range for key[0] (unsigned, 1 byte: 0..255)" },
    { "bound_signed_out_of_range.conf", 25,
      "partitions[0].low[0]: -129 is out of range for key[0] (signed, 1 byte: -128..127)" },
    { "bound_string_too_long.conf", 27,
      "partitions[1].low[0]: \"NOPQR\" is 5 bytes long; key[0] holds at most 4" },
    { "bound_wrong_type.conf", 25,
      "partitions[0].high[0]: expected an integer for key[0] (unsigned, 4 bytes), found a "
      "string" },
    { "duplicate_backend_case.conf", 18,
      "backends[1].name: node \"BE1\" is already defined as backend \"be1\" at line 13" },
    { "duplicate_group_key.conf", 10, "duplicate key \"name\" (first defined at line 7)" },
    { "duplicate_node_name.conf", 13,
      "backends[0].name: node \"r1\" is already defined as router \"r1\" at line 7" },
    { "duplicate_partition.conf", 27,
      "partitions[1].name: partition \"low\" is already defined at line 25" },
    { "duplicate_top_key.conf", 24, "duplicate key \"facility\" (first defined at line 2)" },
    { "empty.conf", 0, "missing required key \"facility\"" },
    { "endpoint_bad_host.conf", 8,
      "routers[0].clients: \"tcp://bad_host:7101\" is not a valid endpoint: \"bad_host\" is not "
      "a valid host name" },
    { "endpoint_bad_ipv4.conf", 8,
      "routers[0].clients: \"tcp://127.0.0.256:7101\" is not a valid endpoint: \"127.0.0.256\" "
      "is not a valid IPv4 address" },
    { "endpoint_bad_port.conf", 9,
      "routers[0].peers: \"tcp://127.0.0.1:70000\" is not a valid endpoint: port \"70000\" is "
      "not a number from 1 to 65535" },
    { "endpoint_duplicate.conf", 19,
      "backends[1].shadow: endpoint \"tcp://127.0.0.1:7201\" is already used by backend \"be1\" "
      "(shadow, line 14)" },
    { "endpoint_duplicate_ipc.conf", 21,
      "backends[1].admin: endpoint \"ipc:///tmp//rtr-test-r1.adm\" is already used by router "
      "\"r1\" (admin, line 10)" },
    { "endpoint_duplicate_spelling.conf", 9,
      "routers[0].peers: endpoint \"tcp://127.0.0.1:07101\" is already used by router \"r1\" "
      "(clients, line 8)" },
    { "endpoint_ipv6.conf", 8,
      "routers[0].clients: \"tcp://[::1]:7101\" is not a valid endpoint: IPv6 addresses are not "
      "supported; use a host name or an IPv4 address" },
    { "endpoint_no_port.conf", 9,
      "routers[0].peers: \"tcp://127.0.0.1\" is not a valid endpoint: missing :PORT (expected "
      "tcp://HOST:PORT)" },
    { "endpoint_port_zero.conf", 19,
      "backends[1].shadow: \"tcp://127.0.0.1:0\" is not a valid endpoint: port \"0\" is not a "
      "number from 1 to 65535" },
    { "endpoint_scheme.conf", 14,
      "backends[0].shadow: \"udp://127.0.0.1:7201\" is not a valid endpoint: expected "
      "tcp://HOST:PORT" },
    { "endpoint_wildcard.conf", 8,
      "routers[0].clients: \"tcp://*:7101\" is not a valid endpoint: \"*\" is not an address "
      "other nodes can connect to" },
    { "facility_name_too_long.conf", 2,
      "facility: \"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\" is not a valid name (1 to 30 characters: "
      "letters, digits, '_')" },
    { "include.conf", 24, "@include is not supported: a facility is one file" },
    { "int64_overflow.conf", 27, "integer 99999999999999999999L does not fit in 64 bits" },
    { "int_overflow.conf", 27,
      "integer 3000000000 does not fit in 32 bits; write 3000000000L for a 64-bit integer" },
    { "ipc_not_allowed.conf", 8,
      "routers[0].clients: \"ipc:///tmp/rtr-test-r1.cli\": ipc endpoints are not allowed here; "
      "clients must be tcp://HOST:PORT (other nodes connect to it)" },
    { "ipc_relative.conf", 16,
      "backends[0].admin: \"ipc://rtr-test-be1.adm\" is not a valid endpoint: the ipc path must "
      "be absolute (ipc:///PATH)" },
    { "ipc_too_long.conf", 15,
      "backends[0].servers: the ipc path is 101 characters long; the limit is 100" },
    { "journal_dotdot.conf", 17,
      "backends[0].journal: \"/tmp/rtr-test/../be1\" must not contain \".\" or \"..\" "
      "components" },
    { "journal_nested.conf", 22,
      "backends[1].journal: \"/tmp/rtr-test/be1/be2\" and the journal directory "
      "\"/tmp/rtr-test/be1\" of backend \"be1\" (line 13) are nested" },
    { "journal_relative.conf", 17, "backends[0].journal: \"var/be1\" must be an absolute path" },
    { "journal_shared.conf", 22,
      "backends[1].journal: \"/tmp/rtr-test/be1\" is already the journal directory of backend "
      "\"be1\" (line 13)" },
    { "journal_under_file.conf", 17,
      "backends[0].journal: \"/dev/null/be1\" is not usable: /dev/null is not a directory" },
    { "keyseg_bad_length.conf", 4,
      "key[0].length: 3 is not a valid length for an unsigned segment (1, 2, 4 or 8)" },
    { "keyseg_bad_type.conf", 4, "key[0].type: \"float\" is not one of: signed, unsigned, string" },
    { "keyseg_beyond_message.conf", 4,
      "key[0]: the segment ends at byte 64003, beyond the largest message (64000 bytes)" },
    { "keyseg_string_length_zero.conf", 4, "key[0].length: 0 is out of range (1..255)" },
    { "low_above_high.conf", 25, "partitions[0]: low bound [450] is above high bound [10]" },
    { "missing_facility.conf", 0, "missing required key \"facility\"" },
    { "missing_partition_primary.conf", 27, "partitions[1]: missing required key \"primary\"" },
    { "missing_router_peers.conf", 7, "routers[0]: missing required key \"peers\"" },
    { "missing_routers.conf", 0, "missing required key \"routers\"" },
    { "mixed_array.conf", 25,
      "mismatched element type in array: all values of an array [ ... ] must have one type (1 "
      "and 1L differ); use a list ( ... ) for mixed values" },
    { "no_backends.conf", 12, "backends: no backend is defined; at least 1 is required" },
    { "no_partitions.conf", 24, "partitions: no partition is defined; at least 1 is required" },
    { "no_routers.conf", 6, "routers: no router is defined; at least 1 is required" },
    { "overlap.conf", 27,
      "partitions[1]: key range [400] .. [999] of partition \"HIGH\" overlaps partition \"LOW\" "
      "[0] .. [499] (line 25)" },
    { "overlap_contained.conf", 27,
      "partitions[1]: key range [500] .. [999] of partition \"HIGH\" overlaps partition \"LOW\" "
      "[0] .. [9999] (line 25)" },
    { "overlap_shared_bound.conf", 27,
      "partitions[1]: key range [499] .. [999] of partition \"HIGH\" overlaps partition \"LOW\" "
      "[0] .. [499] (line 25)" },
    { "pair_same_node.conf", 26,
      "partitions[0].secondary: \"be1\" is also the primary; a pair needs two different "
      "backends" },
    { "primary_is_router.conf", 26, "partitions[0].primary: \"r1\" is a router, not a backend" },
    { "remember_bad.conf", 26, "partitions[0].remember: \"maybe\" is not one of: allow, deny" },
    { "remember_deny_unshadowed.conf", 26,
      "partitions[0].remember: \"deny\" needs a secondary (a partition without one always "
      "commits with a single copy)" },
    { "settings_catchup_lag_short.conf", 28,
      "settings.catchup_lag_ms: 299 must be at least settings.heartbeat_ms (300)" },
    { "settings_catchup_window_small.conf", 26,
      "settings.catchup_window_bytes: 131072 must be at least settings.max_frame_bytes "
      "(262144)" },
    { "settings_deny_reject_short.conf", 26,
      "settings.deny_reject_ms: 999 must be at least settings.failure_timeout_ms (1000)" },
    { "settings_lease_margin_default_lease.conf", 27,
      "settings.lease_margin_ms: 1000 must be less than half of settings.lease_ms (2000, the "
      "default: 2 * failure_timeout_ms)" },
    { "settings_lease_margin_half.conf", 27,
      "settings.lease_margin_ms: 500 must be less than half of settings.lease_ms (1000)" },
    { "settings_lease_margin_zero.conf", 26,
      "settings.lease_margin_ms: 0 is out of range (1..299999)" },
    { "settings_lease_out_of_range.conf", 26,
      "settings.lease_ms: 600001 is out of range (20..600000)" },
    { "settings_lease_short.conf", 27,
      "settings.lease_ms: 400 must be at least twice settings.heartbeat_ms (250)" },
    { "settings_log_level.conf", 24,
      "settings.log_level: \"loud\" is not one of: emerg, alert, crit, err, warning, notice, "
      "info, debug" },
    { "settings_not_group.conf", 24, "settings: expected a group { ... }, found a list ( ... )" },
    { "settings_out_of_range.conf", 24, "settings.heartbeat_ms: 5 is out of range (10..60000)" },
    { "settings_register_timeout_range.conf", 26,
      "settings.register_timeout_ms: 5 is out of range (10..60000)" },
    { "settings_shadow_lag_short.conf", 26,
      "settings.shadow_lag_ms: 100 must be at least settings.heartbeat_ms (250)" },
    { "settings_shadow_window_small.conf", 27,
      "settings.shadow_window_bytes: 1048576 must be at least settings.max_frame_bytes "
      "(2097152)" },
    { "settings_timeout_short.conf", 26,
      "settings.failure_timeout_ms: 300 must be at least twice settings.heartbeat_ms (250)" },
    { "settings_window_too_large.conf", 26,
      "settings.catchup_window_bytes: 2147483648 is out of range (131072..1073741824)" },
    { "standby_is_member.conf", 26,
      "partitions[0].standby[0]: \"be2\" is already the partition's secondary" },
    { "state_is_journal.conf", 11,
      "routers[0].state: \"/tmp/rtr-test/be2\" is already the journal directory of backend "
      "\"be2\" (line 19)" },
    { "state_missing.conf", 12,
      "routers[1]: missing required key \"state\": partition \"LOW\" (line 35) is shadowed, so "
      "every router keeps the facility register" },
    { "state_nested.conf", 11,
      "routers[0].state: \"/tmp/rtr-test\" and the journal directory \"/tmp/rtr-test/be1\" of "
      "backend \"be1\" (line 14) are nested" },
    { "state_relative.conf", 11, "routers[0].state: \"var/r1\" must be an absolute path" },
    { "state_shared.conf", 21,
      "routers[2].state: \"/tmp/rtr-test/r1\" is already the state directory of router \"r1\" "
      "(line 7)" },
    { "state_under_file.conf", 11,
      "routers[0].state: \"/dev/null/r1\" is not usable: /dev/null is not a directory" },
    { "state_wrong_type.conf", 11, "routers[0].state: expected a string, found an integer" },
    { "syntax_missing_semicolon_brace.conf", 11, "syntax error" },
    { "syntax_unterminated_string.conf", 11, "syntax error" },
    { "too_many_segments.conf", 3, "key: 21 key segments are defined; at most 20 are allowed" },
    { "unknown_partition_key.conf", 26,
      "unknown key \"stanby\" in partitions[0] (expected one of: name, low, high, primary, "
      "secondary, standby, concurrent, remember)" },
    { "unknown_primary.conf", 26, "partitions[0].primary: unknown backend \"be9\"" },
    { "unknown_router_key.conf", 8,
      "unknown key \"client\" in routers[0] (expected one of: name, clients, peers, admin, "
      "state)" },
    { "unknown_secondary.conf", 28, "partitions[1].secondary: unknown backend \"be3\"" },
    { "unknown_settings_key.conf", 24,
      "unknown key \"heartbeat\" in settings (expected one of: heartbeat_ms, failure_timeout_ms, "
      "max_frame_bytes, journal_max_mb, replay_limit, log_level, lease_ms, lease_margin_ms, "
      "shadow_lag_ms, catchup_lag_ms, shadow_window_bytes, catchup_window_bytes, "
      "register_timeout_ms, deny_reject_ms)" },
    { "unknown_standby.conf", 26, "partitions[0].standby[0]: unknown backend \"be3\"" },
    { "unknown_top_key.conf", 6,
      "unknown key \"router\" at the top level (expected one of: facility, key, routers, "
      "backends, partitions, settings)" },
    { "wrong_type_concurrent.conf", 26,
      "partitions[0].concurrent: expected true or false, found a string" },
    { "wrong_type_element.conf", 6, "routers[0]: expected a group { ... }, found a string" },
    { "wrong_type_facility.conf", 2, "facility: expected a string, found an integer" },
    { "wrong_type_float.conf", 24,
      "settings.heartbeat_ms: expected an integer, found a floating-point number" },
    { "wrong_type_routers.conf", 6,
      "routers: expected a list ( { ... }, ... ), found a group { ... }" },
    { "wrong_type_standby.conf", 26,
      "partitions[0].standby[0]: expected a string, found an integer" },
};
#define NBAD (sizeof bad_configs / sizeof bad_configs[0])

Test(cmn_config, bad_configs_are_refused_with_exact_messages)
{
    cr_assert_geq(NBAD, 30);
    for (size_t i = 0; i < NBAD; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/common/configs/bad/%s", bad_configs[i].file);
        char *path = src_path(rel);
        expect_error(path, NULL, RTR_STS_CONFIG, bad_configs[i].line, bad_configs[i].message);
        free(path);
    }
}

/* Every file in the bad directory has its row above (a new file cannot go untested). */
Test(cmn_config, every_bad_config_file_is_in_the_table)
{
    char *dir = src_path("tests/common/configs/bad");
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t files = 0;

    cr_assert_not_null(d, "%s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        bool found = false;
        if (n < 5 || strcmp(e->d_name + n - 5, ".conf") != 0)
            continue;
        files++;
        for (size_t i = 0; i < NBAD && !found; i++)
            found = strcmp(bad_configs[i].file, e->d_name) == 0;
        cr_expect(found, "%s/%s has no expected message in bad_configs[]", dir, e->d_name);
    }
    closedir(d);
    cr_expect_eq(files, NBAD, "%zu files for %zu table rows", files, NBAD);
    free(dir);
}

/* ---- the sample configs --------------------------------------------------------------- */

Test(cmn_config, every_sample_config_loads)
{
    char *dir = src_path("docs");
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    cr_assert_not_null(d, "%s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".conf") != 0)
            continue;
        char *path;
        cr_assert_geq(asprintf(&path, "%s/%s", dir, e->d_name), 0);
        cmn_facility_t *fac = load_ok(path);
        cmn_facility_free(&fac);
        cr_expect_null(fac);
        free(path);
        n++;
    }
    closedir(d);
    cr_expect_geq(n, 2, "expected docs/facility.conf and docs/facility-shadow.conf");
    free(dir);
}

Test(cmn_config, demo_facility_contents)
{
    char *path = src_path("docs/facility.conf");
    cmn_facility_t *fac = load_ok(path);

    cr_expect_str_eq(fac->path, path);
    cr_expect_str_eq(fac->name, "BANK");
    cr_expect_eq(fac->nseg, 1);
    cr_expect_eq(fac->seg[0].type, CMN_KEYSEG_UNSIGNED);
    cr_expect_eq(fac->seg[0].offset, 0);
    cr_expect_eq(fac->seg[0].length, 4);
    cr_expect_eq(fac->keylen, 4);
    cr_assert_eq(fac->nrouters, 1);
    cr_assert_eq(fac->nbackends, 2);
    cr_assert_eq(fac->npartitions, 2);
    cr_expect_str_eq(fac->routers[0].name, "r1");
    cr_expect_str_eq(fac->routers[0].clients, "tcp://127.0.0.1:7101");
    cr_expect_str_eq(fac->backends[1].journal, "/tmp/rtr/be2");

    const cmn_partition_t *lo = cmn_facility_partition(fac, "ACCT_LOW");
    const cmn_partition_t *hi = cmn_facility_partition(fac, "acct_high");
    cr_assert_not_null(lo);
    cr_assert_not_null(hi);
    cr_expect_str_eq(lo->low_text, "[0]");
    cr_expect_str_eq(lo->high_text, "[499999]");
    cr_expect_eq(lo->primary, cmn_facility_backend(fac, "be1"));
    cr_expect_null(lo->secondary);
    cr_expect_eq(lo->nstandby, 0);
    cr_expect(lo->concurrent);
    cr_expect_eq(lo->remember, CMN_REMEMBER_ALLOW);
    cr_expect_eq(hi->primary, cmn_facility_backend(fac, "BE2"));

    cr_expect_eq(route_u32(fac, 0), lo);
    cr_expect_eq(route_u32(fac, 499999), lo);
    cr_expect_eq(route_u32(fac, 500000), hi);
    cr_expect_eq(route_u32(fac, 999999), hi);
    cr_expect_null(route_u32(fac, 1000000));
    cr_expect_null(route_u32(fac, UINT32_MAX));

    /* the defaults of the settings table */
    cr_expect_eq(fac->settings.heartbeat_ms, 250);
    cr_expect_eq(fac->settings.failure_timeout_ms, 1000);
    cr_expect_eq(fac->settings.max_frame_bytes, 1048576);
    cr_expect_eq(fac->settings.journal_max_mb, 0);
    cr_expect_eq(fac->settings.replay_limit, 3);
    cr_expect_eq(fac->settings.log_level, CMN_LOG_NOTICE);
    /* the shadow-pair settings: defaults, derived from failure_timeout_ms = 1000 */
    cr_expect_eq(fac->settings.lease_ms, 2000);
    cr_expect_eq(fac->settings.lease_margin_ms, 200);
    cr_expect_eq(fac->settings.shadow_lag_ms, 1000);
    cr_expect_eq(fac->settings.catchup_lag_ms, 1000);
    cr_expect_eq(fac->settings.shadow_window_bytes, 8388608);
    cr_expect_eq(fac->settings.catchup_window_bytes, 4194304);
    cr_expect_eq(fac->settings.register_timeout_ms, 500);
    cr_expect_eq(fac->settings.deny_reject_ms, 2000);
    /* no partition is shadowed: no register, no state directory needed */
    cr_expect_null(fac->routers[0].state);

    cr_expect_eq(cmn_facility_router(fac, "R1"), &fac->routers[0]);
    cr_expect_null(cmn_facility_router(fac, "be1"));
    cr_expect_null(cmn_facility_backend(fac, "r1"));
    cr_expect_null(cmn_facility_partition(fac, "ACCT"));
    cr_expect_null(cmn_facility_router(fac, NULL));
    cr_expect_null(cmn_facility_router(NULL, "r1"));
    cmn_facility_free(&fac);
    free(path);
}

Test(cmn_config, shadow_facility_contents)
{
    char *path = src_path("docs/facility-shadow.conf");
    cmn_facility_t *fac = load_ok(path);

    cr_assert_eq(fac->nrouters, 3);
    cr_expect_str_eq(fac->routers[0].state, "/tmp/rtr-shadow/r1");
    cr_expect_str_eq(fac->routers[1].state, "/tmp/rtr-shadow/r2");
    cr_expect_str_eq(fac->routers[2].state, "/tmp/rtr-shadow/r3");
    cr_expect_eq(fac->settings.lease_ms, 2000);
    cr_expect_eq(fac->settings.register_timeout_ms, 500);
    cr_assert_eq(fac->npartitions, 1);
    const cmn_partition_t *p = &fac->partitions[0];
    cr_expect_str_eq(p->name, "ACCT");
    cr_expect_str_eq(p->primary->name, "be1");
    cr_assert_not_null(p->secondary);
    cr_expect_str_eq(p->secondary->name, "be2");
    cr_expect_str_eq(p->high_text, "[4294967295]");
    cr_expect_eq(route_u32(fac, 0), p);
    cr_expect_eq(route_u32(fac, UINT32_MAX), p);
    cmn_facility_free(&fac);
    free(path);
}

/* ---- configs built at run time ------------------------------------------------------------ */

/* A valid facility with the journals and partitions given; "%s" slots: the key list, the
 * router's state clause (line 4), journal of be1, journal of be2, the partitions list (line
 * 16), extra top-level text (from line 17). Journal lines are 11 and 14. */
#define CONF_FMT                                                                  \
    "facility = \"T\";\n"                                                         \
    "key = ( %s );\n"                                                             \
    "routers = ( { name = \"r1\"; clients = \"tcp://127.0.0.1:7101\";\n"          \
    "              peers = \"tcp://127.0.0.1:7111\";%s\n"                         \
    "              admin = \"tcp://127.0.0.1:7121\"; } );\n"                      \
    "backends = (\n"                                                              \
    "  { name = \"be1\";\n"                                                       \
    "    shadow = \"tcp://127.0.0.1:7201\";\n"                                    \
    "    servers = \"tcp://127.0.0.1:7211\";\n"                                   \
    "    admin = \"tcp://127.0.0.1:7221\";\n"                                     \
    "    journal = \"%s\"; },\n"                                                  \
    "  { name = \"be2\"; shadow = \"tcp://127.0.0.1:7202\";\n"                    \
    "    servers = \"tcp://127.0.0.1:7212\"; admin = \"tcp://127.0.0.1:7222\";\n" \
    "    journal = \"%s\"; }\n"                                                   \
    ");\n"                                                                        \
    "partitions = ( %s );\n"                                                      \
    "%s"

static const char *const u4_key = "{ type = \"unsigned\"; offset = 0; length = 4; }";
static const char *const u4_parts =
    "{ name = \"A\"; low = [ 0 ]; high = [ 9 ]; primary = \"be1\"; secondary = \"be2\"; }";

/* The router's state clause make_conf writes: u4_parts is shadowed. */
#define STATE_R1 " state = \"/tmp/rtr-test-cfg/r1\";"

static char *
make_conf(const char *dir, const char *name, const char *j1, const char *j2, const char *key,
          const char *parts, const char *extra)
{
    char *text, *path;
    cr_assert_geq(asprintf(&text, CONF_FMT, key, STATE_R1, j1, j2, parts, extra), 0);
    path = write_conf(dir, name, text);
    free(text);
    return path;
}

Test(cmn_config, journal_below_a_regular_file_is_refused)
{
    char *dir = tst_tmpdir("cfg"), *file, *j, *msg, *conf;

    cr_assert_geq(asprintf(&file, "%s/plain", dir), 0);
    cr_assert_eq(tst_write_file(file, "x", 1), 0);
    cr_assert_geq(asprintf(&j, "%s/be1", file), 0);
    conf = make_conf(dir, "f.conf", j, "/tmp/rtr-test-cfg/be2", u4_key, u4_parts, "");
    cr_assert_geq(
        asprintf(&msg, "backends[0].journal: \"%s\" is not usable: %s is not a directory", j, file),
        0);
    expect_error(conf, NULL, RTR_STS_CONFIG, 11, msg);
    free(msg);
    free(conf);
    free(j);

    /* deeper: the regular file is a grandparent */
    cr_assert_geq(asprintf(&j, "%s/a/b/c", file), 0);
    conf = make_conf(dir, "g.conf", "/tmp/rtr-test-cfg/be1", j, u4_key, u4_parts, "");
    cr_assert_geq(
        asprintf(&msg, "backends[1].journal: \"%s\" is not usable: %s is not a directory", j, file),
        0);
    expect_error(conf, NULL, RTR_STS_CONFIG, 14, msg);
    free(msg);
    free(conf);
    free(j);
    free(file);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, journal_that_is_a_file_is_refused)
{
    char *dir = tst_tmpdir("cfg"), *file, *msg, *conf;

    cr_assert_geq(asprintf(&file, "%s/plain", dir), 0);
    cr_assert_eq(tst_write_file(file, "x", 1), 0);
    conf = make_conf(dir, "f.conf", file, "/tmp/rtr-test-cfg/be2", u4_key, u4_parts, "");
    cr_assert_geq(asprintf(&msg,
                           "backends[0].journal: \"%s\" is not usable: it exists and is not a "
                           "directory",
                           file),
                  0);
    expect_error(conf, NULL, RTR_STS_CONFIG, 11, msg);
    free(msg);
    free(conf);
    free(file);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, journal_existing_or_creatable_is_accepted)
{
    char *dir = tst_tmpdir("cfg"), *j1, *j2, *conf;
    struct stat st;

    cr_assert_geq(asprintf(&j1, "%s/exists", dir), 0);
    cr_assert_eq(mkdir(j1, 0700), 0);
    cr_assert_geq(asprintf(&j2, "%s/not/yet/there", dir), 0);
    conf = make_conf(dir, "ok.conf", j1, j2, u4_key, u4_parts, "");
    cmn_facility_t *fac = load_ok(conf);
    cr_expect_str_eq(fac->backends[0].journal, j1);
    cr_expect_str_eq(fac->backends[1].journal, j2);
    cmn_facility_free(&fac);
    /* validation creates nothing */
    cr_expect_neq(stat(j2, &st), 0, "%s was created", j2);
    free(conf);
    free(j1);
    free(j2);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, journal_paths_are_normalized)
{
    char *dir = tst_tmpdir("cfg"), *conf;

    conf = make_conf(dir, "n.conf", "/tmp//rtr-test-cfg///be1/", "/tmp/rtr-test-cfg/be2", u4_key,
                     u4_parts, "");
    cmn_facility_t *fac = load_ok(conf);
    cr_expect_str_eq(fac->backends[0].journal, "/tmp/rtr-test-cfg/be1");
    cmn_facility_free(&fac);
    free(conf);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, journal_check_modes)
{
    char *dir = tst_tmpdir("cfg"), *conf;
    cmn_load_opts_t none = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_load_opts_t be1 = { CMN_JOURNAL_CHECK_NODE, "be1" };
    cmn_load_opts_t be2 = { CMN_JOURNAL_CHECK_NODE, "BE2" };
    cmn_load_opts_t r1 = { CMN_JOURNAL_CHECK_NODE, "r1" };
    cmn_load_opts_t nobody = { CMN_JOURNAL_CHECK_NONE, "r9" };
    cmn_load_opts_t nonode = { CMN_JOURNAL_CHECK_NODE, NULL };
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;

    /* be1's journal is unusable; only the modes that check it refuse the file */
    conf = make_conf(dir, "m.conf", "/dev/null/be1", "/tmp/rtr-test-cfg/be2", u4_key, u4_parts, "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 11,
                 "backends[0].journal: \"/dev/null/be1\" is not usable: /dev/null is not a "
                 "directory");
    expect_error(conf, &be1, RTR_STS_CONFIG, 11,
                 "backends[0].journal: \"/dev/null/be1\" is not usable: /dev/null is not a "
                 "directory");
    expect_error(conf, &nobody, RTR_STS_CONFIG, 0, "node \"r9\" is not defined in the facility");
    cr_expect_eq(cmn_facility_load_ex(conf, &none, &fac, &diag), RTR_STS_OK);
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    cr_expect_eq(cmn_facility_load_ex(conf, &be2, &fac, &diag), RTR_STS_OK);
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    cr_expect_eq(cmn_facility_load_ex(conf, &r1, &fac, &diag), RTR_STS_OK);
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    cr_expect_eq(cmn_facility_load_ex(conf, &nonode, &fac, &diag), RTR_STS_INVARG);
    cr_expect_null(fac);
    cr_expect_null(diag);
    free(conf);
    tst_rmtree(dir);
    free(dir);
}

/* ---- routers[].state and the shadow-pair settings (docs/shadow-protocol.md §5.5, §5.6) ---- */

static const char *const u4_unshadowed =
    "{ name = \"A\"; low = [ 0 ]; high = [ 9 ]; primary = \"be1\"; }";

/* make_conf_state - make_conf with the router's state clause given ("" for none), the default
 * journals and the u4 key. */
static char *
make_conf_state(const char *dir, const char *name, const char *state, const char *parts,
                const char *extra)
{
    char *text, *path;
    cr_assert_geq(asprintf(&text, CONF_FMT, u4_key, state, "/tmp/rtr-test-cfg/be1",
                           "/tmp/rtr-test-cfg/be2", parts, extra),
                  0);
    path = write_conf(dir, name, text);
    free(text);
    return path;
}

/* load_opts_ok - load with opts and require success; returns the facility. */
static cmn_facility_t *
load_opts_ok(const char *path, const cmn_load_opts_t *opts)
{
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;
    rtr_status_t sts = cmn_facility_load_ex(path, opts, &fac, &diag);

    cr_expect_eq(sts, RTR_STS_OK, "%s: %s", path, diag && diag->error ? diag->error : "?");
    cmn_diag_free(&diag);
    cr_assert_not_null(fac, "%s", path);
    return fac;
}

Test(cmn_config, state_is_required_only_when_a_partition_is_shadowed)
{
    char *dir = tst_tmpdir("cfg"), *conf;
    cmn_load_opts_t none = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_facility_t *fac;

    /* unshadowed, no state: loads, the router has none */
    conf = make_conf_state(dir, "u.conf", "", u4_unshadowed, "");
    fac = load_ok(conf);
    cr_expect_null(fac->routers[0].state);
    cmn_facility_free(&fac);
    free(conf);

    /* shadowed, no state: refused on the router's line, whatever the check mode */
    conf = make_conf_state(dir, "s.conf", "", u4_parts, "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 3,
                 "routers[0]: missing required key \"state\": partition \"A\" (line 16) is "
                 "shadowed, so every router keeps the facility register");
    expect_error(conf, &none, RTR_STS_CONFIG, 3,
                 "routers[0]: missing required key \"state\": partition \"A\" (line 16) is "
                 "shadowed, so every router keeps the facility register");
    free(conf);

    /* one shadowed partition among others is enough; the message names it */
    conf = make_conf_state(
        dir, "s2.conf", "",
        "{ name = \"A\"; low = [ 0 ]; high = [ 9 ]; primary = \"be1\"; },\n"
        "{ name = \"B\"; low = [ 10 ]; high = [ 19 ]; primary = \"be2\"; secondary = \"be1\"; }",
        "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 3,
                 "routers[0]: missing required key \"state\": partition \"B\" (line 17) is "
                 "shadowed, so every router keeps the facility register");
    free(conf);

    /* unshadowed with a state: optional, but normalized and checked like any other */
    conf =
        make_conf_state(dir, "u2.conf", " state = \"/tmp//rtr-test-cfg/r1/\";", u4_unshadowed, "");
    fac = load_ok(conf);
    cr_expect_str_eq(fac->routers[0].state, "/tmp/rtr-test-cfg/r1");
    cmn_facility_free(&fac);
    free(conf);
    conf = make_conf_state(dir, "u3.conf", " state = \"/dev/null/r1\";", u4_unshadowed, "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 4,
                 "routers[0].state: \"/dev/null/r1\" is not usable: /dev/null is not a directory");
    free(conf);
    conf = make_conf_state(dir, "u4.conf", " state = \"/tmp/rtr-test-cfg/be1/r1\";", u4_unshadowed,
                           "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 4,
                 "routers[0].state: \"/tmp/rtr-test-cfg/be1/r1\" and the journal directory "
                 "\"/tmp/rtr-test-cfg/be1\" of backend \"be1\" (line 7) are nested");
    free(conf);
    conf = make_conf_state(dir, "u5.conf", " state = \"\";", u4_unshadowed, "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 4,
                 "routers[0].state: the path must be 1 to 1024 characters long");
    free(conf);
    tst_rmtree(dir);
    free(dir);
}

/* The state directory is checked on this machine's file system exactly when the journals'
 * check mode says so: every node's, the --node's own, or none (librtr). */
Test(cmn_config, state_check_modes)
{
    char *dir = tst_tmpdir("cfg"), *conf, *state, *clause, *file, *msg;
    cmn_load_opts_t none = { CMN_JOURNAL_CHECK_NONE, NULL };
    cmn_load_opts_t r1 = { CMN_JOURNAL_CHECK_NODE, "R1" };
    cmn_load_opts_t be1 = { CMN_JOURNAL_CHECK_NODE, "be1" };
    cmn_facility_t *fac;
    struct stat st;

    conf = make_conf_state(dir, "m.conf", " state = \"/dev/null/r1\";", u4_parts, "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 4,
                 "routers[0].state: \"/dev/null/r1\" is not usable: /dev/null is not a directory");
    expect_error(conf, &r1, RTR_STS_CONFIG, 4,
                 "routers[0].state: \"/dev/null/r1\" is not usable: /dev/null is not a directory");
    fac = load_opts_ok(conf, &none);
    cr_expect_str_eq(fac->routers[0].state, "/dev/null/r1");
    cmn_facility_free(&fac);
    fac = load_opts_ok(conf, &be1);
    cmn_facility_free(&fac);
    free(conf);

    /* a state that is a regular file */
    cr_assert_geq(asprintf(&file, "%s/plain", dir), 0);
    cr_assert_eq(tst_write_file(file, "x", 1), 0);
    cr_assert_geq(asprintf(&clause, " state = \"%s\";", file), 0);
    conf = make_conf_state(dir, "f.conf", clause, u4_parts, "");
    cr_assert_geq(
        asprintf(&msg, "routers[0].state: \"%s\" is not usable: it exists and is not a directory",
                 file),
        0);
    expect_error(conf, &r1, RTR_STS_CONFIG, 4, msg);
    free(msg);
    free(conf);
    free(clause);
    free(file);

    /* one that does not exist yet is fine, and the load creates nothing */
    cr_assert_geq(asprintf(&state, "%s/not/yet/r1", dir), 0);
    cr_assert_geq(asprintf(&clause, " state = \"%s\";", state), 0);
    conf = make_conf_state(dir, "ok.conf", clause, u4_parts, "");
    fac = load_opts_ok(conf, &r1);
    cr_expect_str_eq(fac->routers[0].state, state);
    cmn_facility_free(&fac);
    cr_expect_neq(stat(state, &st), 0, "%s was created", state);
    free(conf);
    free(clause);
    free(state);
    tst_rmtree(dir);
    free(dir);
}

/* load_settings - a shadowed facility with `settings` text; returns it loaded. */
static cmn_facility_t *
load_settings(const char *dir, const char *settings)
{
    char *extra, *conf;
    cmn_facility_t *fac;

    cr_assert_geq(asprintf(&extra, "settings = { %s };\n", settings), 0);
    conf = make_conf(dir, "set.conf", "/tmp/rtr-test-cfg/be1", "/tmp/rtr-test-cfg/be2", u4_key,
                     u4_parts, extra);
    fac = load_ok(conf);
    free(conf);
    free(extra);
    return fac;
}

/* The derived defaults follow the settings they are derived from (§3.2, §4.3, §5.6, §6). */
Test(cmn_config, shadow_settings_defaults_follow_other_settings)
{
    char *dir = tst_tmpdir("cfg");
    cmn_facility_t *fac;

    fac = load_settings(dir, "heartbeat_ms = 100; failure_timeout_ms = 3000;");
    cr_expect_eq(fac->settings.lease_ms, 6000);
    cr_expect_eq(fac->settings.lease_margin_ms, 600);
    cr_expect_eq(fac->settings.shadow_lag_ms, 3000);
    cr_expect_eq(fac->settings.catchup_lag_ms, 3000);
    cr_expect_eq(fac->settings.deny_reject_ms, 6000);
    cr_expect_eq(fac->settings.shadow_window_bytes, 8388608);
    cr_expect_eq(fac->settings.catchup_window_bytes, 4194304);
    cr_expect_eq(fac->settings.register_timeout_ms, 500);
    cmn_facility_free(&fac);

    /* the smallest failure timeout */
    fac = load_settings(dir, "heartbeat_ms = 25; failure_timeout_ms = 50;");
    cr_expect_eq(fac->settings.lease_ms, 100);
    cr_expect_eq(fac->settings.lease_margin_ms, 10);
    cr_expect_eq(fac->settings.shadow_lag_ms, 50);
    cr_expect_eq(fac->settings.catchup_lag_ms, 50);
    cr_expect_eq(fac->settings.deny_reject_ms, 100);
    cmn_facility_free(&fac);

    /* the largest: lease_ms stops at its maximum, deny_reject_ms does not need to */
    fac = load_settings(dir, "failure_timeout_ms = 600000;");
    cr_expect_eq(fac->settings.lease_ms, 600000);
    cr_expect_eq(fac->settings.lease_margin_ms, 60000);
    cr_expect_eq(fac->settings.shadow_lag_ms, 600000);
    cr_expect_eq(fac->settings.deny_reject_ms, 1200000);
    cmn_facility_free(&fac);
    fac = load_settings(dir, "failure_timeout_ms = 300001;");
    cr_expect_eq(fac->settings.lease_ms, 600000);
    cmn_facility_free(&fac);

    /* lease_margin_ms follows a written lease_ms; catchup_lag_ms a written shadow_lag_ms */
    fac = load_settings(dir, "lease_ms = 999; shadow_lag_ms = 700;");
    cr_expect_eq(fac->settings.lease_ms, 999);
    cr_expect_eq(fac->settings.lease_margin_ms, 99);
    cr_expect_eq(fac->settings.shadow_lag_ms, 700);
    cr_expect_eq(fac->settings.catchup_lag_ms, 700);
    cr_expect_eq(fac->settings.deny_reject_ms, 2000);
    cmn_facility_free(&fac);

    /* a window holds at least one frame: the defaults grow with max_frame_bytes */
    fac = load_settings(dir, "max_frame_bytes = 6291456;");
    cr_expect_eq(fac->settings.shadow_window_bytes, 8388608);
    cr_expect_eq(fac->settings.catchup_window_bytes, 6291456);
    cmn_facility_free(&fac);
    fac = load_settings(dir, "max_frame_bytes = 268435456;");
    cr_expect_eq(fac->settings.shadow_window_bytes, 268435456);
    cr_expect_eq(fac->settings.catchup_window_bytes, 268435456);
    cmn_facility_free(&fac);
    tst_rmtree(dir);
    free(dir);
}

/* Written values are kept exactly, the boundaries of every check included. */
Test(cmn_config, shadow_settings_explicit_values)
{
    char *dir = tst_tmpdir("cfg");
    cmn_facility_t *fac;

    /* lowest: lease = 2 heartbeats, 2 x margin = lease - 1, lags = heartbeat, windows = frame,
     * deny = failure timeout */
    fac = load_settings(dir, "heartbeat_ms = 100; failure_timeout_ms = 400; lease_ms = 200;"
                             " lease_margin_ms = 99; shadow_lag_ms = 100; catchup_lag_ms = 100;"
                             " max_frame_bytes = 131072; shadow_window_bytes = 131072;"
                             " catchup_window_bytes = 131072; register_timeout_ms = 10;"
                             " deny_reject_ms = 400;");
    cr_expect_eq(fac->settings.lease_ms, 200);
    cr_expect_eq(fac->settings.lease_margin_ms, 99);
    cr_expect_eq(fac->settings.shadow_lag_ms, 100);
    cr_expect_eq(fac->settings.catchup_lag_ms, 100);
    cr_expect_eq(fac->settings.shadow_window_bytes, 131072);
    cr_expect_eq(fac->settings.catchup_window_bytes, 131072);
    cr_expect_eq(fac->settings.register_timeout_ms, 10);
    cr_expect_eq(fac->settings.deny_reject_ms, 400);
    cmn_facility_free(&fac);

    /* highest */
    fac = load_settings(dir, "lease_ms = 600000; lease_margin_ms = 299999; shadow_lag_ms = 600000;"
                             " catchup_lag_ms = 600000; shadow_window_bytes = 1073741824;"
                             " catchup_window_bytes = 0x40000000; register_timeout_ms = 60000;"
                             " deny_reject_ms = 1200000;");
    cr_expect_eq(fac->settings.lease_ms, 600000);
    cr_expect_eq(fac->settings.lease_margin_ms, 299999);
    cr_expect_eq(fac->settings.shadow_lag_ms, 600000);
    cr_expect_eq(fac->settings.catchup_lag_ms, 600000);
    cr_expect_eq(fac->settings.shadow_window_bytes, 1073741824);
    cr_expect_eq(fac->settings.catchup_window_bytes, 1073741824);
    cr_expect_eq(fac->settings.register_timeout_ms, 60000);
    cr_expect_eq(fac->settings.deny_reject_ms, 1200000);
    /* the others keep their defaults */
    cr_expect_eq(fac->settings.heartbeat_ms, 250);
    cr_expect_eq(fac->settings.failure_timeout_ms, 1000);
    cmn_facility_free(&fac);

    /* the set of a derived key cannot be confused with "unset": -1 is out of range */
    char *conf = make_conf(dir, "neg.conf", "/tmp/rtr-test-cfg/be1", "/tmp/rtr-test-cfg/be2",
                           u4_key, u4_parts, "settings = { lease_ms = -1; };\n");
    expect_error(conf, NULL, RTR_STS_CONFIG, 17,
                 "settings.lease_ms: -1 is out of range (20..600000)");
    free(conf);
    /* the checks against a written failure_timeout_ms, on the line of the key that fails */
    conf = make_conf(dir, "deny.conf", "/tmp/rtr-test-cfg/be1", "/tmp/rtr-test-cfg/be2", u4_key,
                     u4_parts,
                     "settings = { failure_timeout_ms = 5000;\n  deny_reject_ms = 4999; };\n");
    expect_error(conf, NULL, RTR_STS_CONFIG, 18,
                 "settings.deny_reject_ms: 4999 must be at least settings.failure_timeout_ms "
                 "(5000)");
    free(conf);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, nul_byte_is_refused)
{
    char *dir = tst_tmpdir("cfg"), *path;
    static const char text[] = "facility = \"T\";\n\n# a comment\0 and more\n";

    cr_assert_geq(asprintf(&path, "%s/nul.conf", dir), 0);
    cr_assert_eq(tst_write_file(path, text, sizeof text - 1), 0);
    expect_error(path, NULL, RTR_STS_CONFIG, 3, "the file contains a NUL byte");
    free(path);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, unreadable_files)
{
    char *dir = tst_tmpdir("cfg"), *path;

    cr_assert_geq(asprintf(&path, "%s/missing.conf", dir), 0);
    expect_error(path, NULL, RTR_STS_IOERR, 0, "cannot read the file: No such file or directory");
    expect_error(dir, NULL, RTR_STS_IOERR, 0, "not a regular file");
    free(path);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, even_router_count_warns)
{
    char *dir = tst_tmpdir("cfg"), *path, *want;
    static const char text[] =
        "facility = \"T\";\n"
        "key = ( { type = \"signed\"; offset = 0; length = 8; } );\n"
        "routers = (\n"
        "  { name = \"r1\"; clients = \"tcp://h1:7101\"; peers = \"tcp://h1:7111\";\n"
        "    admin = \"ipc:///tmp/r1.adm\"; },\n"
        "  { name = \"r2\"; clients = \"tcp://h2:7101\"; peers = \"tcp://h2:7111\";\n"
        "    admin = \"ipc:///tmp/r2.adm\"; } );\n"
        "backends = ( { name = \"be1\"; shadow = \"tcp://h3:7201\"; servers = "
        "\"ipc:///tmp/b.srv\";\n"
        "    admin = \"ipc:///tmp/b.adm\"; journal = \"/tmp/rtr-test-cfg/be1\"; } );\n"
        "partitions = ( { name = \"ALL\"; low = [ -9223372036854775808L ];\n"
        "                 high = [ 9223372036854775807L ]; primary = \"be1\"; } );\n";
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = NULL;

    path = write_conf(dir, "even.conf", text);
    cr_assert_eq(cmn_facility_load(path, &fac, &diag), RTR_STS_OK, "%s",
                 diag && diag->error ? diag->error : "");
    cr_assert_eq(diag->nwarnings, 1);
    cr_assert_geq(asprintf(&want,
                           "%s:3: routers: an even number of routers (2) tolerates no more "
                           "router failures than 1 would; with 2, losing either blocks failover",
                           path),
                  0);
    cr_expect_str_eq(diag->warnings[0], want);
    cr_expect_null(diag->error);
    /* the signed 8-byte range covers everything */
    int64_t v = INT64_MIN;
    cmn_key_t k;
    cr_assert_eq(cmn_key_extract(fac->seg, 1, &v, 8, &k), RTR_STS_OK);
    cr_expect_eq(cmn_facility_partition_for_key(fac, &k), &fac->partitions[0]);
    cr_expect_str_eq(fac->partitions[0].low_text, "[-9223372036854775808]");
    cmn_facility_free(&fac);
    cmn_diag_free(&diag);
    free(want);
    free(path);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, string_and_multi_segment_keys_route)
{
    char *dir = tst_tmpdir("cfg"), *conf;
    static const char key[] = "{ type = \"unsigned\"; offset = 0; length = 2; },"
                              " { type = \"string\"; offset = 2; length = 8; }";
    static const char parts[] =
        "{ name = \"A_M\"; low = ( 1, \"A\" ); high = ( 1, \"M\" ); primary = \"be1\"; },"
        " { name = \"N_Z\"; low = ( 1, \"N\" ); high = ( 1, \"Z\" ); primary = \"be2\"; },"
        " { name = \"TWO\"; low = ( 2, \"\" ); high = [ 0xFFFF, 0xFF ]; primary = \"be2\";"
        " standby = [ \"be1\" ]; concurrent = false; }";
    struct __attribute__((packed)) {
        uint16_t branch;
        char name[8];
    } msg;
    cmn_key_t k;

    /* the mixed-type bound [0xFFFF, 0xFF] is no string: refused */
    conf =
        make_conf(dir, "s.conf", "/tmp/rtr-test-cfg/be1", "/tmp/rtr-test-cfg/be2", key, parts, "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 16,
                 "partitions[2].high[1]: expected a string for key[1] (string, 8 bytes), found an "
                 "integer");
    free(conf);

    static const char parts2[] =
        "{ name = \"A_M\"; low = ( 1, \"A\" ); high = ( 1, \"M\" ); primary = \"be1\"; },"
        " { name = \"N_Z\"; low = ( 1, \"N\" ); high = ( 1, \"Z\" ); primary = \"be2\"; },"
        " { name = \"TWO\"; low = ( 2, \"\" ); high = ( 0xFFFF, \"\\xff\" ); primary = \"be2\";"
        " standby = [ \"be1\" ]; concurrent = false; }";
    conf = make_conf(dir, "s2.conf", "/tmp/rtr-test-cfg/be1", "/tmp/rtr-test-cfg/be2", key, parts2,
                     "");
    cmn_facility_t *fac = load_ok(conf);
    cr_assert_eq(fac->nseg, 2);
    cr_expect_eq(fac->keylen, 10);
    const cmn_partition_t *am = cmn_facility_partition(fac, "A_M");
    const cmn_partition_t *nz = cmn_facility_partition(fac, "N_Z");
    const cmn_partition_t *two = cmn_facility_partition(fac, "TWO");
    cr_expect_str_eq(am->low_text, "[1, \"A\"]");
    cr_expect_str_eq(am->high_text, "[1, \"M\"]");
    cr_expect_str_eq(two->high_text, "[65535, \"\\xff\"]");
    cr_expect_eq(two->nstandby, 1);
    cr_expect_str_eq(two->standby[0]->name, "be1");
    cr_expect(!two->concurrent);

    static const struct {
        uint16_t branch;
        const char *name;
        const char *partition; /* NULL: no destination */
    } routes[] = {
        { 1, "A", "A_M" },        { 1, "ADAMS", "A_M" }, { 1, "MILLER", "A_M" },
        { 1, "MZZZZZZZ", "A_M" }, { 1, "N", "N_Z" },     { 1, "ZULU", "N_Z" },
        { 1, "0", NULL },         { 1, "a", NULL },      { 0, "M", NULL },
        { 2, "", "TWO" },         { 9, "X", "TWO" },     { 65535, "ZZZZZZZZ", "TWO" },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        memset(&msg, 0, sizeof msg);
        msg.branch = routes[i].branch;
        memcpy(msg.name, routes[i].name, strlen(routes[i].name));
        cr_assert_eq(cmn_key_extract(fac->seg, fac->nseg, &msg, sizeof msg, &k), RTR_STS_OK);
        const cmn_partition_t *p = cmn_facility_partition_for_key(fac, &k);
        if (routes[i].partition == NULL)
            cr_expect_null(p, "%u/%s routed to %s", routes[i].branch, routes[i].name,
                           p ? p->name : "");
        else
            cr_expect(p != NULL && strcmp(p->name, routes[i].partition) == 0,
                      "%u/%s routed to %s, not %s", routes[i].branch, routes[i].name,
                      p ? p->name : "nothing", routes[i].partition);
    }
    cr_expect(nz != NULL && nz->primary == cmn_facility_backend(fac, "be2"));
    /* a key of the wrong length routes nowhere */
    k.len = 4;
    cr_expect_null(cmn_facility_partition_for_key(fac, &k));
    cmn_facility_free(&fac);
    free(conf);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, hex_bounds_are_unsigned_bit_patterns)
{
    char *dir = tst_tmpdir("cfg"), *conf;
    static const char key[] = "{ type = \"unsigned\"; offset = 0; length = 8; }";
    static const char parts[] =
        "{ name = \"A\"; low = [ 0 ]; high = [ 0xFFFFFFFF ]; primary = \"be1\"; },"
        " { name = \"B\"; low = [ 0x100000000L ]; high = [ 0xFFFFFFFFFFFFFFFFL ];"
        " primary = \"be2\"; }";

    conf = make_conf(dir, "h.conf", "/tmp/rtr-test-cfg/be1", "/tmp/rtr-test-cfg/be2", key, parts,
                     "settings = { max_frame_bytes = 0x100000; log_level = \"debug\";"
                     " journal_max_mb = 1024; heartbeat_ms = 100; failure_timeout_ms = 200; };\n");
    cmn_facility_t *fac = load_ok(conf);
    cr_expect_str_eq(fac->partitions[0].high_text, "[4294967295]");
    cr_expect_str_eq(fac->partitions[1].low_text, "[4294967296]");
    cr_expect_str_eq(fac->partitions[1].high_text, "[18446744073709551615]");
    cr_expect_eq(fac->settings.max_frame_bytes, 1048576);
    cr_expect_eq(fac->settings.log_level, CMN_LOG_DEBUG);
    cr_expect_eq(fac->settings.journal_max_mb, 1024);
    cr_expect_eq(fac->settings.heartbeat_ms, 100);
    cr_expect_eq(fac->settings.failure_timeout_ms, 200);
    uint64_t v = UINT64_MAX;
    cmn_key_t k;
    cr_assert_eq(cmn_key_extract(fac->seg, 1, &v, 8, &k), RTR_STS_OK);
    cr_expect_eq(cmn_facility_partition_for_key(fac, &k), &fac->partitions[1]);
    cmn_facility_free(&fac);
    free(conf);

    /* a 33-bit hex literal needs the L suffix */
    static const char parts3[] =
        "{ name = \"A\"; low = [ 0 ]; high = [ 0x1FFFFFFFF ]; primary = \"be1\"; }";
    conf = make_conf(dir, "h3.conf", "/tmp/rtr-test-cfg/be1", "/tmp/rtr-test-cfg/be2", key, parts3,
                     "");
    expect_error(conf, NULL, RTR_STS_CONFIG, 16,
                 "integer 0x1FFFFFFFF does not fit in 32 bits; write 0x1FFFFFFFFL for a 64-bit "
                 "integer");
    free(conf);
    tst_rmtree(dir);
    free(dir);
}

/* libconfig 1.5 refuses a final comment without a newline; the loader does not. */
Test(cmn_config, final_comment_without_newline_is_fine)
{
    char *dir = tst_tmpdir("cfg"), *conf, *text, *path;
    static const char key[] = "{ type = \"unsigned\"; offset = 0; length = 4; }";

    cr_assert_geq(asprintf(&text, CONF_FMT, key, STATE_R1, "/tmp/rtr-test-cfg/be1",
                           "/tmp/rtr-test-cfg/be2", u4_parts, "# the end, no newline"),
                  0);
    conf = write_conf(dir, "c.conf", text);
    cmn_facility_t *fac = load_ok(conf);
    cmn_facility_free(&fac);
    free(conf);
    free(text);
    /* nor a file that is one comment without a newline */
    path = write_conf(dir, "e.conf", "// only a comment");
    expect_error(path, NULL, RTR_STS_CONFIG, 0, "missing required key \"facility\"");
    free(path);
    tst_rmtree(dir);
    free(dir);
}

/* The first error in the file wins, whichever step finds it. */
Test(cmn_config, first_error_in_file_order_wins)
{
    char *dir = tst_tmpdir("cfg"), *conf;

    /* an overflow (lexical scan) on line 2 before a syntax error (libconfig) on line 4 */
    conf = write_conf(dir, "a.conf", "facility = \"T\";\nx = 3000000000;\n\ny = ;\n");
    expect_error(conf, NULL, RTR_STS_CONFIG, 2,
                 "integer 3000000000 does not fit in 32 bits; write 3000000000L for a 64-bit "
                 "integer");
    free(conf);
    /* a syntax error on line 2 before an overflow on line 3 */
    conf = write_conf(dir, "b.conf", "facility = \"T\";\ny = ;\nx = 3000000000;\n");
    expect_error(conf, NULL, RTR_STS_CONFIG, 2, "syntax error");
    free(conf);
    /* numbers inside strings and comments are not numbers */
    conf = write_conf(dir, "c.conf",
                      "# 99999999999999999999\n/* 3000000000\n */ facility = \"3000000000\";\n"
                      "// 3000000000\nfacility2 = 1;\n");
    expect_error(conf, NULL, RTR_STS_CONFIG, 5,
                 "unknown key \"facility2\" at the top level (expected one of: facility, key, "
                 "routers, backends, partitions, settings)");
    free(conf);
    /* a duplicate inside a list element, names equal across elements are fine */
    conf = write_conf(dir, "d.conf", "a = ( { x = 1; }, { x = 2; y = 1;\n y = 2; } );\n");
    expect_error(conf, NULL, RTR_STS_CONFIG, 2, "duplicate key \"y\" (first defined at line 1)");
    free(conf);
    tst_rmtree(dir);
    free(dir);
}

Test(cmn_config, null_arguments)
{
    cmn_facility_t *fac = NULL;
    cmn_diag_t *diag = (cmn_diag_t *)&diag;

    cr_expect_eq(cmn_facility_load(NULL, &fac, &diag), RTR_STS_INVARG);
    cr_expect_null(diag);
    cr_expect_eq(cmn_facility_load("/nonexistent", NULL, NULL), RTR_STS_INVARG);
    cr_expect_eq(cmn_facility_load("/nonexistent/x.conf", &fac, NULL), RTR_STS_IOERR);
    cr_expect_null(fac);
    cmn_facility_free(NULL);
    cmn_facility_free(&fac);
    cmn_diag_free(NULL);
    cmn_diag_free(&diag);
    cr_expect_null(cmn_facility_partition_for_key(NULL, NULL));
}

/* ---- the option table and its reference ------------------------------------------------ */

Test(cmn_config, option_table_is_consistent)
{
    size_t n = 0;

    for (const cmn_config_opt_t *o; (o = cmn_config_opt(n)) != NULL; n++) {
        cr_expect_not_null(o->name);
        cr_expect_gt(strlen(o->doc), 10, "%s", o->name);
        cr_expect(!(o->flags & CMN_CFG_REQUIRED) || o->def == NULL, "%s: required with default",
                  o->name);
        if (o->type == CMN_CFG_INT && o->def != NULL && !(o->flags & CMN_CFG_DERIVED)) {
            long long d = atoll(o->def);
            cr_expect(d >= o->min && d <= o->max, "%s: default outside its bounds", o->name);
        }
        /* a derived default is computed by the loader; CMN_CFG_UNSET (-1) marks it meanwhile */
        if (o->flags & CMN_CFG_DERIVED) {
            cr_expect_eq(o->type, CMN_CFG_INT, "%s: derived but no integer", o->name);
            cr_expect_not_null(o->def, "%s: derived without a default", o->name);
            cr_expect_geq(o->min, 1, "%s: derived with a minimum below 1", o->name);
            cr_expect(!(o->flags & CMN_CFG_REQUIRED), "%s: derived and required", o->name);
        }
        if (o->type == CMN_CFG_ENUM)
            cr_expect_not_null(o->choices, "%s", o->name);
        if (o->type == CMN_CFG_GROUPS)
            cr_expect_not_null(o->what, "%s", o->name);
        for (size_t k = 0; k < n; k++) {
            const cmn_config_opt_t *p = cmn_config_opt(k);
            cr_expect(p->section != o->section || strcmp(p->name, o->name) != 0,
                      "%s is in the table twice", o->name);
        }
    }
    cr_expect_geq(n, 25);
    cr_expect_null(cmn_config_opt(n));
    cr_expect_str_eq(cmn_config_section_path(CMN_CFG_SEC_SETTINGS), "settings");
    cr_expect_str_eq(cmn_config_section_path(CMN_CFG_SEC__COUNT), "?");
    cr_expect_str_eq(cmn_config_type_name(CMN_CFG_ENDPOINT), "endpoint");
}

/* doc_key - how the reference writes option o: "`routers[].clients`". */
static void
doc_key(const cmn_config_opt_t *o, char *buf, size_t len)
{
    const char *sec = cmn_config_section_path(o->section);
    snprintf(buf, len, "`%s%s%s`", sec, *sec ? "." : "", o->name);
}

Test(cmn_config, reference_documents_every_option)
{
    char *path = src_path("docs/config-reference.md");
    char *doc = tst_read_file(path, NULL);

    cr_assert_not_null(doc, "%s", path);
    for (size_t i = 0; cmn_config_opt(i) != NULL; i++) {
        const cmn_config_opt_t *o = cmn_config_opt(i);
        char key[96], row[128], bounds[64];

        doc_key(o, key, sizeof key);
        snprintf(row, sizeof row, "| %s |", key);
        const char *at = strstr(doc, row);
        cr_expect_not_null(at, "%s: no table row for %s", path, key);
        if (at == NULL)
            continue;
        const char *eol = strchr(at, '\n');
        size_t rl = eol ? (size_t)(eol - at) : strlen(at);
        char *line = strndup(at, rl);
        char cell[80];
        snprintf(cell, sizeof cell, "| %s |", cmn_config_type_name(o->type));
        cr_expect_not_null(strstr(line, cell), "%s: type of %s is not %s", path, key, cell);
        if (o->def != NULL) {
            snprintf(cell, sizeof cell, "`%s`", o->def);
            cr_expect_not_null(strstr(line, cell), "%s: %s lacks default %s", path, key, cell);
        } else {
            cr_expect_not_null(
                strstr(line, (o->flags & CMN_CFG_REQUIRED) ? "| required |" : "| - |"),
                "%s: %s: required/optional column", path, key);
        }
        if (o->type == CMN_CFG_INT) {
            snprintf(bounds, sizeof bounds, "%lld..%lld", (long long)o->min, (long long)o->max);
            cr_expect_not_null(strstr(line, bounds), "%s: %s lacks bounds %s", path, key, bounds);
        }
        if (o->type == CMN_CFG_ENUM) {
            char *ch = strdup(o->choices);
            for (char *tok = strtok(ch, "|"); tok != NULL; tok = strtok(NULL, "|")) {
                snprintf(cell, sizeof cell, "`%s`", tok);
                cr_expect_not_null(strstr(line, cell), "%s: %s lacks choice %s", path, key, cell);
            }
            free(ch);
        }
        free(line);
    }
    free(doc);
    free(path);
}

/* ... and documents no option the table lacks. */
Test(cmn_config, reference_documents_nothing_else)
{
    char *path = src_path("docs/config-reference.md");
    char *doc = tst_read_file(path, NULL);
    size_t rows = 0;

    cr_assert_not_null(doc, "%s", path);
    /* only the tables of the "## Keys" section describe options */
    char *keys = strstr(doc, "\n## Keys\n");
    cr_assert_not_null(keys, "%s: no \"## Keys\" section", path);
    char *next = strstr(keys + 1, "\n## ");
    if (next != NULL)
        *next = '\0';
    for (char *l = strtok(keys, "\n"); l != NULL; l = strtok(NULL, "\n")) {
        if (strncmp(l, "| `", 3) != 0)
            continue;
        char *end = strchr(l + 3, '`');
        cr_assert_not_null(end);
        bool found = false;
        for (size_t i = 0; cmn_config_opt(i) != NULL && !found; i++) {
            char key[96];
            doc_key(cmn_config_opt(i), key, sizeof key);
            found =
                strlen(key) == (size_t)(end + 1 - (l + 2)) && strncmp(key, l + 2, strlen(key)) == 0;
        }
        cr_expect(found, "%s documents an option the table lacks: %.*s", path,
                  (int)(end + 1 - (l + 2)), l + 2);
        rows++;
    }
    size_t n = 0;
    while (cmn_config_opt(n) != NULL)
        n++;
    cr_expect_eq(rows, n, "%zu option rows for %zu options", rows, n);
    free(doc);
    free(path);
}
