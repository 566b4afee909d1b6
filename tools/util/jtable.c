/*
 * jtable.c - render the daemons' admin answers (the JSON convention of the admin protocol) as
 * text: {"title": "...", "columns": [..], "rows": [[..], ..], other top-level fields}.
 *
 * The title comes first, then every other top-level field as "key: value", then the aligned
 * table. A column whose cells are all numbers (and that has at least one) is right-aligned.
 * Anything the convention does not promise (missing columns, ragged rows, nested values) is
 * still printed, never dropped: nested values as compact JSON text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

char *
tool_json_cell(const json_t *v)
{
    char buf[64];

    switch (json_typeof(v)) {
    case JSON_STRING:
        return strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(buf);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.12g", json_real_value(v));
        return strdup(buf);
    case JSON_TRUE:
        return strdup("true");
    case JSON_FALSE:
        return strdup("false");
    case JSON_NULL:
        return strdup("-");
    default:
        return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
}

static bool
tool_jtable_numeric(const json_t *rows, size_t col)
{
    size_t i;
    json_t *row;
    bool any = false;

    json_array_foreach(rows, i, row)
    {
        json_t *c = json_array_get(row, col);
        if (c == NULL || json_is_null(c))
            continue;
        if (!json_is_number(c))
            return false;
        any = true;
    }
    return any;
}

/* tool_jtable_headers - the column names, '>'-prefixed for numeric columns. NULL on NOMEM. */
static char **
tool_jtable_headers(const json_t *columns, const json_t *rows, size_t ncols)
{
    char **h = calloc(ncols + 1, sizeof *h);

    for (size_t c = 0; h != NULL && c < ncols; c++) {
        char *name = tool_json_cell(json_array_get(columns, c));
        bool right = json_is_array(rows) && tool_jtable_numeric(rows, c);
        if (name == NULL || asprintf(&h[c], "%s%s", right ? ">" : "", name) < 0) {
            h[c] = NULL;
            free(name);
            tool_jtable_free_strings(h, ncols);
            return NULL;
        }
        free(name);
    }
    return h;
}

void
tool_jtable_free_strings(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int
tool_json_scalars_print(const json_t *obj, const char *prefix, FILE *out)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)(uintptr_t)obj, key, v)
    {
        if (strcmp(key, "title") == 0 || strcmp(key, "columns") == 0 || strcmp(key, "rows") == 0)
            continue;
        char *text = tool_json_cell(v);
        if (text == NULL)
            return -1;
        fprintf(out, "%s%s: %s\n", prefix != NULL ? prefix : "", key, text);
        free(text);
    }
    return 0;
}

int
tool_json_rows_print(const json_t *columns, const json_t *rows, FILE *out)
{
    size_t ncols = json_array_size(columns), i;
    tool_table_t *t = NULL;
    char **headers = NULL, **cells = NULL;
    json_t *row;
    int rc = -1;

    if (ncols == 0) {
        if (json_array_size(rows) > 0)
            fprintf(out, "(%zu rows without columns)\n", json_array_size(rows));
        return 0;
    }
    headers = tool_jtable_headers(columns, rows, ncols);
    cells = calloc(ncols, sizeof *cells);
    if (headers == NULL || cells == NULL ||
        (t = tool_table_new(ncols, (const char *const *)headers)) == NULL)
        goto fail;
    json_array_foreach(rows, i, row)
    {
        for (size_t c = 0; c < ncols; c++) {
            json_t *v = json_is_array(row) ? json_array_get(row, c) : NULL;
            cells[c] = v != NULL ? tool_json_cell(v) : strdup("");
            if (cells[c] == NULL)
                goto fail;
        }
        if (tool_table_add(t, (const char *const *)cells) != 0)
            goto fail;
        for (size_t c = 0; c < ncols; c++) {
            free(cells[c]);
            cells[c] = NULL;
        }
    }
    tool_table_print(t, out);
    if (json_array_size(rows) == 0)
        fprintf(out, "(none)\n");
    rc = 0;
fail:
    tool_table_free(&t); /* before the headers: the table borrows them */
    tool_jtable_free_strings(cells, ncols);
    tool_jtable_free_strings(headers, ncols);
    return rc;
}

int
tool_json_table_print(const json_t *obj, FILE *out)
{
    const json_t *title = json_object_get(obj, "title");

    if (!json_is_object(obj))
        return -1;
    if (json_is_string(title))
        fprintf(out, "%s\n", json_string_value(title));
    if (tool_json_scalars_print(obj, NULL, out) != 0)
        return -1;
    return tool_json_rows_print(json_object_get(obj, "columns"), json_object_get(obj, "rows"), out);
}
