/*
 * cmn_json_check - reads `rtrcli check facility --json` output on stdin and checks its shape,
 * for cmn_check_cli_test.sh (no python or jq needed).
 *
 *   cmn_json_check ok FACILITY ROUTERS BACKENDS PARTITIONS   a valid file with those counts
 *   cmn_json_check fail ERROR                                an invalid file with that error
 * Exit status 0 when the output matches, 1 otherwise (with the reason on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static int
cmn_json_fail(const char *why)
{
    fprintf(stderr, "cmn_json_check: %s\n", why);
    return 1;
}

static int
cmn_json_count(const json_t *fac, const char *key, const char *want)
{
    const json_t *a = json_object_get(fac, key);
    if (!json_is_array(a) || json_array_size(a) != strtoul(want, NULL, 10)) {
        fprintf(stderr, "cmn_json_check: facility.%s is not an array of %s\n", key, want);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    json_error_t err;
    json_t *o = json_loadf(stdin, 0, &err);
    const json_t *ok, *error, *warnings, *fac, *file;
    int rc = 1;

    if (o == NULL) {
        fprintf(stderr, "cmn_json_check: not JSON: line %d: %s\n", err.line, err.text);
        return 1;
    }
    ok = json_object_get(o, "ok");
    error = json_object_get(o, "error");
    warnings = json_object_get(o, "warnings");
    fac = json_object_get(o, "facility");
    file = json_object_get(o, "file");
    if (!json_is_object(o) || !json_is_boolean(ok) || !json_is_array(warnings) ||
        !json_is_string(file)) {
        rc = cmn_json_fail("missing file, ok or warnings");
    } else if (argc == 6 && strcmp(argv[1], "ok") == 0) {
        if (!json_is_true(ok) || !json_is_null(error) || !json_is_object(fac))
            rc = cmn_json_fail("expected ok: true, error: null, facility: {...}");
        else if (!json_is_string(json_object_get(fac, "name")) ||
                 strcmp(json_string_value(json_object_get(fac, "name")), argv[2]) != 0)
            rc = cmn_json_fail("facility.name differs");
        else
            rc = cmn_json_count(fac, "routers", argv[3]) |
                 cmn_json_count(fac, "backends", argv[4]) |
                 cmn_json_count(fac, "partitions", argv[5]);
    } else if (argc == 3 && strcmp(argv[1], "fail") == 0) {
        if (!json_is_false(ok) || !json_is_null(fac) || !json_is_string(error))
            rc = cmn_json_fail("expected ok: false, error: \"...\", facility: null");
        else if (strcmp(json_string_value(error), argv[2]) != 0)
            rc = cmn_json_fail("error differs");
        else
            rc = 0;
    } else {
        rc = cmn_json_fail("usage: cmn_json_check ok NAME R B P | fail ERROR");
    }
    json_decref(o);
    return rc;
}
