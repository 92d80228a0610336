/*
 * test_sse.c: the event stream parser (src/sse.c): events and their
 * fields, the three line endings (a CRLF split between two feeds
 * included), multi-line data, comments, the persisting id, events
 * without data, the size bound and what follows it, a callback that
 * stops the parse, and byte-by-byte feeding giving the same events.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "sse.h"
#include "unit.h"

/* What the callback saw: "name|id|data" records separated by "\x1e". */
struct seen {
	char	buf[4096];
	int	n;
	int	stop_at;	/* stop after this many events (0: never) */
};

static int
on_event(void *arg, const struct sse_event *ev)
{
	struct seen	*s = arg;
	size_t		 used = strlen(s->buf);

	ck_assert_uint_eq(strlen(ev->data), ev->len);
	snprintf(s->buf + used, sizeof(s->buf) - used, "%s|%s|%s\x1e",
	    ev->name, ev->id, ev->data);
	s->n++;
	return s->stop_at != 0 && s->n >= s->stop_at ? -1 : 0;
}

static enum sse_rc
feed(struct sse *p, const char *text, struct seen *s)
{
	return sse_feed(p, text, strlen(text), on_event, s);
}

START_TEST(test_events)
{
	struct sse	p;
	struct seen	s = { "", 0, 0 };

	sse_init(&p, 1024);
	ck_assert_int_eq(feed(&p, ": a comment\nevent: endpoint\n"
	    "data: /message?sessionId=1\n\ndata:{\"a\":1}\n\n", &s), SSE_OK);
	ck_assert_str_eq(s.buf, "endpoint||/message?sessionId=1\x1e"
	    "message||{\"a\":1}\x1e");
	sse_reset(&p);
}
END_TEST

START_TEST(test_line_endings)
{
	struct sse	p;
	struct seen	s = { "", 0, 0 };

	sse_init(&p, 1024);
	ck_assert_int_eq(feed(&p, "data: a\r", &s), SSE_OK);
	ck_assert_int_eq(feed(&p, "\ndata: b\r\n\r", &s), SSE_OK);
	ck_assert_int_eq(feed(&p, "\n", &s), SSE_OK);	/* no empty line */
	ck_assert_int_eq(feed(&p, "data: c\r\rdata: d\n\n", &s), SSE_OK);
	ck_assert_str_eq(s.buf, "message||a\nb\x1emessage||c\x1e"
	    "message||d\x1e");
	sse_reset(&p);
}
END_TEST

START_TEST(test_fields)
{
	struct sse	p;
	struct seen	s = { "", 0, 0 };

	sse_init(&p, 1024);
	/* No space after the colon, a field without one, retry ignored,
	 * an event without data not dispatched, the id kept. */
	ck_assert_int_eq(feed(&p, "id: 7\nevent: x\n\nretry: 10\n"
	    "data:one\ndata\n\nid\ndata: two\n\n", &s), SSE_OK);
	ck_assert_str_eq(s.buf, "message|7|one\n\x1emessage||two\x1e");
	sse_reset(&p);
}
END_TEST

START_TEST(test_too_long)
{
	struct sse	p;
	struct seen	s = { "", 0, 0 };
	const char	*head;
	size_t		 len;

	sse_init(&p, 8);
	ck_assert_int_eq(feed(&p, "data: 12345678\n\n", &s), SSE_OK);
	ck_assert_int_eq(feed(&p, "data: 1234\ndata: 5678\n", &s),
	    SSE_TOO_LONG);
	head = sse_head(&p, &len);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(memcmp(head, "1234", 4), 0);
	ck_assert_int_eq(feed(&p, "\n\ndata: x\n\n", &s), SSE_TOO_LONG);
	ck_assert_str_eq(s.buf, "message||12345678\x1e");
	sse_reset(&p);
	/* A line without end over the bound (a name that never ends). */
	sse_init(&p, 8);
	ck_assert_int_eq(feed(&p, "event: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &s),
	    SSE_TOO_LONG);
	sse_reset(&p);
}
END_TEST

START_TEST(test_stop)
{
	struct sse	p;
	struct seen	s = { "", 0, 1 };

	sse_init(&p, 64);
	ck_assert_int_eq(feed(&p, "data: a\n\ndata: b\n\n", &s), SSE_STOP);
	ck_assert_str_eq(s.buf, "message||a\x1e");
	sse_reset(&p);
}
END_TEST

START_TEST(test_bytewise)
{
	const char	*text = "event: e\r\ndata: {\"x\":\r\ndata: 1}\r\n\r\n"
			    ": c\rdata: z\r\r";
	struct sse	p;
	struct seen	a = { "", 0, 0 }, b = { "", 0, 0 };
	size_t		i;

	sse_init(&p, 64);
	ck_assert_int_eq(feed(&p, text, &a), SSE_OK);
	sse_reset(&p);
	for (i = 0; text[i] != '\0'; i++)
		ck_assert_int_eq(sse_feed(&p, text + i, 1, on_event, &b),
		    SSE_OK);
	sse_reset(&p);
	ck_assert_str_eq(a.buf, "e||{\"x\":\n1}\x1emessage||z\x1e");
	ck_assert_str_eq(a.buf, b.buf);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("sse");
	TCase	*tc = tcase_create("sse");

	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_line_endings);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_bytewise);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
