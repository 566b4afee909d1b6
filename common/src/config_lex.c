/*
 * config_lex.c - steps 1 and 2 of loading a facility file (config.c): read it, scan it
 * lexically, parse it with libconfig.
 *
 * Design note. libconfig 1.5 gets a few things wrong or loses them, and once it has parsed the
 * file the evidence is gone, so this scan runs over the raw text first:
 *   - an integer that does not fit the type libconfig will give it (32 bits, or 64 with L) is
 *     refused here; libconfig would silently wrap it (3000000000 becomes negative);
 *   - a duplicate key is named, with the line of its first definition; libconfig only says
 *     "duplicate setting name";
 *   - @include is refused: a facility is one file, and libconfig would read the other file;
 *   - a NUL byte is reported (libconfig stops reading at it);
 *   - a final comment without a newline gets one (libconfig 1.5 calls it a syntax error).
 * Both always run: of the scan's first issue and libconfig's first error, the one on the
 * earlier line is reported, so the first error in the file wins. The only entry point is
 * cmn_cfg_parse (config_impl.h); everything else here is file-static.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "cmn.h"
#include "cmn_config.h"
#include "config_impl.h"

#define CMN_CFG_FILE_MAX (16u << 20) /* a facility file larger than this is refused */

/* ---- step 1: the lexical scan --------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t len;
    int line;
} cmn_lex_name_t;

typedef struct {
    bool group;
    cmn_lex_name_t *names;
    size_t n, cap;
} cmn_lex_frame_t;

#define CMN_LEX_DEPTH 64 /* deeper nesting is not checked for duplicates (libconfig still is) */

typedef struct {
    const char *buf;
    size_t len, i;
    int line;
    cmn_lex_frame_t frames[CMN_LEX_DEPTH];
    size_t nesting; /* current frame; frame 0 is the top level */
    int issue_line;
    char issue[256];
    bool nomem;
} cmn_lex_t;

static void cmn_lex_issue(cmn_lex_t *lx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cmn_lex_issue(cmn_lex_t *lx, int line, const char *fmt, ...)
{
    va_list ap;

    if (lx->issue_line != 0)
        return;
    lx->issue_line = line;
    va_start(ap, fmt);
    vsnprintf(lx->issue, sizeof lx->issue, fmt, ap);
    va_end(ap);
}

static bool
cmn_lex_isname(char ch, bool first)
{
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '*')
        return true;
    return !first && ((ch >= '0' && ch <= '9') || ch == '-' || ch == '_');
}

static char
cmn_lex_at(const cmn_lex_t *lx, size_t i)
{
    return i < lx->len ? lx->buf[i] : '\0';
}

/* cmn_lex_open - enter a { group } or a ( list ) / [ array ]. */
static void
cmn_lex_open(cmn_lex_t *lx, bool group)
{
    lx->nesting++;
    if (lx->nesting < CMN_LEX_DEPTH) {
        cmn_lex_frame_t *f = &lx->frames[lx->nesting];
        f->group = group;
        f->n = 0;
    }
}

static void
cmn_lex_close(cmn_lex_t *lx)
{
    if (lx->nesting > 0)
        lx->nesting--;
}

/* cmn_lex_define - a setting name was followed by '=' or ':' in the current scope. */
static void
cmn_lex_define(cmn_lex_t *lx, const char *name, size_t len, int line)
{
    cmn_lex_frame_t *f;
    cmn_lex_name_t *v;

    if (lx->nesting >= CMN_LEX_DEPTH)
        return;
    f = &lx->frames[lx->nesting];
    if (!f->group)
        return;
    for (size_t k = 0; k < f->n; k++) {
        if (f->names[k].len == len && memcmp(f->names[k].name, name, len) == 0) {
            cmn_lex_issue(lx, line, "duplicate key \"%.*s\" (first defined at line %d)", (int)len,
                          name, f->names[k].line);
            return;
        }
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        v = realloc(f->names, cap * sizeof *v);
        if (v == NULL) {
            lx->nomem = true;
            return;
        }
        f->names = v;
        f->cap = cap;
    }
    f->names[f->n++] = (cmn_lex_name_t){ name, len, line };
}

/* cmn_lex_number - an integer or float literal at lx->i; checks that an integer fits the type
 * libconfig will give it (32 bits, or 64 with the L suffix). */
