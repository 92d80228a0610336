/*
 * reply.c: tools/call answers turned into HTTP statuses and JSON bodies.
 * "Unknown tool" is decided from the tool list, never from the words of a
 * server's message: a tool that reports an error is a 422 even when its
 * text says "not found".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "rpc.h"
#include "toolset.h"

#define REPLY_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | \
				 JSON_C_TO_STRING_NOSLASHESCAPE)
#define REPLY_SUGGESTIONS	3

static json_object	*reply_first_text(json_object *);

/* The first content block's text string object, or NULL. */
static json_object *
reply_first_text(json_object *result)
{
	json_object	*content, *b, *v;

	if (!json_object_object_get_ex(result, "content", &content) ||
	    !json_object_is_type(content, json_type_array) ||
	    json_object_array_length(content) == 0)
		return NULL;
	b = json_object_array_get_idx(content, 0);
	if (!json_object_is_type(b, json_type_object) ||
	    !json_object_object_get_ex(b, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "text") != 0 ||
	    !json_object_object_get_ex(b, "text", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return v;
}

json_object *
reply_message(const char *msg, const char *server)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "error", json_object_new_string(msg));
	if (server != NULL)
		json_object_object_add(o, "server",
		    json_object_new_string(server));
	return o;
}

int
reply_result(const char *server, const char *full, json_object *result,
    int whole, json_object **body)
{
	json_object	*o, *v, *text;
	char		 msg[512];

	*body = NULL;
	if (!json_object_is_type(result, json_type_object)) {
		snprintf(msg, sizeof(msg), "server '%s' sent an unusable reply "
		    "to tools/call for %s (the result is not an object)",
		    server, full);
		*body = reply_message(msg, server);
		return 502;
	}
	text = reply_first_text(result);
	if (json_object_object_get_ex(result, "isError", &v) &&
	    json_object_get_boolean(v)) {
		if ((o = json_object_new_object()) == NULL)
			return 422;
		json_object_object_add(o, "error", json_object_new_string(
		    text != NULL && json_object_get_string_len(text) > 0 ?
		    json_object_get_string(text) : "tool reported an error"));
		json_object_object_add(o, "result", json_object_get(result));
		*body = o;
		return 422;
	}
	if ((o = json_object_new_object()) == NULL)
		return 200;
	/* Share the string object: no copy of a large text. */
	if (!whole && text != NULL && json_object_get_string_len(text) > 0)
		json_object_object_add(o, "result", json_object_get(text));
	else
		json_object_object_add(o, "result", json_object_get(result));
	*body = o;
	return 200;
}

int
reply_error(const char *server, const char *full, const struct toolset *ts,
    const char *tool, int code, const char *message, json_object *data,
    json_object **body)
{
	struct toolset	*sets[1];
	json_object	*o;
	char		 msg[1024];
	int		 status;

	if (message == NULL)
		message = "";
	if (ts != NULL && toolset_find(ts, tool) == NULL) {
		sets[0] = (struct toolset *)(uintptr_t)ts;
		o = toolset_not_found(full, message,
		    toolset_suggestions(sets, 1, full, REPLY_SUGGESTIONS));
		status = 404;
	} else {
		if (code == RPC_INVALID_PARAMS) {
			snprintf(msg, sizeof(msg), "server '%s' rejected the "
			    "arguments: %s", server, message);
			status = 400;
		} else {
			snprintf(msg, sizeof(msg), "server '%s' returned "
			    "JSON-RPC error %d: %s", server, code, message);
			status = 502;
		}
		o = reply_message(msg, NULL);
	}
	if (o != NULL && data != NULL)
		json_object_object_add(o, "data", json_object_get(data));
	*body = o;
	return status;
}

char *
reply_text(json_object *obj, size_t *len)
{
	const char	*s;
	char		*out = NULL;

	*len = 0;
	if (obj == NULL)
		return NULL;
	s = json_object_to_json_string_length(obj, REPLY_JSON_FLAGS, len);
	if (s != NULL && (out = malloc(*len + 1)) != NULL)
		memcpy(out, s, *len + 1);
	else
		*len = 0;
	json_object_put(obj);
	return out;
}
