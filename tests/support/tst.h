/*
 * tst.h - helpers shared by the test suites (tst_ prefix): temporary directories, files.
 * Thread rule: call from the test's own thread.
 */
#ifndef TST_H
#define TST_H

#include <stddef.h>

/* tst_tmpdir - create a fresh directory under $TMPDIR (or /tmp) named rtr-<tag>-XXXXXX and
 * return its path (caller frees). Aborts the test process on failure. */
char *tst_tmpdir(const char *tag);

/* tst_rmtree - remove a directory tree (best effort); accepts NULL. */
void tst_rmtree(const char *path);

/* tst_write_file - write len bytes to path (created or truncated). Returns 0 or -1. */
int tst_write_file(const char *path, const void *data, size_t len);

/* tst_read_file - read a whole file; *len gets its size. Caller frees. NULL on error. */
char *tst_read_file(const char *path, size_t *len);

/* tst_source_dir - the repository root (compiled in), for test data files. */
const char *tst_source_dir(void);

#endif /* TST_H */
