/*
 * table.c - aligned text tables for the tools' default output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

struct tool_table {
    size_t ncols;
    const char *const *headers;
    char **cells; /* rows * ncols, row-major */
    size_t rows;
    size_t cap;
};

tool_table_t *
tool_table_new(size_t ncols, const char *const *headers)
{
    tool_table_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    t->headers = headers;
    return t;
}

int
tool_table_add(tool_table_t *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (c == NULL)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        char *s = strdup(cells[i] ? cells[i] : "");
        if (s == NULL) {
            for (size_t k = 0; k < i; k++)
                free(t->cells[t->rows * t->ncols + k]);
            return -1;
        }
        t->cells[t->rows * t->ncols + i] = s;
    }
    t->rows++;
    return 0;
}

static const char *
tool_header_text(const char *h)
{
    return h[0] == '>' ? h + 1 : h;
}

void
tool_table_print(const tool_table_t *t, FILE *out)
{
    size_t width[64] = { 0 };
    size_t nc = t->ncols < 64 ? t->ncols : 64;

    for (size_t c = 0; c < nc; c++)
        width[c] = strlen(tool_header_text(t->headers[c]));
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < nc; c++) {
            size_t w = strlen(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c < nc; c++) {
            const char *s =
                r == 0 ? tool_header_text(t->headers[c]) : t->cells[(r - 1) * t->ncols + c];
            bool right = t->headers[c][0] == '>';
            const char *sep = c + 1 < nc ? "  " : "";
            if (c + 1 == nc && !right)
                fprintf(out, "%s", s);
            else
                fprintf(out, right ? "%*s%s" : "%-*s%s", (int)width[c], s, sep);
        }
        fputc('\n', out);
    }
}

void
tool_table_free(tool_table_t **tp)
{
    if (tp == NULL || *tp == NULL)
        return;
    tool_table_t *t = *tp;
    for (size_t i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
    *tp = NULL;
}

void
tool_json_print(const json_t *v, FILE *out)
{
    /* 12 significant digits: 1930.5 prints as 1930.5, not 1930.5000000000002 */
    json_dumpf(v, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    fputc('\n', out);
}

int
tool_table_metric(tool_table_t *t, const char *metric, const char *fmt, ...)
{
    char value[64];
    const char *cells[2] = { metric, value };
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return tool_table_add(t, cells);
}
