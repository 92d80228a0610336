/*
 * toolname.h: the grammar of the names a caller gives in toolName, checked
 * before anything else looks at a name:
 *
 *	name	= "mcp__" server "__" tool		(at most 256 bytes)
 *	server	= part *("_" part)			(no "__", no "_" at
 *	part	= 1*(ALPHA / DIGIT / "-")		 either end)
 *	tool	= 1*128(ALPHA / DIGIT / "_" / "-" / ".")
 *
 * The tool part is what the MCP specification (2025-11-25) says tool names
 * should be. A server name never contains "__" (the configuration refuses
 * one that would), so the first "__" after "mcp__" ends it. Pure code.
 */
#ifndef TOOLNAME_H
#define TOOLNAME_H

#include <stddef.h>

#define TOOLNAME_PREFIX		"mcp__"
#define TOOLNAME_MAX		256	/* bytes of a whole name */
#define TOOLNAME_TOOL_MAX	128	/* bytes of its tool part */
#define TOOLNAME_QUOTE_MAX	200	/* bytes of a bad name an error quotes */

struct toolname {
	const char	*server;	/* into the name; not terminated */
	size_t		 server_len;
	const char	*tool;		/* into the name; terminated */
};

/*
 * name of len bytes (its length as JSON gave it: a NUL inside makes it
 * differ from strlen). 0 with tn filled in; -1 with a message in err
 * that quotes at most TOOLNAME_QUOTE_MAX bytes of the name.
 */
int	toolname_parse(const char *name, size_t len, struct toolname *tn,
	    char *err, size_t errlen);
/* 1 when s is a server name of the grammar (the configuration's check). */
int	toolname_server_ok(const char *s);
/* 1 when s is a tool part of the grammar. */
int	toolname_tool_ok(const char *s);
/* At most TOOLNAME_QUOTE_MAX bytes of name, cut on a UTF-8 boundary, "..."
 * added when cut, control bytes as "?", into out (>= 208 bytes). */
void	toolname_quote(const char *name, size_t len, char *out,
	    size_t outlen);

#endif
