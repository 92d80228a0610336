/*
 * allowlist.h: which tool names a caller may call.
 *
 * Patterns are exact names or globs in which "*" matches any run of
 * characters (none included); no other character is special. A struct
 * allowlist owns copies of its patterns and is immutable once built, so it
 * may be shared read-only between threads.
 */
#ifndef ALLOWLIST_H
#define ALLOWLIST_H

#include <stddef.h>

struct allowlist;

/* Copies the n patterns (patterns may be NULL when n is 0); NULL on ENOMEM
 * or a NULL pattern (EINVAL). */
struct allowlist *allowlist_new(char *const *patterns, size_t n);
void	allowlist_free(struct allowlist *);
/* 1 if name matches a pattern, else 0; an empty list allows nothing. */
int	allowlist_match(const struct allowlist *, const char *name);
size_t	allowlist_count(const struct allowlist *);
/* The i-th pattern as given to allowlist_new(); NULL if i is out of range. */
const char *allowlist_pattern(const struct allowlist *, size_t i);

#endif
