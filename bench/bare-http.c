/*
 * bare-http.c: the ceiling of any evhttp front end on this machine. A
 * single-threaded libevent evhttp server on 127.0.0.1 that answers every
 * request (POST / as well as GET) with the same small JSON body, the size
 * of mcp-proxyd's reply to an echo call. It does nothing else: no auth, no
 * parsing, no threads. bench/run.py measures mcp-proxyd against it.
 *
 * It listens on an ephemeral port (or the one given as its only argument)
 * and prints one ready line on stdout, like the daemon:
 *	{"port":N,"url":"http://127.0.0.1:N/","libevent":"2.1.12-stable"}
 * SIGTERM or SIGINT ends it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#define BARE_BODY	"{\"result\":\"hello\"}"

static void	bare_handle(struct evhttp_request *, void *);
static void	bare_signal(evutil_socket_t, short, void *);
static int	bare_port(struct evhttp_bound_socket *);

static void
bare_handle(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*out;

	(void)arg;
	out = evhttp_request_get_output_buffer(req);
	evbuffer_add(out, BARE_BODY, sizeof(BARE_BODY) - 1);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void
bare_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static int
bare_port(struct evhttp_bound_socket *bound)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	evutil_socket_t		fd;

	fd = evhttp_bound_socket_get_fd(bound);
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	return ntohs(sin.sin_port);
}

int
main(int argc, char *argv[])
{
	struct event_base		*base = NULL;
	struct evhttp			*http = NULL;
	struct evhttp_bound_socket	*bound;
	struct event			*sigterm = NULL, *sigint = NULL;
	int				 port = 0, rc = EXIT_FAILURE;

	if (argc > 2 || (argc == 2 && (port = atoi(argv[1])) < 0)) {
		fprintf(stderr, "usage: bare-http [port]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "bare-http: event_base_new failed\n");
		goto fail;
	}
	if ((http = evhttp_new(base)) == NULL) {
		fprintf(stderr, "bare-http: evhttp_new failed\n");
		goto fail;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD);
	evhttp_set_gencb(http, bare_handle, NULL);
	bound = evhttp_bind_socket_with_handle(http, "127.0.0.1",
	    (ev_uint16_t)port);
	if (bound == NULL) {
		fprintf(stderr, "bare-http: cannot listen on 127.0.0.1:%d: %s\n",
		    port, strerror(errno));
		goto fail;
	}
	if ((port = bare_port(bound)) == -1) {
		fprintf(stderr, "bare-http: getsockname: %s\n",
		    strerror(errno));
		goto fail;
	}
	sigterm = evsignal_new(base, SIGTERM, bare_signal, base);
	sigint = evsignal_new(base, SIGINT, bare_signal, base);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) == -1 ||
	    evsignal_add(sigint, NULL) == -1) {
		fprintf(stderr, "bare-http: cannot catch signals\n");
		goto fail;
	}
	printf("{\"port\":%d,\"url\":\"http://127.0.0.1:%d/\","
	    "\"libevent\":\"%s\"}\n", port, port, event_get_version());
	fflush(stdout);
	if (event_base_dispatch(base) == -1) {
		fprintf(stderr, "bare-http: event_base_dispatch failed\n");
		goto fail;
	}
	rc = EXIT_SUCCESS;
fail:
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (http != NULL)
		evhttp_free(http);
	if (base != NULL)
		event_base_free(base);
	return rc;
}
