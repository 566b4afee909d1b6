/*
 * fs.c - temporary directories for the tools (rtrbench's scratch journals).
 *
 * tool_rmtree walks with directory descriptors (openat/unlinkat) and never follows a symlink
 * out of the tree: a symlink is removed, not its target. It goes on after an error and reports
 * the first one, so a cleanup removes as much as it can.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

char *
tool_mkdtemp(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    char *path;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (asprintf(&path, "%s/%s-XXXXXX", base, prefix) < 0) {
        errno = ENOMEM;
        return NULL;
    }
    if (mkdtemp(path) == NULL) {
        int e = errno;
        free(path);
        errno = e;
        return NULL;
    }
    return path;
}

static void
tool_note_err(int *first)
{
    if (*first == 0)
        *first = errno;
}

/* tool_rm_contents - remove everything inside the directory open as dfd; closes dfd. */
static void
tool_rm_contents(int dfd, int *first)
{
    DIR *d = fdopendir(dfd);
    struct dirent *e;

    if (d == NULL) {
        tool_note_err(first);
        close(dfd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            tool_note_err(first);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                tool_note_err(first);
            else
                tool_rm_contents(sub, first);
        }
        if (unlinkat(dirfd(d), e->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0)
            tool_note_err(first);
    }
    closedir(d);
}

int
tool_rmtree(const char *path, bool keep_top)
{
    int first = 0;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (dfd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno != ENOTDIR && errno != ELOOP)
            return -1;
        /* not a directory (or a symlink): remove the entry itself */
        if (keep_top)
            return 0;
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    }
    tool_rm_contents(dfd, &first);
    if (!keep_top && rmdir(path) != 0)
        tool_note_err(&first);
    if (first != 0) {
        errno = first;
        return -1;
    }
    return 0;
}

int
tool_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}
