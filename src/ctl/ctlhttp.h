/*
 * ctlhttp.h: mcp-proxyctl's HTTP client: one request to the daemon over
 * libevent's evhttp, with a deadline and a bounded answer.
 *
 * The caller owns every struct here; ctlhttp_reply_free() frees what
 * ctlhttp_request() put in a reply. Nothing here prints: errors are
 * written into err (a message naming the URL), never the token.
 */
#ifndef CTLHTTP_H
#define CTLHTTP_H

#include <stddef.h>

#define CTLHTTP_HOST_MAX	256
#define CTLHTTP_URL_MAX		(CTLHTTP_HOST_MAX + 16)
#define CTLHTTP_BODY_MAX	(16u * 1024 * 1024)	/* an answer's body */
#define CTLHTTP_HEADERS_MAX	(64 * 1024)		/* its headers */

/* Where the daemon is: http://host:port, nothing else. */
struct ctlhttp_url {
	char	host[CTLHTTP_HOST_MAX];	/* an IPv6 literal without brackets */
	int	port;			/* 1..65535 */
	int	ipv6;			/* host is an IPv6 literal */
	char	text[CTLHTTP_URL_MAX];	/* "http://host:port", for messages */
};

/* One request. */
struct ctlhttp_call {
	const char	*method;	/* "GET", "POST" or "DELETE" */
	const char	*target;	/* "/sessions?x=y": path and query */
	const char	*token;		/* the bearer token; NULL: none */
	const char	*body;		/* a JSON body; NULL: none */
	int		 timeout_s;	/* for all of it, connecting included */
};

/* Its answer. */
struct ctlhttp_reply {
	int	 status;		/* the HTTP status */
	char	 reason[128];		/* its reason phrase */
	char	*body;			/* NUL-terminated, owned */
	size_t	 len;			/* body bytes (without the NUL) */
};

/*
 * Parses "http://host:port" (a trailing "/" allowed): host an IPv4 or
 * bracketed IPv6 literal or a host name. 0, or -1 with why in err.
 */
int	ctlhttp_parse_url(const char *, struct ctlhttp_url *, char *err,
	    size_t errlen);
/*
 * The URL of a daemon's "listen" value ("host:port"; a wildcard address
 * becomes the loopback one). 0, or -1 with why in err (port 0 included:
 * the daemon picks a free port then).
 */
int	ctlhttp_url_from_listen(const char *, struct ctlhttp_url *, char *err,
	    size_t errlen);
/*
 * Sends call to url and waits for the whole answer. 0 with any HTTP
 * status in reply; -1 with a message in err when there is no answer
 * (cannot resolve or connect, timeout, connection closed, a malformed or
 * oversized answer).
 */
int	ctlhttp_request(const struct ctlhttp_url *, const struct ctlhttp_call *,
	    struct ctlhttp_reply *, char *err, size_t errlen);
void	ctlhttp_reply_free(struct ctlhttp_reply *);

#endif
