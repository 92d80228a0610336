/*
 * allowlist.c: tool name allowlist. Exact names live in a sorted array
 * searched with bsearch(); globs are tried one by one with a matcher that
 * backtracks only to the last "*", so it runs in O(pattern x name) time
 * whatever the pattern. A glob that starts with "mcp__" is matched part by
 * part: its server part (up to its first "__") against the name's server,
 * its tool part (after it; none: any tool) against the name's tool, so
 * that a star never reaches across the "__" that ends a server name
 * ("mcp__x_*" does not reach server x).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allowlist.h"

struct allowlist {
	char		**patterns;	/* copies, in the order given */
	size_t		  npatterns;
	const char	**exact;	/* sorted; borrow from patterns */
	size_t		  nexact;
	const char	**globs;	/* borrow from patterns */
	size_t		  nglobs;
	int		  any;		/* a pattern made only of stars */
};

static int	allowlist_cmp(const void *, const void *);
static int	allowlist_glob(const char *, const char *, const char *);
static int	allowlist_split(const char *, const char **, const char **);
static int	allowlist_parsed(const char *, const char *);

static int
allowlist_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Match name s (up to end, or its NUL when end is NULL) against glob p,
 * where only "*" is special. */
static int
allowlist_glob(const char *p, const char *s, const char *end)
{
	const char	*star = NULL, *resume = NULL;

	if (end == NULL)
		end = s + strlen(s);
	while (s < end) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return 1;
			star = p;
			resume = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			/* Let the last star swallow one more character. */
			p = star;
			s = ++resume;
		} else
			return 0;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* "mcp__" SERVER ["__" TOOL]: 1 with the end of the server part in *srv_end
 * and the tool part in *tool (NULL without "__"); 0 for another shape. */
static int
allowlist_split(const char *s, const char **srv_end, const char **tool)
{
	const char	*sep;

	if (strncmp(s, "mcp__", 5) != 0)
		return 0;
	if ((sep = strstr(s + 5, "__")) == NULL) {
		*srv_end = s + strlen(s);
		*tool = NULL;
	} else {
		*srv_end = sep;
		*tool = sep + 2;
	}
	return 1;
}

/* A glob against a name, part by part when the glob starts "mcp__". */
static int
allowlist_parsed(const char *p, const char *name)
{
	const char	*pend, *ptool, *nend, *ntool;
	char		 psrv[256];
	size_t		 len;

	if (!allowlist_split(p, &pend, &ptool))
		return allowlist_glob(p, name, NULL);
	if (!allowlist_split(name, &nend, &ntool) ||
	    (len = (size_t)(pend - p - 5)) >= sizeof(psrv))
		return 0;
	memcpy(psrv, p + 5, len);
	psrv[len] = '\0';
	if (!allowlist_glob(psrv, name + 5, nend))
		return 0;
	if (ptool == NULL)
		return 1;
	return ntool != NULL && allowlist_glob(ptool, ntool, NULL);
}

struct allowlist *
allowlist_new(char *const *patterns, size_t n)
{
	struct allowlist	*al;
	size_t			 i, alloc = n == 0 ? 1 : n;
	const char		*p;

	if ((al = calloc(1, sizeof(*al))) == NULL)
		return NULL;
	if ((al->patterns = calloc(alloc, sizeof(*al->patterns))) == NULL ||
	    (al->exact = calloc(alloc, sizeof(*al->exact))) == NULL ||
	    (al->globs = calloc(alloc, sizeof(*al->globs))) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (patterns[i] == NULL) {
			errno = EINVAL;
			goto fail;
		}
		if ((al->patterns[i] = strdup(patterns[i])) == NULL)
			goto fail;
		al->npatterns++;
		p = al->patterns[i];
		if (strchr(p, '*') == NULL)
			al->exact[al->nexact++] = p;
		else if (strspn(p, "*") == strlen(p))
			al->any = 1;
		else
			al->globs[al->nglobs++] = p;
	}
	qsort(al->exact, al->nexact, sizeof(*al->exact), allowlist_cmp);
	return al;
 fail:
	allowlist_free(al);
	return NULL;
}

void
allowlist_free(struct allowlist *al)
{
	size_t	i;

	if (al == NULL)
		return;
	for (i = 0; i < al->npatterns; i++)
		free(al->patterns[i]);
	free(al->patterns);
	free(al->exact);
	free(al->globs);
	free(al);
}

int
allowlist_match(const struct allowlist *al, const char *name)
{
	size_t	i;

	if (al == NULL || name == NULL)
		return 0;
	if (al->any)
		return 1;
	if (al->nexact > 0 && bsearch(&name, al->exact, al->nexact,
	    sizeof(*al->exact), allowlist_cmp) != NULL)
		return 1;
	for (i = 0; i < al->nglobs; i++)
		if (allowlist_parsed(al->globs[i], name))
			return 1;
	return 0;
}

size_t
allowlist_count(const struct allowlist *al)
{
	return al == NULL ? 0 : al->npatterns;
}

const char *
allowlist_pattern(const struct allowlist *al, size_t i)
{
	if (al == NULL || i >= al->npatterns)
		return NULL;
	return al->patterns[i];
}
