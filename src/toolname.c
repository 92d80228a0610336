/*
 * toolname.c: the grammar of tool names (see toolname.h).
 */
#include <stdio.h>
#include <string.h>

#include "toolname.h"

static int	toolname_part_char(int);
static int	toolname_tool_char(int);
static const char *toolname_why(const char *, size_t, struct toolname *);

static int
toolname_part_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

static int
toolname_tool_char(int c)
{
	return toolname_part_char(c) || c == '_' || c == '.';
}

int
toolname_server_ok(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || s[0] == '_' || s[n - 1] == '_' || strstr(s, "__") !=
	    NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!toolname_part_char((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

int
toolname_tool_ok(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > TOOLNAME_TOOL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!toolname_tool_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/* NULL when name is of the grammar (tn filled in), else why not. */
static const char *
toolname_why(const char *name, size_t len, struct toolname *tn)
{
	const char	*srv, *sep;
	size_t		 i;

	if (strlen(name) != len)
		return "it contains a NUL character";
	if (len > TOOLNAME_MAX)
		return "it is longer than 256 bytes";
	for (i = 0; i < len; i++)
		if (name[i] == ' ' || (unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] >= 0x7f)
			return "it contains a space, a control character or "
			    "a non-ASCII byte";
	if (strncmp(name, TOOLNAME_PREFIX, strlen(TOOLNAME_PREFIX)) != 0)
		return "expected \"mcp__<server>__<tool>\"";
	srv = name + strlen(TOOLNAME_PREFIX);
	if ((sep = strstr(srv, "__")) == NULL || sep == srv)
		return "expected \"mcp__<server>__<tool>\"";
	for (i = 0; srv + i < sep; i++)
		if (!toolname_part_char((unsigned char)srv[i]) &&
		    srv[i] != '_')
			return "the server part may hold only A-Z, a-z, 0-9, "
			    "'-' and single '_'";
	if (srv[0] == '_')
		return "the server part may not start with '_'";
	if (!toolname_tool_ok(sep + 2))
		return "the tool part must be 1 to 128 of A-Z, a-z, 0-9, "
		    "'_', '-' and '.'";
	tn->server = srv;
	tn->server_len = (size_t)(sep - srv);
	tn->tool = sep + 2;
	return NULL;
}

int
toolname_parse(const char *name, size_t len, struct toolname *tn, char *err,
    size_t errlen)
{
	const char	*why;
	char		 q[TOOLNAME_QUOTE_MAX + 8];

	memset(tn, 0, sizeof(*tn));
	if ((why = toolname_why(name, len, tn)) == NULL)
		return 0;
	toolname_quote(name, len, q, sizeof(q));
	snprintf(err, errlen, "Invalid toolName '%s': %s", q, why);
	return -1;
}

void
toolname_quote(const char *name, size_t len, char *out, size_t outlen)
{
	size_t	n = len, i;

	if (outlen == 0)
		return;
	if (n > TOOLNAME_QUOTE_MAX)
		n = TOOLNAME_QUOTE_MAX;
	/* Do not cut a UTF-8 sequence: back up over continuation bytes. */
	if (n < len)
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	if (n + 4 > outlen)
		n = outlen > 4 ? outlen - 4 : 0;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ?
		    '?' : name[i];
	out[i] = '\0';
	if (n < len)
		strcat(out, "...");
}
