/*
 * sse.h: a parser of text/event-stream (the WHATWG server-sent events
 * format) as MCP's HTTP transports use it. Pure: bytes in, events out
 * through a callback; no I/O, no clock, no global state, so the unit
 * tests and a fuzz target drive it.
 *
 * Lines end with CRLF, LF or CR (a CRLF may be split between two
 * sse_feed() calls); "data" lines are joined with "\n"; "event" and
 * "id" are kept (bounded); "retry" and comments (":") are ignored; an
 * empty line dispatches the event if it has data. An event whose data
 * would exceed max_event bytes, or a line max_event + SSE_LINE_SLACK
 * (room for the field name), is an error: the parser then
 * refuses every further byte (the stream is unusable) and sse_head()
 * gives the start of the data it was gathering.
 */
#ifndef SSE_H
#define SSE_H

#include <stddef.h>

#define SSE_NAME_MAX	64	/* bytes of an event name kept */
#define SSE_ID_MAX	256	/* bytes of an event id kept */
#define SSE_LINE_SLACK	64	/* a line may be this much longer */

struct sse_event {
	const char	*name;		/* "message" when none was given */
	const char	*data;		/* NUL-terminated */
	size_t		 len;
	const char	*id;		/* "" when none was given */
};

/* Return 0 to go on, -1 to stop parsing (sse_feed() returns SSE_STOP). */
typedef int	(*sse_cb)(void *arg, const struct sse_event *);

struct sse {
	size_t		 max_event;
	char		*line;		/* the line being read */
	size_t		 linelen, linecap;
	char		*data;		/* the event's data so far */
	size_t		 datalen, datacap;
	int		 hasdata;
	int		 cr;		/* the last byte was a CR */
	int		 failed;
	char		 name[SSE_NAME_MAX + 1];
	char		 id[SSE_ID_MAX + 1];
};

enum sse_rc {
	SSE_OK = 0,
	SSE_TOO_LONG = -1,	/* an event or line over max_event */
	SSE_NOMEM = -2,
	SSE_STOP = -3		/* the callback said stop */
};

void		 sse_init(struct sse *, size_t max_event);
void		 sse_reset(struct sse *);	/* frees the buffers */
/* Feeds len bytes; calls cb for each complete event. */
enum sse_rc	 sse_feed(struct sse *, const char *buf, size_t len,
		    sse_cb cb, void *arg);
/* After SSE_TOO_LONG: the first bytes of the data or line gathered. */
const char	*sse_head(const struct sse *, size_t *len);

#endif