static void
cmn_lex_number(cmn_lex_t *lx)
{
    size_t start = lx->i, i = lx->i, ndig = 0;
    bool neg = false, hex = false, over = false, isfloat = false, suffix;
    uint64_t v = 0;
    char ch = cmn_lex_at(lx, i);

    if (ch == '-' || ch == '+') {
        neg = ch == '-';
        i++;
    }
    if (cmn_lex_at(lx, i) == '0' &&
        (cmn_lex_at(lx, i + 1) == 'x' || cmn_lex_at(lx, i + 1) == 'X')) {
        hex = true;
        i += 2;
        for (; strchr("0123456789abcdefABCDEF", cmn_lex_at(lx, i)) && cmn_lex_at(lx, i); i++) {
            if (ndig > 0 || cmn_lex_at(lx, i) != '0')
                ndig++;
        }
    } else {
        for (; cmn_cfg_isdigit(cmn_lex_at(lx, i)); i++) {
            uint64_t d = (uint64_t)(cmn_lex_at(lx, i) - '0');
            if (v > (UINT64_MAX - d) / 10)
                over = true;
            else
                v = v * 10 + d;
        }
        ch = cmn_lex_at(lx, i);
        if (ch == '.' || ch == 'e' || ch == 'E') {
            isfloat = true;
            for (; strchr("0123456789.eE", cmn_lex_at(lx, i)) && cmn_lex_at(lx, i); i++) {
                ch = cmn_lex_at(lx, i);
                if ((ch == 'e' || ch == 'E') &&
                    (cmn_lex_at(lx, i + 1) == '-' || cmn_lex_at(lx, i + 1) == '+'))
                    i++;
            }
        }
    }
    suffix = !isfloat && cmn_lex_at(lx, i) == 'L';
    if (suffix) {
        i++;
        if (cmn_lex_at(lx, i) == 'L')
            i++;
    }
    lx->i = i;
    if (isfloat)
        return;

    int shown = (int)((i - start) > 40 ? 40 : (i - start));
    const char *text = lx->buf + start;
    bool fits32, fits64;
    if (hex) {
        fits32 = ndig <= 8;
        fits64 = ndig <= 16;
    } else {
        fits32 = !over && v <= (neg ? UINT64_C(2147483648) : UINT64_C(2147483647));
        fits64 = !over && v <= (neg ? UINT64_C(9223372036854775808) : (uint64_t)INT64_MAX);
    }
    if (suffix ? fits64 : fits32)
        return;
    if (!suffix && fits64)
        cmn_lex_issue(lx, lx->line,
                      "integer %.*s does not fit in 32 bits; write %.*sL for a 64-bit integer",
                      shown, text, shown, text);
    else
        cmn_lex_issue(lx, lx->line, "integer %.*s does not fit in 64 bits", shown, text);
}

/* cmn_lex_skip - skip a comment or string at lx->i if there is one; counts lines. */
static bool
cmn_lex_skip(cmn_lex_t *lx)
{
    char ch = cmn_lex_at(lx, lx->i), next = cmn_lex_at(lx, lx->i + 1);

    if (ch == '#' || (ch == '/' && next == '/')) {
        while (lx->i < lx->len && lx->buf[lx->i] != '\n')
            lx->i++;
        return true;
    }
    if (ch == '/' && next == '*') {
        lx->i += 2;
        while (lx->i < lx->len && !(lx->buf[lx->i] == '*' && cmn_lex_at(lx, lx->i + 1) == '/')) {
            if (lx->buf[lx->i] == '\n')
                lx->line++;
            lx->i++;
        }
        lx->i += 2;
        return true;
    }
    if (ch == '"') {
        for (lx->i++; lx->i < lx->len && lx->buf[lx->i] != '"'; lx->i++) {
            if (lx->buf[lx->i] == '\\' && lx->i + 1 < lx->len)
                lx->i++;
            if (lx->buf[lx->i] == '\n')
                lx->line++;
        }
        lx->i++;
        return true;
    }
    return false;
}

/* cmn_cfg_lex - step 1 over the whole buffer. Sets lx->issue_line (0: nothing found). */
static void
cmn_cfg_lex(cmn_lex_t *lx)
{
    const char *pending = NULL; /* a name that may be followed by '=' or ':' */
    size_t plen = 0;
    int pline = 0;

    lx->line = 1;
    lx->frames[0].group = true;
    /* libconfig stops reading at a NUL byte: scan up to it, then report it. */
    const char *nul = memchr(lx->buf, '\0', lx->len);
    if (nul != NULL)
        lx->len = (size_t)(nul - lx->buf);
    while (lx->i < lx->len && lx->issue_line == 0 && !lx->nomem) {
        char ch = lx->buf[lx->i];

        if (ch == '\n') {
            lx->line++;
            lx->i++;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
            lx->i++;
            continue;
        }
        if (cmn_lex_skip(lx))
            continue;
        if (ch == '=' || ch == ':') {
            if (pending != NULL)
                cmn_lex_define(lx, pending, plen, pline);
            pending = NULL;
            lx->i++;
            continue;
        }
        pending = NULL;
        if (cmn_lex_isname(ch, true)) {
            pending = lx->buf + lx->i;
            pline = lx->line;
            while (lx->i < lx->len && cmn_lex_isname(lx->buf[lx->i], false))
                lx->i++;
            plen = (size_t)(lx->buf + lx->i - pending);
        } else if (cmn_cfg_isdigit(ch) || ((ch == '-' || ch == '+' || ch == '.') &&
                                           cmn_cfg_isdigit(cmn_lex_at(lx, lx->i + 1)))) {
            cmn_lex_number(lx);
        } else if (ch == '@' && lx->len - lx->i >= 8 &&
                   memcmp(lx->buf + lx->i, "@include", 8) == 0) {
            cmn_lex_issue(lx, lx->line, "@include is not supported: a facility is one file");
        } else {
            if (ch == '{')
                cmn_lex_open(lx, true);
            else if (ch == '(' || ch == '[')
                cmn_lex_open(lx, false);
            else if (ch == '}' || ch == ')' || ch == ']')
                cmn_lex_close(lx);
            lx->i++;
        }
    }
    if (nul != NULL && lx->issue_line == 0) {
        int line = 1;
        for (const char *p = lx->buf; p < nul; p++)
            line += *p == '\n';
        cmn_lex_issue(lx, line, "the file contains a NUL byte");
    }
}

