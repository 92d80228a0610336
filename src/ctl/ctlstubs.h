/*
 * ctlstubs.h: "mcp-proxyctl stubs": typed functions for the tools the
 * token may call (GET /mcp/tools?allowed=true), one module per server,
 * in TypeScript or Python, each calling the sandbox client library.
 *
 * Names: a tool's function is its name with every character outside
 * [A-Za-z0-9_] replaced by '_', '_' put before a leading digit and after a
 * reserved word (of the language, or one the module imports); a name
 * taken already in the module gets _2, _3, ... (tools in name order).
 * Its types are the name in PascalCase (the '_' removed, each part's
 * first letter upper case) plus "Params" and "Result". A server's module
 * is mcp_<server>.ts or mcp_<server>.py, <server> mapped the same way.
 */
#ifndef CTLSTUBS_H
#define CTLSTUBS_H

#include <stddef.h>

#include "ctltarget.h"

enum ctlstubs_lang {
	CTLSTUBS_NONE = 0,
	CTLSTUBS_TS,
	CTLSTUBS_PY
};

struct ctlstubs_opts {
	enum ctlstubs_lang	 lang;
	const char		*server;	/* NULL: every server */
	const char		*outdir;	/* NULL: "." */
	int			 timeout_s;
};

/* The identifier for name (see above) in out; lang's reserved words. */
void	ctlstubs_ident(enum ctlstubs_lang, const char *name, char *out,
	    size_t outlen);
/* Writes the modules and prints their paths: 0, or 1 said on stderr. */
int	ctlstubs_run(const struct ctlstubs_opts *, const struct ctltarget *);

#endif
