/*
 * sse.c: a parser of text/event-stream; see sse.h. Pure.
 */

#include <stdlib.h>
#include <string.h>

#include "sse.h"

static int	sse_grow(char **, size_t *, size_t, size_t);
static enum sse_rc sse_line(struct sse *, sse_cb, void *);
static enum sse_rc sse_dispatch(struct sse *, sse_cb, void *);
static enum sse_rc sse_field(struct sse *, const char *, size_t,
		    const char *, size_t);

void
sse_init(struct sse *s, size_t max_event)
{
	memset(s, 0, sizeof(*s));
	s->max_event = max_event;
}

void
sse_reset(struct sse *s)
{
	size_t	max = s->max_event;

	free(s->line);
	free(s->data);
	sse_init(s, max);
}

const char *
sse_head(const struct sse *s, size_t *len)
{
	if (s->datalen > 0) {
		*len = s->datalen;
		return s->data;
	}
	*len = s->linelen;
	return s->line != NULL ? s->line : "";
}

/* Room for need bytes (plus a NUL) in *buf, at most max + 1. */
static int
sse_grow(char **buf, size_t *cap, size_t need, size_t max)
{
	size_t	 ncap;
	char	*n;

	if (need + 1 <= *cap)
		return 0;
	ncap = *cap < 256 ? 256 : *cap * 2;
	while (ncap < need + 1)
		ncap *= 2;
	if (ncap > max + 1)
		ncap = max + 1;
	if ((n = realloc(*buf, ncap)) == NULL)
		return -1;
	*buf = n;
	*cap = ncap;
	return 0;
}

enum sse_rc
sse_feed(struct sse *s, const char *buf, size_t len, sse_cb cb, void *arg)
{
	const char	*p = buf, *end = buf + len, *nl;
	size_t		 n;
	enum sse_rc	 rc;

	if (s->failed)
		return SSE_TOO_LONG;
	while (p < end) {
		if (s->cr && *p == '\n') {	/* the LF of a CRLF */
			p++;
			s->cr = 0;
			continue;
		}
		s->cr = 0;
		for (nl = p; nl < end && *nl != '\n' && *nl != '\r'; nl++)
			;
		n = (size_t)(nl - p);
		if (s->linelen + n > s->max_event + SSE_LINE_SLACK) {
			s->failed = 1;
			return SSE_TOO_LONG;
		}
		if (sse_grow(&s->line, &s->linecap, s->linelen + n,
		    s->max_event + SSE_LINE_SLACK) == -1)
			return SSE_NOMEM;
		memcpy(s->line + s->linelen, p, n);
		s->linelen += n;
		s->line[s->linelen] = '\0';
		p = nl;
		if (p == end)
			break;
		s->cr = *p == '\r';
		p++;
		if ((rc = sse_line(s, cb, arg)) != SSE_OK)
			return rc;
	}
	return SSE_OK;
}

/* A complete line in s->line. */
static enum sse_rc
sse_line(struct sse *s, sse_cb cb, void *arg)
{
	const char	*colon, *value;
	size_t		 flen, vlen, len = s->linelen;

	s->linelen = 0;
	if (len == 0)
		return sse_dispatch(s, cb, arg);
	if (s->line[0] == ':')
		return SSE_OK;
	if ((colon = memchr(s->line, ':', len)) == NULL) {
		flen = len;
		value = s->line + len;
	} else {
		flen = (size_t)(colon - s->line);
		value = colon + 1;
		if (value < s->line + len && *value == ' ')
			value++;
	}
	vlen = len - (size_t)(value - s->line);
	return sse_field(s, s->line, flen, value, vlen);
}

static enum sse_rc
sse_field(struct sse *s, const char *f, size_t flen, const char *v,
    size_t vlen)
{
	size_t	need;

	if (flen == 4 && memcmp(f, "data", 4) == 0) {
		need = s->datalen + (s->hasdata ? 1 : 0) + vlen;
		if (need > s->max_event) {
			s->failed = 1;
			return SSE_TOO_LONG;
		}
		if (sse_grow(&s->data, &s->datacap, need, s->max_event) == -1)
			return SSE_NOMEM;
		if (s->hasdata)
			s->data[s->datalen++] = '\n';
		memcpy(s->data + s->datalen, v, vlen);
		s->datalen += vlen;
		s->data[s->datalen] = '\0';
		s->hasdata = 1;
	} else if (flen == 5 && memcmp(f, "event", 5) == 0) {
		if (vlen > SSE_NAME_MAX)
			vlen = SSE_NAME_MAX;
		memcpy(s->name, v, vlen);
		s->name[vlen] = '\0';
	} else if (flen == 2 && memcmp(f, "id", 2) == 0 &&
	    memchr(v, '\0', vlen) == NULL) {
		if (vlen > SSE_ID_MAX)
			vlen = SSE_ID_MAX;
		memcpy(s->id, v, vlen);
		s->id[vlen] = '\0';
	}
	return SSE_OK;
}

/* An empty line: the event, if it has data. The id persists (it is the
 * stream's last event id); the name and data do not. */
static enum sse_rc
sse_dispatch(struct sse *s, sse_cb cb, void *arg)
{
	struct sse_event	ev;
	int			rc = 0;

	if (s->hasdata) {
		ev.name = s->name[0] != '\0' ? s->name : "message";
		ev.data = s->data;
		ev.len = s->datalen;
		ev.id = s->id;
		rc = cb(arg, &ev);
	}
	s->hasdata = 0;
	s->datalen = 0;
	if (s->data != NULL)
		s->data[0] = '\0';
	s->name[0] = '\0';
	return rc == 0 ? SSE_OK : SSE_STOP;
}