static void
cmn_lex_free(cmn_lex_t *lx)
{
    for (size_t k = 0; k < CMN_LEX_DEPTH; k++)
        free(lx->frames[k].names);
}

/* ---- steps 1 and 2: read and parse ---------------------------------------------------- */

/* cmn_cfg_read - the whole file into a NUL-terminated buffer (caller frees). */
static rtr_status_t
cmn_cfg_read(cmn_cfg_t *c, char **out, size_t *outlen)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    rtr_status_t sts;

    if (fd < 0 || fstat(fd, &st) != 0) {
        sts = cmn_cfg_fail(c, 0, "cannot read the file: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        sts = cmn_cfg_fail(c, 0, "not a regular file");
        goto fail;
    }
    if ((uint64_t)st.st_size > CMN_CFG_FILE_MAX) {
        close(fd);
        return cmn_cfg_fail(c, 0, "the file is too large (%" PRIu64 " bytes; the limit is %u MiB)",
                            (uint64_t)st.st_size, CMN_CFG_FILE_MAX >> 20);
    }
    buf = malloc((size_t)st.st_size + 2);
    if (buf == NULL) {
        sts = RTR_STS_NOMEM;
        goto fail;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sts = cmn_cfg_fail(c, 0, "cannot read the file: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break; /* shrank while reading: parse what is there */
        n += (size_t)r;
    }
    close(fd);
    /* libconfig 1.5 calls a final comment without a newline a syntax error: add the newline
     * (it moves no line number). */
    if (n == 0 || buf[n - 1] != '\n')
        buf[n++] = '\n';
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return RTR_STS_OK;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return sts == RTR_STS_CONFIG ? RTR_STS_IOERR : sts;
}

/* cmn_cfg_parse - steps 1 and 2: the lexical scan, then libconfig; the earlier problem wins. */
rtr_status_t
cmn_cfg_parse(cmn_cfg_t *c, config_t *cf)
{
    cmn_lex_t lx;
    char *buf = NULL;
    size_t len = 0;
    rtr_status_t sts = cmn_cfg_read(c, &buf, &len);

    if (sts != RTR_STS_OK)
        return sts;
    memset(&lx, 0, sizeof lx);
    lx.buf = buf;
    lx.len = len;
    cmn_cfg_lex(&lx);
    if (lx.nomem) {
        sts = RTR_STS_NOMEM;
        goto done;
    }
    if (config_read_string(cf, buf) != CONFIG_TRUE) {
        int line = config_error_line(cf);
        const char *text = config_error_text(cf);

        /* An error inside another file can only come from an @include, which step 1 refuses. */
        if (lx.issue_line != 0 && (lx.issue_line <= line || config_error_file(cf) != NULL))
            sts = cmn_cfg_fail(c, lx.issue_line, "%s", lx.issue);
        else if (text != NULL && strcmp(text, "mismatched element type in array") == 0)
            sts = cmn_cfg_fail(c, line,
                               "mismatched element type in array: all values of an array [ ... ] "
                               "must have one type (1 and 1L differ); use a list ( ... ) for "
                               "mixed values");
        else if (text != NULL && strcmp(text, "duplicate setting name") == 0)
            sts = cmn_cfg_fail(c, line, "duplicate key");
        else
            sts = cmn_cfg_fail(c, line, "%s", text != NULL ? text : "syntax error");
        goto done;
    }
    if (lx.issue_line != 0)
        sts = cmn_cfg_fail(c, lx.issue_line, "%s", lx.issue);
done:
    cmn_lex_free(&lx);
    free(buf);
    return sts;
}
