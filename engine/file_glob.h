/*
 * file_glob.h: file globs with a recursive `**`, for `cache.sources` and `cache.generates`.
 * POSIX glob(3) has no `**`; this walks directories segment by segment with fnmatch(3).
 */
#ifndef WF_FILE_GLOB_H
#define WF_FILE_GLOB_H

#include <stddef.h>

/* Expands pattern relative to base (NULL: the current directory; ignored for an absolute
 * pattern). Segments are separated by '/'; a segment `**` matches zero or more directories.
 * Other segments follow fnmatch(3) with FNM_PERIOD: `*` and `?` do not match a leading dot,
 * and `**` does not enter directories whose name starts with a dot. `**` does not follow
 * symbolic links to directories, so a link loop cannot make it run forever; the last segment
 * matches any kind of file (a symbolic link too). The matches, spelled as the pattern spells
 * them (relative to base unless the pattern is absolute), are returned sorted and without
 * duplicates in *out (a NULL-terminated array, owned: free with wf_file_glob_free) and *n.
 * Unreadable directories are skipped. Never fails (allocation failure aborts). Thread-safe. */
void wf_file_glob(const char *base, const char *pattern, char ***out, size_t *n);
void wf_file_glob_free(char **paths);

#endif
