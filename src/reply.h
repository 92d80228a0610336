/*
 * reply.h: what a tools/call answer becomes on the HTTP side (the wire
 * contract of code-executor-MCP clients). Pure functions, any thread; the
 * json-c arguments are borrowed and must belong to the calling thread.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include <json-c/json.h>

struct toolset;

/*
 * A result: 200 {"result": X} where X is the first content block's text
 * when it is non-empty text, else the whole CallToolResult (always the
 * whole CallToolResult when whole is set: the body's "result":"full"); a
 * result with
 * isError is 422 {"error": its text, "result": the CallToolResult}, whatever
 * the text says; a result that is not an object is 502. Returns the status
 * and sets *body to a new object the caller owns (NULL when memory runs
 * out). full is the tool's full name, mcp__<server>__<tool>.
 */
int	reply_result(const char *server, const char *full, json_object *result,
	    int whole, json_object **body);
/*
 * A JSON-RPC error: 404 with suggestions when the tool is not in ts (the
 * server's current tool list; a tool the server no longer lists), 400 for
 * -32602 (the server rejected the arguments), else 502.
 */
int	reply_error(const char *server, const char *full,
	    const struct toolset *ts, const char *tool, int code,
	    const char *message, json_object *data, json_object **body);
/* {"error": msg} plus "server": server when server != NULL. */
json_object *reply_message(const char *msg, const char *server);
/* The one-line text of obj (consumed) in a malloc'd buffer; *len its
 * length. NULL when memory runs out. */
char	*reply_text(json_object *obj, size_t *len);

#endif
